/*
 * png_out.h — sample images to PNG (libpng): one grid or one file per image, with tEXt
 * chunks recording how to reproduce it; written atomically (temp file + rename).
 */
#ifndef CLSDE_PNG_OUT_H
#define CLSDE_PNG_OUT_H

#include <stddef.h>

typedef struct png_text_kv {
    const char *key;
    const char *value;
} png_text_kv;

/* Sample value to uint8 as the reference does (algorithms.md §3.3, §10):
 * floor(clip(255 * x, 0, 255)); NaN maps to 0. */
unsigned char png_to_u8(float x);

/* x: [n, c, h, w] in [0, 1] (c = 1 grey or 3 RGB). Writes a grid of `cols` columns (0: about
 * square) with a 2-pixel border. Returns 0, or -1 with a message in err. */
int png_write_grid(const char *path, const float *x, int n, int c, int h, int w, int cols,
                   const png_text_kv *text, int n_text, char *err, size_t err_size);

#endif
