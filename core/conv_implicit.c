/*
 * conv_implicit.c: stride-1 convolution as an implicit matrix product (see
 * conv_implicit.h).
 *
 * The tile is MR = 4 output channels by NR = 24 wide positions: twelve
 * accumulators of 8 floats, and per tap three loads of the padded image (at
 * the tap's offset) and four broadcast weights. The tile body is plain C on
 * vectors of 8 floats, compiled twice: for baseline x86-64 and, behind the
 * CPU check, for AVX2 + FMA (where a vector is one register and each
 * multiply-add one fused instruction, so the two round differently).
 */
#include "conv_implicit.h"

#include <immintrin.h>
#include <string.h>

#include "sgemm.h"

#define MR CNN_IMPLICIT_MR
#define NR CNN_IMPLICIT_NR
#define JB 8 /* tiles of positions per block: their image window is reused by every tile of channels */

typedef float v8 __attribute__((vector_size(8 * sizeof(float))));

/* The 8 floats at p, at any alignment (a macro: no vector crosses a call). */
#define LOAD(p)                                                                                                        \
  ({                                                                                                                   \
    v8 v_;                                                                                                             \
    memcpy(&v_, (p), sizeof v_);                                                                                       \
    v_;                                                                                                                \
  })

static int64_t pad_w(const cnn_conv2d_geom *g) { return g->W + 2 * g->pad[1]; }
static int64_t pad_h(const cnn_conv2d_geom *g) { return g->H + 2 * g->pad[0]; }
static int64_t taps(const cnn_conv2d_geom *g) { return g->C / g->G * g->R * g->S; }
static int64_t ktiles(const cnn_conv2d_geom *g) { return (g->K / g->G + MR - 1) / MR; }
static int64_t table_floats(const cnn_conv2d_geom *g) { return (taps(g) + 15) & ~(int64_t)15; }

bool cnn_conv2d_implicit_ok(const cnn_conv2d_geom *g) {
  int64_t plane = pad_h(g) * pad_w(g);
  return g->stride[0] == 1 && g->stride[1] == 1 && g->C / g->G * plane + NR < ((int64_t)1 << 31);
}

int64_t cnn_conv2d_implicit_positions(const cnn_conv2d_geom *g) { return (g->P - 1) * pad_w(g) + g->Q; }

int64_t cnn_conv2d_implicit_packed_size(const cnn_conv2d_geom *g) {
  return table_floats(g) + g->G * ktiles(g) * MR * taps(g);
}

/* The padded image, then (for the weight gradient) dy spread over the wide
 * positions, rounded up to whole vectors, in whole tiles of MR rows. */
static int64_t image_floats(const cnn_conv2d_geom *g) {
  return (g->C / g->G * pad_h(g) * pad_w(g) + NR + 15) & ~(int64_t)15;
}
static int64_t wide_len(const cnn_conv2d_geom *g) { return (cnn_conv2d_implicit_positions(g) + 7) & ~(int64_t)7; }

int64_t cnn_conv2d_implicit_scratch(const cnn_conv2d_geom *g) {
  return image_floats(g) + ktiles(g) * MR * wide_len(g);
}

void cnn_conv2d_implicit_pack(const cnn_conv2d_geom *g, const float *weight, float *packed) {
  int64_t Kg = g->K / g->G, CRS = taps(g), Wp = pad_w(g), plane = pad_h(g) * Wp, RS = g->R * g->S;
  int32_t *off = (int32_t *)packed;
  for (int64_t t = 0; t < CRS; t++)
    off[t] = (int32_t)(t / RS * plane + t / g->S % g->R * g->dil[0] * Wp + t % g->S * g->dil[1]);
  if (!weight) return;
  float *a = packed + table_floats(g);
  for (int64_t gr = 0; gr < g->G; gr++)
    for (int64_t kt = 0; kt < ktiles(g); kt++)
      for (int64_t t = 0; t < CRS; t++, a += MR)
        for (int64_t i = 0; i < MR; i++) {
          int64_t k = kt * MR + i;
          a[i] = k < Kg ? weight[(gr * Kg + k) * CRS + t] : 0.0f;
        }
}

/* c[i][0 .. NR) = sum over taps t < n of a[t][i] * x[off[t] + 0 .. NR), for
 * i < MR; MADD(a, b, c) is c + a * b for a float a and vectors b, c. */
#define TILE_BODY(MADD)                                                                                                \
  v8 c00 = {0}, c01 = {0}, c02 = {0}, c10 = {0}, c11 = {0}, c12 = {0};                                                 \
  v8 c20 = {0}, c21 = {0}, c22 = {0}, c30 = {0}, c31 = {0}, c32 = {0};                                                 \
  for (int64_t t = 0; t < n; t++, a += MR) {                                                                           \
    const float *xp = x + off[t];                                                                                      \
    v8 b0 = LOAD(xp), b1 = LOAD(xp + 8), b2 = LOAD(xp + 16);                                                           \
    c00 = MADD(a[0], b0, c00), c01 = MADD(a[0], b1, c01), c02 = MADD(a[0], b2, c02);                                   \
    c10 = MADD(a[1], b0, c10), c11 = MADD(a[1], b1, c11), c12 = MADD(a[1], b2, c12);                                   \
    c20 = MADD(a[2], b0, c20), c21 = MADD(a[2], b1, c21), c22 = MADD(a[2], b2, c22);                                   \
    c30 = MADD(a[3], b0, c30), c31 = MADD(a[3], b1, c31), c32 = MADD(a[3], b2, c32);                                   \
  }                                                                                                                    \
  v8 all[MR][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32}};                                \
  memcpy(c, all, sizeof all)

#define MADD_BASE(s, b, c) ((c) + (s) * (b))
static void tile_base(int64_t n, const float *a, const int32_t *off, const float *x, float *c) {
  TILE_BODY(MADD_BASE);
}

/* One broadcast and one fused multiply-add instruction (ISO C mode does not
 * contract c + a * b by itself). */
#define MADD_FMA(s, b, c) _mm256_fmadd_ps(_mm256_set1_ps(s), (b), (c))
__attribute__((target("avx2,fma"))) static void tile_avx2(int64_t n, const float *a, const int32_t *off,
                                                           const float *x, float *c) {
  TILE_BODY(MADD_FMA);
}

/* The weight gradient: c[i][u] = sum over 8-float steps v < n of the lanes of
 * d[i*ld + 8v ..] * x[o[u] + 8v ..], for i < MR output channels and u < WT
 * taps; MADD(a, b, c) is c + a * b on vectors. */
#define WT 3
#define GRAD_BODY(MADD)                                                                                                \
  v8 c00 = {0}, c01 = {0}, c02 = {0}, c10 = {0}, c11 = {0}, c12 = {0};                                                 \
  v8 c20 = {0}, c21 = {0}, c22 = {0}, c30 = {0}, c31 = {0}, c32 = {0};                                                 \
  const float *x0 = x + o[0], *x1 = x + o[1], *x2 = x + o[2];                                                          \
  for (int64_t v = 0; v < 8 * n; v += 8) {                                                                             \
    v8 b0 = LOAD(x0 + v), b1 = LOAD(x1 + v), b2 = LOAD(x2 + v), a;                                                     \
    a = LOAD(d + v), c00 = MADD(a, b0, c00), c01 = MADD(a, b1, c01), c02 = MADD(a, b2, c02);                           \
    a = LOAD(d + ld + v), c10 = MADD(a, b0, c10), c11 = MADD(a, b1, c11), c12 = MADD(a, b2, c12);                      \
    a = LOAD(d + 2 * ld + v), c20 = MADD(a, b0, c20), c21 = MADD(a, b1, c21), c22 = MADD(a, b2, c22);                  \
    a = LOAD(d + 3 * ld + v), c30 = MADD(a, b0, c30), c31 = MADD(a, b1, c31), c32 = MADD(a, b2, c32);                  \
  }                                                                                                                    \
  v8 all[MR][WT] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32}};                               \
  for (int i = 0; i < MR; i++)                                                                                         \
    for (int u = 0; u < WT; u++) {                                                                                     \
      v8 s = all[i][u];                                                                                                \
      c[i * WT + u] = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));                               \
    }

#define VMADD_BASE(a, b, c) ((c) + (a) * (b))
static void grad_base(int64_t n, const float *d, int64_t ld, const int32_t *o, const float *x, float *c) {
  GRAD_BODY(VMADD_BASE)
}
__attribute__((target("avx2,fma"))) static void grad_avx2(int64_t n, const float *d, int64_t ld, const int32_t *o,
                                                           const float *x, float *c) {
  GRAD_BODY(_mm256_fmadd_ps)
}

/* Channels [c0, c0 + C/G) of x, zero-padded, into planes of pad_h x pad_w,
 * followed by NR zeros (the last tile reads past the last plane). */
static void pad_image(const cnn_conv2d_geom *g, const float *x, float *xp) {
  int64_t Cg = g->C / g->G, Wp = pad_w(g), ph = g->pad[0], pw = g->pad[1];
  for (int64_t c = 0; c < Cg; c++, x += g->H * g->W) {
    memset(xp, 0, (size_t)(ph * Wp) * sizeof *xp);
    xp += ph * Wp;
    for (int64_t h = 0; h < g->H; h++, xp += Wp) {
      memset(xp, 0, (size_t)pw * sizeof *xp);
      memcpy(xp + pw, x + h * g->W, (size_t)g->W * sizeof *xp);
      memset(xp + pw + g->W, 0, (size_t)pw * sizeof *xp);
    }
    memset(xp, 0, (size_t)(ph * Wp) * sizeof *xp);
    xp += ph * Wp;
  }
  memset(xp, 0, NR * sizeof *xp);
}

/* The positions [j, j + n) of a tile's rows (rows < MR, NR floats apart) to
 * the output planes y (PQ floats apart), dropping the padding columns. */
static void store_tile(const cnn_conv2d_geom *g, const float *c, int rows, int64_t j, int64_t n, float *y,
                       const float *bias) {
  int64_t Wp = pad_w(g), Q = g->Q, PQ = g->P * g->Q;
  for (int64_t at = j, end = j + n; at < end;) {
    int64_t p = at / Wp, q = at % Wp, stop = (p + 1) * Wp < end ? (p + 1) * Wp : end;
    int64_t valid = (q < Q ? (Q < stop - p * Wp ? Q : stop - p * Wp) - q : 0);
    for (int i = 0; i < rows && valid > 0; i++) {
      const float *src = c + i * NR + (at - j);
      float *dst = y + i * PQ + p * Q + q, b = bias ? bias[i] : 0.0f;
      for (int64_t v = 0; v < valid; v++) dst[v] = src[v] + b;
    }
    at = stop;
  }
}

void cnn_conv2d_implicit_forward(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *packed,
                                 const float *bias, float *y, int64_t j0, int64_t j1, float *scratch) {
  int64_t Kg = g->K / g->G, CRS = taps(g), L = cnn_conv2d_implicit_positions(g), PQ = g->P * g->Q;
  const int32_t *off = (const int32_t *)packed;
  const float *a = packed + table_floats(g) + gr * ktiles(g) * MR * CRS;
  pad_image(g, x + gr * (g->C / g->G) * g->H * g->W, scratch);
  bool avx2 = cnn_isa_active() != &cnn_isa_scalar && cnn_isa_supported("avx2");
  float tile[MR * NR] __attribute__((aligned(64)));
  float *yg = y + gr * Kg * PQ;
  const float *bg = bias ? bias + gr * Kg : NULL;
  if (j1 > L) j1 = L;
  for (int64_t jb = j0; jb < j1; jb += JB * NR)
    for (int64_t kt = 0; kt < ktiles(g); kt++)
      for (int64_t j = jb; j < jb + JB * NR && j < j1; j += NR) {
        if (avx2) tile_avx2(CRS, a + kt * CRS * MR, off, scratch + j, tile);
        else tile_base(CRS, a + kt * CRS * MR, off, scratch + j, tile);
        int rows = Kg - kt * MR < MR ? (int)(Kg - kt * MR) : MR;
        store_tile(g, tile, rows, j, L - j < NR ? L - j : NR, yg + kt * MR * PQ, bg ? bg + kt * MR : NULL);
      }
}

void cnn_conv2d_implicit_weight_grad(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *dy,
                                     const float *packed, float *dweight, float *scratch) {
  int64_t Kg = g->K / g->G, CRS = taps(g), Lv = wide_len(g);
  int64_t Wp = pad_w(g), Q = g->Q, PQ = g->P * g->Q;
  const int32_t *off = (const int32_t *)packed;
  pad_image(g, x + gr * (g->C / g->G) * g->H * g->W, scratch);
  float *wide = scratch + image_floats(g);
  memset(wide, 0, (size_t)(ktiles(g) * MR * Lv) * sizeof *wide);
  for (int64_t k = 0; k < Kg; k++)
    for (int64_t p = 0; p < g->P; p++)
      memcpy(wide + k * Lv + p * Wp, dy + (gr * Kg + k) * PQ + p * Q, (size_t)Q * sizeof *dy);
  bool avx2 = cnn_isa_active() != &cnn_isa_scalar && cnn_isa_supported("avx2");
  float sums[MR * WT];
  for (int64_t kt = 0; kt < ktiles(g); kt++) {
    int rows = Kg - kt * MR < MR ? (int)(Kg - kt * MR) : MR;
    for (int64_t t = 0; t < CRS; t += WT) {
      int used = CRS - t < WT ? (int)(CRS - t) : WT;
      int32_t o[WT];
      for (int u = 0; u < WT; u++) o[u] = off[t + (u < used ? u : 0)];
      if (avx2) grad_avx2(Lv / 8, wide + kt * MR * Lv, Lv, o, scratch, sums);
      else grad_base(Lv / 8, wide + kt * MR * Lv, Lv, o, scratch, sums);
      for (int i = 0; i < rows; i++)
        for (int u = 0; u < used; u++) dweight[(gr * Kg + kt * MR + i) * CRS + t + u] += sums[i * WT + u];
    }
  }
}
