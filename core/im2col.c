/* im2col.c: patch unfolding and folding (see im2col.h). */
#include "im2col.h"

#include <string.h>

/* Output columns q whose input column q*stride - pad + off lies in [0, W):
 * [*lo, *hi). Skipping the rest leaves their zeros, without a test per pixel. */
static void valid_range(int64_t Q, int64_t W, int64_t stride, int64_t off, int64_t *lo, int64_t *hi) {
  int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t b = W - off <= 0 ? 0 : (W - off + stride - 1) / stride;
  if (b > Q) b = Q;
  if (a > b) a = b;
  *lo = a;
  *hi = b;
}

void cnn_im2col_row(const cnn_patch_geom *g, const float *inp, int64_t row, int64_t j0, int64_t n, float *dst) {
  int64_t c = row / (g->R * g->S), r = row / g->S % g->R, s = row % g->S;
  int64_t woff = s * g->dil_w - g->pad_w, lo, hi;
  valid_range(g->Q, g->W, g->stride_w, woff, &lo, &hi);
  for (int64_t j = j0, end = j0 + n; j < end;) {
    int64_t p = j / g->Q, q0 = j % g->Q, q1 = g->Q - q0 < end - j ? g->Q : q0 + (end - j);
    float *o = dst + (j - j0); /* o[q - q0]: column (p, q) */
    int64_t ih = p * g->stride_h - g->pad_h + r * g->dil_h;
    int64_t qa = q1, qb = q1; /* [qa, qb): the columns that see the image */
    if (ih >= 0 && ih < g->H) {
      qa = lo < q0 ? q0 : lo > q1 ? q1 : lo;
      qb = hi < qa ? qa : hi > q1 ? q1 : hi;
    }
    for (int64_t q = q0; q < qa; q++) o[q - q0] = 0.0f;
    if (qb > qa) {
      const float *src = inp + ((c * g->H + ih) * g->W + woff + qa * g->stride_w);
      if (g->stride_w == 1) memcpy(o + (qa - q0), src, (size_t)(qb - qa) * sizeof *o);
      else
        for (int64_t q = qa; q < qb; q++) o[q - q0] = src[(q - qa) * g->stride_w];
    }
    for (int64_t q = qb; q < q1; q++) o[q - q0] = 0.0f;
    j += q1 - q0;
  }
}

void cnn_im2col(const cnn_patch_geom *g, const float *inp, float *col) {
  int64_t PQ = g->P * g->Q;
  for (int64_t row = 0; row < g->C * g->R * g->S; row++) cnn_im2col_row(g, inp, row, 0, PQ, col + row * PQ);
}

void cnn_col2im(const cnn_patch_geom *g, const float *col, float *dinp) {
  int64_t PQ = g->P * g->Q;
  for (int64_t c = 0; c < g->C; c++)
    for (int64_t r = 0; r < g->R; r++)
      for (int64_t s = 0; s < g->S; s++) {
        const float *row = col + ((c * g->R + r) * g->S + s) * PQ;
        int64_t woff = s * g->dil_w - g->pad_w, lo, hi;
        valid_range(g->Q, g->W, g->stride_w, woff, &lo, &hi);
        for (int64_t p = 0; p < g->P; p++) {
          int64_t ih = p * g->stride_h - g->pad_h + r * g->dil_h;
          if (ih < 0 || ih >= g->H) continue;
          const float *src = row + p * g->Q;
          float *dst = dinp + (c * g->H + ih) * g->W + woff;
          for (int64_t q = lo; q < hi; q++) dst[q * g->stride_w] += src[q];
        }
      }
}
