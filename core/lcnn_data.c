/*
 * lcnn_data.c: bindings for data and images (used by lua/cnn/data and
 * lua/cnn/image.lua):
 *   cnn.read_idx(path)               -> tensor of the file's shape, as floats
 *   cnn.read_png(path)               -> C x H x W in [0, 1]
 *   cnn.write_png(path, t)           (t: C x H x W, C in 1..4)
 *   cnn.resize_bilinear(t, h, w)     (t: C x H x W or N x C x H x W)
 *   cnn.random_translate(x, k), cnn.random_hflip(x, p)   (x: N x C x H x W)
 *   cnn.randperm(n)                  -> a random permutation of 1..n
 *   t:index_select(d, indices)       -> the slices of dimension d at 1-based indices
 */
#include <string.h>

#include "elementwise.h"
#include "idx.h"
#include "image.h"
#include "lcnn.h"
#include "pngio.h"

/* Pushes an empty tensor handle for a reader to fill. */
static cnn_tensor *push_empty(lua_State *L) {
  int64_t zero = 0;
  cnn_tensor *t = lcnn_newtensor(L, 1, &zero, "read");
  cnn_tensor_release(t);
  return t;
}

/* A reader filled t: tell the collector about the bytes, as lcnn_newtensor does. */
static void account_read(lua_State *L, const cnn_tensor *t) {
  int64_t kb = cnn_tensor_numel(t) / 256;
  if (kb > 0 && lua_gc(L, LUA_GCISRUNNING)) lua_gc(L, LUA_GCSTEP, (int)(kb > 1 << 30 ? 1 << 30 : kb));
}

static int f_read_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cnn_tensor *t = push_empty(L);
  cnn_error err;
  if (cnn_idx_read(path, t, &err) != CNN_OK) lcnn_error(L, "idx", "%s", err.msg);
  account_read(L, t);
  return 1;
}

static int f_read_png(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cnn_tensor *t = push_empty(L);
  cnn_error err;
  if (cnn_png_read(path, t, &err) != CNN_OK) lcnn_error(L, "image.load", "%s", err.msg);
  account_read(L, t);
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

/* Fisher-Yates with the library's generator. */
static int f_randperm(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0 || n > (1 << 24)) lcnn_error(L, "randperm", "size %lld out of range 0..2^24", (long long)n);
  int64_t len = n;
  float *p = cnn_tensor_data(lcnn_newtensor(L, 1, &len, "randperm"));
  cnn_rng *rng = lcnn_rng(L);
  for (int64_t i = 0; i < n; i++) p[i] = (float)(i + 1);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)cnn_rng_below(rng, (uint64_t)(i + 1));
    float t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return 1;
}

static int m_index_select(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  int d = lcnn_checkdim(L, 2, t->ndim, "index_select");
  int64_t n;
  cnn_tensor *it = lcnn_totensor(L, 3);
  if (it) {
    it = lcnn_checktensor(L, 3);
    if (it->ndim != 1) lcnn_error(L, "index_select", "indices must be a 1-d tensor or a table");
    n = it->shape[0];
  } else {
    luaL_checktype(L, 3, LUA_TTABLE);
    n = (int64_t)luaL_len(L, 3);
  }
  int64_t *idx = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *idx, 0);
  for (int64_t i = 0; i < n; i++) {
    double v;
    if (it) {
      v = cnn_tensor_data(it)[i * it->stride[0]];
    } else {
      lua_geti(L, 3, i + 1);
      v = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    if (!(v >= 1 && v <= (double)t->shape[d]) || v != (double)(int64_t)v)
      lcnn_error(L, "index_select", "index %g at position %lld out of range 1..%lld for dimension %d", v,
                 (long long)i + 1, (long long)t->shape[d], d + 1);
    idx[i] = (int64_t)v - 1;
  }
  int64_t shape[CNN_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  shape[d] = n;
  cnn_tensor *out = lcnn_newtensor(L, t->ndim, shape, "index_select");
  cnn_index_select(out, t, d, idx, n);
  return 1;
}

static const luaL_Reg functions[] = {{"read_idx", f_read_idx},
                                     {"read_png", f_read_png},
                                     {"write_png", f_write_png},
                                     {"resize_bilinear", f_resize_bilinear},
                                     {"random_translate", f_random_translate},
                                     {"random_hflip", f_random_hflip},
                                     {"randperm", f_randperm},
                                     {NULL, NULL}};

void lcnn_open_data(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  luaL_getmetatable(L, LCNN_TENSOR);
  lua_getfield(L, -1, "__index");
  lua_pushcfunction(L, m_index_select);
  lua_setfield(L, -2, "index_select");
  lua_pop(L, 2);
}
