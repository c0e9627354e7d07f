/* quant_ref_k.c: reference kernels of the 256-element k-quants (q2_K..q6_K),
 * their activation type q8_K, and the non-linear iq4_nl / iq4_xs. The
 * quantizers reproduce ggml's reference and imatrix quantizers bit for bit:
 * the scale searches below do the same float operations in the same order,
 * so any reordering of a sum here changes the bytes. */
#include "quant/quant_ref_int.h"

#include <math.h>
#include <string.h>

#define GROUP_EPS 1e-15f /* below this a group counts as all zero */

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- scale searches ---- */

/* Weight of element x in the symmetric search: imatrix weight when given,
 * else x^2 (1), 1 (2), |x| (3) or sqrt|x| (other), per rmse_type. */
static float qx_weight(const float *qw, int rmse_type, int i, float x) {
    if (qw) return qw[i];
    switch (rmse_type) {
    case 1: return x * x;
    case 2: return 1;
    case 3: return fabsf(x);
    default: return sqrtf(fabsf(x));
    }
}

/* Symmetric levels l in [-nmax, nmax-1], x ~ scale * l. Start from the scale
 * that maps the largest-magnitude element to -nmax, then try 18 nearby
 * scales and keep the one maximising (sum w x l)^2 / sum w l^2 (the weighted
 * least-squares fit). OUT L[i] = l + nmax. Returns the scale. rmse_type 0:
 * no fit; negative: one fit, returns the mean of fitted and initial scale. */
float pk_q_make_qx(int n, int nmax, const float *x, int8_t *L, int rmse_type,
                   const float *qw) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max;
    if (rmse_type == 0) {
        for (int i = 0; i < n; i++)
            L[i] = (int8_t)(nmax + clampi(pk_q_nearest_int(iscale * x[i]), -nmax, nmax - 1));
        return 1 / iscale;
    }
    bool early = rmse_type < 0;
    if (early) rmse_type = -rmse_type;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(pk_q_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = qx_weight(qw, rmse_type, i, x[i]);
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    if (early) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; step++) {
        if (step == 0) continue;
        iscale = -(nmax + 0.1f * step) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(pk_q_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = qx_weight(qw, rmse_type, i, x[i]);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clampi(pk_q_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Symmetric 3-bit levels with weights x^2: initial scale, then up to 5
 * rounds of moving single elements to the level that improves the fit.
 * OUT L[i] = l + nmax. Returns the scale. */
static float make_q3(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(pk_q_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int round = 0; round < 5; round++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx <= 0) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            int nl = clampi(pk_q_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (nl == L[i]) continue;
            slx += w * x[i] * nl;
            sl2 += w * nl * nl;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)nl;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Asymmetric levels l in [0, nmax], x ~ scale * l - neg_min (min <= 0).
 * Start from the min/max range, then for nstep+1 candidate inverse scales
 * (rmin + rdelta * step + nmax) / range solve the weighted least squares for
 * scale and min, keeping the one with the smallest weighted error (absolute
 * when use_mad, else squared). w NULL means weights x^2. Laux: n scratch.
 * OUT L, neg_min (the min, negated). Returns the scale. */
float pk_q_make_qkx3(int n, int nmax, const float *x, const float *w,
                     uint8_t *L, float *neg_min, uint8_t *Laux, float rmin,
                     float rdelta, int nstep, bool use_mad) {
#define WT(i) (w ? w[i] : x[i] * x[i])
    float min = x[0], max = x[0];
    float sum_w = WT(0);
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float wi = WT(i);
        sum_w += wi;
        sum_x += wi * x[i];
    }
    if (min > 0) min = 0;
    if (max <= min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_err = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(pk_q_nearest_int(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_err += WT(i) * diff;
    }
    if (nstep < 1) {
        *neg_min = -min;
        return scale;
    }
    for (int step = 0; step <= nstep; step++) {
        iscale = (rmin + rdelta * step + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(pk_q_nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float wi = WT(i);
            sum_l += wi * l;
            sum_l2 += wi * l * l;
            sum_xl += wi * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * Laux[i] + this_min - x[i];
            diff = use_mad ? fabsf(diff) : diff * diff;
            err += WT(i) * diff;
        }
        if (err < best_err) {
            memcpy(L, Laux, (size_t)n);
            best_err = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
#undef WT
}

/* Non-negative levels l in [0, nmax] for the sub-block scales of the
 * imatrix paths: x ~ scale * l, weighted by qw. Initial scale plus 8 nearby
 * ones by weighted squared error, then up to 5 rounds of single-element
 * moves. OUT L (uint8, as ggml stores it). Returns the scale. */
static float make_qp(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0;
    for (int i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    if (max < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)pk_q_nearest_int(iscale * x[i]);
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; i++) {
        float diff = x[i] - scale * L[i];
        best_mse += qw[i] * diff * diff;
    }
    for (int step = -4; step <= 4; step++) {
        if (step == 0) continue;
        float is_try = (0.1f * step + nmax) / max;
        float s_try = 1 / is_try;
        float mse = 0;
        for (int i = 0; i < n; i++) {
            int l = pk_q_nearest_int(is_try * x[i]);
            l = l < nmax ? l : nmax;
            float diff = x[i] - s_try * l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = is_try;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = pk_q_nearest_int(iscale * x[i]);
        l = l < nmax ? l : nmax;
        L[i] = (uint8_t)l;
        sumlx += qw[i] * x[i] * l;
        suml2 += qw[i] * l * l;
    }
    for (int round = 0; round < 5; round++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float wi = qw[i];
            float slx = sumlx - wi * x[i] * L[i];
            float sl2 = suml2 - wi * L[i] * L[i];
            if (!(slx > 0 && sl2 > 0)) continue;
            int nl = pk_q_nearest_int(x[i] * sl2 / slx);
            nl = nl < nmax ? nl : nmax;
            if (nl == L[i]) continue;
            slx += wi * x[i] * nl;
            sl2 += wi * nl * nl;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (uint8_t)nl;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- bit layouts of the k-quants ---- */

/* Setters by element index e (0..255), used by the quantizers; the
 * decoders (*_levels below) walk the same fields in storage order.
 * 2-bit field in a 64-byte qs array: byte (e/128)*32 + e%32, bits
 * 2*((e%128)/32). Shared by q2_K and q3_K. */
static void set2(uint8_t *qs, int e, int v) {
    qs[(e / 128) * 32 + e % 32] |= (uint8_t)((v & 3) << (2 * ((e % 128) / 32)));
}
/* 4-bit field of element e in a 128-byte qs array (q4_K, q5_K low bits,
 * iq4_xs): byte (e/64)*32 + e%32, high nibble for odd 32-groups. */
void pk_q_set4(uint8_t *qs, int e, int v) {
    qs[(e / 64) * 32 + e % 32] |= (uint8_t)((v & 15) << (4 * ((e / 32) & 1)));
}
/* 1-bit field: bit e/32 of byte e%32 (q3_K hmask, q5_K qh). */
void pk_q_set1(uint8_t *h, int e, int v) { h[e % 32] |= (uint8_t)((v & 1) << (e / 32)); }

/* q6_K: low nibble in ql byte (e/128)*64 + (e%128/32 & 1)*32 + e%32, high
 * nibble for e%128 >= 64; top 2 bits in qh byte (e/128)*32 + e%32 at bit
 * 2*((e%128)/32). */
void pk_q_q6_set(pk_block_q6_K *b, int e, int v) {
    int g = (e % 128) / 32, l = e % 32, n = e / 128;
    b->ql[n * 64 + (g & 1) * 32 + l] |= (uint8_t)((v & 15) << (4 * (g >> 1)));
    b->qh[n * 32 + l] |= (uint8_t)(((v >> 4) & 3) << (2 * g));
}

/* q3_K: 16 6-bit scales; low 4 bits in bytes 0..7 (nibble j/8), high 2
 * bits in byte 8 + j%4 at bit 2*(j/4). Stored value is scale + 32. */
static int q3_scale(const uint8_t *s, int j) {
    int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}
static void q3_set_scale(uint8_t *s, int j, int v) { /* v in 0..63 */
    if (j < 8) s[j] |= (uint8_t)(v & 15);
    else s[j - 8] |= (uint8_t)((v & 15) << 4);
    s[8 + j % 4] |= (uint8_t)((v >> 4) << (2 * (j / 4)));
}

/* q4_K / q5_K: 8 6-bit scales and mins in 12 bytes. j < 4: scale in
 * byte j, min in byte j+4 (low 6 bits); j >= 4: low nibbles in byte j+4,
 * top 2 bits in bits 6..7 of bytes j-4 (scale) and j (min). */
static void k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}
void pk_q_k4_pack(uint8_t *s, const uint8_t *ls, const uint8_t *lm) {
    memset(s, 0, PK_K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= ls[j];
            s[j + 4] |= lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 15) | (lm[j] & 15) << 4);
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Row-at-a-time driver for the pk_quantize_fn shape. */
typedef void (*row_quant_fn)(const float *x, void *y, int64_t n, const float *qw);
static size_t quantize_rows(row_quant_fn fn, pk_qtype t, const float *src, void *dst,
                            int64_t n_rows, int64_t n_per_row, const float *qw) {
    size_t row = pk_row_size(t, n_per_row);
    for (int64_t r = 0; r < n_rows; r++)
        fn(src + r * n_per_row, (char *)dst + (size_t)r * row, n_per_row, qw);
    return (size_t)n_rows * row;
}

/* Whole-block level decoders for to_float and the dot products: the
 * fields the setters above write, walked in storage order. */
static void q2_K_levels(const pk_block_q2_K *b, int8_t *q) {
    for (int n = 0; n < 2; n++)
        for (int s = 0; s < 4; s++)
            for (int l = 0; l < 32; l++) q[128 * n + 32 * s + l] = (int8_t)((b->qs[32 * n + l] >> (2 * s)) & 3);
}
static void q3_K_levels(const pk_block_q3_K *b, int8_t *q) {
    for (int n = 0; n < 2; n++)
        for (int s = 0; s < 4; s++)
            for (int l = 0; l < 32; l++) {
                int e = 128 * n + 32 * s + l;
                int hi = (b->hmask[l] >> (e / 32)) & 1;
                q[e] = (int8_t)(((b->qs[32 * n + l] >> (2 * s)) & 3) - (hi ? 0 : 4));
            }
}
static void nibbles_levels(const uint8_t *qs, int8_t *q) { /* q4_K / q5_K low bits */
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(qs[32 * c + l] & 15);
            q[64 * c + 32 + l] = (int8_t)(qs[32 * c + l] >> 4);
        }
}
static void q5_K_levels(const pk_block_q5_K *b, int8_t *q) {
    nibbles_levels(b->qs, q);
    for (int g = 0; g < 8; g++)
        for (int l = 0; l < 32; l++) q[32 * g + l] = (int8_t)(q[32 * g + l] | ((b->qh[l] >> g) & 1) << 4);
}
static void q6_K_levels(const pk_block_q6_K *b, int8_t *q) { /* q - 32 */
    for (int n = 0; n < 2; n++) {
        const uint8_t *ql = b->ql + 64 * n, *qh = b->qh + 32 * n;
        for (int l = 0; l < 32; l++) {
            q[128 * n + l] = (int8_t)(((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32);
            q[128 * n + 32 + l] = (int8_t)(((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32);
            q[128 * n + 64 + l] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            q[128 * n + 96 + l] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
}

/* sum over 16 or 32 elements of q * y */
static int isum_group(const int8_t *q, const int8_t *y, int n) {
    int s = 0;
    for (int j = 0; j < n; j++) s += q[j] * y[j];
    return s;
}

/* ---- q8_K: x = d * q, d fp32, bsums = sums of 16 ---- */

static void q8_K_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / PK_QK_K; i++, src += PK_QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < PK_QK_K; j++)
            if (fabsf(src[j]) > amax) {
                amax = fabsf(src[j]);
                max = src[j];
            }
        memset(&y[i], 0, sizeof(y[i]));
        if (!amax) continue;
        const float iscale = -127.f / max;
        for (int j = 0; j < PK_QK_K; j++) {
            int v = pk_q_nearest_int(iscale * src[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < PK_QK_K / 16; j++) {
            int s = 0;
            for (int k = 0; k < 16; k++) s += y[i].qs[16 * j + k];
            y[i].bsums[j] = (int16_t)s;
        }
        y[i].d = 1 / iscale;
    }
}

static void q8_K_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q8_K *x = src;
    for (int64_t i = 0; i < n / PK_QK_K; i++)
        for (int j = 0; j < PK_QK_K; j++) *dst++ = x[i].d * x[i].qs[j];
}

/* ---- q2_K: x = d * (sc & 15) * q - dmin * (sc >> 4), 16 groups of 16 ---- */

static void q2_K_finish(pk_block_q2_K *y, const float *x, uint8_t *L) {
    const float d = pk_fp16_to_fp32(y->d), dmin = pk_fp16_to_fp32(y->dmin);
    for (int j = 0; j < PK_QK_K / 16; j++) {
        const float dl = d * (y->scales[j] & 15);
        if (!dl) continue;
        const float ml = dmin * (y->scales[j] >> 4);
        for (int k = 0; k < 16; k++)
            L[16 * j + k] = (uint8_t)clampi(pk_q_nearest_int((x[16 * j + k] + ml) / dl), 0, 3);
    }
    memset(y->qs, 0, sizeof(y->qs));
    for (int e = 0; e < PK_QK_K; e++) set2(y->qs, e, L[e]);
}

static void q2_K_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q2_K *y = dst;
    for (int64_t i = 0; i < n / PK_QK_K; i++, src += PK_QK_K) {
        uint8_t L[PK_QK_K], Laux[16];
        float w[16], scales[16], mins[16], max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int k = 0; k < 16; k++) w[k] = fabsf(src[16 * j + k]);
            scales[j] = pk_q_make_qkx3(16, 3, src + 16 * j, w, L + 16 * j, &mins[j], Laux,
                                       -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; j++) y[i].scales[j] = (uint8_t)pk_q_nearest_int(iscale * scales[j]);
            y[i].d = pk_fp32_to_fp16(max_scale / 15.f);
        } else {
            memset(y[i].scales, 0, sizeof(y[i].scales));
            y[i].d = pk_fp32_to_fp16(0.f);
        }
        if (max_min > 0) {
            float iscale = 15.f / max_min;
            for (int j = 0; j < 16; j++)
                y[i].scales[j] |= (uint8_t)(pk_q_nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = pk_fp32_to_fp16(max_min / 15.f);
        } else {
            y[i].dmin = pk_fp32_to_fp16(0.f);
        }
        q2_K_finish(&y[i], src, L);
    }
}

static void q2_K_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q2_K *y = dst;
    if (!qw) {
        q2_K_from_float(x, dst, n);
        return;
    }
    for (int64_t i = 0; i < n / PK_QK_K; i++, x += PK_QK_K) {
        const float *qwb = qw + i * PK_QK_K;
        uint8_t L[PK_QK_K], Laux[16], Ls[16], Lm[16];
        float w[16], sw[16], scales[16], mins[16], sumx2 = 0;
        for (int j = 0; j < PK_QK_K; j++) sumx2 += x[j] * x[j];
        const float sigma2 = sumx2 / PK_QK_K;
        for (int j = 0; j < 16; j++) {
            sw[j] = 0;
            for (int k = 0; k < 16; k++) w[k] = qwb[16 * j + k] * sqrtf(sigma2 + x[16 * j + k] * x[16 * j + k]);
            for (int k = 0; k < 16; k++) sw[j] += w[k];
            scales[j] = pk_q_make_qkx3(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux,
                                       -0.9f, 0.05f, 36, false);
        }
        float dm = make_qp(16, 15, scales, Ls, sw);
        float mm = make_qp(16, 15, mins, Lm, sw);
        y[i].d = pk_fp32_to_fp16(dm);
        y[i].dmin = pk_fp32_to_fp16(mm);
        for (int j = 0; j < 16; j++) y[i].scales[j] = (uint8_t)(Ls[j] | Lm[j] << 4);
        q2_K_finish(&y[i], x, L);
    }
}
static size_t q2_K_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q2_K_quant_row, PK_Q_Q2_K, src, dst, nr, npr, qw);
}

static void q2_K_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q2_K *x = src;
    for (int64_t i = 0; i < n / PK_QK_K; i++, dst += PK_QK_K) {
        const float d = pk_fp16_to_fp32(x[i].d), dmin = pk_fp16_to_fp32(x[i].dmin);
        int8_t q[PK_QK_K];
        q2_K_levels(&x[i], q);
        for (int j = 0; j < 16; j++) {
            const uint8_t sc = x[i].scales[j];
            const float dl = d * (sc & 15), ml = dmin * (sc >> 4);
            for (int k = 16 * j; k < 16 * j + 16; k++) dst[k] = dl * (float)q[k] - ml;
        }
    }
}

/* d_y * (d * sum_j sc_j sum q y - dmin * sum_j m_j bsum_j) per block */
static void vec_dot_q2_K_q8_K(int n, float *out, const void *a, const void *b) {
    const pk_block_q2_K *x = a;
    const pk_block_q8_K *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK_K; i++) {
        int8_t q[PK_QK_K];
        int isum = 0, msum = 0;
        q2_K_levels(&x[i], q);
        for (int j = 0; j < 16; j++) {
            isum += (x[i].scales[j] & 15) * isum_group(q + 16 * j, y[i].qs + 16 * j, 16);
            msum += (x[i].scales[j] >> 4) * y[i].bsums[j];
        }
        sum += (double)y[i].d * ((double)pk_fp16_to_fp32(x[i].d) * isum -
                                 (double)pk_fp16_to_fp32(x[i].dmin) * msum);
    }
    *out = (float)sum;
}

/* ---- q3_K: x = d * sc * (q - 4 * !hbit), 16 groups of 16 ---- */

static void q3_K_finish(pk_block_q3_K *y, const float *x, int8_t *L) {
    const float d_all = pk_fp16_to_fp32(y->d);
    for (int j = 0; j < 16; j++) {
        const float d = d_all * q3_scale(y->scales, j);
        if (!d) continue;
        for (int k = 0; k < 16; k++)
            L[16 * j + k] = (int8_t)(clampi(pk_q_nearest_int(x[16 * j + k] / d), -4, 3) + 4);
    }
    memset(y->hmask, 0, sizeof(y->hmask));
    memset(y->qs, 0, sizeof(y->qs));
    for (int e = 0; e < PK_QK_K; e++) {
        pk_q_set1(y->hmask, e, L[e] > 3);
        set2(y->qs, e, L[e] & 3);
    }
}

static void q3_K_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q3_K *y = dst;
    for (int64_t i = 0; i < n / PK_QK_K; i++, src += PK_QK_K) {
        int8_t L[PK_QK_K];
        float scales[16], max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = make_q3(16, 4, src + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(y[i].scales, 0, sizeof(y[i].scales));
        if (max_scale) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = (int8_t)pk_q_nearest_int(iscale * scales[j]);
                q3_set_scale(y[i].scales, j, clampi(l, -32, 31) + 32);
            }
            y[i].d = pk_fp32_to_fp16(1 / iscale);
        } else {
            y[i].d = pk_fp32_to_fp16(0.f);
        }
        q3_K_finish(&y[i], src, L);
    }
}

static void q3_K_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q3_K *y = dst;
    if (!qw) {
        q3_K_from_float(x, dst, n);
        return;
    }
    for (int64_t i = 0; i < n / PK_QK_K; i++, x += PK_QK_K) {
        const float *qwb = qw + i * PK_QK_K;
        int8_t L[PK_QK_K], Ls[16];
        float w[16], sw[16], scales[16], sumx2 = 0;
        for (int j = 0; j < PK_QK_K; j++) sumx2 += x[j] * x[j];
        const float sigma2 = 2 * sumx2 / PK_QK_K;
        for (int j = 0; j < 16; j++) {
            float sumw = 0;
            for (int k = 0; k < 16; k++) w[k] = qwb[16 * j + k] * sqrtf(sigma2 + x[16 * j + k] * x[16 * j + k]);
            for (int k = 0; k < 16; k++) sumw += w[k];
            sw[j] = sumw;
            scales[j] = pk_q_make_qx(16, 4, x + 16 * j, L + 16 * j, 1, w);
        }
        memset(y[i].scales, 0, sizeof(y[i].scales));
        float d_block = pk_q_make_qx(16, 32, scales, Ls, 1, sw);
        for (int j = 0; j < 16; j++) q3_set_scale(y[i].scales, j, Ls[j]);
        y[i].d = pk_fp32_to_fp16(d_block);
        q3_K_finish(&y[i], x, L);
    }
}
static size_t q3_K_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q3_K_quant_row, PK_Q_Q3_K, src, dst, nr, npr, qw);
}

static void q3_K_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q3_K *x = src;
    for (int64_t i = 0; i < n / PK_QK_K; i++, dst += PK_QK_K) {
        const float d_all = pk_fp16_to_fp32(x[i].d);
        int8_t q[PK_QK_K];
        q3_K_levels(&x[i], q);
        for (int j = 0; j < 16; j++) {
            const float dl = d_all * q3_scale(x[i].scales, j);
            for (int k = 16 * j; k < 16 * j + 16; k++) dst[k] = dl * (float)q[k];
        }
    }
}

static void vec_dot_q3_K_q8_K(int n, float *out, const void *a, const void *b) {
    const pk_block_q3_K *x = a;
    const pk_block_q8_K *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK_K; i++) {
        int8_t q[PK_QK_K];
        int isum = 0;
        q3_K_levels(&x[i], q);
        for (int j = 0; j < 16; j++)
            isum += q3_scale(x[i].scales, j) * isum_group(q + 16 * j, y[i].qs + 16 * j, 16);
        sum += (double)y[i].d * pk_fp16_to_fp32(x[i].d) * isum;
    }
    *out = (float)sum;
}

/* ---- q4_K / q5_K: x = d * sc * q - dmin * m, 8 groups of 32 ---- */

/* The two share everything but the level count (15 or 31) and how the
 * levels are stored; bits5 selects q5_K. */

/* Reference path: per group a min/scale search with weights
 * sqrt(mean x^2) + |x|, then 6-bit scales and mins relative to their max. */
static void k45_search_ref(const float *x, int nmax, float rmin, float rdelta, int nstep,
                           uint8_t *L, uint8_t *ls, uint8_t *lm, float *d, float *dmin) {
    uint8_t Laux[32];
    float w[32], scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xb = x + 32 * j;
        float sum_x2 = 0;
        for (int k = 0; k < 32; k++) sum_x2 += xb[k] * xb[k];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int k = 0; k < 32; k++) w[k] = av_x + fabsf(xb[k]);
        scales[j] = pk_q_make_qkx3(32, nmax, xb, w, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        uint8_t s = (uint8_t)pk_q_nearest_int(inv_scale * scales[j]);
        uint8_t m = (uint8_t)pk_q_nearest_int(inv_min * mins[j]);
        ls[j] = s < 63 ? s : 63;
        lm[j] = m < 63 ? m : 63;
    }
    *d = max_scale / 63.f;
    *dmin = max_min / 63.f;
}

/* imatrix path: weights qw * sqrt(sigma2 + x^2) (or sqrt(sigma2) + |x|
 * without qw), a finer search per group, then make_qp for the 6-bit
 * scales and mins weighted by each group's total weight. */
static void k45_search_imatrix(const float *x, const float *qw, int nmax, uint8_t *L,
                               uint8_t *ls, uint8_t *lm, float *d, float *dmin) {
    uint8_t Laux[32];
    float w[32], sw[8], scales[8], mins[8], sum_x2 = 0;
    for (int k = 0; k < PK_QK_K; k++) sum_x2 += x[k] * x[k];
    const float sigma2 = 2 * sum_x2 / PK_QK_K;
    const float av_x = sqrtf(sigma2);
    for (int j = 0; j < 8; j++) {
        const float *xb = x + 32 * j;
        if (qw)
            for (int k = 0; k < 32; k++) w[k] = qw[32 * j + k] * sqrtf(sigma2 + xb[k] * xb[k]);
        else
            for (int k = 0; k < 32; k++) w[k] = av_x + fabsf(xb[k]);
        float sumw = 0;
        for (int k = 0; k < 32; k++) sumw += w[k];
        sw[j] = sumw;
        scales[j] = pk_q_make_qkx3(32, nmax, xb, w, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    *d = make_qp(8, 63, scales, ls, sw);
    *dmin = make_qp(8, 63, mins, lm, sw);
    for (int j = 0; j < 8; j++) {
        if (ls[j] > 63) ls[j] = 63;
        if (lm[j] > 63) lm[j] = 63;
    }
}

/* Store scales, then requantize every element against the stored (fp16)
 * scales and pack the levels. */
static void k45_finish(const float *x, int nmax, uint8_t *L, const uint8_t *ls, const uint8_t *lm,
                       float d, float dmin, uint16_t *yd, uint16_t *ydmin, uint8_t *yscales) {
    pk_q_k4_pack(yscales, ls, lm);
    *yd = pk_fp32_to_fp16(d);
    *ydmin = pk_fp32_to_fp16(dmin);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(yscales, j, &sc, &m);
        const float dl = pk_fp16_to_fp32(*yd) * sc;
        if (!dl) continue;
        const float ml = pk_fp16_to_fp32(*ydmin) * m;
        for (int k = 0; k < 32; k++)
            L[32 * j + k] = (uint8_t)clampi(pk_q_nearest_int((x[32 * j + k] + ml) / dl), 0, nmax);
    }
}

static void q4_K_store(pk_block_q4_K *y, const float *x, uint8_t *L, const uint8_t *ls,
                       const uint8_t *lm, float d, float dmin) {
    k45_finish(x, 15, L, ls, lm, d, dmin, &y->d, &y->dmin, y->scales);
    memset(y->qs, 0, sizeof(y->qs));
    for (int e = 0; e < PK_QK_K; e++) pk_q_set4(y->qs, e, L[e]);
}

static void q5_K_store(pk_block_q5_K *y, const float *x, uint8_t *L, const uint8_t *ls,
                       const uint8_t *lm, float d, float dmin) {
    k45_finish(x, 31, L, ls, lm, d, dmin, &y->d, &y->dmin, y->scales);
    memset(y->qs, 0, sizeof(y->qs));
    memset(y->qh, 0, sizeof(y->qh));
    for (int e = 0; e < PK_QK_K; e++) {
        pk_q_set4(y->qs, e, L[e] & 15);
        pk_q_set1(y->qh, e, L[e] >> 4);
    }
}

static void q4_K_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q4_K *y = dst;
    for (int64_t i = 0; i < n / PK_QK_K; i++, src += PK_QK_K) {
        uint8_t L[PK_QK_K], ls[8], lm[8];
        float d, dmin;
        k45_search_ref(src, 15, -1.f, 0.1f, 20, L, ls, lm, &d, &dmin);
        q4_K_store(&y[i], src, L, ls, lm, d, dmin);
    }
}

static void q5_K_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q5_K *y = dst;
    for (int64_t i = 0; i < n / PK_QK_K; i++, src += PK_QK_K) {
        uint8_t L[PK_QK_K], ls[8], lm[8];
        float d, dmin;
        k45_search_ref(src, 31, -0.5f, 0.1f, 15, L, ls, lm, &d, &dmin);
        q5_K_store(&y[i], src, L, ls, lm, d, dmin);
    }
}

static void q4_K_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q4_K *y = dst;
    if (!qw) {
        q4_K_from_float(x, dst, n);
        return;
    }
    for (int64_t i = 0; i < n / PK_QK_K; i++, x += PK_QK_K) {
        uint8_t L[PK_QK_K], ls[8], lm[8];
        float d, dmin;
        k45_search_imatrix(x, qw + i * PK_QK_K, 15, L, ls, lm, &d, &dmin);
        q4_K_store(&y[i], x, L, ls, lm, d, dmin);
    }
}

static void q5_K_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q5_K *y = dst;
    if (!qw) {
        q5_K_from_float(x, dst, n);
        return;
    }
    for (int64_t i = 0; i < n / PK_QK_K; i++, x += PK_QK_K) {
        uint8_t L[PK_QK_K], ls[8], lm[8];
        float d, dmin;
        k45_search_imatrix(x, qw + i * PK_QK_K, 31, L, ls, lm, &d, &dmin);
        q5_K_store(&y[i], x, L, ls, lm, d, dmin);
    }
}
static size_t q4_K_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q4_K_quant_row, PK_Q_Q4_K, src, dst, nr, npr, qw);
}
static size_t q5_K_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q5_K_quant_row, PK_Q_Q5_K, src, dst, nr, npr, qw);
}

static void q4_K_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q4_K *x = src;
    for (int64_t i = 0; i < n / PK_QK_K; i++, dst += PK_QK_K) {
        const float d = pk_fp16_to_fp32(x[i].d), dmin = pk_fp16_to_fp32(x[i].dmin);
        int8_t q[PK_QK_K];
        nibbles_levels(x[i].qs, q);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(x[i].scales, j, &sc, &m);
            const float dl = d * sc, ml = dmin * m;
            for (int k = 32 * j; k < 32 * j + 32; k++) dst[k] = dl * (float)q[k] - ml;
        }
    }
}

static void q5_K_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q5_K *x = src;
    for (int64_t i = 0; i < n / PK_QK_K; i++, dst += PK_QK_K) {
        const float d = pk_fp16_to_fp32(x[i].d), dmin = pk_fp16_to_fp32(x[i].dmin);
        int8_t q[PK_QK_K];
        q5_K_levels(&x[i], q);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(x[i].scales, j, &sc, &m);
            const float dl = d * sc, ml = dmin * m;
            for (int k = 32 * j; k < 32 * j + 32; k++) dst[k] = dl * (float)q[k] - ml;
        }
    }
}

/* d_y * (d * sum_j sc_j sum q y - dmin * sum_j m_j (bsum_2j + bsum_2j+1)) */
static void vec_dot_q4_K_q8_K(int n, float *out, const void *a, const void *b) {
    const pk_block_q4_K *x = a;
    const pk_block_q8_K *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK_K; i++) {
        int8_t q[PK_QK_K];
        int isum = 0, msum = 0;
        nibbles_levels(x[i].qs, q);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(x[i].scales, j, &sc, &m);
            isum += sc * isum_group(q + 32 * j, y[i].qs + 32 * j, 32);
            msum += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        sum += (double)y[i].d * ((double)pk_fp16_to_fp32(x[i].d) * isum -
                                 (double)pk_fp16_to_fp32(x[i].dmin) * msum);
    }
    *out = (float)sum;
}

static void vec_dot_q5_K_q8_K(int n, float *out, const void *a, const void *b) {
    const pk_block_q5_K *x = a;
    const pk_block_q8_K *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK_K; i++) {
        int8_t q[PK_QK_K];
        int isum = 0, msum = 0;
        q5_K_levels(&x[i], q);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(x[i].scales, j, &sc, &m);
            isum += sc * isum_group(q + 32 * j, y[i].qs + 32 * j, 32);
            msum += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        sum += (double)y[i].d * ((double)pk_fp16_to_fp32(x[i].d) * isum -
                                 (double)pk_fp16_to_fp32(x[i].dmin) * msum);
    }
    *out = (float)sum;
}

/* ---- q6_K: x = d * sc * (q - 32), int8 scales, 16 groups of 16 ---- */

/* qw NULL: the reference quantizer (weights x^2); else imatrix weights. */
static void q6_K_block(const float *x, pk_block_q6_K *y, const float *qw) {
    int8_t L[PK_QK_K];
    float scales[16], max_scale = 0, max_abs = 0;
    for (int j = 0; j < 16; j++) {
        scales[j] = pk_q_make_qx(16, 32, x + 16 * j, L + 16 * j, 1, qw ? qw + 16 * j : NULL);
        if (fabsf(scales[j]) > max_abs) {
            max_abs = fabsf(scales[j]);
            max_scale = scales[j];
        }
    }
    memset(y, 0, sizeof(*y));
    if (max_abs < GROUP_EPS) return;
    const float iscale = -128.f / max_scale;
    y->d = pk_fp32_to_fp16(1 / iscale);
    for (int j = 0; j < 16; j++) {
        int v = pk_q_nearest_int(iscale * scales[j]);
        y->scales[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < 16; j++) {
        const float d = pk_fp16_to_fp32(y->d) * y->scales[j];
        if (!d) continue;
        for (int k = 0; k < 16; k++)
            L[16 * j + k] = (int8_t)(clampi(pk_q_nearest_int(x[16 * j + k] / d), -32, 31) + 32);
    }
    for (int e = 0; e < PK_QK_K; e++) pk_q_q6_set(y, e, L[e]);
}

static void q6_K_from_float(const float *src, void *dst, int64_t n) {
    pk_block_q6_K *y = dst;
    for (int64_t i = 0; i < n / PK_QK_K; i++) q6_K_block(src + i * PK_QK_K, &y[i], NULL);
}

static void q6_K_quant_row(const float *x, void *dst, int64_t n, const float *qw) {
    pk_block_q6_K *y = dst;
    for (int64_t i = 0; i < n / PK_QK_K; i++)
        q6_K_block(x + i * PK_QK_K, &y[i], qw ? qw + i * PK_QK_K : NULL);
}
static size_t q6_K_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    return quantize_rows(q6_K_quant_row, PK_Q_Q6_K, src, dst, nr, npr, qw);
}

static void q6_K_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_q6_K *x = src;
    for (int64_t i = 0; i < n / PK_QK_K; i++, dst += PK_QK_K) {
        const float d = pk_fp16_to_fp32(x[i].d);
        int8_t q[PK_QK_K];
        q6_K_levels(&x[i], q);
        for (int k = 0; k < PK_QK_K; k++) dst[k] = d * x[i].scales[k / 16] * (float)q[k];
    }
}

static void vec_dot_q6_K_q8_K(int n, float *out, const void *a, const void *b) {
    const pk_block_q6_K *x = a;
    const pk_block_q8_K *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK_K; i++) {
        int8_t q[PK_QK_K];
        int isum = 0;
        q6_K_levels(&x[i], q);
        for (int j = 0; j < 16; j++) isum += x[i].scales[j] * isum_group(q + 16 * j, y[i].qs + 16 * j, 16);
        sum += (double)y[i].d * pk_fp16_to_fp32(x[i].d) * isum;
    }
    *out = (float)sum;
}

/* ---- iq4_nl / iq4_xs: x = d * kvalues[q] (iq4_xs: d * (ls - 32)) ---- */

/* Index of the table value nearest to v (ties to the lower one only when
 * strictly nearer, as ggml's binary search). */
/* IQ4_FIRST[a + 128]: how many midpoints of neighbouring pk_kvalues_iq4nl
 * entries lie below a - 1. For v in [a - 1, a + 2) every pair below that
 * index is certainly passed and every pair above it certainly not (the
 * midpoints are at least 11 apart), so only one pair needs the exact test. */
static const uint8_t IQ4_FIRST[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5,
    5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10,
    10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 13,
    13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,
    14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
};

int pk_q_iq4_best_index(float v) {
    /* The index is the number of neighbour pairs (t[k], t[k+1]) for which v
     * is at least as near t[k+1] (ties go up): the same answer as a binary
     * search and a nearest-of-two test, with one exact test after a table
     * look-up instead of a chain of mispredicted branches. */
    const int8_t *t = pk_kvalues_iq4nl;
    if (v >= -120.f && v < 120.f) {
        int k = IQ4_FIRST[(int)(v + 128.f)]; /* (int)(v + 128) - 128 is floor(v) or one above */
        return k + (k < 15 && v - (float)t[k] >= (float)t[k + 1] - v);
    }
    int n = 0;
    for (int k = 0; k < 15; k++) n += v - (float)t[k] >= (float)t[k + 1] - v;
    return n;
}

/* One super-block of sb elements (32 for iq4_nl, 256 for iq4_xs) in groups
 * of 32. Per group: scale from the largest element, then 2*ntry+1 nearby
 * scales, keeping the best weighted fit (ntry <= 0: initial fit only).
 * iq4_xs then quantizes the group scales to 6 bits against one fp16 d.
 * L: sb scratch whose contents the iq4_nl reference path may leave in
 * place for an all-zero group (it keeps the previous group's levels). */
static void iq4_superblock(int sb, const float *x, uint16_t *dh, uint8_t *q4, uint16_t *scales_h,
                           uint8_t *scales_l, uint8_t *L, const float *qw, int ntry) {
    const int8_t *t = pk_kvalues_iq4nl;
    float w[32], scales[PK_QK_K / 32];
    float sigma2 = 0;
    for (int j = 0; j < sb; j++) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / sb;
    memset(q4, 0, (size_t)sb / 2);
    *dh = pk_fp32_to_fp16(0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < sb / 32; ib++) {
        const float *xb = x + 32 * ib;
        uint8_t *Lb = L + 32 * ib;
        if (qw)
            for (int j = 0; j < 32; j++) w[j] = qw[32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]);
        else
            for (int j = 0; j < 32; j++) w[j] = xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(xb[j]) > amax) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        if (amax < GROUP_EPS) {
            scales[ib] = 0;
            continue;
        }
        float d = ntry > 0 ? -max / t[0] : max / t[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            int l = pk_q_iq4_best_index(id * xb[j]);
            Lb[j] = (uint8_t)l;
            float q = t[l];
            sumqx += w[j] * q * xb[j];
            sumq2 += w[j] * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; itry++) {
            id = (itry + t[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                float q = t[pk_q_iq4_best_index(id * xb[j])];
                sumqx += w[j] * q * xb[j];
                sumq2 += w[j] * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if (fabsf(d) > amax_scale) {
            amax_scale = fabsf(d);
            max_scale = d;
        }
    }
    if (sb > 32) {
        *scales_h = 0;
        const float d = -max_scale / 32;
        *dh = pk_fp32_to_fp16(d);
        const float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < sb / 32; ib++) {
            int l = clampi(pk_q_nearest_int(id * scales[ib]), -32, 31);
            const float dl = d * l;
            const float idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; j++) L[32 * ib + j] = (uint8_t)pk_q_iq4_best_index(idl * x[32 * ib + j]);
            l += 32;
            if (ib % 2 == 0) scales_l[ib / 2] = (uint8_t)(l & 15);
            else scales_l[ib / 2] |= (uint8_t)((l & 15) << 4);
            *scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        }
    } else {
        *dh = pk_fp32_to_fp16(scales[0]);
        if (ntry > 0) {
            const float id = scales[0] ? 1 / scales[0] : 0;
            for (int j = 0; j < sb; j++) L[j] = (uint8_t)pk_q_iq4_best_index(id * x[j]);
        }
    }
    for (int g = 0; g < sb / 32; g++)
        for (int j = 0; j < 16; j++)
            q4[16 * g + j] = (uint8_t)(L[32 * g + j] | L[32 * g + 16 + j] << 4);
}

/* Reference iq4_nl: initial fit only (ggml's quantize_row_iq4_nl_ref). */
static void iq4_nl_from_float(const float *src, void *dst, int64_t n) {
    pk_block_iq4_nl *y = dst;
    uint8_t L[32] = { 0 };
    for (int64_t i = 0; i < n / PK_QK; i++)
        iq4_superblock(32, src + i * PK_QK, &y[i].d, y[i].qs, NULL, NULL, L, NULL, -1);
}

/* The quantize entry searches 7 scales each side, with or without qw; so
 * with qw NULL it differs from from_float, as ggml's quantize_iq4_nl does. */
static size_t iq4_nl_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    pk_block_iq4_nl *y = dst;
    uint8_t L[32] = { 0 };
    for (int64_t r = 0; r < nr; r++)
        for (int64_t i = 0; i < npr / PK_QK; i++, y++)
            iq4_superblock(32, src + r * npr + i * PK_QK, &y->d, y->qs, NULL, NULL, L,
                           qw ? qw + i * PK_QK : NULL, 7);
    return (size_t)nr * pk_row_size(PK_Q_IQ4_NL, npr);
}

static size_t iq4_xs_quantize(const float *src, void *dst, int64_t nr, int64_t npr, const float *qw) {
    pk_block_iq4_xs *y = dst;
    uint8_t L[PK_QK_K];
    for (int64_t r = 0; r < nr; r++)
        for (int64_t i = 0; i < npr / PK_QK_K; i++, y++)
            iq4_superblock(PK_QK_K, src + r * npr + i * PK_QK_K, &y->d, y->qs, &y->scales_h,
                           y->scales_l, L, qw ? qw + i * PK_QK_K : NULL, 7);
    return (size_t)nr * pk_row_size(PK_Q_IQ4_XS, npr);
}

static void iq4_xs_from_float(const float *src, void *dst, int64_t n) {
    iq4_xs_quantize(src, dst, 1, n, NULL);
}

static void iq4_nl_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_iq4_nl *x = src;
    for (int64_t i = 0; i < n / PK_QK; i++, dst += PK_QK) {
        const float d = pk_fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * pk_kvalues_iq4nl[x[i].qs[j] & 15];
            dst[j + 16] = d * pk_kvalues_iq4nl[x[i].qs[j] >> 4];
        }
    }
}

static void vec_dot_iq4_nl_q8_0(int n, float *out, const void *a, const void *b) {
    const pk_block_iq4_nl *x = a;
    const pk_block_q8_0 *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += pk_kvalues_iq4nl[x[i].qs[j] & 15] * y[i].qs[j] +
                 pk_kvalues_iq4nl[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        sum += (double)(pk_fp16_to_fp32(x[i].d) * pk_fp16_to_fp32(y[i].d)) * s;
    }
    *out = (float)sum;
}

static int iq4_xs_scale(const pk_block_iq4_xs *b, int ib) {
    return (((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | (((b->scales_h >> (2 * ib)) & 3) << 4)) - 32;
}
/* table values of a block: group g, bytes 16g..16g+15, low nibbles first */
static void iq4_xs_levels(const pk_block_iq4_xs *b, int8_t *q) {
    for (int g = 0; g < 8; g++)
        for (int j = 0; j < 16; j++) {
            q[32 * g + j] = pk_kvalues_iq4nl[b->qs[16 * g + j] & 15];
            q[32 * g + 16 + j] = pk_kvalues_iq4nl[b->qs[16 * g + j] >> 4];
        }
}

static void iq4_xs_to_float(const void *src, float *dst, int64_t n) {
    const pk_block_iq4_xs *x = src;
    for (int64_t i = 0; i < n / PK_QK_K; i++, dst += PK_QK_K) {
        const float d = pk_fp16_to_fp32(x[i].d);
        int8_t q[PK_QK_K];
        iq4_xs_levels(&x[i], q);
        for (int g = 0; g < 8; g++) {
            const float dl = d * iq4_xs_scale(&x[i], g);
            for (int k = 32 * g; k < 32 * g + 32; k++) dst[k] = dl * q[k];
        }
    }
}

static void vec_dot_iq4_xs_q8_K(int n, float *out, const void *a, const void *b) {
    const pk_block_iq4_xs *x = a;
    const pk_block_q8_K *y = b;
    double sum = 0;
    for (int i = 0; i < n / PK_QK_K; i++) {
        int8_t q[PK_QK_K];
        int isum = 0;
        iq4_xs_levels(&x[i], q);
        for (int g = 0; g < 8; g++) isum += iq4_xs_scale(&x[i], g) * isum_group(q + 32 * g, y[i].qs + 32 * g, 32);
        sum += (double)y[i].d * pk_fp16_to_fp32(x[i].d) * isum;
    }
    *out = (float)sum;
}

/* ---- table ---- */

static void set_k(pk_qtraits *t, pk_qtype q, pk_to_float_fn to, pk_from_float_fn from,
                  pk_quantize_fn quant, pk_vec_dot_fn dot, pk_qtype dot_type) {
    t[q].to_float = to;
    t[q].from_float = from;
    t[q].quantize = quant;
    t[q].vec_dot = dot;
    t[q].vec_dot_ref = dot;
    t[q].vec_dot_type = dot_type;
}

void pk_quant_ref_k(pk_qtraits *t) {
    set_k(t, PK_Q_Q2_K, q2_K_to_float, q2_K_from_float, q2_K_quantize, vec_dot_q2_K_q8_K, PK_Q_Q8_K);
    set_k(t, PK_Q_Q3_K, q3_K_to_float, q3_K_from_float, q3_K_quantize, vec_dot_q3_K_q8_K, PK_Q_Q8_K);
    set_k(t, PK_Q_Q4_K, q4_K_to_float, q4_K_from_float, q4_K_quantize, vec_dot_q4_K_q8_K, PK_Q_Q8_K);
    set_k(t, PK_Q_Q5_K, q5_K_to_float, q5_K_from_float, q5_K_quantize, vec_dot_q5_K_q8_K, PK_Q_Q8_K);
    set_k(t, PK_Q_Q6_K, q6_K_to_float, q6_K_from_float, q6_K_quantize, vec_dot_q6_K_q8_K, PK_Q_Q8_K);
    /* q8_K is an activation type only: no dot product of its own */
    set_k(t, PK_Q_Q8_K, q8_K_to_float, q8_K_from_float, NULL, NULL, PK_Q_Q8_K);
    set_k(t, PK_Q_IQ4_NL, iq4_nl_to_float, iq4_nl_from_float, iq4_nl_quantize, vec_dot_iq4_nl_q8_0, PK_Q_Q8_0);
    set_k(t, PK_Q_IQ4_XS, iq4_xs_to_float, iq4_xs_from_float, iq4_xs_quantize, vec_dot_iq4_xs_q8_K, PK_Q_Q8_K);
}
