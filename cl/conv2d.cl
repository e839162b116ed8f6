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
 *   A work-group computes a BM x BN tile of y: BM = WG_M*SM*TM channels, BN = WG_N*SN*TN
 *   pixels. Per K block of TK it stages W[m0.., k0..] into As[BM][TK] and X[k0.., n0..]
 *   into Bs[TK][BN], zero outside the matrices so the inner loop has no edge test; then
 *   each work-item updates its SM x SN register tiles of TM channels x TN pixels, the TN
 *   pixels held as TN/VN vectors of VN neighbouring pixels. Each work-item stages the X
 *   columns of its own pixels, so their (image, row, column) is decoded once; a pixel
 *   vector that lies in one image row (stride 1) is staged with one vector load per k
 *   where the kernel window stays inside the row, lane by lane elsewhere. A group of
 *   several work-items (GPU-like) gathers its X values and W elements of a K block into
 *   registers, the loads independent of each other, before storing them to the tiles.
 *   Work-item (l0, l1) owns channels m0 + (mi*WG_M + l1)*TM + s and the pixel vectors
 *   j*WG_N + l0 (j < SN*TN/VN): neighbouring work-items in dimension 0 touch neighbouring
 *   pixels, which a GPU coalesces.
 *   The epilogue guards m < c_out and p < N: no shape needs to be a multiple of a tile.
 *
 *   Two ways to use it: GPU-like, many work-items with SM = SN = 1, or CPU-like, one
 *   work-item per group (WG_M = WG_N = 1) looping over SM x SN register tiles, as a CPU
 *   GEMM loops over micro-tiles of a packed panel. With a one-item group there is no
 *   barrier: PoCL then keeps the accumulators in registers through the K loop (with
 *   barriers it splits loops per iteration across work-items and spills them every step).
 *
 *   Global id 0: pixel tile (ceil(N / BN) groups of WG_N), id 1: channel tile
 *   (ceil(c_out / BM) groups of WG_M). The wrapper passes the parameters it launched with.
 *   Staging W, the register-tile update and the epilogue are gemm_tile.cl's (shared with
 *   conv_down_fir.cl); staging X is this file's.
 *
 * Parameters (-D), each with its default:
 *   KSIZE 3      kernel side k; the host builds one program per k in use.
 *   POINTWISE 0  1: k = 1, stride 1, no padding: X is x itself, no bounds tests.
 *   TK 16        K block staged at a time; any value >= 1.
 *   TM 4, VN 4, TN VN, SM 1, SN 1, WG_M 8, WG_N 8: the tile, described in gemm_tile.cl.
 *   Local memory: TK*(BM + BN) floats; private: SM*SN*TM*TN accumulators.
 *
 * dense: y[b, o] = bias[o] + sum_i w[o, i] * x[b, i]. Global id 0: o, id 1: b. One
 *   work-item per output; the whole Linear work of a forward pass is ~5 MMAC (§7.2).
 *
 * im2col, conv2d_epilogue: the other conv path, around a library GEMM (CLBlast; the tuner
 *   picks it per shape class where it is faster). im2col writes the X matrix above
 *   explicitly, cols[k, p] ([K, N] row-major, zero where the window leaves the image);
 *   the GEMM makes acc = W x cols ([c_out, N]); conv2d_epilogue applies conv2d's epilogue
 *   in the same order and scatters acc to y [n, c_out, oh, ow]. One work-item per
 *   element: global ids (p, k) and (q, m, b). Neither uses KSIZE or the tiling macros.
 */
#ifndef KSIZE
#define KSIZE 3
#endif
#ifndef POINTWISE
#define POINTWISE 0
#endif
#ifndef TK
#define TK 16
#endif

// clsde:include gemm_tile.cl

#define KK (KSIZE * KSIZE)

/* Where X row kk, lane `lane` of pixel vector j is staged: straight into the local tile
 * for a one-item group; for a larger group into xr[xrow][...] (registers; xrow is the
 * staging loop's row, kk = l1 + xrow * WG_M), copied to the tile after all are loaded. */
#define XROWS ((TK + WG_M - 1) / WG_M)
#if WG > 1
#define XDST(kk, j, lane) xr[xrow][(j) * VN + (lane)]
#else
#define XDST(kk, j, lane) Bs[kk][COL(l0, j, lane)]
#endif

#if POINTWISE && KSIZE != 1
#error "POINTWISE needs KSIZE 1"
#endif

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
    __local float As[BM][TK]; /* W tile as stored (k contiguous): a plain copy; the inner
                                 loop broadcasts single elements, any layout serves */
    __local float Bs[TK][BN]; /* X tile, pixels contiguous */
    const int l0 = get_local_id(0), l1 = get_local_id(1);
    const int lid = l1 * WG_N + l0;
    const int n0 = get_group_id(0) * BN, m0 = get_group_id(1) * BM;
    const int ohw = oh * ow, npix = n * ohw, kdim = c_in * KK, hw = h * w;

    /* Decode this work-item's pixels once: offset of x[b, 0, 0, 0] (x[b, 0, q] for
     * POINTWISE), top-left input corner, and whether the pixel exists. */
    int xoff[PW];
#if !POINTWISE
    int iy0[PW], ix0[PW];
#endif
    bool pix_ok[PW];
    for (int j = 0; j < PW / VN; j++) {
        for (int lane = 0; lane < VN; lane++) {
            const int t = j * VN + lane;
            const int p = n0 + COL(l0, j, lane);
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
    }
    /* Pixel vectors whose VN pixels exist and sit side by side in one image row (stride
     * 1; POINTWISE: in one image): their X rows are VN consecutive floats of x, staged with
     * one vector load where the window lies inside the row. Same values as lane by lane. */
    bool vec_row[PW / VN];
    for (int j = 0; j < PW / VN; j++) {
        const int t0 = j * VN, t1 = t0 + VN - 1;
#if POINTWISE
        vec_row[j] = VN > 1 && pix_ok[t1] && xoff[t1] == xoff[t0] + VN - 1;
#else
        vec_row[j] = VN > 1 && stride == 1 && pix_ok[t1] && xoff[t1] == xoff[t0] &&
                     iy0[t1] == iy0[t0] && ix0[t1] == ix0[t0] + VN - 1;
#endif
    }

    floatVN acc[SM][SN][TM][NV];
    GEMM_TILE_ZERO(acc);

    for (int k0 = 0; k0 < kdim; k0 += TK) {
        GEMM_STAGE_W(As, wt, c_out, kdim, m0, k0, lid);
        /* Stage X: rows kk = l1 + WG_M*r of this work-item's own pixel columns. A group of
         * several work-items gathers them into registers first and then stores them, so
         * that a GPU has all of its loads in flight at once (XDST); one work-item (a CPU
         * tiling) stores each one as it comes. */
#if WG > 1
        float xr[XROWS][PW];
        _Pragma("unroll") for (int xrow = 0; xrow < XROWS && l1 + xrow * WG_M < TK; xrow++) {
            const int kk = l1 + xrow * WG_M;
#else
        for (int kk = l1; kk < TK; kk += WG_M) {
#endif
            const int kg = k0 + kk;
            const int ci = kg / KK;
#if POINTWISE
            for (int j = 0; j < PW / VN; j++) {
                const int t0 = j * VN;
                if (vec_row[j] && kg < kdim) {
                    STOREVN(LOADVN(x + xoff[t0] + ci * hw), &XDST(kk, j, 0));
                } else {
                    for (int lane = 0; lane < VN; lane++)
                        XDST(kk, j, lane) = (kg < kdim && pix_ok[t0 + lane])
                                                       ? x[xoff[t0 + lane] + ci * hw]
                                                       : 0.0f;
                }
            }
#else
            const int r = kg - ci * KK;
            const int ky = r / KSIZE, kx = r - ky * KSIZE;
            for (int j = 0; j < PW / VN; j++) {
                const int t0 = j * VN;
                if (vec_row[j]) {
                    const int iy = iy0[t0] + ky, ix = ix0[t0] + kx;
                    if (kg >= kdim || iy < 0 || iy >= h) {
                        STOREVN((floatVN)(0.0f), &XDST(kk, j, 0));
                    } else if (ix >= 0 && ix + VN <= w) {
                        STOREVN(LOADVN(x + xoff[t0] + ci * hw + iy * w + ix),
                                &XDST(kk, j, 0));
                    } else {
                        const int row = xoff[t0] + ci * hw + iy * w;
                        for (int lane = 0; lane < VN; lane++)
                            XDST(kk, j, lane) =
                                (ix + lane >= 0 && ix + lane < w) ? x[row + ix + lane] : 0.0f;
                    }
                } else {
                    for (int lane = 0; lane < VN; lane++) {
                        const int t = t0 + lane;
                        const int iy = iy0[t] + ky, ix = ix0[t] + kx;
                        const bool in =
                            kg < kdim && pix_ok[t] && iy >= 0 && iy < h && ix >= 0 && ix < w;
                        XDST(kk, j, lane) =
                            in ? x[xoff[t] + ci * hw + iy * w + ix] : 0.0f;
                    }
                }
            }
#endif
        }
#if WG > 1
        _Pragma("unroll") for (int xrow = 0; xrow < XROWS && l1 + xrow * WG_M < TK; xrow++) {
            const int kk = l1 + xrow * WG_M;
            for (int j = 0; j < PW / VN; j++)
                STOREVN(LOADVN(&xr[xrow][j * VN]), &Bs[kk][COL(l0, j, 0)]);
        }
#endif
        TILE_BARRIER();
        /* the last block stops at K (the input conv has K = 27) */
        const int kn = min(TK, kdim - k0);
        GEMM_TILE_UPDATE(acc, As, Bs, kn, l0, l1);
        TILE_BARRIER();
    }

    /* Epilogue (CONV_EPILOGUE's order: PyTorch's). A vector whose VN pixels lie in one image
     * is stored whole; others pixel by pixel. */
    for (int mi = 0; mi < SM; mi++) {
        for (int s = 0; s < TM; s++) {
            const int m = m0 + ROW(l1, mi, s);
            if (m >= c_out) continue;
            for (int ni = 0; ni < SN; ni++) {
                for (int v = 0; v < NV; v++) {
                    const int p = n0 + COL(l0, ni * NV + v, 0);
                    if (p >= npix) continue;
                    const int b = p / ohw, q = p - b * ohw;
                    const floatVN a = acc[mi][ni][s][v];
                    if (q + VN <= ohw) {
                        const int i = (b * c_out + m) * ohw + q;
                        floatVN val = a;
                        CONV_EPILOGUE(val, flags, bias[m], chan_bias[b * c_out + m],
                                      LOADVN(res + i), res_div);
                        STOREVN(val, y + i);
                    } else {
                        float out[VN];
                        STOREVN(a, out);
                        for (int t = 0; t < VN && p + t < npix; t++) {
                            const int bt = (p + t) / ohw, qt = p + t - bt * ohw;
                            const int i = (bt * c_out + m) * ohw + qt;
                            float val = out[t];
                            CONV_EPILOGUE(val, flags, bias[m], chan_bias[bt * c_out + m], res[i],
                                          res_div);
                            y[i] = val;
                        }
                    }
                }
            }
        }
    }
}

/* x: [n, in]; w: [out, in]; bias: [out] or NULL; y: [n, out]. Each work-item reads its
 * weight row and input row as 16-wide vectors (16 interleaved partial sums, added up at the
 * end), so a CPU streams W instead of gathering it across work-items. */
__kernel void dense(const int n, const int in, const int out, __global const float *restrict x,
                    __global const float *restrict wt, __global const float *restrict bias,
                    __global float *restrict y)
{
    const int o = get_global_id(0), b = get_global_id(1);
    if (o >= out || b >= n) return;
    __global const float *wo = wt + o * in;
    __global const float *xb = x + b * in;
    float16 acc16 = 0.0f;
    int i = 0;
    for (; i + 16 <= in; i += 16) acc16 = vload16(0, wo + i) * vload16(0, xb + i) + acc16;
    /* Pairwise fold through memory: the optimiser turns a .lo/.hi fold into a shuffle with
     * undefined lanes, on which Oclgrind 21.10's uninitialised-value check crashes. */
    float part[16];
    vstore16(acc16, 0, part);
    for (int width = 8; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) part[l] += part[l + width];
    float acc = part[0];
    for (; i < in; i++) acc = wo[i] * xb[i] + acc;
    y[b * out + o] = bias ? acc + bias[o] : acc;
}

/* x: [n, c_in, h, w]; cols: [c_in*k*k, n*oh*ow], row kr = (ci*k + ky)*k + kx (w's order). */
__kernel void im2col(const int n, const int c_in, const int h, const int w, const int k,
                     const int oh, const int ow, const int stride, const int pad_t,
                     const int pad_l, __global const float *restrict x,
                     __global float *restrict cols)
{
    const int p = get_global_id(0), kr = get_global_id(1);
    const int ohw = oh * ow, npix = n * ohw, kk = k * k;
    if (p >= npix || kr >= c_in * kk) return;
    const int b = p / ohw, q = p - b * ohw;
    const int oy = q / ow, ox = q - oy * ow;
    const int ci = kr / kk, r = kr - ci * kk;
    const int ky = r / k, kx = r - ky * k;
    const int iy = oy * stride - pad_t + ky, ix = ox * stride - pad_l + kx;
    const bool in = iy >= 0 && iy < h && ix >= 0 && ix < w;
    cols[kr * npix + p] = in ? x[((b * c_in + ci) * h + iy) * w + ix] : 0.0f;
}

/* acc: [c_out, n*ohw] (the GEMM result); bias: [c_out]; chan_bias: [n, c_out];
 * res, y: [n, c_out, ohw]. y may equal res; acc is separate. */
__kernel void conv2d_epilogue(const int n, const int c_out, const int ohw, const int flags,
                              const float res_div, __global const float *restrict acc,
                              __global const float *restrict bias,
                              __global const float *restrict chan_bias,
                              __global const float *res, __global float *y)
{
    const int q = get_global_id(0), m = get_global_id(1), b = get_global_id(2);
    if (q >= ohw || m >= c_out || b >= n) return;
    const int i = (b * c_out + m) * ohw + q;
    float val = acc[m * (n * ohw) + b * ohw + q];
    CONV_EPILOGUE(val, flags, bias[m], chan_bias[b * c_out + m], res[i], res_div);
    y[i] = val;
}
