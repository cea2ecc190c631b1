/*
 * sgemm_avx512.c: the AVX-512 micro-kernels (see sgemm.h). Compiled for the
 * baseline like every other file; only the functions below use 512-bit
 * instructions, and they run only after cnn_isa_active() found the CPU able.
 *
 * gemm: a 6 x 64 tile of c in 24 zmm accumulators. Per step of depth, four
 * loads of the b panel and six broadcasts of the a panel feed 24 FMAs (two
 * FMA pipes with a latency of 3-4 cycles need at least 8 independent chains).
 * dot: a 4 x 6 tile of row products, 16 lanes per accumulator, summed across
 * lanes once at the end.
 */
#include <immintrin.h>

#include "sgemm.h"

/* The specs also compile this file against software versions of the
 * intrinsics (spec/support/emu), to check its logic on CPUs without AVX-512. */
#ifndef CNN_SOFTWARE_INTRINSICS
#pragma GCC target("avx512f,fma")
#endif

#define MR 6
#define NR 64

static inline __mmask16 lanes(int used, int v) {
  int left = used - 16 * v;
  return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

#define ROW_FMA(i)                                                                                                     \
  do {                                                                                                                 \
    __m512 x = _mm512_set1_ps(a[i]);                                                                                   \
    c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0);                                                                         \
    c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1);                                                                         \
    c##i##2 = _mm512_fmadd_ps(x, b2, c##i##2);                                                                         \
    c##i##3 = _mm512_fmadd_ps(x, b3, c##i##3);                                                                         \
  } while (0)

#define STORE(i, j)                                                                                                    \
  do {                                                                                                                 \
    float *dst = c + (i) * ldc + 16 * (j);                                                                             \
    __m512 v = c##i##j;                                                                                                \
    if (acc) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m##j, dst));                                                  \
    _mm512_mask_storeu_ps(dst, m##j, v);                                                                               \
  } while (0)

#define STORE_ROW(i)                                                                                                   \
  if (i < mr_used) {                                                                                                   \
    STORE(i, 0);                                                                                                       \
    STORE(i, 1);                                                                                                       \
    STORE(i, 2);                                                                                                       \
    STORE(i, 3);                                                                                                       \
  }

static void gemm_6x64(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr_used, int nr_used,
                      bool acc) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
  __m512 c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
  for (int64_t p = 0; p < kc; p++, a += MR, b += NR) {
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32),
           b3 = _mm512_load_ps(b + 48);
    ROW_FMA(0);
    ROW_FMA(1);
    ROW_FMA(2);
    ROW_FMA(3);
    ROW_FMA(4);
    ROW_FMA(5);
  }
  __mmask16 m0 = lanes(nr_used, 0), m1 = lanes(nr_used, 1), m2 = lanes(nr_used, 2), m3 = lanes(nr_used, 3);
  STORE_ROW(0)
  STORE_ROW(1)
  STORE_ROW(2)
  STORE_ROW(3)
  STORE_ROW(4)
  STORE_ROW(5)
}

static void dot_4x6(int64_t len, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n, float *c,
                    int64_t ldc) {
  const float *ar[4], *br[6];
  for (int i = 0; i < 4; i++) ar[i] = a + (i < m ? i : m - 1) * lda; /* rows past m repeat the last */
  for (int j = 0; j < 6; j++) br[j] = b + (j < n ? j : n - 1) * ldb;
  __m512 s[4][6];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) s[i][j] = _mm512_setzero_ps();
  for (int64_t t = 0; t < len; t += 16) {
    __mmask16 mk = lanes((int)(len - t < 16 ? len - t : 16), 0);
    __m512 x[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) x[i] = _mm512_maskz_loadu_ps(mk, ar[i] + t);
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
      __m512 y = _mm512_maskz_loadu_ps(mk, br[j] + t);
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) s[i][j] = _mm512_fmadd_ps(x[i], y, s[i][j]);
    }
  }
  float r[4][6];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) r[i][j] = _mm512_reduce_add_ps(s[i][j]);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) c[i * ldc + j] += r[i][j];
}

const cnn_isa cnn_isa_avx512 = {"avx512", MR, NR, gemm_6x64, dot_4x6};
