/* quant_ref_k.c: reference kernels of the 256-element super-block types:
 * Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS and the activation type Q8_K.
 * Without an importance matrix the quantizers reproduce ggml's reference
 * quantizers (same searches, same rounding); with one, the per-group fits
 * are weighted by it (importance x local magnitude). */
#include "quant/quant_ref_int.h"

#include <math.h>
#include <string.h>

#define GROUP_EPS 1e-15f

static float h2f(uint16_t h) { return pk_fp16_to_fp32(h); }

/* ---- group fitting ---- */

/* Symmetric fit of n values to levels -nmax..nmax-1 (returned in L as
 * 0..2nmax-1). rmse_type 1 weights by x^2 (or by qw when given) and searches
 * 19 scales around nmax/max, keeping the best least-squares fit. */
static float fit_sym(int n, int nmax, const float *x, int8_t *L, const float *qw) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = PK_MAX(-nmax, PK_MIN(nmax - 1, pk_nearest_int(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        float w = qw ? qw[i] : x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (!is) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = PK_MAX(-nmax, PK_MIN(nmax - 1, pk_nearest_int(iscale * x[i])));
            float w = qw ? qw[i] : x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + PK_MAX(-nmax, PK_MIN(nmax - 1, pk_nearest_int(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's symmetric fit: start from nmax/max, then move single levels while
 * the x^2-weighted fit improves (up to 5 sweeps). L gets 0..2nmax-1. */
static float fit_sym_refine(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = PK_MAX(-nmax, PK_MIN(nmax - 1, pk_nearest_int(iscale * x[i])));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int it = 0; it < 5; it++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i], slx = sumlx - w * x[i] * L[i];
            if (slx <= 0) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            int nl = PK_MAX(-nmax, PK_MIN(nmax - 1, pk_nearest_int(x[i] * sl2 / slx)));
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
    return suml2 > 0 ? sumlx / suml2 : 0;
}

/* Affine fit x ~ scale * L - min with L in 0..nmax, weighted: start from
 * (max - min) / nmax, then try nstep+1 inverse scales (rmin + rdelta*is +
 * nmax) / (max - min), each solved in closed form for scale and min.
 * Returns the scale; *the_min receives the (positive) min. */
static float fit_affine(int n, int nmax, const float *x, const float *w, uint8_t *L,
                        float *the_min, float rmin, float rdelta, int nstep, bool use_mad) {
    uint8_t Laux[32];
    float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        min = PK_MIN(min, x[i]);
        max = PK_MAX(max, x[i]);
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_err = 0;
    for (int i = 0; i < n; i++) {
        int l = PK_MAX(0, PK_MIN(nmax, pk_nearest_int(iscale * (x[i] - min))));
        L[i] = (uint8_t)l;
        float diff = scale * l + min - x[i];
        best_err += w[i] * (use_mad ? fabsf(diff) : diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = PK_MAX(0, PK_MIN(nmax, pk_nearest_int(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            sl += w[i] * l;
            sl2 += w[i] * l * l;
            sxl += w[i] * l * x[i];
        }
        float D = sum_w * sl2 - sl * sl;
        if (D <= 0) continue;
        float ts = (sum_w * sxl - sum_x * sl) / D, tm = (sl2 * sum_x - sl * sxl) / D;
        if (tm > 0) {
            tm = 0;
            ts = sxl / sl2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = ts * Laux[i] + tm - x[i];
            err += w[i] * (use_mad ? fabsf(diff) : diff * diff);
        }
        if (err < best_err) {
            memcpy(L, Laux, (size_t)n);
            best_err = err;
            scale = ts;
            min = tm;
        }
    }
    *the_min = -min;
    return scale;
}

/* 6-bit scale/min packing of Q4_K and Q5_K (8 groups in 12 bytes) */
static void put_scale_min_k4(int j, uint8_t *q, uint8_t ls, uint8_t lm) {
    if (j < 4) {
        q[j] = ls;
        q[j + 4] = lm;
    } else {
        q[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        q[j - 4] |= (uint8_t)((ls >> 4) << 6);
        q[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* ---- Q4_K / Q5_K ---- */

/* One super-block of Q4_K (nmax 15) or Q5_K (nmax 31): fit the 8 groups of
 * 32, quantize their scales and mins to 6 bits, requantize values with the
 * rounded scales. qw: imatrix for these 256 columns or NULL. */
static void kq_affine_block(const float *x, int nmax, const float *qw, uint16_t *d_out,
                            uint16_t *dmin_out, uint8_t *scales, uint8_t *L) {
    float w[32], sc[8], mn[8], max_scale = 0, max_min = 0;
    float sum_x2 = 0;
    for (int l = 0; l < PK_QK_K; l++) sum_x2 += x[l] * x[l];
    float sigma2 = 2 * sum_x2 / PK_QK_K;
    for (int j = 0; j < 8; j++) {
        const float *xg = x + 32 * j;
        if (qw) {
            for (int l = 0; l < 32; l++) w[l] = qw[32 * j + l] * sqrtf(sigma2 + xg[l] * xg[l]);
            sc[j] = fit_affine(32, nmax, xg, w, L + 32 * j, &mn[j], -0.9f, 0.05f, 36, false);
        } else {
            float s2 = 0;
            for (int l = 0; l < 32; l++) s2 += xg[l] * xg[l];
            float av = sqrtf(s2 / 32);
            for (int l = 0; l < 32; l++) w[l] = av + fabsf(xg[l]);
            sc[j] = nmax == 15 ? fit_affine(32, 15, xg, w, L + 32 * j, &mn[j], -1.f, 0.1f, 20, false)
                               : fit_affine(32, 31, xg, w, L + 32 * j, &mn[j], -0.5f, 0.1f, 15, false);
        }
        max_scale = PK_MAX(max_scale, sc[j]);
        max_min = PK_MAX(max_min, mn[j]);
    }
    float inv_s = max_scale > 0 ? 63.f / max_scale : 0.f, inv_m = max_min > 0 ? 63.f / max_min : 0.f;
    memset(scales, 0, PK_K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)pk_nearest_int(inv_s * sc[j]), lm = (uint8_t)pk_nearest_int(inv_m * mn[j]);
        put_scale_min_k4(j, scales, PK_MIN(63, ls), PK_MIN(63, lm));
    }
    *d_out = pk_fp32_to_fp16(max_scale / 63.f);
    *dmin_out = pk_fp32_to_fp16(max_min / 63.f);
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        get_scale_min_k4(j, scales, &s, &m);
        float d = h2f(*d_out) * s;
        if (!d) continue;
        float dm = h2f(*dmin_out) * m;
        for (int i = 0; i < 32; i++)
            L[32 * j + i] = (uint8_t)PK_MAX(0, PK_MIN(nmax, pk_nearest_int((x[32 * j + i] + dm) / d)));
    }
}

static void q4_K_row(const float *x, pk_block_q4_K *y, int64_t k, const float *qw) {
    uint8_t L[PK_QK_K];
    for (int64_t i = 0; i < k / PK_QK_K; i++, x += PK_QK_K) {
        kq_affine_block(x, 15, qw ? qw + i * PK_QK_K : NULL, &y[i].d, &y[i].dmin, y[i].scales, L);
        for (int j = 0; j < PK_QK_K; j += 64)
            for (int l = 0; l < 32; l++) y[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

static void q4_K_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q4_K *x = vx;
    for (int64_t i = 0; i < k / PK_QK_K; i++) {
        float d = h2f(x[i].d), mn = h2f(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int j = 0, is = 0; j < PK_QK_K; j += 64, q += 32, is += 2) {
            uint8_t s, m;
            get_scale_min_k4(is, x[i].scales, &s, &m);
            float d1 = d * s, m1 = mn * m;
            get_scale_min_k4(is + 1, x[i].scales, &s, &m);
            float d2 = d * s, m2 = mn * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void q5_K_row(const float *x, pk_block_q5_K *y, int64_t k, const float *qw) {
    uint8_t L[PK_QK_K];
    for (int64_t i = 0; i < k / PK_QK_K; i++, x += PK_QK_K) {
        kq_affine_block(x, 31, qw ? qw + i * PK_QK_K : NULL, &y[i].d, &y[i].dmin, y[i].scales, L);
        memset(y[i].qh, 0, sizeof(y[i].qh));
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < PK_QK_K; n += 64, m1 <<= 2, m2 <<= 2) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    y[i].qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    y[i].qh[j] |= m2;
                }
                y[i].qs[n / 2 + j] = (uint8_t)(l1 | (l2 << 4));
            }
        }
    }
}

static void q5_K_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q5_K *x = vx;
    for (int64_t i = 0; i < k / PK_QK_K; i++) {
        float d = h2f(x[i].d), mn = h2f(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < PK_QK_K; j += 64, ql += 32, is += 2, u1 <<= 2, u2 <<= 2) {
            uint8_t s, m;
            get_scale_min_k4(is, x[i].scales, &s, &m);
            float d1 = d * s, m1 = mn * m;
            get_scale_min_k4(is + 1, x[i].scales, &s, &m);
            float d2 = d * s, m2 = mn * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

/* ---- Q6_K ---- */

static void q6_K_row(const float *x, pk_block_q6_K *y, int64_t k, const float *qw) {
    int8_t L[PK_QK_K];
    float sc[16];
    for (int64_t i = 0; i < k / PK_QK_K; i++, x += PK_QK_K) {
        float max_scale = 0, max_abs = 0;
        for (int ib = 0; ib < 16; ib++) {
            sc[ib] = fit_sym(16, 32, x + 16 * ib, L + 16 * ib, qw ? qw + i * PK_QK_K + 16 * ib : NULL);
            if (fabsf(sc[ib]) > max_abs) {
                max_abs = fabsf(sc[ib]);
                max_scale = sc[ib];
            }
        }
        if (max_abs < GROUP_EPS) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = pk_fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < 16; ib++) y[i].scales[ib] = (int8_t)PK_MIN(127, pk_nearest_int(iscale * sc[ib]));
        for (int j = 0; j < 16; j++) {
            float d = h2f(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (int8_t)(PK_MAX(-32, PK_MIN(31, pk_nearest_int(x[16 * j + ii] / d))) + 32);
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < PK_QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                uint8_t a = (uint8_t)L[j + l], b = (uint8_t)L[j + l + 32], c = (uint8_t)L[j + l + 64],
                        e = (uint8_t)L[j + l + 96];
                ql[l] = (uint8_t)((a & 0xF) | ((c & 0xF) << 4));
                ql[l + 32] = (uint8_t)((b & 0xF) | ((e & 0xF) << 4));
                qh[l] = (uint8_t)((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
            }
        }
    }
}

static void q6_K_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q6_K *x = vx;
    for (int64_t i = 0; i < k / PK_QK_K; i++) {
        float d = h2f(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < PK_QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

/* ---- Q2_K ---- */

static void q2_K_row(const float *x, pk_block_q2_K *y, int64_t k, const float *qw) {
    uint8_t L[PK_QK_K];
    float w[16], sc[16], mn[16];
    for (int64_t i = 0; i < k / PK_QK_K; i++, x += PK_QK_K) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++)
                w[l] = qw ? qw[i * PK_QK_K + 16 * j + l] * fabsf(x[16 * j + l]) + 1e-30f
                          : fabsf(x[16 * j + l]);
            sc[j] = fit_affine(16, 3, x + 16 * j, w, L + 16 * j, &mn[j], -0.5f, 0.1f, 15, true);
            max_scale = PK_MAX(max_scale, sc[j]);
            max_min = PK_MAX(max_min, mn[j]);
        }
        if (max_scale > 0) {
            float is = 15.f / max_scale;
            for (int j = 0; j < 16; j++) y[i].scales[j] = (uint8_t)pk_nearest_int(is * sc[j]);
            y[i].d = pk_fp32_to_fp16(max_scale / 15.f);
        } else {
            memset(y[i].scales, 0, 16);
            y[i].d = pk_fp32_to_fp16(0.f);
        }
        if (max_min > 0) {
            float is = 15.f / max_min;
            for (int j = 0; j < 16; j++) y[i].scales[j] |= (uint8_t)(pk_nearest_int(is * mn[j]) << 4);
            y[i].dmin = pk_fp32_to_fp16(max_min / 15.f);
        } else {
            y[i].dmin = pk_fp32_to_fp16(0.f);
        }
        for (int j = 0; j < 16; j++) {
            float d = h2f(y[i].d) * (y[i].scales[j] & 0xF);
            if (!d) continue;
            float dm = h2f(y[i].dmin) * (y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (uint8_t)PK_MAX(0, PK_MIN(3, pk_nearest_int((x[16 * j + ii] + dm) / d)));
        }
        for (int j = 0; j < PK_QK_K; j += 128)
            for (int l = 0; l < 32; l++)
                y[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                               (L[j + l + 96] << 6));
    }
}

static void q2_K_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q2_K *x = vx;
    for (int64_t i = 0; i < k / PK_QK_K; i++) {
        float d = h2f(x[i].d), mn = h2f(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int n = 0; n < PK_QK_K; n += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    uint8_t sc = x[i].scales[is++];
                    float dl = d * (sc & 0xF), ml = mn * (sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

/* ---- Q3_K ---- */

static int q3_K_scale(const uint8_t *s, int j) {
    int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

static void q3_K_row(const float *x, pk_block_q3_K *y, int64_t k, const float *qw) {
    int8_t L[PK_QK_K];
    float sc[16];
    for (int64_t i = 0; i < k / PK_QK_K; i++, x += PK_QK_K) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            sc[j] = qw ? fit_sym(16, 4, x + 16 * j, L + 16 * j, qw + i * PK_QK_K + 16 * j)
                       : fit_sym_refine(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(sc[j]) > amax) {
                amax = fabsf(sc[j]);
                max_scale = sc[j];
            }
        }
        memset(y[i].scales, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = PK_MAX(-32, PK_MIN(31, pk_nearest_int(iscale * sc[j]))) + 32;
                if (j < 8) y[i].scales[j] = (uint8_t)(l & 0xF);
                else y[i].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
                y[i].scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[i].d = pk_fp32_to_fp16(1 / iscale);
        } else {
            y[i].d = pk_fp32_to_fp16(0.f);
        }
        for (int j = 0; j < 16; j++) {
            float d = h2f(y[i].d) * q3_K_scale(y[i].scales, j);
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (int8_t)(PK_MAX(-4, PK_MIN(3, pk_nearest_int(x[16 * j + ii] / d))) + 4);
        }
        memset(y[i].hmask, 0, sizeof(y[i].hmask));
        for (int j = 0, m = 0, hm = 1; j < PK_QK_K; j++) {
            if (L[j] > 3) {
                y[i].hmask[m] |= (uint8_t)hm;
                L[j] -= 4;
            }
            if (++m == PK_QK_K / 8) {
                m = 0;
                hm <<= 1;
            }
        }
        for (int j = 0; j < PK_QK_K; j += 128)
            for (int l = 0; l < 32; l++)
                y[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                               (L[j + l + 96] << 6));
    }
}

static void q3_K_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q3_K *x = vx;
    for (int64_t i = 0; i < k / PK_QK_K; i++) {
        float d_all = h2f(x[i].d);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int n = 0; n < PK_QK_K; n += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int half = 0; half < 2; half++) {
                    float dl = d_all * q3_K_scale(x[i].scales, is++);
                    for (int l = 0; l < 16; l++) {
                        int o = l + 16 * half;
                        *y++ = dl * (((q[o] >> shift) & 3) - ((hm[o] & m) ? 0 : 4));
                    }
                }
            }
        }
    }
}

/* ---- IQ4_XS: IQ4_NL levels, 8 groups of 32 with 6-bit scales ---- */

static void iq4_xs_row(const float *x, pk_block_iq4_xs *y, int64_t k, const float *qw) {
    uint8_t L[PK_QK_K];
    float w[32], sc[8];
    for (int64_t i = 0; i < k / PK_QK_K; i++, x += PK_QK_K) {
        float sigma2 = 0;
        for (int j = 0; j < PK_QK_K; j++) sigma2 += x[j] * x[j];
        sigma2 *= 2.f / PK_QK_K;
        memset(y[i].qs, 0, sizeof(y[i].qs));
        float max_scale = 0, amax = 0;
        for (int ib = 0; ib < 8; ib++) {
            const float *xb = x + 32 * ib;
            for (int j = 0; j < 32; j++)
                w[j] = qw ? qw[i * PK_QK_K + 32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
            sc[ib] = pk_iq4_group_scale(xb, w, 32, 7, L + 32 * ib);
            if (fabsf(sc[ib]) > amax) {
                amax = fabsf(sc[ib]);
                max_scale = sc[ib];
            }
        }
        float d = -max_scale / 32, id = d ? 1 / d : 0.f;
        y[i].d = pk_fp32_to_fp16(d);
        y[i].scales_h = 0;
        memset(y[i].scales_l, 0, sizeof(y[i].scales_l));
        for (int ib = 0; ib < 8; ib++) {
            int l = PK_MAX(-32, PK_MIN(31, pk_nearest_int(id * sc[ib])));
            float dl = d * l, idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; j++) L[32 * ib + j] = (uint8_t)pk_iq4_best_index(idl * x[32 * ib + j]);
            l += 32;
            y[i].scales_l[ib / 2] |= (uint8_t)((l & 0xF) << (4 * (ib % 2)));
            y[i].scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        }
        for (int g = 0; g < 8; g++)
            for (int j = 0; j < 16; j++)
                y[i].qs[16 * g + j] = (uint8_t)(L[32 * g + j] | (L[32 * g + 16 + j] << 4));
    }
}

static void iq4_xs_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_iq4_xs *x = vx;
    for (int64_t i = 0; i < k / PK_QK_K; i++) {
        const uint8_t *qs = x[i].qs;
        float d = h2f(x[i].d);
        for (int ib = 0; ib < 8; ib++, y += 32, qs += 16) {
            int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((x[i].scales_h >> (2 * ib)) & 3) << 4);
            float dl = d * (ls - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * pk_kvalues_iq4nl[qs[j] & 0xF];
                y[j + 16] = dl * pk_kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}

/* ---- Q8_K: d = max / -127 (sign kept), per-16 sums for the dots ---- */

static void q8_K_from_float(const float *x, void *vy, int64_t k) {
    pk_block_q8_K *y = vy;
    for (int64_t i = 0; i < k / PK_QK_K; i++, x += PK_QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < PK_QK_K; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        if (!amax) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        float iscale = -127.f / max;
        for (int j = 0; j < PK_QK_K; j++) y[i].qs[j] = (int8_t)PK_MIN(127, pk_nearest_int(iscale * x[j]));
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)s;
        }
        y[i].d = 1 / iscale;
    }
}

static void q8_K_to_float(const void *vx, float *y, int64_t k) {
    const pk_block_q8_K *x = vx;
    for (int64_t i = 0; i < k / PK_QK_K; i++)
        for (int j = 0; j < PK_QK_K; j++) *y++ = x[i].d * x[i].qs[j];
}

/* ---- row entry points ---- */

#define ROW_FNS(T, BLOCK)                                                       \
    static void T##_from_float(const float *x, void *y, int64_t k) {            \
        T##_row(x, y, k, NULL);                                                 \
    }                                                                           \
    static size_t T##_quantize(const float *src, void *dst, int64_t nr,         \
                               int64_t npr, const float *qw) {                  \
        size_t rb = (size_t)(npr / PK_QK_K) * sizeof(BLOCK);                    \
        for (int64_t r = 0; r < nr; r++)                                        \
            T##_row(src + r * npr, (BLOCK *)((uint8_t *)dst + r * rb), npr, qw); \
        return rb * (size_t)nr;                                                 \
    }

ROW_FNS(q2_K, pk_block_q2_K)
ROW_FNS(q3_K, pk_block_q3_K)
ROW_FNS(q4_K, pk_block_q4_K)
ROW_FNS(q5_K, pk_block_q5_K)
ROW_FNS(q6_K, pk_block_q6_K)
ROW_FNS(iq4_xs, pk_block_iq4_xs)

DEFINE_DOT_VIA_FLOAT(dot_q2_K, q2_K_to_float, pk_block_q2_K, q8_K_to_float, pk_block_q8_K, PK_QK_K)
DEFINE_DOT_VIA_FLOAT(dot_q3_K, q3_K_to_float, pk_block_q3_K, q8_K_to_float, pk_block_q8_K, PK_QK_K)
DEFINE_DOT_VIA_FLOAT(dot_q4_K, q4_K_to_float, pk_block_q4_K, q8_K_to_float, pk_block_q8_K, PK_QK_K)
DEFINE_DOT_VIA_FLOAT(dot_q5_K, q5_K_to_float, pk_block_q5_K, q8_K_to_float, pk_block_q8_K, PK_QK_K)
DEFINE_DOT_VIA_FLOAT(dot_q6_K, q6_K_to_float, pk_block_q6_K, q8_K_to_float, pk_block_q8_K, PK_QK_K)
DEFINE_DOT_VIA_FLOAT(dot_iq4_xs, iq4_xs_to_float, pk_block_iq4_xs, q8_K_to_float, pk_block_q8_K, PK_QK_K)

static void set(pk_qtraits *t, pk_qtype ty, pk_to_float_fn to, pk_from_float_fn from,
                pk_quantize_fn qz, pk_vec_dot_fn dot) {
    t[ty].to_float = to;
    t[ty].from_float = from;
    t[ty].quantize = qz;
    t[ty].vec_dot = t[ty].vec_dot_ref = dot;
    t[ty].vec_dot_type = PK_Q_Q8_K;
}

void pk_quant_ref_k(pk_qtraits *t) {
    set(t, PK_Q_Q2_K, q2_K_to_float, q2_K_from_float, q2_K_quantize, dot_q2_K);
    set(t, PK_Q_Q3_K, q3_K_to_float, q3_K_from_float, q3_K_quantize, dot_q3_K);
    set(t, PK_Q_Q4_K, q4_K_to_float, q4_K_from_float, q4_K_quantize, dot_q4_K);
    set(t, PK_Q_Q5_K, q5_K_to_float, q5_K_from_float, q5_K_quantize, dot_q5_K);
    set(t, PK_Q_Q6_K, q6_K_to_float, q6_K_from_float, q6_K_quantize, dot_q6_K);
    set(t, PK_Q_IQ4_XS, iq4_xs_to_float, iq4_xs_from_float, iq4_xs_quantize, dot_iq4_xs);
    set(t, PK_Q_Q8_K, q8_K_to_float, q8_K_from_float, NULL, NULL);
}
