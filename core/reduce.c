/*
 * reduce.c: reductions (see reduce.h). Whole-tensor reductions visit the
 * elements in row-major order through cnn_foreach; reductions along a
 * dimension visit every output position and walk the reduced dimension with
 * its stride.
 */
#include "reduce.h"

#include <math.h>

#include "lanes.h"

typedef struct {
  cnn_reduce_op op;
  double acc;
  int64_t seen, best; /* elements visited; position of the current extreme */
} all_ctx;

/* Whether x replaces the current extreme cur: NaN always wins once, ties keep
 * the earlier position. */
static inline bool better(cnn_reduce_op op, float x, float cur) {
  if (isnan(cur)) return false;
  if (isnan(x)) return true;
  return op == CNN_MAX ? x > cur : x < cur;
}

static void all_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  all_ctx *c = ctx;
  const float *a = p[0];
  if (c->op == CNN_SUM || c->op == CNN_MEAN) {
    double acc = 0;
    for (int64_t i = 0; i < n; i++) acc += a[i * s[0]];
    c->acc += acc;
  } else {
    for (int64_t i = 0; i < n; i++) {
      float x = a[i * s[0]];
      if (c->seen + i == 0 || better(c->op, x, (float)c->acc)) {
        c->acc = x;
        c->best = c->seen + i;
      }
    }
  }
  c->seen += n;
}

double cnn_reduce_all(cnn_tensor *t, cnn_reduce_op op, int64_t *index) {
  all_ctx c = {op, 0.0, 0, 0};
  cnn_tensor *ops[1] = {t};
  cnn_foreach(1, ops, all_row, &c);
  if (index) *index = c.best;
  if (op == CNN_MEAN) return c.seen ? c.acc / (double)c.seen : NAN;
  return c.acc;
}

typedef struct {
  cnn_reduce_op op;
  int64_t len, stride; /* the reduced dimension */
  bool with_index;
} dim_ctx;

static void dim_row(int64_t n, float **p, const int64_t *s, void *ctx) {
  const dim_ctx *c = ctx;
  for (int64_t i = 0; i < n; i++) {
    const float *a = p[2] + i * s[2];
    if (c->op == CNN_SUM || c->op == CNN_MEAN) {
      double acc = 0;
      for (int64_t k = 0; k < c->len; k++) acc += a[k * c->stride];
      p[0][i * s[0]] = (float)(c->op == CNN_MEAN ? (c->len ? acc / (double)c->len : NAN) : acc);
    } else {
      float best = a[0];
      int64_t at = 0;
      for (int64_t k = 1; k < c->len; k++)
        if (better(c->op, a[k * c->stride], best)) {
          best = a[k * c->stride];
          at = k;
        }
      p[0][i * s[0]] = best;
      if (c->with_index) p[1][i * s[1]] = (float)at;
    }
  }
}

void cnn_reduce_dim(cnn_tensor *out, cnn_tensor *index, cnn_tensor *in, int dim, cnn_reduce_op op) {
  dim_ctx c = {op, in->shape[dim], in->stride[dim], index != NULL};
  cnn_tensor rest = *in; /* in at position 0 along dim, with dim removed */
  cnn_tensor_select(&rest, dim, 0);
  cnn_tensor *ops[3] = {out, index ? index : out, &rest};
  cnn_foreach(3, ops, dim_row, &c);
}

double cnn_sum_floats(const float *x, int64_t n) {
  cnn_lanes acc = {{0}, {0}, {0}, {0}};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES) acc = cnn_lanes_add(acc, cnn_lanes_at(x + i));
  double s = cnn_lane_total(acc);
  for (; i < n; i++) s += x[i];
  return s;
}
