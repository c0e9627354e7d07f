/* quant_ref_int.h: shared by the reference kernel files: rounding helpers,
 * the IQ4 level search, and the generic block dot product. */
#ifndef PK_QUANT_REF_INT_H
#define PK_QUANT_REF_INT_H

#include "quant/quant_int.h"

/* round to nearest, halves away from zero (|v| < 2^22) */
int pk_nearest_int(float v);
/* index of the IQ4_NL level nearest to v */
int pk_iq4_best_index(float v);
/* best IQ4 scale of a group (see quant_ref_simple.c) */
float pk_iq4_group_scale(const float *x, const float *w, int n, int ntry, uint8_t *L);

void pk_quant_ref_simple(pk_qtraits *t);
void pk_quant_ref_k(pk_qtraits *t);

/* A reference dot product: dequantize one block of each operand and sum in
 * float, blocks accumulated in double. This is the spec the SIMD kernels
 * (integer arithmetic) are tested against. */
#define DEFINE_DOT_VIA_FLOAT(NAME, TO_A, BLOCK_A, TO_B, BLOCK_B, BLK)          \
    static void NAME(int n, float *out, const void *a, const void *b) {       \
        float fa[BLK], fb[BLK];                                               \
        const uint8_t *pa = a, *pb = b;                                       \
        double s = 0;                                                         \
        for (int i = 0; i < n / (BLK); i++) {                                 \
            TO_A(pa + (size_t)i * sizeof(BLOCK_A), fa, BLK);                  \
            TO_B(pb + (size_t)i * sizeof(BLOCK_B), fb, BLK);                  \
            float bs = 0;                                                     \
            for (int j = 0; j < (BLK); j++) bs += fa[j] * fb[j];              \
            s += bs;                                                          \
        }                                                                     \
        *out = (float)s;                                                      \
    }

#endif
