/*
 * runtime.c — OpenCL platforms, devices, the context and its queue, buffers.
 * The only file that creates OpenCL objects other than programs and kernels
 * (program.c) — every other module works through a clsde_context.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "program.h"
#include "runtime.h"
#include "tune.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

static const char no_platform_msg[] =
    "no OpenCL platform found: install an OpenCL driver, e.g. for the CPU "
    "`apt-get install pocl-opencl-icd ocl-icd-libopencl1` (PoCL also needs /sys mounted)";

/* All devices over all platforms in order; the global index is the position. */
static clsde_status list_devices(cl_platform_id *plats, cl_device_id *devs,
                                 int32_t *n_devices)
{
    cl_platform_id p[MAX_PLATFORMS];
    cl_uint np = 0;
    const cl_int e = clGetPlatformIDs(MAX_PLATFORMS, p, &np);
    *n_devices = 0;
    if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (e == CL_SUCCESS && np == 0))
        return clsde_error_set(NULL, CLSDE_ERR_NO_PLATFORM, "%s", no_platform_msg);
    if (e != CL_SUCCESS)
        return clsde_error_set(NULL, CLSDE_ERR_OPENCL, "clGetPlatformIDs: %s (%d)",
                               clsde_cl_errname(e), (int)e);
    for (cl_uint i = 0; i < np && i < MAX_PLATFORMS; i++) {
        cl_device_id d[MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(p[i], CL_DEVICE_TYPE_ALL, MAX_DEVICES, d, &nd) != CL_SUCCESS)
            continue; /* a platform without devices is not an error */
        for (cl_uint j = 0; j < nd && *n_devices < MAX_DEVICES; j++) {
            if (plats) plats[*n_devices] = p[i];
            if (devs) devs[*n_devices] = d[j];
            (*n_devices)++;
        }
    }
    return CLSDE_OK;
}

clsde_status clsde_device_count(int32_t *count)
{
    CLSDE_FAIL_IF(!count, NULL, CLSDE_ERR_ARG, "clsde_device_count: count is NULL");
    return list_devices(NULL, NULL, count);
}

clsde_status clsde_runtime_device(int32_t index, cl_platform_id *platform, cl_device_id *device)
{
    cl_platform_id plats[MAX_DEVICES];
    cl_device_id devs[MAX_DEVICES];
    int32_t n;
    CLSDE_TRY(list_devices(plats, devs, &n));
    CLSDE_FAIL_IF(n == 0, NULL, CLSDE_ERR_NO_DEVICE,
                  "OpenCL platforms are installed but report no device");
    CLSDE_FAIL_IF(index < 0 || index >= n, NULL, CLSDE_ERR_NO_DEVICE,
                  "device index %d out of range: there %s %d device%s (0..%d); "
                  "`clsde devices` lists them",
                  (int)index, n == 1 ? "is" : "are", (int)n, n == 1 ? "" : "s", (int)n - 1);
    *platform = plats[index];
    *device = devs[index];
    return CLSDE_OK;
}

static void get_str(cl_device_id d, cl_device_info what, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    if (clGetDeviceInfo(d, what, n, out, &len) != CL_SUCCESS) {
        char big[4096];
        if (clGetDeviceInfo(d, what, sizeof big, big, &len) == CL_SUCCESS)
            snprintf(out, n, "%s", big);
        else
            out[0] = '\0';
    }
    out[n - 1] = '\0';
    /* trim trailing blanks some drivers append */
    for (size_t l = strlen(out); l > 0 && isspace((unsigned char)out[l - 1]); l--)
        out[l - 1] = '\0';
}

clsde_status clsde_runtime_query(cl_platform_id platform, cl_device_id d, int32_t index,
                                 clsde_device_info *info)
{
    char ext[8192];
    cl_device_type type = 0;
    cl_uint cu = 0, vw = 0;
    cl_ulong gmem = 0, maxalloc = 0, lmem = 0;
    size_t wg = 0, len = 0;

    memset(info, 0, sizeof *info);
    info->index = index;
    if (clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof info->platform, info->platform,
                          NULL) != CL_SUCCESS)
        info->platform[0] = '\0';
    info->platform[sizeof info->platform - 1] = '\0';
    get_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    get_str(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_str(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
            sizeof info->opencl_c_version);
    CLSDE_CL(NULL, clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL),
             "clGetDeviceInfo(CL_DEVICE_TYPE)");
    info->type = (type & CL_DEVICE_TYPE_GPU)           ? CLSDE_DEVICE_GPU
                 : (type & CL_DEVICE_TYPE_CPU)         ? CLSDE_DEVICE_CPU
                 : (type & CL_DEVICE_TYPE_ACCELERATOR) ? CLSDE_DEVICE_ACCELERATOR
                                                       : CLSDE_DEVICE_OTHER;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxalloc, &maxalloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vw, &vw, NULL);
    info->compute_units = (int32_t)cu;
    info->global_mem_bytes = (int64_t)gmem;
    info->max_alloc_bytes = (int64_t)maxalloc;
    info->local_mem_bytes = (int64_t)lmem;
    info->max_work_group_size = (int32_t)wg;
    info->preferred_vector_width_float = (int32_t)vw;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, sizeof ext, ext, &len) == CL_SUCCESS) {
        ext[sizeof ext - 1] = '\0';
        info->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
        info->fp64 = strstr(ext, "cl_khr_fp64") != NULL;
    }
    return CLSDE_OK;
}

clsde_status clsde_device_get_info(int32_t index, clsde_device_info *info)
{
    cl_platform_id p;
    cl_device_id d;
    CLSDE_FAIL_IF(!info, NULL, CLSDE_ERR_ARG, "clsde_device_get_info: info is NULL");
    CLSDE_TRY(clsde_runtime_device(index, &p, &d));
    return clsde_runtime_query(p, d, index, info);
}

static int contains_nocase(const char *hay, const char *needle)
{
    const size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return n == 0;
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

clsde_status clsde_device_select(const char *selector, int32_t *index)
{
    int32_t n;
    const char *source = "--device";
    CLSDE_FAIL_IF(!index, NULL, CLSDE_ERR_ARG, "clsde_device_select: index is NULL");
    if (!selector || !*selector) {
        selector = getenv("CLSDE_DEVICE");
        source = "CLSDE_DEVICE";
    }
    CLSDE_TRY(clsde_device_count(&n));
    CLSDE_FAIL_IF(n == 0, NULL, CLSDE_ERR_NO_DEVICE,
                  "OpenCL platforms are installed but report no device");

    if (!selector || !*selector) {
        int32_t first_cpu = -1;
        for (int32_t i = 0; i < n; i++) {
            clsde_device_info info;
            CLSDE_TRY(clsde_device_get_info(i, &info));
            if (info.type == CLSDE_DEVICE_GPU) {
                *index = i;
                return CLSDE_OK;
            }
            if (info.type == CLSDE_DEVICE_CPU && first_cpu < 0) first_cpu = i;
        }
        *index = first_cpu >= 0 ? first_cpu : 0;
        return CLSDE_OK;
    }

    if (all_digits(selector)) {
        const long v = strtol(selector, NULL, 10);
        CLSDE_FAIL_IF(v >= n, NULL, CLSDE_ERR_NO_DEVICE,
                      "%s %s: no device with that index; there %s %d device%s (0..%d), "
                      "`clsde devices` lists them",
                      source, selector, n == 1 ? "is" : "are", (int)n, n == 1 ? "" : "s",
                      (int)n - 1);
        *index = (int32_t)v;
        return CLSDE_OK;
    }

    {
        char names[2048] = "";
        for (int32_t i = 0; i < n; i++) {
            clsde_device_info info;
            char full[300];
            CLSDE_TRY(clsde_device_get_info(i, &info));
            snprintf(full, sizeof full, "%s %s", info.platform, info.name);
            if (contains_nocase(full, selector)) {
                *index = i;
                return CLSDE_OK;
            }
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%d: %s",
                     i ? "; " : "", (int)i, full);
        }
        return clsde_error_set(NULL, CLSDE_ERR_NO_DEVICE,
                               "%s '%s' matches no device name (devices: %s)", source, selector,
                               names);
    }
}

void clsde_runtime_cache_dir(const clsde_context_params *params, char *out, size_t n)
{
    const char *env;
    out[0] = '\0';
    if (params->no_cache) return;
    if (params->cache_dir && *params->cache_dir) {
        snprintf(out, n, "%s", params->cache_dir);
    } else if ((env = getenv("CLSDE_CACHE_DIR")) && *env) {
        snprintf(out, n, "%s", env);
    } else if ((env = getenv("XDG_CACHE_HOME")) && *env) {
        snprintf(out, n, "%s/clsde", env);
    } else if ((env = getenv("HOME")) && *env) {
        snprintf(out, n, "%s/.cache/clsde", env);
    }
}

void clsde_context_params_default(clsde_context_params *params)
{
    if (!params) return;
    memset(params, 0, sizeof *params);
    params->log_level = CLSDE_LOG_INFO;
}

clsde_status clsde_context_create(const clsde_context_params *params, clsde_context **out)
{
    clsde_context_params defaults;
    clsde_context *ctx = NULL;
    clsde_status st = CLSDE_OK;
    int32_t index;
    cl_int e;
    cl_uint align_bits = 0;

    CLSDE_FAIL_IF(!out, NULL, CLSDE_ERR_ARG, "clsde_context_create: ctx is NULL");
    *out = NULL;
    if (!params) {
        clsde_context_params_default(&defaults);
        params = &defaults;
    }
    CLSDE_TRY(clsde_device_select(params->device, &index));

    ctx = calloc(1, sizeof *ctx);
    CLSDE_FAIL_IF(!ctx, NULL, CLSDE_ERR_NOMEM, "out of memory creating a context");
    ctx->log = params->log;
    ctx->log_user = params->log_user;
    ctx->log_level = params->log_level;
    ctx->profiling = params->profiling != 0;
    clsde_runtime_cache_dir(params, ctx->cache_dir, sizeof ctx->cache_dir);
    if (!params->no_cache && !ctx->cache_dir[0])
        clsde_log(ctx, CLSDE_LOG_WARNING,
                  "no cache directory (HOME, XDG_CACHE_HOME and CLSDE_CACHE_DIR unset): "
                  "kernels are compiled on every start");

    st = clsde_runtime_device(index, &ctx->platform, &ctx->device);
    if (st != CLSDE_OK) goto fail;
    st = clsde_runtime_query(ctx->platform, ctx->device, index, &ctx->info);
    if (st != CLSDE_OK) goto fail;
    clGetDeviceInfo(ctx->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits,
                    NULL);
    ctx->mem_base_align_bytes = align_bits >= 8 ? align_bits / 8 : 128;
    {
        cl_device_fp_config fp = 0;
        if (clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) ==
            CL_SUCCESS)
            ctx->fp32_exact_div_sqrt = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    }

    ctx->cl = clCreateContext(NULL, 1, &ctx->device, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        st = clsde_error_set(NULL, CLSDE_ERR_OPENCL, "clCreateContext on '%s': %s (%d)",
                             ctx->info.name, clsde_cl_errname(e), (int)e);
        goto fail;
    }
    ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device,
                                      ctx->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &e);
    if (e != CL_SUCCESS) {
        st = clsde_error_set(NULL, CLSDE_ERR_OPENCL, "clCreateCommandQueue on '%s': %s (%d)",
                             ctx->info.name, clsde_cl_errname(e), (int)e);
        goto fail;
    }
    clsde_log(ctx, CLSDE_LOG_DEBUG, "device %d: %s / %s (driver %s)", (int)index,
              ctx->info.platform, ctx->info.name, ctx->info.driver_version);
    *out = ctx;
    return CLSDE_OK;

fail:
    clsde_context_destroy(ctx);
    return st;
}

void clsde_context_destroy(clsde_context *ctx)
{
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    clsde_program_release_all(ctx);
    clsde_tune_release(ctx);
    for (int i = 0; i < CLSDE_SCRATCH_SLOTS; i++) clsde_buffer_release(ctx->scratch[i]);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl) clReleaseContext(ctx->cl);
    free(ctx);
}

clsde_status clsde_context_get_device(const clsde_context *ctx, clsde_device_info *info)
{
    CLSDE_FAIL_IF(!ctx || !info, NULL, CLSDE_ERR_ARG,
                  "clsde_context_get_device: NULL argument");
    *info = ctx->info;
    return CLSDE_OK;
}

const char *clsde_context_cache_dir(const clsde_context *ctx)
{
    return ctx ? ctx->cache_dir : "";
}

clsde_status clsde_buffer_create(clsde_context *ctx, size_t bytes, cl_mem *out)
{
    cl_int e;
    *out = NULL;
    CLSDE_FAIL_IF(bytes == 0, ctx, CLSDE_ERR_INTERNAL, "clsde_buffer_create: zero bytes");
    CLSDE_FAIL_IF((int64_t)bytes > ctx->info.max_alloc_bytes, ctx, CLSDE_ERR_DEVICE_LIMIT,
                  "a buffer of %zu bytes exceeds the device's maximum allocation of %lld bytes",
                  bytes, (long long)ctx->info.max_alloc_bytes);
    *out = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &e);
    CLSDE_FAIL_IF(e != CL_SUCCESS, ctx, CLSDE_ERR_OPENCL, "clCreateBuffer(%zu bytes): %s (%d)",
                  bytes, clsde_cl_errname(e), (int)e);
    return CLSDE_OK;
}

clsde_status clsde_buffer_write(clsde_context *ctx, cl_mem mem, size_t offset, size_t bytes,
                                const void *src)
{
    CLSDE_CL(ctx, clEnqueueWriteBuffer(ctx->queue, mem, CL_TRUE, offset, bytes, src, 0, NULL, NULL),
             "clEnqueueWriteBuffer");
    return CLSDE_OK;
}

clsde_status clsde_buffer_read(clsde_context *ctx, cl_mem mem, size_t offset, size_t bytes,
                               void *dst)
{
    CLSDE_CL(ctx, clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, offset, bytes, dst, 0, NULL, NULL),
             "clEnqueueReadBuffer");
    return CLSDE_OK;
}

clsde_status clsde_buffer_sub(clsde_context *ctx, cl_mem parent, size_t offset, size_t bytes,
                              cl_mem *out)
{
    cl_buffer_region region = {offset, bytes};
    cl_int e;
    CLSDE_FAIL_IF(offset % ctx->mem_base_align_bytes != 0, ctx, CLSDE_ERR_INTERNAL,
                  "sub-buffer offset %zu not aligned to %u bytes", offset,
                  ctx->mem_base_align_bytes);
    *out = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &e);
    CLSDE_FAIL_IF(e != CL_SUCCESS, ctx, CLSDE_ERR_OPENCL,
                  "clCreateSubBuffer(offset %zu, %zu bytes): %s (%d)", offset, bytes,
                  clsde_cl_errname(e), (int)e);
    return CLSDE_OK;
}

void clsde_buffer_release(cl_mem mem)
{
    if (mem) clReleaseMemObject(mem);
}

clsde_status clsde_buffer_check(clsde_context *ctx, const char *what, const char *name, cl_mem m,
                                int64_t count)
{
    size_t bytes = 0;
    CLSDE_FAIL_IF(!m, ctx, CLSDE_ERR_ARG, "%s: %s is NULL", what, name);
    CLSDE_CL(ctx, clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL),
             "clGetMemObjectInfo");
    CLSDE_FAIL_IF((int64_t)(bytes / sizeof(float)) < count, ctx, CLSDE_ERR_ARG,
                  "%s: %s holds %zu floats, the shape needs %lld", what, name,
                  bytes / sizeof(float), (long long)count);
    return CLSDE_OK;
}

clsde_status clsde_scratch_get(clsde_context *ctx, int slot, size_t bytes, cl_mem *out)
{
    CLSDE_FAIL_IF(slot < 0 || slot >= CLSDE_SCRATCH_SLOTS, ctx, CLSDE_ERR_INTERNAL,
                  "scratch slot %d out of range", slot);
    if (ctx->scratch_bytes[slot] < bytes) {
        clsde_buffer_release(ctx->scratch[slot]);
        ctx->scratch[slot] = NULL;
        ctx->scratch_bytes[slot] = 0;
        CLSDE_TRY(clsde_buffer_create(ctx, bytes, &ctx->scratch[slot]));
        ctx->scratch_bytes[slot] = bytes;
    }
    *out = ctx->scratch[slot];
    return CLSDE_OK;
}

double clsde_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

clsde_status clsde_finish(clsde_context *ctx)
{
    CLSDE_CL(ctx, clFinish(ctx->queue), "clFinish");
    return CLSDE_OK;
}
