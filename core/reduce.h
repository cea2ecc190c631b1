/*
 * reduce.h: sum, mean, max and min over a whole tensor or along one dimension.
 *
 * Sums accumulate in double. max and min propagate NaN (the first NaN wins) and
 * otherwise report the first position of the extreme value, as PyTorch does.
 */
#ifndef CNN_REDUCE_H
#define CNN_REDUCE_H

#include "tensor.h"

typedef enum { CNN_SUM, CNN_MEAN, CNN_MAX, CNN_MIN } cnn_reduce_op;

/* Reduces every element; for CNN_MAX and CNN_MIN, *index receives the 0-based
 * row-major position of the result (index may be NULL). max/min need numel > 0. */
double cnn_reduce_all(cnn_tensor *t, cnn_reduce_op op, int64_t *index);

/* Reduces along dimension dim (0-based). out, and index when not NULL, have in's
 * shape with dim removed; index receives 0-based positions along dim (as floats)
 * for max/min. max/min need in->shape[dim] > 0. */
void cnn_reduce_dim(cnn_tensor *out, cnn_tensor *index, cnn_tensor *in, int dim, cnn_reduce_op op);

/* The sum of n contiguous floats, in LANES float lanes added up in double
 * (lanes.h): fast, and accurate for rows the size of an image plane. */
double cnn_sum_floats(const float *x, int64_t n);

#endif
