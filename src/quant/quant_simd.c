/* quant_simd.c: runtime CPU detection; hands the trait table to the per-ISA
 * files that this CPU can run. Intrinsics live only in *_avx2.c / *_neon.c. */
#include "quant/quant_int.h"

#if defined(__x86_64__) || defined(__i386__)
static bool cpu_has_avx2_fma_f16c(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
}
#endif

static const char *active = "ref";

void pk_quant_simd_traits(pk_qtraits *t) {
#if defined(__x86_64__) || defined(__i386__)
    if (cpu_has_avx2_fma_f16c()) {
        pk_quant_avx2_traits(t);
        active = "avx2";
    }
#else
    (void)t;
#endif
}

const char *pk_quant_isa(void) {
    pk_quant_init();
    return active;
}
