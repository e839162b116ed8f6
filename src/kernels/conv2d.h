/*
 * conv2d.h — host wrappers for cl/conv2d.cl (and dense, the batched Linear).
 * All tensors NCHW float32; buffers may be sub-buffers. Unused optional buffers are NULL.
 * y must not alias x, w or res... except that y may equal res (in-place residual).
 */
#ifndef CLSDE_KERNELS_CONV2D_H
#define CLSDE_KERNELS_CONV2D_H

#include "../runtime.h"
#include "../tune.h"
#include "../ref/conv2d_ref.h"

/* x: [n, c_in, h, w]; w: [c_out, c_in, k, k] (PyTorch layout, as stored; no packing is
 * needed); bias: [c_out] iff has_bias; chan_bias: [n, c_out] iff has_chan_bias;
 * res: [n, c_out, oh, ow] iff has_residual; y: [n, c_out, oh, ow].
 * Checks the shape, the flags against the buffers and each buffer's size
 * (CLSDE_ERR_ARG with a message); only enqueues. The path and tiling come from
 * clsde_conv2d_choose: the tune table when it has this shape class, else the defaults. */
clsde_status clsde_conv2d_enqueue(clsde_context *ctx, const clsde_conv2d_params *p, cl_mem x,
                                  cl_mem w, cl_mem bias, cl_mem chan_bias, cl_mem res,
                                  cl_mem y);

/* Tiling of the implicit GEMM (the -D parameters of cl/conv2d.cl): a work-item computes
 * tm channels x tn pixels (tn/vn vectors of vn neighbouring pixels), a work-group
 * wg_m x wg_n work-items, K is staged in blocks of tk.
 * For tuning and benchmarks; the network uses clsde_conv2d_enqueue. */
typedef struct clsde_conv2d_tune {
    int32_t tm;   /* channels per work-item */
    int32_t tn;   /* pixels per work-item, a multiple of vn */
    int32_t vn;   /* vector width along pixels: 1, 2, 4, 8 or 16 */
    int32_t sm;   /* register tiles per work-item along channels */
    int32_t sn;   /* register tiles per work-item along pixels */
    int32_t tk;   /* K block per local-memory stage */
    int32_t wg_m; /* work-items per group along channels */
    int32_t wg_n; /* work-items per group along pixels */
} clsde_conv2d_tune;

/* The default tiling for this shape from the device's properties (type, compute units,
 * preferred float vector width, work-group size and local-memory limits): what
 * clsde_conv2d_enqueue uses when the tune table has no row for the shape's class. */
void clsde_conv2d_tune_default(const clsde_context *ctx, const clsde_conv2d_params *p,
                               clsde_conv2d_tune *t);

/* clsde_conv2d_enqueue with an explicit tiling (each value 1..64 except tk 1..512, vn
 * 1/2/4/8/16 dividing tn; CLSDE_ERR_ARG otherwise; CLSDE_ERR_DEVICE_LIMIT beyond the
 * device's work-group size or local memory). A new tiling builds a program. */
clsde_status clsde_conv2d_enqueue_tuned(clsde_context *ctx, const clsde_conv2d_params *p,
                                        const clsde_conv2d_tune *t, cl_mem x, cl_mem w,
                                        cl_mem bias, cl_mem chan_bias, cl_mem res, cl_mem y);

/* ---- how a convolution runs, and the tune table (src/tune.h) ---- */

/* The two paths: the implicit-GEMM kernel above with a tiling, or (when built with
 * CLBlast) im2col into a workspace, CLBlastSgemm, and an epilogue kernel. */
typedef enum clsde_conv2d_path {
    CLSDE_CONV2D_IMPLICIT = 0,
    CLSDE_CONV2D_CLBLAST = 1
} clsde_conv2d_path;

typedef struct clsde_conv2d_choice {
    clsde_conv2d_path path;
    clsde_conv2d_tune tile; /* CLSDE_CONV2D_IMPLICIT only */
} clsde_conv2d_choice;

/* The shape class, the key of a conv2d row in the tune table:
 * "k<k> s<stride> ci<C_in> co<C_out> hw<OH*OW> n<N*OH*OW>", each of the last four rounded
 * up to a power of two (so 3 channels -> ci4, 33x33 -> 16x16 output -> hw256). Shapes in
 * one class differ by less than 2x in each GEMM dimension (M = C_out, K = C_in*k*k,
 * N = batch*OH*OW) and in the image size that edge tiles depend on, which is what the
 * best tiling depends on; padding is left out (it only moves the edge tests). */
void clsde_conv2d_class(const clsde_conv2d_params *p, char *out, size_t n);

/* Parameter string of a choice, as stored in the tune table:
 *   "implicit tm=8 tn=32 vn=16 sm=16 sn=4 tk=64 wg_m=1 wg_n=1"   or   "clblast". */
void clsde_conv2d_choice_format(const clsde_conv2d_choice *c, char *out, size_t n);
/* 1 when t is a valid tiling within this device's work-group and local-memory limits. */
int clsde_conv2d_tune_fits(const clsde_context *ctx, const clsde_conv2d_tune *t);

/* Parse one; 0 on success, -1 when the string is not exactly that form (every key once,
 * values in range as clsde_conv2d_enqueue_tuned checks them, no other tokens). */
int clsde_conv2d_choice_parse(const char *s, clsde_conv2d_choice *c);

/* The choice clsde_conv2d_enqueue makes for p: the tune table's row for p's class (user
 * override first, then the device's tuned rows; tune.h), else clsde_conv2d_tune_default.
 * A row that does not parse, exceeds this device's limits or names CLBlast in a build
 * without it is not used, and says so once through the logger. *source (may be NULL):
 * where the choice came from. */
void clsde_conv2d_choose(clsde_context *ctx, const clsde_conv2d_params *p,
                         clsde_conv2d_choice *c, clsde_tune_source *source);

/* Run one choice (the tuner and the checker call this with explicit choices). */
clsde_status clsde_conv2d_enqueue_choice(clsde_context *ctx, const clsde_conv2d_params *p,
                                         const clsde_conv2d_choice *c, cl_mem x, cl_mem w,
                                         cl_mem bias, cl_mem chan_bias, cl_mem res, cl_mem y);

/* The CLBlast path: x -> im2col workspace [K, N] (K = c_in*k*k, N = n*oh*ow) ->
 * CLBlastSgemm W [c_out, K] x [K, N] -> workspace [c_out, N] -> epilogue kernel (bias,
 * chan_bias, residual in the kernel's order) -> y. The workspace is the context's scratch
 * buffers (grown on demand). CLSDE_ERR_UNSUPPORTED in a build without CLBlast
 * (clsde_tune_clblast_version says which). */
clsde_status clsde_conv2d_enqueue_clblast(clsde_context *ctx, const clsde_conv2d_params *p,
                                          cl_mem x, cl_mem w, cl_mem bias, cl_mem chan_bias,
                                          cl_mem res, cl_mem y);

/* The two kernels of the CLBlast path on their own (for the checker; any GEMM between).
 * x: [n, c_in, h, w] -> cols: [K, N] row-major, K = c_in*k*k in w's order, N = n*oh*ow
 * (zero where the window leaves the image). */
clsde_status clsde_conv2d_im2col_enqueue(clsde_context *ctx, const clsde_conv2d_params *p,
                                         cl_mem x, cl_mem cols);
/* acc: [c_out, N] (the GEMM result, separate from y and res) -> y: [n, c_out, oh, ow] with
 * conv2d's epilogue (bias, chan_bias, residual, as p says); y may equal res. */
clsde_status clsde_conv2d_epilogue_enqueue(clsde_context *ctx, const clsde_conv2d_params *p,
                                           cl_mem acc, cl_mem bias, cl_mem chan_bias,
                                           cl_mem res, cl_mem y);

/* y[n, out] = bias[out] + W[out, :] . x[n, :]; W is [out, in] (nn.Linear layout).
 * x: [n, in]; bias: [out] or NULL (no bias); y: [n, out], must not alias x. */
clsde_status clsde_dense_enqueue(clsde_context *ctx, int32_t n, int32_t in, int32_t out,
                                 cl_mem x, cl_mem w, cl_mem bias, cl_mem y);

#endif
