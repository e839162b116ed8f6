/*
 * attention.cl — single-head self-attention over the hw positions of each image
 * (networks.md §1.6 steps 3–5; §7.1 "batched matmul + softmax"):
 *   s[p, p'] = (sum_c q[c, p] k[c, p']) * scale        scale = (float)c^-1/2, after the dot
 *   w[p, :]  = softmax(s[p, :])                        row max subtracted
 *   o[c, p]  = sum_p' w[p, p'] v[c, p']
 * q, k, v, o: [n, c, hw] (NCHW with hw = H*W flattened row-major). o must not alias q, k, v.
 *
 * One work-group handles TQ consecutive queries of one image: global id 1 is the image,
 * group id 0 the query tile. Keys are visited in blocks of TK with an online softmax
 * (running row max m and sum l, as flash attention does), so nothing of size hw*hw is
 * ever stored in global memory and any hw >= 1 works. When hw <= TK (every network
 * shape with the default TK: hw = 16, 64, 196, 256) there is one block and o is written
 * once; with several blocks o itself holds the unnormalised partial sums, rescaled by
 * exp(m_old - m_new) per block and divided by l after the last one (each work-item
 * only ever touches its own o entries, so no synchronisation is needed for that).
 * Per block:
 *   1. scores: a work-item owns chunks of VK consecutive keys and computes them for all
 *      TQ queries (TQ vector accumulators over the keys, loop over channels);
 *      the TQ x TK block lives in local memory, query-major;
 *   2. softmax: work-item i < TQ updates row i (max, exp, sum; VK-wide) — cheap next
 *      to 1 and 3;
 *   3. output: a work-item owns channels and forms, for all TQ queries, the dot product
 *      of its v row with each probability row (VK-wide partial sums).
 * Edges: queries past hw read the last query's data (clamped index) and are never
 * written; keys past hw in the last chunk of a block are read with a clamped index in
 * step 1 and skipped in steps 2 and 3. Accumulation is float32, in key order within a
 * lane; the exp of the softmax is the accurate float exp (no native_ math).
 *
 * attention_jvp, the forward-mode derivative (algorithms.md §6.2) in directions tq, tk, tv:
 *   ds[p, p'] = (sum_c tq[c, p] k[c, p'] + q[c, p] tk[c, p']) * scale
 *   dw[p, p'] = w[p, p'] (ds[p, p'] - sum_p'' w[p, p''] ds[p, p''])
 *   to[c, p]  = sum_p' dw[p, p'] v[c, p'] + w[p, p'] tv[c, p']
 * Laid out as the forward's single-block case, with whole rows: one work-group handles
 * TQJ consecutive queries of one image (group id 0: the query tile, global id 1: the
 * image) and keeps their rows s/w and ds/dw over all hw keys in local memory, rows hwr
 * floats apart (hw rounded up to VK). The rows are kernel arguments, not static arrays:
 * as static arrays Oclgrind charged them to the forward's launches too, and 16 + 16 KiB
 * is past its 32 KiB (CL_OUT_OF_RESOURCES).
 *   1. scores and tangents: a work-item owns chunks of VK keys, for all TQJ queries;
 *   2. softmax: work-item i < TQJ turns row i into w and dw (ds minus its mean under w
 *      before the multiply by w, so a common offset of ds cancels before it meets v);
 *   3. output: a work-item owns channels, to[ch][i] = dw_i . v[ch] + w_i . tv[ch].
 * Edges as in the forward (clamped query and key indices, never written). Float32, the
 * accurate exp. to must not alias any input.
 *
 * Tuning parameters (-D):
 *   TQ  queries per work-group, 1..WG (default 16)
 *   TK  keys per block held in local memory, a multiple of VK (default 256);
 *       local memory used: 4*TQ*TK + 8*TQ bytes (16.1 KiB by default)
 *   VK  key vector width, 1, 2, 4, 8 or 16 (default 16)
 *   WG  work-group size (default 64); the kernel requires exactly this local size
 *   TQJ attention_jvp: queries per work-group, 1..WG (default 8); local memory used:
 *       8*TQJ*hwr bytes
 */
#ifndef TQ
#define TQ 16
#endif
#ifndef TK
#define TK 256
#endif
#ifndef VK
#define VK 16
#endif
#ifndef WG
#define WG 64
#endif
#ifndef TQJ
#define TQJ 8
#endif

#if TQ > WG || TK % VK != 0 || TQJ > WG
#error "attention.cl: need TQ, TQJ <= WG and TK a multiple of VK"
#endif

#if VK == 1
#define floatK float
#define LOADK(p) (*(p))
#define STOREK(x, p) (*(p) = (x))
#else
#define ATT_CAT_(a, b) a##b
#define ATT_CAT(a, b) ATT_CAT_(a, b)
#define floatK ATT_CAT(float, VK)
#define LOADK(p) ATT_CAT(vload, VK)(0, p)
#define STOREK(x, p) ATT_CAT(vstore, VK)(x, 0, p)
#endif

/* Horizontal sum of a floatK from its scalar components, pairwise. */
#define HSUM2_(x) ((x).s0 + (x).s1)
#define HSUM4_(x) (((x).s0 + (x).s1) + ((x).s2 + (x).s3))
#define HSUM8_(x) (HSUM4_(x) + (((x).s4 + (x).s5) + ((x).s6 + (x).s7)))
#if VK == 1
#define HSUMK(x) (x)
#elif VK == 2
#define HSUMK(x) HSUM2_(x)
#elif VK == 4
#define HSUMK(x) HSUM4_(x)
#elif VK == 8
#define HSUMK(x) HSUM8_(x)
#elif VK == 16
#define HSUMK(x) (HSUM8_((x).lo) + HSUM8_((x).hi))
#endif

/* VK values p[0 .. n-1] followed by copies of p[n-1] (a partial key chunk, 1 <= n < VK). */
inline floatK load_keys_clamped(__global const float *p, const int n)
{
    float t[VK];
    for (int u = 0; u < VK; u++) t[u] = p[min(u, n - 1)];
    return LOADK(t);
}

/* Horizontal sum and max of the softmax's running vectors, through a private array:
 * Oclgrind 21.10's uninitialised-value checker crashes on swizzles of a vector carried
 * around a loop (HSUMK is fine on the accumulators of step 3, which live in an array),
 * and reports fmax on .lo/.hi of a float16 as uninitialised. Once per row and block. */
inline float hsum(const floatK x)
{
    float t[VK], r;
    STOREK(x, t);
    r = t[0];
    for (int u = 1; u < VK; u++) r += t[u];
    return r;
}

inline float hmax(const floatK x)
{
    float t[VK], m;
    STOREK(x, t);
    m = t[0];
    for (int u = 1; u < VK; u++) m = fmax(m, t[u]);
    return m;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention(const int c, const int hw, const float scale, __global const float *restrict q,
               __global const float *restrict k, __global const float *restrict v,
               __global float *restrict o)
{
    __local float s[TQ * TK]; /* [TQ queries][TK keys]: scores, then exp(s - m) */
    __local float alpha[TQ];  /* per query: exp(m_old - m_new), the rescale of earlier blocks */
    __local float lsum[TQ];   /* per query: the running sum l of exp(s - m) */
    const int lid = get_local_id(0);
    const int q0 = get_group_id(0) * TQ;
    const int nq = min(TQ, hw - q0);
    const size_t plane = (size_t)get_global_id(1) * c * hw;
    float m_run = -INFINITY, l_run = 0.0f; /* row lid's running max and sum (lid < TQ) */

    q += plane + q0;
    k += plane;
    v += plane;
    o += plane + q0;

    for (int k0 = 0; k0 < hw; k0 += TK) {
        const int nk = min(TK, hw - k0);
        const int last = k0 + TK >= hw;

        /* 1. scores s[i][j] for this block */
        for (int j = lid * VK; j < nk; j += WG * VK) {
            const int n_in = min(VK, nk - j);
            floatK acc[TQ];
            for (int i = 0; i < TQ; i++) acc[i] = (floatK)(0.0f);
            for (int ch = 0; ch < c; ch++) {
                __global const float *kp = k + (size_t)ch * hw + k0 + j;
                __global const float *qp = q + (size_t)ch * hw;
                const floatK kv = n_in == VK ? LOADK(kp) : load_keys_clamped(kp, n_in);
                for (int i = 0; i < TQ; i++) acc[i] += qp[min(i, nq - 1)] * kv;
            }
            if (n_in == VK) {
                for (int i = 0; i < TQ; i++) STOREK(acc[i] * scale, s + i * TK + j);
            } else {
                for (int i = 0; i < TQ; i++) {
                    float t[VK];
                    STOREK(acc[i] * scale, t);
                    for (int u = 0; u < n_in; u++) s[i * TK + j + u] = t[u];
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        /* 2. online softmax update of row lid (VK-wide, then the partial chunk) */
        if (lid < TQ) {
            __local float *row = s + lid * TK;
            const int nfull = nk / VK * VK;
            floatK vm = (floatK)(m_run), vs = (floatK)(0.0f);
            float m_new, sum = 0.0f, a;
            int j;
            for (j = 0; j < nfull; j += VK) vm = fmax(vm, LOADK(row + j));
            m_new = hmax(vm);
            for (; j < nk; j++) m_new = fmax(m_new, row[j]);
            for (j = 0; j < nfull; j += VK) {
                const floatK e = exp(LOADK(row + j) - m_new);
                STOREK(e, row + j);
                vs += e;
            }
            for (; j < nk; j++) {
                const float e = exp(row[j] - m_new);
                row[j] = e;
                sum += e;
            }
            sum += hsum(vs);
            a = exp(m_run - m_new); /* 0 for the first block (m_run = -inf) */
            l_run = l_run * a + sum;
            m_run = m_new;
            alpha[lid] = a;
            lsum[lid] = l_run;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        /* 3. o[ch][i] (+)= sum_j v[ch][j] p[i][j] */
        for (int ch = lid; ch < c; ch += WG) {
            __global const float *vp = v + (size_t)ch * hw + k0;
            __global float *op = o + (size_t)ch * hw;
            floatK acc[TQ];
            float tail[TQ];
            int j = 0;
            for (int i = 0; i < TQ; i++) acc[i] = (floatK)(0.0f), tail[i] = 0.0f;
            for (; j + VK <= nk; j += VK) {
                const floatK vv = LOADK(vp + j);
                for (int i = 0; i < TQ; i++) acc[i] += vv * LOADK(s + i * TK + j);
            }
            for (; j < nk; j++)
                for (int i = 0; i < TQ; i++) tail[i] += vp[j] * s[i * TK + j];
            for (int i = 0; i < nq; i++) {
                float r = HSUMK(acc[i]) + tail[i];
                if (k0 > 0) r += op[i] * alpha[i];
                op[i] = last ? r / lsum[i] : r;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* s is overwritten by the next block */
    }
}

/* ---- forward-mode derivative ---- */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention_jvp(const int c, const int hw, const float scale, __global const float *restrict q,
                   __global const float *restrict k, __global const float *restrict v,
                   __global const float *restrict tq, __global const float *restrict tk,
                   __global const float *restrict tv, __global float *restrict to,
                   const int hwr, __local float *w, __local float *dw)
{
    /* w: [TQJ queries][hwr keys], s, then exp(s - m), then w; dw: the same for ds, dw */
    const int lid = get_local_id(0);
    const int q0 = get_group_id(0) * TQJ;
    const int nq = min(TQJ, hw - q0);
    const size_t plane = (size_t)get_global_id(1) * c * hw;

    q += plane + q0, tq += plane + q0;
    k += plane, v += plane, tk += plane, tv += plane;
    to += plane + q0;

    /* 1. s and ds for all keys */
    for (int j = lid * VK; j < hw; j += WG * VK) {
        const int n_in = min(VK, hw - j);
        floatK as[TQJ], ad[TQJ];
        for (int i = 0; i < TQJ; i++) as[i] = (floatK)(0.0f), ad[i] = (floatK)(0.0f);
        for (int ch = 0; ch < c; ch++) {
            __global const float *kp = k + (size_t)ch * hw + j, *tkp = tk + (size_t)ch * hw + j;
            const size_t r = (size_t)ch * hw;
            const floatK kv = n_in == VK ? LOADK(kp) : load_keys_clamped(kp, n_in);
            const floatK tkv = n_in == VK ? LOADK(tkp) : load_keys_clamped(tkp, n_in);
            for (int i = 0; i < TQJ; i++) {
                const float qi = q[r + min(i, nq - 1)], tqi = tq[r + min(i, nq - 1)];
                as[i] += qi * kv;
                ad[i] += tqi * kv + qi * tkv;
            }
        }
        if (n_in == VK) {
            for (int i = 0; i < TQJ; i++) {
                STOREK(as[i] * scale, w + i * hwr + j);
                STOREK(ad[i] * scale, dw + i * hwr + j);
            }
        } else {
            for (int i = 0; i < TQJ; i++) {
                float t[VK], u[VK];
                STOREK(as[i] * scale, t);
                STOREK(ad[i] * scale, u);
                for (int e = 0; e < n_in; e++)
                    w[i * hwr + j + e] = t[e], dw[i * hwr + j + e] = u[e];
            }
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* 2. row lid: w = softmax(s), dw = w (ds - sum w ds) */
    if (lid < TQJ) {
        __local float *rs = w + lid * hwr, *rd = dw + lid * hwr;
        const int nfull = hw / VK * VK;
        floatK vm = (floatK)(-INFINITY), vl = (floatK)(0.0f), vld = (floatK)(0.0f);
        float m, l, ld, mds, inv_l;
        int j;
        for (j = 0; j < nfull; j += VK) vm = fmax(vm, LOADK(rs + j));
        m = hmax(vm);
        for (; j < hw; j++) m = fmax(m, rs[j]);
        l = 0.0f, ld = 0.0f;
        for (j = 0; j < nfull; j += VK) {
            const floatK e = exp(LOADK(rs + j) - m);
            STOREK(e, rs + j);
            vl += e;
            vld += e * LOADK(rd + j);
        }
        for (; j < hw; j++) {
            const float e = exp(rs[j] - m);
            rs[j] = e;
            l += e;
            ld += e * rd[j];
        }
        l += hsum(vl);
        ld += hsum(vld);
        mds = ld / l;
        inv_l = 1.0f / l;
        for (j = 0; j < nfull; j += VK) {
            const floatK a = LOADK(rs + j) * inv_l;
            STOREK(a, rs + j);
            STOREK(a * (LOADK(rd + j) - mds), rd + j);
        }
        for (; j < hw; j++) {
            const float a = rs[j] * inv_l;
            rs[j] = a;
            rd[j] = a * (rd[j] - mds);
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* 3. to[ch][i] = sum_j dw[i][j] v[ch][j] + w[i][j] tv[ch][j] */
    for (int ch = lid; ch < c; ch += WG) {
        __global const float *vp = v + (size_t)ch * hw, *tvp = tv + (size_t)ch * hw;
        __global float *op = to + (size_t)ch * hw;
        floatK acc[TQJ];
        float tail[TQJ];
        int j = 0;
        for (int i = 0; i < TQJ; i++) acc[i] = (floatK)(0.0f), tail[i] = 0.0f;
        for (; j + VK <= hw; j += VK) {
            const floatK vv = LOADK(vp + j), tvv = LOADK(tvp + j);
            for (int i = 0; i < TQJ; i++)
                acc[i] += LOADK(dw + i * hwr + j) * vv + LOADK(w + i * hwr + j) * tvv;
        }
        for (; j < hw; j++)
            for (int i = 0; i < TQJ; i++)
                tail[i] += dw[i * hwr + j] * vp[j] + w[i * hwr + j] * tvp[j];
        for (int i = 0; i < nq; i++) op[i] = HSUMK(acc[i]) + tail[i];
    }
}
