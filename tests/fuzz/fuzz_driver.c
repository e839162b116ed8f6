/*
 * fuzz_driver.c — runs LLVMFuzzerTestOneInput over files and directories (the corpus) when
 * libFuzzer is not linked: the gcc build, in the default `meson test` suite 'fuzz'.
 * Corpus files named ok_* must load as a model and bad_* must not, so the corpus also
 * checks the loader's verdicts.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, const char *base)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    clsde_model *m = NULL;
    clsde_status s;
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "%s: cannot read\n", path);
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    s = clsde_model_memory_load(NULL, base, buf, (size_t)n, &m);
    clsde_model_file_destroy(m);
    free(buf);
    if (!strncmp(base, "ok_", 3) && s != CLSDE_OK) {
        fprintf(stderr, "FAIL %s: should load, got: %s\n", base, clsde_last_error(NULL));
        return 1;
    }
    if (!strncmp(base, "bad_", 4)) {
        if (s == CLSDE_OK) {
            fprintf(stderr, "FAIL %s: should be rejected, loaded\n", base);
            return 1;
        }
        printf("%-32s %s\n", base, clsde_last_error(NULL));
    }
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        DIR *d;
        struct dirent *e;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "%s: not found\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(sb.st_mode)) {
            const char *slash = strrchr(argv[i], '/');
            failed += run_file(argv[i], slash ? slash + 1 : argv[i]);
            files++;
            continue;
        }
        if (!(d = opendir(argv[i]))) return 1;
        while ((e = readdir(d))) {
            char p[4096];
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            failed += run_file(p, e->d_name);
            files++;
        }
        closedir(d);
    }
    printf("%d inputs, %d failed\n", files, failed);
    return failed || !files;
}
