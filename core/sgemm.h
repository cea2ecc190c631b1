/*
 * sgemm.h: the library's own single-precision matrix product, for the
 * convolutions. A Goto-style packed driver (sgemm.c) calls a register-blocked
 * micro-kernel chosen at run time for the CPU: AVX-512 (sgemm_avx512.c), AVX2
 * + FMA (sgemm_avx2.c) or portable C; or, as a whole, by OpenBLAS. One build
 * runs on any x86-64 and never executes an instruction the CPU lacks.
 *
 * Operands are strided views: element (i, j) of a matrix is p[i*rs + j*cs],
 * so a transposed operand is the same memory with the strides swapped.
 */
#ifndef CNN_SGEMM_H
#define CNN_SGEMM_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  const float *p;
  int64_t rs, cs;
} cnn_mat;

/* c (m x n, row stride ldc) = [c +] a (m x k) @ b (k x n), accumulating when
 * acc is true. work holds cnn_sgemm_work_floats() floats, 64-byte aligned. */
void cnn_sgemm(int64_t m, int64_t n, int64_t k, cnn_mat a, cnn_mat b, float *c, int64_t ldc, bool acc, float *work);
int64_t cnn_sgemm_work_floats(void);

/* The same with the rows of b produced on demand: rows(ctx, p0, count, j0, nc,
 * dst, ld) writes columns [j0, j0 + nc) of rows [p0, p0 + count) of b to dst
 * (row stride ld). A convolution unfolds its patches this way, a few rows at
 * a time, instead of building a whole column matrix. */
typedef void (*cnn_unfold_fn)(const void *ctx, int64_t p0, int64_t count, int64_t j0, int64_t nc, float *dst,
                              int64_t ld);
void cnn_sgemm_rows(int64_t m, int64_t n, int64_t k, cnn_mat a, cnn_unfold_fn rows, const void *ctx, float *c,
                    int64_t ldc, bool acc, float *work);

/* c[i*ldc + j] += sum over t < len of a[i*lda + t] * b[j*ldb + t], for
 * i < m and j < n: products of rows that are both contiguous (the weight
 * gradient of a convolution), without packing. */
void cnn_sgemm_nt(int64_t m, int64_t n, int64_t len, const float *a, int64_t lda, const float *b, int64_t ldb,
                  float *c, int64_t ldc);

/* ---- run-time dispatch ---- */

/* The micro-kernels of one instruction set. gemm: the mr x nr tile at c
 * (rows < mr_used, columns < nr_used) = [c +] the product of a packed
 * kc x mr panel of a (mr floats per step) and a packed kc x nr panel of b.
 * dot: the NT product above for m <= 4, n <= 6. */
typedef struct {
  const char *name;
  int mr, nr;
  void (*gemm)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr_used, int nr_used, bool acc);
  void (*dot)(int64_t len, const float *a, int64_t lda, int m, const float *b, int64_t ldb, int n, float *c,
              int64_t ldc);
} cnn_isa;

extern const cnn_isa cnn_isa_avx512, cnn_isa_avx2, cnn_isa_scalar;
/* No micro-kernels: the products go to OpenBLAS (cblas_sgemm). */
extern const cnn_isa cnn_isa_openblas;

/* The active kernel set: avx512 where the CPU runs it, else openblas; or the
 * one named by the environment variable CNNLUA_ISA (avx512, openblas, avx2 or
 * scalar) at first use. */
const cnn_isa *cnn_isa_active(void);
/* Selects an instruction set by name; false (and no change) when the name is
 * unknown or the CPU cannot run it. */
bool cnn_isa_select(const char *name);
/* Every kernel set, best first, NULL-terminated; one by name (NULL if unknown). */
const cnn_isa *const *cnn_isa_all(void);
const cnn_isa *cnn_isa_by_name(const char *name);
/* Whether this CPU runs the named instruction set. */
bool cnn_isa_supported(const char *name);
/* Whether the kernels outside the matrix product (direct and implicit
 * convolution, Winograd's transforms) run their AVX2 + FMA builds: the CPU
 * has them and the portable kernels were not asked for. Cheap enough to ask
 * per call. */
bool cnn_isa_vector_avx2(void);
/* Whether the implicit product runs its AVX-512 build: the CPU has it and
 * the kernel set is avx512 or openblas (avx2 and scalar ask for those builds). */
bool cnn_isa_vector_avx512(void);
/* The error of CNNLUA_ISA, if it named something unusable (else NULL). */
const char *cnn_isa_env_error(void);

#endif
