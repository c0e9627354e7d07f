/* gemm_avxvnni.c: gemm_x86.inc built with AVX-VNNI as well (CMake's flags
 * for *_avxvnni.c): q4_0's tile sums 4 weight x activation bytes per int32
 * lane with vpdpbusd, where AVX2 needs maddubs, an int16 add and a final
 * madd. quant_simd.c installs its q4_0 GEMM over the AVX2 table only when
 * CPUID reports AVX-VNNI. */
#if !defined(__AVXVNNI__)
#error "gemm_avxvnni.c needs -mavxvnni (see CMakeLists.txt)"
#endif
#define GEMM_TRAITS pk_gemm_avxvnni_traits
#include "quant/gemm_x86.inc"
