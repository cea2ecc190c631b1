/*
 * lanes.h: sums of float rows in LANES (16) independent float accumulators,
 * added up in double at the end. The lanes let the compiler vectorise and
 * break the chain of dependent additions (one accumulator waits for each
 * add: with 8 lanes in two SSE vectors, BatchNorm's sums ran at half the
 * speed of memory); a row of an image plane or so is short enough for float
 * lanes to stay accurate. The lanes are four SSE vectors (every x86-64 has
 * SSE) kept in registers. Lane l (vector l / 4, element l % 4) is lane l of
 * a plain loop over LANES accumulators.
 */
#ifndef CNN_LANES_H
#define CNN_LANES_H

#include <stdint.h>
#include <string.h>

#define LANES 16

typedef float cnn_quad __attribute__((vector_size(16)));

/* Four quads in named fields: a vector type of 16 floats was kept on the
 * stack by the compiler, its additions waiting on memory. */
typedef struct {
  cnn_quad q0, q1, q2, q3;
} cnn_lanes;

/* The LANES floats at p, at any alignment. */
static inline cnn_lanes cnn_lanes_at(const float *p) {
  cnn_lanes v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Lane-wise a + b, and a + b * c. */
static inline cnn_lanes cnn_lanes_add(cnn_lanes a, cnn_lanes b) {
  return (cnn_lanes){a.q0 + b.q0, a.q1 + b.q1, a.q2 + b.q2, a.q3 + b.q3};
}
static inline cnn_lanes cnn_lanes_madd(cnn_lanes a, cnn_lanes b, cnn_lanes c) {
  return (cnn_lanes){a.q0 + b.q0 * c.q0, a.q1 + b.q1 * c.q1, a.q2 + b.q2 * c.q2, a.q3 + b.q3 * c.q3};
}
/* Lane-wise a - m. */
static inline cnn_lanes cnn_lanes_sub(cnn_lanes a, float m) {
  return (cnn_lanes){a.q0 - m, a.q1 - m, a.q2 - m, a.q3 - m};
}

static inline double cnn_lane_total(cnn_lanes v) {
  double s = 0;
  for (int l = 0; l < 4; l++) s += v.q0[l];
  for (int l = 0; l < 4; l++) s += v.q1[l];
  for (int l = 0; l < 4; l++) s += v.q2[l];
  for (int l = 0; l < 4; l++) s += v.q3[l];
  return s;
}

#endif
