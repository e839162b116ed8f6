/*
 * fixture_io.h — a small reader for the fixtures' io.safetensors files (test code only):
 * 8-byte little-endian header length, JSON header {name: {dtype, shape, data_offsets}},
 * raw little-endian data. Only F32 tensors are returned.
 */
#ifndef CLSDE_FIXTURE_IO_H
#define CLSDE_FIXTURE_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct fixture_file {
    unsigned char *bytes; /* the whole file */
    size_t size;
    size_t data_start;    /* 8 + header length */
    void *header;         /* cJSON * */
} fixture_file;

/* 0 on success; on failure -1 and a message in err. */
int fixture_open(fixture_file *f, const char *path, char *err, size_t errn);
void fixture_close(fixture_file *f);

/* A malloc'ed copy of F32 tensor `name` (caller frees), its element count in *count and
 * its shape in shape[0 .. *ndim-1] (up to 8 dims; NULL pointers allowed). NULL with a
 * message on stderr when missing, not F32, or out of bounds. */
float *fixture_tensor(const fixture_file *f, const char *name, size_t *count, int64_t *shape,
                      int *ndim);

#endif
