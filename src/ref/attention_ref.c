/* attention_ref.c — the definition of correct for cl/attention.cl (networks.md §1.6 steps
 * 3–5): scores, max-subtracted softmax and the weighted sum all in double; the scale is
 * the float32 value of c^-1/2 that PyTorch multiplies the float32 dot product with.
 * No allocation: scores are recomputed instead of stored, channels go in chunks of CH.
 * Also the forward-mode derivative (algorithms.md §6.2), the same way. */
#include <math.h>
#include <stddef.h>

#include "attention_ref.h"

#define CH 256

static double score(int32_t c, int32_t hw, const float *q, const float *k, int32_t p,
                    int32_t p2, double scale)
{
    double d = 0.0;
    for (int32_t ch = 0; ch < c; ch++) d += (double)q[(size_t)ch * hw + p] * k[(size_t)ch * hw + p2];
    return d * scale;
}

void clsde_attention_ref(int32_t n, int32_t c, int32_t hw, const float *q, const float *k,
                         const float *v, float *o)
{
    const double scale = (double)(float)pow((double)c, -0.5);
    for (int32_t b = 0; b < n; b++) {
        const size_t plane = (size_t)b * c * hw;
        const float *qb = q + plane, *kb = k + plane, *vb = v + plane;
        float *ob = o + plane;
        for (int32_t p = 0; p < hw; p++) {
            double m = -INFINITY, sum = 0.0;
            for (int32_t p2 = 0; p2 < hw; p2++) m = fmax(m, score(c, hw, qb, kb, p, p2, scale));
            for (int32_t c0 = 0; c0 < c; c0 += CH) {
                const int32_t nc = c - c0 < CH ? c - c0 : CH;
                double acc[CH] = {0};
                for (int32_t p2 = 0; p2 < hw; p2++) {
                    const double w = exp(score(c, hw, qb, kb, p, p2, scale) - m);
                    if (c0 == 0) sum += w;
                    for (int32_t i = 0; i < nc; i++) acc[i] += w * vb[(size_t)(c0 + i) * hw + p2];
                }
                for (int32_t i = 0; i < nc; i++) ob[(size_t)(c0 + i) * hw + p] = (float)(acc[i] / sum);
            }
        }
    }
}

/* The score tangent dS[p, p2] (times scale). */
static double dscore(int32_t c, int32_t hw, const float *q, const float *k, const float *tq,
                     const float *tk, int32_t p, int32_t p2, double scale)
{
    double d = 0.0;
    for (int32_t ch = 0; ch < c; ch++) {
        const size_t r = (size_t)ch * hw;
        d += (double)tq[r + p] * k[r + p2] + (double)q[r + p] * tk[r + p2];
    }
    return d * scale;
}

void clsde_attention_jvp_ref(int32_t n, int32_t c, int32_t hw, const float *q, const float *k,
                             const float *v, const float *tq, const float *tk, const float *tv,
                             float *to)
{
    const double scale = (double)(float)pow((double)c, -0.5);
    for (int32_t b = 0; b < n; b++) {
        const size_t plane = (size_t)b * c * hw;
        const float *qb = q + plane, *kb = k + plane, *vb = v + plane;
        const float *tqb = tq + plane, *tkb = tk + plane, *tvb = tv + plane;
        float *ob = to + plane;
        for (int32_t p = 0; p < hw; p++) {
            double m = -INFINITY, sum = 0.0, wds = 0.0; /* max, sum exp, sum exp * dS */
            for (int32_t p2 = 0; p2 < hw; p2++) m = fmax(m, score(c, hw, qb, kb, p, p2, scale));
            for (int32_t p2 = 0; p2 < hw; p2++) {
                const double e = exp(score(c, hw, qb, kb, p, p2, scale) - m);
                sum += e;
                wds += e * dscore(c, hw, qb, kb, tqb, tkb, p, p2, scale);
            }
            wds /= sum; /* sum_p'' w dS */
            for (int32_t c0 = 0; c0 < c; c0 += CH) {
                const int32_t nc = c - c0 < CH ? c - c0 : CH;
                double acc[CH] = {0};
                for (int32_t p2 = 0; p2 < hw; p2++) {
                    const double w = exp(score(c, hw, qb, kb, p, p2, scale) - m) / sum;
                    const double dw = w * (dscore(c, hw, qb, kb, tqb, tkb, p, p2, scale) - wds);
                    for (int32_t i = 0; i < nc; i++) {
                        const size_t r = (size_t)(c0 + i) * hw + p2;
                        acc[i] += dw * vb[r] + w * tvb[r];
                    }
                }
                for (int32_t i = 0; i < nc; i++) ob[(size_t)(c0 + i) * hw + p] = (float)acc[i];
            }
        }
    }
}
