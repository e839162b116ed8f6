/*
 * main.c — the `clsde` executable: dispatch to one file per command. Only this layer
 * turns statuses into exit codes and prints.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clsde <command> [options]\n"
            "\n"
            "commands:\n"
            "  devices [--build] [--device SEL] [--no-cache]   list OpenCL devices; --build\n"
            "                                                  compiles every kernel\n"
            "  bench kernels [--json] [--kernel NAME] [--batch 1,8]\n"
            "                                                  time kernels against measured roofs\n"
            "  bench forward --model M [--batch 1,8] [--torch] [--profile] [--jvp] [--json]\n"
            "                                                  one network evaluation (vs PyTorch)\n"
            "  bench sample --model M [--batch 1,16] [--steps 1000] [--measure K]\n"
            "                     [--samplers pc,ode] [--json]\n"
            "                                                  seconds per image of PC and ODE runs\n"
            "  info MODEL [--graph] [--batch B]                architecture, config, SDE, FLOPs,\n"
            "                                                  planned memory; --graph: the graph\n"
            "  forward --model M --input IN --output OUT [--score] [--batch B]\n"
            "          [--continuous | --label]                the network on IN's x [N,C,H,W]\n"
            "                                                  and t [N]; writes out (and score)\n"
            "  sample [--model M] [-n N] [--sampler pc|ode] [-o GRID.png] ...\n"
            "                                                  draw images (clsde sample --help)\n"
            "  likelihood [--model M] (--data mnist | --input X.safetensors) [-n N] ...\n"
            "                                                  NLL in bits/dim via the probability-\n"
            "                                                  flow ODE (clsde likelihood --help)\n"
            "  tune [--shapes PRESET | --model FILE] [--batch B] [--budget S] [--force]\n"
            "                                                  measure conv2d parameters for this\n"
            "                                                  device and store them (clsde tune -h)\n"
            "  version                                         print the version\n"
            "\n"
            "Device selection: --device N (index), --device NAME (substring), or the\n"
            "CLSDE_DEVICE environment variable; default: first GPU, else first CPU.\n"
            "Kernel binaries and tuned parameters (`clsde tune`) are cached in\n"
            "$CLSDE_CACHE_DIR, else $XDG_CACHE_HOME/clsde, else ~/.cache/clsde;\n"
            "CLSDE_TUNE_FILE names a tune file whose rows override them.\n");
}

int cli_fail(const clsde_context *ctx, clsde_status st)
{
    const char *msg = clsde_last_error(ctx);
    fprintf(stderr, "clsde: %s\n", msg && *msg ? msg : clsde_strerror(st));
    return 1;
}

void cli_logger(void *user, clsde_log_level level, const char *message)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)user;
    fprintf(stderr, "clsde: %s: %s\n", names[level], message);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("clsde %s\n", clsde_version());
        return 0;
    }
    if (!strcmp(argv[1], "devices")) return clsde_cmd_devices(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench")) return clsde_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info")) return clsde_cmd_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "forward")) return clsde_cmd_forward(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sample")) return clsde_cmd_sample(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tune")) return clsde_cmd_tune(argc - 1, argv + 1);
    if (!strcmp(argv[1], "likelihood")) return clsde_cmd_likelihood(argc - 1, argv + 1);
    fprintf(stderr, "clsde: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
