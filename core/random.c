/* random.c: xoshiro256** and the distributions built on it (see random.h). */
#include "random.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void cnn_rng_seed(cnn_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cnn_rng_next(cnn_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float cnn_rng_uniform(cnn_rng *r) { return (float)(cnn_rng_next(r) >> 40) * 0x1.0p-24f; }

double cnn_rng_uniform_double(cnn_rng *r) { return (double)(cnn_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t cnn_rng_below(cnn_rng *r, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the incomplete last block */
  uint64_t x;
  do x = cnn_rng_next(r);
  while (x >= limit);
  return x % n;
}

void cnn_rng_fill_uniform(cnn_rng *r, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = cnn_rng_uniform(r);
}

void cnn_rng_fill_normal(cnn_rng *r, float *out, int64_t n) {
  const double two_pi = 6.283185307179586;
  for (int64_t i = 0; i < n; i += 2) {
    double u1 = 1.0 - cnn_rng_uniform_double(r); /* (0, 1]: log is finite */
    double u2 = cnn_rng_uniform_double(r);
    double radius = sqrt(-2.0 * log(u1));
    out[i] = (float)(radius * cos(two_pi * u2));
    if (i + 1 < n) out[i + 1] = (float)(radius * sin(two_pi * u2));
  }
}
