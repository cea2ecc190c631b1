/*
 * parallel.h: the library's thread pool. A parallel loop splits [0, n) into
 * one contiguous range per thread; the calling thread runs the first range
 * and waits for the others. The pool is process-wide and its threads persist
 * (waking a sleeping thread costs microseconds; creating one costs far more).
 *
 * The library's kernels and OpenBLAS share the cores: OpenBLAS runs
 * single-threaded and the library splits the work (gemm.h), so that no
 * OpenBLAS thread spins on a core that a kernel thread needs.
 */
#ifndef CNN_PARALLEL_H
#define CNN_PARALLEL_H

#include <stdint.h>

/* fn(ctx, begin, end, thread): thread is 0 .. cnn_parallel_threads()-1. */
typedef void (*cnn_range_fn)(void *ctx, int64_t begin, int64_t end, int thread);

/* Runs fn over [0, n): in one call when n < 2 * grain or the pool has one
 * thread, else split evenly across the threads (at most n / grain of them). */
void cnn_parallel_for(int64_t n, int64_t grain, cnn_range_fn fn, void *ctx);

/* The grain for items of `work` elementary steps each (elements read or
 * written, or multiply-adds): enough of them that waking a thread for its
 * share (some microseconds) pays off. */
int64_t cnn_parallel_grain(int64_t work);

/* The number of threads loops use (1 to CNN_MAX_THREADS). */
int cnn_parallel_threads(void);
void cnn_parallel_set_threads(int n);

#define CNN_MAX_THREADS 64

#endif
