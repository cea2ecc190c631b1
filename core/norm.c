/*
 * norm.c: batch normalisation (see norm.h). Backward in training mode is the
 * closed form of Ioffe and Szegedy (2015), with xhat = (x - mean) * invstd:
 *   dx = invstd / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)),  dxhat = dy * gamma
 * In evaluation mode the statistics are constants: dx = dy * gamma * invstd.
 */
#include "norm.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "lanes.h"
#include "parallel.h"
#include "reduce.h"
#include "sgemm.h"
#include "vec8.h"

/* sum of (x[i] - m)^2 */
static double row_sq_dev(const float *restrict x, int64_t n, float m) {
  cnn_lanes acc = {{0}, {0}, {0}, {0}};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    cnn_lanes a = cnn_lanes_sub(cnn_lanes_at(x + i), m);
    acc = cnn_lanes_madd(acc, a, a);
  }
  double s = cnn_lane_total(acc);
  for (; i < n; i++) s += (double)(x[i] - m) * (x[i] - m);
  return s;
}

/* sum of dy[i] and of dy[i] * (x[i] - m) */
static void row_grad_sums(const float *restrict dy, const float *restrict x, int64_t n, float m, double *sdy,
                          double *sdyx) {
  cnn_lanes a = {{0}, {0}, {0}, {0}}, b = a;
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    cnn_lanes d = cnn_lanes_at(dy + i);
    a = cnn_lanes_add(a, d);
    b = cnn_lanes_madd(b, d, cnn_lanes_sub(cnn_lanes_at(x + i), m));
  }
  double sa = cnn_lane_total(a), sb = cnn_lane_total(b);
  for (; i < n; i++) sa += dy[i], sb += (double)dy[i] * (x[i] - m);
  *sdy += sa;
  *sdyx += sb;
}

/* The two maps of a channel's rows, compiled twice (vec8.h): for baseline
 * x86-64 and for AVX2, eight floats at a time, without FMA (both builds round
 * alike). y = (x - m) * scale + b, and dx = k * dy + w * (x - m) + z. */
CNN_V8_BODY void normalize_body(int64_t n, const float *restrict x, float *restrict y, float m, float scale,
                                float b) {
  for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * scale + b;
}
CNN_V8_TWICE(normalize, (int64_t n, const float *restrict x, float *restrict y, float m, float scale, float b),
             (n, x, y, m, scale, b))
CNN_V8_BODY void input_grad_body(int64_t n, const float *restrict x, const float *restrict dy, float *restrict dx,
                                 float m, float k, float w, float z) {
  for (int64_t i = 0; i < n; i++) dx[i] = k * dy[i] + w * (x[i] - m) + z;
}
CNN_V8_TWICE(input_grad,
             (int64_t n, const float *restrict x, const float *restrict dy, float *restrict dx, float m, float k,
              float w, float z),
             (n, x, dy, dx, m, k, w, z))

/* The arguments of every kernel here, for the loops over channels. */
typedef struct {
  int64_t N, C, L;
  const float *inp, *gamma, *beta, *dout, *mean, *invstd, *running_mean_in, *running_var_in;
  float eps, momentum;
  float *running_mean, *running_var, *out, *save_mean, *save_invstd, *dinp, *dgamma, *dbeta;
  bool train;
} bn_job;

static void train_channels(void *ctx, int64_t c0, int64_t c1, int thread) {
  (void)thread;
  const bn_job *j = ctx;
  int64_t N = j->N, C = j->C, L = j->L, M = N * L;
  const float *inp = j->inp, *gamma = j->gamma, *beta = j->beta;
  float eps = j->eps, momentum = j->momentum;
  float *running_mean = j->running_mean, *running_var = j->running_var, *out = j->out;
  float *save_mean = j->save_mean, *save_invstd = j->save_invstd;
  bool avx2 = cnn_isa_vector_avx2();
  for (int64_t c = c0; c < c1; c++) {
    /* each row's mean and squared deviations while the row is in L1, merged
     * into the channel's (Chan, Golub and LeVeque): one sweep of memory */
    double mean = 0, sq = 0;
    for (int64_t n = 0; n < N; n++) {
      const float *row = inp + (n * C + c) * L;
      double rmean = cnn_sum_floats(row, L) / (double)L;
      float rm = (float)rmean;
      double rsq = row_sq_dev(row, L, rm) - (double)L * (rmean - rm) * (rmean - rm); /* about rmean */
      double before = (double)(n * L), delta = rmean - mean;
      mean += delta * (double)L / (before + (double)L);
      sq += rsq + delta * delta * before * (double)L / (before + (double)L);
    }
    double var = sq / (double)M;
    float invstd = (float)(1.0 / sqrt(var + eps));
    float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
    float scale = invstd * g, m = (float)mean;
    for (int64_t n = 0; n < N; n++) normalize(avx2, L, inp + (n * C + c) * L, out + (n * C + c) * L, m, scale, b);
    save_mean[c] = (float)mean;
    save_invstd[c] = invstd;
    if (running_mean) running_mean[c] = (1 - momentum) * running_mean[c] + momentum * (float)mean;
    if (running_var) {
      double unbiased = M > 1 ? sq / (double)(M - 1) : NAN;
      running_var[c] = (1 - momentum) * running_var[c] + momentum * (float)unbiased;
    }
  }
}

void cnn_batchnorm_forward_train(int64_t N, int64_t C, int64_t L, const float *inp, const float *gamma,
                                 const float *beta, float eps, float momentum, float *running_mean,
                                 float *running_var, float *out, float *save_mean, float *save_invstd) {
  bn_job j = {N, C, L, inp, gamma, beta, NULL, NULL, NULL, NULL, NULL, eps, momentum, running_mean, running_var,
              out, save_mean, save_invstd, NULL, NULL, NULL, true};
  cnn_parallel_for(C, cnn_parallel_grain(N * L), train_channels, &j);
}

static void eval_channels(void *ctx, int64_t c0, int64_t c1, int thread) {
  (void)thread;
  const bn_job *j = ctx;
  int64_t N = j->N, C = j->C, L = j->L;
  const float *inp = j->inp, *gamma = j->gamma, *beta = j->beta;
  const float *running_mean = j->running_mean_in, *running_var = j->running_var_in;
  float eps = j->eps, *out = j->out;
  for (int64_t c = c0; c < c1; c++) {
    float invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
    float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f, mean = running_mean[c];
    for (int64_t n = 0; n < N; n++) {
      const float *x = inp + (n * C + c) * L;
      float *y = out + (n * C + c) * L;
      for (int64_t i = 0; i < L; i++) y[i] = (x[i] - mean) * invstd * g + b;
    }
  }
}

void cnn_batchnorm_forward_eval(int64_t N, int64_t C, int64_t L, const float *inp, const float *gamma,
                                const float *beta, float eps, const float *running_mean,
                                const float *running_var, float *out) {
  bn_job j = {N, C, L, inp, gamma, beta, NULL, NULL, NULL, running_mean, running_var, eps, 0, NULL, NULL,
              out, NULL, NULL, NULL, NULL, NULL, false};
  cnn_parallel_for(C, cnn_parallel_grain(N * L), eval_channels, &j);
}

static void backward_channels(void *ctx, int64_t c0, int64_t c1, int thread) {
  (void)thread;
  const bn_job *j = ctx;
  int64_t N = j->N, C = j->C, L = j->L;
  double M = (double)(N * L);
  const float *inp = j->inp, *dout = j->dout, *gamma = j->gamma, *mean = j->mean, *invstd = j->invstd;
  float *dinp = j->dinp, *dgamma = j->dgamma, *dbeta = j->dbeta;
  bool train = j->train, avx2 = cnn_isa_vector_avx2();
  for (int64_t c = c0; c < c1; c++) {
    double sum_dy = 0, sum_dy_xmu = 0;
    float mu = mean[c], is = invstd[c], g = gamma ? gamma[c] : 1.0f;
    for (int64_t n = 0; n < N; n++)
      row_grad_sums(dout + (n * C + c) * L, inp + (n * C + c) * L, L, mu, &sum_dy, &sum_dy_xmu);
    double sum_dy_xhat = sum_dy_xmu * is;
    if (dgamma) dgamma[c] += (float)sum_dy_xhat;
    if (dbeta) dbeta[c] += (float)sum_dy;
    if (!dinp) continue;
    /* dx = g * is * (dy - a - (x - mu) * is * b) = k * dy + w * (x - mu) + z */
    float a = train ? (float)(sum_dy / M) : 0.0f, b = train ? (float)(sum_dy_xhat / M) : 0.0f;
    float k = g * is, w = -k * is * b, z = -k * a;
    for (int64_t n = 0; n < N; n++)
      input_grad(avx2, L, inp + (n * C + c) * L, dout + (n * C + c) * L, dinp + (n * C + c) * L, mu, k, w, z);
  }
}

void cnn_batchnorm_backward(int64_t N, int64_t C, int64_t L, const float *inp, const float *dout,
                            const float *gamma, const float *mean, const float *invstd, bool train, float *dinp,
                            float *dgamma, float *dbeta) {
  bn_job j = {N, C, L, inp, gamma, NULL, dout, mean, invstd, NULL, NULL, 0, 0, NULL, NULL,
              NULL, NULL, NULL, dinp, dgamma, dbeta, train};
  cnn_parallel_for(C, cnn_parallel_grain(N * L), backward_channels, &j);
}
