/*
 * conv_packs.h: transformed weights kept from call to call. The fast
 * convolutions rearrange (implicit product) or transform (Winograd) the
 * weights before every pass; at batch 1 that costs as much as a tenth of
 * the pass. A cache remembers, per layer, the weights it was made from (a
 * copy, compared in full at each call) and the result, so that unchanged
 * weights are never transformed twice while changed ones (training) are
 * never served stale. Each Lua state holds one; it is not thread-safe.
 */
#ifndef CNN_CONV_PACKS_H
#define CNN_CONV_PACKS_H

#include <stdint.h>

typedef struct cnn_packs cnn_packs;

/* An empty cache; NULL when out of memory. */
cnn_packs *cnn_packs_new(void);
void cnn_packs_free(cnn_packs *p);

/* The transform of weight (n floats) kept under key (key_len int64s: the
 * geometry and kind of transform), or NULL. On NULL, *slot is where the
 * caller writes the new transform (size floats), remembered from now on
 * with a copy of weight; *slot is NULL when the cache cannot hold it (the
 * caller then transforms into its own space). */
const float *cnn_packs_find(cnn_packs *p, const int64_t *key, int key_len, const float *weight, int64_t n,
                            int64_t size, float **slot);

#endif
