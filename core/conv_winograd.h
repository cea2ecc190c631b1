/*
 * conv_winograd.h: 3x3 convolution at unit stride and dilation by Winograd's
 * minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): each 2x2 block of outputs takes 16
 * multiplications per channel pair instead of 36.
 *
 * The output is cut into 2x2 tiles; tile rows of all images are numbered
 * together (image n, tile row th is row n * tiles_h + th). Per block of tile
 * rows, each 4x4 input patch is transformed (V = B^T d B), then for each of
 * the 16 positions xi of the transformed tiles one matrix product sums over
 * input channels, M[xi] = U[xi] V[xi], with U = G w G^T the transformed
 * weights, and each 4x4 M tile gives its 2x2 outputs (A^T M A). The products
 * run on the implicit product's tiles (conv_implicit.h). Shapes as conv.h.
 */
#ifndef CNN_CONV_WINOGRAD_H
#define CNN_CONV_WINOGRAD_H

#include <stdbool.h>

#include "conv.h"

/* A 3x3 kernel at unit stride and dilation, of a size the tables index. */
bool cnn_conv2d_winograd_ok(const cnn_conv2d_geom *g);
/* Floats of the transformed weights (one copy, shared by the threads) and of
 * the scratch of one call (one per thread) of the forward pass, or (grad) of
 * the forward pass or the weight gradient. */
int64_t cnn_conv2d_winograd_packed_size(const cnn_conv2d_geom *g);
int64_t cnn_conv2d_winograd_scratch(const cnn_conv2d_geom *g, bool grad);
/* Tile rows in all, and at most per block (a call's unit of work) of the
 * forward pass or (grad) the weight gradient, whose blocks come in a
 * multiple of the thread count. */
int64_t cnn_conv2d_winograd_rows(const cnn_conv2d_geom *g);
int64_t cnn_conv2d_winograd_block_rows(const cnn_conv2d_geom *g, bool grad);

/* Weights (K x C/G x 3 x 3), transformed, into packed (packed_size floats,
 * 64-byte aligned), after the offset table of the forward products; with
 * weight NULL, only the offset table of the weight gradient. */
void cnn_conv2d_winograd_pack(const cnn_conv2d_geom *g, const float *weight, float *packed);
/* Group gr of the tile rows [row0, row1) (at most a block) of inp
 * (N x C x H x W) -> out (N x K x P x Q), plus bias (or NULL); with relu,
 * rectified (NaN stays NaN). */
void cnn_conv2d_winograd_forward(const cnn_conv2d_geom *g, int64_t gr, const float *inp, const float *packed,
                                 const float *bias, float *out, int64_t row0, int64_t row1, float *scratch,
                                 bool relu);

/* The weight gradient in the transformed domain: dU[xi] (K/G x C/G) = sum
 * over tiles of (A dy A^T)[xi] (B^T d B)[xi], then dweight += G^T dU G.
 * grad_size: the floats of dU (all groups). The tile rows [row0, row1) of
 * group gr, from inp and dout (N x K x P x Q), add to du; packed holds the
 * offset table (cnn_conv2d_winograd_pack with weight NULL). */
int64_t cnn_conv2d_winograd_grad_size(const cnn_conv2d_geom *g);
void cnn_conv2d_winograd_weight_grad(const cnn_conv2d_geom *g, int64_t gr, const float *inp, const float *dout,
                                     const float *packed, float *du, int64_t row0, int64_t row1, float *scratch);
void cnn_conv2d_winograd_grad_finish(const cnn_conv2d_geom *g, const float *du, float *dweight);

#endif
