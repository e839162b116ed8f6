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
/* The bundled model: $CLSDE_MODELS_DIR's one score model (*.safetensors not named
 * classifier_*) when that is set, the only place looked at. Else the models/ directories next
 * to the executable's install prefix, the build and the source tree: the first that holds
 * the bundled file (the name of the one score model in the install or source models/),
 * else, when that name is unknown, the first with one score model. 0 found, -1 (said why). */
int cli_bundled_model(const char *cmd, char *path, size_t n);

/* The opening of a command that runs a model (sample, likelihood). parse() is the command's
 * own: it fills args and cp and returns 0 (go on), -1 (--help printed) or an exit code. */
typedef int (*cli_parse_fn)(int argc, char **argv, void *args, clsde_context_params *cp);
typedef struct cli_opened {
    char model_path[4160]; /* the bundled model's path when --model is absent (PATH_MAX + 64) */
    char cmdline[4096];    /* the command line, shell-quoted, for metadata */
} cli_opened;
/* Context parameters defaulted with cli_logger at warning level, parse(), the bundled model
 * (cli_bundled_model, into o->model_path) when *model is still NULL, o->cmdline, then *ctx
 * (the caller destroys it). Returns 0 to go on, -1 after --help (exit 0), else the exit code
 * with the message printed: parse()'s, or 1 (no bundled model, no context). */
int cli_open(const char *cmd, int argc, char **argv, cli_parse_fn parse, void *args,
             const char **model, cli_opened *o, clsde_context **ctx);

/* Progress line for clsde_progress_fn (a bar on a terminal, a line per 10 s otherwise);
 * returns 1 (cancel) once Ctrl-C was pressed between cli_progress_begin() and _end(). */
typedef struct cli_progress {
    const char *cmd;
    int tty, quiet;
    int64_t n;
    int32_t batch, per_chunk;
    double last_print;
} cli_progress;
int cli_progress_report(void *user, int32_t step, int32_t total, double elapsed);
/* Before a run of n images, batch (at most n) at a time, per_chunk progress steps per batch:
 * fills *p and catches Ctrl-C. */
void cli_progress_begin(cli_progress *p, const char *cmd, int quiet, int64_t n, int32_t batch,
                        int32_t per_chunk);
/* After the run that returned st: Ctrl-C back to its default. Returns 130 when Ctrl-C
 * cancelled the run ("clsde CMD: interrupted; nothing written" printed), else 0 (and a
 * failed run's progress bar has its line ended). */
int cli_progress_end(cli_progress *p, clsde_status st);

/* The command line, shell-quoted, for metadata. */
void cli_command_line(int argc, char **argv, char *out, size_t n);

#endif
