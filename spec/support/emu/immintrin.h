/* Software versions of the AVX-512 intrinsics that core/sgemm_avx512.c uses,
 * lane by lane, for checking its logic on CPUs without AVX-512
 * (spec/support/isa_check.c). Masked lanes are neither read nor written, as
 * on the hardware; an unaligned aligned load traps, as on the hardware. */
#include <stdint.h>

typedef struct {
  float f[16];
} __m512;
typedef uint16_t __mmask16;

static inline __m512 _mm512_setzero_ps(void) {
  __m512 r = {{0}};
  return r;
}
static inline __m512 _mm512_set1_ps(float x) {
  __m512 r;
  for (int i = 0; i < 16; i++) r.f[i] = x;
  return r;
}
static inline __m512 _mm512_load_ps(const float *p) {
  if ((uintptr_t)p & 63) __builtin_trap();
  __m512 r;
  for (int i = 0; i < 16; i++) r.f[i] = p[i];
  return r;
}
static inline __m512 _mm512_maskz_loadu_ps(__mmask16 m, const float *p) {
  __m512 r;
  for (int i = 0; i < 16; i++) r.f[i] = (m >> i & 1) ? p[i] : 0.0f;
  return r;
}
static inline void _mm512_mask_storeu_ps(float *p, __mmask16 m, __m512 v) {
  for (int i = 0; i < 16; i++)
    if (m >> i & 1) p[i] = v.f[i];
}
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  for (int i = 0; i < 16; i++) c.f[i] = __builtin_fmaf(a.f[i], b.f[i], c.f[i]);
  return c;
}
static inline __m512 _mm512_add_ps(__m512 a, __m512 b) {
  for (int i = 0; i < 16; i++) a.f[i] += b.f[i];
  return a;
}
static inline float _mm512_reduce_add_ps(__m512 v) {
  float s = 0.0f;
  for (int i = 0; i < 16; i++) s += v.f[i];
  return s;
}
