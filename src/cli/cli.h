/* cli.h — shared helpers of the `clsde` executable; it uses only include/clsde.h. */
#ifndef CLSDE_CLI_H
#define CLSDE_CLI_H

#include "clsde.h"

/* Each command: argc/argv start at the command name; returns the process exit code. */
int clsde_cmd_devices(int argc, char **argv);
int clsde_cmd_bench(int argc, char **argv);
int clsde_cmd_info(int argc, char **argv);
int clsde_cmd_forward(int argc, char **argv);
int clsde_cmd_sample(int argc, char **argv);
int clsde_cmd_bench_sample(int argc, char **argv); /* argv[0] "bench", argv[1] "sample" */
int clsde_cmd_bench_forward(int argc, char **argv); /* argv[0] "bench", argv[1] "forward" */
int clsde_cmd_tune(int argc, char **argv);

/* Print "clsde: <msg>" to stderr for a failed status. Returns 1. */
int cli_fail(const clsde_context *ctx, clsde_status st);
/* stderr logger for contexts created by the CLI. */
void cli_logger(void *user, clsde_log_level level, const char *message);

#endif
