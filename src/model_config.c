/*
 * model_config.c — the official score_sde config dict (JSON) -> clsde_model_config, with
 * validation: types, names, ranges, the GroupNorm divisibility of every width the network
 * will have (networks.md §0, walked in the module order of §2.3 / §3), and the
 * combinations clsde does not run (networks.md §2.8, fixtures/README.md "Quirks").
 * Sampler-specific combinations (e.g. subVP + ancestral sampling) are the samplers' to check.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "model.h"

#define MAX_NRB 64          /* num_res_blocks; the official maximum is 8 */
#define MAX_WIDTH (1 << 20) /* nf * ch_mult[i] */

typedef struct cfgp {
    clsde_context *ctx;
    const char *label;
} cfgp;

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "null";
}

/* Exact-case member lookup (cJSON_GetObjectItem ignores case). */
static const cJSON *member(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static clsde_status need(const cfgp *p, const cJSON *sec, const char *sname, const char *key,
                         const cJSON **out)
{
    *out = member(sec, key);
    CLSDE_FAIL_IF(!*out, p->ctx, CLSDE_ERR_FORMAT, "%s: config: %s.%s is missing", p->label,
                  sname, key);
    return CLSDE_OK;
}

static clsde_status get_section(const cfgp *p, const cJSON *root, const char *sname,
                                const cJSON **out)
{
    *out = member(root, sname);
    CLSDE_FAIL_IF(!*out, p->ctx, CLSDE_ERR_FORMAT, "%s: config: section '%s' is missing",
                  p->label, sname);
    CLSDE_FAIL_IF(!cJSON_IsObject(*out), p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: '%s' must be an object, got %s", p->label, sname,
                  json_kind(*out));
    return CLSDE_OK;
}

static clsde_status get_bool(const cfgp *p, const cJSON *sec, const char *sname,
                             const char *key, int32_t *out)
{
    const cJSON *v;
    CLSDE_TRY(need(p, sec, sname, key, &v));
    CLSDE_FAIL_IF(!cJSON_IsBool(v), p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: %s.%s must be true or false, got %s", p->label, sname, key,
                  json_kind(v));
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return CLSDE_OK;
}

static clsde_status check_int(const cfgp *p, const cJSON *v, const char *what, int64_t lo,
                              int64_t hi, int32_t *out)
{
    double d;
    CLSDE_FAIL_IF(!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble), p->ctx,
                  CLSDE_ERR_FORMAT, "%s: config: %s must be an integer, got %s", p->label, what,
                  cJSON_IsNumber(v) ? "a fraction" : json_kind(v));
    d = v->valuedouble;
    CLSDE_FAIL_IF(d < (double)lo || d > (double)hi, p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: %s is %.17g, must be in [%lld, %lld]", p->label, what, d,
                  (long long)lo, (long long)hi);
    *out = (int32_t)d;
    return CLSDE_OK;
}

static clsde_status get_int(const cfgp *p, const cJSON *sec, const char *sname, const char *key,
                            int64_t lo, int64_t hi, int32_t *out)
{
    const cJSON *v;
    char what[64];
    CLSDE_TRY(need(p, sec, sname, key, &v));
    snprintf(what, sizeof what, "%s.%s", sname, key);
    return check_int(p, v, what, lo, hi, out);
}

/* A finite number in [lo, hi]. */
static clsde_status get_num(const cfgp *p, const cJSON *sec, const char *sname, const char *key,
                            double lo, double hi, double *out)
{
    const cJSON *v;
    CLSDE_TRY(need(p, sec, sname, key, &v));
    CLSDE_FAIL_IF(!cJSON_IsNumber(v) || !isfinite(v->valuedouble), p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: %s.%s must be a finite number, got %s", p->label, sname, key,
                  cJSON_IsNumber(v) ? "infinity" : json_kind(v));
    CLSDE_FAIL_IF(v->valuedouble < lo || v->valuedouble > hi, p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: %s.%s is %.17g, must be in [%g, %g]", p->label, sname, key,
                  v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return CLSDE_OK;
}

static clsde_status get_int_array(const cfgp *p, const cJSON *sec, const char *sname,
                                  const char *key, int32_t min_n, int32_t max_n, int64_t lo,
                                  int64_t hi, int32_t *out, int32_t *n)
{
    const cJSON *v, *it;
    char what[80];
    int32_t k = 0;
    CLSDE_TRY(need(p, sec, sname, key, &v));
    CLSDE_FAIL_IF(!cJSON_IsArray(v), p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: %s.%s must be an array of integers, got %s", p->label, sname,
                  key, json_kind(v));
    cJSON_ArrayForEach(it, v) {
        CLSDE_FAIL_IF(k >= max_n, p->ctx, CLSDE_ERR_FORMAT,
                      "%s: config: %s.%s has more than %d entries", p->label, sname, key,
                      (int)max_n);
        snprintf(what, sizeof what, "%s.%s[%d]", sname, key, (int)k);
        CLSDE_TRY(check_int(p, it, what, lo, hi, &out[k]));
        k++;
    }
    CLSDE_FAIL_IF(k < min_n, p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: %s.%s has %d entries, needs at least %d", p->label, sname, key,
                  (int)k, (int)min_n);
    *n = k;
    return CLSDE_OK;
}

/* A string from `names`; *out = values[i]. `unsupported` (may be NULL) lists names that are
 * valid in score_sde but not run by clsde, with the reason. */
typedef struct enum_entry {
    const char *name;
    int value;
} enum_entry;

static clsde_status get_enum(const cfgp *p, const cJSON *sec, const char *sname,
                             const char *key, const enum_entry *names, int n, int *out)
{
    const cJSON *v;
    char list[256] = "";
    CLSDE_TRY(need(p, sec, sname, key, &v));
    CLSDE_FAIL_IF(!cJSON_IsString(v) || !v->valuestring, p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: %s.%s must be a string, got %s", p->label, sname, key,
                  json_kind(v));
    for (int i = 0; i < n; i++) {
        if (!strcmp(v->valuestring, names[i].name)) {
            *out = names[i].value;
            return CLSDE_OK;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 names[i].name);
    }
    return clsde_error_set(p->ctx, CLSDE_ERR_FORMAT,
                           "%s: config: %s.%s '%.64s' is not one of: %s", p->label, sname, key,
                           v->valuestring, list);
}

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const enum_entry sde_names[] = {
    {"vesde", CLSDE_SDE_VE}, {"vpsde", CLSDE_SDE_VP}, {"subvpsde", CLSDE_SDE_SUBVP}};
static const enum_entry resblock_names[] = {
    {"biggan", CLSDE_RESBLOCK_BIGGAN}, {"ddpm", CLSDE_RESBLOCK_DDPM}};
static const enum_entry prog_names[] = {
    {"none", CLSDE_PROG_NONE}, {"output_skip", CLSDE_PROG_OUTPUT_SKIP},
    {"residual", CLSDE_PROG_RESIDUAL}};
static const enum_entry prog_in_names[] = {
    {"none", CLSDE_PROG_NONE}, {"input_skip", CLSDE_PROG_INPUT_SKIP},
    {"residual", CLSDE_PROG_RESIDUAL}};
static const enum_entry combine_names[] = {
    {"sum", CLSDE_COMBINE_SUM}, {"cat", CLSDE_COMBINE_CAT}};
static const enum_entry embed_names[] = {
    {"fourier", CLSDE_EMBED_FOURIER}, {"positional", CLSDE_EMBED_POSITIONAL}};
static const enum_entry act_names[] = {
    {"swish", CLSDE_ACT_SWISH}, {"elu", CLSDE_ACT_ELU}, {"relu", CLSDE_ACT_RELU},
    {"lrelu", CLSDE_ACT_LRELU}};
static const enum_entry method_names[] = {{"pc", CLSDE_METHOD_PC}, {"ode", CLSDE_METHOD_ODE}};
static const enum_entry predictor_names[] = {
    {"euler_maruyama", CLSDE_PREDICTOR_EULER_MARUYAMA},
    {"reverse_diffusion", CLSDE_PREDICTOR_REVERSE_DIFFUSION},
    {"ancestral_sampling", CLSDE_PREDICTOR_ANCESTRAL_SAMPLING},
    {"none", CLSDE_PREDICTOR_NONE}};
static const enum_entry corrector_names[] = {
    {"langevin", CLSDE_CORRECTOR_LANGEVIN}, {"ald", CLSDE_CORRECTOR_ALD},
    {"none", CLSDE_CORRECTOR_NONE}};

const char *clsde_sde_name(clsde_sde_type sde)
{
    for (int i = 0; i < N_(sde_names); i++)
        if (sde_names[i].value == (int)sde) return sde_names[i].name;
    return "?";
}

#define GET_ENUM(p, sec, sname, key, table, field)                                         \
    do {                                                                                   \
        int v_;                                                                            \
        CLSDE_TRY(get_enum((p), (sec), (sname), (key), (table), N_(table), &v_));          \
        (field) = v_;                                                                      \
    } while (0)

/* ---------------------------------------------------------------- GroupNorm walk */

/* Walks the module list of networks.md §2.3 (ncsnpp) / §3 (ddpm) and checks every
 * GroupNorm: NCSN++ uses G = min(C/4, 32), DDPM G = 32; PyTorch needs C % G == 0, G >= 1.
 * m is the running all_modules index, so a failure names the module. */
typedef struct gnwalk {
    const cfgp *p;
    const clsde_model_config *c;
    int m;
} gnwalk;

static clsde_status gn(gnwalk *w, int32_t ch, const char *sub)
{
    const int ddpm = w->c->arch == CLSDE_ARCH_DDPM;
    const int32_t g = ddpm ? 32 : (ch / 4 < 32 ? ch / 4 : 32);
    char name[64];
    if (g >= 1 && ch % g == 0) return CLSDE_OK;
    snprintf(name, sizeof name, sub ? "all_modules.%d.%s" : "all_modules.%d", w->m,
             sub ? sub : "");
    if (ddpm)
        return clsde_error_set(w->p->ctx, CLSDE_ERR_FORMAT,
                               "%s: config: %s would normalise %d channels in 32 groups "
                               "(models/ddpm.py); every width, including the up path's "
                               "concatenations, must be a multiple of 32 (model.nf %d)",
                               w->p->label, name, (int)ch, (int)w->c->nf);
    return clsde_error_set(w->p->ctx, CLSDE_ERR_FORMAT,
                           "%s: config: %s would normalise %d channels in min(C/4, 32) = %d "
                           "groups, which do not divide them (networks.md §0); every width, "
                           "including the up path's concatenations, must be a multiple of 4, "
                           "and of 32 from 128 up (model.nf %d)",
                           w->p->label, name, (int)ch, (int)g, (int)w->c->nf);
}

static clsde_status resblock(gnwalk *w, int32_t cin, int32_t cout)
{
    CLSDE_TRY(gn(w, cin, "GroupNorm_0"));
    CLSDE_TRY(gn(w, cout, "GroupNorm_1"));
    w->m++;
    return CLSDE_OK;
}

static clsde_status attn_block(gnwalk *w, int32_t ch)
{
    CLSDE_TRY(gn(w, ch, "GroupNorm_0"));
    w->m++;
    return CLSDE_OK;
}

static clsde_status gn_module(gnwalk *w, int32_t ch)
{
    CLSDE_TRY(gn(w, ch, NULL));
    w->m++;
    return CLSDE_OK;
}

static int has_attn(const clsde_model_config *c, int32_t side)
{
    for (int32_t i = 0; i < c->n_attn; i++)
        if (c->attn_resolutions[i] == side) return 1;
    return 0;
}

static clsde_status check_group_norms(const cfgp *p, clsde_model_config *c)
{
    gnwalk w = {p, c, 0};
    int32_t hs[1 + CLSDE_MAX_LEVELS * (MAX_NRB + 1)], n_hs = 0, in;
    const int ddpm_arch = c->arch == CLSDE_ARCH_DDPM;
    const int biggan = !ddpm_arch && c->resblock_type == CLSDE_RESBLOCK_BIGGAN;
    const int L = c->n_levels;

    if (!ddpm_arch && c->embedding_type == CLSDE_EMBED_FOURIER) w.m++;
    if (ddpm_arch || c->conditional) w.m += 2;
    w.m++; /* conv_in */
    in = c->nf;
    hs[n_hs++] = in;
    for (int i = 0; i < L; i++) {
        const int32_t ch = c->nf * c->ch_mult[i];
        for (int j = 0; j < c->num_res_blocks; j++) {
            CLSDE_TRY(resblock(&w, in, ch));
            in = ch;
            if (has_attn(c, c->image_size >> i)) CLSDE_TRY(attn_block(&w, in));
            hs[n_hs++] = in;
        }
        if (i < L - 1) {
            if (biggan) CLSDE_TRY(resblock(&w, in, in));
            else w.m++; /* Downsample */
            if (c->progressive_input != CLSDE_PROG_NONE) w.m++; /* Combine / pyramid conv */
            if (c->progressive_input == CLSDE_PROG_INPUT_SKIP &&
                c->progressive_combine == CLSDE_COMBINE_CAT)
                in *= 2;
            hs[n_hs++] = in;
        }
    }
    in = hs[n_hs - 1];
    CLSDE_TRY(resblock(&w, in, in));
    CLSDE_TRY(attn_block(&w, in));
    CLSDE_TRY(resblock(&w, in, in));
    for (int i = L - 1; i >= 0; i--) {
        const int32_t ch = c->nf * c->ch_mult[i];
        for (int j = 0; j < c->num_res_blocks + 1; j++) {
            CLSDE_TRY(resblock(&w, in + hs[--n_hs], ch));
            in = ch;
        }
        if (has_attn(c, c->image_size >> i)) CLSDE_TRY(attn_block(&w, in));
        if (c->progressive == CLSDE_PROG_OUTPUT_SKIP) {
            CLSDE_TRY(gn_module(&w, in));
            w.m++; /* conv3x3 -> C_img */
        }
        if (i > 0) {
            if (biggan) CLSDE_TRY(resblock(&w, in, in));
            else w.m++; /* Upsample */
        }
    }
    if (c->progressive != CLSDE_PROG_OUTPUT_SKIP) {
        CLSDE_TRY(gn_module(&w, in));
        w.m++; /* conv3x3 -> C_img */
    }
    c->n_modules = w.m;
    return CLSDE_OK;
}

/* ---------------------------------------------------------------- sections */

static clsde_status parse_model(const cfgp *p, const cJSON *m, clsde_model_config *c)
{
    const cJSON *name;
    int32_t nk = 0;
    CLSDE_TRY(need(p, m, "model", "name", &name));
    CLSDE_FAIL_IF(!cJSON_IsString(name) || !name->valuestring, p->ctx, CLSDE_ERR_FORMAT,
                  "%s: config: model.name must be a string, got %s", p->label,
                  json_kind(name));
    if (!strcmp(name->valuestring, "ncsnpp")) {
        c->arch = CLSDE_ARCH_NCSNPP;
    } else if (!strcmp(name->valuestring, "ddpm")) {
        c->arch = CLSDE_ARCH_DDPM;
    } else {
        CLSDE_FAIL_IF(!strncmp(name->valuestring, "ncsn", 4), p->ctx, CLSDE_ERR_UNSUPPORTED,
                      "%s: config: model.name '%.64s' is not supported: clsde runs ncsnpp "
                      "(NCSN++ / DDPM++) and ddpm; NCSN and NCSNv2 cannot run in "
                      "score_sde_pytorch either (networks.md §4)",
                      p->label, name->valuestring);
        return clsde_error_set(p->ctx, CLSDE_ERR_FORMAT,
                               "%s: config: unknown model.name '%.64s' (clsde runs ncsnpp, ddpm)",
                               p->label, name->valuestring);
    }
    snprintf(c->name, sizeof c->name, "%s", name->valuestring);

    CLSDE_TRY(get_int(p, m, "model", "nf", 1, 65536, &c->nf));
    CLSDE_TRY(get_int_array(p, m, "model", "ch_mult", 1, CLSDE_MAX_LEVELS, 1, 65536,
                            c->ch_mult, &c->n_levels));
    CLSDE_TRY(get_int(p, m, "model", "num_res_blocks", 1, MAX_NRB, &c->num_res_blocks));
    CLSDE_TRY(get_int_array(p, m, "model", "attn_resolutions", 0, CLSDE_MAX_ATTN, 1,
                            1 << 20, c->attn_resolutions, &c->n_attn));
    CLSDE_TRY(get_bool(p, m, "model", "resamp_with_conv", &c->resamp_with_conv));
    CLSDE_TRY(get_bool(p, m, "model", "conditional", &c->conditional));
    CLSDE_TRY(get_bool(p, m, "model", "scale_by_sigma", &c->scale_by_sigma));
    GET_ENUM(p, m, "model", "nonlinearity", act_names, c->nonlinearity);
    CLSDE_TRY(get_num(p, m, "model", "dropout", 0.0, 1.0, &c->dropout));
    CLSDE_TRY(get_num(p, m, "model", "sigma_min", -1e30, 1e30, &c->sigma_min));
    CLSDE_TRY(get_num(p, m, "model", "sigma_max", -1e30, 1e30, &c->sigma_max));
    CLSDE_TRY(get_int(p, m, "model", "num_scales", 2, 100000000, &c->num_scales));
    CLSDE_TRY(get_num(p, m, "model", "beta_min", -1e30, 1e30, &c->beta_min));
    CLSDE_TRY(get_num(p, m, "model", "beta_max", -1e30, 1e30, &c->beta_max));

    if (c->arch == CLSDE_ARCH_DDPM) {
        /* models/ddpm.py reads none of the NCSN++ keys (its configs still carry
         * embedding_type 'fourier'): positional embedding, ResnetBlockDDPM, separate
         * Down/Upsample modules, plain sums, no pyramids. */
        c->resblock_type = CLSDE_RESBLOCK_DDPM;
        c->fir = 0;
        c->skip_rescale = 0;
        c->progressive = CLSDE_PROG_NONE;
        c->progressive_input = CLSDE_PROG_NONE;
        c->progressive_combine = CLSDE_COMBINE_SUM;
        c->embedding_type = CLSDE_EMBED_POSITIONAL;
        return CLSDE_OK;
    }
    CLSDE_TRY(get_bool(p, m, "model", "fir", &c->fir));
    CLSDE_TRY(get_bool(p, m, "model", "skip_rescale", &c->skip_rescale));
    GET_ENUM(p, m, "model", "resblock_type", resblock_names, c->resblock_type);
    GET_ENUM(p, m, "model", "progressive", prog_names, c->progressive);
    GET_ENUM(p, m, "model", "progressive_input", prog_in_names, c->progressive_input);
    GET_ENUM(p, m, "model", "progressive_combine", combine_names, c->progressive_combine);
    GET_ENUM(p, m, "model", "embedding_type", embed_names, c->embedding_type);
    if (c->embedding_type == CLSDE_EMBED_FOURIER)
        CLSDE_TRY(get_num(p, m, "model", "fourier_scale", 0.0, 1e30, &c->fourier_scale));
    if (c->fir) {
        int32_t k[4];
        CLSDE_TRY(get_int_array(p, m, "model", "fir_kernel", 1, 4, 0, 1 << 20, k, &nk));
        CLSDE_FAIL_IF(nk != 4 || k[0] != 1 || k[1] != 3 || k[2] != 3 || k[3] != 1, p->ctx,
                      CLSDE_ERR_UNSUPPORTED,
                      "%s: config: model.fir_kernel must be [1,3,3,1], the kernel of every "
                      "official config and the only one clsde's FIR code implements",
                      p->label);
        memcpy(c->fir_kernel, k, sizeof k);
    }
    return CLSDE_OK;
}

static clsde_status parse_sampling(const cfgp *p, const cJSON *s, clsde_model_config *c)
{
    GET_ENUM(p, s, "sampling", "method", method_names, c->method);
    GET_ENUM(p, s, "sampling", "predictor", predictor_names, c->predictor);
    GET_ENUM(p, s, "sampling", "corrector", corrector_names, c->corrector);
    CLSDE_TRY(get_num(p, s, "sampling", "snr", 0.0, 1e6, &c->snr));
    CLSDE_TRY(get_int(p, s, "sampling", "n_steps_each", 1, 100000, &c->n_steps_each));
    CLSDE_TRY(get_bool(p, s, "sampling", "noise_removal", &c->noise_removal));
    CLSDE_TRY(get_bool(p, s, "sampling", "probability_flow", &c->probability_flow));
    return CLSDE_OK;
}

/* Value ranges that depend on several fields, and what clsde does not run. */
static clsde_status check_config(const cfgp *p, clsde_model_config *c)
{
    const int32_t L = c->n_levels;
    clsde_context *ctx = p->ctx;

    if (c->sde == CLSDE_SDE_VE) {
        CLSDE_FAIL_IF(!(c->sigma_min > 0.0 && c->sigma_max > c->sigma_min), ctx,
                      CLSDE_ERR_FORMAT,
                      "%s: config: vesde needs 0 < model.sigma_min < model.sigma_max, got "
                      "sigma_min %g, sigma_max %g",
                      p->label, c->sigma_min, c->sigma_max);
    } else {
        CLSDE_FAIL_IF(!(c->beta_min >= 0.0 && c->beta_max > 0.0 && c->beta_max >= c->beta_min),
                      ctx, CLSDE_ERR_FORMAT,
                      "%s: config: %s needs 0 <= model.beta_min <= model.beta_max, beta_max > "
                      "0, got beta_min %g, beta_max %g",
                      p->label, clsde_sde_name(c->sde), c->beta_min, c->beta_max);
        /* algorithms.md §1.2: beta_k runs up to beta_max / N and alpha_k = 1 - beta_k */
        CLSDE_FAIL_IF(c->beta_max / c->num_scales >= 1.0, ctx, CLSDE_ERR_FORMAT,
                      "%s: config: model.beta_max %g with model.num_scales %d gives a discrete "
                      "beta of %g >= 1 (alpha_k = 1 - beta_k must stay positive)",
                      p->label, c->beta_max, (int)c->num_scales, c->beta_max / c->num_scales);
    }
    if (c->scale_by_sigma && c->arch == CLSDE_ARCH_NCSNPP &&
        c->embedding_type == CLSDE_EMBED_POSITIONAL)
        CLSDE_FAIL_IF(!(c->sigma_min > 0.0 && c->sigma_max > c->sigma_min), ctx,
                      CLSDE_ERR_FORMAT,
                      "%s: config: model.scale_by_sigma with a positional embedding divides by "
                      "the sigmas table, which needs 0 < sigma_min < sigma_max",
                      p->label);

    for (int32_t i = 0; i < L; i++)
        CLSDE_FAIL_IF((int64_t)c->nf * c->ch_mult[i] > MAX_WIDTH, ctx, CLSDE_ERR_FORMAT,
                      "%s: config: model.nf %d x model.ch_mult[%d] %d exceeds %d channels",
                      p->label, (int)c->nf, (int)i, (int)c->ch_mult[i], MAX_WIDTH);
    CLSDE_FAIL_IF(L - 1 >= 31 || c->image_size % (1 << (L - 1)) != 0, ctx, CLSDE_ERR_FORMAT,
                  "%s: config: data.image_size %d is not divisible by 2^%d = %lld: the network "
                  "halves the image side len(model.ch_mult) - 1 = %d times",
                  p->label, (int)c->image_size, (int)(L - 1),
                  L - 1 < 62 ? (long long)1 << (L - 1) : 0LL, (int)(L - 1));

    if (c->arch == CLSDE_ARCH_DDPM) {
        CLSDE_FAIL_IF(!c->conditional, ctx, CLSDE_ERR_UNSUPPORTED,
                      "%s: config: model.conditional false is not supported for ddpm: "
                      "models/ddpm.py cannot build it (networks.md §3)",
                      p->label);
    } else {
        CLSDE_FAIL_IF(c->embedding_type == CLSDE_EMBED_FOURIER && !c->continuous, ctx,
                      CLSDE_ERR_FORMAT,
                      "%s: config: model.embedding_type 'fourier' needs training.continuous "
                      "true (ncsnpp.py asserts it: Fourier features take sigma, discrete "
                      "models get an index)",
                      p->label);
        CLSDE_FAIL_IF(c->progressive == CLSDE_PROG_RESIDUAL, ctx, CLSDE_ERR_UNSUPPORTED,
                      "%s: config: model.progressive 'residual' is not supported: the official "
                      "code cannot run it (its pyramid upsampler fails with %s), so there is "
                      "no reference to match (networks.md §2.8)",
                      p->label,
                      c->fir ? "fir true: the fused FIR up-conv slices with a negative step"
                             : "fir false: F.interpolate gets 'nearest' as scale_factor");
        CLSDE_FAIL_IF(c->progressive == CLSDE_PROG_OUTPUT_SKIP && !c->fir, ctx,
                      CLSDE_ERR_UNSUPPORTED,
                      "%s: config: model.progressive 'output_skip' with model.fir false is not "
                      "supported: the official layerspp.Upsample without FIR cannot run "
                      "(networks.md §2.8), so there is no reference to match",
                      p->label);
        CLSDE_FAIL_IF(c->resblock_type == CLSDE_RESBLOCK_DDPM && (!c->fir || c->resamp_with_conv),
                      ctx, CLSDE_ERR_UNSUPPORTED,
                      "%s: config: model.resblock_type 'ddpm' runs in the official code only "
                      "with model.fir true and model.resamp_with_conv false (got fir %s, "
                      "resamp_with_conv %s; networks.md §2.8); clsde supports that form only",
                      p->label, c->fir ? "true" : "false",
                      c->resamp_with_conv ? "true" : "false");
    }
    CLSDE_FAIL_IF(c->nonlinearity != CLSDE_ACT_SWISH, ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: config: model.nonlinearity '%s' is not supported: clsde implements "
                  "swish (SiLU), the activation of every NCSN++/DDPM++/DDPM config",
                  p->label,
                  c->nonlinearity == CLSDE_ACT_ELU    ? "elu"
                  : c->nonlinearity == CLSDE_ACT_RELU ? "relu"
                                                      : "lrelu");
    return check_group_norms(p, c);
}

clsde_status clsde_model_config_parse(clsde_context *ctx, const char *label, const char *json,
                                      size_t len, clsde_model_config *cfg)
{
    clsde_status st = CLSDE_OK;
    const cfgp p = {ctx, label ? label : "model"};
    const cJSON *sec;
    const char *end = NULL;
    cJSON *root;
    clsde_model_config c;

    memset(cfg, 0, sizeof *cfg);
    memset(&c, 0, sizeof c);
    CLSDE_FAIL_IF(!json, ctx, CLSDE_ERR_FORMAT, "%s: no config", p.label);
    root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    CLSDE_FAIL_IF(!root, ctx, CLSDE_ERR_FORMAT,
                  "%s: config is not valid JSON (error near offset %zu of %zu)", p.label,
                  end && end >= json && end <= json + len ? (size_t)(end - json) : (size_t)0,
                  len);
    for (const char *q = end; q && q < json + len && *q; q++)
        CLSDE_GOTO_IF(*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r', ctx,
                      CLSDE_ERR_FORMAT, "%s: config has text after its JSON object (offset %zu)",
                      p.label, (size_t)(q - json));
    CLSDE_GOTO_IF(!cJSON_IsObject(root), ctx, CLSDE_ERR_FORMAT,
                  "%s: config is not a JSON object", p.label);

    CLSDE_TRY_GOTO(get_section(&p, root, "data", &sec));
    CLSDE_TRY_GOTO(get_int(&p, sec, "data", "image_size", 1, 65536, &c.image_size));
    CLSDE_TRY_GOTO(get_int(&p, sec, "data", "num_channels", 1, 4096, &c.num_channels));
    CLSDE_TRY_GOTO(get_bool(&p, sec, "data", "centered", &c.centered));

    CLSDE_TRY_GOTO(get_section(&p, root, "training", &sec));
    {
        int v = 0;
        CLSDE_TRY_GOTO(get_enum(&p, sec, "training", "sde", sde_names, N_(sde_names), &v));
        c.sde = (clsde_sde_type)v;
    }
    CLSDE_TRY_GOTO(get_bool(&p, sec, "training", "continuous", &c.continuous));
    c.sampling_eps = c.sde == CLSDE_SDE_VE ? 1e-5 : 1e-3;

    CLSDE_TRY_GOTO(get_section(&p, root, "model", &sec));
    CLSDE_TRY_GOTO(parse_model(&p, sec, &c));
    CLSDE_TRY_GOTO(get_section(&p, root, "sampling", &sec));
    CLSDE_TRY_GOTO(parse_sampling(&p, sec, &c));
    CLSDE_TRY_GOTO(check_config(&p, &c));
    *cfg = c;
fail:
    cJSON_Delete(root);
    return st;
}
