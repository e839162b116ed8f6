/*
 * group_norm.cl — GroupNorm, optionally followed by SiLU (networks.md §0, §7.1):
 *   per sample n and group g of CG = C/G consecutive channels, over the CG*HW values
 *   (contiguous in NCHW): mean, biased variance, then per channel c
 *   y = (x - mean) * (gamma[c] / sqrt(var + eps)) + beta[c], and y = silu(y) in
 *   group_norm_silu.
 *
 * Tuning parameters (-D):
 *   WG   work-group size, a power of two (default 1). One work-group per (n, g): global
 *        size (WG, N*G), local size (WG, 1); get_group_id(1) = n*G + g. The default suits
 *        CPU devices, where one work-item per group with wide vectors beats any
 *        work-group reduction (PoCL, 2 cores, 8x128x32x32: WG 1 / VW 16 0.56 ms,
 *        WG 64 / VW 8 1.3 ms, WG 256 / VW 8 1.9 ms); src/kernels/group_norm.c passes
 *        WG 256, VW 4 to GPUs.
 *   VW   vector width, 1, 2, 4, 8 or 16 (default 16): work-item l loads vectors l, l+WG,
 *        ... of the group; the last span % VW values (and, in pass 3, channels whose HW
 *        is not a multiple of VW) go element by element.
 * Each work-item sums its vectors in blocks of blk ~ sqrt(vectors per work-item) and adds
 * the block sums to its total, so no float partial sum runs over more than ~2 sqrt(span)
 * additions, even for 1024^2 planes; the lanes and the work-items are then summed
 * pairwise (a tree in local memory).
 *
 * Numerics: corrected two-pass algorithm (Chan, Golub & LeVeque). Pass 1 gives a mean
 * estimate m0; pass 2 sums d = x - m0 and d*d, giving dm = sum(d)/M and
 * var = sum(d*d)/M - dm^2, which removes pass 1's rounding to first order. The mean is
 * kept as the unevaluated pair m0 + dm and pass 3 forms (x - m0) - dm, so it is not
 * rounded to one float either: a group of near-equal values (variance below eps, where
 * 1/sqrt(eps) = 1000 amplifies any error in the mean) still normalises to ~beta. PyTorch's
 * CPU kernel uses x*scale + (beta - mean*scale), which loses ulp(mean*scale) there.
 *
 * group_norm_jvp / group_norm_silu_jvp: the forward-mode derivative (tangent) of the
 * above in direction tx (algorithms.md §6.2 "Forward-mode alternative"), with the same
 * work-group layout, parameters and accumulation. With xc = x - mean, the group's
 * cov = mean(xc * (tx - mean(tx))) and rstd = 1/sqrt(var + eps):
 *   dz = gamma * rstd * ((tx - mean(tx)) - xc * cov * rstd^2)
 *   ty = dz, or silu'(z) * dz with z = gamma * rstd * xc + beta (the _silu_jvp kernel).
 * Pass 1 also sums tx, pass 2 also sums e = tx - mean0(tx) and d * e, so the tangent's
 * mean and the covariance get the same corrected two-pass treatment as mean and variance
 * (cov = sum(d e)/M - dm * de). ty must not alias x or tx (the wrapper refuses it).
 *
 * y may equal x: a work-group reads only its own group, and every read of x in passes 1
 * and 2 happens before the global-memory barrier that precedes the first write.
 * Edges: the loops run to the exact span, so any C/G, HW >= 1 works.
 */
#ifndef WG
#define WG 1
#endif
#ifndef VW
#define VW 16
#endif
#if WG < 1 || (WG & (WG - 1)) != 0
#error "group_norm.cl: WG must be a power of two"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VW == 1
#define floatV float
#define LOADV(p, i) ((p)[i])
#define STOREV(v, p, i) ((p)[i] = (v))
#else
#define floatV CAT(float, VW)
#define LOADV(p, i) CAT(vload, VW)(i, p)
#define STOREV(v, p, i) CAT(vstore, VW)(v, i, p)
#endif

/* Pairwise sum of the lanes, through private memory: Oclgrind's uninitialised-value
 * checker crashes on the shuffles that lane access (.s0, .lo) compiles to. Written out
 * without loops: PoCL does not unroll even constant-count loops here, and a loop left t
 * on the stack (~30% of group_norm on 4x4 planes); straight-line code stays in registers. */
#if VW == 1
#define HSUM(v) (v)
#else
#define HSUM(v) hsum_lanes(v)
#define HP(i) t[i] = t[2 * i] + t[2 * i + 1]
inline float hsum_lanes(const floatV v)
{
    float t[VW];
    STOREV(v, t, 0);
#if VW >= 16
    HP(0), HP(1), HP(2), HP(3), HP(4), HP(5), HP(6), HP(7);
#endif
#if VW >= 8
    HP(0), HP(1), HP(2), HP(3);
#endif
#if VW >= 4
    HP(0), HP(1);
#endif
    HP(0);
    return t[0];
}
#undef HP
#endif

/* Sum a[0..WG) and b[0..WG) into a[0], b[0]. Every work-item must call it. */
inline void reduce_pair(__local float *a, __local float *b, const int lid)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (lid < s) {
            a[lid] += a[lid + s];
            b[lid] += b[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* x, y: [N, C, HW]; gamma, beta: [C]. */
inline void group_norm_body(const int C, const int HW, const int G, const float eps,
                            __global const float *x, __global const float *gamma,
                            __global const float *beta, __global float *y, const int silu,
                            __local float *s1, __local float *s2)
{
    const int lid = get_local_id(0);
    const int ng = get_group_id(1);
    const int n = ng / G, g = ng - n * G;
    const int cg = C / G;
    const int span = cg * HW, nv = span / VW; /* values, whole vectors */
    const int per_item = (nv + WG - 1) / WG;
    int blk = 1; /* block length: the smallest power of two with blk^2 >= per_item */
    while (blk * blk < per_item) blk <<= 1;
    const float inv_span = 1.0f / (float)span;
    const size_t base = ((size_t)n * C + (size_t)g * cg) * HW;
    __global const float *xg = x + base;
    __global float *yg = y + base;

    /* pass 1: mean estimate */
    floatV tot = 0.0f;
    for (int v0 = lid; v0 < nv; v0 += WG * blk) {
        const int end = min(nv, v0 + WG * blk);
        floatV part = 0.0f;
        for (int v = v0; v < end; v += WG) part += LOADV(xg, v);
        tot += part;
    }
    float t1 = HSUM(tot);
    for (int i = nv * VW + lid; i < span; i += WG) t1 += xg[i];
    s1[lid] = t1;
    s2[lid] = 0.0f;
    reduce_pair(s1, s2, lid);
    const float mean0 = s1[0] * inv_span;
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read s1[0] before it is reused */

    /* pass 2: residual sums around the estimate */
    floatV dsum = 0.0f, qsum = 0.0f;
    for (int v0 = lid; v0 < nv; v0 += WG * blk) {
        const int end = min(nv, v0 + WG * blk);
        floatV dpart = 0.0f, qpart = 0.0f;
        for (int v = v0; v < end; v += WG) {
            const floatV d = LOADV(xg, v) - mean0;
            dpart += d;
            qpart += d * d;
        }
        dsum += dpart;
        qsum += qpart;
    }
    float t2 = HSUM(dsum), t3 = HSUM(qsum);
    for (int i = nv * VW + lid; i < span; i += WG) {
        const float d = xg[i] - mean0;
        t2 += d;
        t3 += d * d;
    }
    s1[lid] = t2;
    s2[lid] = t3;
    reduce_pair(s1, s2, lid);
    const float dmean = s1[0] * inv_span;
    const float var = max(s2[0] * inv_span - dmean * dmean, 0.0f);
    const float rstd = 1.0f / sqrt(var + eps);

    /* pass 3: normalise, affine, optional SiLU. In place, other work-items still read
     * what this one is about to write: the local fences above do not order global
     * memory, this barrier does. */
    barrier(CLK_GLOBAL_MEM_FENCE);
    const int hwv = HW / VW;
    if (hwv >= WG) { /* channel by channel: vectors, then the channel's tail */
        for (int ci = 0; ci < cg; ci++) {
            const float sc = rstd * gamma[g * cg + ci], sh = beta[g * cg + ci];
            __global const float *xc = xg + (size_t)ci * HW;
            __global float *yc = yg + (size_t)ci * HW;
            for (int j = lid; j < hwv; j += WG) {
                floatV v = ((LOADV(xc, j) - mean0) - dmean) * sc + sh;
                if (silu) v = v / (1.0f + exp(-v));
                STOREV(v, yc, j);
            }
            for (int j = hwv * VW + lid; j < HW; j += WG) {
                const float v = ((xc[j] - mean0) - dmean) * sc + sh;
                yc[j] = silu ? clsde_silu(v) : v;
            }
        }
    } else if (HW % VW == 0) { /* small maps: walk the group's vectors flat */
        for (int v = lid; v < nv; v += WG) {
            const int ci = v / hwv;
            const float sc = rstd * gamma[g * cg + ci], sh = beta[g * cg + ci];
            floatV t = ((LOADV(xg, v) - mean0) - dmean) * sc + sh;
            if (silu) t = t / (1.0f + exp(-t));
            STOREV(t, yg, v);
        }
    } else { /* small maps of any size: element by element */
        for (int i = lid; i < span; i += WG) {
            const int ci = i / HW;
            const float sc = rstd * gamma[g * cg + ci], sh = beta[g * cg + ci];
            const float v = ((xg[i] - mean0) - dmean) * sc + sh;
            yg[i] = silu ? clsde_silu(v) : v;
        }
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
group_norm(const int C, const int HW, const int G, const float eps, __global const float *x,
           __global const float *restrict gamma, __global const float *restrict beta,
           __global float *y)
{
    __local float s1[WG], s2[WG];
    group_norm_body(C, HW, G, eps, x, gamma, beta, y, 0, s1, s2);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
group_norm_silu(const int C, const int HW, const int G, const float eps,
                __global const float *x, __global const float *restrict gamma,
                __global const float *restrict beta, __global float *y)
{
    __local float s1[WG], s2[WG];
    group_norm_body(C, HW, G, eps, x, gamma, beta, y, 1, s1, s2);
}

/* ---- forward-mode derivative ---- */

/* Sum a, b, c, d [0..WG) into a[0] .. d[0]. Every work-item must call it. */
inline void reduce_quad(__local float *a, __local float *b, __local float *c, __local float *d,
                        const int lid)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (lid < s) {
            a[lid] += a[lid + s];
            b[lid] += b[lid + s];
            c[lid] += c[lid + s];
            d[lid] += d[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* The tangent of one value (or VW values) of type T: x, tx at the position, sc = gamma *
 * rstd and sh = beta of its channel. Uses the group statistics of group_norm_jvp_body. */
#define GN_JVP(T, xv, tv, sc, sh, out)                                                     \
    do {                                                                                    \
        const T xc_ = ((xv) - mean0) - dmean;                                               \
        T dz_ = (sc) * ((((tv) - tmean0) - dtmean) - xc_ * kcov);                           \
        if (silu) {                                                                         \
            T g_;                                                                           \
            CLSDE_SILU_GRAD(T, xc_ * (sc) + (sh), g_);                                      \
            dz_ *= g_;                                                                      \
        }                                                                                   \
        (out) = dz_;                                                                        \
    } while (0)

/* x, tx, ty: [N, C, HW]; gamma, beta: [C]. */
inline void group_norm_jvp_body(const int C, const int HW, const int G, const float eps,
                                __global const float *x, __global const float *tx,
                                __global const float *gamma, __global const float *beta,
                                __global float *ty, const int silu, __local float *s1,
                                __local float *s2, __local float *s3, __local float *s4)
{
    const int lid = get_local_id(0);
    const int ng = get_group_id(1);
    const int n = ng / G, g = ng - n * G;
    const int cg = C / G;
    const int span = cg * HW, nv = span / VW;
    const int per_item = (nv + WG - 1) / WG;
    int blk = 1; /* as in group_norm_body */
    while (blk * blk < per_item) blk <<= 1;
    const float inv_span = 1.0f / (float)span;
    const size_t base = ((size_t)n * C + (size_t)g * cg) * HW;
    __global const float *xg = x + base, *tg = tx + base;
    __global float *yg = ty + base;

    /* pass 1: mean estimates of x and tx */
    floatV xtot = 0.0f, ttot = 0.0f;
    for (int v0 = lid; v0 < nv; v0 += WG * blk) {
        const int end = min(nv, v0 + WG * blk);
        floatV xpart = 0.0f, tpart = 0.0f;
        for (int v = v0; v < end; v += WG) {
            xpart += LOADV(xg, v);
            tpart += LOADV(tg, v);
        }
        xtot += xpart;
        ttot += tpart;
    }
    float t1 = HSUM(xtot), t2 = HSUM(ttot);
    for (int i = nv * VW + lid; i < span; i += WG) {
        t1 += xg[i];
        t2 += tg[i];
    }
    s1[lid] = t1;
    s2[lid] = t2;
    reduce_pair(s1, s2, lid);
    const float mean0 = s1[0] * inv_span, tmean0 = s2[0] * inv_span;
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read s1[0], s2[0] */

    /* pass 2: residual sums d = x - mean0, e = tx - tmean0: d, d*d, e, d*e */
    floatV dsum = 0.0f, qsum = 0.0f, esum = 0.0f, csum = 0.0f;
    for (int v0 = lid; v0 < nv; v0 += WG * blk) {
        const int end = min(nv, v0 + WG * blk);
        floatV dpart = 0.0f, qpart = 0.0f, epart = 0.0f, cpart = 0.0f;
        for (int v = v0; v < end; v += WG) {
            const floatV d = LOADV(xg, v) - mean0, e = LOADV(tg, v) - tmean0;
            dpart += d;
            qpart += d * d;
            epart += e;
            cpart += d * e;
        }
        dsum += dpart;
        qsum += qpart;
        esum += epart;
        csum += cpart;
    }
    float u1 = HSUM(dsum), u2 = HSUM(qsum), u3 = HSUM(esum), u4 = HSUM(csum);
    for (int i = nv * VW + lid; i < span; i += WG) {
        const float d = xg[i] - mean0, e = tg[i] - tmean0;
        u1 += d;
        u2 += d * d;
        u3 += e;
        u4 += d * e;
    }
    s1[lid] = u1;
    s2[lid] = u2;
    s3[lid] = u3;
    s4[lid] = u4;
    reduce_quad(s1, s2, s3, s4, lid);
    const float dmean = s1[0] * inv_span, dtmean = s3[0] * inv_span;
    const float var = max(s2[0] * inv_span - dmean * dmean, 0.0f);
    const float cov = s4[0] * inv_span - dmean * dtmean;
    const float rstd = 1.0f / sqrt(var + eps);
    const float kcov = cov * rstd * rstd;

    /* pass 3: the tangent, in the three layouts of group_norm_body (ty does not alias x,
     * tx, so no global barrier) */
    const int hwv = HW / VW;
    if (hwv >= WG) {
        for (int ci = 0; ci < cg; ci++) {
            const float sc = rstd * gamma[g * cg + ci], sh = beta[g * cg + ci];
            __global const float *xc = xg + (size_t)ci * HW, *tc = tg + (size_t)ci * HW;
            __global float *yc = yg + (size_t)ci * HW;
            for (int j = lid; j < hwv; j += WG) {
                floatV r;
                GN_JVP(floatV, LOADV(xc, j), LOADV(tc, j), sc, sh, r);
                STOREV(r, yc, j);
            }
            for (int j = hwv * VW + lid; j < HW; j += WG)
                GN_JVP(float, xc[j], tc[j], sc, sh, yc[j]);
        }
    } else if (HW % VW == 0) {
        for (int v = lid; v < nv; v += WG) {
            const int ci = v / hwv;
            const float sc = rstd * gamma[g * cg + ci], sh = beta[g * cg + ci];
            floatV r;
            GN_JVP(floatV, LOADV(xg, v), LOADV(tg, v), sc, sh, r);
            STOREV(r, yg, v);
        }
    } else {
        for (int i = lid; i < span; i += WG) {
            const int ci = i / HW;
            const float sc = rstd * gamma[g * cg + ci], sh = beta[g * cg + ci];
            GN_JVP(float, xg[i], tg[i], sc, sh, yg[i]);
        }
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
group_norm_jvp(const int C, const int HW, const int G, const float eps, __global const float *x,
               __global const float *tx, __global const float *restrict gamma,
               __global const float *restrict beta, __global float *restrict ty)
{
    __local float s1[WG], s2[WG], s3[WG], s4[WG];
    group_norm_jvp_body(C, HW, G, eps, x, tx, gamma, beta, ty, 0, s1, s2, s3, s4);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
group_norm_silu_jvp(const int C, const int HW, const int G, const float eps,
                    __global const float *x, __global const float *tx,
                    __global const float *restrict gamma, __global const float *restrict beta,
                    __global float *restrict ty)
{
    __local float s1[WG], s2[WG], s3[WG], s4[WG];
    group_norm_jvp_body(C, HW, G, eps, x, tx, gamma, beta, ty, 1, s1, s2, s3, s4);
}
