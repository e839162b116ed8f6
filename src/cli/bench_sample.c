/*
 * bench_sample.c — `clsde bench sample [--model M] [--batch 1,16] [--steps 1000] [--json]
 * [--device SEL]`: seconds per image of whole sampling runs through the public API — the PC
 * sampler with N steps of one Langevin corrector step and a reverse-diffusion predictor
 * (2N network evaluations per image) and the probability-flow ODE sampler (RK45,
 * rtol = atol = 1e-5) — for each batch size, with the NFE. One batch per row: the time
 * includes building the network for that batch (weights upload), which is small next to
 * thousands of evaluations. tools/bench_torch_sample.py prints the same rows for the
 * PyTorch reference on the same weights and threads.
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

int clsde_cmd_bench_sample(int argc, char **argv)
{
    clsde_context_params cp;
    clsde_context *ctx = NULL;
    clsde_model *model = NULL;
    clsde_model_info mi;
    clsde_device_info dev;
    clsde_status st = CLSDE_OK;
    const char *model_path = NULL;
    int batches[8] = {1, 16}, n_batches = 2, json = 0, rc = 1;
    long steps = 1000;
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
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if (parse_batches(argv[++i], batches, &n_batches)) {
                fprintf(stderr, "clsde bench sample: --batch wants a list like 1,16 (1..4096)\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: clsde bench sample --model M [--batch 1,16] [--steps 1000] "
                            "[--json] [--device SEL]\n");
            return 2;
        }
    }
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
        printf("device: %s / %s\nmodel: %s (%s, %dx%dx%d)\n%-4s %6s %6s %10s %10s %12s\n",
               dev.platform, dev.name, model_path, mi.sde_name, (int)mi.num_channels,
               (int)mi.image_size, (int)mi.image_size, "", "batch", "steps", "NFE/image",
               "seconds", "s/image");
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
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < n_batches; i++) {
            clsde_sample_params p;
            clsde_sample_stats s;
            clsde_sample_params_default(&p);
            p.batch = batches[i];
            if (m == 0) {
                p.method = "pc", p.predictor = "reverse_diffusion", p.corrector = "langevin";
                p.n_steps_each = 1;
                p.steps = (int32_t)steps;
            } else {
                p.method = "ode";
            }
            st = clsde_sample_run(ctx, model, &p, 0, batches[i], x, &s);
            if (st != CLSDE_OK) goto fail;
            if (json)
                printf("  {\"sampler\": \"%s\", \"batch\": %d, \"steps\": %d, \"nfe\": %d, "
                       "\"nfe_mean\": %.1f, \"seconds\": %.4f, \"s_per_image\": %.5f, "
                       "\"device\": \"%s\", \"model\": \"%s\"}%s\n",
                       p.method, batches[i], m == 0 ? (int)steps : s.steps, s.nfe, s.nfe_mean,
                       s.seconds, s.seconds / batches[i], dev.name, model_path,
                       m == 1 && i == n_batches - 1 ? "" : ",");
            else
                printf("%-4s %6d %6d %10.1f %10.3f %12.5f\n", p.method, batches[i],
                       m == 0 ? (int)steps : s.steps, s.nfe_mean, s.seconds,
                       s.seconds / batches[i]);
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
