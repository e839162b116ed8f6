/*
 * error.c — status table, clsde_strerror, per-context and per-thread messages, logger.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "runtime.h"

static _Thread_local char thread_msg[CLSDE_MSG_MAX];

static char *msg_buf(const clsde_context *ctx)
{
    return ctx ? ((clsde_context *)ctx)->errmsg : thread_msg;
}

clsde_status clsde_error_set(clsde_context *ctx, clsde_status status, const char *fmt, ...)
{
    char *buf = msg_buf(ctx);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, CLSDE_MSG_MAX, fmt, ap);
    va_end(ap);
    if (ctx) {
        ctx->last_status = status;
        clsde_log(ctx, CLSDE_LOG_DEBUG, "error %d: %s", (int)status, buf);
    }
    return status;
}

clsde_status clsde_error_prefix(clsde_context *ctx, clsde_status status, const char *fmt, ...)
{
    char *buf = msg_buf(ctx);
    char prefix[512], old[CLSDE_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(old, sizeof old, "%s", buf);
    snprintf(buf, CLSDE_MSG_MAX, "%s: %s", prefix, old);
    if (ctx) ctx->last_status = status;
    return status;
}

void clsde_error_clear(clsde_context *ctx)
{
    msg_buf(ctx)[0] = '\0';
    if (ctx) ctx->last_status = CLSDE_OK;
}

void clsde_error_adopt(clsde_context *ctx)
{
    if (ctx) snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", thread_msg);
}

const char *clsde_last_error(const clsde_context *ctx)
{
    return msg_buf(ctx);
}

const char *clsde_strerror(clsde_status status)
{
    switch (status) {
    case CLSDE_OK: return "no error";
    case CLSDE_ERR_ARG: return "invalid argument";
    case CLSDE_ERR_NOMEM: return "out of host memory";
    case CLSDE_ERR_NO_PLATFORM: return "no OpenCL platform installed";
    case CLSDE_ERR_NO_DEVICE: return "no matching OpenCL device";
    case CLSDE_ERR_OPENCL: return "OpenCL call failed";
    case CLSDE_ERR_BUILD: return "kernel build failed";
    case CLSDE_ERR_DEVICE_LIMIT: return "request exceeds a device limit";
    case CLSDE_ERR_IO: return "file input/output error";
    case CLSDE_ERR_FORMAT: return "malformed file";
    case CLSDE_ERR_CACHE: return "program cache unusable";
    case CLSDE_ERR_UNSUPPORTED: return "not supported";
    case CLSDE_ERR_NUMERIC: return "numerical failure (NaN or Inf)";
    case CLSDE_ERR_CANCELLED: return "cancelled";
    case CLSDE_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

void clsde_log(const clsde_context *ctx, clsde_log_level level, const char *fmt, ...)
{
    char buf[CLSDE_MSG_MAX];
    va_list ap;
    if (!ctx || !ctx->log || level > ctx->log_level) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, level, buf);
}

const char *clsde_cl_errname(cl_int err)
{
    switch (err) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE)
    E(CL_COMPILER_NOT_AVAILABLE) E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES)
    E(CL_OUT_OF_HOST_MEMORY) E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP)
    E(CL_IMAGE_FORMAT_MISMATCH) E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE)
    E(CL_MAP_FAILURE) E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) E(CL_COMPILE_PROGRAM_FAILURE)
    E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE) E(CL_DEVICE_PARTITION_FAILED)
    E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE)
    E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT)
    E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
    E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) E(CL_INVALID_IMAGE_SIZE)
    E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS)
    E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
    E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX)
    E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS)
    E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
    E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST) E(CL_INVALID_EVENT)
    E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT) E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
    E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS) E(CL_INVALID_LINKER_OPTIONS)
    E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "unknown OpenCL error";
}
