/*
 * lcnn.h: helpers shared by the Lua bindings (the only C files that include
 * lua.h). Not part of the public API; host programs use cnnlua.h.
 *
 * A tensor userdata holds a cnn_tensor by value. It is created as an empty
 * handle (no storage) before anything is allocated, so __gc is always safe,
 * and it holds one reference to its storage. Freshly allocated storage is
 * reported to the garbage collector as if Lua had allocated it, so loops that
 * make large temporaries stay within bounded memory.
 */
#ifndef LCNN_H
#define LCNN_H

#include <lauxlib.h>
#include <lua.h>

#include "random.h"
#include "tensor.h"

#define LCNN_TENSOR "cnn.Tensor"

/* Raises "fname: message". */
int lcnn_error(lua_State *L, const char *fname, const char *fmt, ...);

/* The tensor at idx; raises if it is not a tensor or was freed. */
cnn_tensor *lcnn_checktensor(lua_State *L, int idx);
/* The tensor at idx or NULL. */
cnn_tensor *lcnn_totensor(lua_State *L, int idx);
/* Pushes an empty tensor handle (no storage), for a C reader to fill. */
cnn_tensor *lcnn_pushhandle(lua_State *L);
/* Tells the collector about numel floats of new storage, as if Lua had allocated them. */
void lcnn_account(lua_State *L, int64_t numel);
/* Pushes a new tensor of the given shape (uninitialised storage). */
cnn_tensor *lcnn_newtensor(lua_State *L, int ndim, const int64_t *shape, const char *fname);
/* Pushes a new tensor with t's shape. */
cnn_tensor *lcnn_newlike(lua_State *L, const cnn_tensor *t, const char *fname);
/* Pushes the result tensor of a kernel with an optional destination at idx
 * (Torch7-style reuse of a module's output): the tensor there when it is
 * contiguous, has exactly this shape and shares no storage with the
 * arguments before idx; otherwise a new one. idx may hold nil or nothing;
 * anything else but a tensor raises. */
cnn_tensor *lcnn_into(lua_State *L, int idx, int ndim, const int64_t *shape, const char *fname);
/* Pushes a new view sharing src's storage and geometry. */
cnn_tensor *lcnn_pushview(lua_State *L, const cnn_tensor *src);
/* Pushes a contiguous copy of t (always a copy). */
cnn_tensor *lcnn_pushcopy(lua_State *L, cnn_tensor *t, const char *fname);

/* A dimension argument: 1..ndim, or -ndim..-1 counting from the end. Returns it 0-based. */
int lcnn_checkdim(lua_State *L, int arg, int ndim, const char *fname);
/* A shape given either as a table at arg or as integers from arg to the top of
 * the stack. With allow_infer, one size may be -1. Returns ndim. */
int lcnn_checkshape(lua_State *L, int arg, int64_t *shape, bool allow_infer, const char *fname);
/* "(2, 3)" for t's shape, in a buffer of the caller. */
const char *lcnn_shapestr(char *buf, size_t len, const cnn_tensor *t);

/* The tensor at idx, contiguous: itself, or a copy pushed on the stack. */
cnn_tensor *lcnn_contiguous(lua_State *L, int idx);
/* Raises "fname: expected a 4-d input (what), got shape (...)" unless t has ndim dimensions. */
void lcnn_checkrank(lua_State *L, const cnn_tensor *t, int ndim, const char *what, const char *fname);

/* Options of the functional kernels, read from an optional table argument.
 * Sizes are a number or an {h, w} pair; unset keys keep the caller's defaults. */
typedef struct lcnn_opts {
  int64_t stride[2], padding[2], dilation[2], groups;
  bool ceil_mode, count_include_pad;
  bool has_stride; /* whether stride was given (pools default it to the kernel size) */
  bool relu;       /* convolution: the result rectified in the same call */
} lcnn_opts;
/* Reads the table at idx (none or nil: nothing to read). allowed is a
 * NULL-terminated list of accepted keys; any other key is an error naming it. */
void lcnn_readopts(lua_State *L, int idx, const char *const *allowed, lcnn_opts *o, const char *fname);
/* A size argument: a positive number or an {h, w} pair of them. */
void lcnn_checkpair(lua_State *L, int idx, int64_t pair[2], const char *what, const char *fname);

/* The Lua state's random generator. */
cnn_rng *lcnn_rng(lua_State *L);

/* Registration of each binding area into the table on top of the stack. */
void lcnn_open_tensor(lua_State *L);
void lcnn_open_math(lua_State *L);
void lcnn_open_conv(lua_State *L);
void lcnn_open_func(lua_State *L);
void lcnn_open_io(lua_State *L);
void lcnn_open_data(lua_State *L);

#endif
