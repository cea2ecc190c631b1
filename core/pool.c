/* pool.c: pooling kernels (see pool.h for the semantics). */
#include "pool.h"

#include <emmintrin.h>
#include <immintrin.h>

#include <math.h>
#include <string.h>

#include "parallel.h"
#include "sgemm.h"

static int64_t out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil, bool ceil_mode) {
  int64_t span = in + 2 * pad - dil * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t o = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (o - 1) * stride >= in + pad) o--; /* the last window must start inside input or left padding */
  return o;
}

cnn_status cnn_pool2d_geom_init(cnn_pool2d_geom *g, const int64_t inp_shape[4], const int64_t k[2],
                                const int64_t stride[2], const int64_t pad[2], const int64_t dil[2],
                                bool ceil_mode, bool count_include_pad, cnn_error *err) {
  int64_t o[2];
  for (int i = 0; i < 2; i++) {
    if (k[i] < 1) return cnn_error_set(err, CNN_EINVAL, "kernel size must be positive, got %lld", (long long)k[i]);
    if (stride[i] < 1) return cnn_error_set(err, CNN_EINVAL, "stride must be positive, got %lld", (long long)stride[i]);
    if (dil[i] < 1) return cnn_error_set(err, CNN_EINVAL, "dilation must be positive, got %lld", (long long)dil[i]);
    int64_t eff = (k[i] - 1) * dil[i] + 1;
    if (pad[i] < 0 || pad[i] > eff / 2)
      return cnn_error_set(err, CNN_EINVAL, "padding %lld must be between 0 and half the kernel size %lld",
                           (long long)pad[i], (long long)eff);
    int64_t in = inp_shape[2 + i];
    o[i] = out_size(in, k[i], stride[i], pad[i], dil[i], ceil_mode);
    if (o[i] < 1)
      return cnn_error_set(err, CNN_EINVAL, "output size is zero: input %lldx%lld is smaller than the kernel %lldx%lld "
                           "(padding %lld, dilation %lld)", (long long)inp_shape[2], (long long)inp_shape[3],
                           (long long)k[0], (long long)k[1], (long long)pad[i], (long long)dil[i]);
  }
  *g = (cnn_pool2d_geom){inp_shape[0], inp_shape[1], inp_shape[2], inp_shape[3], o[0], o[1],
                         {k[0], k[1]}, {stride[0], stride[1]}, {pad[0], pad[1]}, {dil[0], dil[1]},
                         ceil_mode, count_include_pad};
  return CNN_OK;
}

/* Taps i in [*lo, *hi) of a window starting at start (stride dil) that fall inside [0, size). */
static void taps(int64_t start, int64_t k, int64_t dil, int64_t size, int64_t *lo, int64_t *hi) {
  *lo = start < 0 ? (-start + dil - 1) / dil : 0;
  int64_t end = size - start <= 0 ? 0 : (size - start + dil - 1) / dil;
  *hi = end < k ? end : k;
}

typedef struct {
  const cnn_pool2d_geom *g;
  const float *inp;
  float *out, *idx;
} max_job;

/* A larger value, or the first NaN, replaces the current maximum. The choice
 * is made with bit masks, not branches: on real data the comparisons go
 * either way at random, and a mispredicted branch costs more than the rest. */
static inline void take(float v, int64_t pos, float *best, int64_t *at) {
  int t = (v > *best) | ((v != v) & (*best == *best));
  int64_t m = -(int64_t)t;
  uint32_t vb, bb, m32 = (uint32_t)m;
  memcpy(&vb, &v, 4);
  memcpy(&bb, best, 4);
  bb = (bb & ~m32) | (vb & m32);
  memcpy(best, &bb, 4);
  *at = (*at & ~m) | (pos & m);
}

/* v replaces best where v > best, or v is NaN and best is not (the first
 * maximum in scan order wins; a NaN wins and stays): take(), four lanes at once. */
static inline void take4(__m128 v, __m128 pos, __m128 *best, __m128 *at) {
  __m128 t = _mm_or_ps(_mm_cmpgt_ps(v, *best), _mm_andnot_ps(_mm_cmpunord_ps(*best, *best), _mm_cmpunord_ps(v, v)));
  *best = _mm_or_ps(_mm_and_ps(t, v), _mm_andnot_ps(t, *best));
  *at = _mm_or_ps(_mm_and_ps(t, pos), _mm_andnot_ps(t, *at));
}

/* The maximum of four vectors without NaNs, the first of equal ones where
 * they tie (+0 and -0), as take() would leave it: max(b, a) is a unless b > a. */
#define FIRST_MAX(max, a, b, c, d) max(max(d, c), max(b, a))

/* One output row of 2x2/2 max pooling: the window maxima and their offsets in
 * the plane (as floats), four windows at a time with SSE2 (every x86-64 has
 * it), the last four ending at the row's end (short rows of small planes
 * would otherwise spend most of their time in a scalar tail); row0 starts at
 * offset base. */
static inline __attribute__((always_inline)) void max_row_2x2(const float *row0, const float *row1, int64_t Q,
                                                              int64_t W, int64_t base, float *out, float *idx) {
  int64_t q = 0;
  __m128 step = _mm_set_ps(6.0f, 4.0f, 2.0f, 0.0f);
  for (int64_t next = 0; Q >= 4 && next < Q; next += 4) {
    q = next + 4 <= Q ? next : Q - 4; /* the last four end at Q, again over some windows: no scalar tail */
    __m128 a0 = _mm_loadu_ps(row0 + 2 * q), a1 = _mm_loadu_ps(row0 + 2 * q + 4);
    __m128 b0 = _mm_loadu_ps(row1 + 2 * q), b1 = _mm_loadu_ps(row1 + 2 * q + 4);
    if (!idx) { /* no positions: maxima in a tree, unless a NaN is among them */
      __m128 e0 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)), o0 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
      __m128 e1 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), o1 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
      if (!_mm_movemask_ps(_mm_or_ps(_mm_cmpunord_ps(e0, o0), _mm_cmpunord_ps(e1, o1)))) {
        _mm_storeu_ps(out + q, FIRST_MAX(_mm_max_ps, e0, o0, e1, o1));
        continue;
      }
    }
    __m128 pos = _mm_add_ps(_mm_set1_ps((float)(base + 2 * q)), step);
    __m128 best = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)), at = pos;
    take4(_mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)), _mm_add_ps(pos, _mm_set1_ps(1.0f)), &best, &at);
    take4(_mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), _mm_add_ps(pos, _mm_set1_ps((float)W)), &best, &at);
    take4(_mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)), _mm_add_ps(pos, _mm_set1_ps((float)(W + 1))), &best, &at);
    _mm_storeu_ps(out + q, best);
    if (idx) _mm_storeu_ps(idx + q, at);
  }
  for (q = Q >= 4 ? Q : 0; q < Q; q++) {
    int64_t pos = base + 2 * q;
    float best = row0[2 * q];
    int64_t at = pos;
    take(row0[2 * q + 1], pos + 1, &best, &at);
    take(row1[2 * q], pos + W, &best, &at);
    take(row1[2 * q + 1], pos + W + 1, &best, &at);
    out[q] = best;
    if (idx) idx[q] = (float)at;
  }
}

/* max_row_2x2 eight windows at a time with AVX2, for rows of 8 windows or
 * more (the last eight ending at the row's end). The even and odd columns
 * are split within each 128-bit half, which leaves the windows in the order
 * 0 1 4 5 2 3 6 7: the positions follow that order, and one permutation of
 * 64-bit pairs puts the results back. */
__attribute__((target("avx2"), always_inline)) static inline void max_row_2x2_avx2(const float *row0,
                                                                                 const float *row1, int64_t Q,
                                                                                 int64_t W, int64_t base, float *out,
                                                                                 float *idx) {
  const __m256 step = _mm256_set_ps(14.0f, 12.0f, 6.0f, 4.0f, 10.0f, 8.0f, 2.0f, 0.0f);
  for (int64_t next = 0; next < Q; next += 8) {
    int64_t q = next + 8 <= Q ? next : Q - 8;
    __m256 a0 = _mm256_loadu_ps(row0 + 2 * q), a1 = _mm256_loadu_ps(row0 + 2 * q + 8);
    __m256 b0 = _mm256_loadu_ps(row1 + 2 * q), b1 = _mm256_loadu_ps(row1 + 2 * q + 8);
    if (!idx) { /* as in max_row_2x2 */
      __m256 e0 = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)), o0 = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
      __m256 e1 = _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), o1 = _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
      __m256 nan = _mm256_or_ps(_mm256_cmp_ps(e0, o0, _CMP_UNORD_Q), _mm256_cmp_ps(e1, o1, _CMP_UNORD_Q));
      if (_mm256_testz_ps(nan, nan)) {
        __m256 best = FIRST_MAX(_mm256_max_ps, e0, o0, e1, o1);
        _mm256_storeu_ps(out + q, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), _MM_SHUFFLE(3, 1, 2, 0))));
        continue;
      }
    }
    __m256 pos = _mm256_add_ps(_mm256_set1_ps((float)(base + 2 * q)), step);
    __m256 best = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)), at = pos;
    __m256 cand[3] = {_mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)), _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)),
                      _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1))};
    float off[3] = {1.0f, (float)W, (float)(W + 1)};
    for (int c = 0; c < 3; c++) { /* take(), eight lanes at once */
      __m256 v = cand[c];
      __m256 t = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                              _mm256_andnot_ps(_mm256_cmp_ps(best, best, _CMP_UNORD_Q), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
      best = _mm256_blendv_ps(best, v, t);
      at = _mm256_blendv_ps(at, _mm256_add_ps(pos, _mm256_set1_ps(off[c])), t);
    }
    _mm256_storeu_ps(out + q, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), _MM_SHUFFLE(3, 1, 2, 0))));
    if (idx)
      _mm256_storeu_ps(idx + q, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(at), _MM_SHUFFLE(3, 1, 2, 0))));
  }
}

/* The common 2x2 window with stride 2 and no padding: every window is whole. */
/* Every row of planes [first, last), the row kernel inlined into the loop
 * (a call per row cost as much as a row of 7 to 14 windows at batch 1). */
#define MAX_PLANES_2X2(row)                                                                                            \
  do {                                                                                                                 \
    const cnn_pool2d_geom *g = j->g;                                                                                   \
    int64_t W = g->W, HW = g->H * g->W, PQ = g->P * g->Q;                                                              \
    for (int64_t plane = first; plane < last; plane++) {                                                               \
      const float *x = j->inp + plane * HW;                                                                            \
      float *out = j->out + plane * PQ, *idx = j->idx ? j->idx + plane * PQ : NULL;                                    \
      for (int64_t p = 0; p < g->P; p++)                                                                               \
        row(x + 2 * p * W, x + (2 * p + 1) * W, g->Q, W, 2 * p * W, out + p * g->Q, idx ? idx + p * g->Q : NULL);      \
    }                                                                                                                  \
  } while (0)
static void max_planes_2x2_sse(const max_job *j, int64_t first, int64_t last) { MAX_PLANES_2X2(max_row_2x2); }
__attribute__((target("avx2"))) static void max_planes_2x2_avx2(const max_job *j, int64_t first, int64_t last) {
  MAX_PLANES_2X2(max_row_2x2_avx2);
}
static void max_planes_2x2(const max_job *j, int64_t first, int64_t last) {
  (j->g->Q >= 8 && cnn_isa_vector_avx2() ? max_planes_2x2_avx2 : max_planes_2x2_sse)(j, first, last);
}

static bool is_2x2(const cnn_pool2d_geom *g) {
  return g->k[0] == 2 && g->k[1] == 2 && g->stride[0] == 2 && g->stride[1] == 2 && g->pad[0] == 0 &&
         g->pad[1] == 0 && g->dil[0] == 1 && g->dil[1] == 1 && 2 * g->P <= g->H && 2 * g->Q <= g->W;
}

/* The maximum of window (p, q) of plane x, and its position (-1 for a
 * window wholly in the padding). */
static int64_t window_max(const cnn_pool2d_geom *g, const float *x, int64_t p, int64_t q, float *max) {
  int64_t hs = p * g->stride[0] - g->pad[0], ws = q * g->stride[1] - g->pad[1], i0, i1, j0, j1;
  taps(hs, g->k[0], g->dil[0], g->H, &i0, &i1);
  taps(ws, g->k[1], g->dil[1], g->W, &j0, &j1);
  float best = -INFINITY;
  int64_t at = -1;
  if (i0 < i1 && j0 < j1) {
    at = (hs + i0 * g->dil[0]) * g->W + ws + j0 * g->dil[1];
    best = x[at];
  }
  for (int64_t i = i0; i < i1; i++)
    for (int64_t jj = j0; jj < j1; jj++) {
      int64_t pos = (hs + i * g->dil[0]) * g->W + ws + jj * g->dil[1];
      take(x[pos], pos, &best, &at);
    }
  *max = best;
  return at;
}

static void max_planes(void *ctx, int64_t first, int64_t last, int thread) {
  (void)thread;
  const max_job *j = ctx;
  const cnn_pool2d_geom *g = j->g;
  if (is_2x2(g)) {
    max_planes_2x2(j, first, last);
    return;
  }
  int64_t HW = g->H * g->W, PQ = g->P * g->Q;
  for (int64_t plane = first; plane < last; plane++)
    for (int64_t p = 0, i = plane * PQ; p < g->P; p++)
      for (int64_t q = 0; q < g->Q; q++, i++) {
        int64_t at = window_max(g, j->inp + plane * HW, p, q, &j->out[i]);
        if (j->idx) j->idx[i] = (float)at;
      }
}

void cnn_max_pool2d_forward(const cnn_pool2d_geom *g, const float *inp, float *out, float *idx) {
  max_job j = {g, inp, out, idx};
  cnn_parallel_for(g->N * g->C, cnn_parallel_grain(g->H * g->W), max_planes, &j);
}

typedef struct {
  const cnn_pool2d_geom *g;
  const float *inp, *dout, *idx; /* no idx: the maxima are found again in inp */
  float *dinp;
  bool bad[CNN_MAX_THREADS]; /* a thread met an index outside the plane (or, 2x2, its window) */
} max_back_job;

/* Scatters each gradient to its index; an index outside the plane is skipped
 * and reported (indices come from the caller). */
static void max_back_planes(void *ctx, int64_t first, int64_t last, int thread) {
  max_back_job *j = ctx;
  const cnn_pool2d_geom *g = j->g;
  int64_t HW = g->H * g->W, PQ = g->P * g->Q;
  memset(j->dinp + first * HW, 0, (size_t)((last - first) * HW) * sizeof(float));
  for (int64_t plane = first; plane < last; plane++)
    for (int64_t i = 0; i < PQ; i++) {
      if (!j->idx) { /* found again, as forward found it */
        float max;
        int64_t at = window_max(g, j->inp + plane * HW, i / g->Q, i % g->Q, &max);
        if (at >= 0) j->dinp[plane * HW + at] += j->dout[plane * PQ + i];
        continue;
      }
      float v = j->idx[plane * PQ + i];
      if (v == -1.0f) continue; /* a window wholly in the padding */
      if (!(v >= 0.0f && v < (float)HW)) {
        j->bad[thread] = true;
        continue;
      }
      j->dinp[plane * HW + (int64_t)v] += j->dout[plane * PQ + i];
    }
}

/* 2x2/2 windows: each window's four inputs written once (the gradient where
 * the index points, zeros elsewhere), no clearing pass and no scatter. One
 * row of windows, eight at a time with AVX2 (Q >= 8, the last eight ending at
 * Q); whether an index lay outside its window. */
__attribute__((target("avx2"))) static bool max_back_row_2x2_avx2(const float *ip, const float *gp, int64_t Q,
                                                                  int64_t W, int64_t base, float *r0, float *r1) {
  const __m256 step = _mm256_set_ps(14.0f, 12.0f, 10.0f, 8.0f, 6.0f, 4.0f, 2.0f, 0.0f), one = _mm256_set1_ps(1.0f),
               w0 = _mm256_set1_ps((float)W), w1 = _mm256_set1_ps((float)(W + 1));
  bool bad = false;
  for (int64_t next = 0; next < Q; next += 8) {
    int64_t q = next + 8 <= Q ? next : Q - 8;
    __m256 at = _mm256_sub_ps(_mm256_loadu_ps(ip + q), _mm256_add_ps(_mm256_set1_ps((float)(base + 2 * q)), step));
    __m256 v = _mm256_loadu_ps(gp + q), zero = _mm256_setzero_ps();
    __m256 m0 = _mm256_cmp_ps(at, zero, _CMP_EQ_OQ), m1 = _mm256_cmp_ps(at, one, _CMP_EQ_OQ);
    __m256 m2 = _mm256_cmp_ps(at, w0, _CMP_EQ_OQ), m3 = _mm256_cmp_ps(at, w1, _CMP_EQ_OQ);
    __m256 a = _mm256_and_ps(m0, v), b = _mm256_and_ps(m1, v), c = _mm256_and_ps(m2, v), d = _mm256_and_ps(m3, v);
    __m256 ablo = _mm256_unpacklo_ps(a, b), abhi = _mm256_unpackhi_ps(a, b); /* pairs, within 128-bit halves */
    __m256 cdlo = _mm256_unpacklo_ps(c, d), cdhi = _mm256_unpackhi_ps(c, d);
    _mm256_storeu_ps(r0 + 2 * q, _mm256_permute2f128_ps(ablo, abhi, 0x20));
    _mm256_storeu_ps(r0 + 2 * q + 8, _mm256_permute2f128_ps(ablo, abhi, 0x31));
    _mm256_storeu_ps(r1 + 2 * q, _mm256_permute2f128_ps(cdlo, cdhi, 0x20));
    _mm256_storeu_ps(r1 + 2 * q + 8, _mm256_permute2f128_ps(cdlo, cdhi, 0x31));
    bad |= _mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(m0, m1), _mm256_or_ps(m2, m3))) != 0xFF;
  }
  return bad;
}

/* One row of windows of the above, with SSE2 four at a time (the last four
 * ending at Q) and scalar below four. */
static bool max_back_row_2x2(const float *ip, const float *gp, int64_t Q, int64_t W, int64_t base, float *r0,
                             float *r1) {
  __m128 step = _mm_set_ps(6.0f, 4.0f, 2.0f, 0.0f), one = _mm_set1_ps(1.0f), w0 = _mm_set1_ps((float)W),
         w1 = _mm_set1_ps((float)(W + 1));
  bool bad = false;
  int64_t q = 0;
  for (int64_t next = 0; Q >= 4 && next < Q; next += 4) { /* four windows: the offsets in them, then the two
                                                             rows interleaved; the last four end at Q */
    q = next + 4 <= Q ? next : Q - 4;
    __m128 at = _mm_sub_ps(_mm_loadu_ps(ip + q), _mm_add_ps(_mm_set1_ps((float)(base + 2 * q)), step));
    __m128 v = _mm_loadu_ps(gp + q);
    __m128 m0 = _mm_cmpeq_ps(at, _mm_setzero_ps()), m1 = _mm_cmpeq_ps(at, one);
    __m128 m2 = _mm_cmpeq_ps(at, w0), m3 = _mm_cmpeq_ps(at, w1);
    __m128 a = _mm_and_ps(m0, v), b = _mm_and_ps(m1, v), c = _mm_and_ps(m2, v), d = _mm_and_ps(m3, v);
    _mm_storeu_ps(r0 + 2 * q, _mm_unpacklo_ps(a, b));
    _mm_storeu_ps(r0 + 2 * q + 4, _mm_unpackhi_ps(a, b));
    _mm_storeu_ps(r1 + 2 * q, _mm_unpacklo_ps(c, d));
    _mm_storeu_ps(r1 + 2 * q + 4, _mm_unpackhi_ps(c, d));
    bad |= _mm_movemask_ps(_mm_or_ps(_mm_or_ps(m0, m1), _mm_or_ps(m2, m3))) != 0xF;
  }
  for (q = Q >= 4 ? Q : 0; q < Q; q++) {
    float at = ip[q] - (float)(base + 2 * q), v = gp[q];
    r0[2 * q] = at == 0.0f ? v : 0.0f;
    r0[2 * q + 1] = at == 1.0f ? v : 0.0f;
    r1[2 * q] = at == (float)W ? v : 0.0f;
    r1[2 * q + 1] = at == (float)(W + 1) ? v : 0.0f;
    bad |= !(at == 0.0f || at == 1.0f || at == (float)W || at == (float)(W + 1));
  }
  return bad;
}

/* Without indices, rows of 8 windows or more: each window's maximum found
 * again as max_row_2x2_avx2 finds it (the same comparisons in the same
 * order, so the same position wins) and the gradient written where it won,
 * eight windows at a time, the last eight ending at Q. In the split order of
 * the windows (0 1 4 5 2 3 6 7), interleaving a window's two columns puts
 * windows 0-3 in the low half of one vector and 4-7 in the next. */
__attribute__((target("avx2"))) static void max_back_row_2x2_found_avx2(const float *row0, const float *row1,
                                                                        const float *gp, int64_t Q, float *r0,
                                                                        float *r1) {
  for (int64_t next = 0; next < Q; next += 8) {
    int64_t q = next + 8 <= Q ? next : Q - 8;
    __m256 a0 = _mm256_loadu_ps(row0 + 2 * q), a1 = _mm256_loadu_ps(row0 + 2 * q + 8);
    __m256 b0 = _mm256_loadu_ps(row1 + 2 * q), b1 = _mm256_loadu_ps(row1 + 2 * q + 8);
    __m256 best = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 cand[3] = {_mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)), _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)),
                      _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1))};
    __m256 won[3]; /* candidate c replaced the maximum so far */
    for (int c = 0; c < 3; c++) {
      __m256 v = cand[c];
      won[c] = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                            _mm256_andnot_ps(_mm256_cmp_ps(best, best, _CMP_UNORD_Q), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
      best = _mm256_blendv_ps(best, v, won[c]);
    }
    __m256 g = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_loadu_ps(gp + q)), _MM_SHUFFLE(3, 1, 2, 0)));
    __m256 d = _mm256_and_ps(won[2], g), later = won[2]; /* the last winner keeps it */
    __m256 c = _mm256_andnot_ps(later, _mm256_and_ps(won[1], g));
    later = _mm256_or_ps(later, won[1]);
    __m256 b = _mm256_andnot_ps(later, _mm256_and_ps(won[0], g));
    later = _mm256_or_ps(later, won[0]);
    __m256 a = _mm256_andnot_ps(later, g);
    _mm256_storeu_ps(r0 + 2 * q, _mm256_unpacklo_ps(a, b));
    _mm256_storeu_ps(r0 + 2 * q + 8, _mm256_unpackhi_ps(a, b));
    _mm256_storeu_ps(r1 + 2 * q, _mm256_unpacklo_ps(c, d));
    _mm256_storeu_ps(r1 + 2 * q + 8, _mm256_unpackhi_ps(c, d));
  }
}

/* Without indices, rows shorter than 8 windows and the portable kernels:
 * the forward pass's row kernel writes a piece of the row's positions to the
 * stack, so backward picks the same maxima. */
#define PIECE 256

static void max_back_planes_2x2(void *ctx, int64_t first, int64_t last, int thread) {
  max_back_job *j = ctx;
  const cnn_pool2d_geom *g = j->g;
  int64_t H = g->H, W = g->W, P = g->P, Q = g->Q, HW = H * W, PQ = P * Q;
  bool bad = false, avx2 = cnn_isa_vector_avx2();
  for (int64_t plane = first; plane < last; plane++) {
    float *dx = j->dinp + plane * HW;
    const float *dy = j->dout + plane * PQ;
    for (int64_t p = 0; p < P; p++) {
      float *r0 = dx + 2 * p * W, *r1 = r0 + W;
      const float *gp = dy + p * Q;
      if (j->idx) {
        const float *ip = j->idx + plane * PQ + p * Q;
        bad |= (avx2 && Q >= 8 ? max_back_row_2x2_avx2 : max_back_row_2x2)(ip, gp, Q, W, 2 * p * W, r0, r1);
      } else if (avx2 && Q >= 8) {
        const float *x0 = j->inp + plane * HW + 2 * p * W;
        max_back_row_2x2_found_avx2(x0, x0 + W, gp, Q, r0, r1);
      } else {
        const float *x0 = j->inp + plane * HW + 2 * p * W, *x1 = x0 + W;
        for (int64_t q = 0; q < Q; q += PIECE) {
          float max[PIECE], at[PIECE];
          int64_t n = Q - q < PIECE ? Q - q : PIECE, base = 2 * p * W + 2 * q;
          max_row_2x2(x0 + 2 * q, x1 + 2 * q, n, W, base, max, at);
          max_back_row_2x2(at, gp + q, n, W, base, r0 + 2 * q, r1 + 2 * q);
        }
      }
      for (int64_t w = 2 * Q; w < W; w++) r0[w] = r1[w] = 0.0f; /* columns no window covers */
    }
    for (int64_t h = 2 * P; h < H; h++) memset(dx + h * W, 0, (size_t)W * sizeof *dx);
  }
  if (bad) j->bad[thread] = true;
}

bool cnn_max_pool2d_backward(const cnn_pool2d_geom *g, const float *dout, const float *idx, float *dinp) {
  max_back_job j = {g, NULL, dout, idx, dinp, {false}};
  int64_t grain = cnn_parallel_grain(g->H * g->W);
  if (is_2x2(g)) {
    cnn_parallel_for(g->N * g->C, grain, max_back_planes_2x2, &j);
    bool any = false;
    for (int t = 0; t < CNN_MAX_THREADS; t++) any |= j.bad[t];
    if (!any) return true;
    memset(j.bad, 0, sizeof j.bad); /* an index outside its window: scatter as given */
  }
  cnn_parallel_for(g->N * g->C, grain, max_back_planes, &j);
  for (int t = 0; t < CNN_MAX_THREADS; t++)
    if (j.bad[t]) return false;
  return true;
}

void cnn_max_pool2d_backward_from_input(const cnn_pool2d_geom *g, const float *inp, const float *dout, float *dinp) {
  max_back_job j = {g, inp, dout, NULL, dinp, {false}};
  cnn_parallel_for(g->N * g->C, cnn_parallel_grain(g->H * g->W), is_2x2(g) ? max_back_planes_2x2 : max_back_planes,
                   &j);
}

/* The window of output (p, q): rows [*h0, *h1), columns [*w0, *w1) inside the
 * input, and the divisor average pooling uses for it. */
static float avg_window(const cnn_pool2d_geom *g, int64_t p, int64_t q, int64_t *h0, int64_t *h1, int64_t *w0,
                        int64_t *w1) {
  int64_t hs = p * g->stride[0] - g->pad[0], ws = q * g->stride[1] - g->pad[1];
  int64_t he = hs + g->k[0], we = ws + g->k[1];
  if (he > g->H + g->pad[0]) he = g->H + g->pad[0];
  if (we > g->W + g->pad[1]) we = g->W + g->pad[1];
  int64_t padded = (he - hs) * (we - ws);
  *h0 = hs < 0 ? 0 : hs;
  *w0 = ws < 0 ? 0 : ws;
  *h1 = he > g->H ? g->H : he;
  *w1 = we > g->W ? g->W : we;
  return (float)(g->count_include_pad ? padded : (*h1 - *h0) * (*w1 - *w0));
}

void cnn_avg_pool2d_forward(const cnn_pool2d_geom *g, const float *inp, float *out) {
  int64_t HW = g->H * g->W, PQ = g->P * g->Q;
  for (int64_t plane = 0; plane < g->N * g->C; plane++) {
    const float *x = inp + plane * HW;
    for (int64_t p = 0; p < g->P; p++)
      for (int64_t q = 0; q < g->Q; q++) {
        int64_t h0, h1, w0, w1;
        float div = avg_window(g, p, q, &h0, &h1, &w0, &w1);
        float sum = 0;
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) sum += x[h * g->W + w];
        out[plane * PQ + p * g->Q + q] = div > 0 ? sum / div : 0.0f;
      }
  }
}

void cnn_avg_pool2d_backward(const cnn_pool2d_geom *g, const float *dout, float *dinp) {
  int64_t HW = g->H * g->W, PQ = g->P * g->Q;
  memset(dinp, 0, (size_t)(g->N * g->C * HW) * sizeof(float));
  for (int64_t plane = 0; plane < g->N * g->C; plane++) {
    float *dx = dinp + plane * HW;
    for (int64_t p = 0; p < g->P; p++)
      for (int64_t q = 0; q < g->Q; q++) {
        int64_t h0, h1, w0, w1;
        float div = avg_window(g, p, q, &h0, &h1, &w0, &w1);
        if (div <= 0) continue;
        float share = dout[plane * PQ + p * g->Q + q] / div;
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) dx[h * g->W + w] += share;
      }
  }
}

static int64_t bin_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
static int64_t bin_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

void cnn_adaptive_avg_pool2d_forward(int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q, const float *inp,
                                     float *out) {
  for (int64_t plane = 0; plane < NC; plane++)
    for (int64_t p = 0; p < P; p++)
      for (int64_t q = 0; q < Q; q++) {
        int64_t h0 = bin_start(p, H, P), h1 = bin_end(p, H, P), w0 = bin_start(q, W, Q), w1 = bin_end(q, W, Q);
        float sum = 0;
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) sum += inp[plane * H * W + h * W + w];
        out[plane * P * Q + p * Q + q] = sum / (float)((h1 - h0) * (w1 - w0));
      }
}

void cnn_adaptive_avg_pool2d_backward(int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q, const float *dout,
                                      float *dinp) {
  memset(dinp, 0, (size_t)(NC * H * W) * sizeof(float));
  for (int64_t plane = 0; plane < NC; plane++)
    for (int64_t p = 0; p < P; p++)
      for (int64_t q = 0; q < Q; q++) {
        int64_t h0 = bin_start(p, H, P), h1 = bin_end(p, H, P), w0 = bin_start(q, W, Q), w1 = bin_end(q, W, Q);
        float share = dout[plane * P * Q + p * Q + q] / (float)((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) dinp[plane * H * W + h * W + w] += share;
      }
}
