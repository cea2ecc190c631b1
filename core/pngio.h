/*
 * pngio.h: PNG files to and from C x H x W float tensors in [0, 1], via libpng.
 *
 * Reading keeps the file's channels: gray (1), gray + alpha (2), RGB (3),
 * RGBA (4); a palette image becomes RGB, or RGBA when it has transparency.
 * Samples of 1, 2, 4, 8 and 16 bits are scaled by 1 / (2^bits - 1). No gamma
 * or colour-space conversion is applied.
 * Writing takes 1 to 4 channels, clamps to [0, 1] and rounds to 8 bits; the
 * file is written beside the target and renamed over it, so it is never seen
 * half-written.
 * libpng reports errors through a callback that jumps back into the function
 * that owns the png struct, which frees everything and returns the message.
 */
#ifndef CNN_PNGIO_H
#define CNN_PNGIO_H

#include "tensor.h"

/* Reads path into out (an empty handle). */
cnn_status cnn_png_read(const char *path, cnn_tensor *out, cnn_error *err);
/* Writes img (C x H x W, contiguous, C in 1..4) to path. */
cnn_status cnn_png_write(const char *path, const cnn_tensor *img, cnn_error *err);

#endif
