/*
 * test_cache.c — the program-binary cache: miss then hit, the key depends on the
 * options, corrupt and truncated entries are rejected and rebuilt, an unwritable cache
 * directory is reported once and does not stop the build, --no-cache writes nothing.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "program.h"

static char cache_dir[256];
static int warnings;
static char last_warning[1024];

static void logger(void *user, clsde_log_level level, const char *msg)
{
    (void)user;
    if (level == CLSDE_LOG_WARNING) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", msg);
    }
}

static clsde_context *make(const char *dir, int no_cache)
{
    clsde_context *ctx = NULL;
    clsde_context_params p;
    clsde_context_params_default(&p);
    p.cache_dir = dir;
    p.no_cache = no_cache;
    p.log = logger;
    p.log_level = CLSDE_LOG_WARNING;
    assert_int_equal(clsde_context_create(&p, &ctx), CLSDE_OK);
    return ctx;
}

static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d) return 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".bin")) n++;
    closedir(d);
    return n;
}

/* Path of the single cache entry in dir. */
static void entry_path(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    out[0] = '\0';
    assert_non_null(d);
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".bin")) snprintf(out, n, "%s/%s", dir, e->d_name);
    closedir(d);
    assert_true(out[0] != '\0');
}

static void get(clsde_context *ctx, const char *options)
{
    cl_kernel k;
    assert_int_equal(clsde_kernel_get(ctx, "elementwise.cl", options, "silu", &k), CLSDE_OK);
    assert_non_null(k);
}

static int setup(void **state)
{
    (void)state;
    snprintf(cache_dir, sizeof cache_dir, "/tmp/clsde-test-cache-XXXXXX");
    assert_non_null(mkdtemp(cache_dir));
    warnings = 0;
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_miss_then_hit(void **state)
{
    clsde_context *ctx;
    clsde_build_stats s;
    (void)state;
    ctx = make(cache_dir, 0);
    get(ctx, "");
    get(ctx, ""); /* same context: reused, no second build */
    assert_int_equal(clsde_context_get_build_stats(ctx, &s), CLSDE_OK);
    assert_int_equal(s.programs, 1);
    assert_int_equal(s.cache_misses, 1);
    assert_int_equal(s.cache_hits, 0);
    clsde_context_destroy(ctx);
    assert_int_equal(count_entries(cache_dir), 1);

    ctx = make(cache_dir, 0);
    get(ctx, "");
    clsde_context_get_build_stats(ctx, &s);
    assert_int_equal(s.cache_hits, 1);
    assert_int_equal(s.cache_misses, 0);
    /* other options: another key, another entry */
    get(ctx, "-DVW=2");
    clsde_context_get_build_stats(ctx, &s);
    assert_int_equal(s.cache_misses, 1);
    clsde_context_destroy(ctx);
    assert_int_equal(count_entries(cache_dir), 2);
    assert_int_equal(warnings, 0);
}

static void corrupt_and_check(void (*damage)(const char *path))
{
    clsde_context *ctx;
    clsde_build_stats s;
    char path[512];
    ctx = make(cache_dir, 0);
    get(ctx, "");
    clsde_context_destroy(ctx);
    entry_path(cache_dir, path, sizeof path);
    damage(path);

    warnings = 0;
    ctx = make(cache_dir, 0);
    get(ctx, "");
    clsde_context_get_build_stats(ctx, &s);
    assert_int_equal(s.cache_rejected, 1);
    assert_int_equal(s.cache_hits, 0);
    assert_int_equal(s.cache_misses, 1);
    assert_int_equal(warnings, 1);
    assert_non_null(strstr(last_warning, "invalid; rebuilding"));
    clsde_context_destroy(ctx);

    /* the rebuilt entry is good again */
    ctx = make(cache_dir, 0);
    get(ctx, "");
    clsde_context_get_build_stats(ctx, &s);
    assert_int_equal(s.cache_hits, 1);
    assert_int_equal(s.cache_rejected, 0);
    clsde_context_destroy(ctx);
}

static void flip_payload_byte(const char *path)
{
    FILE *f = fopen(path, "r+b");
    long size;
    int c;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size - 10, SEEK_SET);
    c = fgetc(f);
    fseek(f, size - 10, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void truncate_half(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
}

static void replace_with_garbage(const char *path)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("not a cache entry at all", f);
    fclose(f);
}

static void test_corrupt_payload(void **state)
{
    (void)state;
    corrupt_and_check(flip_payload_byte);
}

static void test_truncated_entry(void **state)
{
    (void)state;
    corrupt_and_check(truncate_half);
}

static void test_garbage_entry(void **state)
{
    (void)state;
    corrupt_and_check(replace_with_garbage);
}

static void test_unwritable_dir(void **state)
{
    /* A cache path below a regular file cannot be created, even as root. */
    char file[300], dir[400];
    clsde_context *ctx;
    clsde_build_stats s;
    FILE *f;
    (void)state;
    snprintf(file, sizeof file, "%s/plainfile", cache_dir);
    f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/sub", file);
    warnings = 0;
    ctx = make(dir, 0);
    get(ctx, "");
    get(ctx, "-DVW=2");
    clsde_context_get_build_stats(ctx, &s);
    assert_int_equal(s.programs, 2);
    assert_int_equal(s.cache_misses, 2);
    assert_int_equal(warnings, 1); /* said once, not per program */
    assert_non_null(strstr(last_warning, "cannot write"));
    clsde_context_destroy(ctx);
}

static void test_read_only_dir(void **state)
{
    char dir[300];
    clsde_context *ctx;
    clsde_build_stats s;
    (void)state;
    if (geteuid() == 0) skip(); /* root ignores permission bits; covered above */
    snprintf(dir, sizeof dir, "%s/ro", cache_dir);
    assert_int_equal(mkdir(dir, 0555), 0);
    warnings = 0;
    ctx = make(dir, 0);
    get(ctx, "");
    clsde_context_get_build_stats(ctx, &s);
    assert_int_equal(s.cache_misses, 1);
    assert_int_equal(warnings, 1);
    clsde_context_destroy(ctx);
    chmod(dir, 0755);
}

static void test_no_cache_writes_nothing(void **state)
{
    clsde_context *ctx;
    (void)state;
    ctx = make(cache_dir, 1);
    get(ctx, "");
    assert_string_equal(clsde_context_cache_dir(ctx), "");
    clsde_context_destroy(ctx);
    assert_int_equal(count_entries(cache_dir), 0);
}

static void test_build_error_names_file(void **state)
{
    clsde_context *ctx;
    cl_kernel k;
    (void)state;
    ctx = make(cache_dir, 1);
    /* VW=5 is not a valid vector width: the log must name the file */
    assert_int_equal(clsde_kernel_get(ctx, "elementwise.cl", "-DVW=5", "silu", &k),
                     CLSDE_ERR_BUILD);
    assert_non_null(strstr(clsde_last_error(ctx), "building elementwise.cl"));
    assert_non_null(strstr(clsde_last_error(ctx), "elementwise.cl:"));
    assert_int_equal(clsde_kernel_get(ctx, "nonexistent.cl", "", "x", &k), CLSDE_ERR_INTERNAL);
    clsde_context_destroy(ctx);
}

static void test_build_all(void **state)
{
    clsde_context *ctx;
    clsde_build_stats s;
    (void)state;
    ctx = make(cache_dir, 0);
    assert_int_equal(clsde_context_build_all(ctx), CLSDE_OK);
    clsde_context_get_build_stats(ctx, &s);
    assert_int_equal(s.programs, clsde_cl_source_count - 1); /* all but common.cl */
    clsde_context_destroy(ctx);
    ctx = make(cache_dir, 0);
    assert_int_equal(clsde_context_build_all(ctx), CLSDE_OK);
    clsde_context_get_build_stats(ctx, &s);
    assert_int_equal(s.cache_hits, clsde_cl_source_count - 1);
    clsde_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_miss_then_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cache_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_error_names_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_all, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
