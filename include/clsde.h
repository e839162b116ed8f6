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

/* ---------------------------------------------------------------- tuned parameters */

/* Kernel parameters per device (tile sizes, work-group sizes, vector widths) come from a
 * tune table: the rows `clsde tune` measured for this device and driver, kept in the
 * cache directory as tune-<hash of platform, device, driver>.json, and an optional user
 * override (the CLSDE_TUNE_FILE environment variable, or clsde_context_load_tune_file).
 * A shape with no row uses defaults chosen from the device's properties. The table is
 * read once per context, on first use; the logger (info) says whether tuned parameters
 * are in use, and a file that is damaged or written for another device or driver is
 * ignored with a warning. */
typedef struct clsde_tune_info {
    int32_t tuned_rows;       /* rows in use from the device's tune file (0: none) */
    int32_t override_rows;    /* rows in use from the override file */
    int32_t file_rejected;    /* 1: the device's tune file exists but was not usable */
    int32_t clblast;          /* 1: built with CLBlast, which tuned rows may choose */
    char tune_file[512];      /* the device's tune file ("" when the cache is off) */
    char override_file[512];  /* the override in use, or "" */
    char clblast_version[32]; /* "1.5.3", or "" without CLBlast */
    uint8_t reserved[64];
} clsde_tune_info;

/* Fill *info, reading the tune table if this context has not yet. CLSDE_ERR_ARG for NULL
 * arguments, CLSDE_ERR_NOMEM. Does not block on the device. */
CLSDE_API clsde_status clsde_context_get_tune_info(clsde_context *ctx, clsde_tune_info *info);

/* Use the tune file at `path` (the format of the device's tune file; its device strings
 * and checksum are checked only when present) as the override for this context: its
 * rows win over the tuned ones. Replaces an earlier override. CLSDE_ERR_IO when it cannot
 * be read, CLSDE_ERR_FORMAT when it is malformed or written for another device; the
 * message names the file and the reason. Later kernel launches use it. */
CLSDE_API clsde_status clsde_context_load_tune_file(clsde_context *ctx, const char *path);

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

/* Profile one evaluation: every node run alone (enqueue, wait), fastest of `rounds`, on the
 * inputs of the last clsde_net_forward_run (run one first). Prints the time per op kind
 * (nodes, ms, share, GFLOP/s) and the `top` slowest nodes. For `clsde bench forward
 * --profile`; the waits add a launch round trip per node that a normal run does not pay. */
CLSDE_API clsde_status clsde_net_print_profile(clsde_net *net, int32_t rounds, int32_t top,
                                               FILE *f);

/* ---------------------------------------------------------------- sampling */

/* Progress callback of clsde_sample_run, called on the calling thread after every time step
 * of every batch (PC), or after every batched evaluation that ends a step attempt of some
 * image (ODE: every 6th evaluation while the batch's images run in phase; more often once
 * refilled slots run out of phase). `step` never decreases and counts up to `total`:
 *   PC:  total = N * (number of batches), step = time steps completed so far;
 *   ODE: total = 1000 * (number of batches), step = total * the mean over the images of the
 *        part of the time interval [eps, 1] they have done (finished images 1, images not
 *        started yet 0; the number of ODE steps is not known in advance). With
 *        reference_batching, batch by batch: 1000 * (batches done) + the current batch's.
 * elapsed_s: seconds since clsde_sample_run started. Return 0 to go on, non-zero to cancel:
 * the run stops at once and returns CLSDE_ERR_CANCELLED. */
typedef int (*clsde_progress_fn)(void *user, int32_t step, int32_t total, double elapsed_s);

/* Sampler settings (algorithms.md §3–§5; names as in the official configs). Fill with
 * clsde_sample_params_default() first: fields left at their defaults take the model's
 * config values (sampling.*, model.num_scales). Strings are not copied and need only live
 * for the call. */
typedef struct clsde_sample_params {
    const char *method;       /* "pc" (predictor-corrector, §3) or "ode" (probability-flow
                                 ODE with RK45, §5); NULL: config sampling.method */
    const char *predictor;    /* PC: "euler_maruyama", "reverse_diffusion",
                                 "ancestral_sampling" or "none"; NULL: sampling.predictor */
    const char *corrector;    /* PC: "langevin", "ald" or "none"; NULL: sampling.corrector */
    double snr;               /* corrector signal-to-noise ratio r > 0; < 0 (default):
                                 sampling.snr */
    int32_t n_steps_each;     /* corrector steps M per time step, >= 0; -1 (default):
                                 sampling.n_steps_each */
    int32_t steps;            /* PC: number of time steps N >= 2 (the time grid and the
                                 discrete schedules use it); 0 (default): model.num_scales.
                                 Ignored by the ODE sampler, which chooses its own steps */
    int32_t probability_flow; /* PC: 1 = the predictor follows the probability-flow ODE
                                 (lambda = 1/2, no noise); 0 = the reverse SDE; -1 (default):
                                 sampling.probability_flow */
    int32_t denoise;          /* 1 = return the noise-free x_mean of the last predictor (PC)
                                 or of a reverse-diffusion step at eps (ODE, §4, §5.3);
                                 0 = the last x; -1 (default): sampling.noise_removal */
    double rtol, atol;        /* ODE tolerances > 0; default 1e-5 each (the reference's) */
    uint64_t seed;            /* noise seed; default 0. Image k of a seed is the same for
                                 every batch size and split (Philox keyed by seed, image
                                 index, step and purpose) unless reference_batching couples
                                 the images of a batch */
    int32_t batch;            /* images evaluated together, >= 1; default 16. Device memory
                                 grows with it (CLSDE_ERR_DEVICE_LIMIT says which limit).
                                 The per-image ODE sampler keeps the batch full: a slot
                                 whose image has finished takes the next image at once */
    int32_t reference_batching; /* 0 (default): every image is independent — per-image
                                 Langevin norms (§3.2) and one ODE per image with its own
                                 steps (§5.1). 1: as the reference, the Langevin step uses
                                 batch means of the norms and the ODE treats the batch as one
                                 system (batch-global error norm, common steps), so results
                                 depend on the batch composition. Per-image norms concentrate
                                 for image-sized D (3072: ~2 %); for tiny D (< ~100) the
                                 per-image step fluctuates with |z|/|s| and biases the
                                 Langevin chain, where batch means do not */
    clsde_progress_fn progress; /* NULL: no progress reports */
    void *progress_user;        /* passed to progress */
    uint8_t reserved[64];     /* zero; room to grow */
} clsde_sample_params;

/* Defaults: everything from the model's config, seed 0, batch 16, rtol = atol = 1e-5,
 * per-image independence, no progress callback. */
CLSDE_API void clsde_sample_params_default(clsde_sample_params *params);

/* ODE details (both settings): scipy's RK45 exactly (algorithms.md §5.2) except that the
 * initial-step probe is clipped to the integration interval as scipy >= 1.11 does — scipy
 * 1.10 probes VP/subVP models at t ~ -3.7, outside the network's domain. The state is
 * float64 on devices with cl_khr_fp64, else float32 with compensated updates. */

/* What a sampling run did. NFE counts score (network) evaluations per image. */
typedef struct clsde_sample_stats {
    int32_t nfe;              /* evaluations per image actually made, excluding the
                                 denoising evaluation of the ODE sampler. PC: N*M for the
                                 corrector plus N for a predictor other than "none". ODE:
                                 scipy's nfev = 2 + 6*(step attempts), the largest over the
                                 images when each image is its own ODE */
    int32_t nfe_min;          /* ODE: the smallest per-image nfev (= nfe for PC) */
    double nfe_mean;          /* ODE: mean per-image nfev (= nfe for PC) */
    int32_t nfe_reference;    /* the number the reference code reports: PC N*(M+1) whatever
                                 the predictor and corrector are (§3.3); ODE: as nfe */
    int32_t steps;            /* PC: N used; ODE: accepted steps of the longest image */
    int64_t steps_accepted;   /* ODE: accepted steps summed over the ODE systems (images,
                                 or batches with reference_batching) */
    int64_t steps_rejected;   /* ODE: rejected step attempts, summed the same way */
    int64_t forward_calls;    /* batched score evaluations run, the ODE's denoising included.
                                 Per-image ODEs: until no image is left to start, every slot
                                 of an evaluation works on a live image, so the slot
                                 evaluations forward_calls * batch split into
                                 nfe_mean * count for the ODEs, count for the denoising
                                 (batched after all ODEs) and the idle rest (the tail) */
    double seconds;           /* wall time of the run */
    uint8_t reserved[64];
} clsde_sample_stats;

/* The settings a run with `params` would use on `model`, with every default resolved
 * (method, predictor and corrector point to static strings). Checks the values and their
 * combination without touching the device: CLSDE_ERR_ARG names a bad value (unknown
 * predictor, steps < 2, snr <= 0 with a corrector, tolerances <= 0, batch < 1),
 * CLSDE_ERR_UNSUPPORTED a combination clsde does not run:
 *   - ancestral_sampling with subVP (no discrete subVP schedule; the reference raises) or
 *     with probability_flow;
 *   - the ODE sampler with a discretely trained VE model (its network takes a noise-level
 *     index, not the continuous sigma the ODE needs, §2).
 * Extensions of combinations that crash in the reference (algorithms.md §3.5):
 *   - Langevin / ALD with subVP use the VP discrete alpha_k (the same beta schedule);
 *   - euler_maruyama with probability_flow is the deterministic Euler step of the PF ODE.
 * Does not block. */
CLSDE_API clsde_status clsde_sample_params_resolve(const clsde_model *model,
                                                   const clsde_sample_params *params,
                                                   clsde_sample_params *resolved);

/* Draw `count` samples of `model`, images first_image .. first_image + count - 1 of the
 * seed (so a large job can be split into runs), in batches of params->batch (the last one
 * smaller). out: [count, C, H, W] float, row-major, in data space: the inverse scaler is
 * applied ((x + 1)/2 for centred data, identity otherwise), no clipping. stats may be NULL.
 * The network is built once for the batch size; the sampler state stays on the device, and
 * per step only a few per-image norms come back to check for NaN/Inf.
 * Blocks until done. Statuses: those of clsde_sample_params_resolve and clsde_net_create,
 * CLSDE_ERR_ARG (NULL ctx/model/out, count < 1, first_image < 0 or first_image + count
 * past 2^32), CLSDE_ERR_DEVICE_LIMIT (the batch does not fit: the message gives the memory
 * needed and the device limit it exceeds), CLSDE_ERR_NUMERIC (NaN/Inf: the message names
 * the step, the time t, the stage — corrector, predictor or network — and the image;
 * RK45 step size underflow), CLSDE_ERR_CANCELLED (the progress callback asked to stop;
 * out is then incomplete), CLSDE_ERR_OPENCL, CLSDE_ERR_NOMEM. */
CLSDE_API clsde_status clsde_sample_run(clsde_context *ctx, clsde_model *model,
                                        const clsde_sample_params *params, int64_t first_image,
                                        int32_t count, float *out, clsde_sample_stats *stats);

/* ---- likelihood (bits/dim) through the probability-flow ODE (algorithms.md §6) ---- */

/* Likelihood settings. Fill with clsde_likelihood_params_default() first. */
typedef struct clsde_likelihood_params {
    const char *probe;        /* Hutchinson divergence probe: "rademacher" (default, as the
                                 reference) or "gaussian". Each image's probe is drawn once
                                 and kept for its whole ODE solve (§6.2) */
    double rtol, atol;        /* RK45 tolerances > 0; default 1e-5 each (the reference's) */
    double eps;               /* start time of the ODE, in (0, 1); default 1e-5 for every
                                 SDE (the reference's likelihood default) */
    uint64_t seed;            /* dequantisation noise and probes, keyed by seed and image
                                 index: image k's result is the same for any batch/split */
    int32_t dequantize;       /* 1 (default): the images are 8-bit data k/255 and get the
                                 reference's uniform dequantisation u = (255 x + U) / 256,
                                 U ~ U[0, 1) per element (§6.3); 0: taken as given */
    int32_t batch;            /* images evaluated together, >= 1; default 16 */
    int32_t reference_batching; /* 1: the batch is one ODE system (batch-global error norm,
                                 common steps) as the reference; 0 (default): one ODE per
                                 image, independent of the batch */
    clsde_progress_fn progress; /* as clsde_sample_run's ODE: total = 1000 per batch */
    void *progress_user;
    uint8_t reserved[64];     /* zero; room to grow */
} clsde_likelihood_params;

CLSDE_API void clsde_likelihood_params_default(clsde_likelihood_params *params);

/* Negative log-likelihood in bits per dimension of `count` images [count, C, H, W] in
 * [0, 1] (the data range; the model's scaler is applied here), algorithms.md §6: the
 * augmented probability-flow ODE from eps to 1 with a Hutchinson divergence estimate
 * through a forward-mode Jacobian-vector product of the network (one replay of a graph
 * with tangents per ODE evaluation), then
 *   bpd = -(log p_T(z) + delta) / (D ln 2) + offset,  offset = 7 (centred data) or 8
 * (data in [0, 1]). bpd [count] per image; z [count, C, H, W] (may be NULL): the latent
 * x(1) (a prior sample of the model when the image is typical; the ODE sampler maps it
 * back); stats: ODE evaluations (nfe*) and steps as clsde_sample_run's ODE. Needs a VP or
 * subVP model, or a continuously trained VE model. */
CLSDE_API clsde_status clsde_likelihood_run(clsde_context *ctx, clsde_model *model,
                                            const clsde_likelihood_params *params,
                                            int64_t first_image, int32_t count,
                                            const float *images, double *bpd, float *z,
                                            clsde_sample_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* CLSDE_H */
