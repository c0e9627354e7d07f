/* quant_ref_simple.c: reference kernels of the 32-element block types
 * (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL). Quantizers follow ggml's
 * reference rounding so files match llama.cpp's byte for byte; dot
 * products dequantize both blocks and sum in float (the spec for SIMD). */
#include "quant/quant_ref_int.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- helpers ---- */

int pk_nearest_int(float v) {
    /* round half away from zero as the float-add trick does: exact for
     * |v| < 2^22, which every caller guarantees */
    float f = v + 12582912.f;
    int32_t i;
    memcpy(&i, &f, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static float h2f(uint16_t h) { return pk_fp16_to_fp32(h); }

/* ---- Q4_0: d = max / -8, q = clamp(round(x/d) + 8) ---- */

static void q4_0_from_float(const float *x, void *vy, int64_t k) {
    pk_block_q4_0 *y = vy;
    for (int64_t i = 0; i < k / PK_QK; i++, x += PK_QK) {
        float amax = 0, max = 0;
        for (int j = 0; j < PK_QK; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = pk_fp32_to_fp16(d);
        for (int j = 0; j < PK_QK / 2; j++) {
            int a = (int8_t)(x[j] * id + 8.5f), b = (int8_t)(x[j + 16] * id + 8.5f);
            y[i].qs[j] = (uint8_t)(PK_MIN(15, a) | (PK_MIN(15, b) << 4));
        }
    }
}

static void q4_0_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q4_0 *x = vx;
    for (int64_t i = 0; i < k / PK_QK; i++, y += PK_QK) {
        float d = h2f(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = ((x[i].qs[j] & 15) - 8) * d;
            y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* ---- Q4_1: d = (max - min) / 15, m = min ---- */

static void q4_1_from_float(const float *x, void *vy, int64_t k) {
    pk_block_q4_1 *y = vy;
    for (int64_t i = 0; i < k / PK_QK; i++, x += PK_QK) {
        float mn = FLT_MAX, mx = -FLT_MAX;
        for (int j = 0; j < PK_QK; j++) {
            mn = PK_MIN(mn, x[j]);
            mx = PK_MAX(mx, x[j]);
        }
        float d = (mx - mn) / 15, id = d ? 1.0f / d : 0.0f;
        y[i].d = pk_fp32_to_fp16(d);
        y[i].m = pk_fp32_to_fp16(mn);
        for (int j = 0; j < 16; j++) {
            int a = (int8_t)((x[j] - mn) * id + 0.5f), b = (int8_t)((x[j + 16] - mn) * id + 0.5f);
            y[i].qs[j] = (uint8_t)(PK_MIN(15, a) | (PK_MIN(15, b) << 4));
        }
    }
}

static void q4_1_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q4_1 *x = vx;
    for (int64_t i = 0; i < k / PK_QK; i++, y += PK_QK) {
        float d = h2f(x[i].d), m = h2f(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (x[i].qs[j] & 15) * d + m;
            y[j + 16] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

/* ---- Q5_0 / Q5_1: the fifth bits of the 32 quants live in qh ---- */

static void q5_0_from_float(const float *x, void *vy, int64_t k) {
    pk_block_q5_0 *y = vy;
    for (int64_t i = 0; i < k / PK_QK; i++, x += PK_QK) {
        float amax = 0, max = 0;
        for (int j = 0; j < PK_QK; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -16, id = d ? 1.0f / d : 0.0f;
        y[i].d = pk_fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int a = PK_MIN(31, (int8_t)(x[j] * id + 16.5f));
            int b = PK_MIN(31, (int8_t)(x[j + 16] * id + 16.5f));
            y[i].qs[j] = (uint8_t)((a & 15) | ((b & 15) << 4));
            qh |= (uint32_t)((a >> 4) & 1) << j;
            qh |= (uint32_t)((b >> 4) & 1) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void q5_0_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q5_0 *x = vx;
    for (int64_t i = 0; i < k / PK_QK; i++, y += PK_QK) {
        float d = h2f(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int a = (x[i].qs[j] & 15) | (((qh >> j) & 1) << 4);
            int b = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            y[j] = (a - 16) * d;
            y[j + 16] = (b - 16) * d;
        }
    }
}

static void q5_1_from_float(const float *x, void *vy, int64_t k) {
    pk_block_q5_1 *y = vy;
    for (int64_t i = 0; i < k / PK_QK; i++, x += PK_QK) {
        float mn = FLT_MAX, mx = -FLT_MAX;
        for (int j = 0; j < PK_QK; j++) {
            mn = PK_MIN(mn, x[j]);
            mx = PK_MAX(mx, x[j]);
        }
        float d = (mx - mn) / 31, id = d ? 1.0f / d : 0.0f;
        y[i].d = pk_fp32_to_fp16(d);
        y[i].m = pk_fp32_to_fp16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int a = (uint8_t)((x[j] - mn) * id + 0.5f), b = (uint8_t)((x[j + 16] - mn) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((a & 15) | ((b & 15) << 4));
            qh |= (uint32_t)((a >> 4) & 1) << j;
            qh |= (uint32_t)((b >> 4) & 1) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void q5_1_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q5_1 *x = vx;
    for (int64_t i = 0; i < k / PK_QK; i++, y += PK_QK) {
        float d = h2f(x[i].d), m = h2f(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int a = (x[i].qs[j] & 15) | (((qh >> j) & 1) << 4);
            int b = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            y[j] = a * d + m;
            y[j + 16] = b * d + m;
        }
    }
}

/* ---- Q8_0 / Q8_1: d = amax / 127 ---- */

static void q8_0_from_float(const float *x, void *vy, int64_t k) {
    pk_block_q8_0 *y = vy;
    for (int64_t i = 0; i < k / PK_QK; i++, x += PK_QK) {
        float amax = 0;
        for (int j = 0; j < PK_QK; j++) amax = PK_MAX(amax, fabsf(x[j]));
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        y[i].d = pk_fp32_to_fp16(d);
        for (int j = 0; j < PK_QK; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void q8_0_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q8_0 *x = vx;
    for (int64_t i = 0; i < k / PK_QK; i++, y += PK_QK) {
        float d = h2f(x[i].d);
        for (int j = 0; j < PK_QK; j++) y[j] = x[i].qs[j] * d;
    }
}

static void q8_1_from_float(const float *x, void *vy, int64_t k) {
    pk_block_q8_1 *y = vy;
    for (int64_t i = 0; i < k / PK_QK; i++, x += PK_QK) {
        float amax = 0;
        for (int j = 0; j < PK_QK; j++) amax = PK_MAX(amax, fabsf(x[j]));
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < PK_QK; j++) {
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = pk_fp32_to_fp16(d);
        y[i].s = pk_fp32_to_fp16((float)sum * d);
    }
}

static void q8_1_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q8_1 *x = vx;
    for (int64_t i = 0; i < k / PK_QK; i++, y += PK_QK) {
        float d = h2f(x[i].d);
        for (int j = 0; j < PK_QK; j++) y[j] = x[i].qs[j] * d;
    }
}

/* ---- IQ4_NL: 16 non-linear levels, one fp16 scale per 32 ---- */

int pk_iq4_best_index(float v) {
    const int8_t *t = pk_kvalues_iq4nl;
    if (v <= t[0]) return 0;
    if (v >= t[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v < t[mid]) hi = mid;
        else lo = mid;
    }
    return v - t[lo] < t[hi] - v ? lo : hi;
}

/* Scale search of one group of n (32) values: start from max/values[0], then
 * try 2*ntry+1 nearby inverse scales and keep the one with the best weighted
 * least-squares fit. ntry < 0: one pass, no refit (llama.cpp's _ref). */
float pk_iq4_group_scale(const float *x, const float *w, int n, int ntry, uint8_t *L) {
    const int8_t *v = pk_kvalues_iq4nl;
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float d = ntry > 0 ? -max / v[0] : max / v[0];
    float id = 1 / d, sqx = 0, sq2 = 0;
    for (int j = 0; j < n; j++) {
        int l = pk_iq4_best_index(id * x[j]);
        L[j] = (uint8_t)l;
        sqx += w[j] * v[l] * x[j];
        sq2 += w[j] * v[l] * v[l];
    }
    d = sq2 > 0 ? sqx / sq2 : 0;
    float best = d * sqx;
    for (int t = -ntry; t <= ntry; t++) {
        id = (t + v[0]) / max;
        sqx = sq2 = 0;
        for (int j = 0; j < n; j++) {
            int l = pk_iq4_best_index(id * x[j]);
            sqx += w[j] * v[l] * x[j];
            sq2 += w[j] * v[l] * v[l];
        }
        if (sq2 > 0 && sqx * sqx > best * sq2) {
            d = sqx / sq2;
            best = d * sqx;
        }
    }
    return d;
}

static void iq4_nl_row(const float *x, pk_block_iq4_nl *y, int64_t k, const float *qw, int ntry) {
    float w[PK_QK];
    uint8_t L[PK_QK];
    for (int64_t i = 0; i < k / PK_QK; i++, x += PK_QK) {
        float sigma2 = 0;
        for (int j = 0; j < PK_QK; j++) sigma2 += x[j] * x[j];
        sigma2 *= 2.f / PK_QK;
        for (int j = 0; j < PK_QK; j++)
            w[j] = qw ? qw[i * PK_QK + j] * sqrtf(sigma2 + x[j] * x[j]) : x[j] * x[j];
        float d = pk_iq4_group_scale(x, w, PK_QK, ntry, L);
        y[i].d = pk_fp32_to_fp16(d);
        if (ntry > 0) {
            float id = d ? 1 / d : 0;
            for (int j = 0; j < PK_QK; j++) L[j] = (uint8_t)pk_iq4_best_index(id * x[j]);
        }
        for (int j = 0; j < 16; j++) y[i].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

static void iq4_nl_from_float(const float *x, void *vy, int64_t k) { iq4_nl_row(x, vy, k, NULL, -1); }

static size_t iq4_nl_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    size_t rb = (size_t)(npr / PK_QK) * sizeof(pk_block_iq4_nl);
    for (int64_t r = 0; r < nr; r++)
        iq4_nl_row(src + r * npr, (pk_block_iq4_nl *)((uint8_t *)dst + r * rb), npr, qw, 7);
    return rb * (size_t)nr;
}

static void iq4_nl_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_iq4_nl *x = vx;
    for (int64_t i = 0; i < k / PK_QK; i++, y += PK_QK) {
        float d = h2f(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * pk_kvalues_iq4nl[x[i].qs[j] & 15];
            y[j + 16] = d * pk_kvalues_iq4nl[x[i].qs[j] >> 4];
        }
    }
}

/* ---- imatrix-aware quantizers of the simple types ---- */

/* Q4_0/Q5_0 with weights: search the block scale that minimises the
 * weighted squared error (llama.cpp's quantize_q4_0 with quant_weights
 * searches the same way; without weights it is the plain reference). */
static void q_sym_row_weighted(const float *x, uint8_t *L, int n, int nmax, const float *qw,
                               float sigma2, float *d_out) {
    float w[PK_QK];
    for (int j = 0; j < n; j++) w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        *d_out = 0;
        return;
    }
    float best_d = 0, best = -1;
    for (int t = -9; t <= 9; t++) {
        float id = -(nmax + 0.1f * t) / max;
        float sqx = 0, sq2 = 0;
        for (int j = 0; j < n; j++) {
            int l = PK_MAX(-nmax, PK_MIN(nmax - 1, pk_nearest_int(id * x[j])));
            sqx += w[j] * x[j] * l;
            sq2 += w[j] * (float)l * l;
        }
        if (sq2 > 0 && (best < 0 || sqx * sqx > best * sq2)) {
            best = sqx * sqx / sq2;
            best_d = sqx / sq2;
        }
    }
    float id = best_d ? 1 / best_d : 0;
    for (int j = 0; j < n; j++)
        L[j] = (uint8_t)(PK_MAX(-nmax, PK_MIN(nmax - 1, pk_nearest_int(id * x[j]))) + nmax);
    *d_out = best_d;
}

static size_t q4_0_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    size_t rb = (size_t)(npr / PK_QK) * sizeof(pk_block_q4_0);
    for (int64_t r = 0; r < nr; r++) {
        const float *x = src + r * npr;
        pk_block_q4_0 *y = (pk_block_q4_0 *)((uint8_t *)dst + r * rb);
        if (!qw) {
            q4_0_from_float(x, y, npr);
            continue;
        }
        float sigma2 = 0;
        for (int64_t j = 0; j < npr; j++) sigma2 += x[j] * x[j];
        sigma2 /= (float)npr;
        for (int64_t i = 0; i < npr / PK_QK; i++) {
            uint8_t L[PK_QK];
            float d;
            q_sym_row_weighted(x + i * PK_QK, L, PK_QK, 8, qw + i * PK_QK, sigma2, &d);
            y[i].d = pk_fp32_to_fp16(d);
            for (int j = 0; j < 16; j++) y[i].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
        }
    }
    return rb * (size_t)nr;
}

static size_t q5_0_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    size_t rb = (size_t)(npr / PK_QK) * sizeof(pk_block_q5_0);
    for (int64_t r = 0; r < nr; r++) {
        const float *x = src + r * npr;
        pk_block_q5_0 *y = (pk_block_q5_0 *)((uint8_t *)dst + r * rb);
        if (!qw) {
            q5_0_from_float(x, y, npr);
            continue;
        }
        float sigma2 = 0;
        for (int64_t j = 0; j < npr; j++) sigma2 += x[j] * x[j];
        sigma2 /= (float)npr;
        for (int64_t i = 0; i < npr / PK_QK; i++) {
            uint8_t L[PK_QK];
            float d;
            q_sym_row_weighted(x + i * PK_QK, L, PK_QK, 16, qw + i * PK_QK, sigma2, &d);
            y[i].d = pk_fp32_to_fp16(d);
            uint32_t qh = 0;
            for (int j = 0; j < 16; j++) {
                y[i].qs[j] = (uint8_t)((L[j] & 15) | ((L[j + 16] & 15) << 4));
                qh |= (uint32_t)(L[j] >> 4) << j;
                qh |= (uint32_t)(L[j + 16] >> 4) << (j + 16);
            }
            memcpy(y[i].qh, &qh, 4);
        }
    }
    return rb * (size_t)nr;
}

/* ---- dot products ---- */

DEFINE_DOT_VIA_FLOAT(dot_q4_0, q4_0_to_float, pk_block_q4_0, q8_0_to_float, pk_block_q8_0, PK_QK)
DEFINE_DOT_VIA_FLOAT(dot_q4_1, q4_1_to_float, pk_block_q4_1, q8_1_to_float, pk_block_q8_1, PK_QK)
DEFINE_DOT_VIA_FLOAT(dot_q5_0, q5_0_to_float, pk_block_q5_0, q8_0_to_float, pk_block_q8_0, PK_QK)
DEFINE_DOT_VIA_FLOAT(dot_q5_1, q5_1_to_float, pk_block_q5_1, q8_1_to_float, pk_block_q8_1, PK_QK)
DEFINE_DOT_VIA_FLOAT(dot_q8_0, q8_0_to_float, pk_block_q8_0, q8_0_to_float, pk_block_q8_0, PK_QK)
DEFINE_DOT_VIA_FLOAT(dot_iq4_nl, iq4_nl_to_float, pk_block_iq4_nl, q8_0_to_float, pk_block_q8_0, PK_QK)

/* ---- table ---- */

static void set(pk_qtraits *t, pk_qtype ty, pk_to_float_fn to, pk_from_float_fn from,
                pk_quantize_fn qz, pk_vec_dot_fn dot, pk_qtype dt) {
    t[ty].to_float = to;
    t[ty].from_float = from;
    t[ty].quantize = qz;
    t[ty].vec_dot = t[ty].vec_dot_ref = dot;
    t[ty].vec_dot_type = dt;
}

void pk_quant_ref_simple(pk_qtraits *t) {
    set(t, PK_Q_Q4_0, q4_0_to_float, q4_0_from_float, q4_0_quantize, dot_q4_0, PK_Q_Q8_0);
    set(t, PK_Q_Q4_1, q4_1_to_float, q4_1_from_float, NULL, dot_q4_1, PK_Q_Q8_1);
    set(t, PK_Q_Q5_0, q5_0_to_float, q5_0_from_float, q5_0_quantize, dot_q5_0, PK_Q_Q8_0);
    set(t, PK_Q_Q5_1, q5_1_to_float, q5_1_from_float, NULL, dot_q5_1, PK_Q_Q8_1);
    set(t, PK_Q_Q8_0, q8_0_to_float, q8_0_from_float, NULL, dot_q8_0, PK_Q_Q8_0);
    set(t, PK_Q_Q8_1, q8_1_to_float, q8_1_from_float, NULL, NULL, PK_Q_Q8_1);
    set(t, PK_Q_IQ4_NL, iq4_nl_to_float, iq4_nl_from_float, iq4_nl_quantize, dot_iq4_nl, PK_Q_Q8_0);
}
