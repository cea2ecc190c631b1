/*
 * conv.c: 2-D convolution as matrix products (sgemm.h), and its naive twin
 * (see conv.h for the shapes and the dimension legend).
 *
 * Per image n and group g, with CRS = C/G*R*S and PQ = P*Q:
 *   forward:        out[n,g] (K/G x PQ)   = weight[g] (K/G x CRS) @ col (CRS x PQ)
 *   input grad:     at stride 1, the forward convolution of dout[n,g] with the
 *                   kernel turned by 180 degrees and its channels swapped;
 *                   else col = weight[g]^T @ dout[n,g], dinp[n,g] = col2im(col)
 *   weight grad:    dweight[g] (K/G x CRS) += dout[n,g] @ col^T
 * The column matrix col of an image is never built whole: the product unfolds
 * the rows of each block as it packs them (cnn_sgemm_rows), and the weight
 * gradient unfolds a few rows at a time. A 1x1 kernel with unit stride and no
 * padding needs no unfolding: the input image is its own column matrix.
 * Forward work items are (image, group, block of output pixels), so that a
 * single image still keeps every thread busy.
 *
 * Most layers take none of this: at stride 1 the forward pass and the weight
 * gradient (and so, flipped, the input gradient) run the implicit product
 * (conv_implicit.h), or Winograd's algorithm for 3x3 kernels with enough
 * channels in and out (conv_winograd.h), or for depthwise layers the direct
 * kernels (conv_direct.h). The products above remain for strided layers,
 * 1x1 kernels and the input gradient when padding exceeds the kernel.
 */
#include "conv.h"

#include <stdint.h>
#include <string.h>

#include "activation.h"
#include "conv_direct.h"
#include "conv_implicit.h"
#include "conv_winograd.h"
#include "conv_winograd4.h"
#include "im2col.h"
#include "parallel.h"
#include "reduce.h"
#include "sgemm.h"

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

/* The input gradient is a stride-1 convolution of dout with the flipped kernel
 * when the forward pass has stride 1 and its padding is within the kernel.
 * That product has C/G rows: with few input channels, packing its unfolded
 * rows would cost more than the product, and folding weight^T @ dout back
 * is faster. */
#define FLIP_MIN_CHANNELS 16
static bool implicit(const cnn_conv2d_geom *g);
static bool flippable(const cnn_conv2d_geom *g) {
  return g->stride[0] == 1 && g->stride[1] == 1 && g->dil[0] * (g->R - 1) >= g->pad[0] &&
         g->dil[1] * (g->S - 1) >= g->pad[1] && (g->C / g->G >= FLIP_MIN_CHANNELS || implicit(g));
}

/* The forward pass that gives the input gradient of g when flippable(g):
 * dout convolved with the flipped kernel (built by backward_input). */
static cnn_conv2d_geom flip_geom(const cnn_conv2d_geom *g) {
  return (cnn_conv2d_geom){g->N, g->K, g->P, g->Q, g->C, g->R, g->S, g->H, g->W, g->G, {1, 1},
                           {g->dil[0] * (g->R - 1) - g->pad[0], g->dil[1] * (g->S - 1) - g->pad[1]},
                           {g->dil[0], g->dil[1]}};
}

/* Layers with one input channel and few output channels per group (depthwise)
 * run the direct kernels (conv_direct.h); other stride-1 layers with more
 * than one tap the implicit product (conv_implicit.h), whose tiles hold
 * CNN_IMPLICIT_MR output channels. */
static bool direct(const cnn_conv2d_geom *g) {
  return cnn_conv2d_direct_ok(g) && g->K / g->G < CNN_IMPLICIT_MR;
}
/* Both keep a whole padded image (and for Winograd's algorithm, blocks of its
 * transform) per thread: past SCRATCH_MAX floats of that, huge images take the
 * packed products, whose space is bounded. */
#define SCRATCH_MAX ((int64_t)1 << 24)
static bool implicit(const cnn_conv2d_geom *g) {
  return cnn_conv2d_implicit_ok(g) && !direct(g) && g->R * g->S > 1 && cnn_conv2d_implicit_scratch(g) <= SCRATCH_MAX;
}

/* 3x3 layers with enough channels in and out, and tiles, to pay for the
 * transforms run Winograd's F(2x2, 3x3) (conv_winograd.h). Measured here:
 * 32 -> 32 channels at 28x28 ran 15-20% faster than on the implicit product
 * (16 -> 16 slower, 16 -> 32 even); a batch of one 7x7 image (16 tiles, half
 * a product's tile wasted) ran 1.7x slower, one of 14x14 (49) even. */
static _Atomic int winograd_tiles = 2; /* cnn_conv2d_set_winograd */
void cnn_conv2d_set_winograd(int tiles) {
  if (tiles == 0 || tiles == 2 || tiles == 4) winograd_tiles = tiles;
}
int cnn_conv2d_get_winograd(void) { return winograd_tiles; }

#define WINOGRAD_MIN_CHANNELS 32 /* in and out */
#define WINOGRAD_MIN_TILES 48    /* 2x2 output tiles in the batch */
static bool winograd(const cnn_conv2d_geom *g) {
  int64_t Cg = g->C / g->G, Kg = g->K / g->G, tiles = g->N * ((g->P + 1) / 2) * ((g->Q + 1) / 2);
  return winograd_tiles >= 2 && cnn_conv2d_winograd_ok(g) && Cg >= WINOGRAD_MIN_CHANNELS && Kg >= WINOGRAD_MIN_CHANNELS &&
         tiles >= WINOGRAD_MIN_TILES &&
         cnn_conv2d_winograd_scratch(g, true) + cnn_conv2d_winograd_grad_size(g) <= SCRATCH_MAX;
}

/* With cnn_conv2d_set_winograd(4), Winograd layers whose output tiles of 4x4
 * waste little (F(4x4, 3x3) multiplies 36 times per tile, F(2x2, 3x3) 16
 * times per quarter of it: at most 70% of those) take the larger tiles, for
 * the forward pass and the input gradient. */
static bool winograd4(const cnn_conv2d_geom *g) {
  int64_t t4 = ((g->P + 3) / 4) * ((g->Q + 3) / 4), t2 = ((g->P + 1) / 2) * ((g->Q + 1) / 2);
  return winograd_tiles == 4 && winograd(g) && cnn_conv2d_winograd4_ok(g) && 10 * 36 * t4 <= 7 * 16 * t2 &&
         cnn_conv2d_winograd4_scratch(g) <= SCRATCH_MAX;
}

/* Rows of the column matrix unfolded at a time for the weight gradient: as
 * many as the micro-kernel of row products takes, or for OpenBLAS up to
 * WG_FLOATS floats of them (fewer, larger calls measured faster than blocks
 * that stay in L2). */
#define WG_ROWS 6
#define WG_FLOATS ((int64_t)1 << 20)
static int64_t wg_rows(const cnn_conv2d_geom *g) {
  if (cnn_isa_active() != &cnn_isa_openblas) return WG_ROWS;
  int64_t CRS = g->C / g->G * g->R * g->S, rows = WG_FLOATS / (g->P * g->Q > 0 ? g->P * g->Q : 1);
  return rows >= CRS ? CRS : rows > WG_ROWS ? rows : WG_ROWS;
}

/* Floats rounded up to whole 64-byte lines, and the first line of work. */
static int64_t lines(int64_t floats) { return (floats + 15) & ~(int64_t)15; }
static float *first_line(float *work) { return (float *)(((uintptr_t)work + 63) & ~(uintptr_t)63); }

static int64_t gemm_work(void) { return lines(cnn_sgemm_work_floats()); }

/* Small images are multiplied several at a time: the product of one is too
 * small for the packing and the call to pay off. A group's output goes to a
 * scratch block first (its images' planes are not one matrix of out). */
#define GROUP_COLS 512
static bool groupable(const cnn_conv2d_geom *g, int64_t pixels) {
  return g->G == 1 && 2 * pixels <= GROUP_COLS && !direct_1x1(g);
}

/* The scratch block of a group, for g and for the flipped pass of its input
 * gradient (whose output and input planes are g's input and output planes). */
static int64_t group_space(const cnn_conv2d_geom *g) {
  int64_t PQ = g->P * g->Q, HW = g->H * g->W;
  return groupable(g, PQ < HW ? PQ : HW) ? (g->K > g->C ? g->K : g->C) * GROUP_COLS : 0;
}

/* The weight gradient of a Winograd layer, in the transformed domain. */
static int64_t winograd_grad_space(const cnn_conv2d_geom *g) {
  return winograd(g) ? cnn_conv2d_winograd_grad_size(g) : 0;
}

/* The forward passes that layer g runs: g itself, and the flipped pass of its
 * input gradient when there is one; their number. */
static int forward_passes(const cnn_conv2d_geom *g, cnn_conv2d_geom h[2]) {
  h[0] = *g;
  if (!flippable(g)) return 1;
  h[1] = flip_geom(g);
  return 2;
}

/* Per thread: the product's packing space followed by rows of the column
 * matrix (a whole column matrix only for the input gradient of a strided
 * convolution), or the scratch of the kernels that need no packing (direct,
 * implicit, Winograd: from the start of the space), whichever is larger;
 * then a group's block and Winograd's weight gradient. */
static int64_t thread_work_sum(const cnn_conv2d_geom *g) {
  int64_t PQ = g->P * g->Q, HW = g->H * g->W, rows = flippable(g) ? wg_rows(g) : g->C / g->G * g->R * g->S;
  if (rows < WG_ROWS) rows = WG_ROWS;
  int64_t extra = gemm_work() + lines(rows * (PQ > HW ? PQ : HW));
  if (direct(g) && cnn_conv2d_direct_scratch(g) > extra) extra = cnn_conv2d_direct_scratch(g);
  cnn_conv2d_geom h_[2];
  for (int i = 0, n = forward_passes(g, h_); i < n; i++) {
    const cnn_conv2d_geom *h = &h_[i];
    if (implicit(h) && cnn_conv2d_implicit_scratch(h) > extra) extra = cnn_conv2d_implicit_scratch(h);
    if (winograd(h) && cnn_conv2d_winograd_scratch(h, i == 0) > extra) extra = cnn_conv2d_winograd_scratch(h, i == 0);
    if (winograd4(h) && cnn_conv2d_winograd4_scratch(h) > extra) extra = cnn_conv2d_winograd4_scratch(h);
  }
  return lines(extra) + lines(group_space(g)) + lines(winograd_grad_space(g));
}

static int64_t weight_size(const cnn_conv2d_geom *g) { return g->K * (g->C / g->G) * g->R * g->S; }

/* The packed weights of the implicit product, for g or its flipped pass. */
static int64_t packed_size_sum(const cnn_conv2d_geom *g) {
  int64_t size = 0;
  cnn_conv2d_geom h_[2];
  for (int i = 0, n = forward_passes(g, h_); i < n; i++) {
    const cnn_conv2d_geom *h = &h_[i];
    if (implicit(h) && cnn_conv2d_implicit_packed_size(h) > size) size = cnn_conv2d_implicit_packed_size(h);
    if (winograd(h) && cnn_conv2d_winograd_packed_size(h) > size) size = cnn_conv2d_winograd_packed_size(h);
    if (winograd4(h) && cnn_conv2d_winograd4_packed_size(h) > size) size = cnn_conv2d_winograd4_packed_size(h);
  }
  return lines(size);
}

/* thread_work and packed_size of the last few layers asked, with what else
 * they depend on: a call asks for its own several times, and at batch 1 the
 * sums cost as much as a small layer's pooling (per OS thread: no locks). */
#define SIZES_KEPT 4
typedef struct {
  cnn_conv2d_geom g;
  int threads, tiles;
  const cnn_isa *isa;
  int64_t work, packed;
} layer_sizes;
static _Thread_local layer_sizes kept_sizes[SIZES_KEPT];
static _Thread_local int next_kept;

static const layer_sizes *sizes(const cnn_conv2d_geom *g) {
  int threads = cnn_parallel_threads(), tiles = winograd_tiles;
  const cnn_isa *isa = cnn_isa_active();
  for (int i = 0; i < SIZES_KEPT; i++) {
    const layer_sizes *k = &kept_sizes[i];
    if (k->threads == threads && k->tiles == tiles && k->isa == isa && !memcmp(&k->g, g, sizeof *g)) return k;
  }
  layer_sizes *k = &kept_sizes[next_kept];
  next_kept = (next_kept + 1) % SIZES_KEPT;
  *k = (layer_sizes){*g, threads, tiles, isa, thread_work_sum(g), packed_size_sum(g)};
  return k;
}
static int64_t thread_work(const cnn_conv2d_geom *g) { return sizes(g)->work; }
static int64_t packed_size(const cnn_conv2d_geom *g) { return sizes(g)->packed; }

/* Layout: the flipped kernel, the packed weights, then each thread's space,
 * then one private weight gradient for every thread but the first. */
int64_t cnn_conv2d_workspace_size(const cnn_conv2d_geom *g) {
  int t = cnn_parallel_threads();
  return lines(weight_size(g)) + packed_size(g) + t * thread_work(g) + (t - 1) * weight_size(g) + 16;
}

static float *packed_space(const cnn_conv2d_geom *g, float *work) {
  return first_line(work) + lines(weight_size(g));
}

static float *thread_space(const cnn_conv2d_geom *g, float *work, int thread) {
  return packed_space(g, work) + packed_size(g) + thread * thread_work(g);
}

/* The unfolding of channels [c0, c0 + C/G) of one image. */
static cnn_patch_geom patch_geom(const cnn_conv2d_geom *g) {
  return (cnn_patch_geom){g->C / g->G, g->H, g->W, g->R, g->S, g->P, g->Q,
                          g->stride[0], g->stride[1], g->pad[0], g->pad[1], g->dil[0], g->dil[1]};
}

/* What the loops share. */
typedef struct {
  const cnn_conv2d_geom *g;
  const float *inp, *weight, *bias, *dout;
  float *out, *dinp, *dweight, *work;
  int64_t chunk, chunks; /* columns of one forward work item, items per image and group */
  int64_t per_thread;    /* forward: floats between the threads' spaces, from work */
  int64_t block_at;      /* forward of image groups: where a thread's output block starts in its space */
  bool ran[CNN_MAX_THREADS]; /* weight gradient: the threads that filled their private buffer */
  const float *packed;       /* forward through the implicit product: the packed weights */
  bool relu;                 /* forward: rectify the output in the kernel */
} conv_job;

/* Columns of the product: from column j0 of the column matrix of image x, on
 * through the next images (image_size floats apart) when the product spans
 * several. */
typedef struct {
  cnn_patch_geom pg;
  const float *x;
  int64_t j0, image_size;
} unfold;

static void unfold_rows(const void *ctx, int64_t row0, int64_t rows, int64_t j0, int64_t n, float *dst, int64_t ld) {
  const unfold *u = ctx;
  int64_t PQ = u->pg.P * u->pg.Q;
  for (int64_t j = u->j0 + j0, end = j + n; j < end;) {
    int64_t image = j / PQ, at = j % PQ, len = PQ - at < end - j ? PQ - at : end - j;
    cnn_im2col_rows(&u->pg, u->x + image * u->image_size, row0, rows, at, len, dst, ld);
    dst += len;
    j += len;
  }
}

/* Items [i0, i1): item i is columns [c * chunk, ...) of group gr of image n,
 * for i = (n * G + gr) * chunks + c. */
static void forward_items(void *ctx, int64_t i0, int64_t i1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, CRS = Cg * g->R * g->S, PQ = g->P * g->Q, HW = g->H * g->W;
  float *work = j->work + thread * j->per_thread; /* spaced for the caller's geometry */
  for (int64_t i = i0; i < i1; i++) {
    int64_t n = i / (g->G * j->chunks), gr = i / j->chunks % g->G, c0 = i % j->chunks * j->chunk;
    int64_t cols = PQ - c0 < j->chunk ? PQ - c0 : j->chunk;
    const float *x = j->inp + (n * g->C + gr * Cg) * HW;
    float *y = j->out + (n * g->K + gr * Kg) * PQ + c0;
    cnn_mat w = {j->weight + gr * Kg * CRS, CRS, 1};
    if (direct_1x1(g)) {
      cnn_sgemm(Kg, cols, Cg, w, (cnn_mat){x + c0, HW, 1}, y, PQ, false, work);
    } else {
      unfold u = {patch_geom(g), x, c0, g->C * HW};
      cnn_sgemm_rows(Kg, cols, CRS, w, unfold_rows, &u, y, PQ, false, work);
    }
    if (j->bias)
      for (int64_t k = 0; k < Kg; k++)
        for (int64_t q = 0; q < cols; q++) y[k * PQ + q] += j->bias[gr * Kg + k];
  }
}

/* Below this, splitting one image between the threads costs more than it
 * saves (the threads watch for work between loops, so a loop starts in
 * about 0.3 us; each part of an image pads it again). */
#define SPLIT_MACS ((int64_t)1 << 16)

/* Items [i0, i1) of (image, group) through the direct kernels. */
static void direct_items(void *ctx, int64_t i0, int64_t i1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  float *scratch = j->work + thread * j->per_thread;
  for (int64_t i = i0; i < i1; i++) {
    int64_t n = i / g->G, gr = i % g->G;
    cnn_conv2d_direct_forward(g, gr, j->inp + (n * g->C + gr) * g->H * g->W, j->weight, j->bias,
                              j->out + (n * g->K + gr * (g->K / g->G)) * g->P * g->Q, scratch);
  }
}

/* Items [i0, i1) of (image, group, block of j->chunk wide positions) through
 * the implicit product, with the weights packed at j->packed: a thread's
 * consecutive blocks of one image and group in one call (one padded image). */
static void implicit_items(void *ctx, int64_t i0, int64_t i1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  float *scratch = j->work + thread * j->per_thread;
  for (int64_t i = i0, next; i < i1; i = next) {
    int64_t plane = i / j->chunks, n = plane / g->G, gr = plane % g->G;
    next = (plane + 1) * j->chunks < i1 ? (plane + 1) * j->chunks : i1;
    cnn_conv2d_implicit_forward(g, gr, j->inp + n * g->C * g->H * g->W, j->packed, j->bias,
                                j->out + n * g->K * g->P * g->Q, i % j->chunks * j->chunk,
                                (next - 1) % j->chunks * j->chunk + j->chunk, scratch, j->relu);
  }
}

/* Items [i0, i1) of (group, block of j->chunk tile rows) through Winograd's
 * algorithm (F(4x4, 3x3) where winograd4), with the transformed weights at
 * j->packed. */
static void winograd_items(void *ctx, int64_t i0, int64_t i1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  float *scratch = j->work + thread * j->per_thread;
  bool four = winograd4(g);
  int64_t rows = four ? cnn_conv2d_winograd4_rows(g) : cnn_conv2d_winograd_rows(g);
  for (int64_t i = i0; i < i1; i++) {
    int64_t gr = i / j->chunks, r0 = i % j->chunks * j->chunk, r1 = r0 + j->chunk < rows ? r0 + j->chunk : rows;
    if (four) cnn_conv2d_winograd4_forward(g, gr, j->inp, j->packed, j->bias, j->out, r0, r1, scratch);
    else cnn_conv2d_winograd_forward(g, gr, j->inp, j->packed, j->bias, j->out, r0, r1, scratch, j->relu);
  }
}

/* Items [i0, i1) of j->chunk images each, multiplied together (G == 1). */
static void group_items(void *ctx, int64_t i0, int64_t i1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  int64_t K = g->K, CRS = g->C * g->R * g->S, PQ = g->P * g->Q;
  float *work = j->work + thread * j->per_thread;
  float *block = work + j->block_at; /* the group's output: K x (images * PQ) */
  for (int64_t i = i0; i < i1; i++) {
    int64_t n0 = i * j->chunk, images = g->N - n0 < j->chunk ? g->N - n0 : j->chunk, cols = images * PQ;
    unfold u = {patch_geom(g), j->inp + n0 * g->C * g->H * g->W, 0, g->C * g->H * g->W};
    cnn_sgemm_rows(K, cols, CRS, (cnn_mat){j->weight, CRS, 1}, unfold_rows, &u, block, cols, false, work);
    for (int64_t n = 0; n < images; n++)
      for (int64_t k = 0; k < K; k++) {
        float *y = j->out + ((n0 + n) * K + k) * PQ, b = j->bias ? j->bias[k] : 0.0f;
        const float *src = block + k * cols + n * PQ;
        for (int64_t q = 0; q < PQ; q++) y[q] = src[q] + b;
      }
  }
}

/* Batches up to this many images take their transformed weights from the
 * cache when the weights have not changed: for larger ones the transform is
 * a sliver of the pass. */
#define PACKS_MAX_IMAGES 8

/* The weights rearranged by pack (into size floats) for the implicit or
 * Winograd kernels: kept ones from packs, else packed into space. */
typedef void pack_fn(const cnn_conv2d_geom *g, const float *weight, float *packed);
static const float *packed_weights(const cnn_conv2d_geom *g, const float *weight, pack_fn *pack, int64_t size,
                                   float *space, cnn_packs *packs) {
  if (packs && g->N <= PACKS_MAX_IMAGES) {
    enum { GEOM = sizeof *g / sizeof(int64_t) };
    int64_t key[GEOM + 1];
    memcpy(key, g, sizeof *g); /* int64 fields only: no padding */
    key[GEOM] = pack == cnn_conv2d_winograd_pack ? 1 : pack == cnn_conv2d_winograd4_pack ? 2 : 0;
    float *slot;
    const float *kept = cnn_packs_find(packs, key, GEOM + 1, weight, weight_size(g), size, &slot);
    if (kept) return kept;
    if (slot) {
      pack(g, weight, slot);
      return slot;
    }
  }
  pack(g, weight, space);
  return space;
}

/* space: the geometry the workspace was sized for (g itself, or the forward
 * pass of an input gradient); packs: the cache of transformed weights, or
 * NULL; relu: the output rectified, by F(2x2, 3x3)'s output transform or
 * the implicit product's row stores, else in a pass over it while it is in
 * cache. */
static void forward(const cnn_conv2d_geom *g, const float *inp, const float *weight, const float *bias, float *out,
                    float *work, const cnn_conv2d_geom *space, cnn_packs *packs, bool relu) {
  int64_t PQ = g->P * g->Q, planes = g->N * g->G, want = 2 * cnn_parallel_threads();
  int64_t macs = planes * (g->K / g->G) * (g->C / g->G) * g->R * g->S * PQ;
  int64_t chunks = planes >= want || macs < SPLIT_MACS || want < 4 ? 1 : (want + planes - 1) / planes;
  int64_t chunk = ((PQ + chunks - 1) / chunks + 63) & ~(int64_t)63; /* whole panels of columns */
  if (chunk > PQ) chunk = PQ;
  chunks = (PQ + chunk - 1) / chunk;
  conv_job j = {g,      inp,   weight, bias, NULL, out, NULL, NULL, thread_space(space, work, 0), chunk, chunks,
                thread_work(space), 0, {false}, NULL, false};
  if (space == g && direct(g)) { /* its scratch is sized for g only */
    cnn_parallel_for(planes, cnn_parallel_grain((g->K / g->G) * g->R * g->S * PQ), direct_items, &j);
  } else if (winograd(g)) {
    bool four = winograd4(g);
    pack_fn *pack = four ? cnn_conv2d_winograd4_pack : cnn_conv2d_winograd_pack;
    int64_t size = four ? cnn_conv2d_winograd4_packed_size(g) : cnn_conv2d_winograd_packed_size(g);
    j.packed = packed_weights(g, weight, pack, size, packed_space(space, work), packs);
    int64_t rows = four ? cnn_conv2d_winograd4_rows(g) : cnn_conv2d_winograd_rows(g);
    int64_t per = four ? cnn_conv2d_winograd4_block_rows(g) : cnn_conv2d_winograd_block_rows(g, false);
    /* blocks enough for every thread, when there are rows (one thread: one block) */
    int64_t parts = cnn_parallel_threads() > 1 ? 2 * cnn_parallel_threads() / g->G : 1;
    if (parts > 1 && (rows + per - 1) / per < parts) per = (rows + parts - 1) / parts;
    j.chunk = per;
    j.chunks = (rows + per - 1) / per;
    j.relu = relu && !four;
    cnn_parallel_for(g->G * j.chunks, cnn_parallel_grain(macs / (g->G * j.chunks)), winograd_items, &j);
  } else if (implicit(g)) {
    const float *packed = packed_weights(g, weight, cnn_conv2d_implicit_pack, cnn_conv2d_implicit_packed_size(g),
                                         packed_space(space, work), packs);
    /* fewer images than threads: blocks of a vector of positions, taken in runs as even as the loop makes them
       (whole tiles of 48 ran 48 and 88 positions of LeNet's second layer on two threads) */
    int64_t L = cnn_conv2d_implicit_positions(g);
    j.chunk = chunks > 1 ? CNN_IMPLICIT_VECTOR : L;
    j.chunks = (L + j.chunk - 1) / j.chunk;
    j.packed = packed;
    j.relu = relu;
    cnn_parallel_for(planes * j.chunks, cnn_parallel_grain(macs / (planes * j.chunks)), implicit_items, &j);
  } else if (groupable(g, PQ) && g->N > 1) {
    int64_t per = GROUP_COLS / PQ, parts = 2 * cnn_parallel_threads();
    if (per > (g->N + parts - 1) / parts) per = (g->N + parts - 1) / parts; /* still an item per thread */
    j.chunk = per > 1 ? per : 1;
    j.block_at = j.per_thread - lines(group_space(space)); /* the last part of a thread's space */
    cnn_parallel_for((g->N + j.chunk - 1) / j.chunk, cnn_parallel_grain(j.chunk * macs / g->N), group_items, &j);
  } else {
    cnn_parallel_for(planes * chunks, cnn_parallel_grain(macs / (planes * chunks)), forward_items, &j);
  }
  if (relu && !j.relu) cnn_relu_inplace(g->N * g->K * PQ, out);
}

void cnn_conv2d_forward(const cnn_conv2d_geom *g, const float *inp, const float *weight, const float *bias,
                        float *out, float *work, cnn_packs *packs, bool relu) {
  forward(g, inp, weight, bias, out, work, g, packs, relu);
}

/* Strided case: per image and group, col = weight^T @ dout, folded back. */
static void backward_input_images(void *ctx, int64_t n0, int64_t n1, int thread) {
  const conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, CRS = Cg * g->R * g->S, PQ = g->P * g->Q, HW = g->H * g->W;
  cnn_patch_geom pg = patch_geom(g);
  float *work = thread_space(g, j->work, thread), *col = work + gemm_work();
  for (int64_t n = n0; n < n1; n++)
    for (int64_t gr = 0; gr < g->G; gr++) {
      float *dx = j->dinp + (n * g->C + gr * Cg) * HW;
      cnn_sgemm(CRS, PQ, Kg, (cnn_mat){j->weight + gr * Kg * CRS, 1, CRS},
                (cnn_mat){j->dout + (n * g->K + gr * Kg) * PQ, PQ, 1}, col, PQ, false, work);
      memset(dx, 0, (size_t)(Cg * HW) * sizeof *dx);
      cnn_col2im(&pg, col, dx);
    }
}

void cnn_conv2d_backward_input(const cnn_conv2d_geom *g, const float *dout, const float *weight, float *dinp,
                               float *work) {
  if (!flippable(g)) {
    conv_job j = {g, NULL, weight, NULL, dout, NULL, dinp, NULL, work, 0, 0, 0, 0, {false}, NULL, false};
    cnn_parallel_for(g->N, cnn_parallel_grain(weight_size(g) * g->P * g->Q), backward_input_images, &j);
    return;
  }
  /* dinp = conv(dout, flipped), where flipped[c][k] is weight[k][c] turned by
   * 180 degrees, with padding dil * (R - 1) - pad and the same groups. */
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, RS = g->R * g->S;
  float *flipped = first_line(work);
  for (int64_t gr = 0; gr < g->G; gr++)
    for (int64_t c = 0; c < Cg; c++)
      for (int64_t k = 0; k < Kg; k++)
        for (int64_t t = 0; t < RS; t++)
          flipped[((gr * Cg + c) * Kg + k) * RS + t] = weight[((gr * Kg + k) * Cg + c) * RS + RS - 1 - t];
  cnn_conv2d_geom f = flip_geom(g);
  forward(&f, dout, flipped, NULL, dinp, work, g, NULL, false);
}

/* Thread 0 accumulates into dweight itself, the others into private buffers
 * (zeroed here) that are added in afterwards. Per image and group, WG_ROWS
 * rows of the column matrix at a time are unfolded and multiplied, row by
 * row, with dout: dweight[k][row] += sum over pixels of dout[k] * col[row]. */
static void backward_weight_images(void *ctx, int64_t n0, int64_t n1, int thread) {
  conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, CRS = Cg * g->R * g->S, PQ = g->P * g->Q, HW = g->H * g->W;
  int64_t wsize = weight_size(g);
  float *rows = thread_space(g, j->work, thread); /* no packing space: cnn_sgemm_nt packs its own */
  float *dw = thread == 0 ? j->dweight : thread_space(g, j->work, cnn_parallel_threads()) + (thread - 1) * wsize;
  if (thread > 0) memset(dw, 0, (size_t)wsize * sizeof(float));
  j->ran[thread] = true;
  cnn_patch_geom pg = patch_geom(g);
  for (int64_t n = n0; n < n1; n++)
    for (int64_t gr = 0; gr < g->G; gr++) {
      const float *x = j->inp + (n * g->C + gr * Cg) * HW, *dy = j->dout + (n * g->K + gr * Kg) * PQ;
      float *dwg = dw + gr * Kg * CRS;
      if (direct(g)) {
        cnn_conv2d_direct_weight_grad(g, gr, x, dy, dw, rows);
        continue;
      }
      if (implicit(g)) {
        cnn_conv2d_implicit_weight_grad(g, gr, j->inp + n * g->C * HW, j->dout + n * g->K * PQ, j->packed, dw, rows);
        continue;
      }
      if (direct_1x1(g)) {
        cnn_sgemm_nt(Kg, Cg, PQ, dy, PQ, x, HW, dwg, CRS);
        continue;
      }
      for (int64_t r0 = 0, step = wg_rows(g); r0 < CRS; r0 += step) {
        int64_t nr = CRS - r0 < step ? CRS - r0 : step;
        cnn_im2col_rows(&pg, x, r0, nr, 0, PQ, rows, PQ);
        cnn_sgemm_nt(Kg, nr, PQ, dy, PQ, rows, PQ, dwg + r0, CRS);
      }
    }
}

/* Winograd's weight gradient: each thread sums the transformed gradient of
 * its blocks of tile rows in its own space; the sums of the threads that ran
 * are added and transformed back into dweight. */
static float *winograd_du(const conv_job *j, int thread) {
  const cnn_conv2d_geom *g = j->g;
  return thread_space(g, j->work, thread) + thread_work(g) - lines(winograd_grad_space(g));
}

static void winograd_grad_items(void *ctx, int64_t i0, int64_t i1, int thread) {
  conv_job *j = ctx;
  const cnn_conv2d_geom *g = j->g;
  float *du = winograd_du(j, thread), *scratch = thread_space(g, j->work, thread);
  if (!j->ran[thread]) memset(du, 0, (size_t)winograd_grad_space(g) * sizeof *du);
  j->ran[thread] = true;
  int64_t rows = cnn_conv2d_winograd_rows(g);
  for (int64_t i = i0; i < i1; i++) {
    int64_t gr = i / j->chunks, r0 = i % j->chunks * j->chunk, r1 = r0 + j->chunk < rows ? r0 + j->chunk : rows;
    cnn_conv2d_winograd_weight_grad(g, gr, j->inp, j->dout, j->packed, du, r0, r1, scratch);
  }
}

static void winograd_grad(const cnn_conv2d_geom *g, conv_job *j) {
  j->packed = packed_space(g, j->work);
  cnn_conv2d_winograd_pack(g, NULL, packed_space(g, j->work));
  int64_t rows = cnn_conv2d_winograd_rows(g), per = cnn_conv2d_winograd_block_rows(g, true);
  int64_t parts = cnn_parallel_threads() > 1 ? 2 * cnn_parallel_threads() / g->G : 1;
  if (parts > 1 && (rows + per - 1) / per < parts) per = (rows + parts - 1) / parts;
  j->chunk = per;
  j->chunks = (rows + per - 1) / per;
  int64_t macs = weight_size(g) * g->N * g->P * g->Q;
  cnn_parallel_for(g->G * j->chunks, cnn_parallel_grain(macs / (g->G * j->chunks)), winograd_grad_items, j);
  float *sum = NULL;
  int64_t size = winograd_grad_space(g);
  for (int t = 0; t < cnn_parallel_threads(); t++) {
    if (!j->ran[t]) continue;
    float *du = winograd_du(j, t);
    if (!sum) sum = du;
    else for (int64_t i = 0; i < size; i++) sum[i] += du[i];
  }
  if (sum) cnn_conv2d_winograd_grad_finish(g, sum, j->dweight);
}

void cnn_conv2d_backward_params(const cnn_conv2d_geom *g, const float *inp, const float *dout, float *dweight,
                                float *dbias, float *work) {
  int64_t PQ = g->P * g->Q;
  if (dweight) {
    conv_job j = {g, inp, NULL, NULL, dout, NULL, NULL, dweight, work, 0, 0, 0, 0, {false}, NULL, false};
    if (winograd(g)) {
      winograd_grad(g, &j);
      goto bias;
    }
    if (implicit(g)) {
      j.packed = packed_space(g, work);
      cnn_conv2d_implicit_pack(g, NULL, packed_space(g, work));
    }
    cnn_parallel_for(g->N, cnn_parallel_grain(weight_size(g) * g->P * g->Q), backward_weight_images, &j);
    int64_t wsize = weight_size(g);
    const float *priv = thread_space(g, work, cnn_parallel_threads());
    for (int t = 1; t < cnn_parallel_threads(); t++) /* only the threads that ran (the pool may have been busy) */
      if (j.ran[t])
        for (int64_t i = 0; i < wsize; i++) dweight[i] += priv[(t - 1) * wsize + i];
  }
bias:
  if (dbias)
    for (int64_t k = 0; k < g->K; k++) {
      double s = 0;
      for (int64_t n = 0; n < g->N; n++) s += cnn_sum_floats(dout + (n * g->K + k) * PQ, PQ);
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
