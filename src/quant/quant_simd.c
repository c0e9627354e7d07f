/* quant_simd.c: runtime CPU detection; hands the trait table to the per-ISA
 * files that this CPU can run. Intrinsics live only in *_avx2.c / *_neon.c. */
#include "quant/quant_int.h"

void pk_quant_simd_traits(pk_qtraits *t) {
    (void)t;
}
