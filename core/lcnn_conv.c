/*
 * lcnn_conv.c: bindings of the convolution and pooling kernels:
 *   cnn.conv2d(x, w [, b] [, opts])            cnn.conv2d_backward(x, w, dy [, opts, dw, db, need_dx])
 *   cnn.conv2d_reference(...), cnn.conv2d_reference_backward(...): the naive twins
 *   cnn.max_pool2d(x, k [, opts]) -> y, idx    cnn.max_pool2d_backward(x, idx, dy, k [, opts])
 *   cnn.avg_pool2d(x, k [, opts])              cnn.avg_pool2d_backward(x, dy, k [, opts])
 *   cnn.adaptive_avg_pool2d(x, out_hw)         cnn.adaptive_avg_pool2d_backward(x, dy)
 *   cnn.locally_connected2d(x, w, b, k [, opts])
 *   cnn.locally_connected2d_backward(x, w, dy, k [, opts, dw, db, need_dx])
 *       w: (P*Q) x out x (in*kh*kw), b: out x P x Q (or nil); opts stride, padding, dilation
 * Images are N x C x H x W, or C x H x W for a single image (then the
 * results have no batch dimension either).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "activation.h"
#include "conv.h"
#include "lcnn.h"
#include "local.h"
#include "pool.h"

/* The 4-d shape of an image batch argument (3-d means a batch of one). */
static void image_shape(lua_State *L, const cnn_tensor *x, int64_t shape[4], const char *fname) {
  char buf[160];
  if (x->ndim == 4) {
    memcpy(shape, x->shape, 4 * sizeof shape[0]);
  } else if (x->ndim == 3) {
    shape[0] = 1;
    memcpy(shape + 1, x->shape, 3 * sizeof shape[0]);
  } else {
    lcnn_error(L, fname, "expected a 4-d input (N x C x H x W) or a 3-d one (C x H x W), got shape %s",
               lcnn_shapestr(buf, sizeof buf, x));
  }
}

/* Pushes a result of 4-d shape {N, C, P, Q}, without N if the input x had
 * none: new, or the tensor at into_idx when it fits (lcnn_into; 0: none). */
static cnn_tensor *new_image(lua_State *L, int into_idx, const cnn_tensor *x, int64_t N, int64_t C, int64_t P,
                             int64_t Q, const char *fname) {
  int64_t shape[4] = {N, C, P, Q};
  int ndim = x->ndim == 4 ? 4 : 3;
  const int64_t *s = ndim == 4 ? shape : shape + 1;
  return into_idx ? lcnn_into(L, into_idx, ndim, s, fname) : lcnn_newtensor(L, ndim, s, fname);
}

/* Raises unless t has exactly the given shape. */
static void check_shape(lua_State *L, const cnn_tensor *t, int ndim, const int64_t *shape, const char *what,
                        const char *fname) {
  char a[160], b[160];
  if (t->ndim != ndim || memcmp(t->shape, shape, (size_t)ndim * sizeof shape[0]))
    lcnn_error(L, fname, "%s has shape %s, expected %s", what, lcnn_shapestr(a, sizeof a, t),
               cnn_shape_format(b, sizeof b, ndim, shape));
}

/* A gradient buffer that a kernel accumulates into: contiguous, of the parameter's shape. */
static float *grad_buffer(lua_State *L, int idx, const cnn_tensor *param, const char *what, const char *fname) {
  if (lua_isnoneornil(L, idx)) return NULL;
  cnn_tensor *g = lcnn_checktensor(L, idx);
  check_shape(L, g, param->ndim, param->shape, what, fname);
  if (!cnn_tensor_is_contiguous(g)) lcnn_error(L, fname, "%s must be contiguous", what);
  return cnn_tensor_data(g);
}

/* ---- convolution ---- */

static const char *const conv_keys[] = {"stride", "padding", "dilation", "groups", NULL};
static const char *const forward_keys[] = {"stride", "padding", "dilation", "groups", "relu", NULL};

typedef struct {
  cnn_tensor *x, *w, *b; /* contiguous */
  cnn_conv2d_geom g;
  bool relu;
} conv_call;

/* Reads x, w, b (b_idx 0: none) and the options (a forward pass's may ask
 * for relu), and checks them together. */
static conv_call conv_setup(lua_State *L, int b_idx, int opts_idx, bool forward, const char *fname) {
  conv_call c = {0};
  cnn_tensor *x = lcnn_checktensor(L, 1), *w = lcnn_checktensor(L, 2), *b = b_idx ? lcnn_checktensor(L, b_idx) : NULL;
  int64_t xs[4];
  image_shape(L, x, xs, fname);
  lcnn_checkrank(L, w, 4, "weight (out x in/groups x kh x kw)", fname);
  if (b) lcnn_checkrank(L, b, 1, "bias", fname);
  lcnn_opts o = {{1, 1}, {0, 0}, {1, 1}, 1, false, true, false, false};
  lcnn_readopts(L, opts_idx, forward ? forward_keys : conv_keys, &o, fname);
  cnn_error err;
  if (cnn_conv2d_geom_init(&c.g, xs, w->shape, b ? b->shape[0] : 0, b != NULL, o.stride, o.padding, o.dilation,
                           o.groups, &err) != CNN_OK)
    lcnn_error(L, fname, "%s", err.msg);
  c.relu = o.relu;
  c.x = lcnn_contiguous(L, 1);
  c.w = lcnn_contiguous(L, 2);
  c.b = b ? lcnn_contiguous(L, b_idx) : NULL;
  return c;
}

/* The state's scratch space for the kernels, kept in the registry and grown
 * as needed, so that steady-state calls neither allocate nor fault pages in.
 * A plain block outside the tensor storage cache: a smaller one is freed the
 * moment it is outgrown, rather than held until a collection. */
typedef struct {
  float *data;
  int64_t n;
} scratch;

static int scratch_gc(lua_State *L) {
  scratch *s = lua_touserdata(L, 1);
  free(s->data);
  s->data = NULL;
  s->n = 0;
  return 0;
}

#define SCRATCH_HUGE ((int64_t)1 << 19) /* floats from which a block is 2 MiB aligned, for huge pages */

static float *workspace(lua_State *L, int64_t n, const char *fname) {
  if (n <= 0) return NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, "cnn.workspace");
  scratch *s = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!s) {
    s = lua_newuserdatauv(L, sizeof *s, 0);
    *s = (scratch){NULL, 0};
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "cnn.workspace"); /* the registry keeps it alive */
  }
  if (s->n < n) {
    free(s->data);
    s->data = NULL;
    s->n = 0;
    size_t align = n >= SCRATCH_HUGE ? (size_t)2 << 20 : 64, bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
    void *data;
    if ((uint64_t)n > SIZE_MAX / 8 || posix_memalign(&data, align, bytes) != 0)
      lcnn_error(L, fname, "out of memory (a workspace of %lld floats)", (long long)n);
    if (align > 64) madvise(data, bytes, MADV_HUGEPAGE);
    s->data = data;
    s->n = (int64_t)(bytes / sizeof(float));
  }
  return s->data;
}

static int packs_gc(lua_State *L) {
  cnn_packs **box = lua_touserdata(L, 1);
  cnn_packs_free(*box);
  *box = NULL;
  return 0;
}

/* The state's cache of transformed weights (conv_packs.h), kept in the
 * registry and freed with the state; NULL if it could not be made. */
static cnn_packs *packs(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "cnn.packs");
  cnn_packs **box = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (box) return *box;
  box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, packs_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  *box = cnn_packs_new();
  lua_setfield(L, LUA_REGISTRYINDEX, "cnn.packs");
  return *box;
}

static int conv_forward(lua_State *L, bool naive, const char *fname) {
  lua_settop(L, 5); /* contiguous copies go above into */
  int b_idx = 0, opts_idx = 3;
  if (lcnn_totensor(L, 3)) b_idx = 3, opts_idx = 4;
  else if (lua_isnil(L, 3)) opts_idx = 4;
  conv_call c = conv_setup(L, b_idx, opts_idx, true, fname);
  float *col = naive ? NULL : workspace(L, cnn_conv2d_workspace_size(&c.g), fname);
  float *out = cnn_tensor_data(new_image(L, 5, c.x, c.g.N, c.g.K, c.g.P, c.g.Q, fname));
  const float *bias = c.b ? cnn_tensor_data(c.b) : NULL;
  if (naive) cnn_conv2d_forward_naive(&c.g, cnn_tensor_data(c.x), cnn_tensor_data(c.w), bias, out);
  else cnn_conv2d_forward(&c.g, cnn_tensor_data(c.x), cnn_tensor_data(c.w), bias, out, col, packs(L), c.relu);
  if (naive && c.relu) cnn_relu_inplace(c.g.N * c.g.K * c.g.P * c.g.Q, out);
  return 1;
}

/* (x, w, dy [, opts, dw, db, need_dx, into]): accumulates into dw and db when
 * given, returns dx (nil when need_dx is false; into it when it fits). */
static int conv_backward(lua_State *L, bool naive, const char *fname) {
  lua_settop(L, 8);
  bool need_dx = lua_isnil(L, 7) || lua_toboolean(L, 7);
  conv_call c = conv_setup(L, 0, 4, false, fname);
  cnn_tensor *dy_arg = lcnn_checktensor(L, 3);
  int64_t ys[4] = {c.g.N, c.g.K, c.g.P, c.g.Q};
  if (c.x->ndim == 3) check_shape(L, dy_arg, 3, ys + 1, "grad_output", fname);
  else check_shape(L, dy_arg, 4, ys, "grad_output", fname);
  const float *dy = cnn_tensor_data(lcnn_contiguous(L, 3));
  float *dw = grad_buffer(L, 5, c.w, "grad_weight", fname);
  float *db = NULL;
  if (!lua_isnil(L, 6)) {
    cnn_tensor *gb = lcnn_checktensor(L, 6);
    int64_t K = c.g.K;
    check_shape(L, gb, 1, &K, "grad_bias", fname);
    db = cnn_tensor_data(gb);
  }
  float *col = naive ? NULL : workspace(L, cnn_conv2d_workspace_size(&c.g), fname);
  if (dw || db) {
    if (naive) cnn_conv2d_backward_params_naive(&c.g, cnn_tensor_data(c.x), dy, dw, db);
    else cnn_conv2d_backward_params(&c.g, cnn_tensor_data(c.x), dy, dw, db, col);
  }
  if (!need_dx) {
    lua_pushnil(L);
    return 1;
  }
  float *dx = cnn_tensor_data(lcnn_into(L, 8, c.x->ndim, c.x->shape, fname));
  if (naive) cnn_conv2d_backward_input_naive(&c.g, dy, cnn_tensor_data(c.w), dx);
  else cnn_conv2d_backward_input(&c.g, dy, cnn_tensor_data(c.w), dx, col);
  return 1;
}

static int f_conv2d(lua_State *L) { return conv_forward(L, false, "conv2d"); }
static int f_conv2d_backward(lua_State *L) { return conv_backward(L, false, "conv2d_backward"); }
static int f_conv2d_reference(lua_State *L) { return conv_forward(L, true, "conv2d_reference"); }
static int f_conv2d_reference_backward(lua_State *L) { return conv_backward(L, true, "conv2d_reference_backward"); }

/* ---- pooling ---- */

static const char *const max_keys[] = {"stride", "padding", "dilation", "ceil_mode", NULL};
static const char *const avg_keys[] = {"stride", "padding", "ceil_mode", "count_include_pad", NULL};

/* Reads x (argument 1), the kernel size at k_idx and the options, and checks them together. */
static cnn_pool2d_geom pool_setup(lua_State *L, int k_idx, int opts_idx, bool is_max, const char *fname) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  int64_t xs[4], k[2];
  image_shape(L, x, xs, fname);
  lcnn_checkpair(L, k_idx, k, "kernel size", fname);
  lcnn_opts o = {{1, 1}, {0, 0}, {1, 1}, 1, false, true, false, false};
  lcnn_readopts(L, opts_idx, is_max ? max_keys : avg_keys, &o, fname);
  if (!o.has_stride) memcpy(o.stride, k, sizeof k);
  cnn_pool2d_geom g;
  cnn_error err;
  if (cnn_pool2d_geom_init(&g, xs, k, o.stride, o.padding, o.dilation, o.ceil_mode, o.count_include_pad, &err) !=
      CNN_OK)
    lcnn_error(L, fname, "%s", err.msg);
  if (is_max && g.H * g.W > (1 << 24))
    lcnn_error(L, fname, "input planes of %lldx%lld are too large (at most 2^24 pixels)", (long long)g.H,
               (long long)g.W);
  return g;
}

/* Checks that argument idx is a gradient (or index tensor) of the pooled shape. */
static const float *pooled_arg(lua_State *L, int idx, const cnn_pool2d_geom *g, const char *what, const char *fname) {
  cnn_tensor *x = lcnn_checktensor(L, 1), *t = lcnn_checktensor(L, idx);
  int64_t ys[4] = {g->N, g->C, g->P, g->Q};
  if (x->ndim == 3) check_shape(L, t, 3, ys + 1, what, fname);
  else check_shape(L, t, 4, ys, what, fname);
  return cnn_tensor_data(lcnn_contiguous(L, idx));
}

/* into_idx false: no indices (backward then finds the maxima again in x). */
static int f_max_pool2d(lua_State *L) {
  lua_settop(L, 5);
  cnn_pool2d_geom g = pool_setup(L, 2, 3, true, "max_pool2d");
  const float *x = cnn_tensor_data(lcnn_contiguous(L, 1));
  cnn_tensor *xt = lcnn_checktensor(L, 1);
  float *y = cnn_tensor_data(new_image(L, 4, xt, g.N, g.C, g.P, g.Q, "max_pool2d"));
  bool indices = !(lua_isboolean(L, 5) && !lua_toboolean(L, 5));
  float *idx = indices ? cnn_tensor_data(new_image(L, 5, xt, g.N, g.C, g.P, g.Q, "max_pool2d")) : NULL;
  cnn_max_pool2d_forward(&g, x, y, idx);
  return indices ? 2 : 1;
}

/* idx nil: the maxima are found again in x. */
static int f_max_pool2d_backward(lua_State *L) {
  lua_settop(L, 6);
  cnn_pool2d_geom g = pool_setup(L, 4, 5, true, "max_pool2d_backward");
  const float *idx = lua_isnil(L, 2) ? NULL : pooled_arg(L, 2, &g, "indices", "max_pool2d_backward");
  const float *dy = pooled_arg(L, 3, &g, "grad_output", "max_pool2d_backward");
  const cnn_tensor *x = lcnn_checktensor(L, 1);
  float *dx = cnn_tensor_data(lcnn_into(L, 6, x->ndim, x->shape, "max_pool2d_backward"));
  if (!idx)
    cnn_max_pool2d_backward_from_input(&g, cnn_tensor_data(lcnn_contiguous(L, 1)), dy, dx);
  else if (!cnn_max_pool2d_backward(&g, dy, idx, dx))
    lcnn_error(L, "max_pool2d_backward", "indices hold a position outside the input plane of %lld x %lld",
               (long long)g.H, (long long)g.W);
  return 1;
}

static int f_avg_pool2d(lua_State *L) {
  cnn_pool2d_geom g = pool_setup(L, 2, 3, false, "avg_pool2d");
  const float *x = cnn_tensor_data(lcnn_contiguous(L, 1));
  float *y = cnn_tensor_data(new_image(L, 0, lcnn_checktensor(L, 1), g.N, g.C, g.P, g.Q, "avg_pool2d"));
  cnn_avg_pool2d_forward(&g, x, y);
  return 1;
}

static int f_avg_pool2d_backward(lua_State *L) {
  cnn_pool2d_geom g = pool_setup(L, 3, 4, false, "avg_pool2d_backward");
  const float *dy = pooled_arg(L, 2, &g, "grad_output", "avg_pool2d_backward");
  float *dx = cnn_tensor_data(lcnn_newlike(L, lcnn_checktensor(L, 1), "avg_pool2d_backward"));
  cnn_avg_pool2d_backward(&g, dy, dx);
  return 1;
}

static int f_adaptive_avg_pool2d(lua_State *L) {
  const char *fname = "adaptive_avg_pool2d";
  cnn_tensor *x = lcnn_checktensor(L, 1);
  int64_t xs[4] = {0}, o[2];
  image_shape(L, x, xs, fname);
  lcnn_checkpair(L, 2, o, "output size", fname);
  if (o[0] < 1 || o[1] < 1) lcnn_error(L, fname, "output size must be positive, got %lldx%lld", (long long)o[0], (long long)o[1]);
  if (xs[2] < 1 || xs[3] < 1) lcnn_error(L, fname, "input has an empty plane (%lldx%lld)", (long long)xs[2], (long long)xs[3]);
  const float *xd = cnn_tensor_data(lcnn_contiguous(L, 1));
  float *y = cnn_tensor_data(new_image(L, 0, x, xs[0], xs[1], o[0], o[1], fname));
  cnn_adaptive_avg_pool2d_forward(xs[0] * xs[1], xs[2], xs[3], o[0], o[1], xd, y);
  return 1;
}

/* (x, dy): the output size is dy's. */
static int f_adaptive_avg_pool2d_backward(lua_State *L) {
  const char *fname = "adaptive_avg_pool2d_backward";
  cnn_tensor *x = lcnn_checktensor(L, 1), *dyt = lcnn_checktensor(L, 2);
  int64_t xs[4] = {0}, ys[4] = {0};
  image_shape(L, x, xs, fname);
  lcnn_checkrank(L, dyt, x->ndim, "grad_output", fname);
  image_shape(L, dyt, ys, fname);
  if (ys[0] != xs[0] || ys[1] != xs[1] || ys[2] < 1 || ys[3] < 1)
    lcnn_error(L, fname, "grad_output of %lld x %lld planes does not match the input's %lld x %lld",
               (long long)ys[0], (long long)ys[1], (long long)xs[0], (long long)xs[1]);
  const float *dy = cnn_tensor_data(lcnn_contiguous(L, 2));
  float *dx = cnn_tensor_data(lcnn_newlike(L, x, fname));
  cnn_adaptive_avg_pool2d_backward(xs[0] * xs[1], xs[2], xs[3], ys[2], ys[3], dy, dx);
  return 1;
}

/* ---- locally connected ---- */

static const char *const local_keys[] = {"stride", "padding", "dilation", NULL};

/* Checks x (argument 1, N x C x H x W), w (2), b (b_idx, or 0), k and opts together. */
static cnn_patch_geom local_setup(lua_State *L, int b_idx, int k_idx, int opts_idx, int64_t *K, const char *fname) {
  cnn_tensor *x = lcnn_checktensor(L, 1), *w = lcnn_checktensor(L, 2);
  lcnn_checkrank(L, x, 4, "input (N x C x H x W)", fname);
  lcnn_checkrank(L, w, 3, "weight (positions x out x in*kh*kw)", fname);
  int64_t k[2];
  lcnn_checkpair(L, k_idx, k, "kernel size", fname);
  lcnn_opts o = {{1, 1}, {0, 0}, {1, 1}, 1, false, true, false, false};
  lcnn_readopts(L, opts_idx, local_keys, &o, fname);
  int64_t w_shape[4] = {w->shape[1], x->shape[1], k[0], k[1]};
  cnn_conv2d_geom cg;
  cnn_error err;
  if (cnn_conv2d_geom_init(&cg, x->shape, w_shape, 0, false, o.stride, o.padding, o.dilation, 1, &err) != CNN_OK)
    lcnn_error(L, fname, "%s", err.msg);
  int64_t CRS = x->shape[1] * k[0] * k[1], PQ = cg.P * cg.Q;
  if (w->shape[0] != PQ || w->shape[2] != CRS)
    lcnn_error(L, fname, "weight has shape (%lld, %lld, %lld), the input and kernel need (%lld, %lld, %lld)",
               (long long)w->shape[0], (long long)w->shape[1], (long long)w->shape[2], (long long)PQ,
               (long long)w->shape[1], (long long)CRS);
  if (b_idx && !lua_isnil(L, b_idx)) {
    cnn_tensor *b = lcnn_checktensor(L, b_idx);
    if (cnn_tensor_numel(b) != w->shape[1] * PQ)
      lcnn_error(L, fname, "bias has %lld elements, expected %lld (out x P x Q)", (long long)cnn_tensor_numel(b),
                 (long long)(w->shape[1] * PQ));
  }
  *K = w->shape[1];
  return (cnn_patch_geom){x->shape[1], x->shape[2], x->shape[3], k[0], k[1], cg.P, cg.Q, o.stride[0], o.stride[1],
                          o.padding[0], o.padding[1], o.dilation[0], o.dilation[1]};
}

static int f_locally_connected2d(lua_State *L) {
  const char *fname = "locally_connected2d";
  int64_t K;
  cnn_patch_geom g = local_setup(L, 3, 4, 5, &K, fname);
  int64_t N = lcnn_checktensor(L, 1)->shape[0];
  const float *x = cnn_tensor_data(lcnn_contiguous(L, 1)), *w = cnn_tensor_data(lcnn_contiguous(L, 2));
  const float *b = lua_isnil(L, 3) ? NULL : cnn_tensor_data(lcnn_contiguous(L, 3));
  float *work = workspace(L, cnn_local2d_workspace_size(&g, N, K), fname);
  int64_t shape[4] = {N, K, g.P, g.Q};
  float *y = cnn_tensor_data(lcnn_newtensor(L, 4, shape, fname));
  cnn_local2d_forward(&g, N, K, x, w, b, y, work);
  return 1;
}

/* (x, w, dy, k [, opts, dw, db, need_dx]) */
static int f_locally_connected2d_backward(lua_State *L) {
  const char *fname = "locally_connected2d_backward";
  lua_settop(L, 8);
  int64_t K;
  cnn_patch_geom g = local_setup(L, 0, 4, 5, &K, fname);
  cnn_tensor *xt = lcnn_checktensor(L, 1), *wt = lcnn_checktensor(L, 2);
  int64_t N = xt->shape[0], ys[4] = {N, K, g.P, g.Q};
  check_shape(L, lcnn_checktensor(L, 3), 4, ys, "grad_output", fname);
  const float *x = cnn_tensor_data(lcnn_contiguous(L, 1)), *w = cnn_tensor_data(lcnn_contiguous(L, 2));
  const float *dy = cnn_tensor_data(lcnn_contiguous(L, 3));
  float *dw = grad_buffer(L, 6, wt, "grad_weight", fname), *db = NULL;
  if (!lua_isnil(L, 7)) {
    cnn_tensor *gb = lcnn_checktensor(L, 7);
    if (cnn_tensor_numel(gb) != K * g.P * g.Q || !cnn_tensor_is_contiguous(gb))
      lcnn_error(L, fname, "grad_bias must be a contiguous tensor of %lld elements", (long long)(K * g.P * g.Q));
    db = cnn_tensor_data(gb);
  }
  float *work = workspace(L, cnn_local2d_workspace_size(&g, N, K), fname);
  if (dw || db) cnn_local2d_backward_params(&g, N, K, x, dy, dw, db, work);
  if (!lua_isnil(L, 8) && !lua_toboolean(L, 8)) {
    lua_pushnil(L);
    return 1;
  }
  float *dx = cnn_tensor_data(lcnn_newlike(L, xt, fname));
  cnn_local2d_backward_input(&g, N, K, dy, w, dx, work);
  return 1;
}

static const luaL_Reg functions[] = {{"conv2d", f_conv2d},
                                     {"locally_connected2d", f_locally_connected2d},
                                     {"locally_connected2d_backward", f_locally_connected2d_backward},
                                     {"conv2d_backward", f_conv2d_backward},
                                     {"conv2d_reference", f_conv2d_reference},
                                     {"conv2d_reference_backward", f_conv2d_reference_backward},
                                     {"max_pool2d", f_max_pool2d},
                                     {"max_pool2d_backward", f_max_pool2d_backward},
                                     {"avg_pool2d", f_avg_pool2d},
                                     {"avg_pool2d_backward", f_avg_pool2d_backward},
                                     {"adaptive_avg_pool2d", f_adaptive_avg_pool2d},
                                     {"adaptive_avg_pool2d_backward", f_adaptive_avg_pool2d_backward},
                                     {NULL, NULL}};

void lcnn_open_conv(lua_State *L) { luaL_setfuncs(L, functions, 0); }
