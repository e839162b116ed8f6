/*
 * tune.c — the tune table: rows in memory, the JSON file (parse, checksum, atomic write),
 * the per-context load with its fallback chain, and the public tune calls (tune.h has the
 * key, the format and the chain). Nothing here knows what a parameter string means.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sha256.h"
#include "tune.h"

#define MAX_FILE_BYTES (4 << 20) /* a tune file is a few KB; anything larger is not ours */

/* ------------------------------------------------------------ the table */

const clsde_tune_row *clsde_tune_table_find(const clsde_tune_table *t, const char *op,
                                            const char *cls)
{
    for (int32_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].op, op) && !strcmp(t->rows[i].cls, cls)) return &t->rows[i];
    return NULL;
}

static int clean(const char *s)
{
    return *s && !strpbrk(s, "\t\n\r");
}

clsde_status clsde_tune_table_set(clsde_tune_table *t, const clsde_tune_row *r)
{
    clsde_tune_row *slot = (clsde_tune_row *)clsde_tune_table_find(t, r->op, r->cls);
    CLSDE_FAIL_IF(!clean(r->op) || !clean(r->cls) || !clean(r->params), NULL, CLSDE_ERR_ARG,
                  "tune row: op, class and params must be non-empty single-line text");
    if (!slot) {
        if (t->n == t->cap) {
            const int32_t cap = t->cap ? 2 * t->cap : 16;
            clsde_tune_row *p = realloc(t->rows, (size_t)cap * sizeof *p);
            CLSDE_FAIL_IF(!p, NULL, CLSDE_ERR_NOMEM, "out of memory (tune table)");
            t->rows = p;
            t->cap = cap;
        }
        slot = &t->rows[t->n++];
    }
    *slot = *r;
    return CLSDE_OK;
}

void clsde_tune_table_free(clsde_tune_table *t)
{
    free(t->rows);
    t->rows = NULL;
    t->n = t->cap = 0;
}

void clsde_tune_table_checksum(const clsde_tune_table *t, char hex[65])
{
    clsde_sha256_ctx s;
    uint8_t d[32];
    clsde_sha256_init(&s);
    for (int32_t i = 0; i < t->n; i++) {
        const clsde_tune_row *r = &t->rows[i];
        clsde_sha256_update(&s, r->op, strlen(r->op));
        clsde_sha256_update(&s, "\t", 1);
        clsde_sha256_update(&s, r->cls, strlen(r->cls));
        clsde_sha256_update(&s, "\t", 1);
        clsde_sha256_update(&s, r->params, strlen(r->params));
        clsde_sha256_update(&s, "\n", 1);
    }
    clsde_sha256_final(&s, d);
    clsde_sha256_hex(d, hex);
}

void clsde_tune_device_key(const clsde_device_info *d, char hex[65])
{
    clsde_sha256_ctx s;
    uint8_t dig[32];
    clsde_sha256_init(&s);
    clsde_sha256_update(&s, d->platform, strlen(d->platform) + 1);
    clsde_sha256_update(&s, d->name, strlen(d->name) + 1);
    clsde_sha256_update(&s, d->driver_version, strlen(d->driver_version) + 1);
    clsde_sha256_final(&s, dig);
    clsde_sha256_hex(dig, hex);
}

char *clsde_tune_table_serialize(const clsde_tune_table *t, const clsde_device_info *d)
{
    char sum[65];
    char *text = NULL;
    cJSON *root = cJSON_CreateObject(), *rows = NULL;
    clsde_tune_table_checksum(t, sum);
    if (!root || !cJSON_AddNumberToObject(root, "clsde_tune_format", CLSDE_TUNE_FORMAT) ||
        !cJSON_AddStringToObject(root, "platform", d->platform) ||
        !cJSON_AddStringToObject(root, "device", d->name) ||
        !cJSON_AddStringToObject(root, "driver", d->driver_version) ||
        !cJSON_AddStringToObject(root, "checksum", sum) ||
        !(rows = cJSON_AddArrayToObject(root, "rows")))
        goto done;
    for (int32_t i = 0; i < t->n; i++) {
        const clsde_tune_row *r = &t->rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) goto done;
        cJSON_AddItemToArray(rows, o);
        if (!cJSON_AddStringToObject(o, "op", r->op) ||
            !cJSON_AddStringToObject(o, "class", r->cls) ||
            !cJSON_AddStringToObject(o, "params", r->params) ||
            !cJSON_AddStringToObject(o, "shape", r->shape) ||
            !cJSON_AddNumberToObject(o, "ms", r->ms) ||
            !cJSON_AddNumberToObject(o, "default_ms", r->default_ms))
            goto done;
    }
    text = cJSON_Print(root);
done:
    cJSON_Delete(root);
    return text;
}

/* Copy a JSON string member into out (size n). 0 ok, -1 missing / not a string / too long. */
static int get_str(const cJSON *o, const char *key, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) >= n) return -1;
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

static double get_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

#define BAD(...)                                                                       \
    do {                                                                              \
        snprintf(why, nwhy, __VA_ARGS__);                                             \
        goto fail;                                                                    \
    } while (0)

/* One device string: must equal `want` when present; must be present when strict. */
static int device_field_ok(const cJSON *root, const char *key, const char *want, int strict,
                           char *why, size_t nwhy)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        if (strict) snprintf(why, nwhy, "no \"%s\"", key);
        return !strict;
    }
    if (!cJSON_IsString(v) || strcmp(v->valuestring, want) != 0) {
        snprintf(why, nwhy, "written for %s '%s', this is '%s'", key,
                 cJSON_IsString(v) ? v->valuestring : "?", want);
        return 0;
    }
    return 1;
}

clsde_status clsde_tune_table_parse(const char *json, size_t len, const clsde_device_info *d,
                                    int strict, clsde_tune_table *t, char *why, size_t nwhy)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *fmt, *rows, *row, *sum;
    char want[65];

    clsde_tune_table_free(t);
    if (!root) BAD("not valid JSON (near byte %ld)", cJSON_GetErrorPtr() && json
                                                        ? (long)(cJSON_GetErrorPtr() - json)
                                                        : -1L);
    if (!cJSON_IsObject(root)) BAD("not a JSON object");
    fmt = cJSON_GetObjectItemCaseSensitive(root, "clsde_tune_format");
    if (!cJSON_IsNumber(fmt) || fmt->valuedouble != CLSDE_TUNE_FORMAT)
        BAD("clsde_tune_format is not %d", CLSDE_TUNE_FORMAT);
    if (!device_field_ok(root, "platform", d->platform, strict, why, nwhy) ||
        !device_field_ok(root, "device", d->name, strict, why, nwhy) ||
        !device_field_ok(root, "driver", d->driver_version, strict, why, nwhy))
        goto fail;
    rows = cJSON_GetObjectItemCaseSensitive(root, "rows");
    if (!cJSON_IsArray(rows)) BAD("\"rows\" is not an array");
    cJSON_ArrayForEach(row, rows) {
        clsde_tune_row r;
        memset(&r, 0, sizeof r);
        if (!cJSON_IsObject(row) || get_str(row, "op", r.op, sizeof r.op) ||
            get_str(row, "class", r.cls, sizeof r.cls) ||
            get_str(row, "params", r.params, sizeof r.params))
            BAD("row %d: needs string fields op, class and params (within their lengths)",
                (int)t->n);
        get_str(row, "shape", r.shape, sizeof r.shape); /* informational */
        r.ms = get_num(row, "ms");
        r.default_ms = get_num(row, "default_ms");
        if (clsde_tune_table_find(t, r.op, r.cls))
            BAD("row %d: a second row for %s '%s'", (int)t->n, r.op, r.cls);
        if (clsde_tune_table_set(t, &r) != CLSDE_OK)
            BAD("row %d: empty or multi-line text, or out of memory", (int)t->n);
    }
    sum = cJSON_GetObjectItemCaseSensitive(root, "checksum");
    if (sum || strict) {
        clsde_tune_table_checksum(t, want);
        if (!cJSON_IsString(sum)) BAD("no \"checksum\"");
        if (strcmp(sum->valuestring, want) != 0)
            BAD("checksum mismatch (rows edited or damaged)");
    }
    cJSON_Delete(root);
    return CLSDE_OK;
fail:
    cJSON_Delete(root);
    clsde_tune_table_free(t);
    return CLSDE_ERR_FORMAT;
}

clsde_status clsde_tune_file_read(const char *path, const clsde_device_info *d, int strict,
                                  clsde_tune_table *t, int *absent, char *why, size_t nwhy)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    size_t got;
    clsde_status st;

    *absent = 0;
    clsde_tune_table_free(t);
    if (!f) {
        *absent = errno == ENOENT;
        snprintf(why, nwhy, "cannot open: %s", strerror(errno));
        return CLSDE_ERR_IO;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(why, nwhy, "cannot read: %s", strerror(errno));
        fclose(f);
        return CLSDE_ERR_IO;
    }
    if (size > MAX_FILE_BYTES) {
        snprintf(why, nwhy, "%ld bytes, more than a tune file holds", size);
        fclose(f);
        return CLSDE_ERR_FORMAT;
    }
    buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        snprintf(why, nwhy, "out of memory");
        return CLSDE_ERR_NOMEM;
    }
    got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        snprintf(why, nwhy, "short read");
        return CLSDE_ERR_IO;
    }
    st = clsde_tune_table_parse(buf, got, d, strict, t, why, nwhy);
    free(buf);
    return st;
}

static int mkdir_p(const char *path)
{
    char tmp[CLSDE_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

clsde_status clsde_tune_file_write(const char *path, const clsde_tune_table *t,
                                   const clsde_device_info *d, char *why, size_t nwhy)
{
    char dir[CLSDE_PATH_MAX], tmp[CLSDE_PATH_MAX + 64];
    char *text = clsde_tune_table_serialize(t, d), *slash;
    size_t len;
    int fd, ok;
    FILE *f;

    if (!text) {
        snprintf(why, nwhy, "out of memory");
        return CLSDE_ERR_NOMEM;
    }
    len = strlen(text);
    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    if (mkdir_p(dir) != 0) {
        snprintf(why, nwhy, "cannot create %s: %s", dir, strerror(errno));
        free(text);
        return CLSDE_ERR_IO;
    }
    snprintf(tmp, sizeof tmp, "%s/.tune-%ld-%ld-XXXXXX", dir, (long)getpid(), (long)time(NULL));
    fd = mkstemp(tmp);
    if (fd < 0 || !(f = fdopen(fd, "wb"))) {
        snprintf(why, nwhy, "cannot create a file in %s: %s", dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(text);
        return CLSDE_ERR_IO;
    }
    ok = fwrite(text, 1, len, f) == len && fputc('\n', f) != EOF;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(why, nwhy, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return CLSDE_ERR_IO;
    }
    return CLSDE_OK;
}

/* ------------------------------------------------------------ per context */

void clsde_tune_file_path(const clsde_context *ctx, char *out, size_t n)
{
    char key[65];
    if (!ctx->cache_dir[0]) {
        if (n) out[0] = '\0';
        return;
    }
    clsde_tune_device_key(&ctx->info, key);
    snprintf(out, n, "%s/tune-%s.json", ctx->cache_dir, key);
}

static clsde_status state(clsde_context *ctx, clsde_tune_state **out)
{
    if (!ctx->tune) {
        ctx->tune = calloc(1, sizeof *ctx->tune);
        CLSDE_FAIL_IF(!ctx->tune, ctx, CLSDE_ERR_NOMEM, "out of memory (tune state)");
    }
    *out = ctx->tune;
    return CLSDE_OK;
}

/* Read the user override at `path` into s->override. Returns the status; why is set. */
static clsde_status load_override(clsde_context *ctx, clsde_tune_state *s, const char *path,
                                  char *why, size_t nwhy)
{
    int absent;
    clsde_tune_table t = {NULL, 0, 0};
    const clsde_status st = clsde_tune_file_read(path, &ctx->info, 0, &t, &absent, why, nwhy);
    if (st != CLSDE_OK) return st;
    clsde_tune_table_free(&s->override);
    s->override = t;
    snprintf(s->override_path, sizeof s->override_path, "%s", path);
    return CLSDE_OK;
}

static clsde_status load(clsde_context *ctx, int searching)
{
    clsde_tune_state *s = NULL;
    char why[512];
    int absent = 0;
    const char *env = getenv("CLSDE_TUNE_FILE");
    clsde_status st;

    CLSDE_TRY(state(ctx, &s));
    if (s->loaded) return CLSDE_OK;
    s->loaded = 1;
    clsde_tune_file_path(ctx, s->path, sizeof s->path);
    if (s->path[0]) {
        st = clsde_tune_file_read(s->path, &ctx->info, 1, &s->tuned, &absent, why, sizeof why);
        if (st == CLSDE_ERR_NOMEM) return clsde_error_set(ctx, st, "tune file %s: %s", s->path, why);
        if (st != CLSDE_OK && !absent) {
            s->file_rejected = 1;
            clsde_log(ctx, CLSDE_LOG_WARNING,
                      "tune file %s is not usable (%s); ignoring it, using the default "
                      "parameters (run `clsde tune --force` to rewrite it)", s->path, why);
        }
    }
    if (env && *env) {
        st = load_override(ctx, s, env, why, sizeof why);
        if (st != CLSDE_OK)
            clsde_log(ctx, CLSDE_LOG_WARNING, "CLSDE_TUNE_FILE %s is not usable (%s); ignoring it",
                      env, why);
        else
            clsde_log(ctx, CLSDE_LOG_INFO, "CLSDE_TUNE_FILE %s: %d override row%s", env,
                      (int)s->override.n, s->override.n == 1 ? "" : "s");
    }
    if (s->tuned.n) {
        clsde_log(ctx, CLSDE_LOG_INFO, "tuned parameters for %s: %d row%s from %s",
                  ctx->info.name, (int)s->tuned.n, s->tuned.n == 1 ? "" : "s", s->path);
    } else if (!searching) {
        const char *no_cache = s->path[0] ? "" : " [the cache is off, so none can be stored]";
        if (ctx->info.type == CLSDE_DEVICE_CPU) /* defaults tuned by hand: tuning adds ~5% */
            clsde_log(ctx, CLSDE_LOG_INFO,
                      "no tuned parameters for %s; using defaults (run `clsde tune`)%s",
                      ctx->info.name, no_cache);
        else /* on an H100 tuning made a full-size network 3.7x faster at batch 1 */
            clsde_log(ctx, CLSDE_LOG_WARNING,
                      "no tuned parameters for %s; using defaults, which can be several "
                      "times slower on a GPU: run `clsde tune --model MODEL --batch B` once "
                      "for this device%s", ctx->info.name, no_cache);
    }
    return CLSDE_OK;
}

clsde_status clsde_tune_load(clsde_context *ctx)
{
    return load(ctx, 0);
}

clsde_status clsde_tune_load_for_search(clsde_context *ctx)
{
    return load(ctx, 1);
}

void clsde_tune_warn_once(clsde_context *ctx, clsde_log_level level, const char *key,
                          const char *fmt, ...)
{
    clsde_tune_state *s = NULL;
    char buf[CLSDE_MSG_MAX];
    va_list ap;
    if (state(ctx, &s) != CLSDE_OK) return;
    for (int32_t i = 0; i < s->n_warned; i++)
        if (!strcmp(s->warned[i], key)) return;
    if (s->n_warned == s->cap_warned) {
        const int32_t cap = s->cap_warned ? 2 * s->cap_warned : 16;
        char **p = realloc(s->warned, (size_t)cap * sizeof *p);
        if (!p) return;
        s->warned = p;
        s->cap_warned = cap;
    }
    if (!(s->warned[s->n_warned] = malloc(strlen(key) + 1))) return;
    strcpy(s->warned[s->n_warned++], key);
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    clsde_log(ctx, level, "%s", buf);
}

const char *clsde_tune_lookup(clsde_context *ctx, const char *op, const char *cls,
                              clsde_tune_source *source)
{
    const clsde_tune_row *r = NULL;
    clsde_tune_source src = CLSDE_TUNE_DEFAULT;
    if (clsde_tune_load(ctx) == CLSDE_OK) {
        clsde_tune_state *s = ctx->tune;
        if ((r = clsde_tune_table_find(&s->override, op, cls))) src = CLSDE_TUNE_OVERRIDE;
        else if ((r = clsde_tune_table_find(&s->tuned, op, cls))) src = CLSDE_TUNE_TUNED;
        if (r) {
            s->hits++;
        } else {
            char key[128];
            s->misses++;
            /* Only worth a line when a table exists: the load already said there is none. */
            snprintf(key, sizeof key, "miss %s %s", op, cls);
            if (s->tuned.n || s->override.n)
                clsde_tune_warn_once(ctx, CLSDE_LOG_INFO, key,
                                     "%s class '%s': no tuned row; using the defaults", op, cls);
        }
    }
    if (source) *source = src;
    return r ? r->params : NULL;
}

clsde_status clsde_tune_put(clsde_context *ctx, const clsde_tune_row *r)
{
    clsde_status st;
    CLSDE_TRY(clsde_tune_load(ctx));
    st = clsde_tune_table_set(&ctx->tune->tuned, r);
    if (st != CLSDE_OK) clsde_error_adopt(ctx);
    return st;
}

int clsde_tune_clblast_version(const char **version)
{
#ifdef CLSDE_HAVE_CLBLAST
    if (version) *version = CLSDE_CLBLAST_VERSION;
    return 1;
#else
    if (version) *version = "";
    return 0;
#endif
}

void clsde_tune_clear(clsde_context *ctx)
{
    if (clsde_tune_load(ctx) == CLSDE_OK) clsde_tune_table_free(&ctx->tune->tuned);
}

clsde_status clsde_tune_save(clsde_context *ctx)
{
    char why[CLSDE_PATH_MAX + 128];
    clsde_status st;
    CLSDE_TRY(clsde_tune_load(ctx));
    CLSDE_FAIL_IF(!ctx->tune->path[0], ctx, CLSDE_ERR_CACHE,
                  "the cache is off (no cache directory): tuned parameters cannot be stored");
    st = clsde_tune_file_write(ctx->tune->path, &ctx->tune->tuned, &ctx->info, why, sizeof why);
    CLSDE_FAIL_IF(st != CLSDE_OK, ctx, st, "tune file: %s", why);
    ctx->tune->file_rejected = 0;
    return CLSDE_OK;
}

void clsde_tune_release(clsde_context *ctx)
{
    clsde_tune_state *s = ctx->tune;
    if (!s) return;
    clsde_tune_table_free(&s->tuned);
    clsde_tune_table_free(&s->override);
    for (int32_t i = 0; i < s->n_warned; i++) free(s->warned[i]);
    free(s->warned);
    free(s);
    ctx->tune = NULL;
}

/* ------------------------------------------------------------ public calls */

clsde_status clsde_context_load_tune_file(clsde_context *ctx, const char *path)
{
    clsde_tune_state *s = NULL;
    char why[512];
    clsde_status st;
    CLSDE_FAIL_IF(!ctx || !path || !*path, ctx, CLSDE_ERR_ARG,
                  "clsde_context_load_tune_file: NULL or empty argument");
    CLSDE_TRY(clsde_tune_load(ctx));
    s = ctx->tune;
    st = load_override(ctx, s, path, why, sizeof why);
    CLSDE_FAIL_IF(st != CLSDE_OK, ctx, st, "tune file %s: %s", path, why);
    clsde_log(ctx, CLSDE_LOG_INFO, "tune override %s: %d row%s", path, (int)s->override.n,
              s->override.n == 1 ? "" : "s");
    return CLSDE_OK;
}

clsde_status clsde_context_get_tune_info(clsde_context *ctx, clsde_tune_info *info)
{
    const char *version = "";
    CLSDE_FAIL_IF(!ctx || !info, ctx, CLSDE_ERR_ARG, "clsde_context_get_tune_info: NULL argument");
    CLSDE_TRY(clsde_tune_load(ctx));
    memset(info, 0, sizeof *info);
    info->tuned_rows = ctx->tune->tuned.n;
    info->override_rows = ctx->tune->override.n;
    info->file_rejected = ctx->tune->file_rejected;
    snprintf(info->tune_file, sizeof info->tune_file, "%s", ctx->tune->path);
    snprintf(info->override_file, sizeof info->override_file, "%s", ctx->tune->override_path);
    info->clblast = clsde_tune_clblast_version(&version);
    snprintf(info->clblast_version, sizeof info->clblast_version, "%s", version);
    return CLSDE_OK;
}
