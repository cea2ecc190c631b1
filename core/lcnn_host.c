/*
 * lcnn_host.c: the host-program calls of cnnlua.h. Each runs its Lua work
 * inside lua_pcall, so that an error becomes a status and a message (kept in
 * the registry, read with cnnlua_error) instead of a longjmp into the host.
 */
#include <string.h>

#include <lualib.h>

#include "cnnlua.h"
#include "lcnn.h"

static const char error_key = 'e'; /* its address keys the last error message */

static int set_error(lua_State *L, const char *msg) {
  lua_pushstring(L, msg ? msg : "unknown error");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &error_key);
  return CNNLUA_ERROR;
}

const char *cnnlua_error(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &error_key);
  const char *msg = lua_tostring(L, -1); /* anchored in the registry */
  lua_pop(L, 1);
  return msg ? msg : "";
}

/* Runs fn(L) with ud as its light userdata argument, protected; on error keeps the message. */
static int protect(lua_State *L, lua_CFunction fn, void *ud) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, fn);
  lua_pushlightuserdata(L, ud);
  int status = lua_pcall(L, 1, 0, 0);
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    set_error(L, msg ? msg : "error object is not a string");
  }
  lua_settop(L, top);
  return status == LUA_OK ? CNNLUA_OK : CNNLUA_ERROR;
}

static int open_all(lua_State *L) {
  luaL_openlibs(L);
  luaL_requiref(L, "cnn", luaopen_cnn, 1);
  return 0;
}

lua_State *cnnlua_open(void) {
  lua_State *L = luaL_newstate();
  if (!L) return NULL;
  if (protect(L, open_all, NULL) != CNNLUA_OK) {
    lua_close(L);
    return NULL;
  }
  return L;
}

void cnnlua_close(lua_State *L) {
  if (L) lua_close(L);
}

static int run_chunk(lua_State *L) {
  const char *chunk = lua_touserdata(L, 1);
  if (luaL_loadbuffer(L, chunk, strlen(chunk), "=cnnlua_run") != LUA_OK) return lua_error(L);
  lua_call(L, 0, 0);
  return 0;
}

int cnnlua_run(lua_State *L, const char *chunk) {
  if (!chunk) return set_error(L, "cnnlua_run: no chunk");
  return protect(L, run_chunk, (void *)chunk);
}

typedef struct {
  const char *path;
  int ref;
} load_args;

/* cnn.load(path): a module, or a checkpoint of examples/train.lua holding one in .net */
static int load_model(lua_State *L) {
  load_args *a = lua_touserdata(L, 1);
  lua_getglobal(L, "cnn");
  lua_getfield(L, -1, "load");
  lua_pushstring(L, a->path);
  lua_call(L, 1, 1);
  if (lua_type(L, -1) == LUA_TTABLE) {
    int kind = lua_getfield(L, -1, "kind");
    lua_pop(L, 1);
    if (kind == LUA_TSTRING) {
      lua_getfield(L, -1, "net");
      lua_remove(L, -2);
    }
  }
  if (lua_type(L, -1) != LUA_TTABLE || lua_getfield(L, -1, "forward") != LUA_TFUNCTION)
    return luaL_error(L, "cnnlua_load_model: %s holds no model (nn.Module)", a->path);
  lua_pop(L, 1);
  lua_getfield(L, -1, "evaluate");
  if (lua_type(L, -1) == LUA_TFUNCTION) {
    lua_pushvalue(L, -2);
    lua_call(L, 1, 0);
  } else {
    lua_pop(L, 1);
  }
  a->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int cnnlua_load_model(lua_State *L, const char *path, int *model) {
  if (!path || !model) return set_error(L, "cnnlua_load_model: path and model must not be NULL");
  load_args a = {path, LUA_NOREF};
  int status = protect(L, load_model, &a);
  *model = status == CNNLUA_OK ? a.ref : 0;
  return status;
}

void cnnlua_free_model(lua_State *L, int model) {
  if (model > 0) luaL_unref(L, LUA_REGISTRYINDEX, model);
}

typedef struct {
  int model;
  const float *input;
  int ndim;
  const int64_t *shape;
  float *output;
  int64_t capacity;
  int *out_ndim;
  int64_t *out_shape;
} forward_args;

static int forward(lua_State *L) {
  forward_args *a = lua_touserdata(L, 1);
  if (a->model <= 0 || lua_rawgeti(L, LUA_REGISTRYINDEX, a->model) != LUA_TTABLE)
    return luaL_error(L, "cnnlua_forward: %d is not a model handle", a->model);
  lua_getfield(L, -1, "forward");
  lua_insert(L, -2);
  cnnlua_pushtensor(L, a->input, a->ndim, a->shape);
  lua_call(L, 2, 1);
  if (!lcnn_totensor(L, -1)) return luaL_error(L, "cnnlua_forward: the model returned a %s, not a tensor", luaL_typename(L, -1));
  int ndim;
  const int64_t *shape;
  const float *out = cnnlua_checktensor(L, -1, &ndim, &shape);
  int64_t n = cnn_shape_numel(ndim, shape);
  if (n > a->capacity)
    return luaL_error(L, "cnnlua_forward: the output has %I elements, the buffer holds %I", (lua_Integer)n,
                      (lua_Integer)a->capacity);
  memcpy(a->output, out, (size_t)n * sizeof(float));
  if (a->out_ndim) *a->out_ndim = ndim;
  if (a->out_shape) memcpy(a->out_shape, shape, (size_t)ndim * sizeof(int64_t));
  return 0;
}

int cnnlua_forward(lua_State *L, int model, const float *input, int ndim, const int64_t *shape, float *output,
                   int64_t capacity, int *out_ndim, int64_t *out_shape) {
  if (!input || !shape || !output) return set_error(L, "cnnlua_forward: input, shape and output must not be NULL");
  forward_args a = {model, input, ndim, shape, output, capacity, out_ndim, out_shape};
  return protect(L, forward, &a);
}
