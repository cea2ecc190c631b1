/*
 * im2col.h: unfolding image patches into columns, and folding them back, so
 * that a convolution becomes one matrix product per image and group.
 *
 * For one image of C channels, H x W, a kernel of R x S taps and an output of
 * P x Q positions, the column matrix is (C*R*S) x (P*Q): row (c*R + r)*S + s
 * holds, for every output position (p, q), the input pixel that tap (r, s) of
 * channel c sees there, or 0 where that pixel is padding.
 */
#ifndef CNN_IM2COL_H
#define CNN_IM2COL_H

#include <stdint.h>

typedef struct cnn_patch_geom {
  int64_t C, H, W; /* input channels and size */
  int64_t R, S;    /* kernel taps */
  int64_t P, Q;    /* output size */
  int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
} cnn_patch_geom;

/* inp: C x H x W -> col: (C*R*S) x (P*Q) */
void cnn_im2col(const cnn_patch_geom *g, const float *inp, float *col);
/* Columns [j0, j0 + n) of rows [row0, row0 + rows) of the column matrix of
 * inp, into dst (row stride ld). */
void cnn_im2col_rows(const cnn_patch_geom *g, const float *inp, int64_t row0, int64_t rows, int64_t j0, int64_t n,
                     float *dst, int64_t ld);
/* col: (C*R*S) x (P*Q) -> dinp: C x H x W, accumulated (+=) */
void cnn_col2im(const cnn_patch_geom *g, const float *col, float *dinp);

#endif
