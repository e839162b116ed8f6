/*
 * test_net_errors.c — clsde_net_create's failure paths: its argument checks, and a model
 * whose tensors do not match its config, which must fail with the tensor named in the
 * words of the checkpoint (status and message checked) and leave *net NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clsde.h"
#include "safetensors.h"
#include "synthetic_config.h"

static char path[256];
static clsde_context *ctx;

/* A model file holding one tensor `name` of `n` floats and the synthetic config. */
static void write_model(const char *name, int64_t n)
{
    static const float zeros[64];
    const clsde_st_write_tensor t[1] = {{name, CLSDE_DTYPE_F32, 1, &n, zeros}};
    const clsde_st_kv meta[2] = {{"clsde_format", "1"}, {"config", synthetic_config}};
    assert_true(n <= 64);
    assert_int_equal(clsde_safetensors_write(NULL, path, t, 1, meta, 2), CLSDE_OK);
}

static void expect_create_fails(clsde_status status, const char *substr)
{
    clsde_model *model = NULL;
    clsde_net *net = (clsde_net *)(uintptr_t)1;
    assert_int_equal(clsde_model_load(ctx, path, &model), CLSDE_OK);
    const clsde_status s = clsde_net_create(ctx, model, 2, &net);
    if (s != status || !strstr(clsde_last_error(ctx), substr))
        fail_msg("status %d (want %d), message '%s' (want '%s')", (int)s, (int)status,
                 clsde_last_error(ctx), substr);
    assert_null(net);
    clsde_model_destroy(model);
}

static void test_missing_tensor(void **state)
{
    (void)state;
    write_model("something.else", 4);
    expect_create_fails(CLSDE_ERR_FORMAT, "all_modules.0.W");
}

static void test_wrong_shape(void **state)
{
    (void)state;
    write_model("all_modules.0.W", 8); /* nf = 16 Fourier weights expected */
    expect_create_fails(CLSDE_ERR_FORMAT, "all_modules.0.W");
    assert_non_null(strstr(clsde_last_error(ctx), "[16]"));
}

static void test_arguments(void **state)
{
    clsde_model *model = NULL;
    clsde_net *net = (clsde_net *)(uintptr_t)1;
    clsde_net_info info;
    (void)state;
    write_model("all_modules.0.W", 16);
    assert_int_equal(clsde_model_load(ctx, path, &model), CLSDE_OK);
    assert_int_equal(clsde_net_create(ctx, model, 0, &net), CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(ctx), "batch 0 is outside 1..65536"));
    assert_null(net);
    assert_int_equal(clsde_net_create(ctx, NULL, 1, &net), CLSDE_ERR_ARG);
    assert_int_equal(clsde_net_create(NULL, model, 1, &net), CLSDE_ERR_ARG);
    assert_int_equal(clsde_net_create(ctx, model, 1, NULL), CLSDE_ERR_ARG);
    assert_int_equal(clsde_net_get_info(NULL, &info), CLSDE_ERR_ARG);
    assert_int_equal(clsde_net_forward_run(NULL, NULL, NULL, CLSDE_TIME_DEFAULT, NULL, NULL),
                     CLSDE_ERR_ARG);
    assert_int_equal(clsde_net_print_graph(NULL, stdout), CLSDE_ERR_ARG);
    clsde_net_destroy(NULL);
    clsde_model_destroy(model);
}

static int setup(void **state)
{
    clsde_context_params p;
    (void)state;
    snprintf(path, sizeof path, "/tmp/clsde-test-net-%d.safetensors", (int)getpid());
    clsde_context_params_default(&p);
    p.no_cache = 1;
    return clsde_context_create(&p, &ctx) == CLSDE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    clsde_context_destroy(ctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_tensor),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
