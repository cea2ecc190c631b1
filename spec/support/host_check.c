/*
 * host_check.c: a host program the embedding spec compiles against an
 * installed cnnlua with nothing but `pkg-config --cflags --libs cnnlua`, and
 * runs on a model trained by examples/train.lua. Each check prints a line;
 * the last line is "host: all checks passed" when every check held.
 */
#include <stdio.h>
#include <string.h>

#include <cnnlua.h>
#include <lauxlib.h>

static int failures = 0;

/* Prints the check and, when it failed, the state's last error message. */
static void check(lua_State *L, int ok, const char *what) {
  printf("%s: %s%s%s\n", ok ? "ok" : "FAILED", what, ok ? "" : " -- ", ok ? "" : cnnlua_error(L));
  failures += !ok;
}

/* Round trip of a buffer through Lua: pushed, doubled in Lua, read back. */
static int roundtrip(lua_State *L) {
  float data[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape[2] = {2, 3};
  luaL_loadstring(L, "local x = ... return (x * 2):transpose(1, 2)");
  cnnlua_pushtensor(L, data, 2, shape);
  lua_call(L, 1, 1);
  int ndim;
  const int64_t *s;
  const float *y = cnnlua_checktensor(L, -1, &ndim, &s);
  lua_pushboolean(L, ndim == 2 && s[0] == 3 && s[1] == 2 && y[0] == 2 && y[1] == 8 && y[5] == 12);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  lua_State *L = cnnlua_open();
  if (!L) {
    printf("FAILED: cnnlua_open\n");
    return 1;
  }
  int model = 0;
  int st = cnnlua_load_model(L, "/nonexistent/model.cnn", &model);
  check(L, st == CNNLUA_ERROR && strstr(cnnlua_error(L), "cannot open /nonexistent/model.cnn"),
        "a missing model is an error with a message");
  st = cnnlua_load_model(L, argv[1], &model);
  check(L, st == CNNLUA_OK && model > 0, "cnnlua_load_model");

  float image[3 * 28 * 28] = {0}, scores[10];
  int64_t shape[4] = {1, 1, 28, 28}, rgb[4] = {1, 3, 28, 28}, bad[1] = {-1}, out_shape[8];
  int out_ndim = 0;
  st = cnnlua_forward(L, model, image, 4, shape, scores, 10, &out_ndim, out_shape);
  check(L, st == CNNLUA_OK && out_ndim == 2 && out_shape[0] == 1 && out_shape[1] == 10,
        "cnnlua_forward gives 1 x 10 scores");
  st = cnnlua_forward(L, model, image, 4, rgb, scores, 10, NULL, NULL);
  check(L, st == CNNLUA_ERROR && strstr(cnnlua_error(L), "input has 3 channels, weight expects 1"),
        "a wrong input shape is an error with a message");
  st = cnnlua_forward(L, model, image, 4, shape, scores, 5, NULL, NULL);
  check(L, st == CNNLUA_ERROR && strstr(cnnlua_error(L), "the output has 10 elements, the buffer holds 5"),
        "a small output buffer is an error");
  st = cnnlua_forward(L, 12345, image, 4, shape, scores, 10, NULL, NULL);
  check(L, st == CNNLUA_ERROR && strstr(cnnlua_error(L), "12345 is not a model handle"), "a bad handle is an error");
  st = cnnlua_forward(L, model, image, 1, bad, scores, 10, NULL, NULL);
  check(L, st == CNNLUA_ERROR && strstr(cnnlua_error(L), "negative size"), "a negative size is an error");
  st = cnnlua_run(L, "error('boom')");
  check(L, st == CNNLUA_ERROR && strstr(cnnlua_error(L), "boom"), "cnnlua_run reports Lua errors");
  st = cnnlua_run(L, "assert(cnn.nn and cnn.optim and cnn.data and cnn.image)");
  check(L, st == CNNLUA_OK, "the Lua half of the library is built in");
  lua_pushcfunction(L, roundtrip);
  check(L, lua_pcall(L, 0, 1, 0) == LUA_OK && lua_toboolean(L, -1), "cnnlua_pushtensor and cnnlua_checktensor");
  lua_pop(L, 1);
  cnnlua_free_model(L, model);
  cnnlua_close(L);
  printf(failures ? "host: %d checks failed\n" : "host: all checks passed\n", failures);
  return failures != 0;
}
