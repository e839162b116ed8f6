/*
 * bench_forward.c — `clsde bench forward --model M [--batch 1,8] [--json] [--torch]
 * [--profile] [--jvp] [--threads N] [--min-time S] [--device SEL]`: the time of one network
 * evaluation (clsde_net_forward_run: host x and t in, host output back) for each batch
 * size, built once per batch. Best of 5 rounds after one warm-up, each round at least
 * min-time / 5 long (the mean of a round, not the fastest single call: a forward is long
 * enough). Reports ms, images/s, GFLOP/s from the net's FLOP count, and the planned device
 * memory (activations + weights).
 * --torch runs tools/bench_torch.py on the same model file, batch and thread count in a
 * subprocess (python: $CLSDE_PYTHON, else /usr/bin/python3; tools/: $CLSDE_TOOLS_DIR, else
 * next to the executable as `clsde sample` finds models/) and prints both side by side with
 * the speed-up (PyTorch best ms / clsde best ms) and PyTorch's peak RSS.
 * --profile adds, per batch, the time per op kind and the slowest nodes
 * (clsde_net_print_profile).
 * --jvp adds, per batch, the cost of the likelihood's evaluation (score, its Jacobian-vector
 * product and the per-image dot product, a JVP net) next to a plain score evaluation, both
 * on device buffers as the samplers call them, and the JVP net's planned activations.
 * --threads N also caps PoCL's worker threads (POCL_MAX_PTHREAD_COUNT, unless already set),
 * so both engines get the same cores.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "net.h"
#include "sampler.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

typedef struct torch_row {
    double ms, min_ms, rss_mb;
} torch_row;

static int parse_batches(const char *s, int *b, int *n)
{
    char *end;
    *n = 0;
    while (*s && *n < 8) {
        const long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 4096 || (*end && *end != ',') ||
            (*end == ',' && !end[1]))
            return -1;
        b[(*n)++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return *n && !*s ? 0 : -1;
}

/* 'path' with single quotes escaped, for sh -c */
static void shell_quote(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    if (cap < 3) return;
    dst[n++] = '\'';
    for (; *src && n + 6 < cap; src++) {
        if (*src == '\'') {
            memcpy(dst + n, "'\\''", 4);
            n += 4;
        } else {
            dst[n++] = *src;
        }
    }
    dst[n++] = '\'';
    dst[n] = 0;
}

/* tools/bench_torch.py: $CLSDE_TOOLS_DIR, else installed or source tree next to the exe */
static int find_bench_torch(char *out, size_t cap)
{
    const char *env = getenv("CLSDE_TOOLS_DIR");
    char exe[PATH_MAX], *slash;
    ssize_t len;
    if (env && *env) {
        snprintf(out, cap, "%s/bench_torch.py", env);
        return access(out, R_OK) ? -1 : 0;
    }
    len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = 0;
    slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = 0;
    {
        const char *rel[] = {"../share/clsde/tools", "../tools", "../../tools"};
        for (int i = 0; i < 3; i++) {
            snprintf(out, cap, "%s/%s/bench_torch.py", exe, rel[i]);
            if (!access(out, R_OK)) return 0;
        }
    }
    return -1;
}

static int json_num(const char *line, const char *key, double *v)
{
    char pat[64];
    const char *p;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(line, pat);
    if (!p) return -1;
    return sscanf(p + strlen(pat), "%lf", v) == 1 ? 0 : -1;
}

/* One bench_torch.py run for one batch; 0 on success, message on stderr otherwise. */
static int run_torch(const char *python, const char *script, const char *model, int batch,
                     int threads, torch_row *r)
{
    char qpy[PATH_MAX + 16], qs[PATH_MAX + 16], qm[PATH_MAX + 16], cmd[3 * PATH_MAX + 128];
    char line[4096];
    int got = 0, status;
    FILE *p;
    shell_quote(qpy, sizeof qpy, python);
    shell_quote(qs, sizeof qs, script);
    shell_quote(qm, sizeof qm, model);
    snprintf(cmd, sizeof cmd, "%s %s --weights %s --batch %d --threads %d --warmup 1 --repeat 5",
             qpy, qs, qm, batch, threads);
    fflush(stdout);
    p = popen(cmd, "r");
    if (!p) {
        fprintf(stderr, "clsde bench forward: cannot run %s\n", cmd);
        return -1;
    }
    while (fgets(line, sizeof line, p))
        if (line[0] == '{' && !json_num(line, "ms", &r->ms) &&
            !json_num(line, "min_ms", &r->min_ms) && !json_num(line, "peak_rss_mb", &r->rss_mb))
            got = 1;
    status = pclose(p);
    if (status != 0 || !got) {
        fprintf(stderr, "clsde bench forward: %s failed (exit status %d%s)\n", cmd, status,
                got ? "" : ", no JSON result line");
        return -1;
    }
    return 0;
}

static int check_torch(const char *python, char *script, size_t cap)
{
    char qpy[PATH_MAX + 16], cmd[PATH_MAX + 128];
    if (find_bench_torch(script, cap)) {
        fprintf(stderr, "clsde bench forward: --torch: tools/bench_torch.py not found next to "
                        "the executable (set CLSDE_TOOLS_DIR to the source tree's tools/)\n");
        return -1;
    }
    shell_quote(qpy, sizeof qpy, python);
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, numpy' >/dev/null 2>&1", qpy);
    if (system(cmd) != 0) {
        fprintf(stderr, "clsde bench forward: --torch needs Python with torch and numpy: '%s' "
                        "is missing or cannot import them (set CLSDE_PYTHON)\n", python);
        return -1;
    }
    return 0;
}

/* --jvp: seconds of one score evaluation (a plain net) and of one score + Jacobian-vector
 * product + per-image dot product (a JVP net, clsde_net_create_jvp) as the samplers and the
 * likelihood call them (device buffers, continuous wrapper, until the queue is done),
 * best of 5 rounds each; the JVP net's planned activation bytes. */
static clsde_status time_jvp(clsde_context *ctx, clsde_model *model, int b, const float *x,
                             const float *t, double min_time, double *s_eval, double *s_jvp,
                             double *jvp_act_mb)
{
    clsde_status st = CLSDE_OK;
    clsde_net *nets[2] = {NULL, NULL};
    clsde_net_score *fns[2] = {NULL, NULL};
    cl_mem xb = NULL, vb = NULL, sb = NULL;
    float *v = NULL;
    double *q = malloc((size_t)b * sizeof *q);
    clsde_net_info ni;
    size_t n;
    CLSDE_FAIL_IF(!q, ctx, CLSDE_ERR_NOMEM, "bench: out of memory");
    CLSDE_TRY_GOTO(clsde_net_create(ctx, model, b, &nets[0]));
    CLSDE_TRY_GOTO(clsde_net_create_jvp(ctx, model, b, &nets[1]));
    clsde_net_get_info(nets[1], &ni);
    *jvp_act_mb = ni.activation_bytes / 1e6;
    n = (size_t)b * ni.channels * ni.height * ni.width;
    v = malloc(n * sizeof *v);
    CLSDE_GOTO_IF(!v, ctx, CLSDE_ERR_NOMEM, "bench: out of memory");
    for (size_t k = 0; k < n; k++) v[k] = (k * 2654435761u) >> 31 ? 1.0f : -1.0f;
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, n * sizeof(float), &xb));
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, n * sizeof(float), &vb));
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, n * sizeof(float), &sb));
    CLSDE_TRY_GOTO(clsde_buffer_write(ctx, xb, 0, n * sizeof(float), x));
    CLSDE_TRY_GOTO(clsde_buffer_write(ctx, vb, 0, n * sizeof(float), v));
    for (int k = 0; k < 2; k++) {
        const clsde_score_fn *fn;
        double best = 1e30;
        CLSDE_TRY_GOTO(clsde_net_score_create(ctx, nets[k], &fns[k]));
        fn = clsde_net_score_fn(fns[k]);
        for (int round = -1; round < 5; round++) { /* round -1: warm-up */
            int reps = 0;
            double el;
            const double t0 = clsde_now();
            do {
                CLSDE_TRY_GOTO(k ? fn->eval_div(fn->self, xb, t, vb, sb, q)
                                 : fn->eval(fn->self, xb, t, 1, sb));
                CLSDE_TRY_GOTO(clsde_finish(ctx));
                reps++;
                el = clsde_now() - t0;
            } while (round >= 0 && el < min_time / 5 && reps < 100000);
            if (round >= 0 && el / reps < best) best = el / reps;
        }
        *(k ? s_jvp : s_eval) = best;
    }
fail:
    for (int k = 0; k < 2; k++) clsde_net_score_destroy(fns[k]), clsde_net_destroy(nets[k]);
    clsde_buffer_release(xb), clsde_buffer_release(vb), clsde_buffer_release(sb);
    free(v), free(q);
    return st;
}

int clsde_cmd_bench_forward(int argc, char **argv)
{
    clsde_context_params cp;
    clsde_context *ctx = NULL;
    clsde_model *model = NULL;
    clsde_net *net = NULL;
    clsde_model_info mi;
    clsde_device_info dev;
    clsde_status st = CLSDE_OK;
    const char *model_path = NULL, *python = getenv("CLSDE_PYTHON");
    char script[PATH_MAX + 64];
    int batches[8] = {1, 8}, n_batches = 2, json = 0, torch = 0, profile = 0, jvp = 0, rc = 1;
    long threads = 0;
    double min_time = 1.0;
    float *x = NULL, *t = NULL, *out = NULL;

    if (!python || !*python) python = "/usr/bin/python3";
    clsde_context_params_default(&cp);
    cp.log = cli_logger;
    cp.log_level = CLSDE_LOG_WARNING;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        const int has_value = !strcmp(o, "--model") || !strcmp(o, "--batch") ||
                              !strcmp(o, "--threads") || !strcmp(o, "--device") ||
                              !strcmp(o, "--min-time");
        if (has_value && i + 1 >= argc) {
            fprintf(stderr, "clsde bench forward: %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "--json")) {
            json = 1;
        } else if (!strcmp(o, "--torch")) {
            torch = 1;
        } else if (!strcmp(o, "--profile")) {
            profile = 1;
        } else if (!strcmp(o, "--jvp")) {
            jvp = 1;
        } else if (!strcmp(o, "--model")) {
            model_path = argv[++i];
        } else if (!strcmp(o, "--device")) {
            cp.device = argv[++i];
        } else if (!strcmp(o, "--threads")) {
            char *end;
            threads = strtol(argv[++i], &end, 10);
            if (*end || threads < 1 || threads > 1024) {
                fprintf(stderr, "clsde bench forward: --threads '%s' must be in 1..1024\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(o, "--min-time")) {
            char *end;
            min_time = strtod(argv[++i], &end);
            if (*end || !(min_time >= 0 && min_time <= 3600)) {
                fprintf(stderr, "clsde bench forward: --min-time '%s' must be 0..3600 seconds\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(o, "--batch")) {
            if (parse_batches(argv[++i], batches, &n_batches)) {
                fprintf(stderr, "clsde bench forward: --batch '%s': want a list like 1,8 "
                                "(1..4096, at most 8)\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: clsde bench forward --model M [--batch 1,8] [--json] "
                            "[--torch] [--profile] [--jvp] [--threads N] [--min-time S] "
                            "[--device SEL]\n");
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "clsde bench forward: which model? (--model M)\n");
        return 2;
    }
    if ((profile || jvp) && (json || torch)) {
        fprintf(stderr, "clsde bench forward: --profile and --jvp print tables; not with "
                        "--json or --torch\n");
        return 2;
    }
    if (torch && check_torch(python, script, sizeof script)) return 1;
    if (threads > 0) {
        char v[16];
        snprintf(v, sizeof v, "%ld", threads);
        setenv("POCL_MAX_PTHREAD_COUNT", v, 0);
    } else {
        threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    }
    st = clsde_context_create(&cp, &ctx);
    if (st != CLSDE_OK) return cli_fail(NULL, st);
    clsde_context_get_device(ctx, &dev);
    st = clsde_model_load(ctx, model_path, &model);
    if (st != CLSDE_OK) goto fail;
    clsde_model_get_info(model, &mi);
    {
        int maxb = 1;
        size_t img = (size_t)mi.num_channels * mi.image_size * mi.image_size;
        for (int i = 0; i < n_batches; i++) maxb = batches[i] > maxb ? batches[i] : maxb;
        x = malloc((size_t)maxb * img * sizeof *x);
        out = malloc((size_t)maxb * img * sizeof *out);
        t = malloc((size_t)maxb * sizeof *t);
        if (!x || !out || !t) {
            fprintf(stderr, "clsde bench forward: out of memory\n");
            goto done;
        }
        srand(1);
        for (size_t k = 0; k < (size_t)maxb * img; k++)
            x[k] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
        for (int k = 0; k < maxb; k++) t[k] = 0.05f + 0.9f * (float)k / (float)maxb;
    }
    if (json) {
        printf("[\n");
    } else {
        printf("device: %s / %s\nmodel: %s (%s, %dx%dx%d)\nthreads: %ld%s\n", dev.platform,
               dev.name, model_path, mi.sde_name, (int)mi.num_channels, (int)mi.image_size,
               (int)mi.image_size, threads, torch ? " (clsde and PyTorch)" : "");
        if (torch)
            printf("%6s %10s %10s %8s %9s %8s %11s %11s\n", "batch", "clsde ms", "torch ms",
                   "speedup", "images/s", "GFLOP/s", "clsde MB", "torch RSS MB");
        else
            printf("%6s %10s %9s %8s %10s %10s %10s\n", "batch", "ms", "images/s", "GFLOP/s",
                   "act. MB", "weight MB", "total MB");
    }
    for (int i = 0; i < n_batches; i++) {
        const int b = batches[i];
        clsde_net_info ni;
        double best = 1e30, ms, gflops, mb, act_mb, w_mb;
        torch_row tr = {0, 0, 0};
        st = clsde_net_create(ctx, model, b, &net);
        if (st != CLSDE_OK) goto fail;
        clsde_net_get_info(net, &ni);
        st = clsde_net_forward_run(net, x, t, CLSDE_TIME_CONTINUOUS, out, NULL); /* warm-up */
        if (st != CLSDE_OK) goto fail;
        for (int round = 0; round < 5; round++) {
            int reps = 0;
            double el;
            const double t0 = clsde_now();
            do {
                st = clsde_net_forward_run(net, x, t, CLSDE_TIME_CONTINUOUS, out, NULL);
                if (st != CLSDE_OK) goto fail;
                reps++;
                el = clsde_now() - t0;
            } while (el < min_time / 5 && reps < 100000);
            if (el / reps < best) best = el / reps;
        }
        if (profile) {
            st = clsde_net_print_profile(net, 5, 15, stdout);
            if (st != CLSDE_OK) goto fail;
        }
        if (jvp) {
            double se = 0, sj = 0, jmb = 0;
            st = time_jvp(ctx, model, b, x, t, min_time, &se, &sj, &jmb);
            if (st != CLSDE_OK) goto fail;
            printf("jvp, batch %d: score %.2f ms, score + (ds/dx) v + v.(ds/dx) v %.2f ms "
                   "(%.2fx); activations %.2f MB (%.2fx the forward's)\n", b, 1e3 * se,
                   1e3 * sj, sj / se, jmb, jmb / ((double)ni.activation_bytes / 1e6));
        }
        clsde_net_destroy(net);
        net = NULL;
        ms = 1e3 * best;
        gflops = ni.flops_per_image * b / best / 1e9;
        act_mb = (double)ni.activation_bytes / 1e6;
        w_mb = (double)ni.weight_bytes / 1e6;
        mb = act_mb + w_mb;
        if (torch && run_torch(python, script, model_path, b, (int)threads, &tr)) goto done;
        if (json) {
            printf("  {\"model\": \"%s\", \"device\": \"%s\", \"batch\": %d, \"threads\": %ld, "
                   "\"ms\": %.3f, \"images_per_s\": %.3f, \"gflops\": %.2f, "
                   "\"gflop_per_image\": %.3f, \"activation_mb\": %.2f, \"weight_mb\": %.2f, "
                   "\"device_mb\": %.2f",
                   model_path, dev.name, b, threads, ms, 1e3 * b / ms, gflops,
                   ni.flops_per_image / 1e9, act_mb, w_mb, mb);
            if (torch)
                printf(", \"torch_ms\": %.3f, \"torch_median_ms\": %.3f, \"speedup\": %.3f, "
                       "\"torch_peak_rss_mb\": %.1f", tr.min_ms, tr.ms, tr.min_ms / ms,
                       tr.rss_mb);
            printf("}%s\n", i == n_batches - 1 ? "" : ",");
        } else if (torch) {
            printf("%6d %10.1f %10.1f %7.2fx %9.2f %8.1f %11.1f %11.1f\n", b, ms, tr.min_ms,
                   tr.min_ms / ms, 1e3 * b / ms, gflops, mb, tr.rss_mb);
        } else {
            printf("%6d %10.2f %9.2f %8.1f %10.2f %10.2f %10.2f\n", b, ms, 1e3 * b / ms, gflops,
                   act_mb, w_mb, mb);
        }
        fflush(stdout);
    }
    if (json) printf("]\n");
    else if (torch)
        printf("ms: best of 5 rounds each (PyTorch: min_ms of 5 after 1 warm-up); speedup = "
               "torch ms / clsde ms; clsde MB = planned device activations + weights\n");
    rc = 0;
    goto done;
fail:
    cli_fail(ctx, st);
done:
    free(x);
    free(t);
    free(out);
    clsde_net_destroy(net);
    clsde_model_destroy(model);
    clsde_context_destroy(ctx);
    return rc;
}
