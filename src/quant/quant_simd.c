/* quant_simd.c: runtime CPU detection; hands the trait table to the per-ISA
 * files that this CPU can run. Intrinsics live only in the per-ISA files
 * (*_avx2.c, *_avxvnni.c, *_avx512.c, *_neon.c). x86-64: AVX2+FMA+F16C from
 * cpuid, and on top the AVX-VNNI q4_0 GEMV and q4_0 / k-quant GEMMs when
 * cpuid reports AVX-VNNI (POCKET_NO_AVXVNNI=1 keeps the AVX2 ones), and
 * over those the AVX-512 VNNI GEMMs and q4_K / q6_K GEMVs (POCKET_NO_AVX512=1
 * leaves them out). AArch64:
 * NEON always (it is part of ARMv8-A); the SDOT kernels when the kernel
 * reports HWCAP_ASIMDDP (POCKET_NO_DOTPROD=1 keeps the plain NEON ones,
 * for tests); on top of those the SMMLA GEMM kernels when it also reports
 * HWCAP2_I8MM (POCKET_NO_I8MM=1 leaves them out). */
#include "quant/quant_int.h"

#include <stdlib.h>
#include <string.h>

/* an environment switch set to a non-zero number */
static inline bool env_off(const char *name) {
    const char *v = getenv(name);
    return v && atoi(v);
}

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

/* AVX-VNNI (VEX vpdpbusd): CPUID leaf 7 sub-leaf 1, EAX bit 4; the AVX
 * state is already known to be enabled (AVX2 passed). POCKET_NO_AVXVNNI=1
 * keeps the AVX2 kernels (for comparisons). */
#if !defined(PK_NO_AVXVNNI_BUILD)
static bool cpu_has_avxvnni(void) {
    unsigned a, b, c, d;
    if (env_off("POCKET_NO_AVXVNNI")) return false;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return (a >> 4) & 1;
}
#endif

/* AVX-512 F, BW, VL and VNNI: GCC's and clang's checks read CPUID and ask
 * the OS (XGETBV) whether it saves the 512-bit and mask state.
 * POCKET_NO_AVX512=1 keeps the AVX2 / AVX-VNNI kernels. */
#if !defined(PK_NO_AVX512_BUILD)
static bool cpu_has_avx512vnni(void) {
    if (env_off("POCKET_NO_AVX512")) return false;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}
#endif
#endif

#if defined(__aarch64__)
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20) /* from the kernel's asm/hwcap.h */
#endif
#ifndef AT_HWCAP2
#define AT_HWCAP2 26
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13) /* asm/hwcap.h as well */
#endif
#endif

static bool cpu_has_dotprod(void) {
    if (env_off("POCKET_NO_DOTPROD")) return false;
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    return true; /* every Apple arm64 core has it */
#else
    return false;
#endif
}

#if !defined(PK_NO_I8MM_BUILD)
/* Apple cores from the M2 on have it too, but are not asked here */
static bool cpu_has_i8mm(void) {
    if (env_off("POCKET_NO_I8MM")) return false;
#if defined(__linux__)
    return (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
#else
    return false;
#endif
}
#endif
#endif

static const char *active = "ref";

void pk_quant_simd_traits(pk_qtraits *t) {
#if defined(__x86_64__) || defined(__i386__)
    if (cpu_has_avx2_fma_f16c()) {
        pk_quant_avx2_traits(t);
        active = "avx2";
#if !defined(PK_NO_AVXVNNI_BUILD)
        if (cpu_has_avxvnni()) {
            pk_quant_avxvnni_traits(t);
            active = "avx2+vnni";
        }
#endif
#if !defined(PK_NO_AVX512_BUILD)
        if (cpu_has_avx512vnni()) {
            pk_quant_avx512_traits(t);
            active = !strcmp(active, "avx2+vnni") ? "avx2+vnni+avx512" : "avx2+avx512";
        }
#endif
    }
#elif defined(__aarch64__)
    pk_quant_neon_traits(t);
    active = "neon";
    if (cpu_has_dotprod()) {
        pk_quant_neon_dotprod_traits(t);
        active = "neon+dotprod";
#if !defined(PK_NO_I8MM_BUILD) /* see CMakeLists.txt */
        if (cpu_has_i8mm()) {
            pk_quant_neon_i8mm_traits(t);
            active = "neon+dotprod+i8mm";
        }
#endif
    }
#else
    (void)t;
#endif
}

pk_silu_mul_fn pk_quant_simd_silu_mul(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (cpu_has_avx2_fma_f16c()) return pk_silu_mul_avx2;
#elif defined(__aarch64__)
    return pk_silu_mul_neon;
#endif
    return NULL;
}

const char *pk_quant_isa(void) {
    pk_quant_init();
    return active;
}
