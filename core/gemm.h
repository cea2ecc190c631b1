/*
 * gemm.h: matrix products through OpenBLAS's cblas_sgemm, and the thread count
 * of the library.
 *
 * OpenBLAS is kept single-threaded: its idle threads spin (sched_yield) for a
 * while after every multi-threaded call, and next to the library's own threads
 * that oversubscribes the cores. Instead, a batch of products is split across
 * the library's threads, and so are the rows of one large product; only very
 * large single products (512^3 multiply-adds and more) use OpenBLAS's threads.
 */
#ifndef CNN_GEMM_H
#define CNN_GEMM_H

#include "tensor.h"

/* Whether a 2-D view (rows x cols with the given strides) can be handed to
 * sgemm as it is: one of its strides is 1 and the other a valid leading
 * dimension. Otherwise the caller passes a contiguous copy. */
bool cnn_gemm_operand_ok(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride);

/* out[b] = a[b] @ b[b] + beta * out[b] for every batch index (beta 0 or 1:
 * out is then only written, or added to):
 *   a: (B, M, K), b: (B, K, N), out: (B, M, N) contiguous.
 * a and b may be broadcast along B (stride 0); each matrix must satisfy
 * cnn_gemm_operand_ok, and M, N, K must fit in an int. */
void cnn_matmul(cnn_tensor *out, const cnn_tensor *a, const cnn_tensor *b, float beta);

/* Sets the library's thread count (OpenBLAS stays at one). */
void cnn_set_num_threads(int n);
int cnn_get_num_threads(void);

#endif
