/*
 * image.h: image kernels on C x H x W planes (and N x C x H x W batches):
 * bilinear resampling and the random augmentations of the data loader.
 */
#ifndef CNN_IMAGE_H
#define CNN_IMAGE_H

#include <stdint.h>

#include "random.h"

/* Bilinear resampling of NC planes H x W -> P x Q, as PyTorch's interpolate
 * with mode "bilinear", align_corners = False (no antialiasing):
 * source coordinate = (dst + 0.5) * in / out - 0.5, clamped at 0. */
void cnn_resize_bilinear(int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q, const float *inp, float *out);

/* For each of N images (C x H x W), a translation by (dy, dx) drawn uniformly
 * from [-k, k]^2, with zero fill: what padding by k and cropping a random
 * H x W window does (PyTorch's RandomCrop(size, padding = k)). */
void cnn_random_translate(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, cnn_rng *rng, const float *inp,
                          float *out);

/* Mirrors each of N images left to right with probability p. */
void cnn_random_hflip(int64_t N, int64_t C, int64_t H, int64_t W, double p, cnn_rng *rng, const float *inp,
                      float *out);

/* Padding modes of cnn_pad2d (PyTorch's names): zeros, reflect (mirror about
 * the edge pixel: pad < size), replicate (repeat the edge pixel), circular
 * (wrap around: pad <= size). */
typedef enum { CNN_PAD_ZEROS, CNN_PAD_REFLECT, CNN_PAD_REPLICATE, CNN_PAD_CIRCULAR } cnn_pad_mode;

/* Source index of padded coordinate i (0-based, before = padding in front) in
 * a dimension of the given size; -1 where zero padding applies. */
int64_t cnn_pad_source(int64_t i, int64_t before, int64_t size, cnn_pad_mode mode);

/* NC planes H x W -> (top + H + bottom) x (left + W + right).
 * pad = {left, right, top, bottom}, as PyTorch's F.pad orders them. */
void cnn_pad2d_forward(int64_t NC, int64_t H, int64_t W, const int64_t pad[4], cnn_pad_mode mode, const float *inp,
                       float *out);
/* The adjoint: each padded gradient is added to the pixel it copied; dinp overwritten. */
void cnn_pad2d_backward(int64_t NC, int64_t H, int64_t W, const int64_t pad[4], cnn_pad_mode mode, const float *dout,
                        float *dinp);

#endif
