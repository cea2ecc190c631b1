/* pngio.c: PNG reading and writing (see pngio.h). */
#include "pngio.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

/* libpng's error callback: keep the message, jump back to the owner. */
static void on_error(png_structp png, png_const_charp msg) {
  cnn_error *err = png_get_error_ptr(png);
  cnn_error_set(err, CNN_EINVAL, "%s", msg);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

cnn_status cnn_png_read(const char *path, cnn_tensor *out, cnn_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return cnn_error_set(err, CNN_EINVAL, "cannot open %s: %s", path, strerror(errno));
  unsigned char sig[8];
  if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) {
    fclose(f);
    return cnn_error_set(err, CNN_EINVAL, "%s: not a PNG file", path);
  }
  cnn_error pngerr = {{0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &pngerr, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  png_bytep volatile row = NULL;
  png_bytepp volatile rows = NULL;
  if (!png || !info) {
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return cnn_error_set(err, CNN_ENOMEM, "%s: out of memory", path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    free(row);
    free(rows);
    fclose(f);
    cnn_tensor_release(out);
    return cnn_error_set(err, CNN_EINVAL, "%s: %s", path, pngerr.msg);
  }
  png_init_io(png, f);
  png_set_sig_bytes(png, 8);
  png_set_user_limits(png, 1 << 16, 1 << 16);
  png_read_info(png, info);
  png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_swap(png); /* native little-endian 16-bit samples */
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  int channels = png_get_channels(png, info);
  int bits = png_get_bit_depth(png, info);
  /* palette entries and 1, 2, 4-bit gray samples arrive expanded to the 8-bit range */
  double scale = 1.0 / (bits == 16 ? 65535.0 : 255.0);
  int64_t shape[3] = {channels, height, width};
  if (cnn_tensor_alloc(out, 3, shape, err) != CNN_OK) png_error(png, "out of memory");
  size_t rowbytes = png_get_rowbytes(png, info);
  row = malloc(rowbytes * height);
  rows = malloc(sizeof(png_bytep) * height);
  if (!row || !rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < height; y++) rows[y] = row + y * rowbytes;
  png_read_image(png, rows);
  free(rows);
  rows = NULL;
  float *dst = cnn_tensor_data(out);
  int64_t plane = (int64_t)height * width;
  for (png_uint_32 y = 0; y < height; y++)
    for (png_uint_32 x = 0; x < width; x++)
      for (int c = 0; c < channels; c++) {
        size_t i = (size_t)x * channels + c;
        double v = bits == 16 ? ((const uint16_t *)(row + y * rowbytes))[i] : row[y * rowbytes + i];
        dst[c * plane + (int64_t)y * width + x] = (float)(v * scale);
      }
  png_read_end(png, NULL);
  png_destroy_read_struct(&png, &info, NULL);
  free(row);
  fclose(f);
  return CNN_OK;
}

cnn_status cnn_png_write(const char *path, const cnn_tensor *img, cnn_error *err) {
  int channels = (int)img->shape[0];
  int64_t height = img->shape[1], width = img->shape[2];
  static const int types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                              PNG_COLOR_TYPE_RGB_ALPHA};
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
    return cnn_error_set(err, CNN_EINVAL, "path too long: %s", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return cnn_error_set(err, CNN_EINVAL, "cannot write %s: %s", path, strerror(errno));
  cnn_error pngerr = {{0}};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pngerr, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  png_bytep volatile row = NULL;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    remove(tmp);
    return cnn_error_set(err, CNN_ENOMEM, "%s: out of memory", path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
    remove(tmp);
    return cnn_error_set(err, CNN_EINVAL, "cannot write %s: %s", path, pngerr.msg);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, types[channels - 1], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  row = malloc((size_t)width * channels);
  if (!row) png_error(png, "out of memory");
  const float *src = cnn_tensor_data(img);
  for (int64_t y = 0; y < height; y++) {
    for (int64_t x = 0; x < width; x++)
      for (int c = 0; c < channels; c++) {
        float v = src[(c * height + y) * width + x];
        v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f; /* NaN becomes 0 */
        row[x * channels + c] = (png_byte)lrintf(v * 255.0f);
      }
    png_write_row(png, row);
  }
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(row);
  bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return cnn_error_set(err, CNN_EINVAL, "cannot write %s: %s", path, strerror(e));
  }
  return CNN_OK;
}
