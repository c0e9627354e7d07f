/* quant.c: the trait table and dispatch. Each type's reference kernels live
 * in quant_ref.c; SIMD variants in quant_avx2.c / quant_neon.c replace
 * vec_dot entries here at pk_quant_init() time. */
#include "quant/quant.h"
#include "quant/quant_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <strings.h>

static pk_qtraits traits[PK_Q_COUNT];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_tables(void) {
    pk_quant_ref_traits(traits);
    if (!getenv("POCKET_REF") || !atoi(getenv("POCKET_REF")))
        pk_quant_simd_traits(traits);
}

void pk_quant_init(void) { pthread_once(&init_once, init_tables); }

bool pk_qtype_known(int t) {
    if (t < 0 || t >= PK_Q_COUNT) return false;
    pk_quant_init();
    return traits[t].name != NULL;
}

const pk_qtraits *pk_qtraits_of(pk_qtype t) {
    return pk_qtype_known((int)t) ? &traits[t] : NULL;
}

const char *pk_qtype_name(pk_qtype t) {
    const pk_qtraits *q = pk_qtraits_of(t);
    return q ? q->name : "unknown";
}

int pk_qtype_from_name(const char *name) {
    pk_quant_init();
    for (int t = 0; t < PK_Q_COUNT; t++)
        if (traits[t].name && strcasecmp(traits[t].name, name) == 0) return t;
    return -1;
}

size_t pk_row_size(pk_qtype t, int64_t n) {
    const pk_qtraits *q = pk_qtraits_of(t);
    if (!q || n < 0 || n % q->blck) return 0;
    return (size_t)(n / q->blck) * q->bytes;
}
