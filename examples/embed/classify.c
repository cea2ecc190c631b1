/*
 * classify.c: a host program that classifies a PNG file with a model trained
 * by examples/train.lua. The image is decoded with libpng and resampled in C,
 * as a host with its own image pipeline would; cnnlua runs the network.
 *
 *   classify runs/model.cnn picture.png [--invert]
 *
 * Prints the most likely Fashion-MNIST class and its probability.
 */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlua.h"

static const char *classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* Reads path as 8-bit gray (libpng converts colour); returns malloc'ed pixels or NULL. */
static unsigned char *read_gray(const char *path, int *width, int *height) {
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path)) {
    fprintf(stderr, "classify: %s: %s\n", path, img.message);
    return NULL;
  }
  img.format = PNG_FORMAT_GRAY;
  unsigned char *pixels = malloc(PNG_IMAGE_SIZE(img));
  if (!pixels || !png_image_finish_read(&img, NULL, pixels, 0, NULL)) {
    fprintf(stderr, "classify: %s: %s\n", path, pixels ? img.message : "out of memory");
    free(pixels);
    png_image_free(&img);
    return NULL;
  }
  *width = (int)img.width;
  *height = (int)img.height;
  return pixels;
}

/* Bilinear resampling to 28 x 28 (pixel centres aligned), scaled to [0, 1],
 * then normalised as the training script does. */
static void to_input(const unsigned char *pixels, int width, int height, int invert, float *out) {
  for (int y = 0; y < 28; y++)
    for (int x = 0; x < 28; x++) {
      float sy = fmaxf(0.0f, (y + 0.5f) * height / 28.0f - 0.5f), sx = fmaxf(0.0f, (x + 0.5f) * width / 28.0f - 0.5f);
      int y0 = (int)sy, x0 = (int)sx, y1 = y0 + (y0 < height - 1), x1 = x0 + (x0 < width - 1);
      float a = sy - y0, b = sx - x0;
      float v = (1 - a) * ((1 - b) * pixels[y0 * width + x0] + b * pixels[y0 * width + x1]) +
                a * ((1 - b) * pixels[y1 * width + x0] + b * pixels[y1 * width + x1]);
      v /= 255.0f;
      if (invert) v = 1.0f - v;
      out[y * 28 + x] = (v - 0.2860f) / 0.3530f;
    }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: classify MODEL.cnn IMAGE.png [--invert]\n");
    return 2;
  }
  int invert = argc > 3 && strcmp(argv[3], "--invert") == 0;
  int width, height;
  unsigned char *pixels = read_gray(argv[2], &width, &height);
  if (!pixels) return 1;
  float input[28 * 28];
  to_input(pixels, width, height, invert, input);
  free(pixels);

  lua_State *L = cnnlua_open();
  if (!L) {
    fprintf(stderr, "classify: out of memory\n");
    return 1;
  }
  int model, status = 1;
  float scores[10];
  int64_t shape[4] = {1, 1, 28, 28}, out_shape[8];
  int out_ndim;
  if (cnnlua_load_model(L, argv[1], &model) != CNNLUA_OK ||
      cnnlua_forward(L, model, input, 4, shape, scores, 10, &out_ndim, out_shape) != CNNLUA_OK) {
    fprintf(stderr, "classify: %s\n", cnnlua_error(L));
  } else if (out_ndim != 2 || out_shape[1] != 10) {
    fprintf(stderr, "classify: the model gives %d-d scores, not 10 classes\n", out_ndim);
  } else {
    int best = 0;
    double sum = 0;
    for (int i = 0; i < 10; i++) {
      if (scores[i] > scores[best]) best = i;
    }
    for (int i = 0; i < 10; i++) sum += exp(scores[i] - scores[best]);
    printf("%s: %s (%.1f%%)\n", argv[2], classes[best], 100.0 / sum);
    status = 0;
  }
  cnnlua_close(L);
  return status;
}
