/*
 * model.c — clsde model files (tools/README.md): load a .safetensors file with F32 weights
 * and the official config in __metadata__, keep the weights on the host by name, hand them
 * to the network builder with shape checks, and report tensors nobody used. The public
 * clsde_model_* entry points live here too. No OpenCL: uploading is the networks' business.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"

#define NAME "%.160s" /* see safetensors.c */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Everything after the tensor table is known: metadata, config, dtypes. Takes ownership of
 * `data` (the data section, 64-byte aligned) even on failure. */
static clsde_status model_init(clsde_model *m, void *data)
{
    clsde_context *ctx = m->ctx;
    const char *fmt, *config;
    int64_t n_params = 0;

    m->weights = data;
    CLSDE_FAIL_IF(!host_little_endian(), ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: model files hold little-endian floats; big-endian hosts are not "
                  "supported",
                  m->label);
    fmt = clsde_safetensors_meta(&m->st, "clsde_format");
    CLSDE_FAIL_IF(!fmt, ctx, CLSDE_ERR_FORMAT,
                  "%s: not a clsde model file: __metadata__ has no clsde_format (convert "
                  "checkpoints with tools/convert.py)",
                  m->label);
    CLSDE_FAIL_IF(strcmp(fmt, CLSDE_MODEL_FORMAT) != 0, ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: clsde_format '%.32s' is not supported; this clsde reads format "
                  "'" CLSDE_MODEL_FORMAT "'",
                  m->label, fmt);
    config = clsde_safetensors_meta(&m->st, "config");
    CLSDE_FAIL_IF(!config, ctx, CLSDE_ERR_FORMAT,
                  "%s: __metadata__ has no config (the official config dict as JSON text)",
                  m->label);
    CLSDE_TRY(clsde_model_config_parse(ctx, m->label, config, strlen(config), &m->cfg));

    for (int32_t i = 0; i < m->st.n_tensors; i++) {
        const clsde_st_tensor *t = &m->st.tensors[i];
        CLSDE_FAIL_IF(t->dtype != CLSDE_DTYPE_F32, ctx, CLSDE_ERR_FORMAT,
                      "%s: tensor '" NAME "' has dtype %s; clsde model files hold F32 only "
                      "(tools/convert.py writes them)",
                      m->label, t->name, clsde_dtype_name(t->dtype));
        n_params += t->numel;
    }
    m->n_params = n_params;
    if (m->st.n_tensors) {
        m->used = calloc((size_t)m->st.n_tensors, 1);
        CLSDE_FAIL_IF(!m->used, ctx, CLSDE_ERR_NOMEM, "%s: out of memory", m->label);
    }
    return CLSDE_OK;
}

static clsde_status model_new(clsde_context *ctx, const char *label, clsde_model **out)
{
    clsde_model *m = calloc(1, sizeof *m);
    CLSDE_FAIL_IF(!m, ctx, CLSDE_ERR_NOMEM, "out of memory");
    m->ctx = ctx;
    snprintf(m->label, sizeof m->label, "%s", label);
    *out = m;
    return CLSDE_OK;
}

clsde_status clsde_model_file_load(clsde_context *ctx, const char *path, clsde_model **model)
{
    clsde_status st;
    clsde_model *m = NULL;
    void *data = NULL;

    *model = NULL;
    CLSDE_TRY(model_new(ctx, base_name(path), &m));
    st = clsde_safetensors_read_file(ctx, path, m->label, &m->st, &data);
    if (st == CLSDE_OK) st = model_init(m, data);
    if (st != CLSDE_OK) {
        clsde_model_file_destroy(m);
        return st;
    }
    *model = m;
    return CLSDE_OK;
}

clsde_status clsde_model_memory_load(clsde_context *ctx, const char *label, const void *buf,
                                     size_t size, clsde_model **model)
{
    clsde_status st;
    clsde_model *m = NULL;
    void *data = NULL;

    *model = NULL;
    CLSDE_TRY(model_new(ctx, label ? label : "model", &m));
    st = clsde_safetensors_parse(ctx, m->label, buf, size, size, &m->st);
    if (st == CLSDE_OK && m->st.data_bytes) {
        data = aligned_alloc(64, (size_t)((m->st.data_bytes + 63) & ~(uint64_t)63));
        if (data)
            memcpy(data, (const unsigned char *)buf + m->st.data_offset,
                   (size_t)m->st.data_bytes);
        else
            st = clsde_error_set(ctx, CLSDE_ERR_NOMEM, "%s: out of memory for %llu bytes",
                                 m->label, (unsigned long long)m->st.data_bytes);
    }
    if (st == CLSDE_OK) st = model_init(m, data);
    if (st != CLSDE_OK) {
        clsde_model_file_destroy(m);
        return st;
    }
    *model = m;
    return CLSDE_OK;
}

void clsde_model_file_destroy(clsde_model *model)
{
    if (!model) return;
    clsde_safetensors_free(&model->st);
    free(model->weights);
    free(model->used);
    free(model);
}

clsde_status clsde_model_tensor(clsde_model *model, const char *name, const int64_t *shape,
                                int32_t ndim, const float **data)
{
    char want[256], got[256];
    const clsde_st_tensor *t;
    const int32_t i = clsde_safetensors_find(&model->st, name);

    CLSDE_FAIL_IF(i < 0, model->ctx, CLSDE_ERR_FORMAT,
                  "%s: tensor '" NAME "' is missing (config expects shape %s)", model->label,
                  name, clsde_shape_str(shape, ndim, want, sizeof want));
    t = &model->st.tensors[i];
    if (t->ndim != ndim || (ndim > 0 && memcmp(t->shape, shape, (size_t)ndim * sizeof *shape)))
        return clsde_error_set(model->ctx, CLSDE_ERR_FORMAT,
                               "%s: tensor '" NAME "' has shape %s, config expects %s",
                               model->label, name,
                               clsde_shape_str(t->shape, t->ndim, got, sizeof got),
                               clsde_shape_str(shape, ndim, want, sizeof want));
    model->used[i] = 1;
    if (data) *data = model->weights ? model->weights + t->begin / sizeof(float) : NULL;
    return CLSDE_OK;
}

clsde_status clsde_model_mark_used(clsde_model *model, const char *name)
{
    const int32_t i = clsde_safetensors_find(&model->st, name);
    CLSDE_FAIL_IF(i < 0, model->ctx, CLSDE_ERR_FORMAT, "%s: tensor '" NAME "' is missing",
                  model->label, name);
    model->used[i] = 1;
    return CLSDE_OK;
}

clsde_status clsde_model_check_all_used(clsde_model *model)
{
    char list[1024] = "";
    int32_t unused = 0;
    for (int32_t i = 0; i < model->st.n_tensors; i++) {
        if (model->used[i]) continue;
        if (unused < 4) {
            const size_t at = strlen(list);
            snprintf(list + at, sizeof list - at, "%s'" NAME "'", unused ? ", " : "",
                     model->st.tensors[i].name);
        }
        unused++;
    }
    if (!unused) return CLSDE_OK;
    return clsde_error_set(model->ctx, CLSDE_ERR_FORMAT,
                           "%s: %d tensor%s not used by the %s network the config describes: "
                           "%s%s (a config that does not belong to these weights?)",
                           model->label, (int)unused, unused == 1 ? " is" : "s are",
                           model->cfg.name, list, unused > 4 ? ", ..." : "");
}

/* ---------------------------------------------------------------- public API */

clsde_status clsde_model_load(clsde_context *ctx, const char *path, clsde_model **model)
{
    CLSDE_FAIL_IF(!model, ctx, CLSDE_ERR_ARG, "clsde_model_load: model is NULL");
    *model = NULL;
    CLSDE_FAIL_IF(!ctx, NULL, CLSDE_ERR_ARG, "clsde_model_load: ctx is NULL");
    CLSDE_FAIL_IF(!path || !path[0], ctx, CLSDE_ERR_ARG, "clsde_model_load: path is empty");
    return clsde_model_file_load(ctx, path, model);
}

void clsde_model_destroy(clsde_model *model)
{
    clsde_model_file_destroy(model);
}

clsde_status clsde_model_get_info(const clsde_model *model, clsde_model_info *info)
{
    const clsde_model_config *c;
    CLSDE_FAIL_IF(!model || !info, model ? model->ctx : NULL, CLSDE_ERR_ARG,
                  "clsde_model_get_info: %s is NULL", model ? "info" : "model");
    c = &model->cfg;
    memset(info, 0, sizeof *info);
    snprintf(info->arch, sizeof info->arch, "%s", c->name);
    info->image_size = c->image_size;
    info->num_channels = c->num_channels;
    info->centered = c->centered;
    info->sde = c->sde;
    snprintf(info->sde_name, sizeof info->sde_name, "%s", clsde_sde_name(c->sde));
    info->continuous = c->continuous;
    info->num_scales = c->num_scales;
    info->sigma_min = c->sigma_min;
    info->sigma_max = c->sigma_max;
    info->beta_min = c->beta_min;
    info->beta_max = c->beta_max;
    info->sampling_eps = c->sampling_eps;
    info->num_parameters = model->n_params;
    info->num_tensors = model->st.n_tensors;
    info->weight_bytes = (int64_t)model->st.data_bytes;
    return CLSDE_OK;
}
