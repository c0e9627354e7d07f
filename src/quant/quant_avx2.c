/* quant_avx2.c: x86 AVX2/FMA/F16C dot products for the types people run:
 * F32, F16, Q8_0 and Q4_0 against Q8_0 activations, Q4_K and Q6_K against
 * Q8_K. Integer products use maddubs (unsigned x signed bytes -> int16
 * pairs) and madd (-> int32); block scales are applied in float. Each kernel
 * equals its _ref in quant_ref_*.c up to float summation order (tested in
 * tests/test_kernels.c on random data with edge values). Also SwiGLU's
 * silu(g) * u with a vector e^x (pk_silu_mul_avx2). Compiled with
 * -mavx2 -mfma -mf16c; only called after the CPU check in quant_simd.c. */
#include "quant/quant_avx2_int.h"
#include "quant/quant_int.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* ---- f32 / f16 ---- */

static void dot_f32(int n, float *out, const void *a, const void *b) {
    const float *x = a, *y = b;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    }
    float s = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += x[i] * y[i]; /* tail */
    *out = s;
}

static void dot_f16(int n, float *out, const void *a, const void *b) {
    const uint16_t *x = a, *y = b;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        __m256 y0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i)));
        __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8)));
        __m256 y1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 8)));
        acc0 = _mm256_fmadd_ps(x0, y0, acc0);
        acc1 = _mm256_fmadd_ps(x1, y1, acc1);
    }
    float s = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += h2f(x[i]) * h2f(y[i]); /* tail */
    *out = s;
}

static void f16_to_f32_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++) dst[i] = h2f(h[i]); /* tail */
}

/* y += a * x, x f16 */
static void mad_f16(int n, float *y, float a, const void *x) {
    const uint16_t *h = x;
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))),
                                                _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * h2f(h[i]); /* tail */
}

/* ---- activation quantizers (bit-exact to the reference) ---- */

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* 32 int32 (four registers, each within -127..127) -> 32 int8 in order */
static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* roundf: round half away from zero; t + (|v - t| >= 0.5 ? sign(v) : 0)
 * with t = v truncated (v - t is exact) */
static inline __m256i round_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(sign, v));
    __m256 up = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(0.5f), _CMP_GE_OQ), one);
    return _mm256_cvttps_epi32(_mm256_add_ps(t, up));
}

/* q8_0: d = amax / 127, q = roundf(x / d), as q8_block in quant_ref_simple.c */
static void q8_0_from_f32(const float *src, void *dst, int64_t n) {
    pk_block_q8_0 *y = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / PK_QK; i++, src += PK_QK) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(src + 8 * k);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
        }
        const float d = hmax_ps(m) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = round_away(_mm256_mul_ps(v[k], _mm256_set1_ps(id)));
        _mm256_storeu_si256((__m256i *)y[i].qs, pack32(q[0], q[1], q[2], q[3]));
        y[i].d = _cvtss_sh(d, 0);
    }
}

/* q8_K: scale from the first element of largest magnitude, q = nearest
 * (ties to even) of -127 x / max, capped at 127, sums of 16, as in
 * quant_ref_k.c */
static void q8_K_from_f32(const float *src, void *dst, int64_t n) {
    pk_block_q8_K *y = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / PK_QK_K; i++, src += PK_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < PK_QK_K; k += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(src + k)));
        const float amax = hmax_ps(m);
        memset(&y[i], 0, sizeof(y[i]));
        if (!amax) continue;
        float max = 0; /* the first element of magnitude amax, 8 compared at a time */
        for (int k = 0; k < PK_QK_K; k += 8) {
            __m256 v = _mm256_loadu_ps(src + k);
            int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit) {
                max = src[k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        for (int k = 0; k < PK_QK_K; k += 32) {
            __m256i q[4];
            for (int j = 0; j < 4; j++)
                q[j] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(src + k + 8 * j))),
                                        _mm256_set1_epi32(127));
            for (int h = 0; h < 2; h++) { /* sums of 16 */
                __m256i s = _mm256_add_epi32(q[2 * h], q[2 * h + 1]);
                __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
                s4 = _mm_hadd_epi32(s4, s4);
                s4 = _mm_hadd_epi32(s4, s4);
                y[i].bsums[k / 16 + h] = (int16_t)_mm_cvtsi128_si32(s4);
            }
            _mm256_storeu_si256((__m256i *)(y[i].qs + k), pack32(q[0], q[1], q[2], q[3]));
        }
        y[i].d = 1 / iscale;
    }
}

/* ---- q8_0 x q8_0, q4_0 x q8_0 ---- */

static void dot_q8_0(int n, float *out, const void *a, const void *b) {
    const pk_block_q8_0 *x = a, *y = b;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / PK_QK; i++) {
        __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(qx, qy)), acc);
    }
    *out = hsum_ps(acc);
}

static void dot_q4_0(int n, float *out, const void *a, const void *b) {
    const pk_block_q4_0 *x = a;
    const pk_block_q8_0 *y = b;
    __m256 acc = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi8(8);
    for (int i = 0; i < n / PK_QK; i++) {
        __m256i qx = _mm256_sub_epi8(nibbles32(x[i].qs), eight);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(qx, qy)), acc);
    }
    *out = hsum_ps(acc);
}

static void k4_scales(const uint8_t *s, uint8_t *sc, uint8_t *mn);

/* one weight block against four activation rows: the weights are unpacked
 * once; integer dots are exact, so the results equal four dot_q4_0 calls up
 * to float summation order */
/* block i of signed weights qx (scale dx) against block i of four q8_0
 * rows, accumulated into acc */
static inline void dot4_blocks_q8(__m256i qx, float dx, const uint8_t *yb, size_t bs, int i, __m256 *acc) {
    __m256i ax = _mm256_sign_epi8(qx, qx);
    for (int t = 0; t < 4; t++) {
        const pk_block_q8_0 *y = (const pk_block_q8_0 *)(yb + (size_t)t * bs) + i;
        __m256i qy = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y->qs), qx);
        __m256 d = _mm256_set1_ps(dx * h2f(y->d));
        acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_s8(ax, qy)), acc[t]);
    }
}

static void dot4_q4_0(int n, float *out, size_t os, const void *a, const void *b, size_t bs) {
    const pk_block_q4_0 *x = a;
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    const __m256i eight = _mm256_set1_epi8(8);
    for (int i = 0; i < n / PK_QK; i++)
        dot4_blocks_q8(_mm256_sub_epi8(nibbles32(x[i].qs), eight), h2f(x[i].d), b, bs, i, acc);
    for (int t = 0; t < 4; t++) out[(size_t)t * os] = hsum_ps(acc[t]);
}

static void dot4_q8_0(int n, float *out, size_t os, const void *a, const void *b, size_t bs) {
    const pk_block_q8_0 *x = a;
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    for (int i = 0; i < n / PK_QK; i++)
        dot4_blocks_q8(_mm256_loadu_si256((const __m256i *)x[i].qs), h2f(x[i].d), b, bs, i, acc);
    for (int t = 0; t < 4; t++) out[(size_t)t * os] = hsum_ps(acc[t]);
}

/* q4_K against four q8_K rows: nibbles split once per 64 values */
static void dot4_q4_K(int n, float *out, size_t os, const void *a, const void *b, size_t bs) {
    const pk_block_q4_K *x = a;
    const uint8_t *yb = b;
    float sum[4] = { 0, 0, 0, 0 };
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int i = 0; i < n / PK_QK_K; i++) {
        uint8_t sc[8], mn[8];
        k4_scales(x[i].scales, sc, mn);
        const pk_block_q8_K *y[4];
        __m256i acc[4];
        for (int t = 0; t < 4; t++) {
            y[t] = (const pk_block_q8_K *)(yb + (size_t)t * bs) + i;
            acc[t] = _mm256_setzero_si256();
        }
        const uint8_t *q4 = x[i].qs;
        for (int j = 0; j < 4; j++, q4 += 32) {
            __m256i bits = _mm256_loadu_si256((const __m256i *)q4);
            __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            __m256i s0 = _mm256_set1_epi16(sc[2 * j]), s1 = _mm256_set1_epi16(sc[2 * j + 1]);
            for (int t = 0; t < 4; t++) {
                const int8_t *q8 = y[t]->qs + 64 * j;
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8)), s0);
                __m256i p1 =
                    _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32))), s1);
                acc[t] = _mm256_add_epi32(acc[t], _mm256_add_epi32(p0, p1));
            }
        }
        float dxd = h2f(x[i].d), dxm = h2f(x[i].dmin);
        for (int t = 0; t < 4; t++) {
            int msum = 0;
            for (int j = 0; j < 8; j++) msum += mn[j] * (y[t]->bsums[2 * j] + y[t]->bsums[2 * j + 1]);
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc[t]), _mm256_extracti128_si256(acc[t], 1));
            s4 = _mm_hadd_epi32(s4, s4);
            s4 = _mm_hadd_epi32(s4, s4);
            sum[t] += y[t]->d * dxd * (float)_mm_cvtsi128_si32(s4) - y[t]->d * dxm * (float)msum;
        }
    }
    for (int t = 0; t < 4; t++) out[(size_t)t * os] = sum[t];
}

/* ---- q4_K x q8_K ---- */

static void k4_scales(const uint8_t *s, uint8_t *sc, uint8_t *mn) {
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            sc[j] = s[j] & 63;
            mn[j] = s[j + 4] & 63;
        } else {
            sc[j] = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
            mn[j] = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
        }
    }
}

static void dot_q4_K(int n, float *out, const void *a, const void *b) {
    const pk_block_q4_K *x = a;
    const pk_block_q8_K *y = b;
    float sum = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int i = 0; i < n / PK_QK_K; i++) {
        uint8_t sc[8], mn[8];
        k4_scales(x[i].scales, sc, mn);
        float d = y[i].d * h2f(x[i].d), dmin = y[i].d * h2f(x[i].dmin);
        /* the mins: sum over sub-blocks of m * (sum of its 32 activations) */
        int msum = 0;
        for (int j = 0; j < 8; j++) msum += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        __m256i acc = _mm256_setzero_si256();
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        for (int j = 0; j < 4; j++, q4 += 32, q8 += 64) {
            __m256i bits = _mm256_loadu_si256((const __m256i *)q4);
            __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            p0 = _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * j]));
            p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * j + 1]));
            acc = _mm256_add_epi32(acc, _mm256_add_epi32(p0, p1));
        }
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        sum += d * (float)_mm_cvtsi128_si32(s4) - dmin * (float)msum;
    }
    *out = sum;
}

/* ---- q6_K x q8_K ---- */

/* 128 q6_K values (64 bytes of ql, 32 of qh) -> q[0..3], 32 each, 0..63:
 * the two high bits of value 32 g + l are bits 2g, 2g+1 of qh[l], moved to
 * bits 4-5 by one 16-bit shift and a mask (a shift across the byte
 * boundary only brings bits that the mask drops) */
static inline void q6_unpack(const uint8_t *ql, const uint8_t *qh, __m256i *q) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
    __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(h, m30));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
}

static void dot_q6_K(int n, float *out, const void *a, const void *b) {
    const pk_block_q6_K *x = a;
    const pk_block_q8_K *y = b;
    float sum = 0;
    for (int i = 0; i < n / PK_QK_K; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs, *sc = x[i].scales;
        /* values are q - 32 with q in 0..63: sum q*y*s, then take 32*s*sum(y) */
        int bias = 0;
        for (int j = 0; j < 16; j++) bias += sc[j] * y[i].bsums[j];
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++, ql += 64, qh += 32, q8 += 128, sc += 8) {
            __m256i q[4];
            q6_unpack(ql, qh, q);
            for (int k = 0; k < 4; k++) {
                /* 32 values: two sub-blocks of 16 with scales sc[2k], sc[2k+1] */
                __m256i p = _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)(q8 + 32 * k)));
                __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
            }
        }
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        sum += y[i].d * h2f(x[i].d) * (float)(_mm_cvtsi128_si32(s4) - 32 * bias);
    }
    *out = sum;
}

#include "quant/gemv_q8_avx2.inc"

/* Activation side of a q4_K / q5_K GEMV call, laid out once per call
 * instead of once per row (k_bsums32). K_MAX super-blocks per row (n <=
 * 32768); longer rows take the vec_dot loop. */
enum { K_MAX = 128 };


/* one q4_K or q5_K row against x (they share the scales and nibbles; q5_K
 * adds bit g of qh[l] as bit 4 of value 32 g + l): sum over super-blocks of
 * d * dy * sum(sc * q * y) - dmin * dy * sum(m * bsum). The shuffle port
 * is the busy one (llvm-mca, Sapphire Rapids: 22 -> 19.5 cycles per
 * super-block): the scales go as int16 pairs to a stack array, 2 pshufb,
 * and each sub-block's madd operand is a broadcast load from it. */
static inline __attribute__((always_inline)) float row_q45_K(const uint8_t *w, size_t bytes,
                                                             const pk_block_q8_K *yb, const __m128i *bs32, int nb,
                                                             bool q5) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const __m128i sc_pairs0 = _mm_setr_epi8(K4_SC(0), -1, K4_SC(0), -1, K4_SC(1), -1, K4_SC(1), -1, K4_SC(2), -1,
                                            K4_SC(2), -1, K4_SC(3), -1, K4_SC(3), -1);
    const __m128i sc_pairs1 = _mm_setr_epi8(K4_SC(4), -1, K4_SC(4), -1, K4_SC(5), -1, K4_SC(5), -1, K4_SC(6), -1,
                                            K4_SC(6), -1, K4_SC(7), -1, K4_SC(7), -1);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int i = 0; i < nb; i++, w += bytes, yb++) {
        const pk_block_q4_K *b4 = (const pk_block_q4_K *)w;
        const pk_block_q5_K *b5 = (const pk_block_q5_K *)w;
        const uint8_t *qs = q5 ? b5->qs : b4->qs;
        prefetch_lines(w, 3); /* 144 / 176 bytes */
        __m128i s8 = k4_scales8(q5 ? b5->scales : b4->scales);
        __m128i mn = k4_mins_dot(s8, bs32[i]);
        /* the scales as int32 (sc, sc) pairs through memory: a broadcast
         * load per sub-block instead of a shuffle-port pshufb */
        int32_t sp[8] __attribute__((aligned(16)));
        _mm_store_si128((__m128i *)sp, _mm_shuffle_epi8(s8, sc_pairs0));
        _mm_store_si128((__m128i *)(sp + 4), _mm_shuffle_epi8(s8, sc_pairs1));
        const int32_t *spp = sp; /* laundered: the compiler must load, not shuffle */
        __asm__("" : "+r"(spp) : "m"(sp));
        __m256i is = _mm256_setzero_si256();
        __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)b5->qh) : _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
            __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            if (q5) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4));
            }
            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(yb->qs + 64 * j)));
            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(yb->qs + 64 * j + 32)));
            p0 = _mm256_madd_epi16(p0, _mm256_set1_epi32(spp[2 * j]));
            p1 = _mm256_madd_epi16(p1, _mm256_set1_epi32(spp[2 * j + 1]));
            is = _mm256_add_epi32(is, _mm256_add_epi32(p0, p1));
        }
        int dbits; /* (d, dmin) * dy: the first two fields of both layouts */
        memcpy(&dbits, w, 4);
        __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(dbits)), _mm_broadcast_ss(&yb->d));
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dd), _mm256_cvtepi32_ps(is), acc);
        accm = _mm_fmadd_ps(_mm_shuffle_ps(dd, dd, 0x55), _mm_cvtepi32_ps(mn), accm);
    }
    return hsum_ps(_mm256_sub_ps(acc, _mm256_insertf128_ps(_mm256_setzero_ps(), accm, 0)));
}

static inline __attribute__((always_inline)) void gemv_q45_K(int n, int nr, float *y, const void *w, size_t wrow,
                                                             const void *x, bool q5) {
    int nb = n / PK_QK_K;
    if (nb > K_MAX) {
        pk_vec_dot_fn dot = pk_qtraits_of(q5 ? PK_Q_Q5_K : PK_Q_Q4_K)->vec_dot;
        for (int r = 0; r < nr; r++) dot(n, y + r, (const uint8_t *)w + (size_t)r * wrow, x);
        return;
    }
    __m128i bs32[K_MAX];
    k_bsums32(bs32, x, nb);
    size_t bytes = q5 ? sizeof(pk_block_q5_K) : sizeof(pk_block_q4_K);
    for (int r = 0; r < nr; r++) y[r] = row_q45_K((const uint8_t *)w + (size_t)r * wrow, bytes, x, bs32, nb, q5);
}

static void gemv_q4_K(int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    gemv_q45_K(n, nr, y, w, wrow, x, false);
}

static void gemv_q5_K(int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    gemv_q45_K(n, nr, y, w, wrow, x, true);
}

/* one iq4_xs row: 4-bit indices into pk_kvalues_iq4nl (a byte shuffle),
 * signed values, so the sign trick of dot_s8_s8; 6-bit scales - 32 */
static inline float row_iq4_xs(const pk_block_iq4_xs *b, const pk_block_q8_K *yb, int nb) {
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)pk_kvalues_iq4nl));
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++, b++, yb++) {
        prefetch_lines(b, 2); /* 136 bytes */
        /* scale g: low 4 bits = nibble g of scales_l, high 2 = bits 2g, 2g+1
         * of scales_h (shifted to the top of an int16 by a multiply, then
         * down), minus 32 */
        int sl;
        memcpy(&sl, b->scales_l, 4);
        __m128i l4 = _mm_cvtsi32_si128(sl);
        __m128i lo = _mm_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_and_si128(l4, _mm_set1_epi8(15)),
                                                         _mm_and_si128(_mm_srli_epi16(l4, 4), _mm_set1_epi8(15))));
        __m128i hi = _mm_srli_epi16(_mm_mullo_epi16(_mm_set1_epi16((short)b->scales_h),
                                                    _mm_setr_epi16(1 << 14, 1 << 12, 1 << 10, 1 << 8, 1 << 6, 1 << 4,
                                                                   1 << 2, 1)), 14);
        __m128i ls = _mm_sub_epi16(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi16(32));
        __m256i sc = _mm256_broadcastsi128_si256(ls), is = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m256i q = _mm256_shuffle_epi8(lut, nibbles32(b->qs + 16 * g));
            __m256i yq = _mm256_loadu_si256((const __m256i *)(yb->qs + 32 * g));
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(yq, q));
            is = _mm256_add_epi32(is, _mm256_madd_epi16(p, bcast16(sc, g)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(yb->d * h2f(b->d)), _mm256_cvtepi32_ps(is), acc);
    }
    return hsum_ps(acc);
}

static void gemv_iq4_xs(int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    for (int r = 0; r < nr; r++)
        y[r] = row_iq4_xs((const pk_block_iq4_xs *)((const uint8_t *)w + (size_t)r * wrow), x, n / PK_QK_K);
}

/* one q6_K row: values q - 32 (q 6-bit, low 4 bits in ql, high 2 in qh),
 * 16 int8 scales per super-block; the -32 folds into the integer sum as
 * -32 * sum(scale * bsum). The 32 values of q[g] take scales 2g (low 16)
 * and 2g + 1 (high 16): one pshufb of the half's 8 scales (as int16, in
 * both 128-bit lanes) with a per-lane mask. */
static inline float row_q6_K(const pk_block_q6_K *b, const pk_block_q8_K *yb, int nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++, b++, yb++) {
        prefetch_lines(b, 4); /* 210 bytes */
        __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        __m256i bias = _mm256_madd_epi16(sc, _mm256_loadu_si256((const __m256i *)yb->bsums));
        __m256i is = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(bias, 5));
        const __m256i sch[2] = { _mm256_permute4x64_epi64(sc, 0x44), _mm256_permute4x64_epi64(sc, 0xEE) };
        const uint8_t *ql = b->ql, *qh = b->qh;
        const int8_t *q8 = yb->qs;
#pragma GCC unroll 2
        for (int c = 0; c < 2; c++, ql += 64, qh += 32, q8 += 128) {
            __m256i q[4];
            q6_unpack(ql, qh, q);
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) {
                const __m256i m = _mm256_setr_epi8(
                    (char)(4 * g), (char)(4 * g + 1), (char)(4 * g), (char)(4 * g + 1), (char)(4 * g),
                    (char)(4 * g + 1), (char)(4 * g), (char)(4 * g + 1), (char)(4 * g), (char)(4 * g + 1), (char)(4 * g),
                    (char)(4 * g + 1), (char)(4 * g), (char)(4 * g + 1), (char)(4 * g), (char)(4 * g + 1),
                    (char)(4 * g + 2), (char)(4 * g + 3), (char)(4 * g + 2), (char)(4 * g + 3), (char)(4 * g + 2),
                    (char)(4 * g + 3), (char)(4 * g + 2), (char)(4 * g + 3), (char)(4 * g + 2), (char)(4 * g + 3),
                    (char)(4 * g + 2), (char)(4 * g + 3), (char)(4 * g + 2), (char)(4 * g + 3), (char)(4 * g + 2),
                    (char)(4 * g + 3));
                __m256i p = _mm256_maddubs_epi16(q[g], _mm256_loadu_si256((const __m256i *)(q8 + 32 * g)));
                is = _mm256_add_epi32(is, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sch[c], m)));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(yb->d * h2f(b->d)), _mm256_cvtepi32_ps(is), acc);
    }
    return hsum_ps(acc);
}

static void gemv_q6_K(int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    for (int r = 0; r < nr; r++)
        y[r] = row_q6_K((const pk_block_q6_K *)((const uint8_t *)w + (size_t)r * wrow), x, n / PK_QK_K);
}

/* one f16 row: as dot_f16, with a prefetch per 64 bytes */
static inline float row_f16(const uint16_t *w, const uint16_t *x, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_lines(w + i, 1);
        for (int k = 0; k < 32; k += 16) {
            acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + k))),
                                   _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + k))), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + k + 8))),
                                   _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + k + 8))), acc1);
        }
    }
    float s = hsum_ps(_mm256_add_ps(acc0, acc1)), t = 0;
    if (i < n) dot_f16(n - i, &t, w + i, x + i); /* tail */
    return s + t;
}

static void gemv_f16(int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    for (int r = 0; r < nr; r++) y[r] = row_f16((const uint16_t *)((const uint8_t *)w + (size_t)r * wrow), x, n);
}

/* ---- SwiGLU ---- */

/* e^x for x in [-87.3, 88.3] (clamped; NaN becomes -87.3): x = n ln2 + r
 * with |r| <= ln2 / 2 (ln2 in two parts, so n ln2 is exact), e^r by its
 * Taylor series to r^7 (truncation below 6e-9 relative), times 2^n built in
 * the exponent field (n in [-126, 127]: a normal float). */
static inline __m256 exp_ps(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    static const float c[] = { 1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f };
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < 8; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c[i]));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline __m256 silu_mul8(__m256 g, __m256 u) {
    __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

/* 8 at a time; the last n % 8 through masked loads and stores, so every
 * position gets the same arithmetic */
void pk_silu_mul_avx2(float *o, const float *u, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, silu_mul8(_mm256_loadu_ps(o + i), _mm256_loadu_ps(u + i)));
    if (i < n) {
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 v = silu_mul8(_mm256_maskload_ps(o + i, m), _mm256_maskload_ps(u + i, m));
        _mm256_maskstore_ps(o + i, m, v);
    }
}

/* ---- table ---- */

void pk_quant_avx2_traits(pk_qtraits *t) {
    t[PK_Q_F32].vec_dot = dot_f32;
    t[PK_Q_F16].vec_dot = dot_f16;
    t[PK_Q_F16].to_float = f16_to_f32_avx2;
    t[PK_Q_F16].vec_mad = mad_f16;
    t[PK_Q_Q8_0].from_float = q8_0_from_f32;
    t[PK_Q_Q8_K].from_float = q8_K_from_f32;
    t[PK_Q_Q8_0].vec_dot = dot_q8_0;
    t[PK_Q_Q4_0].vec_dot = dot_q4_0;
    t[PK_Q_Q4_K].vec_dot = dot_q4_K;
    t[PK_Q_Q6_K].vec_dot = dot_q6_K;
    t[PK_Q_Q4_0].vec_dot4 = dot4_q4_0;
    t[PK_Q_Q8_0].vec_dot4 = dot4_q8_0;
    t[PK_Q_Q4_K].vec_dot4 = dot4_q4_K;
    t[PK_Q_Q4_0].gemv = gemv_q4_0;
    t[PK_Q_Q8_0].gemv = gemv_q8_0;
    t[PK_Q_Q4_K].gemv = gemv_q4_K;
    t[PK_Q_Q6_K].gemv = gemv_q6_K;
    t[PK_Q_Q5_K].gemv = gemv_q5_K;
    t[PK_Q_IQ4_XS].gemv = gemv_iq4_xs;
    t[PK_Q_F16].gemv = gemv_f16;
    pk_gemm_avx2_traits(t);
}
