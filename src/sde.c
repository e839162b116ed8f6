/*
 * sde.c — SDE definitions and sampler coefficients (algorithms.md §1–§5, §7.2).
 * Continuous quantities are evaluated in double and rounded once; the discrete schedules,
 * the grid, the index map and the coefficients built from them repeat the reference's
 * float32 operations one by one (torch.linspace, CPU cumprod with a double accumulator,
 * sigma ** 2 as sigma * sigma), so the same t gives the same k and the same G as
 * score_sde_pytorch.
 *
 * Predictor / corrector -> (A, B, S) of pc_update (x_mean = A x + B s, x_new = x_mean + S z),
 * lambda = 1 (reverse SDE) or 1/2 (probability flow, then S = 0); k = k(t) (§1.3):
 *   reverse diffusion (§3.1, §1.4, §1.5), x_mean = x - F_rev, F_rev = f_k - lambda G_k^2 s:
 *     VE     A = 1,               B = lambda G^2, S = G,  G = sqrt(sigma_k^2 - sigma_{k-1}^2)
 *     VP     A = 2 - sqrt(alpha_k), B = lambda G^2, S = G,  G = sqrt(beta_k)
 *     subVP  A = 1 + beta(t)/(2N),  B = lambda G^2, S = G,  G = g(t) sqrt(1/N)  (EM discretize)
 *   Euler–Maruyama (§3.1), Delta = 1/N: A = 1 - f_c(t)/N, B = lambda g(t)^2 / N,
 *     S = g(t) sqrt(1/N), f_c = 0 (VE) or -beta(t)/2
 *   ancestral sampling (§3.1):
 *     VE  A = 1, B = d = sigma_k^2 - sigma_{k-1}^2, S = sqrt(sigma_{k-1}^2 d / sigma_k^2)
 *     VP  A = 1/sqrt(1 - beta_k), B = beta_k / sqrt(1 - beta_k), S = sqrt(beta_k)
 *   Langevin (§3.2): A = 1, B = step, S = sqrt(2 step), step from the norms on the device
 *     (cl/sde_step.cl langevin_coef), alpha from clsde_sde_langevin_alpha
 *   ALD (§3.2): the same with step = 2 alpha (snr sigma(t))^2
 *   PF-ODE drift (§5.1): F = A x + B s with A = f_c(t), B = -g(t)^2 / 2, S = 0
 *   denoising (§4, §5.3): the reverse-diffusion x_mean at t = eps
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sde.h"

void clsde_sde_config_default(clsde_sde_config *cfg, clsde_sde_type type)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->type = type;
    cfg->continuous = 1;
    cfg->n = 1000;
    cfg->sigma_min = 0.01, cfg->sigma_max = 50;
    cfg->beta_min = 0.1, cfg->beta_max = 20;
    cfg->eps = type == CLSDE_SDE_VE ? 1e-5 : 1e-3;
}

/* torch.linspace(start, end, n)[i] for float32: step = (end - start) / (n - 1) in float,
 * then start + step*i for i < n/2 and end - step*(n - 1 - i) for the rest (ATen's scalar
 * CPU loop and its CUDA kernel). Compilers contract those to fused multiply-adds (x86
 * AVX2 builds of ATen, nvcc's default), and the reference's recorded schedules agree with
 * the fused form: the sampler_ve_small fixture's discrete_sigmas differ from the unfused
 * one at k = 3 and 6 and equal the fused one at every k. (ATen's vectorised CPU path for
 * n >= 16 groups the products differently and can differ by an ulp; the grids sampled on
 * a GPU follow this formula.) */
static float linspace_f(float start, float end, int32_t n, int32_t i)
{
    const float step = (end - start) / (float)(n - 1);
    if (i < n / 2) return fmaf(step, (float)i, start);
    return fmaf(-step, (float)(n - 1 - i), end);
}

void clsde_sde_destroy(clsde_sde *sde)
{
    if (!sde) return;
    free(sde->sigmas);
    free(sde->betas);
    free(sde->alphas);
    free(sde->alphas_cumprod);
    free(sde->sqrt_alphas_cumprod);
    free(sde->sqrt_1m_alphas_cumprod);
    memset(sde, 0, sizeof *sde);
}

static float *alloc_f(int32_t n)
{
    return malloc((size_t)n * sizeof(float));
}

clsde_status clsde_sde_init(clsde_sde *sde, const clsde_sde_config *cfg)
{
    const int32_t n = cfg->n;
    memset(sde, 0, sizeof *sde);
    CLSDE_FAIL_IF(cfg->type != CLSDE_SDE_VE && cfg->type != CLSDE_SDE_VP &&
                      cfg->type != CLSDE_SDE_SUBVP,
                  NULL, CLSDE_ERR_ARG, "sde: unknown type %d", (int)cfg->type);
    CLSDE_FAIL_IF(n < 2 || n > (1 << 24), NULL, CLSDE_ERR_ARG,
                  "sde: N = %d, must be in [2, 2^24]", (int)n);
    CLSDE_FAIL_IF(!(cfg->eps > 0 && cfg->eps < 1), NULL, CLSDE_ERR_ARG,
                  "sde: sampling eps %g must be in (0, 1)", cfg->eps);
    sde->cfg = *cfg;
    if (cfg->type == CLSDE_SDE_VE) {
        const float lo = (float)log(cfg->sigma_min), hi = (float)log(cfg->sigma_max);
        CLSDE_FAIL_IF(!(cfg->sigma_min > 0 && cfg->sigma_max > cfg->sigma_min), NULL,
                      CLSDE_ERR_ARG, "sde: VE needs 0 < sigma_min < sigma_max (got %g, %g)",
                      cfg->sigma_min, cfg->sigma_max);
        sde->sigmas = alloc_f(n);
        if (!sde->sigmas) goto nomem;
        for (int32_t k = 0; k < n; k++) sde->sigmas[k] = (float)exp(linspace_f(lo, hi, n, k));
    } else {
        double acc = 1.0;
        /* beta_max >= N makes the discrete schedule meaningless (alpha_k <= 0) but the
         * continuous SDE is fine: coefficients that use the schedule check their values */
        CLSDE_FAIL_IF(!(cfg->beta_min >= 0 && cfg->beta_max >= cfg->beta_min), NULL,
                      CLSDE_ERR_ARG, "sde: VP/subVP needs 0 <= beta_min <= beta_max (got %g, %g)",
                      cfg->beta_min, cfg->beta_max);
        sde->betas = alloc_f(n), sde->alphas = alloc_f(n), sde->alphas_cumprod = alloc_f(n);
        sde->sqrt_alphas_cumprod = alloc_f(n), sde->sqrt_1m_alphas_cumprod = alloc_f(n);
        if (!sde->betas || !sde->alphas || !sde->alphas_cumprod || !sde->sqrt_alphas_cumprod ||
            !sde->sqrt_1m_alphas_cumprod)
            goto nomem;
        for (int32_t k = 0; k < n; k++) {
            const float beta = linspace_f((float)(cfg->beta_min / n), (float)(cfg->beta_max / n),
                                          n, k);
            sde->betas[k] = beta;
            sde->alphas[k] = 1.0f - beta;
            acc *= sde->alphas[k]; /* torch.cumprod on CPU: double accumulator */
            sde->alphas_cumprod[k] = (float)acc;
            sde->sqrt_alphas_cumprod[k] = sqrtf(sde->alphas_cumprod[k]);
            sde->sqrt_1m_alphas_cumprod[k] = sqrtf(1.0f - sde->alphas_cumprod[k]);
        }
    }
    return CLSDE_OK;
nomem:
    clsde_sde_destroy(sde);
    return clsde_error_set(NULL, CLSDE_ERR_NOMEM, "sde: out of memory for N = %d schedules",
                           (int)n);
}

/* ---- continuous quantities ---- */

double clsde_sde_beta(const clsde_sde *sde, double t)
{
    return sde->cfg.beta_min + t * (sde->cfg.beta_max - sde->cfg.beta_min);
}

double clsde_sde_bint(const clsde_sde *sde, double t)
{
    return sde->cfg.beta_min * t + 0.5 * (sde->cfg.beta_max - sde->cfg.beta_min) * t * t;
}

double clsde_sde_mean_coeff(const clsde_sde *sde, double t)
{
    return sde->cfg.type == CLSDE_SDE_VE ? 1.0 : exp(-0.5 * clsde_sde_bint(sde, t));
}

double clsde_sde_std(const clsde_sde *sde, double t)
{
    switch (sde->cfg.type) {
    case CLSDE_SDE_VE: return sde->cfg.sigma_min * pow(sde->cfg.sigma_max / sde->cfg.sigma_min, t);
    case CLSDE_SDE_VP: return sqrt(-expm1(-clsde_sde_bint(sde, t)));
    default: return -expm1(-clsde_sde_bint(sde, t)); /* subVP: this is the std itself */
    }
}

double clsde_sde_g(const clsde_sde *sde, double t)
{
    switch (sde->cfg.type) {
    case CLSDE_SDE_VE:
        return clsde_sde_std(sde, t) * sqrt(2.0 * log(sde->cfg.sigma_max / sde->cfg.sigma_min));
    case CLSDE_SDE_VP: return sqrt(clsde_sde_beta(sde, t));
    default: return sqrt(clsde_sde_beta(sde, t) * -expm1(-2.0 * clsde_sde_bint(sde, t)));
    }
}

double clsde_sde_g2(const clsde_sde *sde, double t)
{
    switch (sde->cfg.type) {
    case CLSDE_SDE_VE: {
        const double s = clsde_sde_std(sde, t);
        return s * s * 2.0 * log(sde->cfg.sigma_max / sde->cfg.sigma_min);
    }
    case CLSDE_SDE_VP: return clsde_sde_beta(sde, t);
    default: return clsde_sde_beta(sde, t) * -expm1(-2.0 * clsde_sde_bint(sde, t));
    }
}

double clsde_sde_drift_coeff(const clsde_sde *sde, double t)
{
    return sde->cfg.type == CLSDE_SDE_VE ? 0.0 : -0.5 * clsde_sde_beta(sde, t);
}

double clsde_sde_prior_std(const clsde_sde *sde)
{
    return sde->cfg.type == CLSDE_SDE_VE ? sde->cfg.sigma_max : 1.0;
}

/* ---- grid and index maps ---- */

void clsde_sde_time_grid(const clsde_sde *sde, float *t)
{
    const float eps = (float)sde->cfg.eps;
    for (int32_t i = 0; i < sde->cfg.n; i++) t[i] = linspace_f(1.0f, eps, sde->cfg.n, i);
}

int32_t clsde_sde_time_index(const clsde_sde *sde, float t)
{
    /* (t * (N - 1) / T).long() with T = 1: one float product, truncation */
    const float v = t * (float)(sde->cfg.n - 1);
    if (!(v > 0)) return 0;
    if (v >= (float)(sde->cfg.n - 1)) return sde->cfg.n - 1;
    return (int32_t)v;
}

int32_t clsde_sde_ve_label(const clsde_sde *sde, float t)
{
    const float v = nearbyintf((1.0f - t) * (float)(sde->cfg.n - 1)); /* round half even */
    if (!(v > 0)) return 0;
    if (v >= (float)(sde->cfg.n - 1)) return sde->cfg.n - 1;
    return (int32_t)v;
}

/* ---- coefficients ---- */

/* sigma_k and sigma_{k-1} (0 at k = 0) as discretize/AncestralSampling index them. */
static void ve_sigmas(const clsde_sde *sde, float t, float *sig, float *adj)
{
    const int32_t k = clsde_sde_time_index(sde, t);
    *sig = sde->sigmas[k];
    *adj = k == 0 ? 0.0f : sde->sigmas[k - 1];
}

static clsde_status predictor_coef(const clsde_sde *sde, clsde_predictor predictor,
                                   int probability_flow, float t, clsde_coef *out)
{
    const clsde_sde_type type = sde->cfg.type;
    const float lambda = probability_flow ? 0.5f : 1.0f;
    const double n = sde->cfg.n;
    switch (predictor) {
    case CLSDE_PREDICTOR_NONE:
        out->a = 1.0f, out->b = 0.0f, out->s = 0.0f;
        return CLSDE_OK;
    case CLSDE_PREDICTOR_EULER_MARUYAMA: {
        const double g = clsde_sde_g(sde, t);
        out->a = (float)(1.0 - clsde_sde_drift_coeff(sde, t) / n);
        out->b = (float)(lambda * g * g / n);
        out->s = probability_flow ? 0.0f : (float)(g * sqrt(1.0 / n));
        return CLSDE_OK;
    }
    case CLSDE_PREDICTOR_REVERSE_DIFFUSION:
        if (type == CLSDE_SDE_VE) {
            float sig, adj, G;
            ve_sigmas(sde, t, &sig, &adj);
            G = sqrtf(sig * sig - adj * adj);
            out->a = 1.0f;
            out->b = G * G * lambda;
            out->s = probability_flow ? 0.0f : G;
        } else if (type == CLSDE_SDE_VP) {
            const int32_t k = clsde_sde_time_index(sde, t);
            const float G = sqrtf(sde->betas[k]);
            out->a = 2.0f - sqrtf(sde->alphas[k]);
            out->b = G * G * lambda;
            out->s = probability_flow ? 0.0f : G;
        } else { /* subVP: the SDE base class's Euler–Maruyama discretize, Delta = 1/N */
            const float G = (float)(clsde_sde_g(sde, t) * sqrt(1.0 / n));
            out->a = (float)(1.0 - clsde_sde_drift_coeff(sde, t) / n);
            out->b = G * G * lambda;
            out->s = probability_flow ? 0.0f : G;
        }
        return CLSDE_OK;
    case CLSDE_PREDICTOR_ANCESTRAL:
        CLSDE_FAIL_IF(probability_flow, NULL, CLSDE_ERR_UNSUPPORTED,
                      "ancestral sampling has no probability-flow form (reference: not allowed)");
        if (type == CLSDE_SDE_VE) {
            float sig, adj, d;
            ve_sigmas(sde, t, &sig, &adj);
            d = sig * sig - adj * adj;
            out->a = 1.0f;
            out->b = d;
            out->s = sqrtf(adj * adj * d / (sig * sig));
        } else if (type == CLSDE_SDE_VP) {
            const float beta = sde->betas[clsde_sde_time_index(sde, t)];
            const float c = sqrtf(1.0f - beta);
            out->a = 1.0f / c;
            out->b = beta / c;
            out->s = sqrtf(beta);
        } else {
            return clsde_error_set(NULL, CLSDE_ERR_UNSUPPORTED,
                                   "ancestral sampling is not defined for subVP "
                                   "(the reference raises NotImplementedError)");
        }
        return CLSDE_OK;
    }
    return clsde_error_set(NULL, CLSDE_ERR_ARG, "unknown predictor %d", (int)predictor);
}

clsde_status clsde_sde_predictor_coef(const clsde_sde *sde, clsde_predictor predictor,
                                      int probability_flow, float t, clsde_coef *out)
{
    CLSDE_TRY(predictor_coef(sde, predictor, probability_flow, t, out));
    CLSDE_FAIL_IF(!isfinite(out->a) || !isfinite(out->b) || !isfinite(out->s), NULL,
                  CLSDE_ERR_NUMERIC,
                  "predictor %d at t = %g (k = %d): coefficients (%g, %g, %g) are not finite%s",
                  (int)predictor, (double)t, (int)clsde_sde_time_index(sde, t), (double)out->a,
                  (double)out->b, (double)out->s,
                  sde->cfg.type != CLSDE_SDE_VE && sde->cfg.beta_max >= sde->cfg.n
                      ? " (beta_max >= N: the discrete beta schedule has alpha_k <= 0)"
                      : "");
    return CLSDE_OK;
}

float clsde_sde_langevin_alpha(const clsde_sde *sde, float t)
{
    if (sde->cfg.type == CLSDE_SDE_VE) return 1.0f;
    return sde->alphas[clsde_sde_time_index(sde, t)];
}

void clsde_sde_ald_coef(const clsde_sde *sde, float t, float snr, clsde_coef *out)
{
    const float std = (float)clsde_sde_std(sde, t);
    const float r = snr * std;
    const float step = r * r * 2.0f * clsde_sde_langevin_alpha(sde, t);
    out->a = 1.0f;
    out->b = step;
    out->s = sqrtf(step * 2.0f);
}

void clsde_sde_pf_drift_coef(const clsde_sde *sde, float t, clsde_coef *out)
{
    const double g = clsde_sde_g(sde, t);
    out->a = (float)clsde_sde_drift_coeff(sde, t);
    out->b = (float)(-0.5 * g * g);
    out->s = 0.0f;
}

void clsde_color_matrices(float M[9], float Minv[9])
{
    /* controllable_generation.py's literal float32 matrix (§7.2) */
    static const float m[9] = {5.7735014e-01f, -8.1649649e-01f, 4.7008697e-08f,
                               5.7735026e-01f, 4.0824834e-01f,  7.0710671e-01f,
                               5.7735026e-01f, 4.0824822e-01f,  -7.0710683e-01f};
    double c[9], det;
    memcpy(M, m, sizeof m);
    /* cofactors -> adjugate / det, in double */
    c[0] = (double)m[4] * m[8] - (double)m[5] * m[7];
    c[1] = (double)m[2] * m[7] - (double)m[1] * m[8];
    c[2] = (double)m[1] * m[5] - (double)m[2] * m[4];
    c[3] = (double)m[5] * m[6] - (double)m[3] * m[8];
    c[4] = (double)m[0] * m[8] - (double)m[2] * m[6];
    c[5] = (double)m[2] * m[3] - (double)m[0] * m[5];
    c[6] = (double)m[3] * m[7] - (double)m[4] * m[6];
    c[7] = (double)m[1] * m[6] - (double)m[0] * m[7];
    c[8] = (double)m[0] * m[4] - (double)m[1] * m[3];
    det = m[0] * c[0] + m[1] * c[3] + m[2] * c[6];
    for (int i = 0; i < 9; i++) Minv[i] = (float)(c[i] / det);
}
