/*
 * bench.c (cli) — `clsde bench kernels [--json] [--kernel NAME] [--batch 1,8] [--device SEL]
 * [--min-time S]`. The one command that links the internal library (style.md §1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

int clsde_cmd_bench(int argc, char **argv)
{
    clsde_context_params params;
    clsde_context *ctx = NULL;
    clsde_bench b;
    clsde_status st;
    int batches[8] = {1, 8}, n_batches = 2;

    memset(&b, 0, sizeof b);
    b.out = stdout;
    b.min_seconds = 0.3;
    clsde_context_params_default(&params);
    params.log = cli_logger;
    params.log_level = CLSDE_LOG_WARNING;
    if (argc >= 2 && !strcmp(argv[1], "sample")) return clsde_cmd_bench_sample(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "forward")) return clsde_cmd_bench_forward(argc, argv);
    if (argc < 2 || strcmp(argv[1], "kernels") != 0) {
        fprintf(stderr, "usage: clsde bench kernels [--json] [--kernel NAME] [--batch 1,8] "
                        "[--device SEL] [--min-time SECONDS]\n"
                        "       clsde bench sample --model M [--batch 1,16] [--steps 1000] "
                        "[--json] [--device SEL]\n"
                        "       clsde bench forward --model M [--batch 1,8] [--json] [--torch] "
                        "[--threads N] [--min-time S] [--device SEL]\n"
                        "  --kernel conv2d_net: every conv of the CIFAR-10 NCSN++ network, "
                        "as tuned, with the defaults and with CLBlast, weighted by use\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            b.json = 1;
        } else if (!strcmp(argv[i], "--kernel") && i + 1 < argc) {
            b.filter = argv[++i];
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            params.device = argv[++i];
        } else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) {
            b.min_seconds = atof(argv[++i]);
            if (!(b.min_seconds > 0 && b.min_seconds < 600)) {
                fprintf(stderr, "clsde bench: --min-time must be in (0, 600) seconds\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            char *s = argv[++i], *end;
            n_batches = 0;
            while (*s && n_batches < 8) {
                const long v = strtol(s, &end, 10);
                if (end == s || v < 1 || v > 4096 || (*end && *end != ',')) {
                    fprintf(stderr, "clsde bench: --batch wants a list like 1,8 (1..4096)\n");
                    return 2;
                }
                batches[n_batches++] = (int)v;
                s = *end ? end + 1 : end;
            }
        } else {
            fprintf(stderr, "clsde bench: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    b.batches = batches;
    b.n_batches = n_batches;
    st = clsde_context_create(&params, &ctx);
    if (st != CLSDE_OK) return cli_fail(NULL, st);
    b.ctx = ctx;
    if (!b.json) {
        clsde_device_info d;
        clsde_context_get_device(ctx, &d);
        printf("device: %s / %s (driver %s)\n", d.platform, d.name, d.driver_version);
    }
    st = clsde_bench_init(&b);
    if (st == CLSDE_OK && !b.json) {
        printf("copy bandwidth (roof for memory-bound kernels): %.2f GB/s\n", b.copy_gbs);
        printf("launch overhead (empty kernel): %.1f us alone (enqueue + finish, as timed "
               "below), %.1f us each in a stream of 64\n",
               b.launch_us, b.launch_stream_us);
    }
    if (st == CLSDE_OK) st = clsde_bench_kernels(&b);
    if (st != CLSDE_OK) {
        const int rc = cli_fail(ctx, st);
        clsde_context_destroy(ctx);
        return rc;
    }
    clsde_context_destroy(ctx);
    return 0;
}
