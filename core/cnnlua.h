/*
 * cnnlua.h: the C interface of cnnlua for host programs.
 *
 * cnnlua is a neural-network runtime: float32 tensors and kernels in C,
 * networks and training loops in Lua 5.4. A host program (a game, a camera
 * pipeline, a server) embeds it by opening a Lua state with the library,
 * loading a model that a script trained and saved, and running it on float
 * buffers. The whole library, its Lua half included, is inside libcnnlua:
 * no Lua file needs to be on disk and no search path needs setting.
 *
 * A complete program (build with: cc host.c $(pkg-config --cflags --libs cnnlua)):
 *
 *     #include <stdio.h>
 *     #include "cnnlua.h"
 *
 *     int main(void) {
 *       lua_State *L = cnnlua_open();                 // Lua with its libraries and cnn
 *       if (!L) return 1;
 *       int model;
 *       if (cnnlua_load_model(L, "runs/model.cnn", &model) != CNNLUA_OK) {
 *         fprintf(stderr, "%s\n", cnnlua_error(L));   // e.g. "load: cannot open runs/model.cnn: ..."
 *         return 1;
 *       }
 *       float image[28 * 28] = {0};                    // one 1 x 28 x 28 image, batch of 1
 *       int64_t shape[4] = {1, 1, 28, 28};
 *       float scores[10];
 *       if (cnnlua_forward(L, model, image, 4, shape, scores, 10, NULL, NULL) != CNNLUA_OK) {
 *         fprintf(stderr, "%s\n", cnnlua_error(L));   // e.g. "conv2d: input has 3 channels, weight expects 1"
 *         return 1;
 *       }
 *       int best = 0;
 *       for (int i = 1; i < 10; i++) if (scores[i] > scores[best]) best = i;
 *       printf("class %d\n", best + 1);
 *       cnnlua_close(L);
 *       return 0;
 *     }
 *
 * Errors. Every call that can fail returns CNNLUA_OK or CNNLUA_ERROR and keeps
 * a message for cnnlua_error; none exits, aborts or longjmps into the host.
 * (cnnlua_pushtensor and cnnlua_checktensor are the exception: like the Lua C
 * API's luaL_check* functions they raise Lua errors, so call them from code
 * that runs under lua_pcall, such as a lua_CFunction.)
 *
 * Ownership. A state owns everything made in it: tensors are freed by its
 * garbage collector, a model stays loaded until cnnlua_free_model or
 * cnnlua_close. Input buffers are copied; output buffers are the caller's.
 * A pointer from cnnlua_checktensor stays valid while the tensor value is
 * reachable from Lua (on the stack, or in a table).
 *
 * Threads. A state is used by one thread at a time. Independent states may
 * run in different threads at once: they share nothing but the kernels'
 * thread pool (a state that finds it busy runs its kernels in the calling
 * thread) and the thread count, which is process-wide. Programs that run
 * states in parallel threads should call cnn.set_num_threads(1) (for example
 * with cnnlua_run(L, "cnn.set_num_threads(1)")), so that the kernels and
 * OpenBLAS do not start threads of their own behind the host's back.
 *
 * The Lua side is documented in docs/ (tensors, nn, data, training); this
 * header's calls are described in docs/embedding.md.
 */
#ifndef CNNLUA_H
#define CNNLUA_H

#include <stdint.h>

#include <lua.h>

#define CNNLUA_VERSION "0.1.0"

#define CNNLUA_OK 0
#define CNNLUA_ERROR 1

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the library in any Lua 5.4 state ---- */

/* Opens the library: pushes the `cnn` module table. This is also what
 * `require "cnn"` runs when it loads the cnn module (cnn.so). */
int luaopen_cnn(lua_State *L);

/* Pushes a new contiguous tensor holding a copy of data, of the given shape
 * (ndim from 0 to 8). Raises a Lua error on a bad shape or out of memory. */
void cnnlua_pushtensor(lua_State *L, const float *data, int ndim, const int64_t *shape);

/* The elements of the tensor at idx, contiguous and row-major. If the tensor is
 * a non-contiguous view, the value at idx is replaced by a contiguous copy.
 * ndim and shape (either may be NULL) receive its shape. Raises a Lua error if
 * the value is not a tensor. */
const float *cnnlua_checktensor(lua_State *L, int idx, int *ndim, const int64_t **shape);

/* ---- running models without writing Lua ---- */

/* A new Lua state with the standard libraries and cnn (as the global `cnn`),
 * or NULL if memory runs out. */
lua_State *cnnlua_open(void);
/* Closes a state made by cnnlua_open (or any state): frees everything in it. */
void cnnlua_close(lua_State *L);

/* Runs a chunk of Lua code. */
int cnnlua_run(lua_State *L, const char *chunk);

/* Loads a model saved with cnn.save: an nn module, or a checkpoint written by
 * examples/train.lua. It is put in evaluation mode; *model receives a handle
 * (a positive integer) for cnnlua_forward. */
int cnnlua_load_model(lua_State *L, const char *path, int *model);

/* Runs the model on a copy of input (ndim dimensions of the given shape,
 * usually batch-first) and copies the result into output, which holds
 * capacity floats. out_ndim and out_shape (room for 8 sizes), when not NULL,
 * receive the result's shape. A result larger than capacity is an error. */
int cnnlua_forward(lua_State *L, int model, const float *input, int ndim, const int64_t *shape, float *output,
                   int64_t capacity, int *out_ndim, int64_t *out_shape);

/* Releases a model handle. */
void cnnlua_free_model(lua_State *L, int model);

/* The message of the last call that failed in this state ("" if none). The
 * string stays valid until the next failing call. */
const char *cnnlua_error(lua_State *L);

#ifdef __cplusplus
}
#endif

#endif
