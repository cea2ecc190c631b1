/*
 * threads.c: two independent Lua states running at once in two threads, each
 * training a small network from its own seed, and checked against the same
 * work done alone in one thread. Equal results show that the states do not
 * interfere (no shared random generator, no shared tensors, no shared module
 * state).
 *
 *   threads        prints one line per state and "independent: yes"
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cnnlua.h"

/* Trains for a few steps and leaves the final loss in the global `result`. */
static const char *job =
    "cnn.set_num_threads(1)\n"
    "cnn.seed(SEED)\n"
    "local nn = cnn.nn\n"
    "local m = nn.Sequential { nn.Conv2d(1, 4, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),\n"
    "                          nn.Flatten(), nn.Linear(4 * 8 * 8, 10) }\n"
    "local opt = cnn.optim.SGD(m, {lr = 0.1, momentum = 0.9})\n"
    "local crit = nn.CrossEntropyLoss()\n"
    "local x, y = cnn.randn(16, 1, 16, 16), {}\n"
    "for i = 1, 16 do y[i] = i % 10 + 1 end\n"
    "for _ = 1, 30 do\n"
    "  opt:zero_grad()\n"
    "  result = crit:forward(m:forward(x), y)\n"
    "  m:backward(x, crit:backward(m.output, y))\n"
    "  opt:step()\n"
    "end\n";

typedef struct {
  int seed;
  double loss;
  char error[256];
} task;

static void *run(void *arg) {
  task *t = arg;
  char chunk[2048];
  snprintf(chunk, sizeof chunk, "local SEED = %d\n%s", t->seed, job);
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

int main(void) {
  task alone[2] = {{1, 0, ""}, {2, 0, ""}}, together[2] = {{1, 0, ""}, {2, 0, ""}};
  for (int i = 0; i < 2; i++) run(&alone[i]);
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, run, &together[i]);
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  int same = 1;
  for (int i = 0; i < 2; i++) {
    if (alone[i].error[0] || together[i].error[0]) {
      fprintf(stderr, "threads: %s\n", alone[i].error[0] ? alone[i].error : together[i].error);
      return 1;
    }
    printf("state %d (seed %d): loss %.9g alone, %.9g in parallel\n", i + 1, alone[i].seed, alone[i].loss,
           together[i].loss);
    same = same && alone[i].loss == together[i].loss;
  }
  printf("independent: %s\n", same && alone[0].loss != alone[1].loss ? "yes" : "no");
  return same ? 0 : 1;
}
