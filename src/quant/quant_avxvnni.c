/* quant_avxvnni.c: the q4_0 decode GEMV (gemv_q8_avx2.inc) built with
 * AVX-VNNI, whose vpdpbusd sums four unsigned x signed byte products into
 * each int32 lane in one instruction where AVX2 needs maddubs, madd and an
 * add: 15.2 -> 18.3 GB/s on a matrix in L2 (bench/gemv_speed q4_0 4096
 * 256, best of 6 alternating runs). q8_0's GEMV gains nothing from it (its
 * sign trick stays), so only q4_0's is installed. CMake compiles this file
 * alone with -mavxvnni (when the compiler knows it); quant_simd.c installs
 * it over the AVX2 table only when CPUID reports AVX-VNNI. */
#include "quant/quant_avx2_int.h"
#include "quant/quant_int.h"

#include <stdbool.h>

#if !defined(__AVXVNNI__)
#error "quant_avxvnni.c needs -mavxvnni (see CMakeLists.txt)"
#endif

#include "quant/gemv_q8_avx2.inc"

void pk_quant_avxvnni_traits(pk_qtraits *t) {
    t[PK_Q_Q4_0].gemv = gemv_q4_0;
    (void)gemv_q8_0;
    pk_gemm_avxvnni_traits(t);
}
