/*
 * vec8.h: vectors of 8 floats for the kernels written in plain C (GNU vector
 * extensions): one ymm register in an AVX2 build, two xmm registers in a
 * baseline x86-64 build, the same operations in both.
 */
#ifndef CNN_VEC8_H
#define CNN_VEC8_H

#include <stdint.h>
#include <string.h>

typedef float cnn_v8 __attribute__((vector_size(8 * sizeof(float))));
typedef int32_t cnn_v8i __attribute__((vector_size(8 * sizeof(int32_t))));

/* The 8 floats at p, at any alignment, and the other way round (macros: no
 * vector crosses a call, whose convention would differ between builds). */
#define CNN_V8_LOAD(p)                                                                                                 \
  ({                                                                                                                   \
    cnn_v8 v_;                                                                                                         \
    memcpy(&v_, (p), sizeof v_);                                                                                       \
    v_;                                                                                                                \
  })
#define CNN_V8_STORE(p, x) memcpy((p), &(x), sizeof(cnn_v8))

#endif
