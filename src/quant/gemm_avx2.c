/* gemm_avx2.c: prefill GEMM micro-kernels (AVX2) on the native GGUF block
 * layouts: q4_0, q8_0 against q8_0 activations; q4_K, q5_K, q6_K, iq4_xs
 * against q8_K; f16 against f16 and f32 against f32 (4 rows x 2 tokens
 * of FMAs, at the end).
 * For each group of 8 weight rows the kernel decodes every 32-value group
 * once into int8 and transposes it so that 32-bit lane r of a register
 * holds 4 consecutive values of row r; the decoded rows (8 x n bytes) and
 * their scales stay in a stack cache while all the call's tokens stream
 * past, 4 at a time with their accumulators in registers: a broadcast of 4
 * activation bytes times one register gives 8 rows' partial dots
 * (maddubs), so no horizontal sums are needed and each float accumulator
 * holds 8 outputs. The q8_0 activations' scales and sums (q4_K / q5_K:
 * their groups' sums) are read once per call into a table. Rows left over
 * (nr % 8), rows longer than the cache and calls with fewer than 4 tokens
 * go through the vec_dot kernels.
 * Results equal vec_dot per row and token up to float summation order
 * (tests/test_gemm.c). */
#include "quant/quant_avx2_int.h"
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
 * (lanes 2r, 2r+1): q4_K / q5_K [0] (sc, sc), [1] of the super-block's first
 * 4 groups the mins in pairs (m 2p, m 2p+1); q6_K [0], [1]
 * the scales of the group's 16-halves, [2] both halves (sc0, sc1). */
typedef struct cache {
    __m256i wc[NG_MAX * 8];
    float dws[NG_MAX][8];
    float mfs[NG_MAX][8];
    int16_t sc16[NG_MAX][3][16];
} cache;

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

/* scales of group k of row i into the cache (k-quants: scales_k) */
static inline __attribute__((always_inline)) void scales(kind kd, const uint8_t *row, int k, int i, cache *c) {
    int sb = k / 8, j = k % 8;
    switch (kd) {
    case K_Q4_0: c->dws[k][i] = c->mfs[k][i] = h2f(((const pk_block_q4_0 *)row)[k].d); break;
    case K_Q8_0: c->dws[k][i] = h2f(((const pk_block_q8_0 *)row)[k].d); break;
    case K_Q4_K:
    case K_Q5_K:
    case K_Q6_K: break; /* per super-block: scales_k */
    case K_IQ4_XS: {
        const pk_block_iq4_xs *b = (const pk_block_iq4_xs *)row + sb;
        int ls = ((b->scales_l[j / 2] >> (4 * (j % 2))) & 15) | (((b->scales_h >> (2 * j)) & 3) << 4);
        c->dws[k][i] = h2f(b->d) * (float)(ls - 32);
        break;
    }
    }
}

/* The k-quants' cache entries for super-block sb of the 8 rows, all its 8
 * groups at once (per group and row in scalar code this was most of the
 * fill's cost): per row a register of 8 int32 lanes, one per group, then
 * one transpose turns rows x groups into the cache's group-major rows.
 * q4_K / q5_K: lanes (sc, sc) from the vector k4_scales8 and the mins as
 * pairs (m 2p, m 2p+1), p = 0..3 (groups 8 sb .. 8 sb + 3 of [1]); q6_K:
 * its 16 int8 scales widened are already lanes (sc 2j, sc 2j+1) ([2]), and
 * 16-bit shuffles give (sc 2j, sc 2j) and (sc 2j+1, sc 2j+1) ([0], [1]).
 * d and -dmin (q6_K: -32 d) are the same for the 8 groups. */
static inline __attribute__((always_inline)) void scales_k(kind kd, const uint8_t *w, size_t wrow, int sb,
                                                           cache *c) {
    __m256i v[3][8];
    float d[8], dm[8];
    for (int i = 0; i < 8; i++) {
        const uint8_t *row = w + (size_t)i * wrow;
        if (kd == K_Q6_K) {
            const pk_block_q6_K *b = (const pk_block_q6_K *)row + sb;
            __m256i s = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
            v[0][i] = _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(s, 0xA0), 0xA0);
            v[1][i] = _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(s, 0xF5), 0xF5);
            v[2][i] = s;
            d[i] = h2f(b->d), dm[i] = -32.0f * d[i];
            continue;
        }
        const uint8_t *s;
        uint16_t dh, mh;
        if (kd == K_Q4_K) {
            const pk_block_q4_K *b = (const pk_block_q4_K *)row + sb;
            s = b->scales, dh = b->d, mh = b->dmin;
        } else {
            const pk_block_q5_K *b = (const pk_block_q5_K *)row + sb;
            s = b->scales, dh = b->d, mh = b->dmin;
        }
        /* bytes: scales 0-7, mins 0-7 */
        __m128i b = _mm_shuffle_epi32(k4_scales8(s), _MM_SHUFFLE(3, 1, 2, 0));
        __m256i a = _mm256_cvtepu8_epi32(b);
        v[0][i] = _mm256_or_si256(a, _mm256_slli_epi32(a, 16));
        v[1][i] = _mm256_zextsi128_si256(_mm_cvtepu8_epi16(_mm_srli_si128(b, 8)));
        d[i] = h2f(dh), dm[i] = -h2f(mh);
    }
    int nv = kd == K_Q6_K ? 3 : 2;
    for (int h = 0; h < nv; h++) transpose8(v[h]);
    const __m256 dv = _mm256_loadu_ps(d), mv = _mm256_loadu_ps(dm);
    for (int j = 0; j < 8; j++) {
        int k = 8 * sb + j;
        for (int h = 0; h < nv; h++) _mm256_store_si256((__m256i *)c->sc16[k][h], v[h][j]);
        _mm256_store_ps(c->dws[k], dv);
        _mm256_store_ps(c->mfs[k], mv);
    }
}

static inline __attribute__((always_inline)) void fill_cache(kind kd, const uint8_t *w, size_t wrow, int ng, cache *c) {
    bool kq = kd == K_Q4_K || kd == K_Q5_K || kd == K_Q6_K;
    for (int k = 0; k < ng; k++) {
        __m256i r[8];
        if (kq && k % 8 == 0) scales_k(kd, w, wrow, k / 8, c);
        for (int i = 0; i < 8; i++) {
            r[i] = decode(kd, w + (size_t)i * wrow, k);
            if (!kq) scales(kd, w + (size_t)i * wrow, k, i, c);
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

#define UNROLL _Pragma("GCC unroll 8")

/* v opaque to the optimiser: keeps a chain of integer adds a chain (GCC
 * would otherwise rebalance it into a tree whose partial sums spill) */
#define CHAIN(v) __asm__("" : "+x"(v))

/* Activations, per chunk of tokens, laid out once and shared by every
 * 8-row group of the call. q8_0 kinds (q4_0, q8_0), per token and group:
 * the scale as a float and, for q4_0, 8 * the sum of the group's quants
 * (the weights are decoded +8, so w.x = (w+8).x - 8 sum(x)). q4_K, q5_K,
 * per token and super-block: the sums of its 8 groups' quants as 4 int16
 * pairs (g 2p, g 2p+1) in s8, for the mins (from the q8_K half sums:
 * |g| <= 32 * 127). */
enum { XT_MAX = 32768 }; /* table entries per chunk (q8_0 kinds: tokens x groups) */
typedef struct xtab {
    float dx[XT_MAX];
    int32_t s8[XT_MAX];
} xtab;

static void xtab_fill(kind kd, int ng, int nt, const uint8_t *x, size_t xrow, xtab *tb) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    if (kd == K_Q4_K || kd == K_Q5_K) {
        int nsb = ng / 8;
        for (int t = 0; t < nt; t++)
            for (int sb = 0; sb < nsb; sb++) {
                const pk_block_q8_K *b = (const pk_block_q8_K *)(x + (size_t)t * xrow) + sb;
                __m256i v = _mm256_loadu_si256((const __m256i *)b->bsums);
                __m256i h = _mm256_hadd_epi16(v, v); /* 64-bit lanes 0, 2: g 0-3, g 4-7 */
                h = _mm256_permute4x64_epi64(h, _MM_SHUFFLE(3, 1, 2, 0));
                _mm_storeu_si128((__m128i *)&tb->s8[(t * nsb + sb) * 4], _mm256_castsi256_si128(h));
            }
        return;
    }
    for (int t = 0; t < nt; t++)
        for (int k = 0; k < ng; k++) {
            const pk_block_q8_0 *b = (const pk_block_q8_0 *)(x + (size_t)t * xrow) + k;
            tb->dx[t * ng + k] = h2f(b->d);
            if (kd != K_Q4_0) continue;
            __m256i v = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, _mm256_loadu_si256((const __m256i *)b->qs)), ones16);
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            h = _mm_add_epi32(h, _mm_unpackhi_epi64(h, h));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 1));
            tb->s8[t * ng + k] = 8 * _mm_cvtsi128_si32(h);
        }
}

/* table entries per token */
static inline int xtab_per_token(kind kd, int ng) {
    return kd == K_Q4_0 || kd == K_Q8_0 ? ng : kd == K_Q4_K || kd == K_Q5_K ? ng / 2 : 0;
}

/* The tiles keep tn <= 4 tokens' accumulators in registers: each weight
 * register (8 rows x 4 values) is loaded once per group and multiplied by
 * the tn tokens' broadcast 4-byte activations (maddubs: unsigned weights x
 * signed activations; pairs summed in int16 where they cannot overflow,
 * then madd to int32 with ones or the group scales). A tile covers groups
 * [k0, k1) of the row and adds to y when k0 > 0 (see tiles). */

/* q4_0, q8_0, iq4_xs: per group, int32 dot -> float with dw * dx. q4_0's
 * values 0..15: 8 maddubs summed in int16 stay below 2^15 (8 * 2 * 15 *
 * 127); q8_0 and iq4_xs are signed: |x| times w with x's sign, madd each. */
static inline __attribute__((always_inline)) void tile(kind kd, int tn, int ng, int k0, int k1, const cache *c,
                                                       float *y, size_t ys, const uint8_t *x, size_t xrow,
                                                       const xtab *tb, int t0) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    UNROLL for (int t = 0; t < tn; t++) acc[t] = k0 ? _mm256_loadu_ps(y + (size_t)t * ys) : _mm256_setzero_ps();
    for (int k = k0; k < k1; k++) {
        const __m256i *W = &c->wc[8 * k];
        const int8_t *xq[4];
        float dx[4];
        UNROLL for (int t = 0; t < tn; t++) {
            if (kd == K_IQ4_XS) {
                const pk_block_q8_K *b = (const pk_block_q8_K *)(x + (size_t)t * xrow) + k / 8;
                xq[t] = b->qs + 32 * (k % 8);
                dx[t] = b->d;
            } else {
                xq[t] = ((const pk_block_q8_0 *)(x + (size_t)t * xrow))[k].qs;
                dx[t] = tb->dx[(t0 + t) * ng + k];
            }
        }
        __m256i s[4];
        if (kd == K_Q4_0) {
            UNROLL for (int g = 0; g < 8; g++) {
                __m256i w = _mm256_load_si256(W + g);
                UNROLL for (int t = 0; t < tn; t++) {
                    __m256i p = _mm256_maddubs_epi16(w, bcast4(xq[t] + 4 * g));
                    s[t] = g ? _mm256_add_epi16(s[t], p) : p;
                    CHAIN(s[t]);
                }
            }
            UNROLL for (int t = 0; t < tn; t++)
                s[t] = _mm256_sub_epi32(_mm256_madd_epi16(s[t], ones), _mm256_set1_epi32(tb->s8[(t0 + t) * ng + k]));
        } else {
            UNROLL for (int g = 0; g < 8; g++) {
                __m256i w = _mm256_load_si256(W + g);
                UNROLL for (int t = 0; t < tn; t++) {
                    __m256i b = bcast4(xq[t] + 4 * g);
                    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(b, b), _mm256_sign_epi8(w, b)), ones);
                    s[t] = g ? _mm256_add_epi32(s[t], p) : p;
                    CHAIN(s[t]);
                }
            }
        }
        const __m256 dw = _mm256_load_ps(c->dws[k]);
        UNROLL for (int t = 0; t < tn; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dw, _mm256_set1_ps(dx[t])), acc[t]);
    }
    UNROLL for (int t = 0; t < tn; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

/* The k-quants, per super-block: integer sums with the group scales
 * applied by madd (q4_K: 8 maddubs per group in int16; q5_K values 0..31:
 * 4; q6_K values 0..63: 2, then its 16-halves' scales), then d, and the
 * mins (q4_K, q5_K: sum_j m_j * (sum of group j's x), 4 madds of pairs
 * with the table's sums) or the offset (q6_K: 32 * sum_h sc_h * (sum of
 * the 16-half's x), 8 madds with the bsums). The float accumulators live
 * in y between super-blocks (one load and store per super-block), which
 * leaves the registers to the integer sums. */
static inline __attribute__((always_inline)) void tile_k(kind kd, int tn, int ng, int k0, int k1, const cache *c,
                                                         float *y, size_t ys, const uint8_t *x, size_t xrow,
                                                         const xtab *tb, int t0) {
    int nsb = ng / 8;
    for (int sb = k0 / 8; sb < k1 / 8; sb++) {
        const pk_block_q8_K *xb[4];
        __m256i is[4], ms[4];
        UNROLL for (int t = 0; t < tn; t++) {
            xb[t] = (const pk_block_q8_K *)(x + (size_t)t * xrow) + sb;
            is[t] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 8; j++) {
            int k = 8 * sb + j;
            const __m256i *W = &c->wc[8 * k];
            const __m256i sc0 = _mm256_load_si256((const __m256i *)c->sc16[k][0]);
            __m256i s[4];
            if (kd == K_Q4_K) {
                UNROLL for (int g = 0; g < 8; g++) {
                    __m256i w = _mm256_load_si256(W + g);
                    UNROLL for (int t = 0; t < tn; t++) {
                        __m256i p = _mm256_maddubs_epi16(w, bcast4(xb[t]->qs + 32 * j + 4 * g));
                        s[t] = g ? _mm256_add_epi16(s[t], p) : p;
                        CHAIN(s[t]);
                    }
                }
                UNROLL for (int t = 0; t < tn; t++) is[t] = _mm256_add_epi32(is[t], _mm256_madd_epi16(s[t], sc0));
            } else {
                int step = kd == K_Q5_K ? 4 : 2;
                UNROLL for (int g = 0; g < 8; g++) {
                    __m256i w = _mm256_load_si256(W + g);
                    UNROLL for (int t = 0; t < tn; t++) {
                        __m256i p = _mm256_maddubs_epi16(w, bcast4(xb[t]->qs + 32 * j + 4 * g));
                        s[t] = g % step ? _mm256_add_epi16(s[t], p) : p;
                        CHAIN(s[t]);
                    }
                    if (g % step == step - 1) {
                        const __m256i sc = kd == K_Q6_K && g >= 4 ? _mm256_load_si256((const __m256i *)c->sc16[k][1]) : sc0;
                        UNROLL for (int t = 0; t < tn; t++) is[t] = _mm256_add_epi32(is[t], _mm256_madd_epi16(s[t], sc));
                    }
                }
            }
        }
        UNROLL for (int t = 0; t < tn; t++) ms[t] = _mm256_setzero_si256();
        if (kd == K_Q6_K) { /* (sc 2j, sc 2j+1) . (bsum 2j, 2j+1) */
            for (int j = 0; j < 8; j++) {
                const __m256i mp = _mm256_load_si256((const __m256i *)c->sc16[8 * sb + j][2]);
                UNROLL for (int t = 0; t < tn; t++)
                    ms[t] = _mm256_add_epi32(ms[t], _mm256_madd_epi16(mp, bcast4((const int8_t *)&xb[t]->bsums[2 * j])));
            }
        } else { /* (m 2p, m 2p+1) . (g 2p, g 2p+1) */
            UNROLL for (int p = 0; p < 4; p++) {
                const __m256i mp = _mm256_load_si256((const __m256i *)c->sc16[8 * sb + p][1]);
                UNROLL for (int t = 0; t < tn; t++)
                    ms[t] = _mm256_add_epi32(ms[t], _mm256_madd_epi16(mp, _mm256_set1_epi32(tb->s8[((t0 + t) * nsb + sb) * 4 + p])));
            }
        }
        const __m256 d = _mm256_load_ps(c->dws[8 * sb]), dm = _mm256_load_ps(c->mfs[8 * sb]);
        UNROLL for (int t = 0; t < tn; t++) {
            float *yt = y + (size_t)t * ys;
            __m256 dy = _mm256_set1_ps(xb[t]->d);
            __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ms[t]), dm, _mm256_mul_ps(_mm256_cvtepi32_ps(is[t]), d));
            _mm256_storeu_ps(yt, _mm256_fmadd_ps(v, dy, sb ? _mm256_loadu_ps(yt) : _mm256_setzero_ps()));
        }
    }
}

/* Groups per pass of the tiles (a multiple of the k-quants' 8): the
 * decoded weights of a pass (KB x 256 bytes) and 4 tokens' activations
 * stay in L1 while every token of the chunk sweeps them; rows longer than
 * that are swept in several passes, each adding to y. */
enum { KB = 64 };

/* the next slice of bytes [*off, *off + slice) of pf's n bytes towards L2 */
static inline void prefetch_slice(const uint8_t *pf, size_t *off, size_t slice, size_t n) {
    for (size_t end = PK_MIN(*off + slice, n); *off < end; *off += 64) _mm_prefetch((const char *)pf + *off, _MM_HINT_T1);
}

/* Tiles of one 8-row group over the chunk's nt tokens (t0: the chunk's
 * tokens from the table's first). Meanwhile the next 8-row group (pf, pfn
 * bytes; NULL at the last) is pulled towards L2, a slice before each
 * 4-token tile: issued all at once, the prefetches filled the line-fill
 * buffers and the tiles' own loads of activations waited behind them. */
static inline __attribute__((always_inline)) void tiles(kind kd, int ng, int nt, const cache *c, float *y, size_t ys,
                                                        const uint8_t *x, size_t xrow, const xtab *tb,
                                                        const uint8_t *pf, size_t pfn) {
    bool kq = kd == K_Q4_K || kd == K_Q5_K || kd == K_Q6_K;
    /* one slice per tile of the first pass, the last tile of fewer than 4
     * tokens included (a chunk can be 1-3 tokens) */
    size_t off = 0, slice = pf ? (pfn / 64 / (size_t)((nt + 3) / 4) + 1) * 64 : 0;
    for (int k0 = 0; k0 < ng; k0 += KB) {
        int k1 = PK_MIN(ng, k0 + KB), t = 0;
        for (; t + 4 <= nt; t += 4) {
            prefetch_slice(pf, &off, slice, pfn);
            if (kq) tile_k(kd, 4, ng, k0, k1, c, y + (size_t)t * ys, ys, x + (size_t)t * xrow, xrow, tb, t);
            else tile(kd, 4, ng, k0, k1, c, y + (size_t)t * ys, ys, x + (size_t)t * xrow, xrow, tb, t);
        }
        float *yt = y + (size_t)t * ys;
        const uint8_t *xt = x + (size_t)t * xrow;
        if (t < nt) prefetch_slice(pf, &off, slice, pfn);
        switch ((nt - t) * 2 + kq) {
        case 6: tile(kd, 3, ng, k0, k1, c, yt, ys, xt, xrow, tb, t); break;
        case 4: tile(kd, 2, ng, k0, k1, c, yt, ys, xt, xrow, tb, t); break;
        case 2: tile(kd, 1, ng, k0, k1, c, yt, ys, xt, xrow, tb, t); break;
        case 7: tile_k(kd, 3, ng, k0, k1, c, yt, ys, xt, xrow, tb, t); break;
        case 5: tile_k(kd, 2, ng, k0, k1, c, yt, ys, xt, xrow, tb, t); break;
        case 3: tile_k(kd, 1, ng, k0, k1, c, yt, ys, xt, xrow, tb, t); break;
        default: break;
        }
    }
}

/* Tokens in chunks whose activation table fits XT_MAX; per chunk, each
 * 8-row group is decoded once into the cache and swept by all the chunk's
 * tokens; the weights stream from memory once per chunk. */
static inline __attribute__((always_inline)) void gemm_run(kind kd, pk_vec_dot_fn dot, int n, int nr, int nt,
                                                           float *y, size_t ys, const uint8_t *w, size_t wrow,
                                                           const uint8_t *x, size_t xrow) {
    int ng = n / 32, r8 = 0;
    if (ng <= NG_MAX && nt >= 4) { /* fewer tokens do not pay for the transposes */
        r8 = nr & ~7;
        int per = xtab_per_token(kd, ng);
        int tch = per ? PK_MAX(4, (XT_MAX / per) & ~3) : nt;
        cache c __attribute__((aligned(32)));
        xtab tb;
        for (int t0 = 0; t0 < nt; t0 += tch) {
            int tn = PK_MIN(tch, nt - t0);
            const uint8_t *xc = x + (size_t)t0 * xrow;
            if (per) xtab_fill(kd, ng, tn, xc, xrow, &tb);
            for (int r = 0; r < r8; r += 8) {
                fill_cache(kd, w + (size_t)r * wrow, wrow, ng, &c);
                tiles(kd, ng, tn, &c, y + (size_t)t0 * ys + r, ys, xc, xrow, &tb,
                      r + 8 < r8 ? w + (size_t)(r + 8) * wrow : NULL, 8 * wrow);
            }
        }
    }
    for (int r = r8; r < nr; r++) /* rows left over */
        for (int t = 0; t < nt; t++) dot(n, y + (size_t)t * ys + r, w + (size_t)r * wrow, x + (size_t)t * xrow);
}
/* vec_dot kernels of each type, for the row and token tails */
static pk_vec_dot_fn dots[PK_Q_COUNT];

/* ---- f16 and f32: 4 rows x 2 tokens of float FMAs ---- */

static inline __m256 ld_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/* 8 elements from e of an f16 (half) or f32 row, widened */
static inline __m256 ld8(bool half, const void *p, int e) {
    return half ? ld_f16((const uint16_t *)p + e) : _mm256_loadu_ps((const float *)p + e);
}

static inline float ld1(bool half, const void *p, int e) {
    return half ? h2f(((const uint16_t *)p)[e]) : ((const float *)p)[e];
}

/* lane i = sum of a[i]'s 8 lanes, for 4 vectors */
static inline __m128 hsum4_ps(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* A tile keeps 8 accumulators in registers and widens each weight and
 * activation vector once per 8 elements instead of once per product; the
 * 4 rows' sums of a token come out of one horizontal-add tree. Elements
 * past the last 8 are added one by one; rows left over go through vec_dot.
 * f32 serves prefill attention (Q K^T, P V). */
static inline __attribute__((always_inline)) void gemm_fl(bool half, pk_vec_dot_fn dot, int n, int nr, int nt,
                                                          float *y, size_t ys, const uint8_t *wb, size_t wrow,
                                                          const uint8_t *xb, size_t xrow) {
    int r = 0, n8 = n & ~7;
    for (; r + 4 <= nr; r += 4) {
        const uint8_t *wr[4];
        for (int i = 0; i < 4; i++) wr[i] = wb + (size_t)(r + i) * wrow;
        for (int t = 0; t < nt; t += 2) {
            int tn = nt - t >= 2 ? 2 : 1;
            const uint8_t *x0 = xb + (size_t)t * xrow, *x1 = xb + (size_t)(t + tn - 1) * xrow; /* tn 1: x0 twice */
            __m256 acc[4][2];
            for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            for (int e = 0; e < n8; e += 8) {
                __m256 a0 = ld8(half, x0, e), a1 = ld8(half, x1, e);
                UNROLL for (int i = 0; i < 4; i++) {
                    __m256 wv = ld8(half, wr[i], e);
                    acc[i][0] = _mm256_fmadd_ps(wv, a0, acc[i][0]);
                    acc[i][1] = _mm256_fmadd_ps(wv, a1, acc[i][1]);
                }
            }
            for (int k = 0; k < tn; k++) {
                const uint8_t *xk = k ? x1 : x0;
                float s[4];
                _mm_storeu_ps(s, hsum4_ps(acc[0][k], acc[1][k], acc[2][k], acc[3][k]));
                for (int i = 0; i < 4; i++) {
                    for (int e = n8; e < n; e++) s[i] += ld1(half, wr[i], e) * ld1(half, xk, e); /* tail */
                    y[(size_t)(t + k) * ys + (size_t)(r + i)] = s[i];
                }
            }
        }
    }
    for (; r < nr; r++) /* rows left over */
        for (int t = 0; t < nt; t++) dot(n, y + (size_t)t * ys + r, wb + (size_t)r * wrow, xb + (size_t)t * xrow);
}

static void gemm_f16(int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow, const void *x,
                     size_t xrow) {
    gemm_fl(true, dots[PK_Q_F16], n, nr, nt, y, ys, w, wrow, x, xrow);
}

static void gemm_f32(int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow, const void *x,
                     size_t xrow) {
    gemm_fl(false, dots[PK_Q_F32], n, nr, nt, y, ys, w, wrow, x, xrow);
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
        { PK_Q_F16, gemm_f16 }, { PK_Q_F32, gemm_f32 },
    };
    for (size_t i = 0; i < PK_ARRAY_LEN(g); i++) {
        dots[g[i].q] = t[g[i].q].vec_dot;
        t[g[i].q].gemm = g[i].fn;
    }
}
