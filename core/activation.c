/* activation.c: activations, softmax and dropout (see activation.h). */
#include "activation.h"

#include <math.h>
#include <stddef.h>

#include "parallel.h"
#include "sgemm.h"
#include "vec8.h"

/* The loops take restrict pointers and select without branches, so that the
 * compiler vectorises them (signs of activations are random: a branch per
 * element would mispredict half the time). Each is compiled for baseline
 * x86-64 and for AVX2 (CNN_V8_TWICE: the same operations, the same floats):
 * at batch 1 the data sit in cache, and wider vectors go twice as fast. */
CNN_V8_BODY void forward_range_body(cnn_activation f, float slope, int64_t n, const float *restrict inp,
                                    float *restrict out) {
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

CNN_V8_TWICE(forward_range, (cnn_activation f, float slope, int64_t n, const float *restrict inp, float *restrict out),
             (f, slope, n, inp, out))

CNN_V8_BODY void backward_range_body(cnn_activation f, float slope, int64_t n, const float *restrict inp,
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

CNN_V8_TWICE(backward_range,
             (cnn_activation f, float slope, int64_t n, const float *restrict inp, const float *restrict out,
              const float *restrict dout, float *restrict dinp),
             (f, slope, n, inp, out, dout, dinp))

/* The in-place ReLUs: x rectified (no out), or dout masked by out into x,
 * which is out or dout itself. One loop per case, in which x is read and
 * written in place (with three pointers, two of them equal, the loop ran
 * scalar). */
CNN_V8_BODY void relu_range_body(int64_t n, const float *out, const float *dout, float *x) {
  if (out == x)
    for (int64_t i = 0; i < n; i++) {
      float d = dout[i]; /* read whatever the sign: a load under a condition kept the loop scalar */
      x[i] = x[i] > 0.0f ? d : 0.0f;
    }
  else if (out)
    for (int64_t i = 0; i < n; i++) x[i] = out[i] > 0.0f ? x[i] : 0.0f;
  else
    for (int64_t i = 0; i < n; i++) x[i] = x[i] < 0.0f ? 0.0f : x[i];
}
CNN_V8_TWICE(relu_range, (int64_t n, const float *out, const float *dout, float *x), (n, out, dout, x))

typedef struct {
  cnn_activation f;
  float slope;
  const float *inp, *out, *dout;
  float *result;
  bool avx2; /* cnn_isa_vector_avx2(), asked once per call */
} act_job;

static void forward_chunk(void *ctx, int64_t a, int64_t b, int thread) {
  (void)thread;
  const act_job *j = ctx;
  forward_range(j->avx2, j->f, j->slope, b - a, j->inp + a, j->result + a);
}

static void backward_chunk(void *ctx, int64_t a, int64_t b, int thread) {
  (void)thread;
  const act_job *j = ctx;
  backward_range(j->avx2, j->f, j->slope, b - a, j->inp + a, j->out + a, j->dout + a, j->result + a);
}

static void relu_chunk(void *ctx, int64_t a, int64_t b, int thread) {
  (void)thread;
  const act_job *j = ctx;
  relu_range(j->avx2, b - a, j->out ? j->out + a : NULL, j->dout ? j->dout + a : NULL, j->result + a);
}

void cnn_relu_inplace(int64_t n, float *x) {
  act_job j = {CNN_RELU, 0.0f, NULL, NULL, NULL, x, cnn_isa_vector_avx2()};
  cnn_parallel_for(n, cnn_parallel_grain(1), relu_chunk, &j);
}

void cnn_relu_backward_inplace(int64_t n, const float *out, const float *dout, float *dst) {
  act_job j = {CNN_RELU, 0.0f, NULL, out, dout, dst, cnn_isa_vector_avx2()}; /* dst is dout or out */
  cnn_parallel_for(n, cnn_parallel_grain(1), relu_chunk, &j);
}

void cnn_activation_forward(cnn_activation f, float slope, int64_t n, const float *inp, float *out) {
  act_job j = {f, slope, inp, NULL, NULL, out, cnn_isa_vector_avx2()};
  cnn_parallel_for(n, cnn_parallel_grain(1), forward_chunk, &j);
}

void cnn_activation_backward(cnn_activation f, float slope, int64_t n, const float *inp, const float *out,
                             const float *dout, float *dinp) {
  act_job j = {f, slope, inp, out, dout, dinp, cnn_isa_vector_avx2()};
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
