/*
 * tune.c (cli) — `clsde tune [--shapes PRESET | --model FILE] [--batch B] [--budget S]
 * [--device SEL] [--force] [--no-clblast] [--seed N] [--try PARAMS]`: measure conv2d tilings per shape
 * class on the selected device (src/tune_search.c) and store the winners in the device's
 * tune file, which every later context on that device and driver reads. Like `bench`, it
 * links the internal library (style.md §1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "tune_search.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clsde tune [--shapes PRESET | --model FILE] [--batch B] [--budget SECONDS]\n"
            "                  [--device SEL] [--force] [--no-clblast] [--seed N] [--try PARAMS]\n"
            "  --shapes   conv shapes of a network: cifar10-ncsnpp (default), cifar10-ddpmpp,\n"
            "             cifar10-ddpm\n"
            "  --model    the conv shapes of a clsde model file's network\n"
            "  --batch    batch size the network runs at (default 8)\n"
            "  --budget   search time in seconds for all classes (default 240)\n"
            "  --force    re-tune classes that already have a tuned row\n"
            "  --no-clblast  do not time the CLBlast path\n"
            "  --try      also run this parameter string in every class (repeatable), e.g.\n"
            "             'implicit tm=8 tn=32 vn=16 sm=16 sn=4 tk=64 wg_m=1 wg_n=1'\n"
            "Every candidate is checked against the C reference before it is timed; the\n"
            "winners go to the device's tune file in the cache directory. A second run keeps\n"
            "the classes it already has unless --force.\n");
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    const long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int clsde_cmd_tune(int argc, char **argv)
{
    clsde_context_params params;
    clsde_context *ctx = NULL;
    clsde_tune_settings set;
    clsde_conv_shapes shapes = {NULL, 0, 0};
    clsde_tune_result *res = NULL;
    clsde_tune_info info;
    const char *preset = NULL, *model_path = NULL;
    const char *clblast_version = "";
    int32_t n_res = 0;
    long batch = 8, v;
    clsde_status st;
    int rc = 1;
    double t_def = 0, t_best = 0, t_clb = 0, flops = 0;
    int all_clb = 1, skipped = 0;
    clsde_conv2d_choice tries[16];
    int32_t n_try = 0;

    memset(&set, 0, sizeof set);
    set.budget_s = 240;
    set.clblast = 1;
    set.seed = 1;
    set.progress = stdout;
    clsde_context_params_default(&params);
    params.log = cli_logger;
    params.log_level = CLSDE_LOG_INFO;
    for (int i = 1; i < argc; i++) {
        const int has = i + 1 < argc;
        if (!strcmp(argv[i], "--shapes") && has) {
            preset = argv[++i];
        } else if (!strcmp(argv[i], "--model") && has) {
            model_path = argv[++i];
        } else if (!strcmp(argv[i], "--batch") && has) {
            if (parse_int(argv[++i], 1, 4096, &batch)) {
                fprintf(stderr, "clsde tune: --batch wants 1..4096\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--budget") && has) {
            set.budget_s = atof(argv[++i]);
            if (!(set.budget_s >= 1 && set.budget_s <= 86400)) {
                fprintf(stderr, "clsde tune: --budget wants 1..86400 seconds\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--device") && has) {
            params.device = argv[++i];
        } else if (!strcmp(argv[i], "--seed") && has) {
            if (parse_int(argv[++i], 0, 2147483647L, &v)) {
                fprintf(stderr, "clsde tune: --seed wants a non-negative integer\n");
                return 2;
            }
            set.seed = (uint64_t)v;
        } else if (!strcmp(argv[i], "--try") && has) {
            if (n_try == 16 || clsde_conv2d_choice_parse(argv[++i], &tries[n_try]) != 0) {
                fprintf(stderr, "clsde tune: --try wants a parameter string like 'implicit tm=8 "
                                "tn=32 vn=16 sm=16 sn=4 tk=64 wg_m=1 wg_n=1' or 'clblast' "
                                "(at most 16)\n");
                return 2;
            }
            n_try++;
        } else if (!strcmp(argv[i], "--force")) {
            set.force = 1;
        } else if (!strcmp(argv[i], "--no-clblast")) {
            set.clblast = 0;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "clsde tune: unknown option or missing value '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (preset && model_path) {
        fprintf(stderr, "clsde tune: give --shapes or --model, not both\n");
        return 2;
    }
    if (!preset && !model_path) preset = "cifar10-ncsnpp";
    set.extra = tries;
    set.n_extra = n_try;

    st = clsde_context_create(&params, &ctx);
    if (st != CLSDE_OK) return cli_fail(NULL, st);
    if (preset) {
        st = clsde_conv_shapes_preset(ctx, preset, (int32_t)batch, &shapes);
    } else {
        st = clsde_conv_shapes_model(ctx, model_path, (int32_t)batch, &shapes);
    }
    if (st != CLSDE_OK) {
        rc = cli_fail(ctx, st);
        goto done;
    }
    printf("device: %s / %s (driver %s)\n", ctx->info.platform, ctx->info.name,
           ctx->info.driver_version);
    if (!clsde_tune_clblast_version(&clblast_version))
        printf("CLBlast: not in this build (meson -Dclblast=enabled needs libclblast-dev); "
               "only clsde's kernel is tuned\n");
    else if (!set.clblast)
        printf("CLBlast %s: not timed (--no-clblast)\n", clblast_version);
    else
        printf("CLBlast %s: timed as one candidate per class (im2col + CLBlastSgemm + "
               "epilogue, with CLBlast's own parameters for this device) until it has been "
               ">4x slower than the defaults on 3 classes\n", clblast_version);

    st = clsde_tune_conv2d(ctx, &shapes, &set, &res, &n_res);
    if (st != CLSDE_OK) {
        rc = cli_fail(ctx, st);
        goto done;
    }
    st = clsde_tune_save(ctx);
    if (st != CLSDE_OK) {
        rc = cli_fail(ctx, st);
        goto done;
    }
    clsde_context_get_tune_info(ctx, &info);

    printf("\n%-34s %-26s %5s %11s %11s %8s %11s  %s\n", "class", "measured on", "runs",
           "default ms", "tuned ms", "speed-up", "CLBlast ms", "parameters");
    for (int32_t i = 0; i < n_res; i++) {
        const clsde_tune_result *r = &res[i];
        char clb[32] = "-";
        if (r->skipped) {
            printf("%-34s %-26s %5d %11s %11s %8s %11s  %s\n", r->cls, r->shape, (int)r->count,
                   "-", "-", "-", "-", "skipped: budget spent (defaults)");
            skipped++;
            continue;
        }
        if (r->clblast_ms > 0) snprintf(clb, sizeof clb, "%.3f", r->clblast_ms);
        printf("%-34s %-26s %5d %11.3f %11.3f %7.2fx %11s  %s%s\n", r->cls, r->shape,
               (int)r->count, r->default_ms, r->best_ms,
               r->best_ms > 0 ? r->default_ms / r->best_ms : 0.0, clb, r->params,
               r->cached ? " (cached)" : "");
        t_def += r->count * r->default_ms;
        t_best += r->count * r->best_ms;
        t_clb += r->count * r->clblast_ms;
        if (!(r->clblast_ms > 0)) all_clb = 0;
        flops += r->count * r->flops;
    }
    /* Each class counts its representative shape once per run of any shape in it. */
    printf("\nper forward pass (each class timed on its representative shape x runs): "
           "defaults %.1f ms, tuned %.1f ms (%.2fx, %.1f GFLOP/s)",
           t_def, t_best, t_best > 0 ? t_def / t_best : 0.0,
           t_best > 0 ? flops / (t_best * 1e-3) / 1e9 : 0.0);
    if (all_clb && t_clb > 0) printf(", CLBlast path %.1f ms", t_clb);
    if (skipped)
        printf("\n%d class%s skipped (not in the totals): a larger --budget, or another run, "
               "tunes them", skipped, skipped == 1 ? "" : "es");
    printf("\nwrote %d row%s to %s\n", (int)info.tuned_rows, info.tuned_rows == 1 ? "" : "s",
           info.tune_file);
    rc = 0;
done:
    free(res);
    clsde_conv_shapes_free(&shapes);
    clsde_context_destroy(ctx);
    return rc;
}
