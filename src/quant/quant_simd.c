/* quant_simd.c: runtime CPU detection; hands the trait table to the per-ISA
 * files that this CPU can run. Intrinsics live only in *_avx2.c / *_neon.c. */
#include "quant/quant_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* AVX2 and FMA through the compiler's check (which also asks the OS about
 * the AVX state); F16C from CPUID leaf 1, ECX bit 29 (clang 14 does not know
 * the name). */
static bool cpu_has_avx2_fma_f16c(void) {
    unsigned a, b, c, d;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    return (c >> 29) & 1;
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
