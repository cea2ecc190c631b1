/*
 * loss.h: classification and regression losses, forward and backward.
 *
 *   logits / logp: N x C (contiguous)    target: N class indices, 0-based, in [0, C)
 *   cross entropy = reduce_n(-log_softmax(logits)[n, target[n]])   (fused: one pass, stable)
 *   NLL           = reduce_n(-logp[n, target[n]])
 *   MSE           = reduce over all elements of (x - y)^2
 * reduce is the mean (sum / N, or / numel for MSE) or, with sum, the sum.
 * Losses come back as doubles; backward overwrites dinp with d loss / d input,
 * scaled by the upstream gradient dloss.
 */
#ifndef CNN_LOSS_H
#define CNN_LOSS_H

#include <stdbool.h>
#include <stdint.h>

double cnn_cross_entropy_forward(int64_t N, int64_t C, const float *logits, const int64_t *target, bool sum);
void cnn_cross_entropy_backward(int64_t N, int64_t C, const float *logits, const int64_t *target, bool sum,
                                float dloss, float *dinp);
double cnn_nll_forward(int64_t N, int64_t C, const float *logp, const int64_t *target, bool sum);
void cnn_nll_backward(int64_t N, int64_t C, const int64_t *target, bool sum, float dloss, float *dinp);
double cnn_mse_forward(int64_t n, const float *x, const float *y, bool sum);
void cnn_mse_backward(int64_t n, const float *x, const float *y, bool sum, float dloss, float *dinp);

#endif
