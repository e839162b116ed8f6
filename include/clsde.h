/*
 * clsde.h — the public C API of clsde, a portable OpenCL engine for score-based
 * generative models (Song et al., ICLR 2021).
 *
 * Conventions (see src/README.md for the internals):
 *  - Handles are opaque. Every `_create`/`_load` has a `_destroy` that accepts NULL.
 *  - Every fallible call returns a clsde_status; CLSDE_OK is 0, errors are negative.
 *    The message for the last failure is kept per context (clsde_last_error(ctx));
 *    calls that take no context keep it per thread (clsde_last_error(NULL)).
 *  - The library never prints and never exits. Diagnostics go to the optional log
 *    callback in clsde_context_params.
 *  - `_run` blocks until the work is done; nothing in this header queues work
 *    without waiting unless its name ends in `_enqueue`.
 */
#ifndef CLSDE_H
#define CLSDE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLSDE_VERSION_MAJOR 0
#define CLSDE_VERSION_MINOR 1
#define CLSDE_VERSION_PATCH 0

#if defined(_WIN32)
#define CLSDE_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CLSDE_API __attribute__((visibility("default")))
#else
#define CLSDE_API
#endif

/* Status codes. Numbers are stable; gaps are left for growth. */
typedef enum clsde_status {
    CLSDE_OK = 0,
    CLSDE_ERR_ARG = -1,          /* a bad argument: NULL handle, value out of range */
    CLSDE_ERR_NOMEM = -2,        /* host allocation failed */
    CLSDE_ERR_NO_PLATFORM = -10, /* no OpenCL platform (no ICD installed) */
    CLSDE_ERR_NO_DEVICE = -11,   /* no device, or the selector matched none */
    CLSDE_ERR_OPENCL = -12,      /* an OpenCL call failed; the message names it */
    CLSDE_ERR_BUILD = -13,       /* a kernel failed to compile; the message has the log */
    CLSDE_ERR_DEVICE_LIMIT = -14,/* the request exceeds a device limit (memory, sizes) */
    CLSDE_ERR_IO = -20,          /* a file could not be read or written */
    CLSDE_ERR_FORMAT = -21,      /* a file is malformed (model, tensors, config) */
    CLSDE_ERR_CACHE = -22,       /* the program cache is unusable (reported, not fatal) */
    CLSDE_ERR_UNSUPPORTED = -30, /* a valid request clsde does not implement */
    CLSDE_ERR_NUMERIC = -40,     /* NaN/Inf appeared; the message names where */
    CLSDE_ERR_CANCELLED = -41,   /* the caller cancelled through a callback */
    CLSDE_ERR_INTERNAL = -99     /* a bug in clsde */
} clsde_status;

/* Fixed text for a status, without context ("invalid argument"). Never NULL. */
CLSDE_API const char *clsde_strerror(clsde_status status);

/* Version of the library at run time, as "MAJOR.MINOR.PATCH". */
CLSDE_API const char *clsde_version(void);
/* The same as one number: MAJOR*10000 + MINOR*100 + PATCH. */
CLSDE_API int32_t clsde_version_number(void);

/* ---------------------------------------------------------------- devices */

typedef enum clsde_device_type {
    CLSDE_DEVICE_CPU = 1,
    CLSDE_DEVICE_GPU = 2,
    CLSDE_DEVICE_ACCELERATOR = 4,
    CLSDE_DEVICE_OTHER = 8
} clsde_device_type;

/* One OpenCL device as clsde sees it. Strings are NUL-terminated, truncated to fit. */
typedef struct clsde_device_info {
    int32_t index;                /* global index over all platforms, as --device N */
    char platform[128];           /* platform name */
    char name[128];               /* device name */
    char vendor[128];             /* device vendor */
    char driver_version[64];      /* CL_DRIVER_VERSION */
    char opencl_c_version[64];    /* CL_DEVICE_OPENCL_C_VERSION */
    clsde_device_type type;
    int32_t compute_units;
    int64_t global_mem_bytes;
    int64_t max_alloc_bytes;
    int64_t local_mem_bytes;
    int32_t max_work_group_size;
    int32_t preferred_vector_width_float;
    int32_t fp16;                 /* 1 if cl_khr_fp16 */
    int32_t fp64;                 /* 1 if cl_khr_fp64 */
    uint8_t reserved[64];
} clsde_device_info;

/* Number of OpenCL devices over all platforms. CLSDE_ERR_NO_PLATFORM when no
 * OpenCL platform is installed (the message says what to install). */
CLSDE_API clsde_status clsde_device_count(int32_t *count);

/* Fill *info for the device with global index `index` (0 .. count-1). */
CLSDE_API clsde_status clsde_device_get_info(int32_t index, clsde_device_info *info);

/* Resolve a device selector to a global index.
 *   selector NULL or "": the CLSDE_DEVICE environment variable if set, else the
 *   first GPU, else the first CPU device, else device 0.
 *   All digits: that index. Otherwise: the first device whose "platform device"
 *   name contains the selector, case-insensitively.
 * CLSDE_ERR_NO_DEVICE with a message listing the devices if nothing matches. */
CLSDE_API clsde_status clsde_device_select(const char *selector, int32_t *index);

/* ---------------------------------------------------------------- context */

typedef struct clsde_context clsde_context;

typedef enum clsde_log_level {
    CLSDE_LOG_ERROR = 0,
    CLSDE_LOG_WARNING = 1,
    CLSDE_LOG_INFO = 2,
    CLSDE_LOG_DEBUG = 3
} clsde_log_level;

typedef void (*clsde_log_fn)(void *user, clsde_log_level level, const char *message);

typedef struct clsde_context_params {
    const char *device;      /* selector as for clsde_device_select; NULL = default */
    const char *cache_dir;   /* program-binary cache directory; NULL = $CLSDE_CACHE_DIR,
                                else $XDG_CACHE_HOME/clsde, else ~/.cache/clsde */
    int32_t no_cache;        /* 1: never read or write the program cache */
    int32_t profiling;       /* 1: create the queue with profiling enabled */
    clsde_log_fn log;        /* NULL: silent */
    void *log_user;
    clsde_log_level log_level; /* messages above this level are not delivered */
    uint8_t reserved[64];
} clsde_context_params;

/* Defaults: automatic device, default cache, silent logger. */
CLSDE_API void clsde_context_params_default(clsde_context_params *params);

/* Create a context (OpenCL context + one in-order queue) on the selected device.
 * On failure *ctx is NULL and clsde_last_error(NULL) holds the message. */
CLSDE_API clsde_status clsde_context_create(const clsde_context_params *params,
                                            clsde_context **ctx);
CLSDE_API void clsde_context_destroy(clsde_context *ctx);

/* Information about the context's device. */
CLSDE_API clsde_status clsde_context_get_device(const clsde_context *ctx,
                                                clsde_device_info *info);

/* The message for the last failure on ctx (or on this thread when ctx is NULL).
 * Empty string if none. Valid until the next call on the same context/thread. */
CLSDE_API const char *clsde_last_error(const clsde_context *ctx);

/* Statistics of kernel-program builds on this context. */
typedef struct clsde_build_stats {
    int32_t programs;        /* programs obtained */
    int32_t cache_hits;      /* loaded from the on-disk binary cache */
    int32_t cache_misses;    /* compiled from source (and stored, if the cache is on) */
    int32_t cache_rejected;  /* cache entries found corrupt or stale and rebuilt */
    double seconds;          /* wall time spent obtaining programs */
    uint8_t reserved[32];
} clsde_build_stats;

/* Build every kernel program of the library with its default parameters
 * (through the binary cache unless disabled). Blocks. */
CLSDE_API clsde_status clsde_context_build_all(clsde_context *ctx);
CLSDE_API clsde_status clsde_context_get_build_stats(const clsde_context *ctx,
                                                     clsde_build_stats *stats);
/* The cache directory in use, or "" when the cache is off. */
CLSDE_API const char *clsde_context_cache_dir(const clsde_context *ctx);

/* ---------------------------------------------------------------- models */

/* A score model: the network's weights and the official config, from a clsde model file
 * (a .safetensors file written by tools/convert.py; tools/README.md describes it). */
typedef struct clsde_model clsde_model;

/* The SDE a model was trained for (config training.sde; algorithms.md §1). */
typedef enum clsde_sde_type {
    CLSDE_SDE_VE = 1,    /* "vesde" (SMLD) */
    CLSDE_SDE_VP = 2,    /* "vpsde" (DDPM) */
    CLSDE_SDE_SUBVP = 3  /* "subvpsde" */
} clsde_sde_type;

/* What clsde_model_get_info reports. Strings are NUL-terminated. */
typedef struct clsde_model_info {
    char arch[16];            /* config model.name: "ncsnpp" (NCSN++ / DDPM++) or "ddpm" */
    int32_t image_size;       /* data.image_size: inputs are [B, num_channels, S, S] */
    int32_t num_channels;     /* data.num_channels */
    int32_t centered;         /* data.centered: 1 = model space [-1,1], 0 = [0,1] */
    clsde_sde_type sde;
    char sde_name[16];        /* "vesde", "vpsde", "subvpsde" */
    int32_t continuous;       /* training.continuous */
    int32_t num_scales;       /* model.num_scales, the N of the samplers */
    double sigma_min, sigma_max; /* VE parameters (present in every config) */
    double beta_min, beta_max;   /* VP / subVP parameters */
    double sampling_eps;      /* end time of sampling: 1e-5 (VE), 1e-3 (VP, subVP) */
    int64_t num_parameters;   /* total element count of all weight tensors */
    int32_t num_tensors;      /* number of weight tensors in the file */
    int64_t weight_bytes;     /* bytes of weight data held on the host */
    uint8_t reserved[64];
} clsde_model_info;

/* Load a clsde model file: read it whole into host memory, validate its structure (never
 * trusting it: sizes, offsets, dtypes, names), check __metadata__ clsde_format and parse
 * and validate the config (names, ranges, GroupNorm widths, combinations clsde does not
 * run). On success *model is owned by the caller (clsde_model_destroy) and must not
 * outlive ctx; on failure *model is NULL and clsde_last_error(ctx) names the file, the
 * tensor or config field and what is wrong.
 * Statuses: CLSDE_ERR_ARG (NULL ctx, path or model), CLSDE_ERR_IO (cannot open or read),
 * CLSDE_ERR_FORMAT (malformed file or config), CLSDE_ERR_UNSUPPORTED (a valid config clsde
 * does not run, or an unknown clsde_format), CLSDE_ERR_NOMEM. Blocks on file I/O. */
CLSDE_API clsde_status clsde_model_load(clsde_context *ctx, const char *path,
                                        clsde_model **model);
/* Free a model. Accepts NULL. */
CLSDE_API void clsde_model_destroy(clsde_model *model);

/* Fill *info. CLSDE_ERR_ARG when model or info is NULL. Does not block. */
CLSDE_API clsde_status clsde_model_get_info(const clsde_model *model, clsde_model_info *info);
/* ---------------------------------------------------------------- networks */

/* A score network built for one model and one batch size: a static graph of the model's
 * architecture (networks.md), planned once (activations share one device buffer where
 * their lifetimes allow) with the weights uploaded once. Runs on the context's queue.
 * A net keeps pointers into its model: destroy the net before the model. */
typedef struct clsde_net clsde_net;

/* What the `t` argument of clsde_net_forward_run means (algorithms.md §2). */
typedef enum clsde_time_mode {
    CLSDE_TIME_DEFAULT = 0,    /* time t in (0, 1]; label and score as the model was trained
                                  (config training.continuous) */
    CLSDE_TIME_CONTINUOUS = 1, /* time t; the continuous wrapper, which the ODE sampler and
                                  the likelihood use for every model: VE label sigma(t)
                                  (Fourier) ; VP/subVP label 999 t, score -out/std(t) */
    CLSDE_TIME_DISCRETE = 2,   /* time t; the discrete wrapper: VE label round((1-t)(N-1)),
                                  VP label (N-1) t (not rounded) and score
                                  -out/sqrt(1 - alphabar[floor((N-1) t)]). Not for subVP. */
    CLSDE_TIME_LABEL = 3       /* `t` is the network label itself (time_cond); no score */
} clsde_time_mode;

/* Sizes of a built network. Byte counts are device memory. */
typedef struct clsde_net_info {
    int32_t batch;                 /* B */
    int32_t channels, height, width; /* one image: [C, H, W] */
    int32_t nodes;                 /* graph nodes, inputs included */
    int32_t weight_tensors;        /* weight tensors the network uses */
    int64_t weight_bytes;          /* device weight memory (each tensor aligned) */
    int64_t activation_bytes;      /* planned activation memory (peak of the plan) */
    int64_t activation_naive_bytes;/* the sum of every node's output, for comparison */
    double flops_per_image;        /* floating-point operations of one forward pass per image:
                                      2 per multiply-add of convolutions, linear layers,
                                      attention and FIR filters (networks.md §7.2 counts MACs) */
    double elementwise_per_image;  /* element operations of the other nodes (norms, SiLU,
                                      resampling, concatenation), per image */
    uint8_t reserved[64];
} clsde_net_info;

/* Build the network of `model` for batches of `batch` images: the graph, its memory plan,
 * the device buffers, and the upload of every weight (blocks). Every tensor of the model
 * file must be used by the network (CLSDE_ERR_FORMAT naming the ones that are not).
 * On failure *net is NULL and clsde_last_error(ctx) says why.
 * Statuses: CLSDE_ERR_ARG (NULL argument, batch < 1), CLSDE_ERR_FORMAT (a tensor missing
 * or of the wrong shape, named), CLSDE_ERR_UNSUPPORTED (an architecture branch clsde does
 * not build, naming the config field), CLSDE_ERR_DEVICE_LIMIT, CLSDE_ERR_OPENCL,
 * CLSDE_ERR_BUILD, CLSDE_ERR_NOMEM. */
CLSDE_API clsde_status clsde_net_create(clsde_context *ctx, clsde_model *model, int32_t batch,
                                        clsde_net **net);
/* Free a network and its device buffers. Accepts NULL. */
CLSDE_API void clsde_net_destroy(clsde_net *net);

/* Fill *info. CLSDE_ERR_ARG when net or info is NULL. Does not block. */
CLSDE_API clsde_status clsde_net_get_info(const clsde_net *net, clsde_net_info *info);

/* Run the network on host arrays (blocks until done).
 *   x      [B, C, H, W] float32, C order (B = the net's batch)
 *   t      [B] times in (0, 1] (or labels, with CLSDE_TIME_LABEL)
 *   out    [B, C, H, W] the raw network output net(x, label(t)) (networks.md §2.1; VE models
 *          have already divided by sigma); may be NULL
 *   score  [B, C, H, W] the score s(x, t) of algorithms.md §2; may be NULL; must be NULL
 *          with CLSDE_TIME_LABEL
 * Labels are computed on the host in float32 as the reference does (VE sigma(t) =
 * sigma_min (sigma_max/sigma_min)^t correctly rounded, then the network takes its ln).
 * Statuses: CLSDE_ERR_ARG (NULL x or t, t outside what the mode accepts, a mode the model's
 * SDE has no wrapper for), CLSDE_ERR_OPENCL, CLSDE_ERR_NUMERIC (NaN or Inf in out/score,
 * naming the image). */
CLSDE_API clsde_status clsde_net_forward_run(clsde_net *net, const float *x, const float *t,
                                             clsde_time_mode mode, float *out, float *score);

/* Print the graph, one line per node (index, name following the checkpoint, op, output
 * shape, input nodes, planned offset, bytes), then the totals. For `clsde info --graph`. */
CLSDE_API clsde_status clsde_net_print_graph(const clsde_net *net, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* CLSDE_H */
