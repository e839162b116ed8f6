/*
 * conv2d.cl — 2-D convolution as an implicit GEMM with a fused epilogue, and dense (Linear).
 * networks.md §0 (PyTorch cross-correlation), §1.1, §1.3 (the stride-2 conv after the FIR
 * pre-filter), §1.5 (bias, time-embedding bias, rescaled residual sum), §7.
 *
 * conv2d: y = conv(x, w) + bias[m] + chan_bias[b, m], then y = (res + y) / res_div.
 *   GEMM view:  M = c_out, N = n*oh*ow (the batch folded into the pixels), K = c_in*KSIZE^2,
 *   y[m, p] = sum_k W[m, k] * X[k, p] with W = w as stored ([c_out, c_in, k, k] is
 *   [M, K] row-major) and X the implicit im2col matrix, read from x on the fly.
 *
 *   A work-group computes a BM x BN tile (BM = WG_M*TM channels, BN = WG_N*TN pixels).
 *   Per K block of TK it stages W[m0.., k0..] into As[TK][BM] and X[k0.., n0..] into
 *   Bs[TK][BN] (zero outside the matrices, so no edge test in the inner loop), then each
 *   work-item updates its TM x TN register tile. Work-item (l0, l1) owns channels
 *   m0 + l1*TM + s (s < TM, contiguous) and pixels n0 + l0 + WG_N*t (t < TN, strided so
 *   that neighbouring work-items in dimension 0 touch neighbouring pixels: PoCL
 *   vectorises across dimension 0, a GPU coalesces along it). Each work-item also stages
 *   the X columns of its own pixels, so their (image, row, column) is decoded once.
 *   The epilogue guards m < c_out and p < N: no shape needs to be a multiple of a tile.
 *
 *   Global id 0: pixel tile (ceil(N / BN) groups of WG_N), id 1: channel tile
 *   (ceil(c_out / BM) groups of WG_M). The wrapper passes the parameters it launched with.
 *
 * Parameters (-D):
 *   KSIZE      kernel side k (default 3); the host builds one program per k in use.
 *   POINTWISE  1: k = 1, stride 1, no padding: X is x itself, no bounds tests (default 0).
 *   TM, TN     register tile: channels x pixels per work-item (defaults 4, 4).
 *   TK         K block staged per barrier pair (default 16); any value >= 1.
 *   WG_M, WG_N work-group size in channel and pixel direction (defaults 8, 8).
 *   Local memory: TK*(BM + BN) floats.
 *
 * dense: y[b, o] = bias[o] + sum_i w[o, i] * x[b, i]. Global id 0: o, id 1: b. One
 *   work-item per output; the whole Linear work of a forward pass is ~5 MMAC (§7.2).
 */
#ifndef KSIZE
#define KSIZE 3
#endif
#ifndef POINTWISE
#define POINTWISE 0
#endif
#ifndef TM
#define TM 4
#endif
#ifndef TN
#define TN 4
#endif
#ifndef TK
#define TK 16
#endif
#ifndef WG_M
#define WG_M 8
#endif
#ifndef WG_N
#define WG_N 8
#endif

#define BM (WG_M * TM)
#define BN (WG_N * TN)
#define KK (KSIZE * KSIZE)
#define WG (WG_M * WG_N)

#if POINTWISE && KSIZE != 1
#error "POINTWISE needs KSIZE 1"
#endif

/* flags */
#define CONV_BIAS 1
#define CONV_CHAN_BIAS 2
#define CONV_RESIDUAL 4

/* x: [n, c_in, h, w]; w: [c_out, c_in, KSIZE, KSIZE]; bias: [c_out]; chan_bias: [n, c_out];
 * res, y: [n, c_out, oh, ow]. y may equal res (each element is read, then written, by the
 * same work-item); unused optional buffers may be NULL. */
__kernel __attribute__((reqd_work_group_size(WG_N, WG_M, 1)))
void conv2d(const int n, const int c_in, const int h, const int w, const int c_out,
            const int oh, const int ow, const int stride, const int pad_t, const int pad_l,
            const int flags, const float res_div,
            __global const float *restrict x, __global const float *restrict wt,
            __global const float *restrict bias, __global const float *restrict chan_bias,
            __global const float *res, __global float *y)
{
    __local float As[TK][BM]; /* W tile, channels contiguous */
    __local float Bs[TK][BN]; /* X tile, pixels contiguous */
    const int l0 = get_local_id(0), l1 = get_local_id(1);
    const int lid = l1 * WG_N + l0;
    const int n0 = get_group_id(0) * BN, m0 = get_group_id(1) * BM;
    const int ohw = oh * ow, npix = n * ohw, kdim = c_in * KK, hw = h * w;

    /* Decode this work-item's pixels once: offset of x[b, 0, iy0, ix0] (or of x[b, 0, q] for
     * POINTWISE), top-left input corner, and whether the pixel exists. */
    int xoff[TN];
#if !POINTWISE
    int iy0[TN], ix0[TN];
#endif
    bool pix_ok[TN];
#pragma unroll
    for (int t = 0; t < TN; t++) {
        const int p = n0 + l0 + WG_N * t;
        const int b = p / ohw, q = p - b * ohw;
        pix_ok[t] = p < npix;
#if POINTWISE
        xoff[t] = b * c_in * hw + q;
#else
        const int oy = q / ow, ox = q - oy * ow;
        iy0[t] = oy * stride - pad_t;
        ix0[t] = ox * stride - pad_l;
        xoff[t] = b * c_in * hw;
#endif
    }

    float acc[TM][TN];
#pragma unroll
    for (int s = 0; s < TM; s++)
#pragma unroll
        for (int t = 0; t < TN; t++) acc[s][t] = 0.0f;

    for (int k0 = 0; k0 < kdim; k0 += TK) {
        /* Stage W: consecutive work-items read consecutive k (contiguous in wt). */
        for (int e = lid; e < TK * BM; e += WG) {
            /* no `%`: Oclgrind cannot check the `freeze` LLVM emits for a div/rem pair */
            const int m = e / TK, kk = e - m * TK;
            const int kg = k0 + kk, mg = m0 + m;
            As[kk][m] = (kg < kdim && mg < c_out) ? wt[mg * kdim + kg] : 0.0f;
        }
        /* Stage X: rows kk = l1 + WG_M*r of this work-item's own pixel columns. */
        for (int kk = l1; kk < TK; kk += WG_M) {
            const int kg = k0 + kk;
            const int ci = kg / KK;
#if POINTWISE
#pragma unroll
            for (int t = 0; t < TN; t++)
                Bs[kk][l0 + WG_N * t] =
                    (kg < kdim && pix_ok[t]) ? x[xoff[t] + ci * hw] : 0.0f;
#else
            const int r = kg - ci * KK;
            const int ky = r / KSIZE, kx = r - ky * KSIZE;
#pragma unroll
            for (int t = 0; t < TN; t++) {
                const int iy = iy0[t] + ky, ix = ix0[t] + kx;
                const bool in = kg < kdim && pix_ok[t] && iy >= 0 && iy < h && ix >= 0 && ix < w;
                Bs[kk][l0 + WG_N * t] = in ? x[xoff[t] + ci * hw + iy * w + ix] : 0.0f;
            }
#endif
        }
        barrier(CLK_LOCAL_MEM_FENCE);

#pragma unroll 4
        for (int kk = 0; kk < TK; kk++) {
            float a[TM], bv[TN];
#pragma unroll
            for (int s = 0; s < TM; s++) a[s] = As[kk][l1 * TM + s];
#pragma unroll
            for (int t = 0; t < TN; t++) bv[t] = Bs[kk][l0 + WG_N * t];
#pragma unroll
            for (int s = 0; s < TM; s++)
#pragma unroll
                for (int t = 0; t < TN; t++) acc[s][t] = a[s] * bv[t] + acc[s][t];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    /* Epilogue, in PyTorch's order: (acc + bias) + chan_bias, then (res + y) / res_div. */
#pragma unroll
    for (int t = 0; t < TN; t++) {
        const int p = n0 + l0 + WG_N * t;
        if (p >= npix) continue;
        const int b = p / ohw, q = p - b * ohw;
#pragma unroll
        for (int s = 0; s < TM; s++) {
            const int m = m0 + l1 * TM + s;
            if (m >= c_out) continue;
            const int i = (b * c_out + m) * ohw + q;
            float v = acc[s][t];
            if (flags & CONV_BIAS) v += bias[m];
            if (flags & CONV_CHAN_BIAS) v += chan_bias[b * c_out + m];
            if (flags & CONV_RESIDUAL) {
                v = res[i] + v;
                if (res_div != 1.0f) v /= res_div;
            }
            y[i] = v;
        }
    }
}

/* x: [n, in]; w: [out, in]; bias: [out] or NULL; y: [n, out]. */
__kernel void dense(const int n, const int in, const int out, __global const float *restrict x,
                    __global const float *restrict wt, __global const float *restrict bias,
                    __global float *restrict y)
{
    const int o = get_global_id(0), b = get_global_id(1);
    if (o >= out || b >= n) return;
    __global const float *wo = wt + o * in;
    __global const float *xb = x + b * in;
    float acc = 0.0f;
    for (int i = 0; i < in; i++) acc = wo[i] * xb[i] + acc;
    y[b * out + o] = bias ? acc + bias[o] : acc;
}
