/* test_quant.c: the reference kernels of every tensor type. Golden blocks
 * and dequantized floats from ggml (tests/data/quant/<type>.bin, made by
 * tools/fixtures/quant_fixtures.c) must match byte for byte; on random rows
 * the round-trip error, the dot products and requantization are checked
 * against fp64 computations with per-type bounds. */
#include "quant/quant.h"
#include "test.h"

#include <stdint.h>

/* ---- random rows (xorshift32 + Box-Muller, as the fixture generator) ---- */

static uint32_t rng = 0x9E3779B9u;
static uint32_t rng_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}
static float rng_unit(void) { return ((rng_u32() >> 8) + 1) * (1.0f / 16777216.0f); }
static float rng_normal(void) {
    float u1 = rng_unit(), u2 = rng_unit();
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

enum { D_NORMAL, D_UNIFORM, D_OUTLIERS, D_ZERO, D_TINY, D_COUNT };
static const char *dist_name[D_COUNT] = { "normal", "uniform", "outliers", "zero", "tiny" };

static void fill(float *x, int n, int dist) {
    for (int j = 0; j < n; j++) {
        switch (dist) {
        case D_NORMAL: x[j] = rng_normal(); break;
        case D_UNIFORM: x[j] = 2.0f * rng_unit() - 1.0f; break;
        case D_OUTLIERS: x[j] = rng_normal() * (rng_u32() % 50 == 0 ? 30.0f : 1.0f); break;
        case D_ZERO: x[j] = 0.0f; break;
        default: x[j] = rng_normal() * 1e-3f; break;
        }
    }
}

/* ---- per-type bounds ---- */

/* Quantized types under test, with bounds on the RMSE of
 * dequantize(quantize(x)) relative to the RMS of x: on normal, uniform and
 * tiny (1e-3 scale) rows, and on rows with 2% outliers of 30x. Measured on
 * these seeds (x86-64), the bounds leave 15-40% margin. */
static const struct { pk_qtype t; double rmse, rmse_outliers; } types[] = {
    { PK_Q_Q4_0, 0.115, 0.19 },   { PK_Q_Q4_1, 0.10, 0.16 },    { PK_Q_Q5_0, 0.055, 0.10 },
    { PK_Q_Q5_1, 0.047, 0.07 },   { PK_Q_Q8_0, 0.007, 0.015 },  { PK_Q_Q8_1, 0.007, 0.015 },
    { PK_Q_Q2_K, 0.37, 0.40 },    { PK_Q_Q3_K, 0.19, 0.17 },    { PK_Q_Q4_K, 0.09, 0.125 },
    { PK_Q_Q5_K, 0.047, 0.065 },  { PK_Q_Q6_K, 0.025, 0.04 },   { PK_Q_Q8_K, 0.0095, 0.035 },
    { PK_Q_IQ4_NL, 0.10, 0.15 },  { PK_Q_IQ4_XS, 0.10, 0.15 },
};

#define N 1024 /* elements per test row: a multiple of every block size */

static double rel_rmse(const float *x, const float *y, int n) {
    double e = 0, s = 0;
    for (int j = 0; j < n; j++) {
        e += ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
        s += (double)x[j] * x[j];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e / n);
}

/* ---- (a) round trip ---- */

static void test_round_trip(void) {
    static float x[N], y[N];
    static uint8_t q[N * 4];
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++) {
        const pk_qtraits *tr = pk_qtraits_of(types[i].t);
        CHECKF(tr && tr->to_float && tr->from_float, "%d has kernels", (int)types[i].t);
        if (!tr || !tr->to_float || !tr->from_float) continue;
        for (int dist = 0; dist < D_COUNT; dist++) {
            double worst = 0;
            for (int rep = 0; rep < 4; rep++) {
                fill(x, N, dist);
                tr->from_float(x, q, N);
                tr->to_float(q, y, N);
                double e = rel_rmse(x, y, N);
                worst = e > worst ? e : worst;
                if (dist == D_ZERO)
                    for (int j = 0; j < N; j++) CHECKF(y[j] == 0, "%s zero row -> %g", tr->name, y[j]);
            }
            double bound = dist == D_OUTLIERS ? types[i].rmse_outliers : types[i].rmse;
            if (dist != D_ZERO)
                CHECKF(worst < bound, "%s %s: rmse %.4f%% >= %.4f%%", tr->name, dist_name[dist],
                       100 * worst, 100 * bound);
            if (getenv("PK_QUANT_VERBOSE"))
                fprintf(stderr, "   %-6s %-8s rel rmse %.4f%%\n", tr->name, dist_name[dist], 100 * worst);
        }
    }
}

/* ---- (b) dot products ---- */

static void test_vec_dot(void) {
    static float a[N], b[N], da[N], db[N];
    static uint8_t qa[N * 4], qb[N * 4];
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++) {
        const pk_qtraits *tr = pk_qtraits_of(types[i].t);
        if (!tr->vec_dot_ref) continue; /* activation-only types */
        const pk_qtraits *tb = pk_qtraits_of(tr->vec_dot_type);
        CHECK(tr->vec_dot != NULL);
        double worst = 0;
        for (int dist = 0; dist < D_COUNT; dist++) {
            for (int rep = 0; rep < 4; rep++) {
                fill(a, N, dist);
                fill(b, N, rep & 1 ? D_NORMAL : dist);
                tr->from_float(a, qa, N);
                tb->from_float(b, qb, N);
                tr->to_float(qa, da, N);
                tb->to_float(qb, db, N);
                double want = 0, mag = 0;
                for (int j = 0; j < N; j++) {
                    want += (double)da[j] * db[j];
                    mag += fabs((double)da[j] * db[j]);
                }
                float got, fast;
                tr->vec_dot_ref(N, &got, qa, qb);
                tr->vec_dot(N, &fast, qa, qb); /* the dispatched (SIMD) kernel */
                CHECKF(fabs((double)fast - got) <= 1e-4 * mag + 1e-30, "%s: vec_dot %g vs ref %g",
                       tr->name, fast, got);
                double err = mag > 0 ? fabs(got - want) / mag : fabs(got - want);
                worst = err > worst ? err : worst;
            }
        }
        /* q8_1 carries s = d * sum(q) as fp16: its rounding (2^-11
         * relative) enters the min term of q4_1 / q5_1 */
        double bound = tr->vec_dot_type == PK_Q_Q8_1 ? 2e-3 : 1e-6;
        CHECKF(worst < bound, "%s . %s: error %.3g of sum|ab| >= %.3g", tr->name, tb->name, worst, bound);
        if (getenv("PK_QUANT_VERBOSE"))
            fprintf(stderr, "   %-6s . %-5s worst err %.3g of sum|ab|\n", tr->name, tb->name, worst);
    }
}

/* ---- (c) requantization ---- */

/* Quantizing already dequantized values: the simple types and iq4_nl give
 * the same values back (q8_1 may differ in its fp16 s); every other type
 * must not lose more than twice what the first round did. */
static void test_requant(void) {
    static float x[N], y[N], z[N];
    static uint8_t q1[N * 4], q2[N * 4];
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++) {
        pk_qtype t = types[i].t;
        const pk_qtraits *tr = pk_qtraits_of(t);
        const bool exact = t == PK_Q_Q4_0 || t == PK_Q_Q4_1 || t == PK_Q_Q5_0 ||
                           t == PK_Q_Q5_1 || t == PK_Q_Q8_0 || t == PK_Q_Q8_1 || t == PK_Q_IQ4_NL;
        int same = 0, total = 0;
        for (int dist = 0; dist < D_COUNT; dist++) {
            for (int rep = 0; rep < 4; rep++) {
                fill(x, N, dist);
                tr->from_float(x, q1, N);
                tr->to_float(q1, y, N);
                tr->from_float(y, q2, N);
                tr->to_float(q2, z, N);
                size_t bytes = pk_row_size(t, N);
                total++;
                if (memcmp(q1, q2, bytes) == 0) same++;
                if (exact)
                    CHECKF(memcmp(y, z, sizeof(y)) == 0, "%s %s: requantized values differ", tr->name,
                           dist_name[dist]);
                double e1 = rel_rmse(x, y, N), e2 = rel_rmse(x, z, N);
                CHECKF(e2 <= 2 * e1 + 1e-7, "%s %s: requant error %.4g vs %.4g", tr->name,
                       dist_name[dist], e2, e1);
            }
        }
        if (getenv("PK_QUANT_VERBOSE"))
            fprintf(stderr, "   %-6s requant identical %d/%d\n", tr->name, same, total);
    }
}

/* ---- quantize entry ---- */

/* With imatrix NULL, quantize equals from_float row by row, except iq4_nl
 * (ggml's quantize_iq4_nl searches more scales than its _ref). With an
 * imatrix it must still round-trip within the type's bound. */
static void test_quantize_entry(void) {
    static float x[4 * N], y[4 * N], im[N];
    static uint8_t q1[4 * N * 4], q2[4 * N * 4];
    fill(x, 4 * N, D_NORMAL);
    for (int j = 0; j < N; j++) im[j] = 0.1f + rng_unit();
    for (size_t i = 0; i < PK_ARRAY_LEN(types); i++) {
        const pk_qtraits *tr = pk_qtraits_of(types[i].t);
        if (!tr->quantize) continue;
        size_t bytes = tr->quantize(x, q1, 4, N, NULL);
        CHECK(bytes == 4 * pk_row_size(types[i].t, N));
        tr->from_float(x, q2, 4 * N);
        if (types[i].t != PK_Q_IQ4_NL) CHECKF(memcmp(q1, q2, bytes) == 0, "%s quantize(NULL) != from_float", tr->name);
        tr->quantize(x, q1, 4, N, im);
        tr->to_float(q1, y, 4 * N);
        double e = rel_rmse(x, y, 4 * N);
        CHECKF(e < types[i].rmse, "%s with imatrix: rmse %.4f%%", tr->name, 100 * e);
    }
}

/* ---- ggml fixtures ---- */

typedef struct {
    uint32_t type, n_rows, n_per_row, row_bytes, flags;
    float *input, *imatrix;
    uint8_t *sect;   /* rest of the file */
    size_t sect_len;
} fixture;

static bool load_fixture(const char *name, fixture *fx, uint8_t **buf) {
    char path[512];
    const char *src = getenv("POCKET_SRC");
    snprintf(path, sizeof(path), "%s/tests/data/quant/%s.bin", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)len);
    bool ok = *buf && fread(*buf, 1, (size_t)len, f) == (size_t)len && len > 28 &&
              memcmp(*buf, "PKQF", 4) == 0;
    fclose(f);
    if (!ok) return false;
    uint32_t h[6];
    memcpy(h, *buf + 4, sizeof(h));
    fx->type = h[1];
    fx->n_rows = h[2];
    fx->n_per_row = h[3];
    fx->row_bytes = h[4];
    fx->flags = h[5];
    size_t n = (size_t)fx->n_rows * fx->n_per_row;
    size_t need = 28 + 4 * (n + fx->n_per_row);
    if ((size_t)len < need) return false;
    fx->input = (float *)(void *)(*buf + 28);
    fx->imatrix = fx->input + n;
    fx->sect = *buf + need;
    fx->sect_len = (size_t)len - need;
    return true;
}

/* Same float bits, or both NaN (NaN payloads may depend on operand order). */
static bool same_floats(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) && !(isnan(a[i]) && isnan(b[i]))) return false;
    return true;
}

/* Compare quantized bytes and dequantized floats with one fixture section. */
static void check_section(const pk_qtraits *tr, const char *what, const fixture *fx,
                          const uint8_t *sect, const uint8_t *mine) {
    size_t n = (size_t)fx->n_rows * fx->n_per_row, bytes = (size_t)fx->n_rows * fx->row_bytes;
    int bad_blocks = 0, first = -1;
    for (size_t b = 0; b < bytes / tr->bytes; b++)
        if (memcmp(mine + b * tr->bytes, sect + b * tr->bytes, tr->bytes)) {
            bad_blocks++;
            if (first < 0) first = (int)b;
        }
    CHECKF(bad_blocks == 0, "%s %s: %d of %zu blocks differ from ggml (first: block %d)", tr->name,
           what, bad_blocks, bytes / tr->bytes, first);
    /* dequantize ggml's own bytes: must equal ggml's floats bit for bit */
    float *y = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
    tr->to_float(sect, y, (int64_t)n);
    memcpy(want, sect + bytes, n * sizeof(float));
    CHECKF(same_floats(y, want, n), "%s %s: dequantized floats differ", tr->name, what);
    free(want);
    free(y);
}

static void test_fixtures(void) {
    static const char *names[] = { "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q8_1",
                                   "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq4_nl", "iq4_xs" };
    for (size_t i = 0; i < PK_ARRAY_LEN(names); i++) {
        fixture fx = { 0 };
        uint8_t *buf = NULL;
        CHECKF(load_fixture(names[i], &fx, &buf), "fixture %s readable", names[i]);
        if (!buf || !fx.input) {
            free(buf);
            continue;
        }
        const pk_qtraits *tr = pk_qtraits_of((pk_qtype)fx.type);
        CHECKF(tr && strcmp(tr->name, names[i]) == 0, "%s: type %u", names[i], fx.type);
        size_t n = (size_t)fx.n_rows * fx.n_per_row, bytes = (size_t)fx.n_rows * fx.row_bytes;
        CHECK(pk_row_size((pk_qtype)fx.type, fx.n_per_row) == fx.row_bytes);
        size_t sect = bytes + n * sizeof(float);
        CHECK(fx.sect_len == ((fx.flags & 1 ? 3 : 1) + (fx.flags & 2 ? 1 : 0)) * sect);
        if (!tr || fx.sect_len < sect) {
            free(buf);
            continue;
        }
        uint8_t *mine = calloc(1, bytes);
        tr->from_float(fx.input, mine, (int64_t)n); /* all rows at once, as ggml's _ref */
        check_section(tr, "from_float", &fx, fx.sect, mine);
        if (fx.flags & 1 && fx.sect_len >= 3 * sect) {
            for (int pass = 0; pass < 2; pass++) {
                const float *im = pass ? fx.imatrix : NULL;
                memset(mine, 0, bytes);
                if (tr->quantize) tr->quantize(fx.input, mine, fx.n_rows, fx.n_per_row, im);
                else tr->from_float(fx.input, mine, (int64_t)n);
                check_section(tr, pass ? "quantize(imatrix)" : "quantize(NULL)", &fx,
                              fx.sect + (1 + pass) * sect, mine);
            }
        }
        /* random bytes: to_float must decode every bit pattern as ggml */
        if (fx.flags & 2 && fx.sect_len >= ((fx.flags & 1 ? 3 : 1) + 1) * sect) {
            const uint8_t *r = fx.sect + (fx.flags & 1 ? 3 : 1) * sect;
            check_section(tr, "random blocks", &fx, r, r);
        }
        free(mine);
        free(buf);
    }
}

int main(void) {
    pk_quant_init();
    PK_RUN(test_fixtures);
    PK_RUN(test_round_trip);
    PK_RUN(test_vec_dot);
    PK_RUN(test_requant);
    PK_RUN(test_quantize_entry);
    return pk_test_summary();
}
