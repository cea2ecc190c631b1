/*
 * elementwise.c: elementwise kernels over strided views (see elementwise.h).
 *
 * Each kernel is a row function for cnn_foreach: n elements, one pointer and
 * one stride per operand. The row loops are written once as static inline
 * functions taking the strides as arguments and are called with literal unit
 * strides on the contiguous path, so that the compiler emits a vectorised copy
 * of the loop for that case.
 */
#include "elementwise.h"

#include <math.h>

static void fill_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  float v = *(const float *)ctx, *o = p[0];
  for (int64_t i = 0; i < n; i++) o[i * s[0]] = v;
}

void cnn_fill(cnn_tensor *t, float value) {
  cnn_tensor *ops[1] = {t};
  cnn_foreach(1, ops, fill_row, &value);
}

static void copy_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  (void)ctx;
  float *o = p[0];
  const float *a = p[1];
  if (s[0] == 1 && s[1] == 1)
    for (int64_t i = 0; i < n; i++) o[i] = a[i];
  else
    for (int64_t i = 0; i < n; i++) o[i * s[0]] = a[i * s[1]];
}

void cnn_copy(cnn_tensor *dst, cnn_tensor *src) {
  cnn_tensor *ops[2] = {dst, src};
  cnn_foreach(2, ops, copy_row, NULL);
}

typedef struct {
  cnn_unop op;
  float p1, p2;
} unary_ctx;

static inline float unop_apply(const unary_ctx *c, float x) {
  switch (c->op) {
  case CNN_NEG: return -x;
  case CNN_EXP: return expf(x);
  case CNN_LOG: return logf(x);
  case CNN_SQRT: return sqrtf(x);
  case CNN_ABS: return fabsf(x);
  case CNN_POW:
    /* the exponents PyTorch computes without powf, so results match it bit for bit */
    if (c->p1 == 2.0f) return x * x;
    if (c->p1 == 1.0f) return x;
    if (c->p1 == 0.5f) return sqrtf(x);
    if (c->p1 == -1.0f) return 1.0f / x;
    return powf(x, c->p1);
  case CNN_CLAMP: {
    float v = x < c->p1 ? c->p1 : x;
    return v > c->p2 ? c->p2 : v;
  }
  }
  return x;
}

static inline void unary_loop(int64_t n, float *o, int64_t so, const float *a, int64_t sa,
                              const unary_ctx *c) {
  for (int64_t i = 0; i < n; i++) o[i * so] = unop_apply(c, a[i * sa]);
}

static void unary_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  if (s[0] == 1 && s[1] == 1) unary_loop(n, p[0], 1, p[1], 1, ctx);
  else unary_loop(n, p[0], s[0], p[1], s[1], ctx);
}

void cnn_unary(cnn_tensor *out, cnn_tensor *in, cnn_unop op, float p1, float p2) {
  unary_ctx c = {op, p1, p2};
  cnn_tensor *ops[2] = {out, in};
  cnn_foreach(2, ops, unary_row, &c);
}

static inline float binop_apply(cnn_binop op, float a, float b) {
  switch (op) {
  case CNN_ADD: return a + b;
  case CNN_SUB: return a - b;
  case CNN_MUL: return a * b;
  case CNN_DIV: return a / b;
  }
  return a;
}

/* One loop per operation, so that none carries a switch per element. */
static inline void binary_loop(int64_t n, float *o, int64_t so, const float *a, int64_t sa, const float *b,
                               int64_t sb, cnn_binop op) {
  switch (op) {
  case CNN_ADD: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] + b[i * sb]; break;
  case CNN_SUB: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] - b[i * sb]; break;
  case CNN_MUL: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] * b[i * sb]; break;
  case CNN_DIV: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] / b[i * sb]; break;
  }
}

static void binary_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  cnn_binop op = *(const cnn_binop *)ctx;
  if (s[0] == 1 && s[1] == 1 && s[2] == 1) binary_loop(n, p[0], 1, p[1], 1, p[2], 1, op);
  else if (s[0] == 1 && s[1] == 1 && s[2] == 0) binary_loop(n, p[0], 1, p[1], 1, p[2], 0, op);
  else binary_loop(n, p[0], s[0], p[1], s[1], p[2], s[2], op);
}

void cnn_binary(cnn_tensor *out, cnn_tensor *a, cnn_tensor *b, cnn_binop op) {
  cnn_tensor *ops[3] = {out, a, b};
  cnn_foreach(3, ops, binary_row, &op);
}

typedef struct {
  cnn_binop op;
  float s;
  bool scalar_first;
} scalar_ctx;

static void scalar_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  const scalar_ctx *c = ctx;
  float *o = p[0];
  const float *a = p[1];
  if (c->scalar_first)
    for (int64_t i = 0; i < n; i++) o[i * s[0]] = binop_apply(c->op, c->s, a[i * s[1]]);
  else if (s[0] == 1 && s[1] == 1)
    for (int64_t i = 0; i < n; i++) o[i] = binop_apply(c->op, a[i], c->s);
  else
    for (int64_t i = 0; i < n; i++) o[i * s[0]] = binop_apply(c->op, a[i * s[1]], c->s);
}

void cnn_binary_scalar(cnn_tensor *out, cnn_tensor *a, float s, cnn_binop op, bool scalar_first) {
  scalar_ctx c = {op, s, scalar_first};
  cnn_tensor *ops[2] = {out, a};
  cnn_foreach(2, ops, scalar_row, &c);
}

static inline void axpy_loop(int64_t n, float *t, int64_t st, const float *u, int64_t su,
                             float alpha) {
  for (int64_t i = 0; i < n; i++) t[i * st] += alpha * u[i * su];
}

static void axpy_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  float alpha = *(const float *)ctx;
  if (s[0] == 1 && s[1] == 1) axpy_loop(n, p[0], 1, p[1], 1, alpha);
  else axpy_loop(n, p[0], s[0], p[1], s[1], alpha);
}

void cnn_axpy(cnn_tensor *t, float alpha, cnn_tensor *u) {
  cnn_tensor *ops[2] = {t, u};
  cnn_foreach(2, ops, axpy_row, &alpha);
}

typedef struct {
  double rtol, atol;
  bool close;
} close_ctx;

static void close_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  close_ctx *c = ctx;
  for (int64_t i = 0; i < n && c->close; i++) {
    double a = p[0][i * s[0]], b = p[1][i * s[1]];
    if (a == b) continue; /* equal infinities */
    if (!(fabs(a - b) <= c->atol + c->rtol * fabs(b))) c->close = false;
  }
}

bool cnn_allclose(cnn_tensor *a, cnn_tensor *b, double rtol, double atol) {
  close_ctx c = {rtol, atol, true};
  cnn_tensor *ops[2] = {a, b};
  cnn_foreach(2, ops, close_row, &c);
  return c.close;
}

void cnn_index_select(cnn_tensor *out, const cnn_tensor *in, int dim, const int64_t *idx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    cnn_tensor src = *in, dst = *out;
    cnn_tensor_select(&src, dim, idx[i]);
    cnn_tensor_select(&dst, dim, i);
    cnn_copy(&dst, &src);
  }
}
