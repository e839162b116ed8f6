/*
 * test_sampler_ve_small.c — the official PC sampler's recorded run (fixture
 * sampler_ve_small: VE, N = 10, reverse diffusion + Langevin, snr 0.16) replayed step by
 * step through the device kernels: for every step k the recorded inputs (x, score, z) go
 * through
 *   corrector: sumsq_per_image (norms) -> langevin_coef (reference batch-mean rule,
 *              algorithms.md §3.2) -> pc_update (increment, x_mean, x_out)
 *   predictor: clsde_sde_predictor_coef (G from src/sde.c's float32 schedule) ->
 *              pc_update (rev_f, x_mean, x_out)
 * and every output is compared with the recording. Bounds, per sample b:
 *   increment / rev_f: |diff| <= 1e-6 max|increment_b| (the reference's own tolerance
 *     unit: late increments are ~1e-3 while |x| ~ 400, see the fixture README);
 *   x_mean: the same plus one rounding of the final sum, ulp(|ref|), because
 *     x_mean = fl(x + increment) turns an increment difference far below ulp(x) into 0 or
 *     1 ulp of x;
 *   x_out: 1e-6 of the whole update max|x_out - x| (the noise term sqrt(2 step) z is
 *     usually larger than the increment and inherits the step size's relative error)
 *     plus two roundings (x_mean, then x_out), 2 ulp(|ref|);
 *   step_size, G: 1e-6 relative. (step_size comes from norms accumulated in double where
 *     the reference's are float: a few 1e-7 apart; G is bit-identical.)
 * Exit 77 (skipped) when CLSDE_FIXTURES or the fixture is missing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_io.h"
#include "kernels/reduce.h"
#include "kernels/sde_step.h"
#include "runtime.h"
#include "sde.h"

#define B 3
#define PER (3 * 16 * 16)
#define N_STEPS 10

static int failures;

static float *get(const fixture_file *f, const char *fmt, int k, size_t want)
{
    char name[96];
    size_t n = 0;
    float *p;
    snprintf(name, sizeof name, fmt, k);
    p = fixture_tensor(f, name, &n, NULL, NULL);
    if (!p || n != want) {
        fprintf(stderr, "FAIL: fixture tensor %s: %s\n", name, p ? "wrong size" : "missing");
        exit(1);
    }
    return p;
}

static double ulp_of(float v)
{
    const float a = fabsf(v);
    return (double)nextafterf(a, INFINITY) - a;
}

/* Compare per sample; err relative to max|unit_b|, plus `ulps` ulp(|ref|) per element. */
static void compare(const char *what, int k, const float *got, const float *ref,
                    const float *unit, double rel, double ulps)
{
    double worst = 0, worst_b = 0;
    for (int b = 0; b < B; b++) {
        double u = 0;
        for (int i = 0; i < PER; i++) u = fmax(u, fabs(unit[b * PER + i]));
        for (int i = 0; i < PER; i++) {
            const int j = b * PER + i;
            const double d = fabs((double)got[j] - ref[j]);
            const double bound = rel * u + ulps * ulp_of(fmaxf(fabsf(got[j]), fabsf(ref[j])));
            worst = fmax(worst, d);
            worst_b = fmax(worst_b, d / bound);
            if (!(d <= bound)) {
                fprintf(stderr, "FAIL step %d %s: sample %d element %d: got %.9g, reference "
                                "%.9g (|diff| %.3g > bound %.3g = %.0e max|unit| + %g ulp)\n",
                        k, what, b, i, (double)got[j], (double)ref[j], d, bound, rel, ulps);
                failures++;
                return;
            }
        }
    }
    printf("  step %d %-20s max |diff| %.3g, max |diff| / bound %.3f\n", k, what, worst, worst_b);
}

#define TRY(call)                                                                      \
    do {                                                                               \
        if ((call) != CLSDE_OK) {                                                      \
            fprintf(stderr, "FAIL: %s: %s\n", #call, clsde_last_error(ctx));           \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

int main(void)
{
    const char *dir = getenv("CLSDE_FIXTURES");
    const uint16_t endian = 1;
    char path[4096], err[512];
    fixture_file f;
    clsde_context_params params;
    clsde_context *ctx = NULL;
    clsde_sde sde;
    clsde_sde_config cfg;
    float grid[N_STEPS], *ts, *sig;
    cl_mem bx, bs, bz, bns, bnz, bcoef, bc2, bo1, bo2;
    const size_t bytes = (size_t)B * PER * sizeof(float);
    const clsde_pc_update_params pp = {B, PER, 0, 3};
    float *o1 = malloc(bytes), *o2 = malloc(bytes), *unit = malloc(bytes);

    if (!dir || !*dir) {
        printf("CLSDE_FIXTURES not set: skipped\n");
        return 77;
    }
    snprintf(path, sizeof path, "%s/sampler_ve_small/io.safetensors", dir);
    if (fixture_open(&f, path, err, sizeof err)) {
        printf("%s: skipped\n", err);
        return 77;
    }
    if (*(const uint8_t *)&endian != 1) {
        fprintf(stderr, "FAIL: the fixture reader assumes a little-endian host\n");
        return 1;
    }
    clsde_sde_config_default(&cfg, CLSDE_SDE_VE);
    cfg.n = N_STEPS, cfg.sigma_min = 0.01, cfg.sigma_max = 50, cfg.eps = 1e-5;
    if (clsde_sde_init(&sde, &cfg) != CLSDE_OK) return 1;

    /* grid and schedule: bit-identical (float32 fused linspace, correctly rounded exp) */
    clsde_sde_time_grid(&sde, grid);
    ts = get(&f, "timesteps", 0, N_STEPS);
    sig = get(&f, "discrete_sigmas", 0, N_STEPS);
    for (int i = 0; i < N_STEPS; i++) {
        if (grid[i] != ts[i]) {
            fprintf(stderr, "FAIL: t_%d = %.9g, fixture %.9g\n", i, grid[i], ts[i]);
            failures++;
        }
        if (sde.sigmas[i] != sig[i]) {
            fprintf(stderr, "FAIL: sigma_%d = %.9g, fixture %.9g\n", i, sde.sigmas[i], sig[i]);
            failures++;
        }
    }
    printf("grid: t_i and sigma_k bit-identical to the fixture (sigma_9 = %.9g)\n", sde.sigmas[9]);

    clsde_context_params_default(&params);
    if (clsde_context_create(&params, &ctx) != CLSDE_OK) {
        fprintf(stderr, "FAIL: %s\n", clsde_last_error(NULL));
        return 1;
    }
    printf("device: %s\n", ctx->info.name);
    TRY(clsde_buffer_create(ctx, bytes, &bx));
    TRY(clsde_buffer_create(ctx, bytes, &bs));
    TRY(clsde_buffer_create(ctx, bytes, &bz));
    TRY(clsde_buffer_create(ctx, bytes, &bo1));
    TRY(clsde_buffer_create(ctx, bytes, &bo2));
    TRY(clsde_buffer_create(ctx, B * sizeof(float), &bns));
    TRY(clsde_buffer_create(ctx, B * sizeof(float), &bnz));
    TRY(clsde_buffer_create(ctx, 3 * B * sizeof(float), &bcoef));
    TRY(clsde_buffer_create(ctx, 3 * B * sizeof(float), &bc2));

    for (int k = 0; k < N_STEPS; k++) {
        float *t = get(&f, "step%d.t", k, B);
        float coef[3 * B], c2[3 * B];
        /* ---- corrector ---- */
        {
            float *x = get(&f, "step%d.corrector.x", k, B * PER);
            float *s = get(&f, "step%d.corrector.score", k, B * PER);
            float *z = get(&f, "step%d.corrector.z", k, B * PER);
            float *step = get(&f, "step%d.corrector.step_size", k, B);
            float *inc = get(&f, "step%d.corrector.increment", k, B * PER);
            float *xm = get(&f, "step%d.corrector.x_mean", k, B * PER);
            float *xo = get(&f, "step%d.corrector.x_out", k, B * PER);
            double worst = 0;
            for (int b = 0; b < B; b++)
                if (t[b] != grid[k]) {
                    fprintf(stderr, "FAIL: step %d t[%d] = %.9g, grid %.9g\n", k, b, t[b], grid[k]);
                    failures++;
                }
            TRY(clsde_buffer_write(ctx, bx, 0, bytes, x));
            TRY(clsde_buffer_write(ctx, bs, 0, bytes, s));
            TRY(clsde_buffer_write(ctx, bz, 0, bytes, z));
            TRY(clsde_sumsq_per_image_enqueue(ctx, NULL, B, PER, 1, bs, bns));
            TRY(clsde_sumsq_per_image_enqueue(ctx, NULL, B, PER, 1, bz, bnz));
            TRY(clsde_langevin_coef_enqueue(ctx, B, 0.16f, clsde_sde_langevin_alpha(&sde, t[0]),
                                            1, bns, bnz, bcoef));
            TRY(clsde_buffer_read(ctx, bcoef, 0, sizeof coef, coef));
            for (int b = 0; b < B; b++) {
                const double e = fabs((double)coef[3 * b + 1] - step[b]) / step[b];
                worst = fmax(worst, e);
                if (!(e <= 1e-6)) {
                    fprintf(stderr, "FAIL step %d: step_size[%d] = %.9g, fixture %.9g (rel %.3g "
                                    "> 1e-6)\n", k, b, coef[3 * b + 1], step[b], e);
                    failures++;
                }
            }
            printf("step %d (t = %.6g): corrector step_size %.6g, rel diff %.3g (bound 1e-6)\n",
                   k, t[0], coef[1], worst);
            /* the increment alone: (A, B, S) = (0, step_b, 0), no noise */
            for (int b = 0; b < B; b++)
                c2[3 * b] = 0, c2[3 * b + 1] = coef[3 * b + 1], c2[3 * b + 2] = 0;
            TRY(clsde_buffer_write(ctx, bc2, 0, sizeof c2, c2));
            TRY(clsde_pc_update_enqueue(ctx, &pp, bc2, bx, bs, NULL, bo1, NULL));
            TRY(clsde_buffer_read(ctx, bo1, 0, bytes, o1));
            compare("corrector increment", k, o1, inc, inc, 1e-6, 0);
            TRY(clsde_pc_update_enqueue(ctx, &pp, bcoef, bx, bs, bz, bo1, bo2));
            TRY(clsde_buffer_read(ctx, bo1, 0, bytes, o1));
            TRY(clsde_buffer_read(ctx, bo2, 0, bytes, o2));
            compare("corrector x_mean", k, o2, xm, inc, 1e-6, 1);
            for (int i = 0; i < B * PER; i++) unit[i] = xo[i] - x[i]; /* the whole update */
            compare("corrector x_out", k, o1, xo, unit, 1e-6, 2);
            free(x), free(s), free(z), free(step), free(inc), free(xm), free(xo);
        }
        /* ---- predictor ---- */
        {
            float *x = get(&f, "step%d.predictor.x", k, B * PER);
            float *s = get(&f, "step%d.predictor.score", k, B * PER);
            float *z = get(&f, "step%d.predictor.z", k, B * PER);
            float *G = get(&f, "step%d.predictor.G", k, B);
            float *rev = get(&f, "step%d.predictor.rev_f", k, B * PER);
            float *xm = get(&f, "step%d.predictor.x_mean", k, B * PER);
            float *xo = get(&f, "step%d.predictor.x_out", k, B * PER);
            clsde_coef pc;
            TRY(clsde_sde_predictor_coef(&sde, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 0, t[0], &pc));
            for (int b = 0; b < B; b++)
                if (!(fabs((double)pc.s - G[b]) <= 1e-6 * G[b])) {
                    fprintf(stderr, "FAIL step %d: G = %.9g, fixture %.9g\n", k, pc.s, G[b]);
                    failures++;
                }
            printf("step %d: predictor G %.9g (fixture %.9g)\n", k, pc.s, G[0]);
            TRY(clsde_buffer_write(ctx, bx, 0, bytes, x));
            TRY(clsde_buffer_write(ctx, bs, 0, bytes, s));
            TRY(clsde_buffer_write(ctx, bz, 0, bytes, z));
            /* rev_f = 0 - G^2 s: (A, B, S) = (0, -G^2, 0) */
            for (int b = 0; b < B; b++) c2[3 * b] = 0, c2[3 * b + 1] = -pc.b, c2[3 * b + 2] = 0;
            TRY(clsde_buffer_write(ctx, bc2, 0, sizeof c2, c2));
            TRY(clsde_pc_update_enqueue(ctx, &pp, bc2, bx, bs, NULL, bo1, NULL));
            TRY(clsde_buffer_read(ctx, bo1, 0, bytes, o1));
            compare("predictor rev_f", k, o1, rev, rev, 1e-6, 0);
            for (int b = 0; b < B; b++)
                c2[3 * b] = pc.a, c2[3 * b + 1] = pc.b, c2[3 * b + 2] = pc.s;
            TRY(clsde_buffer_write(ctx, bc2, 0, sizeof c2, c2));
            TRY(clsde_pc_update_enqueue(ctx, &pp, bc2, bx, bs, bz, bo1, bo2));
            TRY(clsde_buffer_read(ctx, bo1, 0, bytes, o1));
            TRY(clsde_buffer_read(ctx, bo2, 0, bytes, o2));
            compare("predictor x_mean", k, o2, xm, rev, 1e-6, 1);
            for (int i = 0; i < B * PER; i++) unit[i] = xo[i] - x[i];
            compare("predictor x_out", k, o1, xo, unit, 1e-6, 2);
            if (k == N_STEPS - 1) {
                float *sample = get(&f, "sample", 0, B * PER);
                compare("sample (denoised)", k, o2, sample, rev, 1e-6, 1);
                free(sample);
            }
            free(x), free(s), free(z), free(G), free(rev), free(xm), free(xo);
        }
        free(t);
    }
    clsde_buffer_release(bx), clsde_buffer_release(bs), clsde_buffer_release(bz);
    clsde_buffer_release(bo1), clsde_buffer_release(bo2), clsde_buffer_release(bns);
    clsde_buffer_release(bnz), clsde_buffer_release(bcoef), clsde_buffer_release(bc2);
    clsde_context_destroy(ctx);
    clsde_sde_destroy(&sde);
    fixture_close(&f);
    free(ts), free(sig), free(o1), free(o2), free(unit);
    printf("%s\n", failures ? "FAILED" : "all steps within bounds");
    return failures ? 1 : 0;
}
