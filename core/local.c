/* local.c: locally connected layers as per-position matrix products (see local.h). */
#include "local.h"

#include <cblas.h>
#include <string.h>

#include "parallel.h"

/* Workspace: the columns by position (PQ x N x CRS), per-position results or
 * gradients (PQ x N x K), and one im2col buffer (CRS x PQ) per thread. */
int64_t cnn_local2d_workspace_size(const cnn_patch_geom *g, int64_t N, int64_t K) {
  int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q;
  return PQ * N * CRS + PQ * N * K + cnn_parallel_threads() * CRS * PQ;
}

#define TILE 32

/* dst[j * ldd + i] = src[i * lds + j] for a rows x cols matrix, in tiles
 * that stay in cache on both sides. */
static void transpose(const float *src, int64_t rows, int64_t cols, int64_t lds, float *dst, int64_t ldd) {
  for (int64_t i0 = 0; i0 < rows; i0 += TILE)
    for (int64_t j0 = 0; j0 < cols; j0 += TILE)
      for (int64_t i = i0; i < i0 + TILE && i < rows; i++)
        for (int64_t j = j0; j < j0 + TILE && j < cols; j++) dst[j * ldd + i] = src[i * lds + j];
}

typedef struct {
  const cnn_patch_geom *g;
  int64_t N, K;
  const float *inp, *weight, *bias, *dout;
  float *out, *dinp, *dweight, *dbias;
  float *xt, *yt, *col; /* workspace parts */
} local_job;

/* xt[p][n][c] = col_n[c][p] for images [n0, n1). */
static void gather_images(void *ctx, int64_t n0, int64_t n1, int thread) {
  const local_job *j = ctx;
  const cnn_patch_geom *g = j->g;
  int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q;
  float *col = j->col + thread * CRS * PQ;
  for (int64_t n = n0; n < n1; n++) {
    cnn_im2col(g, j->inp + n * g->C * g->H * g->W, col);
    transpose(col, CRS, PQ, PQ, j->xt + n * CRS, j->N * CRS);
  }
}

/* yt[p][n][k] = dout[n][k][p] for images [n0, n1). */
static void gather_grads(void *ctx, int64_t n0, int64_t n1, int thread) {
  (void)thread;
  const local_job *j = ctx;
  int64_t PQ = j->g->P * j->g->Q;
  for (int64_t n = n0; n < n1; n++) transpose(j->dout + n * j->K * PQ, j->K, PQ, PQ, j->yt + n * j->K, j->N * j->K);
}

static void forward_positions(void *ctx, int64_t p0, int64_t p1, int thread) {
  (void)thread;
  const local_job *j = ctx;
  int64_t CRS = j->g->C * j->g->R * j->g->S, N = j->N, K = j->K;
  for (int64_t p = p0; p < p1; p++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)K, (int)CRS, 1.0f, j->xt + p * N * CRS,
                (int)CRS, j->weight + p * K * CRS, (int)CRS, 0.0f, j->yt + p * N * K, (int)K);
}

/* out[n][k][p] = yt[p][n][k] + bias[k][p] */
static void scatter_outputs(void *ctx, int64_t n0, int64_t n1, int thread) {
  (void)thread;
  const local_job *j = ctx;
  int64_t PQ = j->g->P * j->g->Q, K = j->K;
  for (int64_t n = n0; n < n1; n++) {
    float *y = j->out + n * K * PQ;
    transpose(j->yt + n * K, PQ, K, j->N * K, y, PQ);
    if (j->bias)
      for (int64_t i = 0; i < K * PQ; i++) y[i] += j->bias[i];
  }
}

void cnn_local2d_forward(const cnn_patch_geom *g, int64_t N, int64_t K, const float *inp, const float *weight,
                         const float *bias, float *out, float *work) {
  int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q;
  local_job j = {g, N, K, inp, weight, bias, NULL, out, NULL, NULL, NULL, work, work + PQ * N * CRS,
                 work + PQ * N * CRS + PQ * N * K};
  cnn_parallel_for(N, 1, gather_images, &j);
  cnn_parallel_for(PQ, 1, forward_positions, &j);
  cnn_parallel_for(N, 1, scatter_outputs, &j);
}

/* dX_p (N x CRS) = dY_p (N x K) @ W_p, into xt */
static void input_positions(void *ctx, int64_t p0, int64_t p1, int thread) {
  (void)thread;
  const local_job *j = ctx;
  int64_t CRS = j->g->C * j->g->R * j->g->S, N = j->N, K = j->K;
  for (int64_t p = p0; p < p1; p++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)CRS, (int)K, 1.0f, j->yt + p * N * K, (int)K,
                j->weight + p * K * CRS, (int)CRS, 0.0f, j->xt + p * N * CRS, (int)CRS);
}

/* col_n[c][p] = xt[p][n][c], then folded into dinp */
static void scatter_images(void *ctx, int64_t n0, int64_t n1, int thread) {
  const local_job *j = ctx;
  const cnn_patch_geom *g = j->g;
  int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q;
  float *col = j->col + thread * CRS * PQ;
  for (int64_t n = n0; n < n1; n++) {
    transpose(j->xt + n * CRS, PQ, CRS, j->N * CRS, col, PQ);
    float *dx = j->dinp + n * g->C * g->H * g->W;
    memset(dx, 0, (size_t)(g->C * g->H * g->W) * sizeof *dx);
    cnn_col2im(g, col, dx);
  }
}

void cnn_local2d_backward_input(const cnn_patch_geom *g, int64_t N, int64_t K, const float *dout,
                                const float *weight, float *dinp, float *work) {
  int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q;
  local_job j = {g, N, K, NULL, weight, NULL, dout, NULL, dinp, NULL, NULL, work, work + PQ * N * CRS,
                 work + PQ * N * CRS + PQ * N * K};
  cnn_parallel_for(N, 1, gather_grads, &j);
  cnn_parallel_for(PQ, 1, input_positions, &j);
  cnn_parallel_for(N, 1, scatter_images, &j);
}

/* dW_p (K x CRS) += dY_p^T (K x N) @ X_p (N x CRS); dbias[k][p] += sum_n dY_p[n][k] */
static void weight_positions(void *ctx, int64_t p0, int64_t p1, int thread) {
  (void)thread;
  const local_job *j = ctx;
  int64_t CRS = j->g->C * j->g->R * j->g->S, PQ = j->g->P * j->g->Q, N = j->N, K = j->K;
  for (int64_t p = p0; p < p1; p++) {
    const float *dy = j->yt + p * N * K;
    if (j->dweight)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)CRS, (int)N, 1.0f, dy, (int)K,
                  j->xt + p * N * CRS, (int)CRS, 1.0f, j->dweight + p * K * CRS, (int)CRS);
    if (j->dbias)
      for (int64_t k = 0; k < K; k++) {
        float s = 0;
        for (int64_t n = 0; n < N; n++) s += dy[n * K + k];
        j->dbias[k * PQ + p] += s;
      }
  }
}

void cnn_local2d_backward_params(const cnn_patch_geom *g, int64_t N, int64_t K, const float *inp, const float *dout,
                                 float *dweight, float *dbias, float *work) {
  int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q;
  local_job j = {g, N, K, inp, NULL, NULL, dout, NULL, NULL, dweight, dbias, work, work + PQ * N * CRS,
                 work + PQ * N * CRS + PQ * N * K};
  cnn_parallel_for(N, 1, gather_images, &j);
  cnn_parallel_for(N, 1, gather_grads, &j);
  cnn_parallel_for(PQ, 1, weight_positions, &j);
}
