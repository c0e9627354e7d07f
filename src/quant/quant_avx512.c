/* quant_avx512.c: the q4_K and q6_K decode GEMVs with AVX-512 (F, BW, VL,
 * VNNI), and the table entry for the AVX-512 GEMMs (gemm_avx512.c). CMake compiles
 * *_avx512.c alone with those flags; quant_simd.c installs these over the
 * AVX2 / AVX-VNNI entries only when CPUID and the OS allow.
 *
 * q4_K, one super-block (256 values) of a row per step: its 128 bytes of
 * nibbles are two 512-bit loads; the low nibbles of the first are
 * sub-blocks 0 and 2 side by side, its high nibbles 1 and 3, those of the
 * second 4 and 6, 5 and 7. The activations are laid out the same way once
 * per call, so four vpdpbusd give every sub-block's products summed by 4
 * in int32 lanes (at most 4 * 15 * 128, an int16), and four vpdpwssd
 * multiply those by the sub-block scales (int32 lanes sc, i.e. int16 pairs
 * (sc, 0)) into one accumulator. AVX2 needs 8 maddubs, 8 madd and their
 * adds per super-block. On the dev machine (Zen 5, 2 cores) the AVX2
 * kernel could not keep two threads at the memory's pace: `bench/gemv_speed
 * q4_K 4096 256` (in L2), 3 alternating runs, 18.5-20.0 -> 38.3-40.4 GB/s;
 * `q4_K 4096 5632 640 2` (2 threads from memory) median 34.7 -> 36.7 GB/s
 * against a 42 GB/s read probe. */
#include "quant/quant_avx2_int.h"
#include "quant/quant_int.h"

#include <immintrin.h>
#include <string.h>

#if !defined(__AVX512VNNI__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "quant_avx512.c needs -mavx512f -mavx512bw -mavx512vl -mavx512vnni (see CMakeLists.txt)"
#endif

enum { K_MAX = 128 }; /* super-blocks per row the stack layout holds (n <= 32768) */

/* one super-block's activations: [y0 | y2], [y1 | y3], [y4 | y6], [y5 | y7]
 * (y_s: the 32 bytes of sub-block s) */
typedef struct k_act {
    __m512i y[4];
} k_act;

static inline __m512i pair256(const int8_t *a, const int8_t *b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

static inline float row_q4_K(const uint8_t *w, const k_act *ya, const __m128i *bs32, const float *dy, int nb) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    /* the scales of the two sub-blocks of each product register, per lane */
    const __m512i i02 = _mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i i13 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i i46 = _mm512_set_epi32(6, 6, 6, 6, 6, 6, 6, 6, 4, 4, 4, 4, 4, 4, 4, 4);
    const __m512i i57 = _mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 5, 5, 5, 5, 5, 5, 5, 5);
    const __m512i z = _mm512_setzero_si512();
    __m512 acc = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int i = 0; i < nb; i++, w += sizeof(pk_block_q4_K)) {
        const pk_block_q4_K *b = (const pk_block_q4_K *)w;
        prefetch_lines(w, 3); /* 144 bytes */
        __m128i s8 = k4_scales8(b->scales);
        __m128i mn = k4_mins_dot(s8, bs32[i]);
        /* bytes [sc 0-3 | sc 4-7 | mn ...] widened: lanes 0-7 = sc 0-7 */
        __m512i sc = _mm512_cvtepu8_epi32(_mm_shuffle_epi32(s8, _MM_SHUFFLE(3, 1, 2, 0)));
        __m512i q0 = _mm512_loadu_si512(b->qs), q1 = _mm512_loadu_si512(b->qs + 64);
        __m512i l0 = _mm512_and_si512(q0, m4), h0 = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4);
        __m512i l1 = _mm512_and_si512(q1, m4), h1 = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4);
        __m512i is = _mm512_dpwssd_epi32(z, _mm512_dpbusd_epi32(z, l0, ya[i].y[0]), _mm512_permutexvar_epi32(i02, sc));
        __m512i is2 = _mm512_dpwssd_epi32(z, _mm512_dpbusd_epi32(z, h0, ya[i].y[1]), _mm512_permutexvar_epi32(i13, sc));
        is = _mm512_dpwssd_epi32(is, _mm512_dpbusd_epi32(z, l1, ya[i].y[2]), _mm512_permutexvar_epi32(i46, sc));
        is2 = _mm512_dpwssd_epi32(is2, _mm512_dpbusd_epi32(z, h1, ya[i].y[3]), _mm512_permutexvar_epi32(i57, sc));
        int dbits; /* (d, dmin) * dy */
        memcpy(&dbits, w, 4);
        __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(dbits)), _mm_set1_ps(dy[i]));
        acc = _mm512_fmadd_ps(_mm512_broadcastss_ps(dd), _mm512_cvtepi32_ps(_mm512_add_epi32(is, is2)), acc);
        accm = _mm_fmadd_ps(_mm_shuffle_ps(dd, dd, 0x55), _mm_cvtepi32_ps(mn), accm);
    }
    return _mm512_reduce_add_ps(acc) - hsum_ps(_mm256_zextps128_ps256(accm));
}

static void gemv_q4_K(int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    const pk_block_q8_K *yb = x;
    int nb = n / PK_QK_K;
    if (nb > K_MAX) {
        pk_vec_dot_fn dot = pk_qtraits_of(PK_Q_Q4_K)->vec_dot;
        for (int r = 0; r < nr; r++) dot(n, y + r, (const uint8_t *)w + (size_t)r * wrow, x);
        return;
    }
    k_act ya[K_MAX];
    __m128i bs32[K_MAX];
    float dy[K_MAX];
    k_bsums32(bs32, yb, nb);
    for (int i = 0; i < nb; i++) {
        const int8_t *q = yb[i].qs;
        ya[i].y[0] = pair256(q, q + 64);
        ya[i].y[1] = pair256(q + 32, q + 96);
        ya[i].y[2] = pair256(q + 128, q + 192);
        ya[i].y[3] = pair256(q + 160, q + 224);
        dy[i] = yb[i].d;
    }
    for (int r = 0; r < nr; r++) y[r] = row_q4_K((const uint8_t *)w + (size_t)r * wrow, ya, bs32, dy, nb);
}

/* q6_K, one super-block per step: each 128-value half is 64 bytes of ql
 * (low nibbles: values 0-63, high nibbles: 64-127) and 32 of qh (2 bits
 * per value, at shifts 0, 2, 4, 6 for values 0-31, 32-63, 64-95, 96-127),
 * so a 512-bit load of ql masked and shifted gives values 0-63 and 64-127
 * in natural order, and qh broadcast to both 256-bit halves, shifted per
 * 16-bit lane by (0 | 2) or (4 | 6), their top bits. Against the q8_K
 * activations as they are: vpdpbusd sums 4 products per int32 lane (4
 * lanes per 16-value sub-block, at most 4 * 63 * 128: an int16), and
 * vpdpwssd multiplies by the sub-block's scale (int16 pairs (sc, 0)). The
 * values' offset of 32 goes once per super-block: -32 * sum sc * bsum. */
static inline float row_q6_K(const pk_block_q6_K *b, const pk_block_q8_K *yb, int nb) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
    const __m512i s01 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i s23 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    const __m512i z = _mm512_setzero_si512();
    __m512i idx[4]; /* lanes 4u..4u+3 take scale 4c + u of the product register c */
    for (int c = 0; c < 4; c++)
        idx[c] = _mm512_add_epi32(_mm512_set1_epi32(4 * c),
                                  _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0));
    __m512 acc = _mm512_setzero_ps();
    __m256 accb = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++, b++, yb++) {
        prefetch_lines(b, 4); /* 210 bytes */
        __m128i sc8 = _mm_loadu_si128((const __m128i *)b->scales);
        __m512i sc = _mm512_and_si512(_mm512_cvtepi8_epi32(sc8), _mm512_set1_epi32(0xFFFF));
        __m256i bias = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), _mm256_loadu_si256((const __m256i *)yb->bsums));
        __m512i is = z, is2 = z;
        for (int h = 0; h < 2; h++) {
            __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
            __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
            __m512i lo = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, s01), m2), 4));
            __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, s23), m2), 4));
            const int8_t *q8 = yb->qs + 128 * h;
            is = _mm512_dpwssd_epi32(is, _mm512_dpbusd_epi32(z, lo, _mm512_loadu_si512(q8)),
                                     _mm512_permutexvar_epi32(idx[2 * h], sc));
            is2 = _mm512_dpwssd_epi32(is2, _mm512_dpbusd_epi32(z, hi, _mm512_loadu_si512(q8 + 64)),
                                      _mm512_permutexvar_epi32(idx[2 * h + 1], sc));
        }
        float d = yb->d * h2f(b->d);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(_mm512_add_epi32(is, is2)), acc);
        accb = _mm256_fmadd_ps(_mm256_set1_ps(-32.0f * d), _mm256_cvtepi32_ps(bias), accb);
    }
    return _mm512_reduce_add_ps(acc) + hsum_ps(accb);
}

static void gemv_q6_K(int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    for (int r = 0; r < nr; r++)
        y[r] = row_q6_K((const pk_block_q6_K *)((const uint8_t *)w + (size_t)r * wrow), x, n / PK_QK_K);
}

void pk_quant_avx512_traits(pk_qtraits *t) {
    t[PK_Q_Q4_K].gemv = gemv_q4_K;
    t[PK_Q_Q6_K].gemv = gemv_q6_K;
    pk_gemm_avx512_traits(t);
}
