/* test_png.c — PNG grid output: pixel values (reference uint8 truncation), grid layout,
 * text chunks, atomic write (no file left on failure). */
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/png_out.h"

static void test_to_u8(void **state)
{
    (void)state;
    assert_int_equal(png_to_u8(-0.5f), 0);
    assert_int_equal(png_to_u8(0.0f), 0);
    assert_int_equal(png_to_u8(0.999f / 255.0f), 0); /* truncation, not rounding */
    assert_int_equal(png_to_u8(0.5f), 127);          /* 127.5 -> 127 */
    assert_int_equal(png_to_u8(1.0f), 255);
    assert_int_equal(png_to_u8(7.0f), 255);
    assert_int_equal(png_to_u8(0.0f / 0.0f), 0);
}

static void test_grid_roundtrip(void **state)
{
    /* 3 RGB images of 4x5 in a grid of 2 columns: 2 rows, pad 2 */
    enum { N = 3, C = 3, H = 4, W = 5 };
    float x[N * C * H * W];
    char path[] = "/tmp/clsde-png-test-XXXXXX", err[256];
    const png_text_kv text[] = {{"clsde:seed", "42"}, {"clsde:model", "m.safetensors"}};
    png_image img;
    unsigned char *pix;
    png_structp png;
    png_infop info;
    png_textp chunks;
    int n_chunks = 0, fd;
    FILE *f;
    (void)state;
    for (int i = 0; i < N * C * H * W; i++) x[i] = (float)(i % 256) / 255.0f + 0.001f;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(png_write_grid(path, x, N, C, H, W, 2, text, 2, err, sizeof err), 0);

    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    assert_int_equal(img.width, 2 * (W + 2) + 2);
    assert_int_equal(img.height, 2 * (H + 2) + 2);
    img.format = PNG_FORMAT_RGB;
    pix = malloc(PNG_IMAGE_SIZE(img));
    assert_true(png_image_finish_read(&img, NULL, pix, 0, NULL));
    /* image 2 (third) sits at row 1, column 0: origin (2, 2 + H + 2) */
    for (int ch = 0; ch < C; ch++)
        for (int yy = 0; yy < H; yy++)
            for (int xx = 0; xx < W; xx++) {
                const int idx = ((2 * C + ch) * H + yy) * W + xx;
                const size_t p = ((size_t)(2 + H + 2 + yy) * img.width + 2 + xx) * 3 + ch;
                assert_int_equal(pix[p], idx % 256);
            }
    assert_int_equal(pix[0], 0); /* border */
    free(pix);

    f = fopen(path, "rb");
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png_create_info_struct(png);
    png_init_io(png, f);
    png_read_info(png, info);
    png_get_text(png, info, &chunks, &n_chunks);
    assert_int_equal(n_chunks, 2);
    assert_string_equal(chunks[0].key, "clsde:seed");
    assert_string_equal(chunks[0].text, "42");
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    unlink(path);
}

static void test_failure_leaves_nothing(void **state)
{
    char err[256];
    float x[4] = {0};
    (void)state;
    assert_int_equal(png_write_grid("/nonexistent-dir/out.png", x, 1, 1, 2, 2, 0, NULL, 0, err,
                                    sizeof err),
                     -1);
    assert_non_null(strstr(err, "cannot create"));
    assert_int_equal(png_write_grid("/tmp/x.png", x, 1, 2, 2, 2, 0, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "2 channels"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_u8),
        cmocka_unit_test(test_grid_roundtrip),
        cmocka_unit_test(test_failure_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
