/*
 * parallel.c: a fork-join pool on pthreads (see parallel.h). Work is handed
 * out by bumping a generation number under a mutex and broadcasting; each
 * worker runs its range and counts itself done. A loop started inside a
 * range, or while another thread of the host program owns the pool, runs
 * serially in the calling thread.
 *
 * Waking a sleeping thread takes tens of microseconds on these machines, as
 * long as a small kernel itself; a training step starts hundreds of loops.
 * So a worker that finished watches the generation for SPIN_NS before it
 * sleeps, and the caller watches the count of unfinished workers as long
 * before it sleeps: back-to-back loops then start and end without a wake-up.
 */
#include "parallel.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS 100000 /* 0.1 ms */

static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  int threads;  /* threads loops use, the caller included */
  bool busy;    /* a loop owns the workers */
  int started;  /* workers created so far */
  unsigned long generation;
  int active;            /* threads in the current loop */
  unsigned long remaining; /* workers not yet finished */
  cnn_range_fn fn;
  void *ctx;
  int64_t n;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, 0, 0, 0, 0, 0, 0, 0};

static __thread bool inside; /* this thread is running a range */

static void range_of(int64_t n, int parts, int i, int64_t *begin, int64_t *end) {
  *begin = n * i / parts;
  *end = n * (i + 1) / parts;
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Watches *word for up to SPIN_NS until it equals value (equal) or differs
 * from it (!equal). */
static void spin(const unsigned long *word, unsigned long value, bool equal) {
  int64_t start = now_ns();
  for (int i = 1;; i++) {
    if ((__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) == equal) return;
    relax();
    if (i % 64 == 0 && now_ns() - start > SPIN_NS) return;
  }
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&pool.lock);
  for (;;) {
    if (pool.generation == seen) {
      pthread_mutex_unlock(&pool.lock);
      spin(&pool.generation, seen, false);
      pthread_mutex_lock(&pool.lock);
    }
    while (pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    seen = pool.generation;
    if (id >= pool.active) continue;
    cnn_range_fn fn = pool.fn;
    void *ctx = pool.ctx;
    int64_t begin, end;
    range_of(pool.n, pool.active, id, &begin, &end);
    pthread_mutex_unlock(&pool.lock);
    inside = true;
    fn(ctx, begin, end, id);
    inside = false;
    pthread_mutex_lock(&pool.lock);
    if (__atomic_sub_fetch(&pool.remaining, 1, __ATOMIC_RELEASE) == 0) pthread_cond_signal(&pool.done);
  }
  return NULL;
}

/* The thread count is read and written from any thread: atomically. */
int cnn_parallel_threads(void) {
  int n = __atomic_load_n(&pool.threads, __ATOMIC_RELAXED);
  if (n == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cores < 1 ? 1 : cores > CNN_MAX_THREADS ? CNN_MAX_THREADS : (int)cores;
    __atomic_compare_exchange_n(&pool.threads, &n, want, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    n = __atomic_load_n(&pool.threads, __ATOMIC_RELAXED);
  }
  return n;
}

void cnn_parallel_set_threads(int n) {
  __atomic_store_n(&pool.threads, n < 1 ? 1 : n > CNN_MAX_THREADS ? CNN_MAX_THREADS : n, __ATOMIC_RELAXED);
}

#define MIN_WORK ((int64_t)1 << 15) /* steps per thread below which one thread does it all */

int64_t cnn_parallel_grain(int64_t work) { return work >= MIN_WORK ? 1 : (MIN_WORK + work - 1) / (work > 0 ? work : 1); }

void cnn_parallel_for(int64_t n, int64_t grain, cnn_range_fn fn, void *ctx) {
  int parts = cnn_parallel_threads();
  if (grain < 1) grain = 1;
  if (parts > n / grain) parts = (int)(n / grain);
  if (parts < 2 || inside) {
    if (n > 0) fn(ctx, 0, n, 0);
    return;
  }
  pthread_mutex_lock(&pool.lock);
  if (pool.busy) {
    pthread_mutex_unlock(&pool.lock);
    fn(ctx, 0, n, 0);
    return;
  }
  pool.busy = true;
  while (pool.started < parts - 1) { /* workers 1 .. parts-1, created on first need */
    pthread_t t;
    if (pthread_create(&t, NULL, worker, (void *)(intptr_t)(pool.started + 1)) != 0) break;
    pthread_detach(t);
    pool.started++;
  }
  if (parts > pool.started + 1) parts = pool.started + 1;
  pool.fn = fn;
  pool.ctx = ctx;
  pool.n = n;
  pool.active = parts;
  __atomic_store_n(&pool.remaining, (unsigned long)(parts - 1), __ATOMIC_RELAXED);
  __atomic_store_n(&pool.generation, pool.generation + 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);
  int64_t begin, end;
  range_of(n, parts, 0, &begin, &end);
  inside = true;
  fn(ctx, begin, end, 0);
  inside = false;
  spin(&pool.remaining, 0, true);
  pthread_mutex_lock(&pool.lock);
  while (pool.remaining > 0) pthread_cond_wait(&pool.done, &pool.lock);
  pool.busy = false;
  pthread_mutex_unlock(&pool.lock);
}
