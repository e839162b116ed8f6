/*
 * test_tune.c — the tune table (src/tune.c) and the conv2d tuner around it
 * (src/tune_search.c, the table side of src/kernels/conv2d.c): file round trip, damaged and
 * foreign files ignored with a warning, the key includes device and driver, the fallback
 * chain (override, tuned, defaults) and its log lines, one load per context, shape classes
 * and parameter strings, the network conv walk against networks.md's counts, the output
 * comparator, and a small end-to-end tune (a bad candidate rejected, the winner stored,
 * a new context picking it up).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernels/conv2d.h"
#include "model.h"
#include "tune.h"
#include "tune_search.h"
#include "../h100_props.h"

static char dir[256];
static int n_warn, n_info;
static char last_warn[2048], all_info[8192];

static void logger(void *user, clsde_log_level level, const char *msg)
{
    (void)user;
    if (level == CLSDE_LOG_WARNING) {
        n_warn++;
        snprintf(last_warn, sizeof last_warn, "%s", msg);
    } else if (level == CLSDE_LOG_INFO) {
        n_info++;
        strncat(all_info, msg, sizeof all_info - strlen(all_info) - 2);
        strcat(all_info, "\n");
    }
}

static clsde_context *make(void)
{
    clsde_context *ctx = NULL;
    clsde_context_params p;
    clsde_context_params_default(&p);
    p.cache_dir = dir;
    p.log = logger;
    p.log_level = CLSDE_LOG_INFO;
    assert_int_equal(clsde_context_create(&p, &ctx), CLSDE_OK);
    return ctx;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/clsde-test-tune-XXXXXX");
    assert_non_null(mkdtemp(dir));
    n_warn = n_info = 0;
    last_warn[0] = all_info[0] = '\0';
    unsetenv("CLSDE_TUNE_FILE");
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    unsetenv("CLSDE_TUNE_FILE");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static clsde_tune_row row(const char *cls, const char *params)
{
    clsde_tune_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.op, sizeof r.op, "conv2d");
    snprintf(r.cls, sizeof r.cls, "%s", cls);
    snprintf(r.params, sizeof r.params, "%s", params);
    snprintf(r.shape, sizeof r.shape, "8x128x32x32->128 k3 s1");
    r.ms = 52.5;
    r.default_ms = 55.25;
    return r;
}

static const char P1[] = "implicit tm=8 tn=32 vn=16 sm=4 sn=2 tk=32 wg_m=1 wg_n=1";
static const char P2[] = "implicit tm=4 tn=8 vn=4 sm=2 sn=1 tk=16 wg_m=1 wg_n=1";
static const char C1[] = "k3 s1 ci128 co128 hw1024 n8192";
static const char C2[] = "k1 s1 ci256 co256 hw256 n2048";

/* The file of ctx's device, written with rows (C1, P1), (C2, P2). */
static void write_device_file(clsde_context *ctx, char *path, size_t n)
{
    clsde_tune_table t = {NULL, 0, 0};
    clsde_tune_row a = row(C1, P1), b = row(C2, P2);
    char why[256];
    clsde_tune_file_path(ctx, path, n);
    assert_int_equal(clsde_tune_table_set(&t, &a), CLSDE_OK);
    assert_int_equal(clsde_tune_table_set(&t, &b), CLSDE_OK);
    assert_int_equal(clsde_tune_file_write(path, &t, &ctx->info, why, sizeof why), CLSDE_OK);
    clsde_tune_table_free(&t);
}

static void test_round_trip(void **state)
{
    clsde_context *ctx = make();
    clsde_tune_table t = {NULL, 0, 0}, u = {NULL, 0, 0};
    clsde_tune_row a = row(C1, P1), b = row(C2, P2), a2 = row(C1, P2);
    char path[4200], why[256];
    int absent = 1;
    (void)state;
    assert_int_equal(clsde_tune_table_set(&t, &a), CLSDE_OK);
    assert_int_equal(clsde_tune_table_set(&t, &b), CLSDE_OK);
    assert_int_equal(clsde_tune_table_set(&t, &a2), CLSDE_OK); /* replaces, no duplicate */
    assert_int_equal(t.n, 2);
    assert_string_equal(clsde_tune_table_find(&t, "conv2d", C1)->params, P2);
    assert_null(clsde_tune_table_find(&t, "conv2d", "k5 s1"));
    assert_null(clsde_tune_table_find(&t, "dense", C1));
    snprintf(path, sizeof path, "%s/sub/dir/t.json", dir); /* directories are created */
    assert_int_equal(clsde_tune_file_write(path, &t, &ctx->info, why, sizeof why), CLSDE_OK);
    assert_int_equal(clsde_tune_file_read(path, &ctx->info, 1, &u, &absent, why, sizeof why),
                     CLSDE_OK);
    assert_int_equal(absent, 0);
    assert_int_equal(u.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(u.rows[i].op, t.rows[i].op);
        assert_string_equal(u.rows[i].cls, t.rows[i].cls);
        assert_string_equal(u.rows[i].params, t.rows[i].params);
        assert_string_equal(u.rows[i].shape, t.rows[i].shape);
        assert_true(u.rows[i].ms == t.rows[i].ms);
        assert_true(u.rows[i].default_ms == t.rows[i].default_ms);
    }
    /* no temporary file left next to it */
    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "test $(ls -A '%s/sub/dir' | wc -l) -eq 1", dir);
        assert_int_equal(system(cmd), 0);
    }
    /* absent file: CLSDE_ERR_IO with absent set */
    snprintf(path, sizeof path, "%s/none.json", dir);
    assert_int_equal(clsde_tune_file_read(path, &ctx->info, 1, &u, &absent, why, sizeof why),
                     CLSDE_ERR_IO);
    assert_int_equal(absent, 1);
    /* rows with separators cannot be stored (the checksum relies on them) */
    a = row("k3\ts1", P1);
    assert_int_equal(clsde_tune_table_set(&t, &a), CLSDE_ERR_ARG);
    clsde_tune_table_free(&t);
    clsde_tune_table_free(&u);
    clsde_context_destroy(ctx);
}

/* Replace the first occurrence of `from` in the file with `to`. */
static void edit_file(const char *path, const char *from, const char *to)
{
    FILE *f = fopen(path, "rb");
    char buf[65536], out[65536], *at;
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    at = strstr(buf, from);
    assert_non_null(at);
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - buf), buf, to, at + strlen(from));
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs(out, f);
    fclose(f);
}

static void truncate_file(const char *path, long keep)
{
    assert_int_equal(truncate(path, keep), 0);
}

/* A damaged file is never used: lookups fall back to the defaults with one warning. */
static void expect_rejected(const char *what, const char *warn_part)
{
    clsde_context *ctx = make();
    clsde_tune_info info;
    clsde_tune_source src = CLSDE_TUNE_TUNED;
    n_warn = 0;
    last_warn[0] = '\0';
    assert_null(clsde_tune_lookup(ctx, "conv2d", C1, &src));
    assert_int_equal(src, CLSDE_TUNE_DEFAULT);
    assert_null(clsde_tune_lookup(ctx, "conv2d", C1, &src));
    if (n_warn != 1 || !strstr(last_warn, warn_part))
        fail_msg("%s: %d warnings, last '%s' (wanted '%s')", what, n_warn, last_warn, warn_part);
    assert_int_equal(clsde_context_get_tune_info(ctx, &info), CLSDE_OK);
    assert_int_equal(info.tuned_rows, 0);
    assert_int_equal(info.file_rejected, 1);
    clsde_context_destroy(ctx);
}

static void test_corrupt_ignored(void **state)
{
    char path[4200];
    clsde_context *ctx = make();
    (void)state;
    write_device_file(ctx, path, sizeof path);
    clsde_context_destroy(ctx);

    edit_file(path, "sm=4", "sm=8"); /* a row changed behind the checksum's back */
    expect_rejected("edited params", "checksum mismatch");

    ctx = make();
    write_device_file(ctx, path, sizeof path);
    clsde_context_destroy(ctx);
    truncate_file(path, 200);
    expect_rejected("truncated", "not valid JSON");

    ctx = make();
    write_device_file(ctx, path, sizeof path);
    clsde_context_destroy(ctx);
    edit_file(path, "\"checksum\"", "\"checksun\"");
    expect_rejected("no checksum", "no \"checksum\"");

    ctx = make();
    write_device_file(ctx, path, sizeof path);
    clsde_context_destroy(ctx);
    edit_file(path, "\"clsde_tune_format\":\t1", "\"clsde_tune_format\":\t7");
    expect_rejected("format 7", "clsde_tune_format is not 1");

    ctx = make();
    write_device_file(ctx, path, sizeof path);
    clsde_context_destroy(ctx);
    edit_file(path, "\"params\"", "\"parms\"");
    expect_rejected("row without params", "row 0");

    {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs("\x89PNG garbage", f);
        fclose(f);
    }
    expect_rejected("garbage", "not valid JSON");
}

/* The file name and the file's own fields tie it to platform, device and driver. */
static void test_key_device_driver(void **state)
{
    clsde_context *ctx = make();
    clsde_device_info other = ctx->info;
    clsde_tune_table t = {NULL, 0, 0}, u = {NULL, 0, 0};
    clsde_tune_row a = row(C1, P1);
    char k1[65], k2[65], k3[65], path[4200], why[256];
    char *json;
    (void)state;
    clsde_tune_device_key(&ctx->info, k1);
    snprintf(other.driver_version, sizeof other.driver_version, "%s-next",
             ctx->info.driver_version);
    clsde_tune_device_key(&other, k2);
    other = ctx->info;
    snprintf(other.name, sizeof other.name, "another device");
    clsde_tune_device_key(&other, k3);
    assert_string_not_equal(k1, k2);
    assert_string_not_equal(k1, k3);
    clsde_tune_file_path(ctx, path, sizeof path);
    assert_non_null(strstr(path, k1));
    assert_non_null(strstr(path, dir));

    /* parsed against another driver: refused, and the reason names it */
    assert_int_equal(clsde_tune_table_set(&t, &a), CLSDE_OK);
    json = clsde_tune_table_serialize(&t, &ctx->info);
    assert_non_null(json);
    other = ctx->info;
    snprintf(other.driver_version, sizeof other.driver_version, "99.0");
    assert_int_equal(clsde_tune_table_parse(json, strlen(json), &other, 1, &u, why, sizeof why),
                     CLSDE_ERR_FORMAT);
    assert_non_null(strstr(why, "driver"));
    assert_int_equal(u.n, 0);
    assert_int_equal(clsde_tune_table_parse(json, strlen(json), &ctx->info, 1, &u, why,
                                            sizeof why),
                     CLSDE_OK);
    assert_int_equal(u.n, 1);
    free(json);

    /* a file for another driver placed at this device's path: ignored with a warning */
    assert_int_equal(clsde_tune_file_write(path, &t, &other, why, sizeof why), CLSDE_OK);
    clsde_context_destroy(ctx);
    expect_rejected("other driver", "driver");
    clsde_tune_table_free(&t);
    clsde_tune_table_free(&u);
}

static void test_fallback_chain(void **state)
{
    clsde_context *ctx = make();
    clsde_tune_table t = {NULL, 0, 0};
    clsde_tune_source src;
    clsde_tune_info info;
    char path[4200], opath[300], why[256];
    const char *got;
    (void)state;
    write_device_file(ctx, path, sizeof path);
    clsde_context_destroy(ctx);

    /* an override file (no device strings, no checksum: hand-written) for C1 only */
    snprintf(opath, sizeof opath, "%s/override.json", dir);
    {
        FILE *f = fopen(opath, "wb");
        assert_non_null(f);
        fprintf(f, "{\"clsde_tune_format\": 1, \"rows\": [{\"op\": \"conv2d\", \"class\": "
                   "\"%s\", \"params\": \"%s\"}]}\n", C1, P2);
        fclose(f);
    }
    setenv("CLSDE_TUNE_FILE", opath, 1);
    n_info = 0;
    all_info[0] = '\0';
    ctx = make();
    got = clsde_tune_lookup(ctx, "conv2d", C1, &src);
    assert_string_equal(got, P2);
    assert_int_equal(src, CLSDE_TUNE_OVERRIDE);
    got = clsde_tune_lookup(ctx, "conv2d", C2, &src);
    assert_string_equal(got, P2);
    assert_int_equal(src, CLSDE_TUNE_TUNED);
    got = clsde_tune_lookup(ctx, "conv2d", "k3 s2 ci4 co128 hw256 n2048", &src);
    assert_null(got);
    assert_int_equal(src, CLSDE_TUNE_DEFAULT);
    assert_non_null(strstr(all_info, "tuned parameters for"));
    assert_non_null(strstr(all_info, "CLSDE_TUNE_FILE"));
    assert_non_null(strstr(all_info, "k3 s2 ci4 co128 hw256 n2048': no tuned row"));
    assert_int_equal(clsde_context_get_tune_info(ctx, &info), CLSDE_OK);
    assert_int_equal(info.tuned_rows, 2);
    assert_int_equal(info.override_rows, 1);
    assert_string_equal(info.override_file, opath);
    clsde_context_destroy(ctx);
    unsetenv("CLSDE_TUNE_FILE");

    /* the API override: a bad file is an error with the reason, a good one takes effect */
    ctx = make();
    assert_int_equal(clsde_context_load_tune_file(ctx, path), CLSDE_OK); /* device file */
    {
        FILE *f = fopen(opath, "wb");
        fputs("{\"clsde_tune_format\": 1, \"device\": \"not this one\", \"rows\": []}", f);
        fclose(f);
    }
    assert_int_equal(clsde_context_load_tune_file(ctx, opath), CLSDE_ERR_FORMAT);
    assert_non_null(strstr(clsde_last_error(ctx), "not this one"));
    assert_int_equal(clsde_context_load_tune_file(ctx, "/nonexistent/t.json"), CLSDE_ERR_IO);
    assert_non_null(strstr(clsde_last_error(ctx), "/nonexistent/t.json"));
    got = clsde_tune_lookup(ctx, "conv2d", C1, &src); /* the earlier override still holds */
    assert_string_equal(got, P1);
    assert_int_equal(src, CLSDE_TUNE_OVERRIDE);
    clsde_context_destroy(ctx);
    clsde_tune_table_free(&t);
    (void)why;
}

/* A 3x3 stride-1 "same" convolution of n images of c_in x side x side to c_out. */
static clsde_conv2d_params conv3x3(int n, int c_in, int side, int c_out)
{
    const clsde_conv2d_params p = {.n = n, .c_in = c_in, .h = side, .w = side,
                                   .c_out = c_out, .k = 3, .stride = 1, .pad_t = 1,
                                   .pad_l = 1, .pad_b = 1, .pad_r = 1, .res_div = 1.0f};
    return p;
}

/* Without any file: one info line naming the device and `clsde tune`. */
static void test_no_table_logged_once(void **state)
{
    clsde_context *ctx = make();
    clsde_conv2d_params p = conv3x3(8, 128, 32, 128);
    clsde_conv2d_choice c;
    clsde_conv2d_tune d;
    clsde_tune_source src = CLSDE_TUNE_TUNED;
    char want[256];
    const char *at;
    (void)state;
    n_info = 0;
    all_info[0] = '\0';
    clsde_conv2d_choose(ctx, &p, &c, &src);
    clsde_conv2d_choose(ctx, &p, &c, &src);
    assert_int_equal(src, CLSDE_TUNE_DEFAULT);
    assert_int_equal(c.path, CLSDE_CONV2D_IMPLICIT);
    clsde_conv2d_tune_default(ctx, &p, &d);
    assert_memory_equal(&c.tile, &d, sizeof d);
    snprintf(want, sizeof want, "no tuned parameters for %s; using defaults (run `clsde tune`)",
             ctx->info.name);
    at = strstr(all_info, want);
    assert_non_null(at);
    assert_null(strstr(at + 1, want)); /* once */
    assert_int_equal(n_info, 1);
    assert_int_equal(ctx->tune->misses, 2);
    clsde_context_destroy(ctx);
}

/* On a GPU the missing table is a warning naming `clsde tune` (defaults there can be
 * several times slower); on a CPU an info line (test_no_table_logged_once); from the
 * tuner itself, nothing. */
static void test_no_table_warns_on_gpu(void **state)
{
    clsde_context *ctx = make();
    clsde_conv2d_params p = conv3x3(1, 64, 8, 64);
    clsde_conv2d_choice c;
    clsde_tune_source src;
    const clsde_device_type keep = ctx->info.type;
    (void)state;
    ctx->info.type = CLSDE_DEVICE_GPU;
    n_warn = n_info = 0;
    clsde_conv2d_choose(ctx, &p, &c, &src);
    clsde_conv2d_choose(ctx, &p, &c, &src);
    assert_int_equal(src, CLSDE_TUNE_DEFAULT);
    assert_int_equal(n_warn, 1);
    assert_non_null(strstr(last_warn, "no tuned parameters for"));
    assert_non_null(strstr(last_warn, "run `clsde tune --model MODEL --batch B`"));
    assert_null(strstr(all_info, "no tuned parameters"));
    ctx->info.type = keep;
    clsde_context_destroy(ctx);
    /* the tuner, about to make the rows, loads the table without that line */
    ctx = make();
    ctx->info.type = CLSDE_DEVICE_GPU;
    n_warn = n_info = 0;
    all_info[0] = '\0';
    assert_int_equal(clsde_tune_load_for_search(ctx), CLSDE_OK);
    clsde_conv2d_choose(ctx, &p, &c, &src);
    assert_int_equal(n_warn, 0);
    assert_null(strstr(all_info, "no tuned parameters"));
    ctx->info.type = keep;
    clsde_context_destroy(ctx);
}

/* conv2d's GPU defaults, from an H100's properties (132 compute units, float vector width
 * 1, 1024 work-items, 48 KiB local memory): a large batch keeps the plain 4x4-per-item
 * tiling; a batch-1 layer shrinks it until every compute unit has two groups, landing on
 * the tilings `clsde tune` found best there for these shapes (BENCHMARKS.md, "NVIDIA
 * H100"); a vector width stays within the pixels per work-item. */
static clsde_conv2d_tune gpu_default(clsde_context *ctx, int n, int c_in, int side, int c_out)
{
    clsde_conv2d_params p = conv3x3(n, c_in, side, c_out);
    clsde_conv2d_tune t;
    int64_t groups;
    clsde_conv2d_tune_default(ctx, &p, &t);
    groups = ((int64_t)n * side * side + t.wg_n * t.sn * t.tn - 1) / (t.wg_n * t.sn * t.tn) *
             ((c_out + t.wg_m * t.sm * t.tm - 1) / (t.wg_m * t.sm * t.tm));
    assert_true(groups >= 2 * ctx->info.compute_units || (t.tm == 1 && t.tn == 1));
    assert_int_equal(t.tn % t.vn, 0);
    return t;
}

static void test_gpu_defaults(void **state)
{
    clsde_context *ctx = make();
    const clsde_device_info keep = ctx->info;
    clsde_conv2d_tune t;
    (void)state;
    h100_props(&ctx->info);
    t = gpu_default(ctx, 1024, 16, 16, 16); /* the bundled model at batch 1024 */
    assert_true(t.tm == 4 && t.tn == 4 && t.tk == 16 && t.wg_m == 8 && t.wg_n == 16);
    t = gpu_default(ctx, 1, 128, 32, 128); /* tuned there: tm 1, tn 2, tk 32, 8 x 16 */
    assert_true(t.tm == 1 && t.tn == 2 && t.vn == 1 && t.tk == 32);
    assert_true(t.sm == 1 && t.sn == 1 && t.wg_m == 8 && t.wg_n == 16);
    t = gpu_default(ctx, 1, 512, 4, 256); /* tuned there: tm 1, tn 1, tk 32, 8 x 16 */
    assert_true(t.tm == 1 && t.tn == 1 && t.tk == 32 && t.wg_m == 8 && t.wg_n == 16);
    t = gpu_default(ctx, 1, 256, 32, 256);
    assert_true(t.tm == 2 && t.tn == 2 && t.tk == 32);
    ctx->info.preferred_vector_width_float = 4;
    t = gpu_default(ctx, 1024, 16, 16, 16);
    assert_int_equal(t.vn, 4);
    t = gpu_default(ctx, 1, 256, 16, 256);
    assert_true(t.tm == 1 && t.tn == 1 && t.vn == 1);
    ctx->info.local_mem_bytes = 4 * 1024; /* K blocks still shrink to fit */
    t = gpu_default(ctx, 1, 256, 16, 256);
    assert_true((int64_t)t.tk * (t.wg_m * t.tm + t.wg_n * t.tn) * 4 <= 4 * 1024);
    ctx->info = keep;
    clsde_context_destroy(ctx);
}

/* Loaded once per context: a second lookup is answered from memory (the file changing
 * underneath does not matter until a new context). */
static void test_second_lookup_hits(void **state)
{
    clsde_context *ctx = make();
    clsde_tune_source src;
    char path[4200];
    (void)state;
    write_device_file(ctx, path, sizeof path);
    assert_string_equal(clsde_tune_lookup(ctx, "conv2d", C1, &src), P1);
    assert_int_equal(unlink(path), 0);
    assert_string_equal(clsde_tune_lookup(ctx, "conv2d", C1, &src), P1);
    assert_int_equal(src, CLSDE_TUNE_TUNED);
    assert_int_equal(ctx->tune->hits, 2);
    assert_int_equal(ctx->tune->misses, 0);
    clsde_context_destroy(ctx);
    ctx = make(); /* the file is gone now */
    assert_null(clsde_tune_lookup(ctx, "conv2d", C1, &src));
    clsde_context_destroy(ctx);
}

static void test_class_and_params(void **state)
{
    clsde_conv2d_params p = {.n = 8, .c_in = 128, .h = 32, .w = 32, .c_out = 128, .k = 3,
                             .stride = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    clsde_conv2d_choice c, d;
    char s[256];
    static const char *const bad[] = {
        "",
        "implicit",
        "implicit tm=8 tn=32 vn=16 sm=4 sn=2 tk=32 wg_m=1",            /* missing wg_n */
        "implicit tm=8 tn=32 vn=16 sm=4 sn=2 tk=32 wg_m=1 wg_n=1 tm=8", /* twice */
        "implicit tm=8 tn=32 vn=16 sm=4 sn=2 tk=32 wg_m=1 wg_x=1",      /* unknown */
        "implicit tm=8 tn=30 vn=16 sm=4 sn=2 tk=32 wg_m=1 wg_n=1",      /* vn does not divide */
        "implicit tm=8 tn=32 vn=3 sm=4 sn=2 tk=32 wg_m=1 wg_n=1",       /* vn not 1/2/4/8/16 */
        "implicit tm=0 tn=32 vn=16 sm=4 sn=2 tk=32 wg_m=1 wg_n=1",      /* out of range */
        "implicit tm=65 tn=32 vn=16 sm=4 sn=2 tk=32 wg_m=1 wg_n=1",
        "implicit tm=8 tn=32 vn=16 sm=4 sn=2 tk=513 wg_m=1 wg_n=1",
        "implicit tm=8x tn=32 vn=16 sm=4 sn=2 tk=32 wg_m=1 wg_n=1",
        "tiled tm=8 tn=32 vn=16 sm=4 sn=2 tk=32 wg_m=1 wg_n=1",
        "clblast MWG=64",
    };
    (void)state;
    clsde_conv2d_class(&p, s, sizeof s);
    assert_string_equal(s, "k3 s1 ci128 co128 hw1024 n8192");
    p = (clsde_conv2d_params){.n = 8, .c_in = 3, .h = 33, .w = 33, .c_out = 128, .k = 3,
                              .stride = 2};
    clsde_conv2d_class(&p, s, sizeof s); /* 33x33 -> 16x16; 3 channels -> 4 */
    assert_string_equal(s, "k3 s2 ci4 co128 hw256 n2048");
    p = (clsde_conv2d_params){.n = 3, .c_in = 384, .h = 16, .w = 16, .c_out = 256, .k = 1,
                              .stride = 1};
    clsde_conv2d_class(&p, s, sizeof s);
    assert_string_equal(s, "k1 s1 ci512 co256 hw256 n1024");

    assert_int_equal(clsde_conv2d_choice_parse(P1, &c), 0);
    assert_int_equal(c.path, CLSDE_CONV2D_IMPLICIT);
    assert_int_equal(c.tile.tm, 8), assert_int_equal(c.tile.tn, 32);
    assert_int_equal(c.tile.vn, 16), assert_int_equal(c.tile.sm, 4);
    assert_int_equal(c.tile.sn, 2), assert_int_equal(c.tile.tk, 32);
    assert_int_equal(c.tile.wg_m, 1), assert_int_equal(c.tile.wg_n, 1);
    clsde_conv2d_choice_format(&c, s, sizeof s);
    assert_string_equal(s, P1);
    /* any key order parses to the same choice */
    assert_int_equal(clsde_conv2d_choice_parse(
                         "implicit wg_n=1 wg_m=1 tk=32 sn=2 sm=4 vn=16 tn=32 tm=8", &d), 0);
    assert_memory_equal(&c, &d, sizeof c);
    assert_int_equal(clsde_conv2d_choice_parse("clblast", &c), 0);
    assert_int_equal(c.path, CLSDE_CONV2D_CLBLAST);
    clsde_conv2d_choice_format(&c, s, sizeof s);
    assert_string_equal(s, "clblast");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (clsde_conv2d_choice_parse(bad[i], &c) == 0) fail_msg("accepted '%s'", bad[i]);
}

/* A row the device cannot run, or that does not parse, is not used, and says so once. */
static void test_bad_row_not_used(void **state)
{
    clsde_context *ctx = make();
    clsde_conv2d_params p = {.n = 2, .c_in = 16, .h = 8, .w = 8, .c_out = 16, .k = 3,
                             .stride = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    clsde_tune_row r;
    clsde_conv2d_choice c;
    clsde_tune_source src;
    char cls[64];
    (void)state;
    clsde_conv2d_class(&p, cls, sizeof cls);
    r = row(cls, "implicit tm=64 tn=64 vn=16 sm=64 sn=64 tk=512 wg_m=1 wg_n=1");
    assert_int_equal(clsde_tune_put(ctx, &r), CLSDE_OK);
    n_warn = 0;
    clsde_conv2d_choose(ctx, &p, &c, &src);
    clsde_conv2d_choose(ctx, &p, &c, &src);
    assert_int_equal(src, CLSDE_TUNE_DEFAULT);
    assert_int_equal(n_warn, 1);
    assert_non_null(strstr(last_warn, "local memory"));
    r = row(cls, P2);
    assert_int_equal(clsde_tune_put(ctx, &r), CLSDE_OK);
    clsde_conv2d_choose(ctx, &p, &c, &src);
    assert_int_equal(src, CLSDE_TUNE_TUNED);
    assert_int_equal(c.tile.tm, 4);
    if (!clsde_tune_clblast_version(NULL)) {
        r = row(cls, "clblast");
        assert_int_equal(clsde_tune_put(ctx, &r), CLSDE_OK);
        clsde_conv2d_choose(ctx, &p, &c, &src);
        assert_int_equal(src, CLSDE_TUNE_DEFAULT);
        assert_non_null(strstr(last_warn, "CLBlast"));
    }
    clsde_context_destroy(ctx);
}

/* Sum of runs and MACs of the walked shapes, split by kernel side. */
static void totals(const clsde_conv_shapes *s, int k, int64_t *runs, int64_t *macs)
{
    *runs = *macs = 0;
    for (int32_t i = 0; i < s->n; i++) {
        if (s->s[i].p.k != k) continue;
        *runs += s->s[i].count;
        *macs += (int64_t)(clsde_conv2d_flops(&s->s[i].p) / 2) * s->s[i].count;
    }
}

/* networks.md §7.2: NCSN++ 93 3x3 convs with 9 860 M MACs, of which the walk lists 90: the
 * three pyramid convs (3->128 at 16x16, 128->256 at 8x8, 256->256 at 4x4 outputs:
 * 0.88 + 18.87 + 9.44 = 29.2 M MACs) run fused with their FIR pre-filter as conv_down_fir,
 * not as conv2d; 27 shortcuts + 6 attention blocks of 1x1 (502 M + 340 M); DDPM++ without
 * the three pyramid convs; DDPM 6.02 GMAC with its attention matmuls (100.7 M) and Linear
 * layers. */
static void test_network_walk(void **state)
{
    clsde_conv_shapes s = {NULL, 0, 0};
    int64_t runs, macs;
    (void)state;
    assert_int_equal(clsde_conv_shapes_preset(NULL, "cifar10-ncsnpp", 1, &s), CLSDE_OK);
    totals(&s, 3, &runs, &macs);
    assert_int_equal(runs, 93 - 3);
    assert_int_equal(macs, 9860382720LL - 884736 - 18874368 - 9437184);
    totals(&s, 1, &runs, &macs);
    assert_int_equal(runs, 27 + 24);
    assert_int_equal(macs, 842006528LL);
    clsde_conv_shapes_free(&s);

    assert_int_equal(clsde_conv_shapes_preset(NULL, "cifar10-ddpmpp", 8, &s), CLSDE_OK);
    totals(&s, 3, &runs, &macs);
    assert_int_equal(runs, 90);
    for (int32_t i = 0; i < s.n; i++) assert_int_equal(s.s[i].p.stride, 1);
    assert_int_equal(s.s[0].p.n, 8);
    clsde_conv_shapes_free(&s);

    assert_int_equal(clsde_conv_shapes_preset(NULL, "cifar10-ddpm", 1, &s), CLSDE_OK);
    {
        int64_t r3, m3, r1, m1;
        totals(&s, 3, &r3, &m3);
        totals(&s, 1, &r1, &m1);
        assert_int_equal(m3 + m1, 5916852224LL);
        assert_int_equal(r1, 13 + 16); /* NIN_0 shortcuts, 4 attention blocks x 4 NIN */
    }
    clsde_conv_shapes_free(&s);
    assert_int_equal(clsde_conv_shapes_preset(NULL, "cifar100", 1, &s), CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(NULL), "cifar10-ncsnpp"));
}

static void test_outputs_match(void **state)
{
    float ref[100], got[100];
    char why[256];
    (void)state;
    for (int i = 0; i < 100; i++) ref[i] = got[i] = (float)(i - 50) * 0.03f;
    assert_int_equal(clsde_conv2d_outputs_match(got, ref, 100, 1152, why, sizeof why), 1);
    got[37] += 3.4e-5f * 1.0f; /* 1e-6 * sqrt(1152) = 3.39e-5 plus 1e-6 * |ref| */
    assert_int_equal(clsde_conv2d_outputs_match(got, ref, 100, 1152, why, sizeof why), 1);
    got[37] += 1e-5f;
    assert_int_equal(clsde_conv2d_outputs_match(got, ref, 100, 1152, why, sizeof why), 0);
    assert_non_null(strstr(why, "output 37"));
    got[37] = ref[37];
    got[99] = NAN;
    assert_int_equal(clsde_conv2d_outputs_match(got, ref, 100, 1152, why, sizeof why), 0);
    assert_non_null(strstr(why, "output 99"));
}

/* A whole tune on one small shape: the candidate that cannot run is rejected and reported,
 * the winner is stored and saved, a new context uses it, a second tune keeps it. */
static void test_tune_end_to_end(void **state)
{
    clsde_context *ctx = make();
    clsde_conv_shapes s = {NULL, 0, 0};
    clsde_conv2d_params p = {.n = 2, .c_in = 24, .h = 12, .w = 12, .c_out = 20, .k = 3,
                             .stride = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1,
                             .has_bias = 1, .res_div = 1.0f};
    clsde_conv2d_choice extra[2];
    clsde_tune_settings set;
    clsde_tune_result *res = NULL;
    clsde_tune_source src;
    clsde_conv2d_choice c, stored;
    int32_t n = 0;
    char cls[64], log[16384];
    FILE *progress = fmemopen(log, sizeof log, "w");
    (void)state;
    assert_non_null(progress);
    assert_int_equal(clsde_conv_shapes_add(&s, &p, 3), CLSDE_OK);
    memset(&set, 0, sizeof set);
    set.budget_s = 3;
    set.seed = 5;
    set.progress = progress;
    /* one the device refuses (local memory), one ordinary tiling */
    assert_int_equal(clsde_conv2d_choice_parse(
                         "implicit tm=64 tn=64 vn=16 sm=64 sn=64 tk=512 wg_m=1 wg_n=1", &extra[0]),
                     0);
    assert_int_equal(clsde_conv2d_choice_parse(P2, &extra[1]), 0);
    set.extra = extra;
    set.n_extra = 2;
    assert_int_equal(clsde_tune_conv2d(ctx, &s, &set, &res, &n), CLSDE_OK);
    fclose(progress);
    assert_int_equal(n, 1);
    clsde_conv2d_class(&p, cls, sizeof cls);
    assert_string_equal(res[0].cls, cls);
    assert_int_equal(res[0].count, 3);
    assert_true(res[0].tried >= 3);
    assert_true(res[0].rejected >= 1);
    assert_non_null(strstr(log, "rejected implicit tm=64"));
    assert_true(res[0].default_ms > 0 && res[0].best_ms > 0 && res[0].best_ms <= res[0].default_ms);
    assert_int_equal(clsde_conv2d_choice_parse(res[0].params, &stored), 0);
    assert_int_equal(clsde_tune_save(ctx), CLSDE_OK);
    free(res);
    clsde_context_destroy(ctx);

    ctx = make();
    clsde_conv2d_choose(ctx, &p, &c, &src);
    assert_int_equal(src, CLSDE_TUNE_TUNED);
    assert_memory_equal(&c, &stored, sizeof c);
    /* a second run keeps the row */
    set.extra = NULL, set.n_extra = 0, set.progress = NULL;
    assert_int_equal(clsde_tune_conv2d(ctx, &s, &set, &res, &n), CLSDE_OK);
    assert_int_equal(res[0].cached, 1);
    assert_int_equal(res[0].tried, 0);
    free(res);
    clsde_context_destroy(ctx);
    clsde_conv_shapes_free(&s);
}

/* ---- --models DIR: the walk against real checkpoints ---- */

typedef struct conv_key {
    int64_t c_out, c_in, k;
} conv_key;

static int key_cmp(const void *a, const void *b)
{
    const conv_key *x = a, *y = b;
    if (x->c_out != y->c_out) return x->c_out < y->c_out ? -1 : 1;
    if (x->c_in != y->c_in) return x->c_in < y->c_in ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

static int ends_with(const char *s, const char *tail)
{
    const size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

/* Every conv weight of the file (4-D "*.weight" [c_out, c_in, k, k]; NIN "*.W" [c_in, c_out]
 * run as 1x1 convs; not the fused FIR conv-downsample's Conv2d_0) must be one run of the walk
 * of its config, and the other way round:
 * each conv module runs once per forward pass. Then the walk must list exactly the conv
 * nodes of the built graph (src/nets/). Returns the number of mismatches. */
static int check_model_walk(const char *path)
{
    clsde_model *m = NULL;
    clsde_conv_shapes s = {NULL, 0, 0};
    conv_key a[4096], b[4096];
    int na = 0, nb = 0, bad = 0;
    if (clsde_model_file_load(NULL, path, &m) != CLSDE_OK) {
        printf("FAIL %s: %s\n", path, clsde_last_error(NULL));
        return 1;
    }
    for (int32_t i = 0; i < m->st.n_tensors && na < 4096; i++) {
        const clsde_st_tensor *t = &m->st.tensors[i];
        /* Conv2d_0: the fused FIR conv-downsample, which runs as conv_down_fir, not conv2d */
        if (strstr(t->name, ".Conv2d_0.")) continue;
        if (t->ndim == 4 && ends_with(t->name, ".weight"))
            a[na++] = (conv_key){t->shape[0], t->shape[1], t->shape[2]};
        else if (t->ndim == 2 && ends_with(t->name, ".W") && strstr(t->name, "NIN_"))
            a[na++] = (conv_key){t->shape[1], t->shape[0], 1};
    }
    if (clsde_conv_shapes_config(NULL, &m->cfg, 1, &s) != CLSDE_OK) {
        printf("FAIL %s: walk: %s\n", path, clsde_last_error(NULL));
        clsde_model_file_destroy(m);
        return 1;
    }
    for (int32_t i = 0; i < s.n; i++)
        for (int32_t j = 0; j < s.s[i].count && nb < 4096; j++)
            b[nb++] = (conv_key){s.s[i].p.c_out, s.s[i].p.c_in, s.s[i].p.k};
    qsort(a, (size_t)na, sizeof *a, key_cmp);
    qsort(b, (size_t)nb, sizeof *b, key_cmp);
    if (na != nb) {
        printf("FAIL %s: %d conv weights in the file, %d convs in the walk\n", path, na, nb);
        bad++;
    }
    for (int i = 0; i < na && i < nb && !bad; i++)
        if (key_cmp(&a[i], &b[i]) != 0) {
            printf("FAIL %s: file has [%lld,%lld,k%lld] where the walk has [%lld,%lld,k%lld]\n",
                   path, (long long)a[i].c_out, (long long)a[i].c_in, (long long)a[i].k,
                   (long long)b[i].c_out, (long long)b[i].c_in, (long long)b[i].k);
            bad++;
        }
    /* and the walk against the graph the network builder makes: same shapes (sides,
     * strides, padding) with the same counts, at batch 2 */
    if (!bad) {
        clsde_conv_shapes w = {NULL, 0, 0}, gs = {NULL, 0, 0};
        if (clsde_conv_shapes_config(NULL, &m->cfg, 2, &w) != CLSDE_OK ||
            clsde_conv_shapes_model(NULL, path, 2, &gs) != CLSDE_OK) {
            printf("FAIL %s: %s\n", path, clsde_last_error(NULL));
            bad++;
        } else if (w.n != gs.n) {
            printf("FAIL %s: the walk lists %d distinct conv shapes, the graph %d\n", path,
                   (int)w.n, (int)gs.n);
            bad++;
        } else {
            for (int32_t i = 0; i < w.n && !bad; i++) {
                int32_t j = 0;
                const clsde_conv2d_params *p = &w.s[i].p;
                while (j < gs.n && memcmp(&gs.s[j].p, p, sizeof *p) != 0) j++;
                if (j == gs.n || gs.s[j].count != w.s[i].count) {
                    printf("FAIL %s: walk shape n%d c_in%d %dx%d -> c_out%d k%d s%d pad "
                           "%d,%d,%d,%d x%d is %s in the graph\n",
                           path, p->n, p->c_in, p->h, p->w, p->c_out, p->k, p->stride,
                           p->pad_t, p->pad_l, p->pad_b, p->pad_r, (int)w.s[i].count,
                           j == gs.n ? "not" : "differently often");
                    bad++;
                }
            }
        }
        clsde_conv_shapes_free(&w);
        clsde_conv_shapes_free(&gs);
    }
    if (!bad)
        printf("ok %s: %d convs (%d distinct shapes), as the graph builder makes them\n", path,
               na, (int)s.n);
    clsde_conv_shapes_free(&s);
    clsde_model_file_destroy(m);
    return bad;
}

static int run_models(const char *dir_path)
{
    char cmd[600], line[1024];
    FILE *ls;
    int bad = 0, n = 0;
    snprintf(cmd, sizeof cmd, "ls '%s'/*.safetensors 2>/dev/null", dir_path);
    ls = popen(cmd, "r");
    if (!ls) return 2;
    while (fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = '\0';
        bad += check_model_walk(line);
        n++;
    }
    pclose(ls);
    if (!n) {
        printf("no .safetensors files in %s\n", dir_path);
        return 1;
    }
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--models")) return run_models(argv[2]);
    {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_device_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_table_logged_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpu_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_table_warns_on_gpu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_lookup_hits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_class_and_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_row_not_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_network_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outputs_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tune_end_to_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
    }
}
