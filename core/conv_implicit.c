/*
 * conv_implicit.c: stride-1 convolution as an implicit matrix product (see
 * conv_implicit.h).
 *
 * A tile holds twelve accumulators of 8 floats: 4 output channels by 24 wide
 * positions, or 6 by 16 when the channels of a group come in sixes (LeNet's
 * first layer, the input gradient of its second). Per tap it loads the padded
 * image at the tap's offset and broadcasts one weight per channel. The weight
 * gradient is the same product with the sum running over positions: 4
 * channels x 3 taps (or 6 x 2) of vector partial sums. The bodies are plain C
 * on vectors of 8 floats, compiled twice: for baseline x86-64 and, behind the
 * CPU check, for AVX2 + FMA (where a vector is one register and each
 * multiply-add one fused instruction, so the two round differently).
 */
#include "conv_implicit.h"

#include <immintrin.h>
#include <string.h>

#include "sgemm.h"
#include "vec8.h"

#define SLACK 24 /* floats after the last plane: a tile reads up to a vector past its positions */
#define JB 8 /* tiles of positions per block: their image window is reused by every tile of channels */

typedef cnn_v8 v8;
#define LOAD CNN_V8_LOAD

static int64_t pad_w(const cnn_conv2d_geom *g) { return g->W + 2 * g->pad[1]; }
static int64_t pad_h(const cnn_conv2d_geom *g) { return g->H + 2 * g->pad[0]; }
static int64_t taps(const cnn_conv2d_geom *g) { return g->C / g->G * g->R * g->S; }

/* Shifted copies, for small layers whose padding columns would cost more
 * products than the copies cost: S copies of the padded image, copy s
 * holding columns [s * dil, s * dil + Q) of every padded row, so that rows
 * are Q wide, the positions are the output pixels themselves, and tap
 * (c, r, s) reads copy s. The (S - 1) * dil columns a row spares save that
 * many positions of taps * K / G multiply-adds, 16 a cycle at best; the
 * S - 1 more copies of a channel's Hp x Q floats cost about 0.35 cycles a
 * float here, while they stay in L1: beyond, the taps of a row read S
 * times the cache lines they read in one padded image (64 -> 64 at 56x56 on
 * the implicit product: 13% slower so). Measured: LeNet's second layer, 136
 * positions -> 100, 8.4 -> 7.0 us on one thread; its first, 892 -> 784
 * positions, even (left wide). */
#define SHIFTED_FLOATS 8192 /* 32 KiB */
static bool shifted(const cnn_conv2d_geom *g) {
  return g->S > 1 && g->S * (g->C / g->G) * pad_h(g) * g->Q <= SHIFTED_FLOATS &&
         g->P * g->dil[1] * (g->K / g->G) * g->R * g->S > 6 * pad_h(g) * g->Q;
}
static int64_t copies(const cnn_conv2d_geom *g) { return shifted(g) ? g->S : 1; }
/* Floats of a row of the image as the product reads it, and of a position row. */
static int64_t row_w(const cnn_conv2d_geom *g) { return shifted(g) ? g->Q : pad_w(g); }
static int64_t plane_floats(const cnn_conv2d_geom *g) { return pad_h(g) * row_w(g); }
int cnn_implicit_tile_rows(int64_t channels) {
  return channels % 4 && (channels + 5) / 6 * 6 < (channels + 3) / 4 * 4 ? 6 : 4;
}
static int tile_rows(const cnn_conv2d_geom *g) { return cnn_implicit_tile_rows(g->K / g->G); }
static int64_t ktiles(const cnn_conv2d_geom *g) { return (g->K / g->G + tile_rows(g) - 1) / tile_rows(g); }
/* Rows of the packed weights and of the spread dy: whole tiles. */
static int64_t tiled_rows(const cnn_conv2d_geom *g) { return ktiles(g) * tile_rows(g); }
static int64_t table_floats(const cnn_conv2d_geom *g) { return (taps(g) + 15) & ~(int64_t)15; }

bool cnn_conv2d_implicit_ok(const cnn_conv2d_geom *g) {
  return g->stride[0] == 1 && g->stride[1] == 1 &&
         copies(g) * (g->C / g->G) * plane_floats(g) + SLACK < ((int64_t)1 << 31);
}

int64_t cnn_conv2d_implicit_positions(const cnn_conv2d_geom *g) { return (g->P - 1) * row_w(g) + g->Q; }

int64_t cnn_conv2d_implicit_packed_size(const cnn_conv2d_geom *g) {
  return table_floats(g) + g->G * tiled_rows(g) * taps(g);
}

/* The padded image (or its shifted copies), then rows over the positions,
 * rounded up to whole tiles, in whole tiles of rows: the output (forward) or
 * dy spread out (weight gradient). */
static int64_t with_slack(int64_t floats) { return (floats + SLACK + 15) & ~(int64_t)15; }
static int64_t image_floats(const cnn_conv2d_geom *g) {
  return with_slack(copies(g) * (g->C / g->G) * plane_floats(g));
}
static int64_t wide_len(const cnn_conv2d_geom *g) {
  int64_t L = cnn_conv2d_implicit_positions(g);
  return (L + CNN_IMPLICIT_SPLIT - 1) / CNN_IMPLICIT_SPLIT * CNN_IMPLICIT_SPLIT;
}

/* The padded image that shifted copies of a padded layer are sliced from, after the rest. */
static bool padded(const cnn_conv2d_geom *g) { return g->pad[0] || g->pad[1]; }
static int64_t tmp_floats(const cnn_conv2d_geom *g) {
  return shifted(g) && padded(g) ? with_slack(g->C / g->G * pad_h(g) * pad_w(g)) : 0;
}

int64_t cnn_conv2d_implicit_scratch(const cnn_conv2d_geom *g) {
  return image_floats(g) + tiled_rows(g) * wide_len(g) + tmp_floats(g);
}

void cnn_conv2d_implicit_pack(const cnn_conv2d_geom *g, const float *weight, float *packed) {
  int64_t Kg = g->K / g->G, CRS = taps(g), rw = row_w(g), plane = plane_floats(g), RS = g->R * g->S;
  int64_t copy = g->C / g->G * plane; /* floats of a shifted copy */
  int32_t *off = (int32_t *)packed;
  for (int64_t t = 0; t < CRS; t++) {
    int64_t c = t / RS, r = t / g->S % g->R, col = t % g->S;
    off[t] = (int32_t)(c * plane + r * g->dil[0] * rw + (shifted(g) ? col * copy : col * g->dil[1]));
  }
  if (!weight) return;
  float *a = packed + table_floats(g);
  int mr = tile_rows(g);
  for (int64_t gr = 0; gr < g->G; gr++)
    for (int64_t kt = 0; kt < ktiles(g); kt++)
      for (int64_t t = 0; t < CRS; t++, a += mr)
        for (int64_t i = 0; i < mr; i++) {
          int64_t k = kt * mr + i;
          a[i] = k < Kg ? weight[(gr * Kg + k) * CRS + t] : 0.0f;
        }
}

/* The tile bodies are written once for any shape; each caller passes
 * constants, so that after inlining the loops unroll and the accumulators
 * live in registers. MADD(a, b, c) is c + a * b on vectors. */
#define MADD_BASE(a, b, c) ((c) + (a) * (b))
/* One fused multiply-add instruction (ISO C mode does not contract c + a * b
 * by itself). */
#define MADD_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define SPLAT(s) ((v8){(s), (s), (s), (s), (s), (s), (s), (s)})

/* Forward: c[i*ldc + 0 .. 8 nv) = sum over taps t < n of a[t][i] * x[off[t] +
 * 0 .. 8 nv), for i < mr. */
#define TILE_BODY(mr, nv, MADD)                                                                                        \
  do {                                                                                                                 \
    v8 acc[mr][nv];                                                                                                    \
    _Pragma("GCC unroll 8") for (int i = 0; i < mr; i++) _Pragma("GCC unroll 4") for (int v = 0; v < nv; v++)         \
        acc[i][v] = (v8){0};                                                                                           \
    for (int64_t t = 0; t < n; t++, a += mr) {                                                                         \
      const float *xp = x + off[t];                                                                                    \
      v8 b[nv];                                                                                                        \
      _Pragma("GCC unroll 4") for (int v = 0; v < nv; v++) b[v] = LOAD(xp + 8 * v);                                    \
      _Pragma("GCC unroll 8") for (int i = 0; i < mr; i++) {                                                           \
        v8 s = SPLAT(a[i]);                                                                                            \
        _Pragma("GCC unroll 4") for (int v = 0; v < nv; v++) acc[i][v] = MADD(s, b[v], acc[i][v]);                     \
      }                                                                                                                \
    }                                                                                                                  \
    _Pragma("GCC unroll 8") for (int i = 0; i < mr; i++) _Pragma("GCC unroll 4") for (int v = 0; v < nv; v++)         \
        memcpy(c + i * ldc + 8 * v, &acc[i][v], sizeof acc[i][v]);                                                     \
  } while (0)

/* Weight gradient: c[i][u] = sum over 8-float steps v < n of the lanes of
 * d[i*ld + 8v ..] * x[o[u] + 8v ..], for i < mr output channels and u < wt
 * taps. */
#define GRAD_BODY(mr, wt, MADD)                                                                                        \
  do {                                                                                                                 \
    v8 acc[mr][wt];                                                                                                    \
    _Pragma("GCC unroll 8") for (int i = 0; i < mr; i++) _Pragma("GCC unroll 4") for (int u = 0; u < wt; u++)         \
        acc[i][u] = (v8){0};                                                                                           \
    for (int64_t v = 0; v < 8 * n; v += 8) {                                                                           \
      v8 b[wt];                                                                                                        \
      _Pragma("GCC unroll 4") for (int u = 0; u < wt; u++) b[u] = LOAD(x + o[u] + v);                                  \
      _Pragma("GCC unroll 8") for (int i = 0; i < mr; i++) {                                                           \
        v8 dv = LOAD(d + i * ld + v);                                                                                  \
        _Pragma("GCC unroll 4") for (int u = 0; u < wt; u++) acc[i][u] = MADD(dv, b[u], acc[i][u]);                    \
      }                                                                                                                \
    }                                                                                                                  \
    _Pragma("GCC unroll 3") for (int f = 0; f < mr * wt; f += 4) {                                                    \
      v8 *s = &acc[0][0] + f;                                                                                          \
      hsum4(s[0], s[1], s[2], s[3], c + f);                                                                            \
    }                                                                                                                  \
  } while (0)

/* The sums of the lanes of a, b, c and d into s[0..3]: lanes paired across
 * the four vectors by shuffles (two rounds), then the halves added, instead
 * of each vector summed apart. */
#define INTERLEAVE_LO ((cnn_v8i){0, 8, 1, 9, 4, 12, 5, 13})
#define INTERLEAVE_HI ((cnn_v8i){2, 10, 3, 11, 6, 14, 7, 15})
#define PAIRS_LO ((cnn_v8i){0, 1, 8, 9, 4, 5, 12, 13})
#define PAIRS_HI ((cnn_v8i){2, 3, 10, 11, 6, 7, 14, 15})
static inline __attribute__((always_inline)) void hsum4(v8 a, v8 b, v8 c, v8 d, float *s) {
  v8 ab = __builtin_shuffle(a, b, INTERLEAVE_LO) + __builtin_shuffle(a, b, INTERLEAVE_HI);
  v8 cd = __builtin_shuffle(c, d, INTERLEAVE_LO) + __builtin_shuffle(c, d, INTERLEAVE_HI);
  v8 abcd = __builtin_shuffle(ab, cd, PAIRS_LO) + __builtin_shuffle(ab, cd, PAIRS_HI);
  for (int i = 0; i < 4; i++) s[i] = abcd[i] + abcd[i + 4];
}

typedef void tile_fn(int64_t n, const float *a, const int32_t *off, const float *x, float *c, int64_t ldc);
typedef void grad_fn(int64_t n, const float *d, int64_t ld, const int32_t *o, const float *x, float *c);

#define KERNELS(mr, nv, wt)                                                                                            \
  static void tile##mr##_base(int64_t n, const float *a, const int32_t *off, const float *x, float *c, int64_t ldc) { \
    TILE_BODY(mr, nv, MADD_BASE);                                                                                      \
  }                                                                                                                    \
  __attribute__((target("avx2,fma"))) static void tile##mr##_avx2(int64_t n, const float *a, const int32_t *off,      \
                                                                   const float *x, float *c, int64_t ldc) {            \
    TILE_BODY(mr, nv, MADD_FMA);                                                                                       \
  }                                                                                                                    \
  static void grad##mr##_base(int64_t n, const float *d, int64_t ld, const int32_t *o, const float *x, float *c) {    \
    GRAD_BODY(mr, wt, MADD_BASE);                                                                                      \
  }                                                                                                                    \
  __attribute__((target("avx2,fma"))) static void grad##mr##_avx2(int64_t n, const float *d, int64_t ld,              \
                                                                   const int32_t *o, const float *x, float *c) {       \
    GRAD_BODY(mr, wt, MADD_FMA);                                                                                       \
  }

/* Twelve accumulators each: 4 channels x 3 vectors (or taps), 6 x 2. */
KERNELS(4, 3, 3)
KERNELS(6, 2, 2)

/* The tiles that end a row of products, narrower than a whole tile (14 x 14
 * Winograd tiles are 49 columns: 72 as tiles of 24). A tail of one vector
 * goes np panels (np * mr output channels) at a time, for enough
 * accumulators to hide the latency of the multiply-adds; of two vectors, one
 * panel. c[(p*mr + i)*ldc + 0 .. 8 nv) = sum over taps t < n of a[p][t][i] *
 * x[off[t] + 0 .. 8 nv), with the panels of a n * mr floats apart. */
#define TAIL_BODY(mr, np, nv, MADD)                                                                                    \
  do {                                                                                                                 \
    v8 acc[np][mr][nv];                                                                                                \
    _Pragma("GCC unroll 3") for (int p = 0; p < np; p++) _Pragma("GCC unroll 8") for (int i = 0; i < mr; i++)         \
        _Pragma("GCC unroll 2") for (int v = 0; v < nv; v++) acc[p][i][v] = (v8){0};                                  \
    for (int64_t t = 0; t < n; t++) {                                                                                  \
      const float *xp = x + off[t];                                                                                    \
      v8 b[nv];                                                                                                        \
      _Pragma("GCC unroll 2") for (int v = 0; v < nv; v++) b[v] = LOAD(xp + 8 * v);                                    \
      _Pragma("GCC unroll 3") for (int p = 0; p < np; p++) _Pragma("GCC unroll 8") for (int i = 0; i < mr; i++) {     \
        v8 s = SPLAT(a[(p * n + t) * mr + i]);                                                                         \
        _Pragma("GCC unroll 2") for (int v = 0; v < nv; v++) acc[p][i][v] = MADD(s, b[v], acc[p][i][v]);               \
      }                                                                                                                \
    }                                                                                                                  \
    _Pragma("GCC unroll 3") for (int p = 0; p < np; p++) _Pragma("GCC unroll 8") for (int i = 0; i < mr; i++)         \
        _Pragma("GCC unroll 2") for (int v = 0; v < nv; v++)                                                           \
            memcpy(c + (p * mr + i) * ldc + 8 * v, &acc[p][i][v], sizeof acc[p][i][v]);                               \
  } while (0)

#define TAIL(mr, np, nv)                                                                                               \
  static void tail##mr##_##np##x##nv##_base(int64_t n, const float *a, const int32_t *off, const float *x, float *c,  \
                                            int64_t ldc) {                                                             \
    TAIL_BODY(mr, np, nv, MADD_BASE);                                                                                  \
  }                                                                                                                    \
  __attribute__((target("avx2,fma"))) static void tail##mr##_##np##x##nv##_avx2(                                      \
      int64_t n, const float *a, const int32_t *off, const float *x, float *c, int64_t ldc) {                          \
    TAIL_BODY(mr, np, nv, MADD_FMA);                                                                                   \
  }
TAIL(4, 1, 1)
TAIL(4, 2, 1)
TAIL(4, 3, 1)
TAIL(4, 1, 2)
TAIL(6, 1, 1)
TAIL(6, 2, 1)

/* The last one or two columns of a row of products (a 14 x 14 image's 49
 * Winograd tiles end in one), in tiles of 4 channels: each column a vector
 * of 4 channels, np panels at a time, instead of a vector of 8 columns of
 * which one or two count (the single column took a tenth of such a layer).
 * Each sum runs over the taps in the same order as in the other kernels, so
 * every column comes out the same whichever kernel takes it.
 * c[(p*4 + i)*ldc + v] = sum over taps t < n of a[p][t][i] * x[off[t] + v],
 * for v < nc. */
typedef float v4 __attribute__((vector_size(4 * sizeof(float))));
#define MADD4_FMA(a, b, c) _mm_fmadd_ps((a), (b), (c))
#define COLUMN_BODY(np, nc, MADD)                                                                                      \
  do {                                                                                                                 \
    v4 acc[np][nc];                                                                                                    \
    _Pragma("GCC unroll 8") for (int p = 0; p < np; p++) _Pragma("GCC unroll 2") for (int v = 0; v < nc; v++)         \
        acc[p][v] = (v4){0};                                                                                           \
    for (int64_t t = 0; t < n; t++) {                                                                                  \
      v4 s[nc];                                                                                                        \
      _Pragma("GCC unroll 2") for (int v = 0; v < nc; v++) {                                                           \
        float xv = x[off[t] + v];                                                                                      \
        s[v] = (v4){xv, xv, xv, xv};                                                                                   \
      }                                                                                                                \
      _Pragma("GCC unroll 8") for (int p = 0; p < np; p++) {                                                           \
        v4 w;                                                                                                          \
        memcpy(&w, a + (p * n + t) * 4, sizeof w);                                                                     \
        _Pragma("GCC unroll 2") for (int v = 0; v < nc; v++) acc[p][v] = MADD(w, s[v], acc[p][v]);                     \
      }                                                                                                                \
    }                                                                                                                  \
    _Pragma("GCC unroll 8") for (int p = 0; p < np; p++) _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)          \
        _Pragma("GCC unroll 2") for (int v = 0; v < nc; v++) c[(p * 4 + i) * ldc + v] = acc[p][v][i];                 \
  } while (0)

#define COLUMNS(np, nc)                                                                                                \
  static void columns##np##x##nc##_base(int64_t n, const float *a, const int32_t *off, const float *x, float *c,      \
                                        int64_t ldc) {                                                                 \
    COLUMN_BODY(np, nc, MADD_BASE);                                                                                    \
  }                                                                                                                    \
  __attribute__((target("avx2,fma"))) static void columns##np##x##nc##_avx2(                                          \
      int64_t n, const float *a, const int32_t *off, const float *x, float *c, int64_t ldc) {                          \
    COLUMN_BODY(np, nc, MADD4_FMA);                                                                                    \
  }
/* Eight accumulators where there are panels enough (hiding the latency of
 * the multiply-adds), fewer for the last. */
COLUMNS(8, 1)
COLUMNS(4, 1)
COLUMNS(2, 1)
COLUMNS(1, 1)
COLUMNS(4, 2)
COLUMNS(2, 2)
COLUMNS(1, 2)

/* Channels [c0, c0 + C/G) of x, zero-padded, into planes of pad_h x pad_w,
 * followed by SLACK zeros (the last tile reads past the last plane). */
static void pad_image(const cnn_conv2d_geom *g, const float *x, float *xp) {
  int64_t Cg = g->C / g->G, Wp = pad_w(g), ph = g->pad[0], pw = g->pad[1];
  if (ph == 0 && pw == 0) { /* the planes as they are, in one copy (not three calls a row: LeNet's second layer) */
    memcpy(xp, x, (size_t)(Cg * g->H * g->W) * sizeof *xp);
    xp += Cg * g->H * g->W;
  }
  for (int64_t c = 0; c < Cg && (ph || pw); c++, x += g->H * g->W) {
    memset(xp, 0, (size_t)(ph * Wp) * sizeof *xp);
    xp += ph * Wp;
    for (int64_t h = 0; h < g->H; h++, xp += Wp) {
      for (int64_t i = 0; i < pw; i++) xp[i] = xp[pw + g->W + i] = 0.0f;
      memcpy(xp + pw, x + h * g->W, (size_t)g->W * sizeof *xp);
    }
    memset(xp, 0, (size_t)(ph * Wp) * sizeof *xp);
    xp += ph * Wp;
  }
  memset(xp, 0, SLACK * sizeof *xp);
}

/* rows rows of n floats, ss apart at src, one after another at dst; rows of
 * 8 to 16 floats in two vectors without a loop (LeNet's second layer: 420
 * rows of 10). */
CNN_V8_BODY void copy_rows_body(int64_t rows, int64_t n, const float *src, int64_t ss, float *dst) {
  if (n >= 8 && n <= 16) {
    for (int64_t i = 0; i < rows; i++, src += ss, dst += n) {
      v8 a = LOAD(src), b = LOAD(src + n - 8);
      CNN_V8_STORE(dst, a);
      CNN_V8_STORE(dst + n - 8, b);
    }
    return;
  }
  for (int64_t i = 0; i < rows; i++, src += ss, dst += n) cnn_v8_copy(n, src, dst);
}
CNN_V8_TWICE(copy_rows, (int64_t rows, int64_t n, const float *src, int64_t ss, float *dst), (rows, n, src, ss, dst))

/* The image as the product reads it, at xp: padded, or its shifted copies
 * (each row a slice of a row of the image, or of the padded image, which
 * is made at tmp), then SLACK zeros. */
static void image(const cnn_conv2d_geom *g, const float *x, float *xp, float *tmp) {
  if (!shifted(g)) {
    pad_image(g, x, xp);
    return;
  }
  if (padded(g)) pad_image(g, x, tmp);
  const float *src = padded(g) ? tmp : x;
  int64_t rows = g->C / g->G * pad_h(g), Q = g->Q, rw = padded(g) ? pad_w(g) : g->W;
  bool avx2 = cnn_isa_vector_avx2();
  for (int64_t s = 0; s < g->S; s++, xp += rows * Q) copy_rows(avx2, rows, Q, src + s * g->dil[1], rw, xp);
  memset(xp, 0, SLACK * sizeof *xp);
}

/* The kernels of a layer's tile shape, for this CPU. */
typedef struct {
  int mr, nr, wt; /* tile: channels, positions; taps per tile of the weight gradient */
  tile_fn *tile;
  grad_fn *grad;
  int np;             /* panels of the tails of one vector */
  tile_fn *tail1[3];  /* one vector, 1 .. np panels */
  tile_fn *tail2;     /* two vectors, one panel (where nr is 24) */
  tile_fn *one[4];    /* one column: 1, 2, 4, 8 panels (where mr is 4) */
  tile_fn *two[3];    /* two columns: 1, 2, 4 panels */
} kernels;

static kernels pick_rows(int mr) {
  bool avx2 = cnn_isa_vector_avx2();
  if (mr == 6)
    return (kernels){6, 16, 2, avx2 ? tile6_avx2 : tile6_base, avx2 ? grad6_avx2 : grad6_base, 2,
                     {avx2 ? tail6_1x1_avx2 : tail6_1x1_base, avx2 ? tail6_2x1_avx2 : tail6_2x1_base, NULL}, NULL,
                     {NULL}, {NULL}};
  return (kernels){4,
                   24,
                   3,
                   avx2 ? tile4_avx2 : tile4_base,
                   avx2 ? grad4_avx2 : grad4_base,
                   3,
                   {avx2 ? tail4_1x1_avx2 : tail4_1x1_base, avx2 ? tail4_2x1_avx2 : tail4_2x1_base,
                    avx2 ? tail4_3x1_avx2 : tail4_3x1_base},
                   avx2 ? tail4_1x2_avx2 : tail4_1x2_base,
                   {avx2 ? columns1x1_avx2 : columns1x1_base, avx2 ? columns2x1_avx2 : columns2x1_base,
                    avx2 ? columns4x1_avx2 : columns4x1_base, avx2 ? columns8x1_avx2 : columns8x1_base},
                   {avx2 ? columns1x2_avx2 : columns1x2_base, avx2 ? columns2x2_avx2 : columns2x2_base,
                    avx2 ? columns4x2_avx2 : columns4x2_base}};
}
void cnn_implicit_row_products(int mr, int64_t rows, int64_t cols, int64_t steps, const float *d, int64_t ld,
                               const int32_t *off, const float *x, float *c, int64_t ldc) {
  if (cnn_isa_vector_avx512()) {
    cnn_implicit_row_products_avx512(mr, rows, cols, steps, d, ld, off, x, c, ldc);
    return;
  }
  kernels k = pick_rows(mr);
  float sums[12];
  for (int64_t i0 = 0; i0 < rows; i0 += mr) {
    int m = rows - i0 < mr ? (int)(rows - i0) : mr;
    for (int64_t u0 = 0; u0 < cols; u0 += k.wt) {
      int used = cols - u0 < k.wt ? (int)(cols - u0) : k.wt;
      int32_t o[3];
      for (int u = 0; u < k.wt; u++) o[u] = off[u0 + (u < used ? u : 0)];
      k.grad(steps, d + i0 * ld, ld, o, x, sums);
      for (int i = 0; i < m; i++)
        for (int u = 0; u < used; u++) c[(i0 + i) * ldc + u0 + u] += sums[i * k.wt + u];
    }
  }
}

void cnn_implicit_product(int mr, int64_t ktiles, int64_t depth, const float *a, const int32_t *off, const float *x,
                          int64_t j0, int64_t j1, float *c, int64_t ldc) {
  if (cnn_isa_vector_avx512()) {
    cnn_implicit_product_avx512(mr, ktiles, depth, a, off, x, j0, j1, c, ldc);
    return;
  }
  kernels k = pick_rows(mr);
  int64_t tail = (j1 - j0) % k.nr, end = j1 - tail; /* whole tiles end at end */
  if ((tail + 7) / 8 * 8 == k.nr) tail = 0, end = j1;     /* as wide as a tile */
  for (int64_t jb = j0; jb < end; jb += JB * k.nr)
    for (int64_t kt = 0; kt < ktiles; kt++)
      for (int64_t j = jb; j < jb + JB * k.nr && j < end; j += k.nr)
        k.tile(depth, a + kt * depth * mr, off, x + j, c + kt * mr * ldc + j, ldc);
  if (tail > 0 && tail <= 2 && k.mr == 4) { /* a column or two, as many panels at a time as there are */
    tile_fn *const *kern = tail == 1 ? k.one : k.two;
    int most = tail == 1 ? 3 : 2; /* log2 of the widest kernel's panels */
    for (int64_t kt = 0; kt < ktiles;) {
      int e = most;
      while (((int64_t)1 << e) > ktiles - kt) e--;
      kern[e](depth, a + kt * depth * mr, off, x + end, c + kt * mr * ldc + end, ldc);
      kt += (int64_t)1 << e;
    }
    return;
  }
  if (tail > 8) { /* two vectors: tiles of 24 */
    for (int64_t kt = 0; kt < ktiles; kt++)
      k.tail2(depth, a + kt * depth * mr, off, x + end, c + kt * mr * ldc + end, ldc);
    return;
  }
  for (int64_t j = end; j < j1; j += 8)
    for (int64_t kt = 0; kt < ktiles; kt += k.np) {
      int np = ktiles - kt < k.np ? (int)(ktiles - kt) : k.np;
      k.tail1[np - 1](depth, a + kt * depth * mr, off, x + j, c + kt * mr * ldc + j, ldc);
    }
}

/* dst = src + b, n floats (apart), with relu rectified (NaN stays NaN, as
 * cnn.relu): a vector at a time, the last one ending at the row's end (again
 * over a few floats: the same sums), so that the short rows of small images
 * spend no time in a scalar tail. */
CNN_V8_BODY void add_row_body(float *restrict dst, const float *restrict src, int64_t n, float b, bool relu) {
  if (n < 8) {
    for (int64_t q = 0; q < n; q++) {
      float v = src[q] + b;
      dst[q] = relu && v < 0.0f ? 0.0f : v;
    }
    return;
  }
  v8 bv = {b, b, b, b, b, b, b, b}, zero = {0};
  for (int64_t next = 0; next < n; next += 8) {
    int64_t q = next + 8 <= n ? next : n - 8;
    v8 v = LOAD(src + q) + bv;
    if (relu) v = (v8)((cnn_v8i)v & ~(v < zero));
    CNN_V8_STORE(dst + q, v);
  }
}

/* Positions [j0, j1) of the wide rows (Kg of them, ldw floats apart) to the
 * output planes y, plus bias, dropping the padding columns. Compiled for
 * baseline x86-64 and for AVX2 (the same additions) with the row copies
 * inlined: a layer of few taps spent a third of its time in these copies, a
 * call a row. */
CNN_V8_BODY void store_rows_body(const cnn_conv2d_geom *g, const float *wide, int64_t ldw, int64_t j0, int64_t j1,
                                 float *y, const float *bias, bool relu) {
  int64_t rw = row_w(g), Q = g->Q, PQ = g->P * g->Q;
  for (int64_t k = 0; k < g->K / g->G; k++) {
    float b = bias ? bias[k] : 0.0f;
    if (rw == Q) { /* no padding columns: one run */
      add_row_body(y + k * PQ + j0, wide + k * ldw + j0, j1 - j0, b, relu);
      continue;
    }
    for (int64_t p = j0 / rw; p * rw < j1; p++) {
      int64_t q0 = j0 > p * rw ? j0 - p * rw : 0, q1 = j1 - p * rw < Q ? j1 - p * rw : Q;
      if (q1 > q0) add_row_body(y + k * PQ + p * Q + q0, wide + k * ldw + p * rw + q0, q1 - q0, b, relu);
    }
  }
}
CNN_V8_TWICE(store_rows,
             (const cnn_conv2d_geom *g, const float *wide, int64_t ldw, int64_t j0, int64_t j1, float *y,
              const float *bias, bool relu),
             (g, wide, ldw, j0, j1, y, bias, relu))

void cnn_conv2d_implicit_forward(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *packed,
                                 const float *bias, float *y, int64_t j0, int64_t j1, float *scratch, bool relu) {
  int64_t Kg = g->K / g->G, CRS = taps(g), L = cnn_conv2d_implicit_positions(g), PQ = g->P * g->Q;
  int64_t ldw = wide_len(g);
  const int32_t *off = (const int32_t *)packed;
  const float *a = packed + table_floats(g) + gr * tiled_rows(g) * CRS;
  float *wide = scratch + image_floats(g); /* the output rows at the positions, whole tiles */
  image(g, x + gr * (g->C / g->G) * g->H * g->W, scratch, wide + tiled_rows(g) * ldw);
  if (j1 > L) j1 = L;
  cnn_implicit_product(tile_rows(g), ktiles(g), CRS, a, off, scratch, j0, j1, wide, ldw);
  store_rows(cnn_isa_vector_avx2(), g, wide, ldw, j0, j1, y + gr * Kg * PQ, bias ? bias + gr * Kg : NULL, relu);
}

void cnn_conv2d_implicit_weight_grad(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *dy,
                                     const float *packed, float *dweight, float *scratch) {
  int64_t Kg = g->K / g->G, CRS = taps(g), Lv = wide_len(g), steps = (cnn_conv2d_implicit_positions(g) + 7) / 8;
  int64_t rw = row_w(g), Q = g->Q, PQ = g->P * g->Q;
  const int32_t *off = (const int32_t *)packed;
  float *wide = scratch + image_floats(g);
  image(g, x + gr * (g->C / g->G) * g->H * g->W, scratch, wide + tiled_rows(g) * Lv);
  memset(wide, 0, (size_t)(tiled_rows(g) * Lv) * sizeof *wide);
  for (int64_t c = 0; c < Kg; c++) {
    const float *d = dy + (gr * Kg + c) * PQ;
    if (rw == Q) /* no padding columns: one run */
      memcpy(wide + c * Lv, d, (size_t)PQ * sizeof *dy);
    else
      for (int64_t p = 0; p < g->P; p++) memcpy(wide + c * Lv + p * rw, d + p * Q, (size_t)Q * sizeof *dy);
  }
  cnn_implicit_row_products(tile_rows(g), Kg, CRS, steps, wide, Lv, off, scratch, dweight + gr * Kg * CRS, CRS);
}
