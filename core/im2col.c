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

/* Short runs are the rule (a row of a small image), so the copies are plain
 * loops rather than calls, and nothing is divided per row but the strided
 * bounds. */
void cnn_im2col_rows(const cnn_patch_geom *g, const float *inp, int64_t row0, int64_t rows, int64_t j0, int64_t n,
                     float *dst, int64_t ld) {
  int64_t c = row0 / (g->R * g->S), r = row0 / g->S % g->R, s = row0 % g->S;
  int64_t p_first = j0 / g->Q, q_first = j0 % g->Q;
  for (int64_t i = 0; i < rows; i++, dst += ld) {
    int64_t woff = s * g->dil_w - g->pad_w, lo, hi;
    if (g->stride_w == 1) {
      lo = woff >= 0 ? 0 : -woff < g->Q ? -woff : g->Q;
      hi = g->W - woff < g->Q ? g->W - woff : g->Q;
      if (hi < lo) hi = lo;
    } else {
      valid_range(g->Q, g->W, g->stride_w, woff, &lo, &hi);
    }
    const float *plane = inp + c * g->H * g->W;
    float *d = dst;
    int64_t p = p_first, left = n;
    if (q_first == 0 && g->stride_w == 1) { /* whole output rows, unit stride: the common case */
      for (; left >= g->Q; p++, left -= g->Q, d += g->Q) {
        int64_t ih = p * g->stride_h - g->pad_h + r * g->dil_h;
        if (ih < 0 || ih >= g->H) {
          for (int64_t q = 0; q < g->Q; q++) d[q] = 0.0f;
          continue;
        }
        const float *src = plane + ih * g->W;
        for (int64_t q = 0; q < lo; q++) d[q] = 0.0f;
        for (int64_t q = lo; q < hi; q++) d[q] = src[q + woff];
        for (int64_t q = hi; q < g->Q; q++) d[q] = 0.0f;
      }
    }
    for (int64_t q0 = p == p_first ? q_first : 0; left > 0; p++, q0 = 0) {
      int64_t q1 = g->Q - q0 < left ? g->Q : q0 + left; /* this output row's columns: [q0, q1) */
      int64_t ih = p * g->stride_h - g->pad_h + r * g->dil_h;
      int64_t qa = q1, qb = q1; /* [qa, qb): the columns that see the image */
      if (ih >= 0 && ih < g->H) {
        qa = lo < q0 ? q0 : lo > q1 ? q1 : lo;
        qb = hi < qa ? qa : hi > q1 ? q1 : hi;
      }
      int64_t at = ih * g->W + woff; /* plane[at + q * stride_w]: what column q sees */
      for (int64_t q = q0; q < qa; q++) d[q - q0] = 0.0f;
      if (g->stride_w == 1)
        for (int64_t q = qa; q < qb; q++) d[q - q0] = plane[at + q];
      else
        for (int64_t q = qa; q < qb; q++) d[q - q0] = plane[at + q * g->stride_w];
      for (int64_t q = qb; q < q1; q++) d[q - q0] = 0.0f;
      d += q1 - q0;
      left -= q1 - q0;
    }
    if (++s == g->S) { /* the next row's tap */
      s = 0;
      if (++r == g->R) r = 0, c++;
    }
  }
}

void cnn_im2col(const cnn_patch_geom *g, const float *inp, float *col) {
  int64_t PQ = g->P * g->Q;
  cnn_im2col_rows(g, inp, 0, g->C * g->R * g->S, 0, PQ, col, PQ);
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
