/*
 * cli_util.c — what several commands share: option values (integers, positive numbers,
 * seeds) with one message format, the bundled model's lookup, the opening of the commands
 * that run a model, the progress line and Ctrl-C, and the command line as PNG/safetensors
 * metadata records it.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#ifndef CLSDE_SOURCE_MODELS_DIR
#define CLSDE_SOURCE_MODELS_DIR ""
#endif
#ifndef CLSDE_INSTALL_MODELS_DIR
#define CLSDE_INSTALL_MODELS_DIR ""
#endif

int cli_bad(const char *cmd, const char *opt, const char *val, const char *what)
{
    fprintf(stderr, "clsde %s: %s '%s' %s\n", cmd, opt, val, what);
    return 2;
}

int cli_parse_int(const char *cmd, const char *opt, const char *v, long long lo, long long hi,
                  long long *out)
{
    char *end;
    long long x;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        char what[96];
        snprintf(what, sizeof what, "must be an integer in %lld..%lld", lo, hi);
        return cli_bad(cmd, opt, v, what);
    }
    *out = x;
    return 0;
}

int cli_parse_pos(const char *cmd, const char *opt, const char *v, double *out)
{
    char *end;
    double x;
    errno = 0;
    x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x) || !(x > 0))
        return cli_bad(cmd, opt, v, "must be a number > 0");
    *out = x;
    return 0;
}

int cli_parse_seed(const char *cmd, const char *opt, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    *out = strtoull(v, &end, 0);
    if (!*v || *end || errno || v[0] == '-')
        return cli_bad(cmd, opt, v, "must be an integer in 0..2^64-1");
    return 0;
}

/* ---- the bundled model ---- */

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The one score model in dir: 1 found (path written), 0 none, -1 several (listed on stderr
 * unless cmd is NULL). */
static int find_in(const char *cmd, const char *dir, char *path, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d) return 0;
    while ((e = readdir(d))) {
        const size_t len = strlen(e->d_name);
        if (len < 12 || strcmp(e->d_name + len - 12, ".safetensors") != 0) continue;
        if (!strncmp(e->d_name, "classifier_", 11)) continue;
        if (found) {
            if (found == 1 && cmd)
                fprintf(stderr, "clsde %s: several models in %s: %s", cmd, dir, path);
            if (cmd) fprintf(stderr, ", %s/%s", dir, e->d_name);
            found = -1;
            continue;
        }
        snprintf(path, n, "%s/%s", dir, e->d_name);
        found = 1;
    }
    closedir(d);
    if (found < 0 && cmd) fprintf(stderr, "; choose one with --model\n");
    return found;
}

/* The bundled model's file name: the one score model in the models/ directory this build
 * installs into or was configured from. 1 known (name written), 0 not (neither is there, or
 * one holds several models). */
static int bundled_name(char *name, size_t n)
{
    const char *const dirs[2] = {CLSDE_INSTALL_MODELS_DIR, CLSDE_SOURCE_MODELS_DIR};
    char path[PATH_MAX + 64];
    for (int i = 0; i < 2; i++) {
        if (!*dirs[i] || !is_dir(dirs[i]) || find_in(NULL, dirs[i], path, sizeof path) != 1)
            continue;
        snprintf(name, n, "%s", strrchr(path, '/') + 1);
        return 1;
    }
    return 0;
}

int cli_bundled_model(const char *cmd, char *path, size_t n)
{
    char exe[PATH_MAX], dirs[6][PATH_MAX + 64], name[256], *slash;
    const char *env = getenv("CLSDE_MODELS_DIR");
    int nd = 0;
    ssize_t len;
    if (env && *env) /* an explicit directory is the only place looked at */
        snprintf(dirs[nd++], sizeof dirs[0], "%s", env);
    len = env && *env ? -1 : readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(dirs[nd++], sizeof dirs[0], "%s/../share/clsde/models", exe); /* installed */
        snprintf(dirs[nd++], sizeof dirs[0], "%s/../models", exe);
        snprintf(dirs[nd++], sizeof dirs[0], "%s/../../models", exe); /* build/src/clsde */
    }
    if (!(env && *env) && *CLSDE_INSTALL_MODELS_DIR)
        snprintf(dirs[nd++], sizeof dirs[0], "%s", CLSDE_INSTALL_MODELS_DIR);
    if (!(env && *env) && *CLSDE_SOURCE_MODELS_DIR)
        snprintf(dirs[nd++], sizeof dirs[0], "%s", CLSDE_SOURCE_MODELS_DIR);
    /* The first directory that holds the bundled file wins, so that another models/ (say
     * build/models, looked at before the source tree's) cannot shadow it. */
    if (!(env && *env) && bundled_name(name, sizeof name))
        for (int i = 0; i < nd; i++) {
            snprintf(path, n, "%s/%s", dirs[i], name);
            if (is_file(path)) return 0;
        }
    for (int i = 0; i < nd; i++) {
        int r;
        if (!is_dir(dirs[i])) continue;
        r = find_in(cmd, dirs[i], path, n);
        if (r < 0) return -1;
        if (r > 0) return 0;
    }
    fprintf(stderr, "clsde %s: no --model given and no bundled model found; looked for a "
                    "score model (*.safetensors, not classifier_*) in:", cmd);
    for (int i = 0; i < nd; i++) fprintf(stderr, " %s", dirs[i]);
    fprintf(stderr, " (set CLSDE_MODELS_DIR or pass --model)\n");
    return -1;
}

/* ---- the opening of sample and likelihood ---- */

_Static_assert(sizeof ((cli_opened *)0)->model_path >= PATH_MAX + 64,
               "cli_opened.model_path holds a directory of PATH_MAX and a file name");

int cli_open(const char *cmd, int argc, char **argv, cli_parse_fn parse, void *args,
             const char **model, cli_opened *o, clsde_context **ctx)
{
    clsde_context_params cp;
    clsde_status st;
    int rc;
    *ctx = NULL;
    clsde_context_params_default(&cp);
    cp.log = cli_logger;
    cp.log_level = CLSDE_LOG_WARNING;
    rc = parse(argc, argv, args, &cp);
    if (rc) return rc;
    if (!*model) {
        if (cli_bundled_model(cmd, o->model_path, sizeof o->model_path)) return 1;
        *model = o->model_path;
    }
    cli_command_line(argc, argv, o->cmdline, sizeof o->cmdline); /* argv[0] is the command */
    st = clsde_context_create(&cp, ctx);
    if (st != CLSDE_OK) return cli_fail(NULL, st);
    return 0;
}

/* ---- progress ---- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void sigint_catch(int on)
{
    if (on) interrupted = 0;
    signal(SIGINT, on ? on_sigint : SIG_DFL);
}

void cli_progress_begin(cli_progress *p, const char *cmd, int quiet, int64_t n, int32_t batch,
                        int32_t per_chunk)
{
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->tty = isatty(2);
    p->quiet = quiet;
    p->n = n;
    p->batch = batch < n ? batch : (int32_t)n;
    p->per_chunk = per_chunk;
    sigint_catch(1);
}

int cli_progress_end(cli_progress *p, clsde_status st)
{
    sigint_catch(0);
    if (st == CLSDE_ERR_CANCELLED && interrupted) {
        fprintf(stderr, "%sclsde %s: interrupted; nothing written\n", p->tty ? "\n" : "",
                p->cmd);
        return 130;
    }
    if (st != CLSDE_OK && p->tty && !p->quiet) fputc('\n', stderr);
    return 0;
}

int cli_progress_report(void *user, int32_t step, int32_t total, double elapsed)
{
    cli_progress *p = user;
    if (interrupted) return 1;
    if (p->quiet) return 0;
    {
        const double frac = total ? (double)step / total : 1;
        const int64_t chunks_done = step / p->per_chunk;
        const int64_t done = chunks_done * p->batch < p->n ? chunks_done * p->batch : p->n;
        const double rate = elapsed > 0 ? step / elapsed : 0;
        const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
        const int final = step >= total;
        if (p->tty) {
            char bar[31];
            const int fill = (int)(frac * 30);
            for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
            bar[30] = 0;
            fprintf(stderr, "\r[%s] step %d/%d  images %lld/%lld  %.2f it/s  ETA %d:%02d  ", bar,
                    (int)step, (int)total, (long long)done, (long long)p->n, rate,
                    (int)(eta / 60), (int)fmod(eta, 60));
            if (final) fputc('\n', stderr);
        } else if (final || elapsed - p->last_print >= 10) {
            p->last_print = elapsed;
            fprintf(stderr, "clsde %s: step %d/%d (%.0f %%), images %lld/%lld, %.2f it/s, "
                            "ETA %.0f s\n",
                    p->cmd, (int)step, (int)total, 100 * frac, (long long)done, (long long)p->n,
                    rate, eta);
        }
        fflush(stderr);
    }
    return 0;
}

void cli_command_line(int argc, char **argv, char *out, size_t n)
{
    size_t len = snprintf(out, n, "clsde");
    for (int i = 0; i < argc && len < n; i++) {
        const int quote = strpbrk(argv[i], " \t'\"\\$") != NULL || !*argv[i];
        len += snprintf(out + len, n - len, quote ? " '%s'" : " %s", argv[i]);
    }
}
