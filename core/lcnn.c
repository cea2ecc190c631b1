/*
 * lcnn.c: luaopen_cnn, the module-level functions that are not about one
 * tensor (seed, threads, clock, version), and the C embedding calls declared
 * in cnnlua.h.
 */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnlua.h"
#include "conv.h"
#include "elementwise.h"
#include "gemm.h"
#include "lcnn.h"
#include "lcnn_embed.h"
#include "sgemm.h"

#define DEFAULT_SEED 0x5eed

static const char rng_key = 'r'; /* its address keys the generator in the registry */

cnn_rng *lcnn_rng(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &rng_key);
  cnn_rng *r = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return r; /* anchored in the registry */
}

static void open_rng(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &rng_key);
  bool present = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (present) return;
  cnn_rng *r = lua_newuserdatauv(L, sizeof *r, 0);
  cnn_rng_seed(r, DEFAULT_SEED);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &rng_key);
}

static int f_seed(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  cnn_rng_seed(lcnn_rng(L), (uint64_t)n);
  return 0;
}

static int f_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 1 || n > 1024) lcnn_error(L, "set_num_threads", "thread count %lld out of range 1..1024", (long long)n);
  cnn_set_num_threads((int)n);
  return 0;
}

static int f_get_num_threads(lua_State *L) {
  lua_pushinteger(L, cnn_get_num_threads());
  return 1;
}

/* ---- the kernel set of the matrix products (sgemm.h) ---- */

static int f_isa(lua_State *L) {
  lua_pushstring(L, cnn_isa_active()->name);
  return 1;
}

static int f_isas(lua_State *L) {
  lua_newtable(L);
  int n = 0;
  for (const cnn_isa *const *isa = cnn_isa_all(); *isa; isa++)
    if (cnn_isa_supported((*isa)->name)) {
      lua_pushstring(L, (*isa)->name);
      lua_rawseti(L, -2, ++n);
    }
  return 1;
}

static int f_set_isa(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (!cnn_isa_select(name)) {
    if (cnn_isa_by_name(name)) lcnn_error(L, "set_isa", "this CPU cannot run '%s'", name);
    lcnn_error(L, "set_isa", "unknown kernel set '%s' (expected avx512, openblas, avx2 or scalar)", name);
  }
  return 0;
}

/* ---- Winograd's algorithm (conv.h) ---- */

static int f_set_winograd(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n != 0 && n != 2 && n != 4) lcnn_error(L, "set_winograd", "expected 0, 2 or 4 (tiles of outputs), got %lld", (long long)n);
  cnn_conv2d_set_winograd((int)n);
  return 0;
}

static int f_get_winograd(lua_State *L) {
  lua_pushinteger(L, cnn_conv2d_get_winograd());
  return 1;
}

static int f_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* The generator's state as a string, to store in checkpoints. */
static int f_get_rng_state(lua_State *L) {
  cnn_rng *r = lcnn_rng(L);
  lua_pushlstring(L, (const char *)r->s, sizeof r->s);
  return 1;
}

static int f_set_rng_state(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  cnn_rng *r = lcnn_rng(L);
  if (len != sizeof r->s) lcnn_error(L, "set_rng_state", "expected a state of %zu bytes, got %zu", sizeof r->s, len);
  memcpy(r->s, s, sizeof r->s);
  return 0;
}

/* Whether standard input (0), output (1) or error (2) is a terminal. */
static int f_isatty(lua_State *L) {
  lua_Integer fd = luaL_optinteger(L, 1, 1);
  lua_pushboolean(L, fd >= 0 && fd <= 2 && isatty((int)fd));
  return 1;
}

/* Ctrl-C as a polled flag, for loops that stop cleanly at a safe point:
 * cnn.catch_interrupt(true) installs the handler (false restores the previous
 * one); cnn.interrupted() tells whether Ctrl-C was pressed since the last
 * call. The handler is process-wide, as signal handlers are. */
static volatile sig_atomic_t interrupt_flag;
static struct sigaction previous_sigint;
static bool catching;

static void on_interrupt(int sig) {
  (void)sig;
  interrupt_flag = 1;
}

static int f_catch_interrupt(lua_State *L) {
  bool on = lua_isnone(L, 1) || lua_toboolean(L, 1);
  if (on && !catching) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &previous_sigint);
    interrupt_flag = 0;
    catching = true;
  } else if (!on && catching) {
    sigaction(SIGINT, &previous_sigint, NULL);
    catching = false;
  }
  return 0;
}

static int f_interrupted(lua_State *L) {
  lua_pushboolean(L, interrupt_flag != 0);
  interrupt_flag = 0;
  return 1;
}

static const luaL_Reg functions[] = {{"seed", f_seed},
                                     {"get_rng_state", f_get_rng_state},
                                     {"set_rng_state", f_set_rng_state},
                                     {"isatty", f_isatty},
                                     {"catch_interrupt", f_catch_interrupt},
                                     {"interrupted", f_interrupted},
                                     {"set_num_threads", f_set_num_threads},
                                     {"get_num_threads", f_get_num_threads},
                                     {"clock", f_clock},
                                     {"isa", f_isa},
                                     {"isas", f_isas},
                                     {"set_isa", f_set_isa},
                                     {"set_winograd", f_set_winograd},
                                     {"get_winograd", f_get_winograd},
                                     {NULL, NULL}};

/* package.preload loader of an embedded Lua file (upvalue: its entry). */
static int load_embedded(lua_State *L) {
  const lcnn_luafile *f = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushfstring(L, "@%s", f->path);
  if (luaL_loadbufferx(L, f->source, f->length, lua_tostring(L, -1), "t") != LUA_OK) return lua_error(L);
  lua_pushstring(L, f->module);
  lua_call(L, 1, 1);
  return 1;
}

static void register_embedded(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const lcnn_luafile *f = lcnn_luafiles; f->module; f++) {
    lua_pushlightuserdata(L, (void *)f);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, f->module);
  }
  lua_pop(L, 1);
}

int luaopen_cnn(lua_State *L) {
  luaL_checkversion(L);
  if (cnn_isa_env_error()) return luaL_error(L, "cnn: %s", cnn_isa_env_error());
  cnn_set_num_threads(cnn_get_num_threads()); /* OpenBLAS single-threaded: see gemm.h */
  open_rng(L);
  register_embedded(L);
  lua_newtable(L);
  luaL_setfuncs(L, functions, 0);
  lua_pushliteral(L, CNNLUA_VERSION);
  lua_setfield(L, -2, "version");
  lcnn_open_tensor(L);
  lcnn_open_math(L);
  lcnn_open_conv(L);
  lcnn_open_func(L);
  lcnn_open_io(L);
  lcnn_open_data(L);
  /* the Lua half: lazy submodules (cnn.nn, cnn.optim, ...) and save/load */
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_getfield(L, -1, "cnn.setup");
  lua_remove(L, -2);
  lua_call(L, 0, 1); /* the chunk returns function(cnn) */
  lua_pushvalue(L, -2);
  lua_call(L, 1, 0);
  return 1;
}

void cnnlua_pushtensor(lua_State *L, const float *data, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > CNN_MAX_DIMS)
    lcnn_error(L, "cnnlua_pushtensor", "%d dimensions (expected 0..%d)", ndim, CNN_MAX_DIMS);
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0) lcnn_error(L, "cnnlua_pushtensor", "negative size %lld", (long long)shape[d]);
  cnn_tensor *t = lcnn_newtensor(L, ndim, shape, "cnnlua_pushtensor");
  memcpy(cnn_tensor_data(t), data, (size_t)cnn_tensor_numel(t) * sizeof(float));
}

const float *cnnlua_checktensor(lua_State *L, int idx, int *ndim, const int64_t **shape) {
  idx = lua_absindex(L, idx);
  cnn_tensor *t = lcnn_checktensor(L, idx);
  if (!cnn_tensor_is_contiguous(t)) {
    t = lcnn_pushcopy(L, t, "cnnlua_checktensor");
    lua_replace(L, idx);
  }
  if (ndim) *ndim = t->ndim;
  if (shape) *shape = t->shape;
  return cnn_tensor_data(t);
}
