/*
 * png_out.c — PNG output with libpng; the temporary file lives next to the target so the
 * final rename is atomic, and a failure leaves no partial file behind.
 */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "png_out.h"

unsigned char png_to_u8(float x)
{
    const float v = 255.0f * x;
    if (!(v > 0.0f)) return 0; /* also NaN */
    if (v >= 255.0f) return 255;
    return (unsigned char)floorf(v);
}

static int write_png(FILE *f, const unsigned char *rgb, int width, int height, int channels,
                     const png_text_kv *text, int n_text, char *err, size_t err_size)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_textp chunks = NULL;
    if (!png || !info) {
        snprintf(err, err_size, "libpng: out of memory");
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, err_size, "libpng: write error");
        png_destroy_write_struct(&png, &info);
        free(chunks);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (n_text > 0) {
        chunks = calloc((size_t)n_text, sizeof *chunks);
        if (!chunks) png_error(png, "out of memory");
        for (int i = 0; i < n_text; i++) {
            chunks[i].compression = PNG_TEXT_COMPRESSION_NONE;
            chunks[i].key = (png_charp)text[i].key;
            chunks[i].text = (png_charp)text[i].value;
        }
        png_set_text(png, info, chunks, n_text);
    }
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * channels));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(chunks);
    return 0;
}

int png_write_grid(const char *path, const float *x, int n, int c, int h, int w, int cols,
                   const png_text_kv *text, int n_text, char *err, size_t err_size)
{
    const int pad = 2;
    int rows, width, height, rc;
    unsigned char *img;
    char tmp[4096];
    FILE *f;
    int fd;

    if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1) {
        snprintf(err, err_size, "cannot write %d images of %d channels as PNG", n, c);
        return -1;
    }
    if (cols <= 0) {
        cols = (int)ceil(sqrt((double)n));
    }
    if (cols > n) cols = n;
    rows = (n + cols - 1) / cols;
    width = cols * (w + pad) + pad;
    height = rows * (h + pad) + pad;
    img = calloc((size_t)width * height * c, 1);
    if (!img) {
        snprintf(err, err_size, "out of memory for a %dx%d image", width, height);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const int ox = pad + (i % cols) * (w + pad), oy = pad + (i / cols) * (h + pad);
        for (int ch = 0; ch < c; ch++)
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++)
                    img[((size_t)(oy + yy) * width + ox + xx) * c + ch] =
                        png_to_u8(x[(((size_t)i * c + ch) * h + yy) * w + xx]);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0 || !(f = fdopen(fd, "wb"))) {
        snprintf(err, err_size, "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd), unlink(tmp);
        free(img);
        return -1;
    }
    rc = write_png(f, img, width, height, c, text, n_text, err, err_size);
    free(img);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, err_size, "writing %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, err_size, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        rc = -1;
    }
    if (rc != 0) unlink(tmp);
    return rc;
}
