/*
 * resample_ref.c — the definition of correct for cl/resample.cl (networks.md §1.3, §1.4).
 * upfirdn2d follows the four steps of §1.3 literally (zero insertion, padding, true
 * convolution with the flipped-index sum, decimation) in double; the 2x2 means are
 * four-term float sums written in the reference's order; nearest and concat are copies.
 */
#include <stddef.h>

#include "resample_ref.h"

static int32_t upfirdn2d_side(int32_t side, const clsde_upfirdn2d_params *p)
{
    const int32_t num = side * p->up + p->pad0 + p->pad1 - 4;
    return num < 0 ? 0 : num / p->down + 1;
}

int32_t clsde_upfirdn2d_out_h(const clsde_upfirdn2d_params *p)
{
    return upfirdn2d_side(p->h, p);
}

int32_t clsde_upfirdn2d_out_w(const clsde_upfirdn2d_params *p)
{
    return upfirdn2d_side(p->w, p);
}

void clsde_upfirdn2d_ref(const clsde_upfirdn2d_params *p, const float *x, float *y)
{
    static const float k1[4] = {1, 3, 3, 1};
    const int32_t h = p->h, w = p->w, up = p->up, down = p->down;
    const int32_t oh = clsde_upfirdn2d_out_h(p), ow = clsde_upfirdn2d_out_w(p);
    float K[4][4]; /* the reference's float32 kernel: outer(k, k) / sum * gain */
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) K[a][b] = (k1[a] * k1[b] / 64.0f) * p->gain;

    for (size_t pl = 0; pl < (size_t)p->n * (size_t)p->c; pl++) {
        const float *xp = x + pl * (size_t)h * (size_t)w; /* [h, w] */
        float *yp = y + pl * (size_t)oh * (size_t)ow;    /* [oh, ow] */
        for (int32_t oy = 0; oy < oh; oy++) {
            for (int32_t ox = 0; ox < ow; ox++) {
                /* output (oy, ox) of the valid convolution before decimation sits at
                 * padded position (oy*down, ox*down); K is applied flipped */
                double acc = 0.0;
                for (int a = 0; a < 4; a++) {
                    for (int b = 0; b < 4; b++) {
                        const int32_t r = oy * down + a - p->pad0; /* in the upsampled u */
                        const int32_t s = ox * down + b - p->pad0;
                        double u;
                        if (r < 0 || r >= h * up || s < 0 || s >= w * up) continue; /* pad */
                        if (r % up != 0 || s % up != 0) continue; /* inserted zero */
                        u = xp[(size_t)(r / up) * (size_t)w + (size_t)(s / up)];
                        acc += (double)K[3 - a][3 - b] * u;
                    }
                }
                yp[(size_t)oy * (size_t)ow + (size_t)ox] = (float)acc;
            }
        }
    }
}

void clsde_upsample_nearest_ref(int32_t n, int32_t c, int32_t h, int32_t w, const float *x,
                                float *y)
{
    for (size_t pl = 0; pl < (size_t)n * (size_t)c; pl++)
        for (size_t i = 0; i < 2 * (size_t)h; i++)
            for (size_t j = 0; j < 2 * (size_t)w; j++)
                y[(pl * 2 * (size_t)h + i) * 2 * (size_t)w + j] =
                    x[(pl * (size_t)h + i / 2) * (size_t)w + j / 2];
}

/* seq 0: ((a + b) + (c + d)) / 4; seq 1: (((a + b) + c) + d) / 4 (a, b: top pair). */
static void mean2x2(int32_t n, int32_t c, int32_t h, int32_t w, int seq, const float *x,
                    float *y)
{
    const size_t oh = (size_t)h / 2, ow = (size_t)w / 2;
    for (size_t pl = 0; pl < (size_t)n * (size_t)c; pl++) {
        for (size_t i = 0; i < oh; i++) {
            for (size_t j = 0; j < ow; j++) {
                const float *t = x + (pl * (size_t)h + 2 * i) * (size_t)w + 2 * j;
                const float a = t[0], b = t[1], cc = t[w], d = t[w + 1];
                const float s = seq ? ((a + b) + cc) + d : (a + b) + (cc + d);
                y[(pl * oh + i) * ow + j] = s / 4.0f;
            }
        }
    }
}

void clsde_downsample_avg_ref(int32_t n, int32_t c, int32_t h, int32_t w, const float *x,
                              float *y)
{
    mean2x2(n, c, h, w, w == 2, x, y);
}

void clsde_avg_pool2_ref(int32_t n, int32_t c, int32_t h, int32_t w, const float *x, float *y)
{
    mean2x2(n, c, h, w, 1, x, y);
}

void clsde_concat_ref(int32_t n, int32_t c1, int32_t c2, int32_t hw, const float *a,
                      const float *b, float *y)
{
    const size_t n1 = (size_t)c1 * (size_t)hw, n2 = (size_t)c2 * (size_t)hw;
    for (size_t s = 0; s < (size_t)n; s++) {
        for (size_t i = 0; i < n1; i++) y[s * (n1 + n2) + i] = a[s * n1 + i];
        for (size_t i = 0; i < n2; i++) y[s * (n1 + n2) + n1 + i] = b[s * n2 + i];
    }
}
