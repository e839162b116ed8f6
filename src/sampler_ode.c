/*
 * sampler_ode.c — the probability-flow ODE sampler of algorithms.md §5: dx/dt = f - 1/2 g^2 s
 * from t = 1 to eps with Dormand–Prince 5(4) exactly as scipy's RK45 (§5.2: tableau, FSAL,
 * error norm, step-size controller, initial-step heuristic, nfev = 2 + 6 attempts), then the
 * optional reverse-diffusion denoising step at eps with the continuous wrapper (§5.3).
 *
 * Each image is its own ODE by default (its own t, h, accept/reject; the batch is still
 * evaluated together, with per-image times), so image k's result does not depend on the
 * batch. reference_batching = 1 makes the batch one system with a batch-global RMS norm and
 * common steps, as the reference. An image whose ODE has finished keeps being evaluated
 * with h = 0 until the whole batch is done (the network runs on the full batch anyway).
 *
 * Precision: on cl_khr_fp64 devices the state y, the stages K_1..K_7, the combinations and
 * the error reductions are double, as scipy's; the network sees float32 stage inputs and
 * returns a float32 score, as in the reference. Without fp64 (or state_fp32) the state is
 * float with a compensated (TwoSum) low part carried through accepted steps, so the
 * thousands of small increments do not lose the state's low bits; stages and the error
 * estimate are float, the norms are reduced with Kahan/TwoSum (reduce.cl). Expect nfev to
 * move by a step or two against scipy then.
 *
 * The step-size control runs on the host: one reduction and one read of B numbers per
 * attempt. The drift coefficients A = f(t)/x, B = -g(t)^2/2 are computed per image in
 * double (from the float32 t the network receives, on the network path).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/reduce.h"
#include "kernels/rk45.h"
#include "kernels/sde_step.h"
#include "ref/rng_ref.h"
#include "sampler.h"

#define SAFETY 0.9
#define MIN_FACTOR 0.2
#define MAX_FACTOR 10.0
#define ERROR_EXPONENT (-1.0 / 5.0) /* -1 / (error estimator order 4 + 1) */

/* One ODE system: a single image, or the whole batch with reference_batching. */
typedef struct ode_sys {
    int32_t b0, nb;      /* its images b0 .. b0 + nb - 1 */
    double t;            /* current time */
    double h_abs;        /* step proposal */
    double h, t_new;     /* the current attempt */
    double min_step;     /* of the current step (scipy recomputes it per step) */
    int in_step;         /* an attempt of this step was rejected: retry without re-init */
    int rejected_in_step;
    int done;
    int32_t nfev, accepted, rejected;
} ode_sys;

typedef struct ode_run {
    clsde_context *ctx;
    const clsde_sde *sde;
    const clsde_score_fn *fn;
    const clsde_ode_opts *o;
    int32_t B, D, n;
    int64_t first;
    int fp64;            /* state in double */
    size_t rs;           /* bytes per state element */
    clsde_rk_params rk;
    cl_mem y, ynew, ys, err, K;   /* state type: [n, D] and K [7, n, D] */
    cl_mem ylo, ynew_lo;          /* float path: low parts [n, D] */
    cl_mem xs, s;                 /* float [B, D]: network input and score */
    cl_mem sd;                    /* double [B, D]: score of the float64 path */
    cl_mem hb, ab, mask, sums;    /* [n] h, [n, 2] (A, B), int [n], [n] reductions */
    ode_sys *sys;
    int32_t n_sys;
    double *t_img, *h_img;        /* [B] per-image stage time / [n] step */
    float *t_f;                   /* [B] */
    double *sums_h;               /* [n] */
    double *ab_h;                 /* [n, 2] drift coefficients (A, B) of one evaluation */
    void *stage_h;                /* [2n] ab staging / [n] h staging, state type */
    int32_t *mask_h;              /* [n] */
    int64_t forward_calls;
    int32_t attempts;
} ode_run;

/* ---- helpers ---- */

static clsde_status write_real(ode_run *r, cl_mem buf, const double *v, int32_t count)
{
    if (r->fp64) return clsde_buffer_write(r->ctx, buf, 0, (size_t)count * sizeof(double), v);
    {
        float *f = r->stage_h;
        for (int32_t i = 0; i < count; i++) f[i] = (float)v[i];
        return clsde_buffer_write(r->ctx, buf, 0, (size_t)count * sizeof(float), f);
    }
}

/* Per-image sums of the last reduction into sums_h. */
static clsde_status read_sums(ode_run *r)
{
    if (r->fp64)
        return clsde_buffer_read(r->ctx, r->sums, 0, (size_t)r->n * sizeof(double), r->sums_h);
    {
        float *f = r->stage_h;
        CLSDE_TRY(clsde_buffer_read(r->ctx, r->sums, 0, (size_t)r->n * sizeof(float), f));
        for (int32_t b = 0; b < r->n; b++) r->sums_h[b] = f[b];
        return CLSDE_OK;
    }
}

/* sums[b] = sum_i (v / (atol + rtol max(|y|, |y2|)))^2 over image b. */
static clsde_status err_sumsq(ode_run *r, cl_mem v, cl_mem y, cl_mem y2)
{
    if (r->fp64)
        return clsde_err_sumsq_per_image_f64_enqueue(r->ctx, (size_t)r->n, (size_t)r->D,
                                                     r->o->atol, r->o->rtol, v, y, y2, r->sums);
    return clsde_err_sumsq_per_image_enqueue(r->ctx, NULL, (size_t)r->n, (size_t)r->D,
                                             (float)r->o->atol, (float)r->o->rtol, v, y, y2,
                                             r->sums);
}

/* scipy's norm over one system: sqrt(mean of squares) from the per-image sums. */
static double sys_rms(const ode_run *r, const ode_sys *s)
{
    double a = 0;
    for (int32_t b = s->b0; b < s->b0 + s->nb; b++) a += r->sums_h[b];
    return sqrt(a / ((double)s->nb * r->D));
}

/* K_stage = F(t_img, stage state). On the network path the stage state was also written
 * as float to xs; on the float64 path fn->eval_f64 reads the double stage state ys. */
static clsde_status eval_drift(ode_run *r, cl_mem stage_state, int32_t stage, int32_t attempt)
{
    double *ab = r->ab_h;
    clsde_status st;
    for (int32_t b = 0; b < r->B; b++) {
        const double t = b < r->n ? r->t_img[b] : r->t_img[0];
        r->t_f[b] = (float)t;
    }
    for (int32_t b = 0; b < r->n; b++) {
        /* the network path forms the drift at the float32 time the network receives */
        const double t = r->o->score_f64 ? r->t_img[b] : (double)r->t_f[b];
        ab[2 * b] = clsde_sde_drift_coeff(r->sde, t);
        ab[2 * b + 1] = -0.5 * clsde_sde_g2(r->sde, t);
    }
    CLSDE_TRY(write_real(r, r->ab, ab, 2 * r->n));
    if (r->o->score_f64) {
        double *t = r->t_img;
        for (int32_t b = r->n; b < r->B; b++) t[b] = t[0];
        st = r->fn->eval_f64(r->fn->self, stage_state, t, 1, r->sd);
    } else {
        st = r->fn->eval(r->fn->self, r->xs, r->t_f, 1, r->s);
    }
    r->forward_calls++;
    if (st != CLSDE_OK)
        return clsde_error_prefix(r->ctx, st, "ODE sampler, attempt %d, stage %d evaluation",
                                  (int)attempt, (int)stage + 1);
    if (r->o->score_f64)
        return clsde_rk_drift_enqueue(r->ctx, &r->rk, 1, r->ab, stage_state, r->sd, r->K, stage);
    return clsde_rk_drift_enqueue(r->ctx, &r->rk, 0, r->ab, r->xs, r->s, r->K, stage);
}

/* out = [y +] h sum_j tab[row][j] K_j, plus the float copy for the network unless the
 * float64 score path reads the state itself. */
static clsde_status combine(ode_run *r, int row, int flags, cl_mem out, cl_mem out_lo)
{
    if (!r->o->score_f64) flags |= CLSDE_RK_OUT_F;
    return clsde_rk_combine_enqueue(r->ctx, &r->rk, row, flags, r->hb, r->y,
                                    r->fp64 ? NULL : r->ylo, r->K, out, out_lo,
                                    (flags & CLSDE_RK_OUT_F) ? r->xs : NULL);
}

static clsde_status set_h(ode_run *r)
{
    for (int32_t s = 0; s < r->n_sys; s++)
        for (int32_t b = r->sys[s].b0; b < r->sys[s].b0 + r->sys[s].nb; b++)
            r->h_img[b] = r->sys[s].done ? 0.0 : r->sys[s].h;
    return write_real(r, r->hb, r->h_img, r->n);
}

/* On a non-finite error norm: find the first stage whose K is not finite for an image of
 * the system, to say whether the network or the state went bad. */
static clsde_status numeric_failure(ode_run *r, const ode_sys *s, const char *what)
{
    const size_t nd = (size_t)r->n * r->D;
    double *k = malloc(7 * nd * sizeof *k);
    float *kf = r->fp64 ? NULL : malloc(7 * nd * sizeof *kf);
    int32_t stage = -1, img = s->b0;
    if (k && (r->fp64 || kf) &&
        clsde_buffer_read(r->ctx, r->K, 0, 7 * nd * r->rs, r->fp64 ? (void *)k : (void *)kf) ==
            CLSDE_OK) {
        for (int32_t j = 0; j < 7 && stage < 0; j++)
            for (int32_t b = s->b0; b < s->b0 + s->nb && stage < 0; b++)
                for (int32_t i = 0; i < r->D; i++) {
                    const size_t o = (size_t)j * nd + (size_t)b * r->D + i;
                    if (!isfinite(r->fp64 ? k[o] : kf[o])) {
                        stage = j, img = b;
                        break;
                    }
                }
    }
    free(k), free(kf);
    if (stage >= 0)
        return clsde_error_set(r->ctx, CLSDE_ERR_NUMERIC,
                               "ODE sampler: NaN/Inf %s at t = %.9g (step %d, h = %.3g), stage: "
                               "network (drift evaluation %d of 7), image %lld",
                               what, s->t, (int)s->accepted + 1, s->h, (int)stage + 1,
                               (long long)(r->first + img));
    return clsde_error_set(r->ctx, CLSDE_ERR_NUMERIC,
                           "ODE sampler: NaN/Inf %s at t = %.9g (step %d, h = %.3g), stage: "
                           "RK45 state update, image %lld",
                           what, s->t, (int)s->accepted + 1, s->h, (long long)(r->first + s->b0));
}

/* ---- setup ---- */

static clsde_status alloc(ode_run *r)
{
    const size_t nd = (size_t)r->n * r->D, bd = (size_t)r->B * r->D;
    cl_mem *state[4] = {&r->y, &r->ynew, &r->ys, &r->err};
    r->sys = calloc((size_t)r->n, sizeof *r->sys);
    r->t_img = calloc((size_t)r->B, sizeof *r->t_img);
    r->h_img = calloc((size_t)r->n, sizeof *r->h_img);
    r->t_f = calloc((size_t)r->B, sizeof *r->t_f);
    r->sums_h = calloc((size_t)r->n, sizeof *r->sums_h);
    r->ab_h = calloc(2 * (size_t)r->n, sizeof *r->ab_h);
    r->stage_h = calloc(2 * (size_t)r->n, sizeof(double));
    r->mask_h = calloc((size_t)r->n, sizeof *r->mask_h);
    CLSDE_FAIL_IF(!r->sys || !r->t_img || !r->h_img || !r->t_f || !r->sums_h || !r->ab_h ||
                      !r->stage_h || !r->mask_h,
                  r->ctx, CLSDE_ERR_NOMEM, "ODE sampler: out of memory");
    for (int i = 0; i < 4; i++) {
        CLSDE_TRY(clsde_buffer_create(r->ctx, nd * r->rs, state[i]));
        CLSDE_TRY(clsde_sampler_zero(r->ctx, *state[i], nd * r->rs));
    }
    CLSDE_TRY(clsde_buffer_create(r->ctx, 7 * nd * r->rs, &r->K));
    CLSDE_TRY(clsde_sampler_zero(r->ctx, r->K, 7 * nd * r->rs));
    if (!r->fp64) {
        CLSDE_TRY(clsde_buffer_create(r->ctx, nd * sizeof(float), &r->ylo));
        CLSDE_TRY(clsde_buffer_create(r->ctx, nd * sizeof(float), &r->ynew_lo));
        CLSDE_TRY(clsde_sampler_zero(r->ctx, r->ylo, nd * sizeof(float)));
        CLSDE_TRY(clsde_sampler_zero(r->ctx, r->ynew_lo, nd * sizeof(float)));
    }
    /* the network evaluates all B slots: the unused ones stay zero (finite) */
    CLSDE_TRY(clsde_buffer_create(r->ctx, bd * sizeof(float), &r->xs));
    CLSDE_TRY(clsde_buffer_create(r->ctx, bd * sizeof(float), &r->s));
    CLSDE_TRY(clsde_sampler_zero(r->ctx, r->xs, bd * sizeof(float)));
    CLSDE_TRY(clsde_sampler_zero(r->ctx, r->s, bd * sizeof(float)));
    if (r->o->score_f64) {
        CLSDE_TRY(clsde_buffer_create(r->ctx, bd * sizeof(double), &r->sd));
        CLSDE_TRY(clsde_sampler_zero(r->ctx, r->sd, bd * sizeof(double)));
    }
    CLSDE_TRY(clsde_buffer_create(r->ctx, (size_t)r->n * r->rs, &r->hb));
    CLSDE_TRY(clsde_buffer_create(r->ctx, 2 * (size_t)r->n * r->rs, &r->ab));
    CLSDE_TRY(clsde_buffer_create(r->ctx, (size_t)r->n * sizeof(cl_int), &r->mask));
    return clsde_buffer_create(r->ctx, (size_t)r->n * r->rs, &r->sums);
}

static void release(ode_run *r)
{
    cl_mem all[] = {r->y, r->ynew, r->ys, r->err, r->K, r->ylo, r->ynew_lo, r->xs, r->s,
                    r->sd, r->hb, r->ab, r->mask, r->sums};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clsde_buffer_release(all[i]);
    free(r->sys), free(r->t_img), free(r->h_img), free(r->t_f), free(r->sums_h), free(r->ab_h);
    free(r->stage_h), free(r->mask_h);
}

/* y (and its low part) from the given double state, or from the prior sample
 * prior_std * z rounded to float as the reference draws it. */
static clsde_status initial_state(ode_run *r, const clsde_sampler_hooks *hk, const double *y0)
{
    const size_t nd = (size_t)r->n * r->D;
    clsde_status st = CLSDE_OK;
    double *yd = malloc(nd * sizeof *yd);
    float *f = malloc(2 * nd * sizeof *f);
    CLSDE_GOTO_IF(!yd || !f, r->ctx, CLSDE_ERR_NOMEM, "ODE sampler: out of memory");
    if (y0) {
        memcpy(yd, y0, nd * sizeof *yd);
    } else {
        const float prior = (float)clsde_sde_prior_std(r->sde);
        CLSDE_TRY_GOTO(clsde_sampler_noise(r->ctx, hk, r->o->seed, 0,
                                           clsde_rng_stream(CLSDE_RNG_PRIOR, 0), r->first, r->n,
                                           r->D, r->xs));
        CLSDE_TRY_GOTO(clsde_buffer_read(r->ctx, r->xs, 0, nd * sizeof(float), f));
        for (size_t i = 0; i < nd; i++) yd[i] = (double)(f[i] * prior);
    }
    for (size_t i = 0; i < nd; i++)
        CLSDE_GOTO_IF(!isfinite(yd[i]), r->ctx, CLSDE_ERR_NUMERIC,
                      "ODE sampler: initial state of image %lld is not finite",
                      (long long)(r->first + (int64_t)(i / (size_t)r->D)));
    if (r->fp64) {
        CLSDE_TRY_GOTO(clsde_buffer_write(r->ctx, r->y, 0, nd * sizeof(double), yd));
    } else {
        for (size_t i = 0; i < nd; i++) {
            f[i] = (float)yd[i];
            f[nd + i] = (float)(yd[i] - (double)f[i]);
        }
        CLSDE_TRY_GOTO(clsde_buffer_write(r->ctx, r->y, 0, nd * sizeof(float), f));
        CLSDE_TRY_GOTO(clsde_buffer_write(r->ctx, r->ylo, 0, nd * sizeof(float), f + nd));
    }
fail:
    free(yd), free(f);
    return st;
}

/* scipy's select_initial_step (order 4) for every system, plus f0 = K_1. scipy 1.10 (the
 * version algorithms.md §5.2 reproduces) does not bound the probe step h0 = 0.01 d0/d1; for
 * VP/subVP at t = 1 the drift nearly cancels (s ~ -x), d1 is small and h0 ~ 4.7, so the
 * probe lands at t ~ -3.7, where the reference's sqrt(beta(t)) is NaN (its builtin max()
 * then silently drops d2) and a network is outside its domain. scipy >= 1.11 clips h0 and
 * the result to the interval length |t_bound - t0|; clsde does that unless
 * unclipped_probe asks for 1.10's numbers (the analytic §9.4 test). */
static clsde_status initial_step(ode_run *r, double t_bound)
{
    const double interval = fabs(t_bound - 1.0);
    double *d0 = calloc((size_t)r->n_sys, sizeof *d0), *d1 = calloc((size_t)r->n_sys, sizeof *d1);
    clsde_status st = CLSDE_OK;
    CLSDE_GOTO_IF(!d0 || !d1, r->ctx, CLSDE_ERR_NOMEM, "ODE sampler: out of memory");
    /* f0 = F(t0, y0): the stage input is y itself (h = 0, no terms needed: row PROBE with
     * h = 0 copies y and writes the float copy) */
    for (int32_t b = 0; b < r->n; b++) r->t_img[b] = 1.0, r->h_img[b] = 0.0;
    CLSDE_TRY_GOTO(write_real(r, r->hb, r->h_img, r->n));
    CLSDE_TRY_GOTO(combine(r, CLSDE_RK_PROBE, CLSDE_RK_ADD_Y, r->ys, NULL));
    CLSDE_TRY_GOTO(eval_drift(r, r->ys, 0, 0));
    /* d0 = RMS(y0 / sc), d1 = RMS(f0 / sc), sc = atol + rtol |y0| */
    CLSDE_TRY_GOTO(err_sumsq(r, r->y, r->y, r->y));
    CLSDE_TRY_GOTO(read_sums(r));
    for (int32_t s = 0; s < r->n_sys; s++) d0[s] = sys_rms(r, &r->sys[s]);
    CLSDE_TRY_GOTO(err_sumsq(r, r->K, r->y, r->y)); /* K_1 is the first stage of K */
    CLSDE_TRY_GOTO(read_sums(r));
    for (int32_t s = 0; s < r->n_sys; s++) {
        ode_sys *sy = &r->sys[s];
        d1[s] = sys_rms(r, sy);
        if (!isfinite(d1[s])) {
            st = numeric_failure(r, sy, "in the first drift evaluation");
            goto fail;
        }
        sy->h_abs = (d0[s] < 1e-5 || d1[s] < 1e-5) ? 1e-6 : 0.01 * d0[s] / d1[s]; /* h0 */
        if (!r->o->unclipped_probe) sy->h_abs = fmin(sy->h_abs, interval);
        for (int32_t b = sy->b0; b < sy->b0 + sy->nb; b++) {
            r->h_img[b] = -sy->h_abs; /* direction * h0 */
            r->t_img[b] = 1.0 + sy->h_abs * -1.0;
        }
    }
    /* f1 = F(t0 + direction h0, y0 + h0 direction f0) */
    CLSDE_TRY_GOTO(write_real(r, r->hb, r->h_img, r->n));
    CLSDE_TRY_GOTO(combine(r, CLSDE_RK_PROBE, CLSDE_RK_ADD_Y, r->ys, NULL));
    CLSDE_TRY_GOTO(eval_drift(r, r->ys, 1, 0));
    /* d2 = RMS((f1 - f0) / sc) / h0 */
    CLSDE_TRY_GOTO(clsde_rk_combine_enqueue(r->ctx, &r->rk, CLSDE_RK_DIFF, CLSDE_RK_NO_H, NULL,
                                            NULL, NULL, r->K, r->err, NULL, NULL));
    CLSDE_TRY_GOTO(err_sumsq(r, r->err, r->y, r->y));
    CLSDE_TRY_GOTO(read_sums(r));
    for (int32_t s = 0; s < r->n_sys; s++) {
        ode_sys *sy = &r->sys[s];
        const double h0 = sy->h_abs, d2 = sys_rms(r, sy) / h0;
        double h1;
        if (!isfinite(d2)) {
            st = numeric_failure(r, sy, "in the initial-step probe");
            goto fail;
        }
        if (d1[s] <= 1e-15 && d2 <= 1e-15) h1 = fmax(1e-6, h0 * 1e-3);
        else h1 = pow(0.01 / fmax(d1[s], d2), 1.0 / 5.0);
        sy->h_abs = fmin(100 * h0, h1);
        if (!r->o->unclipped_probe) sy->h_abs = fmin(sy->h_abs, interval);
        sy->t = 1.0;
        sy->nfev = 2;
    }
fail:
    free(d0), free(d1);
    return st;
}

/* ---- the attempt loop ---- */

/* Start or retry a step for every active system (scipy _step_impl up to rk_step). */
static clsde_status plan_attempt(ode_run *r, double t_bound)
{
    for (int32_t s = 0; s < r->n_sys; s++) {
        ode_sys *sy = &r->sys[s];
        if (sy->done) continue;
        if (!sy->in_step) {
            sy->min_step = 10 * fabs(nextafter(sy->t, -INFINITY) - sy->t);
            if (sy->h_abs < sy->min_step) sy->h_abs = sy->min_step;
            sy->in_step = 1;
            sy->rejected_in_step = 0;
        }
        CLSDE_FAIL_IF(sy->h_abs < sy->min_step, r->ctx, CLSDE_ERR_NUMERIC,
                      "ODE sampler: RK45 step size too small (%.3g < %.3g) at t = %.9g, image "
                      "%lld (the error estimate does not decrease; rtol %g, atol %g)",
                      sy->h_abs, sy->min_step, sy->t, (long long)(r->first + sy->b0),
                      r->o->rtol, r->o->atol);
        sy->t_new = sy->t - sy->h_abs;
        if (sy->t_new - t_bound < 0) sy->t_new = t_bound; /* direction * (t_new - t_bound) > 0 */
        sy->h = sy->t_new - sy->t;
        sy->h_abs = fabs(sy->h);
    }
    return set_h(r);
}

/* One attempt (6 evaluations) for every active system, then accept/reject per system. */
static clsde_status attempt(ode_run *r, double t_bound)
{
    int32_t any_accept = 0;
    r->attempts++;
    CLSDE_TRY(plan_attempt(r, t_bound));
    for (int32_t stage = 1; stage < 6; stage++) { /* K_2 .. K_6 */
        for (int32_t s = 0; s < r->n_sys; s++)
            for (int32_t b = r->sys[s].b0; b < r->sys[s].b0 + r->sys[s].nb; b++)
                r->t_img[b] = r->sys[s].t + clsde_rk_c[stage] * r->h_img[b];
        CLSDE_TRY(combine(r, CLSDE_RK_STAGE2 + stage - 1, CLSDE_RK_ADD_Y, r->ys, NULL));
        CLSDE_TRY(eval_drift(r, r->ys, stage, r->attempts));
    }
    /* y_new and K_7 = F(t + h, y_new) */
    for (int32_t s = 0; s < r->n_sys; s++)
        for (int32_t b = r->sys[s].b0; b < r->sys[s].b0 + r->sys[s].nb; b++)
            r->t_img[b] = r->sys[s].t + r->h_img[b];
    CLSDE_TRY(combine(r, CLSDE_RK_YNEW, CLSDE_RK_ADD_Y | CLSDE_RK_COMP, r->ynew, r->ynew_lo));
    CLSDE_TRY(eval_drift(r, r->ynew, 6, r->attempts));
    /* err = h sum_j e_j K_j; E = RMS(err / (atol + rtol max(|y|, |y_new|))) */
    CLSDE_TRY(clsde_rk_combine_enqueue(r->ctx, &r->rk, CLSDE_RK_ERR, 0, r->hb, NULL, NULL, r->K,
                                       r->err, NULL, NULL));
    CLSDE_TRY(err_sumsq(r, r->err, r->y, r->ynew));
    CLSDE_TRY(read_sums(r));
    memset(r->mask_h, 0, (size_t)r->n * sizeof *r->mask_h);
    for (int32_t s = 0; s < r->n_sys; s++) {
        ode_sys *sy = &r->sys[s];
        double e;
        if (sy->done) continue;
        sy->nfev += 6;
        e = sys_rms(r, sy);
        if (!isfinite(e)) return numeric_failure(r, sy, "in the RK45 error estimate");
        if (e < 1) {
            double factor = e == 0 ? MAX_FACTOR : fmin(MAX_FACTOR, SAFETY * pow(e, ERROR_EXPONENT));
            if (sy->rejected_in_step) factor = fmin(1, factor);
            sy->h_abs *= factor;
            sy->t = sy->t_new;
            sy->accepted++;
            sy->in_step = 0;
            if (sy->t - t_bound <= 0) sy->done = 1; /* direction * (t - t_bound) >= 0 */
            for (int32_t b = sy->b0; b < sy->b0 + sy->nb; b++) r->mask_h[b] = 1;
            any_accept = 1;
        } else {
            sy->h_abs *= fmax(MIN_FACTOR, SAFETY * pow(e, ERROR_EXPONENT));
            sy->rejected_in_step = 1;
            sy->rejected++;
        }
    }
    if (!any_accept) return CLSDE_OK;
    CLSDE_TRY(clsde_buffer_write(r->ctx, r->mask, 0, (size_t)r->n * sizeof(cl_int), r->mask_h));
    return clsde_rk_accept_enqueue(r->ctx, &r->rk, r->mask, r->ynew, r->ynew_lo, r->y, r->ylo,
                                   r->K);
}

/* Chunk progress in 1/1000 of [eps, 1], from the slowest system. */
static int32_t progress_of(const ode_run *r, double t_bound)
{
    double p = 1;
    for (int32_t s = 0; s < r->n_sys; s++) {
        const double q = r->sys[s].done ? 1 : (1 - r->sys[s].t) / (1 - t_bound);
        if (q < p) p = q;
    }
    return (int32_t)(p * 1000);
}

/* The solution as float (the reference's .type(torch.float32)) and, optionally, double. */
static clsde_status solution(ode_run *r, float *x, double *y_out)
{
    const size_t nd = (size_t)r->n * r->D;
    clsde_status st = CLSDE_OK;
    double *yd = malloc(nd * sizeof *yd);
    float *f = r->fp64 ? NULL : malloc(2 * nd * sizeof *f);
    CLSDE_GOTO_IF(!yd || (!r->fp64 && !f), r->ctx, CLSDE_ERR_NOMEM, "ODE sampler: out of memory");
    if (r->fp64) {
        CLSDE_TRY_GOTO(clsde_buffer_read(r->ctx, r->y, 0, nd * sizeof(double), yd));
    } else {
        CLSDE_TRY_GOTO(clsde_buffer_read(r->ctx, r->y, 0, nd * sizeof(float), f));
        CLSDE_TRY_GOTO(clsde_buffer_read(r->ctx, r->ylo, 0, nd * sizeof(float), f + nd));
        for (size_t i = 0; i < nd; i++) yd[i] = (double)f[i] + (double)f[nd + i];
    }
    for (size_t i = 0; i < nd; i++) x[i] = (float)yd[i];
    if (y_out) memcpy(y_out, yd, nd * sizeof *yd);
fail:
    free(yd), free(f);
    return st;
}

/* §5.3: x <- x_mean of a reverse-diffusion step at eps with the continuous wrapper. */
static clsde_status denoise(ode_run *r, float *x)
{
    const size_t nd = (size_t)r->n * r->D;
    const float eps = (float)r->sde->cfg.eps;
    const clsde_pc_update_params up = {r->n, r->D, 0, 0};
    clsde_coef c;
    float coef[3];
    cl_mem cbuf = NULL;
    clsde_status st;
    if (clsde_sde_predictor_coef(r->sde, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 0, eps, &c) !=
        CLSDE_OK) {
        clsde_error_adopt(r->ctx);
        return CLSDE_ERR_NUMERIC;
    }
    coef[0] = c.a, coef[1] = c.b, coef[2] = c.s;
    for (int32_t b = 0; b < r->B; b++) r->t_f[b] = eps;
    CLSDE_TRY(clsde_buffer_write(r->ctx, r->xs, 0, nd * sizeof(float), x));
    st = r->fn->eval(r->fn->self, r->xs, r->t_f, 1, r->s);
    r->forward_calls++;
    if (st != CLSDE_OK)
        return clsde_error_prefix(r->ctx, st, "ODE sampler, denoising evaluation at t = %g",
                                  (double)eps);
    CLSDE_TRY(clsde_buffer_create(r->ctx, sizeof coef, &cbuf));
    st = clsde_buffer_write(r->ctx, cbuf, 0, sizeof coef, coef);
    if (st == CLSDE_OK)
        st = clsde_pc_update_enqueue(r->ctx, &up, cbuf, r->xs, r->s, NULL, r->xs, NULL);
    if (st == CLSDE_OK) st = clsde_buffer_read(r->ctx, r->xs, 0, nd * sizeof(float), x);
    clsde_buffer_release(cbuf);
    CLSDE_TRY(st);
    for (size_t i = 0; i < nd; i++)
        CLSDE_FAIL_IF(!isfinite(x[i]), r->ctx, CLSDE_ERR_NUMERIC,
                      "ODE sampler: NaN/Inf at t = %g, stage: denoising step (network or "
                      "update), image %lld",
                      (double)eps, (long long)(r->first + (int64_t)(i / (size_t)r->D)));
    return CLSDE_OK;
}

clsde_status clsde_ode_sample(clsde_context *ctx, const clsde_sde *sde, const clsde_score_fn *fn,
                              const clsde_ode_opts *o, const clsde_sampler_hooks *hk,
                              const clsde_progress *pr, int64_t first_image, int32_t n,
                              const double *y0, float *x_out, double *y_out,
                              clsde_sample_stats *stats)
{
    clsde_status st = CLSDE_OK;
    ode_run r;
    const double t_bound = sde->cfg.eps; /* solve_ivp's (T, eps) with the Python float eps */
    int32_t reported = 0;
    memset(&r, 0, sizeof r);
    r.ctx = ctx, r.sde = sde, r.fn = fn, r.o = o;
    r.B = fn->batch, r.D = fn->per_image, r.n = n, r.first = first_image;
    CLSDE_FAIL_IF(n < 1 || n > fn->batch, ctx, CLSDE_ERR_ARG,
                  "ODE sampler: %d images for a score function of batch %d", (int)n,
                  (int)fn->batch);
    CLSDE_FAIL_IF(!(o->rtol > 0) || !(o->atol > 0), ctx, CLSDE_ERR_ARG,
                  "ODE sampler: rtol %g and atol %g must be > 0", o->rtol, o->atol);
    r.fp64 = ctx->info.fp64 && !o->state_fp32;
    CLSDE_FAIL_IF(o->score_f64 && (!r.fp64 || !fn->eval_f64), ctx, CLSDE_ERR_UNSUPPORTED,
                  "ODE sampler: a float64 score needs a float64 state and a score function "
                  "with eval_f64");
    r.rs = r.fp64 ? sizeof(double) : sizeof(float);
    r.rk.n = n, r.rk.per_image = r.D, r.rk.fp64 = r.fp64;
    CLSDE_TRY_GOTO(alloc(&r));
    if (o->reference_batching) {
        r.n_sys = 1;
        r.sys[0].b0 = 0, r.sys[0].nb = n;
    } else {
        r.n_sys = n;
        for (int32_t b = 0; b < n; b++) r.sys[b].b0 = b, r.sys[b].nb = 1;
    }
    CLSDE_TRY_GOTO(initial_state(&r, hk, y0));
    CLSDE_TRY_GOTO(initial_step(&r, t_bound));
    for (;;) {
        int32_t active = 0, p;
        for (int32_t s = 0; s < r.n_sys; s++) active += !r.sys[s].done;
        if (!active) break;
        CLSDE_TRY_GOTO(attempt(&r, t_bound));
        /* every attempt is reported (so a caller can count them: 6 evaluations each), with a
         * progress that never goes back */
        p = progress_of(&r, t_bound);
        reported = p > reported ? p : reported;
        CLSDE_TRY_GOTO(clsde_progress_report(ctx, pr, reported));
    }
    CLSDE_TRY_GOTO(solution(&r, x_out, y_out));
    if (o->denoise) CLSDE_TRY_GOTO(denoise(&r, x_out));
    if (stats) {
        double sum = 0;
        memset(stats, 0, sizeof *stats);
        stats->nfe_min = r.sys[0].nfev;
        for (int32_t s = 0; s < r.n_sys; s++) {
            const ode_sys *sy = &r.sys[s];
            if (sy->nfev > stats->nfe) stats->nfe = sy->nfev;
            if (sy->nfev < stats->nfe_min) stats->nfe_min = sy->nfev;
            if (sy->accepted > stats->steps) stats->steps = sy->accepted;
            sum += (double)sy->nfev * sy->nb;
            stats->steps_accepted += sy->accepted;
            stats->steps_rejected += sy->rejected;
        }
        stats->nfe_mean = sum / n;
        stats->nfe_reference = stats->nfe;
        stats->forward_calls = r.forward_calls;
    }
fail:
    release(&r);
    return st;
}
