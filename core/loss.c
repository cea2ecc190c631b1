/* loss.c: losses (see loss.h). */
#include "loss.h"

#include <math.h>
#include <string.h>

#include "activation.h"

/* log(sum(exp(x))) of one row, stable. */
static double logsumexp(int64_t C, const float *x) {
  float max = -INFINITY;
  for (int64_t c = 0; c < C; c++)
    if (x[c] > max || isnan(x[c])) max = x[c];
  if (isinf(max)) return max;
  double s = 0;
  for (int64_t c = 0; c < C; c++) s += exp((double)x[c] - max);
  return max + log(s);
}

double cnn_cross_entropy_forward(int64_t N, int64_t C, const float *logits, const int64_t *target, bool sum) {
  double total = 0;
  for (int64_t n = 0; n < N; n++) {
    const float *x = logits + n * C;
    total += logsumexp(C, x) - x[target[n]];
  }
  return sum ? total : total / (double)N;
}

void cnn_cross_entropy_backward(int64_t N, int64_t C, const float *logits, const int64_t *target, bool sum,
                                float dloss, float *dinp) {
  float scale = sum ? dloss : dloss / (float)N;
  cnn_softmax_forward(N, C, 1, false, logits, dinp);
  for (int64_t n = 0; n < N; n++) {
    dinp[n * C + target[n]] -= 1.0f;
    for (int64_t c = 0; c < C; c++) dinp[n * C + c] *= scale;
  }
}

double cnn_nll_forward(int64_t N, int64_t C, const float *logp, const int64_t *target, bool sum) {
  double total = 0;
  for (int64_t n = 0; n < N; n++) total -= logp[n * C + target[n]];
  return sum ? total : total / (double)N;
}

void cnn_nll_backward(int64_t N, int64_t C, const int64_t *target, bool sum, float dloss, float *dinp) {
  memset(dinp, 0, (size_t)(N * C) * sizeof(float));
  float g = -(sum ? dloss : dloss / (float)N);
  for (int64_t n = 0; n < N; n++) dinp[n * C + target[n]] = g;
}

double cnn_mse_forward(int64_t n, const float *x, const float *y, bool sum) {
  double total = 0;
  for (int64_t i = 0; i < n; i++) total += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
  return sum ? total : total / (double)n;
}

void cnn_mse_backward(int64_t n, const float *x, const float *y, bool sum, float dloss, float *dinp) {
  float scale = 2.0f * (sum ? dloss : dloss / (float)n);
  for (int64_t i = 0; i < n; i++) dinp[i] = scale * (x[i] - y[i]);
}
