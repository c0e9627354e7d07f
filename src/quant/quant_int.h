/* quant_int.h: internals shared by quant.c and the per-ISA kernel files:
 * the ggml block layouts (packed structs, size asserted) and the functions
 * that fill the trait table. */
#ifndef PK_QUANT_INT_H
#define PK_QUANT_INT_H

#include "quant/quant.h"

/* ---- block layouts (ggml) ---- */

/* d, m: fp16 bits. Simple quants: 32 elements a block; nibble i of qs[j]
 * layout: low nibble = element j, high nibble = element j + 16. */
typedef struct { uint16_t d; uint8_t qs[PK_QK / 2]; } pk_block_q4_0;
_Static_assert(sizeof(pk_block_q4_0) == 18, "q4_0 block");
typedef struct { uint16_t d, m; uint8_t qs[PK_QK / 2]; } pk_block_q4_1;
_Static_assert(sizeof(pk_block_q4_1) == 20, "q4_1 block");
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[PK_QK / 2]; } pk_block_q5_0;
_Static_assert(sizeof(pk_block_q5_0) == 22, "q5_0 block");
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[PK_QK / 2]; } pk_block_q5_1;
_Static_assert(sizeof(pk_block_q5_1) == 24, "q5_1 block");
typedef struct { uint16_t d; int8_t qs[PK_QK]; } pk_block_q8_0;
_Static_assert(sizeof(pk_block_q8_0) == 34, "q8_0 block");
/* q8_1: d and s = d * sum(qs), both fp16 */
typedef struct { uint16_t d, s; int8_t qs[PK_QK]; } pk_block_q8_1;
_Static_assert(sizeof(pk_block_q8_1) == 36, "q8_1 block");

/* k-quants: 256-element super-blocks of 16 or 32-element sub-blocks */
#define PK_K_SCALE_SIZE 12
typedef struct {
    uint8_t scales[PK_QK_K / 16]; /* 4-bit scale | 4-bit min per 16 */
    uint8_t qs[PK_QK_K / 4];      /* 2-bit quants */
    uint16_t d, dmin;
} pk_block_q2_K;
_Static_assert(sizeof(pk_block_q2_K) == 84, "q2_K block");
typedef struct {
    uint8_t hmask[PK_QK_K / 8];   /* high bit */
    uint8_t qs[PK_QK_K / 4];      /* low 2 bits */
    uint8_t scales[12];           /* 16 6-bit scales */
    uint16_t d;
} pk_block_q3_K;
_Static_assert(sizeof(pk_block_q3_K) == 110, "q3_K block");
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[PK_K_SCALE_SIZE]; /* 8 6-bit scales and mins */
    uint8_t qs[PK_QK_K / 2];
} pk_block_q4_K;
_Static_assert(sizeof(pk_block_q4_K) == 144, "q4_K block");
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[PK_K_SCALE_SIZE];
    uint8_t qh[PK_QK_K / 8];
    uint8_t qs[PK_QK_K / 2];
} pk_block_q5_K;
_Static_assert(sizeof(pk_block_q5_K) == 176, "q5_K block");
typedef struct {
    uint8_t ql[PK_QK_K / 2];      /* low 4 bits */
    uint8_t qh[PK_QK_K / 4];      /* high 2 bits */
    int8_t scales[PK_QK_K / 16];  /* 8-bit scales */
    uint16_t d;
} pk_block_q6_K;
_Static_assert(sizeof(pk_block_q6_K) == 210, "q6_K block");
/* q8_K: the activation type of the k-quant dot products; d is fp32 */
typedef struct {
    float d;
    int8_t qs[PK_QK_K];
    int16_t bsums[PK_QK_K / 16];  /* sums of groups of 16 */
} pk_block_q8_K;
_Static_assert(sizeof(pk_block_q8_K) == 292, "q8_K block");

/* non-linear 4-bit: values from pk_kvalues_iq4nl */
typedef struct { uint16_t d; uint8_t qs[PK_QK / 2]; } pk_block_iq4_nl;
_Static_assert(sizeof(pk_block_iq4_nl) == 18, "iq4_nl block");
typedef struct {
    uint16_t d;
    uint16_t scales_h;            /* high 2 bits of the 8 6-bit scales */
    uint8_t scales_l[PK_QK_K / 64]; /* low 4 bits */
    uint8_t qs[PK_QK_K / 2];
} pk_block_iq4_xs;
_Static_assert(sizeof(pk_block_iq4_xs) == 136, "iq4_xs block");

extern const int8_t pk_kvalues_iq4nl[16];

/* Fill t[] with names, sizes and reference kernels of every type. */
void pk_quant_ref_traits(pk_qtraits *t);
/* Replace entries with SIMD kernels that this CPU supports. */
void pk_quant_simd_traits(pk_qtraits *t);
/* Per-ISA tables (quant_avx2.c, quant_neon.c, quant_dotprod_neon.c); each
 * replaces entries of a filled table. The dotprod one goes over the NEON one
 * and needs the CPU's dot-product extension (HWCAP_ASIMDDP); it installs
 * GEMMs too, which keep t for their row tails (t must outlive the calls). */
void pk_quant_avx2_traits(pk_qtraits *t);
void pk_quant_neon_traits(pk_qtraits *t);
void pk_quant_neon_dotprod_traits(pk_qtraits *t);
/* SMMLA GEMM kernels (quant_i8mm_neon.c), over the dotprod table; need
 * HWCAP2_I8MM. Keeps t as the dotprod one does. */
void pk_quant_neon_i8mm_traits(pk_qtraits *t);
/* The q4_0 GEMV built with AVX-VNNI (quant_avxvnni.c) and the VNNI GEMMs,
 * over the AVX2 table; needs CPUID's AVX-VNNI bit. */
void pk_quant_avxvnni_traits(pk_qtraits *t);
/* GEMM kernels (gemm_x86.inc built by gemm_avx2.c); after the vec_dot
 * entries are set. */
void pk_gemm_avx2_traits(pk_qtraits *t);
/* the q4_0, q4_K, q5_K and q6_K GEMMs with AVX-VNNI (gemm_avxvnni.c), from
 * pk_quant_avxvnni_traits */
void pk_gemm_avxvnni_traits(pk_qtraits *t);
/* the q4_0, q8_0, q4_K, q5_K, q6_K and iq4_xs GEMMs with AVX-512 VNNI
 * (gemm_avx512.c), installed over the others by quant_simd.c */
void pk_gemm_avx512_traits(pk_qtraits *t);
/* the AVX-512 q4_K and q6_K GEMVs (quant_avx512.c) and the AVX-512 GEMMs */
void pk_quant_avx512_traits(pk_qtraits *t);

/* The SIMD pk_silu_mul this CPU can run; NULL: the reference. */
typedef void (*pk_silu_mul_fn)(float *o, const float *u, size_t n);
pk_silu_mul_fn pk_quant_simd_silu_mul(void);
void pk_silu_mul_avx2(float *o, const float *u, size_t n);
void pk_silu_mul_neon(float *o, const float *u, size_t n);

#endif
