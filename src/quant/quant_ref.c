/* quant_ref.c: reference (plain C) conversion and dot products for every
 * tensor type. These loops are the spec the SIMD kernels are tested against. */
#include "quant/quant_int.h"

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

void pk_quant_ref_traits(pk_qtraits *t) {
    t[PK_Q_F32] = (pk_qtraits){ "f32", 1, 4, false, f32_to_float, f32_from_float,
                                NULL, vec_dot_f32, vec_dot_f32, PK_Q_F32 };
    t[PK_Q_F16] = (pk_qtraits){ "f16", 1, 2, false, f16_to_float, f16_from_float,
                                NULL, vec_dot_f16, vec_dot_f16, PK_Q_F16 };
    t[PK_Q_BF16] = (pk_qtraits){ "bf16", 1, 2, false, bf16_to_float, bf16_from_float,
                                 NULL, vec_dot_bf16, vec_dot_bf16, PK_Q_BF16 };
}
