/* activation.c: activations, softmax and dropout (see activation.h). */
#include "activation.h"

#include <math.h>

void cnn_activation_forward(cnn_activation f, float slope, int64_t n, const float *inp, float *out) {
  switch (f) {
  case CNN_RELU: /* NaN stays NaN, as PyTorch's relu */
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
    break;
  case CNN_LEAKY_RELU:
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : inp[i] * slope;
    break;
  case CNN_SIGMOID:
    for (int64_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-inp[i]));
    break;
  case CNN_TANH:
    for (int64_t i = 0; i < n; i++) out[i] = tanhf(inp[i]);
    break;
  }
}

void cnn_activation_backward(cnn_activation f, float slope, int64_t n, const float *inp, const float *out,
                             const float *dout, float *dinp) {
  switch (f) {
  case CNN_RELU:
    for (int64_t i = 0; i < n; i++) dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
    break;
  case CNN_LEAKY_RELU:
    for (int64_t i = 0; i < n; i++) dinp[i] = inp[i] > 0.0f ? dout[i] : dout[i] * slope;
    break;
  case CNN_SIGMOID:
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * (1.0f - out[i]) * out[i];
    break;
  case CNN_TANH:
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * (1.0f - out[i] * out[i]);
    break;
  }
}

void cnn_softmax_forward(int64_t outer, int64_t len, int64_t inner, bool take_log, const float *inp, float *out) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      const float *x = inp + o * len * inner + j;
      float *y = out + o * len * inner + j;
      float max = -INFINITY;
      for (int64_t i = 0; i < len; i++)
        if (x[i * inner] > max || isnan(x[i * inner])) max = x[i * inner];
      if (isinf(max) && max < 0) max = 0.0f; /* all -inf: keep exp finite */
      double sum = 0;
      for (int64_t i = 0; i < len; i++) sum += exp((double)(x[i * inner] - max));
      if (take_log) {
        float lse = (float)log(sum);
        for (int64_t i = 0; i < len; i++) y[i * inner] = x[i * inner] - max - lse;
      } else {
        for (int64_t i = 0; i < len; i++) y[i * inner] = (float)(exp((double)(x[i * inner] - max)) / sum);
      }
    }
}

void cnn_softmax_backward(int64_t outer, int64_t len, int64_t inner, bool take_log, const float *out,
                          const float *dout, float *dinp) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * len * inner + j;
      const float *y = out + base, *dy = dout + base;
      float *dx = dinp + base;
      double s = 0;
      for (int64_t i = 0; i < len; i++) s += take_log ? (double)dy[i * inner] : (double)dy[i * inner] * y[i * inner];
      for (int64_t i = 0; i < len; i++)
        dx[i * inner] = take_log ? dy[i * inner] - expf(y[i * inner]) * (float)s : y[i * inner] * (dy[i * inner] - (float)s);
    }
}

void cnn_dropout_forward(int64_t n, float p, cnn_rng *rng, const float *inp, float *out, float *mask) {
  float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (int64_t i = 0; i < n; i++) {
    mask[i] = cnn_rng_uniform(rng) < p ? 0.0f : keep;
    out[i] = inp[i] * mask[i];
  }
}
