/*
 * lmpi.c: the MPI collectives under cnn.dist, as the Lua C module cnn.mpi
 * (build/cnn/mpi.so, built by `make dist`). Only this module links MPI: the
 * core library, the cnnlua program and host programs never do.
 *
 * Tensors are the cnn library's userdata ("cnn.Tensor", tensor.h); the
 * collectives work in place on contiguous float32 tensors, handing their
 * storage straight to MPI. Ranks are 1-based here, as everything in Lua.
 *   mpi.init() -> rank, size          mpi.finalize()          mpi.abort(code)
 *   mpi.barrier()
 *   mpi.allreduce_(t, op)             op: "sum", "max" ("mean" is sum then a division, in Lua)
 *   mpi.broadcast_(t, root)
 *   mpi.allgather_into(t, out)        out: size x (t's shape), contiguous
 *   mpi.wtime()
 * A Lua state that ends without mpi.finalize (a script error, say) aborts the
 * whole job from its __gc, so that the other ranks do not wait forever.
 */
#include <mpi.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "tensor.h"

static bool started, finished;

static int failure(lua_State *L, const char *fname, int code) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, msg, &len);
  return luaL_error(L, "dist.%s: %s", fname, msg);
}

/* A contiguous cnn tensor at idx: its data and element count. */
static float *check_contiguous(lua_State *L, int idx, int64_t *n, const char *fname) {
  cnn_tensor *t = luaL_checkudata(L, idx, "cnn.Tensor");
  if (!t->storage) luaL_error(L, "dist.%s: tensor has been freed", fname);
  if (!cnn_tensor_is_contiguous(t)) luaL_error(L, "dist.%s: tensor must be contiguous (use t:contiguous())", fname);
  *n = cnn_tensor_numel(t);
  if (*n > 0x7fffffff) luaL_error(L, "dist.%s: tensor too large for one MPI call", fname);
  return cnn_tensor_data(t);
}

static void check_started(lua_State *L, const char *fname) {
  if (!started || finished) luaL_error(L, "dist.%s: MPI is not running (call dist.init() first)", fname);
}

static int l_init(lua_State *L) {
  if (!started) {
    int provided, code = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (code != MPI_SUCCESS) return failure(L, "init", code);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    started = true;
  }
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  lua_pushinteger(L, rank + 1);
  lua_pushinteger(L, size);
  return 2;
}

static int l_finalize(lua_State *L) {
  (void)L;
  if (started && !finished) {
    MPI_Finalize();
    finished = true;
  }
  return 0;
}

static int l_abort(lua_State *L) {
  int code = (int)luaL_optinteger(L, 1, 1);
  if (started && !finished) MPI_Abort(MPI_COMM_WORLD, code);
  return 0;
}

static int l_barrier(lua_State *L) {
  check_started(L, "barrier");
  int code = MPI_Barrier(MPI_COMM_WORLD);
  return code == MPI_SUCCESS ? 0 : failure(L, "barrier", code);
}

static int l_allreduce_(lua_State *L) {
  check_started(L, "allreduce_");
  int64_t n;
  float *data = check_contiguous(L, 1, &n, "allreduce_");
  static const char *const ops[] = {"sum", "max", NULL};
  int op = luaL_checkoption(L, 2, "sum", ops);
  int code = MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_FLOAT, op == 0 ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD);
  if (code != MPI_SUCCESS) return failure(L, "allreduce_", code);
  lua_settop(L, 1);
  return 1;
}

static int l_broadcast_(lua_State *L) {
  check_started(L, "broadcast_");
  int64_t n;
  float *data = check_contiguous(L, 1, &n, "broadcast_");
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  lua_Integer root = luaL_optinteger(L, 2, 1);
  if (root < 1 || root > size) return luaL_error(L, "dist.broadcast_: root %d out of range 1..%d", (int)root, size);
  int code = MPI_Bcast(data, (int)n, MPI_FLOAT, (int)root - 1, MPI_COMM_WORLD);
  if (code != MPI_SUCCESS) return failure(L, "broadcast_", code);
  lua_settop(L, 1);
  return 1;
}

static int l_allgather_into(lua_State *L) {
  check_started(L, "allgather");
  int64_t n, m;
  float *data = check_contiguous(L, 1, &n, "allgather");
  float *out = check_contiguous(L, 2, &m, "allgather");
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (m != n * size) return luaL_error(L, "dist.allgather: output holds %d floats, expected %d", (int)m, (int)(n * size));
  int code = MPI_Allgather(data, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, MPI_COMM_WORLD);
  if (code != MPI_SUCCESS) return failure(L, "allgather", code);
  lua_settop(L, 2);
  return 1;
}

static int l_wtime(lua_State *L) {
  lua_pushnumber(L, MPI_Wtime());
  return 1;
}

/* The module's sentinel: a state closing while MPI runs unfinished (an error
 * ended the script) takes the job down with it. */
static int sentinel_gc(lua_State *L) {
  (void)L;
  if (started && !finished) MPI_Abort(MPI_COMM_WORLD, 1);
  return 0;
}

static const luaL_Reg functions[] = {{"init", l_init},
                                     {"finalize", l_finalize},
                                     {"abort", l_abort},
                                     {"barrier", l_barrier},
                                     {"allreduce_", l_allreduce_},
                                     {"broadcast_", l_broadcast_},
                                     {"allgather_into", l_allgather_into},
                                     {"wtime", l_wtime},
                                     {NULL, NULL}};

int luaopen_cnn_mpi(lua_State *L) {
  luaL_newlib(L, functions);
  lua_newuserdatauv(L, 1, 0);
  lua_newtable(L);
  lua_pushcfunction(L, sentinel_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, "_sentinel");
  return 1;
}
