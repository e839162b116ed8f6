/*
 * forward.c — `clsde forward --model M --input IN.safetensors --output OUT.safetensors
 * [--score] [--batch B] [--continuous | --label] [--device SEL] [--no-cache]`:
 * one network evaluation per image. IN holds F32 tensors `x` [N, C, H, W] and `t` [N];
 * OUT gets `out` (the raw network output at the label of t) and with --score also `score`.
 * The images run in batches of B (default min(N, 16)); a short last batch is padded with
 * copies of its last image, whose results are dropped.
 * Tensor files go through the loader's safetensors reader/writer (src/safetensors.h), so
 * like `bench` this command links the internal library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "safetensors.h"

typedef struct fwd_args {
    const char *model, *input, *output;
    int score;
    int32_t batch;
    clsde_time_mode mode;
} fwd_args;

static int parse(int argc, char **argv, fwd_args *a, clsde_context_params *params)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const int has_value = !strcmp(o, "--model") || !strcmp(o, "--input") ||
                              !strcmp(o, "--output") || !strcmp(o, "--batch") ||
                              !strcmp(o, "--device");
        if (has_value && i + 1 >= argc) {
            fprintf(stderr, "clsde forward: %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "--model")) {
            a->model = argv[++i];
        } else if (!strcmp(o, "--input")) {
            a->input = argv[++i];
        } else if (!strcmp(o, "--output")) {
            a->output = argv[++i];
        } else if (!strcmp(o, "--device")) {
            params->device = argv[++i];
        } else if (!strcmp(o, "--batch")) {
            char *end;
            const long b = strtol(argv[++i], &end, 10);
            if (*end || b < 1 || b > 65536) {
                fprintf(stderr, "clsde forward: --batch '%s' is not a number in 1..65536\n",
                        argv[i]);
                return 2;
            }
            a->batch = (int32_t)b;
        } else if (!strcmp(o, "--score")) {
            a->score = 1;
        } else if (!strcmp(o, "--continuous")) {
            a->mode = CLSDE_TIME_CONTINUOUS;
        } else if (!strcmp(o, "--label")) {
            a->mode = CLSDE_TIME_LABEL;
        } else if (!strcmp(o, "--no-cache")) {
            params->no_cache = 1;
        } else {
            fprintf(stderr, "clsde forward: unknown option '%s'\n", o);
            return 2;
        }
    }
    if (!a->model || !a->input || !a->output) {
        fprintf(stderr, "clsde forward: --model, --input and --output are required\n");
        return 2;
    }
    if (a->score && a->mode == CLSDE_TIME_LABEL) {
        fprintf(stderr, "clsde forward: --score needs times t, not --label\n");
        return 2;
    }
    return 0;
}

/* The F32 tensor `name` of `st` with `ndim` dimensions, or NULL after printing why. */
static const float *tensor(const char *file, const clsde_safetensors *st, const void *data,
                           const char *name, int32_t ndim, const clsde_st_tensor **info)
{
    const int32_t i = clsde_safetensors_find(st, name);
    if (i < 0) {
        fprintf(stderr, "clsde forward: %s has no tensor '%s'\n", file, name);
        return NULL;
    }
    *info = &st->tensors[i];
    if ((*info)->dtype != CLSDE_DTYPE_F32 || (*info)->ndim != ndim) {
        fprintf(stderr, "clsde forward: %s: tensor '%s' must be F32 with %d dimensions (is %s "
                        "with %d)\n", file, name, (int)ndim, clsde_dtype_name((*info)->dtype),
                (int)(*info)->ndim);
        return NULL;
    }
    return (const float *)((const char *)data + (*info)->begin);
}

int clsde_cmd_forward(int argc, char **argv)
{
    fwd_args a;
    clsde_context_params params;
    clsde_context *ctx = NULL;
    clsde_model *model = NULL;
    clsde_net *net = NULL;
    clsde_safetensors in = {0};
    void *in_data = NULL;
    float *out = NULL, *score = NULL, *bx = NULL, *bt = NULL, *bo = NULL, *bs = NULL;
    const clsde_st_tensor *xi, *ti;
    const float *x, *t;
    clsde_model_info mi;
    clsde_status st = CLSDE_OK;
    int rc;

    clsde_context_params_default(&params);
    params.log = cli_logger;
    params.log_level = CLSDE_LOG_WARNING;
    rc = parse(argc, argv, &a, &params);
    if (rc) return rc;
    rc = 1;

    st = clsde_context_create(&params, &ctx);
    if (st != CLSDE_OK) return cli_fail(NULL, st);
    st = clsde_safetensors_read_file(ctx, a.input, NULL, &in, &in_data);
    if (st != CLSDE_OK) goto fail;
    x = tensor(a.input, &in, in_data, "x", 4, &xi);
    t = x ? tensor(a.input, &in, in_data, "t", 1, &ti) : NULL;
    if (!x || !t) goto done;
    st = clsde_model_load(ctx, a.model, &model);
    if (st != CLSDE_OK) goto fail;
    st = clsde_model_get_info(model, &mi);
    if (st != CLSDE_OK) goto fail;
    {
        const int64_t n = xi->shape[0];
        const size_t per = (size_t)mi.num_channels * mi.image_size * mi.image_size;
        if (xi->shape[1] != mi.num_channels || xi->shape[2] != mi.image_size ||
            xi->shape[3] != mi.image_size || ti->shape[0] != n || n < 1) {
            char xs[64], ts[64];
            fprintf(stderr, "clsde forward: %s: x is %s and t is %s; the model takes x "
                            "[N,%d,%d,%d] and t [N]\n", a.input,
                    clsde_shape_str(xi->shape, 4, xs, sizeof xs),
                    clsde_shape_str(ti->shape, 1, ts, sizeof ts), (int)mi.num_channels,
                    (int)mi.image_size, (int)mi.image_size);
            goto done;
        }
        const int32_t b = a.batch ? a.batch : (int32_t)(n < 16 ? n : 16);
        out = malloc((size_t)n * per * sizeof *out);
        score = a.score ? malloc((size_t)n * per * sizeof *score) : NULL;
        bx = malloc((size_t)b * per * sizeof *bx);
        bo = malloc((size_t)b * per * sizeof *bo);
        bs = malloc((size_t)b * per * sizeof *bs);
        bt = malloc((size_t)b * sizeof *bt);
        if (!out || (a.score && !score) || !bx || !bo || !bs || !bt) {
            fprintf(stderr, "clsde forward: out of memory\n");
            goto done;
        }
        st = clsde_net_create(ctx, model, b, &net);
        if (st != CLSDE_OK) goto fail;
        for (int64_t i0 = 0; i0 < n; i0 += b) {
            const int64_t m = n - i0 < b ? n - i0 : b;
            for (int64_t j = 0; j < b; j++) {
                const int64_t src = i0 + (j < m ? j : m - 1);
                memcpy(bx + j * per, x + src * per, per * sizeof *bx);
                bt[j] = t[src];
            }
            st = clsde_net_forward_run(net, bx, bt, a.mode, bo, a.score ? bs : NULL);
            if (st != CLSDE_OK) goto fail;
            memcpy(out + i0 * per, bo, (size_t)m * per * sizeof *out);
            if (a.score) memcpy(score + i0 * per, bs, (size_t)m * per * sizeof *score);
        }
        {
            const int64_t shape[4] = {n, mi.num_channels, mi.image_size, mi.image_size};
            const clsde_st_write_tensor w[2] = {
                {"out", CLSDE_DTYPE_F32, 4, shape, out},
                {"score", CLSDE_DTYPE_F32, 4, shape, score},
            };
            const clsde_st_kv meta[1] = {{"clsde_forward", a.score ? "out, score" : "out"}};
            st = clsde_safetensors_write(ctx, a.output, w, a.score ? 2 : 1, meta, 1);
            if (st != CLSDE_OK) goto fail;
        }
        printf("%s: %lld images through %s in batches of %d -> %s\n", a.input, (long long)n,
               a.model, (int)b, a.output);
    }
    rc = 0;
    goto done;
fail:
    cli_fail(ctx, st);
done:
    free(out);
    free(score);
    free(bx);
    free(bt);
    free(bo);
    free(bs);
    free(in_data);
    clsde_safetensors_free(&in);
    clsde_net_destroy(net);
    clsde_model_destroy(model);
    clsde_context_destroy(ctx);
    return rc;
}
