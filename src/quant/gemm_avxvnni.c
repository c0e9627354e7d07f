/* gemm_avxvnni.c: gemm_x86.inc built with AVX-VNNI as well (CMake's flags
 * for *_avxvnni.c): the q4_0, q4_K, q5_K and q6_K tiles sum 4 weight x
 * activation bytes per int32 lane with vpdpbusd, where AVX2 needs maddubs,
 * int16 adds and a madd. quant_simd.c installs these four GEMMs over the
 * AVX2 table only when CPUID reports AVX-VNNI. */
#if !defined(__AVXVNNI__)
#error "gemm_avxvnni.c needs -mavxvnni (see CMakeLists.txt)"
#endif
#define GEMM_TRAITS pk_gemm_avxvnni_traits
#include "quant/gemm_x86.inc"
