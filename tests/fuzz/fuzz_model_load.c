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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clsde_model *m = NULL;
    clsde_model_config cfg;

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
