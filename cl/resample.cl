/*
 * resample.cl — resampling and channel concat (networks.md §1.3, §1.4, §7.1):
 *   upfirdn2d_up1_down1, _up1_down2, _up2: FIR up/down-sampling with
 *                       K = outer(k, k) / 64 * gain, k = [1,3,3,1], any pads
 *   upfirdn2d_up1_down1_rows, _up1_down2_rows: the up-1 cases row-wise (CPUs)
 *   upfirdn2d_up2_fast: the same for upsample_2d's parameters (up 2, down 1, pads (2, 1))
 *   upsample_nearest:   y[2i + a, 2j + b] = x[i, j]
 *   downsample_avg:     2x2 mean, summed in PyTorch's order (see the kernel)
 *   concat:             y[n] = [a[n]; b[n]] along channels
 * Every [H, W] plane of x [N, C, H, W] is independent. None of these kernels may run in
 * place.
 *
 * Global ids: upfirdn2d_up1_*, _up2, downsample_avg: 0 = output column, 1 = output row,
 * 2 = plane (n*C + c); upfirdn2d_up2_fast, upsample_nearest: the same over *input*
 * pixels, each writing its 2x2 block of outputs; concat: 0 = element within one sample
 * of y, 1 = sample; the _rows kernels: see there. The wrappers round the global sizes up
 * to the work-group size, so every kernel guards its ids. One -D parameter, FVW, the
 * vector width of the _rows kernels; the work-group shapes are the wrapper's.
 */

/*
 * upfirdn2d, literally as §1.3 defines it: zero insertion u[r*up] = x[r] (u has H*up rows,
 * the up-1 zeros follow each sample), p0 zeros before and p1 after, "valid" true
 * convolution with K, keep every down-th output. The official CPU path is a conv2d
 * (cross-correlation) with the flipped K, and PyTorch's CPU conv accumulates the 16 taps
 * in row-major (a, b) order with one fused multiply-add each. These kernels do the same
 * with fma(), in the same order; since fma(k, 0, acc) == acc they may skip taps that land
 * on inserted or padded zeros, and the result matches the reference bit for bit. K is
 * built as the reference builds its float32 kernel: (k[a]*k[b]) / 64 exact, then * gain,
 * one rounding. K is symmetric, but the flip is written out: tap (a, b) of the
 * correlation is K[3-a][3-b].
 *
 * The tap loops have constant trip counts and unroll, the strides are compile-time
 * constants and every load outside the image is a guarded (masked) load: straight-line
 * code that CPU compilers vectorise across work-items (clamped indices or runtime strides
 * made PoCL fall back to scalar code, 5-10x slower).
 */
inline float fir_tap(const int a) /* k = [1, 3, 3, 1] */
{
    return (a == 0 || a == 3) ? 1.0f : 3.0f;
}

/* up 1 (downsample_2d: down 2; the conv-down pre-filter: down 1), any pads. */
#define UPFIRDN2D_UP1(NAME, DOWN)                                                          \
    __kernel void NAME(const int H, const int W, const int OH, const int OW, const int pad0, \
                       const float gain, __global const float *restrict x,                  \
                       __global float *restrict y)                                          \
    {                                                                                       \
        const int ox = get_global_id(0), oy = get_global_id(1);                             \
        const size_t plane = get_global_id(2);                                              \
        __global const float *xp = x + plane * H * W;                                       \
        float acc = 0.0f;                                                                   \
        if (ox >= OW || oy >= OH) return;                                                   \
        _Pragma("unroll") for (int a = 0; a < 4; a++)                                      \
        {                                                                                   \
            const int r = oy * DOWN + a - pad0;                                             \
            const bool rok = r >= 0 && r < H;                                               \
            _Pragma("unroll") for (int b = 0; b < 4; b++)                                  \
            {                                                                               \
                const int s = ox * DOWN + b - pad0;                                         \
                const float kab = (fir_tap(3 - a) * fir_tap(3 - b) / 64.0f) * gain;        \
                acc = fma(kab, rok && s >= 0 && s < W ? xp[r * W + s] : 0.0f, acc);         \
            }                                                                               \
        }                                                                                   \
        y[plane * OH * OW + (size_t)oy * OW + ox] = acc;                                    \
    }

UPFIRDN2D_UP1(upfirdn2d_up1_down1, 1)
UPFIRDN2D_UP1(upfirdn2d_up1_down2, 2)

/*
 * upfirdn2d_up1_down1_rows, _down2_rows: the up-1 cases row-wise, for CPUs (the per-output
 * kernels' guarded and stride-2 loads compile to masked gathers there). One work-item
 * computes FVW consecutive outputs ox0.. of one output row as a vector. For each input
 * row r it stages the part of the row those outputs read, w[j] = x[r, DOWN*ox0 - pad0 + j]
 * for j < (FVW - 1)*DOWN + 4 (0 outside the image), in private memory: vector loads and
 * three scalars when it lies inside the row, guarded scalars otherwise. Tap (a, b) of
 * lane i is w[DOWN*i + b], picked with constant indices (PoCL does not unroll loops
 * here), so w stays in registers and the picks become shuffles; the taps are fma'd in the
 * row-major order above, so both kernel sets give the same bits. PoCL (BENCHMARKS.md),
 * best of 8 runs: down 2, 8x128x32x32 1.80 -> 0.54 ms, 8x256x4x4 94 -> 33 us; pre-filter
 * 2.25 -> 1.31 ms and 354 -> 93 us.
 *   FVW  vector width, 4, 8 or 16 (default 8)
 * Global ids: 0 = chunk of FVW output columns, 1 = plane * OH + output row.
 */
#ifndef FVW
#define FVW 8
#endif
#define FCAT_(a, b) a##b
#define FCAT(a, b) FCAT_(a, b)
#define fvec FCAT(float, FVW)
#define FVLOAD FCAT(vload, FVW)
#define FVSTORE FCAT(vstore, FVW)
#if FVW == 4
#define FLANES(F) F(0), F(1), F(2), F(3)
#elif FVW == 8
#define FLANES(F) F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7)
#elif FVW == 16
#define FLANES(F) F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), F(8), F(9), F(10), F(11), \
                  F(12), F(13), F(14), F(15)
#else
#error "resample.cl: FVW must be 4, 8 or 16"
#endif
/* F(j) for j = 0 .. 2 FVW + 1 (the longest window) */
#if FVW == 4
#define FWIN_LIST(F) F(0); F(1); F(2); F(3); F(4); F(5); F(6); F(7); F(8); F(9);
#elif FVW == 8
#define FWIN_LIST(F) F(0); F(1); F(2); F(3); F(4); F(5); F(6); F(7); F(8); F(9); F(10);  \
    F(11); F(12); F(13); F(14); F(15); F(16); F(17);
#else
#define FWIN_LIST(F) F(0); F(1); F(2); F(3); F(4); F(5); F(6); F(7); F(8); F(9); F(10);  \
    F(11); F(12); F(13); F(14); F(15); F(16); F(17); F(18); F(19); F(20); F(21); F(22);  \
    F(23); F(24); F(25); F(26); F(27); F(28); F(29); F(30); F(31); F(32); F(33);
#endif

/* acc + tap (a, b) for the FVW lanes: w[down*i + b]; down, a, b constants after inlining */
#define FIR_PICK(i) w[down * (i) + b]
inline fvec fir_tap_rows(const float *w, const int down, const int a, const int b,
                         const float gain, const fvec acc)
{
    const float kab = (fir_tap(3 - a) * fir_tap(3 - b) / 64.0f) * gain;
    return fma((fvec)kab, (fvec)(FLANES(FIR_PICK)), acc);
}
#undef FIR_PICK
inline fvec fir_row_rows(const float *w, const int down, const int a, const float gain,
                         fvec acc)
{
    acc = fir_tap_rows(w, down, a, 0, gain, acc);
    acc = fir_tap_rows(w, down, a, 1, gain, acc);
    acc = fir_tap_rows(w, down, a, 2, gain, acc);
    return fir_tap_rows(w, down, a, 3, gain, acc);
}

#define FIR_GUARDED(j)                                                                     \
    if ((j) < fwin) w[j] = c0 + (j) >= 0 && c0 + (j) < W ? xr[j] : 0.0f
/* input row a = 0..3 of output row oy, a constant */
#define FIR_ROWS_ROW(a)                                                                    \
    do {                                                                                   \
        const int r = down * oy + (a) - pad0;                                              \
        if (r >= 0 && r < H) { /* else every tap hits a zero: fma(k, 0, acc) == acc */     \
            __global const float *xr = x + ((size_t)plane * H + r) * W + c0;               \
            float w[2 * FVW + 2];                                                          \
            if (inside) {                                                                  \
                FVSTORE(FVLOAD(0, xr), 0, w);                                              \
                if (down == 2) FVSTORE(FVLOAD(0, xr + FVW), 0, w + FVW);                   \
                w[fwin - 3] = xr[fwin - 3];                                                \
                w[fwin - 2] = xr[fwin - 2];                                                \
                w[fwin - 1] = xr[fwin - 1];                                                \
            } else {                                                                       \
                FWIN_LIST(FIR_GUARDED);                                                    \
            }                                                                              \
            acc = fir_row_rows(w, down, (a), gain, acc);                                   \
        }                                                                                  \
    } while (0)

#define UPFIRDN2D_ROWS(NAME, DOWN)                                                         \
    __kernel void NAME(const int H, const int W, const int OH, const int OW, const int P,  \
                       const int pad0, const float gain, __global const float *restrict x, \
                       __global float *restrict y)                                          \
    {                                                                                       \
        const int down = DOWN, fwin = (FVW - 1) * DOWN + 4; /* window length */            \
        const int ox0 = get_global_id(0) * FVW, prow = get_global_id(1);                    \
        if (ox0 >= OW || prow >= P * OH) return;                                            \
        const int plane = prow / OH, oy = prow - plane * OH;                                \
        const int c0 = down * ox0 - pad0;                                                   \
        const bool inside = c0 >= 0 && c0 + fwin <= W;                                      \
        fvec acc = 0.0f;                                                                    \
        FIR_ROWS_ROW(0);                                                                    \
        FIR_ROWS_ROW(1);                                                                    \
        FIR_ROWS_ROW(2);                                                                    \
        FIR_ROWS_ROW(3);                                                                    \
        __global float *yr = y + (size_t)prow * OW + ox0;                                   \
        if (ox0 + FVW <= OW) {                                                              \
            FVSTORE(acc, 0, yr);                                                            \
        } else {                                                                            \
            float t[FVW];                                                                   \
            FVSTORE(acc, 0, t);                                                             \
            for (int i = 0; i < OW - ox0; i++) yr[i] = t[i];                                \
        }                                                                                   \
    }

UPFIRDN2D_ROWS(upfirdn2d_up1_down1_rows, 1)
UPFIRDN2D_ROWS(upfirdn2d_up1_down2_rows, 2)

/* up 2, any down and pads (upsample_2d itself takes upfirdn2d_up2_fast below). Only the
 * taps whose row and column of u are even can hit a sample: a0, a0 + 2 with
 * a0 = (pad0 - oy*down) mod 2, likewise for b; the row-major order is kept. */
__kernel void upfirdn2d_up2(const int H, const int W, const int OH, const int OW,
                            const int down, const int pad0, const float gain,
                            __global const float *restrict x, __global float *restrict y)
{
    const int ox = get_global_id(0), oy = get_global_id(1);
    const size_t plane = get_global_id(2);
    __global const float *xp = x + plane * H * W;
    const int a0 = (pad0 - oy * down) & 1, b0 = (pad0 - ox * down) & 1;
    float acc = 0.0f;
    if (ox >= OW || oy >= OH) return;
#pragma unroll
    for (int ja = 0; ja < 2; ja++) {
        const int a = a0 + 2 * ja, ur = oy * down + a - pad0; /* even row of u */
        const bool rok = ur >= 0 && ur < 2 * H;
#pragma unroll
        for (int jb = 0; jb < 2; jb++) {
            const int b = b0 + 2 * jb, uc = ox * down + b - pad0;
            const float kab = (fir_tap(3 - a) * fir_tap(3 - b) / 64.0f) * gain;
            const bool ok = rok && uc >= 0 && uc < 2 * W;
            acc = fma(kab, ok ? xp[(ur >> 1) * W + (uc >> 1)] : 0.0f, acc);
        }
    }
    y[plane * OH * OW + (size_t)oy * OW + ox] = acc;
}

/*
 * upsample_2d's case of upfirdn2d (up 2, down 1, pads (2, 1), any gain), polyphase: one
 * work-item per input pixel (i, j) computes the 2x2 outputs (2i + p, 2j + q) from the 3x3
 * neighbourhood, zero outside the image. Per axis, output 2i takes rows (i-1, i) with
 * taps (1, 3) and output 2i+1 rows (i, i+1) with taps (3, 1) (networks.md §1.3: y[2n] =
 * x[n-1]/4 + 3x[n]/4, y[2n+1] = 3x[n]/4 + x[n+1]/4). The four products of each output
 * are accumulated by fma in the row-major tap order of upfirdn2d_up2, so both kernels
 * give the same bits.
 */
__kernel void upfirdn2d_up2_fast(const int H, const int W, const float gain,
                                 __global const float *restrict x, __global float *restrict y)
{
    const int j = get_global_id(0), i = get_global_id(1);
    const size_t plane = get_global_id(2);
    if (j >= W || i >= H) return;
    __global const float *xc = x + plane * H * W + (size_t)i * W + j;
    const bool up = i > 0, dn = i < H - 1, lf = j > 0, rt = j < W - 1;
    const float v00 = up && lf ? xc[-W - 1] : 0.0f, v01 = up ? xc[-W] : 0.0f;
    const float v02 = up && rt ? xc[-W + 1] : 0.0f;
    const float v10 = lf ? xc[-1] : 0.0f, v11 = xc[0], v12 = rt ? xc[1] : 0.0f;
    const float v20 = dn && lf ? xc[W - 1] : 0.0f, v21 = dn ? xc[W] : 0.0f;
    const float v22 = dn && rt ? xc[W + 1] : 0.0f;
    const float k11 = (1.0f / 64.0f) * gain, k13 = (3.0f / 64.0f) * gain;
    const float k33 = (9.0f / 64.0f) * gain;
    float2 top, bot;
    top.s0 = fma(k33, v11, fma(k13, v10, fma(k13, v01, fma(k11, v00, 0.0f))));
    top.s1 = fma(k13, v12, fma(k33, v11, fma(k11, v02, fma(k13, v01, 0.0f))));
    bot.s0 = fma(k13, v21, fma(k11, v20, fma(k33, v11, fma(k13, v10, 0.0f))));
    bot.s1 = fma(k11, v22, fma(k13, v21, fma(k13, v12, fma(k33, v11, 0.0f))));
    __global float *yr = y + plane * 4 * H * W + (size_t)(2 * i) * (2 * W) + 2 * j;
    vstore2(top, 0, yr);
    vstore2(bot, 0, yr + 2 * W);
}

/* x [P, H, W] -> y [P, 2H, 2W]; one work-item per input pixel writes two float2. */
__kernel void upsample_nearest(const int H, const int W, __global const float *restrict x,
                               __global float *restrict y)
{
    const int ix = get_global_id(0), iy = get_global_id(1);
    const size_t plane = get_global_id(2);
    if (ix >= W || iy >= H) return;
    const float v = x[plane * H * W + (size_t)iy * W + ix];
    const size_t row0 = plane * 4 * H * W + (size_t)(2 * iy) * (2 * W);
    vstore2((float2)(v, v), 0, y + row0 + 2 * ix);
    vstore2((float2)(v, v), 0, y + row0 + 2 * W + 2 * ix);
}

/*
 * x [P, H, W] -> y [P, OH, OW] with OH = H/2, OW = W/2 (floored). With a, b the top pair
 * and c, d the bottom pair of a 2x2 window:
 *   seq = 0: ((a + b) + (c + d)) / 4  — torch.mean over the reshaped 2x2
 *            (naive_downsample_2d) when W > 2;
 *   seq = 1: (((a + b) + c) + d) / 4 — F.avg_pool2d(x, 2, stride=2), and torch.mean when
 *            W == 2 (then the four values are contiguous and summed in order).
 * Dividing by 4 is exact, so this is the reference bit for bit.
 */
__kernel void downsample_avg(const int H, const int W, const int OH, const int OW,
                             const int seq, __global const float *restrict x,
                             __global float *restrict y)
{
    const int ox = get_global_id(0), oy = get_global_id(1);
    const size_t plane = get_global_id(2);
    if (ox >= OW || oy >= OH) return;
    __global const float *top = x + plane * H * W + (size_t)(2 * oy) * W + 2 * ox;
    const float a = top[0], b = top[1], c = top[W], d = top[W + 1];
    const float s = seq ? ((a + b) + c) + d : (a + b) + (c + d);
    y[plane * OH * OW + (size_t)oy * OW + ox] = s * 0.25f;
}

/* a [N, n1], b [N, n2] -> y [N, n1 + n2] (n1 = C1*HW, n2 = C2*HW). */
__kernel void concat(const int n1, const int n2, __global const float *restrict a,
                     __global const float *restrict b, __global float *restrict y)
{
    const int i = get_global_id(0);
    const size_t s = get_global_id(1);
    if (i >= n1 + n2) return;
    y[s * (n1 + n2) + i] = i < n1 ? a[s * n1 + i] : b[s * n2 + (i - n1)];
}
