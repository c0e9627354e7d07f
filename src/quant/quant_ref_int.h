/* quant_ref_int.h: shared by the reference kernel files (quant_ref.c,
 * quant_ref_simple.c, quant_ref_k.c): ggml's rounding and the scale searches
 * the imatrix paths of both families use. */
#ifndef PK_QUANT_REF_INT_H
#define PK_QUANT_REF_INT_H

#include "quant/quant_int.h"

#include <string.h>

/* Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves
 * the rounded integer in the low mantissa bits (ggml's nearest_int). */
static inline int pk_q_nearest_int(float v) {
    float t = v + 12582912.0f;
    uint32_t bits;
    memcpy(&bits, &t, sizeof(bits));
    return (int)(bits & 0x007FFFFFu) - 0x00400000;
}

/* Scale searches of the k-quant family (quant_ref_k.c), also used by the
 * imatrix paths of the simple quants. See quant_ref_k.c for the math. */
float pk_q_make_qx(int n, int nmax, const float *x, int8_t *L, int rmse_type,
                   const float *qw);
float pk_q_make_qkx3(int n, int nmax, const float *x, const float *w,
                     uint8_t *L, float *neg_min, uint8_t *Laux, float rmin,
                     float rdelta, int nstep, bool use_mad);

/* Bit packers of the block layouts (quant_ref_k.c, quant_ref_simple.c),
 * shared with the refined quantizers (quant_refine.c). The setters OR into
 * zeroed fields: element e gets level v. */
void pk_q_set4(uint8_t *qs, int e, int v);   /* q4_K / q5_K low nibbles */
void pk_q_set1(uint8_t *h, int e, int v);    /* q5_K / q3_K high bit */
void pk_q_q6_set(pk_block_q6_K *b, int e, int v); /* v in 0..63 */
void pk_q_k4_pack(uint8_t *s, const uint8_t *ls, const uint8_t *lm); /* 6-bit scales, mins */
int pk_q_iq4_best_index(float v);            /* nearest pk_kvalues_iq4nl entry */
void pk_q_pack_nibbles32(uint8_t *qs, const uint8_t *v); /* byte j = v[j] | v[j+16] << 4 */

/* Fill the kernels of the simple quants (q4_0..q8_1) / of the k-quants,
 * q8_K and iq4 types; geometry is already set. */
void pk_quant_ref_simple(pk_qtraits *t);
void pk_quant_ref_k(pk_qtraits *t);

#endif
