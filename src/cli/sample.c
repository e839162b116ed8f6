/*
 * sample.c — `clsde sample`: draw images from a score model with the PC or ODE sampler
 * (clsde_sample_run) and write a PNG grid (-o), one PNG per image (--out-dir) and/or the raw
 * float samples (--raw, safetensors tensor `x` [N, C, H, W] in data space). Settings default
 * to the model's config (sampling.*, model.num_scales). Without --model the bundled model is
 * used: the one score model (*.safetensors not named classifier_*) of $CLSDE_MODELS_DIR when
 * set, else the bundled file from the first models/ directory that holds it (next to the
 * executable's install prefix, the build or the source tree; cli_bundled_model in cli.h).
 * PNGs carry tEXt chunks (and --raw its metadata) with the model, the settings, the seed,
 * the version, the device and the exact command line. Exit codes: 0 done, 1 failure
 * (model, device, NaN/Inf), 2 bad command line or settings, 130 interrupted (Ctrl-C
 * cancels at the next step).
 * The safetensors writer is the internal one (src/safetensors.h), as for `forward`.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "png_out.h"
#include "safetensors.h"


typedef struct sample_args {
    const char *model, *out_png, *out_dir, *raw;
    int64_t n, first;
    int quiet;
    clsde_sample_params p;
} sample_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clsde sample [--model M] [-n N] [--batch B] [--sampler pc|ode]\n"
            "                    [--predictor P] [--corrector C] [--snr R] [--n-steps-each M]\n"
            "                    [--steps N] [--seed S] [--first I] [--probability-flow]\n"
            "                    [--no-denoise] [--reference-batching] [--rtol R] [--atol A]\n"
            "                    [--device SEL] [--no-cache] [-o GRID.png | --out-dir DIR]\n"
            "                    [--raw OUT.safetensors] [--quiet]\n"
            "\n"
            "  --model M            model file (default: the bundled model in models/)\n"
            "  -n N                 number of images (default 16)\n"
            "  --batch B            images evaluated together (default min(N, 16))\n"
            "  --sampler pc|ode     predictor-corrector or probability-flow ODE (RK45)\n"
            "  --predictor P        euler_maruyama, reverse_diffusion, ancestral_sampling, none\n"
            "  --corrector C        langevin, ald, none\n"
            "  --snr R              corrector signal-to-noise ratio (> 0)\n"
            "  --n-steps-each M     corrector steps per time step\n"
            "  --steps N            PC time steps (default model.num_scales)\n"
            "  --seed S, --first I  noise seed and index of the first image: image k of a seed\n"
            "                       is the same for any batch size and split\n"
            "  --probability-flow   PC predictor follows the probability-flow ODE\n"
            "  --no-denoise         keep the last noisy x (default: the denoised x_mean)\n"
            "  --reference-batching batch-mean Langevin norms / one ODE per batch, as the\n"
            "                       official code (results then depend on the batch)\n"
            "  --rtol R, --atol A   ODE tolerances (default 1e-5)\n"
            "  -o GRID.png          one grid of all images (default samples.png)\n"
            "  --out-dir DIR        one PNG per image, DIR/<image index>.png\n"
            "  --raw OUT            float samples [N,C,H,W] as safetensors tensor 'x'\n"
            "  --quiet              no progress output\n"
            "Defaults come from the model's config (sampling.*). Exit codes: 0 done, 1 failed,\n"
            "2 bad arguments, 130 interrupted.\n");
}

static int parse(int argc, char **argv, void *args, clsde_context_params *cp)
{
    sample_args *const a = args;
    static const char *const with_value[] = {
        "--model", "-n", "--batch", "--sampler", "--predictor", "--corrector", "--snr",
        "--n-steps-each", "--steps", "--seed", "--first", "--rtol", "--atol", "--device", "-o",
        "--out-dir", "--raw"};
    long long v;
    int batch_set = 0;
    memset(a, 0, sizeof *a);
    clsde_sample_params_default(&a->p);
    a->n = 16;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int needs = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            needs |= !strcmp(o, with_value[k]);
        if (needs && i + 1 >= argc) {
            fprintf(stderr, "clsde sample: %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(o, "--model")) {
            a->model = argv[++i];
        } else if (!strcmp(o, "-n")) {
            if (cli_parse_int("sample", o, argv[++i], 1, INT32_MAX, &v)) return 2;
            a->n = v;
        } else if (!strcmp(o, "--batch")) {
            if (cli_parse_int("sample", o, argv[++i], 1, 65536, &v)) return 2;
            a->p.batch = (int32_t)v, batch_set = 1;
        } else if (!strcmp(o, "--sampler")) {
            a->p.method = argv[++i];
        } else if (!strcmp(o, "--predictor")) {
            a->p.predictor = argv[++i];
        } else if (!strcmp(o, "--corrector")) {
            a->p.corrector = argv[++i];
        } else if (!strcmp(o, "--snr")) {
            if (cli_parse_pos("sample", o, argv[++i], &a->p.snr)) return 2;
        } else if (!strcmp(o, "--n-steps-each")) {
            if (cli_parse_int("sample", o, argv[++i], 0, 1000, &v)) return 2;
            a->p.n_steps_each = (int32_t)v;
        } else if (!strcmp(o, "--steps")) {
            if (cli_parse_int("sample", o, argv[++i], 2, 1 << 24, &v)) return 2;
            a->p.steps = (int32_t)v;
        } else if (!strcmp(o, "--seed")) {
            if (cli_parse_seed("sample", o, argv[++i], &a->p.seed)) return 2;
        } else if (!strcmp(o, "--first")) {
            if (cli_parse_int("sample", o, argv[++i], 0, UINT32_MAX, &v)) return 2;
            a->first = v;
        } else if (!strcmp(o, "--rtol")) {
            if (cli_parse_pos("sample", o, argv[++i], &a->p.rtol)) return 2;
        } else if (!strcmp(o, "--atol")) {
            if (cli_parse_pos("sample", o, argv[++i], &a->p.atol)) return 2;
        } else if (!strcmp(o, "--probability-flow")) {
            a->p.probability_flow = 1;
        } else if (!strcmp(o, "--no-denoise")) {
            a->p.denoise = 0;
        } else if (!strcmp(o, "--reference-batching")) {
            a->p.reference_batching = 1;
        } else if (!strcmp(o, "--device")) {
            cp->device = argv[++i];
        } else if (!strcmp(o, "--no-cache")) {
            cp->no_cache = 1;
        } else if (!strcmp(o, "-o")) {
            a->out_png = argv[++i];
        } else if (!strcmp(o, "--out-dir")) {
            a->out_dir = argv[++i];
        } else if (!strcmp(o, "--raw")) {
            a->raw = argv[++i];
        } else if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) {
            a->quiet = 1;
        } else {
            fprintf(stderr, "clsde sample: unknown option '%s' (clsde sample --help)\n", o);
            return 2;
        }
    }
    if (a->out_png && a->out_dir) {
        fprintf(stderr, "clsde sample: -o and --out-dir exclude each other\n");
        return 2;
    }
    if (!a->out_png && !a->out_dir && !a->raw) a->out_png = "samples.png";
    if (a->first + a->n - 1 > (long long)UINT32_MAX) {
        fprintf(stderr, "clsde sample: images %lld..%lld: the image index must stay below 2^32\n",
                (long long)a->first, (long long)(a->first + a->n - 1));
        return 2;
    }
    if (!batch_set) a->p.batch = a->n < 16 ? (int32_t)a->n : 16;
    return 0;
}

/* ---- outputs ---- */

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int mkdir_p1(const char *dir)
{
    if (is_dir(dir)) return 0;
    if (mkdir(dir, 0777) == 0) return 0;
    fprintf(stderr, "clsde sample: cannot create directory %s: %s\n", dir, strerror(errno));
    return -1;
}

int clsde_cmd_sample(int argc, char **argv)
{
    sample_args a;
    cli_opened o;
    clsde_context *ctx = NULL;
    clsde_model *model = NULL;
    clsde_model_info mi;
    clsde_sample_params r;
    clsde_sample_stats stats;
    clsde_status st;
    cli_progress pg;
    char settings[512], steps_s[48], seed_s[32];
    char version[64], err[512], device_s[512];
    float *x = NULL;
    int rc;
    size_t per;

    rc = cli_open("sample", argc, argv, parse, &a, &a.model, &o, &ctx);
    if (rc) return rc < 0 ? 0 : rc;
    rc = 1;
    st = clsde_model_load(ctx, a.model, &model);
    if (st != CLSDE_OK) goto fail;
    clsde_model_get_info(model, &mi);
    st = clsde_sample_params_resolve(model, &a.p, &r);
    if (st != CLSDE_OK) {
        fprintf(stderr, "clsde sample: %s\n", clsde_last_error(ctx));
        rc = 2;
        goto done;
    }
    per = (size_t)mi.num_channels * mi.image_size * mi.image_size;
    x = malloc((size_t)a.n * per * sizeof *x);
    if (!x) {
        fprintf(stderr, "clsde sample: out of memory for %lld images\n", (long long)a.n);
        goto done;
    }
    if (!strcmp(r.method, "pc"))
        snprintf(settings, sizeof settings,
                 "pc predictor=%s corrector=%s snr=%g n_steps_each=%d steps=%d "
                 "probability_flow=%d denoise=%d batch=%d reference_batching=%d",
                 r.predictor, r.corrector, r.snr, (int)r.n_steps_each, (int)r.steps,
                 (int)r.probability_flow, (int)r.denoise, (int)r.batch,
                 (int)r.reference_batching);
    else
        snprintf(settings, sizeof settings,
                 "ode rk45 rtol=%g atol=%g denoise=%d batch=%d reference_batching=%d", r.rtol,
                 r.atol, (int)r.denoise, (int)r.batch, (int)r.reference_batching);
    if (!a.quiet)
        fprintf(stderr, "clsde sample: %lld images of %s (%s, %dx%dx%d) with %s, seed %llu\n",
                (long long)a.n, a.model, mi.sde_name, (int)mi.num_channels, (int)mi.image_size,
                (int)mi.image_size, settings, (unsigned long long)r.seed);

    a.p.progress = cli_progress_report;
    a.p.progress_user = &pg;
    cli_progress_begin(&pg, "sample", a.quiet, a.n, r.batch,
                       !strcmp(r.method, "pc") ? r.steps : 1000);
    st = clsde_sample_run(ctx, model, &a.p, a.first, (int32_t)a.n, x, &stats);
    if (cli_progress_end(&pg, st)) {
        rc = 130;
        goto done;
    }
    if (st != CLSDE_OK) goto fail;

    if (!strcmp(r.method, "pc"))
        snprintf(steps_s, sizeof steps_s, "%d", (int)r.steps);
    else /* adaptive: the NFE range over the images */
        snprintf(steps_s, sizeof steps_s, "adaptive, NFE %d..%d", (int)stats.nfe_min,
                 (int)stats.nfe);
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)r.seed);
    snprintf(version, sizeof version, "clsde %s", clsde_version());
    {
        /* which device drew them: the samples are the same on any device up to float
         * noise, their time is not (PoCL's compute units follow POCL_MAX_PTHREAD_COUNT) */
        clsde_device_info dev;
        clsde_context_get_device(ctx, &dev);
        snprintf(device_s, sizeof device_s, "%s (%s, driver %s, %d compute units)", dev.name,
                 dev.platform, dev.driver_version, (int)dev.compute_units);
    }
    {
        char first_s[32];
        const png_text_kv text[8] = {{"Software", version}, {"model", a.model},
                                     {"sampler", settings}, {"steps", steps_s},
                                     {"seed", seed_s},     {"first image", first_s},
                                     {"device", device_s}, {"command", o.cmdline}};
        const int ntext = (int)(sizeof text / sizeof *text);
        snprintf(first_s, sizeof first_s, "%lld", (long long)a.first);
        if (a.out_png &&
            png_write_grid(a.out_png, x, (int)a.n, mi.num_channels, mi.image_size, mi.image_size,
                           0, text, ntext, err, sizeof err)) {
            fprintf(stderr, "clsde sample: %s\n", err);
            goto done;
        }
        if (a.out_dir) {
            if (mkdir_p1(a.out_dir)) goto done;
            for (int64_t i = 0; i < a.n; i++) {
                char path[PATH_MAX];
                snprintf(path, sizeof path, "%s/%06lld.png", a.out_dir, (long long)(a.first + i));
                if (png_write_grid(path, x + i * per, 1, mi.num_channels, mi.image_size,
                                   mi.image_size, 1, text, ntext, err, sizeof err)) {
                    fprintf(stderr, "clsde sample: %s\n", err);
                    goto done;
                }
            }
        }
        if (a.raw) {
            const int64_t shape[4] = {a.n, mi.num_channels, mi.image_size, mi.image_size};
            const clsde_st_write_tensor w = {"x", CLSDE_DTYPE_F32, 4, shape, x};
            clsde_st_kv meta[sizeof text / sizeof *text];
            for (int i = 0; i < ntext; i++)
                meta[i].key = text[i].key, meta[i].value = text[i].value;
            st = clsde_safetensors_write(ctx, a.raw, &w, 1, meta, ntext);
            if (st != CLSDE_OK) goto fail;
        }
    }
    if (!a.quiet) {
        const char *dest = a.out_png ? a.out_png : a.out_dir ? a.out_dir : a.raw;
        if (!strcmp(r.method, "pc"))
            fprintf(stderr, "clsde sample: %lld images in %.1f s (%.3f s/image), NFE %d per image "
                            "(the reference reports %d) -> %s\n",
                    (long long)a.n, stats.seconds, stats.seconds / a.n, (int)stats.nfe,
                    (int)stats.nfe_reference, dest);
        else
            fprintf(stderr, "clsde sample: %lld images in %.1f s (%.3f s/image), NFE %d..%d "
                            "(mean %.1f) per image -> %s\n",
                    (long long)a.n, stats.seconds, stats.seconds / a.n, (int)stats.nfe_min,
                    (int)stats.nfe, stats.nfe_mean, dest);
    }
    rc = 0;
    goto done;
fail:
    cli_fail(ctx, st);
    rc = st == CLSDE_ERR_ARG || st == CLSDE_ERR_UNSUPPORTED ? 2 : 1;
done:
    free(x);
    clsde_model_destroy(model);
    clsde_context_destroy(ctx);
    return rc;
}
