/*
 * isa_check.c: the product driver (core/sgemm.c) with one kernel set, forced,
 * against a double-precision loop on random shapes: every operand layout,
 * with and without accumulation, ragged edges, several blocks in every
 * dimension. Built by spec/kernels_spec.lua, also with core/sgemm_avx512.c
 * over software intrinsics (spec/support/emu) where the CPU lacks AVX-512.
 * Usage: isa_check NAME; prints "NAME: N bad of M" and exits 1 on any.
 */
#include "../../core/sgemm.c"

#include <math.h>

static double uniform(void) { return rand() / (double)RAND_MAX - 0.5; }

int main(int argc, char **argv) {
  const cnn_isa *isa = argc > 1 ? cnn_isa_by_name(argv[1]) : NULL;
  if (!isa) return fprintf(stderr, "usage: isa_check avx512|avx2|scalar|openblas\n"), 2;
  pthread_once(&once, choose);
  atomic_store(&active, isa); /* without the CPU check: the emulated build */
  srand(7);
  float *work = aligned_alloc(64, (size_t)cnn_sgemm_work_floats() * sizeof(float));
  int bad = 0, trials = 60;
  for (int trial = 0; trial < trials; trial++) {
    int m = 1 + rand() % 140, n = 1 + rand() % 600, k = rand() % 340, ta = rand() % 2, tb = rand() % 2, acc = rand() % 2;
    int ldc = n + 3;
    float *a = malloc(sizeof(float) * (size_t)(m * k + 1)), *b = malloc(sizeof(float) * (size_t)(k * n + 1));
    float *c = malloc(sizeof(float) * (size_t)(m * ldc)), *want = malloc(sizeof(float) * (size_t)(m * ldc));
    for (int i = 0; i < m * k; i++) a[i] = (float)uniform();
    for (int i = 0; i < k * n; i++) b[i] = (float)uniform();
    for (int i = 0; i < m * ldc; i++) c[i] = want[i] = (float)uniform();
    cnn_mat A = ta ? (cnn_mat){a, 1, m} : (cnn_mat){a, k, 1}, B = tb ? (cnn_mat){b, 1, k} : (cnn_mat){b, n, 1};
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        double s = acc ? want[i * ldc + j] : 0.0;
        for (int p = 0; p < k; p++) s += (double)A.p[i * A.rs + p * A.cs] * B.p[p * B.rs + j * B.cs];
        want[i * ldc + j] = (float)s;
      }
    cnn_sgemm(m, n, k, A, B, c, ldc, acc, work);
    double err = 0;
    for (int i = 0; i < m * ldc; i++) err = fmax(err, fabs(c[i] - want[i]));
    if (err > 1e-5 * (k + 1)) bad++, fprintf(stderr, "gemm m %d n %d k %d ta %d tb %d acc %d: error %g\n", m, n, k, ta, tb, acc, err);
    /* row products: m x n of length len */
    int mm = 1 + rand() % 9, nn = 1 + rand() % 14, len = 1 + rand() % 300;
    float *x = malloc(sizeof(float) * (size_t)(mm * len)), *y = malloc(sizeof(float) * (size_t)(nn * len));
    float *z = malloc(sizeof(float) * (size_t)(mm * nn)), *zw = malloc(sizeof(float) * (size_t)(mm * nn));
    for (int i = 0; i < mm * len; i++) x[i] = (float)uniform();
    for (int i = 0; i < nn * len; i++) y[i] = (float)uniform();
    for (int i = 0; i < mm * nn; i++) z[i] = zw[i] = (float)uniform();
    for (int i = 0; i < mm; i++)
      for (int j = 0; j < nn; j++) {
        double s = zw[i * nn + j];
        for (int t = 0; t < len; t++) s += (double)x[i * len + t] * y[j * len + t];
        zw[i * nn + j] = (float)s;
      }
    cnn_sgemm_nt(mm, nn, len, x, len, y, len, z, nn);
    err = 0;
    for (int i = 0; i < mm * nn; i++) err = fmax(err, fabs(z[i] - zw[i]));
    if (err > 1e-5 * len) bad++, fprintf(stderr, "row products %d x %d of %d: error %g\n", mm, nn, len, err);
    free(a), free(b), free(c), free(want), free(x), free(y), free(z), free(zw);
  }
  free(work);
  printf("%s: %d bad of %d\n", isa->name, bad, 2 * trials);
  return bad != 0;
}
