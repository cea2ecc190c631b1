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

/* n floats from src to dst (apart), in vectors, the last one ending at n
 * (one by one below 8): rows of a small image are a few vectors, and a
 * library call cost more than the copy. Inlined, it takes the vectors of the
 * function it is in. */
static inline __attribute__((always_inline)) void cnn_v8_copy(int64_t n, const float *src, float *dst) {
  if (n < 8) {
    for (int64_t i = 0; i < n; i++) dst[i] = src[i];
    return;
  }
  for (int64_t next = 0; next < n; next += 8) {
    int64_t i = next + 8 <= n ? next : n - 8;
    cnn_v8 a = CNN_V8_LOAD(src + i);
    CNN_V8_STORE(dst + i, a);
  }
}

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
