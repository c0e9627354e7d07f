/* quant.c: the trait table and dispatch. Each type's reference kernels live
 * in quant_ref.c; SIMD variants in quant_avx2.c / quant_neon.c replace
 * vec_dot entries here at pk_quant_init() time. */
#include "quant/quant.h"
#include "pocket.h"
#include "quant/quant_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <strings.h>

static pk_qtraits traits[PK_Q_COUNT], ref_traits[PK_Q_COUNT];
static pk_silu_mul_fn silu_mul = pk_silu_mul_ref;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_tables(void) {
    pk_quant_ref_traits(ref_traits);
    pk_quant_ref_traits(traits);
    if (!getenv("POCKET_REF") || !atoi(getenv("POCKET_REF"))) {
        pk_quant_simd_traits(traits);
        pk_silu_mul_fn f = pk_quant_simd_silu_mul();
        if (f) silu_mul = f;
    }
    if (getenv("POCKET_GEMM") && !atoi(getenv("POCKET_GEMM"))) /* prefill through vec_dot, for comparison */
        for (int t = 0; t < PK_Q_COUNT; t++) traits[t].gemm = NULL;
    if (getenv("POCKET_GEMV") && !atoi(getenv("POCKET_GEMV"))) /* decode through vec_dot, for comparison */
        for (int t = 0; t < PK_Q_COUNT; t++) traits[t].gemv = NULL;
}

void pk_quant_init(void) { pthread_once(&init_once, init_tables); }

void pk_silu_mul(float *o, const float *u, size_t n) {
    pk_quant_init();
    silu_mul(o, u, n);
}

const char *pk_kernels(void) { return pk_quant_isa(); }

bool pk_qtype_known(int t) {
    if (t < 0 || t >= PK_Q_COUNT) return false;
    pk_quant_init();
    return traits[t].name != NULL;
}

const pk_qtraits *pk_qtraits_of(pk_qtype t) {
    return pk_qtype_known((int)t) ? &traits[t] : NULL;
}

const pk_qtraits *pk_qtraits_ref_of(pk_qtype t) {
    return pk_qtype_known((int)t) ? &ref_traits[t] : NULL;
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

/* ---- gemm ---- */

void pk_gemm_loop(const pk_qtraits *q, int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow,
                  const void *x, size_t xrow) {
    const uint8_t *wb = w, *xb = x;
    for (int r = 0; r < nr; r++) {
        const uint8_t *wr = wb + (size_t)r * wrow;
        int t = 0;
        if (q->vec_dot4) /* four tokens per pass over the row */
            for (; t + 4 <= nt; t += 4) q->vec_dot4(n, y + (size_t)t * ys + (size_t)r, ys, wr, xb + (size_t)t * xrow, xrow);
        for (; t < nt; t++) q->vec_dot(n, y + (size_t)t * ys + (size_t)r, wr, xb + (size_t)t * xrow);
    }
}

void pk_gemm(pk_qtype t, int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow, const void *x,
             size_t xrow) {
    const pk_qtraits *q = &traits[t];
    if (q->gemm) q->gemm(n, nr, nt, y, ys, w, wrow, x, xrow);
    else pk_gemm_loop(q, n, nr, nt, y, ys, w, wrow, x, xrow);
}

void pk_gemv(pk_qtype t, int n, int nr, float *y, const void *w, size_t wrow, const void *x) {
    const pk_qtraits *q = &traits[t];
    if (q->gemv) {
        q->gemv(n, nr, y, w, wrow, x);
        return;
    }
    for (int r = 0; r < nr; r++) q->vec_dot(n, y + r, (const uint8_t *)w + (size_t)r * wrow, x);
}
