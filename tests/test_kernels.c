/* test_kernels.c: every dispatched (SIMD) dot product against its scalar
 * reference on random data: several lengths including tails for the float
 * types, all-zero blocks, extreme quants (every level, max-magnitude
 * activations); the replaced conversions (q8_0 / q8_K quantizers, f16 to
 * f32) byte for byte against the reference table; pk_silu_mul (SwiGLU)
 * against its libm reference at every tail length. Fails if the CPU has
 * AVX2/FMA/F16C but the reference path was picked (AArch64: NEON, and the
 * set POCKET_EXPECT_ISA names). Tolerance: 2e-5 relative to sum |a_i b_i|
 * (float summation order; the integer parts are exact). */
#include "quant/quant.h"
#include "quant/quant_int.h"
#include "test.h"

#include <stdlib.h>

static uint64_t rs = 0x1234567ull;
static float frand(void) { return pk_test_frand(&rs); }

static void fill(float *x, int n, int mode) {
    for (int i = 0; i < n; i++) {
        switch (mode) {
        case 0: x[i] = frand(); break;
        case 1: x[i] = 0; break;                          /* all zero */
        case 2: x[i] = (i % 2 ? 1 : -1) * 1000.0f; break; /* max magnitude, saturating levels */
        case 3: x[i] = frand() * (i % 37 == 0 ? 50.0f : 0.01f); break; /* outliers */
        default: x[i] = (float)(i % 16) - 7.5f; break;    /* every level */
        }
    }
}

static void check_type(pk_qtype t) {
    const pk_qtraits *q = pk_qtraits_of(t), *qa = pk_qtraits_of(q->vec_dot_type);
    static const int lens_f[] = { 1, 7, 15, 16, 17, 33, 255, 256, 1000, 4096 };
    static const int lens_q[] = { 256, 512, 4096, 11008 };
    bool fl = q->blck == 1;
    int nl = fl ? (int)(sizeof(lens_f) / sizeof(int)) : 4;
    double worst = 0;
    for (int li = 0; li < nl; li++) {
        int n = fl ? lens_f[li] : lens_q[li];
        if (n % q->blck) continue;
        float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
        void *qx = malloc(pk_row_size(t, n) + 64), *qy = malloc(pk_row_size(q->vec_dot_type, n) + 64);
        for (int mode = 0; mode < 5; mode++) {
            fill(x, n, mode);
            fill(y, n, (mode + 2) % 5);
            q->from_float(x, qx, n);
            qa->from_float(y, qy, n);
            float a = 0, b = 0;
            q->vec_dot(n, &a, qx, qy);
            q->vec_dot_ref(n, &b, qx, qy);
            /* scale: sum |x_i y_i| over the dequantized operands */
            float *dx = malloc(sizeof(float) * (size_t)n), *dy = malloc(sizeof(float) * (size_t)n);
            q->to_float(qx, dx, n);
            qa->to_float(qy, dy, n);
            double mag = 0;
            for (int i = 0; i < n; i++) mag += fabs((double)dx[i] * dy[i]);
            double err = fabs((double)a - b) / (mag > 0 ? mag : 1);
            worst = fmax(worst, err);
            CHECKF(err <= 2e-5, "%s n=%d mode %d: simd %.9g ref %.9g (|sum| %.3g)", q->name, n, mode, a, b, mag);
            free(dx);
            free(dy);
        }
        free(x), free(y), free(qx), free(qy);
    }
    fprintf(stderr, "   %-6s worst relative difference %.2e\n", q->name, worst);
}

/* the four-row kernels against four reference dots */
static void check_dot4(pk_qtype t) {
    const pk_qtraits *q = pk_qtraits_of(t), *qa = pk_qtraits_of(q->vec_dot_type);
    if (!q->vec_dot4) return;
    int n = 2048;
    size_t rb = pk_row_size(q->vec_dot_type, n);
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    void *qx = malloc(pk_row_size(t, n));
    uint8_t *qy = malloc(rb * 4);
    fill(x, n, 3);
    q->from_float(x, qx, n);
    for (int k = 0; k < 4; k++) {
        fill(y, n, k % 2 ? 0 : 4);
        qa->from_float(y, qy + rb * (size_t)k, n);
    }
    float out[8] = { 0 };
    q->vec_dot4(n, out, 2, qx, qy, rb);
    for (int k = 0; k < 4; k++) {
        float r = 0;
        q->vec_dot_ref(n, &r, qx, qy + rb * (size_t)k);
        CHECKF(fabsf(out[2 * k] - r) <= 2e-5f * (fabsf(r) + 1), "%s dot4 row %d: %g vs %g", q->name, k,
               out[2 * k], r);
    }
    free(x), free(y), free(qx), free(qy);
}

static void test_dot4(void) {
    static const pk_qtype types[] = { PK_Q_Q4_0, PK_Q_Q8_0, PK_Q_IQ4_NL, PK_Q_Q4_K,
                                      PK_Q_Q5_K, PK_Q_Q6_K, PK_Q_IQ4_XS };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) check_dot4(types[i]);
}

/* the GEMV kernels against the reference dot per row: row counts with
 * tails, lengths with odd block counts, every fill mode; the tolerance of
 * check_type (relative to sum |w_i x_i|); also through pk_gemv for types
 * without a kernel (the vec_dot loop) */
static void check_gemv(pk_qtype t, pk_gemv_fn fn, const char *label) {
    const pk_qtraits *q = pk_qtraits_of(t), *qa = pk_qtraits_of(q->vec_dot_type);
    static const int rows[] = { 1, 3, 4, 5, 8, 13 };
    /* 96 and 16448: odd and too many block pairs for q4_0's paired path;
     * 64 and 192: one and three pairs (q4_0 takes two pairs per step);
     * 33024 (k-quants only): too many super-blocks for their per-call layout;
     * 7 and 100: f16 tails */
    static const int lens[] = { 7, 64, 96, 100, 192, 256, 512, 2048, 5632, 16448, 33024 };
    for (size_t li = 0; li < PK_ARRAY_LEN(lens); li++) {
        int n = lens[li], nr = 13;
        if (n % q->blck || (n > 16448 && q->blck != PK_QK_K)) continue; /* f32 sums of f16 drift that long */
        size_t wr = pk_row_size(t, n), xr = pk_row_size(q->vec_dot_type, n);
        float *f = malloc(sizeof(float) * (size_t)n), *dx = malloc(sizeof(float) * (size_t)n), y[13], ref[13], mag[13];
        uint8_t *w = malloc(wr * (size_t)nr), *x = malloc(xr);
        for (int mode = 0; mode < 5; mode++) {
            fill(f, n, (mode + 2) % 5);
            qa->from_float(f, x, n);
            qa->to_float(x, dx, n);
            for (int r = 0; r < nr; r++) {
                fill(f, n, (mode + r) % 5);
                q->from_float(f, w + wr * (size_t)r, n);
                q->vec_dot_ref(n, &ref[r], w + wr * (size_t)r, x);
                q->to_float(w + wr * (size_t)r, f, n);
                double m = 0;
                for (int i = 0; i < n; i++) m += fabs((double)f[i] * dx[i]);
                mag[r] = (float)(m > 0 ? m : 1);
            }
            for (size_t ri = 0; ri < PK_ARRAY_LEN(rows); ri++) {
                for (int r = 0; r < nr; r++) y[r] = -12345.0f;
                if (fn) fn(n, rows[ri], y, w, wr, x);
                else pk_gemv(t, n, rows[ri], y, w, wr, x);
                for (int r = 0; r < nr; r++) {
                    if (r >= rows[ri]) { /* nothing written past nr */
                        CHECKF(y[r] == -12345.0f, "%s %s gemv nr=%d wrote row %d", label, q->name, rows[ri], r);
                        continue;
                    }
                    CHECKF(fabsf(y[r] - ref[r]) <= 2e-5f * mag[r],
                           "%s %s gemv n=%d nr=%d mode %d row %d: %.9g vs %.9g", label, q->name, n, rows[ri], mode, r,
                           y[r], ref[r]);
                }
            }
        }
        free(f), free(dx), free(w), free(x);
    }
}

static void test_gemv(void) {
    static const pk_qtype types[] = { PK_Q_Q4_0, PK_Q_Q8_0, PK_Q_Q4_K, PK_Q_Q5_K,
                                      PK_Q_Q6_K, PK_Q_IQ4_XS, PK_Q_IQ4_NL, PK_Q_F16 };
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++) check_gemv(types[i], NULL, "dispatched");
}

#if defined(__x86_64__)
#include <cpuid.h>

static bool cpu_avxvnni(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1);
}

static bool cpu_avx512vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

static bool env_set(const char *name) { return getenv(name) && atoi(getenv(name)); }

static bool cpu_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

#if defined(__x86_64__)
/* the AVX2 table with an extension's entries over it (NULL: none) */
static void x86_table(pk_qtraits *t, void (*ext)(pk_qtraits *)) {
    pk_quant_ref_traits(t);
    pk_quant_avx2_traits(t);
    if (ext) ext(t);
}

static void check_gemvs(const pk_qtraits *t, const pk_qtype *types, size_t n, const char *label) {
    for (size_t i = 0; i < n; i++) check_gemv(types[i], t[types[i]].gemv, label);
}
#endif

/* Every x86 build of the GEMVs, whichever one dispatch picked: the AVX2
 * table's q4_0, q8_0, q4_K and q6_K, the AVX-VNNI q4_0 / q8_0 and the
 * AVX-512 q4_K / q6_K when the CPU has them (dispatch runs the newest one,
 * so the others would otherwise go untested on such a machine, and the
 * reverse elsewhere). */
static void test_gemv_x86_builds(void) {
#if defined(__x86_64__)
    if (!cpu_avx2()) {
        PK_SKIP("no AVX2 on this CPU");
        return;
    }
    static pk_qtraits avx2[PK_Q_COUNT], vnni[PK_Q_COUNT], z[PK_Q_COUNT];
    static const pk_qtype all[] = { PK_Q_Q4_0, PK_Q_Q8_0, PK_Q_Q4_K, PK_Q_Q6_K };
    static const pk_qtype q8[] = { PK_Q_Q4_0, PK_Q_Q8_0 }, k[] = { PK_Q_Q4_K, PK_Q_Q6_K };
    x86_table(avx2, NULL);
    check_gemvs(avx2, all, PK_ARRAY_LEN(all), "avx2");
#if defined(PK_NO_AVXVNNI_BUILD)
    PK_SKIP("AVX-VNNI kernels not built (compiler without -mavxvnni)");
#else
    if (cpu_avxvnni()) {
        x86_table(vnni, pk_quant_avxvnni_traits);
        CHECK(vnni[PK_Q_Q4_0].gemv != avx2[PK_Q_Q4_0].gemv); /* the one it replaces */
        check_gemvs(vnni, q8, PK_ARRAY_LEN(q8), "avx-vnni");
    } else {
        PK_SKIP("no AVX-VNNI on this CPU: its GEMVs not run");
    }
#endif
#if defined(PK_NO_AVX512_BUILD)
    PK_SKIP("AVX-512 kernels not built (compiler without the flags)");
#else
    if (cpu_avx512vnni()) {
        x86_table(z, pk_quant_avx512_traits);
        CHECK(z[PK_Q_Q4_K].gemv != avx2[PK_Q_Q4_K].gemv && z[PK_Q_Q6_K].gemv != avx2[PK_Q_Q6_K].gemv);
        check_gemvs(z, k, PK_ARRAY_LEN(k), "avx512");
    } else {
        PK_SKIP("no AVX-512 VNNI on this CPU: its GEMVs not run");
    }
#endif
    (void)vnni, (void)z, (void)q8, (void)k;
#else
    PK_SKIP("not x86-64");
#endif
}

static void test_dispatch(void) {
    const char *isa = pk_quant_isa();
    fprintf(stderr, "   kernels: %s\n", isa);
#if defined(__x86_64__)
    if (cpu_avx2() && !getenv("POCKET_REF")) {
        bool vnni = cpu_avxvnni() && !env_set("POCKET_NO_AVXVNNI");
        bool avx512 = cpu_avx512vnni() && !env_set("POCKET_NO_AVX512");
#if defined(PK_NO_AVXVNNI_BUILD)
        vnni = false;
#endif
#if defined(PK_NO_AVX512_BUILD)
        avx512 = false;
#endif
        char want[32];
        snprintf(want, sizeof want, "avx2%s%s", vnni ? "+vnni" : "", avx512 ? "+avx512" : "");
        CHECKF(!strcmp(isa, want), "kernels %s on a CPU with%s AVX-VNNI and with%s AVX-512 VNNI", isa,
               vnni ? "" : "out", avx512 ? "" : "out");
    }
#elif defined(__aarch64__)
    if (!getenv("POCKET_REF")) CHECK(!strncmp(isa, "neon", 4));
    const char *want = getenv("POCKET_EXPECT_ISA"); /* set by tests/test_aarch64.sh per qemu CPU */
    if (want) CHECKF(!strcmp(isa, want), "kernels %s, expected %s", isa, want);
#endif
}

/* Conversions the SIMD table may replace (activation quantizers, f16
 * widening) must give the reference's bytes exactly, on every fill mode. */
static void test_conversions(void) {
    static pk_qtraits ref[PK_Q_COUNT];
    pk_quant_ref_traits(ref);
    static const pk_qtype types[] = { PK_Q_Q8_0, PK_Q_Q8_K, PK_Q_F16 };
    int n = 4096;
    float *x = malloc(sizeof(float) * (size_t)n), *da = malloc(sizeof(float) * (size_t)n),
          *db = malloc(sizeof(float) * (size_t)n);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const pk_qtraits *q = pk_qtraits_of(types[i]), *r = &ref[types[i]];
        size_t rb = pk_row_size(types[i], n);
        uint8_t *qa = malloc(rb), *qb = malloc(rb);
        for (int mode = 0; mode < 6; mode++) {
            fill(x, n, mode);
            if (mode == 3) x[100] = -x[37] * 2; /* the largest magnitude negative */
            if (mode == 5) /* scale exactly 1 and halves: the rounding of ties */
                for (int k = 0; k < n; k++) x[k] = k % 32 == 0 ? -127.0f : (float)((k * 7) % 253 - 126) + 0.5f;
            memset(qa, 0xAA, rb);
            memset(qb, 0x55, rb);
            q->from_float(x, qa, n);
            r->from_float(x, qb, n);
            CHECKF(!memcmp(qa, qb, rb), "%s from_float mode %d differs from the reference", q->name, mode);
            if (mode == 4 && q->blck == 1) /* f16: every bit pattern class (subnormal, inf, NaN) */
                for (size_t k = 0; k < rb; k++) qa[k] = (uint8_t)(frand() * 256);
            int step = q->blck == 1 ? 1 : n; /* f16: tails of 0..39 */
            for (int len = n; len > n - 40; len -= step) {
                q->to_float(qa, da, len);
                r->to_float(qa, db, len);
                bool same = true;
                for (int k = 0; k < len; k++)
                    same &= !memcmp(&da[k], &db[k], sizeof(float)) || (isnan(da[k]) && isnan(db[k]));
                CHECKF(same, "%s to_float n=%d mode %d differs from the reference", q->name, len, mode);
            }
        }
        free(qa), free(qb);
    }
    free(x), free(da), free(db);
}

static void test_all_types(void) {
    static const pk_qtype types[] = { PK_Q_F32, PK_Q_F16, PK_Q_BF16, PK_Q_Q4_0, PK_Q_Q4_1, PK_Q_Q5_0,
                                      PK_Q_Q5_1, PK_Q_Q8_0, PK_Q_Q2_K, PK_Q_Q3_K, PK_Q_Q4_K, PK_Q_Q5_K,
                                      PK_Q_Q6_K, PK_Q_IQ4_NL, PK_Q_IQ4_XS };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) check_type(types[i]);
}

/* pk_silu_mul against the reference: every length 0..41 (all tails) and
 * 4099; gates over [-24, 24] with zeros, signed zeros, +-87, +-88, +-100
 * and tiny values mixed in; within 1e-6 of the reference relative (or
 * 1e-35 absolute: past the clamp e^-g stays finite where expf gives inf),
 * and nothing past n written. */
static void test_silu_mul(void) {
    enum { N = 4099 };
    static const float edge[] = { 0.0f, -0.0f, 87.0f, -87.0f, 88.0f, -88.0f, 100.0f, -100.0f, 1e-20f, -3e-38f };
    float *g = malloc(sizeof(float) * (N + 1)), *u = malloc(sizeof(float) * N);
    float *a = malloc(sizeof(float) * (N + 1)), *b = malloc(sizeof(float) * (N + 1));
    double worst = 0;
    for (int n = 0; n <= 42; n++) {
        int len = n == 42 ? N : n;
        for (int i = 0; i < len; i++) {
            g[i] = i % 7 == 3 ? edge[(i / 7 + n) % PK_ARRAY_LEN(edge)] : frand() * 24.0f;
            u[i] = i % 13 == 5 ? 0.0f : frand() * 2.0f;
        }
        memcpy(a, g, sizeof(float) * (size_t)len);
        memcpy(b, g, sizeof(float) * (size_t)len);
        a[len] = b[len] = 777.0f;
        pk_silu_mul(a, u, (size_t)len);
        pk_silu_mul_ref(b, u, (size_t)len);
        for (int i = 0; i < len; i++) {
            double d = fabs((double)a[i] - b[i]);
            CHECKF(d <= 1e-6 * fabs((double)b[i]) + 1e-35, "n %d: silu_mul[%d] of %g, %g: %.9g, reference %.9g", len, i,
                   (double)g[i], (double)u[i], (double)a[i], (double)b[i]);
            if (fabs((double)b[i]) > 1e-30 && d / fabs((double)b[i]) > worst) worst = d / fabs((double)b[i]);
        }
        CHECKF(a[len] == 777.0f, "n %d: silu_mul wrote past the end", len);
    }
    fprintf(stderr, "   silu_mul worst relative difference %.2e\n", worst);
    free(g), free(u), free(a), free(b);
}

int main(void) {
    pk_quant_init();
    PK_RUN(test_dispatch);
    PK_RUN(test_all_types);
    PK_RUN(test_dot4);
    PK_RUN(test_gemv);
    PK_RUN(test_gemv_x86_builds);
    PK_RUN(test_conversions);
    PK_RUN(test_silu_mul);
    return pk_test_summary();
}
