/*
 * gemm.c: strided views to cblas_sgemm arguments. A matrix whose column
 * stride is 1 is passed row-major as it is; one whose row stride is 1 (a
 * transposed view) is passed as the transpose of a row-major matrix. Nothing is
 * copied here.
 */
#include "gemm.h"

#include <cblas.h>
#include <limits.h>

#include "parallel.h"

/* Layout of one operand for row-major sgemm: transposed or not, and its
 * leading dimension. Strides of dimensions of size 1 are never used, so they
 * may be anything. */
static bool gemm_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool *trans, int64_t *ld) {
  if (rs > INT_MAX || cs > INT_MAX) return false;
  if (cols == 1 || cs == 1) {
    int64_t need = cols > 1 ? cols : 1;
    if (rows == 1 || rs >= need) {
      *trans = false;
      *ld = rows == 1 ? need : rs;
      return true;
    }
  }
  if (rows == 1 || rs == 1) {
    int64_t need = rows > 1 ? rows : 1;
    if (cols == 1 || cs >= need) {
      *trans = true;
      *ld = cols == 1 ? need : cs;
      return true;
    }
  }
  return false;
}

bool cnn_gemm_operand_ok(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  bool trans;
  int64_t ld;
  return gemm_layout(rows, cols, row_stride, col_stride, &trans, &ld);
}

typedef struct {
  cnn_tensor *out;
  const cnn_tensor *a, *b;
  bool ta, tb;
  int64_t lda, ldb;
  float beta;
} matmul_job;

static void matmul_range(void *ctx, int64_t first, int64_t last, int thread) {
  (void)thread;
  const matmul_job *j = ctx;
  int64_t m = j->out->shape[1], n = j->out->shape[2], k = j->a->shape[2];
  for (int64_t i = first; i < last; i++) {
    float *c = cnn_tensor_data(j->out) + i * j->out->stride[0];
    if (m == 0 || n == 0) continue;
    if (k == 0) {
      if (j->beta == 0.0f)
        for (int64_t e = 0; e < m * n; e++) c[e] = 0.0f;
      continue;
    }
    const float *a = cnn_tensor_data(j->a) + i * j->a->stride[0], *b = cnn_tensor_data(j->b) + i * j->b->stride[0];
    if (m == 1) /* a row times a matrix: c = op(b)^T a, without packing b (sgemm packs it whole) */
      cblas_sgemv(CblasRowMajor, j->tb ? CblasNoTrans : CblasTrans, j->tb ? (int)n : (int)k, j->tb ? (int)k : (int)n,
                  1.0f, b, (int)j->ldb, a, j->ta ? (int)j->lda : 1, j->beta, c, 1);
    else if (n == 1) /* a matrix times a column: c = op(a) b */
      cblas_sgemv(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->ta ? (int)k : (int)m, j->ta ? (int)m : (int)k,
                  1.0f, a, (int)j->lda, b, j->tb ? 1 : (int)j->ldb, j->beta, c, 1);
    else
      cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)m,
                  (int)n, (int)k, 1.0f, a, (int)j->lda, b, (int)j->ldb, j->beta, c, (int)n);
  }
}

/* Rows [r0, r1) of the single product out[0] = a[0] @ b[0]. */
static void matmul_rows(void *ctx, int64_t r0, int64_t r1, int thread) {
  (void)thread;
  const matmul_job *j = ctx;
  int64_t n = j->out->shape[2], k = j->a->shape[2];
  const float *a = cnn_tensor_data(j->a) + (j->ta ? r0 : r0 * j->lda); /* op(a) row r0 */
  cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)(r1 - r0),
              (int)n, (int)k, 1.0f, a, (int)j->lda, cnn_tensor_data(j->b), (int)j->ldb, j->beta,
              cnn_tensor_data(j->out) + r0 * n, (int)n);
}

/* Outputs [n0, n1) of a row times a matrix (a single product with m == 1):
 * the matching rows (or columns) of op(b) through sgemv. */
static void matvec_cols(void *ctx, int64_t n0, int64_t n1, int thread) {
  (void)thread;
  const matmul_job *j = ctx;
  int64_t k = j->a->shape[2];
  const float *a = cnn_tensor_data(j->a), *b = cnn_tensor_data(j->b) + (j->tb ? n0 * j->ldb : n0);
  cblas_sgemv(CblasRowMajor, j->tb ? CblasNoTrans : CblasTrans, j->tb ? (int)(n1 - n0) : (int)k,
              j->tb ? (int)k : (int)(n1 - n0), 1.0f, b, (int)j->ldb, a, j->ta ? (int)j->lda : 1, j->beta,
              cnn_tensor_data(j->out) + n0, 1);
}

#define ROWS_PER_THREAD 32           /* below this, one thread does the product */
#define VEC_MACS ((int64_t)1 << 15)  /* from here, a row times a matrix is split by outputs */
#define SPLIT_MACS ((int64_t)1 << 20) /* from here, a product is split by rows */
#define BLAS_MACS ((int64_t)1 << 27)  /* from here (512^3), OpenBLAS's threads do better */

/* A batch of products is split across the library's threads, one product per
 * call. A single product is split by rows when it is large enough; a very
 * large one (rare in training loops, where its spinning threads would cost
 * more than they save) is left to OpenBLAS's own threads, which share the
 * packed operands. */
void cnn_matmul(cnn_tensor *out, const cnn_tensor *a, const cnn_tensor *b, float beta) {
  int64_t m = out->shape[1], n = out->shape[2], k = a->shape[2], macs = m * n * k;
  matmul_job j = {out, a, b, false, false, 1, 1, beta};
  gemm_layout(m, k, a->stride[1], a->stride[2], &j.ta, &j.lda);
  gemm_layout(k, n, b->stride[1], b->stride[2], &j.tb, &j.ldb);
  int threads = cnn_parallel_threads();
  if (out->shape[0] > 1) {
    cnn_parallel_for(out->shape[0], 1, matmul_range, &j);
  } else if (macs >= BLAS_MACS && threads > 1) {
    openblas_set_num_threads(threads);
    matmul_range(&j, 0, 1, 0);
    openblas_set_num_threads(1);
  } else if (m == 1 && n > 0 && k > 0 && macs >= VEC_MACS && threads > 1) {
    cnn_parallel_for(n, ROWS_PER_THREAD, matvec_cols, &j); /* its matrix streams from cache: both cores read */
  } else if (n > 0 && k > 0 && macs >= SPLIT_MACS) {
    cnn_parallel_for(m, ROWS_PER_THREAD, matmul_rows, &j);
  } else {
    matmul_range(&j, 0, 1, 0);
  }
}

void cnn_set_num_threads(int n) {
  cnn_parallel_set_threads(n);
  openblas_set_num_threads(1);
}

int cnn_get_num_threads(void) { return cnn_parallel_threads(); }
