/*
 * tensor.c: storage allocation and reference counting, tensor geometry (views,
 * broadcasting), and the strided iterator every elementwise kernel uses.
 * Conventions are in tensor.h.
 */
#include "tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

cnn_status cnn_error_set(cnn_error *err, cnn_status status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return status;
}

char *cnn_shape_format(char *buf, size_t len, int ndim, const int64_t *shape) {
  size_t used = (size_t)snprintf(buf, len, "(");
  for (int d = 0; d < ndim && used < len; d++)
    used += (size_t)snprintf(buf + used, len - used, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (used < len) snprintf(buf + used, len - used, ")");
  return buf;
}

/*
 * Storage memory. Large buffers are aligned to 2 MiB and marked for
 * transparent huge pages, and freed large buffers are kept in a small cache
 * for reuse: the first touch of fresh pages is expensive on the machines we
 * target (about 11.5 us per 4 KiB page), and training loops allocate the same
 * sizes at every step. The cache is process-wide, guarded by a mutex, and
 * holds at most CACHE_BYTES; the oldest blocks leave first.
 */
#define HUGE_THRESHOLD (4u << 20)
#define HUGE_ALIGN (2u << 20)
#define CACHE_MIN (64u << 10)
#define CACHE_BYTES ((size_t)256 << 20)
#define CACHE_SLOTS 64

static struct {
  pthread_mutex_t lock;
  size_t bytes;
  int count;
  struct {
    void *data;
    size_t size;
  } slot[CACHE_SLOTS]; /* oldest first */
} cache = {PTHREAD_MUTEX_INITIALIZER, 0, 0, {{0}}};

/* The allocation size of a request: small ones to 64 bytes, others to 64 KiB,
 * so that similar sizes share cache entries. Not to 2 MiB for huge ones:
 * their last huge page would be faulted in whole for the few bytes used of
 * it (6.1 MiB tensors held 8); the madvised range ends where the block does,
 * and its tail past the last whole huge page takes small pages. */
static size_t block_size(size_t bytes) {
  if (bytes < CACHE_MIN) return (bytes + 63) / 64 * 64;
  return (bytes + CACHE_MIN - 1) / CACHE_MIN * CACHE_MIN;
}

static void *cache_take(size_t size) {
  void *data = NULL;
  pthread_mutex_lock(&cache.lock);
  for (int i = cache.count - 1; i >= 0 && !data; i--)
    if (cache.slot[i].size == size) {
      data = cache.slot[i].data;
      cache.bytes -= size;
      memmove(&cache.slot[i], &cache.slot[i + 1], (size_t)(cache.count - 1 - i) * sizeof cache.slot[0]);
      cache.count--;
    }
  pthread_mutex_unlock(&cache.lock);
  return data;
}

/* Keeps a freed block, evicting the oldest ones to make room; frees what it cannot keep. */
static void cache_put(void *data, size_t size) {
  void *evicted[CACHE_SLOTS + 1];
  int n = 0;
  pthread_mutex_lock(&cache.lock);
  if (size < CACHE_MIN || size > CACHE_BYTES) {
    evicted[n++] = data;
  } else {
    while (cache.count > 0 && (cache.count == CACHE_SLOTS || cache.bytes + size > CACHE_BYTES)) {
      evicted[n++] = cache.slot[0].data;
      cache.bytes -= cache.slot[0].size;
      memmove(&cache.slot[0], &cache.slot[1], (size_t)(cache.count - 1) * sizeof cache.slot[0]);
      cache.count--;
    }
    cache.slot[cache.count].data = data;
    cache.slot[cache.count].size = size;
    cache.count++;
    cache.bytes += size;
  }
  pthread_mutex_unlock(&cache.lock);
  for (int i = 0; i < n; i++) free(evicted[i]);
}

cnn_storage *cnn_storage_new(size_t numel) {
  if (numel > (SIZE_MAX - HUGE_ALIGN) / sizeof(float)) return NULL;
  size_t size = block_size((numel ? numel : 1) * sizeof(float));
  cnn_storage *s = malloc(sizeof *s);
  if (!s) return NULL;
  void *data = size >= CACHE_MIN ? cache_take(size) : NULL;
  if (!data) {
    size_t align = size >= HUGE_THRESHOLD ? HUGE_ALIGN : 64;
    if (posix_memalign(&data, align, size) != 0) data = NULL;
    else if (align == HUGE_ALIGN) madvise(data, size, MADV_HUGEPAGE);
  }
  if (!data) {
    free(s);
    return NULL;
  }
  s->data = data;
  s->numel = numel;
  s->refcount = 1;
  return s;
}

void cnn_storage_retain(cnn_storage *s) { __atomic_add_fetch(&s->refcount, 1, __ATOMIC_RELAXED); }

void cnn_storage_release(cnn_storage *s) {
  if (s && __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) == 0) {
    cache_put(s->data, block_size((s->numel ? s->numel : 1) * sizeof(float)));
    free(s);
  }
}

int64_t cnn_shape_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) return -1;
    if (shape[d] && n > INT64_MAX / shape[d]) return -1;
    n *= shape[d];
  }
  return n;
}

void cnn_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d] > 1 ? shape[d] : 1;
  }
}

cnn_status cnn_tensor_alloc(cnn_tensor *t, int ndim, const int64_t *shape, cnn_error *err) {
  char buf[160];
  if (ndim < 0 || ndim > CNN_MAX_DIMS)
    return cnn_error_set(err, CNN_EINVAL, "%d dimensions (at most %d)", ndim, CNN_MAX_DIMS);
  int64_t n = cnn_shape_numel(ndim, shape);
  /* Beyond 2^46 floats (256 TiB) no machine has the memory; refusing early keeps
   * every index computation far from overflow. */
  if (n < 0 || n > ((int64_t)1 << 46))
    return cnn_error_set(err, CNN_EINVAL, "invalid or too large shape %s",
                         cnn_shape_format(buf, sizeof buf, ndim, shape));
  cnn_storage *s = cnn_storage_new((size_t)n);
  if (!s)
    return cnn_error_set(err, CNN_ENOMEM, "out of memory allocating %lld floats for shape %s",
                         (long long)n, cnn_shape_format(buf, sizeof buf, ndim, shape));
  t->storage = s;
  t->offset = 0;
  t->ndim = ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  cnn_contiguous_strides(ndim, shape, t->stride);
  return CNN_OK;
}

void cnn_tensor_release(cnn_tensor *t) {
  cnn_storage_release(t->storage);
  t->storage = NULL;
}

void cnn_tensor_share(cnn_tensor *dst, const cnn_tensor *src) {
  *dst = *src;
  cnn_storage_retain(dst->storage);
}

int64_t cnn_tensor_numel(const cnn_tensor *t) { return cnn_shape_numel(t->ndim, t->shape); }

bool cnn_tensor_is_contiguous(const cnn_tensor *t) {
  int64_t s = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] == 0) return true;
    if (t->shape[d] != 1 && t->stride[d] != s) return false;
    s *= t->shape[d];
  }
  return true;
}

bool cnn_tensor_same_shape(const cnn_tensor *a, const cnn_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  return true;
}

bool cnn_tensor_overlaps(const cnn_tensor *a, const cnn_tensor *b) {
  if (a->storage != b->storage) return false;
  bool same_view = a->offset == b->offset && a->ndim == b->ndim &&
                   !memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) &&
                   !memcmp(a->stride, b->stride, (size_t)a->ndim * sizeof a->stride[0]);
  return !same_view;
}

void cnn_tensor_transpose(cnn_tensor *t, int d1, int d2) {
  int64_t s = t->shape[d1], st = t->stride[d1];
  t->shape[d1] = t->shape[d2];
  t->stride[d1] = t->stride[d2];
  t->shape[d2] = s;
  t->stride[d2] = st;
}

void cnn_tensor_permute(cnn_tensor *t, const int *perm) {
  int64_t shape[CNN_MAX_DIMS], stride[CNN_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) {
    shape[d] = t->shape[perm[d]];
    stride[d] = t->stride[perm[d]];
  }
  memcpy(t->shape, shape, sizeof shape);
  memcpy(t->stride, stride, sizeof stride);
}

void cnn_tensor_narrow(cnn_tensor *t, int d, int64_t start, int64_t len) {
  t->offset += start * t->stride[d];
  t->shape[d] = len;
}

void cnn_tensor_select(cnn_tensor *t, int d, int64_t index) {
  t->offset += index * t->stride[d];
  for (int k = d; k + 1 < t->ndim; k++) {
    t->shape[k] = t->shape[k + 1];
    t->stride[k] = t->stride[k + 1];
  }
  t->ndim--;
}

bool cnn_tensor_try_view(cnn_tensor *t, int ndim, const int64_t *shape) {
  int64_t stride[CNN_MAX_DIMS];
  int64_t oshape[CNN_MAX_DIMS], ostride[CNN_MAX_DIMS];
  int ondim = t->ndim;
  memcpy(oshape, t->shape, sizeof oshape);
  memcpy(ostride, t->stride, sizeof ostride);
  if (ondim == 0) { /* a scalar behaves as shape (1) */
    ondim = 1;
    oshape[0] = 1;
    ostride[0] = 1;
  }
  if (cnn_shape_numel(ondim, oshape) == 0) {
    cnn_contiguous_strides(ndim, shape, stride);
  } else {
    /* Walk the old dimensions from the innermost, grouping those that are
     * contiguous with each other into chunks; the new dimensions must tile each
     * chunk exactly (this is the rule PyTorch's view follows). */
    int vd = ndim - 1;
    int64_t base = ostride[ondim - 1], tnumel = 1, vnumel = 1;
    for (int td = ondim - 1; td >= 0; td--) {
      tnumel *= oshape[td];
      if (td == 0 || (oshape[td - 1] != 1 && ostride[td - 1] != tnumel * base)) {
        while (vd >= 0 && (vnumel < tnumel || shape[vd] == 1)) {
          stride[vd] = vnumel * base;
          vnumel *= shape[vd];
          vd--;
        }
        if (vnumel != tnumel) return false;
        if (td > 0) {
          base = ostride[td - 1];
          tnumel = 1;
          vnumel = 1;
        }
      }
    }
    if (vd != -1) return false;
  }
  t->ndim = ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  memcpy(t->stride, stride, (size_t)ndim * sizeof *stride);
  return true;
}

cnn_status cnn_broadcast_shape(int andim, const int64_t *ashape, int bndim, const int64_t *bshape,
                               int *ndim, int64_t *shape, cnn_error *err) {
  int n = andim > bndim ? andim : bndim;
  for (int i = 0; i < n; i++) { /* i counts from the last dimension */
    int64_t x = i < andim ? ashape[andim - 1 - i] : 1;
    int64_t y = i < bndim ? bshape[bndim - 1 - i] : 1;
    if (x != y && x != 1 && y != 1) {
      char sa[160], sb[160];
      return cnn_error_set(err, CNN_EINVAL, "shapes %s and %s cannot be broadcast together",
                           cnn_shape_format(sa, sizeof sa, andim, ashape),
                           cnn_shape_format(sb, sizeof sb, bndim, bshape));
    }
    shape[n - 1 - i] = x == 1 ? y : x;
  }
  *ndim = n;
  return CNN_OK;
}

void cnn_tensor_expand(cnn_tensor *t, int ndim, const int64_t *shape) {
  int64_t stride[CNN_MAX_DIMS];
  int shift = ndim - t->ndim;
  for (int d = 0; d < ndim; d++) {
    int od = d - shift;
    stride[d] = (od < 0 || (t->shape[od] == 1 && shape[d] != 1)) ? 0 : t->stride[od];
  }
  t->ndim = ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  memcpy(t->stride, stride, (size_t)ndim * sizeof *stride);
}

void cnn_foreach(int nops, cnn_tensor *const *ops, cnn_row_fn fn, void *ctx) {
  /* Coalesce dimensions (innermost first) where every operand steps through
   * them as through one; drop dimensions of size 1. */
  const cnn_tensor *t0 = ops[0];
  int64_t shape[CNN_MAX_DIMS], stride[3][CNN_MAX_DIMS], idx[CNN_MAX_DIMS] = {0};
  int nd = 0;
  for (int d = t0->ndim - 1; d >= 0; d--) {
    int64_t n = t0->shape[d];
    if (n == 0) return;
    if (n == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < nops && merge; k++)
      merge = ops[k]->stride[d] == stride[k][nd - 1] * shape[nd - 1];
    if (merge) {
      shape[nd - 1] *= n;
      continue;
    }
    shape[nd] = n;
    for (int k = 0; k < nops; k++) stride[k][nd] = ops[k]->stride[d];
    nd++;
  }
  float *p[3];
  int64_t inner[3];
  for (int k = 0; k < nops; k++) {
    p[k] = cnn_tensor_data(ops[k]);
    inner[k] = nd ? stride[k][0] : 0;
  }
  if (nd == 0) {
    fn(1, p, inner, ctx);
    return;
  }
  for (;;) {
    float *row[3] = {p[0], nops > 1 ? p[1] : NULL, nops > 2 ? p[2] : NULL};
    fn(shape[0], row, inner, ctx);
    int d = 1;
    for (; d < nd; d++) {
      idx[d]++;
      for (int k = 0; k < nops; k++) p[k] += stride[k][d];
      if (idx[d] < shape[d]) break;
      for (int k = 0; k < nops; k++) p[k] -= stride[k][d] * shape[d];
      idx[d] = 0;
    }
    if (d >= nd) return;
  }
}
