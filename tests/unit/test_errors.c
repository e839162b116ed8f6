/* test_errors.c — status table, version, per-thread messages, device selection errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clsde.h"

static void test_strerror_table(void **state)
{
    (void)state;
    assert_string_equal(clsde_strerror(CLSDE_OK), "no error");
    assert_string_equal(clsde_strerror(CLSDE_ERR_BUILD), "kernel build failed");
    assert_string_equal(clsde_strerror((clsde_status)-12345), "unknown status");
}

static void test_version(void **state)
{
    char expect[32];
    (void)state;
    snprintf(expect, sizeof expect, "%d.%d.%d", CLSDE_VERSION_MAJOR, CLSDE_VERSION_MINOR,
             CLSDE_VERSION_PATCH);
    assert_string_equal(clsde_version(), expect);
    assert_int_equal(clsde_version_number(),
                     CLSDE_VERSION_MAJOR * 10000 + CLSDE_VERSION_MINOR * 100 + CLSDE_VERSION_PATCH);
}

static void test_null_arguments(void **state)
{
    (void)state;
    assert_int_equal(clsde_device_count(NULL), CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(NULL), "count is NULL"));
    assert_int_equal(clsde_context_create(NULL, NULL), CLSDE_ERR_ARG);
    assert_int_equal(clsde_device_select("0", NULL), CLSDE_ERR_ARG);
    clsde_context_destroy(NULL); /* accepts NULL */
}

static void test_select_bad_index(void **state)
{
    int32_t idx = -1, n = 0;
    (void)state;
    assert_int_equal(clsde_device_count(&n), CLSDE_OK);
    assert_true(n >= 1);
    assert_int_equal(clsde_device_select("999", &idx), CLSDE_ERR_NO_DEVICE);
    assert_non_null(strstr(clsde_last_error(NULL), "--device 999: no device with that index"));
    assert_int_equal(idx, -1);
}

static void test_select_bad_name(void **state)
{
    int32_t idx = -1;
    (void)state;
    assert_int_equal(clsde_device_select("no-such-device-xyz", &idx), CLSDE_ERR_NO_DEVICE);
    assert_non_null(strstr(clsde_last_error(NULL), "'no-such-device-xyz' matches no device"));
}

static void test_select_by_name_and_index(void **state)
{
    int32_t idx = -1, n = 0;
    clsde_device_info info;
    char sel[64];
    (void)state;
    assert_int_equal(clsde_device_count(&n), CLSDE_OK);
    assert_int_equal(clsde_device_get_info(n - 1, &info), CLSDE_OK);
    /* a name fragment in another case selects the first device that has it */
    snprintf(sel, sizeof sel, "%.6s", info.name);
    for (char *p = sel; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
    assert_int_equal(clsde_device_select(sel, &idx), CLSDE_OK);
    assert_true(idx >= 0 && idx < n);
    assert_int_equal(clsde_device_select("0", &idx), CLSDE_OK);
    assert_int_equal(idx, 0);
}

static void test_select_env(void **state)
{
    int32_t idx = -1;
    (void)state;
    setenv("CLSDE_DEVICE", "4242", 1);
    assert_int_equal(clsde_device_select(NULL, &idx), CLSDE_ERR_NO_DEVICE);
    assert_non_null(strstr(clsde_last_error(NULL), "CLSDE_DEVICE 4242"));
    /* an explicit selector wins over the environment */
    assert_int_equal(clsde_device_select("0", &idx), CLSDE_OK);
    unsetenv("CLSDE_DEVICE");
    assert_int_equal(clsde_device_select(NULL, &idx), CLSDE_OK);
}

static void test_context_device_info(void **state)
{
    clsde_context *ctx = NULL;
    clsde_context_params p;
    clsde_device_info info;
    (void)state;
    clsde_context_params_default(&p);
    p.no_cache = 1;
    assert_int_equal(clsde_context_create(&p, &ctx), CLSDE_OK);
    assert_int_equal(clsde_context_get_device(ctx, &info), CLSDE_OK);
    assert_true(info.compute_units >= 1);
    assert_true(info.global_mem_bytes > 0);
    assert_true(strlen(info.name) > 0);
    assert_string_equal(clsde_context_cache_dir(ctx), "");
    assert_string_equal(clsde_last_error(ctx), "");
    clsde_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_table),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_select_bad_index),
        cmocka_unit_test(test_select_bad_name),
        cmocka_unit_test(test_select_by_name_and_index),
        cmocka_unit_test(test_select_env),
        cmocka_unit_test(test_context_device_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
