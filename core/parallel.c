/*
 * parallel.c: a fork-join pool on pthreads (see parallel.h). The thread that
 * owns the pool writes a loop's fields, then publishes the loop in one word:
 * its number and how many threads it takes. A worker that the word counts in
 * reads the fields (the owner waits for it before it writes them again),
 * runs its range and counts itself done; one that it leaves out reads
 * nothing else. A loop started inside a range, or while another thread of
 * the host program owns the pool, runs serially in the calling thread.
 *
 * Waking a sleeping thread takes tens of microseconds on these machines, as
 * long as a small kernel itself; a training step starts hundreds of loops,
 * and a network at batch 1 one per layer. So a worker that finished watches
 * the loop word for SPIN_NS before it sleeps, and the owner watches the count
 * of unfinished workers as long before it sleeps; the mutex and condition
 * variables serve only for sleeping and waking. Back-to-back loops then start
 * and end with a few cache lines crossing between cores (an empty loop on two
 * threads: about 0.15 us here, 0.35-0.47 us when both sides took a mutex).
 */
#include "parallel.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS 100000 /* 0.1 ms */

/* What a loop's handshake reads and writes comes first, in one cache line
 * (a line crossing between the cores costs about 0.1 us here). */
static struct {
  unsigned long loop;      /* the current loop: its number * LOOP_THREADS + the threads it takes */
  unsigned long remaining; /* workers not yet finished */
  cnn_range_fn fn;
  void *ctx;
  int64_t n;
  int sleepers;            /* workers asleep, or about to sleep */
  bool waiting;            /* the owner asleep on done */
  bool busy;               /* a thread owns the pool */
  int threads;             /* threads loops use, the caller included */
  int started;             /* workers created so far (by the owner) */
  pthread_mutex_t lock;    /* for sleeping and waking only */
  pthread_cond_t wake, done;
} pool __attribute__((aligned(64))) = {0, 0, NULL, NULL, 0, 0, false, false, 0, 0, PTHREAD_MUTEX_INITIALIZER,
                                       PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
#define LOOP_THREADS 256 /* more than CNN_MAX_THREADS */

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

/* Sleeps until the loop word is no longer seen. The owner, which writes it
 * and then looks for sleepers, or this thread, which counts itself a sleeper
 * and then looks at the word, sees the other's write (both sequentially
 * consistent); the broadcast is made under the mutex that this thread holds
 * until it waits. */
static void sleep_past(unsigned long seen) {
  pthread_mutex_lock(&pool.lock);
  __atomic_add_fetch(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&pool.loop, __ATOMIC_SEQ_CST) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
  __atomic_sub_fetch(&pool.sleepers, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&pool.lock);
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned long seen = 0;
  for (;;) {
    spin(&pool.loop, seen, false);
    if (__atomic_load_n(&pool.loop, __ATOMIC_SEQ_CST) == seen) sleep_past(seen);
    seen = __atomic_load_n(&pool.loop, __ATOMIC_ACQUIRE);
    int active = (int)(seen % LOOP_THREADS);
    if (id >= active) continue; /* not in this loop: the owner neither waits for it nor keeps the fields */
    int64_t begin, end;
    range_of(pool.n, active, id, &begin, &end);
    inside = true;
    pool.fn(pool.ctx, begin, end, id);
    inside = false;
    /* the last one wakes the owner if it sleeps (the same handshake as sleep_past's) */
    if (__atomic_sub_fetch(&pool.remaining, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&pool.waiting, __ATOMIC_SEQ_CST)) {
      pthread_mutex_lock(&pool.lock);
      pthread_cond_signal(&pool.done);
      pthread_mutex_unlock(&pool.lock);
    }
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
  if (__atomic_exchange_n(&pool.busy, true, __ATOMIC_ACQUIRE)) { /* another thread of the host's owns it */
    fn(ctx, 0, n, 0);
    return;
  }
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
  __atomic_store_n(&pool.remaining, (unsigned long)(parts - 1), __ATOMIC_RELAXED);
  __atomic_store_n(&pool.loop, (pool.loop / LOOP_THREADS + 1) * LOOP_THREADS + (unsigned long)parts, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&pool.sleepers, __ATOMIC_SEQ_CST) > 0) {
    pthread_mutex_lock(&pool.lock);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
  }
  int64_t begin, end;
  range_of(n, parts, 0, &begin, &end);
  inside = true;
  fn(ctx, begin, end, 0);
  inside = false;
  spin(&pool.remaining, 0, true);
  if (__atomic_load_n(&pool.remaining, __ATOMIC_SEQ_CST) > 0) {
    pthread_mutex_lock(&pool.lock);
    __atomic_store_n(&pool.waiting, true, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&pool.remaining, __ATOMIC_SEQ_CST) > 0) pthread_cond_wait(&pool.done, &pool.lock);
    __atomic_store_n(&pool.waiting, false, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&pool.lock);
  }
  __atomic_store_n(&pool.busy, false, __ATOMIC_RELEASE);
}
