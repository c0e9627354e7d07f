/* gemm_avx2.c: prefill GEMM micro-kernels (AVX2) on the native GGUF block
 * layouts: q4_0, q8_0 against q8_0 activations; q4_K, q5_K, q6_K, iq4_xs
 * against q8_K; f16 against f16 (4 rows x 2 tokens of FMAs, at the end). For each group of 8 weight rows the kernel decodes every
 * 32-value group once into int8 and transposes it so that 32-bit lane r of
 * a register holds 4 consecutive values of row r; the decoded rows (8 x n
 * bytes) and their scales stay in a stack cache while 1..4 tokens at a time
 * stream past: a broadcast of 4 activation bytes times one register gives
 * 8 rows' partial dots (maddubs), so no horizontal sums are needed and each
 * float accumulator holds 8 outputs. Rows left over (nr % 8), rows
 * longer than the cache and calls with fewer than 4 tokens go through the
 * vec_dot kernels. Results equal
 * vec_dot per row and token up to float summation order (tests/test_gemm.c). */
#include "quant/quant_int.h"

#include <immintrin.h>
#include <string.h>

enum { NG_MAX = 384 }; /* 32-value groups per row the cache holds (n <= 12288) */

/* How a weight type is decoded and multiplied. */
typedef enum {
    K_Q4_0, K_Q8_0, K_Q4_K, K_Q5_K, K_Q6_K, K_IQ4_XS
} kind;

/* Per 8-row group: decoded values, transposed (group k: wc[8k + g], lane r
 * = values 4g..4g+3 of row r) and scales per group and row. q4_0, q8_0,
 * iq4_xs: dws = float scale, mfs = q4_0's offset scale. k-quants: dws,
 * mfs = d, -dmin (q6_K: -32 d) of the super-block; sc16 = int16 pairs per row lane
 * (lanes 2r, 2r+1): q4_K / q5_K [0] (sc, sc), [1] (m, m); q6_K [0], [1]
 * the scales of the group's 16-halves, [2] both halves (sc0, sc1). */
typedef struct cache {
    __m256i wc[NG_MAX * 8];
    float dws[NG_MAX][8];
    float mfs[NG_MAX][8];
    int16_t sc16[NG_MAX][3][16];
} cache;

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* ---- decoding one 32-value group of one row (natural order) ---- */

static inline __m256i nib_lo_hi(const uint8_t *p) { /* 16 bytes: low nibbles then high */
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0F));
}

/* 32 nibbles of k-quant layout: sub-group j of a super-block's qs */
static inline __m256i nib_k(const uint8_t *qs, int j) {
    __m256i b = _mm256_loadu_si256((const __m256i *)(qs + 32 * (j / 2)));
    if (j & 1) b = _mm256_srli_epi16(b, 4);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

static inline __attribute__((always_inline)) __m256i decode(kind kd, const uint8_t *row, int k) {
    int sb = k / 8, j = k % 8;
    switch (kd) {
    case K_Q4_0: return nib_lo_hi(((const pk_block_q4_0 *)row)[k].qs);
    case K_Q8_0: return _mm256_loadu_si256((const __m256i *)((const pk_block_q8_0 *)row)[k].qs);
    case K_Q4_K: return nib_k(((const pk_block_q4_K *)row)[sb].qs, j);
    case K_Q5_K: {
        const pk_block_q5_K *b = (const pk_block_q5_K *)row + sb;
        __m256i h = _mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)b->qh), j);
        h = _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(1)), 4);
        return _mm256_or_si256(nib_k(b->qs, j), h);
    }
    case K_Q6_K: {
        const pk_block_q6_K *b = (const pk_block_q6_K *)row + sb;
        int half = j / 4, g = j % 4;
        __m256i l = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * half + 32 * (g & 1)));
        if (g >= 2) l = _mm256_srli_epi16(l, 4);
        l = _mm256_and_si256(l, _mm256_set1_epi8(0x0F));
        __m256i h = _mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * half)), 2 * g);
        h = _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(3)), 4);
        return _mm256_or_si256(l, h);
    }
    case K_IQ4_XS: {
        const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)pk_kvalues_iq4nl));
        return _mm256_shuffle_epi8(lut, nib_lo_hi(((const pk_block_iq4_xs *)row)[sb].qs + 16 * j));
    }
    }
    return _mm256_setzero_si256();
}

/* in place: r[g] lane i <- r[i] lane g (8x8 of 32-bit lanes) */
static inline void transpose8(__m256i *r) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int g = 0; g < 4; g++) {
        r[g] = _mm256_permute2x128_si256(u[g], u[4 + g], 0x20);
        r[g + 4] = _mm256_permute2x128_si256(u[g], u[4 + g], 0x31);
    }
}

/* 6-bit scale and min j of a q4_K / q5_K super-block */
static inline void k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* scales of group k of row i into the cache */
static inline __attribute__((always_inline)) void scales(kind kd, const uint8_t *row, int k, int i, cache *c) {
    int sb = k / 8, j = k % 8;
    switch (kd) {
    case K_Q4_0: c->dws[k][i] = c->mfs[k][i] = h2f(((const pk_block_q4_0 *)row)[k].d); break;
    case K_Q8_0: c->dws[k][i] = h2f(((const pk_block_q8_0 *)row)[k].d); break;
    case K_Q4_K:
    case K_Q5_K: {
        const uint8_t *s;
        uint16_t d, dmin;
        if (kd == K_Q4_K) {
            const pk_block_q4_K *b = (const pk_block_q4_K *)row + sb;
            s = b->scales, d = b->d, dmin = b->dmin;
        } else {
            const pk_block_q5_K *b = (const pk_block_q5_K *)row + sb;
            s = b->scales, d = b->d, dmin = b->dmin;
        }
        int sc, m;
        k4_scale_min(s, j, &sc, &m);
        c->dws[k][i] = h2f(d);
        c->mfs[k][i] = -h2f(dmin);
        c->sc16[k][0][2 * i] = c->sc16[k][0][2 * i + 1] = (int16_t)sc;
        c->sc16[k][1][2 * i] = c->sc16[k][1][2 * i + 1] = (int16_t)m;
        break;
    }
    case K_Q6_K: {
        const pk_block_q6_K *b = (const pk_block_q6_K *)row + sb;
        float d = h2f(b->d);
        c->dws[k][i] = d;
        c->mfs[k][i] = -32.0f * d;
        for (int h = 0; h < 2; h++) {
            int sc = b->scales[2 * j + h];
            c->sc16[k][h][2 * i] = c->sc16[k][h][2 * i + 1] = (int16_t)sc;
            c->sc16[k][2][2 * i + h] = (int16_t)sc;
        }
        break;
    }
    case K_IQ4_XS: {
        const pk_block_iq4_xs *b = (const pk_block_iq4_xs *)row + sb;
        int ls = ((b->scales_l[j / 2] >> (4 * (j % 2))) & 15) | (((b->scales_h >> (2 * j)) & 3) << 4);
        c->dws[k][i] = h2f(b->d) * (float)(ls - 32);
        break;
    }
    }
}

static inline __attribute__((always_inline)) void fill_cache(kind kd, const uint8_t *w, size_t wrow, int ng, cache *c) {
    for (int k = 0; k < ng; k++) {
        __m256i r[8];
        for (int i = 0; i < 8; i++) {
            r[i] = decode(kd, w + (size_t)i * wrow, k);
            scales(kd, w + (size_t)i * wrow, k, i, c);
        }
        transpose8(r);
        memcpy(&c->wc[8 * k], r, sizeof(r));
    }
}

/* ---- the tiles: 8 rows x tn tokens ---- */

static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* sum of 32 signed bytes */
static inline int sum_i8_32(const int8_t *p) {
    __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)p), _mm256_set1_epi8((char)0x80));
    __m256i s = _mm256_sad_epu8(v, _mm256_setzero_si256());
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi64(h, _mm_unpackhi_epi64(h, h));
    return _mm_cvtsi128_si32(h) - 32 * 128;
}

/* int32 lane r: sum over the group of w_r * x (q6_K: with its int16 scales);
 * q4_K and q5_K go through group_dot_k */
static inline __m256i group_dot(kind kd, const __m256i *W, const int8_t *x, const int16_t *sc16) {
    const __m256i ones = _mm256_set1_epi16(1);
    switch (kd) {
    case K_Q4_0: { /* values 0..15: 8 products of pairs stay below 2^15 */
        __m256i s = _mm256_maddubs_epi16(W[0], bcast4(x));
        for (int g = 1; g < 8; g++) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(W[g], bcast4(x + 4 * g)));
        return _mm256_madd_epi16(s, ones);
    }
    case K_Q6_K: { /* values 0..63: two at a time, then the halves' scales */
        const __m256i sc0 = _mm256_loadu_si256((const __m256i *)sc16);
        const __m256i sc1 = _mm256_loadu_si256((const __m256i *)(sc16 + 16));
        __m256i acc = _mm256_setzero_si256();
        for (int g = 0; g < 8; g += 2) {
            __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(W[g], bcast4(x + 4 * g)),
                                         _mm256_maddubs_epi16(W[g + 1], bcast4(x + 4 * g + 4)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, g < 4 ? sc0 : sc1));
        }
        return acc;
    }
    default: { /* q8_0, iq4_xs: signed values: |x| times w with x's sign */
        __m256i acc = _mm256_setzero_si256();
        for (int g = 0; g < 8; g++) {
            __m256i b = bcast4(x + 4 * g);
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(b, b), _mm256_sign_epi8(W[g], b));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
        }
        return acc;
    }
    }
    return _mm256_setzero_si256();
}

/* k-quants: int32 lane r = sc_r * sum over the group of w_r * x */
static inline __m256i group_dot_k(kind kd, const __m256i *W, const int8_t *x, const int16_t *sc16) {
    const __m256i sc = _mm256_loadu_si256((const __m256i *)sc16);
    if (kd == K_Q4_K) {
        __m256i s = _mm256_maddubs_epi16(W[0], bcast4(x));
        for (int g = 1; g < 8; g++) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(W[g], bcast4(x + 4 * g)));
        return _mm256_madd_epi16(s, sc);
    }
    if (kd == K_Q5_K) {
        __m256i s0 = _mm256_maddubs_epi16(W[0], bcast4(x)), s1 = _mm256_maddubs_epi16(W[4], bcast4(x + 16));
        for (int g = 1; g < 4; g++) {
            s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(W[g], bcast4(x + 4 * g)));
            s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(W[g + 4], bcast4(x + 16 + 4 * g)));
        }
        return _mm256_add_epi32(_mm256_madd_epi16(s0, sc), _mm256_madd_epi16(s1, sc));
    }
    return group_dot(kd, W, x, sc16); /* q6_K applies its half scales itself */
}

/* The k-quants: integer sums over a super-block (scales applied by madd),
 * then d, the mins (q4_K, q5_K: sum_j m_j * (sum of the group's x)) or the
 * offset (q6_K: 32 * sum_j sc_j * (sum of the 16-half's x)) from bsums. */
static inline __attribute__((always_inline)) void tile_k(kind kd, int tn, int ng, const cache *c, float *y,
                                                         size_t ys, const uint8_t *x, size_t xrow) {
    __m256 acc[4];
    for (int t = 0; t < tn; t++) acc[t] = _mm256_setzero_ps();
    for (int sb = 0; sb < ng / 8; sb++) {
        __m256i is[4], ms[4];
        for (int t = 0; t < tn; t++) is[t] = ms[t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            int k = 8 * sb + j;
            __m256i W[8];
            for (int g = 0; g < 8; g++) W[g] = _mm256_load_si256(&c->wc[8 * k + g]);
            for (int t = 0; t < tn; t++) {
                const pk_block_q8_K *b = (const pk_block_q8_K *)(x + (size_t)t * xrow) + sb;
                is[t] = _mm256_add_epi32(is[t], group_dot_k(kd, W, b->qs + 32 * j, c->sc16[k][0]));
                /* q4_K / q5_K: (m, m) . (bsum 2j, 2j+1); q6_K: (sc0, sc1) . the same */
                const int16_t *mp = kd == K_Q6_K ? c->sc16[k][2] : c->sc16[k][1];
                __m256i bs = bcast4((const int8_t *)&b->bsums[2 * j]);
                ms[t] = _mm256_add_epi32(ms[t], _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)mp), bs));
            }
        }
        const __m256 d = _mm256_loadu_ps(c->dws[8 * sb]), dm = _mm256_loadu_ps(c->mfs[8 * sb]);
        for (int t = 0; t < tn; t++) {
            __m256 dy = _mm256_set1_ps(((const pk_block_q8_K *)(x + (size_t)t * xrow))[sb].d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[t]), _mm256_mul_ps(d, dy), acc[t]);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ms[t]), _mm256_mul_ps(dm, dy), acc[t]);
        }
    }
    for (int t = 0; t < tn; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

/* Activation group k of token row xr (q8_0, or q8_K for iq4_xs): its 32
 * quants, scale and for q4_0 the offset correction -8 dx sum(x). */
static inline const int8_t *act(kind kd, const uint8_t *xr, int k, float *dx, float *cf) {
    if (kd == K_Q4_0 || kd == K_Q8_0) {
        const pk_block_q8_0 *b = (const pk_block_q8_0 *)xr + k;
        *dx = h2f(b->d);
        if (kd == K_Q4_0) cf[0] = -8.0f * *dx * (float)sum_i8_32(b->qs); /* weights are stored +8 */
        return b->qs;
    }
    const pk_block_q8_K *b = (const pk_block_q8_K *)xr + k / 8;
    int j = k % 8;
    *dx = b->d;
    return b->qs + 32 * j;
}

static inline __attribute__((always_inline)) void tile(kind kd, int tn, int ng, const cache *c, float *y,
                                                       size_t ys, const uint8_t *x, size_t xrow) {
    int ncorr = kd == K_Q4_0;
    __m256 acc[4];
    for (int t = 0; t < tn; t++) acc[t] = _mm256_setzero_ps();
    for (int k = 0; k < ng; k++) {
        __m256i W[8];
        for (int g = 0; g < 8; g++) W[g] = _mm256_load_si256(&c->wc[8 * k + g]);
        const __m256 dw = _mm256_loadu_ps(c->dws[k]);
        for (int t = 0; t < tn; t++) {
            float dx, cf[1];
            const int8_t *xq = act(kd, x + (size_t)t * xrow, k, &dx, cf);
            __m256i s = group_dot(kd, W, xq, c->sc16[k][0]);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(dx)), acc[t]);
            if (ncorr) acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps(c->mfs[k]), _mm256_set1_ps(cf[0]), acc[t]);
        }
    }
    for (int t = 0; t < tn; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

static inline __attribute__((always_inline)) void gemm_run(kind kd, pk_vec_dot_fn dot, int n, int nr, int nt,
                                                           float *y, size_t ys, const uint8_t *w, size_t wrow,
                                                           const uint8_t *x, size_t xrow) {
    int ng = n / 32, r = 0;
    if (ng <= NG_MAX && nt >= 4) { /* fewer tokens do not pay for the transposes */
        cache c __attribute__((aligned(32)));
        for (; r + 8 <= nr; r += 8) {
            fill_cache(kd, w + (size_t)r * wrow, wrow, ng, &c);
            int t = 0;
            bool kq = kd == K_Q4_K || kd == K_Q5_K || kd == K_Q6_K;
            for (; t + 4 <= nt; t += 4) {
                float *yt = y + (size_t)t * ys + r;
                if (kq) tile_k(kd, 4, ng, &c, yt, ys, x + (size_t)t * xrow, xrow);
                else tile(kd, 4, ng, &c, yt, ys, x + (size_t)t * xrow, xrow);
            }
            const uint8_t *xt = x + (size_t)t * xrow;
            float *yt = y + (size_t)t * ys + r;
            switch ((nt - t) * 2 + kq) {
            case 6: tile(kd, 3, ng, &c, yt, ys, xt, xrow); break;
            case 4: tile(kd, 2, ng, &c, yt, ys, xt, xrow); break;
            case 2: tile(kd, 1, ng, &c, yt, ys, xt, xrow); break;
            case 7: tile_k(kd, 3, ng, &c, yt, ys, xt, xrow); break;
            case 5: tile_k(kd, 2, ng, &c, yt, ys, xt, xrow); break;
            case 3: tile_k(kd, 1, ng, &c, yt, ys, xt, xrow); break;
            default: break;
            }
        }
    }
    for (; r < nr; r++) /* rows left over */
        for (int t = 0; t < nt; t++) dot(n, y + (size_t)t * ys + r, w + (size_t)r * wrow, x + (size_t)t * xrow);
}

/* vec_dot kernels of each type, for the row and token tails */
static pk_vec_dot_fn dots[PK_Q_COUNT];

/* ---- f16: 4 rows x 2 tokens of float FMAs ---- */

static inline float hsum_ps(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    return _mm_cvtss_f32(_mm_add_ss(lo, _mm_movehdup_ps(lo)));
}

static inline __m256 ld_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/* Each weight and activation vector is widened once per tile instead of
 * once per product; elements past the last 8 are added one by one. */
static void gemm_f16(int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow, const void *x,
                     size_t xrow) {
    const uint8_t *wb = w, *xb = x;
    int r = 0, n8 = n & ~7;
    for (; r + 4 <= nr; r += 4) {
        const uint16_t *wr[4];
        for (int i = 0; i < 4; i++) wr[i] = (const uint16_t *)(wb + (size_t)(r + i) * wrow);
        int t = 0;
        for (; t + 2 <= nt; t += 2) {
            const uint16_t *x0 = (const uint16_t *)(xb + (size_t)t * xrow), *x1 = (const uint16_t *)(xb + (size_t)(t + 1) * xrow);
            __m256 acc[4][2];
            for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (int e = 0; e < n8; e += 8) {
                __m256 a0 = ld_f16(x0 + e), a1 = ld_f16(x1 + e);
                for (int i = 0; i < 4; i++) {
                    __m256 wv = ld_f16(wr[i] + e);
                    acc[i][0] = _mm256_fmadd_ps(wv, a0, acc[i][0]);
                    acc[i][1] = _mm256_fmadd_ps(wv, a1, acc[i][1]);
                }
            }
            for (int i = 0; i < 4; i++)
                for (int k = 0; k < 2; k++) {
                    const uint16_t *xk = k ? x1 : x0;
                    float s = hsum_ps(acc[i][k]);
                    for (int e = n8; e < n; e++) s += h2f(wr[i][e]) * h2f(xk[e]); /* tail */
                    y[(size_t)(t + k) * ys + (size_t)(r + i)] = s;
                }
        }
        for (; t < nt; t++) /* a token left over */
            for (int i = 0; i < 4; i++) dots[PK_Q_F16](n, y + (size_t)t * ys + (size_t)(r + i), wr[i], xb + (size_t)t * xrow);
    }
    for (; r < nr; r++) /* rows left over */
        for (int t = 0; t < nt; t++) dots[PK_Q_F16](n, y + (size_t)t * ys + r, wb + (size_t)r * wrow, xb + (size_t)t * xrow);
}

/* ---- entry points ---- */

#define GEMM(name, kd, qt)                                                                                     \
    static void name(int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow, const void *x,   \
                     size_t xrow) {                                                                            \
        gemm_run(kd, dots[qt], n, nr, nt, y, ys, w, wrow, x, xrow);                                            \
    }
GEMM(gemm_q4_0, K_Q4_0, PK_Q_Q4_0)
GEMM(gemm_q8_0, K_Q8_0, PK_Q_Q8_0)
GEMM(gemm_q4_K, K_Q4_K, PK_Q_Q4_K)
GEMM(gemm_q5_K, K_Q5_K, PK_Q_Q5_K)
GEMM(gemm_q6_K, K_Q6_K, PK_Q_Q6_K)
GEMM(gemm_iq4_xs, K_IQ4_XS, PK_Q_IQ4_XS)

/* Called after the vec_dot entries are final (they serve the row tails). */
void pk_gemm_avx2_traits(pk_qtraits *t) {
    static const struct { pk_qtype q; pk_gemm_fn fn; } g[] = {
        { PK_Q_Q4_0, gemm_q4_0 }, { PK_Q_Q8_0, gemm_q8_0 }, { PK_Q_Q4_K, gemm_q4_K },
        { PK_Q_Q5_K, gemm_q5_K }, { PK_Q_Q6_K, gemm_q6_K }, { PK_Q_IQ4_XS, gemm_iq4_xs },
        { PK_Q_F16, gemm_f16 },
    };
    for (size_t i = 0; i < PK_ARRAY_LEN(g); i++) {
        dots[g[i].q] = t[g[i].q].vec_dot;
        t[g[i].q].gemm = g[i].fn;
    }
}
