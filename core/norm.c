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

#include "parallel.h"

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
  for (int64_t c = c0; c < c1; c++) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < N; n++) {
      const float *x = inp + (n * C + c) * L;
      for (int64_t i = 0; i < L; i++) sum += x[i];
    }
    double mean = sum / (double)M;
    for (int64_t n = 0; n < N; n++) {
      const float *x = inp + (n * C + c) * L;
      for (int64_t i = 0; i < L; i++) sq += ((double)x[i] - mean) * ((double)x[i] - mean);
    }
    double var = sq / (double)M;
    float invstd = (float)(1.0 / sqrt(var + eps));
    float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
    for (int64_t n = 0; n < N; n++) {
      const float *x = inp + (n * C + c) * L;
      float *y = out + (n * C + c) * L;
      for (int64_t i = 0; i < L; i++) y[i] = (x[i] - (float)mean) * invstd * g + b;
    }
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
  cnn_parallel_for(C, 1, train_channels, &j);
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
  cnn_parallel_for(C, 1, eval_channels, &j);
}

static void backward_channels(void *ctx, int64_t c0, int64_t c1, int thread) {
  (void)thread;
  const bn_job *j = ctx;
  int64_t N = j->N, C = j->C, L = j->L;
  double M = (double)(N * L);
  const float *inp = j->inp, *dout = j->dout, *gamma = j->gamma, *mean = j->mean, *invstd = j->invstd;
  float *dinp = j->dinp, *dgamma = j->dgamma, *dbeta = j->dbeta;
  bool train = j->train;
  for (int64_t c = c0; c < c1; c++) {
    double sum_dy = 0, sum_dy_xhat = 0;
    float mu = mean[c], is = invstd[c], g = gamma ? gamma[c] : 1.0f;
    for (int64_t n = 0; n < N; n++) {
      const float *x = inp + (n * C + c) * L, *dy = dout + (n * C + c) * L;
      for (int64_t i = 0; i < L; i++) {
        sum_dy += dy[i];
        sum_dy_xhat += (double)dy[i] * ((double)(x[i] - mu) * is);
      }
    }
    if (dgamma) dgamma[c] += (float)sum_dy_xhat;
    if (dbeta) dbeta[c] += (float)sum_dy;
    if (!dinp) continue;
    for (int64_t n = 0; n < N; n++) {
      const float *x = inp + (n * C + c) * L, *dy = dout + (n * C + c) * L;
      float *dx = dinp + (n * C + c) * L;
      if (!train) {
        for (int64_t i = 0; i < L; i++) dx[i] = dy[i] * g * is;
        continue;
      }
      float a = (float)(sum_dy / M), b = (float)(sum_dy_xhat / M);
      for (int64_t i = 0; i < L; i++) {
        float xhat = (x[i] - mu) * is;
        dx[i] = g * is * (dy[i] - a - xhat * b);
      }
    }
  }
}

void cnn_batchnorm_backward(int64_t N, int64_t C, int64_t L, const float *inp, const float *dout,
                            const float *gamma, const float *mean, const float *invstd, bool train, float *dinp,
                            float *dgamma, float *dbeta) {
  bn_job j = {N, C, L, inp, gamma, NULL, dout, mean, invstd, NULL, NULL, 0, 0, NULL, NULL,
              NULL, NULL, NULL, dinp, dgamma, dbeta, train};
  cnn_parallel_for(C, 1, backward_channels, &j);
}
