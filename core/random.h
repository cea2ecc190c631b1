/*
 * random.h: the library's seeded random number generator.
 *
 * xoshiro256** (Blackman and Vigna, "Scrambled Linear Pseudorandom Number
 * Generators", 2021), seeded through splitmix64. Each Lua state owns one
 * generator, so states never share random streams.
 */
#ifndef CNN_RANDOM_H
#define CNN_RANDOM_H

#include <stdint.h>

typedef struct cnn_rng {
  uint64_t s[4];
} cnn_rng;

void cnn_rng_seed(cnn_rng *r, uint64_t seed);
uint64_t cnn_rng_next(cnn_rng *r);
/* Uniform on [0, 1) with 24 random bits (every float value equally spaced). */
float cnn_rng_uniform(cnn_rng *r);
/* Uniform double on [0, 1) with 53 random bits. */
double cnn_rng_uniform_double(cnn_rng *r);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t cnn_rng_below(cnn_rng *r, uint64_t n);
void cnn_rng_fill_uniform(cnn_rng *r, float *out, int64_t n);
/* Standard normal samples (Box-Muller on 53-bit uniforms). */
void cnn_rng_fill_normal(cnn_rng *r, float *out, int64_t n);

#endif
