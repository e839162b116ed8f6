/*
 * sampler_api.c — the public sampling entry points (clsde_sample_params_default/_resolve,
 * clsde_sample_run): settings from the model's config, the memory plan for a batch, the
 * network behind the samplers' clsde_score_fn (labels on the host, the state bound into the
 * graph without copies), batching over the requested images, progress, the inverse scaler.
 * The samplers themselves are sampler_pc.c and sampler_ode.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/reduce.h"
#include "net.h"
#include "sampler.h"

#define MIB (1024.0 * 1024.0)

/* ---- settings ---- */

static const char *const method_names[] = {NULL, "pc", "ode"};
static const char *const predictor_names[] = {"none", "euler_maruyama", "reverse_diffusion",
                                              "ancestral_sampling"};
static const char *const corrector_names[] = {"none", "langevin", "ald"};

void clsde_sample_params_default(clsde_sample_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->snr = -1;
    p->n_steps_each = -1;
    p->steps = 0;
    p->probability_flow = -1;
    p->denoise = -1;
    p->rtol = p->atol = 1e-5;
    p->batch = 16;
}

static int lookup(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(name, names[i])) return i;
    return -1;
}

clsde_status clsde_sample_params_resolve(const clsde_model *model, const clsde_sample_params *p,
                                         clsde_sample_params *r)
{
    clsde_context *ctx = model ? model->ctx : NULL;
    const clsde_model_config *c;
    int method, pred, corr;
    CLSDE_FAIL_IF(!model || !p || !r, ctx, CLSDE_ERR_ARG,
                  "clsde_sample_params_resolve: NULL argument");
    c = &model->cfg;
    *r = *p;
    method = p->method ? lookup(p->method, method_names, 3) : (int)c->method;
    CLSDE_FAIL_IF(method < 1, ctx, CLSDE_ERR_ARG, "unknown sampler '%s' (pc or ode)", p->method);
    pred = p->predictor ? lookup(p->predictor, predictor_names, 4) : (int)c->predictor;
    CLSDE_FAIL_IF(pred < 0, ctx, CLSDE_ERR_ARG,
                  "unknown predictor '%s' (euler_maruyama, reverse_diffusion, "
                  "ancestral_sampling or none)", p->predictor);
    corr = p->corrector ? lookup(p->corrector, corrector_names, 3) : (int)c->corrector;
    CLSDE_FAIL_IF(corr < 0, ctx, CLSDE_ERR_ARG, "unknown corrector '%s' (langevin, ald or none)",
                  p->corrector);
    r->method = method_names[method];
    r->predictor = predictor_names[pred];
    r->corrector = corrector_names[corr];
    if (p->snr < 0) r->snr = c->snr;
    if (p->n_steps_each == -1) r->n_steps_each = c->n_steps_each;
    if (p->steps == 0) r->steps = c->num_scales;
    if (p->probability_flow == -1) r->probability_flow = c->probability_flow;
    if (p->denoise == -1) r->denoise = c->noise_removal;
    CLSDE_FAIL_IF(!isfinite(r->snr) || (corr != CLSDE_CORRECTOR_NONE && !(r->snr > 0)), ctx,
                  CLSDE_ERR_ARG, "snr %g must be > 0 with the %s corrector", r->snr,
                  r->corrector);
    CLSDE_FAIL_IF(r->n_steps_each < 0 || r->n_steps_each > 1000, ctx, CLSDE_ERR_ARG,
                  "n_steps_each %d must be in 0..1000", (int)r->n_steps_each);
    CLSDE_FAIL_IF(r->steps < 2 || r->steps > (1 << 24), ctx, CLSDE_ERR_ARG,
                  "steps %d must be in 2..%d", (int)r->steps, 1 << 24);
    CLSDE_FAIL_IF(r->probability_flow != 0 && r->probability_flow != 1, ctx, CLSDE_ERR_ARG,
                  "probability_flow %d must be 0, 1 or -1 (config)", (int)r->probability_flow);
    CLSDE_FAIL_IF(r->denoise != 0 && r->denoise != 1, ctx, CLSDE_ERR_ARG,
                  "denoise %d must be 0, 1 or -1 (config)", (int)r->denoise);
    CLSDE_FAIL_IF(!(r->rtol > 0 && r->rtol < 1) || !(r->atol > 0 && isfinite(r->atol)), ctx,
                  CLSDE_ERR_ARG, "ODE tolerances rtol %g and atol %g must be > 0 (rtol < 1)",
                  r->rtol, r->atol);
    CLSDE_FAIL_IF(r->batch < 1 || r->batch > 65536, ctx, CLSDE_ERR_ARG,
                  "batch %d must be in 1..65536", (int)r->batch);
    CLSDE_FAIL_IF(r->reference_batching != 0 && r->reference_batching != 1, ctx, CLSDE_ERR_ARG,
                  "reference_batching %d must be 0 or 1", (int)r->reference_batching);
    if (method == CLSDE_METHOD_PC) {
        /* the discrete VP schedule beta_k = linspace(beta_min/N, beta_max/N) needs
         * beta_max/N < 1 (alpha_k > 0) wherever it is used (§1.2, §3) */
        const int vp_pred = c->sde == CLSDE_SDE_VP && (pred == CLSDE_PREDICTOR_REVERSE_DIFFUSION ||
                                                      pred == CLSDE_PREDICTOR_ANCESTRAL_SAMPLING);
        const int vp_corr = c->sde != CLSDE_SDE_VE && r->n_steps_each > 0 &&
                            corr != CLSDE_CORRECTOR_NONE;
        const int discrete = vp_pred || vp_corr;
        CLSDE_FAIL_IF(discrete && !(c->beta_max / r->steps < 1), ctx, CLSDE_ERR_ARG,
                      "steps %d is too few for the discrete %s schedule: beta_max/N = %g must be "
                      "< 1 (use more than %g steps)",
                      (int)r->steps, c->sde == CLSDE_SDE_VP ? "VP" : "VP (subVP corrector)",
                      c->beta_max / r->steps, floor(c->beta_max));
        CLSDE_FAIL_IF(pred == CLSDE_PREDICTOR_ANCESTRAL_SAMPLING && c->sde == CLSDE_SDE_SUBVP,
                      ctx, CLSDE_ERR_UNSUPPORTED,
                      "ancestral_sampling is not defined for subVP (no discrete subVP schedule; "
                      "the reference raises NotImplementedError): use reverse_diffusion");
        CLSDE_FAIL_IF(pred == CLSDE_PREDICTOR_ANCESTRAL_SAMPLING && r->probability_flow, ctx,
                      CLSDE_ERR_UNSUPPORTED,
                      "ancestral_sampling has no probability-flow form (the reference refuses it)");
    } else {
        /* algorithms.md §2: the ODE uses the continuous wrapper, which feeds sigma(t) to a
         * VE network that was trained on noise-level indices */
        CLSDE_FAIL_IF(c->sde == CLSDE_SDE_VE && !c->continuous, ctx, CLSDE_ERR_UNSUPPORTED,
                      "the ODE sampler needs a continuously trained model; this VE model was "
                      "trained with discrete noise levels (training.continuous = false): use "
                      "--sampler pc");
    }
    return CLSDE_OK;
}

/* ---- the network as a score function ---- */

struct clsde_net_score {
    clsde_context *ctx;
    clsde_net *net;
    clsde_score_fn fn;
    float *host;                         /* [3B]: label, used_sigma, score_div */
    cl_mem label, used_sigma, score_div; /* [B] each */
    cl_mem tscore, q;                    /* jvp nets: [B, D] (ds/dx) v, [B] v . tscore */
};

/* Labels of times t on the device, and the binding of one evaluation. */
static clsde_status net_prepare(clsde_net_score *ns, cl_mem x, const float *t, int continuous,
                                cl_mem score, clsde_net_bind *bind)
{
    const int32_t B = ns->fn.batch;
    const size_t vb = (size_t)B * sizeof(float);
    clsde_net_labels lab;
    lab.label = ns->host, lab.used_sigma = ns->host + B, lab.score_div = ns->host + 2 * B;
    CLSDE_TRY(clsde_net_compute_labels(ns->net, t,
                                       continuous ? CLSDE_TIME_CONTINUOUS : CLSDE_TIME_DEFAULT, 1,
                                       &lab));
    CLSDE_TRY(clsde_buffer_write(ns->ctx, ns->label, 0, vb, lab.label));
    if (ns->net->io.sigma >= 0)
        CLSDE_TRY(clsde_buffer_write(ns->ctx, ns->used_sigma, 0, vb, lab.used_sigma));
    if (ns->net->score_div >= 0)
        CLSDE_TRY(clsde_buffer_write(ns->ctx, ns->score_div, 0, vb, lab.score_div));
    /* the sampler's state and score buffers are bound into the graph: no copies */
    memset(bind, 0, sizeof *bind);
    bind->x = x;
    bind->label = ns->label;
    bind->used_sigma = ns->net->io.sigma >= 0 ? ns->used_sigma : NULL;
    bind->score_div = ns->net->score_div >= 0 ? ns->score_div : NULL;
    bind->score = score;
    return CLSDE_OK;
}

static clsde_status net_eval(void *self, cl_mem x, const float *t, int continuous, cl_mem score)
{
    clsde_net_bind bind;
    CLSDE_TRY(net_prepare(self, x, t, continuous, score, &bind));
    return clsde_net_enqueue(((clsde_net_score *)self)->net, &bind);
}

/* One replay gives the score and its tangent (ds/dx) v; q[b] = v_b . tscore_b. */
static clsde_status net_eval_div(void *self, cl_mem x, const float *t, cl_mem v, cl_mem score,
                                 double *q)
{
    clsde_net_score *ns = self;
    const int32_t B = ns->fn.batch;
    float *qf = ns->host; /* free again once the labels are on the device */
    clsde_net_bind bind;
    CLSDE_FAIL_IF(!v, ns->ctx, CLSDE_ERR_UNSUPPORTED,
                  "network: no exact divergence (a Hutchinson probe is needed)");
    CLSDE_TRY(net_prepare(ns, x, t, 1, score, &bind));
    bind.v = v;
    bind.tscore = ns->tscore;
    CLSDE_TRY(clsde_net_enqueue(ns->net, &bind));
    CLSDE_TRY(clsde_dot_per_image_enqueue(ns->ctx, NULL, (size_t)B, (size_t)ns->fn.per_image, v,
                                          ns->tscore, ns->q));
    CLSDE_TRY(clsde_buffer_read(ns->ctx, ns->q, 0, (size_t)B * sizeof(float), qf));
    for (int32_t b = 0; b < B; b++) q[b] = qf[b];
    return CLSDE_OK;
}

void clsde_net_score_destroy(clsde_net_score *ns)
{
    if (!ns) return;
    clsde_buffer_release(ns->label);
    clsde_buffer_release(ns->used_sigma);
    clsde_buffer_release(ns->score_div);
    clsde_buffer_release(ns->tscore);
    clsde_buffer_release(ns->q);
    free(ns->host);
    free(ns);
}

clsde_status clsde_net_score_create(clsde_context *ctx, clsde_net *net, clsde_net_score **out)
{
    const size_t vb = (size_t)net->batch * sizeof(float);
    clsde_status st = CLSDE_OK;
    clsde_net_score *ns = calloc(1, sizeof *ns);
    *out = NULL;
    CLSDE_FAIL_IF(!ns, ctx, CLSDE_ERR_NOMEM, "sampling: out of memory");
    ns->ctx = ctx;
    ns->net = net;
    ns->host = calloc(3 * (size_t)net->batch, sizeof(float));
    CLSDE_GOTO_IF(!ns->host, ctx, CLSDE_ERR_NOMEM, "sampling: out of memory");
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, vb, &ns->label));
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, vb, &ns->used_sigma));
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, vb, &ns->score_div));
    ns->fn.self = ns;
    ns->fn.batch = net->batch;
    ns->fn.per_image = net->cfg->num_channels * net->cfg->image_size * net->cfg->image_size;
    ns->fn.eval = net_eval;
    ns->fn.eval_f64 = NULL;
    if (net->jvp) {
        CLSDE_TRY_GOTO(clsde_buffer_create(ctx, vb * ns->fn.per_image, &ns->tscore));
        CLSDE_TRY_GOTO(clsde_buffer_create(ctx, vb, &ns->q));
        ns->fn.eval_div = net_eval_div;
    }
    ns->fn.name = "network";
    *out = ns;
    return CLSDE_OK;
fail:
    clsde_net_score_destroy(ns);
    return st;
}

const clsde_score_fn *clsde_net_score_fn(const clsde_net_score *ns)
{
    return &ns->fn;
}

/* ---- memory plan ---- */

/* Device bytes of the sampler's own state for batch B (and its largest single buffer). */
static void state_bytes(const clsde_context *ctx, int ode, int64_t B, int64_t D, int64_t *total,
                        int64_t *largest)
{
    if (!ode) {
        *total = 4 * B * D * (int64_t)sizeof(float);
        *largest = B * D * (int64_t)sizeof(float);
    } else {
        const int64_t rs = ctx->info.fp64 ? 8 : 4;
        *total = 11 * B * D * rs + 2 * B * D * 4 + (ctx->info.fp64 ? 0 : 2 * B * D * 4);
        *largest = 7 * B * D * rs;
    }
}

/* Compare the planned memory of batch B with the device. The network's plan comes from a
 * batch-1 build (activations scale with the batch) so that nothing large is allocated
 * before the check. */
static clsde_status check_memory(clsde_context *ctx, clsde_model *model, int ode, int jvp,
                                 int32_t B)
{
    clsde_net *probe = NULL;
    clsde_net_info ni;
    const int64_t D =
        (int64_t)model->cfg.num_channels * model->cfg.image_size * model->cfg.image_size;
    int64_t st, largest, acts, total;
    CLSDE_TRY(jvp ? clsde_net_create_jvp(ctx, model, 1, &probe)
                  : clsde_net_create(ctx, model, 1, &probe));
    clsde_net_get_info(probe, &ni);
    clsde_net_destroy(probe);
    acts = ni.activation_bytes * B;
    state_bytes(ctx, ode, B, D, &st, &largest);
    if (jvp) st += 2 * B * D * (int64_t)sizeof(float); /* probe and tangent */
    total = ni.weight_bytes + acts + st;
    CLSDE_FAIL_IF(acts > ctx->info.max_alloc_bytes || largest > ctx->info.max_alloc_bytes, ctx,
                  CLSDE_ERR_DEVICE_LIMIT,
                  "batch %d needs a single buffer of %.1f MiB (%s), more than the device's "
                  "maximum allocation of %.1f MiB (CL_DEVICE_MAX_MEM_ALLOC_SIZE of %s): use a "
                  "smaller batch",
                  (int)B, (acts > largest ? acts : largest) / MIB,
                  acts > largest ? "network activations" : "sampler state",
                  ctx->info.max_alloc_bytes / MIB, ctx->info.name);
    CLSDE_FAIL_IF(total > ctx->info.global_mem_bytes, ctx, CLSDE_ERR_DEVICE_LIMIT,
                  "batch %d needs %.1f MiB of device memory (weights %.1f, activations %.1f, "
                  "sampler state %.1f MiB), more than the device's %.1f MiB of global memory "
                  "(%s): use a smaller batch",
                  (int)B, total / MIB, ni.weight_bytes / MIB, acts / MIB, st / MIB,
                  ctx->info.global_mem_bytes / MIB, ctx->info.name);
    return CLSDE_OK;
}

/* ---- the run ---- */

static void to_enum(const clsde_sample_params *r, clsde_predictor *p, clsde_corrector *c)
{
    *p = (clsde_predictor)lookup(r->predictor, predictor_names, 4);
    *c = (clsde_corrector)lookup(r->corrector, corrector_names, 3);
}

/* The SDE of a model's config with n time steps (sampling eps from the config). */
static clsde_status sde_for(clsde_context *ctx, const clsde_model_config *c, int32_t n,
                            clsde_sde *sde)
{
    clsde_sde_config sc;
    clsde_sde_config_default(&sc, c->sde);
    sc.continuous = c->continuous;
    sc.n = n;
    sc.sigma_min = c->sigma_min, sc.sigma_max = c->sigma_max;
    sc.beta_min = c->beta_min, sc.beta_max = c->beta_max;
    sc.eps = c->sampling_eps;
    if (clsde_sde_init(sde, &sc) != CLSDE_OK) {
        clsde_error_adopt(ctx);
        return CLSDE_ERR_ARG;
    }
    return CLSDE_OK;
}

clsde_status clsde_run_check(clsde_context *ctx, const char *fn, int64_t first_image,
                             int32_t count)
{
    CLSDE_FAIL_IF(!ctx, NULL, CLSDE_ERR_ARG, "%s: ctx is NULL", fn);
    CLSDE_FAIL_IF(count < 1, ctx, CLSDE_ERR_ARG, "%s: count %d must be >= 1", fn, (int)count);
    CLSDE_FAIL_IF(first_image < 0 || first_image + count - 1 > (int64_t)UINT32_MAX, ctx,
                  CLSDE_ERR_ARG, "images %lld .. %lld: the image index must stay below 2^32",
                  (long long)first_image, (long long)(first_image + count - 1));
    return CLSDE_OK;
}

clsde_status clsde_run_net_create(clsde_context *ctx, clsde_model *model, int ode, int jvp,
                                  int32_t B, int32_t steps, clsde_run_net *rn)
{
    memset(rn, 0, sizeof *rn);
    CLSDE_TRY(check_memory(ctx, model, ode, jvp, B));
    CLSDE_TRY(sde_for(ctx, &model->cfg, steps, &rn->sde));
    CLSDE_TRY(jvp ? clsde_net_create_jvp(ctx, model, B, &rn->net)
                  : clsde_net_create(ctx, model, B, &rn->net));
    return clsde_net_score_create(ctx, rn->net, &rn->ns);
}

void clsde_run_net_destroy(clsde_run_net *rn)
{
    clsde_net_score_destroy(rn->ns);
    clsde_net_destroy(rn->net);
    clsde_sde_destroy(&rn->sde);
    memset(rn, 0, sizeof *rn);
}

clsde_status clsde_sample_run(clsde_context *ctx, clsde_model *model,
                              const clsde_sample_params *params, int64_t first_image,
                              int32_t count, float *out, clsde_sample_stats *stats)
{
    clsde_status st = CLSDE_OK;
    clsde_sample_params r;
    clsde_sample_stats acc;
    clsde_run_net rn;
    clsde_progress pr;
    int ode;
    int32_t B, D, n_chunks, per_chunk, per_call;
    const double t0 = clsde_now();
    memset(&rn, 0, sizeof rn);
    memset(&acc, 0, sizeof acc);
    CLSDE_TRY(clsde_run_check(ctx, "clsde_sample_run", first_image, count));
    CLSDE_FAIL_IF(!model || !params || !out, ctx, CLSDE_ERR_ARG,
                  "clsde_sample_run: NULL model, params or out");
    {
        clsde_context *mctx = model->ctx;
        model->ctx = ctx; /* messages of the resolution go to this call's context */
        st = clsde_sample_params_resolve(model, params, &r);
        model->ctx = mctx;
        CLSDE_TRY(st);
    }
    ode = !strcmp(r.method, "ode");
    B = r.batch < count ? r.batch : count;
    D = model->cfg.num_channels * model->cfg.image_size * model->cfg.image_size;
    CLSDE_TRY_GOTO(clsde_run_net_create(ctx, model, ode, 0, B,
                                        ode ? model->cfg.num_scales : r.steps, &rn));

    n_chunks = (count + B - 1) / B;
    per_chunk = ode ? 1000 : r.steps;
    /* per-image ODEs take all images in one call, which refills the batch's slots as
     * images finish (sampler_ode.c); the other samplers go batch by batch */
    per_call = ode && !r.reference_batching ? count : B;
    pr.fn = r.progress, pr.user = r.progress_user;
    pr.total = n_chunks * per_chunk;
    pr.t0 = t0;
    for (int32_t c0 = 0; c0 < count; c0 += per_call) {
        const int32_t n = count - c0 < per_call ? count - c0 : per_call;
        float *dst = out + (size_t)c0 * D;
        clsde_sample_stats one;
        pr.base = c0 / B * per_chunk;
        if (ode) {
            clsde_ode_opts o;
            memset(&o, 0, sizeof o);
            o.rtol = r.rtol, o.atol = r.atol;
            o.denoise = r.denoise;
            o.reference_batching = r.reference_batching;
            o.seed = r.seed;
            CLSDE_TRY_GOTO(clsde_ode_sample(ctx, &rn.sde, &rn.ns->fn, &o, NULL, &pr,
                                            first_image + c0, n, NULL, dst, NULL,
                                            &one));
        } else {
            clsde_pc_opts o;
            memset(&o, 0, sizeof o);
            to_enum(&r, &o.predictor, &o.corrector);
            o.snr = (float)r.snr;
            o.n_steps_each = r.n_steps_each;
            o.probability_flow = r.probability_flow;
            o.denoise = r.denoise;
            o.reference_batching = r.reference_batching;
            o.seed = r.seed;
            CLSDE_TRY_GOTO(clsde_pc_sample(ctx, &rn.sde, &rn.ns->fn, &o, NULL, &pr,
                                           first_image + c0, n, dst, &one));
        }
        clsde_sample_stats_add(&acc, &one);
        acc.nfe_mean += one.nfe_mean * n / count;
    }
    if (model->cfg.centered) /* inverse scaler (x + 1) / 2, as the reference in float32 */
        for (size_t i = 0; i < (size_t)count * D; i++) out[i] = (out[i] + 1.0f) / 2.0f;
    acc.seconds = clsde_now() - t0;
    if (stats) *stats = acc;
fail:
    clsde_run_net_destroy(&rn);
    return st;
}
