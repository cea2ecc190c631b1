/*
 * conv.h: 2-D convolution (cross-correlation, as PyTorch's conv2d), forward
 * and backward, with stride, zero padding, dilation and groups.
 *
 * Dimension legend: N images, C input channels, H x W input, K output
 * channels, R x S kernel taps, P x Q output, G groups (C and K divisible by G).
 *   inp: N x C x H x W        weight: K x C/G x R x S     bias: K (or NULL)
 *   out: N x K x P x Q        all contiguous, row-major
 * P = (H + 2*pad_h - dil_h*(R-1) - 1) / stride_h + 1, and likewise Q.
 *
 * Stride-1 layers run an implicit product that reads the padded image in
 * place (conv_implicit.h), 3x3 ones with many channels Winograd's F(2x2, 3x3)
 * (conv_winograd.h), depthwise ones direct kernels (conv_direct.h); the rest
 * multiplies the weights by the unfolded patches (im2col.h), unfolded block by
 * block as the product (sgemm.h) packs them. Work is split
 * across the library's threads (parallel.h). A naive direct loop nest is kept
 * beside it as the reference the specs compare against. Kernels never
 * allocate: the caller passes a workspace of cnn_conv2d_workspace_size floats
 * (per-thread packing and unfolding space, and per-thread weight gradients
 * for backward).
 */
#ifndef CNN_CONV_H
#define CNN_CONV_H

#include "conv_packs.h"
#include "tensor.h"

typedef struct cnn_conv2d_geom {
  int64_t N, C, H, W, K, R, S, P, Q, G;
  int64_t stride[2], pad[2], dil[2]; /* {h, w} */
} cnn_conv2d_geom;

/* Checks an input and weight shape (and the bias length, if has_bias) against
 * the options and fills g; the one shape check shared by forward and backward. */
cnn_status cnn_conv2d_geom_init(cnn_conv2d_geom *g, const int64_t inp_shape[4], const int64_t w_shape[4],
                                int64_t bias_len, bool has_bias, const int64_t stride[2],
                                const int64_t pad[2], const int64_t dil[2], int64_t groups, cnn_error *err);

/* Winograd's algorithm for 3x3 layers at unit stride (process-wide): 0 never
 * (the implicit product, the most exact), 2 F(2x2, 3x3) (the default: about
 * the rounding of the plain sums), 4 also F(4x4, 3x3) where its larger tiles
 * pay (about a quarter faster again; rounding errors about ten times those
 * of F(2x2, 3x3), see conv_winograd4.h). Other values are ignored. */
void cnn_conv2d_set_winograd(int tiles);
int cnn_conv2d_get_winograd(void);

/* Floats of workspace the fast kernels need with the current thread count. */
int64_t cnn_conv2d_workspace_size(const cnn_conv2d_geom *g);

/* out = conv(inp, weight) + bias, with relu rectified (NaN stays NaN);
 * packs (conv_packs.h) may be NULL. */
void cnn_conv2d_forward(const cnn_conv2d_geom *g, const float *inp, const float *weight, const float *bias,
                        float *out, float *work, cnn_packs *packs, bool relu);
/* dinp = d loss / d inp (overwritten) */
void cnn_conv2d_backward_input(const cnn_conv2d_geom *g, const float *dout, const float *weight, float *dinp,
                               float *work);
/* dweight += d loss / d weight; dbias += d loss / d bias (either may be NULL) */
void cnn_conv2d_backward_params(const cnn_conv2d_geom *g, const float *inp, const float *dout, float *dweight,
                                float *dbias, float *work);

/* The naive twins: direct loop nests, same contracts (no workspace). */
void cnn_conv2d_forward_naive(const cnn_conv2d_geom *g, const float *inp, const float *weight,
                              const float *bias, float *out);
void cnn_conv2d_backward_input_naive(const cnn_conv2d_geom *g, const float *dout, const float *weight,
                                     float *dinp);
void cnn_conv2d_backward_params_naive(const cnn_conv2d_geom *g, const float *inp, const float *dout,
                                      float *dweight, float *dbias);

#endif
