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

void cnn_im2col(const cnn_patch_geom *g, const float *inp, float *col) {
  int64_t PQ = g->P * g->Q;
  for (int64_t c = 0; c < g->C; c++)
    for (int64_t r = 0; r < g->R; r++)
      for (int64_t s = 0; s < g->S; s++) {
        float *row = col + ((c * g->R + r) * g->S + s) * PQ;
        int64_t woff = s * g->dil_w - g->pad_w, lo, hi;
        valid_range(g->Q, g->W, g->stride_w, woff, &lo, &hi);
        for (int64_t p = 0; p < g->P; p++) {
          float *dst = row + p * g->Q;
          int64_t ih = p * g->stride_h - g->pad_h + r * g->dil_h;
          if (ih < 0 || ih >= g->H) {
            memset(dst, 0, (size_t)g->Q * sizeof *dst);
            continue;
          }
          const float *src = inp + (c * g->H + ih) * g->W + woff;
          for (int64_t q = 0; q < lo; q++) dst[q] = 0.0f;
          if (g->stride_w == 1) memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof *dst);
          else
            for (int64_t q = lo; q < hi; q++) dst[q] = src[q * g->stride_w];
          for (int64_t q = hi; q < g->Q; q++) dst[q] = 0.0f;
        }
      }
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
