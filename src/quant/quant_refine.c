/* quant_refine.c: refined block quantizers (q4_0, q4_K, q5_K, q6_K,
 * iq4_xs) behind pk_refine_fn(). Stage 1 fits each sub-block's float
 * scale (and min) by weighted least squares over many candidate inverse
 * scales, re-rounding the levels with each fitted scale. Stage 2 picks the
 * super-block scale(s) and the packed integer sub-scales together: for the
 * current super-block scale each sub-block tries the integer sub-scales
 * next to its ideal one (re-rounding its levels for each), then the
 * super-block scale(s) are refitted by least squares given the integers,
 * rounded to fp16, and the round repeats. The result of every block is
 * compared with the reference quantizer's block and the better one kept. */
#include "quant/quant_refine.h"
#include "quant/quant_ref_int.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define ZERO_EPS 1e-15f /* below this a group counts as all zero */
enum { ROUNDS = 4, NCAND = 13 };

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
static float r16(float v) { return pk_fp16_to_fp32(pk_fp32_to_fp16(v)); }

static float signed_absmax(const float *x, int n) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    return max;
}

/* ---- stage 1: per sub-block float fits ---- */

/* Level sets of the symmetric fits: the value nearest to v. */
typedef struct levels {
    int lo, hi;          /* integer levels lo..hi, or the iq4_nl table (nl) */
    bool nl;
} levels;

static float level_of(const levels *lv, float v) {
    if (lv->nl) return pk_kvalues_iq4nl[pk_q_iq4_best_index(v)];
    return (float)clampi(pk_q_nearest_int(v), lv->lo, lv->hi);
}

/* x ~ s * l with l in the level set. Candidates map the largest-magnitude
 * element to 0.8..1.1 times either end level; each rounding gets its
 * weighted least-squares s = sum w x l / sum w l^2 and is re-rounded with
 * 1/s twice. Returns the s of the smallest error (the largest
 * (sum w x l)^2 / sum w l^2), 0 for an all-zero group. */
static float fit_sym(const float *x, const float *w, int n, const levels *lv) {
    float max = signed_absmax(x, n);
    if (fabsf(max) < ZERO_EPS) return 0;
    float ends[2] = { lv->nl ? pk_kvalues_iq4nl[0] : (float)lv->lo,
                      lv->nl ? pk_kvalues_iq4nl[15] : (float)lv->hi };
    float best_s = 0, best_g = 0, L[32], prev[32], first[32];
    bool have_first = false;
    for (int side = 0; side < 2; side++) {
        for (int k = 0; k < NCAND; k++) {
            float is = ends[side] * (0.8f + 0.3f * (float)k / (NCAND - 1)) / max;
            for (int it = 0; it < 3; it++) {
                for (int i = 0; i < n; i++) L[i] = level_of(lv, is * x[i]);
                /* The fit depends on the levels only: levels seen in the
                 * previous step (a fixed point), or a first rounding equal
                 * to the previous candidate's (the same chain), give
                 * nothing new. Skipping them keeps the result exact. */
                size_t nb = sizeof(float) * (size_t)n;
                if (it > 0 && !memcmp(L, prev, nb)) break;
                if (it == 0) {
                    if (have_first && !memcmp(L, first, nb)) break;
                    memcpy(first, L, nb);
                    have_first = true;
                }
                memcpy(prev, L, nb);
                float sxl = 0, sl2 = 0;
                for (int i = 0; i < n; i++) {
                    sxl += w[i] * x[i] * L[i];
                    sl2 += w[i] * L[i] * L[i];
                }
                if (sl2 <= 0 || sxl == 0) break;
                float s = sxl / sl2;
                if (s * sxl > best_g) {
                    best_g = s * sxl;
                    best_s = s;
                }
                is = 1 / s;
            }
        }
    }
    return best_s;
}

/* x ~ s * l - m with l in [0, nmax] and m >= 0 (a group of 32). Candidates
 * spread nmax-1..nmax+1 levels over the range [min(x, 0), max(x)]; each
 * rounding gets the weighted least-squares (s, m), clamped to m >= 0, and
 * is re-rounded with it twice. OUT *s, *m of the smallest error. */
static void fit_affine(const float *x, const float *w, int nmax, float *s_out, float *m_out) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < 32; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (lo > 0) lo = 0;
    *s_out = 0;
    *m_out = -lo;
    if (hi - lo < ZERO_EPS) return;
    float best = FLT_MAX, L[32], prev[32], first[32];
    bool have_first = false;
    for (int k = 0; k <= 20; k++) {
        float is = ((float)nmax - 1.0f + 0.1f * (float)k) / (hi - lo), off = lo;
        for (int it = 0; it < 3; it++) {
            for (int i = 0; i < 32; i++)
                L[i] = (float)clampi(pk_q_nearest_int(is * (x[i] - off)), 0, nmax);
            /* the same levels give the same fit: skip them (see fit_sym) */
            if (it > 0 && !memcmp(L, prev, sizeof(L))) break;
            if (it == 0) {
                if (have_first && !memcmp(L, first, sizeof(L))) break;
                memcpy(first, L, sizeof(L));
                have_first = true;
            }
            memcpy(prev, L, sizeof(L));
            float sw = 0, sl = 0, sl2 = 0, sx = 0, sxl = 0;
            for (int i = 0; i < 32; i++) {
                sw += w[i];
                sl += w[i] * L[i];
                sl2 += w[i] * L[i] * L[i];
                sx += w[i] * x[i];
                sxl += w[i] * x[i] * L[i];
            }
            float det = sw * sl2 - sl * sl;
            if (det <= 0 || sl2 <= 0) break;
            float s = (sw * sxl - sl * sx) / det, b = (sl2 * sx - sl * sxl) / det;
            if (b > 0) {
                b = 0;
                s = sxl / sl2;
            }
            if (s <= 0) break;
            float e = 0;
            for (int i = 0; i < 32; i++) {
                float d = s * L[i] + b - x[i];
                e += w[i] * d * d;
            }
            if (e < best) {
                best = e;
                *s_out = s;
                *m_out = -b;
            }
            is = 1 / s;
            off = b;
        }
    }
}

/* ---- group errors at given quantized scales (levels re-rounded) ---- */

static float sym_group(const float *x, const float *w, int n, int lo, int hi, float dl, int8_t *L) {
    float e = 0, id = dl != 0 ? 1 / dl : 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(pk_q_nearest_int(x[i] * id), lo, hi);
        L[i] = (int8_t)l;
        float d = dl * (float)l - x[i];
        e += w[i] * d * d;
    }
    return e;
}

static float nl_group(const float *x, const float *w, float dl, uint8_t *L) {
    float e = 0, id = dl != 0 ? 1 / dl : 0;
    for (int i = 0; i < 32; i++) {
        int q = pk_q_iq4_best_index(x[i] * id);
        L[i] = (uint8_t)q;
        float d = dl * pk_kvalues_iq4nl[q] - x[i];
        e += w[i] * d * d;
    }
    return e;
}

static float affine_group(const float *x, const float *w, int nmax, float dl, float ml, uint8_t *L) {
    float e = 0;
    for (int i = 0; i < 32; i++) {
        int l = dl > 0 ? clampi(pk_q_nearest_int((x[i] + ml) / dl), 0, nmax) : 0;
        L[i] = (uint8_t)l;
        float d = dl * (float)l - ml - x[i];
        e += w[i] * d * d;
    }
    return e;
}

/* ---- q4_K / q5_K: x = d sc_j l - dmin m_j, 8 groups of 32, 6-bit sc, m ---- */

typedef struct k45_state {
    float d, dmin;
    uint8_t sc[8], m[8], L[PK_QK_K];
} k45_state;

static void k45_refine(const float *x, const float *w, int nmax, k45_state *best) {
    float s[8], mn[8], smax = 0, mmax = 0;
    for (int j = 0; j < 8; j++) {
        fit_affine(x + 32 * j, w + 32 * j, nmax, &s[j], &mn[j]);
        if (s[j] > smax) smax = s[j];
        if (mn[j] > mmax) mmax = mn[j];
    }
    k45_state cur;
    cur.d = r16(smax / 63);
    cur.dmin = r16(mmax / 63);
    float best_e = FLT_MAX;
    memset(best, 0, sizeof(*best));
    for (int round = 0; round < ROUNDS; round++) {
        float tot = 0;
        for (int j = 0; j < 8; j++) {
            int sc0 = cur.d > 0 ? pk_q_nearest_int(s[j] / cur.d) : 0;
            int m0 = cur.dmin > 0 ? pk_q_nearest_int(mn[j] / cur.dmin) : 0;
            float be = FLT_MAX;
            for (int a = PK_MAX(sc0 - 1, 0); a <= PK_MIN(sc0 + 1, 63); a++)
                for (int b = PK_MAX(m0 - 1, 0); b <= PK_MIN(m0 + 1, 63); b++) {
                    uint8_t Lt[32];
                    float e = affine_group(x + 32 * j, w + 32 * j, nmax, cur.d * (float)a,
                                           cur.dmin * (float)b, Lt);
                    if (e < be) {
                        be = e;
                        cur.sc[j] = (uint8_t)a;
                        cur.m[j] = (uint8_t)b;
                        memcpy(cur.L + 32 * j, Lt, 32);
                    }
                }
            tot += be;
        }
        if (tot < best_e) {
            best_e = tot;
            *best = cur;
        }
        /* x ~ d A - dmin B with A = sc_j l, B = m_j: 2x2 normal equations */
        double aa = 0, ab = 0, bb = 0, xa = 0, xb = 0;
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 32; k++) {
                double A = (double)cur.sc[j] * cur.L[32 * j + k], B = cur.m[j], ww = w[32 * j + k];
                aa += ww * A * A;
                ab += ww * A * B;
                bb += ww * B * B;
                xa += ww * x[32 * j + k] * A;
                xb += ww * x[32 * j + k] * B;
            }
        double det = aa * bb - ab * ab, nd, ndmin;
        if (bb > 0 && det > 1e-12 * aa * bb) {
            nd = (xa * bb - xb * ab) / det;
            ndmin = -(aa * xb - ab * xa) / det;
            if (ndmin < 0) {
                ndmin = 0;
                nd = xa / aa;
            }
        } else if (aa > 0) {
            nd = (xa + cur.dmin * xb) / aa;
            ndmin = cur.dmin;
        } else {
            break;
        }
        if (nd <= 0) break;
        cur.d = r16((float)nd);
        cur.dmin = r16((float)ndmin);
    }
}

static void q4_K_block(const float *x, const float *w, void *out) {
    pk_block_q4_K *y = out;
    k45_state st;
    k45_refine(x, w, 15, &st);
    y->d = pk_fp32_to_fp16(st.d);
    y->dmin = pk_fp32_to_fp16(st.dmin);
    pk_q_k4_pack(y->scales, st.sc, st.m);
    memset(y->qs, 0, sizeof(y->qs));
    for (int e = 0; e < PK_QK_K; e++) pk_q_set4(y->qs, e, st.L[e]);
}

static void q5_K_block(const float *x, const float *w, void *out) {
    pk_block_q5_K *y = out;
    k45_state st;
    k45_refine(x, w, 31, &st);
    y->d = pk_fp32_to_fp16(st.d);
    y->dmin = pk_fp32_to_fp16(st.dmin);
    pk_q_k4_pack(y->scales, st.sc, st.m);
    memset(y->qs, 0, sizeof(y->qs));
    memset(y->qh, 0, sizeof(y->qh));
    for (int e = 0; e < PK_QK_K; e++) {
        pk_q_set4(y->qs, e, st.L[e] & 15);
        pk_q_set1(y->qh, e, st.L[e] >> 4);
    }
}

/* ---- symmetric super-blocks: q6_K (16 x 16, int8 scales), iq4_xs ---- */

/* Least-squares super-block scale given sub-scales sc and level values v:
 * x ~ d * sc_j * v_k. Returns 0 when undetermined. */
static float refit_d(const float *x, const float *w, int n_group, int gsize, const int *sc,
                     const float *v) {
    double aa = 0, xa = 0;
    for (int j = 0; j < n_group; j++)
        for (int k = 0; k < gsize; k++) {
            double A = (double)sc[j] * v[j * gsize + k];
            aa += w[j * gsize + k] * A * A;
            xa += w[j * gsize + k] * x[j * gsize + k] * A;
        }
    return aa > 0 ? (float)(xa / aa) : 0;
}

static void q6_K_block(const float *x, const float *w, void *out) {
    pk_block_q6_K *y = out;
    float s[16], smax = 0;
    for (int j = 0; j < 16; j++) {
        s[j] = fit_sym(x + 16 * j, w + 16 * j, 16, &(levels){ -32, 31, false });
        if (fabsf(s[j]) > fabsf(smax)) smax = s[j];
    }
    memset(y, 0, sizeof(*y));
    if (fabsf(smax) < ZERO_EPS) return;
    float d = r16(smax / -128.f), bd = 0, best_e = FLT_MAX, v[PK_QK_K];
    int sc[16], bsc[16] = { 0 };
    int8_t L[PK_QK_K], bL[PK_QK_K] = { 0 };
    for (int round = 0; round < ROUNDS && d != 0; round++) {
        float tot = 0;
        for (int j = 0; j < 16; j++) {
            int c0 = pk_q_nearest_int(s[j] / d);
            float be = FLT_MAX;
            for (int c = PK_MAX(c0 - 1, -128); c <= PK_MIN(c0 + 1, 127); c++) {
                int8_t Lt[16];
                float e = sym_group(x + 16 * j, w + 16 * j, 16, -32, 31, d * (float)c, Lt);
                if (e < be) {
                    be = e;
                    sc[j] = c;
                    memcpy(L + 16 * j, Lt, 16);
                }
            }
            tot += be;
        }
        if (tot < best_e) {
            best_e = tot;
            bd = d;
            memcpy(bsc, sc, sizeof(sc));
            memcpy(bL, L, sizeof(L));
        }
        for (int k = 0; k < PK_QK_K; k++) v[k] = L[k];
        d = r16(refit_d(x, w, 16, 16, sc, v));
    }
    y->d = pk_fp32_to_fp16(bd);
    for (int j = 0; j < 16; j++) y->scales[j] = (int8_t)bsc[j];
    for (int e = 0; e < PK_QK_K; e++) pk_q_q6_set(y, e, bL[e] + 32);
}

static void iq4_xs_block(const float *x, const float *w, void *out) {
    pk_block_iq4_xs *y = out;
    float s[8], smax = 0;
    for (int j = 0; j < 8; j++) {
        s[j] = fit_sym(x + 32 * j, w + 32 * j, 32, &(levels){ 0, 0, true });
        if (fabsf(s[j]) > fabsf(smax)) smax = s[j];
    }
    memset(y, 0, sizeof(*y));
    if (fabsf(smax) < ZERO_EPS) return;
    float d = r16(smax / -32.f), bd = 0, best_e = FLT_MAX, v[PK_QK_K];
    int ls[8], bls[8] = { 0 };
    uint8_t L[PK_QK_K], bL[PK_QK_K] = { 0 };
    for (int round = 0; round < ROUNDS && d != 0; round++) {
        float tot = 0;
        for (int j = 0; j < 8; j++) {
            int c0 = pk_q_nearest_int(s[j] / d);
            float be = FLT_MAX;
            for (int c = PK_MAX(c0 - 1, -32); c <= PK_MIN(c0 + 1, 31); c++) {
                uint8_t Lt[32];
                float e = nl_group(x + 32 * j, w + 32 * j, d * (float)c, Lt);
                if (e < be) {
                    be = e;
                    ls[j] = c;
                    memcpy(L + 32 * j, Lt, 32);
                }
            }
            tot += be;
        }
        if (tot < best_e) {
            best_e = tot;
            bd = d;
            memcpy(bls, ls, sizeof(ls));
            memcpy(bL, L, sizeof(L));
        }
        for (int k = 0; k < PK_QK_K; k++) v[k] = pk_kvalues_iq4nl[L[k]];
        d = r16(refit_d(x, w, 8, 32, ls, v));
    }
    y->d = pk_fp32_to_fp16(bd);
    for (int j = 0; j < 8; j++) {
        int l = bls[j] + 32;
        y->scales_l[j / 2] |= (uint8_t)((l & 15) << (4 * (j % 2)));
        y->scales_h |= (uint16_t)((l >> 4) << (2 * j));
    }
    for (int g = 0; g < 8; g++)
        for (int j = 0; j < 16; j++)
            y->qs[16 * g + j] = (uint8_t)(bL[32 * g + j] | bL[32 * g + 16 + j] << 4);
}

/* ---- q4_0: x = d (q - 8), blocks of 32 ---- */

static void q4_0_block(const float *x, const float *w, void *out) {
    pk_block_q4_0 *y = out;
    float d = r16(fit_sym(x, w, 32, &(levels){ -8, 7, false })), bd = 0, best_e = FLT_MAX;
    int8_t L[32], bL[32] = { 0 };
    for (int round = 0; round < ROUNDS && d != 0; round++) {
        float e = sym_group(x, w, 32, -8, 7, d, L);
        if (e < best_e) {
            best_e = e;
            bd = d;
            memcpy(bL, L, sizeof(L));
        }
        float sxl = 0, sl2 = 0;
        for (int i = 0; i < 32; i++) {
            sxl += w[i] * x[i] * L[i];
            sl2 += w[i] * (float)(L[i] * L[i]);
        }
        d = sl2 > 0 ? r16(sxl / sl2) : 0;
    }
    uint8_t v[32];
    for (int i = 0; i < 32; i++) v[i] = (uint8_t)(bL[i] + 8);
    y->d = pk_fp32_to_fp16(bd);
    pk_q_pack_nibbles32(y->qs, v);
}

/* ---- row driver: refined block or reference block, whichever is better ---- */

typedef void (*block_fn)(const float *x, const float *w, void *out);

static double block_err(const pk_qtraits *q, const void *blk, const float *x, const float *w,
                        float *dec) {
    q->to_float(blk, dec, q->blck);
    double e = 0;
    for (int i = 0; i < q->blck; i++) {
        double d = (double)x[i] - dec[i];
        e += w[i] * d * d;
    }
    return e;
}

static size_t refine_rows(pk_qtype t, block_fn fn, const float *src, void *dst, int64_t n_rows,
                          int64_t n_per_row, const float *qw) {
    const pk_qtraits *q = pk_qtraits_of(t);
    size_t rb = pk_row_size(t, n_per_row);
    if (!q || !rb) {
        pk_err(PK_ERR_INVALID, "refine %s: rows of %lld do not fit the type", pk_qtype_name(t),
               (long long)n_per_row);
        return 0;
    }
    uint8_t *ref = pk_malloc(rb);
    if (!ref) return 0;
    float ones[PK_QK_K], dec[PK_QK_K];
    uint8_t cand[sizeof(pk_block_q6_K)];
    for (int i = 0; i < PK_QK_K; i++) ones[i] = 1;
    for (int64_t r = 0; r < n_rows; r++) {
        const float *x = src + r * n_per_row;
        uint8_t *y = (uint8_t *)dst + (size_t)r * rb;
        if (q->quantize) q->quantize(x, ref, 1, n_per_row, qw);
        else q->from_float(x, ref, n_per_row);
        for (int64_t b = 0; b < n_per_row / q->blck; b++) {
            const float *xb = x + b * q->blck, *wb = qw ? qw + b * q->blck : ones;
            const uint8_t *rblk = ref + (size_t)b * q->bytes;
            fn(xb, wb, cand);
            bool better = block_err(q, cand, xb, wb, dec) < block_err(q, rblk, xb, wb, dec);
            memcpy(y + (size_t)b * q->bytes, better ? cand : rblk, q->bytes);
        }
    }
    pk_free(ref);
    return rb * (size_t)n_rows;
}

#define REFINER(type, fn)                                                                   \
    static size_t refine_##fn(const float *src, void *dst, int64_t nr, int64_t npr,        \
                              const float *qw) {                                           \
        return refine_rows(type, fn, src, dst, nr, npr, qw);                               \
    }
REFINER(PK_Q_Q4_0, q4_0_block)
REFINER(PK_Q_Q4_K, q4_K_block)
REFINER(PK_Q_Q5_K, q5_K_block)
REFINER(PK_Q_Q6_K, q6_K_block)
REFINER(PK_Q_IQ4_XS, iq4_xs_block)

pk_quantize_fn pk_refine_fn(pk_qtype t) {
    switch (t) {
    case PK_Q_Q4_0: return refine_q4_0_block;
    case PK_Q_Q4_K: return refine_q4_K_block;
    case PK_Q_Q5_K: return refine_q5_K_block;
    case PK_Q_Q6_K: return refine_q6_K_block;
    case PK_Q_IQ4_XS: return refine_iq4_xs_block;
    default: return NULL;
    }
}
