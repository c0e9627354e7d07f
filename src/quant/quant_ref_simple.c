/* quant_ref_simple.c: reference (plain C) kernels of the 32-element simple
 * quants (q4_0, q4_1, q5_0, q5_1, q8_0, q8_1). Quantizers reproduce ggml's
 * reference and imatrix quantizers bit for bit (same float operations in the
 * same order; checked against ggml's own output by tests/test_quant.c). */
#include "quant/quant_ref_int.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- simple quants: common helpers ---- */

/* First element of largest magnitude (its sign matters) and that magnitude. */
static float signed_absmax(const float *x, int n, float *amax_out) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    if (amax_out) *amax_out = amax;
    return max;
}

static void min_max(const float *x, int n, float *lo, float *hi) {
    *lo = FLT_MAX;
    *hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *lo) *lo = x[j];
        if (x[j] > *hi) *hi = x[j];
    }
}

/* 4-bit values v[0..31] into 16 bytes: byte j = v[j] | v[j + 16] << 4 */
void pk_q_pack_nibbles32(uint8_t *qs, const uint8_t *v) {
    for (int j = 0; j < PK_QK / 2; j++) qs[j] = (uint8_t)((v[j] & 15) | (v[j + 16] & 15) << 4);
}
static void unpack_nibbles32(const uint8_t *qs, uint8_t *v) {
    for (int j = 0; j < PK_QK / 2; j++) {
        v[j] = qs[j] & 15;
        v[j + 16] = qs[j] >> 4;
    }
}
/* 5-bit values: low nibbles as above, bit 4 of element j in bit j of qh */
static void pack_5bit32(uint8_t *qs, uint8_t qh[4], const uint8_t *v) {
    uint32_t h = 0;
    pk_q_pack_nibbles32(qs, v);
    for (int j = 0; j < PK_QK; j++) h |= (uint32_t)((v[j] >> 4) & 1) << j;
    memcpy(qh, &h, 4);
}
static void unpack_5bit32(const uint8_t *qs, const uint8_t qh[4], uint8_t *v) {
    uint32_t h;
    memcpy(&h, qh, 4);
    unpack_nibbles32(qs, v);
    for (int j = 0; j < PK_QK; j++) v[j] |= (uint8_t)(((h >> j) & 1) << 4);
}

/* imatrix weights of the simple quants: qw[j] * sqrt(sigma2 + x[j]^2), with
 * sigma2 the mean square of the whole row. */
static float row_mean_square(const float *x, int64_t n) {
    float s = 0;
    for (int64_t j = 0; j < n; j++) s += x[j] * x[j];
    return s / (float)n;
}
static void imatrix_weights32(const float *x, const float *qw, float sigma2, float *w) {
    for (int j = 0; j < PK_QK; j++) w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
}

/* Run a per-row quantizer over n_rows rows (the pk_quantize_fn shape). */
typedef void (*row_quant_fn)(const float *x, void *y, int64_t n, const float *qw);
static size_t quantize_rows(row_quant_fn fn, pk_qtype t, const float *src, void *dst,
                            int64_t n_rows, int64_t n_per_row, const float *qw) {
    size_t row = pk_row_size(t, n_per_row);
    for (int64_t r = 0; r < n_rows; r++)
        fn(src + r * n_per_row, (char *)dst + (size_t)r * row, n_per_row, qw);
    return (size_t)n_rows * row;
}

/* ---- q4_0: x = d * (q - 8) ---- */

static void q4_0_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / PK_QK; i++, src += PK_QK) {
        const float max = signed_absmax(src, PK_QK, NULL);
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t v[PK_QK];
        for (int j = 0; j < PK_QK; j++) {
            int q = (int)(src[j] * id + 8.5f); /* truncation, as ggml */
            v[j] = (uint8_t)(q < 15 ? q : 15);
        }
        y[i].d = pk_fp32_to_fp16(d);
        pk_q_pack_nibbles32(y[i].qs, v);
    }
}

/* imatrix path: weighted scale search over the 16 levels -8..7 */
static void q4_0_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q4_0 *y = dst;
    if (!qw) {
        q4_0_from_float(x, dst, n);
        return;
    }
    const float sigma2 = row_mean_square(x, n);
    for (int64_t ib = 0; ib < n / PK_QK; ib++) {
        float w[PK_QK];
        int8_t L[PK_QK];
        imatrix_weights32(x + ib * PK_QK, qw + ib * PK_QK, sigma2, w);
        float d = pk_q_make_qx(PK_QK, 8, x + ib * PK_QK, L, 1, w);
        y[ib].d = pk_fp32_to_fp16(d);
        pk_q_pack_nibbles32(y[ib].qs, (const uint8_t *)L);
    }
}
static size_t q4_0_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q4_0_quant_row, PK_Q_Q4_0, src, dst, nr, npr, qw);
}

static void q4_0_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q4_0 *x = src;
    for (int64_t i = 0; i < n / PK_QK; i++, dst += PK_QK) {
        const float d = pk_fp16_to_fp32(x[i].d);
        uint8_t v[PK_QK];
        unpack_nibbles32(x[i].qs, v);
        for (int j = 0; j < PK_QK; j++) dst[j] = (float)(v[j] - 8) * d;
    }
}

static void vec_dot_q4_0_q8_0(int n, float *out, const void *a, const void *b) {
    const pk_block_q4_0 *x = a;
    const pk_block_q8_0 *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK; i++) {
        uint8_t v[PK_QK];
        int isum = 0;
        unpack_nibbles32(x[i].qs, v);
        for (int j = 0; j < PK_QK; j++) isum += (v[j] - 8) * y[i].qs[j];
        sum += (double)(pk_fp16_to_fp32(x[i].d) * pk_fp16_to_fp32(y[i].d)) * isum;
    }
    *out = (float)sum;
}

/* ---- q4_1: x = d * q + m ---- */

static void q4_1_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / PK_QK; i++, src += PK_QK) {
        float lo, hi;
        min_max(src, PK_QK, &lo, &hi);
        const float d = (hi - lo) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t v[PK_QK];
        for (int j = 0; j < PK_QK; j++) {
            int q = (int)((src[j] - lo) * id + 0.5f);
            v[j] = (uint8_t)(q < 15 ? q : 15);
        }
        y[i].d = pk_fp32_to_fp16(d);
        y[i].m = pk_fp32_to_fp16(lo);
        pk_q_pack_nibbles32(y[i].qs, v);
    }
}

static void q4_1_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q4_1 *y = dst;
    if (!qw) {
        q4_1_from_float(x, dst, n);
        return;
    }
    const float sigma2 = row_mean_square(x, n);
    for (int64_t ib = 0; ib < n / PK_QK; ib++) {
        float w[PK_QK], neg_min;
        uint8_t L[PK_QK], Laux[PK_QK];
        imatrix_weights32(x + ib * PK_QK, qw + ib * PK_QK, sigma2, w);
        float d = pk_q_make_qkx3(PK_QK, 15, x + ib * PK_QK, w, L, &neg_min, Laux, -0.9f, 0.05f, 36, false);
        y[ib].d = pk_fp32_to_fp16(d);
        y[ib].m = pk_fp32_to_fp16(-neg_min);
        pk_q_pack_nibbles32(y[ib].qs, L);
    }
}
static size_t q4_1_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q4_1_quant_row, PK_Q_Q4_1, src, dst, nr, npr, qw);
}

static void q4_1_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q4_1 *x = src;
    for (int64_t i = 0; i < n / PK_QK; i++, dst += PK_QK) {
        const float d = pk_fp16_to_fp32(x[i].d), m = pk_fp16_to_fp32(x[i].m);
        uint8_t v[PK_QK];
        unpack_nibbles32(x[i].qs, v);
        for (int j = 0; j < PK_QK; j++) dst[j] = (float)v[j] * d + m;
    }
}

/* sum d_x q_x d_y q_y + m_x s_y, with s_y = d_y * sum(q_y) from the q8_1 block */
static void vec_dot_q4_1_q8_1(int n, float *out, const void *a, const void *b) {
    const pk_block_q4_1 *x = a;
    const pk_block_q8_1 *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK; i++) {
        uint8_t v[PK_QK];
        int isum = 0;
        unpack_nibbles32(x[i].qs, v);
        for (int j = 0; j < PK_QK; j++) isum += v[j] * y[i].qs[j];
        sum += (double)(pk_fp16_to_fp32(x[i].d) * pk_fp16_to_fp32(y[i].d)) * isum
             + (double)pk_fp16_to_fp32(x[i].m) * pk_fp16_to_fp32(y[i].s);
    }
    *out = (float)sum;
}

/* ---- q5_0: x = d * (q - 16) ---- */

static void q5_0_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q5_0 *y = dst;
    for (int64_t i = 0; i < n / PK_QK; i++, src += PK_QK) {
        const float max = signed_absmax(src, PK_QK, NULL);
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t v[PK_QK];
        for (int j = 0; j < PK_QK; j++) {
            int q = (int)(src[j] * id + 16.5f);
            v[j] = (uint8_t)(q < 31 ? q : 31);
        }
        y[i].d = pk_fp32_to_fp16(d);
        pack_5bit32(y[i].qs, y[i].qh, v);
    }
}

static void q5_0_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q5_0 *y = dst;
    if (!qw) {
        q5_0_from_float(x, dst, n);
        return;
    }
    const float sigma2 = row_mean_square(x, n);
    for (int64_t ib = 0; ib < n / PK_QK; ib++) {
        float w[PK_QK];
        int8_t L[PK_QK];
        imatrix_weights32(x + ib * PK_QK, qw + ib * PK_QK, sigma2, w);
        float d = pk_q_make_qx(PK_QK, 16, x + ib * PK_QK, L, 1, w);
        y[ib].d = pk_fp32_to_fp16(d);
        pack_5bit32(y[ib].qs, y[ib].qh, (const uint8_t *)L);
    }
}
static size_t q5_0_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q5_0_quant_row, PK_Q_Q5_0, src, dst, nr, npr, qw);
}

static void q5_0_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q5_0 *x = src;
    for (int64_t i = 0; i < n / PK_QK; i++, dst += PK_QK) {
        const float d = pk_fp16_to_fp32(x[i].d);
        uint8_t v[PK_QK];
        unpack_5bit32(x[i].qs, x[i].qh, v);
        for (int j = 0; j < PK_QK; j++) dst[j] = (float)(v[j] - 16) * d;
    }
}

static void vec_dot_q5_0_q8_0(int n, float *out, const void *a, const void *b) {
    const pk_block_q5_0 *x = a;
    const pk_block_q8_0 *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK; i++) {
        uint8_t v[PK_QK];
        int isum = 0;
        unpack_5bit32(x[i].qs, x[i].qh, v);
        for (int j = 0; j < PK_QK; j++) isum += (v[j] - 16) * y[i].qs[j];
        sum += (double)(pk_fp16_to_fp32(x[i].d) * pk_fp16_to_fp32(y[i].d)) * isum;
    }
    *out = (float)sum;
}

/* ---- q5_1: x = d * q + m ---- */

static void q5_1_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / PK_QK; i++, src += PK_QK) {
        float lo, hi;
        min_max(src, PK_QK, &lo, &hi);
        const float d = (hi - lo) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        uint8_t v[PK_QK];
        for (int j = 0; j < PK_QK; j++) v[j] = (uint8_t)((src[j] - lo) * id + 0.5f);
        y[i].d = pk_fp32_to_fp16(d);
        y[i].m = pk_fp32_to_fp16(lo);
        pack_5bit32(y[i].qs, y[i].qh, v);
    }
}

static void q5_1_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q5_1 *y = dst;
    if (!qw) {
        q5_1_from_float(x, dst, n);
        return;
    }
    const float sigma2 = row_mean_square(x, n);
    for (int64_t ib = 0; ib < n / PK_QK; ib++) {
        float w[PK_QK], neg_min;
        uint8_t L[PK_QK], Laux[PK_QK];
        imatrix_weights32(x + ib * PK_QK, qw + ib * PK_QK, sigma2, w);
        float d = pk_q_make_qkx3(PK_QK, 31, x + ib * PK_QK, w, L, &neg_min, Laux, -0.9f, 0.05f, 36, false);
        y[ib].d = pk_fp32_to_fp16(d);
        y[ib].m = pk_fp32_to_fp16(-neg_min);
        pack_5bit32(y[ib].qs, y[ib].qh, L);
    }
}
static size_t q5_1_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q5_1_quant_row, PK_Q_Q5_1, src, dst, nr, npr, qw);
}

static void q5_1_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q5_1 *x = src;
    for (int64_t i = 0; i < n / PK_QK; i++, dst += PK_QK) {
        const float d = pk_fp16_to_fp32(x[i].d), m = pk_fp16_to_fp32(x[i].m);
        uint8_t v[PK_QK];
        unpack_5bit32(x[i].qs, x[i].qh, v);
        for (int j = 0; j < PK_QK; j++) dst[j] = (float)v[j] * d + m;
    }
}

static void vec_dot_q5_1_q8_1(int n, float *out, const void *a, const void *b) {
    const pk_block_q5_1 *x = a;
    const pk_block_q8_1 *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK; i++) {
        uint8_t v[PK_QK];
        int isum = 0;
        unpack_5bit32(x[i].qs, x[i].qh, v);
        for (int j = 0; j < PK_QK; j++) isum += v[j] * y[i].qs[j];
        sum += (double)(pk_fp16_to_fp32(x[i].d) * pk_fp16_to_fp32(y[i].d)) * isum
             + (double)pk_fp16_to_fp32(x[i].m) * pk_fp16_to_fp32(y[i].s);
    }
    *out = (float)sum;
}

/* ---- q8_0: x = d * q;  q8_1: the same plus s = d * sum(q) ---- */

/* One block of 32 at scale amax / 127, rounding half away from zero. */
static float q8_block(const float *x, int8_t *qs) {
    float amax = 0.0f;
    for (int j = 0; j < PK_QK; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < PK_QK; j++) qs[j] = (int8_t)roundf(x[j] * id);
    return d;
}

static void q8_0_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / PK_QK; i++, src += PK_QK)
        y[i].d = pk_fp32_to_fp16(q8_block(src, y[i].qs));
}

static void q8_0_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q8_0 *x = src;
    for (int64_t i = 0; i < n / PK_QK; i++, dst += PK_QK) {
        const float d = pk_fp16_to_fp32(x[i].d);
        for (int j = 0; j < PK_QK; j++) dst[j] = (float)x[i].qs[j] * d;
    }
}

static void vec_dot_q8_0_q8_0(int n, float *out, const void *a, const void *b) {
    const pk_block_q8_0 *x = a, *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK; i++) {
        int isum = 0;
        for (int j = 0; j < PK_QK; j++) isum += x[i].qs[j] * y[i].qs[j];
        sum += (double)(pk_fp16_to_fp32(x[i].d) * pk_fp16_to_fp32(y[i].d)) * isum;
    }
    *out = (float)sum;
}

static void q8_1_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / PK_QK; i++, src += PK_QK) {
        const float d = q8_block(src, y[i].qs);
        int sum = 0;
        for (int j = 0; j < PK_QK; j++) sum += y[i].qs[j];
        y[i].d = pk_fp32_to_fp16(d);
        y[i].s = pk_fp32_to_fp16((float)sum * d);
    }
}

static void q8_1_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q8_1 *x = src;
    for (int64_t i = 0; i < n / PK_QK; i++, dst += PK_QK) {
        const float d = pk_fp16_to_fp32(x[i].d);
        for (int j = 0; j < PK_QK; j++) dst[j] = (float)x[i].qs[j] * d;
    }
}

/* Kernels of one type (geometry already set). */
static void set_kernels(pk_qtraits *t, pk_qtype q, pk_to_float_fn to, pk_from_float_fn from,
                        pk_quantize_fn quant, pk_vec_dot_fn dot, pk_qtype dot_type) {
    t[q].to_float = to;
    t[q].from_float = from;
    t[q].quantize = quant;
    t[q].vec_dot = dot;
    t[q].vec_dot_ref = dot;
    t[q].vec_dot_type = dot_type;
}

void pk_quant_ref_simple(pk_qtraits *t) {
    set_kernels(t, PK_Q_Q4_0, q4_0_to_float, q4_0_from_float, q4_0_quantize, vec_dot_q4_0_q8_0, PK_Q_Q8_0);
    set_kernels(t, PK_Q_Q4_1, q4_1_to_float, q4_1_from_float, q4_1_quantize, vec_dot_q4_1_q8_1, PK_Q_Q8_1);
    set_kernels(t, PK_Q_Q5_0, q5_0_to_float, q5_0_from_float, q5_0_quantize, vec_dot_q5_0_q8_0, PK_Q_Q8_0);
    set_kernels(t, PK_Q_Q5_1, q5_1_to_float, q5_1_from_float, q5_1_quantize, vec_dot_q5_1_q8_1, PK_Q_Q8_1);
    set_kernels(t, PK_Q_Q8_0, q8_0_to_float, q8_0_from_float, NULL, vec_dot_q8_0_q8_0, PK_Q_Q8_0);
    /* q8_1 is an activation type only: no dot product of its own */
    set_kernels(t, PK_Q_Q8_1, q8_1_to_float, q8_1_from_float, NULL, NULL, PK_Q_Q8_1);
}
