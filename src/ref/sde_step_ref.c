/*
 * sde_step_ref.c — the definition of correct for cl/sde_step.cl. Operation order follows
 * the reference (score_sde_pytorch sampling.py / controllable_generation.py) with one
 * rounding per operation; ISO C11 does not contract a*b + c, so these match the kernels
 * (FP_CONTRACT OFF) bit for bit.
 */
#include <math.h>
#include <stddef.h>

#include "sde_step_ref.h"

void clsde_pc_update_ref(const clsde_pc_update_params *p, const float *coef, const float *x,
                         const float *s, const float *z, float *x_new, float *x_mean)
{
    for (int32_t b = 0; b < p->n; b++) {
        const float *c = coef + p->coef_offset + (size_t)b * p->coef_stride;
        const float A = c[0], B = c[1], S = c[2];
        for (size_t i = (size_t)b * p->per_image; i < (size_t)(b + 1) * p->per_image; i++) {
            const float xm = A * x[i] + B * s[i];
            if (x_mean) x_mean[i] = xm;
            x_new[i] = z ? xm + S * z[i] : xm;
        }
    }
}

void clsde_langevin_coef_ref(int32_t n, float snr, float a, int batch_mean, const float *norm_s,
                             const float *norm_z, float *coef)
{
    float ms = 0, mz = 0;
    if (batch_mean) {
        for (int32_t j = 0; j < n; j++) ms += norm_s[j], mz += norm_z[j];
        ms /= (float)n, mz /= (float)n;
    }
    for (int32_t b = 0; b < n; b++) {
        const float gs = batch_mean ? ms : norm_s[b], gz = batch_mean ? mz : norm_z[b];
        const float r = snr * gz / gs;
        const float step = r * r * 2.0f * a;
        coef[3 * b + 0] = 1.0f;
        coef[3 * b + 1] = step;
        coef[3 * b + 2] = sqrtf(step * 2.0f);
    }
}

void clsde_inpaint_mix_ref(const clsde_mix_params *p, const float *y, const float *mask,
                           const float *z, float *x, float *x_mean)
{
    for (int32_t b = 0; b < p->n; b++) {
        const float *mk = mask + (size_t)b * p->mask_stride;
        for (int32_t i = 0; i < p->per_image; i++) {
            const size_t o = (size_t)b * p->per_image + i;
            const float mv = mk[i], keep = 1.0f - mv;
            const float md_mean = p->m * y[o];
            const float md = z ? md_mean + z[o] * p->sigma : md_mean;
            const float xn = x[o] * keep + md * mv;
            x[o] = xn;
            if (x_mean) x_mean[o] = xn * keep + md_mean * mv;
        }
    }
}

static void mat_apply(const float mt[9], const float v[3], float out[3])
{
    for (int j = 0; j < 3; j++) out[j] = v[0] * mt[j] + v[1] * mt[3 + j] + v[2] * mt[6 + j];
}

void clsde_color_transform_ref(int32_t n, int32_t hw, const float mat[9], const float *x,
                               float *y)
{
    for (int32_t b = 0; b < n; b++)
        for (int32_t p = 0; p < hw; p++) {
            const size_t o = (size_t)b * 3 * hw + p;
            const float v[3] = {x[o], x[o + hw], x[o + 2 * (size_t)hw]};
            float w[3];
            mat_apply(mat, v, w);
            for (int j = 0; j < 3; j++) y[o + (size_t)j * hw] = w[j];
        }
}

void clsde_colorize_mix_ref(int32_t n, int32_t hw, float m, float sigma, const float M[9],
                            const float Minv[9], const float *y_dec, const float *z, float *x,
                            float *x_mean)
{
    for (int32_t b = 0; b < n; b++)
        for (int32_t p = 0; p < hw; p++) {
            const size_t o = (size_t)b * 3 * hw + p;
            const float md_mean = m * y_dec[o];
            const float md = z ? md_mean + z[o] * sigma : md_mean;
            const float v[3] = {x[o], x[o + hw], x[o + 2 * (size_t)hw]};
            float w[3], wn[3], xn[3];
            /* decoupled mask (1, 0, 0): w*(1 - mask) + md*mask */
            mat_apply(M, v, w);
            wn[0] = w[0] * 0.0f + md * 1.0f;
            wn[1] = w[1] * 1.0f + md * 0.0f;
            wn[2] = w[2] * 1.0f + md * 0.0f;
            mat_apply(Minv, wn, xn);
            for (int j = 0; j < 3; j++) x[o + (size_t)j * hw] = xn[j];
            if (x_mean) {
                float w2[3], wm[3], xm[3];
                mat_apply(M, xn, w2);
                wm[0] = w2[0] * 0.0f + md_mean * 1.0f;
                wm[1] = w2[1] * 1.0f + md_mean * 0.0f;
                wm[2] = w2[2] * 1.0f + md_mean * 0.0f;
                mat_apply(Minv, wm, xm);
                for (int j = 0; j < 3; j++) x_mean[o + (size_t)j * hw] = xm[j];
            }
        }
}
