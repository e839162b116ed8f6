/*
 * model.h — the clsde model: the official config (model_config.c) and the weights of a
 * clsde model file (model.c: a .safetensors file written by tools/convert.py, described in
 * tools/README.md). The network builders (src/nets/) read the config, look weights up by
 * their official names with clsde_model_tensor(), and extend struct clsde_model with the
 * graph; at the end clsde_model_check_all_used() reports tensors the network did not take.
 */
#ifndef CLSDE_MODEL_H
#define CLSDE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "clsde.h"
#include "safetensors.h"

#define CLSDE_MAX_LEVELS 16    /* len(ch_mult) */
#define CLSDE_MAX_ATTN 16      /* len(attn_resolutions) */
#define CLSDE_MODEL_FORMAT "1" /* __metadata__ clsde_format this loader reads */

typedef enum clsde_arch { CLSDE_ARCH_NCSNPP = 1, CLSDE_ARCH_DDPM = 2 } clsde_arch;
typedef enum clsde_resblock { CLSDE_RESBLOCK_BIGGAN = 1, CLSDE_RESBLOCK_DDPM = 2 } clsde_resblock;
typedef enum clsde_progressive {
    CLSDE_PROG_NONE = 0,
    CLSDE_PROG_OUTPUT_SKIP = 1, /* model.progressive */
    CLSDE_PROG_INPUT_SKIP = 2,  /* model.progressive_input */
    CLSDE_PROG_RESIDUAL = 3     /* either */
} clsde_progressive;
typedef enum clsde_combine { CLSDE_COMBINE_SUM = 1, CLSDE_COMBINE_CAT = 2 } clsde_combine;
typedef enum clsde_embedding {
    CLSDE_EMBED_FOURIER = 1,
    CLSDE_EMBED_POSITIONAL = 2
} clsde_embedding;
typedef enum clsde_act {
    CLSDE_ACT_SWISH = 1, /* SiLU, the only one clsde implements */
    CLSDE_ACT_ELU = 2,
    CLSDE_ACT_RELU = 3,
    CLSDE_ACT_LRELU = 4
} clsde_act;
typedef enum clsde_sampling_method { CLSDE_METHOD_PC = 1, CLSDE_METHOD_ODE = 2 } clsde_sampling_method;
typedef enum clsde_predictor {
    CLSDE_PREDICTOR_NONE = 0,
    CLSDE_PREDICTOR_EULER_MARUYAMA = 1,
    CLSDE_PREDICTOR_REVERSE_DIFFUSION = 2,
    CLSDE_PREDICTOR_ANCESTRAL_SAMPLING = 3
} clsde_predictor;
typedef enum clsde_corrector {
    CLSDE_CORRECTOR_NONE = 0,
    CLSDE_CORRECTOR_LANGEVIN = 1,
    CLSDE_CORRECTOR_ALD = 2
} clsde_corrector;

/* Everything the networks, the SDE and the samplers read from the official config
 * (networks.md §2.2, algorithms.md §8.3), validated. Names follow the config keys.
 * For arch DDPM the NCSN++-only fields hold what models/ddpm.py hard-wires
 * (positional embedding, no FIR, no pyramids, no rescaling). */
typedef struct clsde_model_config {
    /* data.* */
    int32_t image_size;   /* S: images are S x S */
    int32_t num_channels; /* C_img */
    int32_t centered;     /* 1: model space is [-1,1]; 0: the network maps x -> 2x-1 */

    /* model.* */
    clsde_arch arch;
    char name[16];        /* model.name: "ncsnpp" or "ddpm" */
    int32_t nf;
    int32_t n_levels;     /* L = len(ch_mult) */
    int32_t ch_mult[CLSDE_MAX_LEVELS];
    int32_t num_res_blocks;
    int32_t n_attn;
    int32_t attn_resolutions[CLSDE_MAX_ATTN];
    clsde_resblock resblock_type; /* ddpm arch: DDPM (ResnetBlockDDPM, separate resamplers) */
    int32_t resamp_with_conv;
    int32_t fir;
    int32_t fir_kernel[4]; /* [1,3,3,1]: the only kernel clsde's FIR code implements */
    int32_t skip_rescale;
    clsde_progressive progressive;       /* NONE, OUTPUT_SKIP (RESIDUAL is rejected) */
    clsde_progressive progressive_input; /* NONE, INPUT_SKIP, RESIDUAL */
    clsde_combine progressive_combine;
    clsde_embedding embedding_type;
    double fourier_scale;
    int32_t conditional;
    int32_t scale_by_sigma;
    clsde_act nonlinearity;
    double dropout;       /* training only; identity at inference */
    int32_t n_modules;    /* length of all_modules (networks.md §2.3, §3), from the walk
                             that checks the GroupNorm widths */

    /* SDE: training.sde, training.continuous, model.num_scales, model.sigma_min/max,
       model.beta_min/max */
    clsde_sde_type sde;
    int32_t continuous;
    int32_t num_scales;   /* N */
    double sigma_min, sigma_max;
    double beta_min, beta_max;
    double sampling_eps;  /* 1e-5 VE, 1e-3 VP/subVP, as run_lib.py sets it */

    /* sampling.* defaults (a caller may override them) */
    clsde_sampling_method method;
    clsde_predictor predictor;
    clsde_corrector corrector;
    double snr;
    int32_t n_steps_each;
    int32_t noise_removal;
    int32_t probability_flow;
} clsde_model_config;

/* Parse and validate the official config dict from JSON text (`len` bytes, no NUL needed).
 * `label` prefixes messages ("model.safetensors: config: model.nf is -3, must be > 0").
 * Rejects missing fields, wrong types, unknown names, out-of-range values, GroupNorm
 * widths that do not divide (networks.md §0, checked for every GroupNorm the network
 * will have, named by its all_modules index), and combinations that clsde does not run.
 * CLSDE_ERR_FORMAT (malformed or invalid), CLSDE_ERR_UNSUPPORTED (valid but not run by
 * clsde), CLSDE_ERR_NOMEM. Needs no OpenCL; ctx may be NULL (message on the thread). */
clsde_status clsde_model_config_parse(clsde_context *ctx, const char *label, const char *json,
                                      size_t len, clsde_model_config *cfg);

const char *clsde_sde_name(clsde_sde_type sde); /* "vesde", "vpsde", "subvpsde" */

struct clsde_model {
    clsde_context *ctx;        /* messages go here; not owned (NULL: this thread) */
    char label[256];           /* the file's base name, prefix of every message */
    clsde_model_config cfg;
    clsde_safetensors st;      /* tensor table: names, shapes, byte ranges */
    float *weights;            /* the data section as F32, host order; tensor i starts at
                                  weights + st.tensors[i].begin / 4 (64-byte aligned block) */
    uint8_t *used;             /* [st.n_tensors] 1 once the network took the tensor */
    int64_t n_params;          /* sum of the tensors' element counts */
};

/* Load a model file into host memory: read and validate the .safetensors structure, check
 * __metadata__ clsde_format, parse the config, require every tensor to be F32. Does not
 * touch OpenCL (ctx is only where messages go and may be NULL). On failure *model is NULL.
 * CLSDE_ERR_IO, CLSDE_ERR_FORMAT, CLSDE_ERR_UNSUPPORTED, CLSDE_ERR_NOMEM. Blocks. */
clsde_status clsde_model_file_load(clsde_context *ctx, const char *path, clsde_model **model);
/* The same from a whole file held in memory (buf, size); the data is copied. `label`
 * names it in messages. Used by the fuzz target. */
clsde_status clsde_model_memory_load(clsde_context *ctx, const char *label, const void *buf,
                                     size_t size, clsde_model **model);
void clsde_model_file_destroy(clsde_model *model);

/* The weights of tensor `name`, checked to have exactly `shape` [ndim]; marks it used.
 * *data points into the model (valid until it is destroyed), C order, host float.
 * CLSDE_ERR_FORMAT: "model.safetensors: tensor 'all_modules.12.Conv_0.weight' has shape
 * [128,64,3,3], config expects [128,128,3,3]", or "... is missing (config expects ...)". */
clsde_status clsde_model_tensor(clsde_model *model, const char *name, const int64_t *shape,
                                int32_t ndim, const float **data);
/* Mark a tensor used without reading it (e.g. one the network deliberately ignores).
 * CLSDE_ERR_FORMAT when it does not exist. */
clsde_status clsde_model_mark_used(clsde_model *model, const char *name);
/* CLSDE_ERR_FORMAT naming the first few tensors nobody took ("3 tensors are not used by
 * the network the config describes: 'a', 'b', 'c'"), else CLSDE_OK. */
clsde_status clsde_model_check_all_used(clsde_model *model);

#endif /* CLSDE_MODEL_H */
