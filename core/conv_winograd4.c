/*
 * conv_winograd4.c: F(4x4, 3x3) convolution, forward (see conv_winograd4.h).
 *
 * With the tile d (6x6 inputs), kernel w (3x3) and output y (4x4):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
 *          0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
 *          1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 *   y   = A^T [(G w G^T) .* (B^T d B)] A
 *
 * The input transform goes a tile row at a time: each of the six input rows
 * it reads is split into its columns modulo 4, so that column i of
 * consecutive tiles is consecutive floats (phase i % 4, shifted by i / 4),
 * then B^T down and B across, a vector of 8 tiles at a time. The output
 * transform undoes the split. V is laid out [xi][c][tile], M [xi][k][tile]
 * (36 blocks a cache line further apart than their size, as in
 * conv_winograd.c); the products read V's rows in place at offsets c * ts.
 */
#include "conv_winograd4.h"

#include <stdint.h>
#include <string.h>

#include "conv_implicit.h"
#include "sgemm.h"
#include "vec8.h"

/* Tiles per block, the columns of the products: 36 blocks of V and M of
 * this many tiles stay near L2 for 64 channels. */
#define FORWARD_TILES 96
/* Input channels of a group whose transformed weights the packing holds at a time. */
#define PACK_CHANNELS 16

static int64_t tiles_h(const cnn_conv2d_geom *g) { return (g->P + 3) / 4; }
static int64_t tiles_w(const cnn_conv2d_geom *g) { return (g->Q + 3) / 4; }
static int mr(const cnn_conv2d_geom *g) { return cnn_implicit_tile_rows(g->K / g->G); }
static int64_t ktiles(const cnn_conv2d_geom *g) { return (g->K / g->G + mr(g) - 1) / mr(g); }
static int64_t krows(const cnn_conv2d_geom *g) { return ktiles(g) * mr(g); }
static int64_t table_floats(const cnn_conv2d_geom *g) { return (g->C / g->G + 15) & ~(int64_t)15; }

int64_t cnn_conv2d_winograd4_rows(const cnn_conv2d_geom *g) { return g->N * tiles_h(g); }

int64_t cnn_conv2d_winograd4_block_rows(const cnn_conv2d_geom *g) {
  int64_t per = FORWARD_TILES / tiles_w(g), rows = cnn_conv2d_winograd4_rows(g);
  return per < 1 ? 1 : per < rows ? per : rows;
}

/* Floats per row of V and M: a block's tiles and a vector more (the
 * transforms go a whole vector of tiles at a time), in whole tiles of the
 * product. */
static int64_t row_stride(const cnn_conv2d_geom *g) {
  int64_t t = cnn_conv2d_winograd4_block_rows(g) * tiles_w(g) + 8;
  return (t + CNN_IMPLICIT_SPLIT - 1) / CNN_IMPLICIT_SPLIT * CNN_IMPLICIT_SPLIT;
}
static int64_t v_stride(const cnn_conv2d_geom *g) { return (g->C / g->G) * row_stride(g) + 16; }
static int64_t m_stride(const cnn_conv2d_geom *g) { return krows(g) * row_stride(g) + 16; }

/* Floats of one phase of a split row: the tiles_w + 1 entries a tile row
 * reads, as many as its whole vectors of tiles read. */
static int64_t phase_len(const cnn_conv2d_geom *g) { return (tiles_w(g) + 7) / 8 * 8 + 8; }

bool cnn_conv2d_winograd4_ok(const cnn_conv2d_geom *g) {
  return g->R == 3 && g->S == 3 && g->stride[0] == 1 && g->stride[1] == 1 && g->dil[0] == 1 && g->dil[1] == 1 &&
         36 * v_stride(g) + 48 < ((int64_t)1 << 31);
}

int64_t cnn_conv2d_winograd4_packed_size(const cnn_conv2d_geom *g) {
  return table_floats(g) + 36 * g->G * krows(g) * (g->C / g->G);
}

/* V, M, then the six input rows of a tile row split in four phases and a
 * row to split (or the four output rows of a tile row). */
static int64_t split_floats(const cnn_conv2d_geom *g) { return 28 * phase_len(g); }
int64_t cnn_conv2d_winograd4_scratch(const cnn_conv2d_geom *g) {
  return 36 * v_stride(g) + 48 + 36 * m_stride(g) + split_floats(g);
}

/* G w G^T in double, for one 3x3 kernel. */
static void weight_tile(const float *w, float t[36]) {
  double gw[6][3];
  for (int b = 0; b < 3; b++) {
    double w0 = w[b], w1 = w[3 + b], w2 = w[6 + b];
    gw[0][b] = w0 / 4;
    gw[1][b] = -(w0 + w1 + w2) / 6;
    gw[2][b] = -(w0 - w1 + w2) / 6;
    gw[3][b] = w0 / 24 + w1 / 12 + w2 / 6;
    gw[4][b] = w0 / 24 - w1 / 12 + w2 / 6;
    gw[5][b] = w2;
  }
  for (int a = 0; a < 6; a++) {
    double w0 = gw[a][0], w1 = gw[a][1], w2 = gw[a][2];
    t[6 * a] = (float)(w0 / 4);
    t[6 * a + 1] = (float)(-(w0 + w1 + w2) / 6);
    t[6 * a + 2] = (float)(-(w0 - w1 + w2) / 6);
    t[6 * a + 3] = (float)(w0 / 24 + w1 / 12 + w2 / 6);
    t[6 * a + 4] = (float)(w0 / 24 - w1 / 12 + w2 / 6);
    t[6 * a + 5] = (float)w2;
  }
}

void cnn_conv2d_winograd4_pack(const cnn_conv2d_geom *g, const float *weight, float *packed) {
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, ts = row_stride(g), kn = ktiles(g);
  int m = mr(g);
  int32_t *off = (int32_t *)packed;
  for (int64_t c = 0; c < Cg; c++) off[c] = (int32_t)(c * ts);
  float *u = packed + table_floats(g); /* [gr][xi][ktile][c][m] */
  /* PACK_CHANNELS channels' transforms at a time go to t, then to the 36
   * rows of u in runs (as conv_winograd.c) */
  float t[36][PACK_CHANNELS * CNN_IMPLICIT_MR_MAX], one[36];
  for (int64_t gr = 0; gr < g->G; gr++)
    for (int64_t kt = 0; kt < kn; kt++)
      for (int64_t c0 = 0; c0 < Cg; c0 += PACK_CHANNELS) {
        int64_t cn = Cg - c0 < PACK_CHANNELS ? Cg - c0 : PACK_CHANNELS;
        for (int64_t c = 0; c < cn; c++)
          for (int i = 0; i < m; i++) {
            int64_t k = kt * m + i, at = c * m + i;
            if (k < Kg) weight_tile(weight + ((gr * Kg + k) * Cg + c0 + c) * 9, one);
            for (int xi = 0; xi < 36; xi++) t[xi][at] = k < Kg ? one[xi] : 0.0f;
          }
        for (int xi = 0; xi < 36; xi++)
          memcpy(u + (((gr * 36 + xi) * kn + kt) * Cg + c0) * m, t[xi], (size_t)(cn * m) * sizeof(float));
      }
}

/* Each body is compiled for baseline x86-64 and for AVX2 (vec8.h), both
 * without FMA, so that both builds round alike. */
#define BODY CNN_V8_BODY
#define TWICE CNN_V8_TWICE

typedef cnn_v8 v8;
typedef cnn_v8i v8i;
#define LOAD8 CNN_V8_LOAD
#define STORE8 CNN_V8_STORE

/* p[q][t] = x[4t + q], q < 4, for t < n, a multiple of 8. */
BODY void split4_body(int64_t n, const float *x, float *p0, float *p1, float *p2, float *p3) {
  for (int64_t t = 0; t < n; t += 8) {
    v8 x0 = LOAD8(x + 4 * t), x1 = LOAD8(x + 4 * t + 8), x2 = LOAD8(x + 4 * t + 16), x3 = LOAD8(x + 4 * t + 24);
    v8 e = __builtin_shuffle(x0, x1, (v8i){0, 1, 4, 5, 8, 9, 12, 13}); /* phases 0, 1 of tiles t..t+3 */
    v8 o = __builtin_shuffle(x0, x1, (v8i){2, 3, 6, 7, 10, 11, 14, 15}); /* phases 2, 3 */
    v8 e2 = __builtin_shuffle(x2, x3, (v8i){0, 1, 4, 5, 8, 9, 12, 13});
    v8 o2 = __builtin_shuffle(x2, x3, (v8i){2, 3, 6, 7, 10, 11, 14, 15});
    v8 q0 = __builtin_shuffle(e, e2, (v8i){0, 2, 4, 6, 8, 10, 12, 14});
    v8 q1 = __builtin_shuffle(e, e2, (v8i){1, 3, 5, 7, 9, 11, 13, 15});
    v8 q2 = __builtin_shuffle(o, o2, (v8i){0, 2, 4, 6, 8, 10, 12, 14});
    v8 q3 = __builtin_shuffle(o, o2, (v8i){1, 3, 5, 7, 9, 11, 13, 15});
    STORE8(p0 + t, q0);
    STORE8(p1 + t, q1);
    STORE8(p2 + t, q2);
    STORE8(p3 + t, q3);
  }
}
TWICE(split4, (int64_t n, const float *x, float *p0, float *p1, float *p2, float *p3), (n, x, p0, p1, p2, p3))

/* Columns [col0, col0 + 4 len) of a row of width floats (none when row is
 * NULL), zero outside it, split into four phases of len floats (p[q], q <
 * 4, phase_len(g) apart): p[q][t] = column col0 + 4t + q. buf: 4 len floats. */
static void split_row(bool avx2, const float *row, int64_t width, int64_t col0, int64_t len, float *buf, float *p) {
  int64_t lo = col0 < 0 ? -col0 : 0, hi = width - col0 < 4 * len ? width - col0 : 4 * len;
  if (!row || hi <= lo) {
    memset(p, 0, (size_t)(4 * len) * sizeof *p);
    return;
  }
  memset(buf, 0, (size_t)lo * sizeof *buf);
  memcpy(buf + lo, row + col0 + lo, (size_t)(hi - lo) * sizeof *buf);
  memset(buf + hi, 0, (size_t)(4 * len - hi) * sizeof *buf);
  split4(avx2, len, buf, p, p + len, p + 2 * len, p + 3 * len);
}

/* B^T applied to six vectors x[0..5], into y[0..5] (ys apart). */
#define BT6(x, y, ys)                                                                                                  \
  do {                                                                                                                 \
    v8 a_ = x[4] - 4.0f * x[2], b_ = x[3] - 4.0f * x[1], c_ = x[4] - x[2], e_ = 2.0f * (x[3] - x[1]);                  \
    y[0] = 4.0f * x[0] - 5.0f * x[2] + x[4];                                                                           \
    y[ys] = a_ + b_;                                                                                                   \
    y[2 * ys] = a_ - b_;                                                                                               \
    y[3 * ys] = c_ + e_;                                                                                               \
    y[4 * ys] = c_ - e_;                                                                                               \
    y[5 * ys] = 4.0f * x[1] - 5.0f * x[3] + x[5];                                                                      \
  } while (0)

/* V[xi][c][j] for the tiles j < n (rounded up to whole vectors) of one tile
 * row, from its six input rows split in phases (d[i] + q * len: phase q of
 * row i). Column i of tiles j.. is phase i % 4 from entry j + i / 4. */
BODY void input_tiles_body(int64_t n, const float *const *d, int64_t len, float *v, int64_t vs) {
  for (int64_t j = 0; j < n; j += 8) {
    v8 t[6][6]; /* B^T down: t[a][i], row a of the transform, column i */
    for (int i = 0; i < 6; i++) {
      v8 x[6], y[6];
      for (int b = 0; b < 6; b++) x[b] = LOAD8(d[b] + (i & 3) * len + j + (i >> 2));
      BT6(x, y, 1);
      for (int a = 0; a < 6; a++) t[a][i] = y[a];
    }
    for (int a = 0; a < 6; a++) { /* then B across */
      v8 y[6];
      BT6(t[a], y, 1);
      for (int b = 0; b < 6; b++) STORE8(v + (6 * a + b) * vs + j, y[b]);
    }
  }
}
TWICE(input_tiles, (int64_t n, const float *const *d, int64_t len, float *v, int64_t vs), (n, d, len, v, vs))

/* A^T applied to six vectors m[0..5], into y[0..3]. */
#define AT6(m, y)                                                                                                      \
  do {                                                                                                                 \
    v8 p_ = m[1] + m[2], q_ = m[1] - m[2], r_ = m[3] + m[4], s_ = m[3] - m[4];                                         \
    y[0] = m[0] + p_ + r_;                                                                                             \
    y[1] = q_ + 2.0f * s_;                                                                                             \
    y[2] = p_ + 4.0f * r_;                                                                                             \
    y[3] = q_ + 8.0f * s_ + m[5];                                                                                      \
  } while (0)

/* The 4x4 outputs of n tiles of M (36 rows ms floats apart), plus b, as four
 * output rows y + r * ys (n rounded up to whole vectors: M has room past the
 * tiles, the rows 4 vectors more). */
BODY void output_tiles_body(int64_t n, const float *m, int64_t ms, float b, float *y, int64_t ys) {
  for (int64_t j = 0; j < n; j += 8) {
    v8 s[4][6]; /* A^T down: s[r][c] */
    for (int c = 0; c < 6; c++) {
      v8 x[6], z[4];
      for (int a = 0; a < 6; a++) x[a] = LOAD8(m + (6 * a + c) * ms + j);
      AT6(x, z);
      for (int r = 0; r < 4; r++) s[r][c] = z[r];
    }
    for (int r = 0; r < 4; r++) { /* then A across: the four phases of row r, interleaved */
      v8 q[4];
      AT6(s[r], q);
      for (int k = 0; k < 4; k++) q[k] += b;
      v8 lo01 = __builtin_shuffle(q[0], q[1], (v8i){0, 8, 1, 9, 2, 10, 3, 11});
      v8 hi01 = __builtin_shuffle(q[0], q[1], (v8i){4, 12, 5, 13, 6, 14, 7, 15});
      v8 lo23 = __builtin_shuffle(q[2], q[3], (v8i){0, 8, 1, 9, 2, 10, 3, 11});
      v8 hi23 = __builtin_shuffle(q[2], q[3], (v8i){4, 12, 5, 13, 6, 14, 7, 15});
      v8 o0 = __builtin_shuffle(lo01, lo23, (v8i){0, 1, 8, 9, 2, 3, 10, 11});
      v8 o1 = __builtin_shuffle(lo01, lo23, (v8i){4, 5, 12, 13, 6, 7, 14, 15});
      v8 o2 = __builtin_shuffle(hi01, hi23, (v8i){0, 1, 8, 9, 2, 3, 10, 11});
      v8 o3 = __builtin_shuffle(hi01, hi23, (v8i){4, 5, 12, 13, 6, 7, 14, 15});
      float *row = y + r * ys + 4 * j;
      STORE8(row, o0);
      STORE8(row + 8, o1);
      STORE8(row + 16, o2);
      STORE8(row + 24, o3);
    }
  }
}
TWICE(output_tiles, (int64_t n, const float *m, int64_t ms, float b, float *y, int64_t ys), (n, m, ms, b, y, ys))

/* V[xi][c][t] for the tiles t of tile rows [row0, row1) of group gr. The
 * products also read the rest of the last vector of each row, left as it
 * is: each column of their result depends on that column of V alone, and
 * the columns past the tiles are never stored. */
static void input_block(bool avx2, const cnn_conv2d_geom *g, int64_t gr, const float *inp, int64_t row0,
                        int64_t row1, float *v, float *split) {
  int64_t Cg = g->C / g->G, th_n = tiles_h(g), tw = tiles_w(g), HW = g->H * g->W, len = phase_len(g);
  int64_t ts = row_stride(g), vs = v_stride(g);
  float *buf = split + 24 * len;
  for (int64_t c = 0; c < Cg; c++) {
    /* the six input rows of a tile row, split; the next tile row of the same
     * image shares two of them, which move up instead of being split again */
    const float *d[6];
    float *slot[6];
    for (int i = 0; i < 6; i++) slot[i] = split + 4 * i * len;
    for (int64_t r = row0; r < row1; r++) {
      int64_t th = r % th_n, first = 0;
      const float *x = inp + ((r / th_n) * g->C + gr * Cg + c) * HW;
      if (r > row0 && th > 0) { /* rows 4 and 5 become 0 and 1; the others' space takes the new rows */
        float *old[6];
        memcpy(old, slot, sizeof old);
        for (int i = 0; i < 6; i++) slot[i] = old[(i + 4) % 6];
        first = 2;
      }
      for (int64_t i = first; i < 6; i++) {
        int64_t h = 4 * th - g->pad[0] + i;
        split_row(avx2, h >= 0 && h < g->H ? x + h * g->W : NULL, g->W, -g->pad[1], len, buf, slot[i]);
      }
      for (int i = 0; i < 6; i++) d[i] = slot[i];
      input_tiles(avx2, tw, d, len, v + c * ts + (r - row0) * tw, vs);
    }
  }
}

void cnn_conv2d_winograd4_forward(const cnn_conv2d_geom *g, int64_t gr, const float *inp, const float *packed,
                                  const float *bias, float *out, int64_t row0, int64_t row1, float *scratch) {
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, th_n = tiles_h(g), tw = tiles_w(g), ts = row_stride(g);
  int64_t PQ = g->P * g->Q, T = (row1 - row0) * tw, vs = v_stride(g), ms = m_stride(g), len = phase_len(g);
  float *v = scratch, *m = v + 36 * vs + 48, *split = m + 36 * ms;
  bool avx2 = cnn_isa_vector_avx2();
  input_block(avx2, g, gr, inp, row0, row1, v, split);
  const int32_t *off = (const int32_t *)packed;
  const float *u = packed + table_floats(g) + gr * 36 * krows(g) * Cg;
  for (int xi = 0; xi < 36; xi++)
    cnn_implicit_product(mr(g), ktiles(g), Cg, u + xi * krows(g) * Cg, off, v + xi * vs, 0, T, m + xi * ms, ts);
  for (int64_t k = 0; k < Kg; k++)
    for (int64_t r = row0; r < row1; r++) {
      int64_t th = r % th_n;
      float *y = out + ((r / th_n) * g->K + gr * Kg + k) * PQ;
      output_tiles(avx2, tw, m + k * ts + (r - row0) * tw, ms, bias ? bias[gr * Kg + k] : 0.0f, split, 4 * len);
      for (int a = 0; a < 4 && 4 * th + a < g->P; a++)
        memcpy(y + (4 * th + a) * g->Q, split + a * 4 * len, (size_t)g->Q * sizeof *y);
    }
}
