/*
 * lcnn_func.c: bindings of the pointwise, normalisation and loss kernels:
 *   cnn.relu(x), cnn.leaky_relu(x [, slope]), cnn.sigmoid(x), cnn.tanh(x)
 *   cnn.<same>_backward(x, y, dy [, slope])          -> dx
 *   cnn.relu_(x), cnn.relu_backward_(y, dy [, dst]): in place, x and dy (or y) themselves
 *   cnn.softmax(x, d), cnn.log_softmax(x, d)
 *   cnn.softmax_backward(y, dy, d), cnn.log_softmax_backward(y, dy, d)
 *   cnn.dropout(x, p)                                -> y, mask
 *   cnn.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
 *                                                    -> y, mean, invstd
 *   cnn.batch_norm_backward(x, dy, weight, mean, invstd, training, grad_weight, grad_bias [, need_dx])
 *   cnn.cross_entropy(logits, target [, reduction]), cnn.nll_loss(logp, target [, reduction]),
 *   cnn.mse_loss(x, y [, reduction])                 -> a number
 *   cnn.<loss>_backward(same arguments [, dloss])    -> d loss / d first argument
 * Class targets are 1-based labels: a Lua array or a 1-d tensor.
 */
#include <math.h>
#include <string.h>

#include "activation.h"
#include "lcnn.h"
#include "loss.h"
#include "norm.h"

static void check_same_shape(lua_State *L, const cnn_tensor *a, const cnn_tensor *b, const char *what_a,
                             const char *what_b, const char *fname) {
  char sa[160], sb[160];
  if (!cnn_tensor_same_shape(a, b))
    lcnn_error(L, fname, "%s has shape %s but %s has shape %s", what_b, lcnn_shapestr(sb, sizeof sb, b), what_a,
               lcnn_shapestr(sa, sizeof sa, a));
}

/* ---- activations ---- */

/* f(x [, slope] [, into]): slope only for leaky_relu, whose into comes after it. */
static int activation(lua_State *L, cnn_activation f, const char *fname) {
  int into = f == CNN_LEAKY_RELU ? 3 : 2;
  lua_settop(L, into); /* a contiguous copy of x goes above into */
  float slope = f == CNN_LEAKY_RELU ? (float)luaL_optnumber(L, 2, 0.01) : 0.0f;
  cnn_tensor *x = lcnn_contiguous(L, 1);
  cnn_tensor *y = lcnn_into(L, into, x->ndim, x->shape, fname);
  cnn_activation_forward(f, slope, cnn_tensor_numel(x), cnn_tensor_data(x), cnn_tensor_data(y));
  return 1;
}

/* f_backward(x, y, dy [, slope] [, into]), as above. */
static int activation_backward(lua_State *L, cnn_activation f, const char *fname) {
  int into = f == CNN_LEAKY_RELU ? 5 : 4;
  lua_settop(L, into);
  cnn_tensor *x = lcnn_checktensor(L, 1), *y = lcnn_checktensor(L, 2), *dy = lcnn_checktensor(L, 3);
  float slope = f == CNN_LEAKY_RELU ? (float)luaL_optnumber(L, 4, 0.01) : 0.0f;
  check_same_shape(L, x, y, "input", "output", fname);
  check_same_shape(L, x, dy, "input", "grad_output", fname);
  const float *xd = cnn_tensor_data(lcnn_contiguous(L, 1)), *yd = cnn_tensor_data(lcnn_contiguous(L, 2)),
              *dyd = cnn_tensor_data(lcnn_contiguous(L, 3));
  cnn_tensor *dx = lcnn_into(L, into, x->ndim, x->shape, fname);
  cnn_activation_backward(f, slope, cnn_tensor_numel(x), xd, yd, dyd, cnn_tensor_data(dx));
  return 1;
}

static int f_relu(lua_State *L) { return activation(L, CNN_RELU, "relu"); }

/* cnn.relu_(x): x itself, rectified in place (x contiguous). */
static int f_relu_(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  if (!cnn_tensor_is_contiguous(x)) lcnn_error(L, "relu_", "tensor must be contiguous (use relu for a view)");
  cnn_relu_inplace(cnn_tensor_numel(x), cnn_tensor_data(x));
  lua_settop(L, 1);
  return 1;
}

/* cnn.relu_backward_(y, dy [, dst]): dy zeroed where y <= 0, written into dst,
 * which is dy (the default) or y itself (contiguous): the gradient of an
 * in-place ReLU, whose input is gone. */
static int f_relu_backward_(lua_State *L) {
  lua_settop(L, 3);
  cnn_tensor *y = lcnn_checktensor(L, 1), *dy = lcnn_checktensor(L, 2);
  check_same_shape(L, y, dy, "output", "grad_output", "relu_backward_");
  int dst = lua_isnil(L, 3) || lua_rawequal(L, 3, 2) ? 2 : lua_rawequal(L, 3, 1) ? 1 : 0;
  if (!dst) lcnn_error(L, "relu_backward_", "dst must be the output or the grad_output given (or nil)");
  if (!cnn_tensor_is_contiguous(dst == 1 ? y : dy))
    lcnn_error(L, "relu_backward_", "%s must be contiguous (use relu_backward for a view)",
               dst == 1 ? "output" : "grad_output");
  const float *yd = cnn_tensor_data(lcnn_contiguous(L, 1)); /* a copy, if any, stays on the stack */
  const float *dyd = cnn_tensor_data(lcnn_contiguous(L, 2));
  cnn_relu_backward_inplace(cnn_tensor_numel(dy), yd, dyd, cnn_tensor_data(dst == 1 ? y : dy));
  lua_pushvalue(L, dst);
  return 1;
}
static int f_leaky_relu(lua_State *L) { return activation(L, CNN_LEAKY_RELU, "leaky_relu"); }
static int f_sigmoid(lua_State *L) { return activation(L, CNN_SIGMOID, "sigmoid"); }
static int f_tanh(lua_State *L) { return activation(L, CNN_TANH, "tanh"); }
static int f_relu_backward(lua_State *L) { return activation_backward(L, CNN_RELU, "relu_backward"); }
static int f_leaky_relu_backward(lua_State *L) { return activation_backward(L, CNN_LEAKY_RELU, "leaky_relu_backward"); }
static int f_sigmoid_backward(lua_State *L) { return activation_backward(L, CNN_SIGMOID, "sigmoid_backward"); }
static int f_tanh_backward(lua_State *L) { return activation_backward(L, CNN_TANH, "tanh_backward"); }

/* ---- softmax ---- */

/* The tensor as outer x len x inner around dimension d. */
static void split_dims(const cnn_tensor *t, int d, int64_t *outer, int64_t *len, int64_t *inner) {
  *outer = *inner = 1;
  for (int i = 0; i < d; i++) *outer *= t->shape[i];
  for (int i = d + 1; i < t->ndim; i++) *inner *= t->shape[i];
  *len = t->ndim ? t->shape[d] : 1;
}

static int softmax(lua_State *L, bool take_log, const char *fname) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  if (x->ndim == 0) lcnn_error(L, fname, "expected a tensor with at least one dimension");
  int d = lcnn_checkdim(L, 2, x->ndim, fname);
  x = lcnn_contiguous(L, 1); /* after the arguments: a copy goes on the stack */
  int64_t outer, len, inner;
  split_dims(x, d, &outer, &len, &inner);
  cnn_tensor *y = lcnn_newlike(L, x, fname);
  cnn_softmax_forward(outer, len, inner, take_log, cnn_tensor_data(x), cnn_tensor_data(y));
  return 1;
}

static int softmax_backward(lua_State *L, bool take_log, const char *fname) {
  cnn_tensor *y = lcnn_checktensor(L, 1), *dy = lcnn_checktensor(L, 2);
  check_same_shape(L, y, dy, "output", "grad_output", fname);
  if (y->ndim == 0) lcnn_error(L, fname, "expected a tensor with at least one dimension");
  int d = lcnn_checkdim(L, 3, y->ndim, fname);
  const float *yd = cnn_tensor_data(lcnn_contiguous(L, 1)), *dyd = cnn_tensor_data(lcnn_contiguous(L, 2));
  int64_t outer, len, inner;
  split_dims(y, d, &outer, &len, &inner);
  cnn_tensor *dx = lcnn_newlike(L, y, fname);
  cnn_softmax_backward(outer, len, inner, take_log, yd, dyd, cnn_tensor_data(dx));
  return 1;
}

static int f_softmax(lua_State *L) { return softmax(L, false, "softmax"); }
static int f_log_softmax(lua_State *L) { return softmax(L, true, "log_softmax"); }
static int f_softmax_backward(lua_State *L) { return softmax_backward(L, false, "softmax_backward"); }
static int f_log_softmax_backward(lua_State *L) { return softmax_backward(L, true, "log_softmax_backward"); }

/* ---- dropout ---- */

static int f_dropout(lua_State *L) {
  double p = luaL_checknumber(L, 2);
  cnn_tensor *x = lcnn_contiguous(L, 1); /* after the arguments: a copy goes on the stack */
  if (!(p >= 0 && p <= 1)) lcnn_error(L, "dropout", "probability %g out of range [0, 1]", p);
  cnn_tensor *y = lcnn_newlike(L, x, "dropout");
  cnn_tensor *mask = lcnn_newlike(L, x, "dropout");
  cnn_dropout_forward(cnn_tensor_numel(x), (float)p, lcnn_rng(L), cnn_tensor_data(x), cnn_tensor_data(y),
                      cnn_tensor_data(mask));
  return 2;
}

/* ---- batch normalisation ---- */

/* x as N x C x L; raises unless it has 2 to 4 dimensions. */
static void bn_dims(lua_State *L, const cnn_tensor *x, int64_t *N, int64_t *C, int64_t *Lsz, const char *fname) {
  char buf[160];
  if (x->ndim < 2 || x->ndim > 4)
    lcnn_error(L, fname, "expected a 2-d, 3-d or 4-d input (N x C [x L] or N x C x H x W), got shape %s",
               lcnn_shapestr(buf, sizeof buf, x));
  *N = x->shape[0];
  *C = x->shape[1];
  *Lsz = 1;
  for (int d = 2; d < x->ndim; d++) *Lsz *= x->shape[d];
}

/* A per-channel vector argument (nil allowed when optional): its data, or NULL. */
static float *channel_vec(lua_State *L, int idx, int64_t C, bool required, const char *what, const char *fname) {
  char buf[160];
  if (lua_isnoneornil(L, idx)) {
    if (required) lcnn_error(L, fname, "%s is required", what);
    return NULL;
  }
  cnn_tensor *t = lcnn_checktensor(L, idx);
  if (t->ndim != 1 || t->shape[0] != C || !cnn_tensor_is_contiguous(t))
    lcnn_error(L, fname, "%s has shape %s, expected a contiguous (%lld) (one per channel)", what,
               lcnn_shapestr(buf, sizeof buf, t), (long long)C);
  return cnn_tensor_data(t);
}

static int f_batch_norm(lua_State *L) {
  const char *fname = "batch_norm";
  lua_settop(L, 9);
  cnn_tensor *x = lcnn_checktensor(L, 1);
  int64_t N, C, Lsz;
  bn_dims(L, x, &N, &C, &Lsz, fname);
  bool training = lua_toboolean(L, 6);
  float momentum = (float)luaL_optnumber(L, 7, 0.1), eps = (float)luaL_optnumber(L, 8, 1e-5);
  if (!(eps > 0)) lcnn_error(L, fname, "eps must be positive, got %g", (double)eps);
  float *rm = channel_vec(L, 2, C, !training, "running_mean", fname);
  float *rv = channel_vec(L, 3, C, !training, "running_var", fname);
  float *gamma = channel_vec(L, 4, C, false, "weight", fname), *beta = channel_vec(L, 5, C, false, "bias", fname);
  if (training && N * Lsz < 2)
    lcnn_error(L, fname, "training needs more than one value per channel, got input shape (%lld, %lld, ...)",
               (long long)N, (long long)C);
  const float *xd = cnn_tensor_data(lcnn_contiguous(L, 1));
  float *y = cnn_tensor_data(lcnn_into(L, 9, x->ndim, x->shape, fname));
  float *mean = cnn_tensor_data(lcnn_newtensor(L, 1, &C, fname));
  float *invstd = cnn_tensor_data(lcnn_newtensor(L, 1, &C, fname));
  if (training) {
    cnn_batchnorm_forward_train(N, C, Lsz, xd, gamma, beta, eps, momentum, rm, rv, y, mean, invstd);
  } else {
    cnn_batchnorm_forward_eval(N, C, Lsz, xd, gamma, beta, eps, rm, rv, y);
    for (int64_t c = 0; c < C; c++) {
      mean[c] = rm[c];
      invstd[c] = (float)(1.0 / sqrt((double)rv[c] + eps));
    }
  }
  return 3;
}

static int f_batch_norm_backward(lua_State *L) {
  const char *fname = "batch_norm_backward";
  lua_settop(L, 10);
  cnn_tensor *x = lcnn_checktensor(L, 1), *dy = lcnn_checktensor(L, 2);
  int64_t N, C, Lsz;
  bn_dims(L, x, &N, &C, &Lsz, fname);
  check_same_shape(L, x, dy, "input", "grad_output", fname);
  float *gamma = channel_vec(L, 3, C, false, "weight", fname);
  float *mean = channel_vec(L, 4, C, true, "mean", fname), *invstd = channel_vec(L, 5, C, true, "invstd", fname);
  bool training = lua_toboolean(L, 6), need_dx = lua_isnil(L, 9) || lua_toboolean(L, 9);
  float *dgamma = channel_vec(L, 7, C, false, "grad_weight", fname);
  float *dbeta = channel_vec(L, 8, C, false, "grad_bias", fname);
  const float *xd = cnn_tensor_data(lcnn_contiguous(L, 1)), *dyd = cnn_tensor_data(lcnn_contiguous(L, 2));
  float *dx = NULL;
  if (need_dx) dx = cnn_tensor_data(lcnn_into(L, 10, x->ndim, x->shape, fname));
  else lua_pushnil(L);
  cnn_batchnorm_backward(N, C, Lsz, xd, dyd, gamma, mean, invstd, training, dx, dgamma, dbeta);
  return 1;
}

/* ---- losses ---- */

/* reduction argument: "mean" (default) or "sum"; returns whether it is sum. */
static bool reduction_sum(lua_State *L, int idx, const char *fname) {
  const char *r = luaL_optstring(L, idx, "mean");
  if (strcmp(r, "mean") && strcmp(r, "sum"))
    lcnn_error(L, fname, "reduction must be 'mean' or 'sum', got '%s'", r);
  return r[0] == 's';
}

/* Checks (N x C) scores and N 1-based labels at target_idx; returns the labels,
 * 0-based, in a scratch buffer owned by a userdata pushed on the stack. */
static const int64_t *class_targets(lua_State *L, const cnn_tensor *scores, int target_idx, const char *fname) {
  char buf[160];
  if (scores->ndim != 2)
    lcnn_error(L, fname, "expected 2-d scores (batch x classes), got shape %s", lcnn_shapestr(buf, sizeof buf, scores));
  int64_t N = scores->shape[0], C = scores->shape[1];
  if (N < 1 || C < 1) lcnn_error(L, fname, "scores of shape %s are empty", lcnn_shapestr(buf, sizeof buf, scores));
  cnn_tensor *tt = lcnn_totensor(L, target_idx);
  int64_t n;
  if (tt) {
    tt = lcnn_checktensor(L, target_idx);
    if (tt->ndim != 1) lcnn_error(L, fname, "target must be a 1-d tensor of labels, got shape %s", lcnn_shapestr(buf, sizeof buf, tt));
    n = tt->shape[0];
  } else if (lua_type(L, target_idx) == LUA_TTABLE) {
    n = (int64_t)luaL_len(L, target_idx);
  } else {
    lcnn_error(L, fname, "target must be a table or a 1-d tensor of labels, got %s", luaL_typename(L, target_idx));
    return NULL;
  }
  if (n != N) lcnn_error(L, fname, "batch sizes differ: %lld scores but %lld targets", (long long)N, (long long)n);
  int64_t *labels = lua_newuserdatauv(L, (size_t)N * sizeof *labels, 0);
  for (int64_t i = 0; i < N; i++) {
    double v;
    if (tt) {
      v = cnn_tensor_data(tt)[i * tt->stride[0]];
    } else {
      lua_geti(L, target_idx, i + 1);
      int isnum;
      v = lua_tonumberx(L, -1, &isnum);
      if (!isnum) lcnn_error(L, fname, "target %lld is a %s, expected a class label", (long long)i + 1, luaL_typename(L, -1));
      lua_pop(L, 1);
    }
    if (v != floor(v) || v < 1 || v > (double)C)
      lcnn_error(L, fname, "label %g at position %lld out of range 1..%lld", v, (long long)i + 1, (long long)C);
    labels[i] = (int64_t)v - 1;
  }
  return labels;
}

static int f_cross_entropy(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  bool sum = reduction_sum(L, 3, "cross_entropy");
  const int64_t *t = class_targets(L, x, 2, "cross_entropy");
  lua_pushnumber(L, cnn_cross_entropy_forward(x->shape[0], x->shape[1], cnn_tensor_data(lcnn_contiguous(L, 1)), t, sum));
  return 1;
}

static int f_cross_entropy_backward(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  bool sum = reduction_sum(L, 3, "cross_entropy_backward");
  float dloss = (float)luaL_optnumber(L, 4, 1.0);
  const int64_t *t = class_targets(L, x, 2, "cross_entropy_backward");
  const float *xd = cnn_tensor_data(lcnn_contiguous(L, 1));
  cnn_tensor *dx = lcnn_newlike(L, x, "cross_entropy_backward");
  cnn_cross_entropy_backward(x->shape[0], x->shape[1], xd, t, sum, dloss, cnn_tensor_data(dx));
  return 1;
}

static int f_nll_loss(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  bool sum = reduction_sum(L, 3, "nll_loss");
  const int64_t *t = class_targets(L, x, 2, "nll_loss");
  lua_pushnumber(L, cnn_nll_forward(x->shape[0], x->shape[1], cnn_tensor_data(lcnn_contiguous(L, 1)), t, sum));
  return 1;
}

static int f_nll_loss_backward(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1);
  bool sum = reduction_sum(L, 3, "nll_loss_backward");
  float dloss = (float)luaL_optnumber(L, 4, 1.0);
  const int64_t *t = class_targets(L, x, 2, "nll_loss_backward");
  cnn_tensor *dx = lcnn_newlike(L, x, "nll_loss_backward");
  cnn_nll_backward(x->shape[0], x->shape[1], t, sum, dloss, cnn_tensor_data(dx));
  return 1;
}

static int f_mse_loss(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1), *y = lcnn_checktensor(L, 2);
  check_same_shape(L, x, y, "input", "target", "mse_loss");
  bool sum = reduction_sum(L, 3, "mse_loss");
  if (cnn_tensor_numel(x) == 0 && !sum) lcnn_error(L, "mse_loss", "mean of an empty input");
  const float *xd = cnn_tensor_data(lcnn_contiguous(L, 1)), *yd = cnn_tensor_data(lcnn_contiguous(L, 2));
  lua_pushnumber(L, cnn_mse_forward(cnn_tensor_numel(x), xd, yd, sum));
  return 1;
}

static int f_mse_loss_backward(lua_State *L) {
  cnn_tensor *x = lcnn_checktensor(L, 1), *y = lcnn_checktensor(L, 2);
  check_same_shape(L, x, y, "input", "target", "mse_loss_backward");
  bool sum = reduction_sum(L, 3, "mse_loss_backward");
  float dloss = (float)luaL_optnumber(L, 4, 1.0);
  const float *xd = cnn_tensor_data(lcnn_contiguous(L, 1)), *yd = cnn_tensor_data(lcnn_contiguous(L, 2));
  cnn_tensor *dx = lcnn_newlike(L, x, "mse_loss_backward");
  cnn_mse_backward(cnn_tensor_numel(x), xd, yd, sum, dloss, cnn_tensor_data(dx));
  return 1;
}

static const luaL_Reg functions[] = {{"relu", f_relu},
                                     {"relu_", f_relu_},
                                     {"leaky_relu", f_leaky_relu},
                                     {"sigmoid", f_sigmoid},
                                     {"tanh", f_tanh},
                                     {"relu_backward", f_relu_backward},
                                     {"relu_backward_", f_relu_backward_},
                                     {"leaky_relu_backward", f_leaky_relu_backward},
                                     {"sigmoid_backward", f_sigmoid_backward},
                                     {"tanh_backward", f_tanh_backward},
                                     {"softmax", f_softmax},
                                     {"log_softmax", f_log_softmax},
                                     {"softmax_backward", f_softmax_backward},
                                     {"log_softmax_backward", f_log_softmax_backward},
                                     {"dropout", f_dropout},
                                     {"batch_norm", f_batch_norm},
                                     {"batch_norm_backward", f_batch_norm_backward},
                                     {"cross_entropy", f_cross_entropy},
                                     {"cross_entropy_backward", f_cross_entropy_backward},
                                     {"nll_loss", f_nll_loss},
                                     {"nll_loss_backward", f_nll_loss_backward},
                                     {"mse_loss", f_mse_loss},
                                     {"mse_loss_backward", f_mse_loss_backward},
                                     {NULL, NULL}};

void lcnn_open_func(lua_State *L) { luaL_setfuncs(L, functions, 0); }
