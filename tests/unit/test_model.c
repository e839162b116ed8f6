/*
 * test_model.c — the model-file loader: every malformed .safetensors structure and every
 * bad config is rejected with the right status and a message naming the field; a good
 * synthetic file loads, tensors are found by name with shape checks, unused tensors are
 * reported; the writer round-trips and is atomic; the public API.
 * With `--fixtures FIXTURE_DIR CONVERTED_DIR` it instead loads every converted fixture
 * model and checks it against the fixture's config.json (tests/unit/model_fixtures.sh).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "model.h"
#include "synthetic_config.h"

static char tmpdir[256];
static char path[512];

/* The synthetic config with one field replaced (value as JSON text) or removed (NULL). */
static char *config_with(const char *section, const char *key, const char *value_json)
{
    cJSON *root = cJSON_Parse(synthetic_config), *sec;
    char *out;
    assert_non_null(root);
    sec = cJSON_GetObjectItemCaseSensitive(root, section);
    assert_non_null(sec);
    if (value_json) {
        cJSON *v = cJSON_Parse(value_json);
        assert_non_null(v);
        if (cJSON_GetObjectItemCaseSensitive(sec, key))
            cJSON_ReplaceItemInObjectCaseSensitive(sec, key, v);
        else
            cJSON_AddItemToObject(sec, key, v);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(sec, key);
    }
    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static void write_bytes(const char *p, const void *bytes, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

/* A raw file: 8-byte length (header length unless `len` is given), header, data. */
static void write_raw(const char *p, uint64_t len, const char *header, const void *data,
                      size_t ndata)
{
    const size_t h = strlen(header);
    unsigned char *buf = malloc(8 + h + ndata);
    assert_non_null(buf);
    if (len == UINT64_MAX) len = h;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, h);
    if (ndata) memcpy(buf + 8 + h, data, ndata);
    write_bytes(p, buf, 8 + h + ndata);
    free(buf);
}

#define RAW(header, ndata) write_raw(path, UINT64_MAX, (header), zeros, (ndata))
static const unsigned char zeros[256];

/* Load `path` and expect `status` and a message containing `substr`. */
static void expect_fail(clsde_status status, const char *substr)
{
    clsde_model *m = (clsde_model *)(uintptr_t)1;
    const clsde_status s = clsde_model_file_load(NULL, path, &m);
    if (s != status || !strstr(clsde_last_error(NULL), substr))
        fail_msg("status %d (want %d), message '%s' (want '%s')", (int)s, (int)status,
                 clsde_last_error(NULL), substr);
    assert_null(m);
}

/* The model file with tensor w [2,3] F32 (values 0..5) and b [3], plus meta. */
static void write_model(const char *config, const char *format)
{
    static const float w[6] = {0, 1, 2, 3, 4, 5}, b[3] = {-1, -2, -3};
    static const int64_t ws[2] = {2, 3}, bs[1] = {3};
    const clsde_st_write_tensor t[2] = {
        {"all_modules.3.weight", CLSDE_DTYPE_F32, 2, ws, w},
        {"all_modules.3.bias", CLSDE_DTYPE_F32, 1, bs, b},
    };
    clsde_st_kv meta[3];
    int32_t n = 0;
    if (format) meta[n++] = (clsde_st_kv){"clsde_format", format};
    if (config) meta[n++] = (clsde_st_kv){"config", config};
    meta[n++] = (clsde_st_kv){"source", "{\"input\": \"test\"}"};
    assert_int_equal(clsde_safetensors_write(NULL, path, t, 2, meta, n), CLSDE_OK);
}

static void config_fail(const char *config, clsde_status status, const char *substr)
{
    write_model(config, "1");
    expect_fail(status, substr);
}

static void field_fail(const char *section, const char *key, const char *value,
                       clsde_status status, const char *substr)
{
    char *c = config_with(section, key, value);
    config_fail(c, status, substr);
    cJSON_free(c);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clsde-test-model-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(path, sizeof path, "%s/m.safetensors", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[600];
    (void)state;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
    return 0;
}

/* ---------------------------------------------------------------- container */

static void test_header_length(void **state)
{
    (void)state;
    write_bytes(path, "abc", 3);
    expect_fail(CLSDE_ERR_FORMAT, "m.safetensors: file is 3 bytes, shorter than the 8-byte");
    write_bytes(path, "", 0);
    expect_fail(CLSDE_ERR_FORMAT, "file is 0 bytes");
    write_raw(path, 1000, "{}", NULL, 0);
    expect_fail(CLSDE_ERR_FORMAT, "header length 1000 does not fit in a 10-byte file");
    write_raw(path, UINT64_C(200000000), "{}", NULL, 0);
    expect_fail(CLSDE_ERR_FORMAT, "header length 200000000 exceeds the 100 MB limit");
    write_raw(path, UINT64_MAX - 1, "{}", NULL, 0);
    expect_fail(CLSDE_ERR_FORMAT, "exceeds the 100 MB limit");
    write_raw(path, 1, "{}", NULL, 0);
    expect_fail(CLSDE_ERR_FORMAT, "header length 1 is too short");
}

static void test_truncated(void **state)
{
    (void)state;
    /* the header promises 24 bytes of data, 12 are there */
    RAW("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 12);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': data_offsets [0, 24] reach past the end of the "
                                  "file (the data section has 12 bytes; truncated?)");
    /* header cut short */
    write_raw(path, 40, "{\"w\":{\"dtype\":\"F32\",\"sha", NULL, 0);
    expect_fail(CLSDE_ERR_FORMAT, "header length 40 does not fit in a 32-byte file");
}

static void test_not_json(void **state)
{
    (void)state;
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [1],, }}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "m.safetensors: header is not valid JSON (error near header "
                                  "offset");
    RAW("[1, 2, 3]", 0);
    expect_fail(CLSDE_ERR_FORMAT, "header is not a JSON object");
    RAW("{} {}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "header has bytes after its JSON object (header offset 3)");
    {
        const unsigned char b[12] = {4, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, ' '};
        write_bytes(path, b, sizeof b);
    }
    expect_fail(CLSDE_ERR_FORMAT, "NUL byte at header offset 2");
    RAW("{\"__metadata__\": {\"a\": 1}}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "__metadata__ value of 'a' is not a string");
    RAW("{\"__metadata__\": [\"a\"]}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "__metadata__ is not an object of strings");
    RAW("{\"\": {\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4);
    expect_fail(CLSDE_ERR_FORMAT, "header entry 0 has an empty tensor name");
    RAW("{\"a\\nb\": {\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4);
    expect_fail(CLSDE_ERR_FORMAT, "contains control character 0x0a");
}

static void test_entry_fields(void **state)
{
    (void)state;
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "m.safetensors: tensor 'w': data_offsets is missing");
    RAW("{\"w\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': dtype is missing");
    RAW("{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape is missing");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8], \"x\": 1}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': unexpected field 'x'");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"shape\": [2], \"data_offsets\": [0, 8]}}",
        8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': field 'shape' appears twice");
    RAW("{\"w\": [1, 2]}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': entry is not an object");
}

static void test_dtype(void **state)
{
    (void)state;
    RAW("{\"w\": {\"dtype\": \"F33\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': unknown dtype 'F33'");
    RAW("{\"w\": {\"dtype\": 32, \"shape\": [2], \"data_offsets\": [0, 8]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': dtype is not a string");
}

static void test_shape(void **state)
{
    (void)state;
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}", 20);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape [2,3] of F32 needs 24 bytes, data_offsets "
                                  "[0, 20] hold 20");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, -3], \"data_offsets\": [0, 8]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape[1] is not a non-negative integer");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape[0] is not a non-negative integer");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": \"2\", \"data_offsets\": [0, 8]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape is not an array");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}",
        4);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape has more than 8 dimensions");
    /* 2^32 * 2^32 elements: the product overflows 64 bits */
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], "
        "\"data_offsets\": [0, 0]}}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape [4294967296,4294967296] has too many "
                                  "elements");
    /* dimensions past 2^53 are not exact in JSON; 2^64 elements overflow */
    RAW("{\"w\": {\"dtype\": \"F64\", \"shape\": [2305843009213693952], "
        "\"data_offsets\": [0, 0]}}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape[0] is not a non-negative integer");
    RAW("{\"w\": {\"dtype\": \"F64\", \"shape\": [4503599627370496, 4096], "
        "\"data_offsets\": [0, 0]}}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "has too many elements");
    /* 2^62 F32 elements: 2^64 bytes would wrap to 0 and match the empty range */
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [9007199254740992, 512], "
        "\"data_offsets\": [0, 0]}}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': shape [9007199254740992,512] has too many "
                                  "elements");
    /* 2^60 F64 elements: the largest count, 2^63 bytes, does not match */
    RAW("{\"w\": {\"dtype\": \"F64\", \"shape\": [9007199254740992, 128], "
        "\"data_offsets\": [0, 0]}}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "needs 9223372036854775808 bytes, data_offsets [0, 0] hold 0");
}

static void test_offsets(void **state)
{
    (void)state;
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': data_offsets [8, 0] ends before it begins");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': data_offsets is not [begin, end] with two "
                                  "non-negative integers");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-8, 0]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': data_offsets is not [begin, end]");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [1e300, 1e300]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': data_offsets is not [begin, end]");
    RAW("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [100, 108]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "tensor 'w': data_offsets [100, 108] reach past the end");
}

static void test_layout(void **state)
{
    (void)state;
    RAW("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
        " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12);
    expect_fail(CLSDE_ERR_FORMAT, "m.safetensors: tensor 'b' (data bytes [4, 12)) overlaps "
                                  "tensor 'a' (data bytes [0, 8))");
    RAW("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
        " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8);
    expect_fail(CLSDE_ERR_FORMAT, "overlaps tensor 'a'");
    RAW("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
        " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [12, 20]}}", 20);
    expect_fail(CLSDE_ERR_FORMAT, "data bytes [8, 12) before tensor 'b' belong to no tensor "
                                  "(the format forbids holes)");
    RAW("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 12);
    expect_fail(CLSDE_ERR_FORMAT, "the last 4 bytes of the file belong to no tensor");
    RAW("{}", 4);
    expect_fail(CLSDE_ERR_FORMAT, "the header lists no tensors but 4 data bytes follow it");
    RAW("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
        " \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 16);
    expect_fail(CLSDE_ERR_FORMAT, "tensor name 'a' appears twice");
    RAW("{\"__metadata__\": {}, \"__metadata__\": {}}", 0);
    expect_fail(CLSDE_ERR_FORMAT, "header has __metadata__ twice");
}

static void test_parse_memory(void **state)
{
    /* the parser on a buffer: header order, lookup, zero-size and scalar tensors */
    static const char h[] = "{\"z\": {\"dtype\": \"U8\", \"shape\": [0, 5], \"data_offsets\": [4, 4]},"
                            " \"s\": {\"dtype\": \"I32\", \"shape\": [], \"data_offsets\": [0, 4]},"
                            " \"__metadata__\": {\"k\": \"v\"},"
                            " \"b\": {\"dtype\": \"BF16\", \"shape\": [3], \"data_offsets\": [4, 10]}}  ";
    unsigned char buf[8 + sizeof h - 1 + 10];
    clsde_safetensors st;
    (void)state;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((sizeof h - 1) >> (8 * i));
    memcpy(buf + 8, h, sizeof h - 1);
    assert_int_equal(clsde_safetensors_parse(NULL, "buf", buf, sizeof buf, sizeof buf, &st),
                     CLSDE_OK);
    assert_int_equal(st.n_tensors, 3);
    assert_string_equal(st.tensors[0].name, "z");
    assert_string_equal(st.tensors[2].name, "b");
    assert_int_equal(st.tensors[0].numel, 0);
    assert_int_equal(st.tensors[1].ndim, 0);
    assert_int_equal(st.tensors[1].numel, 1);
    assert_int_equal(st.tensors[2].dtype, CLSDE_DTYPE_BF16);
    assert_int_equal(clsde_safetensors_find(&st, "b"), 2);
    assert_int_equal(clsde_safetensors_find(&st, "s"), 1);
    assert_int_equal(clsde_safetensors_find(&st, "nope"), -1);
    assert_string_equal(clsde_safetensors_meta(&st, "k"), "v");
    assert_null(clsde_safetensors_meta(&st, "x"));
    assert_int_equal(st.data_offset, 8 + sizeof h - 1);
    assert_int_equal(st.data_bytes, 10);
    clsde_safetensors_free(&st);
    /* a buffer shorter than the header it announces */
    assert_int_equal(clsde_safetensors_parse(NULL, "buf", buf, 20, sizeof buf, &st),
                     CLSDE_ERR_ARG);
    assert_int_equal(st.n_tensors, 0);
}

/* ---------------------------------------------------------------- model metadata, config */

static void test_metadata(void **state)
{
    (void)state;
    write_model(synthetic_config, NULL);
    expect_fail(CLSDE_ERR_FORMAT, "m.safetensors: not a clsde model file: __metadata__ has no "
                                  "clsde_format");
    write_model(synthetic_config, "2");
    expect_fail(CLSDE_ERR_UNSUPPORTED, "clsde_format '2' is not supported");
    write_model(NULL, "1");
    expect_fail(CLSDE_ERR_FORMAT, "m.safetensors: __metadata__ has no config");
    config_fail("{\"model\": ", CLSDE_ERR_FORMAT, "m.safetensors: config is not valid JSON");
    config_fail("[]", CLSDE_ERR_FORMAT, "config is not a JSON object");
    config_fail("{\"data\": {}}", CLSDE_ERR_FORMAT, "config: data.image_size is missing");
    config_fail("{}", CLSDE_ERR_FORMAT, "config: section 'data' is missing");
}

static void test_config_fields(void **state)
{
    (void)state;
    field_fail("model", "name", "\"unet\"", CLSDE_ERR_FORMAT,
               "m.safetensors: config: unknown model.name 'unet' (clsde runs ncsnpp, ddpm)");
    field_fail("model", "name", "\"ncsnv2_64\"", CLSDE_ERR_UNSUPPORTED,
               "config: model.name 'ncsnv2_64' is not supported");
    field_fail("model", "progressive", "\"skip\"", CLSDE_ERR_FORMAT,
               "config: model.progressive 'skip' is not one of: none, output_skip, residual");
    field_fail("training", "sde", "\"vesde2\"", CLSDE_ERR_FORMAT,
               "config: training.sde 'vesde2' is not one of: vesde, vpsde, subvpsde");
    field_fail("sampling", "predictor", "\"euler\"", CLSDE_ERR_FORMAT,
               "config: sampling.predictor 'euler' is not one of");
    field_fail("model", "nf", "0", CLSDE_ERR_FORMAT, "config: model.nf is 0, must be in [1, 65536]");
    field_fail("model", "nf", "-16", CLSDE_ERR_FORMAT, "config: model.nf is -16, must be in");
    field_fail("model", "nf", "\"16\"", CLSDE_ERR_FORMAT,
               "config: model.nf must be an integer, got a string");
    field_fail("model", "nf", "16.5", CLSDE_ERR_FORMAT,
               "config: model.nf must be an integer, got a fraction");
    field_fail("model", "fir", NULL, CLSDE_ERR_FORMAT, "config: model.fir is missing");
    field_fail("model", "fir", "1", CLSDE_ERR_FORMAT,
               "config: model.fir must be true or false, got a number");
    field_fail("model", "ch_mult", "[]", CLSDE_ERR_FORMAT,
               "config: model.ch_mult has 0 entries, needs at least 1");
    field_fail("model", "ch_mult", "[1, 0]", CLSDE_ERR_FORMAT,
               "config: model.ch_mult[1] is 0, must be in [1, 65536]");
    field_fail("model", "ch_mult", "3", CLSDE_ERR_FORMAT,
               "config: model.ch_mult must be an array of integers, got a number");
    field_fail("model", "sigma_max", "\"big\"", CLSDE_ERR_FORMAT,
               "config: model.sigma_max must be a finite number, got a string");
    field_fail("model", "sigma_max", "0.001", CLSDE_ERR_FORMAT,
               "config: vesde needs 0 < model.sigma_min < model.sigma_max");
    field_fail("model", "num_res_blocks", "0", CLSDE_ERR_FORMAT,
               "config: model.num_res_blocks is 0, must be in [1, 64]");
    field_fail("model", "num_scales", "1", CLSDE_ERR_FORMAT,
               "config: model.num_scales is 1, must be in [2, 100000000]");
    field_fail("sampling", "snr", "-1", CLSDE_ERR_FORMAT, "config: sampling.snr is -1");
    field_fail("data", "image_size", "17", CLSDE_ERR_FORMAT,
               "config: data.image_size 17 is not divisible by 2^1 = 2");
    field_fail("data", "centered", "null", CLSDE_ERR_FORMAT,
               "config: data.centered must be true or false, got null");
    field_fail("model", "nonlinearity", "\"elu\"", CLSDE_ERR_UNSUPPORTED,
               "config: model.nonlinearity 'elu' is not supported");
}

static void test_config_vp(void **state)
{
    cJSON *root = cJSON_Parse(synthetic_config);
    clsde_model_config c;
    char *t;
    (void)state;
    /* VE sigmas are not checked for VP, the betas are */
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "training"),
                                           "sde", cJSON_CreateString("vpsde"));
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "model"),
                                           "sigma_max", cJSON_CreateNumber(-1));
    t = cJSON_PrintUnformatted(root);
    assert_int_equal(clsde_model_config_parse(NULL, "x", t, strlen(t), &c), CLSDE_OK);
    cJSON_free(t);
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "model"),
                                           "beta_max", cJSON_CreateNumber(5000));
    t = cJSON_PrintUnformatted(root);
    config_fail(t, CLSDE_ERR_FORMAT,
                "config: model.beta_max 5000 with model.num_scales 1000 gives a discrete beta "
                "of 5 >= 1");
    cJSON_free(t);
    cJSON_Delete(root);
}

static void test_config_group_norm(void **state)
{
    (void)state;
    /* widths 16, 144: min(144/4, 32) = 32 groups do not divide 144. Module order:
     * 0 Fourier, 1-2 temb, 3 conv_in, 4 RB, 5 RB down, 6 Combine, 7 RB 16->144 */
    field_fail("model", "ch_mult", "[1, 9]", CLSDE_ERR_FORMAT,
               "m.safetensors: config: all_modules.7.GroupNorm_1 would normalise 144 channels "
               "in min(C/4, 32) = 32 groups, which do not divide them");
    /* nf 6: 6 channels, 1 group... fine; 2*6 = 12 fine; up path 12+12 = 24 fine: nf 2 has
     * 2 channels -> 0 groups */
    field_fail("model", "nf", "2", CLSDE_ERR_FORMAT,
               "config: all_modules.4.GroupNorm_0 would normalise 2 channels in min(C/4, 32) = "
               "0 groups");
    {
        /* ddpm: 32 groups everywhere; nf 16 fails at the first resblock (module 3) */
        char *c = config_with("model", "name", "\"ddpm\"");
        config_fail(c, CLSDE_ERR_FORMAT,
                    "config: all_modules.3.GroupNorm_0 would normalise 16 channels in 32 groups "
                    "(models/ddpm.py)");
        cJSON_free(c);
    }
}

static void test_config_unsupported(void **state)
{
    (void)state;
    field_fail("model", "progressive", "\"residual\"", CLSDE_ERR_UNSUPPORTED,
               "m.safetensors: config: model.progressive 'residual' is not supported: the "
               "official code cannot run it (its pyramid upsampler fails with fir true");
    field_fail("model", "fir", "false", CLSDE_ERR_UNSUPPORTED,
               "config: model.progressive 'output_skip' with model.fir false is not supported");
    field_fail("model", "resblock_type", "\"ddpm\"", CLSDE_ERR_UNSUPPORTED,
               "config: model.resblock_type 'ddpm' runs in the official code only with "
               "model.fir true and model.resamp_with_conv false (got fir true, "
               "resamp_with_conv true");
    field_fail("model", "fir_kernel", "[1, 2, 1]", CLSDE_ERR_UNSUPPORTED,
               "config: model.fir_kernel must be [1,3,3,1]");
    field_fail("training", "continuous", "false", CLSDE_ERR_FORMAT,
               "config: model.embedding_type 'fourier' needs training.continuous true");
}

static void test_config_parse_direct(void **state)
{
    clsde_model_config c;
    char *t;
    (void)state;
    assert_int_equal(clsde_model_config_parse(NULL, "x", synthetic_config,
                                              strlen(synthetic_config), &c),
                     CLSDE_OK);
    assert_int_equal(c.arch, CLSDE_ARCH_NCSNPP);
    assert_string_equal(c.name, "ncsnpp");
    assert_int_equal(c.image_size, 16);
    assert_int_equal(c.num_channels, 3);
    assert_int_equal(c.centered, 0);
    assert_int_equal(c.nf, 16);
    assert_int_equal(c.n_levels, 2);
    assert_int_equal(c.ch_mult[1], 2);
    assert_int_equal(c.n_attn, 1);
    assert_int_equal(c.attn_resolutions[0], 8);
    assert_int_equal(c.fir, 1);
    assert_int_equal(c.fir_kernel[1], 3);
    assert_int_equal(c.progressive, CLSDE_PROG_OUTPUT_SKIP);
    assert_int_equal(c.progressive_input, CLSDE_PROG_INPUT_SKIP);
    assert_int_equal(c.progressive_combine, CLSDE_COMBINE_SUM);
    assert_int_equal(c.embedding_type, CLSDE_EMBED_FOURIER);
    assert_true(c.fourier_scale == 16.0);
    assert_int_equal(c.sde, CLSDE_SDE_VE);
    assert_true(c.sampling_eps == 1e-5);
    assert_true(c.sigma_max == 50.0);
    assert_int_equal(c.num_scales, 1000);
    assert_int_equal(c.predictor, CLSDE_PREDICTOR_REVERSE_DIFFUSION);
    assert_int_equal(c.corrector, CLSDE_CORRECTOR_LANGEVIN);
    assert_true(c.snr == 0.16);
    assert_int_equal(c.noise_removal, 1);
    /* 0 W, 1-2 temb, 3 conv_in, 4 RB, 5 down, 6 Combine, 7 RB, 8 Attn, mid 9-11,
     * up L1: 12-13 RB, 14 Attn, 15 GN, 16 conv, 17 RB up; L0: 18-19 RB, 20 GN, 21 conv */
    assert_int_equal(c.n_modules, 22);
    /* VP: sampling eps 1e-3; trailing text after the object is refused */
    t = config_with("training", "sde", "\"subvpsde\"");
    assert_int_equal(clsde_model_config_parse(NULL, "x", t, strlen(t), &c), CLSDE_OK);
    assert_int_equal(c.sde, CLSDE_SDE_SUBVP);
    assert_true(c.sampling_eps == 1e-3);
    cJSON_free(t);
    assert_int_equal(clsde_model_config_parse(NULL, "x", "{} x", 4, &c), CLSDE_ERR_FORMAT);
    assert_non_null(strstr(clsde_last_error(NULL), "x: config has text after its JSON object"));
}

/* The synthetic config with several fields replaced: "section.key", JSON value, ..., NULL. */
static char *config_set(const char *first, ...)
{
    cJSON *root = cJSON_Parse(synthetic_config);
    char *out;
    va_list ap;
    va_start(ap, first);
    for (const char *k = first; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *), *dot = strchr(k, '.');
        char sec[32];
        cJSON *obj, *val = cJSON_Parse(v);
        assert_non_null(dot);
        assert_non_null(val);
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - k), k);
        obj = cJSON_GetObjectItemCaseSensitive(root, sec);
        assert_non_null(obj);
        cJSON_DeleteItemFromObjectCaseSensitive(obj, dot + 1);
        cJSON_AddItemToObject(obj, dot + 1, val);
    }
    va_end(ap);
    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static void expect_modules(char *config, int32_t n_modules)
{
    clsde_model_config c;
    const clsde_status s = clsde_model_config_parse(NULL, "x", config, strlen(config), &c);
    if (s != CLSDE_OK) fail_msg("%s", clsde_last_error(NULL));
    assert_int_equal(c.n_modules, n_modules);
    cJSON_free(config);
}

/* The official configs pass the GroupNorm walk, and the walk counts the modules that
 * networks.md §2.5-§3 lists for them. */
static void test_config_official(void **state)
{
    (void)state;
    /* ve/cifar10_ncsnpp_continuous: 59 modules; deep (nrb 8): 95 */
    expect_modules(config_set("data.image_size", "32", "model.nf", "128", "model.ch_mult",
                              "[1,2,2,2]", "model.num_res_blocks", "4", "model.attn_resolutions",
                              "[16]", "model.progressive", "\"none\"",
                              "model.progressive_input", "\"residual\"", NULL),
                   59);
    expect_modules(config_set("data.image_size", "32", "model.nf", "128", "model.ch_mult",
                              "[1,2,2,2]", "model.num_res_blocks", "8", "model.attn_resolutions",
                              "[16]", "model.progressive", "\"none\"",
                              "model.progressive_input", "\"residual\"", NULL),
                   95);
    /* vp/cifar10_ddpmpp_continuous: 55 modules; deep: 91; vp/cifar10_ncsnpp: 58 */
    expect_modules(config_set("data.image_size", "32", "data.centered", "true", "training.sde",
                              "\"vpsde\"", "model.nf", "128", "model.ch_mult", "[1,2,2,2]",
                              "model.num_res_blocks", "4", "model.attn_resolutions", "[16]",
                              "model.progressive", "\"none\"", "model.progressive_input",
                              "\"none\"", "model.fir", "false", "model.embedding_type",
                              "\"positional\"", "model.scale_by_sigma", "false", NULL),
                   55);
    expect_modules(config_set("data.image_size", "32", "data.centered", "true", "training.sde",
                              "\"subvpsde\"", "model.nf", "128", "model.ch_mult", "[1,2,2,2]",
                              "model.num_res_blocks", "8", "model.attn_resolutions", "[16]",
                              "model.progressive", "\"none\"", "model.progressive_input",
                              "\"none\"", "model.fir", "false", "model.embedding_type",
                              "\"positional\"", "model.scale_by_sigma", "false", NULL),
                   91);
    expect_modules(config_set("data.image_size", "32", "data.centered", "true", "training.sde",
                              "\"vpsde\"", "model.nf", "128", "model.ch_mult", "[1,2,2,2]",
                              "model.num_res_blocks", "4", "model.attn_resolutions", "[16]",
                              "model.progressive", "\"none\"", "model.progressive_input",
                              "\"residual\"", "model.embedding_type", "\"positional\"",
                              "model.scale_by_sigma", "false", NULL),
                   58);
    /* ve/celebahq_256_ncsnpp_continuous: 77; ve/ffhq_ncsnpp_continuous (1024 px): 70 */
    expect_modules(config_set("data.image_size", "256", "model.nf", "128", "model.ch_mult",
                              "[1,1,2,2,2,2,2]", "model.num_res_blocks", "2",
                              "model.attn_resolutions", "[16]", "model.sigma_max", "348",
                              "model.num_scales", "2000", NULL),
                   77);
    expect_modules(config_set("data.image_size", "1024", "model.nf", "16", "model.ch_mult",
                              "[1,2,4,8,16,32,32,32]", "model.num_res_blocks", "1",
                              "model.attn_resolutions", "[16]", "model.sigma_max", "1348",
                              "model.num_scales", "2000", NULL),
                   70);
    /* vp/ddpm/cifar10: 37 */
    expect_modules(config_set("data.image_size", "32", "data.centered", "true", "training.sde",
                              "\"vpsde\"", "training.continuous", "false", "model.name",
                              "\"ddpm\"", "model.nf", "128", "model.ch_mult", "[1,2,2,2]",
                              "model.num_res_blocks", "2", "model.attn_resolutions", "[16]",
                              "model.scale_by_sigma", "false", NULL),
                   37);
}

/* ---------------------------------------------------------------- a good file */

static void test_good_model(void **state)
{
    clsde_model *m = NULL;
    const float *w = NULL;
    static const int64_t ws[2] = {2, 3}, bad[2] = {3, 2}, bs[1] = {3}, b4[4] = {3, 1, 1, 1};
    (void)state;
    write_model(synthetic_config, "1");
    assert_int_equal(clsde_model_file_load(NULL, path, &m), CLSDE_OK);
    assert_non_null(m);
    assert_int_equal(m->n_params, 9);
    assert_int_equal(m->st.n_tensors, 2);
    assert_int_equal(m->cfg.nf, 16);
    assert_int_equal(((uintptr_t)m->weights) % 64, 0);
    assert_int_equal(clsde_model_tensor(m, "all_modules.3.weight", ws, 2, &w), CLSDE_OK);
    assert_true(w[0] == 0.0f && w[5] == 5.0f);
    assert_int_equal(clsde_model_tensor(m, "all_modules.3.weight", bad, 2, &w),
                     CLSDE_ERR_FORMAT);
    assert_string_equal(clsde_last_error(NULL), "m.safetensors: tensor 'all_modules.3.weight' "
                                                "has shape [2,3], config expects [3,2]");
    assert_int_equal(clsde_model_tensor(m, "all_modules.3.bias", b4, 4, &w), CLSDE_ERR_FORMAT);
    assert_string_equal(clsde_last_error(NULL), "m.safetensors: tensor 'all_modules.3.bias' "
                                                "has shape [3], config expects [3,1,1,1]");
    assert_int_equal(clsde_model_tensor(m, "all_modules.4.weight", ws, 2, &w), CLSDE_ERR_FORMAT);
    assert_string_equal(clsde_last_error(NULL), "m.safetensors: tensor 'all_modules.4.weight' "
                                                "is missing (config expects shape [2,3])");
    /* the bias has not been taken yet */
    assert_int_equal(clsde_model_check_all_used(m), CLSDE_ERR_FORMAT);
    assert_string_equal(clsde_last_error(NULL),
                        "m.safetensors: 1 tensor is not used by the ncsnpp network the config "
                        "describes: 'all_modules.3.bias' (a config that does not belong to "
                        "these weights?)");
    assert_int_equal(clsde_model_mark_used(m, "nope"), CLSDE_ERR_FORMAT);
    assert_int_equal(clsde_model_tensor(m, "all_modules.3.bias", bs, 1, &w), CLSDE_OK);
    assert_true(w[2] == -3.0f);
    assert_int_equal(clsde_model_check_all_used(m), CLSDE_OK);
    clsde_model_file_destroy(m);
    clsde_model_file_destroy(NULL);
}

static void test_unused_list(void **state)
{
    clsde_model *m = NULL;
    char name[8][32];
    float v[8] = {0};
    static const int64_t one[1] = {1};
    clsde_st_write_tensor t[8];
    const clsde_st_kv meta[2] = {{"clsde_format", "1"}, {"config", synthetic_config}};
    (void)state;
    for (int i = 0; i < 8; i++) {
        snprintf(name[i], sizeof name[i], "t%d", i);
        t[i] = (clsde_st_write_tensor){name[i], CLSDE_DTYPE_F32, 1, one, &v[i]};
    }
    assert_int_equal(clsde_safetensors_write(NULL, path, t, 8, meta, 2), CLSDE_OK);
    assert_int_equal(clsde_model_file_load(NULL, path, &m), CLSDE_OK);
    assert_int_equal(clsde_model_mark_used(m, "t1"), CLSDE_OK);
    assert_int_equal(clsde_model_check_all_used(m), CLSDE_ERR_FORMAT);
    assert_non_null(strstr(clsde_last_error(NULL), "7 tensors are not used by the ncsnpp "
                                                   "network the config describes: 't0', 't2', "
                                                   "'t3', 't4', ..."));
    clsde_model_file_destroy(m);
}

static void test_model_dtype(void **state)
{
    static const int64_t s[1] = {2};
    static const uint16_t h[2] = {0x3c00, 0x4000};
    const clsde_st_write_tensor t[1] = {{"w", CLSDE_DTYPE_F16, 1, s, h}};
    const clsde_st_kv meta[2] = {{"clsde_format", "1"}, {"config", synthetic_config}};
    (void)state;
    assert_int_equal(clsde_safetensors_write(NULL, path, t, 1, meta, 2), CLSDE_OK);
    expect_fail(CLSDE_ERR_FORMAT, "m.safetensors: tensor 'w' has dtype F16; clsde model files "
                                  "hold F32 only");
}

static void test_memory_load(void **state)
{
    FILE *f;
    long n;
    unsigned char *buf;
    clsde_model *m = NULL;
    (void)state;
    write_model(synthetic_config, "1");
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    assert_int_equal(clsde_model_memory_load(NULL, "mem", buf, (size_t)n, &m), CLSDE_OK);
    assert_int_equal(m->n_params, 9);
    clsde_model_file_destroy(m);
    /* every truncation of a valid file fails cleanly */
    for (long k = 0; k < n; k++) {
        m = (clsde_model *)(uintptr_t)1;
        assert_int_not_equal(clsde_model_memory_load(NULL, "mem", buf, (size_t)k, &m), CLSDE_OK);
        assert_null(m);
    }
    free(buf);
}

/* ---------------------------------------------------------------- writer */

static void test_writer(void **state)
{
    static const int64_t s2[2] = {2, 2}, s0[1] = {0};
    static const double d[4] = {1.5, -2, 3, 1e300};
    static const uint8_t u[1] = {0};
    clsde_st_write_tensor t[3] = {
        {"a \"quoted\" \\ name", CLSDE_DTYPE_F64, 2, s2, d},
        {"empty", CLSDE_DTYPE_U8, 1, s0, u},
        {"scalar", CLSDE_DTYPE_U8, 0, NULL, u},
    };
    const clsde_st_kv meta[1] = {{"k\n", "v\"\x01"}};
    clsde_safetensors st;
    void *data = NULL;
    struct stat sb;
    char other[600];
    (void)state;
    assert_int_equal(clsde_safetensors_write(NULL, path, t, 3, meta, 1), CLSDE_OK);
    assert_int_equal(clsde_safetensors_read_file(NULL, path, NULL, &st, &data), CLSDE_OK);
    assert_int_equal(st.n_tensors, 3);
    assert_string_equal(st.tensors[0].name, "a \"quoted\" \\ name");
    assert_int_equal(st.data_offset % 8, 0);
    assert_int_equal(st.data_bytes, 33);
    assert_memory_equal(data, d, sizeof d);
    assert_int_equal(st.tensors[2].ndim, 0);
    assert_int_equal(st.tensors[2].begin, 32);
    assert_string_equal(clsde_safetensors_meta(&st, "k\n"), "v\"\x01");
    clsde_safetensors_free(&st);
    free(data);
    assert_int_equal(stat(path, &sb), 0);

    /* a failing write leaves the old file untouched and no temporary behind */
    t[1].name = t[0].name;
    assert_int_equal(clsde_safetensors_write(NULL, path, t, 3, NULL, 0), CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(NULL), "given twice"));
    t[1].name = "empty";
    t[0].ndim = 9;
    assert_int_equal(clsde_safetensors_write(NULL, path, t, 3, NULL, 0), CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(NULL), "invalid rank 9"));
    t[0].ndim = 2;
    t[0].name = "__metadata__";
    assert_int_equal(clsde_safetensors_write(NULL, path, t, 3, NULL, 0), CLSDE_ERR_ARG);
    t[0].name = "ok";
    snprintf(other, sizeof other, "%s/no/such/dir/x.safetensors", tmpdir);
    assert_int_equal(clsde_safetensors_write(NULL, other, t, 3, NULL, 0), CLSDE_ERR_IO);
    assert_non_null(strstr(clsde_last_error(NULL), "cannot create a temporary file beside it"));
    {
        struct stat sb2;
        int entries = 0;
        DIR *dir = opendir(tmpdir);
        struct dirent *e;
        assert_int_equal(stat(path, &sb2), 0);
        assert_int_equal(sb2.st_size, sb.st_size);
        while ((e = readdir(dir)))
            if (e->d_name[0] != '.') entries++;
        closedir(dir);
        assert_int_equal(entries, 1);
    }
    /* reading: not a file, not there */
    assert_int_equal(clsde_safetensors_read_file(NULL, tmpdir, "dir", &st, &data), CLSDE_ERR_IO);
    assert_non_null(strstr(clsde_last_error(NULL), "dir: not a regular file"));
    assert_int_equal(clsde_safetensors_read_file(NULL, other, NULL, &st, &data), CLSDE_ERR_IO);
    assert_non_null(strstr(clsde_last_error(NULL), "x.safetensors: cannot open: No such file"));
}

/* ---------------------------------------------------------------- public API */

static void test_public_api(void **state)
{
    clsde_context *ctx = NULL;
    clsde_context_params p;
    clsde_model *m = (clsde_model *)(uintptr_t)1;
    clsde_model_info info;
    (void)state;
    assert_int_equal(clsde_model_load(NULL, path, &m), CLSDE_ERR_ARG);
    assert_null(m);
    assert_non_null(strstr(clsde_last_error(NULL), "ctx is NULL"));
    assert_int_equal(clsde_model_get_info(NULL, &info), CLSDE_ERR_ARG);
    clsde_model_destroy(NULL);

    clsde_context_params_default(&p);
    p.no_cache = 1;
    assert_int_equal(clsde_context_create(&p, &ctx), CLSDE_OK);
    write_model(synthetic_config, "1");
    assert_int_equal(clsde_model_load(ctx, NULL, &m), CLSDE_ERR_ARG);
    assert_int_equal(clsde_model_load(ctx, path, &m), CLSDE_OK);
    assert_int_equal(clsde_model_get_info(m, &info), CLSDE_OK);
    assert_string_equal(info.arch, "ncsnpp");
    assert_int_equal(info.image_size, 16);
    assert_int_equal(info.num_channels, 3);
    assert_int_equal(info.sde, CLSDE_SDE_VE);
    assert_string_equal(info.sde_name, "vesde");
    assert_int_equal(info.continuous, 1);
    assert_int_equal(info.num_scales, 1000);
    assert_true(info.sigma_min == 0.01 && info.sigma_max == 50.0);
    assert_true(info.beta_min == 0.1 && info.beta_max == 20.0);
    assert_true(info.sampling_eps == 1e-5);
    assert_int_equal(info.num_parameters, 9);
    assert_int_equal(info.num_tensors, 2);
    assert_int_equal(info.weight_bytes, 36);
    clsde_model_destroy(m);
    /* failures are recorded on the context */
    unlink(path);
    assert_int_equal(clsde_model_load(ctx, path, &m), CLSDE_ERR_IO);
    assert_non_null(strstr(clsde_last_error(ctx), "m.safetensors: cannot open"));
    clsde_context_destroy(ctx);
}

/* ---------------------------------------------------------------- converted fixtures */

static cJSON *read_json(const char *p)
{
    FILE *f = fopen(p, "rb");
    char *buf;
    long n;
    cJSON *j;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    j = n ? cJSON_ParseWithLength(buf, (size_t)n) : NULL;
    free(buf);
    return j;
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

/* Every CONVERTED/NAME.safetensors against FIXTURES/NAME/config.json: parameter and tensor
 * counts, the module count of the config walk, SDE fields, the final conv's shape. */
static int run_fixtures(const char *fixtures, const char *converted)
{
    DIR *d = opendir(converted);
    struct dirent *e;
    int n = 0, bad = 0;
    if (!d) {
        fprintf(stderr, "cannot open %s\n", converted);
        return 1;
    }
    while ((e = readdir(d))) {
        char mp[1024], cp[1024], name[256], tname[64];
        const char *dot = strstr(e->d_name, ".safetensors");
        clsde_model *m = NULL;
        cJSON *cj;
        int max_idx = -1, ok = 1;
        int64_t want_params, want_tensors;
        if (!dot || dot[12]) continue;
        snprintf(name, sizeof name, "%.*s", (int)(dot - e->d_name), e->d_name);
        snprintf(mp, sizeof mp, "%s/%s", converted, e->d_name);
        snprintf(cp, sizeof cp, "%s/%s/config.json", fixtures, name);
        n++;
        if (!(cj = read_json(cp))) {
            printf("FAIL %s: cannot read %s\n", name, cp);
            bad++;
            continue;
        }
        if (clsde_model_file_load(NULL, mp, &m) != CLSDE_OK) {
            printf("FAIL %s: %s\n", name, clsde_last_error(NULL));
            bad++;
            cJSON_Delete(cj);
            continue;
        }
        want_params = (int64_t)jnum(cj, "checkpoint", "params_total");
        /* the file drops the float64 'sigmas' buffer */
        want_tensors = (int64_t)jnum(cj, "checkpoint", "model_keys") - 1;
        for (int32_t i = 0; i < m->st.n_tensors; i++) {
            int k;
            if (sscanf(m->st.tensors[i].name, "all_modules.%d.", &k) == 1 && k > max_idx)
                max_idx = k;
        }
        {
            const clsde_model_config *c = &m->cfg;
            const int64_t last[4] = {c->num_channels, (int64_t)c->nf * c->ch_mult[0], 3, 3};
            const float *w = NULL;
            snprintf(tname, sizeof tname, "all_modules.%d.weight", (int)c->n_modules - 1);
            if (m->n_params != want_params || m->st.n_tensors != want_tensors) ok = 0;
            if (max_idx + 1 != c->n_modules) ok = 0;
            if (c->num_scales != (int32_t)jnum(cj, "sde", "N")) ok = 0;
            if (c->sampling_eps != jnum(cj, "sde", "sampling_eps")) ok = 0;
            if (c->continuous != cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                                     cJSON_GetObjectItemCaseSensitive(cj, "sde"), "continuous")))
                ok = 0;
            if (clsde_model_tensor(m, tname, last, 4, &w) != CLSDE_OK) {
                printf("     %s\n", clsde_last_error(NULL));
                ok = 0;
            }
            printf("%s %s: %s %s, %lld params (want %lld), %d tensors (want %lld), "
                   "%d modules (file %d)\n",
                   ok ? "ok  " : "FAIL", name, c->name, clsde_sde_name(c->sde),
                   (long long)m->n_params, (long long)want_params, (int)m->st.n_tensors,
                   (long long)want_tensors, (int)c->n_modules, max_idx + 1);
        }
        bad += !ok;
        clsde_model_file_destroy(m);
        cJSON_Delete(cj);
    }
    closedir(d);
    printf("%d fixture models, %d failed\n", n, bad);
    return bad || !n;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_entry_fields),
        cmocka_unit_test(test_dtype),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_parse_memory),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_config_fields),
        cmocka_unit_test(test_config_vp),
        cmocka_unit_test(test_config_group_norm),
        cmocka_unit_test(test_config_unsupported),
        cmocka_unit_test(test_config_parse_direct),
        cmocka_unit_test(test_config_official),
        cmocka_unit_test(test_good_model),
        cmocka_unit_test(test_unused_list),
        cmocka_unit_test(test_model_dtype),
        cmocka_unit_test(test_memory_load),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_public_api),
    };
    if (argc == 4 && !strcmp(argv[1], "--fixtures")) return run_fixtures(argv[2], argv[3]);
    return cmocka_run_group_tests(tests, setup, teardown);
}
