/*
 * likelihood.c — `clsde likelihood`: negative log-likelihood in bits/dim of images under a
 * score model (clsde_likelihood_run, algorithms.md §6): MNIST / Fashion-MNIST from their
 * IDX files (--data, 28x28 zero-padded to the model's 32x32 as for training), CIFAR-10's
 * exact-pixel subset (--data cifar10: the convnetjs PNG batches, 1,000 test and 4,000
 * training images, one image per 1024x1 RGB row) or any
 * [N, C, H, W] tensor 'x' of a safetensors file (--input: F32 in [0, 1], e.g. `clsde sample
 * --raw`, or U8 0..255). Prints the mean bpd with its standard error; --out writes one CSV
 * row per image, --latent the latents z = x(1). Exit codes: 0 done, 1 failure, 2 bad command
 * line or settings, 130 interrupted.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <zlib.h>

#include "cli.h"
#include "safetensors.h"

#ifndef CLSDE_SOURCE_DATA_DIR
#define CLSDE_SOURCE_DATA_DIR ""
#endif

#define CMD "likelihood"

typedef struct lik_args {
    const char *model, *data, *split, *data_dir, *input, *out_csv, *latent;
    int64_t n, first;
    int n_set, quiet;
    clsde_likelihood_params p;
} lik_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clsde likelihood [--model M] (--data mnist|fashion-mnist|cifar10\n"
            "                        [--split test|train] [--data-dir DIR] | --input X.safetensors)\n"
            "                        [--first I] [-n N]\n"
            "                        [--batch B] [--seed S] [--probe rademacher|gaussian]\n"
            "                        [--rtol R] [--atol A] [--eps E] [--no-dequantize]\n"
            "                        [--reference-batching] [--out BPD.csv]\n"
            "                        [--latent Z.safetensors] [--device SEL] [--no-cache] [--quiet]\n"
            "\n"
            "  --model M            model file (default: the bundled model in models/)\n"
            "  --data NAME          mnist, fashion-mnist (IDX files in DIR/NAME/) or cifar10 (the\n"
            "                       exact-pixel subset in DIR/cifar10-subset-lossless/: test\n"
            "                       images 0..999, train 0..3999); DIR: --data-dir, else\n"
            "                       $CLSDE_DATA, else the source tree's ../shared/data\n"
            "  --split test|train   which split (default test)\n"
            "  --input FILE         images as tensor 'x' [N,C,H,W]: F32 in [0,1] or U8\n"
            "  --first I, -n N      images I .. I+N-1 of the input (default: all of --input,\n"
            "                       the first 16 of --data)\n"
            "  --batch B            images evaluated together (default min(N, 16))\n"
            "  --seed S             dequantisation noise and Hutchinson probes (default 0);\n"
            "                       image k's result is the same for any batch and split\n"
            "  --probe P            rademacher (default, as the reference) or gaussian\n"
            "  --rtol R, --atol A   RK45 tolerances (default 1e-5)\n"
            "  --eps E              start time of the ODE (default 1e-5)\n"
            "  --no-dequantize      use the values as given (default: 8-bit data, uniform\n"
            "                       dequantisation (255 x + U) / 256)\n"
            "  --reference-batching one ODE per batch, as the official code\n"
            "  --out FILE           CSV: image,bpd per image\n"
            "  --latent FILE        latents z = x(1) [N,C,H,W] as safetensors tensor 'z'\n"
            "  --quiet              no progress output\n"
            "bpd = -(log p_T(z) + delta) / (D ln 2) + 7 (centred models; 8 for data in [0,1]).\n"
            "Each image costs one ODE solve (hundreds of evaluations) with a score and its\n"
            "Jacobian-vector product per evaluation (2.2-2.8x a score evaluation).\n");
}

static int parse(int argc, char **argv, void *args, clsde_context_params *cp)
{
    lik_args *const a = args;
    static const char *const with_value[] = {
        "--model", "--data", "--split", "--data-dir", "--input", "--first", "-n", "--batch",
        "--seed", "--probe", "--rtol", "--atol", "--eps", "--out", "--latent", "--device"};
    long long v;
    int batch_set = 0;
    memset(a, 0, sizeof *a);
    clsde_likelihood_params_default(&a->p);
    a->split = "test";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int needs = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            needs |= !strcmp(o, with_value[k]);
        if (needs && i + 1 >= argc) {
            fprintf(stderr, "clsde " CMD ": %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(o, "--model")) {
            a->model = argv[++i];
        } else if (!strcmp(o, "--data")) {
            a->data = argv[++i];
            if (strcmp(a->data, "mnist") && strcmp(a->data, "fashion-mnist") &&
                strcmp(a->data, "cifar10"))
                return cli_bad(CMD, o, a->data, "must be mnist, fashion-mnist or cifar10");
        } else if (!strcmp(o, "--split")) {
            a->split = argv[++i];
            if (strcmp(a->split, "test") && strcmp(a->split, "train"))
                return cli_bad(CMD, o, a->split, "must be test or train");
        } else if (!strcmp(o, "--data-dir")) {
            a->data_dir = argv[++i];
        } else if (!strcmp(o, "--input")) {
            a->input = argv[++i];
        } else if (!strcmp(o, "--first")) {
            if (cli_parse_int(CMD, o, argv[++i], 0, INT32_MAX, &v)) return 2;
            a->first = v;
        } else if (!strcmp(o, "-n")) {
            if (cli_parse_int(CMD, o, argv[++i], 1, INT32_MAX, &v)) return 2;
            a->n = v, a->n_set = 1;
        } else if (!strcmp(o, "--batch")) {
            if (cli_parse_int(CMD, o, argv[++i], 1, 65536, &v)) return 2;
            a->p.batch = (int32_t)v, batch_set = 1;
        } else if (!strcmp(o, "--seed")) {
            if (cli_parse_seed(CMD, o, argv[++i], &a->p.seed)) return 2;
        } else if (!strcmp(o, "--probe")) {
            a->p.probe = argv[++i];
            if (strcmp(a->p.probe, "rademacher") && strcmp(a->p.probe, "gaussian"))
                return cli_bad(CMD, o, a->p.probe, "must be rademacher or gaussian");
        } else if (!strcmp(o, "--rtol")) {
            if (cli_parse_pos(CMD, o, argv[++i], &a->p.rtol)) return 2;
        } else if (!strcmp(o, "--atol")) {
            if (cli_parse_pos(CMD, o, argv[++i], &a->p.atol)) return 2;
        } else if (!strcmp(o, "--eps")) {
            if (cli_parse_pos(CMD, o, argv[++i], &a->p.eps)) return 2;
            if (a->p.eps >= 1) return cli_bad(CMD, o, argv[i], "must be in (0, 1)");
        } else if (!strcmp(o, "--no-dequantize")) {
            a->p.dequantize = 0;
        } else if (!strcmp(o, "--reference-batching")) {
            a->p.reference_batching = 1;
        } else if (!strcmp(o, "--out")) {
            a->out_csv = argv[++i];
        } else if (!strcmp(o, "--latent")) {
            a->latent = argv[++i];
        } else if (!strcmp(o, "--device")) {
            cp->device = argv[++i];
        } else if (!strcmp(o, "--no-cache")) {
            cp->no_cache = 1;
        } else if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) {
            a->quiet = 1;
        } else {
            fprintf(stderr, "clsde " CMD ": unknown option '%s' (clsde " CMD " --help)\n", o);
            return 2;
        }
    }
    if (!a->data == !a->input) {
        fprintf(stderr, "clsde " CMD ": give exactly one of --data and --input\n");
        return 2;
    }
    if (!batch_set) a->p.batch = 16; /* bounded by the image count in the run */
    return 0;
}

/* ---- inputs: float [n, c, s, s] in [0, 1] ---- */

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Images first .. first+n-1 of an IDX image file (gzip), zero-padded to s x s, as k/255.
 * *n may shrink to what the file has (when not set by the user). */
static float *read_idx(const char *path, int64_t first, int64_t *n, int n_set, int32_t s)
{
    gzFile gz = gzopen(path, "rb");
    unsigned char hdr[16], *row = NULL;
    float *x = NULL;
    int64_t count, rows, cols;
    if (!gz) {
        fprintf(stderr, "clsde " CMD ": cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (gzread(gz, hdr, 16) != 16 || be32(hdr) != 0x803) {
        fprintf(stderr, "clsde " CMD ": %s is not an IDX image file (magic 0x00000803)\n", path);
        goto fail;
    }
    count = be32(hdr + 4), rows = be32(hdr + 8), cols = be32(hdr + 12);
    if (rows > s || cols > s || rows < 1 || cols < 1) {
        fprintf(stderr, "clsde " CMD ": %s holds %lldx%lld images; the model takes %dx%d\n",
                path, (long long)rows, (long long)cols, (int)s, (int)s);
        goto fail;
    }
    if (!n_set) *n = count - first < 16 ? count - first : 16;
    if (first + *n > count || *n < 1) {
        fprintf(stderr, "clsde " CMD ": images %lld..%lld asked, %s has %lld\n", (long long)first,
                (long long)(first + *n - 1), path, (long long)count);
        goto fail;
    }
    if (gzseek(gz, 16 + first * rows * cols, SEEK_SET) < 0) {
        fprintf(stderr, "clsde " CMD ": %s: cannot seek to image %lld\n", path, (long long)first);
        goto fail;
    }
    x = calloc((size_t)*n * s * s, sizeof *x);
    row = malloc((size_t)rows * cols);
    if (!x || !row) {
        fprintf(stderr, "clsde " CMD ": out of memory for %lld images\n", (long long)*n);
        goto fail;
    }
    {
        const int64_t top = (s - rows) / 2, left = (s - cols) / 2;
        for (int64_t k = 0; k < *n; k++) {
            if (gzread(gz, row, (unsigned)(rows * cols)) != (int)(rows * cols)) {
                fprintf(stderr, "clsde " CMD ": %s ends in image %lld\n", path,
                        (long long)(first + k));
                goto fail;
            }
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < cols; c++)
                    x[((size_t)k * s + top + r) * s + left + c] = row[r * cols + c] / 255.0f;
        }
    }
    free(row);
    gzclose(gz);
    return x;
fail:
    free(row);
    free(x);
    gzclose(gz);
    return NULL;
}

/* Images first .. first+n-1 of the CIFAR-10 exact-pixel subset (convnetjs batches of 1,000:
 * a 1024 x 1000 RGB PNG, row r = image r as 32x32 pixels row-major), as CHW floats k/255.
 * test: cifar10_batch_50.png (1,000 images); train: cifar10_batch_0..3.png (4,000). */
static float *read_cifar(const char *dir, const char *split, int64_t first, int64_t *n,
                         int n_set)
{
    const int test = !strcmp(split, "test");
    const int64_t count = test ? 1000 : 4000;
    unsigned char *rows = NULL;
    float *x = NULL;
    int loaded = -1;
    if (!n_set) *n = count - first < 16 ? count - first : 16;
    if (first + *n > count || *n < 1) {
        fprintf(stderr, "clsde " CMD ": images %lld..%lld asked, the CIFAR-10 %s subset has "
                        "%lld\n", (long long)first, (long long)(first + *n - 1), split,
                (long long)count);
        return NULL;
    }
    x = malloc((size_t)*n * 3 * 1024 * sizeof *x);
    rows = malloc((size_t)1000 * 1024 * 3);
    if (!x || !rows) {
        fprintf(stderr, "clsde " CMD ": out of memory for %lld images\n", (long long)*n);
        goto fail;
    }
    for (int64_t k = 0; k < *n; k++) {
        const int64_t idx = first + k;
        const int batch = test ? 50 : (int)(idx / 1000);
        const unsigned char *px;
        if (batch != loaded) {
            char path[PATH_MAX + 128];
            png_image im;
            snprintf(path, sizeof path, "%s/cifar10-subset-lossless/cifar10_batch_%d.png", dir,
                     batch);
            memset(&im, 0, sizeof im);
            im.version = PNG_IMAGE_VERSION;
            if (!png_image_begin_read_from_file(&im, path)) {
                fprintf(stderr, "clsde " CMD ": cannot read %s: %s\n", path, im.message);
                goto fail;
            }
            if (im.width != 1024 || im.height != 1000) {
                fprintf(stderr, "clsde " CMD ": %s is %ux%u, expected 1024x1000 (one 32x32 "
                                "image per row)\n", path, im.width, im.height);
                png_image_free(&im);
                goto fail;
            }
            im.format = PNG_FORMAT_RGB;
            if (!png_image_finish_read(&im, NULL, rows, 0, NULL)) {
                fprintf(stderr, "clsde " CMD ": cannot decode %s: %s\n", path, im.message);
                goto fail;
            }
            loaded = batch;
        }
        px = rows + (size_t)(idx % 1000) * 1024 * 3;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 1024; i++)
                x[((size_t)k * 3 + c) * 1024 + i] = px[i * 3 + c] / 255.0f;
    }
    free(rows);
    return x;
fail:
    free(rows);
    free(x);
    return NULL;
}

/* Tensor 'x' of a safetensors file, checked against the model's shape. */
static float *read_input(clsde_context *ctx, const char *path, const clsde_model_info *mi,
                         int64_t first, int64_t *n, int n_set)
{
    clsde_safetensors in = {0};
    void *data = NULL;
    float *x = NULL;
    const clsde_st_tensor *t;
    int32_t i;
    const size_t per = (size_t)mi->num_channels * mi->image_size * mi->image_size;
    clsde_status st = clsde_safetensors_read_file(ctx, path, NULL, &in, &data);
    if (st != CLSDE_OK) {
        cli_fail(ctx, st);
        return NULL;
    }
    i = clsde_safetensors_find(&in, "x");
    if (i < 0) {
        fprintf(stderr, "clsde " CMD ": %s has no tensor 'x'\n", path);
        goto done;
    }
    t = &in.tensors[i];
    if ((t->dtype != CLSDE_DTYPE_F32 && t->dtype != CLSDE_DTYPE_U8) || t->ndim != 4 ||
        t->shape[1] != mi->num_channels || t->shape[2] != mi->image_size ||
        t->shape[3] != mi->image_size) {
        fprintf(stderr, "clsde " CMD ": %s: tensor 'x' is %s [%lld,%lld,%lld,%lld]; the model "
                        "takes F32 or U8 [N,%d,%d,%d]\n", path, clsde_dtype_name(t->dtype),
                (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2],
                (long long)t->shape[3], (int)mi->num_channels, (int)mi->image_size,
                (int)mi->image_size);
        goto done;
    }
    if (!n_set) *n = t->shape[0] - first;
    if (*n < 1 || first + *n > t->shape[0]) {
        fprintf(stderr, "clsde " CMD ": images %lld..%lld asked, %s has %lld\n", (long long)first,
                (long long)(first + *n - 1), path, (long long)t->shape[0]);
        goto done;
    }
    x = malloc((size_t)*n * per * sizeof *x);
    if (!x) {
        fprintf(stderr, "clsde " CMD ": out of memory for %lld images\n", (long long)*n);
        goto done;
    }
    for (size_t k = 0; k < (size_t)*n * per; k++) {
        const size_t src = (size_t)first * per + k;
        x[k] = t->dtype == CLSDE_DTYPE_U8
                   ? ((const unsigned char *)data + t->begin)[src] / 255.0f
                   : ((const float *)((const char *)data + t->begin))[src];
    }
done:
    clsde_safetensors_free(&in);
    free(data);
    return x;
}

/* ---- the command ---- */

int clsde_cmd_likelihood(int argc, char **argv)
{
    lik_args a;
    cli_opened o;
    clsde_context *ctx = NULL;
    clsde_model *model = NULL;
    clsde_model_info mi;
    clsde_sample_stats stats;
    clsde_status st = CLSDE_OK;
    cli_progress pg;
    char path[PATH_MAX + 128];
    float *x = NULL, *z = NULL;
    double *bpd = NULL;
    int rc;
    size_t per;

    rc = cli_open(CMD, argc, argv, parse, &a, &a.model, &o, &ctx);
    if (rc) return rc < 0 ? 0 : rc;
    rc = 1;
    st = clsde_model_load(ctx, a.model, &model);
    if (st != CLSDE_OK) goto fail;
    clsde_model_get_info(model, &mi);
    per = (size_t)mi.num_channels * mi.image_size * mi.image_size;
    if (a.data) {
        const char *dir = a.data_dir ? a.data_dir : getenv("CLSDE_DATA");
        if (!dir || !*dir) dir = CLSDE_SOURCE_DATA_DIR;
        const int rgb = !strcmp(a.data, "cifar10");
        if (mi.num_channels != (rgb ? 3 : 1) || (rgb && mi.image_size != 32)) {
            fprintf(stderr, "clsde " CMD ": --data %s is %s; the model takes %dx%dx%d\n",
                    a.data, rgb ? "3x32x32" : "grey", (int)mi.num_channels, (int)mi.image_size,
                    (int)mi.image_size);
            rc = 2;
            goto done;
        }
        if (rgb) {
            x = read_cifar(dir, a.split, a.first, &a.n, a.n_set);
        } else {
            snprintf(path, sizeof path, "%s/%s/%s-images-idx3-ubyte.gz", dir, a.data,
                     !strcmp(a.split, "test") ? "t10k" : "train");
            x = read_idx(path, a.first, &a.n, a.n_set, mi.image_size);
        }
    } else {
        x = read_input(ctx, a.input, &mi, a.first, &a.n, a.n_set);
    }
    if (!x) {
        rc = 2;
        goto done;
    }
    bpd = malloc((size_t)a.n * sizeof *bpd);
    z = a.latent ? malloc((size_t)a.n * per * sizeof *z) : NULL;
    if (!bpd || (a.latent && !z)) {
        fprintf(stderr, "clsde " CMD ": out of memory for %lld images\n", (long long)a.n);
        goto done;
    }
    if (!a.quiet)
        fprintf(stderr, "clsde " CMD ": %lld images (%s %lld..%lld) under %s (%s), probe %s, "
                        "rtol %g atol %g, eps %g, %s, seed %llu\n",
                (long long)a.n, a.data ? a.data : a.input, (long long)a.first,
                (long long)(a.first + a.n - 1), a.model, mi.sde_name, a.p.probe, a.p.rtol,
                a.p.atol, a.p.eps, a.p.dequantize ? "dequantised" : "as given",
                (unsigned long long)a.p.seed);
    a.p.progress = cli_progress_report;
    a.p.progress_user = &pg;
    cli_progress_begin(&pg, CMD, a.quiet, a.n, a.p.batch, 1000);
    st = clsde_likelihood_run(ctx, model, &a.p, a.first, (int32_t)a.n, x, bpd, z, &stats);
    if (cli_progress_end(&pg, st)) {
        rc = 130;
        goto done;
    }
    if (st != CLSDE_OK) goto fail;
    if (a.out_csv) {
        FILE *f = fopen(a.out_csv, "w");
        if (!f) {
            fprintf(stderr, "clsde " CMD ": cannot write %s: %s\n", a.out_csv, strerror(errno));
            goto done;
        }
        fprintf(f, "# %s\nimage,bpd\n", o.cmdline);
        for (int64_t k = 0; k < a.n; k++)
            fprintf(f, "%lld,%.6f\n", (long long)(a.first + k), bpd[k]);
        if (fclose(f) != 0) {
            fprintf(stderr, "clsde " CMD ": cannot write %s: %s\n", a.out_csv, strerror(errno));
            goto done;
        }
    }
    if (a.latent) {
        const int64_t shape[4] = {a.n, mi.num_channels, mi.image_size, mi.image_size};
        const clsde_st_write_tensor w = {"z", CLSDE_DTYPE_F32, 4, shape, z};
        const clsde_st_kv meta[2] = {{"model", a.model}, {"command", o.cmdline}};
        st = clsde_safetensors_write(ctx, a.latent, &w, 1, meta, 2);
        if (st != CLSDE_OK) goto fail;
    }
    {
        double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
        for (int64_t k = 0; k < a.n; k++) {
            sum += bpd[k], sq += bpd[k] * bpd[k];
            lo = fmin(lo, bpd[k]), hi = fmax(hi, bpd[k]);
        }
        {
            const double mean = sum / a.n;
            const double sem = a.n > 1 ? sqrt(fmax(sq / a.n - mean * mean, 0) / (a.n - 1)) : NAN;
            if (a.n == 1)
                printf("bpd %.4f (1 image)\n", mean);
            else
                printf("bpd %.4f +- %.4f (mean +- standard error of %lld images; min %.4f, "
                       "max %.4f)\n", mean, sem, (long long)a.n, lo, hi);
        }
        if (!a.quiet)
            fprintf(stderr, "clsde " CMD ": %lld images in %.1f s (%.2f s/image), NFE %d..%d "
                            "(mean %.1f) per image\n",
                    (long long)a.n, stats.seconds, stats.seconds / a.n, (int)stats.nfe_min,
                    (int)stats.nfe, stats.nfe_mean);
    }
    rc = 0;
    goto done;
fail:
    cli_fail(ctx, st);
    rc = st == CLSDE_ERR_ARG || st == CLSDE_ERR_UNSUPPORTED ? 2 : 1;
done:
    free(x), free(z), free(bpd);
    clsde_model_destroy(model);
    clsde_context_destroy(ctx);
    return rc;
}
