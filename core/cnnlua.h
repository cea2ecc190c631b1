/*
 * cnnlua.h: the C interface of cnnlua for host programs.
 *
 * cnnlua is a neural-network runtime: float32 tensors and kernels in C,
 * networks and training loops in Lua. A host program embeds it by opening the
 * library in a Lua 5.4 state and moving float buffers in and out as tensors:
 *
 *     #include <lauxlib.h>
 *     #include <lualib.h>
 *     #include "cnnlua.h"
 *
 *     lua_State *L = luaL_newstate();
 *     luaL_openlibs(L);
 *     luaL_requiref(L, "cnn", luaopen_cnn, 1);   // global `cnn`, as in the cnnlua program
 *     lua_pop(L, 1);
 *
 *     float x[6] = {1, 2, 3, 4, 5, 6};
 *     int64_t shape[2] = {2, 3};
 *     luaL_loadstring(L, "local x = ... ; return (x * 2):sum(2)");
 *     cnnlua_pushtensor(L, x, 2, shape);           // copies x
 *     if (lua_pcall(L, 1, 1, 0) != LUA_OK) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); }
 *     int ndim; const int64_t *dims;
 *     const float *y = cnnlua_checktensor(L, -1, &ndim, &dims);   // y[0] == 12, y[1] == 30
 *
 * Ownership: tensors belong to the Lua state that made them and are freed by
 * its garbage collector. A pointer from cnnlua_checktensor stays valid while
 * the tensor value is reachable from Lua (on the stack, or in a table).
 *
 * Threads: a Lua state, and everything in it, is used by one thread at a time.
 * Independent states may run in different threads at once.
 *
 * Link with -lcnnlua and Lua 5.4 (pkg-config lua5.4).
 */
#ifndef CNNLUA_H
#define CNNLUA_H

#include <stdint.h>

#include <lua.h>

#define CNNLUA_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the library: pushes the `cnn` module table. */
int luaopen_cnn(lua_State *L);

/* Pushes a new contiguous tensor holding a copy of data, of the given shape
 * (ndim from 0 to 8). Raises a Lua error on a bad shape or out of memory. */
void cnnlua_pushtensor(lua_State *L, const float *data, int ndim, const int64_t *shape);

/* The elements of the tensor at idx, contiguous and row-major. If the tensor is
 * a non-contiguous view, the value at idx is replaced by a contiguous copy.
 * ndim and shape (either may be NULL) receive its shape. Raises a Lua error if
 * the value is not a tensor. */
const float *cnnlua_checktensor(lua_State *L, int idx, int *ndim, const int64_t **shape);

#ifdef __cplusplus
}
#endif

#endif
