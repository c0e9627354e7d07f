/* quant_avx2_int.h: AVX2 helpers shared by the x86 kernel files
 * (quant_avx2.c: GEMV / vec_dot, gemm_x86.inc: prefill tiles,
 * quant_avxvnni.c / gemm_avxvnni.c: the same with AVX-VNNI); included
 * only by files compiled with -mavx2. */
#ifndef PK_QUANT_AVX2_INT_H
#define PK_QUANT_AVX2_INT_H

#include "quant/quant_int.h"

#include <immintrin.h>
#include <stdint.h>

static inline float hsum_ps(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* sum of products of 32 unsigned (ux) and signed (sy) bytes, as 8 int32:
 * one vpdpbusd in files built with AVX-VNNI (quant_avxvnni.c), else
 * maddubs + madd, exact while ux <= 128 (two products fit an int16) */
static inline __m256i dot_u8_s8(__m256i ux, __m256i sy) {
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), ux, sy);
#else
    __m256i p16 = _mm256_maddubs_epi16(ux, sy);
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
#endif
}

/* signed x signed via sign tricks: |x| * (y * sign(x)) */
static inline __m256i dot_s8_s8(__m256i x, __m256i y) {
    return dot_u8_s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* 16 bytes of nibbles -> 32 bytes: low nibbles first, then high */
static inline __m256i nibbles32(const uint8_t *p) {
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* int16 lanes all = int16 element k of each 128-bit half of v (k < 8) */
static inline __m256i bcast16(__m256i v, int k) {
    const __m256i m = _mm256_set1_epi16((short)(0x0100 * (2 * k + 1) + 2 * k));
    return _mm256_shuffle_epi8(v, m);
}

/* Row after row: the rows of a call are contiguous, so the weights are one
 * sequential stream, and the kernels prefetch it PF_AHEAD bytes ahead (past
 * the end of a row into the next; measured by bench/gemv_speed, software
 * prefetch lifts one thread's weight stream from about 5.5 to 9-10 GB/s,
 * above what the hardware prefetcher alone reaches). The activation row
 * stays in L1. Integer parts are exact, so results equal vec_dot per row up
 * to float summation order. A block takes ceil(bytes / 64) prefetches at
 * steps of 64 bytes, so consecutive blocks leave no line out. Loops over
 * the sub-blocks of a super-block are unrolled (GCC unroll): then the
 * pshufb masks that spread the scales are constants, not rebuilt per
 * sub-block (unrolling alone took q4_K from 8 to 11.5 GB/s in L2). */

/* 4 KB: against 2 KB, decode with two threads (`bench/before_after.sh`,
 * tg32, tinyllama Q4_K_M and 7B q4_0 / Q4_K_M, 5 rounds in both orders)
 * was faster in 12 of 15 pairs, typically by 5-8% */
enum { PF_AHEAD = 4096 };

static inline __attribute__((always_inline)) void prefetch_lines(const void *p, int lines) {
    for (int l = 0; l < lines; l++) _mm_prefetch((const char *)p + PF_AHEAD + 64 * l, _MM_HINT_T0);
}

/* q4_K / q5_K: the 6-bit scales and mins of a super-block, from 12 bytes as
 * 32-bit words u0, u1, u2: scales 0-3 = u0 & 0x3f.., mins 0-3 = u1 & 0x3f..,
 * scales 4-7 = (u2 & 0x0f..) | (u0 >> 2 & 0x30..), mins 4-7 = (u2 >> 4 &
 * 0x0f..) | (u1 >> 2 & 0x30..), all four words at once in one register.
 * Reads 16 bytes (the 4 after the scales are the block's qs). Returns the
 * bytes [sc 0-3 | mn 0-3 | sc 4-7 | mn 4-7]; K4_SC(g) / K4_MN(g) are the
 * byte positions. */
#define K4_SC(g) ((g) < 4 ? (g) : (g) + 4)
#define K4_MN(g) ((g) < 4 ? (g) + 4 : (g) + 8)

static inline __m128i k4_scales8(const uint8_t *s) {
    __m128i v = _mm_loadu_si128((const __m128i *)s);
    __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 1, 0)), b = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 1, 0));
    __m128i lo = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)),
                               _mm_setr_epi32(0x3f3f3f3f, 0x3f3f3f3f, 0x0f0f0f0f, 0x0f0f0f0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi32(b, 2), _mm_setr_epi32(0, 0, 0x30303030, 0x30303030));
    return _mm_or_si128(lo, hi);
}

/* q4_K / q5_K GEMV activations, once per call: the sums of the 32
 * activations of each sub-block (from the q8_K sums of 16), 8 int16 per
 * super-block */
static inline void k_bsums32(__m128i *bs32, const pk_block_q8_K *yb, int nb) {
    for (int i = 0; i < nb; i++)
        bs32[i] = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)yb[i].bsums),
                                 _mm_loadu_si128((const __m128i *)(yb[i].bsums + 8)));
}

/* sum over the 8 sub-blocks of min * (sum of its activations), as 4 int32
 * to add up, from k4_scales8's bytes and k_bsums32's sums */
static inline __m128i k4_mins_dot(__m128i s8, __m128i bs32) {
    const __m128i mn_mask = _mm_setr_epi8(K4_MN(0), -1, K4_MN(1), -1, K4_MN(2), -1, K4_MN(3), -1, K4_MN(4), -1,
                                          K4_MN(5), -1, K4_MN(6), -1, K4_MN(7), -1);
    return _mm_madd_epi16(_mm_shuffle_epi8(s8, mn_mask), bs32);
}

#endif
