/* quant_avx2_int.h: AVX2 helpers shared by the x86 kernel files
 * (quant_avx2.c: GEMV / vec_dot, gemm_avx2.c: prefill tiles); included
 * only by files compiled with -mavx2. */
#ifndef PK_QUANT_AVX2_INT_H
#define PK_QUANT_AVX2_INT_H

#include <immintrin.h>
#include <stdint.h>

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

#endif
