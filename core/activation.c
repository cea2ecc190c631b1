/* activation.c: activations, softmax and dropout (see activation.h). */
#include "activation.h"

#include <math.h>
#include <stddef.h>

#include "parallel.h"

/* The loops take restrict pointers and select without branches, so that the
 * compiler vectorises them (signs of activations are random: a branch per
 * element would mispredict half the time). */
static void forward_range(cnn_activation f, float slope, int64_t n, const float *restrict inp, float *restrict out) {
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

static void backward_range(cnn_activation f, float slope, int64_t n, const float *restrict inp,
                           const float *restrict out, const float *restrict dout, float *restrict dinp) {
  switch (f) {
  case CNN_RELU:
    for (int64_t i = 0; i < n; i++) {
      float d = dout[i]; /* loaded unconditionally: a select, not a branch */
      dinp[i] = out[i] > 0.0f ? d : 0.0f;
    }
    break;
  case CNN_LEAKY_RELU:
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * (inp[i] > 0.0f ? 1.0f : slope);
    break;
  case CNN_SIGMOID:
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * (1.0f - out[i]) * out[i];
    break;
  case CNN_TANH:
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * (1.0f - out[i] * out[i]);
    break;
  }
}

typedef struct {
  cnn_activation f;
  float slope;
  const float *inp, *out, *dout;
  float *result;
} act_job;

static void forward_chunk(void *ctx, int64_t a, int64_t b, int thread) {
  (void)thread;
  const act_job *j = ctx;
  forward_range(j->f, j->slope, b - a, j->inp + a, j->result + a);
}

static void backward_chunk(void *ctx, int64_t a, int64_t b, int thread) {
  (void)thread;
  const act_job *j = ctx;
  backward_range(j->f, j->slope, b - a, j->inp + a, j->out + a, j->dout + a, j->result + a);
}

/* The in-place ReLUs: x (forward), or dout masked by out into dst, which
 * may be either of them (backward). */
typedef struct {
  const float *out, *dout;
  float *x;
} relu_job;

static void relu_chunk(void *ctx, int64_t a, int64_t b, int thread) {
  (void)thread;
  const relu_job *j = ctx;
  float *x = j->x;
  const float *out = j->out, *dout = j->dout; /* in locals: x might alias j, whose fields would be read again */
  /* one loop per case, in which x is read and written in place (with three
   * pointers, two of them equal, the loop ran scalar) */
  if (out == x)
    for (int64_t i = a; i < b; i++) {
      float d = dout[i]; /* read whatever the sign: a load under a condition kept the loop scalar */
      x[i] = x[i] > 0.0f ? d : 0.0f;
    }
  else if (out)
    for (int64_t i = a; i < b; i++) x[i] = out[i] > 0.0f ? x[i] : 0.0f;
  else
    for (int64_t i = a; i < b; i++) x[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void cnn_relu_inplace(int64_t n, float *x) {
  relu_job j = {NULL, NULL, x};
  cnn_parallel_for(n, cnn_parallel_grain(1), relu_chunk, &j);
}

void cnn_relu_backward_inplace(int64_t n, const float *out, const float *dout, float *dst) {
  relu_job j = {out, dout, dst}; /* dst is dout or out */
  cnn_parallel_for(n, cnn_parallel_grain(1), relu_chunk, &j);
}

void cnn_activation_forward(cnn_activation f, float slope, int64_t n, const float *inp, float *out) {
  act_job j = {f, slope, inp, NULL, NULL, out};
  cnn_parallel_for(n, cnn_parallel_grain(1), forward_chunk, &j);
}

void cnn_activation_backward(cnn_activation f, float slope, int64_t n, const float *inp, const float *out,
                             const float *dout, float *dinp) {
  act_job j = {f, slope, inp, out, dout, dinp};
  cnn_parallel_for(n, cnn_parallel_grain(1), backward_chunk, &j);
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
