/* image.c: resampling and augmentation kernels (see image.h). */
#include "image.h"

#include <stdbool.h>
#include <string.h>

/* Source index and weight along one axis, PyTorch's area_pixel_compute_source_index. */
static void source(int64_t dst, int64_t in, int64_t out, int64_t *i0, int64_t *i1, float *w1) {
  float scale = (float)in / (float)out;
  float src = ((float)dst + 0.5f) * scale - 0.5f;
  if (src < 0) src = 0;
  *i0 = (int64_t)src;
  *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
  *w1 = src - (float)*i0;
}

void cnn_resize_bilinear(int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q, const float *inp, float *out) {
  for (int64_t p = 0; p < P; p++) {
    int64_t h0, h1;
    float a;
    source(p, H, P, &h0, &h1, &a);
    for (int64_t q = 0; q < Q; q++) {
      int64_t w0, w1;
      float b;
      source(q, W, Q, &w0, &w1, &b);
      for (int64_t c = 0; c < NC; c++) {
        const float *x = inp + c * H * W;
        out[(c * P + p) * Q + q] = (1 - a) * ((1 - b) * x[h0 * W + w0] + b * x[h0 * W + w1]) +
                                   a * ((1 - b) * x[h1 * W + w0] + b * x[h1 * W + w1]);
      }
    }
  }
}

void cnn_random_translate(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, cnn_rng *rng, const float *inp,
                          float *out) {
  for (int64_t n = 0; n < N; n++) {
    int64_t dy = (int64_t)cnn_rng_below(rng, (uint64_t)(2 * k + 1)) - k;
    int64_t dx = (int64_t)cnn_rng_below(rng, (uint64_t)(2 * k + 1)) - k;
    for (int64_t c = 0; c < C; c++) {
      const float *x = inp + (n * C + c) * H * W;
      float *y = out + (n * C + c) * H * W;
      memset(y, 0, (size_t)(H * W) * sizeof *y);
      /* y[h][w] = x[h - dy][w - dx] where that is inside the image */
      int64_t w_lo = dx > 0 ? dx : 0, w_hi = dx < 0 ? W + dx : W;
      for (int64_t h = dy > 0 ? dy : 0; h < (dy < 0 ? H + dy : H); h++)
        if (w_hi > w_lo) memcpy(y + h * W + w_lo, x + (h - dy) * W + (w_lo - dx), (size_t)(w_hi - w_lo) * sizeof *y);
    }
  }
}

void cnn_random_hflip(int64_t N, int64_t C, int64_t H, int64_t W, double p, cnn_rng *rng, const float *inp,
                      float *out) {
  for (int64_t n = 0; n < N; n++) {
    bool flip = cnn_rng_uniform_double(rng) < p;
    for (int64_t r = 0; r < C * H; r++) {
      const float *x = inp + (n * C * H + r) * W;
      float *y = out + (n * C * H + r) * W;
      if (flip)
        for (int64_t w = 0; w < W; w++) y[w] = x[W - 1 - w];
      else
        memcpy(y, x, (size_t)W * sizeof *y);
    }
  }
}

int64_t cnn_pad_source(int64_t i, int64_t before, int64_t size, cnn_pad_mode mode) {
  int64_t s = i - before;
  if (s >= 0 && s < size) return s;
  switch (mode) {
  case CNN_PAD_ZEROS: return -1;
  case CNN_PAD_REFLECT: return s < 0 ? -s : 2 * (size - 1) - s;
  case CNN_PAD_REPLICATE: return s < 0 ? 0 : size - 1;
  case CNN_PAD_CIRCULAR: return ((s % size) + size) % size;
  }
  return -1;
}

void cnn_pad2d_forward(int64_t NC, int64_t H, int64_t W, const int64_t pad[4], cnn_pad_mode mode, const float *inp,
                       float *out) {
  int64_t OH = H + pad[2] + pad[3], OW = W + pad[0] + pad[1];
  for (int64_t c = 0; c < NC; c++)
    for (int64_t y = 0; y < OH; y++) {
      int64_t sy = cnn_pad_source(y, pad[2], H, mode);
      for (int64_t x = 0; x < OW; x++) {
        int64_t sx = cnn_pad_source(x, pad[0], W, mode);
        out[(c * OH + y) * OW + x] = sy < 0 || sx < 0 ? 0.0f : inp[(c * H + sy) * W + sx];
      }
    }
}

void cnn_pad2d_backward(int64_t NC, int64_t H, int64_t W, const int64_t pad[4], cnn_pad_mode mode, const float *dout,
                        float *dinp) {
  int64_t OH = H + pad[2] + pad[3], OW = W + pad[0] + pad[1];
  memset(dinp, 0, (size_t)(NC * H * W) * sizeof(float));
  for (int64_t c = 0; c < NC; c++)
    for (int64_t y = 0; y < OH; y++) {
      int64_t sy = cnn_pad_source(y, pad[2], H, mode);
      if (sy < 0) continue;
      for (int64_t x = 0; x < OW; x++) {
        int64_t sx = cnn_pad_source(x, pad[0], W, mode);
        if (sx >= 0) dinp[(c * H + sy) * W + sx] += dout[(c * OH + y) * OW + x];
      }
    }
}
