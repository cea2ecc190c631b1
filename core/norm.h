/*
 * norm.h: batch normalisation over N x C x L inputs (L = H*W for images, 1 for
 * features), per channel c, with PyTorch's semantics.
 *
 * Training: mean and biased variance over the N*L values of each channel
 * normalise the batch; the running statistics move by momentum towards the
 * batch mean and the *unbiased* batch variance (M/(M-1) * var, M = N*L).
 * The batch mean and 1/sqrt(var + eps) are saved for backward.
 * Evaluation: the running statistics normalise.
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta     (gamma, beta: C, or NULL for 1 and 0)
 * Sums accumulate in double. Buffers are contiguous.
 */
#ifndef CNN_NORM_H
#define CNN_NORM_H

#include <stdbool.h>
#include <stdint.h>

void cnn_batchnorm_forward_train(int64_t N, int64_t C, int64_t L, const float *inp, const float *gamma,
                                 const float *beta, float eps, float momentum, float *running_mean,
                                 float *running_var, float *out, float *save_mean, float *save_invstd);
void cnn_batchnorm_forward_eval(int64_t N, int64_t C, int64_t L, const float *inp, const float *gamma,
                                const float *beta, float eps, const float *running_mean,
                                const float *running_var, float *out);
/* With the statistics used in forward (save_mean/save_invstd in training; the
 * running mean and 1/sqrt(running_var + eps) in evaluation), and train telling
 * which: dinp overwritten; dgamma and dbeta (each may be NULL) accumulated. */
void cnn_batchnorm_backward(int64_t N, int64_t C, int64_t L, const float *inp, const float *dout,
                            const float *gamma, const float *mean, const float *invstd, bool train, float *dinp,
                            float *dgamma, float *dbeta);

#endif
