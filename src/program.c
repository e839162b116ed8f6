/*
 * program.c — build programs from embedded source, keep them per context, and cache
 * their binaries on disk (see program.h for the key and the entry format).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "program.h"
#include "sha256.h"

#define CACHE_MAGIC "CLSDEBIN"
#define CACHE_FORMAT 1u
#define MAX_KERNELS 48

/* Options every program gets. No fast-math: the spec needs accurate sin/cos/exp. Where the
 * device can, float division and sqrt are correctly rounded, as in C and in the reference's
 * PyTorch (CUDA's default too): OpenCL otherwise allows 2.5 ulp (division) and 3 ulp (sqrt),
 * which NVIDIA's compiler takes (seen on an H200: the checker's exact division failed). */
static const char base_options[] = "-cl-std=CL1.2";
static const char exact_div_sqrt[] = " -cl-fp32-correctly-rounded-divide-sqrt";

typedef struct kernel_slot {
    char name[64];
    cl_kernel k;
} kernel_slot;

struct clsde_program_entry {
    char file[64];
    char *options;
    cl_program prog;
    kernel_slot kernels[MAX_KERNELS];
    int n_kernels;
};

const clsde_cl_source *clsde_cl_source_find(const char *file)
{
    for (int i = 0; i < clsde_cl_source_count; i++)
        if (strcmp(clsde_cl_sources[i].name, file) == 0) return &clsde_cl_sources[i];
    return NULL;
}

static char *compose_source(const clsde_cl_source *src)
{
    const clsde_cl_source *common = clsde_cl_source_find("common.cl");
    const char *ctext = common ? common->text : "";
    const size_t n = strlen(ctext) + strlen(src->text) + strlen(src->name) + 64;
    char *s = malloc(n);
    if (!s) return NULL;
    snprintf(s, n, "#line 1 \"common.cl\"\n%s\n#line 1 \"%s\"\n%s", ctext, src->name, src->text);
    return s;
}

static char *full_options(const clsde_context *ctx, const char *options)
{
    const char *exact = ctx->fp32_exact_div_sqrt ? exact_div_sqrt : "";
    const size_t n = sizeof base_options + strlen(exact) + (options ? strlen(options) : 0) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s%s", base_options, exact, options && *options ? " " : "",
                    options ? options : "");
    return s;
}

void clsde_program_cache_key(const clsde_context *ctx, const char *source, const char *options,
                             char hex[65])
{
    clsde_sha256_ctx s;
    uint8_t d[32];
    const uint32_t fmt = CACHE_FORMAT;
    clsde_sha256_init(&s);
    clsde_sha256_update(&s, &fmt, sizeof fmt);
    clsde_sha256_update(&s, source, strlen(source) + 1);
    clsde_sha256_update(&s, options, strlen(options) + 1);
    clsde_sha256_update(&s, ctx->info.platform, strlen(ctx->info.platform) + 1);
    clsde_sha256_update(&s, ctx->info.name, strlen(ctx->info.name) + 1);
    clsde_sha256_update(&s, ctx->info.driver_version, strlen(ctx->info.driver_version) + 1);
    clsde_sha256_final(&s, d);
    clsde_sha256_hex(d, hex);
}

/* ------------------------------------------------------------ cache files */

static void cache_warn_once(clsde_context *ctx, const char *fmt, const char *a, const char *b)
{
    if (ctx->cache_warned) return;
    ctx->cache_warned = 1;
    clsde_log(ctx, CLSDE_LOG_WARNING, fmt, a, b);
}

static int mkdir_p(const char *path)
{
    char tmp[CLSDE_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Read a cache entry. Returns 1 with a malloc'ed payload, 0 if absent, -1 if corrupt. */
static int cache_read(const char *path, const char *keyhex, unsigned char **payload, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char magic[8], key[64];
    uint32_t fmt;
    uint64_t size;
    uint8_t sum[32], check[32];
    unsigned char *buf = NULL;
    int extra;

    *payload = NULL;
    if (!f) return 0;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CACHE_MAGIC, 8) != 0) goto corrupt;
    if (fread(&fmt, sizeof fmt, 1, f) != 1 || fmt != CACHE_FORMAT) goto corrupt;
    if (fread(key, 1, 64, f) != 64 || memcmp(key, keyhex, 64) != 0) goto corrupt;
    if (fread(&size, sizeof size, 1, f) != 1 || size == 0 || size > ((uint64_t)1 << 30))
        goto corrupt;
    if (fread(sum, 1, 32, f) != 32) goto corrupt;
    buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, f) != size) goto corrupt;
    extra = fgetc(f);
    if (extra != EOF) goto corrupt; /* trailing bytes: not what we wrote */
    clsde_sha256(buf, (size_t)size, check);
    if (memcmp(sum, check, 32) != 0) goto corrupt;
    fclose(f);
    *payload = buf;
    *n = (size_t)size;
    return 1;
corrupt:
    free(buf);
    fclose(f);
    return -1;
}

/* Write atomically: temp file in the same directory, fsync, rename. 0 on success. */
static int cache_write(const char *dir, const char *path, const char *keyhex,
                       const unsigned char *payload, size_t n)
{
    char tmp[CLSDE_PATH_MAX + 64];
    const uint32_t fmt = CACHE_FORMAT;
    const uint64_t size = n;
    uint8_t sum[32];
    int fd, ok;
    FILE *f;

    if (mkdir_p(dir) != 0) return -1;
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%ld-XXXXXX", dir, (long)getpid(), (long)time(NULL));
    fd = mkstemp(tmp);
    if (fd < 0) return -1;
    f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    clsde_sha256(payload, n, sum);
    ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8 && fwrite(&fmt, sizeof fmt, 1, f) == 1 &&
         fwrite(keyhex, 1, 64, f) == 64 && fwrite(&size, sizeof size, 1, f) == 1 &&
         fwrite(sum, 1, 32, f) == 32 && fwrite(payload, 1, n, f) == n;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ building */

static clsde_status build_log_error(clsde_context *ctx, cl_program prog, const char *file,
                                    const char *options, cl_int e)
{
    size_t len = 0;
    char *log = NULL;
    clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
    log = malloc(len + 1);
    if (log) {
        if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, len, log, NULL) !=
            CL_SUCCESS)
            len = 0;
        log[len] = '\0';
    }
    clsde_error_set(ctx, CLSDE_ERR_BUILD, "building %s (options '%s') failed: %s (%d)\n%s", file,
                    options, clsde_cl_errname(e), (int)e, log ? log : "(no build log)");
    free(log);
    return CLSDE_ERR_BUILD;
}

static clsde_status build_from_source(clsde_context *ctx, const char *file, const char *source,
                                      const char *options, cl_program *out)
{
    cl_int e;
    cl_program prog = clCreateProgramWithSource(ctx->cl, 1, &source, NULL, &e);
    CLSDE_FAIL_IF(e != CL_SUCCESS, ctx, CLSDE_ERR_OPENCL, "clCreateProgramWithSource(%s): %s (%d)",
                  file, clsde_cl_errname(e), (int)e);
    e = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
    if (e != CL_SUCCESS) {
        const clsde_status st = build_log_error(ctx, prog, file, options, e);
        clReleaseProgram(prog);
        return st;
    }
    *out = prog;
    return CLSDE_OK;
}

static int build_from_binary(clsde_context *ctx, const unsigned char *bin, size_t n,
                             const char *options, cl_program *out)
{
    cl_int e, bs;
    cl_program prog = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &n, &bin, &bs, &e);
    if (e != CL_SUCCESS || bs != CL_SUCCESS) {
        if (prog) clReleaseProgram(prog);
        return -1;
    }
    if (clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        return -1;
    }
    *out = prog;
    return 0;
}

static int program_binary(cl_program prog, unsigned char **bin, size_t *n)
{
    size_t size = 0;
    *bin = NULL;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
        size == 0)
        return -1;
    *bin = malloc(size);
    if (!*bin) return -1;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof *bin, bin, NULL) != CL_SUCCESS) {
        free(*bin);
        *bin = NULL;
        return -1;
    }
    *n = size;
    return 0;
}

static clsde_status obtain(clsde_context *ctx, const char *file, const char *source,
                           const char *options, cl_program *out)
{
    char key[65], path[CLSDE_PATH_MAX + 80];
    unsigned char *bin = NULL;
    size_t n = 0;
    int r;

    if (!ctx->cache_dir[0]) {
        ctx->build_stats.cache_misses++;
        return build_from_source(ctx, file, source, options, out);
    }
    clsde_program_cache_key(ctx, source, options, key);
    snprintf(path, sizeof path, "%s/%s.bin", ctx->cache_dir, key);
    r = cache_read(path, key, &bin, &n);
    if (r == 1 && build_from_binary(ctx, bin, n, options, out) == 0) {
        free(bin);
        ctx->build_stats.cache_hits++;
        return CLSDE_OK;
    }
    free(bin);
    if (r != 0) {
        /* corrupt, truncated or refused by the driver: rebuild, and say so */
        ctx->build_stats.cache_rejected++;
        clsde_log(ctx, CLSDE_LOG_WARNING, "program cache entry %s for %s is invalid; rebuilding",
                  path, file);
        unlink(path);
    }
    ctx->build_stats.cache_misses++;
    CLSDE_TRY(build_from_source(ctx, file, source, options, out));
    if (program_binary(*out, &bin, &n) != 0) {
        cache_warn_once(ctx, "program cache: the driver returned no binary for %s%s; "
                        "kernels are compiled on every start", file, "");
    } else if (cache_write(ctx->cache_dir, path, key, bin, n) != 0) {
        cache_warn_once(ctx, "program cache: cannot write to %s (%s); kernels are compiled on "
                        "every start", ctx->cache_dir, strerror(errno));
    }
    free(bin);
    return CLSDE_OK;
}

static clsde_status find_entry(clsde_context *ctx, const char *file, const char *options,
                               struct clsde_program_entry **out)
{
    const clsde_cl_source *src;
    struct clsde_program_entry *e;
    char *source = NULL, *opts = NULL;
    clsde_status st;
    double t0;

    if (!options) options = "";
    for (int i = 0; i < ctx->n_programs; i++) {
        e = &ctx->programs[i];
        if (strcmp(e->file, file) == 0 && strcmp(e->options, options) == 0) {
            *out = e;
            return CLSDE_OK;
        }
    }
    src = clsde_cl_source_find(file);
    CLSDE_FAIL_IF(!src, ctx, CLSDE_ERR_INTERNAL, "no embedded kernel source '%s'", file);
    CLSDE_FAIL_IF(strlen(file) >= sizeof e->file, ctx, CLSDE_ERR_INTERNAL,
                  "kernel file name too long: %s", file);
    if (ctx->n_programs == ctx->cap_programs) {
        const int cap = ctx->cap_programs ? 2 * ctx->cap_programs : 16;
        void *p = realloc(ctx->programs, (size_t)cap * sizeof *ctx->programs);
        CLSDE_FAIL_IF(!p, ctx, CLSDE_ERR_NOMEM, "out of memory");
        ctx->programs = p;
        ctx->cap_programs = cap;
    }
    source = compose_source(src);
    opts = full_options(ctx, options);
    CLSDE_GOTO_IF(!source || !opts, ctx, CLSDE_ERR_NOMEM, "out of memory");
    t0 = clsde_now();
    e = &ctx->programs[ctx->n_programs];
    memset(e, 0, sizeof *e);
    CLSDE_TRY_GOTO(obtain(ctx, file, source, opts, &e->prog));
    ctx->build_stats.seconds += clsde_now() - t0;
    ctx->build_stats.programs++;
    snprintf(e->file, sizeof e->file, "%s", file);
    free(opts);
    e->options = malloc(strlen(options) + 1);
    CLSDE_GOTO_IF(!e->options, ctx, CLSDE_ERR_NOMEM, "out of memory");
    strcpy(e->options, options);
    ctx->n_programs++;
    free(source);
    *out = e;
    return CLSDE_OK;
fail:
    free(source);
    free(opts);
    return st;
}

clsde_status clsde_program_get(clsde_context *ctx, const char *file, const char *options,
                               cl_program *out)
{
    struct clsde_program_entry *e;
    CLSDE_TRY(find_entry(ctx, file, options, &e));
    *out = e->prog;
    return CLSDE_OK;
}

clsde_status clsde_kernel_get(clsde_context *ctx, const char *file, const char *options,
                              const char *kernel_name, cl_kernel *out)
{
    struct clsde_program_entry *e;
    cl_int err;
    CLSDE_TRY(find_entry(ctx, file, options, &e));
    for (int i = 0; i < e->n_kernels; i++)
        if (strcmp(e->kernels[i].name, kernel_name) == 0) {
            *out = e->kernels[i].k;
            return CLSDE_OK;
        }
    CLSDE_FAIL_IF(e->n_kernels == MAX_KERNELS || strlen(kernel_name) >= 64, ctx,
                  CLSDE_ERR_INTERNAL, "too many kernels in %s", file);
    *out = clCreateKernel(e->prog, kernel_name, &err);
    CLSDE_FAIL_IF(err != CL_SUCCESS, ctx, CLSDE_ERR_OPENCL, "clCreateKernel(%s in %s): %s (%d)",
                  kernel_name, file, clsde_cl_errname(err), (int)err);
    snprintf(e->kernels[e->n_kernels].name, 64, "%s", kernel_name);
    e->kernels[e->n_kernels++].k = *out;
    return CLSDE_OK;
}

void clsde_program_release_all(clsde_context *ctx)
{
    for (int i = 0; i < ctx->n_programs; i++) {
        struct clsde_program_entry *e = &ctx->programs[i];
        for (int j = 0; j < e->n_kernels; j++) clReleaseKernel(e->kernels[j].k);
        if (e->prog) clReleaseProgram(e->prog);
        free(e->options);
    }
    free(ctx->programs);
    ctx->programs = NULL;
    ctx->n_programs = ctx->cap_programs = 0;
}

clsde_status clsde_enqueue(clsde_context *ctx, cl_kernel k, const char *what, cl_uint dims,
                           const size_t *gws, const size_t *lws)
{
    return clsde_enqueue_offset(ctx, k, what, dims, NULL, gws, lws);
}

clsde_status clsde_enqueue_offset(clsde_context *ctx, cl_kernel k, const char *what, cl_uint dims,
                                  const size_t *offset, const size_t *gws, const size_t *lws)
{
    size_t g[3];
    cl_int e;
    for (cl_uint i = 0; i < dims; i++) {
        CLSDE_FAIL_IF(gws[i] == 0, ctx, CLSDE_ERR_INTERNAL, "%s: empty global size", what);
        g[i] = lws ? clsde_round_up(gws[i], lws[i]) : gws[i];
    }
    e = clEnqueueNDRangeKernel(ctx->queue, k, dims, offset, g, lws, 0, NULL, NULL);
    CLSDE_FAIL_IF(e != CL_SUCCESS, ctx, CLSDE_ERR_OPENCL, "enqueue %s: %s (%d)", what,
                  clsde_cl_errname(e), (int)e);
    return CLSDE_OK;
}

clsde_status clsde_context_build_all(clsde_context *ctx)
{
    CLSDE_FAIL_IF(!ctx, NULL, CLSDE_ERR_ARG, "clsde_context_build_all: ctx is NULL");
    for (int i = 0; i < clsde_cl_source_count; i++) {
        cl_program p;
        if (strcmp(clsde_cl_sources[i].name, "common.cl") == 0) continue;
        CLSDE_TRY(clsde_program_get(ctx, clsde_cl_sources[i].name, "", &p));
    }
    return CLSDE_OK;
}

clsde_status clsde_context_get_build_stats(const clsde_context *ctx, clsde_build_stats *stats)
{
    CLSDE_FAIL_IF(!ctx || !stats, NULL, CLSDE_ERR_ARG,
                  "clsde_context_get_build_stats: NULL argument");
    *stats = ctx->build_stats;
    return CLSDE_OK;
}
