/*
 * bench_sample.c — `clsde bench sample [--model M] [--batch 1,16] [--steps 1000]
 * [--measure K] [--samplers pc,ode] [--json] [--device SEL]`: seconds per image of whole sampling runs through
 * the public API — the PC sampler with N steps of one Langevin corrector step and a
 * reverse-diffusion predictor (2N network evaluations per image) and the probability-flow
 * ODE sampler (RK45, rtol = atol = 1e-5) — for each batch size, with the NFE. One batch per
 * row: the time includes building the network for that batch (weights upload).
 *
 * --measure K, for models whose full runs take hours here: every PC step costs the same,
 * so the run is stopped (through the progress callback) after K + 1 of its N steps and the
 * row is projected as t(step 1) + (N - 1) * (t(step K + 1) - t(step 1)) / K, set-up and
 * first step included; the ODE's step count is the solver's choice, so its row gives only
 * the measured seconds per evaluation per image, over K step attempts (6 evaluations each)
 * after the first. Such rows say "projected" / "measured_attempts" in the JSON.
 * tools/bench_torch_sample.py prints the same rows for the PyTorch reference on the same
 * weights and threads, with the same --measure rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int parse_batches(const char *s, int *b, int *n)
{
    char *end;
    *n = 0;
    while (*s && *n < 8) {
        const long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 4096 || (*end && *end != ',')) return -1;
        b[(*n)++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return *n ? 0 : -1;
}

/* --measure: the times of progress reports 1 and K + 1, then cancel. */
typedef struct window {
    int32_t k, calls;
    double t1, tk;
} window;

static int measure(void *user, int32_t step, int32_t total, double elapsed)
{
    window *w = user;
    (void)step, (void)total;
    if (++w->calls == 1) w->t1 = elapsed;
    if (w->calls == w->k + 1) {
        w->tk = elapsed;
        return 1;
    }
    return 0;
}

int clsde_cmd_bench_sample(int argc, char **argv)
{
    clsde_context_params cp;
    clsde_context *ctx = NULL;
    clsde_model *model = NULL;
    clsde_model_info mi;
    clsde_device_info dev;
    clsde_status st = CLSDE_OK;
    const char *model_path = NULL;
    int batches[8] = {1, 16}, n_batches = 2, json = 0, rc = 1, run_pc = 1, run_ode = 1;
    long steps = 1000, k_measure = 0;
    float *x = NULL;

    clsde_context_params_default(&cp);
    cp.log = cli_logger;
    cp.log_level = CLSDE_LOG_WARNING;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model_path = argv[++i];
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            cp.device = argv[++i];
        } else if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
            char *end;
            steps = strtol(argv[++i], &end, 10);
            if (*end || steps < 2 || steps > 100000) {
                fprintf(stderr, "clsde bench sample: --steps '%s' must be in 2..100000\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--samplers") && i + 1 < argc) {
            const char *v = argv[++i];
            run_pc = !strcmp(v, "pc") || !strcmp(v, "pc,ode") || !strcmp(v, "ode,pc");
            run_ode = !strcmp(v, "ode") || !strcmp(v, "pc,ode") || !strcmp(v, "ode,pc");
            if (!run_pc && !run_ode) {
                fprintf(stderr, "clsde bench sample: --samplers '%s' must be pc, ode or pc,ode\n",
                        v);
                return 2;
            }
        } else if (!strcmp(argv[i], "--measure") && i + 1 < argc) {
            char *end;
            k_measure = strtol(argv[++i], &end, 10);
            if (*end || k_measure < 1 || k_measure > 100000) {
                fprintf(stderr, "clsde bench sample: --measure '%s' must be in 1..100000\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if (parse_batches(argv[++i], batches, &n_batches)) {
                fprintf(stderr, "clsde bench sample: --batch wants a list like 1,16 (1..4096)\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: clsde bench sample --model M [--batch 1,16] [--steps 1000] "
                            "[--measure K] [--samplers pc,ode] [--json] [--device SEL]\n");
            return 2;
        }
    }
    if (k_measure && k_measure + 1 >= steps) k_measure = 0; /* the full run is as cheap */
    if (!model_path) {
        fprintf(stderr, "clsde bench sample: which model? (--model M)\n");
        return 2;
    }
    st = clsde_context_create(&cp, &ctx);
    if (st != CLSDE_OK) return cli_fail(NULL, st);
    clsde_context_get_device(ctx, &dev);
    st = clsde_model_load(ctx, model_path, &model);
    if (st != CLSDE_OK) goto fail;
    clsde_model_get_info(model, &mi);
    {
        int maxb = 1;
        for (int i = 0; i < n_batches; i++) maxb = batches[i] > maxb ? batches[i] : maxb;
        x = malloc((size_t)maxb * mi.num_channels * mi.image_size * mi.image_size * sizeof *x);
        if (!x) {
            fprintf(stderr, "clsde bench sample: out of memory\n");
            goto done;
        }
    }
    if (!json)
        printf("device: %s / %s\nmodel: %s (%s, %dx%dx%d)\n%-4s %6s %6s %10s %10s %12s %12s\n",
               dev.platform, dev.name, model_path, mi.sde_name, (int)mi.num_channels,
               (int)mi.image_size, (int)mi.image_size, "", "batch", "steps", "NFE/image",
               "seconds", "s/image", "s/eval/img");
    {
        /* warm-up: compile (or load) every kernel the runs use */
        clsde_sample_params p;
        clsde_sample_params_default(&p);
        p.method = "pc", p.predictor = "euler_maruyama", p.corrector = "langevin";
        /* VP's discrete alpha_k needs N > beta_max */
        p.steps = mi.sde == CLSDE_SDE_VE ? 2 : (int32_t)mi.beta_max + 2, p.batch = 1;
        st = clsde_sample_run(ctx, model, &p, 0, 1, x, NULL);
        if (st != CLSDE_OK) goto fail;
        p.method = "ode", p.rtol = p.atol = 1e-1;
        st = clsde_sample_run(ctx, model, &p, 0, 1, x, NULL);
        if (st != CLSDE_OK) goto fail;
    }
    if (json) printf("[\n");
    for (int m = run_pc ? 0 : 1; m < (run_ode ? 2 : 1); m++)
        for (int i = 0; i < n_batches; i++) {
            clsde_sample_params p;
            clsde_sample_stats s;
            window w = {(int32_t)k_measure, 0, 0, 0};
            const int b = batches[i], last = m == (run_ode ? 1 : 0) && i == n_batches - 1;
            double seconds = -1, per_eval = -1; /* per_eval: seconds per evaluation per image */
            int steps_row = 0;
            double nfe = -1;
            clsde_sample_params_default(&p);
            p.batch = b;
            if (m == 0) {
                p.method = "pc", p.predictor = "reverse_diffusion", p.corrector = "langevin";
                p.n_steps_each = 1;
                p.steps = (int32_t)steps;
            } else {
                p.method = "ode";
            }
            if (k_measure) p.progress = measure, p.progress_user = &w;
            st = clsde_sample_run(ctx, model, &p, 0, b, x, &s);
            if (k_measure && st == CLSDE_ERR_CANCELLED && w.calls == w.k + 1) {
                st = CLSDE_OK;
                if (m == 0) { /* 2 evaluations per step */
                    seconds = w.t1 + (double)(steps - 1) * (w.tk - w.t1) / (double)w.k;
                    steps_row = (int)steps, nfe = 2.0 * steps;
                    per_eval = (w.tk - w.t1) / (2.0 * w.k * b);
                } else {
                    per_eval = (w.tk - w.t1) / (6.0 * w.k * b);
                }
            } else if (st == CLSDE_OK) { /* a full run (the ODE may finish within K) */
                seconds = s.seconds, nfe = s.nfe_mean;
                steps_row = m == 0 ? (int)steps : s.steps;
                per_eval = s.seconds / (s.nfe_mean * b);
                w.k = 0;
            }
            if (st != CLSDE_OK) goto fail;
            if (json) {
                printf("  {\"sampler\": \"%s\", \"batch\": %d, ", p.method, b);
                if (seconds >= 0)
                    printf("\"steps\": %d, \"nfe\": %.1f, \"seconds\": %.4f, "
                           "\"s_per_image\": %.5f, ", steps_row, nfe, seconds, seconds / b);
                else
                    printf("\"steps\": null, \"nfe\": null, \"seconds\": null, "
                           "\"s_per_image\": null, ");
                printf("\"s_per_eval_per_image\": %.6f, \"projected\": %s, "
                       "\"measured_attempts\": %d, \"device\": \"%s\", \"model\": \"%s\"}%s\n",
                       per_eval, w.k && m == 0 ? "true" : "false", w.k, dev.name, model_path,
                       last ? "" : ",");
            } else if (seconds >= 0) {
                printf("%-4s %6d %6d %10.1f %10.3f %12.5f %12.6f%s\n", p.method, b, steps_row,
                       nfe, seconds, seconds / b, per_eval,
                       w.k ? "  (projected from the measured steps)" : "");
            } else {
                printf("%-4s %6d %6s %10s %10s %12s %12.6f  (%d attempts measured)\n", p.method,
                       b, "-", "-", "-", "-", per_eval, w.k);
            }
            fflush(stdout);
        }
    if (json) printf("]\n");
    rc = 0;
    goto done;
fail:
    cli_fail(ctx, st);
done:
    free(x);
    clsde_model_destroy(model);
    clsde_context_destroy(ctx);
    return rc;
}
