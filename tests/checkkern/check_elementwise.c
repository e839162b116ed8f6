/*
 * check_elementwise.c — silu, silu_jvp, axpby, scale_add_bc against src/ref/elementwise_ref.c.
 * Tolerance: elementwise, no reduction. silu: device float exp vs double reference,
 * 5e-7 relative (a few ulp); axpby / scale_add_bc: one rounding each, 1e-6. silu_jvp:
 * ty = s (1 + x (1 - s)) tx with s and 1 - s each a few ulp; 1 + x (1 - s) cancels near
 * x = -1.28 (silu' = 0), where its terms are ~1: 8 ulp of max|tx| absolute, 8 ulp
 * relative.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkkern.h"
#include "kernels/elementwise.h"
#include "ref/elementwise_ref.h"

static size_t random_size(checkkern *c)
{
    static const int edge[] = {1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 255, 257};
    if (ck_randint(c, 0, 1)) return (size_t)ck_pick(c, edge, 12);
    return (size_t)ck_randint(c, 1, c->small ? 300 : 70000);
}

static void check_silu(checkkern *c)
{
    const size_t n = random_size(c);
    float *x = ck_alloc(n), *got = ck_alloc(n), *ref = ck_alloc(n);
    ck_buf bx, by;
    char shape[32];
    snprintf(shape, sizeof shape, "[%zu]", n);
    ck_fill(c, x, n, -12.0f, 12.0f);
    clsde_silu_ref(n, x, ref);
    bx = ck_upload(c, x, n);
    by = ck_upload(c, NULL, n);
    if (!ck_status(c, clsde_silu_enqueue(c->ctx, n, bx.mem, by.mem), "silu") &&
        !ck_download(c, &by, got, "silu"))
        ck_compare(c, "silu", shape, got, ref, n, 1e-37, 5e-7);
    /* in place */
    if (!ck_status(c, clsde_silu_enqueue(c->ctx, n, bx.mem, bx.mem), "silu in place") &&
        !ck_download(c, &bx, got, "silu in place"))
        ck_compare(c, "silu in place", shape, got, ref, n, 1e-37, 5e-7);
    ck_free(&bx), ck_free(&by);
    free(x), free(got), free(ref);
}

/* x over [-12, 12] and, in some runs, [-100, 100] (exp(-|x|) underflows, s = 0 or 1);
 * out of place and in place on the tangent (ty = tx). */
static void check_silu_jvp(checkkern *c)
{
    const size_t n = random_size(c);
    const float range = ck_randint(c, 0, 3) ? 12.0f : 100.0f;
    float *x = ck_alloc(n), *tx = ck_alloc(n), *got = ck_alloc(n), *ref = ck_alloc(n);
    double tmax = 0.0;
    ck_buf bx, btx, by;
    char shape[48];
    snprintf(shape, sizeof shape, "[%zu] x in +-%g", n, (double)range);
    ck_fill(c, x, n, -range, range);
    ck_fill_normal(c, tx, n, ck_randf(c, 0.01f, 10.0f));
    for (size_t i = 0; i < n; i++) tmax = tmax > fabs(tx[i]) ? tmax : fabs(tx[i]);
    clsde_silu_jvp_ref(n, x, tx, ref);
    bx = ck_upload(c, x, n);
    btx = ck_upload(c, tx, n);
    by = ck_upload(c, NULL, n);
    if (!ck_status(c, clsde_silu_jvp_enqueue(c->ctx, n, bx.mem, btx.mem, by.mem), "silu_jvp") &&
        !ck_download(c, &by, got, "silu_jvp"))
        ck_compare(c, "silu_jvp", shape, got, ref, n, 8 * 5.96e-8 * tmax, 4.8e-7);
    if (!ck_status(c, clsde_silu_jvp_enqueue(c->ctx, n, bx.mem, btx.mem, btx.mem),
                   "silu_jvp in place") &&
        !ck_download(c, &btx, got, "silu_jvp in place"))
        ck_compare(c, "silu_jvp in place", shape, got, ref, n, 8 * 5.96e-8 * tmax, 4.8e-7);
    ck_free(&bx), ck_free(&btx), ck_free(&by);
    free(x), free(tx), free(got), free(ref);
}

static void check_axpby(checkkern *c)
{
    const size_t n = random_size(c);
    const float a = ck_randf(c, -2, 2), b = ck_randf(c, -2, 2);
    float *x = ck_alloc(n), *y2 = ck_alloc(n), *got = ck_alloc(n), *ref = ck_alloc(n);
    ck_buf bx, by2, by;
    char shape[32];
    snprintf(shape, sizeof shape, "[%zu]", n);
    ck_fill(c, x, n, -3, 3);
    ck_fill(c, y2, n, -3, 3);
    clsde_axpby_ref(n, a, x, b, y2, ref);
    bx = ck_upload(c, x, n);
    by2 = ck_upload(c, y2, n);
    by = ck_upload(c, NULL, n);
    if (!ck_status(c, clsde_axpby_enqueue(c->ctx, n, a, bx.mem, b, by2.mem, by.mem), "axpby") &&
        !ck_download(c, &by, got, "axpby"))
        ck_compare(c, "axpby", shape, got, ref, n, 1e-6, 1e-6);
    if (!ck_status(c, clsde_axpby_enqueue(c->ctx, n, a, bx.mem, b, by2.mem, by2.mem),
                   "axpby in place") &&
        !ck_download(c, &by2, got, "axpby in place"))
        ck_compare(c, "axpby in place", shape, got, ref, n, 1e-6, 1e-6);
    ck_free(&bx), ck_free(&by2), ck_free(&by);
    free(x), free(y2), free(got), free(ref);
}

static void check_scale_add_bc(checkkern *c)
{
    static const int sides[] = {1, 2, 3, 4, 5, 7, 8, 16, 17, 32};
    const size_t nb = (size_t)ck_randint(c, 1, 3);
    const size_t ch = (size_t)ck_randint(c, 1, c->small ? 5 : 40);
    const size_t side = (size_t)ck_pick(c, sides, c->small ? 7 : 10), hw = side * side;
    const size_t planes = nb * ch, n = planes * hw;
    const float a = ck_randf(c, -2, 2);
    float *x = ck_alloc(n), *bias = ck_alloc(planes), *got = ck_alloc(n), *ref = ck_alloc(n);
    ck_buf bx, bb, by;
    char shape[64];
    snprintf(shape, sizeof shape, "%zux%zux%zux%zu", nb, ch, side, side);
    ck_fill(c, x, n, -3, 3);
    ck_fill(c, bias, planes, -1, 1);
    clsde_scale_add_bc_ref(planes, hw, a, x, bias, ref);
    bx = ck_upload(c, x, n);
    bb = ck_upload(c, bias, planes);
    by = ck_upload(c, NULL, n);
    if (!ck_status(c, clsde_scale_add_bc_enqueue(c->ctx, planes, hw, a, bx.mem, bb.mem, by.mem),
                   "scale_add_bc") &&
        !ck_download(c, &by, got, "scale_add_bc"))
        ck_compare(c, "scale_add_bc", shape, got, ref, n, 1e-6, 1e-6);
    ck_free(&bx), ck_free(&bb), ck_free(&by);
    free(x), free(bias), free(got), free(ref);
}

static void check_scale_per_image(checkkern *c)
{
    const size_t nb = (size_t)ck_randint(c, 1, 4), per = random_size(c), n = nb * per;
    const int divide = ck_randint(c, 0, 1);
    float *x = ck_alloc(n), *s = ck_alloc(nb), *got = ck_alloc(n), *ref = ck_alloc(n);
    ck_buf bx, bs, by;
    char shape[64];
    snprintf(shape, sizeof shape, "%zux%zu %s", nb, per, divide ? "divide" : "multiply");
    ck_fill(c, x, n, -3, 3);
    ck_fill(c, s, nb, 0.01f, 50.0f);
    clsde_scale_per_image_ref(nb, per, divide, s, x, ref);
    bx = ck_upload(c, x, n);
    bs = ck_upload(c, s, nb);
    by = ck_upload(c, NULL, n);
    /* one rounding: exact division or multiplication must match the reference bit for bit */
    if (!ck_status(c, clsde_scale_per_image_enqueue(c->ctx, nb, per, divide, bs.mem, bx.mem,
                                                    by.mem),
                   "scale_per_image") &&
        !ck_download(c, &by, got, "scale_per_image"))
        ck_compare(c, "scale_per_image", shape, got, ref, n, 0, 0);
    ck_free(&bx), ck_free(&bs), ck_free(&by);
    free(x), free(s), free(got), free(ref);
}

static void check_affine(checkkern *c)
{
    const size_t n = random_size(c);
    const float a = ck_randf(c, -3, 3), b = ck_randf(c, -1, 1);
    float *x = ck_alloc(n), *got = ck_alloc(n), *ref = ck_alloc(n);
    ck_buf bx;
    char shape[32];
    snprintf(shape, sizeof shape, "[%zu]", n);
    ck_fill(c, x, n, -3, 3);
    clsde_affine_ref(n, a, b, x, ref);
    bx = ck_upload(c, x, n);
    if (!ck_status(c, clsde_affine_enqueue(c->ctx, n, a, b, bx.mem, bx.mem), "affine") &&
        !ck_download(c, &bx, got, "affine"))
        ck_compare(c, "affine in place", shape, got, ref, n, 1e-6, 1e-6);
    ck_free(&bx);
    free(x), free(got), free(ref);
}

void check_elementwise(checkkern *c)
{
    const int reps = c->small ? 3 : 12;
    for (int r = 0; r < reps; r++) {
        check_silu(c);
        check_silu_jvp(c);
        check_axpby(c);
        check_scale_add_bc(c);
        check_scale_per_image(c);
        check_affine(c);
    }
}
