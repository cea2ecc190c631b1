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
 * The input transform goes a tile row at a time, 8 tiles a vector: each of
 * the four padded input rows it reads split into even and odd columns in
 * registers (consecutive tiles in consecutive lanes), B^T down, then B
 * across. V is
 * laid out [xi][c][tile], M [xi][k][tile], rows of ts floats: the products
 * read V's rows in place at offsets c * ts.
 */
#include "conv_winograd.h"

#include <stdint.h>
#include <string.h>

#include "conv_implicit.h"
#include "parallel.h"
#include "sgemm.h"
#include "vec8.h"

/* Tiles per block, the columns of the products: the forward products are
 * fastest with blocks that stay in L2, the weight gradient's row products with
 * long rows (each sum of a tile is reduced across its vector once per
 * block), up to GRAD_FLOATS floats of V and M per thread. */
#define FORWARD_TILES 192
#define GRAD_TILES 768
#define GRAD_FLOATS ((int64_t)1 << 20)

/* Input channels of a group whose transformed weights the packing holds at a time. */
#define PACK_CHANNELS 32

static int64_t tiles_h(const cnn_conv2d_geom *g) { return (g->P + 1) / 2; }
static int64_t tiles_w(const cnn_conv2d_geom *g) { return (g->Q + 1) / 2; }
static int mr(const cnn_conv2d_geom *g) { return cnn_implicit_tile_rows(g->K / g->G); }
static int64_t ktiles(const cnn_conv2d_geom *g) { return (g->K / g->G + mr(g) - 1) / mr(g); }
static int64_t krows(const cnn_conv2d_geom *g) { return ktiles(g) * mr(g); }
static int64_t table_floats(const cnn_conv2d_geom *g) { return (g->C / g->G + 15) & ~(int64_t)15; }

int64_t cnn_conv2d_winograd_rows(const cnn_conv2d_geom *g) { return g->N * tiles_h(g); }

int64_t cnn_conv2d_winograd_block_rows(const cnn_conv2d_geom *g, bool grad) {
  int64_t tiles = FORWARD_TILES;
  if (grad) {
    tiles = GRAD_FLOATS / (16 * (g->C / g->G + krows(g)));
    tiles = tiles > GRAD_TILES ? GRAD_TILES : tiles < FORWARD_TILES ? FORWARD_TILES : tiles;
  }
  int64_t per = tiles / tiles_w(g), rows = cnn_conv2d_winograd_rows(g);
  per = per < 1 ? 1 : per < rows ? per : rows;
  /* The weight gradient's blocks, as many for every thread (7 blocks on 2
   * threads ran 4 against 3), each as much smaller; the forward pass, in
   * blocks of fewer rows, measured no better so. */
  int64_t threads = cnn_parallel_threads(), blocks = (rows + per - 1) / per;
  if (!grad) return (rows + blocks - 1) / blocks; /* as even as they go (not 13 tile rows and 1) */
  if (g->G > 1 || blocks % threads == 0) return per;
  blocks = (blocks + threads - 1) / threads * threads;
  return (rows + blocks - 1) / blocks;
}

/* Floats per row of V and M: a block's tiles and a vector more (the
 * transforms go a whole vector of tiles at a time, past the last), in whole
 * tiles of the product. */
static int64_t row_stride(const cnn_conv2d_geom *g, bool grad) {
  int64_t t = cnn_conv2d_winograd_block_rows(g, grad) * tiles_w(g) + 8;
  return (t + CNN_IMPLICIT_SPLIT - 1) / CNN_IMPLICIT_SPLIT * CNN_IMPLICIT_SPLIT;
}

/* Floats from one of the 16 blocks of V (or of M) to the next: its rows and
 * a cache line more. Without the line, block sizes were often multiples of
 * 4 KiB, and the 16 rows a transform writes or reads at once fell into one
 * set of the L1 cache, which holds 8. */
static int64_t v_stride(const cnn_conv2d_geom *g, int64_t ts) { return (g->C / g->G) * ts + 16; }
static int64_t m_stride(const cnn_conv2d_geom *g, int64_t ts) { return krows(g) * ts + 16; }

/* The weight gradient transforms dy GRAD_CHUNK output channels at a time
 * (whole tiles of rows), each chunk's products taken before the next: its
 * scratch holds all of V but only a chunk of M (the small CNN's training
 * peak, two threads' scratch, 3.3 -> 2 MiB each at 64 -> 64 channels). */
#define GRAD_CHUNK 16
static int64_t grad_chunk(const cnn_conv2d_geom *g) {
  int64_t kc = (GRAD_CHUNK + mr(g) - 1) / mr(g) * mr(g);
  return kc < krows(g) ? kc : krows(g);
}
static int64_t grad_m_stride(const cnn_conv2d_geom *g, int64_t ts) { return grad_chunk(g) * ts + 16; }

/* Floats of a padded input (or dy) row: the columns its whole vectors of 8
 * tiles read, 16 each and 2 past the last. */
static int64_t padded_row(const cnn_conv2d_geom *g) { return (tiles_w(g) + 7) / 8 * 16 + 8; }

/* The transforms pad this many channels' rows of a run of tile rows before
 * they read any of them back (the rows' stores have then left the store
 * queue). */
#define PAD_CHANNELS 4

bool cnn_conv2d_winograd_ok(const cnn_conv2d_geom *g) {
  return g->R == 3 && g->S == 3 && g->stride[0] == 1 && g->stride[1] == 1 && g->dil[0] == 1 && g->dil[1] == 1 &&
         16 * (g->C / g->G) * (row_stride(g, true) + 48) < ((int64_t)1 << 31);
}

int64_t cnn_conv2d_winograd_packed_size(const cnn_conv2d_geom *g) {
  return table_floats(g) + 16 * g->G * krows(g) * (g->C / g->G);
}

/* V (16 rows per channel), M (16 rows per output channel, whole tiles), and
 * PAD_CHANNELS channels' padded input rows of a block's tile rows in one
 * image (more than those tile rows' dy rows, or their two output rows,
 * take). */
static int64_t padded_floats(const cnn_conv2d_geom *g) {
  int64_t fwd = cnn_conv2d_winograd_block_rows(g, false), grad = cnn_conv2d_winograd_block_rows(g, true);
  int64_t per = fwd > grad ? fwd : grad, rows = 2 * (per < tiles_h(g) ? per : tiles_h(g)) + 2;
  return PAD_CHANNELS * rows * padded_row(g);
}
int64_t cnn_conv2d_winograd_scratch(const cnn_conv2d_geom *g, bool grad) {
  int64_t tf = row_stride(g, false), tg = row_stride(g, true);
  int64_t forward = 16 * v_stride(g, tf) + 16 * m_stride(g, tf);
  int64_t wgrad = grad ? 16 * v_stride(g, tg) + 16 * grad_m_stride(g, tg) : 0;
  return (forward > wgrad ? forward : wgrad) + 48 + padded_floats(g);
}

void cnn_conv2d_winograd_pack(const cnn_conv2d_geom *g, const float *weight, float *packed) {
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, ts = row_stride(g, !weight), kn = ktiles(g);
  int m = mr(g);
  int32_t *off = (int32_t *)packed;
  for (int64_t c = 0; c < Cg; c++) off[c] = (int32_t)(c * ts);
  if (!weight) return;
  float *u = packed + table_floats(g); /* [gr][xi][ktile][c][m] */
  /* PACK_CHANNELS channels' transforms at a time go to t, then to the 16
   * rows of u in runs: stores straight to the 16 rows, whose distances are
   * often powers of two, thrashed the cache sets. */
  float t[16][PACK_CHANNELS * CNN_IMPLICIT_MR_MAX];
  for (int64_t gr = 0; gr < g->G; gr++)
    for (int64_t kt = 0; kt < kn; kt++)
      for (int64_t c0 = 0; c0 < Cg; c0 += PACK_CHANNELS) {
        int64_t cn = Cg - c0 < PACK_CHANNELS ? Cg - c0 : PACK_CHANNELS;
        for (int64_t c = 0; c < cn; c++)
          for (int i = 0; i < m; i++) {
            int64_t k = kt * m + i, at = c * m + i;
            if (k >= Kg) {
              for (int xi = 0; xi < 16; xi++) t[xi][at] = 0.0f;
              continue;
            }
            const float *w = weight + ((gr * Kg + k) * Cg + c0 + c) * 9;
            float gw[4][3]; /* G w */
            for (int b = 0; b < 3; b++) {
              gw[0][b] = w[b];
              gw[1][b] = 0.5f * (w[b] + w[3 + b] + w[6 + b]);
              gw[2][b] = 0.5f * (w[b] - w[3 + b] + w[6 + b]);
              gw[3][b] = w[6 + b];
            }
            for (int a = 0; a < 4; a++) { /* (G w) G^T */
              t[4 * a][at] = gw[a][0];
              t[4 * a + 1][at] = 0.5f * (gw[a][0] + gw[a][1] + gw[a][2]);
              t[4 * a + 2][at] = 0.5f * (gw[a][0] - gw[a][1] + gw[a][2]);
              t[4 * a + 3][at] = gw[a][2];
            }
          }
        for (int xi = 0; xi < 16; xi++)
          memcpy(u + (((gr * 16 + xi) * kn + kt) * Cg + c0) * m, t[xi], (size_t)(cn * m) * sizeof(float));
      }
}

/* The transforms only add and subtract, so wider vectors give the same sums:
 * each body is compiled for baseline x86-64 and for AVX2, and the AVX2 build
 * runs where the CPU has it (unless the portable kernels were asked for),
 * as the caller says (avx2: cnn_isa_vector_avx2(), asked once per call). */
#define BODY CNN_V8_BODY
#define TWICE CNN_V8_TWICE

typedef cnn_v8 v8;
typedef cnn_v8i v8i;
#define LOAD8 CNN_V8_LOAD
#define STORE8 CNN_V8_STORE

/* The even and odd floats of (a, b): a shuffle within each half of the
 * vectors, then one of their 64-bit quarters. */
#define QUARTERS ((v8i){0, 1, 4, 5, 2, 3, 6, 7})
#define EVENS(a, b) __builtin_shuffle(__builtin_shuffle(a, b, (v8i){0, 2, 8, 10, 4, 6, 12, 14}), QUARTERS)
#define ODDS(a, b) __builtin_shuffle(__builtin_shuffle(a, b, (v8i){1, 3, 9, 11, 5, 7, 13, 15}), QUARTERS)

/* V[xi][c][j], j < n rounded up to whole vectors (rows vs floats apart),
 * from the four padded input rows at p (wp floats apart): each row split
 * into even and odd columns in registers, at column 2j and 2j + 2; B^T
 * down, then B across. */
BODY void input_tiles_body(int64_t n, const float *p, int64_t wp, float *v, int64_t vs) {
  for (int64_t j = 0; j < n; j += 8) {
    v8 e[4][2], o[4][2]; /* row q at columns 2j + 2t + 2s (e) and the ones after them (o), tiles t < 8 */
    _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) {
      const float *r = p + q * wp + 2 * j;
      v8 a = LOAD8(r), b = LOAD8(r + 8), c = LOAD8(r + 2), d = LOAD8(r + 10);
      e[q][0] = EVENS(a, b), o[q][0] = ODDS(a, b), e[q][1] = EVENS(c, d), o[q][1] = ODDS(c, d);
    }
    v8 be[4][2], bo[4][2]; /* B^T d at columns 2j, 2j + 2 (be) and 2j + 1, 2j + 3 (bo) */
    _Pragma("GCC unroll 2") for (int s = 0; s < 2; s++) {
      be[0][s] = e[0][s] - e[2][s], bo[0][s] = o[0][s] - o[2][s];
      be[1][s] = e[1][s] + e[2][s], bo[1][s] = o[1][s] + o[2][s];
      be[2][s] = e[2][s] - e[1][s], bo[2][s] = o[2][s] - o[1][s];
      be[3][s] = e[1][s] - e[3][s], bo[3][s] = o[1][s] - o[3][s];
    }
    float *q = v + j; /* one pointer walking the 16 rows, not 16 of them (the registers ran out) */
    _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++, q += 4 * vs) {
      v8 w0 = be[i][0] - be[i][1], w1 = bo[i][0] + be[i][1], w2 = be[i][1] - bo[i][0], w3 = bo[i][0] - bo[i][1];
      STORE8(q, w0);
      STORE8(q + vs, w1);
      STORE8(q + 2 * vs, w2);
      STORE8(q + 3 * vs, w3);
    }
  }
}

/* The 2x2 outputs of n tiles of M (16 rows ms floats apart), plus b, as the
 * two output rows y0 and y1 (n rounded up to whole vectors: M has room past
 * the tiles, y0 and y1 two vectors more). */
#define INTERLEAVE_LO ((v8i){0, 8, 1, 9, 2, 10, 3, 11})
#define INTERLEAVE_HI ((v8i){4, 12, 5, 13, 6, 14, 7, 15})
BODY void output_tiles_body(int64_t n, const float *m, int64_t ms, float b, float *y0, float *y1, bool relu) {
  for (int64_t j = 0; j < n; j += 8) {
    v8 s0[4], s1[4];
    const float *q = m + j; /* as in input_tiles_body */
    _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++, q += ms) { /* A^T down: m0 + m1 + m2, m1 - m2 - m3 */
      v8 m0 = LOAD8(q), m1 = LOAD8(q + 4 * ms), m2 = LOAD8(q + 8 * ms), m3 = LOAD8(q + 12 * ms);
      s0[c] = m0 + m1 + m2;
      s1[c] = m1 - m2 - m3;
    }
    v8 e0 = s0[0] + s0[1] + s0[2] + b, o0 = s0[1] - s0[2] - s0[3] + b; /* then A across: even, odd columns */
    v8 e1 = s1[0] + s1[1] + s1[2] + b, o1 = s1[1] - s1[2] - s1[3] + b;
    if (relu) { /* zero where below zero (NaN stays NaN, as cnn.relu) */
      e0 = (v8)((v8i)e0 & ~(e0 < 0.0f)), o0 = (v8)((v8i)o0 & ~(o0 < 0.0f));
      e1 = (v8)((v8i)e1 & ~(e1 < 0.0f)), o1 = (v8)((v8i)o1 & ~(o1 < 0.0f));
    }
    v8 r[4] = {__builtin_shuffle(e0, o0, INTERLEAVE_LO), __builtin_shuffle(e0, o0, INTERLEAVE_HI),
               __builtin_shuffle(e1, o1, INTERLEAVE_LO), __builtin_shuffle(e1, o1, INTERLEAVE_HI)};
    STORE8(y0 + 2 * j, r[0]);
    STORE8(y0 + 2 * j + 8, r[1]);
    STORE8(y1 + 2 * j, r[2]);
    STORE8(y1 + 2 * j + 8, r[3]);
  }
}

/* Rows [h0, h0 + rows) of an H x W plane x, each into a row of wp floats at
 * p: pad zeros, the row, zeros (rows outside the plane all zeros). Stores
 * only, read back once PAD_CHANNELS channels are done (a row read straight
 * back waited for its stores; rows built in registers instead spent their
 * time at their edges). */
BODY void pad_rows_body(const float *x, int64_t H, int64_t W, int64_t pad, int64_t h0, int64_t rows, int64_t wp,
                        float *p) {
  int64_t n = W < wp - pad ? W : wp - pad;
  v8 z = {0};
  __asm__("" : "+m"(z)); /* zeros the compiler cannot see: the loops stay stores, not a call to memset a row */
  for (int64_t r = 0; r < rows; r++, p += wp) {
    bool inside = h0 + r >= 0 && h0 + r < H && n > 0;
    /* zeros where the row is not, whole vectors (wp >= 8), the last ending at wp; the row is copied over them */
    for (int64_t i = inside ? pad + n : 0; i < wp; i += 8) STORE8(p + (i + 8 <= wp ? i : wp - 8), z);
    if (!inside) continue;
    for (int64_t i = 0; i < pad; i += 8) STORE8(p + i, z);
    cnn_v8_copy(n, x + (h0 + r) * W, p + pad);
  }
}

/* V[xi][c][t] for the tiles t of tile rows [row0, row1) of group gr; with
 * zero_tails, zeros in the rest of each row up to the next vector, which the
 * weight gradient's sums over tiles read. (The forward products read it too,
 * but each column of their result depends on that column of V alone, and
 * the columns past the tiles are never stored.) The input rows of a run of
 * tile rows in one image are padded at once; consecutive tile rows share two.
 * Compiled twice with all it calls inlined: at batch 1 the calls a row cost
 * more than the work. */
BODY void input_block_body(const cnn_conv2d_geom *g, int64_t gr, const float *inp, int64_t row0, int64_t row1,
                           float *v, int64_t ts, float *pads, bool zero_tails) {
  int64_t Cg = g->C / g->G, th_n = tiles_h(g), tw = tiles_w(g), HW = g->H * g->W, wp = padded_row(g);
  int64_t T = (row1 - row0) * tw, vs = v_stride(g, ts);
  for (int64_t c0 = 0; c0 < Cg; c0 += PAD_CHANNELS) {
    int64_t c1 = c0 + PAD_CHANNELS < Cg ? c0 + PAD_CHANNELS : Cg;
    for (int64_t ra = row0, rb; ra < row1; ra = rb) {
      rb = (ra / th_n + 1) * th_n < row1 ? (ra / th_n + 1) * th_n : row1; /* tile rows of one image */
      int64_t rows = 2 * (rb - ra) + 2;
      for (int64_t c = c0; c < c1; c++)
        pad_rows_body(inp + ((ra / th_n) * g->C + gr * Cg + c) * HW, g->H, g->W, g->pad[1], 2 * (ra % th_n) - g->pad[0],
                      rows, wp, pads + (c - c0) * rows * wp);
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = ra; r < rb; r++)
          input_tiles_body(tw, pads + ((c - c0) * rows + 2 * (r - ra)) * wp, wp, v + c * ts + (r - row0) * tw, vs);
    }
    for (int64_t c = c0; c < c1; c++)
      for (int xi = 0; zero_tails && xi < 16; xi++) /* the columns past the block, read by its last tiles */
        cnn_implicit_zero_tail(v + xi * vs + c * ts, T);
  }
}
TWICE(input_block,
      (const cnn_conv2d_geom *g, int64_t gr, const float *inp, int64_t row0, int64_t row1, float *v, int64_t ts,
       float *pads, bool zero_tails),
      (g, gr, inp, row0, row1, v, ts, pads, zero_tails))

/* The output planes of group gr from M (rows ms floats apart, tiles of tile
 * rows [row0, row1)), plus bias: for each output channel and each run of
 * tile rows in one image, all their tiles at once to two rows of scratch
 * (whole vectors of tiles run past them), then each output row to its plane. */
BODY void output_block_body(const cnn_conv2d_geom *g, int64_t gr, const float *m, int64_t ms, int64_t row0,
                            int64_t row1, const float *bias, float *out, int64_t ts, float *pads, bool relu) {
  int64_t Kg = g->K / g->G, Q = g->Q, PQ = g->P * Q, tw = tiles_w(g), th_n = tiles_h(g);
  for (int64_t k = 0; k < Kg; k++)
    for (int64_t ra = row0, rb; ra < row1; ra = rb) {
      rb = (ra / th_n + 1) * th_n < row1 ? (ra / th_n + 1) * th_n : row1; /* tile rows of one image */
      int64_t n = (rb - ra) * tw;
      float *s0 = pads, *s1 = pads + 2 * n + 16, *y = out + ((ra / th_n) * g->K + gr * Kg + k) * PQ;
      output_tiles_body(n, m + k * ts + (ra - row0) * tw, ms, bias ? bias[gr * Kg + k] : 0.0f, s0, s1, relu);
      for (int64_t r = ra; r < rb; r++) {
        int64_t p = 2 * (r % th_n);
        cnn_v8_copy(Q, s0 + 2 * (r - ra) * tw, y + p * Q);
        if (p + 1 < g->P) cnn_v8_copy(Q, s1 + 2 * (r - ra) * tw, y + (p + 1) * Q);
      }
    }
}
TWICE(output_block,
      (const cnn_conv2d_geom *g, int64_t gr, const float *m, int64_t ms, int64_t row0, int64_t row1, const float *bias,
       float *out, int64_t ts, float *pads, bool relu),
      (g, gr, m, ms, row0, row1, bias, out, ts, pads, relu))

void cnn_conv2d_winograd_forward(const cnn_conv2d_geom *g, int64_t gr, const float *inp, const float *packed,
                                 const float *bias, float *out, int64_t row0, int64_t row1, float *scratch,
                                 bool relu) {
  int64_t Cg = g->C / g->G, ts = row_stride(g, false), T = (row1 - row0) * tiles_w(g);
  int64_t vs = v_stride(g, ts), ms = m_stride(g, ts);
  float *v = scratch, *m = v + 16 * vs + 48, *pads = m + 16 * ms;
  bool avx2 = cnn_isa_vector_avx2();
  input_block(avx2, g, gr, inp, row0, row1, v, ts, pads, false);
  const int32_t *off = (const int32_t *)packed;
  const float *u = packed + table_floats(g) + gr * 16 * krows(g) * Cg;
  for (int xi = 0; xi < 16; xi++)
    cnn_implicit_product(mr(g), ktiles(g), Cg, u + xi * krows(g) * Cg, off, v + xi * vs, 0, T, m + xi * ms, ts);
  output_block(avx2, g, gr, m, ms, row0, row1, bias, out, ts, pads, relu);
}

/* ---- weight gradient ---- */

/* dU[xi] = (A dy A^T)[xi] of n tiles, from the two padded dy rows at p (wp
 * floats apart) of a tile row, split into even and odd columns in
 * registers. With A = [1 0; 1 1; 1 -1; 0 -1]: down, z = y0, y0 + y1,
 * y0 - y1, -y1; across, the same. */
BODY void dy_tiles_body(int64_t n, const float *p, int64_t wp, float *d, int64_t ds) {
  for (int64_t j = 0; j < n; j += 8) {
    v8 a = LOAD8(p + 2 * j), b = LOAD8(p + 2 * j + 8), c = LOAD8(p + wp + 2 * j), e = LOAD8(p + wp + 2 * j + 8);
    v8 a0 = EVENS(a, b), b0 = ODDS(a, b), a1 = EVENS(c, e), b1 = ODDS(c, e);
    v8 ze[4] = {a0, a0 + a1, a0 - a1, -a1}, zo[4] = {b0, b0 + b1, b0 - b1, -b1};
    float *q = d + j; /* as in input_tiles_body */
    _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++, q += 4 * ds) {
      v8 w0 = ze[i], w1 = ze[i] + zo[i], w2 = ze[i] - zo[i], w3 = -zo[i];
      STORE8(q, w0);
      STORE8(q + ds, w1);
      STORE8(q + 2 * ds, w2);
      STORE8(q + 3 * ds, w3);
    }
  }
}

/* The transformed dy of output channels [ka, kb) of group gr (at most
 * PAD_CHANNELS), for the tiles of tile rows [row0, row1), at d (rows ds
 * floats apart, a row of ts floats for each channel): as input_block, the
 * dy rows of a run of tile rows in one image padded at once. */
BODY void dy_block_body(const cnn_conv2d_geom *g, int64_t gr, const float *dout, int64_t ka, int64_t kb, int64_t row0,
                        int64_t row1, float *d, int64_t ds, int64_t ts, float *pads) {
  int64_t Kg = g->K / g->G, th_n = tiles_h(g), tw = tiles_w(g), PQ = g->P * g->Q, wp = padded_row(g);
  for (int64_t ra = row0, rb; ra < row1; ra = rb) {
    rb = (ra / th_n + 1) * th_n < row1 ? (ra / th_n + 1) * th_n : row1; /* tile rows of one image */
    int64_t rows = 2 * (rb - ra);
    for (int64_t k = ka; k < kb; k++)
      pad_rows_body(dout + ((ra / th_n) * g->K + gr * Kg + k) * PQ, g->P, g->Q, 0, 2 * (ra % th_n), rows, wp,
                    pads + (k - ka) * rows * wp);
    for (int64_t k = ka; k < kb; k++)
      for (int64_t r = ra; r < rb; r++)
        dy_tiles_body(tw, pads + ((k - ka) * rows + 2 * (r - ra)) * wp, wp, d + (k - ka) * ts + (r - row0) * tw, ds);
  }
}
TWICE(dy_block,
      (const cnn_conv2d_geom *g, int64_t gr, const float *dout, int64_t ka, int64_t kb, int64_t row0, int64_t row1,
       float *d, int64_t ds, int64_t ts, float *pads),
      (g, gr, dout, ka, kb, row0, row1, d, ds, ts, pads))

int64_t cnn_conv2d_winograd_grad_size(const cnn_conv2d_geom *g) { return 16 * g->K * (g->C / g->G); }

void cnn_conv2d_winograd_weight_grad(const cnn_conv2d_geom *g, int64_t gr, const float *inp, const float *dout,
                                     const float *packed, float *du, int64_t row0, int64_t row1, float *scratch) {
  int64_t Kg = g->K / g->G, Cg = g->C / g->G, ts = row_stride(g, true);
  int64_t T = (row1 - row0) * tiles_w(g), steps = (T + 7) / 8;
  int64_t vs = v_stride(g, ts), ms = grad_m_stride(g, ts), kc = grad_chunk(g);
  float *v = scratch, *d = v + 16 * vs + 48, *pads = d + 16 * ms;
  bool avx2 = cnn_isa_vector_avx2();
  const int32_t *off = (const int32_t *)packed;
  input_block(avx2, g, gr, inp, row0, row1, v, ts, pads, true);
  for (int64_t k0 = 0; k0 < Kg; k0 += kc) {
    int64_t k1 = k0 + kc < krows(g) ? k0 + kc : krows(g), kend = k1 < Kg ? k1 : Kg; /* rows [kend, k1): zeros */
    for (int64_t ka = k0; ka < kend; ka += PAD_CHANNELS) /* d[xi][k - k0][t]: dy of the tiles, transformed */
      dy_block(avx2, g, gr, dout, ka, ka + PAD_CHANNELS < kend ? ka + PAD_CHANNELS : kend, row0, row1,
               d + (ka - k0) * ts, ms, ts, pads);
    for (int64_t k = k0; k < k1; k++) {
      float *dk = d + (k - k0) * ts;
      for (int xi = 0; xi < 16; xi++) { /* the rows past Kg, and the columns past the block */
        if (k < Kg) cnn_implicit_zero_tail(dk + xi * ms, T);
        else memset(dk + xi * ms, 0, (size_t)ts * sizeof(float));
      }
    }
    for (int xi = 0; xi < 16; xi++)
      cnn_implicit_row_products(mr(g), kend - k0, Cg, steps, d + xi * ms, ts, off, v + xi * vs,
                                du + ((gr * 16 + xi) * Kg + k0) * Cg, Cg);
  }
}

void cnn_conv2d_winograd_grad_finish(const cnn_conv2d_geom *g, const float *du, float *dweight) {
  int64_t Kg = g->K / g->G, Cg = g->C / g->G;
  for (int64_t gr = 0; gr < g->G; gr++)
    for (int64_t k = 0; k < Kg; k++)
      for (int64_t c = 0; c < Cg; c++) {
        float t[4][4], h[4][3];
        for (int xi = 0; xi < 16; xi++) t[xi / 4][xi % 4] = du[((gr * 16 + xi) * Kg + k) * Cg + c];
        for (int i = 0; i < 4; i++) { /* t G, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] */
          h[i][0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
          h[i][1] = 0.5f * (t[i][1] - t[i][2]);
          h[i][2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
        }
        float *w = dweight + ((gr * Kg + k) * Cg + c) * 9;
        for (int b = 0; b < 3; b++) { /* G^T (t G) */
          w[b] += h[0][b] + 0.5f * (h[1][b] + h[2][b]);
          w[3 + b] += 0.5f * (h[1][b] - h[2][b]);
          w[6 + b] += 0.5f * (h[1][b] + h[2][b]) + h[3][b];
        }
      }
}
