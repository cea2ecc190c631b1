/*
 * vec8.h: vectors of 8 floats for the kernels written in plain C (GNU vector
 * extensions): one ymm register in an AVX2 build, two xmm registers in a
 * baseline x86-64 build, the same operations in both.
 */
#ifndef CNN_VEC8_H
#define CNN_VEC8_H

#include <stdbool.h>
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

/* A kernel body (static inline, always inlined: CNN_V8_BODY) compiled twice,
 * for baseline x86-64 (name_base) and for AVX2 (name_avx2, without FMA, so
 * that both builds round alike), and name(avx2, params...) to call one: the
 * caller passes cnn_isa_vector_avx2(), asked once per call. params and args
 * are the parenthesised parameter and argument lists of name_body. */
#define CNN_V8_BODY static inline __attribute__((always_inline))
#define CNN_V8_PARAMS(...) __VA_ARGS__
#define CNN_V8_TWICE(name, params, args)                                                                               \
  static void name##_base params { name##_body args; }                                                                 \
  __attribute__((target("avx2"))) static void name##_avx2 params { name##_body args; }                                  \
  static void name(bool avx2, CNN_V8_PARAMS params) {                                                                  \
    if (avx2) name##_avx2 args;                                                                                        \
    else name##_base args;                                                                                             \
  }

#endif
