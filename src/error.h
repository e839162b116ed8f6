/*
 * error.h — status recording and the one-line check macros used everywhere inside.
 * A failing check records a message on the context (or on the thread when the
 * context is NULL) and returns the status; see style.md §3.
 */
#ifndef CLSDE_ERROR_H
#define CLSDE_ERROR_H

#include "clsde.h"

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#if defined(__GNUC__)
#define CLSDE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLSDE_PRINTF(a, b)
#endif

/* Record `status` with a printf-style message on ctx (NULL: this thread) and return it. */
clsde_status clsde_error_set(clsde_context *ctx, clsde_status status, const char *fmt, ...)
    CLSDE_PRINTF(3, 4);
/* Prefix the message already recorded with "what: " (adds context on the way up). */
clsde_status clsde_error_prefix(clsde_context *ctx, clsde_status status, const char *fmt, ...)
    CLSDE_PRINTF(3, 4);
/* Clear the recorded message. */
void clsde_error_clear(clsde_context *ctx);
/* Copy the thread's message onto ctx (used when a context-free call failed). */
void clsde_error_adopt(clsde_context *ctx);

/* Name of an OpenCL error code, e.g. "CL_OUT_OF_RESOURCES". */
const char *clsde_cl_errname(cl_int err);

/* Send a message to the context's logger (if any, and if the level passes). */
void clsde_log(const clsde_context *ctx, clsde_log_level level, const char *fmt, ...)
    CLSDE_PRINTF(3, 4);

#define CLSDE_FAIL_IF(cond, ctx, status, ...)                                        \
    do {                                                                              \
        if (cond) return clsde_error_set((ctx), (status), __VA_ARGS__);              \
    } while (0)

#define CLSDE_TRY(expr)                                                               \
    do {                                                                              \
        const clsde_status try_s_ = (expr);                                           \
        if (try_s_ != CLSDE_OK) return try_s_;                                        \
    } while (0)

#define CLSDE_CL(ctx, call, what)                                                     \
    do {                                                                              \
        const cl_int cl_e_ = (call);                                                  \
        if (cl_e_ != CL_SUCCESS)                                                      \
            return clsde_error_set((ctx), CLSDE_ERR_OPENCL, "%s: %s (%d)", (what),    \
                                   clsde_cl_errname(cl_e_), (int)cl_e_);              \
    } while (0)

/* Variants for functions with one `fail:` label and a `clsde_status st` variable. */
#define CLSDE_GOTO_IF(cond, ctx, status, ...)                                        \
    do {                                                                              \
        if (cond) {                                                                   \
            st = clsde_error_set((ctx), (status), __VA_ARGS__);                      \
            goto fail;                                                                \
        }                                                                             \
    } while (0)

#define CLSDE_TRY_GOTO(expr)                                                          \
    do {                                                                              \
        st = (expr);                                                                  \
        if (st != CLSDE_OK) goto fail;                                                \
    } while (0)

#define CLSDE_CL_GOTO(ctx, call, what)                                                \
    do {                                                                              \
        const cl_int cl_e_ = (call);                                                  \
        if (cl_e_ != CL_SUCCESS) {                                                    \
            st = clsde_error_set((ctx), CLSDE_ERR_OPENCL, "%s: %s (%d)", (what),      \
                                 clsde_cl_errname(cl_e_), (int)cl_e_);                \
            goto fail;                                                                \
        }                                                                             \
    } while (0)

#endif /* CLSDE_ERROR_H */
