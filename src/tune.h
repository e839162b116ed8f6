/*
 * tune.h — per-device kernel parameters: the tune table, its file, and the fallback chain
 * that kernel wrappers consult (style.md §1, §3). What the parameters mean is the op's
 * business (kernels/conv2d.h parses its own rows); this module stores and finds strings.
 *
 * Key: the device (platform name, device name, driver version) selects the file,
 *   <cache_dir>/tune-<SHA-256 of platform NUL device NUL driver NUL, hex>.json;
 *   inside, one row per (op, shape class) holds a parameter string. The file repeats the
 *   three device strings and carries a SHA-256 over its rows; a file that does not parse,
 *   names another device or driver, or fails its checksum is rejected with a logged
 *   warning and never used. Writes go to a temporary file in the same directory, then
 *   rename(), so a reader sees the old file or the new one, never half of one.
 *
 * Fallback chain, per lookup: the user override (CLSDE_TUNE_FILE, or
 *   clsde_context_load_tune_file; same format, device strings and checksum optional) ->
 *   the device's tuned rows (written by `clsde tune`) -> none: the op's device-property
 *   defaults. The table is loaded once per context, on first use; that load says through
 *   the logger (info) whether tuned parameters are in use for this device.
 *
 * Format (JSON):
 *   {"clsde_tune_format": 1, "platform": "...", "device": "...", "driver": "...",
 *    "checksum": "<hex SHA-256 over op TAB class TAB params LF of every row, in order>",
 *    "rows": [{"op": "conv2d", "class": "k3 s1 ci128 co128 hw1024 n8192",
 *              "params": "implicit tm=8 ...", "shape": "8x128x32x32->128 k3 s1",
 *              "ms": 52.1, "default_ms": 55.0}, ...]}
 *   "shape", "ms" and "default_ms" record what `clsde tune` measured; lookups ignore them.
 */
#ifndef CLSDE_TUNE_H
#define CLSDE_TUNE_H

#include "runtime.h"

#define CLSDE_TUNE_FORMAT 1

typedef struct clsde_tune_row {
    char op[16];       /* "conv2d" */
    char cls[64];      /* shape class, e.g. clsde_conv2d_class() */
    char params[192];  /* the op's parameter string */
    char shape[64];    /* the shape the row was measured on (informational) */
    double ms;         /* time of `params` on `shape`, 0 if not measured */
    double default_ms; /* time of the defaults on `shape`, 0 if not measured */
} clsde_tune_row;

typedef struct clsde_tune_table {
    clsde_tune_row *rows;
    int32_t n, cap;
} clsde_tune_table;

/* Where a parameter string came from. */
typedef enum clsde_tune_source {
    CLSDE_TUNE_DEFAULT = 0,  /* no row: the op's defaults */
    CLSDE_TUNE_TUNED = 1,    /* the device's tune file */
    CLSDE_TUNE_OVERRIDE = 2  /* CLSDE_TUNE_FILE / clsde_context_load_tune_file */
} clsde_tune_source;

/* Per-context state (ctx->tune), created on first use, freed by clsde_tune_release. */
typedef struct clsde_tune_state {
    int loaded;
    char path[CLSDE_PATH_MAX + 96];    /* the device's tune file; "" when the cache is off */
    char override_path[CLSDE_PATH_MAX];
    clsde_tune_table tuned;            /* rows of the device's file (and of clsde_tune_put) */
    clsde_tune_table override;         /* rows of the user override */
    int32_t file_rejected;             /* the device's file existed but was not used */
    char **warned;                     /* keys already warned about (clsde_tune_warn_once) */
    int32_t n_warned, cap_warned;
    int64_t hits, misses;              /* lookups answered by a row / by the defaults */
} clsde_tune_state;

/* ---- the table as data (no context; unit-testable) ---- */

/* The row for (op, cls), or NULL. */
const clsde_tune_row *clsde_tune_table_find(const clsde_tune_table *t, const char *op,
                                            const char *cls);
/* Insert or replace the row with r's (op, cls). CLSDE_ERR_NOMEM, CLSDE_ERR_ARG when a
 * string is empty or contains a TAB or newline (the checksum's separators). */
clsde_status clsde_tune_table_set(clsde_tune_table *t, const clsde_tune_row *r);
void clsde_tune_table_free(clsde_tune_table *t);

/* The hex SHA-256 the file stores over t's rows. */
void clsde_tune_table_checksum(const clsde_tune_table *t, char hex[65]);

/* JSON text of t for device d (malloc'ed; NULL when out of memory). */
char *clsde_tune_table_serialize(const clsde_tune_table *t, const clsde_device_info *d);

/* Parse JSON text (len bytes) into *t (emptied first). strict = 1 (a tune file of the
 * cache): the device strings must be present and equal d's, the checksum present and
 * right. strict = 0 (a user override): each is checked only if present. On failure
 * CLSDE_ERR_FORMAT with the reason in why (size nwhy), and *t is left empty. */
clsde_status clsde_tune_table_parse(const char *json, size_t len, const clsde_device_info *d,
                                    int strict, clsde_tune_table *t, char *why, size_t nwhy);

/* Read / write a file. read: CLSDE_ERR_IO when it cannot be opened (why says so; errno
 * ENOENT is reported as absent: *absent = 1), CLSDE_ERR_FORMAT as parse. write: atomic
 * (temporary file in the same directory, fsync, rename), creating the directory. */
clsde_status clsde_tune_file_read(const char *path, const clsde_device_info *d, int strict,
                                  clsde_tune_table *t, int *absent, char *why, size_t nwhy);
clsde_status clsde_tune_file_write(const char *path, const clsde_tune_table *t,
                                   const clsde_device_info *d, char *why, size_t nwhy);

/* The device part of the key: hex SHA-256 of platform NUL name NUL driver NUL. */
void clsde_tune_device_key(const clsde_device_info *d, char hex[65]);

/* ---- per context ---- */

/* The device's tune file path ("" when the cache is off). */
void clsde_tune_file_path(const clsde_context *ctx, char *out, size_t n);

/* Load once: the device's tune file, then CLSDE_TUNE_FILE. A rejected file is a logged
 * warning, not an error (the defaults still work); CLSDE_ERR_NOMEM is the only failure.
 * Says once what it found (rows, or none and `clsde tune` to make them). */
clsde_status clsde_tune_load(clsde_context *ctx);
/* The same for the tuner, which is about to make the rows: no "run clsde tune" line. */
clsde_status clsde_tune_load_for_search(clsde_context *ctx);

/* The parameter string for (op, cls) following the fallback chain, or NULL (defaults).
 * Loads the table on first use; *source (may be NULL) says where it came from. The first
 * miss of each class is logged (info) with the class named. */
const char *clsde_tune_lookup(clsde_context *ctx, const char *op, const char *cls,
                              clsde_tune_source *source);

/* Add or replace a row of the device's tuned table in memory (clsde_tune_save writes it). */
clsde_status clsde_tune_put(clsde_context *ctx, const clsde_tune_row *r);
/* Write the device's tuned table to its file. CLSDE_ERR_CACHE when the cache is off,
 * CLSDE_ERR_IO when the file cannot be written. */
clsde_status clsde_tune_save(clsde_context *ctx);
/* Forget the tuned rows in memory (for `clsde tune --force`); the file stays until saved. */
void clsde_tune_clear(clsde_context *ctx);

/* Log `fmt` at `level` once per context for `key` (repeated problems with one row are
 * reported once). */
void clsde_tune_warn_once(clsde_context *ctx, clsde_log_level level, const char *key,
                          const char *fmt, ...) CLSDE_PRINTF(4, 5);

void clsde_tune_release(clsde_context *ctx);

/* 1 when this build has CLBlast (meson option `clblast`), so that tuned rows may choose
 * its GEMM; *version (may be NULL) is set to its version, or "" without it. */
int clsde_tune_clblast_version(const char **version);

#endif /* CLSDE_TUNE_H */
