/*
 * program.h — kernel programs from the embedded cl/ sources, with the on-disk binary cache.
 *
 * A program is (cl file, build options). Its source is cl/common.cl followed by the file,
 * each starting with `#line 1 "<file>"` so compiler logs name the file. A file's embedded
 * text already holds what it pulls in with `// clsde:include <file>` (cl/gemm_tile.cl into
 * conv2d.cl and conv_down_fir.cl), expanded at build time by cl/embed.py between #line
 * directives. Programs and kernels are built once per context and kept until the context is
 * destroyed.
 *
 * Cache entry: <cache_dir>/<hex key>.bin where key = SHA-256 over (format version, source,
 * options, platform name, device name, driver version); the source is the composed text,
 * included files and all, so editing one changes the key of every program that includes
 * it. The file holds a magic, the key, the payload size and the payload's SHA-256; anything
 * that does not check out is rejected, deleted, rebuilt from source and logged — never
 * trusted. Writes go to a temporary file in the same directory and are renamed into place.
 */
#ifndef CLSDE_PROGRAM_H
#define CLSDE_PROGRAM_H

#include "runtime.h"

typedef struct clsde_cl_source {
    const char *name; /* "conv2d.cl" */
    const char *text;
} clsde_cl_source;

/* Generated at build time by cl/embed.py: every .cl file of cl/, common.cl included. */
extern const clsde_cl_source clsde_cl_sources[];
extern const int clsde_cl_source_count;

/* The embedded source named `file`, or NULL. */
const clsde_cl_source *clsde_cl_source_find(const char *file);

/* The program for (file, options), built or loaded from the cache on first use. */
clsde_status clsde_program_get(clsde_context *ctx, const char *file, const char *options,
                               cl_program *out);

/* A kernel of that program; owned by the context (do not release). Not thread-safe:
 * one context is used by one thread at a time. */
clsde_status clsde_kernel_get(clsde_context *ctx, const char *file, const char *options,
                              const char *kernel_name, cl_kernel *out);

/* Release every program and kernel of the context. */
void clsde_program_release_all(clsde_context *ctx);

/* The cache key for (source, options) on the context's device, as 64 hex digits. */
void clsde_program_cache_key(const clsde_context *ctx, const char *source, const char *options,
                             char hex[65]);

/* Enqueue a kernel over `dims` dimensions. gws is rounded up to a multiple of lws
 * (lws NULL: the runtime chooses). `what` names the kernel in error messages. */
clsde_status clsde_enqueue(clsde_context *ctx, cl_kernel k, const char *what, cl_uint dims,
                           const size_t *gws, const size_t *lws);
/* The same with global ids starting at offset[i] in dimension i (offset NULL: 0): the kernel
 * sees get_global_id = offset + 0 .. gws - 1, so it can cover a slice of its buffers. */
clsde_status clsde_enqueue_offset(clsde_context *ctx, cl_kernel k, const char *what, cl_uint dims,
                                  const size_t *offset, const size_t *gws, const size_t *lws);

/* Set kernel argument i from an lvalue: CLSDE_ARG(ctx, k, i, value). */
#define CLSDE_ARG(ctx, k, i, v)                                                        \
    CLSDE_CL(ctx, clSetKernelArg((k), (i), sizeof(v), &(v)), "clSetKernelArg")

/* Round n up to a multiple of m. */
static inline size_t clsde_round_up(size_t n, size_t m)
{
    return (n + m - 1) / m * m;
}

#endif /* CLSDE_PROGRAM_H */
