/*
 * tensor.h: float32 strided tensors over reference-counted storage.
 *
 * This is the plain-C core: it never includes lua.h. Functions that can fail on
 * user input return a cnn_status and write a human-readable reason into a
 * cnn_error; they never exit or abort.
 *
 * A tensor is a view into a storage. With 0-based indices i[0..ndim-1], element
 * i lives at
 *
 *     storage->data[offset + i[0]*stride[0] + ... + i[ndim-1]*stride[ndim-1]]
 *
 * Contiguous (row-major) means stride[ndim-1] == 1 and
 * stride[d] == stride[d+1] * shape[d+1]; dimensions of size 1 may have any
 * stride. A 0-dimensional tensor holds one element. A broadcast ("expanded")
 * view has stride 0 along the dimensions it repeats; such views are read-only
 * inputs to kernels, never outputs.
 *
 * Every view holds one reference to its storage; cnn_tensor_release drops it,
 * and the storage is freed with its last reference.
 */
#ifndef CNN_TENSOR_H
#define CNN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CNN_MAX_DIMS 8

typedef enum {
  CNN_OK = 0,
  CNN_ENOMEM, /* an allocation failed */
  CNN_EINVAL  /* bad arguments: shapes, indices, ranges */
} cnn_status;

/* Why a call failed; filled by the callee, read by the caller. */
typedef struct cnn_error {
  char msg[256];
} cnn_error;

cnn_status cnn_error_set(cnn_error *err, cnn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "(2, 3, 4)" into buf; returns buf. */
char *cnn_shape_format(char *buf, size_t len, int ndim, const int64_t *shape);

typedef struct cnn_storage {
  float *data;      /* 64-byte aligned; never NULL, even for 0 elements */
  size_t numel;     /* number of floats */
  long refcount;
} cnn_storage;

/* A new storage with one reference, uninitialised; NULL when out of memory. */
cnn_storage *cnn_storage_new(size_t numel);
void cnn_storage_retain(cnn_storage *s);
void cnn_storage_release(cnn_storage *s);

typedef struct cnn_tensor {
  cnn_storage *storage; /* NULL: empty handle (never allocated, or released) */
  int64_t offset;       /* in elements */
  int ndim;
  int64_t shape[CNN_MAX_DIMS];
  int64_t stride[CNN_MAX_DIMS]; /* in elements; 0 only in broadcast views */
} cnn_tensor;

/* Number of elements of a shape; -1 if it overflows int64 or a size is negative. */
int64_t cnn_shape_numel(int ndim, const int64_t *shape);

/* Fills t with a fresh contiguous tensor of the given shape (uninitialised).
 * t must be an empty handle. */
cnn_status cnn_tensor_alloc(cnn_tensor *t, int ndim, const int64_t *shape, cnn_error *err);
/* Drops t's storage reference and leaves t an empty handle. */
void cnn_tensor_release(cnn_tensor *t);
/* Makes dst (an empty handle) another view of src's storage with src's geometry. */
void cnn_tensor_share(cnn_tensor *dst, const cnn_tensor *src);

int64_t cnn_tensor_numel(const cnn_tensor *t);
bool cnn_tensor_is_contiguous(const cnn_tensor *t);
static inline float *cnn_tensor_data(const cnn_tensor *t) { return t->storage->data + t->offset; }
bool cnn_tensor_same_shape(const cnn_tensor *a, const cnn_tensor *b);
/* Whether a and b are different views that may touch the same memory, so that
 * an elementwise kernel writing a would read elements of b it already wrote. */
bool cnn_tensor_overlaps(const cnn_tensor *a, const cnn_tensor *b);
/* Row-major strides of a shape. */
void cnn_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* Geometry changes, in place on a view's shape/stride/offset (dimensions 0-based).
 * The callers check the ranges; these only compute. */
void cnn_tensor_transpose(cnn_tensor *t, int d1, int d2);
void cnn_tensor_permute(cnn_tensor *t, const int *perm);
void cnn_tensor_narrow(cnn_tensor *t, int d, int64_t start, int64_t len);
void cnn_tensor_select(cnn_tensor *t, int d, int64_t index);
/* Gives t the new shape without copying, if its strides allow it (PyTorch's rule:
 * each run of merged dimensions must be contiguous within itself). Returns false,
 * leaving t unchanged, if not. numel must match (checked by the caller). */
bool cnn_tensor_try_view(cnn_tensor *t, int ndim, const int64_t *shape);

/* NumPy broadcasting: the common shape of a and b, or CNN_EINVAL naming both. */
cnn_status cnn_broadcast_shape(int andim, const int64_t *ashape, int bndim, const int64_t *bshape,
                               int *ndim, int64_t *shape, cnn_error *err);
/* Makes t a read-only view of itself broadcast to shape (stride 0 where repeated).
 * The caller has checked that the shapes are compatible. */
void cnn_tensor_expand(cnn_tensor *t, int ndim, const int64_t *shape);

/*
 * Strided iteration over up to three operands of one shape (op[0] is usually
 * the output). The visitor is called once per run along the innermost
 * (coalesced) dimension: n elements, each operand's pointer and stride.
 */
typedef void (*cnn_row_fn)(int64_t n, float **p, const int64_t *s, void *ctx);
void cnn_foreach(int nops, cnn_tensor *const *ops, cnn_row_fn fn, void *ctx);

#endif
