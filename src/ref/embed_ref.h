/* embed_ref.h — time embeddings (networks.md §1.2), float32 in the reference order. */
#ifndef CLSDE_EMBED_REF_H
#define CLSDE_EMBED_REF_H

#include <stdint.h>

/* Gaussian Fourier projection: p_k = ((ln(sigma) * W_k) * 2) * (float)pi, all float32;
 * out [n, 2*nf] = [sin(p_0..), cos(p_0..)] with sin/cos correctly rounded. */
void clsde_fourier_embed_ref(int32_t n, int32_t nf, const float *sigma, const float *W,
                             float *out);
/* Sinusoidal: half = dim/2, f_k = expf(k * (float)(-ln(10000)/(half-1))),
 * a_k = label * f_k (float32), out [n, dim] = [sin(a..), cos(a..)] (+ one 0 if dim odd).
 * Needs dim >= 4 (half - 1 = 0 divides by zero in the reference too). */
void clsde_sinusoidal_embed_ref(int32_t n, int32_t dim, const float *label, float *out);

/* The float32 constant -ln(10000)/(half - 1) of the sinusoidal embedding: formed in double
 * and rounded once, as PyTorch rounds `-math.log(10000) / (half - 1)` when it multiplies
 * the float32 arange by it. Shared by the reference and the kernel's wrapper. */
float clsde_sinusoidal_embed_neg_c(int32_t dim);

#endif
