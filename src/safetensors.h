/*
 * safetensors.h — the .safetensors container: parse and validate a header from memory,
 * read a file, write one atomically. The format: 8-byte little-endian header length N,
 * N bytes of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"key": "string"}}), then the data, offsets relative to its start.
 * Nothing here knows about models or OpenCL; model.c builds on it (tools/README.md
 * describes the clsde model file).
 */
#ifndef CLSDE_SAFETENSORS_H
#define CLSDE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clsde.h"

/* The same cap as the reference implementation: a corrupt length field must not make us
 * allocate gigabytes. */
#define CLSDE_ST_MAX_HEADER (100u * 1000u * 1000u)
#define CLSDE_ST_MAX_DIMS 8

typedef enum clsde_dtype {
    CLSDE_DTYPE_BOOL, CLSDE_DTYPE_U8, CLSDE_DTYPE_I8, CLSDE_DTYPE_F8_E4M3, CLSDE_DTYPE_F8_E5M2,
    CLSDE_DTYPE_I16, CLSDE_DTYPE_U16, CLSDE_DTYPE_F16, CLSDE_DTYPE_BF16,
    CLSDE_DTYPE_I32, CLSDE_DTYPE_U32, CLSDE_DTYPE_F32,
    CLSDE_DTYPE_I64, CLSDE_DTYPE_U64, CLSDE_DTYPE_F64,
    CLSDE_DTYPE_COUNT
} clsde_dtype;

/* "F32", ... ; "?" for an invalid value. */
const char *clsde_dtype_name(clsde_dtype dtype);
/* Bytes per element; 0 for an invalid value. */
size_t clsde_dtype_size(clsde_dtype dtype);

typedef struct clsde_st_tensor {
    char *name;                         /* NUL-terminated, no control characters */
    clsde_dtype dtype;
    int32_t ndim;                       /* 0 (scalar) .. CLSDE_ST_MAX_DIMS */
    int64_t shape[CLSDE_ST_MAX_DIMS];   /* entries past ndim are 0 */
    int64_t numel;                      /* product of shape (1 for a scalar) */
    uint64_t begin, end;                /* byte range in the data section */
} clsde_st_tensor;

typedef struct clsde_st_meta {
    char *key, *value;
} clsde_st_meta;

typedef struct clsde_safetensors {
    clsde_st_tensor *tensors; /* [n_tensors], in header order */
    int32_t n_tensors;
    int32_t *by_name;         /* [n_tensors] tensor indices sorted by name (for lookup) */
    clsde_st_meta *meta;      /* [n_meta], in header order */
    int32_t n_meta;
    uint64_t header_bytes;    /* N */
    uint64_t data_offset;     /* 8 + N: where the data section starts in the file */
    uint64_t data_bytes;      /* file size - data_offset = sum of the tensors' sizes */
} clsde_safetensors;

/* Read the 8-byte header length from `prefix` (prefix_size bytes of the file start) and
 * check it against file_size and CLSDE_ST_MAX_HEADER. `label` names the file in messages.
 * CLSDE_ERR_FORMAT with a message on ctx (NULL: this thread). */
clsde_status clsde_safetensors_header_len(clsde_context *ctx, const char *label,
                                          const void *prefix, size_t prefix_size,
                                          uint64_t file_size, uint64_t *header_bytes);

/* Parse and validate a header. `buf` holds the first `buf_size` bytes of a file of
 * `file_size` bytes; it must cover 8 + N (the data itself is not read). Checks: valid
 * JSON object, every entry an object with exactly dtype/shape/data_offsets of the right
 * types, known dtype, shape of at most 8 non-negative integers, no integer overflow,
 * numel * dtype size == end - begin, no duplicate or empty names, and that the byte
 * ranges tile the data section exactly (no overlap, no hole, nothing past the end of the
 * file, no trailing bytes); __metadata__ maps strings to strings. On success *st owns its
 * arrays (free with clsde_safetensors_free); on failure *st is empty.
 * CLSDE_ERR_FORMAT (malformed), CLSDE_ERR_NOMEM. */
clsde_status clsde_safetensors_parse(clsde_context *ctx, const char *label, const void *buf,
                                     size_t buf_size, uint64_t file_size,
                                     clsde_safetensors *st);

/* Read and validate the file's header, then its data section into *data (64-byte aligned,
 * free with free(); NULL when the data section is empty). `label` is used in messages
 * (NULL: the path). CLSDE_ERR_IO (open/read failed, with strerror), CLSDE_ERR_FORMAT,
 * CLSDE_ERR_NOMEM. Blocks on file I/O. */
clsde_status clsde_safetensors_read_file(clsde_context *ctx, const char *path,
                                         const char *label, clsde_safetensors *st,
                                         void **data);

void clsde_safetensors_free(clsde_safetensors *st);

/* Index of the tensor called `name`, or -1. O(log n). */
int32_t clsde_safetensors_find(const clsde_safetensors *st, const char *name);
/* Value of metadata `key`, or NULL. */
const char *clsde_safetensors_meta(const clsde_safetensors *st, const char *key);

/* Format "[128,64,3,3]" into out (size n); returns out. */
char *clsde_shape_str(const int64_t *shape, int32_t ndim, char *out, size_t n);

/* One tensor to write: data holds numel * dtype size bytes, little-endian, C order. */
typedef struct clsde_st_write_tensor {
    const char *name;
    clsde_dtype dtype;
    int32_t ndim;
    const int64_t *shape; /* [ndim] */
    const void *data;
} clsde_st_write_tensor;

/* One metadata entry to write. */
typedef struct clsde_st_kv {
    const char *key, *value;
} clsde_st_kv;

/* Write a .safetensors file atomically: a temporary file in the same directory (created
 * with mode 0666 & ~umask), fsync, then rename over `path`; on failure nothing is left
 * behind and an existing `path` is untouched. Tensors go in the given order, contiguous;
 * the header is padded with spaces to a multiple of 8 bytes so that the data is aligned.
 * meta: n_meta key/value strings (may be NULL when n_meta is 0). The host must be
 * little-endian (CLSDE_ERR_UNSUPPORTED otherwise).
 * CLSDE_ERR_ARG (bad names, shapes, duplicates), CLSDE_ERR_IO, CLSDE_ERR_NOMEM. Blocks. */
clsde_status clsde_safetensors_write(clsde_context *ctx, const char *path,
                                     const clsde_st_write_tensor *tensors, int32_t n_tensors,
                                     const clsde_st_kv *meta, int32_t n_meta);

#endif /* CLSDE_SAFETENSORS_H */
