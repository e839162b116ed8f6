/*
 * runtime.h — the context: OpenCL platform, device, context and one in-order queue.
 * runtime.c is the only file that sets up OpenCL; everything else receives a
 * clsde_context and uses its queue.
 */
#ifndef CLSDE_RUNTIME_H
#define CLSDE_RUNTIME_H

#include "error.h"

#define CLSDE_MSG_MAX 4096
#define CLSDE_PATH_MAX 4096

struct clsde_program_entry; /* program.c */
struct clsde_tune_state;    /* tune.c */

#define CLSDE_SCRATCH_SLOTS 2

struct clsde_context {
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    clsde_device_info info;
    cl_uint mem_base_align_bytes; /* CL_DEVICE_MEM_BASE_ADDR_ALIGN / 8: sub-buffer alignment */
    int fp32_exact_div_sqrt;      /* CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT: programs get
                                     -cl-fp32-correctly-rounded-divide-sqrt (program.c) */

    char cache_dir[CLSDE_PATH_MAX]; /* "" when the cache is off */
    int cache_warned;               /* the cache problem was already logged once */

    clsde_log_fn log;
    void *log_user;
    clsde_log_level log_level;
    int profiling;

    struct clsde_program_entry *programs; /* built programs, see program.c */
    int n_programs, cap_programs;
    clsde_build_stats build_stats;

    struct clsde_tune_state *tune; /* the tune table, loaded on first use (tune.c) */
    cl_mem scratch[CLSDE_SCRATCH_SLOTS]; /* workspaces of kernel wrappers, grown on demand */
    size_t scratch_bytes[CLSDE_SCRATCH_SLOTS];

    clsde_status last_status;
    char errmsg[CLSDE_MSG_MAX];
};

/* Platform/device lookup by global index (over all platforms, in platform order). */
clsde_status clsde_runtime_device(int32_t index, cl_platform_id *platform, cl_device_id *device);

/* Fill a clsde_device_info for a device. */
clsde_status clsde_runtime_query(cl_platform_id platform, cl_device_id device, int32_t index,
                                 clsde_device_info *info);

/* Buffer helpers (blocking transfers on the context's queue). */
clsde_status clsde_buffer_create(clsde_context *ctx, size_t bytes, cl_mem *out);
clsde_status clsde_buffer_write(clsde_context *ctx, cl_mem mem, size_t offset, size_t bytes,
                                const void *src);
clsde_status clsde_buffer_read(clsde_context *ctx, cl_mem mem, size_t offset, size_t bytes,
                               void *dst);
/* A sub-buffer [offset, offset + bytes) of `parent`; offset must be aligned to
 * ctx->mem_base_align_bytes. */
clsde_status clsde_buffer_sub(clsde_context *ctx, cl_mem parent, size_t offset, size_t bytes,
                              cl_mem *out);
void clsde_buffer_release(cl_mem mem);
/* A kernel operand: `m` is not NULL and holds at least `count` floats; else CLSDE_ERR_ARG
 * with "<what>: <name> is NULL" or "<what>: <name> holds N floats, the shape needs M". */
clsde_status clsde_buffer_check(clsde_context *ctx, const char *what, const char *name, cl_mem m,
                                int64_t count);
/* Workspace `slot` (0 .. CLSDE_SCRATCH_SLOTS-1) of at least `bytes`, owned by the context
 * and kept until it is destroyed; grown (reallocated) when too small. One in-order queue,
 * so work already enqueued on the old buffer still completes. A wrapper uses a slot only
 * for the duration of its own enqueues. */
clsde_status clsde_scratch_get(clsde_context *ctx, int slot, size_t bytes, cl_mem *out);
clsde_status clsde_finish(clsde_context *ctx);

/* Monotonic seconds (CLOCK_MONOTONIC), for timings and progress. */
double clsde_now(void);

/* Resolve the cache directory from params and the environment into out (size n).
 * Returns 0 and writes "" when no_cache is set or no home can be found. */
void clsde_runtime_cache_dir(const clsde_context_params *params, char *out, size_t n);

#endif /* CLSDE_RUNTIME_H */
