/* cli.h — shared helpers of the `clsde` executable; it uses only include/clsde.h. */
#ifndef CLSDE_CLI_H
#define CLSDE_CLI_H

#include <stddef.h>
#include <stdint.h>

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
int clsde_cmd_likelihood(int argc, char **argv);

/* Print "clsde: <msg>" to stderr for a failed status. Returns 1. */
int cli_fail(const clsde_context *ctx, clsde_status st);
/* stderr logger for contexts created by the CLI. */
void cli_logger(void *user, clsde_log_level level, const char *message);

/* ---- cli_util.c ---- */

/* "clsde CMD: OPT 'VAL' WHAT" on stderr; returns 2 (bad command line). */
int cli_bad(const char *cmd, const char *opt, const char *val, const char *what);
/* Option values; 0 on success, else the message is printed and 2 returned. */
int cli_parse_int(const char *cmd, const char *opt, const char *v, long long lo, long long hi,
                  long long *out);
int cli_parse_pos(const char *cmd, const char *opt, const char *v, double *out);
int cli_parse_seed(const char *cmd, const char *opt, const char *v, uint64_t *out);
/* The bundled model: the one score model (*.safetensors not named classifier_*) in the
 * first models/ directory that has one ($CLSDE_MODELS_DIR alone when set; else next to the
 * executable's install prefix, the build or the source tree). 0 found, -1 (said why). */
int cli_bundled_model(const char *cmd, char *path, size_t n);

/* Progress line for clsde_progress_fn (a bar on a terminal, a line per 10 s otherwise);
 * returns 1 (cancel) once Ctrl-C was pressed under cli_sigint_catch(1). */
typedef struct cli_progress {
    const char *cmd;
    int tty, quiet;
    int64_t n;
    int32_t batch, per_chunk;
    double last_print;
} cli_progress;
int cli_progress_report(void *user, int32_t step, int32_t total, double elapsed);
void cli_sigint_catch(int on);
int cli_interrupted(void);

/* The command line, shell-quoted, for metadata. */
void cli_command_line(int argc, char **argv, char *out, size_t n);

#endif
