/*
 * local.h: locally connected 2-D layers: a convolution whose filters differ
 * at every output position (no parameter sharing).
 *
 * Dimension legend as conv.h: N images, C x H x W input, K outputs, R x S
 * taps, P x Q positions; CRS = C*R*S, PQ = P*Q. With col_n = im2col(image n)
 * (im2col.h, CRS x PQ):
 *   out[n, k, p] = bias[k, p] + sum_c weight[p, k, c] * col_n[c, p]
 *   weight: PQ x K x CRS     bias: K x PQ (or NULL)     out: N x K x PQ
 * Each position is one small matrix product over the batch,
 *   Y_p (N x K) = X_p (N x CRS) @ W_p^T,   X_p[n, c] = col_n[c, p],
 * which keeps W_p and X_p in cache; the kernels lay the columns out position
 * by position (a blocked transpose of each image's im2col) and split the
 * positions across threads.
 */
#ifndef CNN_LOCAL_H
#define CNN_LOCAL_H

#include "im2col.h"

/* Floats of workspace the kernels need for a batch of N. */
int64_t cnn_local2d_workspace_size(const cnn_patch_geom *g, int64_t N, int64_t K);

void cnn_local2d_forward(const cnn_patch_geom *g, int64_t N, int64_t K, const float *inp, const float *weight,
                         const float *bias, float *out, float *work);
/* dinp overwritten */
void cnn_local2d_backward_input(const cnn_patch_geom *g, int64_t N, int64_t K, const float *dout,
                                const float *weight, float *dinp, float *work);
/* dweight and dbias (either may be NULL) accumulated */
void cnn_local2d_backward_params(const cnn_patch_geom *g, int64_t N, int64_t K, const float *inp, const float *dout,
                                 float *dweight, float *dbias, float *work);

#endif
