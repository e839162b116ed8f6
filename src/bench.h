/*
 * bench.h — kernel benchmark tables shared by `clsde bench` (the one CLI command that
 * links the internal library, as dav1d's checkasm does). Speed is a ratio to a roof
 * measured in the same run: OpenBLAS cblas_sgemm on the equivalent GEMM for GEMM-shaped
 * work, the device's measured copy bandwidth for memory-bound kernels.
 */
#ifndef CLSDE_BENCH_H
#define CLSDE_BENCH_H

#include <stdio.h>

#include "runtime.h"

typedef struct clsde_bench {
    clsde_context *ctx;
    FILE *out;
    int json;              /* 1: one JSON array on `out` */
    const char *filter;    /* only kernels whose name contains this (NULL: all) */
    const int *batches;    /* batch sizes to time */
    int n_batches;
    double min_seconds;    /* time each case for at least this long */
    double copy_gbs;       /* measured device copy bandwidth, GB/s (read + write bytes) */
    double launch_us;      /* an empty kernel, enqueue + finish (as each row is timed), us */
    double launch_stream_us; /* the same kernel per launch in a stream of 64, us */
    int rows;
} clsde_bench;

typedef clsde_status (*clsde_bench_fn)(clsde_context *ctx, void *arg);

/* Measure the roofs (copy bandwidth now; sgemm per shape on demand) and the launch
 * overhead (launch_us, launch_stream_us). */
clsde_status clsde_bench_init(clsde_bench *b);
/* Run fn (which enqueues work) and wait, repeatedly (>= 10 calls, >= min_seconds); *ms =
 * the fastest call's wall time after a warm-up. */
clsde_status clsde_bench_time(clsde_bench *b, clsde_bench_fn fn, void *arg, double *ms);
/* OpenBLAS sgemm GFLOP/s for C[m,n] = A[m,k] B[k,n], measured now on the device's
 * compute-unit count of threads. Returns 0 when built without OpenBLAS. */
double clsde_bench_sgemm_gflops(clsde_bench *b, int m, int n, int k);
/* Print one result row. unit: "GFLOP/s" (work = FLOP) or "GB/s" (work = bytes). */
void clsde_bench_row(clsde_bench *b, const char *kernel, const char *shape, double ms,
                     double work, const char *unit, double roof);
/* Whether the kernel passes the filter. */
int clsde_bench_wants(const clsde_bench *b, const char *kernel);

/* Every kernel family's benchmark, in order. Closes the JSON array. */
clsde_status clsde_bench_kernels(clsde_bench *b);

#endif
