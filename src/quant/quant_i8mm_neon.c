/* quant_i8mm_neon.c: the prefill GEMM kernels of quant_gemm_neon.inc with
 * the int8 matrix-multiply extension (FEAT_I8MM: SMMLA, a 2x8 times 8x2
 * int8 product into a 2x2 int32 tile per instruction) for q4_0, q8_0,
 * iq4_nl, q4_K, q5_K, q6_K and iq4_xs. CMake compiles this file alone with
 * -march=armv8.2-a+i8mm+dotprod; quant_simd.c installs it only when the
 * kernel reports HWCAP2_I8MM (and the dot-product extension). It compiles
 * quant_neon.inc once more (SDOT) for the block decoders; its table of
 * those kernels replaces the dotprod one (the same code). Speed:
 * unmeasured (no Arm hardware here). */
#include "quant/quant_int.h"

#include <arm_neon.h>

#if !defined(__ARM_FEATURE_MATMUL_INT8) || !defined(__ARM_FEATURE_DOTPROD)
#error "quant_i8mm_neon.c needs -march=armv8.2-a+i8mm+dotprod (see CMakeLists.txt)"
#endif

#define NEON_DOT16(acc, a, b) vdotq_s32(acc, a, b)
#define NEON_NAME(f) f##_i8mm
#include "quant/quant_neon.inc"

#define GEMM_SMMLA 1
#include "quant/quant_gemm_neon.inc"

/* Called on the final table, after the dotprod kernels: installs this
 * file's copy of them (the same code, built with these flags) and the
 * SMMLA GEMMs over the dotprod ones. */
void pk_quant_neon_i8mm_traits(pk_qtraits *t) {
    fill_i8mm(t);
    gemm_fill(t);
}
