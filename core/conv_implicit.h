/*
 * conv_implicit.h: stride-1 convolution as an implicit matrix product, for
 * layers with several input channels per group (conv_direct.h takes one).
 *
 * Each channel of an image is copied, zero-padded, into a plane Wp = W +
 * 2 pad_w floats wide. Output pixel (p, q) is then "wide" position j = p*Wp +
 * q, and tap (c, r, s) of every position is one fixed offset away:
 *   out[k][j] = bias[k] + sum over t = (c, r, s) of w[k][t] * xpad[off[t] + j]
 * so a run of consecutive positions reads a run of consecutive floats, for
 * every tap. The product is register-blocked like a matrix product whose
 * right operand is read in place (never unfolded or packed): a tile of MR
 * output channels by NR positions is accumulated over all taps, the weights
 * coming from a packed copy. Positions with q >= Q (the padding columns of
 * the wide rows) are computed and dropped. Small images whose padding
 * columns would cost more than copying take S shifted copies of the padded
 * image instead, rows Q wide: position j = p*Q + q, and tap (c, r, s) reads
 * copy s (conv_implicit.c). Shapes as conv.h.
 */
#ifndef CNN_CONV_IMPLICIT_H
#define CNN_CONV_IMPLICIT_H

#include <stdbool.h>

#include <string.h>

#include "conv.h"

/* Unit stride, any dilation, and offsets that fit the table. */
bool cnn_conv2d_implicit_ok(const cnn_conv2d_geom *g);
/* Floats of the packed weights and offset table of a layer (one copy, shared
 * by the threads), and of the scratch of one call (one per thread). */
int64_t cnn_conv2d_implicit_packed_size(const cnn_conv2d_geom *g);
int64_t cnn_conv2d_implicit_scratch(const cnn_conv2d_geom *g);
/* The positions of one image plane: output (p, q) is j = p * Wp + q, or
 * p * Q + q on shifted copies. */
int64_t cnn_conv2d_implicit_positions(const cnn_conv2d_geom *g);

/* Weights (K x C/G x R x S) into packed (packed_size floats, 64-byte
 * aligned), after the offset table; only the table when weight is NULL. */
void cnn_conv2d_implicit_pack(const cnn_conv2d_geom *g, const float *weight, float *packed);

/* Group gr of one image x (C x H x W) -> output channels [gr*K/G, (gr+1)*K/G)
 * of one image y (K x P x Q), at the wide positions [j0, j1) only (a multiple
 * of CNN_IMPLICIT_VECTOR, or the end), plus bias (or NULL); with relu,
 * rectified (NaN stays NaN). */
void cnn_conv2d_implicit_forward(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *packed,
                                 const float *bias, float *y, int64_t j0, int64_t j1, float *scratch, bool relu);

/* dweight rows of group gr += their gradients from one image x and its dy
 * (K x P x Q), with the offset table of packed (the weights themselves are
 * not read). dy is spread over the wide positions with zeros in the padding
 * columns, so the sums over positions are whole runs of vectors. */
void cnn_conv2d_implicit_weight_grad(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *dy,
                                     const float *packed, float *dweight, float *scratch);

/* The product itself, for other convolutions that read their right operand
 * in place (conv_winograd.c): rows [0, ktiles * mr) of c (ldc apart), at
 * columns [j0, j1) rounded up to whole vectors, = a (ktiles panels of depth x
 * mr floats, as packed here) times the rows x + off[t], t < depth. c and x
 * must have room for the whole vectors. */
void cnn_implicit_product(int mr, int64_t ktiles, int64_t depth, const float *a, const int32_t *off, const float *x,
                          int64_t j0, int64_t j1, float *c, int64_t ldc);
/* Its AVX-512 build (conv_implicit_avx512.c), which cnn_implicit_product
 * calls where cnn_isa_vector_avx512(); it writes exactly columns [j0, j1). */
void cnn_implicit_product_avx512(int mr, int64_t ktiles, int64_t depth, const float *a, const int32_t *off,
                                 const float *x, int64_t j0, int64_t j1, float *c, int64_t ldc);
/* And the products of rows: c[i*ldc + u] += sum over j < 8 steps of
 * d[i*ld + j] * x[off[u] + j], for i < rows, u < cols; d must have whole
 * tiles of mr rows (the rows past `rows` are read, not used). */
void cnn_implicit_row_products(int mr, int64_t rows, int64_t cols, int64_t steps, const float *d, int64_t ld,
                               const int32_t *off, const float *x, float *c, int64_t ldc);
/* Its AVX-512 build, likewise. */
void cnn_implicit_row_products_avx512(int mr, int64_t rows, int64_t cols, int64_t steps, const float *d, int64_t ld,
                                      const int32_t *off, const float *x, float *c, int64_t ldc);
/* The channels of a tile for a product with this many output rows: 4 or 6,
 * whichever leaves fewer idle; the columns of a tile of either divide
 * CNN_IMPLICIT_SPLIT. */
int cnn_implicit_tile_rows(int64_t channels);

/* Output channels of the narrowest and the widest tile; rows of positions
 * come in multiples of CNN_IMPLICIT_SPLIT (of every tile's width), and split
 * points of [0, positions) must be multiples of CNN_IMPLICIT_VECTOR (every
 * kernel stores whole vectors of positions from the first, or masks its last). */
#define CNN_IMPLICIT_MR 4
#define CNN_IMPLICIT_MR_MAX 6
#define CNN_IMPLICIT_SPLIT 48
#define CNN_IMPLICIT_VECTOR 8

/* Zeroes what the products read past T columns of a row (whole vectors: a
 * row ends with a tile as narrow as its tail) whose stride is T + 8 or more:
 * a vector's store, not a call to memset per row. */
static inline void cnn_implicit_zero_tail(float *row, int64_t T) {
  static const float zeros[8];
  memcpy(row + T, zeros, sizeof zeros);
}

#endif
