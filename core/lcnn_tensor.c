/*
 * lcnn_tensor.c: the tensor userdata and the tensor bindings that create,
 * inspect, view, fill and print tensors. Arithmetic and reductions are in
 * lcnn_math.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "elementwise.h"
#include "lcnn.h"

int lcnn_error(lua_State *L, const char *fname, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  luaL_where(L, 1);
  lua_pushfstring(L, "%s: %s", fname, msg);
  lua_concat(L, 2);
  return lua_error(L);
}

const char *lcnn_shapestr(char *buf, size_t len, const cnn_tensor *t) {
  return cnn_shape_format(buf, len, t->ndim, t->shape);
}

cnn_tensor *lcnn_totensor(lua_State *L, int idx) {
  cnn_tensor *t = luaL_testudata(L, idx, LCNN_TENSOR);
  return t;
}

cnn_tensor *lcnn_checktensor(lua_State *L, int idx) {
  cnn_tensor *t = luaL_testudata(L, idx, LCNN_TENSOR);
  if (!t) {
    const char *msg = lua_pushfstring(L, "tensor expected, got %s", luaL_typename(L, idx));
    luaL_argerror(L, idx, msg);
  }
  if (!t->storage) luaL_argerror(L, idx, "tensor has been freed (closed)");
  return t;
}

cnn_tensor *lcnn_pushhandle(lua_State *L) {
  cnn_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
  memset(t, 0, sizeof *t);
  luaL_setmetatable(L, LCNN_TENSOR);
  return t;
}

/* Tensor memory lies outside Lua's heap, so the collector does not see it
 * grow: each allocation of STEP_MIN floats or more makes the collector step
 * as if it had allocated as much, and every FULL_EVERY floats allocated by a
 * thread (small tensors included) it collects fully. The second matters in
 * generational mode, where tensors that lived through a forward and backward
 * pass become old and only a major collection, which Lua starts by the growth
 * of its own small heap, would free them (training then grew to gigabytes).
 * Smaller tensors only count towards the full collection: a step costs a few
 * microseconds, as much as a whole small kernel (a batch-1 forward pass makes
 * a dozen of them). */
#define FULL_EVERY ((int64_t)1 << 26) /* 256 MiB of floats */
#define STEP_MIN ((int64_t)1 << 14)   /* 64 KiB of floats */
static _Thread_local int64_t allocated;

void lcnn_account(lua_State *L, int64_t numel) {
  if (numel <= 0 || !lua_gc(L, LUA_GCISRUNNING)) return;
  allocated += numel;
  if (allocated >= FULL_EVERY) {
    allocated = 0;
    lua_gc(L, LUA_GCCOLLECT);
  } else if (numel >= STEP_MIN) {
    lua_gc(L, LUA_GCSTEP, (int)(numel / 256 > 1 << 30 ? 1 << 30 : numel / 256)); /* KiB: 4 bytes a float */
  }
}

cnn_tensor *lcnn_newtensor(lua_State *L, int ndim, const int64_t *shape, const char *fname) {
  cnn_error err;
  cnn_tensor *t = lcnn_pushhandle(L);
  if (cnn_tensor_alloc(t, ndim, shape, &err) != CNN_OK) lcnn_error(L, fname, "%s", err.msg);
  lcnn_account(L, cnn_tensor_numel(t));
  return t;
}

cnn_tensor *lcnn_newlike(lua_State *L, const cnn_tensor *t, const char *fname) {
  return lcnn_newtensor(L, t->ndim, t->shape, fname);
}

cnn_tensor *lcnn_into(lua_State *L, int idx, int ndim, const int64_t *shape, const char *fname) {
  if (lua_isnoneornil(L, idx)) return lcnn_newtensor(L, ndim, shape, fname);
  cnn_tensor *t = lcnn_totensor(L, idx);
  if (!t) lcnn_error(L, fname, "into (argument %d) must be a tensor or nil, got %s", idx, luaL_typename(L, idx));
  bool fits = t && t->storage && t->ndim == ndim && !memcmp(t->shape, shape, (size_t)ndim * sizeof *shape) &&
              cnn_tensor_is_contiguous(t);
  for (int a = 1; fits && a < idx; a++) {
    const cnn_tensor *u = lcnn_totensor(L, a);
    if (u && u->storage == t->storage) fits = false; /* the result would overwrite an argument */
  }
  if (!fits) return lcnn_newtensor(L, ndim, shape, fname);
  lua_pushvalue(L, idx);
  return t;
}

cnn_tensor *lcnn_pushview(lua_State *L, const cnn_tensor *src) {
  cnn_tensor *t = lcnn_pushhandle(L);
  cnn_tensor_share(t, src);
  return t;
}

cnn_tensor *lcnn_pushcopy(lua_State *L, cnn_tensor *t, const char *fname) {
  cnn_tensor *c = lcnn_newlike(L, t, fname);
  cnn_copy(c, t);
  return c;
}

int lcnn_checkdim(lua_State *L, int arg, int ndim, const char *fname) {
  lua_Integer d = luaL_checkinteger(L, arg);
  if (d >= 1 && d <= ndim) return (int)d - 1;
  if (d < 0 && d >= -ndim) return ndim + (int)d;
  if (ndim == 0) lcnn_error(L, fname, "dimension %lld given for a 0-d tensor", (long long)d);
  return lcnn_error(L, fname, "dimension %lld out of range for a %d-d tensor (expected 1..%d or -%d..-1)",
                    (long long)d, ndim, ndim, ndim);
}

static int64_t shape_entry(lua_State *L, int idx, int pos, const char *fname) {
  int isint;
  lua_Integer v = lua_tointegerx(L, idx, &isint);
  if (!isint) {
    if (lua_type(L, idx) == LUA_TNUMBER)
      lcnn_error(L, fname, "size %d is %s, not an integer", pos, lua_tostring(L, idx));
    lcnn_error(L, fname, "size %d is a %s, expected an integer", pos, luaL_typename(L, idx));
  }
  return (int64_t)v;
}

int lcnn_checkshape(lua_State *L, int arg, int64_t *shape, bool allow_infer, const char *fname) {
  int ndim;
  if (lua_type(L, arg) == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, arg);
    if (n > CNN_MAX_DIMS)
      lcnn_error(L, fname, "%d dimensions given, at most %d supported", (int)n, CNN_MAX_DIMS);
    ndim = (int)n;
    for (int i = 0; i < ndim; i++) {
      lua_geti(L, arg, i + 1);
      shape[i] = shape_entry(L, -1, i + 1, fname);
      lua_pop(L, 1);
    }
  } else {
    int top = lua_gettop(L);
    ndim = top - arg + 1;
    if (ndim < 0) ndim = 0;
    if (ndim > CNN_MAX_DIMS)
      lcnn_error(L, fname, "%d dimensions given, at most %d supported", ndim, CNN_MAX_DIMS);
    for (int i = 0; i < ndim; i++) shape[i] = shape_entry(L, arg + i, i + 1, fname);
  }
  int inferred = -1;
  char buf[160];
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == -1 && allow_infer) {
      if (inferred >= 0)
        lcnn_error(L, fname, "only one size may be -1 in %s", cnn_shape_format(buf, sizeof buf, ndim, shape));
      inferred = i;
    } else if (shape[i] < 0) {
      lcnn_error(L, fname, "negative size %lld in shape %s", (long long)shape[i],
                 cnn_shape_format(buf, sizeof buf, ndim, shape));
    }
  }
  return ndim;
}

/* ---- creation ---- */

static int t_empty(lua_State *L) {
  int64_t shape[CNN_MAX_DIMS];
  int ndim = lcnn_checkshape(L, 1, shape, false, "empty");
  lcnn_newtensor(L, ndim, shape, "empty");
  return 1;
}

static int filled(lua_State *L, float v, const char *fname) {
  int64_t shape[CNN_MAX_DIMS];
  int ndim = lcnn_checkshape(L, 1, shape, false, fname);
  cnn_fill(lcnn_newtensor(L, ndim, shape, fname), v);
  return 1;
}

static int t_zeros(lua_State *L) { return filled(L, 0.0f, "zeros"); }
static int t_ones(lua_State *L) { return filled(L, 1.0f, "ones"); }

static int t_full(lua_State *L) {
  int64_t shape[CNN_MAX_DIMS];
  float v = (float)luaL_checknumber(L, 2);
  int ndim;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    shape[0] = shape_entry(L, 1, 1, "full");
    if (shape[0] < 0) lcnn_error(L, "full", "negative size %lld", (long long)shape[0]);
    ndim = 1;
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    ndim = lcnn_checkshape(L, 1, shape, false, "full");
  }
  cnn_fill(lcnn_newtensor(L, ndim, shape, "full"), v);
  return 1;
}

static int t_arange(lua_State *L) {
  double a = 0, b, step = 1;
  if (lua_isnoneornil(L, 2)) {
    b = luaL_checknumber(L, 1);
  } else {
    a = luaL_checknumber(L, 1);
    b = luaL_checknumber(L, 2);
    step = luaL_optnumber(L, 3, 1);
  }
  if (step == 0 || !isfinite(a) || !isfinite(b) || !isfinite(step))
    lcnn_error(L, "arange", "invalid range %g to %g with step %g", a, b, step);
  if ((b - a) * step < 0)
    lcnn_error(L, "arange", "step %g goes away from the end (from %g to %g)", step, a, b);
  double count = ceil((b - a) / step);
  if (count > (double)((int64_t)1 << 46)) lcnn_error(L, "arange", "range has too many elements (%g)", count);
  int64_t n = (int64_t)count;
  cnn_tensor *t = lcnn_newtensor(L, 1, &n, "arange");
  float *p = cnn_tensor_data(t);
  for (int64_t i = 0; i < n; i++) p[i] = (float)(a + (double)i * step);
  return 1;
}

static int t_rand(lua_State *L) {
  int64_t shape[CNN_MAX_DIMS];
  int ndim = lcnn_checkshape(L, 1, shape, false, "rand");
  cnn_tensor *t = lcnn_newtensor(L, ndim, shape, "rand");
  cnn_rng_fill_uniform(lcnn_rng(L), cnn_tensor_data(t), cnn_tensor_numel(t));
  return 1;
}

static int t_randn(lua_State *L) {
  int64_t shape[CNN_MAX_DIMS];
  int ndim = lcnn_checkshape(L, 1, shape, false, "randn");
  cnn_tensor *t = lcnn_newtensor(L, ndim, shape, "randn");
  cnn_rng_fill_normal(lcnn_rng(L), cnn_tensor_data(t), cnn_tensor_numel(t));
  return 1;
}

/* cnn.tensor(nested): the shape comes from the first element at each depth;
 * every other element must agree with it. */
static void nested_shape(lua_State *L, int idx, int *ndim, int64_t *shape) {
  lua_pushvalue(L, idx);
  *ndim = 0;
  while (lua_type(L, -1) == LUA_TTABLE) {
    if (*ndim == CNN_MAX_DIMS) lcnn_error(L, "tensor", "table nested deeper than %d levels", CNN_MAX_DIMS);
    int64_t n = (int64_t)lua_rawlen(L, -1);
    shape[(*ndim)++] = n;
    if (n == 0) break;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
}

static void nested_path(luaL_Buffer *b, const int64_t *at, int depth) {
  for (int i = 0; i < depth; i++) {
    char s[32];
    snprintf(s, sizeof s, "[%lld]", (long long)at[i] + 1);
    luaL_addstring(b, s);
  }
}

static void nested_fail(lua_State *L, const int64_t *at, int depth, const char *what) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "element ");
  nested_path(&b, at, depth);
  luaL_addstring(&b, what);
  luaL_pushresult(&b);
  lcnn_error(L, "tensor", "%s", lua_tostring(L, -1));
}

static float *nested_fill(lua_State *L, int ndim, const int64_t *shape, int depth, int64_t *at, float *out) {
  /* the value to read is on top of the stack */
  if (depth == ndim) {
    int isnum;
    lua_Number v = lua_tonumberx(L, -1, &isnum);
    if (!isnum || lua_type(L, -1) != LUA_TNUMBER) {
      char what[80];
      snprintf(what, sizeof what, " is a %s, expected a number", luaL_typename(L, -1));
      nested_fail(L, at, depth, what);
    }
    *out++ = (float)v;
    return out;
  }
  if (lua_type(L, -1) != LUA_TTABLE) {
    char what[96];
    snprintf(what, sizeof what, " is a %s, expected a table of length %lld (ragged table)",
             luaL_typename(L, -1), (long long)shape[depth]);
    nested_fail(L, at, depth, what);
  }
  int64_t n = (int64_t)lua_rawlen(L, -1);
  if (n != shape[depth]) {
    char what[96];
    snprintf(what, sizeof what, " has length %lld, expected %lld (ragged table)", (long long)n,
             (long long)shape[depth]);
    nested_fail(L, at, depth, what);
  }
  luaL_checkstack(L, 2, "tensor");
  for (int64_t i = 0; i < n; i++) {
    at[depth] = i;
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    out = nested_fill(L, ndim, shape, depth + 1, at, out);
    lua_pop(L, 1);
  }
  return out;
}

static int t_tensor(lua_State *L) {
  int64_t shape[CNN_MAX_DIMS], at[CNN_MAX_DIMS];
  int ndim;
  int tp = lua_type(L, 1);
  if (tp != LUA_TTABLE && tp != LUA_TNUMBER)
    return luaL_argerror(L, 1, lua_pushfstring(L, "table or number expected, got %s", luaL_typename(L, 1)));
  lua_settop(L, 1);
  nested_shape(L, 1, &ndim, shape);
  cnn_tensor *t = lcnn_newtensor(L, ndim, shape, "tensor");
  lua_pushvalue(L, 1);
  nested_fill(L, ndim, shape, 0, at, cnn_tensor_data(t));
  lua_pop(L, 1);
  return 1;
}

static int t_is_tensor(lua_State *L) {
  lua_pushboolean(L, lcnn_totensor(L, 1) != NULL);
  return 1;
}

/* ---- shape queries ---- */

static int m_shape(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  lua_createtable(L, t->ndim, 0);
  for (int d = 0; d < t->ndim; d++) {
    lua_pushinteger(L, t->shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  return 1;
}

static int m_size(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) return m_shape(L);
  lua_pushinteger(L, t->shape[lcnn_checkdim(L, 2, t->ndim, "size")]);
  return 1;
}

static int m_dim(lua_State *L) {
  lua_pushinteger(L, lcnn_checktensor(L, 1)->ndim);
  return 1;
}

static int m_numel(lua_State *L) {
  lua_pushinteger(L, cnn_tensor_numel(lcnn_checktensor(L, 1)));
  return 1;
}

static int m_len(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  if (t->ndim == 0) lcnn_error(L, "#", "length of a 0-d tensor");
  lua_pushinteger(L, t->shape[0]);
  return 1;
}

static int m_is_contiguous(lua_State *L) {
  lua_pushboolean(L, cnn_tensor_is_contiguous(lcnn_checktensor(L, 1)));
  return 1;
}

/* ---- elements ---- */

/* The element addressed by the ndim 1-based indices starting at argument 2. */
static float *element(lua_State *L, cnn_tensor *t, int nargs, const char *fname) {
  char buf[160];
  if (nargs != t->ndim)
    lcnn_error(L, fname, "%d indices given for a %d-d tensor of shape %s", nargs, t->ndim,
               lcnn_shapestr(buf, sizeof buf, t));
  int64_t off = 0;
  for (int d = 0; d < t->ndim; d++) {
    lua_Integer i = luaL_checkinteger(L, 2 + d);
    if (i < 1 || i > t->shape[d])
      lcnn_error(L, fname, "index %lld out of range for dimension %d of size %lld", (long long)i, d + 1,
                 (long long)t->shape[d]);
    off += (int64_t)(i - 1) * t->stride[d];
  }
  return cnn_tensor_data(t) + off;
}

static int m_get(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  lua_pushnumber(L, *element(L, t, lua_gettop(L) - 1, "get"));
  return 1;
}

static int m_set(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int top = lua_gettop(L);
  float v = (float)luaL_checknumber(L, top);
  *element(L, t, top - 2, "set") = v;
  lua_settop(L, 1);
  return 1;
}

static int m_item(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  char buf[160];
  if (cnn_tensor_numel(t) != 1)
    lcnn_error(L, "item", "tensor of shape %s has %lld elements, expected 1", lcnn_shapestr(buf, sizeof buf, t),
               (long long)cnn_tensor_numel(t));
  lua_pushnumber(L, *cnn_tensor_data(t));
  return 1;
}

static void totable(lua_State *L, const cnn_tensor *t, int d, const float *p) {
  if (d == t->ndim) {
    lua_pushnumber(L, *p);
    return;
  }
  luaL_checkstack(L, 2, "totable");
  lua_createtable(L, (int)t->shape[d], 0);
  for (int64_t i = 0; i < t->shape[d]; i++) {
    totable(L, t, d + 1, p + i * t->stride[d]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static int m_totable(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  totable(L, t, 0, cnn_tensor_data(t));
  return 1;
}

/* ---- views ---- */

/* Resolves a -1 size from numel; raises if the sizes cannot hold numel elements. */
static void infer_shape(lua_State *L, const cnn_tensor *t, int ndim, int64_t *shape, const char *fname) {
  int64_t numel = cnn_tensor_numel(t), known = 1;
  int infer = -1;
  char a[160], b[160];
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == -1) infer = d;
    else if (shape[d] && known > INT64_MAX / shape[d]) known = -1;
    else if (known >= 0) known *= shape[d];
  }
  if (infer >= 0 && known > 0 && numel % known == 0) shape[infer] = numel / known;
  else if (infer >= 0 && known == 0 && numel == 0) shape[infer] = 0; /* PyTorch refuses; keep it simple */
  if ((infer >= 0 && shape[infer] == -1) || cnn_shape_numel(ndim, shape) != numel)
    lcnn_error(L, fname, "shape %s is invalid for a tensor of shape %s (%lld elements)",
               cnn_shape_format(a, sizeof a, ndim, shape), lcnn_shapestr(b, sizeof b, t), (long long)numel);
}

static int m_view(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int64_t shape[CNN_MAX_DIMS];
  int ndim = lcnn_checkshape(L, 2, shape, true, "view");
  infer_shape(L, t, ndim, shape, "view");
  cnn_tensor v = *t;
  char a[160], b[160];
  if (!cnn_tensor_try_view(&v, ndim, shape))
    lcnn_error(L, "view", "a tensor of shape %s with these strides cannot be viewed as %s; use reshape",
               lcnn_shapestr(a, sizeof a, t), cnn_shape_format(b, sizeof b, ndim, shape));
  lcnn_pushview(L, &v);
  return 1;
}

/* Pushes t with the given shape (of as many elements): a view when its
 * strides allow one, else a copy. */
static void push_reshaped(lua_State *L, cnn_tensor *t, int ndim, const int64_t *shape, const char *fname) {
  cnn_tensor v = *t;
  if (cnn_tensor_try_view(&v, ndim, shape)) {
    lcnn_pushview(L, &v);
  } else {
    cnn_tensor *c = lcnn_pushcopy(L, t, fname);
    cnn_tensor_try_view(c, ndim, shape);
  }
}

static int m_reshape(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int64_t shape[CNN_MAX_DIMS];
  int ndim = lcnn_checkshape(L, 2, shape, true, "reshape");
  infer_shape(L, t, ndim, shape, "reshape");
  push_reshaped(L, t, ndim, shape, "reshape");
  return 1;
}

/* t:flatten([start = 1 [, end = -1]]): dimensions start..end (negative ones
 * count from the last) merged into one, as reshape would (a 0-d tensor counts
 * as a 1-d one of one element). One call where nn.Flatten made four. */
static int m_flatten(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int n = t->ndim > 0 ? t->ndim : 1;
  lua_Integer s = luaL_optinteger(L, 2, 1), e = luaL_optinteger(L, 3, -1);
  lua_Integer first = s < 0 ? n + 1 + s : s, last = e < 0 ? n + 1 + e : e;
  if (first < 1 || last > n || first > last)
    lcnn_error(L, "flatten", "dimensions %lld..%lld out of range for a %d-d tensor (expected start..end within "
               "1..%d or -%d..-1, start not after end)", (long long)s, (long long)e, t->ndim, n, n);
  int64_t shape[CNN_MAX_DIMS];
  int ndim = 0;
  for (int d = 1; d <= n; d++) {
    int64_t size = t->ndim > 0 ? t->shape[d - 1] : 1;
    if (d <= first || d > last) shape[ndim++] = size;
    else shape[ndim - 1] *= size;
  }
  lua_settop(L, 1);
  push_reshaped(L, t, ndim, shape, "flatten");
  return 1;
}

static int m_transpose(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int d1 = lcnn_checkdim(L, 2, t->ndim, "transpose"), d2 = lcnn_checkdim(L, 3, t->ndim, "transpose");
  cnn_tensor_transpose(lcnn_pushview(L, t), d1, d2);
  return 1;
}

static int m_permute(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int64_t dims[CNN_MAX_DIMS];
  int perm[CNN_MAX_DIMS], seen[CNN_MAX_DIMS] = {0};
  int n = lcnn_checkshape(L, 2, dims, true, "permute");
  if (n != t->ndim) lcnn_error(L, "permute", "%d dimensions given for a %d-d tensor", n, t->ndim);
  for (int i = 0; i < n; i++) {
    int64_t d = dims[i] < 0 ? dims[i] + n + 1 : dims[i];
    if (d < 1 || d > n) lcnn_error(L, "permute", "dimension %lld out of range 1..%d", (long long)dims[i], n);
    if (seen[d - 1]++) lcnn_error(L, "permute", "dimension %lld repeated", (long long)d);
    perm[i] = (int)d - 1;
  }
  cnn_tensor_permute(lcnn_pushview(L, t), perm);
  return 1;
}

static int m_narrow(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int d = lcnn_checkdim(L, 2, t->ndim, "narrow");
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  if (start < 1 || len < 0 || start - 1 + len > t->shape[d])
    lcnn_error(L, "narrow", "start %lld and length %lld out of range for dimension %d of size %lld",
               (long long)start, (long long)len, d + 1, (long long)t->shape[d]);
  cnn_tensor_narrow(lcnn_pushview(L, t), d, start - 1, len);
  return 1;
}

static int m_select(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int d = lcnn_checkdim(L, 2, t->ndim, "select");
  lua_Integer i = luaL_checkinteger(L, 3);
  if (i < 1 || i > t->shape[d])
    lcnn_error(L, "select", "index %lld out of range for dimension %d of size %lld", (long long)i, d + 1,
               (long long)t->shape[d]);
  cnn_tensor_select(lcnn_pushview(L, t), d, i - 1);
  return 1;
}

static int m_contiguous(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  if (cnn_tensor_is_contiguous(t)) lua_settop(L, 1);
  else lcnn_pushcopy(L, t, "contiguous");
  return 1;
}

static int m_clone(lua_State *L) {
  lcnn_pushcopy(L, lcnn_checktensor(L, 1), "clone");
  return 1;
}

/* ---- fill and copy ---- */

static int m_fill_(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  cnn_fill(t, (float)luaL_checknumber(L, 2));
  lua_settop(L, 1);
  return 1;
}

static int m_zero_(lua_State *L) {
  cnn_fill(lcnn_checktensor(L, 1), 0.0f);
  lua_settop(L, 1);
  return 1;
}

static int m_copy_(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1), *src = lcnn_checktensor(L, 2);
  int ndim;
  int64_t shape[CNN_MAX_DIMS];
  cnn_error err;
  char a[160], b[160];
  if (cnn_broadcast_shape(t->ndim, t->shape, src->ndim, src->shape, &ndim, shape, &err) != CNN_OK ||
      ndim != t->ndim || cnn_shape_numel(ndim, shape) != cnn_tensor_numel(t))
    lcnn_error(L, "copy_", "source of shape %s cannot be copied into a tensor of shape %s",
               lcnn_shapestr(a, sizeof a, src), lcnn_shapestr(b, sizeof b, t));
  if (cnn_tensor_overlaps(t, src)) src = lcnn_pushcopy(L, src, "copy_");
  cnn_tensor s = *src;
  cnn_tensor_expand(&s, t->ndim, t->shape);
  cnn_copy(t, &s);
  lua_settop(L, 1);
  return 1;
}

/* ---- lifetime ---- */

static int m_gc(lua_State *L) {
  cnn_tensor *t = luaL_checkudata(L, 1, LCNN_TENSOR);
  cnn_tensor_release(t);
  return 0;
}

static int m_free(lua_State *L) {
  m_gc(L);
  return 0;
}

/* ---- printing ---- */

#define PRINT_LIMIT 1000 /* more elements than this: print the first and last 3 per dimension */
#define PRINT_EDGE 3
#define PRINT_WIDTH 80

typedef struct {
  const cnn_tensor *t;
  bool summarize;
  int pass; /* 0: statistics, 1: widths, 2: output */
  bool integral, nonfinite;
  double maxabs, minabs;
  const char *fmt;
  int width;
  luaL_Buffer *b;
} printer;

static int format_value(const printer *pr, char *s, size_t len, float v) {
  if (isnan(v)) return snprintf(s, len, "nan");
  if (isinf(v)) return snprintf(s, len, v > 0 ? "inf" : "-inf");
  return snprintf(s, len, pr->fmt, (double)v);
}

static void print_value(printer *pr, float v) {
  if (pr->pass == 0) {
    if (!isfinite(v)) {
      pr->nonfinite = true;
      return;
    }
    double a = fabs(v);
    if (a != floor(a)) pr->integral = false;
    if (a > pr->maxabs) pr->maxabs = a;
    if (a > 0 && a < pr->minabs) pr->minabs = a;
    return;
  }
  char s[64];
  int n = format_value(pr, s, sizeof s, v);
  if (pr->pass == 1) {
    if (n > pr->width) pr->width = n;
    return;
  }
  for (int i = n; i < pr->width; i++) luaL_addchar(pr->b, ' ');
  luaL_addlstring(pr->b, s, (size_t)n);
}

static void print_indent(printer *pr, int depth) {
  luaL_addchar(pr->b, '\n');
  for (int i = 0; i < 7 + depth; i++) luaL_addchar(pr->b, ' ');
}

static void print_block(printer *pr, int d, const float *p) {
  const cnn_tensor *t = pr->t;
  int64_t n = t->shape[d];
  bool cut = pr->summarize && n > 2 * PRINT_EDGE;
  bool out = pr->pass == 2;
  bool last = d == t->ndim - 1;
  int col = 7 + d + 1;
  if (out) luaL_addchar(pr->b, '[');
  for (int64_t i = 0; i < n; i++) {
    if (cut && i == PRINT_EDGE) {
      if (out) {
        luaL_addstring(pr->b, last ? "..., " : "...,");
        if (!last) {
          for (int k = 0; k < t->ndim - d - 1; k++) luaL_addchar(pr->b, '\n');
          for (int k = 0; k < 7 + d + 1; k++) luaL_addchar(pr->b, ' ');
        }
        col += 5;
      }
      i = n - PRINT_EDGE;
    }
    if (last) {
      if (out && i > 0 && !(cut && i == n - PRINT_EDGE)) {
        luaL_addstring(pr->b, ", ");
        col += 2;
        if (col + pr->width > PRINT_WIDTH) {
          print_indent(pr, d + 1);
          col = 7 + d + 1;
        }
      }
      print_value(pr, p[i * t->stride[d]]);
      col += pr->width;
    } else {
      if (out && i > 0 && !(cut && i == n - PRINT_EDGE)) {
        luaL_addchar(pr->b, ',');
        for (int k = 0; k < t->ndim - d - 2; k++) luaL_addchar(pr->b, '\n');
        print_indent(pr, d + 1);
      }
      print_block(pr, d + 1, p + i * t->stride[d]);
    }
  }
  if (out) luaL_addchar(pr->b, ']');
}

static int m_tostring(lua_State *L) {
  cnn_tensor *t = luaL_checkudata(L, 1, LCNN_TENSOR);
  char shape[160];
  if (!t->storage) {
    lua_pushstring(L, "tensor(<freed>)");
    return 1;
  }
  luaL_Buffer b;
  printer pr = {t, cnn_tensor_numel(t) > PRINT_LIMIT, 0, true, false, 0.0, INFINITY, "%.4f", 0, &b};
  const float *p = cnn_tensor_data(t);
  bool empty = cnn_tensor_numel(t) == 0;
  for (pr.pass = 0; pr.pass < 2 && !empty; pr.pass++) {
    if (t->ndim == 0) print_value(&pr, *p);
    else print_block(&pr, 0, p);
    if (pr.pass == 0) {
      if (pr.integral && pr.maxabs < 1e8) pr.fmt = "%.0f.";
      else if (pr.maxabs >= 1e8 || (pr.minabs < 1e-4) || pr.maxabs / pr.minabs > 1e3) pr.fmt = "%.4e";
    }
  }
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "tensor(");
  if (empty) luaL_addstring(&b, "[]");
  else if (t->ndim == 0) print_value(&pr, *p);
  else print_block(&pr, 0, p);
  luaL_addstring(&b, ", shape=");
  luaL_addstring(&b, lcnn_shapestr(shape, sizeof shape, t));
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

static const luaL_Reg functions[] = {
    {"tensor", t_tensor}, {"zeros", t_zeros},   {"ones", t_ones},   {"full", t_full},
    {"empty", t_empty},   {"arange", t_arange}, {"rand", t_rand},   {"randn", t_randn},
    {"is_tensor", t_is_tensor}, {NULL, NULL}};

static const luaL_Reg methods[] = {
    {"shape", m_shape},
    {"size", m_size},
    {"dim", m_dim},
    {"numel", m_numel},
    {"is_contiguous", m_is_contiguous},
    {"get", m_get},
    {"set", m_set},
    {"item", m_item},
    {"totable", m_totable},
    {"view", m_view},
    {"reshape", m_reshape},
    {"flatten", m_flatten},
    {"transpose", m_transpose},
    {"permute", m_permute},
    {"narrow", m_narrow},
    {"select", m_select},
    {"contiguous", m_contiguous},
    {"clone", m_clone},
    {"fill_", m_fill_},
    {"zero_", m_zero_},
    {"copy_", m_copy_},
    {"free", m_free},
    {NULL, NULL}};

static const luaL_Reg metamethods[] = {
    {"__gc", m_gc}, {"__close", m_free}, {"__tostring", m_tostring}, {"__len", m_len}, {NULL, NULL}};

void lcnn_open_tensor(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  luaL_newmetatable(L, LCNN_TENSOR);
  luaL_setfuncs(L, metamethods, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "cnn.Tensor");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

/* ---- helpers for the kernel bindings ---- */

cnn_tensor *lcnn_contiguous(lua_State *L, int idx) {
  cnn_tensor *t = lcnn_checktensor(L, idx);
  return cnn_tensor_is_contiguous(t) ? t : lcnn_pushcopy(L, t, "contiguous");
}

void lcnn_checkrank(lua_State *L, const cnn_tensor *t, int ndim, const char *what, const char *fname) {
  char buf[160];
  if (t->ndim != ndim)
    lcnn_error(L, fname, "expected a %d-d %s, got shape %s", ndim, what, lcnn_shapestr(buf, sizeof buf, t));
}

/* One entry of a size: a whole number; the range is checked by the kernels' shape checks. */
static int64_t size_value(lua_State *L, int idx, const char *what, const char *fname) {
  int isint;
  lua_Integer v = lua_tointegerx(L, idx, &isint);
  if (!isint) lcnn_error(L, fname, "%s must be an integer or an {h, w} pair of integers, got %s", what,
                         lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
  return (int64_t)v;
}

void lcnn_checkpair(lua_State *L, int idx, int64_t pair[2], const char *what, const char *fname) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TTABLE) {
    if (luaL_len(L, idx) != 2) lcnn_error(L, fname, "%s must be a number or an {h, w} pair", what);
    for (int i = 0; i < 2; i++) {
      lua_geti(L, idx, i + 1);
      pair[i] = size_value(L, -1, what, fname);
      lua_pop(L, 1);
    }
  } else {
    pair[0] = pair[1] = size_value(L, idx, what, fname);
  }
}

void lcnn_readopts(lua_State *L, int idx, const char *const *allowed, lcnn_opts *o, const char *fname) {
  if (lua_isnoneornil(L, idx)) return;
  if (lua_type(L, idx) != LUA_TTABLE)
    lcnn_error(L, fname, "options must be a table, got %s", luaL_typename(L, idx));
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    bool known = false;
    for (const char *const *a = allowed; key && *a && !known; a++) known = strcmp(key, *a) == 0;
    if (!known) {
      if (!key) lcnn_error(L, fname, "option keys must be strings, got %s", luaL_typename(L, -2));
      lcnn_error(L, fname, "unknown option '%s'", key);
    }
    if (strcmp(key, "stride") == 0) {
      lcnn_checkpair(L, -1, o->stride, "stride", fname);
      o->has_stride = true;
    } else if (strcmp(key, "padding") == 0) {
      lcnn_checkpair(L, -1, o->padding, "padding", fname);
    } else if (strcmp(key, "dilation") == 0) {
      lcnn_checkpair(L, -1, o->dilation, "dilation", fname);
    } else if (strcmp(key, "groups") == 0) {
      o->groups = size_value(L, -1, "groups", fname);
    } else if (strcmp(key, "ceil_mode") == 0 || strcmp(key, "count_include_pad") == 0 || strcmp(key, "relu") == 0) {
      if (!lua_isboolean(L, -1)) lcnn_error(L, fname, "option '%s' must be a boolean, got %s", key, luaL_typename(L, -1));
      *(key[0] == 'r' ? &o->relu : key[1] == 'e' ? &o->ceil_mode : &o->count_include_pad) = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
  }
}
