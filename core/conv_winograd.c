/*
 * conv_winograd.c: F(2x2, 3x3) convolution (see conv_winograd.h).
 *
 * With the tile d (4x4 inputs), kernel w (3x3) and output y (2x2):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *   y   = A^T [(G w G^T) .* (B^T d B)] A
 * Every coefficient is a power of two, so the transforms add and subtract
 * (and halve the weights exactly).
 *
 * The input transform goes a tile row at a time: B^T down the four input rows
 * it reads (whole rows of floats), then B across, with the columns split
 * into even and odd so that consecutive tiles are consecutive floats. V is
 * laid out [xi][c][tile], M [xi][k][tile], rows of ts floats: the products
 * read V's rows in place at offsets c * ts.
 */
#include "conv_winograd.h"

#include <stdint.h>
#include <string.h>

#include "conv_implicit.h"

#define TARGET_TILES 192 /* tiles per block: the products' columns */

static int64_t tiles_h(const cnn_conv2d_geom *g) { return (g->P + 1) / 2; }
static int64_t tiles_w(const cnn_conv2d_geom *g) { return (g->Q + 1) / 2; }
static int mr(const cnn_conv2d_geom *g) { return cnn_implicit_tile_rows(g->K / g->G); }
static int64_t ktiles(const cnn_conv2d_geom *g) { return (g->K / g->G + mr(g) - 1) / mr(g); }
static int64_t krows(const cnn_conv2d_geom *g) { return ktiles(g) * mr(g); }
static int64_t table_floats(const cnn_conv2d_geom *g) { return (g->C / g->G + 15) & ~(int64_t)15; }

int64_t cnn_conv2d_winograd_rows(const cnn_conv2d_geom *g) { return g->N * tiles_h(g); }

int64_t cnn_conv2d_winograd_block_rows(const cnn_conv2d_geom *g) {
  int64_t per = TARGET_TILES / tiles_w(g);
  return per < 1 ? 1 : per;
}

/* Floats per row of V and M: a block's tiles, in whole tiles of the product. */
static int64_t row_stride(const cnn_conv2d_geom *g) {
  int64_t t = cnn_conv2d_winograd_block_rows(g) * tiles_w(g);
  return (t + CNN_IMPLICIT_SPLIT - 1) / CNN_IMPLICIT_SPLIT * CNN_IMPLICIT_SPLIT;
}

bool cnn_conv2d_winograd_ok(const cnn_conv2d_geom *g) {
  return g->R == 3 && g->S == 3 && g->stride[0] == 1 && g->stride[1] == 1 && g->dil[0] == 1 && g->dil[1] == 1 &&
         16 * (g->C / g->G) * (row_stride(g) + 48) < ((int64_t)1 << 31);
}

int64_t cnn_conv2d_winograd_packed_size(const cnn_conv2d_geom *g) {
  return table_floats(g) + 16 * g->G * krows(g) * (g->C / g->G);
}

/* V (16 rows per channel), M (16 rows per output channel, whole tiles), and
 * the four input rows of a tile row split into even and odd columns. */
int64_t cnn_conv2d_winograd_scratch(const cnn_conv2d_geom *g) {
  int64_t ts = row_stride(g);
  return 16 * (g->C / g->G) * ts + 48 + 16 * krows(g) * ts + 8 * (tiles_w(g) + 1);
}

void cnn_conv2d_winograd_pack(const cnn_conv2d_geom *g, const float *weight, float *packed) {
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, ts = row_stride(g), kn = ktiles(g);
  int m = mr(g);
  int32_t *off = (int32_t *)packed;
  for (int64_t c = 0; c < Cg; c++) off[c] = (int32_t)(c * ts);
  float *u = packed + table_floats(g); /* [gr][xi][ktile][c][m] */
  for (int64_t gr = 0; gr < g->G; gr++) /* in the order of the packed rows, so that each xi is written in sequence */
    for (int64_t kt = 0; kt < kn; kt++)
      for (int64_t c = 0; c < Cg; c++)
        for (int i = 0; i < m; i++) {
          int64_t k = kt * m + i;
          float t[4][4] = {{0}};
          if (k < Kg) {
            const float *w = weight + ((gr * Kg + k) * Cg + c) * 9;
            float gw[4][3]; /* G w */
            for (int b = 0; b < 3; b++) {
              gw[0][b] = w[b];
              gw[1][b] = 0.5f * (w[b] + w[3 + b] + w[6 + b]);
              gw[2][b] = 0.5f * (w[b] - w[3 + b] + w[6 + b]);
              gw[3][b] = w[6 + b];
            }
            for (int a = 0; a < 4; a++) { /* (G w) G^T */
              t[a][0] = gw[a][0];
              t[a][1] = 0.5f * (gw[a][0] + gw[a][1] + gw[a][2]);
              t[a][2] = 0.5f * (gw[a][0] - gw[a][1] + gw[a][2]);
              t[a][3] = gw[a][2];
            }
          }
          for (int xi = 0; xi < 16; xi++)
            u[(((gr * 16 + xi) * kn + kt) * Cg + c) * m + i] = t[xi / 4][xi % 4];
        }
}

/* The transforms only add and subtract, so wider vectors give the same sums:
 * they are compiled for AVX2 too, picked at load time. */
#define CLONES __attribute__((target_clones("avx2", "default")))

typedef float v8 __attribute__((vector_size(8 * sizeof(float))));
typedef int32_t v8i __attribute__((vector_size(8 * sizeof(int32_t))));
#define LOAD8(p)                                                                                                       \
  ({                                                                                                                   \
    v8 v_;                                                                                                             \
    memcpy(&v_, (p), sizeof v_);                                                                                       \
    v_;                                                                                                                \
  })
#define LOAD1(p) (*(p))
#define STORE8(p, x) memcpy((p), &(x), sizeof(v8))
#define STORE1(p, x) (*(p) = (x))

/* e[j] = x[2j], o[j] = x[2j + 1] for j < n. */
CLONES static void deinterleave(int64_t n, const float *x, float *e, float *o) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    v8 a = LOAD8(x + 2 * j), b = LOAD8(x + 2 * j + 8);
    v8 ev = __builtin_shuffle(a, b, (v8i){0, 2, 4, 6, 8, 10, 12, 14});
    v8 od = __builtin_shuffle(a, b, (v8i){1, 3, 5, 7, 9, 11, 13, 15});
    STORE8(e + j, ev);
    STORE8(o + j, od);
  }
  for (; j < n; j++) e[j] = x[2 * j], o[j] = x[2 * j + 1];
}

/* x[2j] = e[j], x[2j + 1] = o[j] for j < n. */
CLONES static void interleave(int64_t n, const float *e, const float *o, float *x) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    v8 a = LOAD8(e + j), b = LOAD8(o + j);
    v8 lo = __builtin_shuffle(a, b, (v8i){0, 8, 1, 9, 2, 10, 3, 11});
    v8 hi = __builtin_shuffle(a, b, (v8i){4, 12, 5, 13, 6, 14, 7, 15});
    STORE8(x + 2 * j, lo);
    STORE8(x + 2 * j + 8, hi);
  }
  for (; j < n; j++) x[2 * j] = e[j], x[2 * j + 1] = o[j];
}

/* Columns [col0, col0 + 2 n + 2) of input row h (zero outside the image),
 * split: e[j] = column col0 + 2j, o[j] = column col0 + 2j + 1, j <= n. */
static void split_row(const cnn_conv2d_geom *g, const float *x, int64_t h, int64_t col0, int64_t n, float *e,
                      float *o) {
  if (h < 0 || h >= g->H) {
    memset(e, 0, (size_t)(n + 1) * sizeof *e);
    memset(o, 0, (size_t)(n + 1) * sizeof *o);
    return;
  }
  const float *row = x + h * g->W;
  /* the pairs j in [lo, hi) lie inside the row; the others are done one by one */
  int64_t lo = col0 >= 0 ? 0 : (-col0 + 1) / 2, hi = (g->W - col0) / 2;
  if (hi > n + 1) hi = n + 1;
  if (hi < lo) hi = lo;
  for (int64_t j = 0; j <= n; j++) {
    if (j == lo && hi > lo) {
      deinterleave(hi - lo, row + col0 + 2 * lo, e + lo, o + lo);
      j = hi - 1;
      continue;
    }
    int64_t a = col0 + 2 * j, b = a + 1;
    e[j] = a >= 0 && a < g->W ? row[a] : 0.0f;
    o[j] = b >= 0 && b < g->W ? row[b] : 0.0f;
  }
}

/* V[xi][c][j], j < n (rows vs floats apart), from the split rows d0..d3
 * (e and o each, n + 1 floats): B^T down, then B across. Eight tiles at a
 * time, then one by one. */
#define INPUT_TILES(T, LOAD, STORE)                                                                                    \
  do {                                                                                                                 \
    T be[4][2], bo[4][2]; /* B^T d at columns 2j, 2j + 2 (be) and 2j + 1, 2j + 3 (bo) */                               \
    for (int s = 0; s < 2; s++) {                                                                                      \
      T E0 = LOAD(e0 + j + s), E1 = LOAD(e1 + j + s), E2 = LOAD(e2 + j + s), E3 = LOAD(e3 + j + s);                    \
      T O0 = LOAD(o0 + j + s), O1 = LOAD(o1 + j + s), O2 = LOAD(o2 + j + s), O3 = LOAD(o3 + j + s);                    \
      be[0][s] = E0 - E2, bo[0][s] = O0 - O2;                                                                          \
      be[1][s] = E1 + E2, bo[1][s] = O1 + O2;                                                                          \
      be[2][s] = E2 - E1, bo[2][s] = O2 - O1;                                                                          \
      be[3][s] = E1 - E3, bo[3][s] = O1 - O3;                                                                          \
    }                                                                                                                  \
    for (int i = 0; i < 4; i++) {                                                                                      \
      T w0 = be[i][0] - be[i][1], w1 = bo[i][0] + be[i][1], w2 = be[i][1] - bo[i][0], w3 = bo[i][0] - bo[i][1];         \
      STORE(v + (4 * i) * vs + j, w0);                                                                                 \
      STORE(v + (4 * i + 1) * vs + j, w1);                                                                             \
      STORE(v + (4 * i + 2) * vs + j, w2);                                                                             \
      STORE(v + (4 * i + 3) * vs + j, w3);                                                                             \
    }                                                                                                                  \
  } while (0)

CLONES static void input_tiles(int64_t n, const float *e0, const float *o0, const float *e1, const float *o1,
                               const float *e2, const float *o2, const float *e3, const float *o3, float *v,
                               int64_t vs) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) INPUT_TILES(v8, LOAD8, STORE8);
  for (; j < n; j++) INPUT_TILES(float, LOAD1, STORE1);
}

/* Tile row th of channel plane x into V[xi][c][j], j < tiles_w. */
static void input_row(const cnn_conv2d_geom *g, const float *x, int64_t th, float *v, int64_t vstride, float *split) {
  int64_t tw = tiles_w(g);
  float *p[8];
  for (int r = 0; r < 4; r++) {
    p[2 * r] = split + 2 * r * (tw + 1);
    p[2 * r + 1] = p[2 * r] + tw + 1;
    split_row(g, x, 2 * th - g->pad[0] + r, -g->pad[1], tw, p[2 * r], p[2 * r + 1]);
  }
  input_tiles(tw, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], v, vstride);
}

/* The 2x2 outputs of n tiles of M (16 rows ms floats apart), plus b, split
 * into the even and odd columns of the two output rows. */
#define OUTPUT_TILES(T, LOAD, STORE)                                                                                   \
  do {                                                                                                                 \
    T s0[4], s1[4];                                                                                                    \
    for (int c = 0; c < 4; c++) { /* A^T down: m0 + m1 + m2, m1 - m2 - m3 */                                           \
      T m0 = LOAD(m + c * ms + j), m1 = LOAD(m + (4 + c) * ms + j), m2 = LOAD(m + (8 + c) * ms + j),                   \
        m3 = LOAD(m + (12 + c) * ms + j);                                                                              \
      s0[c] = m0 + m1 + m2;                                                                                            \
      s1[c] = m1 - m2 - m3;                                                                                            \
    }                                                                                                                  \
    T a = s0[0] + s0[1] + s0[2] + b, c_ = s0[1] - s0[2] - s0[3] + b; /* then A across */                               \
    T d = s1[0] + s1[1] + s1[2] + b, e = s1[1] - s1[2] - s1[3] + b;                                                    \
    STORE(y0e + j, a);                                                                                                 \
    STORE(y0o + j, c_);                                                                                                \
    STORE(y1e + j, d);                                                                                                 \
    STORE(y1o + j, e);                                                                                                 \
  } while (0)

CLONES static void output_tiles(int64_t n, const float *m, int64_t ms, float b, float *y0e, float *y0o, float *y1e,
                                float *y1o) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) OUTPUT_TILES(v8, LOAD8, STORE8);
  for (; j < n; j++) OUTPUT_TILES(float, LOAD1, STORE1);
}

/* Tile row th of M into output plane y (P x Q), plus b. */
static void output_row(const cnn_conv2d_geom *g, const float *m, int64_t mstride, int64_t th, float *y, float b,
                       float *split) {
  int64_t tw = tiles_w(g), Q = g->Q;
  float *s[4] = {split, split + tw, split + 2 * tw, split + 3 * tw};
  output_tiles(tw, m, mstride, b, s[0], s[1], s[2], s[3]);
  for (int a = 0; a < 2 && 2 * th + a < g->P; a++) {
    float *row = y + (2 * th + a) * Q;
    interleave(Q / 2, s[2 * a], s[2 * a + 1], row);
    if (Q % 2) row[Q - 1] = s[2 * a][Q / 2];
  }
}

void cnn_conv2d_winograd_forward(const cnn_conv2d_geom *g, int64_t gr, const float *inp, const float *packed,
                                 const float *bias, float *out, int64_t row0, int64_t row1, float *scratch) {
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, th_n = tiles_h(g), tw = tiles_w(g), ts = row_stride(g);
  int64_t HW = g->H * g->W, PQ = g->P * g->Q, T = (row1 - row0) * tw;
  float *v = scratch, *m = v + 16 * Cg * ts + 48, *split = m + 16 * krows(g) * ts;
  for (int64_t c = 0; c < Cg; c++) {
    for (int64_t r = row0; r < row1; r++) {
      const float *x = inp + ((r / th_n) * g->C + gr * Cg + c) * HW;
      input_row(g, x, r % th_n, v + c * ts + (r - row0) * tw, Cg * ts, split);
    }
    for (int xi = 0; xi < 16; xi++) /* the columns past the block, read by its last tiles */
      memset(v + (xi * Cg + c) * ts + T, 0, (size_t)(ts - T) * sizeof(float));
  }
  const int32_t *off = (const int32_t *)packed;
  const float *u = packed + table_floats(g) + gr * 16 * krows(g) * Cg;
  for (int xi = 0; xi < 16; xi++)
    cnn_implicit_product(mr(g), ktiles(g), Cg, u + xi * krows(g) * Cg, off, v + xi * Cg * ts, 0, T,
                         m + xi * krows(g) * ts, ts);
  for (int64_t k = 0; k < Kg; k++)
    for (int64_t r = row0; r < row1; r++) {
      float *y = out + ((r / th_n) * g->K + gr * Kg + k) * PQ;
      output_row(g, m + k * ts + (r - row0) * tw, krows(g) * ts, r % th_n, y, bias ? bias[gr * Kg + k] : 0.0f, split);
    }
}
