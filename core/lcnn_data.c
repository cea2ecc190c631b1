/*
 * lcnn_data.c: bindings for data and images (used by lua/cnn/data and
 * lua/cnn/image.lua):
 *   cnn.read_idx(path)               -> tensor of the file's shape, as floats
 *   cnn.read_idx(path, {bytes = true}) -> a cnn.bytes block of the elements (unsigned
 *                                    bytes, unconverted) and the shape, as a table
 *   cnn.gather_bytes(b, rowshape, indices [, divisor])
 *                                    -> tensor #indices x rowshape: rows of b (row i:
 *                                       bytes (i-1)*r + 1 .. i*r, r = numel of rowshape)
 *                                       divided by divisor
 *   cnn.read_png(path)               -> C x H x W in [0, 1]
 *   cnn.write_png(path, t)           (t: C x H x W, C in 1..4)
 *   cnn.resize_bilinear(t, h, w)     (t: C x H x W or N x C x H x W)
 *   cnn.random_translate(x, k), cnn.random_hflip(x, p)   (x: N x C x H x W)
 *   cnn.randperm(n [, seed])         -> a random permutation of 1..n
 *   t:index_select(d, indices)       -> the slices of dimension d at 1-based indices
 *   cnn.pad(x, pads, mode), cnn.pad_backward(x, dy, pads, mode)
 *                                    pads: a number or {left, right, top, bottom};
 *                                    mode: "zeros", "reflect", "replicate", "circular"
 *   cnn.unfold(x, k [, opts]) -> N x (C*kh*kw) x L patches, cnn.fold(cols, {h, w}, k [, opts])
 *                                    (PyTorch's F.unfold and F.fold; opts stride, padding, dilation)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elementwise.h"
#include "idx.h"
#include "im2col.h"
#include "image.h"
#include "lcnn.h"
#include "pngio.h"

/* ---- blocks of bytes: a data set kept as its file's bytes ---- */

#define LCNN_BYTES "cnn.bytes"

typedef struct {
  unsigned char *buf; /* malloc'ed, owned; NULL once freed */
  size_t offset, len; /* the elements: buf[offset .. offset + len) */
} byte_block;

static int bytes_gc(lua_State *L) {
  byte_block *b = luaL_checkudata(L, 1, LCNN_BYTES);
  free(b->buf);
  b->buf = NULL;
  return 0;
}

static int bytes_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)((byte_block *)luaL_checkudata(L, 1, LCNN_BYTES))->len);
  return 1;
}

static int bytes_tostring(lua_State *L) {
  lua_pushfstring(L, "cnn.bytes (%I bytes)", (lua_Integer)((byte_block *)luaL_checkudata(L, 1, LCNN_BYTES))->len);
  return 1;
}

static int f_read_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  bool bytes = false;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "bytes"))
        lcnn_error(L, "idx", "unknown option '%s'", luaL_tolstring(L, -2, NULL));
      bytes = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
  }
  cnn_error err;
  if (!bytes) {
    cnn_tensor *t = lcnn_pushhandle(L);
    if (cnn_idx_read(path, t, &err) != CNN_OK) lcnn_error(L, "idx", "%s", err.msg);
    lcnn_account(L, cnn_tensor_numel(t));
    return 1;
  }
  byte_block *b = lua_newuserdatauv(L, sizeof *b, 0);
  *b = (byte_block){NULL, 0, 0};
  luaL_setmetatable(L, LCNN_BYTES);
  int ndim;
  int64_t shape[CNN_MAX_DIMS];
  b->buf = cnn_idx_read_u8(path, &b->offset, &ndim, shape, &err);
  if (!b->buf) lcnn_error(L, "idx", "%s", err.msg);
  b->len = (size_t)cnn_shape_numel(ndim, shape);
  lcnn_account(L, (int64_t)(b->len / sizeof(float)));
  lua_createtable(L, ndim, 0);
  for (int d = 0; d < ndim; d++) {
    lua_pushinteger(L, (lua_Integer)shape[d]);
    lua_rawseti(L, -2, d + 1);
  }
  return 2;
}

static int f_read_png(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cnn_tensor *t = lcnn_pushhandle(L);
  cnn_error err;
  if (cnn_png_read(path, t, &err) != CNN_OK) lcnn_error(L, "image.load", "%s", err.msg);
  lcnn_account(L, cnn_tensor_numel(t));
  return 1;
}

static int f_write_png(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cnn_tensor *t = lcnn_checktensor(L, 2);
  char buf[160];
  if (t->ndim != 3 || t->shape[0] < 1 || t->shape[0] > 4 || t->shape[1] < 1 || t->shape[2] < 1 ||
      t->shape[1] > (1 << 20) || t->shape[2] > (1 << 20))
    lcnn_error(L, "image.save", "expected a C x H x W image with 1 to 4 channels, got shape %s",
               lcnn_shapestr(buf, sizeof buf, t));
  t = lcnn_contiguous(L, 2);
  cnn_error err;
  if (cnn_png_write(path, t, &err) != CNN_OK) lcnn_error(L, "image.save", "%s", err.msg);
  return 0;
}

/* x as N x C x H x W (3-d: N = 1). */
static void image_dims(lua_State *L, const cnn_tensor *x, int64_t d[4], const char *fname) {
  char buf[160];
  if (x->ndim == 3) d[0] = 1, memcpy(d + 1, x->shape, 3 * sizeof d[0]);
  else if (x->ndim == 4) memcpy(d, x->shape, 4 * sizeof d[0]);
  else lcnn_error(L, fname, "expected a C x H x W image or an N x C x H x W batch, got shape %s", lcnn_shapestr(buf, sizeof buf, x));
}

static int f_resize_bilinear(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  int64_t d[4] = {0};
  image_dims(L, x, d, "image.resize");
  lua_Integer h = luaL_checkinteger(L, 2), w = luaL_checkinteger(L, 3);
  if (h < 1 || w < 1 || h > (1 << 20) || w > (1 << 20))
    lcnn_error(L, "image.resize", "size %lldx%lld out of range", (long long)h, (long long)w);
  if (d[2] < 1 || d[3] < 1) lcnn_error(L, "image.resize", "cannot resize an empty image");
  const float *in = cnn_tensor_data(lcnn_contiguous(L, 1));
  int64_t shape[4] = {d[0], d[1], h, w};
  cnn_tensor *out = x->ndim == 4 ? lcnn_newtensor(L, 4, shape, "image.resize") : lcnn_newtensor(L, 3, shape + 1, "image.resize");
  cnn_resize_bilinear(d[0] * d[1], d[2], d[3], h, w, in, cnn_tensor_data(out));
  return 1;
}

static int f_random_translate(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  lcnn_checkrank(L, x, 4, "batch (N x C x H x W)", "random_translate");
  lua_Integer k = luaL_checkinteger(L, 2);
  if (k < 0 || k > 1 << 20) lcnn_error(L, "random_translate", "shift %lld out of range", (long long)k);
  const float *in = cnn_tensor_data(lcnn_contiguous(L, 1));
  cnn_tensor *y = lcnn_newlike(L, x, "random_translate");
  cnn_random_translate(x->shape[0], x->shape[1], x->shape[2], x->shape[3], k, lcnn_rng(L), in, cnn_tensor_data(y));
  return 1;
}

static int f_random_hflip(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  lcnn_checkrank(L, x, 4, "batch (N x C x H x W)", "random_hflip");
  double p = luaL_optnumber(L, 2, 0.5);
  if (!(p >= 0 && p <= 1)) lcnn_error(L, "random_hflip", "probability %g out of range [0, 1]", p);
  const float *in = cnn_tensor_data(lcnn_contiguous(L, 1));
  cnn_tensor *y = lcnn_newlike(L, x, "random_hflip");
  cnn_random_hflip(x->shape[0], x->shape[1], x->shape[2], x->shape[3], p, lcnn_rng(L), in, cnn_tensor_data(y));
  return 1;
}

/* Fisher-Yates with the library's generator, or with a generator of its own
 * seeded by the optional second argument (the library's is then untouched). */
static int f_randperm(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0 || n > (1 << 24)) lcnn_error(L, "randperm", "size %lld out of range 0..2^24", (long long)n);
  cnn_rng own, *rng = lcnn_rng(L);
  if (!lua_isnoneornil(L, 2)) {
    cnn_rng_seed(&own, (uint64_t)luaL_checkinteger(L, 2));
    rng = &own;
  }
  int64_t len = n;
  float *p = cnn_tensor_data(lcnn_newtensor(L, 1, &len, "randperm"));
  for (int64_t i = 0; i < n; i++) p[i] = (float)(i + 1);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)cnn_rng_below(rng, (uint64_t)(i + 1));
    float t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return 1;
}

/* The 1-based indices at arg (a 1-d tensor or a table), each in 1..limit, as
 * 0-based offsets in a block pushed on the stack; *n gets their count. */
static int64_t *read_indices(lua_State *L, int arg, int64_t limit, int64_t *n, const char *what, const char *fname) {
  cnn_tensor *it = lcnn_totensor(L, arg);
  if (it) {
    if (it->ndim != 1) lcnn_error(L, fname, "indices must be a 1-d tensor or a table");
    *n = it->shape[0];
  } else {
    luaL_checktype(L, arg, LUA_TTABLE);
    *n = (int64_t)luaL_len(L, arg);
  }
  int64_t *idx = lua_newuserdatauv(L, (size_t)(*n ? *n : 1) * sizeof *idx, 0);
  for (int64_t i = 0; i < *n; i++) {
    double v;
    if (it) {
      v = cnn_tensor_data(it)[i * it->stride[0]];
    } else {
      lua_geti(L, arg, i + 1);
      v = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    if (!(v >= 1 && v <= (double)limit) || v != (double)(int64_t)v)
      lcnn_error(L, fname, "index %g at position %lld out of range 1..%lld for %s", v, (long long)i + 1,
                 (long long)limit, what);
    idx[i] = (int64_t)v - 1;
  }
  return idx;
}

static int m_index_select(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int d = lcnn_checkdim(L, 2, t->ndim, "index_select");
  int64_t n;
  char what[32];
  snprintf(what, sizeof what, "dimension %d", d + 1);
  int64_t *idx = read_indices(L, 3, t->shape[d], &n, what, "index_select");
  int64_t shape[CNN_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  shape[d] = n;
  cnn_tensor *out = lcnn_newtensor(L, t->ndim, shape, "index_select");
  cnn_index_select(out, t, d, idx, n);
  return 1;
}

/* pads argument: a number for all four sides, or {left, right, top, bottom}. */
static void check_pads(lua_State *L, int idx, int64_t pad[4], const char *fname) {
  if (lua_type(L, idx) == LUA_TTABLE) {
    if (luaL_len(L, idx) != 4) lcnn_error(L, fname, "pads must be a number or {left, right, top, bottom}");
    for (int i = 0; i < 4; i++) {
      lua_geti(L, idx, i + 1);
      int isint;
      pad[i] = lua_tointegerx(L, -1, &isint);
      if (!isint) lcnn_error(L, fname, "pads must be integers");
      lua_pop(L, 1);
    }
  } else {
    pad[0] = pad[1] = pad[2] = pad[3] = luaL_checkinteger(L, idx);
  }
  for (int i = 0; i < 4; i++)
    if (pad[i] < 0 || pad[i] > (1 << 20)) lcnn_error(L, fname, "padding %lld out of range", (long long)pad[i]);
}

static cnn_pad_mode check_mode(lua_State *L, int idx, const int64_t d[4], const int64_t pad[4], const char *fname) {
  static const char *const names[] = {"zeros", "reflect", "replicate", "circular", NULL};
  cnn_pad_mode mode = (cnn_pad_mode)luaL_checkoption(L, idx, "zeros", names);
  int64_t H = d[2], W = d[3];
  if (mode != CNN_PAD_ZEROS && (H < 1 || W < 1)) lcnn_error(L, fname, "cannot %s-pad an empty image", names[mode]);
  if (mode == CNN_PAD_REFLECT && (pad[0] >= W || pad[1] >= W || pad[2] >= H || pad[3] >= H))
    lcnn_error(L, fname, "reflect padding must be smaller than the image (%lldx%lld)", (long long)H, (long long)W);
  if (mode == CNN_PAD_CIRCULAR && (pad[0] > W || pad[1] > W || pad[2] > H || pad[3] > H))
    lcnn_error(L, fname, "circular padding must be at most the image size (%lldx%lld)", (long long)H, (long long)W);
  return mode;
}

static cnn_tensor *padded_like(lua_State *L, const cnn_tensor *x, const int64_t d[4], const int64_t pad[4],
                               const char *fname) {
  int64_t shape[4] = {d[0], d[1], d[2] + pad[2] + pad[3], d[3] + pad[0] + pad[1]};
  return x->ndim == 4 ? lcnn_newtensor(L, 4, shape, fname) : lcnn_newtensor(L, 3, shape + 1, fname);
}

static int f_pad(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  int64_t d[4] = {0}, pad[4];
  image_dims(L, x, d, "pad");
  check_pads(L, 2, pad, "pad");
  cnn_pad_mode mode = check_mode(L, 3, d, pad, "pad");
  const float *in = cnn_tensor_data(lcnn_contiguous(L, 1));
  cnn_tensor *y = padded_like(L, x, d, pad, "pad");
  cnn_pad2d_forward(d[0] * d[1], d[2], d[3], pad, mode, in, cnn_tensor_data(y));
  return 1;
}

static int f_pad_backward(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1), *dy = lcnn_checktensor(L, 2);
  int64_t d[4] = {0}, pad[4], e[4] = {0};
  image_dims(L, x, d, "pad_backward");
  check_pads(L, 3, pad, "pad_backward");
  cnn_pad_mode mode = check_mode(L, 4, d, pad, "pad_backward");
  image_dims(L, dy, e, "pad_backward");
  if (dy->ndim != x->ndim || e[0] != d[0] || e[1] != d[1] || e[2] != d[2] + pad[2] + pad[3] ||
      e[3] != d[3] + pad[0] + pad[1])
    lcnn_error(L, "pad_backward", "grad_output does not have the padded input's shape");
  const float *g = cnn_tensor_data(lcnn_contiguous(L, 2));
  cnn_tensor *dx = lcnn_newlike(L, x, "pad_backward");
  cnn_pad2d_backward(d[0] * d[1], d[2], d[3], pad, mode, g, cnn_tensor_data(dx));
  return 1;
}

/* The patch geometry of unfold/fold for an image of C x H x W, checked. */
static cnn_patch_geom patches(lua_State *L, int64_t C, int64_t H, int64_t W, int k_idx, int opts_idx, const char *fname) {
  static const char *const keys[] = {"stride", "padding", "dilation", NULL};
  int64_t k[2];
  lcnn_checkpair(L, k_idx, k, "kernel size", fname);
  lcnn_opts o = {{1, 1}, {0, 0}, {1, 1}, 1, false, true, false, false};
  lcnn_readopts(L, opts_idx, keys, &o, fname);
  for (int i = 0; i < 2; i++)
    if (k[i] < 1 || o.stride[i] < 1 || o.dilation[i] < 1 || o.padding[i] < 0)
      lcnn_error(L, fname, "kernel size, stride and dilation must be positive, padding non-negative");
  int64_t eh = o.dilation[0] * (k[0] - 1) + 1, ew = o.dilation[1] * (k[1] - 1) + 1;
  if (eh > H + 2 * o.padding[0] || ew > W + 2 * o.padding[1])
    lcnn_error(L, fname, "kernel %lldx%lld is larger than the padded input %lldx%lld", (long long)k[0], (long long)k[1],
               (long long)(H + 2 * o.padding[0]), (long long)(W + 2 * o.padding[1]));
  return (cnn_patch_geom){C, H, W, k[0], k[1], (H + 2 * o.padding[0] - eh) / o.stride[0] + 1,
                          (W + 2 * o.padding[1] - ew) / o.stride[1] + 1, o.stride[0], o.stride[1],
                          o.padding[0], o.padding[1], o.dilation[0], o.dilation[1]};
}

static int f_unfold(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  lcnn_checkrank(L, x, 4, "input (N x C x H x W)", "unfold");
  cnn_patch_geom g = patches(L, x->shape[1], x->shape[2], x->shape[3], 2, 3, "unfold");
  const float *in = cnn_tensor_data(lcnn_contiguous(L, 1));
  int64_t N = x->shape[0], rows = g.C * g.R * g.S, cols = g.P * g.Q;
  int64_t shape[3] = {N, rows, cols};
  float *out = cnn_tensor_data(lcnn_newtensor(L, 3, shape, "unfold"));
  for (int64_t n = 0; n < N; n++) cnn_im2col(&g, in + n * g.C * g.H * g.W, out + n * rows * cols);
  return 1;
}

/* fold(cols, {h, w}, k [, opts]): the adjoint of unfold, adding overlapping patches. */
static int f_fold(lua_State *L) {
  cnn_tensor *c = lcnn_checktensor(L, 1);
  lcnn_checkrank(L, c, 3, "input (N x C*kh*kw x L)", "fold");
  int64_t hw[2], k[2];
  lcnn_checkpair(L, 2, hw, "output size", "fold");
  lcnn_checkpair(L, 3, k, "kernel size", "fold");
  if (hw[0] < 1 || hw[1] < 1 || k[0] < 1 || k[1] < 1) lcnn_error(L, "fold", "sizes must be positive");
  if (c->shape[1] % (k[0] * k[1]))
    lcnn_error(L, "fold", "%lld rows are not divisible by the kernel's %lld taps", (long long)c->shape[1],
               (long long)(k[0] * k[1]));
  int64_t C = c->shape[1] / (k[0] * k[1]);
  cnn_patch_geom g = patches(L, C, hw[0], hw[1], 3, 4, "fold");
  if (g.P * g.Q != c->shape[2])
    lcnn_error(L, "fold", "input has %lld columns, the geometry gives %lld", (long long)c->shape[2],
               (long long)(g.P * g.Q));
  const float *in = cnn_tensor_data(lcnn_contiguous(L, 1));
  int64_t N = c->shape[0], shape[4] = {N, C, hw[0], hw[1]};
  cnn_tensor *out = lcnn_newtensor(L, 4, shape, "fold");
  cnn_fill(out, 0.0f);
  for (int64_t n = 0; n < N; n++)
    cnn_col2im(&g, in + n * c->shape[1] * c->shape[2], cnn_tensor_data(out) + n * C * hw[0] * hw[1]);
  return 1;
}

static int f_gather_bytes(lua_State *L) {
  byte_block *b = luaL_checkudata(L, 1, LCNN_BYTES);
  int64_t rows_shape[CNN_MAX_DIMS], shape[CNN_MAX_DIMS];
  luaL_checktype(L, 2, LUA_TTABLE);
  int rdim = lcnn_checkshape(L, 2, rows_shape, false, "gather_bytes");
  if (rdim + 1 > CNN_MAX_DIMS)
    lcnn_error(L, "gather_bytes", "rows of %d dimensions (at most %d)", rdim, CNN_MAX_DIMS - 1);
  memcpy(shape + 1, rows_shape, (size_t)rdim * sizeof shape[0]);
  int64_t row = cnn_shape_numel(rdim, rows_shape);
  if (row < 1) lcnn_error(L, "gather_bytes", "rows must not be empty");
  float divisor = (float)luaL_optnumber(L, 4, 1.0);
  if (!(divisor != 0.0f) || !isfinite(divisor))
    lcnn_error(L, "gather_bytes", "divisor %g is not a finite non-zero number", (double)divisor);
  int64_t n;
  int64_t *idx = read_indices(L, 3, (int64_t)(b->len / (size_t)row), &n, "the rows of the block", "gather_bytes");
  shape[0] = n;
  cnn_tensor *t = lcnn_newtensor(L, rdim + 1, shape, "gather_bytes");
  float *out = cnn_tensor_data(t);
  const unsigned char *src = b->buf + b->offset;
  for (int64_t i = 0; i < n; i++)
    for (int64_t e = 0; e < row; e++) out[i * row + e] = (float)src[idx[i] * row + e] / divisor;
  return 1;
}

static const luaL_Reg functions[] = {{"read_idx", f_read_idx},
                                     {"gather_bytes", f_gather_bytes},
                                     {"pad", f_pad},
                                     {"pad_backward", f_pad_backward},
                                     {"unfold", f_unfold},
                                     {"fold", f_fold},
                                     {"read_png", f_read_png},
                                     {"write_png", f_write_png},
                                     {"resize_bilinear", f_resize_bilinear},
                                     {"random_translate", f_random_translate},
                                     {"random_hflip", f_random_hflip},
                                     {"randperm", f_randperm},
                                     {NULL, NULL}};

void lcnn_open_data(lua_State *L) {
  luaL_newmetatable(L, LCNN_BYTES);
  lua_pushcfunction(L, bytes_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, bytes_len);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, bytes_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_setfuncs(L, functions, 0);
  luaL_getmetatable(L, LCNN_TENSOR);
  lua_getfield(L, -1, "__index");
  lua_pushcfunction(L, m_index_select);
  lua_setfield(L, -2, "index_select");
  lua_pop(L, 2);
}
