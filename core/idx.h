/*
 * idx.h: reading IDX files (the format of MNIST and Fashion-MNIST), plain or
 * gzip-compressed.
 *
 * An IDX file is a 4-byte magic (two zero bytes, a type code, the number of
 * dimensions), one big-endian u32 size per dimension, then the elements in
 * row-major order, big-endian. Type codes: 0x08 u8, 0x09 i8, 0x0B i16,
 * 0x0C i32, 0x0D f32, 0x0E f64. The file must hold exactly the elements the
 * header announces: a short or long file is an error, never a partial tensor.
 */
#ifndef CNN_IDX_H
#define CNN_IDX_H

#include "tensor.h"

/* Reads the file into out (an empty handle), converting elements to float.
 * On failure out stays empty and err names the file and the problem. */
cnn_status cnn_idx_read(const char *path, cnn_tensor *out, cnn_error *err);

/* The elements of a file of unsigned bytes, unconverted: returns the file's
 * bytes (malloc'ed; the elements start at *offset) and its shape, or NULL with
 * err set, also when the elements are not bytes. */
unsigned char *cnn_idx_read_u8(const char *path, size_t *offset, int *ndim, int64_t *shape, cnn_error *err);

#endif
