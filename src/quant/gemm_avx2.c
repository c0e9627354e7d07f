/* gemm_avx2.c: the prefill GEMMs of gemm_x86.inc built for AVX2/FMA/F16C
 * (CMake's flags for *_avx2.c); quant_avx2.c installs them. */
#define GEMM_TRAITS pk_gemm_avx2_traits
#include "quant/gemm_x86.inc"
