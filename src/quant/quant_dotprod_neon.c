/* quant_dotprod_neon.c: the integer dot products of quant_neon.inc and the
 * prefill GEMMs of quant_gemm_neon.inc (SDOT-by-lane tiles) built with the
 * ARMv8.2-A dot-product extension (SDOT: four int8 products summed into
 * each int32 lane in one instruction). CMake compiles this file alone
 * with -march=armv8.2-a+dotprod; quant_simd.c calls it only when the kernel
 * reports HWCAP_ASIMDDP, so the rest of the library runs on plain ARMv8-A. */
#include "quant/quant_int.h"

#include <arm_neon.h>

#if !defined(__ARM_FEATURE_DOTPROD)
#error "quant_dotprod_neon.c needs -march=armv8.2-a+dotprod (see CMakeLists.txt)"
#endif

#define NEON_DOT16(acc, a, b) vdotq_s32(acc, a, b)
#define NEON_NAME(f) f##_dotprod
#include "quant/quant_neon.inc"
#define GEMM_SMMLA 0
#define GEMM_DOT_LANE(acc, w, x, lane) vdotq_laneq_s32(acc, w, x, lane)
#include "quant/quant_gemm_neon.inc"

/* on the final table (the GEMMs' row tails use its vec_dot entries) */
void pk_quant_neon_dotprod_traits(pk_qtraits *t) {
    fill_dotprod(t);
    gemm_fill(t);
}
