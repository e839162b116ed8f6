/*
 * info.c — `clsde info MODEL [--graph] [--batch B] [--device SEL] [--no-cache]`: what a
 * model file holds (architecture, config, SDE, parameters) and what its network costs on
 * the selected device (FLOPs per forward, planned activation memory vs the naive sum,
 * weight memory); --graph prints the graph, one line per node.
 * The config details come from the loader's parsed config (src/model.h): like `bench`,
 * this command links the internal library, since the public header has no config dump.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"

static const char *prog_name(clsde_progressive p)
{
    switch (p) {
    case CLSDE_PROG_NONE: return "none";
    case CLSDE_PROG_OUTPUT_SKIP: return "output_skip";
    case CLSDE_PROG_INPUT_SKIP: return "input_skip";
    case CLSDE_PROG_RESIDUAL: return "residual";
    }
    return "?";
}

static void print_config(const clsde_model *m)
{
    const clsde_model_config *c = &m->cfg;
    printf("architecture   %s (%s)\n", c->name,
           c->arch == CLSDE_ARCH_DDPM ? "DDPM U-Net, models/ddpm.py"
           : c->embedding_type == CLSDE_EMBED_FOURIER ? "NCSN++, models/ncsnpp.py"
                                                      : "DDPM++/NCSN++, models/ncsnpp.py");
    printf("image          %d x %d x %d, %s\n", c->num_channels, c->image_size, c->image_size,
           c->centered ? "centred data [-1, 1]" : "data [0, 1] (the network maps x to 2x - 1)");
    printf("widths         nf %d, ch_mult (", c->nf);
    for (int32_t i = 0; i < c->n_levels; i++) printf("%s%d", i ? "," : "", c->ch_mult[i]);
    printf("), num_res_blocks %d, attention at (", c->num_res_blocks);
    for (int32_t i = 0; i < c->n_attn; i++) printf("%s%d", i ? "," : "", c->attn_resolutions[i]);
    printf(")\n");
    if (c->arch == CLSDE_ARCH_NCSNPP)
        printf("blocks         resblock %s, fir %s, skip_rescale %s, progressive %s / %s (%s), "
               "resamp_with_conv %s\n",
               c->resblock_type == CLSDE_RESBLOCK_BIGGAN ? "biggan" : "ddpm",
               c->fir ? "yes" : "no", c->skip_rescale ? "yes" : "no", prog_name(c->progressive),
               prog_name(c->progressive_input),
               c->progressive_combine == CLSDE_COMBINE_CAT ? "cat" : "sum",
               c->resamp_with_conv ? "yes" : "no");
    else
        printf("blocks         ResnetBlockDDPM, resamp_with_conv %s\n",
               c->resamp_with_conv ? "yes" : "no");
    printf("embedding      %s, conditional %s, scale_by_sigma %s\n",
           c->arch == CLSDE_ARCH_DDPM || c->embedding_type == CLSDE_EMBED_POSITIONAL
               ? "positional (sinusoidal)" : "Gaussian Fourier",
           c->conditional ? "yes" : "no", c->scale_by_sigma ? "yes" : "no");
}

int clsde_cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int graph = 0;
    int32_t batch = 1;
    clsde_context_params params;
    clsde_context *ctx = NULL;
    clsde_model *model = NULL;
    clsde_net *net = NULL;
    clsde_model_info mi;
    clsde_net_info ni;
    clsde_device_info dev;
    clsde_status st;
    int rc = 1;

    clsde_context_params_default(&params);
    params.log = cli_logger;
    params.log_level = CLSDE_LOG_WARNING;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--graph")) {
            graph = 1;
        } else if (!strcmp(argv[i], "--no-cache")) {
            params.no_cache = 1;
        } else if ((!strcmp(argv[i], "--device") || !strcmp(argv[i], "--batch")) && i + 1 >= argc) {
            fprintf(stderr, "clsde info: %s needs a value\n", argv[i]);
            return 2;
        } else if (!strcmp(argv[i], "--device")) {
            params.device = argv[++i];
        } else if (!strcmp(argv[i], "--batch")) {
            char *end;
            const long b = strtol(argv[++i], &end, 10);
            if (*end || b < 1 || b > 65536) {
                fprintf(stderr, "clsde info: --batch '%s' is not a number in 1..65536\n", argv[i]);
                return 2;
            }
            batch = (int32_t)b;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "clsde info: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "clsde info: one model file, got '%s' and '%s'\n", path, argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "clsde info: which model? usage: clsde info MODEL.safetensors [--graph] "
                        "[--batch B] [--device SEL]\n");
        return 2;
    }

    st = clsde_context_create(&params, &ctx);
    if (st != CLSDE_OK) return cli_fail(NULL, st);
    st = clsde_model_load(ctx, path, &model);
    if (st != CLSDE_OK) goto fail;
    st = clsde_model_get_info(model, &mi);
    if (st != CLSDE_OK) goto fail;
    printf("model          %s\n", path);
    print_config(model);
    printf("parameters     %lld in %d tensors (%.1f MB)\n", (long long)mi.num_parameters,
           (int)mi.num_tensors, mi.weight_bytes / 1e6);
    if (mi.sde == CLSDE_SDE_VE)
        printf("SDE            %s, sigma %g .. %g, N %d, %s training, sampling eps %g\n",
               mi.sde_name, mi.sigma_min, mi.sigma_max, (int)mi.num_scales,
               mi.continuous ? "continuous" : "discrete", mi.sampling_eps);
    else
        printf("SDE            %s, beta %g .. %g, N %d, %s training, sampling eps %g\n",
               mi.sde_name, mi.beta_min, mi.beta_max, (int)mi.num_scales,
               mi.continuous ? "continuous" : "discrete", mi.sampling_eps);

    st = clsde_net_create(ctx, model, batch, &net);
    if (st != CLSDE_OK) goto fail;
    st = clsde_net_get_info(net, &ni);
    if (st != CLSDE_OK) goto fail;
    st = clsde_context_get_device(ctx, &dev);
    if (st != CLSDE_OK) goto fail;
    printf("forward        %.4g GFLOP per image (+%.3g M element ops), %d graph nodes\n",
           ni.flops_per_image * 1e-9, ni.elementwise_per_image * 1e-6, (int)ni.nodes);
    printf("memory         batch %d on %s: activations %.2f MB planned vs %.2f MB naive sum "
           "(%.1fx less), weights %.2f MB\n",
           (int)ni.batch, dev.name, ni.activation_bytes / 1e6, ni.activation_naive_bytes / 1e6,
           (double)ni.activation_naive_bytes / (double)ni.activation_bytes,
           ni.weight_bytes / 1e6);
    {   /* the kernel parameters the convolutions get on this device (clsde tune) */
        clsde_tune_info ti;
        st = clsde_context_get_tune_info(ctx, &ti);
        if (st != CLSDE_OK) goto fail;
        if (ti.tuned_rows || ti.override_rows)
            printf("tuning         %d tuned row%s%s%s, %d override row%s; shape classes without "
                   "a row use the device-property defaults\n",
                   (int)ti.tuned_rows, ti.tuned_rows == 1 ? "" : "s",
                   ti.tuned_rows ? " from " : "", ti.tuned_rows ? ti.tune_file : "",
                   (int)ti.override_rows, ti.override_rows == 1 ? "" : "s");
        else
            printf("tuning         none for this device%s: conv2d uses defaults from the device's "
                   "properties (run `clsde tune --model %s --batch %d`)\n",
                   ti.file_rejected ? " (its tune file was rejected)" : "", path, (int)ni.batch);
        printf("CLBlast        %s\n", ti.clblast ? ti.clblast_version : "not in this build");
    }
    if (graph) {
        printf("\n");
        st = clsde_net_print_graph(net, stdout);
        if (st != CLSDE_OK) goto fail;
    }
    rc = 0;
fail:
    if (rc) cli_fail(ctx, st);
    clsde_net_destroy(net);
    clsde_model_destroy(model);
    clsde_context_destroy(ctx);
    return rc;
}
