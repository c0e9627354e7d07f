/* quant_int.h: internals shared by quant.c and the per-ISA kernel files:
 * the ggml block layouts (packed structs, size asserted) and the functions
 * that fill the trait table. */
#ifndef PK_QUANT_INT_H
#define PK_QUANT_INT_H

#include "quant/quant.h"

/* ---- block layouts (ggml) ---- */

typedef struct { uint16_t d; uint8_t qs[PK_QK / 2]; } pk_block_q4_0;
_Static_assert(sizeof(pk_block_q4_0) == 18, "q4_0 block");
typedef struct { uint16_t d; int8_t qs[PK_QK]; } pk_block_q8_0;
_Static_assert(sizeof(pk_block_q8_0) == 34, "q8_0 block");

/* Fill t[] with names, sizes and reference kernels of every type. */
void pk_quant_ref_traits(pk_qtraits *t);
/* Replace entries with SIMD kernels that this CPU supports. */
void pk_quant_simd_traits(pk_qtraits *t);

#endif
