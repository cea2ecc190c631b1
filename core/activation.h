/*
 * activation.h: pointwise activations, softmax and log-softmax along one
 * dimension, and dropout. Buffers are contiguous.
 *
 * Softmax works on a tensor seen as outer x len x inner, normalising along the
 * middle dimension; it subtracts the maximum first, so large inputs never
 * overflow.
 */
#ifndef CNN_ACTIVATION_H
#define CNN_ACTIVATION_H

#include <stdbool.h>
#include <stdint.h>

#include "random.h"

typedef enum { CNN_RELU, CNN_LEAKY_RELU, CNN_SIGMOID, CNN_TANH } cnn_activation;

/* out = f(inp); slope is LeakyReLU's negative slope */
void cnn_activation_forward(cnn_activation f, float slope, int64_t n, const float *inp, float *out);
/* dinp = dout * f'(inp), using out = f(inp) where that is cheaper; dinp overwritten */
void cnn_activation_backward(cnn_activation f, float slope, int64_t n, const float *inp, const float *out,
                             const float *dout, float *dinp);
/* ReLU and its gradient in place: x = max(0, x); dst = out > 0 ? dout : 0,
 * where dst is dout or out itself. */
void cnn_relu_inplace(int64_t n, float *x);
void cnn_relu_backward_inplace(int64_t n, const float *out, const float *dout, float *dst);

void cnn_softmax_forward(int64_t outer, int64_t len, int64_t inner, bool take_log, const float *inp, float *out);
/* From the forward output: dinp = out * (dout - sum(dout * out)) for softmax,
 * dout - exp(out) * sum(dout) for log-softmax. */
void cnn_softmax_backward(int64_t outer, int64_t len, int64_t inner, bool take_log, const float *out,
                          const float *dout, float *dinp);

/* Inverted dropout: each element is zeroed with probability p, the others
 * scaled by 1/(1-p); mask receives the factor (0 or 1/(1-p)) per element. */
void cnn_dropout_forward(int64_t n, float p, cnn_rng *rng, const float *inp, float *out, float *mask);

#endif
