/*
 * conv.c: 2-D convolution through im2col + sgemm, and its naive twin
 * (see conv.h for the shapes and the dimension legend).
 *
 * Per image n and group g, with CRS = C/G*R*S and PQ = P*Q:
 *   forward:        out[n,g] (K/G x PQ)   = weight[g] (K/G x CRS) @ col (CRS x PQ)
 *   input grad:     col (CRS x PQ)        = weight[g]^T @ dout[n,g];  dinp[n,g] = col2im(col)
 *   weight grad:    dweight[g] (K/G x CRS) += dout[n,g] @ col^T
 * A 1x1 kernel with unit stride and no padding needs no unfolding: the input
 * image is its own column matrix.
 */
#include "conv.h"

#include <cblas.h>
#include <string.h>

#include "im2col.h"
#include "parallel.h"

cnn_status cnn_conv2d_geom_init(cnn_conv2d_geom *g, const int64_t inp_shape[4], const int64_t w_shape[4],
                                int64_t bias_len, bool has_bias, const int64_t stride[2],
                                const int64_t pad[2], const int64_t dil[2], int64_t groups, cnn_error *err) {
  int64_t N = inp_shape[0], C = inp_shape[1], H = inp_shape[2], W = inp_shape[3];
  int64_t K = w_shape[0], Cg = w_shape[1], R = w_shape[2], S = w_shape[3];
  for (int i = 0; i < 2; i++) {
    if (stride[i] < 1) return cnn_error_set(err, CNN_EINVAL, "stride must be positive, got %lld", (long long)stride[i]);
    if (pad[i] < 0) return cnn_error_set(err, CNN_EINVAL, "padding must be non-negative, got %lld", (long long)pad[i]);
    if (dil[i] < 1) return cnn_error_set(err, CNN_EINVAL, "dilation must be positive, got %lld", (long long)dil[i]);
  }
  if (groups < 1) return cnn_error_set(err, CNN_EINVAL, "groups must be positive, got %lld", (long long)groups);
  if (K < 1 || Cg < 1 || R < 1 || S < 1)
    return cnn_error_set(err, CNN_EINVAL, "weight of shape (%lld, %lld, %lld, %lld) has an empty dimension",
                         (long long)K, (long long)Cg, (long long)R, (long long)S);
  if (C != Cg * groups) {
    if (groups == 1)
      return cnn_error_set(err, CNN_EINVAL, "input has %lld channels, weight expects %lld", (long long)C,
                           (long long)Cg);
    return cnn_error_set(err, CNN_EINVAL, "input has %lld channels, weight expects %lld (%lld per group x %lld groups)",
                         (long long)C, (long long)(Cg * groups), (long long)Cg, (long long)groups);
  }
  if (K % groups)
    return cnn_error_set(err, CNN_EINVAL, "%lld output channels are not divisible by %lld groups", (long long)K,
                         (long long)groups);
  if (has_bias && bias_len != K)
    return cnn_error_set(err, CNN_EINVAL, "bias has %lld elements, expected %lld (one per output channel)",
                         (long long)bias_len, (long long)K);
  int64_t eff_h = dil[0] * (R - 1) + 1, eff_w = dil[1] * (S - 1) + 1;
  int64_t ph = H + 2 * pad[0], pw = W + 2 * pad[1];
  if (eff_h > ph || eff_w > pw)
    return cnn_error_set(err, CNN_EINVAL, "kernel %lldx%lld (dilated %lldx%lld) is larger than the padded input %lldx%lld",
                         (long long)R, (long long)S, (long long)eff_h, (long long)eff_w, (long long)ph, (long long)pw);
  *g = (cnn_conv2d_geom){N, C, H, W, K, R, S, (ph - eff_h) / stride[0] + 1, (pw - eff_w) / stride[1] + 1, groups,
                         {stride[0], stride[1]}, {pad[0], pad[1]}, {dil[0], dil[1]}};
  return CNN_OK;
}

static bool direct_1x1(const cnn_conv2d_geom *g) {
  return g->R == 1 && g->S == 1 && g->stride[0] == 1 && g->stride[1] == 1 && g->pad[0] == 0 && g->pad[1] == 0;
}

static int64_t col_size(const cnn_conv2d_geom *g) {
  return direct_1x1(g) ? 0 : g->C / g->G * g->R * g->S * g->P * g->Q;
}

/* Threads the loops over images will use. */
static int threads_for(const cnn_conv2d_geom *g) {
  int t = cnn_parallel_threads();
  return g->N < t ? (int)(g->N > 0 ? g->N : 1) : t;
}

/* Per thread: one column matrix, and (for the weight gradient) one private
 * gradient buffer for every thread but the first. */
int64_t cnn_conv2d_workspace_size(const cnn_conv2d_geom *g) {
  int t = cnn_parallel_threads();
  return t * col_size(g) + (t - 1) * g->K * (g->C / g->G) * g->R * g->S;
}

/* The unfolding of channels [c0, c0 + C/G) of one image. */
static cnn_patch_geom patch_geom(const cnn_conv2d_geom *g) {
  return (cnn_patch_geom){g->C / g->G, g->H, g->W, g->R, g->S, g->P, g->Q,
                          g->stride[0], g->stride[1], g->pad[0], g->pad[1], g->dil[0], g->dil[1]};
}

/* The column matrix of group gr of image inp: col itself, or the input. */
static const float *columns(const cnn_conv2d_geom *g, const float *inp, int64_t gr, float *col) {
  const float *x = inp + gr * (g->C / g->G) * g->H * g->W;
  if (direct_1x1(g)) return x;
  cnn_patch_geom pg = patch_geom(g);
  cnn_im2col(&pg, x, col);
  return col;
}

/* What the per-image loops share. */
typedef struct {
  const cnn_conv2d_geom *g;
  const float *inp, *weight, *bias, *dout;
  float *out, *dinp, *dweight, *work;
} conv_job;

static void forward_images(void *ctx, int64_t n0, int64_t n1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  int64_t Kg = g->K / g->G, CRS = g->C / g->G * g->R * g->S, PQ = g->P * g->Q;
  float *col = j->work + thread * col_size(g);
  for (int64_t n = n0; n < n1; n++) {
    const float *x = j->inp + n * g->C * g->H * g->W;
    float *y = j->out + n * g->K * PQ;
    for (int64_t gr = 0; gr < g->G; gr++) {
      const float *c = columns(g, x, gr, col);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Kg, (int)PQ, (int)CRS, 1.0f,
                  j->weight + gr * Kg * CRS, (int)CRS, c, (int)PQ, 0.0f, y + gr * Kg * PQ, (int)PQ);
    }
    if (j->bias)
      for (int64_t k = 0; k < g->K; k++)
        for (int64_t i = 0; i < PQ; i++) y[k * PQ + i] += j->bias[k];
  }
}

void cnn_conv2d_forward(const cnn_conv2d_geom *g, const float *inp, const float *weight, const float *bias,
                        float *out, float *work) {
  conv_job j = {g, inp, weight, bias, NULL, out, NULL, NULL, work};
  cnn_parallel_for(g->N, 1, forward_images, &j);
}

static void backward_input_images(void *ctx, int64_t n0, int64_t n1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, CRS = Cg * g->R * g->S, PQ = g->P * g->Q, HW = g->H * g->W;
  cnn_patch_geom pg = patch_geom(g);
  float *col = j->work + thread * col_size(g);
  for (int64_t n = n0; n < n1; n++) {
    const float *dy = j->dout + n * g->K * PQ;
    float *dx = j->dinp + n * g->C * HW;
    for (int64_t gr = 0; gr < g->G; gr++) {
      float *target = direct_1x1(g) ? dx + gr * Cg * HW : col;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)CRS, (int)PQ, (int)Kg, 1.0f,
                  j->weight + gr * Kg * CRS, (int)CRS, dy + gr * Kg * PQ, (int)PQ, 0.0f, target, (int)PQ);
      if (!direct_1x1(g)) {
        memset(dx + gr * Cg * HW, 0, (size_t)(Cg * HW) * sizeof(float));
        cnn_col2im(&pg, col, dx + gr * Cg * HW);
      }
    }
  }
}

void cnn_conv2d_backward_input(const cnn_conv2d_geom *g, const float *dout, const float *weight, float *dinp,
                               float *work) {
  conv_job j = {g, NULL, weight, NULL, dout, NULL, dinp, NULL, work};
  cnn_parallel_for(g->N, 1, backward_input_images, &j);
}

/* Thread 0 accumulates into dweight itself, the others into private buffers
 * (zeroed here) that are added in afterwards. */
static void backward_weight_images(void *ctx, int64_t n0, int64_t n1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  int64_t Kg = g->K / g->G, CRS = g->C / g->G * g->R * g->S, PQ = g->P * g->Q;
  int64_t wsize = g->K * CRS;
  float *col = j->work + thread * col_size(g);
  float *dw = thread == 0 ? j->dweight : j->work + cnn_parallel_threads() * col_size(g) + (thread - 1) * wsize;
  if (thread > 0) memset(dw, 0, (size_t)wsize * sizeof(float));
  for (int64_t n = n0; n < n1; n++) {
    const float *x = j->inp + n * g->C * g->H * g->W;
    const float *dy = j->dout + n * g->K * PQ;
    for (int64_t gr = 0; gr < g->G; gr++) {
      const float *c = columns(g, x, gr, col);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Kg, (int)CRS, (int)PQ, 1.0f,
                  dy + gr * Kg * PQ, (int)PQ, c, (int)PQ, 1.0f, dw + gr * Kg * CRS, (int)CRS);
    }
  }
}

void cnn_conv2d_backward_params(const cnn_conv2d_geom *g, const float *inp, const float *dout, float *dweight,
                                float *dbias, float *work) {
  int64_t PQ = g->P * g->Q;
  if (dweight) {
    conv_job j = {g, inp, NULL, NULL, dout, NULL, NULL, dweight, work};
    int used = threads_for(g);
    cnn_parallel_for(g->N, 1, backward_weight_images, &j);
    int64_t wsize = g->K * (g->C / g->G) * g->R * g->S;
    const float *priv = work + cnn_parallel_threads() * col_size(g);
    for (int t = 1; t < used; t++)
      for (int64_t i = 0; i < wsize; i++) dweight[i] += priv[(t - 1) * wsize + i];
  }
  if (dbias)
    for (int64_t k = 0; k < g->K; k++) {
      double s = 0;
      for (int64_t n = 0; n < g->N; n++)
        for (int64_t i = 0; i < PQ; i++) s += dout[(n * g->K + k) * PQ + i];
      dbias[k] += (float)s;
    }
}

/* ---- naive twins: one multiply-add per iteration of a direct loop nest ---- */

/* Offset of input pixel (n, channel, ih, iw), or -1 where the tap is padding. */
static int64_t tap(const cnn_conv2d_geom *g, int64_t n, int64_t channel, int64_t p, int64_t q, int64_t r, int64_t s) {
  int64_t ih = p * g->stride[0] - g->pad[0] + r * g->dil[0];
  int64_t iw = q * g->stride[1] - g->pad[1] + s * g->dil[1];
  if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) return -1;
  return ((n * g->C + channel) * g->H + ih) * g->W + iw;
}

void cnn_conv2d_forward_naive(const cnn_conv2d_geom *g, const float *inp, const float *weight,
                              const float *bias, float *out) {
  int64_t Cg = g->C / g->G, Kg = g->K / g->G;
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t k = 0; k < g->K; k++)
      for (int64_t p = 0; p < g->P; p++)
        for (int64_t q = 0; q < g->Q; q++) {
          double acc = bias ? bias[k] : 0.0;
          for (int64_t c = 0; c < Cg; c++)
            for (int64_t r = 0; r < g->R; r++)
              for (int64_t s = 0; s < g->S; s++) {
                int64_t i = tap(g, n, k / Kg * Cg + c, p, q, r, s);
                if (i >= 0) acc += (double)inp[i] * weight[((k * Cg + c) * g->R + r) * g->S + s];
              }
          out[((n * g->K + k) * g->P + p) * g->Q + q] = (float)acc;
        }
}

void cnn_conv2d_backward_input_naive(const cnn_conv2d_geom *g, const float *dout, const float *weight,
                                     float *dinp) {
  int64_t Cg = g->C / g->G, Kg = g->K / g->G;
  memset(dinp, 0, (size_t)(g->N * g->C * g->H * g->W) * sizeof(float));
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t k = 0; k < g->K; k++)
      for (int64_t p = 0; p < g->P; p++)
        for (int64_t q = 0; q < g->Q; q++) {
          float dy = dout[((n * g->K + k) * g->P + p) * g->Q + q];
          for (int64_t c = 0; c < Cg; c++)
            for (int64_t r = 0; r < g->R; r++)
              for (int64_t s = 0; s < g->S; s++) {
                int64_t i = tap(g, n, k / Kg * Cg + c, p, q, r, s);
                if (i >= 0) dinp[i] += dy * weight[((k * Cg + c) * g->R + r) * g->S + s];
              }
        }
}

void cnn_conv2d_backward_params_naive(const cnn_conv2d_geom *g, const float *inp, const float *dout,
                                      float *dweight, float *dbias) {
  int64_t Cg = g->C / g->G, Kg = g->K / g->G;
  for (int64_t k = 0; k < g->K; k++) {
    for (int64_t c = 0; c < Cg && dweight; c++)
      for (int64_t r = 0; r < g->R; r++)
        for (int64_t s = 0; s < g->S; s++) {
          double acc = 0;
          for (int64_t n = 0; n < g->N; n++)
            for (int64_t p = 0; p < g->P; p++)
              for (int64_t q = 0; q < g->Q; q++) {
                int64_t i = tap(g, n, k / Kg * Cg + c, p, q, r, s);
                if (i >= 0) acc += (double)inp[i] * dout[((n * g->K + k) * g->P + p) * g->Q + q];
              }
          dweight[((k * Cg + c) * g->R + r) * g->S + s] += (float)acc;
        }
    if (dbias) {
      double acc = 0;
      for (int64_t n = 0; n < g->N; n++)
        for (int64_t i = 0; i < g->P * g->Q; i++) acc += dout[(n * g->K + k) * g->P * g->Q + i];
      dbias[k] += (float)acc;
    }
  }
}
