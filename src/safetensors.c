/*
 * safetensors.c — .safetensors header parsing and validation, file reading, atomic writer.
 * The file is never trusted: every field is checked before it is used, and the checks are
 * those of the reference implementation (huggingface/safetensors): header at most 100 MB,
 * entries with exactly dtype/shape/data_offsets, sizes that match, byte ranges that tile
 * the data section with no overlap, hole or trailing bytes. Data is not interpreted here.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "safetensors.h"

/* Names are printed with at most this many characters: a hostile header may hold a name
 * of megabytes, and the message buffer is 4 KB. */
#define NAME "%.160s"
#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact */

static const struct {
    const char *name;
    size_t size;
} dtypes[CLSDE_DTYPE_COUNT] = {
    [CLSDE_DTYPE_BOOL] = {"BOOL", 1},       [CLSDE_DTYPE_U8] = {"U8", 1},
    [CLSDE_DTYPE_I8] = {"I8", 1},           [CLSDE_DTYPE_F8_E4M3] = {"F8_E4M3", 1},
    [CLSDE_DTYPE_F8_E5M2] = {"F8_E5M2", 1}, [CLSDE_DTYPE_I16] = {"I16", 2},
    [CLSDE_DTYPE_U16] = {"U16", 2},         [CLSDE_DTYPE_F16] = {"F16", 2},
    [CLSDE_DTYPE_BF16] = {"BF16", 2},       [CLSDE_DTYPE_I32] = {"I32", 4},
    [CLSDE_DTYPE_U32] = {"U32", 4},         [CLSDE_DTYPE_F32] = {"F32", 4},
    [CLSDE_DTYPE_I64] = {"I64", 8},         [CLSDE_DTYPE_U64] = {"U64", 8},
    [CLSDE_DTYPE_F64] = {"F64", 8},
};

const char *clsde_dtype_name(clsde_dtype dtype)
{
    return (unsigned)dtype < CLSDE_DTYPE_COUNT ? dtypes[dtype].name : "?";
}

size_t clsde_dtype_size(clsde_dtype dtype)
{
    return (unsigned)dtype < CLSDE_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

static int dtype_from_name(const char *s, clsde_dtype *out)
{
    for (int i = 0; i < CLSDE_DTYPE_COUNT; i++)
        if (!strcmp(s, dtypes[i].name)) {
            *out = (clsde_dtype)i;
            return 1;
        }
    return 0;
}

char *clsde_shape_str(const int64_t *shape, int32_t ndim, char *out, size_t n)
{
    size_t len = 0;
    if (!n) return out;
    out[0] = '\0';
    len += (size_t)snprintf(out, n, "[");
    for (int32_t i = 0; i < ndim && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (len < n) snprintf(out + len, n - len, "]");
    return out;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* A JSON number that is a non-negative integer representable exactly. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    double d;
    if (!cJSON_IsNumber(v)) return 0;
    d = v->valuedouble;
    if (!(d >= 0.0) || d > MAX_EXACT_INT || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* First control character (< 0x20 or 0x7f) of s, or 0. */
static int control_char(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return *p;
    return 0;
}

void clsde_safetensors_free(clsde_safetensors *st)
{
    if (!st) return;
    for (int32_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    for (int32_t i = 0; i < st->n_meta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->tensors);
    free(st->by_name);
    free(st->meta);
    memset(st, 0, sizeof *st);
}

clsde_status clsde_safetensors_header_len(clsde_context *ctx, const char *label,
                                          const void *prefix, size_t prefix_size,
                                          uint64_t file_size, uint64_t *header_bytes)
{
    uint64_t n;
    CLSDE_FAIL_IF(file_size < 8 || prefix_size < 8, ctx, CLSDE_ERR_FORMAT,
                  "%s: file is %llu bytes, shorter than the 8-byte header length "
                  "(truncated, or not a .safetensors file)",
                  label, (unsigned long long)file_size);
    n = le64((const unsigned char *)prefix);
    CLSDE_FAIL_IF(n > CLSDE_ST_MAX_HEADER, ctx, CLSDE_ERR_FORMAT,
                  "%s: header length %llu exceeds the 100 MB limit (corrupt, or not a "
                  ".safetensors file)",
                  label, (unsigned long long)n);
    CLSDE_FAIL_IF(n > file_size - 8, ctx, CLSDE_ERR_FORMAT,
                  "%s: header length %llu does not fit in a %llu-byte file (truncated?)", label,
                  (unsigned long long)n, (unsigned long long)file_size);
    CLSDE_FAIL_IF(n < 2, ctx, CLSDE_ERR_FORMAT,
                  "%s: header length %llu is too short for a JSON object", label,
                  (unsigned long long)n);
    *header_bytes = n;
    return CLSDE_OK;
}

static clsde_status parse_metadata(clsde_context *ctx, const char *label, const cJSON *obj,
                                   clsde_safetensors *st)
{
    int n = 0;
    const cJSON *it;
    CLSDE_FAIL_IF(!cJSON_IsObject(obj), ctx, CLSDE_ERR_FORMAT,
                  "%s: __metadata__ is not an object of strings", label);
    cJSON_ArrayForEach(it, obj) n++;
    if (!n) return CLSDE_OK;
    st->meta = calloc((size_t)n, sizeof *st->meta);
    CLSDE_FAIL_IF(!st->meta, ctx, CLSDE_ERR_NOMEM, "%s: out of memory for %d metadata entries",
                  label, n);
    cJSON_ArrayForEach(it, obj) {
        clsde_st_meta *m = &st->meta[st->n_meta];
        CLSDE_FAIL_IF(!cJSON_IsString(it) || !it->valuestring, ctx, CLSDE_ERR_FORMAT,
                      "%s: __metadata__ value of '" NAME "' is not a string", label,
                      it->string ? it->string : "");
        for (int32_t i = 0; i < st->n_meta; i++)
            CLSDE_FAIL_IF(!strcmp(st->meta[i].key, it->string), ctx, CLSDE_ERR_FORMAT,
                          "%s: __metadata__ has the key '" NAME "' twice", label, it->string);
        m->key = strdup(it->string);
        m->value = strdup(it->valuestring);
        st->n_meta++;
        CLSDE_FAIL_IF(!m->key || !m->value, ctx, CLSDE_ERR_NOMEM,
                      "%s: out of memory for metadata", label);
    }
    return CLSDE_OK;
}

/* One tensor entry: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}. */
static clsde_status parse_entry(clsde_context *ctx, const char *label, const cJSON *e,
                                uint64_t data_bytes, clsde_st_tensor *t)
{
    const char *name = t->name;
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL, *it;
    uint64_t numel = 1, need, begin, end;
    int nd = 0;
    char sh[256];

    CLSDE_FAIL_IF(!cJSON_IsObject(e), ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': entry is not an object", label, name);
    cJSON_ArrayForEach(it, e) {
        const cJSON **slot = !strcmp(it->string, "dtype")          ? &dtype
                             : !strcmp(it->string, "shape")        ? &shape
                             : !strcmp(it->string, "data_offsets") ? &offs
                                                                   : NULL;
        CLSDE_FAIL_IF(!slot, ctx, CLSDE_ERR_FORMAT,
                      "%s: tensor '" NAME "': unexpected field '" NAME
                      "' (an entry has exactly dtype, shape, data_offsets)",
                      label, name, it->string);
        CLSDE_FAIL_IF(*slot, ctx, CLSDE_ERR_FORMAT,
                      "%s: tensor '" NAME "': field '%s' appears twice", label, name,
                      it->string);
        *slot = it;
    }
    CLSDE_FAIL_IF(!dtype, ctx, CLSDE_ERR_FORMAT, "%s: tensor '" NAME "': dtype is missing",
                  label, name);
    CLSDE_FAIL_IF(!shape, ctx, CLSDE_ERR_FORMAT, "%s: tensor '" NAME "': shape is missing",
                  label, name);
    CLSDE_FAIL_IF(!offs, ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': data_offsets is missing", label, name);

    CLSDE_FAIL_IF(!cJSON_IsString(dtype) || !dtype->valuestring, ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': dtype is not a string", label, name);
    CLSDE_FAIL_IF(!dtype_from_name(dtype->valuestring, &t->dtype), ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': unknown dtype '%.32s'", label, name,
                  dtype->valuestring);

    CLSDE_FAIL_IF(!cJSON_IsArray(shape), ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': shape is not an array", label, name);
    cJSON_ArrayForEach(it, shape) {
        uint64_t d;
        CLSDE_FAIL_IF(nd >= CLSDE_ST_MAX_DIMS, ctx, CLSDE_ERR_FORMAT,
                      "%s: tensor '" NAME "': shape has more than %d dimensions", label, name,
                      CLSDE_ST_MAX_DIMS);
        CLSDE_FAIL_IF(!json_uint(it, &d), ctx, CLSDE_ERR_FORMAT,
                      "%s: tensor '" NAME "': shape[%d] is not a non-negative integer", label,
                      name, nd);
        t->shape[nd++] = (int64_t)d;
        /* numel stays <= 2^60 so that numel * 8 bytes cannot overflow either */
        CLSDE_FAIL_IF(d && numel > (UINT64_C(1) << 60) / d, ctx, CLSDE_ERR_FORMAT,
                      "%s: tensor '" NAME "': shape %s has too many elements", label, name,
                      clsde_shape_str(t->shape, nd, sh, sizeof sh));
        numel *= d;
    }
    t->ndim = nd;
    t->numel = (int64_t)numel;

    CLSDE_FAIL_IF(!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
                      !json_uint(cJSON_GetArrayItem(offs, 0), &begin) ||
                      !json_uint(cJSON_GetArrayItem(offs, 1), &end),
                  ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': data_offsets is not [begin, end] with two "
                  "non-negative integers",
                  label, name);
    CLSDE_FAIL_IF(end < begin, ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': data_offsets [%llu, %llu] ends before it begins",
                  label, name, (unsigned long long)begin, (unsigned long long)end);
    CLSDE_FAIL_IF(end > data_bytes, ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': data_offsets [%llu, %llu] reach past the end of the "
                  "file (the data section has %llu bytes; truncated?)",
                  label, name, (unsigned long long)begin, (unsigned long long)end,
                  (unsigned long long)data_bytes);
    need = numel * clsde_dtype_size(t->dtype);
    CLSDE_FAIL_IF(need != end - begin, ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "': shape %s of %s needs %llu bytes, data_offsets "
                  "[%llu, %llu] hold %llu",
                  label, name, clsde_shape_str(t->shape, nd, sh, sizeof sh),
                  clsde_dtype_name(t->dtype), (unsigned long long)need,
                  (unsigned long long)begin, (unsigned long long)end,
                  (unsigned long long)(end - begin));
    t->begin = begin;
    t->end = end;
    return CLSDE_OK;
}

static int cmp_name(const void *a, const void *b)
{
    const clsde_st_tensor *x = *(const clsde_st_tensor *const *)a;
    const clsde_st_tensor *y = *(const clsde_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_range(const void *a, const void *b)
{
    const clsde_st_tensor *x = *(const clsde_st_tensor *const *)a;
    const clsde_st_tensor *y = *(const clsde_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y; /* header order: deterministic messages */
}

/* Duplicate names (fills st->by_name) and the tiling of the data section. */
static clsde_status check_layout(clsde_context *ctx, const char *label, clsde_safetensors *st)
{
    const int32_t n = st->n_tensors;
    clsde_st_tensor **p;
    clsde_status s = CLSDE_OK;
    uint64_t at = 0;
    const clsde_st_tensor *prev = NULL;

    if (!n) {
        CLSDE_FAIL_IF(st->data_bytes, ctx, CLSDE_ERR_FORMAT,
                      "%s: the header lists no tensors but %llu data bytes follow it", label,
                      (unsigned long long)st->data_bytes);
        return CLSDE_OK;
    }
    p = malloc((size_t)n * sizeof *p);
    st->by_name = malloc((size_t)n * sizeof *st->by_name);
    if (!p || !st->by_name) {
        free(p);
        return clsde_error_set(ctx, CLSDE_ERR_NOMEM, "%s: out of memory for %d tensors", label,
                               (int)n);
    }
    for (int32_t i = 0; i < n; i++) p[i] = &st->tensors[i];
    qsort(p, (size_t)n, sizeof *p, cmp_name);
    for (int32_t i = 0; i < n; i++) {
        st->by_name[i] = (int32_t)(p[i] - st->tensors);
        if (i && !strcmp(p[i]->name, p[i - 1]->name)) {
            s = clsde_error_set(ctx, CLSDE_ERR_FORMAT, "%s: tensor name '" NAME "' appears twice",
                                label, p[i]->name);
            goto done;
        }
    }
    qsort(p, (size_t)n, sizeof *p, cmp_range);
    for (int32_t i = 0; i < n; i++) {
        const clsde_st_tensor *t = p[i];
        if (t->begin < at) {
            s = clsde_error_set(ctx, CLSDE_ERR_FORMAT,
                                "%s: tensor '" NAME "' (data bytes [%llu, %llu)) overlaps "
                                "tensor '" NAME "' (data bytes [%llu, %llu))",
                                label, t->name, (unsigned long long)t->begin,
                                (unsigned long long)t->end, prev->name,
                                (unsigned long long)prev->begin, (unsigned long long)prev->end);
            goto done;
        }
        if (t->begin > at) {
            s = clsde_error_set(ctx, CLSDE_ERR_FORMAT,
                                "%s: data bytes [%llu, %llu) before tensor '" NAME
                                "' belong to no tensor (the format forbids holes)",
                                label, (unsigned long long)at, (unsigned long long)t->begin,
                                t->name);
            goto done;
        }
        at = t->end;
        prev = t;
    }
    if (at != st->data_bytes)
        s = clsde_error_set(ctx, CLSDE_ERR_FORMAT,
                            "%s: the last %llu bytes of the file belong to no tensor (tensors "
                            "end at data byte %llu, the data section has %llu)",
                            label, (unsigned long long)(st->data_bytes - at),
                            (unsigned long long)at, (unsigned long long)st->data_bytes);
done:
    free(p);
    return s;
}

clsde_status clsde_safetensors_parse(clsde_context *ctx, const char *label, const void *buf,
                                     size_t buf_size, uint64_t file_size,
                                     clsde_safetensors *out)
{
    clsde_status st = CLSDE_OK;
    uint64_t n = 0;
    const char *hdr, *end = NULL, *nul;
    cJSON *root = NULL;
    const cJSON *it;
    int count = 0, seen_meta = 0;

    memset(out, 0, sizeof *out);
    CLSDE_TRY(clsde_safetensors_header_len(ctx, label, buf, buf_size, file_size, &n));
    CLSDE_FAIL_IF(buf_size < 8 + n, ctx, CLSDE_ERR_ARG,
                  "%s: %zu bytes given to the parser, the header needs %llu", label, buf_size,
                  (unsigned long long)(8 + n));
    hdr = (const char *)buf + 8;
    out->header_bytes = n;
    out->data_offset = 8 + n;
    out->data_bytes = file_size - 8 - n;

    nul = memchr(hdr, 0, (size_t)n);
    CLSDE_FAIL_IF(nul, ctx, CLSDE_ERR_FORMAT,
                  "%s: header is not valid JSON: NUL byte at header offset %zu", label,
                  (size_t)(nul - hdr));
    root = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    CLSDE_FAIL_IF(!root, ctx, CLSDE_ERR_FORMAT,
                  "%s: header is not valid JSON (error near header offset %zu of %llu)", label,
                  end && end >= hdr && end <= hdr + n ? (size_t)(end - hdr) : (size_t)0,
                  (unsigned long long)n);
    CLSDE_GOTO_IF(!cJSON_IsObject(root), ctx, CLSDE_ERR_FORMAT,
                  "%s: header is not a JSON object", label);
    for (const char *q = end; q && q < hdr + n; q++)
        CLSDE_GOTO_IF(*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r', ctx,
                      CLSDE_ERR_FORMAT,
                      "%s: header has bytes after its JSON object (header offset %zu)", label,
                      (size_t)(q - hdr));

    cJSON_ArrayForEach(it, root) count++;
    if (count) {
        out->tensors = calloc((size_t)count, sizeof *out->tensors);
        CLSDE_GOTO_IF(!out->tensors, ctx, CLSDE_ERR_NOMEM, "%s: out of memory for %d tensors",
                      label, count);
    }
    cJSON_ArrayForEach(it, root) {
        clsde_st_tensor *t;
        int cc;
        CLSDE_GOTO_IF(!it->string, ctx, CLSDE_ERR_FORMAT, "%s: header entry without a name",
                      label);
        if (!strcmp(it->string, "__metadata__")) {
            CLSDE_GOTO_IF(seen_meta, ctx, CLSDE_ERR_FORMAT, "%s: header has __metadata__ twice",
                          label);
            seen_meta = 1;
            CLSDE_TRY_GOTO(parse_metadata(ctx, label, it, out));
            continue;
        }
        CLSDE_GOTO_IF(!it->string[0], ctx, CLSDE_ERR_FORMAT,
                      "%s: header entry %d has an empty tensor name", label,
                      (int)out->n_tensors);
        cc = control_char(it->string);
        CLSDE_GOTO_IF(cc, ctx, CLSDE_ERR_FORMAT,
                      "%s: tensor name at header entry %d contains control character 0x%02x",
                      label, (int)out->n_tensors, cc);
        t = &out->tensors[out->n_tensors];
        t->name = strdup(it->string);
        CLSDE_GOTO_IF(!t->name, ctx, CLSDE_ERR_NOMEM, "%s: out of memory", label);
        out->n_tensors++;
        CLSDE_TRY_GOTO(parse_entry(ctx, label, it, out->data_bytes, t));
    }
    cJSON_Delete(root);
    root = NULL;
    CLSDE_TRY_GOTO(check_layout(ctx, label, out));
    return CLSDE_OK;

fail:
    cJSON_Delete(root);
    clsde_safetensors_free(out);
    return st;
}

int32_t clsde_safetensors_find(const clsde_safetensors *st, const char *name)
{
    int32_t lo = 0, hi = st->n_tensors - 1;
    if (!st->by_name) return -1;
    while (lo <= hi) {
        const int32_t mid = lo + (hi - lo) / 2;
        const int32_t idx = st->by_name[mid];
        const int c = strcmp(st->tensors[idx].name, name);
        if (!c) return idx;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

const char *clsde_safetensors_meta(const clsde_safetensors *st, const char *key)
{
    for (int32_t i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
    return NULL;
}

/* ---------------------------------------------------------------- file input */

/* Read exactly n bytes; 0 on success, else errno (or -1 at end of file). */
static int read_full(int fd, void *dst, uint64_t n)
{
    unsigned char *p = dst;
    while (n) {
        const size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        const ssize_t r = read(fd, p, chunk);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (r == 0) return -1;
        p += r;
        n -= (uint64_t)r;
    }
    return 0;
}

clsde_status clsde_safetensors_read_file(clsde_context *ctx, const char *path,
                                         const char *label, clsde_safetensors *out,
                                         void **data)
{
    clsde_status st = CLSDE_OK;
    unsigned char *hdr = NULL;
    void *body = NULL;
    struct stat sb;
    uint64_t n = 0, size;
    unsigned char prefix[8];
    int fd, r = 0;

    memset(out, 0, sizeof *out);
    *data = NULL;
    if (!label) label = path;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    CLSDE_FAIL_IF(fd < 0, ctx, CLSDE_ERR_IO, "%s: cannot open: %s", label, strerror(errno));
    CLSDE_GOTO_IF(fstat(fd, &sb) != 0, ctx, CLSDE_ERR_IO, "%s: cannot stat: %s", label,
                  strerror(errno));
    CLSDE_GOTO_IF(!S_ISREG(sb.st_mode), ctx, CLSDE_ERR_IO, "%s: not a regular file", label);
    size = (uint64_t)sb.st_size;
    if (size >= 8 && (r = read_full(fd, prefix, 8))) goto read_error;
    CLSDE_TRY_GOTO(clsde_safetensors_header_len(ctx, label, prefix, size >= 8 ? 8 : 0, size, &n));
    hdr = malloc((size_t)(8 + n));
    CLSDE_GOTO_IF(!hdr, ctx, CLSDE_ERR_NOMEM, "%s: out of memory for a %llu-byte header", label,
                  (unsigned long long)n);
    memcpy(hdr, prefix, 8);
    if ((r = read_full(fd, hdr + 8, n))) goto read_error;
    CLSDE_TRY_GOTO(clsde_safetensors_parse(ctx, label, hdr, (size_t)(8 + n), size, out));
    if (out->data_bytes) {
        const uint64_t alloc = (out->data_bytes + 63) & ~(uint64_t)63;
        if (alloc >= out->data_bytes && alloc <= SIZE_MAX) body = aligned_alloc(64, (size_t)alloc);
        CLSDE_GOTO_IF(!body, ctx, CLSDE_ERR_NOMEM,
                      "%s: out of memory for %llu bytes of tensor data", label,
                      (unsigned long long)out->data_bytes);
        if ((r = read_full(fd, body, out->data_bytes))) goto read_error;
    }
    free(hdr);
    close(fd);
    *data = body;
    return CLSDE_OK;

read_error:
    st = r < 0 ? clsde_error_set(ctx, CLSDE_ERR_IO,
                                 "%s: unexpected end of file while reading (was the file "
                                 "changed while it was read?)",
                                 label)
               : clsde_error_set(ctx, CLSDE_ERR_IO, "%s: read failed: %s", label, strerror(r));
fail:
    clsde_safetensors_free(out);
    free(hdr);
    free(body);
    close(fd);
    return st;
}

/* ---------------------------------------------------------------- writer */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *q;
        while (cap < b->len + n + 1) cap *= 2;
        if (!(q = realloc(b->p, cap))) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) CLSDE_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslashes and control characters escaped. */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            const char esc[2] = {'\\', (char)*p};
            sb_put(b, esc, 2);
        } else if (*p < 0x20) {
            sb_printf(b, "\\u%04x", *p);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int write_full(int fd, const void *src, uint64_t n)
{
    const unsigned char *p = src;
    while (n) {
        const size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        const ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        p += w;
        n -= (uint64_t)w;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Check the tensors and compute their byte sizes into bytes[]. */
static clsde_status check_write(clsde_context *ctx, const char *path,
                                const clsde_st_write_tensor *t, int32_t n, uint64_t *bytes)
{
    const char **names;
    char sh[256];
    for (int32_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        CLSDE_FAIL_IF(!t[i].name || !t[i].name[0] || control_char(t[i].name) ||
                          !strcmp(t[i].name, "__metadata__"),
                      ctx, CLSDE_ERR_ARG, "%s: tensor %d has an invalid name", path, (int)i);
        CLSDE_FAIL_IF((unsigned)t[i].dtype >= CLSDE_DTYPE_COUNT, ctx, CLSDE_ERR_ARG,
                      "%s: tensor '" NAME "': invalid dtype %d", path, t[i].name,
                      (int)t[i].dtype);
        CLSDE_FAIL_IF(t[i].ndim < 0 || t[i].ndim > CLSDE_ST_MAX_DIMS ||
                          (t[i].ndim && !t[i].shape),
                      ctx, CLSDE_ERR_ARG, "%s: tensor '" NAME "': invalid rank %d", path,
                      t[i].name, (int)t[i].ndim);
        for (int32_t d = 0; d < t[i].ndim; d++) {
            const int64_t v = t[i].shape[d];
            CLSDE_FAIL_IF(v < 0 || (v && numel > (UINT64_C(1) << 50) / (uint64_t)v), ctx,
                          CLSDE_ERR_ARG, "%s: tensor '" NAME "': invalid shape %s", path,
                          t[i].name, clsde_shape_str(t[i].shape, t[i].ndim, sh, sizeof sh));
            numel *= (uint64_t)v;
        }
        bytes[i] = numel * clsde_dtype_size(t[i].dtype);
        CLSDE_FAIL_IF(bytes[i] && !t[i].data, ctx, CLSDE_ERR_ARG,
                      "%s: tensor '" NAME "': data is NULL", path, t[i].name);
    }
    if (n < 2) return CLSDE_OK;
    names = malloc((size_t)n * sizeof *names);
    CLSDE_FAIL_IF(!names, ctx, CLSDE_ERR_NOMEM, "%s: out of memory", path);
    for (int32_t i = 0; i < n; i++) names[i] = t[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int32_t i = 1; i < n; i++)
        if (!strcmp(names[i], names[i - 1])) {
            const clsde_status s = clsde_error_set(
                ctx, CLSDE_ERR_ARG, "%s: tensor name '" NAME "' given twice", path, names[i]);
            free(names);
            return s;
        }
    free(names);
    return CLSDE_OK;
}

clsde_status clsde_safetensors_write(clsde_context *ctx, const char *path,
                                     const clsde_st_write_tensor *tensors, int32_t n_tensors,
                                     const clsde_st_kv *meta, int32_t n_meta)
{
    clsde_status st = CLSDE_OK;
    sbuf h = {0};
    uint64_t *bytes = NULL, off = 0;
    char *tmp = NULL;
    unsigned char len8[8];
    int fd = -1, created = 0, err;

    CLSDE_FAIL_IF(!path || n_tensors < 0 || (n_tensors && !tensors) || n_meta < 0 ||
                      (n_meta && !meta),
                  ctx, CLSDE_ERR_ARG, "safetensors write: invalid arguments");
    CLSDE_FAIL_IF(!host_little_endian(), ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: writing .safetensors on a big-endian host is not supported", path);
    bytes = calloc((size_t)n_tensors + 1, sizeof *bytes);
    CLSDE_GOTO_IF(!bytes, ctx, CLSDE_ERR_NOMEM, "%s: out of memory", path);
    CLSDE_TRY_GOTO(check_write(ctx, path, tensors, n_tensors, bytes));

    sb_put(&h, "{", 1);
    if (n_meta) {
        sb_put(&h, "\"__metadata__\":{", 16);
        for (int32_t i = 0; i < n_meta; i++) {
            CLSDE_GOTO_IF(!meta[i].key || !meta[i].value, ctx, CLSDE_ERR_ARG,
                          "%s: metadata entry %d is NULL", path, (int)i);
            if (i) sb_put(&h, ",", 1);
            sb_json_str(&h, meta[i].key);
            sb_put(&h, ":", 1);
            sb_json_str(&h, meta[i].value);
        }
        sb_put(&h, "}", 1);
    }
    for (int32_t i = 0; i < n_tensors; i++) {
        const clsde_st_write_tensor *t = &tensors[i];
        if (i || n_meta) sb_put(&h, ",", 1);
        sb_json_str(&h, t->name);
        sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", clsde_dtype_name(t->dtype));
        for (int32_t d = 0; d < t->ndim; d++)
            sb_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        sb_printf(&h, "],\"data_offsets\":[%llu,", (unsigned long long)off);
        off += bytes[i];
        sb_printf(&h, "%llu]}", (unsigned long long)off);
    }
    sb_put(&h, "}", 1);
    while (!h.oom && (8 + h.len) % 8) sb_put(&h, " ", 1); /* data starts 8-byte aligned */
    CLSDE_GOTO_IF(h.oom, ctx, CLSDE_ERR_NOMEM, "%s: out of memory for the header", path);
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));

    tmp = malloc(strlen(path) + 64);
    CLSDE_GOTO_IF(!tmp, ctx, CLSDE_ERR_NOMEM, "%s: out of memory", path);
    for (unsigned k = 0; fd < 0; k++) {
        snprintf(tmp, strlen(path) + 64, "%s.tmp%ld.%u", path, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        CLSDE_GOTO_IF(fd < 0 && (errno != EEXIST || k > 1000), ctx, CLSDE_ERR_IO,
                      "%s: cannot create a temporary file beside it: %s", path,
                      strerror(errno));
    }
    created = 1;
    err = write_full(fd, len8, 8);
    if (!err) err = write_full(fd, h.p, h.len);
    for (int32_t i = 0; i < n_tensors && !err; i++)
        err = write_full(fd, tensors[i].data, bytes[i]);
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    fd = -1;
    CLSDE_GOTO_IF(err, ctx, CLSDE_ERR_IO, "%s: write failed: %s", path, strerror(err));
    CLSDE_GOTO_IF(rename(tmp, path) != 0, ctx, CLSDE_ERR_IO, "%s: cannot rename %s to it: %s",
                  path, tmp, strerror(errno));
    free(tmp);
    free(bytes);
    free(h.p);
    return CLSDE_OK;

fail:
    if (fd >= 0) close(fd);
    if (created) unlink(tmp);
    free(tmp);
    free(bytes);
    free(h.p);
    return st;
}
