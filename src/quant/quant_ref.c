/* quant_ref.c: reference (plain C) conversion and dot products for every
 * tensor type. These loops are the spec the SIMD kernels are tested against. */
#include "quant/quant_ref_int.h"

#include <math.h>
#include <string.h>

/* ---- f32 ---- */

static void f32_to_float(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}
static void f32_from_float(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}
static void vec_dot_f32(int n, float *out, const void *a, const void *b) {
    const float *x = a, *y = b;
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * y[i];
    *out = (float)s;
}

/* ---- f16 ---- */

static void f16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = pk_fp16_to_fp32(h[i]);
}
static void f16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = pk_fp32_to_fp16(src[i]);
}
static void vec_dot_f16(int n, float *out, const void *a, const void *b) {
    const uint16_t *x = a, *y = b;
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)pk_fp16_to_fp32(x[i]) * pk_fp16_to_fp32(y[i]);
    *out = (float)s;
}

/* ---- bf16 ---- */

static void bf16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = pk_bf16_to_fp32(h[i]);
}
static void bf16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = pk_fp32_to_bf16(src[i]);
}
static void vec_dot_bf16(int n, float *out, const void *a, const void *b) {
    const uint16_t *x = a, *y = b;
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)pk_bf16_to_fp32(x[i]) * pk_bf16_to_fp32(y[i]);
    *out = (float)s;
}

/* ---- table ---- */

const int8_t pk_kvalues_iq4nl[16] = { -127, -104, -83, -65, -49, -35, -22, -10,
                                      1, 13, 25, 38, 53, 69, 89, 113 };

/* Block geometry of every type pocket reads; kernels are filled in below. */
static void set_geometry(pk_qtraits *t) {
    static const struct { pk_qtype t; const char *name; int blck; size_t bytes; } g[] = {
        { PK_Q_Q4_0, "q4_0", PK_QK, sizeof(pk_block_q4_0) },
        { PK_Q_Q4_1, "q4_1", PK_QK, sizeof(pk_block_q4_1) },
        { PK_Q_Q5_0, "q5_0", PK_QK, sizeof(pk_block_q5_0) },
        { PK_Q_Q5_1, "q5_1", PK_QK, sizeof(pk_block_q5_1) },
        { PK_Q_Q8_0, "q8_0", PK_QK, sizeof(pk_block_q8_0) },
        { PK_Q_Q8_1, "q8_1", PK_QK, sizeof(pk_block_q8_1) },
        { PK_Q_Q2_K, "q2_K", PK_QK_K, sizeof(pk_block_q2_K) },
        { PK_Q_Q3_K, "q3_K", PK_QK_K, sizeof(pk_block_q3_K) },
        { PK_Q_Q4_K, "q4_K", PK_QK_K, sizeof(pk_block_q4_K) },
        { PK_Q_Q5_K, "q5_K", PK_QK_K, sizeof(pk_block_q5_K) },
        { PK_Q_Q6_K, "q6_K", PK_QK_K, sizeof(pk_block_q6_K) },
        { PK_Q_Q8_K, "q8_K", PK_QK_K, sizeof(pk_block_q8_K) },
        { PK_Q_IQ4_NL, "iq4_nl", PK_QK, sizeof(pk_block_iq4_nl) },
        { PK_Q_IQ4_XS, "iq4_xs", PK_QK_K, sizeof(pk_block_iq4_xs) },
    };
    for (size_t i = 0; i < PK_ARRAY_LEN(g); i++)
        t[g[i].t] = (pk_qtraits){ .name = g[i].name, .blck = g[i].blck,
                                  .bytes = g[i].bytes, .is_quant = true };
}

void pk_quant_ref_traits(pk_qtraits *t) {
    set_geometry(t);
    pk_quant_ref_simple(t);
    pk_quant_ref_k(t);
    t[PK_Q_F32] = (pk_qtraits){ "f32", 1, 4, false, f32_to_float, f32_from_float,
                                NULL, vec_dot_f32, vec_dot_f32, PK_Q_F32, NULL, NULL, NULL, NULL };
    t[PK_Q_F16] = (pk_qtraits){ "f16", 1, 2, false, f16_to_float, f16_from_float,
                                NULL, vec_dot_f16, vec_dot_f16, PK_Q_F16, NULL, NULL, NULL, NULL };
    t[PK_Q_BF16] = (pk_qtraits){ "bf16", 1, 2, false, bf16_to_float, bf16_from_float,
                                 NULL, vec_dot_bf16, vec_dot_bf16, PK_Q_BF16, NULL, NULL, NULL, NULL };
}

void pk_silu_mul_ref(float *o, const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) o[i] = o[i] / (1.0f + expf(-o[i])) * u[i];
}
