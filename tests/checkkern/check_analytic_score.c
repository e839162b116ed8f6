/*
 * check_analytic_score.c — gmm_score (float and float64 variants) against
 * src/ref/analytic_score_ref.c on random mixtures, times and points drawn near the
 * components so that the responsibilities are not all 0/1.
 * Tolerance: float variant 2e-6 * max|score of the image| + 1e-5 relative (one rounding of
 * a double sum, plus the float inputs); on devices without fp64 the sums over D are float,
 * so the log-densities l_k carry ~D * 6e-8 * max|l_k| and the bound grows with that.
 * Float64 variant: 1e-12 relative to max|score| (different summation order only).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkkern.h"
#include "kernels/analytic_score.h"
#include "ref/analytic_score_ref.h"

static int compare_d(checkkern *c, const char *what, const char *shape, const double *got,
                     const double *ref, size_t n, double tol)
{
    c->checks++;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - ref[i]) <= tol)) {
            fprintf(stderr, "FAIL %s: %s shape %s: index %zu: got %.17g, reference %.17g "
                            "(tol %.3g; seed %llu)\n",
                    c->kernel, what, shape, i, got[i], ref[i], tol,
                    (unsigned long long)c->seed);
            c->failures++;
            return -1;
        }
    return 0;
}

static void one(checkkern *c, int f64)
{
    static const int dims[] = {1, 2, 3, 16, 63, 64, 65, 127, 300, 768};
    const int32_t k = ck_randint(c, 1, CLSDE_GMM_KMAX);
    const int32_t d = ck_pick(c, dims, c->small ? 7 : 10);
    const int32_t n = ck_randint(c, 1, c->small ? 3 : 6);
    const int32_t nc = 1 + 2 * k;
    double *w = malloc((size_t)k * sizeof *w), *s = malloc((size_t)k * sizeof *s);
    double *mu = malloc((size_t)k * d * sizeof *mu), *coef = malloc((size_t)n * nc * sizeof *coef);
    double *xd = malloc((size_t)n * d * sizeof *xd), *rd = malloc((size_t)n * d * sizeof *rd);
    double *gd = malloc((size_t)n * d * sizeof *gd);
    float *xf = ck_alloc((size_t)n * d), *rf = ck_alloc((size_t)n * d), *gf = ck_alloc((size_t)n * d);
    float *muf = ck_alloc((size_t)k * d), *coeff = ck_alloc((size_t)n * nc);
    double wsum = 0;
    clsde_gmm g;
    char shape[64];
    if (!w || !s || !mu || !coef || !xd || !rd || !gd) {
        fprintf(stderr, "checkkern: out of memory\n");
        exit(2);
    }
    snprintf(shape, sizeof shape, "K=%d D=%d n=%d%s", (int)k, (int)d, (int)n, f64 ? " f64" : "");
    for (int32_t j = 0; j < k; j++) {
        w[j] = ck_randf(c, 0.1f, 1.0f);
        wsum += w[j];
        s[j] = ck_randf(c, 0.05f, 0.6f);
    }
    for (int32_t j = 0; j < k; j++) w[j] /= wsum;
    for (int32_t i = 0; i < k * d; i++) mu[i] = ck_randf(c, -1, 1), muf[i] = (float)mu[i];
    g.k = k, g.d = d, g.w = w, g.s = s, g.mu = mu;
    for (int32_t b = 0; b < n; b++) {
        /* a random time's (m, sigma): VE-like (m = 1, sigma up to 5) or VP-like */
        const double m = ck_randint(c, 0, 1) ? 1.0 : ck_randf(c, 0.05f, 1.0f);
        const double sigma = ck_randf(c, 0.01f, ck_randint(c, 0, 1) ? 5.0f : 1.0f);
        const int32_t comp = ck_randint(c, 0, k - 1);
        double *cb = coef + (size_t)b * nc;
        clsde_gmm_coef(&g, m, sigma, cb);
        for (int32_t i = 0; i < d; i++) {
            const double v = m * mu[(size_t)comp * d + i] + sqrt(cb[1 + comp]) * ck_randn(c);
            xf[(size_t)b * d + i] = (float)v;
            xd[(size_t)b * d + i] = v;
        }
    }
    for (int32_t i = 0; i < n * nc; i++) coeff[i] = (float)coef[i];
    if (f64) {
        ck_buf bm = ck_upload(c, (const float *)mu, 2 * (size_t)k * d);
        ck_buf bc = ck_upload(c, (const float *)coef, 2 * (size_t)n * nc);
        ck_buf bx = ck_upload(c, (const float *)xd, 2 * (size_t)n * d);
        ck_buf bs = ck_upload(c, NULL, 2 * (size_t)n * d);
        double mx = 0;
        clsde_gmm_score_f64_ref(&g, n, coef, xd, rd);
        for (int32_t i = 0; i < n * d; i++) mx = fmax(mx, fabs(rd[i]));
        if (!ck_status(c, clsde_gmm_score_enqueue(c->ctx, k, d, n, 1, bm.mem, bc.mem, bx.mem, bs.mem),
                       "gmm_score f64") &&
            !ck_download(c, &bs, (float *)gd, "gmm_score f64"))
            compare_d(c, "gmm_score f64", shape, gd, rd, (size_t)n * d, 1e-12 * (1 + mx));
        ck_free(&bm), ck_free(&bc), ck_free(&bx), ck_free(&bs);
    } else {
        ck_buf bm = ck_upload(c, muf, (size_t)k * d), bc = ck_upload(c, coeff, (size_t)n * nc);
        ck_buf bx = ck_upload(c, xf, (size_t)n * d), bs = ck_upload(c, NULL, (size_t)n * d);
        /* the reference sees the same float-rounded coefficients as the kernel */
        for (int32_t i = 0; i < n * nc; i++) coef[i] = coeff[i];
        clsde_gmm_score_ref(&g, n, coef, xf, rf);
        if (!ck_status(c, clsde_gmm_score_enqueue(c->ctx, k, d, n, 0, bm.mem, bc.mem, bx.mem, bs.mem),
                       "gmm_score") &&
            !ck_download(c, &bs, gf, "gmm_score"))
            for (int32_t b = 0; b < n; b++) {
                double mx = 0, lmax = 0;
                for (int32_t i = 0; i < d; i++) mx = fmax(mx, fabs(rf[(size_t)b * d + i]));
                for (int32_t j = 0; j < k; j++) lmax = fmax(lmax, fabs(coef[(size_t)b * nc + 1 + k + j]));
                {
                    const double extra = c->ctx->info.fp64 ? 0 : d * 6e-8 * (lmax + d);
                    if (ck_compare(c, "gmm_score", shape, gf + (size_t)b * d, rf + (size_t)b * d,
                                   (size_t)d, (2e-6 + extra) * mx, 1e-5))
                        break;
                }
            }
        ck_free(&bm), ck_free(&bc), ck_free(&bx), ck_free(&bs);
    }
    free(w), free(s), free(mu), free(coef), free(xd), free(rd), free(gd);
    free(xf), free(rf), free(gf), free(muf), free(coeff);
}

void check_analytic_score(checkkern *c)
{
    const int reps = c->small ? 3 : 12;
    for (int r = 0; r < reps; r++) one(c, 0);
    if (c->ctx->info.fp64)
        for (int r = 0; r < reps; r++) one(c, 1);
}
