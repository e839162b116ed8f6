/*
 * test_embed_fixture.c — the sinusoidal embedding against the official code's own output:
 * each VP fixture's io.safetensors holds `label` [B] and `emb` [B, nf], the vector that
 * layers.get_timestep_embedding computed (networks.md §1.2). Checked: kernel == C
 * reference (within 1 ulp; equal on PoCL), and reference vs official: every value within
 * 1 float ulp, except where PyTorch's float32 exp (SLEEF, not correctly rounded) gave a
 * frequency f_k one ulp away from ours — those values must match within 1 ulp when
 * recomputed with that neighbouring frequency — and all within the spec's 2e-4.
 * The Fourier fixtures (VE) need W, which lives only in checkpoint.pth (a torch pickle):
 * skipped here until converted model files exist; a one-off check in Python found our
 * reference within 1 ulp of all five VE fixtures' `emb` (480 values, 27 off by 1 ulp).
 * Fixtures: $CLSDE_FIXTURES, else the directory given as argv[1] (meson passes
 * ../shared/fixtures next to the source tree); exit 77 (skip) when neither exists.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>
#include <cmocka.h>

#include "kernels/embed.h"
#include "ref/embed_ref.h"

static const char *fixtures_dir;
static clsde_context *ctx;

typedef struct tensor {
    float *data;
    int64_t shape[4];
    int ndim;
    size_t n;
} tensor;

/* Whole file into memory; NULL if it cannot be read. */
static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long len;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len)) && fread(buf, 1, (size_t)len, f) == (size_t)len) {
        *size = (size_t)len;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* A float32 tensor of a .safetensors file: 8-byte little-endian header length, JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}}, then the data. Fails the test on
 * any inconsistency. */
static tensor load_tensor(const unsigned char *file, size_t size, const char *name)
{
    tensor t = {0};
    uint64_t hlen = 0;
    char *json;
    cJSON *root, *entry, *shape, *offs;
    size_t begin, end;
    assert_true(size >= 8);
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | file[i];
    assert_true(hlen <= size - 8);
    json = malloc(hlen + 1);
    assert_non_null(json);
    memcpy(json, file + 8, hlen);
    json[hlen] = 0;
    root = cJSON_Parse(json);
    free(json);
    assert_non_null(root);
    entry = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!entry) fail_msg("tensor '%s' not found", name);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(entry, "dtype")->valuestring, "F32");
    shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    assert_true(cJSON_IsArray(shape) && cJSON_IsArray(offs) && cJSON_GetArraySize(offs) == 2);
    t.ndim = cJSON_GetArraySize(shape);
    assert_true(t.ndim >= 1 && t.ndim <= 4);
    t.n = 1;
    for (int i = 0; i < t.ndim; i++) {
        t.shape[i] = (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble;
        t.n *= (size_t)t.shape[i];
    }
    begin = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
    end = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
    assert_true(begin <= end && end <= size - 8 - hlen && end - begin == t.n * sizeof(float));
    t.data = malloc(t.n * sizeof(float));
    assert_non_null(t.data);
    memcpy(t.data, file + 8 + hlen + begin, t.n * sizeof(float)); /* little-endian host */
    cJSON_Delete(root);
    return t;
}

static int64_t ulp_diff(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

/* The embedding kernel on the device. */
static void run_kernel(int n, int dim, const float *label, float *out)
{
    cl_mem bl = NULL, bo = NULL;
    assert_int_equal(clsde_buffer_create(ctx, (size_t)n * sizeof(float), &bl), CLSDE_OK);
    assert_int_equal(clsde_buffer_create(ctx, (size_t)n * dim * sizeof(float), &bo), CLSDE_OK);
    assert_int_equal(clsde_buffer_write(ctx, bl, 0, (size_t)n * sizeof(float), label), CLSDE_OK);
    if (clsde_sinusoidal_embed_enqueue(ctx, n, dim, bl, bo) != CLSDE_OK)
        fail_msg("sinusoidal_embed: %s", clsde_last_error(ctx));
    assert_int_equal(clsde_buffer_read(ctx, bo, 0, (size_t)n * dim * sizeof(float), out),
                     CLSDE_OK);
    clsde_buffer_release(bl);
    clsde_buffer_release(bo);
}

static void check_fixture(const char *name)
{
    char path[4096];
    size_t size = 0;
    unsigned char *file;
    tensor label, emb;
    float *ref, *got;
    int n, dim, half, exact = 0, one_ulp = 0, by_freq = 0;
    int64_t max_ulp = 0;
    double max_abs = 0.0;
    float neg_c;

    snprintf(path, sizeof path, "%s/%s/io.safetensors", fixtures_dir, name);
    file = read_file(path, &size);
    if (!file) fail_msg("cannot read %s", path);
    label = load_tensor(file, size, "label");
    emb = load_tensor(file, size, "emb");
    free(file);
    assert_int_equal(emb.ndim, 2);
    assert_int_equal(emb.shape[0], (int64_t)label.n);
    n = (int)label.n;
    dim = (int)emb.shape[1];
    half = dim / 2;
    neg_c = clsde_sinusoidal_embed_neg_c(dim);
    ref = malloc(emb.n * sizeof *ref);
    got = malloc(emb.n * sizeof *got);
    assert_true(ref && got);

    clsde_sinusoidal_embed_ref(n, dim, label.data, ref);
    run_kernel(n, dim, label.data, got);
    for (size_t i = 0; i < emb.n; i++)
        if (ulp_diff(got[i], ref[i]) > 1)
            fail_msg("%s: kernel vs reference at %zu: %.9g vs %.9g", name, i, (double)got[i],
                     (double)ref[i]);

    for (int b = 0; b < n; b++)
        for (int j = 0; j < dim; j++) {
            const size_t i = (size_t)b * dim + j;
            const int64_t d = ulp_diff(ref[i], emb.data[i]);
            max_ulp = d > max_ulp ? d : max_ulp;
            max_abs = fmax(max_abs, fabs((double)ref[i] - emb.data[i]));
            if (d == 0) {
                exact++;
            } else if (d == 1) {
                one_ulp++;
            } else {
                /* PyTorch's expf may round f_k the other way: recompute with the neighbour */
                const int k = j % half;
                const float f = (float)exp((double)((float)k * neg_c));
                int explained = 0;
                for (int s = -1; s <= 1; s += 2) {
                    const float a = label.data[b] * nextafterf(f, s < 0 ? 0.0f : INFINITY);
                    const float v = j < half ? (float)sin((double)a) : (float)cos((double)a);
                    explained |= j < 2 * half && ulp_diff(v, emb.data[i]) <= 1;
                }
                if (!explained)
                    fail_msg("%s: image %d feature %d: reference %.9g, official %.9g (%lld ulp), "
                             "not explained by a 1-ulp different frequency",
                             name, b, j, (double)ref[i], (double)emb.data[i], (long long)d);
                by_freq++;
            }
        }
    printf("%s: %zu values, labels %.7g %.7g %.7g: %d equal, %d 1 ulp, %d from a 1-ulp "
           "PyTorch exp (max %lld ulp, max |diff| %.3g, bound 2e-4)\n",
           name, emb.n, (double)label.data[0], (double)label.data[n > 1 ? 1 : 0],
           (double)label.data[n - 1], exact, one_ulp, by_freq, (long long)max_ulp, max_abs);
    assert_true(max_abs <= 2e-4);
    free(ref), free(got), free(label.data), free(emb.data);
}

static void test_vp_ddpmpp(void **state)
{
    (void)state;
    check_fixture("vp_ddpmpp");
}

static void test_vp_ddpmpp_ddpmblock(void **state)
{
    (void)state;
    check_fixture("vp_ddpmpp_ddpmblock");
}

static void test_vp_ddpm(void **state)
{
    (void)state;
    check_fixture("vp_ddpm");
}

static void test_fourier_fixtures(void **state)
{
    (void)state;
    printf("Fourier fixtures skipped: W is only in checkpoint.pth (torch pickle); add them "
           "when converted model files exist\n");
    skip();
}

static int setup(void **state)
{
    clsde_context_params p;
    (void)state;
    clsde_context_params_default(&p);
    if (clsde_context_create(&p, &ctx) != CLSDE_OK) {
        fprintf(stderr, "test_embed_fixture: %s\n", clsde_last_error(NULL));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clsde_context_destroy(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vp_ddpmpp),
        cmocka_unit_test(test_vp_ddpmpp_ddpmblock),
        cmocka_unit_test(test_vp_ddpm),
        cmocka_unit_test(test_fourier_fixtures),
    };
    struct stat st;
    fixtures_dir = getenv("CLSDE_FIXTURES");
    if (!fixtures_dir || !*fixtures_dir) fixtures_dir = argc > 1 ? argv[1] : NULL;
    if (!fixtures_dir || stat(fixtures_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("test_embed_fixture: no fixtures directory (%s): skipped\n",
               fixtures_dir ? fixtures_dir : "set CLSDE_FIXTURES");
        return 77;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
