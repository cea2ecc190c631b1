/*
 * lanes.h: sums of float rows in LANES (8) independent float accumulators,
 * added up in double at the end. The lanes let the compiler vectorise and
 * break the chain of dependent additions (one double accumulator waits for
 * each add); a row of an image plane or so is short enough for float lanes to
 * stay accurate. The lanes are two SSE vectors (every x86-64 has SSE): vector
 * types rather than arrays, so that the accumulators stay in registers. Lane
 * l of the pair is lane l of a plain loop over LANES accumulators.
 */
#ifndef CNN_LANES_H
#define CNN_LANES_H

#include <stdint.h>
#include <string.h>

#define LANES 8

typedef float cnn_quad __attribute__((vector_size(16)));

/* The four floats at p, at any alignment. */
#define CNN_QUAD_AT(p)                                                                                                 \
  ({                                                                                                                   \
    cnn_quad v_;                                                                                                       \
    memcpy(&v_, (p), sizeof v_);                                                                                       \
    v_;                                                                                                                \
  })

static inline double cnn_lane_total(cnn_quad lo, cnn_quad hi) {
  double s = 0;
  for (int l = 0; l < 4; l++) s += lo[l];
  for (int l = 0; l < 4; l++) s += hi[l];
  return s;
}

#endif
