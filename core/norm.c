/*
 * norm.c: batch normalisation (see norm.h). Backward in training mode is the
 * closed form of Ioffe and Szegedy (2015), with xhat = (x - mean) * invstd:
 *   dx = invstd / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)),  dxhat = dy * gamma
 * In evaluation mode the statistics are constants: dx = dy * gamma * invstd.
 */
#include "norm.h"

#include <math.h>
#include <stdbool.h>

void cnn_batchnorm_forward_train(int64_t N, int64_t C, int64_t L, const float *inp, const float *gamma,
                                 const float *beta, float eps, float momentum, float *running_mean,
                                 float *running_var, float *out, float *save_mean, float *save_invstd) {
  int64_t M = N * L;
  for (int64_t c = 0; c < C; c++) {
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

void cnn_batchnorm_forward_eval(int64_t N, int64_t C, int64_t L, const float *inp, const float *gamma,
                                const float *beta, float eps, const float *running_mean,
                                const float *running_var, float *out) {
  for (int64_t c = 0; c < C; c++) {
    float invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
    float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f, mean = running_mean[c];
    for (int64_t n = 0; n < N; n++) {
      const float *x = inp + (n * C + c) * L;
      float *y = out + (n * C + c) * L;
      for (int64_t i = 0; i < L; i++) y[i] = (x[i] - mean) * invstd * g + b;
    }
  }
}

void cnn_batchnorm_backward(int64_t N, int64_t C, int64_t L, const float *inp, const float *dout,
                            const float *gamma, const float *mean, const float *invstd, bool train, float *dinp,
                            float *dgamma, float *dbeta) {
  double M = (double)(N * L);
  for (int64_t c = 0; c < C; c++) {
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
