/* fixture_io.c — see fixture_io.h. Validates every offset against the file size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fixture_io.h"

int fixture_open(fixture_file *f, const char *path, char *err, size_t errn)
{
    FILE *fp = fopen(path, "rb");
    long len;
    uint64_t hlen = 0;
    memset(f, 0, sizeof *f);
    if (!fp) {
        snprintf(err, errn, "%s: cannot open", path);
        return -1;
    }
    if (fseek(fp, 0, SEEK_END) || (len = ftell(fp)) < 8 || fseek(fp, 0, SEEK_SET)) {
        snprintf(err, errn, "%s: cannot size the file (or shorter than 8 bytes)", path);
        fclose(fp);
        return -1;
    }
    f->size = (size_t)len;
    f->bytes = malloc(f->size + 1);
    if (!f->bytes || fread(f->bytes, 1, f->size, fp) != f->size) {
        snprintf(err, errn, "%s: read failed", path);
        fclose(fp);
        fixture_close(f);
        return -1;
    }
    fclose(fp);
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->bytes[i];
    if (hlen > f->size - 8) {
        snprintf(err, errn, "%s: header length %llu exceeds the file", path,
                 (unsigned long long)hlen);
        fixture_close(f);
        return -1;
    }
    f->data_start = 8 + (size_t)hlen;
    f->header = cJSON_ParseWithLength((const char *)f->bytes + 8, (size_t)hlen);
    if (!f->header) {
        snprintf(err, errn, "%s: header is not valid JSON", path);
        fixture_close(f);
        return -1;
    }
    return 0;
}

void fixture_close(fixture_file *f)
{
    cJSON_Delete(f->header);
    free(f->bytes);
    memset(f, 0, sizeof *f);
}

float *fixture_tensor(const fixture_file *f, const char *name, size_t *count, int64_t *shape,
                      int *ndim)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(f->header, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *shp = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    size_t n = 1, begin, end;
    int nd = 0;
    const cJSON *d;
    float *out;
    if (!t || !cJSON_IsString(dtype) || strcmp(dtype->valuestring, "F32") != 0 ||
        !cJSON_IsArray(shp) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
        fprintf(stderr, "fixture: tensor '%s' missing or not F32\n", name);
        return NULL;
    }
    cJSON_ArrayForEach(d, shp)
    {
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || nd >= 8) {
            fprintf(stderr, "fixture: tensor '%s' has a bad shape\n", name);
            return NULL;
        }
        if (shape) shape[nd] = (int64_t)d->valuedouble;
        n *= (size_t)d->valuedouble;
        nd++;
    }
    begin = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
    end = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    if (end < begin || end - begin != 4 * n || f->data_start + end > f->size) {
        fprintf(stderr, "fixture: tensor '%s': offsets [%zu, %zu) do not fit %zu floats / the "
                        "file\n", name, begin, end, n);
        return NULL;
    }
    out = malloc((n ? n : 1) * sizeof *out);
    if (!out) return NULL;
    memcpy(out, f->bytes + f->data_start + begin, 4 * n); /* little-endian host assumed */
    if (count) *count = n;
    if (ndim) *ndim = nd;
    return out;
}
