/*
 * tune_search.h — `clsde tune` for conv2d: the convolution shapes of a network (presets
 * from networks.md, or a list the caller builds), and the search that measures tilings of
 * cl/conv2d.cl (and, with CLBlast, the im2col + CLBlastSgemm path) per shape class and
 * stores the winners in the tune table (tune.h). Every candidate's output is checked
 * against the C reference (src/ref/conv2d_ref.c) before it is timed.
 */
#ifndef CLSDE_TUNE_SEARCH_H
#define CLSDE_TUNE_SEARCH_H

#include <stdio.h>

#include "kernels/conv2d.h"
#include "tune.h"

/* One convolution of a network at a batch size, and how often one forward pass runs it. */
typedef struct clsde_conv_shape {
    clsde_conv2d_params p;
    int32_t count;
} clsde_conv_shape;

typedef struct clsde_conv_shapes {
    clsde_conv_shape *s;
    int32_t n, cap;
} clsde_conv_shapes;

/* Add `count` runs of p (merged with an equal shape already listed; the epilogue flags
 * are not part of the shape). CLSDE_ERR_NOMEM. */
clsde_status clsde_conv_shapes_add(clsde_conv_shapes *list, const clsde_conv2d_params *p,
                                   int32_t count);
void clsde_conv_shapes_free(clsde_conv_shapes *list);
/* 2 * MACs of one run of p. */
double clsde_conv2d_flops(const clsde_conv2d_params *p);

/* The convolutions of the network a config describes (networks.md §2.3 for NCSN++ /
 * DDPM++, §3 for DDPM), at batch `batch`, with their counts per forward pass: conv_in,
 * the residual blocks' 3x3 convs and 1x1 shortcuts, attention projections (the graph runs
 * NIN layers as 1x1 convs), stride-2 convs of conv resamplers and input pyramids, output
 * convs. CLSDE_ERR_ARG for a batch < 1 or a config out of range; CLSDE_ERR_NOMEM. */
struct clsde_model_config;
clsde_status clsde_conv_shapes_config(clsde_context *ctx, const struct clsde_model_config *cfg,
                                      int32_t batch, clsde_conv_shapes *out);
/* The conv2d nodes of a built graph (src/graph.h), one run each. CLSDE_ERR_NOMEM. */
struct clsde_graph;
clsde_status clsde_conv_shapes_graph(const struct clsde_graph *g, clsde_conv_shapes *out);
/* The conv2d nodes of the graph the network builder (src/nets/) makes for a clsde model
 * file at batch `batch`: exactly what that network runs. Errors of the loader and the
 * builder (CLSDE_ERR_IO, CLSDE_ERR_FORMAT, ...), with their messages. */
clsde_status clsde_conv_shapes_model(clsde_context *ctx, const char *path, int32_t batch,
                                     clsde_conv_shapes *out);

/* Names of the presets, NULL-terminated: "cifar10-ncsnpp" (ve/cifar10_ncsnpp_continuous,
 * networks.md §2.5), "cifar10-ddpmpp" (vp/cifar10_ddpmpp_continuous, §2.6), "cifar10-ddpm"
 * (vp/ddpm/cifar10, §3). */
extern const char *const clsde_conv_presets[];
/* The network part of preset `which` (index into clsde_conv_presets) as a config. */
void clsde_conv_preset_config(int which, struct clsde_model_config *c);
/* clsde_conv_shapes_config of a preset. CLSDE_ERR_ARG naming the presets when `name` is
 * unknown. */
clsde_status clsde_conv_shapes_preset(clsde_context *ctx, const char *name, int32_t batch,
                                      clsde_conv_shapes *out);

typedef struct clsde_tune_settings {
    double budget_s;  /* wall-time budget for the whole search (seconds) */
    int32_t force;    /* 1: re-tune classes that already have a row */
    int32_t clblast;  /* 1: also time the CLBlast path (when built with it) */
    uint64_t seed;    /* order of the random part of the search */
    FILE *progress;   /* one line per class and per notable candidate; NULL: quiet */
    const clsde_conv2d_choice *extra; /* candidates to run in every class after the defaults */
    int32_t n_extra;                  /* (and CLBlast), e.g. `clsde tune --try` */
} clsde_tune_settings;

/* What the search found for one shape class. */
typedef struct clsde_tune_result {
    char cls[64];         /* clsde_conv2d_class */
    char shape[64];       /* the class's representative shape, measured */
    int32_t count;        /* runs per forward of every shape in the class */
    double flops;         /* FLOP of one run of the representative shape */
    int32_t cached;       /* 1: the row existed and was kept (nothing measured) */
    int32_t skipped;      /* 1: not tuned, the budget was spent (no row stored) */
    double default_ms;    /* the default choice on the shape */
    double best_ms;       /* the stored choice */
    double clblast_ms;    /* the CLBlast path (0: not timed) */
    char params[192];     /* the stored choice's parameter string */
    int32_t tried;        /* candidates run */
    int32_t rejected;     /* candidates that failed verification (reported, discarded) */
    double seconds;       /* search time spent on the class */
} clsde_tune_result;

/* Whether conv2d output `got` matches the reference within the kernel checker's tolerance
 * for a reduction of length kdim (tests/checkkern/check_conv2d.c: 1e-6*sqrt(K) absolute +
 * 1e-6 relative, for weights scaled by 1/sqrt(K)). 1 when it does; 0 with the first
 * mismatch (index, both values) in why. NaN never matches. */
int clsde_conv2d_outputs_match(const float *got, const float *ref, size_t n, int32_t kdim,
                               char *why, size_t nwhy);

/* Tune every shape class of `shapes` on ctx's device within the settings' budget (classes
 * in order of FLOP weight, the budget split by weight; each class's time includes its C
 * reference, the defaults' and CLBlast's runs; a candidate already started may overrun
 * its share by its own run time, and classes left when the budget is spent are skipped),
 * put the winners into ctx's tune table (clsde_tune_put; the caller saves it) and fill
 * *results (malloc'ed, *n_results rows; free()). A class that already has a tuned row is
 * kept unless force. */
clsde_status clsde_tune_conv2d(clsde_context *ctx, const clsde_conv_shapes *shapes,
                               const clsde_tune_settings *settings,
                               clsde_tune_result **results, int32_t *n_results);

#endif /* CLSDE_TUNE_SEARCH_H */
