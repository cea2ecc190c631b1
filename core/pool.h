/*
 * pool.h: max, average and adaptive average pooling over N x C x H x W
 * images, forward and backward, with PyTorch's semantics.
 *
 * Output size, per spatial dimension (PyTorch's pooling_output_shape):
 *   P = floor_or_ceil((H + 2*pad - dil*(k-1) - 1) / stride) + 1, and with
 *   ceil_mode a last window that would start inside the right padding only
 *   is dropped. Padding may be at most half the kernel size.
 * Max pooling keeps, for backward, the position of each maximum inside its
 * H x W input plane (h*W + w, stored as a float, exact below 2^24). NaN wins
 * over any number; ties keep the first position.
 * Average pooling divides by the window size clipped to the padded input
 * (count_include_pad) or to the input itself.
 * Adaptive average pooling to P x Q uses bins [floor(i*H/P), ceil((i+1)*H/P)).
 * Buffers are contiguous; backward kernels overwrite dinp.
 */
#ifndef CNN_POOL_H
#define CNN_POOL_H

#include <stdbool.h>

#include "tensor.h"

typedef struct cnn_pool2d_geom {
  int64_t N, C, H, W, P, Q;
  int64_t k[2], stride[2], pad[2], dil[2]; /* {h, w} */
  bool ceil_mode, count_include_pad;
} cnn_pool2d_geom;

/* Checks the input shape (N x C x H x W) against the options and fills g. */
cnn_status cnn_pool2d_geom_init(cnn_pool2d_geom *g, const int64_t inp_shape[4], const int64_t k[2],
                                const int64_t stride[2], const int64_t pad[2], const int64_t dil[2],
                                bool ceil_mode, bool count_include_pad, cnn_error *err);

/* inp: N x C x H x W -> out, idx: N x C x P x Q (idx may be NULL: no indices) */
void cnn_max_pool2d_forward(const cnn_pool2d_geom *g, const float *inp, float *out, float *idx);
/* false when an index is neither -1 (a window in the padding) nor a position
 * in its plane: those gradients are left out. */
bool cnn_max_pool2d_backward(const cnn_pool2d_geom *g, const float *dout, const float *idx, float *dinp);
/* Backward without indices: the maxima are found again in inp (the forward
 * pass's input, unchanged), at the positions forward found. */
void cnn_max_pool2d_backward_from_input(const cnn_pool2d_geom *g, const float *inp, const float *dout, float *dinp);
void cnn_avg_pool2d_forward(const cnn_pool2d_geom *g, const float *inp, float *out);
void cnn_avg_pool2d_backward(const cnn_pool2d_geom *g, const float *dout, float *dinp);

/* inp: NC planes of H x W -> out: NC planes of P x Q */
void cnn_adaptive_avg_pool2d_forward(int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q, const float *inp,
                                     float *out);
void cnn_adaptive_avg_pool2d_backward(int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q, const float *dout,
                                      float *dinp);

#endif
