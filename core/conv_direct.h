/*
 * conv_direct.h: direct convolution for one input channel per group (the
 * first layer of an image network, depthwise layers) at unit stride and
 * dilation: each output row is a sum of R*S shifted rows of the zero-padded
 * image, so nothing is unfolded. Forward and weight gradient, one image and
 * group at a time (conv.c splits images across threads). Shapes as conv.h.
 */
#ifndef CNN_CONV_DIRECT_H
#define CNN_CONV_DIRECT_H

#include <stdbool.h>

#include "conv.h"

bool cnn_conv2d_direct_ok(const cnn_conv2d_geom *g);
/* Floats of scratch space one call needs. */
int64_t cnn_conv2d_direct_scratch(const cnn_conv2d_geom *g);

/* Channel gr of one image x (H x W) -> output channels [gr*K/G, (gr+1)*K/G)
 * of one image y (P x Q each), with weight (K x 1 x R x S) and bias (or NULL). */
void cnn_conv2d_direct_forward(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *weight,
                               const float *bias, float *y, float *scratch);
/* dweight rows of group gr += their gradients from one image x and its dy
 * (output channels [gr*K/G, (gr+1)*K/G), P x Q each). */
void cnn_conv2d_direct_weight_grad(const cnn_conv2d_geom *g, int64_t gr, const float *x, const float *dy,
                                   float *dweight, float *scratch);

#endif
