/*
 * implicit_check.c: the AVX-512 implicit product (core/conv_implicit_avx512.c)
 * against a double-precision loop on random shapes: both packings (4 and 6
 * channels), any depth, ragged ends, columns starting anywhere; and its row
 * products (weight gradients), rows and taps in part tiles. Built by
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

    /* row products: c[i][u] += sum over j < 8 steps of d[i][j] * x[o[u] + j] */
    int rows = 1 + rand() % 13, cols = 1 + rand() % 20, steps = 1 + rand() % 30, tiled = (rows + mr - 1) / mr * mr;
    int64_t ld = 8 * steps + rand() % 9;
    int32_t *o = malloc(sizeof *o * (size_t)cols);
    reach = 0;
    for (int u = 0; u < cols; u++) {
      o[u] = rand() % 100;
      if (o[u] > reach) reach = o[u];
    }
    float *d = malloc(sizeof *d * (size_t)(tiled * ld)), *y = malloc(sizeof *y * (size_t)(reach + 8 * steps));
    float *z = malloc(sizeof *z * (size_t)(rows * cols)), *want = malloc(sizeof *want * (size_t)(rows * cols));
    for (int64_t i = 0; i < tiled * ld; i++) d[i] = (float)uniform();
    for (int64_t i = 0; i < reach + 8 * steps; i++) y[i] = (float)uniform();
    for (int i = 0; i < rows * cols; i++) z[i] = want[i] = (float)uniform();
    for (int i = 0; i < rows; i++)
      for (int u = 0; u < cols; u++) {
        double sum = want[i * cols + u];
        for (int64_t j = 0; j < 8 * steps; j++) sum += (double)d[i * ld + j] * y[o[u] + j];
        want[i * cols + u] = (float)sum;
      }
    cnn_implicit_row_products_avx512(mr, rows, cols, steps, d, ld, o, y, z, cols);
    err = 0;
    for (int i = 0; i < rows * cols; i++) err = fmax(err, fabs(z[i] - want[i]));
    if (err > 1e-5 * 8 * steps) {
      bad++;
      fprintf(stderr, "row products mr %d: %d x %d of %d steps: error %g\n", mr, rows, cols, steps, err);
    }
    free(o), free(d), free(y), free(z), free(want);
  }
  printf("implicit avx512: %d bad of %d\n", bad, 2 * trials);
  return bad != 0;
}
