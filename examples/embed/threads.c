/*
 * threads.c: two independent Lua states running at once in two threads, each
 * training a small network from its own seed, and checked against the same
 * work done alone in one thread. Equal results show that the states do not
 * interfere (no shared random generator, no shared tensors, no shared module
 * state). Then the two train at once with two library threads each: they
 * share the library's thread pool (a state that finds it taken runs its
 * loops in its own thread), which make tsan watches.
 *
 *   threads        prints one line per state, "independent: yes" and
 *                  "shared pool: both trained"
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cnnlua.h"

/* Trains for a few steps and leaves the final loss in the global `result`. */
static const char *job =
    "cnn.set_num_threads(THREADS)\n"
    "cnn.seed(SEED)\n"
    "local nn = cnn.nn\n"
    "local m = nn.Sequential { nn.Conv2d(1, 4, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),\n"
    "                          nn.Flatten(), nn.Linear(4 * 8 * 8, 10) }\n"
    "local opt = cnn.optim.SGD(m, {lr = 0.1, momentum = 0.9})\n"
    "local crit = nn.CrossEntropyLoss()\n"
    "local x, y = cnn.randn(BATCH, 1, 16, 16), {}\n"
    "for i = 1, BATCH do y[i] = i % 10 + 1 end\n"
    "for _ = 1, 30 do\n"
    "  opt:zero_grad()\n"
    "  result = crit:forward(m:forward(x), y)\n"
    "  m:backward(x, crit:backward(m.output, y))\n"
    "  opt:step()\n"
    "end\n";

typedef struct {
  int seed, threads, batch;
  double loss;
  char error[256];
} task;

static void *run(void *arg) {
  task *t = arg;
  char chunk[2048];
  snprintf(chunk, sizeof chunk, "local SEED, THREADS, BATCH = %d, %d, %d\n%s", t->seed, t->threads, t->batch, job);
  lua_State *L = cnnlua_open();
  if (!L) {
    snprintf(t->error, sizeof t->error, "out of memory");
    return NULL;
  }
  if (cnnlua_run(L, chunk) != CNNLUA_OK) {
    snprintf(t->error, sizeof t->error, "%s", cnnlua_error(L));
  } else {
    lua_getglobal(L, "result");
    t->loss = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  cnnlua_close(L);
  return NULL;
}

/* Runs the two tasks at once, one thread each; 0, or 1 with a message when one failed. */
static int together(task t[2]) {
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, run, &t[i]);
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  for (int i = 0; i < 2; i++)
    if (t[i].error[0]) {
      fprintf(stderr, "threads: %s\n", t[i].error);
      return 1;
    }
  return 0;
}

int main(void) {
  task alone[2] = {{1, 1, 16, 0, ""}, {2, 1, 16, 0, ""}}, both[2] = {{1, 1, 16, 0, ""}, {2, 1, 16, 0, ""}};
  for (int i = 0; i < 2; i++) {
    run(&alone[i]);
    if (alone[i].error[0]) {
      fprintf(stderr, "threads: %s\n", alone[i].error);
      return 1;
    }
  }
  if (together(both)) return 1;
  int same = 1;
  for (int i = 0; i < 2; i++) {
    printf("state %d (seed %d): loss %.9g alone, %.9g in parallel\n", i + 1, alone[i].seed, alone[i].loss,
           both[i].loss);
    same = same && alone[i].loss == both[i].loss;
  }
  printf("independent: %s\n", same && alone[0].loss != alone[1].loss ? "yes" : "no");
  /* two library threads each, batches large enough to split: one state's loops run on the pool at a time */
  task pooled[2] = {{1, 2, 64, 0, ""}, {2, 2, 64, 0, ""}};
  if (together(pooled)) return 1;
  int trained = pooled[0].loss < 1 && pooled[1].loss < 1;
  printf("shared pool: %s\n", trained ? "both trained" : "a state did not train");
  return same && trained ? 0 : 1;
}
