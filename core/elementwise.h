/*
 * elementwise.h: fill, copy, unary maths and broadcasting binary arithmetic.
 *
 * Outputs are tensors of the result shape, written through their strides;
 * inputs may be any views of that shape, broadcast ones (stride 0) included
 * (see cnn_tensor_expand). An output may be the same view as an input, which
 * makes the operation in place. Kernels never allocate.
 */
#ifndef CNN_ELEMENTWISE_H
#define CNN_ELEMENTWISE_H

#include "tensor.h"

typedef enum { CNN_ADD, CNN_SUB, CNN_MUL, CNN_DIV } cnn_binop;

typedef enum {
  CNN_NEG,
  CNN_EXP,
  CNN_LOG,
  CNN_SQRT,
  CNN_ABS,
  CNN_POW,   /* x ^ p1 */
  CNN_CLAMP  /* min(max(x, p1), p2); NaN stays NaN */
} cnn_unop;

void cnn_fill(cnn_tensor *t, float value);
void cnn_copy(cnn_tensor *dst, cnn_tensor *src);
void cnn_unary(cnn_tensor *out, cnn_tensor *in, cnn_unop op, float p1, float p2);
/* out = a op b */
void cnn_binary(cnn_tensor *out, cnn_tensor *a, cnn_tensor *b, cnn_binop op);
/* out = a op s, or s op a when scalar_first */
void cnn_binary_scalar(cnn_tensor *out, cnn_tensor *a, float s, cnn_binop op, bool scalar_first);
/* t += alpha * u */
void cnn_axpy(cnn_tensor *t, float alpha, cnn_tensor *u);

/* out = in with dimension dim (0-based) indexed by idx (n entries, each
 * 0 <= idx[i] < in->shape[dim], checked by the caller); out has in's shape
 * with n at dim. */
void cnn_index_select(cnn_tensor *out, const cnn_tensor *in, int dim, const int64_t *idx, int64_t n);

/* Whether |a - b| <= atol + rtol * |b| everywhere (NaN is never close). */
bool cnn_allclose(cnn_tensor *a, cnn_tensor *b, double rtol, double atol);

#endif
