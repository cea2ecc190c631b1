/*
 * lcnn_math.c: tensor arithmetic (operators and in-place methods, with NumPy
 * broadcasting), elementwise maths, reductions, comparison, cnn.matmul,
 * cnn.linear and t:addmm_.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "elementwise.h"
#include "gemm.h"
#include "lcnn.h"
#include "reduce.h"

/* A number argument of an arithmetic function, with a message naming it. */
static float checkscalar(lua_State *L, int idx, const char *fname) {
  int isnum;
  lua_Number v = lua_tonumberx(L, idx, &isnum);
  if (!isnum || lua_type(L, idx) != LUA_TNUMBER)
    lcnn_error(L, fname, "expected a tensor or a number, got %s", luaL_typename(L, idx));
  return (float)v;
}

/* u broadcast to t's shape, for an in-place update of t. A u that overlaps t is
 * copied first (pushed on the stack to keep it alive). */
static cnn_tensor broadcast_into(lua_State *L, cnn_tensor *t, cnn_tensor *u, const char *fname) {
  int ndim;
  int64_t shape[CNN_MAX_DIMS];
  char a[160], b[160];
  if (cnn_broadcast_shape(t->ndim, t->shape, u->ndim, u->shape, &ndim, shape, NULL) != CNN_OK ||
      ndim != t->ndim || memcmp(shape, t->shape, (size_t)ndim * sizeof shape[0]))
    lcnn_error(L, fname, "shape %s cannot be broadcast to the shape %s of the tensor updated in place",
               lcnn_shapestr(a, sizeof a, u), lcnn_shapestr(b, sizeof b, t));
  if (cnn_tensor_overlaps(t, u)) u = lcnn_pushcopy(L, u, fname);
  cnn_tensor e = *u;
  cnn_tensor_expand(&e, t->ndim, t->shape);
  return e;
}

static int arith(lua_State *L, cnn_binop op, const char *fname) {
  cnn_tensor *a = lcnn_totensor(L, 1), *b = lcnn_totensor(L, 2);
  if (a && b) {
    a = lcnn_checktensor(L, 1);
    b = lcnn_checktensor(L, 2);
    int ndim;
    int64_t shape[CNN_MAX_DIMS];
    cnn_error err;
    if (cnn_broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &ndim, shape, &err) != CNN_OK)
      lcnn_error(L, fname, "%s", err.msg);
    cnn_tensor ea = *a, eb = *b;
    cnn_tensor_expand(&ea, ndim, shape);
    cnn_tensor_expand(&eb, ndim, shape);
    cnn_binary(lcnn_newtensor(L, ndim, shape, fname), &ea, &eb, op);
  } else if (a) {
    a = lcnn_checktensor(L, 1);
    float s = checkscalar(L, 2, fname);
    cnn_binary_scalar(lcnn_newlike(L, a, fname), a, s, op, false);
  } else {
    b = lcnn_checktensor(L, 2);
    float s = checkscalar(L, 1, fname);
    cnn_binary_scalar(lcnn_newlike(L, b, fname), b, s, op, true);
  }
  return 1;
}

static int m_add(lua_State *L) { return arith(L, CNN_ADD, "add"); }
static int m_sub(lua_State *L) { return arith(L, CNN_SUB, "sub"); }
static int m_mul(lua_State *L) { return arith(L, CNN_MUL, "mul"); }
static int m_div(lua_State *L) { return arith(L, CNN_DIV, "div"); }

/* t op= u, u a number or a tensor broadcastable to t. */
static int inplace(lua_State *L, cnn_binop op, const char *fname) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  if (lcnn_totensor(L, 2)) {
    cnn_tensor u = broadcast_into(L, t, lcnn_checktensor(L, 2), fname);
    cnn_binary(t, t, &u, op);
  } else {
    cnn_binary_scalar(t, t, checkscalar(L, 2, fname), op, false);
  }
  lua_settop(L, 1);
  return 1;
}

/* t:add_(u [, alpha]): t += alpha * u */
static int m_add_(lua_State *L) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  float alpha = (float)luaL_optnumber(L, 3, 1.0);
  if (lcnn_totensor(L, 2)) {
    cnn_tensor u = broadcast_into(L, t, lcnn_checktensor(L, 2), "add_");
    if (alpha == 1.0f) cnn_binary(t, t, &u, CNN_ADD);
    else cnn_axpy(t, alpha, &u);
  } else {
    cnn_binary_scalar(t, t, alpha * checkscalar(L, 2, "add_"), CNN_ADD, false);
  }
  lua_settop(L, 1);
  return 1;
}

static int m_sub_(lua_State *L) { return inplace(L, CNN_SUB, "sub_"); }
static int m_mul_(lua_State *L) { return inplace(L, CNN_MUL, "mul_"); }
static int m_div_(lua_State *L) { return inplace(L, CNN_DIV, "div_"); }

static int unary(lua_State *L, cnn_unop op, float p1, float p2, const char *fname) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  cnn_unary(lcnn_newlike(L, t, fname), t, op, p1, p2);
  return 1;
}

static int m_unm(lua_State *L) { return unary(L, CNN_NEG, 0, 0, "neg"); }
static int m_exp(lua_State *L) { return unary(L, CNN_EXP, 0, 0, "exp"); }
static int m_log(lua_State *L) { return unary(L, CNN_LOG, 0, 0, "log"); }
static int m_sqrt(lua_State *L) { return unary(L, CNN_SQRT, 0, 0, "sqrt"); }
static int m_abs(lua_State *L) { return unary(L, CNN_ABS, 0, 0, "abs"); }

static int m_pow(lua_State *L) {
  lcnn_checktensor(L, 1);
  return unary(L, CNN_POW, (float)luaL_checknumber(L, 2), 0, "pow");
}

static int m_clamp(lua_State *L) {
  lcnn_checktensor(L, 1);
  float lo = (float)luaL_optnumber(L, 2, -INFINITY), hi = (float)luaL_optnumber(L, 3, INFINITY);
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3)) lcnn_error(L, "clamp", "at least one of lo and hi is needed");
  if (isnan(lo) || isnan(hi)) lcnn_error(L, "clamp", "bound is NaN");
  return unary(L, CNN_CLAMP, lo, hi, "clamp");
}

/* ---- reductions ---- */

/* Output of a reduction along dim: pushes a new tensor with that dimension
 * removed (or kept with size 1) and returns the view of it, without the
 * dimension, that the kernel writes. */
static cnn_tensor reduced(lua_State *L, const cnn_tensor *t, int dim, bool keepdim, const char *fname) {
  int64_t shape[CNN_MAX_DIMS] = {0};
  int ndim = 0;
  for (int d = 0; d < t->ndim; d++)
    if (d != dim) shape[ndim++] = t->shape[d];
    else if (keepdim) shape[ndim++] = 1;
  cnn_tensor v = *lcnn_newtensor(L, ndim, shape, fname);
  if (keepdim) cnn_tensor_select(&v, dim, 0);
  return v;
}

static void check_nonempty_dim(lua_State *L, const cnn_tensor *t, int dim, const char *fname) {
  char buf[160];
  if (dim < 0 ? cnn_tensor_numel(t) == 0 : t->shape[dim] == 0)
    lcnn_error(L, fname, "cannot reduce an empty %s of shape %s", dim < 0 ? "tensor" : "dimension",
               lcnn_shapestr(buf, sizeof buf, t));
}

static void to_one_based(cnn_tensor *idx) { cnn_binary_scalar(idx, idx, 1.0f, CNN_ADD, false); }

/* sum/mean/max/min([d [, keepdim]]) */
static int reduce(lua_State *L, cnn_reduce_op op, const char *fname) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  bool extreme = op == CNN_MAX || op == CNN_MIN;
  if (lua_isnoneornil(L, 2)) {
    if (extreme) check_nonempty_dim(L, t, -1, fname);
    lua_pushnumber(L, cnn_reduce_all(t, op, NULL));
    return 1;
  }
  int dim = lcnn_checkdim(L, 2, t->ndim, fname);
  bool keepdim = lua_toboolean(L, 3);
  if (extreme) check_nonempty_dim(L, t, dim, fname);
  cnn_tensor out = reduced(L, t, dim, keepdim, fname);
  if (!extreme) {
    cnn_reduce_dim(&out, NULL, t, dim, op);
    return 1;
  }
  cnn_tensor idx = reduced(L, t, dim, keepdim, fname);
  cnn_reduce_dim(&out, &idx, t, dim, op);
  to_one_based(&idx);
  return 2;
}

static int m_sum(lua_State *L) { return reduce(L, CNN_SUM, "sum"); }
static int m_mean(lua_State *L) { return reduce(L, CNN_MEAN, "mean"); }
static int m_max(lua_State *L) { return reduce(L, CNN_MAX, "max"); }
static int m_min(lua_State *L) { return reduce(L, CNN_MIN, "min"); }

/* argmax/argmin([d [, keepdim]]): 1-based indices along d, or the 1-based
 * row-major position over the whole tensor when d is absent. */
static int arg_extreme(lua_State *L, cnn_reduce_op op, const char *fname) {
  cnn_tensor *t = lcnn_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    int64_t at;
    check_nonempty_dim(L, t, -1, fname);
    cnn_reduce_all(t, op, &at);
    lua_pushinteger(L, at + 1);
    return 1;
  }
  int dim = lcnn_checkdim(L, 2, t->ndim, fname);
  bool keepdim = lua_toboolean(L, 3);
  check_nonempty_dim(L, t, dim, fname);
  cnn_tensor out = reduced(L, t, dim, keepdim, fname);
  cnn_tensor idx = reduced(L, t, dim, keepdim, fname);
  cnn_reduce_dim(&out, &idx, t, dim, op);
  to_one_based(&idx);
  return 1;
}

static int m_argmax(lua_State *L) { return arg_extreme(L, CNN_MAX, "argmax"); }
static int m_argmin(lua_State *L) { return arg_extreme(L, CNN_MIN, "argmin"); }

/* ---- comparison ---- */

static int m_equal(lua_State *L) {
  cnn_tensor *a = lcnn_checktensor(L, 1), *b = lcnn_checktensor(L, 2);
  lua_pushboolean(L, cnn_tensor_same_shape(a, b) && cnn_allclose(a, b, 0.0, 0.0));
  return 1;
}

static int m_allclose(lua_State *L) {
  cnn_tensor *a = lcnn_checktensor(L, 1), *b = lcnn_checktensor(L, 2);
  double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
  if (!(rtol >= 0) || !(atol >= 0)) lcnn_error(L, "allclose", "tolerances must be >= 0 (rtol %g, atol %g)", rtol, atol);
  int ndim;
  int64_t shape[CNN_MAX_DIMS];
  cnn_error err;
  if (cnn_broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &ndim, shape, &err) != CNN_OK)
    lcnn_error(L, "allclose", "%s", err.msg);
  cnn_tensor ea = *a, eb = *b;
  cnn_tensor_expand(&ea, ndim, shape);
  cnn_tensor_expand(&eb, ndim, shape);
  lua_pushboolean(L, cnn_allclose(&ea, &eb, rtol, atol));
  return 1;
}

/* ---- matmul ---- */

/* m as a 3-D (batch, rows, cols) view: a vector is a single row (as the left
 * operand) or column (as the right one); a matrix has a broadcast batch. */
static cnn_tensor as_batched(const cnn_tensor *m, bool left) {
  cnn_tensor v = *m;
  if (m->ndim == 1) {
    v.ndim = 3;
    v.shape[0] = 1;
    v.stride[0] = 0;
    if (left) {
      v.shape[1] = 1, v.stride[1] = 0, v.shape[2] = m->shape[0], v.stride[2] = m->stride[0];
    } else {
      v.shape[1] = m->shape[0], v.stride[1] = m->stride[0], v.shape[2] = 1, v.stride[2] = 0;
    }
  } else if (m->ndim == 2) {
    v.ndim = 3;
    v.shape[2] = m->shape[1], v.stride[2] = m->stride[1];
    v.shape[1] = m->shape[0], v.stride[1] = m->stride[0];
    v.shape[0] = 1, v.stride[0] = 0;
  }
  return v;
}

/* An operand as sgemm will read it: batched, copied when sgemm cannot read the
 * view as it is, and broadcast along the batch when it has only one matrix. */
static cnn_tensor operand(lua_State *L, cnn_tensor *t, bool left, int64_t batch) {
  cnn_tensor v = as_batched(t, left);
  if (!cnn_gemm_operand_ok(v.shape[1], v.shape[2], v.stride[1], v.stride[2]))
    v = as_batched(lcnn_pushcopy(L, t, "matmul"), left);
  if (v.shape[0] == 1) v.stride[0] = 0;
  v.shape[0] = batch;
  return v;
}

static int f_matmul(lua_State *L) {
  lua_settop(L, 3); /* copies of the operands go above into */
  cnn_tensor *a = lcnn_checktensor(L, 1), *b = lcnn_checktensor(L, 2);
  char sa[160], sb[160];
  if (a->ndim < 1 || a->ndim > 3 || b->ndim < 1 || b->ndim > 3)
    lcnn_error(L, "matmul", "expected 1-d, 2-d or 3-d tensors, got shapes %s and %s", lcnn_shapestr(sa, sizeof sa, a),
               lcnn_shapestr(sb, sizeof sb, b));
  cnn_tensor va = as_batched(a, true), vb = as_batched(b, false);
  int64_t m = va.shape[1], k = va.shape[2], n = vb.shape[2];
  if (vb.shape[1] != k)
    lcnn_error(L, "matmul", "shapes %s and %s cannot be multiplied (%lld != %lld)", lcnn_shapestr(sa, sizeof sa, a),
               lcnn_shapestr(sb, sizeof sb, b), (long long)k, (long long)vb.shape[1]);
  int64_t ba = va.shape[0], bb = vb.shape[0];
  if (ba != bb && ba != 1 && bb != 1)
    lcnn_error(L, "matmul", "batch sizes %lld and %lld of shapes %s and %s do not match", (long long)ba,
               (long long)bb, lcnn_shapestr(sa, sizeof sa, a), lcnn_shapestr(sb, sizeof sb, b));
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
    lcnn_error(L, "matmul", "matrix sizes above %d are not supported", INT_MAX);
  int64_t batch = ba > bb ? ba : bb;
  va = operand(L, a, true, batch);
  vb = operand(L, b, false, batch);
  /* the result drops the dimensions that the operands did not have */
  int64_t shape[3];
  int ndim = 0;
  if (a->ndim == 3 || b->ndim == 3) shape[ndim++] = batch;
  if (a->ndim > 1) shape[ndim++] = m;
  if (b->ndim > 1) shape[ndim++] = n;
  cnn_tensor *out = lcnn_into(L, 3, ndim, shape, "matmul");
  cnn_tensor vo = *out;
  vo.ndim = 3;
  vo.shape[0] = batch, vo.shape[1] = m, vo.shape[2] = n;
  vo.stride[0] = m * n, vo.stride[1] = n, vo.stride[2] = 1;
  cnn_matmul(&vo, &va, &vb, 0.0f);
  return 1;
}

/* c:addmm_(a, b): c itself, plus a @ b (2-d, c contiguous and apart from a
 * and b): a weight gradient accumulates without a temporary. */
static int m_addmm_(lua_State *L) {
  lua_settop(L, 3); /* copies of the operands go above */
  cnn_tensor *c = lcnn_checktensor(L, 1), *a = lcnn_checktensor(L, 2), *b = lcnn_checktensor(L, 3);
  char sc[160], sa[160], sb[160];
  if (c->ndim != 2 || a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0] || c->shape[0] != a->shape[0] ||
      c->shape[1] != b->shape[1])
    lcnn_error(L, "addmm_", "shapes %s + %s @ %s do not fit (expected (M, N) + (M, K) @ (K, N))",
               lcnn_shapestr(sc, sizeof sc, c), lcnn_shapestr(sa, sizeof sa, a), lcnn_shapestr(sb, sizeof sb, b));
  if (!cnn_tensor_is_contiguous(c)) lcnn_error(L, "addmm_", "the tensor added to must be contiguous");
  if (c->storage == a->storage || c->storage == b->storage)
    lcnn_error(L, "addmm_", "the tensor added to shares storage with an operand");
  if (a->shape[0] > INT_MAX || a->shape[1] > INT_MAX || b->shape[1] > INT_MAX)
    lcnn_error(L, "addmm_", "matrix sizes above %d are not supported", INT_MAX);
  cnn_tensor va = operand(L, a, true, 1), vb = operand(L, b, false, 1), vo = as_batched(c, true);
  vo.stride[0] = 0;
  cnn_matmul(&vo, &va, &vb, 1.0f);
  lua_pushvalue(L, 1);
  return 1;
}

/* cnn.linear(x, w [, b] [, into]): x @ w^T + b, for x (N, in) or (in), w
 * (out, in), b (out): nn.Linear's forward in one call, the bias in place of
 * the product's zeros. */
static int f_linear(lua_State *L) {
  lua_settop(L, 4); /* copies of the operands go above into */
  cnn_tensor *x = lcnn_checktensor(L, 1), *w = lcnn_checktensor(L, 2), *b = lua_isnil(L, 3) ? NULL : lcnn_checktensor(L, 3);
  char sx[160], sw[160], sb[160];
  if ((x->ndim != 1 && x->ndim != 2) || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1])
    lcnn_error(L, "linear", "input %s and weight %s do not fit (expected (N, in) or (in), and (out, in))",
               lcnn_shapestr(sx, sizeof sx, x), lcnn_shapestr(sw, sizeof sw, w));
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    lcnn_error(L, "linear", "bias %s does not fit weight %s (expected (%lld))", lcnn_shapestr(sb, sizeof sb, b),
               lcnn_shapestr(sw, sizeof sw, w), (long long)w->shape[0]);
  if (x->shape[x->ndim - 1] > INT_MAX || w->shape[0] > INT_MAX || (x->ndim == 2 && x->shape[0] > INT_MAX))
    lcnn_error(L, "linear", "matrix sizes above %d are not supported", INT_MAX);
  int64_t rows = x->ndim == 2 ? x->shape[0] : 1, outs = w->shape[0];
  cnn_tensor wt = *w; /* w^T, a view: (in, out) */
  wt.shape[0] = w->shape[1], wt.shape[1] = w->shape[0];
  wt.stride[0] = w->stride[1], wt.stride[1] = w->stride[0];
  cnn_tensor va = operand(L, x, true, 1), vb = operand(L, &wt, false, 1);
  const float *bd = b ? cnn_tensor_data(lcnn_contiguous(L, 3)) : NULL;
  int64_t shape[2] = {rows, outs};
  cnn_tensor *out = x->ndim == 2 ? lcnn_into(L, 4, 2, shape, "linear") : lcnn_into(L, 4, 1, &outs, "linear");
  float *y = cnn_tensor_data(out);
  for (int64_t r = 0; b && r < rows; r++) memcpy(y + r * outs, bd, (size_t)outs * sizeof *y);
  cnn_tensor vo = *out;
  vo.ndim = 3;
  vo.shape[0] = 1, vo.shape[1] = rows, vo.shape[2] = outs;
  vo.stride[0] = 0, vo.stride[1] = outs, vo.stride[2] = 1;
  cnn_matmul(&vo, &va, &vb, b ? 1.0f : 0.0f);
  return 1;
}

static const luaL_Reg functions[] = {{"matmul", f_matmul}, {"linear", f_linear}, {NULL, NULL}};

static const luaL_Reg methods[] = {
    {"add", m_add},         {"sub", m_sub},   {"mul", m_mul},       {"div", m_div},       {"add_", m_add_},
    {"sub_", m_sub_},       {"mul_", m_mul_}, {"div_", m_div_},     {"neg", m_unm},       {"exp", m_exp},
    {"log", m_log},         {"sqrt", m_sqrt}, {"abs", m_abs},       {"pow", m_pow},       {"clamp", m_clamp},
    {"sum", m_sum},         {"mean", m_mean}, {"max", m_max},       {"min", m_min},       {"argmax", m_argmax},
    {"argmin", m_argmin},   {"equal", m_equal}, {"allclose", m_allclose}, {"matmul", f_matmul},
    {"addmm_", m_addmm_},   {NULL, NULL}};

static const luaL_Reg metamethods[] = {{"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul},
                                       {"__div", m_div}, {"__unm", m_unm}, {NULL, NULL}};

void lcnn_open_math(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  luaL_getmetatable(L, LCNN_TENSOR);
  luaL_setfuncs(L, metamethods, 0);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}
