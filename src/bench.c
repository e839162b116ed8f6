/*
 * bench.c — `clsde bench kernels`: each kernel family on the shapes of the CIFAR-10
 * NCSN++ / DDPM++ networks (networks.md §2.5, §2.6, §7), at the requested batch sizes,
 * with the roof measured in the same run. One function per family below; add a family
 * by writing bench_<op>() and one line in clsde_bench_kernels().
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "kernels/attention.h"
#include "kernels/conv2d.h"
#include "kernels/conv_down_fir.h"
#include "kernels/elementwise.h"
#include "kernels/group_norm.h"
#include "kernels/reduce.h"
#include "kernels/resample.h"
#include "kernels/rng.h"
#include "kernels/sde_step.h"
#include "program.h"
#include "tune_search.h"

#ifdef CLSDE_HAVE_OPENBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

int clsde_bench_wants(const clsde_bench *b, const char *kernel)
{
    return !b->filter || !*b->filter || strstr(kernel, b->filter) != NULL;
}

clsde_status clsde_bench_time(clsde_bench *b, clsde_bench_fn fn, void *arg, double *ms)
{
    /* The machine is shared and loaded: every call (enqueue + finish) is timed on its own
     * and the fastest one counts, i.e. the cost without interference from other processes.
     * A mean over calls (best of 5 rounds, before) moved by 2-5x between runs under load;
     * the fastest call of the kernel and of the copy roof are measured the same way, so
     * their ratio is what repeats. At least 10 calls, for at least min_seconds. */
    double best = 1e30, total = 0;
    int reps = 0;
    CLSDE_TRY(fn(b->ctx, arg)); /* warm-up: builds the program, touches the buffers */
    CLSDE_TRY(clsde_finish(b->ctx));
    do {
        const double t0 = clsde_now();
        double t;
        CLSDE_TRY(fn(b->ctx, arg));
        CLSDE_TRY(clsde_finish(b->ctx));
        t = clsde_now() - t0;
        if (t < best) best = t;
        total += t;
        reps++;
    } while ((total < b->min_seconds || reps < 10) && reps < 1000000);
    *ms = 1e3 * best;
    return CLSDE_OK;
}

typedef struct copy_arg {
    cl_mem a, b;
    size_t bytes;
} copy_arg;

static clsde_status run_copy(clsde_context *ctx, void *p)
{
    const copy_arg *c = p;
    CLSDE_CL(ctx, clEnqueueCopyBuffer(ctx->queue, c->a, c->b, 0, 0, c->bytes, 0, NULL, NULL),
             "clEnqueueCopyBuffer");
    return CLSDE_OK;
}

/* The launch probe: `reps` launches of an empty one-item kernel, then the caller's finish. */
typedef struct empty_arg {
    cl_kernel k;
    int reps;
} empty_arg;

static clsde_status run_empty(clsde_context *ctx, void *p)
{
    const empty_arg *e = p;
    const size_t one = 1;
    for (int i = 0; i < e->reps; i++) CLSDE_TRY(clsde_enqueue(ctx, e->k, "empty", 1, &one, &one));
    return CLSDE_OK;
}

/* Fixed cost of a kernel launch: alone (enqueue + finish, as every row below is timed)
 * and per kernel in a stream of 64 (as a network's forward pass enqueues them). */
static clsde_status measure_launch(clsde_bench *b)
{
    empty_arg e = {NULL, 1};
    cl_mem m = NULL;
    double ms = 0;
    clsde_status st;
    CLSDE_TRY_GOTO(clsde_buffer_create(b->ctx, sizeof(float), &m));
    CLSDE_TRY_GOTO(clsde_kernel_get(b->ctx, "bench.cl", "", "empty", &e.k));
    CLSDE_CL_GOTO(b->ctx, clSetKernelArg(e.k, 0, sizeof m, &m), "clSetKernelArg");
    CLSDE_TRY_GOTO(clsde_bench_time(b, run_empty, &e, &ms));
    b->launch_us = 1e3 * ms;
    e.reps = 64;
    CLSDE_TRY_GOTO(clsde_bench_time(b, run_empty, &e, &ms));
    b->launch_stream_us = 1e3 * ms / e.reps;
fail:
    clsde_buffer_release(m);
    return st;
}

clsde_status clsde_bench_init(clsde_bench *b)
{
    /* 64 MiB: well beyond the caches, like the activations of a batch-8 network */
    copy_arg c = {NULL, NULL, (size_t)64 << 20};
    double ms = 0;
    clsde_status st;
    float *zero = calloc(c.bytes, 1);
    CLSDE_FAIL_IF(!zero, b->ctx, CLSDE_ERR_NOMEM, "out of memory");
    st = clsde_buffer_create(b->ctx, c.bytes, &c.a);
    if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, c.bytes, &c.b);
    if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, c.a, 0, c.bytes, zero);
    if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, c.b, 0, c.bytes, zero);
    if (st == CLSDE_OK) st = clsde_bench_time(b, run_copy, &c, &ms);
    free(zero);
    clsde_buffer_release(c.a);
    clsde_buffer_release(c.b);
    CLSDE_TRY(st);
    b->copy_gbs = 2.0 * (double)c.bytes / (ms * 1e-3) / 1e9;
    CLSDE_TRY(measure_launch(b));
    b->rows = 0;
    if (b->json) {
        fputs("[", b->out);
        clsde_bench_row(b, "empty", "1", 1e-3 * b->launch_us, 0, "launch", 0);
        clsde_bench_row(b, "empty", "1 in a stream of 64", 1e-3 * b->launch_stream_us, 0,
                        "launch", 0);
    }
    return CLSDE_OK;
}

double clsde_bench_sgemm_gflops(clsde_bench *b, int m, int n, int k)
{
#ifdef CLSDE_HAVE_OPENBLAS
    float *A = calloc((size_t)m * k, sizeof *A), *B = calloc((size_t)k * n, sizeof *B);
    float *C = calloc((size_t)m * n, sizeof *C);
    double t0, t, best = 1e30;
    if (!A || !B || !C) {
        free(A), free(B), free(C);
        return 0;
    }
    for (size_t i = 0; i < (size_t)m * k; i++) A[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)k * n; i++) B[i] = (float)(i % 5) * 0.1f;
    openblas_set_num_threads(b->ctx->info.compute_units > 0 ? b->ctx->info.compute_units : 1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, A, k, B, n, 0.0f, C, n);
    for (int round = 0; round < 5; round++) {
        int reps = 0;
        t0 = clsde_now();
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, A, k, B, n,
                        0.0f, C, n);
            reps++;
            t = clsde_now() - t0;
        } while (t < b->min_seconds / 5 && reps < 100000);
        if (t / reps < best) best = t / reps;
    }
    free(A), free(B), free(C);
    return 2.0 * m * n * (double)k / best / 1e9;
#else
    (void)b, (void)m, (void)n, (void)k;
    return 0;
#endif
}

void clsde_bench_row(clsde_bench *b, const char *kernel, const char *shape, double ms,
                     double work, const char *unit, double roof)
{
    const double rate = work / (ms * 1e-3) / 1e9;
    const double ratio = roof > 0 ? rate / roof : 0;
    if (b->json) {
        fprintf(b->out,
                "%s\n  {\"kernel\": \"%s\", \"shape\": \"%s\", \"ms\": %.6g, \"rate\": %.6g, "
                "\"unit\": \"%s\", \"roof\": %.6g, \"ratio\": %.4f}",
                b->rows ? "," : "", kernel, shape, ms, rate, unit, roof, ratio);
    } else {
        if (!b->rows)
            fprintf(b->out, "%-18s %-26s %10s %10s %-8s %10s %7s\n", "kernel", "shape", "ms",
                    "rate", "unit", "roof", "ratio");
        fprintf(b->out, "%-18s %-26s %10.4f %10.2f %-8s %10.2f %6.1f%%\n", kernel, shape, ms,
                rate, unit, roof, 100 * ratio);
    }
    b->rows++;
    fflush(b->out);
}

/* ------------------------------------------------------------ elementwise */

/* Activation shapes of the CIFAR-10 NCSN++ / DDPM++ networks per sample: C x H x W. */
static const int act_shapes[][3] = {{128, 32, 32}, {256, 16, 16}, {256, 8, 8}, {256, 4, 4}};

typedef struct ew_arg {
    size_t n;
    cl_mem x, y, z;
    int which;
} ew_arg;

static clsde_status run_ew(clsde_context *ctx, void *p)
{
    const ew_arg *a = p;
    switch (a->which) {
    case 0: return clsde_silu_enqueue(ctx, a->n, a->x, a->y);
    case 1: return clsde_axpby_enqueue(ctx, a->n, 0.5f, a->x, 0.25f, a->y, a->z);
    default: return clsde_affine_enqueue(ctx, a->n, 2.0f, -1.0f, a->x, a->y);
    }
}

static clsde_status bench_elementwise(clsde_bench *b)
{
    static const char *names[] = {"silu", "axpby", "affine"};
    static const int streams[] = {2, 3, 2}; /* arrays read + written per element */
    for (int which = 0; which < 3; which++) {
        if (!clsde_bench_wants(b, names[which])) continue;
        for (int bi = 0; bi < b->n_batches; bi++)
            for (size_t s = 0; s < sizeof act_shapes / sizeof *act_shapes; s++) {
                const int *sh = act_shapes[s];
                ew_arg a = {(size_t)b->batches[bi] * sh[0] * sh[1] * sh[2], NULL, NULL, NULL,
                            which};
                const size_t bytes = a.n * sizeof(float);
                float *host = calloc(a.n, sizeof(float));
                char shape[64];
                double ms = 0;
                clsde_status st;
                CLSDE_FAIL_IF(!host, b->ctx, CLSDE_ERR_NOMEM, "out of memory");
                st = clsde_buffer_create(b->ctx, bytes, &a.x);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.y);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.z);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.x, 0, bytes, host);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.y, 0, bytes, host);
                if (st == CLSDE_OK) st = clsde_bench_time(b, run_ew, &a, &ms);
                free(host);
                clsde_buffer_release(a.x), clsde_buffer_release(a.y), clsde_buffer_release(a.z);
                CLSDE_TRY(st);
                snprintf(shape, sizeof shape, "%dx%dx%dx%d", b->batches[bi], sh[0], sh[1], sh[2]);
                clsde_bench_row(b, names[which], shape, ms, (double)streams[which] * bytes,
                                "GB/s", b->copy_gbs);
            }
    }
    return CLSDE_OK;
}

/* ------------------------------------------------------------ attention */

/* Attention shapes of the CIFAR-10 networks per sample: C x HW (16x16 blocks, 4x4 middle). */
static const int att_shapes[][2] = {{256, 256}, {256, 16}};

typedef struct att_arg {
    int n, c, hw;
    cl_mem q, k, v, o;
} att_arg;

static clsde_status run_att(clsde_context *ctx, void *p)
{
    const att_arg *a = p;
    return clsde_attention_enqueue(ctx, a->n, a->c, a->hw, a->q, a->k, a->v, a->o);
}

/* Work: the two GEMMs S = Q^T K ([hw, c] x [c, hw]) and O = V P^T ([c, hw] x [hw, hw]),
 * 4 c hw^2 FLOP per image (softmax not counted). Roof: OpenBLAS on the same two GEMMs. */
static clsde_status bench_attention(clsde_bench *b)
{
    if (!clsde_bench_wants(b, "attention")) return CLSDE_OK;
    for (size_t s = 0; s < sizeof att_shapes / sizeof *att_shapes; s++) {
        const int c = att_shapes[s][0], hw = att_shapes[s][1];
        const double flop1 = 2.0 * c * (double)hw * hw;
        const double g1 = clsde_bench_sgemm_gflops(b, hw, hw, c);
        const double g2 = clsde_bench_sgemm_gflops(b, c, hw, hw);
        const double roof = g1 > 0 && g2 > 0 ? 2 * flop1 / (flop1 / g1 + flop1 / g2) : 0;
        for (int bi = 0; bi < b->n_batches; bi++) {
            att_arg a = {b->batches[bi], c, hw, NULL, NULL, NULL, NULL};
            const size_t n = (size_t)a.n * c * hw, bytes = n * sizeof(float);
            float *host = malloc(bytes);
            char shape[64];
            double ms = 0;
            clsde_status st;
            CLSDE_FAIL_IF(!host, b->ctx, CLSDE_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < n; i++) host[i] = (float)(i % 13) * 0.05f - 0.3f;
            st = clsde_buffer_create(b->ctx, bytes, &a.q);
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.k);
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.v);
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.o);
            if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.q, 0, bytes, host);
            if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.k, 0, bytes, host);
            if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.v, 0, bytes, host);
            if (st == CLSDE_OK) st = clsde_bench_time(b, run_att, &a, &ms);
            free(host);
            clsde_buffer_release(a.q), clsde_buffer_release(a.k);
            clsde_buffer_release(a.v), clsde_buffer_release(a.o);
            CLSDE_TRY(st);
            snprintf(shape, sizeof shape, "%dx%dx%d", a.n, c, hw);
            clsde_bench_row(b, "attention", shape, ms, 2 * flop1 * a.n, "GFLOP/s", roof);
        }
    }
    return CLSDE_OK;
}

/* ------------------------------------------------------------ conv2d, dense */

/* Convolutions of the CIFAR-10 NCSN++ / DDPM++ networks per sample (networks.md §7.1):
 * c_in, side, c_out, k, stride, pad t, l, b, r. */
static const int conv_shapes[][9] = {
    {128, 32, 128, 3, 1, 1, 1, 1, 1}, /* level-0 resblock conv (most of the FLOPs) */
    {256, 16, 256, 3, 1, 1, 1, 1, 1},
    {256, 8, 256, 3, 1, 1, 1, 1, 1},
    {256, 4, 256, 3, 1, 1, 1, 1, 1},
    {3, 32, 128, 3, 1, 1, 1, 1, 1},   /* input conv */
    {128, 32, 3, 3, 1, 1, 1, 1, 1},   /* output conv */
    {128, 33, 256, 3, 2, 0, 0, 0, 0}, /* the conv of the two-pass FIR conv-downsample (the
                                         network runs conv_down_fir, below, instead) */
    {128, 32, 128, 3, 2, 0, 0, 1, 1}, /* DDPM downsample: right/bottom pad, stride 2 */
    {384, 32, 128, 1, 1, 0, 0, 0, 0}, /* up-path shortcut after the skip concat */
    {512, 16, 256, 1, 1, 0, 0, 0, 0},
};

typedef struct conv_arg {
    clsde_conv2d_params p;
    cl_mem x, w, bias, y;
    int dense_in, dense_out;           /* > 0: time the Linear instead */
    const clsde_conv2d_choice *choice; /* NULL: clsde_conv2d_enqueue (the tune table's) */
    int gm, gn, gk;                    /* > 0: also time OpenBLAS on this GEMM, interleaved */
} conv_arg;

#ifdef CLSDE_HAVE_OPENBLAS
/* The roof's GEMM on host arrays: C[m, n] = A[m, k] B[k, n]. */
typedef struct gemm_arg {
    float *A, *B, *C;
    int m, n, k;
} gemm_arg;

static void run_gemm(const gemm_arg *g)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k, 1.0f, g->A, g->k,
                g->B, g->n, 0.0f, g->C, g->n);
}
#endif

static clsde_status run_conv(clsde_context *ctx, void *q)
{
    const conv_arg *a = q;
    if (a->dense_in > 0)
        return clsde_dense_enqueue(ctx, a->p.n, a->dense_in, a->dense_out, a->x, a->w, a->bias,
                                   a->y);
    if (a->choice)
        return clsde_conv2d_enqueue_choice(ctx, &a->p, a->choice, a->x, a->w, a->bias, NULL,
                                           NULL, a->y);
    return clsde_conv2d_enqueue(ctx, &a->p, a->x, a->w, a->bias, NULL, NULL, a->y);
}

/* Time each of n choices (NULL entries: the network's entry point) on one set of buffers,
 * interleaved: round r of every choice before round r + 1 of any (5 rounds of at least
 * min_seconds / 5 each, one call at least), so that all of them see the same machine load;
 * ms[i] is the fastest call, as clsde_bench_time counts.
 * With a->gm > 0 and OpenBLAS, ms[n] is the roof's sgemm on that GEMM, timed in the same
 * rounds (0 otherwise). */
static clsde_status bench_conv_case(clsde_bench *b, conv_arg *a, size_t nx, size_t nw,
                                    size_t nb, size_t ny, const clsde_conv2d_choice *const *choices,
                                    int n, double *ms)
{
    const size_t nmax = nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny);
    float *host = malloc(nmax * sizeof(float));
    int with_gemm = 0;
    clsde_status st;
#ifdef CLSDE_HAVE_OPENBLAS
    gemm_arg g = {NULL, NULL, NULL, a->gm, a->gn, a->gk};
    if (a->gm > 0) {
        g.A = malloc((size_t)g.m * g.k * sizeof(float));
        g.B = malloc((size_t)g.k * g.n * sizeof(float));
        g.C = malloc((size_t)g.m * g.n * sizeof(float));
        if (!g.A || !g.B || !g.C) {
            free(g.A), free(g.B), free(g.C), free(host);
            CLSDE_FAIL_IF(1, b->ctx, CLSDE_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < (size_t)g.m * g.k; i++) g.A[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)g.k * g.n; i++) g.B[i] = (float)(i % 5) * 0.1f;
        openblas_set_num_threads(b->ctx->info.compute_units > 0 ? b->ctx->info.compute_units
                                                                : 1);
        run_gemm(&g);
        with_gemm = 1;
    }
#endif
    CLSDE_FAIL_IF(!host, b->ctx, CLSDE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nmax; i++) host[i] = (float)(i % 11) * 0.05f - 0.25f;
    a->x = a->w = a->bias = a->y = NULL;
    st = clsde_buffer_create(b->ctx, nx * sizeof(float), &a->x);
    if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, nw * sizeof(float), &a->w);
    if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, nb * sizeof(float), &a->bias);
    if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, ny * sizeof(float), &a->y);
    if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a->x, 0, nx * sizeof(float), host);
    if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a->w, 0, nw * sizeof(float), host);
    if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a->bias, 0, nb * sizeof(float), host);
    for (int i = 0; i < n + with_gemm; i++) ms[i] = 1e30;
    for (int i = 0; i < n && st == CLSDE_OK; i++) {
        a->choice = choices[i];
        st = run_conv(b->ctx, a); /* warm-up: builds the program, touches the buffers */
        if (st == CLSDE_OK) st = clsde_finish(b->ctx);
    }
    for (int round = 0; round < 5 && st == CLSDE_OK; round++) {
        for (int i = 0; i < n + with_gemm && st == CLSDE_OK; i++) {
            double spent = 0;
            a->choice = i < n ? choices[i] : NULL;
            do {
                const double t0 = clsde_now();
                double t;
#ifdef CLSDE_HAVE_OPENBLAS
                if (i == n) {
                    run_gemm(&g);
                } else
#endif
                {
                    st = run_conv(b->ctx, a);
                    if (st == CLSDE_OK) st = clsde_finish(b->ctx);
                }
                t = 1e3 * (clsde_now() - t0);
                if (t < ms[i]) ms[i] = t;
                spent += t;
            } while (st == CLSDE_OK && spent < 1e3 * b->min_seconds / 5);
        }
    }
    if (!with_gemm) ms[n] = 0;
    a->choice = NULL;
#ifdef CLSDE_HAVE_OPENBLAS
    free(g.A), free(g.B), free(g.C);
#endif
    free(host);
    clsde_buffer_release(a->x), clsde_buffer_release(a->w);
    clsde_buffer_release(a->bias), clsde_buffer_release(a->y);
    return st;
}

/* One conv shape timed every way that matters, against the OpenBLAS roof timed in the
 * same rounds: [0] the network's entry point (tune table, else defaults), [1] the
 * device-property defaults (timed only when the table chose otherwise; else = [0]), [2]
 * the CLBlast path, im2col + CLBlastSgemm + epilogue, the whole conv (0 without CLBlast). */
typedef struct conv_times {
    double ms[3];
    double flop, roof; /* roof: OpenBLAS GFLOP/s on the implicit GEMM */
    int tuned;         /* [0] came from the tune table and differs from the defaults */
} conv_times;

static clsde_status time_conv(clsde_bench *b, const clsde_conv2d_params *p, conv_times *t)
{
    const int oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
    const int kdim = p->c_in * p->k * p->k;
    clsde_conv2d_choice table, def, clb;
    clsde_tune_source src;
    const clsde_conv2d_choice *choices[3];
    double ms[4] = {0, 0, 0, 0};
    int n = 0;
    conv_arg a;
    memset(&a, 0, sizeof a);
    memset(t, 0, sizeof *t);
    a.p = *p;
    a.gm = p->c_out, a.gn = p->n * oh * ow, a.gk = kdim;
    clsde_conv2d_choose(b->ctx, p, &table, &src);
    def.path = CLSDE_CONV2D_IMPLICIT;
    clsde_conv2d_tune_default(b->ctx, p, &def.tile);
    clb.path = CLSDE_CONV2D_CLBLAST;
    t->tuned = src != CLSDE_TUNE_DEFAULT && memcmp(&table, &def, sizeof def) != 0;
    choices[n++] = NULL;
    if (t->tuned) choices[n++] = &def;
    if (clsde_tune_clblast_version(NULL)) choices[n++] = &clb;
    CLSDE_TRY(bench_conv_case(b, &a, (size_t)p->n * p->c_in * p->h * p->w,
                              (size_t)p->c_out * kdim, (size_t)p->c_out,
                              (size_t)p->n * p->c_out * oh * ow, choices, n, ms));
    t->ms[0] = ms[0];
    t->ms[1] = t->tuned ? ms[1] : ms[0];
    t->ms[2] = clsde_tune_clblast_version(NULL) ? ms[n - 1] : 0;
    t->flop = 2.0 * p->c_out * kdim * (double)oh * ow * p->n;
    t->roof = ms[n] > 0 ? t->flop / (ms[n] * 1e-3) / 1e9 : 0;
    return CLSDE_OK;
}

/* Work: 2 c_out c_in k^2 oh ow FLOP per image; roof: OpenBLAS sgemm on the implicit GEMM
 * (M = c_out, N = batch*oh*ow, K = c_in k^2), timed in the same rounds as the conv. Rows: conv2d (what the network
 * runs: the tune table's choice, else the defaults), conv2d_default (the defaults, when
 * the table chose otherwise), conv2d_clblast (im2col + CLBlastSgemm + epilogue; with
 * CLBlast). */
static clsde_status bench_conv2d(clsde_bench *b)
{
    static const int dense_shapes[][2] = {{256, 512}, {512, 512}, {512, 256}};
    if (clsde_bench_wants(b, "conv2d")) {
        for (size_t s = 0; s < sizeof conv_shapes / sizeof *conv_shapes; s++) {
            const int *d = conv_shapes[s];
            for (int bi = 0; bi < b->n_batches; bi++) {
                clsde_conv2d_params p;
                conv_times t;
                char shape[64];
                memset(&p, 0, sizeof p);
                p.n = b->batches[bi], p.c_in = d[0], p.h = p.w = d[1];
                p.c_out = d[2], p.k = d[3], p.stride = d[4];
                p.pad_t = d[5], p.pad_l = d[6], p.pad_b = d[7], p.pad_r = d[8];
                p.has_bias = 1, p.res_div = 1.0f;
                CLSDE_TRY(time_conv(b, &p, &t));
                snprintf(shape, sizeof shape, "%dx%dx%d->%dk%ds%d", p.n, d[0], d[1], d[2], d[3],
                         d[4]);
                clsde_bench_row(b, "conv2d", shape, t.ms[0], t.flop, "GFLOP/s", t.roof);
                if (t.tuned)
                    clsde_bench_row(b, "conv2d_default", shape, t.ms[1], t.flop, "GFLOP/s",
                                    t.roof);
                if (t.ms[2] > 0)
                    clsde_bench_row(b, "conv2d_clblast", shape, t.ms[2], t.flop, "GFLOP/s",
                                    t.roof);
            }
        }
    }
    if (clsde_bench_wants(b, "dense")) {
        for (size_t s = 0; s < sizeof dense_shapes / sizeof *dense_shapes; s++) {
            const int in = dense_shapes[s][0], out = dense_shapes[s][1];
            for (int bi = 0; bi < b->n_batches; bi++) {
                const clsde_conv2d_choice *none = NULL;
                conv_arg a;
                double ms[2] = {0, 0};
                char shape[64];
                memset(&a, 0, sizeof a);
                a.p.n = b->batches[bi], a.dense_in = in, a.dense_out = out;
                CLSDE_TRY(bench_conv_case(b, &a, (size_t)a.p.n * in, (size_t)out * in,
                                          (size_t)out, (size_t)a.p.n * out, &none, 1, ms));
                snprintf(shape, sizeof shape, "%dx%d->%d", a.p.n, in, out);
                clsde_bench_row(b, "dense", shape, ms[0], 2.0 * in * out * a.p.n, "GFLOP/s",
                                clsde_bench_sgemm_gflops(b, out, a.p.n, in));
            }
        }
    }
    return CLSDE_OK;
}

/* conv2d_net: every conv of the CIFAR-10 NCSN++ network (ve/cifar10_ncsnpp_continuous,
 * networks.md §2.5, the shapes and counts of tune_search.c's walk), each distinct shape
 * timed as time_conv does, then totals over one forward pass weighted by how often the
 * network runs each shape. Rows per shape: conv2d_net (the tune table's choice),
 * conv2d_net_default (the defaults, when they differ), conv2d_net_clblast; the shape says
 * "x<runs>". Totals (rows conv2d_net_total*): ms = sum of runs x ms, rate = FLOP / that,
 * roof = the same for OpenBLAS, so the ratio is OpenBLAS time / our time over the pass;
 * the text summary adds the FLOP-weighted mean of the per-shape ratios. Not part of the
 * default run (`--kernel conv2d_net`): about a minute per batch size. */
static clsde_status bench_conv2d_net(clsde_bench *b)
{
    if (!b->filter || strcmp(b->filter, "conv2d_net") != 0) return CLSDE_OK;
    for (int bi = 0; bi < b->n_batches; bi++) {
        clsde_conv_shapes shapes = {NULL, 0, 0};
        double flop = 0, t_ours = 0, t_def = 0, t_clb = 0, t_blas = 0;
        double wr_ours = 0, wr_def = 0, wr_clb = 0;
        clsde_status st;
        CLSDE_TRY(clsde_conv_shapes_preset(b->ctx, "cifar10-ncsnpp", b->batches[bi], &shapes));
        for (int32_t i = 0; i < shapes.n; i++) {
            const clsde_conv2d_params *p = &shapes.s[i].p;
            const double c = shapes.s[i].count;
            conv_times t;
            char shape[64];
            st = time_conv(b, p, &t);
            if (st != CLSDE_OK) {
                clsde_conv_shapes_free(&shapes);
                return st;
            }
            snprintf(shape, sizeof shape, "%dx%dx%d->%dk%ds%d x%d", (int)p->n, (int)p->c_in,
                     (int)p->h, (int)p->c_out, (int)p->k, (int)p->stride, (int)c);
            clsde_bench_row(b, "conv2d_net", shape, t.ms[0], t.flop, "GFLOP/s", t.roof);
            if (t.tuned)
                clsde_bench_row(b, "conv2d_net_default", shape, t.ms[1], t.flop, "GFLOP/s",
                                t.roof);
            if (t.ms[2] > 0)
                clsde_bench_row(b, "conv2d_net_clblast", shape, t.ms[2], t.flop, "GFLOP/s",
                                t.roof);
            flop += c * t.flop;
            t_ours += c * t.ms[0], t_def += c * t.ms[1], t_clb += c * t.ms[2];
            if (t.roof > 0) {
                const double blas_ms = t.flop / (t.roof * 1e9) * 1e3;
                t_blas += c * blas_ms;
                wr_ours += c * t.flop * blas_ms / t.ms[0];
                wr_def += c * t.flop * blas_ms / t.ms[1];
                if (t.ms[2] > 0) wr_clb += c * t.flop * blas_ms / t.ms[2];
            }
        }
        {
            char shape[64];
            const double roof = t_blas > 0 ? flop / (t_blas * 1e-3) / 1e9 : 0;
            snprintf(shape, sizeof shape, "%dx NCSN++ forward", b->batches[bi]);
            clsde_bench_row(b, "conv2d_net_total", shape, t_ours, flop, "GFLOP/s", roof);
            clsde_bench_row(b, "conv2d_net_total_default", shape, t_def, flop, "GFLOP/s", roof);
            if (t_clb > 0)
                clsde_bench_row(b, "conv2d_net_total_clblast", shape, t_clb, flop, "GFLOP/s",
                                roof);
            if (!b->json)
                fprintf(b->out,
                        "conv2d_net batch %d: %d shapes, %.1f GFLOP per forward; conv time "
                        "%.1f ms as tuned, %.1f ms with the defaults, %.1f ms OpenBLAS%s%.1f%s; "
                        "FLOP-weighted mean ratio to OpenBLAS: tuned %.1f%%, defaults %.1f%%"
                        "%s%.1f%s\n",
                        b->batches[bi], (int)shapes.n, flop / 1e9, t_ours, t_def, t_blas,
                        t_clb > 0 ? ", CLBlast path " : "", t_clb > 0 ? t_clb : 0.0,
                        t_clb > 0 ? " ms" : "", flop > 0 ? 100 * wr_ours / flop : 0.0,
                        flop > 0 ? 100 * wr_def / flop : 0.0, t_clb > 0 ? ", CLBlast " : "",
                        t_clb > 0 && flop > 0 ? 100 * wr_clb / flop : 0.0, t_clb > 0 ? "%" : "");
        }
        clsde_conv_shapes_free(&shapes);
    }
    return CLSDE_OK;
}

/* ------------------------------------------------------------ fused FIR conv-downsample */

/* The NCSN++ input pyramid's Conv2d_0 (networks.md §1.3, §7.1), three ways on the same
 * buffers: [0] conv_down_fir, the fused kernel (what the network runs); [1] the two-pass
 * path it replaced, the upfirdn2d pre-filter into a [n, c_in, h+1, w+1] buffer, then the
 * conv2d the tune table (else the defaults) picks; [2] the pre-filter alone; [3] that
 * conv alone. The conv's inputs are the pre-filter's outputs. */
typedef struct cdf_arg {
    clsde_conv_down_fir_params p;
    clsde_conv2d_params cp;
    clsde_upfirdn2d_params fp;
    cl_mem x, w, wt, bias, z, y;
    int which;
} cdf_arg;

static clsde_status run_cdf(clsde_context *ctx, void *q)
{
    const cdf_arg *a = q;
    if (a->which == 0)
        return clsde_conv_down_fir_enqueue(ctx, &a->p, a->x, a->wt, a->bias, NULL, a->y);
    if (a->which != 3) CLSDE_TRY(clsde_upfirdn2d_enqueue(ctx, &a->fp, a->x, a->z));
    if (a->which == 2) return CLSDE_OK;
    return clsde_conv2d_enqueue(ctx, &a->cp, a->z, a->w, a->bias, NULL, NULL, a->y);
}

/* Work: the conv's 2 c_out (9 c_in) oh ow FLOP per image (the FIR taps not counted, so
 * both rows count the same work); roof: OpenBLAS sgemm on the equivalent GEMM (M = c_out,
 * N = batch*oh*ow, K = 9 c_in), timed in the same rounds. Rows: conv_down_fir (fused),
 * conv_down_fir_2pass (pre-filter + conv); the text output adds the pre-filter and the
 * conv alone and the speedup. Each variant counts its fastest call, all interleaved
 * round by round (5 rounds), as bench_conv_case does. */
static clsde_status bench_conv_down_fir(clsde_bench *b)
{
    static const int shapes[][3] = {{3, 32, 128}, {128, 16, 256}, {256, 8, 256}};
    if (!clsde_bench_wants(b, "conv_down_fir")) return CLSDE_OK;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        for (int bi = 0; bi < b->n_batches; bi++) {
            cdf_arg a;
            const int n = b->batches[bi], ci = shapes[s][0], side = shapes[s][1];
            const int co = shapes[s][2];
            double ms[5] = {1e30, 1e30, 1e30, 1e30, 1e30}, flop;
            size_t nx, nw, nz, ny, nmax;
            float *host = NULL;
            char shape[64];
            clsde_status st = CLSDE_OK;
#ifdef CLSDE_HAVE_OPENBLAS
            float *A = NULL, *B = NULL, *C = NULL;
#endif
            int oh, ow;
            memset(&a, 0, sizeof a);
            a.p = (clsde_conv_down_fir_params){n, ci, side, side, co, 1, 0, 1.0f};
            a.fp = (clsde_upfirdn2d_params){n, ci, side, side, 1, 1, 2, 2, 1.0f};
            a.cp = (clsde_conv2d_params){n, ci, side + 1, side + 1, co, 3, 2, 0, 0, 0, 0,
                                         1, 0, 0, 1.0f};
            oh = clsde_conv_down_fir_out_h(&a.p), ow = clsde_conv_down_fir_out_w(&a.p);
            nx = (size_t)n * ci * side * side, nw = (size_t)co * ci * 9;
            nz = (size_t)n * ci * (side + 1) * (side + 1), ny = (size_t)n * co * oh * ow;
            nmax = nx > nw ? nx : nw;
            flop = 2.0 * co * 9.0 * ci * oh * ow * n;
            host = malloc(nmax * sizeof(float));
#ifdef CLSDE_HAVE_OPENBLAS
            A = malloc(nw * sizeof(float));
            B = malloc((size_t)9 * ci * n * oh * ow * sizeof(float));
            C = malloc(ny * sizeof(float));
            if (!A || !B || !C) st = CLSDE_ERR_NOMEM;
            for (size_t i = 0; A && B && i < nw; i++) A[i] = (float)(i % 7) * 0.1f;
            for (size_t i = 0; B && i < (size_t)9 * ci * n * oh * ow; i++)
                B[i] = (float)(i % 5) * 0.1f;
            openblas_set_num_threads(b->ctx->info.compute_units > 0 ? b->ctx->info.compute_units
                                                                    : 1);
#endif
            if (!host) st = CLSDE_ERR_NOMEM;
            for (size_t i = 0; host && i < nmax; i++) host[i] = (float)(i % 11) * 0.05f - 0.25f;
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, nx * sizeof(float), &a.x);
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, nw * sizeof(float), &a.w);
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, nw * sizeof(float), &a.wt);
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, co * sizeof(float), &a.bias);
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, nz * sizeof(float), &a.z);
            if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, ny * sizeof(float), &a.y);
            if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.x, 0, nx * sizeof(float), host);
            if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.w, 0, nw * sizeof(float), host);
            if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.wt, 0, nw * sizeof(float), host);
            if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.bias, 0, co * sizeof(float), host);
            for (a.which = 0; a.which < 4 && st == CLSDE_OK; a.which++) {
                st = run_cdf(b->ctx, &a); /* warm-up: builds the programs */
                if (st == CLSDE_OK) st = clsde_finish(b->ctx);
            }
            for (int round = 0; round < 5 && st == CLSDE_OK; round++) {
                for (int i = 0; i < 5 && st == CLSDE_OK; i++) {
                    double spent = 0;
                    a.which = i;
                    do {
                        const double t0 = clsde_now();
                        double t;
                        if (i == 4) {
#ifdef CLSDE_HAVE_OPENBLAS
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co,
                                        n * oh * ow, 9 * ci, 1.0f, A, 9 * ci, B, n * oh * ow,
                                        0.0f, C, n * oh * ow);
#else
                            break;
#endif
                        } else {
                            st = run_cdf(b->ctx, &a);
                            if (st == CLSDE_OK) st = clsde_finish(b->ctx);
                        }
                        t = 1e3 * (clsde_now() - t0);
                        if (t < ms[i]) ms[i] = t;
                        spent += t;
                    } while (st == CLSDE_OK && spent < 1e3 * b->min_seconds / 5);
                }
            }
            free(host);
#ifdef CLSDE_HAVE_OPENBLAS
            free(A), free(B), free(C);
#endif
            clsde_buffer_release(a.x), clsde_buffer_release(a.w), clsde_buffer_release(a.wt);
            clsde_buffer_release(a.bias), clsde_buffer_release(a.z), clsde_buffer_release(a.y);
            CLSDE_FAIL_IF(st == CLSDE_ERR_NOMEM, b->ctx, st, "out of memory");
            CLSDE_TRY(st);
            {
                const double roof = ms[4] < 1e29 ? flop / (ms[4] * 1e-3) / 1e9 : 0;
                snprintf(shape, sizeof shape, "%dx%dx%d->%d", n, ci, side, co);
                clsde_bench_row(b, "conv_down_fir", shape, ms[0], flop, "GFLOP/s", roof);
                clsde_bench_row(b, "conv_down_fir_2pass", shape, ms[1], flop, "GFLOP/s", roof);
                if (!b->json)
                    fprintf(b->out, "conv_down_fir %s: fused %.4f ms, two-pass %.4f ms "
                            "(pre-filter %.4f + conv %.4f alone), OpenBLAS %.4f ms; "
                            "two-pass / fused %.2fx\n", shape, ms[0], ms[1], ms[2], ms[3],
                            roof > 0 ? ms[4] : 0.0, ms[1] / ms[0]);
            }
        }
    }
    return CLSDE_OK;
}

/* ------------------------------------------------------------ sampler state updates */

/* Sampler state shapes per sample: CIFAR-10 and the 256^2 LSUN/CelebA-HQ models. */
static const int state_shapes[][3] = {{3, 32, 32}, {3, 256, 256}};

typedef struct sde_arg {
    int n, per;
    cl_mem x, s, z, y, xm, coef, norms;
    int which;
} sde_arg;

static clsde_status run_sde(clsde_context *ctx, void *p)
{
    const sde_arg *a = p;
    switch (a->which) {
    case 0: { /* noise for one step: N(0,1), double Box–Muller on fp64 devices */
        clsde_rng_params r = {7, 0, (uint32_t)a->n, (uint32_t)a->per, 1,
                              clsde_rng_stream(CLSDE_RNG_PREDICTOR, 0), CLSDE_RNG_NORMAL, 0};
        return clsde_rng_enqueue(ctx, &r, a->z);
    }
    case 1: { /* predictor / corrector update, x_new in place, x_mean written */
        const clsde_pc_update_params pp = {a->n, a->per, 0, 3};
        return clsde_pc_update_enqueue(ctx, &pp, a->coef, a->x, a->s, a->z, a->x, a->xm);
    }
    case 2: /* per-image L2 norm (Langevin step size) */
        return clsde_sumsq_per_image_enqueue(ctx, NULL, (size_t)a->n, (size_t)a->per, 1, a->s,
                                             a->norms);
    default: { /* inpainting mix with a shared mask */
        const clsde_mix_params mp = {a->n, a->per, 0, 0.5f, 0.3f};
        return clsde_inpaint_mix_enqueue(ctx, &mp, a->y, a->s, a->z, a->x, a->xm);
    }
    }
}

static clsde_status bench_sde(clsde_bench *b)
{
    static const char *names[] = {"rng_normal", "pc_update", "l2norm_per_image", "inpaint_mix"};
    /* float arrays read + written per element (the shared mask counts once per image set) */
    static const double streams[] = {1, 5, 1, 5};
    for (int which = 0; which < 4; which++) {
        if (!clsde_bench_wants(b, names[which])) continue;
        for (int bi = 0; bi < b->n_batches; bi++)
            for (size_t sh = 0; sh < sizeof state_shapes / sizeof *state_shapes; sh++) {
                const int *d = state_shapes[sh];
                sde_arg a;
                size_t bytes, total, cbytes;
                float *host;
                char shape[64];
                double ms = 0;
                clsde_status st;
                memset(&a, 0, sizeof a);
                a.n = b->batches[bi], a.per = d[0] * d[1] * d[2], a.which = which;
                total = (size_t)a.n * a.per;
                bytes = total * sizeof(float);
                cbytes = 3 * (size_t)a.n * sizeof(float);
                host = calloc(total > 3 * (size_t)a.n ? total : 3 * (size_t)a.n, sizeof(float));
                CLSDE_FAIL_IF(!host, b->ctx, CLSDE_ERR_NOMEM, "out of memory");
                for (int i = 0; i < 3 * a.n; i++) host[i] = i % 3 ? 0.5f : 1.0f;
                st = clsde_buffer_create(b->ctx, bytes, &a.x);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.s);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.z);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.y);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.xm);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, cbytes, &a.coef);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, a.n * sizeof(float), &a.norms);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.coef, 0, cbytes, host);
                for (int i = 0; i < 3 * a.n; i++) host[i] = 0;
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.x, 0, bytes, host);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.s, 0, bytes, host);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.z, 0, bytes, host);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.y, 0, bytes, host);
                if (st == CLSDE_OK) st = clsde_bench_time(b, run_sde, &a, &ms);
                free(host);
                clsde_buffer_release(a.x), clsde_buffer_release(a.s), clsde_buffer_release(a.z);
                clsde_buffer_release(a.y), clsde_buffer_release(a.xm);
                clsde_buffer_release(a.coef), clsde_buffer_release(a.norms);
                CLSDE_TRY(st);
                snprintf(shape, sizeof shape, "%dx%dx%dx%d", a.n, d[0], d[1], d[2]);
                clsde_bench_row(b, names[which], shape, ms, streams[which] * (double)bytes,
                                "GB/s", b->copy_gbs);
            }
    }
    return CLSDE_OK;
}

/* ------------------------------------------------------------ group norm, resampling */

/* One memory-bound case: x (nx floats), y (ny floats), gamma/beta (nc floats each). */
typedef struct rs_arg {
    int which; /* 0 group_norm_silu, 1 FIR up, 2 FIR down, 3 FIR pre-filter, 4 nearest,
                  5 2x2 mean, 6 concat */
    int n, c, h, w;
    cl_mem x, y, g, b;
} rs_arg;

static clsde_status run_rs(clsde_context *ctx, void *p)
{
    const rs_arg *a = p;
    const clsde_group_norm_params gn = {a->n, a->c, a->h * a->w, 32, 1e-6f, 1};
    clsde_upfirdn2d_params f = {a->n, a->c, a->h, a->w, 1, 1, 2, 2, 1.0f};
    switch (a->which) {
    case 0: return clsde_group_norm_enqueue(ctx, &gn, a->x, a->g, a->b, a->y);
    case 1: /* upsample_2d */
        f.up = 2, f.pad0 = 2, f.pad1 = 1, f.gain = 4.0f;
        return clsde_upfirdn2d_enqueue(ctx, &f, a->x, a->y);
    case 2: /* downsample_2d */
        f.down = 2, f.pad0 = 1, f.pad1 = 1;
        return clsde_upfirdn2d_enqueue(ctx, &f, a->x, a->y);
    case 3: /* the conv-down pre-filter */
        return clsde_upfirdn2d_enqueue(ctx, &f, a->x, a->y);
    case 4: return clsde_upsample_nearest_enqueue(ctx, a->n, a->c, a->h, a->w, a->x, a->y);
    case 5: return clsde_downsample_avg_enqueue(ctx, a->n, a->c, a->h, a->w, a->x, a->y);
    default:
        return clsde_concat_enqueue(ctx, a->n, a->c, a->c, a->h * a->w, a->x, a->x, a->y);
    }
}

/* Work = the bytes that must move at least once: x read, y written (GroupNorm reads x
 * three times, cache permitting; it counts as one). Roof: the device copy bandwidth.
 * Shapes: where each op runs in the CIFAR-10 networks (networks.md §7.1). */
static clsde_status bench_resample(clsde_bench *b)
{
    static const char *names[] = {"group_norm_silu", "fir_up",  "fir_down", "fir_prefilter",
                                  "upsample_nearest", "mean2x2", "concat"};
    static const int shapes[][3] = {{128, 32, 32}, {256, 16, 16}, {256, 8, 8}, {256, 4, 4}};
    for (int which = 0; which < 7; which++) {
        if (!clsde_bench_wants(b, names[which])) continue;
        for (int bi = 0; bi < b->n_batches; bi++)
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
                const int *sh = shapes[s];
                rs_arg a = {which, b->batches[bi], sh[0], sh[1], sh[2], NULL, NULL, NULL, NULL};
                const size_t nx = (size_t)a.n * a.c * a.h * a.w, xbytes = nx * sizeof(float);
                const size_t cbytes = (size_t)a.c * sizeof(float);
                size_t ny = nx;
                float *host;
                char shape[64];
                double ms = 0;
                clsde_status st;
                if (which == 1 || which == 4) ny = 4 * nx;
                if (which == 2 || which == 5) ny = nx / 4;
                if (which == 3) ny = (size_t)a.n * a.c * (a.h + 1) * (a.w + 1);
                if (which == 6) ny = 2 * nx;
                host = calloc(ny > nx ? ny : nx, sizeof(float));
                CLSDE_FAIL_IF(!host, b->ctx, CLSDE_ERR_NOMEM, "out of memory");
                for (size_t i = 0; i < nx; i++) host[i] = (float)(i % 17) * 0.1f - 0.8f;
                st = clsde_buffer_create(b->ctx, xbytes, &a.x);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, ny * sizeof(float), &a.y);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, cbytes, &a.g);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, cbytes, &a.b);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.x, 0, xbytes, host);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.g, 0, cbytes, host);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.b, 0, cbytes, host);
                if (st == CLSDE_OK) st = clsde_bench_time(b, run_rs, &a, &ms);
                free(host);
                clsde_buffer_release(a.x), clsde_buffer_release(a.y);
                clsde_buffer_release(a.g), clsde_buffer_release(a.b);
                CLSDE_TRY(st);
                snprintf(shape, sizeof shape, "%dx%dx%dx%d", a.n, a.c, a.h, a.w);
                clsde_bench_row(b, names[which], shape, ms, (double)(nx + ny) * sizeof(float),
                                "GB/s", b->copy_gbs);
            }
    }
    return CLSDE_OK;
}

/* ------------------------------------------------------------ forward-mode derivatives */

/* The tangent kernels of the likelihood's forward-mode divergence (algorithms.md §6.2). */
typedef struct jvp_arg {
    int which; /* 0 silu_jvp, 1 group_norm_silu_jvp, 2 dot_per_image, 3 attention_jvp */
    int n, c, hw;
    cl_mem x, tx, ty, g, b, k, v, tk, tv; /* activations [n, c, hw]; g, b [c]; dot out [n] */
} jvp_arg;

static clsde_status run_jvp(clsde_context *ctx, void *p)
{
    const jvp_arg *a = p;
    const size_t total = (size_t)a->n * a->c * a->hw;
    const clsde_group_norm_params gn = {a->n, a->c, a->hw, 32, 1e-6f, 1};
    switch (a->which) {
    case 0: return clsde_silu_jvp_enqueue(ctx, total, a->x, a->tx, a->ty);
    case 1: return clsde_group_norm_jvp_enqueue(ctx, &gn, a->x, a->tx, a->g, a->b, a->ty);
    case 2:
        return clsde_dot_per_image_enqueue(ctx, NULL, (size_t)a->n, total / (size_t)a->n, a->x,
                                           a->tx, a->ty);
    default:
        return clsde_attention_jvp_enqueue(ctx, a->n, a->c, a->hw, a->x, a->k, a->v, a->tx,
                                           a->tk, a->tv, a->ty);
    }
}

/* Memory-bound ones: the arrays that must move once (silu_jvp, group_norm_silu_jvp: x, tx
 * read, ty written; dot: two read), against the copy roof, on the activation shapes.
 * attention_jvp: 10 c hw^2 FLOP per image (three dot products per score pair, two
 * multiply-adds per key and channel for to), against OpenBLAS on [hw, c] x [c, hw]. */
static clsde_status bench_jvp(clsde_bench *b)
{
    static const char *names[] = {"silu_jvp", "group_norm_silu_jvp", "dot_per_image",
                                  "attention_jvp"};
    static const double streams[] = {3, 3, 2, 0};
    for (int which = 0; which < 4; which++) {
        const int n_shapes = which == 3 ? (int)(sizeof att_shapes / sizeof *att_shapes)
                                        : (int)(sizeof act_shapes / sizeof *act_shapes);
        if (!clsde_bench_wants(b, names[which])) continue;
        for (int bi = 0; bi < b->n_batches; bi++)
            for (int s = 0; s < n_shapes; s++) {
                jvp_arg a;
                size_t total, bytes, cbytes;
                float *host;
                char shape[64];
                double ms = 0;
                clsde_status st;
                memset(&a, 0, sizeof a);
                a.which = which, a.n = b->batches[bi];
                if (which == 3) {
                    a.c = att_shapes[s][0], a.hw = att_shapes[s][1];
                } else {
                    a.c = act_shapes[s][0], a.hw = act_shapes[s][1] * act_shapes[s][2];
                }
                total = (size_t)a.n * a.c * a.hw, bytes = total * sizeof(float);
                cbytes = (size_t)a.c * sizeof(float);
                host = malloc(bytes);
                CLSDE_FAIL_IF(!host, b->ctx, CLSDE_ERR_NOMEM, "out of memory");
                for (size_t i = 0; i < total; i++) host[i] = (float)(i % 13) * 0.05f - 0.3f;
                st = clsde_buffer_create(b->ctx, bytes, &a.x);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.tx);
                if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, bytes, &a.ty);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.x, 0, bytes, host);
                if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.tx, 0, bytes, host);
                if (st == CLSDE_OK && which == 1) {
                    st = clsde_buffer_create(b->ctx, cbytes, &a.g);
                    if (st == CLSDE_OK) st = clsde_buffer_create(b->ctx, cbytes, &a.b);
                    if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.g, 0, cbytes, host);
                    if (st == CLSDE_OK) st = clsde_buffer_write(b->ctx, a.b, 0, cbytes, host);
                }
                if (which == 3) {
                    cl_mem *more[] = {&a.k, &a.v, &a.tk, &a.tv};
                    for (int i = 0; i < 4 && st == CLSDE_OK; i++) {
                        st = clsde_buffer_create(b->ctx, bytes, more[i]);
                        if (st == CLSDE_OK)
                            st = clsde_buffer_write(b->ctx, *more[i], 0, bytes, host);
                    }
                }
                if (st == CLSDE_OK) st = clsde_bench_time(b, run_jvp, &a, &ms);
                free(host);
                clsde_buffer_release(a.x), clsde_buffer_release(a.tx);
                clsde_buffer_release(a.ty), clsde_buffer_release(a.g);
                clsde_buffer_release(a.b), clsde_buffer_release(a.k);
                clsde_buffer_release(a.v), clsde_buffer_release(a.tk);
                clsde_buffer_release(a.tv);
                CLSDE_TRY(st);
                snprintf(shape, sizeof shape, "%dx%dx%d", a.n, a.c, a.hw);
                if (which == 3)
                    clsde_bench_row(b, names[which], shape, ms,
                                    10.0 * a.c * (double)a.hw * a.hw * a.n, "GFLOP/s",
                                    clsde_bench_sgemm_gflops(b, a.hw, a.hw, a.c));
                else
                    clsde_bench_row(b, names[which], shape, ms, streams[which] * (double)bytes,
                                    "GB/s", b->copy_gbs);
            }
    }
    return CLSDE_OK;
}

clsde_status clsde_bench_kernels(clsde_bench *b)
{
    CLSDE_TRY(bench_elementwise(b));
    CLSDE_TRY(bench_attention(b));
    CLSDE_TRY(bench_conv2d(b));
    CLSDE_TRY(bench_conv2d_net(b));
    CLSDE_TRY(bench_conv_down_fir(b));
    CLSDE_TRY(bench_sde(b));
    CLSDE_TRY(bench_resample(b));
    CLSDE_TRY(bench_jvp(b));
    if (b->json) fputs("\n]\n", b->out);
    return CLSDE_OK;
}
