/* gemm_avx512.c: gemm_x86.inc built for AVX-512 (F, BW, VL, VNNI; CMake's
 * flags for *_avx512.c): every register holds 8 rows x 8 decoded values,
 * so one vpdpbusd does the work of two AVX-VNNI ones, and q8_0 and iq4_xs
 * (decoded +128) go through it too. quant_simd.c installs these GEMMs
 * (q4_0, q8_0, q4_K, q5_K, q6_K, iq4_xs) over the AVX2 / AVX-VNNI ones only
 * when CPUID reports the four extensions and the OS saves the 512-bit
 * state. */
#if !defined(__AVX512VNNI__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "gemm_avx512.c needs -mavx512f -mavx512bw -mavx512vl -mavx512vnni (see CMakeLists.txt)"
#endif
#define GEMM_TRAITS pk_gemm_avx512_traits
#include "quant/gemm_x86.inc"
