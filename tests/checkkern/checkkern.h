/*
 * checkkern.h — the kernel checker (in the spirit of dav1d's checkasm): each kernel is
 * run on random shapes against its plain-C reference in src/ref/. Output buffers are
 * sub-buffers of a larger allocation whose guard zones hold a canary that must survive.
 *
 * Add a kernel: write tests/checkkern/check_<op>.c with `void check_<op>(checkkern *c)`,
 * declare it below, and add one row to the table in checkkern.c.
 */
#ifndef CLSDE_CHECKKERN_H
#define CLSDE_CHECKKERN_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

typedef struct checkkern {
    clsde_context *ctx;
    uint64_t seed;   /* the seed of the current kernel's run; printed on failure */
    uint64_t state;  /* xorshift64* state */
    int small;       /* 1 under Oclgrind (CLSDE_TEST_SMALL): small shapes only */
    int checks;      /* comparisons made for the current kernel */
    int failures;    /* comparisons failed for the current kernel */
    uint64_t digest; /* FNV-1a over the bits of every output compared, in order (--digest) */
    const char *kernel;
} checkkern;

/* Random numbers (deterministic per seed). */
uint64_t ck_rand(checkkern *c);
int ck_randint(checkkern *c, int lo, int hi); /* inclusive */
float ck_randf(checkkern *c, float lo, float hi);
float ck_randn(checkkern *c);
void ck_fill(checkkern *c, float *x, size_t n, float lo, float hi);
void ck_fill_normal(checkkern *c, float *x, size_t n, float scale);
/* Pick one of n values. */
int ck_pick(checkkern *c, const int *values, int n);

/* A device buffer of n floats inside an allocation with guard zones on both sides. */
typedef struct ck_buf {
    cl_mem parent;
    cl_mem mem; /* the sub-buffer handed to kernels */
    size_t n;
    size_t guard; /* floats on each side */
} ck_buf;

/* Upload n floats (init NULL: fill with the canary). Infrastructure failures (allocation,
 * transfer) end the checker with exit code 2 and a message. */
ck_buf ck_upload(checkkern *c, const float *init, size_t n);
/* Read the n floats back and verify both guard zones still hold the canary; a damaged
 * guard counts as a failure. Returns 0 when the guards are intact. */
int ck_download(checkkern *c, const ck_buf *b, float *out, const char *what);
void ck_free(ck_buf *b);

/* Compare got vs ref elementwise: |got - ref| <= atol + rtol*|ref|. On the first
 * mismatch prints seed, shape, index and both values; counts the check and folds got's
 * bits into the digest. 0 = equal. */
int ck_compare(checkkern *c, const char *what, const char *shape, const float *got,
               const float *ref, size_t n, double atol, double rtol);

/* Report a failed clsde call (prints the context's message); counts a failure. */
int ck_status(checkkern *c, clsde_status st, const char *what);

/* malloc that aborts the checker on failure (test code only). */
float *ck_alloc(size_t n);

/* ---- kernel entries ---- */
void check_elementwise(checkkern *c);
void check_attention(checkkern *c);
void check_embed(checkkern *c);
void check_reduce(checkkern *c);
void check_rng(checkkern *c);
void check_sde_step(checkkern *c);
void check_group_norm(checkkern *c);
void check_resample(checkkern *c);
void check_conv2d(checkkern *c);
void check_analytic_score(checkkern *c);
void check_rk45(checkkern *c);
void check_conv_down_fir(checkkern *c);
void check_group_norm_jvp(checkkern *c);
void check_attention_jvp(checkkern *c);

#endif
