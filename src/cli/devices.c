/*
 * devices.c — `clsde devices [--build] [--device SEL] [--no-cache]`: the device table, the
 * selected device's tuned-parameter status and CLBlast availability, and optionally a build
 * of every kernel on the selected device with cache statistics.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *type_name(clsde_device_type t)
{
    switch (t) {
    case CLSDE_DEVICE_CPU: return "CPU";
    case CLSDE_DEVICE_GPU: return "GPU";
    case CLSDE_DEVICE_ACCELERATOR: return "ACCEL";
    default: return "OTHER";
    }
}

int clsde_cmd_devices(int argc, char **argv)
{
    int build = 0;
    clsde_context_params params;
    clsde_status st;
    int32_t n, selected = -1;

    clsde_context_params_default(&params);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--build")) {
            build = 1;
        } else if (!strcmp(argv[i], "--no-cache")) {
            params.no_cache = 1;
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            params.device = argv[++i];
        } else if (!strcmp(argv[i], "--device")) {
            fprintf(stderr, "clsde devices: --device needs a value (an index or a name)\n");
            return 2;
        } else {
            fprintf(stderr, "clsde devices: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }

    st = clsde_device_count(&n);
    if (st != CLSDE_OK) return cli_fail(NULL, st);
    st = clsde_device_select(params.device, &selected);
    if (st != CLSDE_OK) return cli_fail(NULL, st);

    printf("  %-3s %-28s %-36s %-5s %4s %10s %10s %-12s %4s %4s  %s\n", "#", "platform",
           "device", "type", "CUs", "global MB", "max alloc", "OpenCL C", "fp16", "fp64",
           "driver");
    for (int32_t i = 0; i < n; i++) {
        clsde_device_info d;
        st = clsde_device_get_info(i, &d);
        if (st != CLSDE_OK) return cli_fail(NULL, st);
        printf("%c %-3d %-28.28s %-36.36s %-5s %4d %10lld %10lld %-12.12s %4s %4s  %s\n",
               i == selected ? '*' : ' ', (int)i, d.platform, d.name, type_name(d.type),
               (int)d.compute_units, (long long)(d.global_mem_bytes >> 20),
               (long long)(d.max_alloc_bytes >> 20), d.opencl_c_version, d.fp16 ? "yes" : "no",
               d.fp64 ? "yes" : "no", d.driver_version);
    }
    printf("(* = selected by default or by --device / CLSDE_DEVICE)\n");

    {   /* what kernel parameters the selected device gets, and whether CLBlast is there */
        clsde_context *ctx = NULL;
        clsde_tune_info ti;
        st = clsde_context_create(&params, &ctx);
        if (st == CLSDE_OK) st = clsde_context_get_tune_info(ctx, &ti);
        if (st != CLSDE_OK) {
            const int rc = cli_fail(ctx, st);
            clsde_context_destroy(ctx);
            return rc;
        }
        if (ti.tuned_rows)
            printf("tuned parameters (device %d): %d row%s from %s\n", (int)selected,
                   (int)ti.tuned_rows, ti.tuned_rows == 1 ? "" : "s", ti.tune_file);
        else
            printf("tuned parameters (device %d): none%s; defaults from the device's "
                   "properties (run `clsde tune`)\n", (int)selected,
                   ti.file_rejected ? " usable (the tune file was rejected)" : "");
        if (ti.override_rows)
            printf("tune override: %d row%s from %s\n", (int)ti.override_rows,
                   ti.override_rows == 1 ? "" : "s", ti.override_file);
        if (ti.clblast)
            printf("CLBlast %s: available (a conv2d path `clsde tune` may choose)\n",
                   ti.clblast_version);
        else
            printf("CLBlast: not in this build (meson -Dclblast=enabled needs libclblast-dev); "
                   "conv2d uses clsde's kernel only\n");
        clsde_context_destroy(ctx);
    }

    if (build) {
        clsde_context *ctx = NULL;
        clsde_build_stats bs;
        params.log = cli_logger;
        params.log_level = CLSDE_LOG_WARNING;
        st = clsde_context_create(&params, &ctx);
        if (st != CLSDE_OK) return cli_fail(NULL, st);
        st = clsde_context_build_all(ctx);
        if (st != CLSDE_OK) {
            const int rc = cli_fail(ctx, st);
            clsde_context_destroy(ctx);
            return rc;
        }
        clsde_context_get_build_stats(ctx, &bs);
        printf("built %d programs in %.3f s: %d from cache, %d compiled, %d cache entries "
               "rejected (cache: %s)\n",
               (int)bs.programs, bs.seconds, (int)bs.cache_hits, (int)bs.cache_misses,
               (int)bs.cache_rejected,
               *clsde_context_cache_dir(ctx) ? clsde_context_cache_dir(ctx) : "off");
        clsde_context_destroy(ctx);
    }
    return 0;
}
