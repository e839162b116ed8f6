/*
 * checkkern.c — the kernel checker's driver: table of kernels, --kernel, --seed, --list,
 * --digest. Exit code 0 when every comparison passed.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"

static const struct {
    const char *name;
    void (*fn)(checkkern *c);
} table[] = {
    {"elementwise", check_elementwise},
    {"attention", check_attention},
    {"embed", check_embed},
    {"reduce", check_reduce},
    {"rng", check_rng},
    {"sde_step", check_sde_step},
    {"group_norm", check_group_norm},
    {"resample", check_resample},
    {"conv2d", check_conv2d},
    {"analytic_score", check_analytic_score},
    {"rk45", check_rk45},
    {"conv_down_fir", check_conv_down_fir},
    {"group_norm_jvp", check_group_norm_jvp},
    {"attention_jvp", check_attention_jvp},
};

#define CANARY_BITS 0x7fc0deadu

uint64_t ck_rand(checkkern *c)
{
    c->state ^= c->state >> 12;
    c->state ^= c->state << 25;
    c->state ^= c->state >> 27;
    return c->state * 0x2545F4914F6CDD1DULL;
}

int ck_randint(checkkern *c, int lo, int hi)
{
    return lo + (int)(ck_rand(c) % (uint64_t)(hi - lo + 1));
}

float ck_randf(checkkern *c, float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(ck_rand(c) >> 11) * (1.0 / 9007199254740992.0));
}

float ck_randn(checkkern *c)
{
    const double u1 = ((double)(ck_rand(c) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    const double u2 = (double)(ck_rand(c) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void ck_fill(checkkern *c, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = ck_randf(c, lo, hi);
}

void ck_fill_normal(checkkern *c, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = scale * ck_randn(c);
}

int ck_pick(checkkern *c, const int *values, int n)
{
    return values[ck_randint(c, 0, n - 1)];
}

float *ck_alloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "checkkern: out of memory (%zu floats)\n", n);
        exit(2);
    }
    return p;
}

int ck_status(checkkern *c, clsde_status st, const char *what)
{
    if (st == CLSDE_OK) return 0;
    fprintf(stderr, "FAIL %s: %s: %s (seed %" PRIu64 ")\n", c->kernel, what,
            clsde_last_error(c->ctx), c->seed);
    c->failures++;
    return -1;
}

static float canary(void)
{
    const uint32_t bits = CANARY_BITS;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void infra(checkkern *c, clsde_status st, const char *what)
{
    if (st == CLSDE_OK) return;
    fprintf(stderr, "checkkern: %s: %s: %s\n", c->kernel, what, clsde_last_error(c->ctx));
    exit(2);
}

ck_buf ck_upload(checkkern *c, const float *init, size_t n)
{
    const size_t a = c->ctx->mem_base_align_bytes / sizeof(float);
    const size_t align = a ? a : 1;
    const size_t guard = (64 + align - 1) / align * align; /* >= 64 floats, aligned */
    const size_t total = n + 2 * guard;
    float *host = ck_alloc(total);
    ck_buf b;
    for (size_t i = 0; i < total; i++) host[i] = canary();
    if (init) memcpy(host + guard, init, n * sizeof *host);
    b.n = n;
    b.guard = guard;
    infra(c, clsde_buffer_create(c->ctx, total * sizeof(float), &b.parent), "allocate");
    infra(c, clsde_buffer_write(c->ctx, b.parent, 0, total * sizeof(float), host), "upload");
    infra(c, clsde_buffer_sub(c->ctx, b.parent, guard * sizeof(float), n * sizeof(float), &b.mem),
          "sub-buffer");
    free(host);
    return b;
}

int ck_download(checkkern *c, const ck_buf *b, float *out, const char *what)
{
    const size_t total = b->n + 2 * b->guard;
    float *host = ck_alloc(total);
    int rc = 0;
    infra(c, clsde_buffer_read(c->ctx, b->parent, 0, total * sizeof(float), host), "download");
    for (size_t i = 0; i < total; i++) {
        uint32_t bits;
        if (i == b->guard) i += b->n;
        if (i >= total) break;
        memcpy(&bits, &host[i], sizeof bits);
        if (bits != CANARY_BITS) {
            fprintf(stderr, "FAIL %s: %s: write outside the buffer at guard offset %+lld "
                            "(seed %" PRIu64 ")\n",
                    c->kernel, what,
                    i < b->guard ? (long long)i - (long long)b->guard
                                 : (long long)(i - b->guard - b->n),
                    c->seed);
            c->failures++;
            rc = -1;
            break;
        }
    }
    memcpy(out, host + b->guard, b->n * sizeof *out);
    free(host);
    return rc;
}

void ck_free(ck_buf *b)
{
    clsde_buffer_release(b->mem);
    clsde_buffer_release(b->parent);
    b->mem = b->parent = NULL;
}

int ck_compare(checkkern *c, const char *what, const char *shape, const float *got,
               const float *ref, size_t n, double atol, double rtol)
{
    const unsigned char *bytes = (const unsigned char *)got;
    c->checks++;
    for (size_t i = 0; i < n * sizeof *got; i++)
        c->digest = (c->digest ^ bytes[i]) * 0x100000001B3ULL; /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - (double)ref[i]);
        if (!(d <= atol + rtol * fabs((double)ref[i]))) { /* NaN fails too */
            fprintf(stderr,
                    "FAIL %s: %s shape %s: index %zu: got %.9g, reference %.9g "
                    "(|diff| %.3g > tol %.3g; seed %" PRIu64 ")\n",
                    c->kernel, what, shape, i, (double)got[i], (double)ref[i], d,
                    atol + rtol * fabs((double)ref[i]), c->seed);
            c->failures++;
            return -1;
        }
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: checkkern [--kernel NAME] [--seed N] [--list] [--device SEL] "
                    "[--digest]\n");
    fprintf(stderr, "  --digest: print a hash of the outputs each kernel produced (same seed and\n"
                    "            device: equal hashes = bit-identical results, e.g. across a\n"
                    "            refactor of a kernel)\n");
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    uint64_t seed = 1;
    clsde_context_params params;
    clsde_context *ctx = NULL;
    clsde_status st;
    int failed_kernels = 0, ran = 0, digest = 0;
    const char *small = getenv("CLSDE_TEST_SMALL");

    clsde_context_params_default(&params);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kernel") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            params.device = argv[++i];
        } else if (!strcmp(argv[i], "--digest")) {
            digest = 1;
        } else if (!strcmp(argv[i], "--list")) {
            for (size_t k = 0; k < sizeof table / sizeof *table; k++) puts(table[k].name);
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    st = clsde_context_create(&params, &ctx);
    if (st != CLSDE_OK) {
        fprintf(stderr, "checkkern: %s\n", clsde_last_error(NULL));
        return 1;
    }
    printf("checkkern: device '%s', seed %" PRIu64 "%s\n", ctx->info.name, seed,
           small && *small == '1' ? ", small shapes" : "");
    for (size_t k = 0; k < sizeof table / sizeof *table; k++) {
        checkkern c;
        if (only && strcmp(only, table[k].name) != 0) continue;
        memset(&c, 0, sizeof c);
        c.ctx = ctx;
        c.kernel = table[k].name;
        c.seed = seed + 0x9E3779B97F4A7C15ULL * (k + 1);
        c.state = c.seed ? c.seed : 1;
        c.small = small && *small == '1';
        c.digest = 0xCBF29CE484222325ULL; /* FNV-1a offset basis */
        table[k].fn(&c);
        ran++;
        printf("%-20s %4d checks  %s", table[k].name, c.checks,
               c.failures ? "FAILED" : (c.checks ? "ok" : "NO CHECKS"));
        if (digest) printf("  digest %016" PRIx64, c.digest);
        printf("\n");
        if (c.failures || !c.checks) failed_kernels++;
    }
    clsde_context_destroy(ctx);
    if (only && !ran) {
        fprintf(stderr, "checkkern: no kernel named '%s' (--list shows them)\n", only);
        return 2;
    }
    printf("%d passed, %d failed\n", ran - failed_kernels, failed_kernels);
    return failed_kernels ? 1 : 0;
}
