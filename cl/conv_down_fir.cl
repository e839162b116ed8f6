/*
 * conv_down_fir.cl — the fused FIR conv-downsample (networks.md §1.3 "Fused FIR
 * conv-downsample", §1.4 Downsample Conv2d_0 with fir, §2.4 the input pyramid) in one pass:
 *   F = upfirdn2d(x, K, up 1, down 1, pad (2, 2)),  K = outer(k, k)/64, k = [1, 3, 3, 1]
 *   y[b, m, oy, ox] = bias[m] + sum_{ci, ky, kx} w[m, ci, ky, kx] F[b, ci, 2oy + ky, 2ox + kx]
 *   then, with a residual, y = (res + y) / res_div (the pyramid merge, as conv2d does it).
 * x [n, c_in, h, w], F [n, c_in, h + 1, w + 1] (never in global memory), w [c_out, c_in, 3, 3]
 * as stored, y [n, c_out, oh, ow] with oh = (h - 2)/2 + 1, ow = (w - 2)/2 + 1 (h, w >= 2).
 *
 * The GEMM is conv2d.cl's implicit GEMM (M = c_out, N = pixels, K = 9*c_in; register tiles
 * of TM channels x TN pixels held as TN/VN vectors, SM x SN of them per work-item, WG_M x
 * WG_N work-items, W and X staged per K block in As and Bs), with gemm_tile.cl's staging of
 * W, register-tile update and epilogue; only where X comes from differs. K blocks are CC
 * whole input channels (TK = 9*CC). Per block the group first computes the F patch of its
 * pixels for those channels into local memory, then fills Bs[k][pixel] =
 * F[.., 2oy + ky, 2ox + kx] from the patch (a local gather, where conv2d.cl gathers from x
 * in global memory).
 *
 * Tiles. The output columns are cut into strips of CW (global id 2; one strip when
 * ow <= CW). Within a strip of width cws the pixels are ordered (image, row, column) and a
 * work-group takes BN consecutive ones (global id 0) and BM output channels (global id 1).
 * The F patch, per channel: for each image the tile touches, the F rows 2*oy_first ..
 * 2*oy_last + 2 and F columns 2*sx0 .. 2*(sx0 + cws - 1) + 2 (row length FL = 2*cws + 1);
 * each image's rows follow the previous image's, one row apart, so tap (ky, kx) of pixel
 * (tile row R, strip column xs) is patch row 2*(R - R_first) + (image - first image) + ky,
 * column 2*xs + kx. To fill it, one input channel of one image at a time, the x rows
 * 2*oy_first - 2 .. 2*oy_last + 3 (columns 2*sx0 - 2 .. 2*sx0 + 2*cws + 1, zero outside the
 * image) are copied into Xs, then each F row is computed FV columns at a time with the 16
 * taps fma'd in upfirdn2d's row-major order with K[3-a][3-b] (cl/resample.cl): F is the
 * two-pass pre-filter's F bit for bit; only the conv's summation order differs.
 * Edges: pixels past the end read patch entry 0 and are not stored; channels past c_out
 * get zero weights and are not stored.
 *
 * Parameters (-D), each with its default:
 *   TM 4, VN 4, TN VN, SM 1, SN 1, WG_M 8, WG_N 8: the tile, described in gemm_tile.cl.
 *   CC 4         input channels per K block.
 *   CW 16        output columns per strip.
 *   FV 8         vector width of the F-row computation: 4, 8 or 16.
 *   Local memory: TK*(BM + BN) + CC*FS_CH + XS_SZ floats (below).
 */
#ifndef CC
#define CC 4
#endif
#ifndef CW
#define CW 16
#endif
#ifndef FV
#define FV 8
#endif

#define TK (9 * CC)

// clsde:include gemm_tile.cl

/* Patch floats per channel. A tile touches nr <= (BN-1)/cws + 2 rows; its patch has
 * 2*nr + (images) <= 3*nr rows of 2*cws + 1: at most 9*BN + 12*CW - 3 for any cws <= CW. */
#define FS_CH (9 * BN + 12 * CW)
/* Xs: one image's x rows, at most 2*nr + 4 rows of 2*cws + 4 (<= 12*BN + 16*CW + 20), plus
 * what the last F vector reads past the end. */
#define XS_SZ (12 * BN + 16 * CW + 32 + FV)

#define floatFV CAT(float, FV)
#define LOADFV(p) CAT(vload, FV)(0, p)
#define STOREFV(v, p) CAT(vstore, FV)(v, 0, p)

/* [1, 3, 3, 1] */
inline float fir_k(const int a)
{
    return (a == 0 || a == 3) ? 1.0f : 3.0f;
}

/* One F chunk: FV columns from c of the F row whose x rows start at Xs row i (row length
 * xl), the 16 taps in upfirdn2d's order. */
inline floatFV fir_chunk(__local const float *xs, const int xl, const int i, const int c)
{
    floatFV acc = 0.0f;
#pragma unroll
    for (int a = 0; a < 4; a++) {
        __local const float *row = xs + (i + a) * xl + c;
#pragma unroll
        for (int b = 0; b < 4; b++) {
            const float kab = fir_k(3 - a) * fir_k(3 - b) / 64.0f;
            acc = fma((floatFV)kab, LOADFV(row + b), acc);
        }
    }
    return acc;
}

/* x: [n, c_in, h, w]; wt: [c_out, c_in, 3, 3]; bias: [c_out]; res, y: [n, c_out, oh, ow].
 * y may equal res (each element is read, then written, by the same work-item). */
__kernel __attribute__((reqd_work_group_size(WG_N, WG_M, 1)))
void conv_down_fir(const int n, const int c_in, const int h, const int w, const int c_out,
                   const int oh, const int ow, const int flags, const float res_div,
                   __global const float *restrict x, __global const float *restrict wt,
                   __global const float *restrict bias, __global const float *res,
                   __global float *y)
{
    __local float As[BM][TK];
    __local float Bs[TK][BN];
    __local float Fs[CC * FS_CH];
    __local float Xs[XS_SZ];
    const int l0 = get_local_id(0), l1 = get_local_id(1);
    const int lid = l1 * WG_N + l0;
    const int sx0 = get_group_id(2) * CW, cws = min(CW, ow - sx0);
    const int npix = n * oh * cws, n0 = get_group_id(0) * BN, m0 = get_group_id(1) * BM;
    if (n0 >= npix) return; /* the whole group: strips narrower than the first have fewer tiles */
    const int ohw = oh * ow, fl = 2 * cws + 1, xl = 2 * cws + 4, kdim = 9 * c_in;
    const int r_first = n0 / cws, r_last = (min(n0 + BN, npix) - 1) / cws;
    const int b_first = r_first / oh, b_last = r_last / oh;

    /* This work-item's pixels: patch offset of tap (0, 0) (0 past the end). */
    int fbase[PW];
    for (int j = 0; j < PW / VN; j++) {
        for (int lane = 0; lane < VN; lane++) {
            const int p = n0 + COL(l0, j, lane);
            const int r = p / cws, xs = p - r * cws, b = r / oh;
            fbase[j * VN + lane] =
                p < npix ? (2 * (r - r_first) + (b - b_first)) * fl + 2 * xs : 0;
        }
    }
    /* the last F vector of a row reads up to FV - 2 floats past Xs's filled part */
    for (int i = lid; i < XS_SZ; i += WG) Xs[i] = 0.0f;
    TILE_BARRIER(); /* before other work-items stage rows over it */

    floatVN acc[SM][SN][TM][NV];
    GEMM_TILE_ZERO(acc);

    for (int ci0 = 0; ci0 < c_in; ci0 += CC) {
        const int ccn = min(CC, c_in - ci0), k0 = 9 * ci0, kn = 9 * ccn;
        GEMM_STAGE_W(As, wt, c_out, kdim, m0, k0, lid);
        /* Stage the F patch, one image and one input channel at a time. */
        for (int b = b_first; b <= b_last; b++) {
            const int oy_lo = b == b_first ? r_first - b * oh : 0;
            const int oy_hi = b == b_last ? r_last - b * oh : oh - 1;
            const int rows_f = 2 * (oy_hi - oy_lo) + 3, rows_x = rows_f + 3;
            const int pr0 = 2 * (b * oh + oy_lo - r_first) + (b - b_first);
            const int xr0 = 2 * oy_lo - 2, xc0 = 2 * sx0 - 2;
            /* columns j of an Xs row inside the image: [jl, jr) */
            const int jl = max(0, -xc0), jr = min(xl, w - xc0);
            const int chunks = (fl + FV - 1) / FV;
            for (int cc = 0; cc < ccn; cc++) {
                __global const float *xp = x + ((size_t)b * c_in + ci0 + cc) * h * w;
                for (int i = lid; i < rows_x; i += WG) {
                    const int xr = xr0 + i;
                    __local float *dst = Xs + i * xl;
                    if (xr < 0 || xr >= h) {
                        for (int j = 0; j < xl; j++) dst[j] = 0.0f;
                    } else {
                        __global const float *src = xp + (size_t)xr * w + xc0;
                        int j = 0;
                        for (; j < jl; j++) dst[j] = 0.0f;
                        for (; j + FV <= jr; j += FV) STOREFV(LOADFV(src + j), dst + j);
                        for (; j < jr; j++) dst[j] = src[j];
                        for (; j < xl; j++) dst[j] = 0.0f;
                    }
                }
                TILE_BARRIER();
                __local float *fdst = Fs + cc * FS_CH + pr0 * fl;
                for (int e = lid; e < rows_f * chunks; e += WG) {
                    const int i = e / chunks, c = (e - i * chunks) * FV;
                    const floatFV f = fir_chunk(Xs, xl, i, c);
                    __local float *d = fdst + i * fl + c;
                    if (c + FV <= fl) {
                        STOREFV(f, d);
                    } else {
                        float tmp[FV];
                        STOREFV(f, tmp);
                        for (int j = 0; j < fl - c; j++) d[j] = tmp[j];
                    }
                }
                TILE_BARRIER();
            }
        }
        /* Stage X from the patch: rows kk = l1 + WG_M*r of this work-item's own columns. */
        for (int kk = l1; kk < kn; kk += WG_M) {
            const int cc = kk / 9, tap = kk - 9 * cc, ky = tap / 3, kx = tap - 3 * ky;
            __local const float *fc = Fs + cc * FS_CH + ky * fl + kx;
            for (int j = 0; j < PW / VN; j++)
                for (int lane = 0; lane < VN; lane++)
                    Bs[kk][COL(l0, j, lane)] = fc[fbase[j * VN + lane]];
        }
        TILE_BARRIER();
        GEMM_TILE_UPDATE(acc, As, Bs, kn, l0, l1);
        TILE_BARRIER();
    }

    /* Epilogue (CONV_EPILOGUE) without a time-embedding bias: masking its flag lets the
     * compiler drop that term. A vector whose VN pixels are consecutive in y (one image, and
     * one row unless the strip is the whole width) is stored whole; others pixel by pixel. */
    const int ep_flags = flags & ~CONV_CHAN_BIAS;
    for (int mi = 0; mi < SM; mi++) {
        for (int s = 0; s < TM; s++) {
            const int m = m0 + ROW(l1, mi, s);
            if (m >= c_out) continue;
            for (int ni = 0; ni < SN; ni++) {
                for (int v = 0; v < NV; v++) {
                    const int p = n0 + COL(l0, ni * NV + v, 0);
                    if (p >= npix) continue;
                    const int r = p / cws, xs = p - r * cws, b = r / oh, oy = r - b * oh;
                    const int q = oy * ow + sx0 + xs;
                    const bool whole = cws == ow ? q + VN <= ohw && p + VN <= npix
                                                 : xs + VN <= cws;
                    const floatVN a = acc[mi][ni][s][v];
                    if (whole) {
                        const int i = (b * c_out + m) * ohw + q;
                        floatVN val = a;
                        CONV_EPILOGUE(val, ep_flags, bias[m], 0.0f, LOADVN(res + i), res_div);
                        STOREVN(val, y + i);
                    } else {
                        float out[VN];
                        STOREVN(a, out);
                        for (int t = 0; t < VN && p + t < npix; t++) {
                            const int rt = (p + t) / cws, xt = p + t - rt * cws;
                            const int bt = rt / oh, yt = rt - bt * oh;
                            const int i = (bt * c_out + m) * ohw + yt * ow + sx0 + xt;
                            float val = out[t];
                            CONV_EPILOGUE(val, ep_flags, bias[m], 0.0f, res[i], res_div);
                            y[i] = val;
                        }
                    }
                }
            }
        }
    }
}
