/*
 * conv_winograd4.h: the forward pass of 3x3 convolution at unit stride and
 * dilation by Winograd's F(4x4, 3x3) (Lavin and Gray, 2016): each 4x4 block
 * of outputs takes 36 multiplications per channel pair instead of 144, where
 * F(2x2, 3x3) (conv_winograd.h) takes 64. The larger tiles cost more
 * additions per transform and round a little more (the transforms multiply
 * by 2, 4, 5 and divide by 6 and 24), and they waste work where the image
 * is not a multiple of 4 wide; conv.c chooses between the two.
 *
 * Same organisation as conv_winograd.h: tile rows of all images numbered
 * together, blocks of tile rows, V = B^T d B for each 6x6 input patch, one
 * matrix product over the input channels for each of the 36 positions xi,
 * M[xi] = U[xi] V[xi] with U = G w G^T, and A^T M A for the 4x4 outputs. The
 * input gradient is this forward pass with the flipped kernel; the weight
 * gradient stays with F(2x2, 3x3). Shapes as conv.h.
 */
#ifndef CNN_CONV_WINOGRAD4_H
#define CNN_CONV_WINOGRAD4_H

#include <stdbool.h>

#include "conv.h"

/* A 3x3 kernel at unit stride and dilation, of a size the tables index. */
bool cnn_conv2d_winograd4_ok(const cnn_conv2d_geom *g);
/* Floats of the transformed weights (after their offset table) and of the
 * scratch of one call (one per thread). */
int64_t cnn_conv2d_winograd4_packed_size(const cnn_conv2d_geom *g);
int64_t cnn_conv2d_winograd4_scratch(const cnn_conv2d_geom *g);
/* Tile rows in all, and at most per block (a call's unit of work). */
int64_t cnn_conv2d_winograd4_rows(const cnn_conv2d_geom *g);
int64_t cnn_conv2d_winograd4_block_rows(const cnn_conv2d_geom *g);

/* Weights (K x C/G x 3 x 3), transformed, into packed (packed_size floats,
 * 64-byte aligned), after the offset table of the products. */
void cnn_conv2d_winograd4_pack(const cnn_conv2d_geom *g, const float *weight, float *packed);
/* Group gr of the tile rows [row0, row1) (at most a block) of inp
 * (N x C x H x W) -> out (N x K x P x Q), plus bias (or NULL). */
void cnn_conv2d_winograd4_forward(const cnn_conv2d_geom *g, int64_t gr, const float *inp, const float *packed,
                                  const float *bias, float *out, int64_t row0, int64_t row1, float *scratch);

#endif
