/*
 * conv_implicit_avx512.c: the implicit product (conv_implicit.h) with 512-bit
 * vectors, for the implicit convolutions and Winograd's products. Compiled
 * for the baseline like every other file; only the functions below use
 * AVX-512 instructions, and they run only after cnn_isa_vector_avx512()
 * found the CPU able.
 *
 * A tile holds 24 zmm accumulators: 4 channels x 96 positions (6 vectors)
 * when the weights are packed in fours, 6 x 64 (4 vectors) in sixes. Per tap
 * it loads the image at one offset per vector and broadcasts one weight per
 * channel, for 24 fused multiply-adds. The last tile of a row of products is
 * as many vectors as its positions need, the last of them masked: masked
 * lanes are neither read nor written.
 *
 * The row products of the weight gradients: 4 channels x 6 taps (6 x 4)
 * accumulators of 16 lanes, each summed across its lanes once at the end.
 */
#include <immintrin.h>

#include "conv_implicit.h"

/* The specs also compile this file against software versions of the
 * intrinsics (spec/support/emu), to check its logic on CPUs without AVX-512. */
#ifndef CNN_SOFTWARE_INTRINSICS
#pragma GCC target("avx512f")
#endif

static inline __mmask16 lanes(int64_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

/* c[i*ldc + 0 .. cols) = sum over taps t < n of a[t][i] * x[off[t] + 0 ..
 * cols), for i < mr, with cols at most 16 nv. */
#define TILE_BODY(mr, nv)                                                                                              \
  do {                                                                                                                 \
    __mmask16 m[nv];                                                                                                   \
    __m512 acc[mr][nv];                                                                                                \
    _Pragma("GCC unroll 6") for (int v = 0; v < nv; v++) m[v] = lanes(cols - 16 * v);                                 \
    _Pragma("GCC unroll 6") for (int i = 0; i < mr; i++) _Pragma("GCC unroll 6") for (int v = 0; v < nv; v++)         \
        acc[i][v] = _mm512_setzero_ps();                                                                               \
    for (int64_t t = 0; t < n; t++, a += mr) {                                                                         \
      const float *xp = x + off[t];                                                                                    \
      __m512 b[nv];                                                                                                    \
      _Pragma("GCC unroll 6") for (int v = 0; v < nv; v++) b[v] = _mm512_maskz_loadu_ps(m[v], xp + 16 * v);           \
      _Pragma("GCC unroll 6") for (int i = 0; i < mr; i++) {                                                           \
        __m512 s = _mm512_set1_ps(a[i]);                                                                               \
        _Pragma("GCC unroll 6") for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(s, b[v], acc[i][v]);          \
      }                                                                                                                \
    }                                                                                                                  \
    _Pragma("GCC unroll 6") for (int i = 0; i < mr; i++) _Pragma("GCC unroll 6") for (int v = 0; v < nv; v++)         \
        _mm512_mask_storeu_ps(c + i * ldc + 16 * v, m[v], acc[i][v]);                                                  \
  } while (0)

typedef void tile_fn(int64_t n, const float *a, const int32_t *off, const float *x, float *c, int64_t ldc,
                     int64_t cols);

#define TILE(mr, nv)                                                                                                   \
  static void tile##mr##x##nv(int64_t n, const float *a, const int32_t *off, const float *x, float *c, int64_t ldc,  \
                              int64_t cols) {                                                                          \
    TILE_BODY(mr, nv);                                                                                                 \
  }
TILE(4, 1)
TILE(4, 2)
TILE(4, 3)
TILE(4, 4)
TILE(4, 5)
TILE(4, 6)
TILE(6, 1)
TILE(6, 2)
TILE(6, 3)
TILE(6, 4)

/* Tiles by vectors of positions, whole tiles last. */
static tile_fn *const tiles4[] = {tile4x1, tile4x2, tile4x3, tile4x4, tile4x5, tile4x6};
static tile_fn *const tiles6[] = {tile6x1, tile6x2, tile6x3, tile6x4};

/* Positions per block: its window of the image is reused by every tile of
 * channels, as in the AVX2 product. */
#define BLOCK 192

void cnn_implicit_product_avx512(int mr, int64_t ktiles, int64_t depth, const float *a, const int32_t *off,
                                 const float *x, int64_t j0, int64_t j1, float *c, int64_t ldc) {
  int nv = mr == 6 ? 4 : 6;
  tile_fn *const *tiles = mr == 6 ? tiles6 : tiles4;
  for (int64_t jb = j0; jb < j1; jb += BLOCK)
    for (int64_t kt = 0; kt < ktiles; kt++)
      for (int64_t j = jb; j < jb + BLOCK && j < j1; j += 16 * nv) { /* BLOCK: whole tiles of either width */
        int64_t cols = j1 - j < 16 * nv ? j1 - j : 16 * nv;
        tiles[(cols + 15) / 16 - 1](depth, a + kt * depth * mr, off, x + j, c + kt * mr * ldc + j, ldc, cols);
      }
}

/* sums[i][u] = sum over j < len of d[i*ld + j] * x[o[u] + j], i < mr, u < wt. */
#define ROWS_BODY(mr, wt)                                                                                              \
  do {                                                                                                                 \
    __m512 acc[mr][wt];                                                                                                \
    _Pragma("GCC unroll 6") for (int i = 0; i < mr; i++) _Pragma("GCC unroll 6") for (int u = 0; u < wt; u++)         \
        acc[i][u] = _mm512_setzero_ps();                                                                               \
    for (int64_t j = 0; j < len; j += 16) {                                                                            \
      __mmask16 m = lanes(len - j);                                                                                    \
      __m512 xv[wt];                                                                                                   \
      _Pragma("GCC unroll 6") for (int u = 0; u < wt; u++) xv[u] = _mm512_maskz_loadu_ps(m, x + o[u] + j);            \
      _Pragma("GCC unroll 6") for (int i = 0; i < mr; i++) {                                                           \
        __m512 dv = _mm512_maskz_loadu_ps(m, d + i * ld + j);                                                         \
        _Pragma("GCC unroll 6") for (int u = 0; u < wt; u++) acc[i][u] = _mm512_fmadd_ps(dv, xv[u], acc[i][u]);        \
      }                                                                                                                \
    }                                                                                                                  \
    _Pragma("GCC unroll 6") for (int i = 0; i < mr; i++) _Pragma("GCC unroll 6") for (int u = 0; u < wt; u++)         \
        sums[i * wt + u] = _mm512_reduce_add_ps(acc[i][u]);                                                            \
  } while (0)

static void rows4x6(int64_t len, const float *d, int64_t ld, const int32_t *o, const float *x, float *sums) {
  ROWS_BODY(4, 6);
}
static void rows6x4(int64_t len, const float *d, int64_t ld, const int32_t *o, const float *x, float *sums) {
  ROWS_BODY(6, 4);
}

void cnn_implicit_row_products_avx512(int mr, int64_t rows, int64_t cols, int64_t steps, const float *d, int64_t ld,
                                      const int32_t *off, const float *x, float *c, int64_t ldc) {
  int wt = mr == 6 ? 4 : 6;
  float sums[24];
  for (int64_t i0 = 0; i0 < rows; i0 += mr) {
    int m = rows - i0 < mr ? (int)(rows - i0) : mr;
    for (int64_t u0 = 0; u0 < cols; u0 += wt) {
      int used = cols - u0 < wt ? (int)(cols - u0) : wt;
      int32_t o[6];
      for (int u = 0; u < wt; u++) o[u] = off[u0 + (u < used ? u : 0)];
      if (mr == 6) rows6x4(8 * steps, d + i0 * ld, ld, o, x, sums);
      else rows4x6(8 * steps, d + i0 * ld, ld, o, x, sums);
      for (int i = 0; i < m; i++)
        for (int u = 0; u < used; u++) c[(i0 + i) * ldc + u0 + u] += sums[i * wt + u];
    }
  }
}
