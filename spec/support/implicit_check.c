/*
 * implicit_check.c: the AVX-512 implicit product (core/conv_implicit_avx512.c)
 * against a double-precision loop on random shapes: both packings (4 and 6
 * channels), any depth, ragged ends, columns starting anywhere. Built by
 * spec/kernels_spec.lua, over software intrinsics (spec/support/emu) where
 * the CPU lacks AVX-512, under AddressSanitizer: the image is allocated to
 * the last float the product may read, so a read past it is caught; the
 * columns outside [j0, j1) must keep their sentinel.
 * Prints "implicit avx512: N bad of M" and exits 1 on any.
 */
#include "../../core/conv_implicit_avx512.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double uniform(void) { return rand() / (double)RAND_MAX - 0.5; }

int main(void) {
  srand(11);
  int bad = 0, trials = 200;
  for (int trial = 0; trial < trials; trial++) {
    int mr = rand() % 2 ? 6 : 4, ktiles = 1 + rand() % 4, depth = 1 + rand() % 40;
    int64_t j0 = rand() % 50, j1 = j0 + 1 + rand() % 400, ldc = j1 + rand() % 5;
    int32_t *off = malloc(sizeof *off * (size_t)depth);
    int32_t reach = 0;
    for (int t = 0; t < depth; t++) {
      off[t] = rand() % 150;
      if (off[t] > reach) reach = off[t];
    }
    size_t xn = (size_t)(reach + j1), an = (size_t)(ktiles * depth * mr), cn = (size_t)(ktiles * mr * ldc);
    float *x = malloc(sizeof *x * xn), *a = malloc(sizeof *a * an), *c = malloc(sizeof *c * cn);
    for (size_t i = 0; i < xn; i++) x[i] = (float)uniform();
    for (size_t i = 0; i < an; i++) a[i] = (float)uniform();
    for (size_t i = 0; i < cn; i++) c[i] = NAN;
    cnn_implicit_product_avx512(mr, ktiles, depth, a, off, x, j0, j1, c, ldc);
    double err = 0;
    int untouched = 1;
    for (int r = 0; r < ktiles * mr; r++) {
      int kt = r / mr, i = r % mr;
      for (int64_t j = 0; j < ldc; j++) {
        float got = c[r * ldc + j];
        if (j < j0 || j >= j1) {
          untouched &= isnan(got);
          continue;
        }
        double s = 0;
        for (int t = 0; t < depth; t++) s += (double)a[(kt * depth + t) * mr + i] * x[off[t] + j];
        err = fmax(err, isnan(got) ? INFINITY : fabs(got - s));
      }
    }
    if (err > 1e-5 * depth || !untouched) {
      bad++;
      fprintf(stderr, "mr %d ktiles %d depth %d columns [%lld, %lld): error %g%s\n", mr, ktiles, depth, (long long)j0,
              (long long)j1, err, untouched ? "" : ", columns outside written");
    }
    free(off), free(x), free(a), free(c);
  }
  printf("implicit avx512: %d bad of %d\n", bad, trials);
  return bad != 0;
}
