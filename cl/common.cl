/*
 * common.cl — helpers shared by every kernel file; the program builder prepends it
 * (there is no #include between .cl files). Keep it small: it is compiled into
 * every program.
 */

/* Logistic function, accurate (no native_ or half_ variants: the spec asks for
 * float32-faithful results). */
inline float clsde_sigmoid(float x)
{
    return 1.0f / (1.0f + exp(-x));
}

inline float clsde_silu(float x)
{
    return x / (1.0f + exp(-x));
}

/* out = silu'(z) = s (1 + z (1 - s)), s = logistic(z), for z of type T (float or floatN):
 * one exp of -|z|, which cannot overflow, and 1 - s formed as a logistic of its own (no
 * cancellation for large z). The forward-mode derivative of SiLU (algorithms.md §6.2). */
#define CLSDE_SILU_GRAD(T, z, out)                                                         \
    do {                                                                                    \
        const T z_ = (z);                                                                   \
        const T e_ = exp(-fabs(z_));                                                        \
        const T r_ = 1.0f / (1.0f + e_); /* logistic(|z|) */                                \
        const T a_ = e_ * r_;            /* logistic(-|z|) = 1 - logistic(|z|) */           \
        (out) = select(a_, r_, z_ >= 0.0f) * (1.0f + z_ * select(r_, a_, z_ >= 0.0f));      \
    } while (0)
