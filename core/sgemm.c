/*
 * sgemm.c: the packed matrix-product driver, the portable micro-kernels and
 * the choice of instruction set (see sgemm.h).
 *
 * Blocking after Goto & van de Geijn ("Anatomy of High-Performance Matrix
 * Multiplication", 2008): for each block of NC columns of b and KC rows of
 * depth, b is packed into nr-wide micro-panels (each reused from L1 by every
 * row panel of a), and for each block of MC rows a is packed into mr-tall
 * micro-panels (kept in L2); the micro-kernel then computes one mr x nr tile
 * of c in registers per pair of panels. Packing pads the edges with zeros,
 * so the kernels only mask their stores.
 */
#include "sgemm.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KC_MAX
#define KC_MAX 160 /* depth of a block: a 160 x 64 panel of b is 40 KiB */
#endif
#define MC 132     /* rows of a per block, a multiple of every mr (4, 6) */
#ifndef NC
#define NC 512 /* columns of b per block, a multiple of every nr */
#endif

#define ROWS_AT_ONCE 8 /* rows of b produced per call of an unfold function */

int64_t cnn_sgemm_work_floats(void) { return MC * KC_MAX + KC_MAX * NC + ROWS_AT_ONCE * NC + 16; }

/* Rows [i0, i0 + mc) and depth [p0, p0 + kc) of a, as mr-tall panels. */
static void pack_a(const cnn_mat *a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr, float *dst) {
  for (int64_t ir = 0; ir < mc; ir += mr) {
    int rows = mc - ir < mr ? (int)(mc - ir) : mr;
    const float *src = a->p + (i0 + ir) * a->rs + p0 * a->cs;
    for (int64_t p = 0; p < kc; p++, dst += mr) {
      int ii = 0;
      for (; ii < rows; ii++) dst[ii] = src[ii * a->rs + p * a->cs];
      for (; ii < mr; ii++) dst[ii] = 0.0f;
    }
  }
}

/* Where b comes from: a strided matrix, or a function giving row by row. */
typedef struct {
  cnn_mat mat;
  cnn_unfold_fn rows;
  const void *ctx;
  float *tmp; /* ROWS_AT_ONCE rows of a block, for rows */
} source;

/* Columns [0, cols) of src into one row of the panels at dst, zero-padded to
 * whole panels. */
static void spread(const float *src, int64_t cs, int64_t nc, int64_t kc, int nr, float *dst) {
  for (int64_t jr = 0; jr < nc; jr += nr, dst += kc * nr) {
    int cols = nc - jr < nr ? (int)(nc - jr) : nr, jj = 0;
    if (cs == 1)
      for (; jj < cols; jj++) dst[jj] = src[jr + jj];
    else
      for (; jj < cols; jj++) dst[jj] = src[(jr + jj) * cs];
    for (; jj < nr; jj++) dst[jj] = 0.0f;
  }
}

/* Depth [p0, p0 + kc) and columns [j0, j0 + nc) of b, as nr-wide panels,
 * filled row by row (the rows of a row-major b are read in order). */
static void pack_b(const source *b, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst) {
  if (b->rows) {
    for (int64_t p = 0; p < kc; p += ROWS_AT_ONCE) {
      int64_t count = kc - p < ROWS_AT_ONCE ? kc - p : ROWS_AT_ONCE;
      b->rows(b->ctx, p0 + p, count, j0, nc, b->tmp, nc);
      for (int64_t i = 0; i < count; i++) spread(b->tmp + i * nc, 1, nc, kc, nr, dst + (p + i) * nr);
    }
    return;
  }
  for (int64_t p = 0; p < kc; p++)
    spread(b->mat.p + (p0 + p) * b->mat.rs + j0 * b->mat.cs, b->mat.cs, nc, kc, nr, dst + p * nr);
}

/* A rows x cols strided operand as cblas sees it: transposed or not, and its
 * leading dimension (which cblas wants at least as large as a row). */
static bool blas_layout(const cnn_mat *x, int64_t rows, int64_t cols, CBLAS_TRANSPOSE *t, int64_t *ld) {
  if (x->cs == 1 && (rows == 1 || x->rs >= cols)) *t = CblasNoTrans, *ld = rows == 1 ? cols : x->rs;
  else if (x->rs == 1 && (cols == 1 || x->cs >= rows)) *t = CblasTrans, *ld = cols == 1 ? rows : x->cs;
  else return false;
  return *ld <= INT_MAX;
}

/* The product through OpenBLAS: b as it is, or unfolded block by block into
 * the packing space. False when an operand has no cblas layout. */
static bool blas_gemm(int64_t m, int64_t n, int64_t k, const cnn_mat *a, source *b, float *c, int64_t ldc, bool acc,
                      float *bpack) {
  CBLAS_TRANSPOSE ta, tb;
  int64_t lda, ldb;
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || ldc > INT_MAX || !blas_layout(a, m, k, &ta, &lda) ||
      (!b->rows && !blas_layout(&b->mat, k, n, &tb, &ldb)))
    return false;
  if (!b->rows) {
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0f, a->p, (int)lda, b->mat.p, (int)ldb,
                acc ? 1.0f : 0.0f, c, (int)ldc);
    return true;
  }
  for (int64_t jc = 0; jc < n; jc += NC) {
    int64_t nc = n - jc < NC ? n - jc : NC;
    for (int64_t pc = 0; pc < k; pc += KC_MAX) {
      int64_t kc = k - pc < KC_MAX ? k - pc : KC_MAX;
      b->rows(b->ctx, pc, kc, jc, nc, bpack, nc);
      cblas_sgemm(CblasRowMajor, ta, CblasNoTrans, (int)m, (int)nc, (int)kc, 1.0f, a->p + pc * a->cs, (int)lda, bpack,
                  (int)nc, acc || pc > 0 ? 1.0f : 0.0f, c + jc, (int)ldc);
    }
  }
  return true;
}

static void gemm(int64_t m, int64_t n, int64_t k, const cnn_mat *a, source *b, float *c, int64_t ldc, bool acc,
                 float *work) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!acc)
      for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof *c);
    return;
  }
  float *apack = (float *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
  float *bpack = apack + MC * KC_MAX;
  const cnn_isa *isa = cnn_isa_active();
  if (isa == &cnn_isa_openblas) {
    if (blas_gemm(m, n, k, a, b, c, ldc, acc, bpack)) return;
    isa = &cnn_isa_scalar;
  }
  int mr = isa->mr, nr = isa->nr;
  b->tmp = bpack + KC_MAX * NC;
  int64_t kblocks = (k + KC_MAX - 1) / KC_MAX, kc_even = (k + kblocks - 1) / kblocks;
  for (int64_t jc = 0; jc < n; jc += NC) {
    int64_t nc = n - jc < NC ? n - jc : NC;
    for (int64_t pc = 0; pc < k; pc += kc_even) {
      int64_t kc = k - pc < kc_even ? k - pc : kc_even;
      bool add = acc || pc > 0;
      pack_b(b, pc, kc, jc, nc, nr, bpack);
      for (int64_t ic = 0; ic < m; ic += MC) {
        int64_t mc = m - ic < MC ? m - ic : MC;
        pack_a(a, ic, mc, pc, kc, mr, apack);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          int cols = nc - jr < nr ? (int)(nc - jr) : nr;
          const float *bp = bpack + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += mr) {
            int rows = mc - ir < mr ? (int)(mc - ir) : mr;
            isa->gemm(kc, apack + ir * kc, bp, c + (ic + ir) * ldc + jc + jr, ldc, rows, cols, add);
          }
        }
      }
    }
  }
}

void cnn_sgemm(int64_t m, int64_t n, int64_t k, cnn_mat a, cnn_mat b, float *c, int64_t ldc, bool acc, float *work) {
  source s = {b, NULL, NULL, NULL};
  gemm(m, n, k, &a, &s, c, ldc, acc, work);
}

void cnn_sgemm_rows(int64_t m, int64_t n, int64_t k, cnn_mat a, cnn_unfold_fn rows, const void *ctx, float *c,
                    int64_t ldc, bool acc, float *work) {
  source s = {{NULL, 0, 0}, rows, ctx, NULL};
  gemm(m, n, k, &a, &s, c, ldc, acc, work);
}

void cnn_sgemm_nt(int64_t m, int64_t n, int64_t len, const float *a, int64_t lda, const float *b, int64_t ldb,
                  float *c, int64_t ldc) {
  const cnn_isa *isa = cnn_isa_active();
  if (isa == &cnn_isa_openblas && m <= INT_MAX && n <= INT_MAX && len <= INT_MAX && lda <= INT_MAX &&
      ldb <= INT_MAX && ldc <= INT_MAX) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)len, 1.0f, a, (int)lda, b, (int)ldb,
                1.0f, c, (int)ldc);
    return;
  }
  if (isa == &cnn_isa_openblas) isa = &cnn_isa_scalar;
  for (int64_t j = 0; j < n; j += 6)
    for (int64_t i = 0; i < m; i += 4)
      isa->dot(len, a + i * lda, lda, m - i < 4 ? (int)(m - i) : 4, b + j * ldb, ldb, n - j < 6 ? (int)(n - j) : 6,
               c + i * ldc + j, ldc);
}

/* ---- portable kernels ---- */

#define SC_MR 4
#define SC_NR 16

static void scalar_gemm(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr_used, int nr_used,
                        bool acc) {
  float t[SC_MR][SC_NR] = {{0}};
  for (int64_t p = 0; p < kc; p++, a += SC_MR, b += SC_NR)
    for (int i = 0; i < SC_MR; i++)
      for (int j = 0; j < SC_NR; j++) t[i][j] += a[i] * b[j];
  for (int i = 0; i < mr_used; i++)
    for (int j = 0; j < nr_used; j++) c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] : t[i][j];
}

static void scalar_dot(int64_t len, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n, float *c,
                       int64_t ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      float s = 0.0f;
      for (int64_t t = 0; t < len; t++) s += a[i * lda + t] * b[j * ldb + t];
      c[i * ldc + j] += s;
    }
}

const cnn_isa cnn_isa_scalar = {"scalar", SC_MR, SC_NR, scalar_gemm, scalar_dot};

/* OpenBLAS's own kernels (whatever it chose for the CPU) behind the same
 * calls: no micro-kernels of ours. */
const cnn_isa cnn_isa_openblas = {"openblas", 0, 0, NULL, NULL};

/* ---- choice of instruction set ---- */

/* In order of preference: on CPUs without AVX-512, OpenBLAS's kernels measured
 * faster than ours for the convolutions (docs/performance.md). */
static const cnn_isa *const isas[] = {&cnn_isa_avx512, &cnn_isa_openblas, &cnn_isa_avx2, &cnn_isa_scalar, NULL};
static _Atomic(const cnn_isa *) active;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char env_error[160];

bool cnn_isa_supported(const char *name) {
  __builtin_cpu_init();
  if (!strcmp(name, "avx512")) return __builtin_cpu_supports("avx512f");
  if (!strcmp(name, "avx2")) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return !strcmp(name, "scalar") || !strcmp(name, "openblas");
}

bool cnn_isa_vector_avx2(void) {
  static int cpu = -1; /* the CPU check, once: -1 unknown, else 0 or 1 */
  int has = __atomic_load_n(&cpu, __ATOMIC_RELAXED);
  if (has < 0) {
    has = cnn_isa_supported("avx2");
    __atomic_store_n(&cpu, has, __ATOMIC_RELAXED);
  }
  return has && cnn_isa_active() != &cnn_isa_scalar;
}

bool cnn_isa_vector_avx512(void) {
  static int cpu = -1;
  int has = __atomic_load_n(&cpu, __ATOMIC_RELAXED);
  if (has < 0) {
    has = cnn_isa_supported("avx512");
    __atomic_store_n(&cpu, has, __ATOMIC_RELAXED);
  }
  const cnn_isa *isa = cnn_isa_active();
  return has && (isa == &cnn_isa_avx512 || isa == &cnn_isa_openblas);
}

const cnn_isa *cnn_isa_by_name(const char *name) {
  for (size_t i = 0; isas[i]; i++)
    if (!strcmp(isas[i]->name, name)) return isas[i];
  return NULL;
}

const cnn_isa *const *cnn_isa_all(void) { return isas; }

/* The named set, if the CPU runs it. */
static const cnn_isa *find(const char *name) {
  const cnn_isa *isa = cnn_isa_by_name(name);
  return isa && cnn_isa_supported(name) ? isa : NULL;
}

static void choose(void) {
  const cnn_isa *best = NULL;
  for (size_t i = 0; !best; i++) best = find(isas[i]->name);
  const char *want = getenv("CNNLUA_ISA");
  if (want && *want) {
    const cnn_isa *forced = find(want);
    if (forced) best = forced;
    else {
      snprintf(env_error, sizeof env_error, "CNNLUA_ISA=%.40s: %s", want,
               cnn_isa_by_name(want) ? "this CPU cannot run it" : "unknown kernel set (avx512, openblas, avx2 or scalar)");
    }
  }
  atomic_store(&active, best);
}

const cnn_isa *cnn_isa_active(void) {
  pthread_once(&once, choose);
  return atomic_load_explicit(&active, memory_order_relaxed);
}

bool cnn_isa_select(const char *name) {
  pthread_once(&once, choose);
  const cnn_isa *isa = find(name);
  if (isa) atomic_store(&active, isa);
  return isa != NULL;
}

const char *cnn_isa_env_error(void) {
  pthread_once(&once, choose);
  return env_error[0] ? env_error : NULL;
}
