/* attention_ref.h — single-head self-attention over H*W positions (networks.md §1.6). */
#ifndef CLSDE_ATTENTION_REF_H
#define CLSDE_ATTENTION_REF_H

#include <stdint.h>

/* q, k, v, o: [n, c, hw]. w[p, p'] = (sum_c q[c,p] k[c,p']) * c^-1/2, softmax over p',
 * o[c, p] = sum_p' w[p, p'] v[c, p']. Double accumulation, max-subtracted softmax. */
void clsde_attention_ref(int32_t n, int32_t c, int32_t hw, const float *q, const float *k,
                         const float *v, float *o);

#endif
