/* test_gemm.c: the GEMM kernels (trait gemm, and pk_gemm's vec_dot
 * fallback for types without one) against the scalar reference: every
 * output y[t][r] equals vec_dot_ref(row r, token t). Shapes cover the
 * tails: token counts 1..70 (tiles of 4 plus 1..3 left over; two chunks
 * of the q8_0 activation table at the longest cached row), row counts
 * that are not a multiple of 8 (the kernels' row group), two row lengths
 * (f16: one not a multiple of 8);
 * data includes all-zero rows, saturating levels and outliers.
 * Tolerance: 2e-5 relative to sum |w_i x_i| of the dequantized operands
 * (float summation order; the integer parts are exact). Also: the SIMD
 * activation quantizers (q8_0, q8_K) give the reference's bytes. */
#include "quant/quant.h"
#include "test.h"

#include <stdlib.h>

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static float frand(void) { return pk_test_frand(&rs); }

static void fill(float *x, int n, int mode) {
    for (int i = 0; i < n; i++) {
        switch (mode % 5) {
        case 0: x[i] = frand(); break;
        case 1: x[i] = 0; break;
        case 2: x[i] = (i % 2 ? 1 : -1) * 1000.0f; break;
        case 3: x[i] = frand() * (i % 37 == 0 ? 50.0f : 0.01f); break;
        default: x[i] = (float)(i % 16) - 7.5f; break;
        }
    }
}

/* one shape: nr rows of n, nt tokens; gemm through fn (NULL: pk_gemm) */
static double check_shape(pk_qtype t, int n, int nr, int nt, bool loop) {
    const pk_qtraits *q = pk_qtraits_of(t), *qa = pk_qtraits_of(q->vec_dot_type);
    size_t wrow = pk_row_size(t, n), xrow = pk_row_size(q->vec_dot_type, n);
    float *f = malloc(sizeof(float) * (size_t)n);
    float *dw = malloc(sizeof(float) * (size_t)n * (size_t)nr), *dx = malloc(sizeof(float) * (size_t)n * (size_t)nt);
    uint8_t *w = malloc(wrow * (size_t)nr), *x = malloc(xrow * (size_t)nt);
    size_t ys = (size_t)nr + 3; /* a stride wider than the rows */
    float *y = malloc(sizeof(float) * ys * (size_t)nt);
    for (int r = 0; r < nr; r++) {
        fill(f, n, r % 7 == 5 ? 1 : r % 7 == 6 ? 2 : r % 7 == 4 ? 3 : 0);
        q->from_float(f, w + (size_t)r * wrow, n);
        q->to_float(w + (size_t)r * wrow, dw + (size_t)r * (size_t)n, n);
    }
    for (int k = 0; k < nt; k++) {
        fill(f, n, k % 5 == 3 ? 4 : k % 5 == 4 ? 3 : 0);
        qa->from_float(f, x + (size_t)k * xrow, n);
        qa->to_float(x + (size_t)k * xrow, dx + (size_t)k * (size_t)n, n);
    }
    for (size_t i = 0; i < ys * (size_t)nt; i++) y[i] = -12345.0f;
    if (loop) pk_gemm_loop(q, n, nr, nt, y, ys, w, wrow, x, xrow);
    else pk_gemm(t, n, nr, nt, y, ys, w, wrow, x, xrow);
    double worst = 0;
    for (int k = 0; k < nt; k++) {
        for (int r = 0; r < nr; r++) {
            float ref = 0;
            q->vec_dot_ref(n, &ref, w + (size_t)r * wrow, x + (size_t)k * xrow);
            double mag = 0;
            for (int i = 0; i < n; i++) mag += fabs((double)dw[(size_t)r * (size_t)n + (size_t)i] * dx[(size_t)k * (size_t)n + (size_t)i]);
            float got = y[(size_t)k * ys + (size_t)r];
            double err = fabs((double)got - ref) / (mag > 0 ? mag : 1);
            worst = fmax(worst, err);
            CHECKF(err <= 2e-5, "%s%s n=%d nr=%d nt=%d: y[%d][%d] = %.9g, ref %.9g (sum|wx| %.3g)", q->name,
                   loop ? " (loop)" : "", n, nr, nt, k, r, got, ref, mag);
        }
        for (size_t r = (size_t)nr; r < ys; r++) CHECK(y[(size_t)k * ys + r] == -12345.0f); /* untouched */
    }
    free(f), free(dw), free(dx), free(w), free(x), free(y);
    return worst;
}

static void check_type(pk_qtype t) {
    const pk_qtraits *q = pk_qtraits_of(t);
    static const int rows[] = { 1, 3, 8, 13, 16, 21 };
    int lens[2] = { q->blck == PK_QK_K ? 256 : q->blck == 1 ? 67 : 64, q->blck == PK_QK_K ? 1024 : 320 };
    double worst = 0;
    for (int li = 0; li < 2; li++)
        for (size_t ri = 0; ri < PK_ARRAY_LEN(rows); ri++)
            for (int nt = 1; nt <= 9; nt++) {
                worst = fmax(worst, check_shape(t, lens[li], rows[ri], nt, false));
                if (ri == 3 && nt == 5) worst = fmax(worst, check_shape(t, lens[li], rows[ri], nt, true));
            }
    fprintf(stderr, "   %-7s gemm %-8s worst relative difference %.2e\n", q->name, q->gemm ? "kernel" : "fallback",
            worst);
}

static void test_types(void) {
    static const pk_qtype types[] = { PK_Q_Q4_0, PK_Q_Q8_0, PK_Q_Q4_K, PK_Q_Q5_K, PK_Q_Q6_K, PK_Q_IQ4_XS,
                                      PK_Q_F16, PK_Q_F32, PK_Q_Q4_1, PK_Q_Q5_0, PK_Q_Q2_K, PK_Q_Q3_K, PK_Q_IQ4_NL };
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++) check_type(types[i]);
}

/* batches of 10..70 tokens: many full 4-token tiles and every tail */
static void test_many_tokens(void) {
    static const pk_qtype types[] = { PK_Q_Q4_0, PK_Q_Q8_0, PK_Q_Q4_K, PK_Q_Q5_K,
                                      PK_Q_Q6_K, PK_Q_IQ4_XS, PK_Q_F16, PK_Q_F32 };
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++)
        for (int nt = 10; nt <= 70; nt++)
            check_shape(types[i], pk_qtraits_of(types[i])->blck == 1 ? 67 : 256, nt % 2 ? 13 : 8, nt, false);
}

/* the longest cached row (n 12288): the q8_0 activation table holds 84
 * tokens of it and q4_K's 168, so 90 and 171 tokens take two chunks */
static void test_token_chunks(void) {
    check_shape(PK_Q_Q4_0, 12288, 9, 90, false);
    check_shape(PK_Q_Q8_0, 12288, 8, 90, false);
    check_shape(PK_Q_Q4_K, 12288, 8, 171, false);
    /* a last chunk of fewer than 4 tokens while a next 8-row group is being
     * prefetched (84 + 2 tokens, 16 rows) */
    check_shape(PK_Q_Q4_0, 12288, 16, 86, false);
}

/* rows longer than one pass of the tiles (64 groups): 5632 (the
 * TinyLlama ffn_down) is two passes and a part, 2304 one and a part */
static void test_long_passes(void) {
    static const pk_qtype types[] = { PK_Q_Q4_0, PK_Q_Q8_0, PK_Q_Q4_K, PK_Q_Q5_K, PK_Q_Q6_K, PK_Q_IQ4_XS };
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++) {
        check_shape(types[i], 5632, 16, 13, false);
        check_shape(types[i], 2304, 9, 6, false);
    }
}

/* a long row (past the kernels' stack cache) takes the vec_dot path */
static void test_long_rows(void) {
    check_shape(PK_Q_Q4_0, 16384, 9, 5, false);
    check_shape(PK_Q_Q4_K, 16384, 9, 5, false);
}

/* the activation quantizers give the reference's bytes: random data, ties
 * at .5 (roundf away from zero for q8_0, to even for q8_K), zeros, a
 * negative and a positive value of the largest magnitude */
static void test_act_quant(void) {
    static const pk_qtype types[] = { PK_Q_Q8_0, PK_Q_Q8_K };
    int n = 4096;
    float *x = malloc(sizeof(float) * (size_t)n);
    for (size_t ti = 0; ti < PK_ARRAY_LEN(types); ti++) {
        const pk_qtraits *q = pk_qtraits_of(types[ti]), *r = pk_qtraits_ref_of(types[ti]);
        size_t rb = pk_row_size(types[ti], n);
        uint8_t *a = malloc(rb), *b = malloc(rb);
        for (int mode = 0; mode < 8; mode++) {
            for (int i = 0; i < n; i++) {
                switch (mode) {
                case 5: x[i] = (float)((i % 255) - 127) + (i % 3 == 0 ? 0.5f : 0); break; /* ties */
                case 6: x[i] = i % 256 == 7 ? -127.0f : i % 256 == 9 ? 127.0f : (float)(i % 50) - 24.5f; break;
                case 7: x[i] = i < 300 ? 0 : frand() * 1e-30f; break;
                default: x[i] = frand() * (float)(mode + 1) * (mode == 4 ? 1000.0f : 1.0f); break;
                }
            }
            q->from_float(x, a, n);
            r->from_float(x, b, n);
            CHECKF(!memcmp(a, b, rb), "%s mode %d: quantized bytes differ from the reference", q->name, mode);
        }
        free(a), free(b);
    }
    free(x);
}

/* the SIMD build has kernels for the types people run (AArch64: widening,
 * SDOT or SMMLA ones) */
static void test_dispatch(void) {
    if (!strncmp(pk_quant_isa(), "neon", 4)) {
        static const pk_qtype types[] = { PK_Q_Q4_0, PK_Q_Q8_0, PK_Q_IQ4_NL, PK_Q_Q4_K, PK_Q_Q5_K, PK_Q_Q6_K, PK_Q_IQ4_XS };
        for (size_t i = 0; i < PK_ARRAY_LEN(types); i++)
            CHECKF(pk_qtraits_of(types[i])->gemm != NULL, "%s has no gemm", pk_qtype_name(types[i]));
    }
    if (strncmp(pk_quant_isa(), "avx2", 4)) return; /* "avx2" or "avx2+vnni" */
    static const pk_qtype types[] = { PK_Q_Q4_0, PK_Q_Q8_0, PK_Q_Q4_K, PK_Q_Q5_K, PK_Q_Q6_K, PK_Q_IQ4_XS, PK_Q_F16 };
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++)
        CHECKF(pk_qtraits_of(types[i])->gemm != NULL, "%s has no gemm", pk_qtype_name(types[i]));
}

int main(void) {
    pk_quant_init();
    fprintf(stderr, "   kernels: %s\n", pk_quant_isa());
    PK_RUN(test_dispatch);
    PK_RUN(test_types);
    PK_RUN(test_many_tokens);
    PK_RUN(test_token_chunks);
    PK_RUN(test_long_passes);
    PK_RUN(test_long_rows);
    PK_RUN(test_act_quant);
    return pk_test_summary();
}
