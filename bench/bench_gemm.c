/*
 * bench_gemm.c: cnn.matmul, called from Lua, against a direct cblas_sgemm call
 * on the same machine in the same run. Square n x n matrices, 1 and 2 threads.
 * Each figure is the median of 5 alternating measurements, each at least
 * MIN_SECONDS long, so that both sides see the same machine noise.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../core/cnnlua.h"
#include "../core/gemm.h"

#define ROUNDS 5
#define MIN_SECONDS 0.25

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

/* Seconds per direct sgemm call, averaged over reps calls, with OpenBLAS's
 * own threads (cnnlua keeps OpenBLAS single-threaded and splits the work
 * itself: the reference gets OpenBLAS's threading instead). */
static int threads;
static double time_sgemm(int n, const float *a, const float *b, float *c, int reps) {
  openblas_set_num_threads(threads);
  double t0 = now();
  for (int i = 0; i < reps; i++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
  return (now() - t0) / reps;
}

/* Seconds per cnn.matmul call from Lua, averaged over reps calls. */
static double time_lua(lua_State *L, int reps) {
  openblas_set_num_threads(1);
  lua_getglobal(L, "run");
  lua_pushinteger(L, reps);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "bench_gemm: %s\n", lua_tostring(L, -1));
    exit(1);
  }
  double s = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return s / reps;
}

static const char *lua_side =
    "local n = ...\n"
    "local a, b = cnn.rand(n, n), cnn.rand(n, n)\n"
    "function run(reps)\n"
    "  local t0 = cnn.clock()\n"
    "  for _ = 1, reps do local c = cnn.matmul(a, b) end\n"
    "  return cnn.clock() - t0\n"
    "end\n";

int main(void) {
  static const int sizes[] = {256, 512, 1024, 2048};
  printf("matmul, n x n x n, GFLOP/s (median of %d); ratio = cnn.matmul / cblas_sgemm\n", ROUNDS);
  printf("%6s %8s %12s %12s %7s\n", "n", "threads", "cblas_sgemm", "cnn.matmul", "ratio");
  for (threads = 1; threads <= 2; threads++) {
    cnn_set_num_threads(threads);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      int n = sizes[s];
      float *a = malloc(sizeof(float) * (size_t)n * n), *b = malloc(sizeof(float) * (size_t)n * n),
            *c = malloc(sizeof(float) * (size_t)n * n);
      for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = c[i] = (float)(i % 7) * 0.1f;
      lua_State *L = luaL_newstate();
      luaL_openlibs(L);
      luaL_requiref(L, "cnn", luaopen_cnn, 1);
      lua_pop(L, 1);
      luaL_loadstring(L, lua_side);
      lua_pushinteger(L, n);
      if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "bench_gemm: %s\n", lua_tostring(L, -1));
        return 1;
      }
      /* calibrate the repetitions on the direct call, warming both sides up */
      int reps = 1;
      while (time_sgemm(n, a, b, c, reps) * reps < MIN_SECONDS) reps *= 2;
      time_lua(L, reps);
      double direct[ROUNDS], bound[ROUNDS];
      for (int r = 0; r < ROUNDS; r++) {
        direct[r] = time_sgemm(n, a, b, c, reps);
        bound[r] = time_lua(L, reps);
      }
      double flop = 2.0 * n * n * n;
      double gd = flop / median(direct, ROUNDS) * 1e-9, gl = flop / median(bound, ROUNDS) * 1e-9;
      printf("%6d %8d %12.1f %12.1f %6.1f%%\n", n, threads, gd, gl, 100.0 * gl / gd);
      fflush(stdout);
      lua_close(L);
      free(a);
      free(b);
      free(c);
    }
  }
  return 0;
}
