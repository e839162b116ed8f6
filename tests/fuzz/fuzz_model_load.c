/*
 * fuzz_model_load.c — libFuzzer target for the model-file loader: the bytes are a whole
 * model file, parsed from memory (safetensors container, metadata, config, dtypes), and
 * then, as a second input kind, JSON text for the config parser alone. No OpenCL.
 * Built with clang by tests/fuzz/run_fuzz.sh; fuzz_driver.c runs it over the corpus in
 * the default test suite.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a parsed header promises, re-checked without trusting the parser's arithmetic: every
 * tensor lies in the data section with exactly numel * dtype size bytes, the ranges add up
 * to the data section, and lookup by name finds each tensor. */
static void check_container(const uint8_t *data, size_t size)
{
    clsde_safetensors st;
    uint64_t total = 0;
    if (clsde_safetensors_parse(NULL, "fuzz", data, size, size, &st) != CLSDE_OK) return;
    if (st.data_offset + st.data_bytes != size) __builtin_trap();
    for (int32_t i = 0; i < st.n_tensors; i++) {
        const clsde_st_tensor *t = &st.tensors[i];
        const uint64_t bytes = t->end - t->begin, es = clsde_dtype_size(t->dtype);
        uint64_t numel = 1;
        if (t->end < t->begin || t->end > st.data_bytes || !es || bytes % es) __builtin_trap();
        for (int32_t d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0) __builtin_trap();
            numel *= (uint64_t)t->shape[d];
        }
        if (bytes / es != numel || (uint64_t)t->numel != numel) __builtin_trap();
        if (clsde_safetensors_find(&st, t->name) != i) __builtin_trap();
        total += bytes;
    }
    if (total != st.data_bytes) __builtin_trap();
    clsde_safetensors_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clsde_model *m = NULL;
    clsde_model_config cfg;

    check_container(data, size);
    if (clsde_model_memory_load(NULL, "fuzz", data, size, &m) == CLSDE_OK) {
        clsde_model_info info;
        volatile float sink = 0.0f;
        /* every tensor the loader accepted must be readable in full at its own shape */
        for (int32_t i = 0; i < m->st.n_tensors; i++) {
            const clsde_st_tensor *t = &m->st.tensors[i];
            const float *w = NULL;
            if (clsde_model_tensor(m, t->name, t->shape, t->ndim, &w) != CLSDE_OK)
                __builtin_trap();
            if (t->numel) sink += w[0] + w[t->numel - 1];
        }
        if (clsde_model_check_all_used(m) != CLSDE_OK) __builtin_trap();
        if (clsde_model_get_info(m, &info) != CLSDE_OK) __builtin_trap();
        if (info.num_tensors != m->st.n_tensors) __builtin_trap();
        (void)sink;
        clsde_model_file_destroy(m);
    } else if (m) {
        __builtin_trap(); /* a failed load leaves *model NULL */
    }
    clsde_model_config_parse(NULL, "fuzz", (const char *)data, size, &cfg);
    return 0;
}
