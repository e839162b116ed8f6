/*
 * sampler_ode.c — the probability-flow ODE sampler of algorithms.md §5: dx/dt = f - 1/2 g^2 s
 * from t = 1 to eps with Dormand–Prince 5(4) exactly as scipy's RK45 (§5.2: tableau, FSAL,
 * error norm, step-size controller, initial-step heuristic, nfev = 2 + 6 attempts), then the
 * optional reverse-diffusion denoising step at eps with the continuous wrapper (§5.3).
 *
 * Each image is its own ODE by default (its own t, h, accept/reject), so image k's result
 * does not depend on the batch. The batch's slots are scheduled continuously: a batched
 * evaluation runs every slot's own next evaluation (one of the two of its initial-step
 * probe, or one of the six of its current step attempt), so the slots need not be in phase,
 * and the slot of a finished image takes the next image of the call at once. Only the tail
 * (no image left to start) leaves slots idle. The denoising evaluations come after all
 * ODEs, in batches of the slots. reference_batching = 1 makes the batch one system with a
 * batch-global RMS norm and common steps, as the reference (at most one batch per call).
 *
 * Precision: on cl_khr_fp64 devices the state y, the stages K_1..K_7, the combinations and
 * the error reductions are double, as scipy's; the network sees float32 stage inputs and
 * returns a float32 score, as in the reference. Without fp64 (or state_fp32) the state is
 * float with a compensated (TwoSum) low part carried through accepted steps, so the
 * thousands of small increments do not lose the state's low bits; stages and the error
 * estimate are float, the norms are reduced with Kahan/TwoSum (reduce.cl). Expect nfev to
 * move by a step or two against scipy then.
 *
 * The step-size control runs on the host: after a batched evaluation that ends a probe half
 * or a step attempt, one reduction and one read of n numbers. The state kernels run per run
 * of neighbouring systems at the same stage (rk45.h's image slices). The drift coefficients
 * A = f(t)/x, B = -g(t)^2/2 are computed per image in double (from the float32 t the network
 * receives, on the network path).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/reduce.h"
#include "kernels/rk45.h"
#include "kernels/rng.h"
#include "kernels/sde_step.h"
#include "ref/rng_ref.h"
#include "sampler.h"

#define SAFETY 0.9
#define MIN_FACTOR 0.2
#define MAX_FACTOR 10.0
#define ERROR_EXPONENT (-1.0 / 5.0) /* -1 / (error estimator order 4 + 1) */

/* The evaluation a system makes next. */
#define EV_NONE (-1) /* no image (the tail) */
#define EV_F0 0      /* initial-step probe: f0 = F(1, y0) into K_1 */
#define EV_F1 1      /* probe: f1 = F(1 - h0, y0 - h0 f0) into K_2 */
#define EV_K2 2      /* EV_K2 .. EV_K7: stage K_2 .. K_7 of the current step attempt */
#define EV_K7 7

/* One ODE system: a single image, or the whole batch with reference_batching. */
typedef struct ode_sys {
    int32_t b0, nb;      /* its slots b0 .. b0 + nb - 1 */
    int32_t k;           /* holding the call's images k .. k + nb - 1 */
    int32_t eval;        /* the evaluation it makes next: EV_* */
    double t;            /* current time */
    double h_abs;        /* step proposal (the probe's h0 before the first step) */
    double h, t_new;     /* the current attempt */
    double min_step;     /* of the current step (scipy recomputes it per step) */
    double d0, d1;       /* probe: RMS(y0 / sc), RMS(f0 / sc) */
    int in_step;         /* an attempt of this step was rejected: retry without re-init */
    int rejected_in_step;
    int32_t nfev, accepted, rejected;
} ode_sys;

typedef struct ode_run {
    clsde_context *ctx;
    const clsde_sde *sde;
    const clsde_score_fn *fn;
    const clsde_ode_opts *o;
    const clsde_sampler_hooks *hk;
    int32_t B, D, n;              /* network batch, elements per image, slots (n <= B) */
    int32_t count, next;          /* the call's images, the next one to start */
    int32_t finished;             /* images whose ODE is done */
    int64_t first;
    double t_bound;
    const double *y0;             /* [count, D] given initial states, or NULL: the prior */
    float *x_out;                 /* [count, D] */
    double *y_out;                /* [count, D] or NULL */
    int fp64;                     /* state in double */
    size_t rs;                    /* bytes per state element */
    clsde_rk_params rk;
    cl_mem y, ynew, ys, err, K;   /* state type: [n, D] and K [7, n, D] */
    cl_mem ylo, ynew_lo;          /* float path: low parts [n, D] */
    cl_mem xs, s;                 /* float [B, D]: network input and score */
    cl_mem sd;                    /* double [B, D]: score of the float64 path */
    cl_mem hb, ab, mask, sums;    /* [n] h, [n, 2] (A, B), int [n], [n] reductions */
    ode_sys *sys;                 /* [n_sys] in slot order */
    int32_t n_sys;
    int32_t *made, *key;          /* [n_sys] the evaluation each made last; run keys */
    double *t_img, *h_img;        /* [B] per-slot stage time / [n] step */
    float *t_f;                   /* [B] */
    double *sums_h;               /* [n] */
    double *ab_h;                 /* [n, 2] drift coefficients (A, B) of one evaluation */
    void *stage_h;                /* [2n] ab staging / [n] h staging, state type */
    int32_t *mask_h;              /* [n] */
    double *yd_h;                 /* [n, D] one system's state (start, finish) */
    float *yf_h;                  /* [2 n, D] its float parts (hi, lo) */
    /* the likelihood ODE (clsde_ode_likelihood): the state is [x; delta] per image with
     * d delta / dt = div F estimated as A |v|^2 + B v^T (ds/dx) v (algorithms.md §6); delta
     * is a few numbers per slot, kept and stepped on the host in double */
    int lik;
    double t0, dir;               /* start time, direction: 1 -> eps (-1) or eps_l -> 1 (+1) */
    const char *what;             /* "ODE sampler" or "likelihood ODE", for messages */
    clsde_probe probe;
    cl_mem v;                     /* [B, D] probe (double on the float64 score path) */
    double *vv;                   /* [n] |v_b|^2 */
    double *dl, *dlnew, *dK;      /* [n] delta, [n] its y_new, [7, n] its stages */
    double *q;                    /* [B] v^T (ds/dx) v (or the trace) of the last evaluation */
    double *dtmp;                 /* [n] scratch: f1 - f0, the error estimate */
    double *delta_out;            /* [count] */
    int32_t nfe_max, nfe_min, steps_max;
    int64_t accepted, rejected;
    double nfev_sum;
    int64_t forward_calls;
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

/* sums[b] = sum_i (v / (atol + rtol max(|y|, |y2|)))^2 over image b (every slot: the slots
 * not asked about are finite and ignored). */
static clsde_status err_sumsq(ode_run *r, cl_mem v, cl_mem y, cl_mem y2)
{
    if (r->fp64)
        return clsde_err_sumsq_per_image_f64_enqueue(r->ctx, (size_t)r->n, (size_t)r->D,
                                                     r->o->atol, r->o->rtol, v, y, y2, r->sums);
    return clsde_err_sumsq_per_image_enqueue(r->ctx, NULL, (size_t)r->n, (size_t)r->D,
                                             (float)r->o->atol, (float)r->o->rtol, v, y, y2,
                                             r->sums);
}

/* scipy's norm over one system: sqrt(mean of squares) from the per-image sums; for the
 * likelihood the system's delta entries add (v_b / (atol + rtol max(|y_b|, |y2_b|)))^2 for
 * the host values v, y, y2 [n] (NULL: only the device sums). */
static double sys_rms(const ode_run *r, const ode_sys *s, const double *v, const double *y,
                          const double *y2)
{
    double a = 0;
    for (int32_t b = s->b0; b < s->b0 + s->nb; b++) {
        a += r->sums_h[b];
        if (r->lik && v) {
            const double q = v[b] / (r->o->atol + r->o->rtol * fmax(fabs(y[b]), fabs(y2[b])));
            a += q * q;
        }
    }
    return sqrt(a / ((double)s->nb * (r->D + r->lik)));
}


/* The next run of neighbouring systems with the same key >= 0 after *s1: systems *s0 ..
 * *s1 - 1, whose slots are contiguous. 0 when there is none. */
static int next_run(const ode_run *r, int32_t *s0, int32_t *s1)
{
    int32_t s = *s1;
    while (s < r->n_sys && r->key[s] < 0) s++;
    if (s >= r->n_sys) return 0;
    *s0 = s;
    while (s < r->n_sys && r->key[s] == r->key[*s0]) s++;
    *s1 = s;
    return 1;
}

/* The rk45 parameters for the slots of systems s0 .. s1 - 1. */
static clsde_rk_params slice(const ode_run *r, int32_t s0, int32_t s1)
{
    clsde_rk_params p = r->rk;
    p.b0 = r->sys[s0].b0;
    p.nb = r->sys[s1 - 1].b0 + r->sys[s1 - 1].nb - p.b0;
    return p;
}

/* Mark the systems whose last evaluation was ev (key 0), the others -1. */
static void key_made(ode_run *r, int32_t ev)
{
    for (int32_t s = 0; s < r->n_sys; s++) r->key[s] = r->made[s] == ev ? 0 : -1;
}

/* out = y + h sum_j tab[row][j] K_j over slice p, plus the float copy for the network unless
 * the float64 score path reads the state itself. */
static clsde_status combine(ode_run *r, const clsde_rk_params *p, int row, int flags, cl_mem out,
                            cl_mem out_lo)
{
    if (!r->o->score_f64) flags |= CLSDE_RK_OUT_F;
    return clsde_rk_combine_enqueue(r->ctx, p, row, flags | CLSDE_RK_ADD_Y, r->hb, r->y,
                                    r->fp64 ? NULL : r->ylo, r->K, out, out_lo,
                                    (flags & CLSDE_RK_OUT_F) ? r->xs : NULL);
}

/* On a non-finite norm: find the first stage whose K is not finite for an image of the
 * system, to say whether the network or the state went bad. */
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
                               "%s: NaN/Inf %s at t = %.9g (step %d, h = %.3g), stage: "
                               "network (drift evaluation %d of 7), image %lld",
                               r->what, what, s->t, (int)s->accepted + 1, s->h, (int)stage + 1,
                               (long long)(r->first + s->k + (img - s->b0)));
    return clsde_error_set(r->ctx, CLSDE_ERR_NUMERIC,
                           "%s: NaN/Inf %s at t = %.9g (step %d, h = %.3g), stage: "
                           "RK45 state update%s, image %lld",
                           r->what, what, s->t, (int)s->accepted + 1, s->h,
                           r->lik ? " or divergence estimate" : "", (long long)(r->first + s->k));
}

/* ---- setup ---- */

static clsde_status alloc(ode_run *r)
{
    const size_t nd = (size_t)r->n * r->D, bd = (size_t)r->B * r->D;
    cl_mem *state[4] = {&r->y, &r->ynew, &r->ys, &r->err};
    r->sys = calloc((size_t)r->n, sizeof *r->sys);
    r->made = calloc((size_t)r->n, sizeof *r->made);
    r->key = calloc((size_t)r->n, sizeof *r->key);
    r->t_img = calloc((size_t)r->B, sizeof *r->t_img);
    r->h_img = calloc((size_t)r->n, sizeof *r->h_img);
    r->t_f = calloc((size_t)r->B, sizeof *r->t_f);
    r->sums_h = calloc((size_t)r->n, sizeof *r->sums_h);
    r->ab_h = calloc(2 * (size_t)r->n, sizeof *r->ab_h);
    r->stage_h = calloc(2 * (size_t)r->n, sizeof(double));
    r->mask_h = calloc((size_t)r->n, sizeof *r->mask_h);
    r->yd_h = calloc(nd, sizeof *r->yd_h);
    r->yf_h = calloc(2 * nd, sizeof *r->yf_h);
    CLSDE_FAIL_IF(!r->sys || !r->made || !r->key || !r->t_img || !r->h_img || !r->t_f ||
                      !r->sums_h || !r->ab_h || !r->stage_h || !r->mask_h || !r->yd_h || !r->yf_h,
                  r->ctx, CLSDE_ERR_NOMEM, "%s: out of memory", r->what);
    for (int32_t b = 0; b < r->B; b++) r->t_img[b] = r->t0; /* idle slots: any valid time */
    if (r->lik) {
        const size_t vbytes = bd * (r->o->score_f64 ? sizeof(double) : sizeof(float));
        r->vv = calloc((size_t)r->n, sizeof *r->vv);
        r->dl = calloc((size_t)r->n, sizeof *r->dl);
        r->dlnew = calloc((size_t)r->n, sizeof *r->dlnew);
        r->dK = calloc(7 * (size_t)r->n, sizeof *r->dK);
        r->q = calloc((size_t)r->B, sizeof *r->q);
        r->dtmp = calloc((size_t)r->n, sizeof *r->dtmp);
        CLSDE_FAIL_IF(!r->vv || !r->dl || !r->dlnew || !r->dK || !r->q || !r->dtmp, r->ctx,
                      CLSDE_ERR_NOMEM,
                      "%s: out of memory", r->what);
        if (r->probe != CLSDE_PROBE_EXACT) {
            CLSDE_TRY(clsde_buffer_create(r->ctx, vbytes, &r->v));
            CLSDE_TRY(clsde_sampler_zero(r->ctx, r->v, vbytes));
        }
    }
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
    /* the network evaluates all B slots: the unused ones stay finite */
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
                    r->sd, r->hb, r->ab, r->mask, r->sums, r->v};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clsde_buffer_release(all[i]);
    free(r->sys), free(r->made), free(r->key), free(r->t_img), free(r->h_img), free(r->t_f);
    free(r->sums_h), free(r->ab_h), free(r->stage_h), free(r->mask_h), free(r->yd_h);
    free(r->yf_h);
    free(r->vv), free(r->dl), free(r->dlnew), free(r->dK), free(r->q), free(r->dtmp);
}

/* The likelihood's probe for the images now in the slots of sy (drawn once per image,
 * keyed by its index, so the same whatever the slot; algorithms.md §6.2), its |v|^2, and
 * delta = 0. The score s is free between evaluations: the draw lands in its first rows. */
static clsde_status start_probe(ode_run *r, ode_sys *sy)
{
    const size_t nd = (size_t)sy->nb * r->D, off = (size_t)sy->b0 * r->D;
    float *f = r->yf_h;
    double *d = r->yd_h;
    for (int32_t b = sy->b0; b < sy->b0 + sy->nb; b++) {
        r->dl[b] = 0;
        for (int j = 0; j < 7; j++) r->dK[(size_t)j * r->n + b] = 0;
        r->vv[b] = r->D; /* the exact trace: tr(A I) = A D */
    }
    if (r->probe == CLSDE_PROBE_EXACT) return CLSDE_OK;
    {
        clsde_rng_params p;
        memset(&p, 0, sizeof p);
        p.seed = r->o->seed;
        p.first_image = (uint32_t)(r->first + sy->k);
        p.n_images = (uint32_t)sy->nb;
        p.per_image = (uint32_t)r->D;
        p.stream = clsde_rng_stream(CLSDE_RNG_PROBE, 0);
        p.dist = r->probe == CLSDE_PROBE_GAUSSIAN ? CLSDE_RNG_NORMAL : CLSDE_RNG_RADEMACHER;
        CLSDE_TRY(clsde_rng_enqueue(r->ctx, &p, r->s));
    }
    CLSDE_TRY(clsde_buffer_read(r->ctx, r->s, 0, nd * sizeof(float), f));
    for (int32_t b = 0; b < sy->nb; b++) {
        double a = 0;
        for (int32_t i = 0; i < r->D; i++) a += (double)f[(size_t)b * r->D + i] * f[(size_t)b * r->D + i];
        r->vv[sy->b0 + b] = a;
    }
    if (!r->o->score_f64)
        return clsde_buffer_write(r->ctx, r->v, off * sizeof(float), nd * sizeof(float), f);
    for (size_t i = 0; i < nd; i++) d[i] = f[i];
    return clsde_buffer_write(r->ctx, r->v, off * sizeof(double), nd * sizeof(double), d);
}

/* Put the call's next images into the slots of sy: y (and its low part) from the given
 * double state, or from the prior sample prior_std * z rounded to float as the reference
 * draws it (z keyed by the image's own index, so any slot gives the same). */
static clsde_status start(ode_run *r, ode_sys *sy)
{
    const size_t nd = (size_t)sy->nb * r->D, off = (size_t)sy->b0 * r->D;
    double *yd = r->yd_h;
    float *f = r->yf_h;
    sy->k = r->next;
    r->next += sy->nb;
    if (r->y0) {
        memcpy(yd, r->y0 + (size_t)sy->k * r->D, nd * sizeof *yd);
    } else {
        const float prior = (float)clsde_sde_prior_std(r->sde);
        /* s (the score) is free between evaluations: z [nb, D] lands in its first rows */
        CLSDE_TRY(clsde_sampler_noise(r->ctx, r->hk, r->o->seed, 0,
                                      clsde_rng_stream(CLSDE_RNG_PRIOR, 0), r->first + sy->k,
                                      sy->nb, r->D, r->s));
        CLSDE_TRY(clsde_buffer_read(r->ctx, r->s, 0, nd * sizeof(float), f));
        for (size_t i = 0; i < nd; i++) yd[i] = (double)(f[i] * prior);
    }
    for (size_t i = 0; i < nd; i++)
        CLSDE_FAIL_IF(!isfinite(yd[i]), r->ctx, CLSDE_ERR_NUMERIC,
                      "%s: initial state of image %lld is not finite", r->what,
                      (long long)(r->first + sy->k + (int64_t)(i / (size_t)r->D)));
    if (r->fp64) {
        CLSDE_TRY(clsde_buffer_write(r->ctx, r->y, off * sizeof(double), nd * sizeof(double),
                                     yd));
    } else {
        for (size_t i = 0; i < nd; i++) {
            f[i] = (float)yd[i];
            f[nd + i] = (float)(yd[i] - (double)f[i]);
        }
        CLSDE_TRY(clsde_buffer_write(r->ctx, r->y, off * sizeof(float), nd * sizeof(float), f));
        CLSDE_TRY(clsde_buffer_write(r->ctx, r->ylo, off * sizeof(float), nd * sizeof(float),
                                     f + nd));
    }
    if (r->lik) CLSDE_TRY(start_probe(r, sy));
    sy->eval = EV_F0;
    sy->t = r->t0;
    sy->in_step = sy->rejected_in_step = 0;
    sy->nfev = sy->accepted = sy->rejected = 0;
    return CLSDE_OK;
}

/* The finished system's solution into x_out (rounded to float: the reference's
 * .type(torch.float32)) and y_out, and its counts into the run's. */
static clsde_status finish(ode_run *r, const ode_sys *sy)
{
    const size_t nd = (size_t)sy->nb * r->D, off = (size_t)sy->b0 * r->D;
    const size_t o = (size_t)sy->k * r->D;
    double *yd = r->yd_h;
    float *f = r->yf_h;
    if (r->fp64) {
        CLSDE_TRY(clsde_buffer_read(r->ctx, r->y, off * sizeof(double), nd * sizeof(double), yd));
    } else {
        CLSDE_TRY(clsde_buffer_read(r->ctx, r->y, off * sizeof(float), nd * sizeof(float), f));
        CLSDE_TRY(clsde_buffer_read(r->ctx, r->ylo, off * sizeof(float), nd * sizeof(float),
                                    f + nd));
        for (size_t i = 0; i < nd; i++) yd[i] = (double)f[i] + (double)f[nd + i];
    }
    if (r->x_out)
        for (size_t i = 0; i < nd; i++) r->x_out[o + i] = (float)yd[i];
    if (r->y_out) memcpy(r->y_out + o, yd, nd * sizeof *yd);
    if (r->lik)
        for (int32_t b = 0; b < sy->nb; b++) r->delta_out[sy->k + b] = r->dl[sy->b0 + b];
    if (sy->nfev > r->nfe_max) r->nfe_max = sy->nfev;
    if (r->finished == 0 || sy->nfev < r->nfe_min) r->nfe_min = sy->nfev;
    if (sy->accepted > r->steps_max) r->steps_max = sy->accepted;
    r->nfev_sum += (double)sy->nfev * sy->nb;
    r->accepted += sy->accepted;
    r->rejected += sy->rejected;
    r->finished += sy->nb;
    return CLSDE_OK;
}

/* ---- one batched evaluation ---- */

/* Start or retry a step (scipy _step_impl up to rk_step). */
static clsde_status plan_attempt(ode_run *r, ode_sys *sy)
{
    if (!sy->in_step) {
        sy->min_step = 10 * fabs(nextafter(sy->t, r->dir * INFINITY) - sy->t);
        if (sy->h_abs < sy->min_step) sy->h_abs = sy->min_step;
        sy->in_step = 1;
        sy->rejected_in_step = 0;
    }
    CLSDE_FAIL_IF(sy->h_abs < sy->min_step, r->ctx, CLSDE_ERR_NUMERIC,
                  "%s: RK45 step size too small (%.3g < %.3g) at t = %.9g, image "
                  "%lld (the error estimate does not decrease; rtol %g, atol %g)", r->what,
                  sy->h_abs, sy->min_step, sy->t, (long long)(r->first + sy->k), r->o->rtol,
                  r->o->atol);
    sy->t_new = sy->t + r->dir * sy->h_abs;
    if (r->dir * (sy->t_new - r->t_bound) > 0) sy->t_new = r->t_bound;
    sy->h = sy->t_new - sy->t;
    sy->h_abs = fabs(sy->h);
    sy->eval = EV_K2;
    return CLSDE_OK;
}

/* The network on every slot, then K_stage = F(t_img, stage input) per run of systems that
 * write the same stage (f0 and f1 of the probe go to K_1 and K_2). On the network path the
 * stage input is the float copy xs; on the float64 path fn->eval_f64 reads the double ys. */
static clsde_status evaluate(ode_run *r)
{
    double *ab = r->ab_h;
    int32_t s0 = 0, s1 = 0;
    clsde_status st;
    for (int32_t b = 0; b < r->B; b++) r->t_f[b] = (float)(b < r->n ? r->t_img[b] : r->t_img[0]);
    for (int32_t b = 0; b < r->n; b++) {
        /* the network path forms the drift at the float32 time the network receives */
        const double t = r->o->score_f64 ? r->t_img[b] : (double)r->t_f[b];
        ab[2 * b] = clsde_sde_drift_coeff(r->sde, t);
        ab[2 * b + 1] = -0.5 * clsde_sde_g2(r->sde, t);
    }
    CLSDE_TRY(write_real(r, r->ab, ab, 2 * r->n));
    if (r->o->score_f64) {
        for (int32_t b = r->n; b < r->B; b++) r->t_img[b] = r->t_img[0];
        st = r->lik ? r->fn->eval_div_f64(r->fn->self, r->ys, r->t_img, r->v, r->sd, r->q)
                    : r->fn->eval_f64(r->fn->self, r->ys, r->t_img, 1, r->sd);
    } else {
        st = r->lik ? r->fn->eval_div(r->fn->self, r->xs, r->t_f, r->v, r->s, r->q)
                    : r->fn->eval(r->fn->self, r->xs, r->t_f, 1, r->s);
    }
    r->forward_calls++;
    if (st != CLSDE_OK)
        return clsde_error_prefix(r->ctx, st, "%s, batched evaluation %lld", r->what,
                                  (long long)r->forward_calls);
    for (int32_t s = 0; s < r->n_sys; s++) {
        const int32_t e = r->made[s];
        r->key[s] = e == EV_NONE ? -1 : e <= EV_F1 ? e : e - 1; /* the stage of K */
        if (!r->lik || e == EV_NONE) continue;
        /* d delta/dt = div F ~ A |v|^2 + B v^T (ds/dx) v (exact: A D + B tr(ds/dx)) */
        for (int32_t b = r->sys[s].b0; b < r->sys[s].b0 + r->sys[s].nb; b++)
            r->dK[(size_t)r->key[s] * r->n + b] = ab[2 * b] * r->vv[b] + ab[2 * b + 1] * r->q[b];
    }
    while (next_run(r, &s0, &s1)) {
        const clsde_rk_params p = slice(r, s0, s1);
        if (r->o->score_f64)
            CLSDE_TRY(clsde_rk_drift_enqueue(r->ctx, &p, 1, r->ab, r->ys, r->sd, r->K,
                                             r->key[s0]));
        else
            CLSDE_TRY(clsde_rk_drift_enqueue(r->ctx, &p, 0, r->ab, r->xs, r->s, r->K,
                                             r->key[s0]));
    }
    return CLSDE_OK;
}

/* The tableau row that forms the stage input of evaluation e (f0: PROBE with h = 0). */
static int row_of(int32_t e)
{
    if (e <= EV_F1) return CLSDE_RK_PROBE;
    return e == EV_K7 ? CLSDE_RK_YNEW : CLSDE_RK_STAGE2 + e - EV_K2;
}

/* Every live system's next evaluation, as one batched evaluation: the stage inputs (one
 * launch per run of neighbours on the same tableau row), the network, the drifts. */
static clsde_status forward(ode_run *r)
{
    int32_t s0 = 0, s1 = 0;
    for (int32_t s = 0; s < r->n_sys; s++) {
        const ode_sys *sy = &r->sys[s];
        const int32_t e = sy->eval;
        double h, t;
        r->made[s] = e;
        r->key[s] = e == EV_NONE ? -1 : row_of(e);
        if (e == EV_NONE) continue;
        if (e == EV_F0) { /* the stage input is y itself: row PROBE with h = 0 copies it */
            h = 0, t = r->t0;
        } else if (e == EV_F1) {
            h = r->dir * sy->h_abs, t = r->t0 + sy->h_abs * r->dir; /* direction * h0 */
        } else {
            h = sy->h;
            t = e == EV_K7 ? sy->t + h : sy->t + clsde_rk_c[e - 1] * h;
        }
        for (int32_t b = sy->b0; b < sy->b0 + sy->nb; b++) r->h_img[b] = h, r->t_img[b] = t;
    }
    CLSDE_TRY(write_real(r, r->hb, r->h_img, r->n));
    while (next_run(r, &s0, &s1)) {
        const clsde_rk_params p = slice(r, s0, s1);
        if (r->key[s0] == CLSDE_RK_YNEW) { /* y_new, also stage 7's input */
            CLSDE_TRY(combine(r, &p, CLSDE_RK_YNEW, CLSDE_RK_COMP, r->ynew, r->ynew_lo));
            if (!r->o->score_f64) continue; /* else eval_f64 reads it from ys, too */
        }
        CLSDE_TRY(combine(r, &p, r->key[s0], 0, r->ys, NULL));
    }
    return evaluate(r);
}

/* scipy's select_initial_step (order 4), first half, after f0 = K_1: d0 = RMS(y0 / sc),
 * d1 = RMS(f0 / sc), sc = atol + rtol |y0|, and the probe step h0. scipy 1.10 (the version
 * algorithms.md §5.2 reproduces) does not bound h0 = 0.01 d0/d1; for VP/subVP at t = 1 the
 * drift nearly cancels (s ~ -x), d1 is small and h0 ~ 4.7, so the probe lands at t ~ -3.7,
 * where the reference's sqrt(beta(t)) is NaN (its builtin max() then silently drops d2) and
 * a network is outside its domain. scipy >= 1.11 clips h0 and the result to the interval
 * length |t_bound - t0|; clsde does that unless unclipped_probe asks for 1.10's numbers (the
 * analytic §9.4 test). */
static clsde_status probe_f0(ode_run *r)
{
    const double interval = fabs(r->t_bound - r->t0);
    CLSDE_TRY(err_sumsq(r, r->y, r->y, r->y));
    CLSDE_TRY(read_sums(r));
    for (int32_t s = 0; s < r->n_sys; s++)
        if (r->made[s] == EV_F0) r->sys[s].d0 = sys_rms(r, &r->sys[s], r->dl, r->dl, r->dl);
    CLSDE_TRY(err_sumsq(r, r->K, r->y, r->y)); /* K_1 is the first stage of K */
    CLSDE_TRY(read_sums(r));
    for (int32_t s = 0; s < r->n_sys; s++) {
        ode_sys *sy = &r->sys[s];
        const double d1 = sys_rms(r, sy, r->dK, r->dl, r->dl);
        if (r->made[s] != EV_F0) continue;
        if (!isfinite(d1)) return numeric_failure(r, sy, "in the first drift evaluation");
        sy->h_abs = (sy->d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * sy->d0 / d1; /* h0 */
        if (!r->o->unclipped_probe) sy->h_abs = fmin(sy->h_abs, interval);
        sy->d1 = d1;
        sy->eval = EV_F1;
    }
    return CLSDE_OK;
}

/* Second half, after f1 = K_2: d2 = RMS((f1 - f0) / sc) / h0, the first step, and its plan. */
static clsde_status probe_f1(ode_run *r)
{
    const double interval = fabs(r->t_bound - r->t0);
    int32_t s0 = 0, s1 = 0;
    key_made(r, EV_F1);
    if (r->lik)
        for (int32_t b = 0; b < r->n; b++) r->dtmp[b] = r->dK[r->n + b] - r->dK[b];
    while (next_run(r, &s0, &s1)) {
        const clsde_rk_params p = slice(r, s0, s1);
        CLSDE_TRY(clsde_rk_combine_enqueue(r->ctx, &p, CLSDE_RK_DIFF, CLSDE_RK_NO_H, NULL, NULL,
                                           NULL, r->K, r->err, NULL, NULL));
    }
    CLSDE_TRY(err_sumsq(r, r->err, r->y, r->y));
    CLSDE_TRY(read_sums(r));
    for (int32_t s = 0; s < r->n_sys; s++) {
        ode_sys *sy = &r->sys[s];
        const double h0 = sy->h_abs, d1 = sy->d1;
        const double d2 = sys_rms(r, sy, r->dtmp, r->dl, r->dl) / h0;
        double h1;
        if (r->made[s] != EV_F1) continue;
        if (!isfinite(d2)) return numeric_failure(r, sy, "in the initial-step probe");
        if (d1 <= 1e-15 && d2 <= 1e-15) h1 = fmax(1e-6, h0 * 1e-3);
        else h1 = pow(0.01 / fmax(d1, d2), 1.0 / 5.0);
        sy->h_abs = fmin(100 * h0, h1);
        if (!r->o->unclipped_probe) sy->h_abs = fmin(sy->h_abs, interval);
        sy->t = r->t0;
        sy->nfev = 2;
        CLSDE_TRY(plan_attempt(r, sy));
    }
    return CLSDE_OK;
}

/* After K_7: err = h sum_j e_j K_j, E = RMS(err / (atol + rtol max(|y|, |y_new|))), accept or
 * reject per system, and the next attempt; a system that reached eps gets EV_NONE. */
static clsde_status attempt_end(ode_run *r)
{
    int32_t s0 = 0, s1 = 0, any_accept = 0;
    key_made(r, EV_K7);
    while (next_run(r, &s0, &s1)) {
        const clsde_rk_params p = slice(r, s0, s1);
        CLSDE_TRY(clsde_rk_combine_enqueue(r->ctx, &p, CLSDE_RK_ERR, 0, r->hb, NULL, NULL, r->K,
                                           r->err, NULL, NULL));
    }
    CLSDE_TRY(err_sumsq(r, r->err, r->y, r->ynew));
    CLSDE_TRY(read_sums(r));
    memset(r->mask_h, 0, (size_t)r->n * sizeof *r->mask_h);
    for (int32_t s = 0; r->lik && s < r->n_sys; s++) {
        if (r->made[s] != EV_K7) continue;
        for (int32_t b = r->sys[s].b0; b < r->sys[s].b0 + r->sys[s].nb; b++) {
            double acc_y = 0, acc_e = 0;
            for (int j = 0; j < 6; j++) acc_y += r->dK[(size_t)j * r->n + b] * clsde_rk_tab[CLSDE_RK_YNEW][j];
            for (int j = 0; j < 7; j++) acc_e += r->dK[(size_t)j * r->n + b] * clsde_rk_tab[CLSDE_RK_ERR][j];
            r->dlnew[b] = r->dl[b] + acc_y * r->h_img[b];
            r->dtmp[b] = acc_e * r->h_img[b];
        }
    }
    for (int32_t s = 0; s < r->n_sys; s++) {
        ode_sys *sy = &r->sys[s];
        double e;
        if (r->made[s] != EV_K7) continue;
        sy->nfev += 6;
        e = sys_rms(r, sy, r->dtmp, r->dl, r->dlnew);
        if (!isfinite(e)) return numeric_failure(r, sy, "in the RK45 error estimate");
        if (e < 1) {
            double factor = e == 0 ? MAX_FACTOR : fmin(MAX_FACTOR, SAFETY * pow(e, ERROR_EXPONENT));
            if (sy->rejected_in_step) factor = fmin(1, factor);
            sy->h_abs *= factor;
            sy->t = sy->t_new;
            sy->accepted++;
            sy->in_step = 0;
            for (int32_t b = sy->b0; b < sy->b0 + sy->nb; b++) {
                r->mask_h[b] = 1;
                if (!r->lik) continue;
                r->dl[b] = r->dlnew[b];
                r->dK[b] = r->dK[(size_t)6 * r->n + b]; /* FSAL */
            }
            any_accept = 1;
            if (r->dir * (sy->t - r->t_bound) >= 0) {
                sy->eval = EV_NONE;
                continue;
            }
        } else {
            sy->h_abs *= fmax(MIN_FACTOR, SAFETY * pow(e, ERROR_EXPONENT));
            sy->rejected_in_step = 1;
            sy->rejected++;
        }
        CLSDE_TRY(plan_attempt(r, sy));
    }
    if (!any_accept) return CLSDE_OK;
    CLSDE_TRY(clsde_buffer_write(r->ctx, r->mask, 0, (size_t)r->n * sizeof(cl_int), r->mask_h));
    return clsde_rk_accept_enqueue(r->ctx, &r->rk, r->mask, r->ynew, r->ynew_lo, r->y, r->ylo,
                                   r->K);
}

/* What the last batched evaluation completed: probe halves, step attempts, the other stages
 * move on; then the finished images' results, and the next images into their slots. */
static clsde_status after(ode_run *r, int *attempts_ended)
{
    int any[EV_K7 + 1] = {0};
    for (int32_t s = 0; s < r->n_sys; s++)
        if (r->made[s] != EV_NONE) any[r->made[s]] = 1;
    if (any[EV_F0]) CLSDE_TRY(probe_f0(r));
    if (any[EV_F1]) CLSDE_TRY(probe_f1(r));
    if (any[EV_K7]) CLSDE_TRY(attempt_end(r));
    *attempts_ended = any[EV_K7];
    for (int32_t s = 0; s < r->n_sys; s++) {
        ode_sys *sy = &r->sys[s];
        if (r->made[s] >= EV_K2 && r->made[s] < EV_K7) sy->eval = r->made[s] + 1;
        if (r->made[s] != EV_K7 || sy->eval != EV_NONE) continue;
        CLSDE_TRY(finish(r, sy));
        if (r->next < r->count) CLSDE_TRY(start(r, sy));
    }
    return CLSDE_OK;
}

/* The call's progress in 1/1000 per batch of slots: the mean over its images of the part
 * of [eps, 1] done (finished images count 1, pending ones 0). */
static int32_t progress_of(const ode_run *r)
{
    const double units = 1000.0 * ((r->count + r->n - 1) / r->n);
    double done = r->finished;
    for (int32_t s = 0; s < r->n_sys; s++)
        if (r->sys[s].eval != EV_NONE)
            done += r->sys[s].nb * (r->sys[s].t - r->t0) / (r->t_bound - r->t0);
    return (int32_t)(units * done / r->count);
}

/* §5.3: x <- x_mean of a reverse-diffusion step at eps with the continuous wrapper, for
 * every image of the call, in batches of the slots. */
static clsde_status denoise(ode_run *r)
{
    const float eps = (float)r->sde->cfg.eps;
    clsde_coef c;
    float coef[3];
    cl_mem cbuf = NULL;
    clsde_status st = CLSDE_OK;
    if (clsde_sde_predictor_coef(r->sde, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 0, eps, &c) !=
        CLSDE_OK) {
        clsde_error_adopt(r->ctx);
        return CLSDE_ERR_NUMERIC;
    }
    coef[0] = c.a, coef[1] = c.b, coef[2] = c.s;
    for (int32_t b = 0; b < r->B; b++) r->t_f[b] = eps;
    CLSDE_TRY(clsde_buffer_create(r->ctx, sizeof coef, &cbuf));
    CLSDE_TRY_GOTO(clsde_buffer_write(r->ctx, cbuf, 0, sizeof coef, coef));
    for (int32_t k0 = 0; k0 < r->count; k0 += r->n) {
        const int32_t m = r->count - k0 < r->n ? r->count - k0 : r->n;
        const size_t nd = (size_t)m * r->D;
        const clsde_pc_update_params up = {m, r->D, 0, 0};
        float *x = r->x_out + (size_t)k0 * r->D;
        CLSDE_TRY_GOTO(clsde_buffer_write(r->ctx, r->xs, 0, nd * sizeof(float), x));
        st = r->fn->eval(r->fn->self, r->xs, r->t_f, 1, r->s);
        r->forward_calls++;
        if (st != CLSDE_OK) {
            st = clsde_error_prefix(r->ctx, st, "ODE sampler, denoising evaluation at t = %g",
                                    (double)eps);
            goto fail;
        }
        CLSDE_TRY_GOTO(clsde_pc_update_enqueue(r->ctx, &up, cbuf, r->xs, r->s, NULL, r->xs, NULL));
        CLSDE_TRY_GOTO(clsde_buffer_read(r->ctx, r->xs, 0, nd * sizeof(float), x));
        for (size_t i = 0; i < nd; i++)
            CLSDE_GOTO_IF(!isfinite(x[i]), r->ctx, CLSDE_ERR_NUMERIC,
                          "ODE sampler: NaN/Inf at t = %g, stage: denoising step (network or "
                          "update), image %lld",
                          (double)eps, (long long)(r->first + k0 + (int64_t)(i / (size_t)r->D)));
    }
fail:
    clsde_buffer_release(cbuf);
    return st;
}

/* Solve every system of r (set up by the caller), as one loop of batched evaluations. */
static clsde_status run(ode_run *r, const clsde_progress *pr, clsde_sample_stats *stats)
{
    clsde_status st = CLSDE_OK;
    const clsde_ode_opts *o = r->o;
    int32_t reported = 0;
    CLSDE_FAIL_IF(r->count < 1 || (o->reference_batching && r->count > r->B), r->ctx,
                  CLSDE_ERR_ARG, "%s: %d images for a score function of batch %d%s", r->what,
                  (int)r->count, (int)r->B,
                  o->reference_batching ? " (reference_batching: one batch)" : "");
    CLSDE_FAIL_IF(!(o->rtol > 0) || !(o->atol > 0), r->ctx, CLSDE_ERR_ARG,
                  "%s: rtol %g and atol %g must be > 0", r->what, o->rtol, o->atol);
    r->fp64 = r->ctx->info.fp64 && !o->state_fp32;
    CLSDE_FAIL_IF(o->score_f64 && (!r->fp64 || (r->lik ? !r->fn->eval_div_f64 : !r->fn->eval_f64)),
                  r->ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: a float64 score needs a float64 state and a score function "
                  "with eval%s_f64", r->what, r->lik ? "_div" : "");
    CLSDE_FAIL_IF(r->lik && (o->score_f64 ? !r->fn->eval_div_f64 : !r->fn->eval_div), r->ctx,
                  CLSDE_ERR_UNSUPPORTED, "%s: the %s gives no divergence (a network needs "
                  "clsde_net_create_jvp)", r->what, r->fn->name);
    r->rs = r->fp64 ? sizeof(double) : sizeof(float);
    r->n = r->count < r->B ? r->count : r->B;
    r->rk.n = r->n, r->rk.per_image = r->D, r->rk.fp64 = r->fp64;
    CLSDE_TRY_GOTO(alloc(r));
    if (o->reference_batching) {
        r->n_sys = 1;
        r->sys[0].b0 = 0, r->sys[0].nb = r->count;
    } else {
        r->n_sys = r->n;
        for (int32_t b = 0; b < r->n; b++) r->sys[b].b0 = b, r->sys[b].nb = 1;
    }
    for (int32_t s = 0; s < r->n_sys; s++) CLSDE_TRY_GOTO(start(r, &r->sys[s]));
    while (r->finished < r->count) {
        int attempts_ended, p;
        CLSDE_TRY_GOTO(forward(r));
        CLSDE_TRY_GOTO(after(r, &attempts_ended));
        if (!attempts_ended) continue;
        /* reported after every batched evaluation that ends a step attempt (each 6th while
         * the slots are in phase), with a progress that never goes back */
        p = progress_of(r);
        reported = p > reported ? p : reported;
        CLSDE_TRY_GOTO(clsde_progress_report(r->ctx, pr, reported));
    }
    if (o->denoise && !r->lik) CLSDE_TRY_GOTO(denoise(r));
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->nfe = r->nfe_max;
        stats->nfe_min = r->nfe_min;
        stats->nfe_mean = r->nfev_sum / r->count;
        stats->nfe_reference = r->nfe_max;
        stats->steps = r->steps_max;
        stats->steps_accepted = r->accepted;
        stats->steps_rejected = r->rejected;
        stats->forward_calls = r->forward_calls;
    }
fail:
    release(r);
    return st;
}

clsde_status clsde_ode_sample(clsde_context *ctx, const clsde_sde *sde, const clsde_score_fn *fn,
                              const clsde_ode_opts *o, const clsde_sampler_hooks *hk,
                              const clsde_progress *pr, int64_t first_image, int32_t n,
                              const double *y0, float *x_out, double *y_out,
                              clsde_sample_stats *stats)
{
    ode_run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx, r.sde = sde, r.fn = fn, r.o = o, r.hk = hk;
    r.B = fn->batch, r.D = fn->per_image, r.count = n, r.first = first_image;
    r.t0 = 1.0, r.dir = -1.0, r.what = "ODE sampler";
    r.t_bound = sde->cfg.eps; /* solve_ivp's (T, eps) with the Python float eps */
    r.y0 = y0, r.x_out = x_out, r.y_out = y_out;
    return run(&r, pr, stats);
}

clsde_status clsde_ode_likelihood(clsde_context *ctx, const clsde_sde *sde,
                                  const clsde_score_fn *fn, const clsde_ode_opts *o,
                                  double eps, clsde_probe probe, const clsde_progress *pr,
                                  int64_t first_image, int32_t n, const double *x0,
                                  double *z_out, double *delta_out, clsde_sample_stats *stats)
{
    ode_run r;
    CLSDE_FAIL_IF(!x0 || !delta_out, ctx, CLSDE_ERR_ARG, "likelihood ODE: no data or no output");
    CLSDE_FAIL_IF(!(eps > 0 && eps < 1), ctx, CLSDE_ERR_ARG,
                  "likelihood ODE: start time %g must be in (0, 1)", eps);
    CLSDE_FAIL_IF(probe != CLSDE_PROBE_RADEMACHER && probe != CLSDE_PROBE_GAUSSIAN &&
                      probe != CLSDE_PROBE_EXACT,
                  ctx, CLSDE_ERR_ARG, "likelihood ODE: probe %d", (int)probe);
    memset(&r, 0, sizeof r);
    r.ctx = ctx, r.sde = sde, r.fn = fn, r.o = o;
    r.B = fn->batch, r.D = fn->per_image, r.count = n, r.first = first_image;
    r.lik = 1, r.probe = probe, r.what = "likelihood ODE";
    r.t0 = eps, r.dir = 1.0, r.t_bound = 1.0;
    r.y0 = x0, r.y_out = z_out, r.delta_out = delta_out;
    return run(&r, pr, stats);
}
