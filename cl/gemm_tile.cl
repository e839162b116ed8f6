/*
 * gemm_tile.cl — the implicit-GEMM tile machinery shared by conv2d.cl and conv_down_fir.cl:
 * tile parameters and sizes, the VN-wide vector helpers, staging W, the register-tile update
 * and the epilogue. How X is staged is each kernel's own. Not a program: a file pulls it in
 * with a `// clsde:include gemm_tile.cl` line (expanded by cl/embed.py), after defining TK.
 *
 * conv2d.cl's header describes the tiling: y[m, p] = sum_k W[m, k] * X[k, p]; a work-group
 * computes a BM x BN tile of y with WG_M x WG_N work-items; per K block of TK it stages W
 * into As[BM][TK] and X into Bs[TK][BN] (zero outside the matrices), then each work-item
 * (l0, l1) updates its SM x SN register tiles of TM channels x TN pixels, the TN pixels held
 * as NV = TN/VN vectors of VN neighbouring pixels: channel s of tile mi is tile row
 * ROW(l1, mi, s), lane `lane` of pixel vector j is tile column COL(l0, j, lane).
 *
 * Parameters (-D), each with its default:
 *   TM 4         channels per register tile.
 *   VN 4         vector width along pixels: 1, 2, 4, 8 or 16.
 *   TN VN        pixels per register tile, a multiple of VN.
 *   SM 1, SN 1   register tiles per work-item along channels and pixels.
 *   WG_M 8, WG_N 8  work-group size along channels and pixels.
 *   TK           the K block: defined by the including file.
 */
#ifndef TM
#define TM 4
#endif
#ifndef VN
#define VN 4
#endif
#ifndef TN
#define TN VN
#endif
#ifndef SM
#define SM 1
#endif
#ifndef SN
#define SN 1
#endif
#ifndef WG_M
#define WG_M 8
#endif
#ifndef WG_N
#define WG_N 8
#endif
#ifndef TK
#error "define TK (the K block) before including gemm_tile.cl"
#endif

#define NV (TN / VN)         /* pixel vectors per register tile */
#define PW (SN * TN)         /* pixels per work-item */
#define BM (WG_M * SM * TM)
#define BN (WG_N * PW)
#define WG (WG_M * WG_N)

#if TN % VN != 0
#error "TN must be a multiple of VN"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VN == 1
#define floatVN float
#define LOADVN(p) (*(p))
#define STOREVN(v, p) (*(p) = (v))
#else
#define floatVN CAT(float, VN)
#define LOADVN(p) CAT(vload, VN)(0, p)
#define STOREVN(v, p) CAT(vstore, VN)(v, 0, p)
#endif

/* Tile column (0 .. BN-1) of lane `lane` of this work-item's pixel vector j (0 .. PW/VN-1).
 * Loops run over (j, lane) rather than t = j*VN + lane: Oclgrind cannot check the `freeze`
 * LLVM emits for a t / VN, t % VN pair. */
#define COL(l0, j, lane) (((j) * WG_N + (l0)) * VN + (lane))
/* Tile row (0 .. BM-1) of channel s of register tile mi. */
#define ROW(l1, mi, s) (((mi) * WG_M + (l1)) * TM + (s))

#if WG > 1
#define TILE_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#else
#define TILE_BARRIER() /* one work-item: nothing to wait for */
#endif

/* flags of the epilogue */
#define CONV_BIAS 1
#define CONV_CHAN_BIAS 2
#define CONV_RESIDUAL 4

/* The steps below are macros, not functions: expanded in place, each kernel compiles to the
 * same code as when it had them written out. Inline functions (always_inline too) are
 * optimised in another order, and PoCL then emits different code for the same arithmetic.
 * Pass plain names: a macro may evaluate an argument more than once. CONV_EPILOGUE's terms
 * are the exception: expressions, each evaluated only where it is used. */

/* acc (floatVN [SM][SN][TM][NV]) = 0 */
#define GEMM_TILE_ZERO(acc)                                                                 \
    do {                                                                                    \
        for (int mi = 0; mi < SM; mi++)                                                     \
            for (int ni = 0; ni < SN; ni++)                                                 \
                for (int s = 0; s < TM; s++)                                                \
                    for (int v = 0; v < NV; v++) (acc)[mi][ni][s][v] = 0.0f;                \
    } while (0)

/* As (__local float [BM][TK]) = W[m0 .., k0 ..] (wt: [c_out, kdim] row-major), zero past
 * c_out and past kdim.
 * A group of several work-items shares the BM x TK elements out evenly, element e by
 * work-item e % WG (consecutive work-items read consecutive k, contiguous in wt), in a loop
 * of fixed length whose loads do not depend on each other: unrolled (by up to 16), a GPU
 * issues them together.
 * (Row by row, as below, only the first TK work-items would load, one row after another:
 * on an H100 at batch 1 each such load cost ~0.25 us of latency, BM of them per K block,
 * BENCHMARKS.md "NVIDIA H100".)
 * One work-item (a CPU tiling) copies whole rows, which the compiler vectorises. */
#if WG > 1
#define GEMM_STAGE_W(As, wt, c_out, kdim, m0, k0, lid)                                      \
    do {                                                                                    \
        _Pragma("unroll 16") for (int i = 0; i < (BM * TK + WG - 1) / WG; i++) {            \
            const int e = (lid) + i * WG;                                                   \
            if (BM * TK % WG == 0 || e < BM * TK) {                                         \
                const int m = e / TK, kk = e - m * TK;                                      \
                const int mg = (m0) + m, kg = (k0) + kk;                                    \
                (As)[m][kk] = (mg < (c_out) && kg < (kdim)) ? (wt)[mg * (kdim) + kg] : 0.0f; \
            }                                                                               \
        }                                                                                   \
    } while (0)
#else
#define GEMM_STAGE_W(As, wt, c_out, kdim, m0, k0, lid)                                      \
    do {                                                                                    \
        for (int m = 0; m < BM; m++) {                                                      \
            const int mg = (m0) + m;                                                        \
            __global const float *wrow = (wt) + min(mg, (c_out) - 1) * (kdim) + (k0);       \
            if (mg < (c_out) && (k0) + TK <= (kdim)) {                                      \
                for (int kk = (lid); kk < TK; kk += WG) (As)[m][kk] = wrow[kk];             \
            } else {                                                                        \
                for (int kk = (lid); kk < TK; kk += WG)                                     \
                    (As)[m][kk] = (mg < (c_out) && (k0) + kk < (kdim)) ? wrow[kk] : 0.0f;   \
            }                                                                               \
        }                                                                                   \
    } while (0)
#endif

/* acc += W[m, k] * X[k, p] over the staged block's first kn k (As, Bs: __local float
 * [BM][TK], [TK][BN]), one register tile at a time: per k, TM broadcasts and NV vector
 * loads feed TM*NV vector multiply-adds. k ascends within and across blocks: the summation
 * order of every output. */
#define GEMM_TILE_UPDATE(acc, As, Bs, kn, l0, l1)                                           \
    do {                                                                                    \
        for (int mi = 0; mi < SM; mi++) {                                                   \
            for (int ni = 0; ni < SN; ni++) {                                               \
                floatVN c[TM][NV];                                                          \
                _Pragma("unroll") for (int s = 0; s < TM; s++)                              \
                    _Pragma("unroll") for (int v = 0; v < NV; v++)                          \
                        c[s][v] = (acc)[mi][ni][s][v];                                      \
                for (int kk = 0; kk < (kn); kk++) {                                         \
                    floatVN bv[NV];                                                         \
                    _Pragma("unroll") for (int v = 0; v < NV; v++)                          \
                        bv[v] = LOADVN(&(Bs)[kk][((ni * NV + v) * WG_N + (l0)) * VN]);      \
                    _Pragma("unroll") for (int s = 0; s < TM; s++) {                        \
                        const float a = (As)[ROW(l1, mi, s)][kk];                           \
                        _Pragma("unroll") for (int v = 0; v < NV; v++)                      \
                            c[s][v] = a * bv[v] + c[s][v];                                  \
                    }                                                                       \
                }                                                                           \
                _Pragma("unroll") for (int s = 0; s < TM; s++)                              \
                    _Pragma("unroll") for (int v = 0; v < NV; v++)                          \
                        (acc)[mi][ni][s][v] = c[s][v];                                      \
            }                                                                               \
        }                                                                                   \
    } while (0)

/* The epilogue on val (a float, or a floatVN of VN outputs), in PyTorch's order:
 * val = (val + bias_m) + chan_bias_bm, then val = (res_i + val) / res_div, each term where
 * its CONV_* flag is set. bias_m, chan_bias_bm and res_i are expressions (typically bias[m],
 * chan_bias[b * c_out + m], res[i]), evaluated only under their flags. */
#define CONV_EPILOGUE(val, flags, bias_m, chan_bias_bm, res_i, res_div)                     \
    do {                                                                                    \
        if ((flags) & CONV_BIAS) (val) += (bias_m);                                         \
        if ((flags) & CONV_CHAN_BIAS) (val) += (chan_bias_bm);                              \
        if ((flags) & CONV_RESIDUAL) {                                                      \
            (val) = (res_i) + (val);                                                        \
            if ((res_div) != 1.0f) (val) /= (res_div);                                      \
        }                                                                                   \
    } while (0)
