/* attention_ref.h — single-head self-attention over H*W positions (networks.md §1.6). */
#ifndef CLSDE_ATTENTION_REF_H
#define CLSDE_ATTENTION_REF_H

#include <stdint.h>

/* q, k, v, o: [n, c, hw]. w[p, p'] = (sum_c q[c,p] k[c,p']) * c^-1/2, softmax over p',
 * o[c, p] = sum_p' w[p, p'] v[c, p']. Double accumulation, max-subtracted softmax. */
void clsde_attention_ref(int32_t n, int32_t c, int32_t hw, const float *q, const float *k,
                         const float *v, float *o);

/* Forward-mode derivative (algorithms.md §6.2) of clsde_attention_ref in directions tq, tk,
 * tv, all [n, c, hw]: with S, w as above,
 *   dS[p, p'] = (sum_c tq[c,p] k[c,p'] + q[c,p] tk[c,p']) * c^-1/2
 *   dw[p, p'] = w[p, p'] (dS[p, p'] - sum_p'' w[p, p''] dS[p, p''])
 *   to[c, p]  = sum_p' dw[p, p'] v[c, p'] + w[p, p'] tv[c, p'].
 * to must not alias the inputs. Double accumulation, no allocation. */
void clsde_attention_jvp_ref(int32_t n, int32_t c, int32_t hw, const float *q, const float *k,
                             const float *v, const float *tq, const float *tk, const float *tv,
                             float *to);

#endif
