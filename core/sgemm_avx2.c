/*
 * sgemm_avx2.c: the AVX2 + FMA micro-kernels (see sgemm.h and
 * sgemm_avx512.c), for x86-64 CPUs without AVX-512.
 *
 * gemm: a 6 x 16 tile of c in 12 ymm accumulators (two loads of b and six
 * broadcasts of a per step of depth). dot: the 4 x 6 tile in two halves of
 * 4 x 3, so that accumulators and operands fit in the 16 registers.
 */
#include <immintrin.h>

#include "sgemm.h"

#pragma GCC target("avx2,fma")

#define MR 6
#define NR 16

/* Lanes of a vector of 8 whose column is below used - 8 * v. */
static inline __m256i lanes(int used, int v) {
  __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(used - 8 * v), iota);
}

#define ROW_FMA(i)                                                                                                     \
  do {                                                                                                                 \
    __m256 x = _mm256_broadcast_ss(a + i);                                                                             \
    c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0);                                                                         \
    c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);                                                                         \
  } while (0)

#define STORE(i, j)                                                                                                    \
  do {                                                                                                                 \
    float *dst = c + (i) * ldc + 8 * (j);                                                                              \
    __m256 v = c##i##j;                                                                                                \
    if (acc) v = _mm256_add_ps(v, _mm256_maskload_ps(dst, m##j));                                                      \
    _mm256_maskstore_ps(dst, m##j, v);                                                                                 \
  } while (0)

#define STORE_ROW(i)                                                                                                   \
  if (i < mr_used) {                                                                                                   \
    STORE(i, 0);                                                                                                       \
    STORE(i, 1);                                                                                                       \
  }

#define FULL(i, j)                                                                                                     \
  do {                                                                                                                 \
    float *dst = c + (i) * ldc + 8 * (j);                                                                              \
    __m256 v = c##i##j;                                                                                                \
    if (acc) v = _mm256_add_ps(v, _mm256_loadu_ps(dst));                                                               \
    _mm256_storeu_ps(dst, v);                                                                                          \
  } while (0)

#define FULL_ROW(i)                                                                                                    \
  if (i < mr_used) {                                                                                                   \
    FULL(i, 0);                                                                                                        \
    FULL(i, 1);                                                                                                        \
  }

static void gemm_6x16(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr_used, int nr_used,
                      bool acc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; p++, a += MR, b += NR) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    ROW_FMA(0);
    ROW_FMA(1);
    ROW_FMA(2);
    ROW_FMA(3);
    ROW_FMA(4);
    ROW_FMA(5);
  }
  if (nr_used == NR) { /* masked moves are slow on some CPUs: plain ones for whole tiles */
    FULL_ROW(0)
    FULL_ROW(1)
    FULL_ROW(2)
    FULL_ROW(3)
    FULL_ROW(4)
    FULL_ROW(5)
    return;
  }
  __m256i m0 = lanes(nr_used, 0), m1 = lanes(nr_used, 1);
  STORE_ROW(0)
  STORE_ROW(1)
  STORE_ROW(2)
  STORE_ROW(3)
  STORE_ROW(4)
  STORE_ROW(5)
}

static float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* Rows ar[0..3] times rows br[0..2], accumulated into r (4 x 3). */
static void dot_4x3(int64_t len, const float *const ar[4], const float *const br[3], float r[4][3]) {
  __m256 s[4][3];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++)
#pragma GCC unroll 3
    for (int j = 0; j < 3; j++) s[i][j] = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 8 <= len; t += 8) {
    __m256 x[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) x[i] = _mm256_loadu_ps(ar[i] + t);
#pragma GCC unroll 3
    for (int j = 0; j < 3; j++) {
      __m256 y = _mm256_loadu_ps(br[j] + t);
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) s[i][j] = _mm256_fmadd_ps(x[i], y, s[i][j]);
    }
  }
  if (t < len) { /* the last 1-7 columns, through masked loads */
    __m256i mk = lanes((int)(len - t), 0);
    __m256 x[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) x[i] = _mm256_maskload_ps(ar[i] + t, mk);
#pragma GCC unroll 3
    for (int j = 0; j < 3; j++) {
      __m256 y = _mm256_maskload_ps(br[j] + t, mk);
#pragma GCC unroll 4
      for (int i = 0; i < 4; i++) s[i][j] = _mm256_fmadd_ps(x[i], y, s[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++)
#pragma GCC unroll 3
    for (int j = 0; j < 3; j++) r[i][j] = hsum(s[i][j]);
}

static void dot_4x6(int64_t len, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n, float *c,
                    int64_t ldc) {
  const float *ar[4], *br[6];
  for (int i = 0; i < 4; i++) ar[i] = a + (i < m ? i : m - 1) * lda; /* rows past m repeat the last */
  for (int j = 0; j < 6; j++) br[j] = b + (j < n ? j : n - 1) * ldb;
  for (int half = 0; half < (n > 3 ? 2 : 1); half++) {
    float r[4][3];
    dot_4x3(len, ar, br + 3 * half, r);
    for (int i = 0; i < m; i++)
      for (int j = 3 * half; j < n && j < 3 * half + 3; j++) c[i * ldc + j] += r[i][j - 3 * half];
  }
}

const cnn_isa cnn_isa_avx2 = {"avx2", MR, NR, gemm_6x16, dot_4x6};
