/*
 * conv_direct.c: direct convolution for one input channel per group (see
 * conv_direct.h).
 *
 * The image is copied once into a zero-padded scratch plane whose rows have
 * 2 LANE floats of slack, so every output row is computed in whole runs of LANE
 * columns with no edge tests: out[p][q..q+LANE) = bias + sum over taps (r, s)
 * of w[r][s] * xpad[p+r][q+s .. q+s+LANE). The weight gradient is the same
 * sweep with the roles turned: dw[r][s] = sum over p, q of dy[p][q] *
 * xpad[p+r][q+s]. The bodies are plain loops over fixed runs of LANE floats, compiled
 * twice: for baseline x86-64 and, behind the CPU check, for AVX2 (so that a
 * run is one vector). Multiply and add stay separate operations in both, so
 * both give the same results.
 */
#include "conv_direct.h"

#include <string.h>

#include "sgemm.h"
#include "vec8.h"

#define LANE 8

/* A run of LANE floats (vec8.h): one ymm register with AVX2, two xmm without. */
typedef cnn_v8 run;
#define load_run CNN_V8_LOAD

bool cnn_conv2d_direct_ok(const cnn_conv2d_geom *g) {
  return g->C == g->G && g->stride[0] == 1 && g->stride[1] == 1 && g->dil[0] == 1 && g->dil[1] == 1;
}

static int64_t padded_w(const cnn_conv2d_geom *g) { return g->W + 2 * g->pad[1] + 2 * LANE; }

int64_t cnn_conv2d_direct_scratch(const cnn_conv2d_geom *g) { return (g->H + 2 * g->pad[0]) * padded_w(g); }

/* x (H x W) into the middle of a zeroed (H + 2 pad_h) x padded_w plane. */
static void pad_image(const cnn_conv2d_geom *g, const float *x, float *xp) {
  int64_t Wp = padded_w(g);
  memset(xp, 0, (size_t)((g->H + 2 * g->pad[0]) * Wp) * sizeof *xp);
  for (int64_t h = 0; h < g->H; h++) memcpy(xp + (h + g->pad[0]) * Wp + g->pad[1], x + h * g->W, (size_t)g->W * sizeof *x);
}

/* Two runs at a time: two independent chains of additions, one weight load. */
static inline void forward_body(const cnn_conv2d_geom *g, const float *xp, const float *w, float bias, float *y) {
  int64_t Wp = padded_w(g), R = g->R, S = g->S, Q = g->Q;
  for (int64_t p = 0; p < g->P; p++)
    for (int64_t q0 = 0; q0 < Q; q0 += 2 * LANE) {
      run a = (run){0} + bias, b = a;
      for (int64_t r = 0; r < R; r++) {
        const float *row = xp + (p + r) * Wp + q0;
        for (int64_t s = 0; s < S; s++) {
          float wv = w[r * S + s];
          a += wv * load_run(row + s);
          b += wv * load_run(row + s + LANE);
        }
      }
      int64_t n = Q - q0 < LANE ? Q - q0 : LANE, m = Q - q0 - LANE < LANE ? Q - q0 - LANE : LANE;
      memcpy(y + p * Q + q0, &a, (size_t)n * sizeof(float));
      if (m > 0) memcpy(y + p * Q + q0 + LANE, &b, (size_t)m * sizeof(float));
    }
}

/* dw[r][s] += sum over p, q of dy[p][q] * xpad[p + r][q + s]: whole runs of
 * LANE columns, then the rest one by one (no product outside the output). */
static inline void weight_body(const cnn_conv2d_geom *g, const float *xp, const float *dy, float *dw) {
  int64_t Wp = padded_w(g), Q = g->Q, whole = Q / LANE * LANE;
  for (int64_t r = 0; r < g->R; r++)
    for (int64_t s = 0; s < g->S; s++) {
      run acc = {0}, acc2 = {0}; /* even and odd rows: two chains of additions, not one */
      float tail = 0.0f;
      int64_t p = 0;
      for (; p + 1 < g->P; p += 2) {
        const float *row = xp + (p + r) * Wp + s, *d = dy + p * Q;
        for (int64_t q0 = 0; q0 < whole; q0 += LANE) {
          acc += load_run(d + q0) * load_run(row + q0);
          acc2 += load_run(d + Q + q0) * load_run(row + Wp + q0);
        }
        for (int64_t q = whole; q < Q; q++) tail += d[q] * row[q] + d[Q + q] * row[Wp + q];
      }
      for (; p < g->P; p++) {
        const float *row = xp + (p + r) * Wp + s, *d = dy + p * Q;
        for (int64_t q0 = 0; q0 < whole; q0 += LANE) acc += load_run(d + q0) * load_run(row + q0);
        for (int64_t q = whole; q < Q; q++) tail += d[q] * row[q];
      }
      acc += acc2;
      for (int l = 0; l < LANE; l++) tail += acc[l];
      dw[r * g->S + s] += tail;
    }
}

static void forward_base(const cnn_conv2d_geom *g, const float *xp, const float *w, float bias, float *y) {
  forward_body(g, xp, w, bias, y);
}
__attribute__((target("avx2"))) static void forward_avx2(const cnn_conv2d_geom *g, const float *xp, const float *w,
                                                          float bias, float *y) {
  forward_body(g, xp, w, bias, y);
}
static void weight_base(const cnn_conv2d_geom *g, const float *xp, const float *dy, float *dw) {
  weight_body(g, xp, dy, dw);
}
__attribute__((target("avx2"))) static void weight_avx2(const cnn_conv2d_geom *g, const float *xp, const float *dy,
                                                         float *dw) {
  weight_body(g, xp, dy, dw);
}

/* AVX2 unless the portable kernels were asked for or the CPU lacks it. */
static bool use_avx2(void) { return cnn_isa_vector_avx2(); }

void cnn_conv2d_direct_forward(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *weight,
                               const float *bias, float *y, float *scratch) {
  int64_t Kg = g->K / g->G, RS = g->R * g->S, PQ = g->P * g->Q;
  pad_image(g, x, scratch);
  bool avx2 = use_avx2();
  for (int64_t k = gr * Kg; k < (gr + 1) * Kg; k++) {
    float b = bias ? bias[k] : 0.0f;
    float *yk = y + (k - gr * Kg) * PQ;
    if (avx2) forward_avx2(g, scratch, weight + k * RS, b, yk);
    else forward_base(g, scratch, weight + k * RS, b, yk);
  }
}

void cnn_conv2d_direct_weight_grad(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *dy,
                                   float *dweight, float *scratch) {
  int64_t Kg = g->K / g->G, RS = g->R * g->S, PQ = g->P * g->Q;
  pad_image(g, x, scratch);
  bool avx2 = use_avx2();
  for (int64_t k = 0; k < Kg; k++) {
    float *dwk = dweight + (gr * Kg + k) * RS;
    if (avx2) weight_avx2(g, scratch, dy + k * PQ, dwk);
    else weight_base(g, scratch, dy + k * PQ, dwk);
  }
}
