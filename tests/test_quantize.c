/* test_quantize.c: the model quantizer: recipes give the documented types,
 * the written file reads back with values close to the input, size budgets
 * are met and spent where the weighted error says, imatrix files round-trip,
 * and bad requests fail with clear errors. */
#include "gguf/gguf.h"
#include "quant/quant_refine.h"
#include "quant/quantize.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

enum { DIM = 256, FF = 512, N_LAYER = 8, VOCAB = 320 };

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) { return pk_test_frand(&rng_state); }
static float nrand(void) {
    float s = 0;
    for (int i = 0; i < 6; i++) s += frand();
    return s * 0.7f;
}

typedef struct {
    float *data[128];
    int n;
} bufs;

static float *add_t(pk_gguf_writer *w, bufs *b, const char *name, uint64_t ne0, uint64_t ne1,
                    float scale) {
    uint64_t ne[2] = { ne0, ne1 };
    float *d = malloc(sizeof(float) * ne0 * ne1);
    for (uint64_t i = 0; i < ne0 * ne1; i++) d[i] = ne1 == 1 ? 1.0f + 0.1f * frand() : nrand() * scale;
    b->data[b->n++] = d;
    CHECK_OK(pk_gguf_add_tensor(w, name, PK_Q_F32, ne1 == 1 ? 1 : 2, ne, d, NULL, NULL));
    return d;
}

/* A llama-shaped F32 model of n_layer blocks with random weights, written
 * to path (a mkstemp template); returns path. */
static const char *make_model(bufs *b, int n_layer, char *path) {
    int fd = mkstemp(path);
    close(fd);
    pk_gguf_writer *w = NULL;
    CHECK_OK(pk_gguf_writer_new(0, &w));
    CHECK_OK(pk_gguf_set_str(w, "general.architecture", "llama"));
    CHECK_OK(pk_gguf_set_u32(w, "llama.block_count", (uint32_t)n_layer));
    CHECK_OK(pk_gguf_set_u32(w, "general.file_type", 0));
    add_t(w, b, "token_embd.weight", DIM, VOCAB, 0.5f);
    char name[64];
    for (int l = 0; l < n_layer; l++) {
        static const char *mats[] = { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up" };
        snprintf(name, sizeof(name), "blk.%d.attn_norm.weight", l);
        add_t(w, b, name, DIM, 1, 1);
        for (int m = 0; m < 6; m++) {
            snprintf(name, sizeof(name), "blk.%d.%s.weight", l, mats[m]);
            add_t(w, b, name, DIM, m >= 4 ? FF : DIM, 0.05f);
        }
        snprintf(name, sizeof(name), "blk.%d.ffn_down.weight", l);
        add_t(w, b, name, FF, DIM, 0.05f);
    }
    add_t(w, b, "output_norm.weight", DIM, 1, 1);
    add_t(w, b, "output.weight", DIM, VOCAB, 0.05f);
    CHECK_OK(pk_gguf_writer_finish(w, path));
    pk_gguf_writer_free(w);
    return path;
}

static double rel_err_vs(const pk_gguf *g, const char *name, const float *ref) {
    const pk_gguf_tensor *t = pk_gguf_tensor_find(g, name);
    if (!t) return 1e9;
    uint64_t n = t->ne[0] * t->ne[1];
    float *f = malloc(sizeof(float) * n);
    pk_qtraits_of(t->type)->to_float(t->data, f, (int64_t)n);
    double num = 0, den = 0;
    for (uint64_t i = 0; i < n; i++) {
        num += (f[i] - ref[i]) * (double)(f[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    free(f);
    return num / den;
}

static pk_qtype type_of(const pk_gguf *g, const char *name) {
    const pk_gguf_tensor *t = pk_gguf_tensor_find(g, name);
    return t ? t->type : (pk_qtype)-1;
}

static const char *model_path;
/* the budget tests quantize many times: a 3-block model keeps them quick
 * and still has every kind of tensor */
static const char *small_path;
static bufs B, B_small;

static void test_recipes(void) {
    char out[] = "/tmp/pk_qz_out_XXXXXX";
    close(mkstemp(out));
    pk_quantize_params p = pk_quantize_default_params();
    pk_quantize_summary sum;
    p.type = "Q4_0";
    CHECK_OK(pk_quantize_model(model_path, out, &p, &sum));
    pk_gguf *g = NULL;
    CHECK_OK(pk_gguf_open(out, true, &g));
    if (!g) return;
    CHECK(type_of(g, "blk.0.attn_q.weight") == PK_Q_Q4_0);
    CHECK(type_of(g, "output.weight") == PK_Q_Q6_K);
    CHECK(type_of(g, "blk.0.attn_norm.weight") == PK_Q_F32);
    /* Gaussian weights at 4.5 bits: relative squared error near 1% */
    double e = rel_err_vs(g, "blk.3.ffn_up.weight", B.data[1 + 3 * 8 + 6]);
    CHECKF(e < 0.02 && e > 1e-4, "q4_0 rel err %g", e);
    uint32_t ft = 0;
    CHECK_OK(pk_gguf_get_u32(g, "general.file_type", &ft));
    CHECK(ft == 2);
    struct stat sb;
    stat(out, &sb);
    CHECK(sum.file_bytes == (uint64_t)sb.st_size);
    pk_gguf_close(g);

    p.type = "q4_k_m";
    CHECK_OK(pk_quantize_model(model_path, out, &p, &sum));
    CHECK_OK(pk_gguf_open(out, true, &g));
    if (!g) return;
    /* more bits for attn_v / ffn_down in the first eighth, last eighth, and
     * every third layer between */
    CHECK(type_of(g, "blk.0.attn_v.weight") == PK_Q_Q6_K);
    CHECK(type_of(g, "blk.1.ffn_down.weight") == PK_Q_Q4_K);
    CHECK(type_of(g, "blk.3.ffn_down.weight") == PK_Q_Q6_K);
    CHECK(type_of(g, "blk.7.attn_v.weight") == PK_Q_Q6_K);
    CHECK(type_of(g, "blk.2.attn_q.weight") == PK_Q_Q4_K);
    CHECK(type_of(g, "output.weight") == PK_Q_Q6_K);
    /* ffn_down rows are 512 = 2 super-blocks: fine; q4_K error below q4_0's */
    double e2 = rel_err_vs(g, "blk.3.ffn_up.weight", B.data[1 + 3 * 8 + 6]);
    CHECKF(e2 < e, "q4_K err %g not below q4_0 err %g", e2, e);
    pk_gguf_close(g);

    const char *keep[] = { "attn_k=q8_0", NULL };
    p.keep = keep;
    CHECK_OK(pk_quantize_model(model_path, out, &p, NULL));
    CHECK_OK(pk_gguf_open(out, true, &g));
    if (g) CHECK(type_of(g, "blk.5.attn_k.weight") == PK_Q_Q8_0);
    pk_gguf_close(g);
    unlink(out);
}

static void test_budget(void) {
    char out[] = "/tmp/pk_qz_out_XXXXXX";
    close(mkstemp(out));
    pk_quantize_params p = pk_quantize_default_params();
    pk_quantize_summary sum;
    p.type = NULL;
    struct stat sb;
    stat(small_path, &sb);
    /* about 4.6 bits per weight of the F32 file's 32 */
    p.target_bytes = (uint64_t)sb.st_size * 46 / 320;
    CHECK_OK(pk_quantize_model(small_path, out, &p, &sum));
    stat(out, &sb);
    CHECKF((uint64_t)sb.st_size <= p.target_bytes, "%lld > %llu", (long long)sb.st_size,
           (unsigned long long)p.target_bytes);
    /* the budget is spent: within 5% of the target */
    CHECKF((uint64_t)sb.st_size > p.target_bytes * 95 / 100, "%lld well under %llu",
           (long long)sb.st_size, (unsigned long long)p.target_bytes);
    pk_gguf *g = NULL;
    CHECK_OK(pk_gguf_open(out, true, &g));
    if (g) {
        /* the most sensitive tensor gets at least as many bits as q and k */
        const pk_qtraits *o = pk_qtraits_of(type_of(g, "output.weight"));
        const pk_qtraits *q = pk_qtraits_of(type_of(g, "blk.1.attn_q.weight"));
        CHECK(o && q && o->bytes * 8.0 / o->blck >= q->bytes * 8.0 / q->blck);
        uint32_t ft = 0;
        CHECK_OK(pk_gguf_get_u32(g, "general.file_type", &ft));
        CHECK(ft == 1024);
    }
    pk_gguf_close(g);
    /* a budget below anything possible is a clear error */
    p.target_bytes = 1000;
    CHECK(pk_quantize_model(small_path, out, &p, NULL) == PK_ERR_RANGE);
    CHECK(strstr(pk_last_error(), "smallest") != NULL);
    unlink(out);
}

/* A budget just above the smallest possible file is met exactly: the size
 * arithmetic (header, alignment padding, row sizes) is an upper bound. */
static void test_budget_tiny(void) {
    char out[] = "/tmp/pk_qz_out_XXXXXX";
    close(mkstemp(out));
    pk_quantize_params p = pk_quantize_default_params();
    p.type = NULL;
    /* sizes depend on the chosen types only; ggml's quantizers choose the
     * same way and cost a fraction of the refined search (test_budget runs
     * that one) */
    p.reference = 1;
    p.target_bytes = 1000;
    CHECK(pk_quantize_model(small_path, out, &p, NULL) == PK_ERR_RANGE);
    const char *m = strstr(pk_last_error(), "allow (");
    unsigned long long smallest = m ? strtoull(m + 7, NULL, 10) : 0;
    CHECK(smallest > 0);
    for (int extra = 0; extra <= 40000; extra += 20000) {
        pk_quantize_summary sum;
        p.target_bytes = smallest + (uint64_t)extra;
        CHECK_OK(pk_quantize_model(small_path, out, &p, &sum));
        struct stat sb;
        stat(out, &sb);
        CHECKF((uint64_t)sb.st_size <= p.target_bytes && sum.file_bytes == (uint64_t)sb.st_size,
               "file %lld > budget %llu", (long long)sb.st_size,
               (unsigned long long)p.target_bytes);
    }
    /* in bits per weight */
    pk_quantize_summary sum;
    p.target_bytes = 0;
    p.target_bpw = 4.0;
    CHECK_OK(pk_quantize_model(small_path, out, &p, &sum));
    CHECKF(sum.bpw <= 4.0 && sum.bpw > 3.8, "bpw %g for a 4.0 budget", sum.bpw);
    unlink(out);
}

/* Measured sensitivities (KLD of pocket's forward with one tensor
 * quantized) on a real tiny model: the budget holds, the measurements are
 * cached, a cached file is reused, and the budget goes where it says. */
static void test_budget_measured(void) {
    const char *model = pk_test_path("models/stories260K/stories260K.gguf");
    if (access(model, R_OK) != 0) {
        PK_SKIP("stories260K not found");
        return;
    }
    char txt[] = "/tmp/pk_qz_txt_XXXXXX", sens[] = "/tmp/pk_qz_sens_XXXXXX",
         out[] = "/tmp/pk_qz_out_XXXXXX";
    close(mkstemp(out));
    close(mkstemp(sens));
    unlink(sens);
    FILE *f = fdopen(mkstemp(txt), "w");
    for (int i = 0; i < 40; i++)
        fprintf(f, "Once upon a time, there was a little girl named Lily. She liked to play "
                   "in the park with her big red ball. One day the ball rolled away. ");
    fclose(f);
    pk_quantize_params p = pk_quantize_default_params();
    pk_quantize_summary sum;
    p.type = NULL;
    p.target_bytes = 1000;
    CHECK(pk_quantize_model(model, out, &p, NULL) == PK_ERR_RANGE);
    const char *m = strstr(pk_last_error(), "allow (");
    unsigned long long smallest = m ? strtoull(m + 7, NULL, 10) : 0;
    p.target_bytes = smallest + 30000;
    p.calib = txt;
    p.calib_chunks = 1;
    p.sens_cache = sens;
    CHECK_OK(pk_quantize_model(model, out, &p, &sum));
    CHECKF(sum.file_bytes <= p.target_bytes, "%llu > %llu", (unsigned long long)sum.file_bytes,
           (unsigned long long)p.target_bytes);
    /* one line per chosen matrix: name, KLD, probe type; rewrite it so that
     * one tensor looks very sensitive and the rest hardly at all */
    f = fopen(sens, "r");
    CHECK(f != NULL);
    int lines = 0;
    char line[512], body[16384] = "";
    while (f && fgets(line, sizeof(line), f)) {
        char name[300], type[32];
        double kld;
        if (sscanf(line, "%299s %lf %31s", name, &kld, type) == 3) {
            lines++;
            CHECKF(kld >= 0 && kld < 10, "%s: KLD %g", name, kld);
            size_t l = strlen(body);
            snprintf(body + l, sizeof(body) - l, "%s %s %s\n", name,
                     strcmp(name, "blk.1.attn_q.weight") ? "1e-9" : "1.0", type);
        }
    }
    if (f) fclose(f);
    CHECKF(lines >= 10, "%d sensitivity lines", lines);
    f = fopen(sens, "w");
    fputs(body, f);
    fclose(f);
    /* upgrading blk.1.attn_q to q8_0 costs 2048 bytes; token_embd 4096 */
    p.target_bytes = smallest + 3000;
    CHECK_OK(pk_quantize_model(model, out, &p, &sum));
    CHECK(sum.file_bytes <= p.target_bytes);
    pk_gguf *g = NULL;
    CHECK_OK(pk_gguf_open(out, true, &g));
    if (g) {
        CHECK(type_of(g, "blk.1.attn_q.weight") == PK_Q_Q8_0);
        CHECK(type_of(g, "token_embd.weight") == PK_Q_IQ4_NL);
    }
    pk_gguf_close(g);
    /* the cache was read, not measured again and rewritten */
    f = fopen(sens, "r");
    long n_body = f ? (long)fread(line, 1, sizeof(line) - 1, f) : 0;
    line[n_body > 0 ? n_body : 0] = 0;
    CHECK(!strncmp(line, body, strlen(line)));
    if (f) fclose(f);
    unlink(txt);
    unlink(sens);
    unlink(out);
}

static void test_imatrix(void) {
    char imf[] = "/tmp/pk_qz_im_XXXXXX", out[] = "/tmp/pk_qz_out_XXXXXX";
    close(mkstemp(imf));
    close(mkstemp(out));
    pk_imatrix im = { 0 };
    im.chunk_count = 3;
    im.chunk_size = 512;
    char name[64];
    for (int l = 0; l < N_LAYER; l++) {
        static const char *mats[] = { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down" };
        for (int m = 0; m < 7; m++) {
            snprintf(name, sizeof(name), "blk.%d.%s.weight", l, mats[m]);
            int64_t nc = m == 6 ? FF : DIM;
            pk_imatrix_entry *e = pk_imatrix_get(&im, name, nc, true);
            CHECK(e != NULL);
            if (!e) return;
            /* a few columns carry most of the activation energy */
            for (int64_t c = 0; c < nc; c++) e->sum2[c] = (c % 37 == 0 ? 400.0f : 1.0f) * 1536;
            e->count = 1536;
        }
    }
    pk_imatrix_entry *o = pk_imatrix_get(&im, "output.weight", DIM, true);
    for (int c = 0; c < DIM; c++) o->sum2[c] = 1;
    o->count = 1;
    CHECK(pk_imatrix_get(&im, "output.weight", DIM + 1, false) == NULL);
    CHECK_OK(pk_imatrix_save(&im, imf));
    pk_imatrix *back = NULL;
    CHECK_OK(pk_imatrix_load(imf, &back));
    if (back) {
        CHECK(back->n == im.n && back->chunk_count == 3 && back->chunk_size == 512);
        float w[DIM];
        CHECK(pk_imatrix_weights(back, "blk.2.attn_v.weight", DIM, w));
        CHECK(w[0] == 400.0f && w[1] == 1.0f);
    }
    pk_imatrix_free(back);

    /* the imatrix lowers the error on the columns it marks important */
    pk_quantize_params p = pk_quantize_default_params();
    p.type = "Q4_K_S";
    CHECK_OK(pk_quantize_model(model_path, out, &p, NULL));
    pk_gguf *g = NULL;
    CHECK_OK(pk_gguf_open(out, true, &g));
    const float *ref = B.data[1 + 2 * 8 + 1]; /* blk.2.attn_q */
    double plain = 0, weighted = 0;
    float f[DIM * DIM];
    if (g) {
        const pk_gguf_tensor *t = pk_gguf_tensor_find(g, "blk.2.attn_q.weight");
        pk_qtraits_of(t->type)->to_float(t->data, f, DIM * DIM);
        for (int i = 0; i < DIM * DIM; i++)
            if ((i % DIM) % 37 == 0) plain += (f[i] - ref[i]) * (double)(f[i] - ref[i]);
    }
    pk_gguf_close(g);
    g = NULL;
    p.imatrix = imf;
    CHECK_OK(pk_quantize_model(model_path, out, &p, NULL));
    CHECK_OK(pk_gguf_open(out, true, &g));
    if (g) {
        const pk_gguf_tensor *t = pk_gguf_tensor_find(g, "blk.2.attn_q.weight");
        pk_qtraits_of(t->type)->to_float(t->data, f, DIM * DIM);
        for (int i = 0; i < DIM * DIM; i++)
            if ((i % DIM) % 37 == 0) weighted += (f[i] - ref[i]) * (double)(f[i] - ref[i]);
    }
    pk_gguf_close(g);
    CHECKF(weighted < 0.8 * plain, "important-column error %g vs %g without imatrix",
           weighted, plain);
    for (size_t i = 0; i < im.n; i++) {
        free(im.e[i].name);
        free(im.e[i].sum2);
    }
    free(im.e);
    unlink(imf);
    unlink(out);
}

/* Weighted squared error of rows quantized (dst) against x. */
static double weighted_err(pk_qtype t, const void *q, const float *x, int rows, int n,
                           const float *w) {
    const pk_qtraits *tr = pk_qtraits_of(t);
    size_t rb = pk_row_size(t, n);
    float *dec = malloc(sizeof(float) * (size_t)n);
    double e = 0;
    for (int r = 0; r < rows; r++) {
        tr->to_float((const uint8_t *)q + (size_t)r * rb, dec, n);
        for (int c = 0; c < n; c++) {
            double d = (double)x[r * n + c] - dec[c];
            e += (w ? w[c] : 1.0) * d * d;
        }
    }
    free(dec);
    return e;
}

/* Refined quantizers: never worse than ggml's under the weighted error, on
 * Gaussian and heavy-tailed rows, with and without an imatrix; clearly
 * better on the 4-bit k-quant; the bytes are the standard layout (the
 * dispatched vec_dot, which decodes blocks on its own, agrees with
 * to_float). */
static void test_refine(void) {
    enum { ROWS = 24, N = 512 };
    static const pk_qtype types[] = { PK_Q_Q4_0, PK_Q_Q4_K, PK_Q_Q5_K, PK_Q_Q6_K, PK_Q_IQ4_XS };
    float *x = malloc(sizeof(float) * ROWS * N), im[N], act[N], dec[N];
    uint8_t *a = malloc(pk_row_size(PK_Q_Q8_0, N) * ROWS * 2);
    uint8_t *b = malloc(pk_row_size(PK_Q_Q8_0, N) * ROWS * 2);
    for (int c = 0; c < N; c++) {
        im[c] = (c % 29 == 0 ? 50.0f : 1.0f) * (0.2f + (frand() + 1) * 0.5f);
        act[c] = nrand();
    }
    CHECK(pk_refine_fn(PK_Q_Q8_0) == NULL);
    for (int dist = 0; dist < 2; dist++) {
        for (int i = 0; i < ROWS * N; i++) {
            float v = nrand() * 0.02f;
            /* heavy tails: one weight in 50 is 8x larger */
            if (dist == 1 && i % 50 == 7) v *= 8;
            x[i] = v;
        }
        for (size_t k = 0; k < PK_ARRAY_LEN(types); k++) {
            pk_qtype t = types[k];
            const pk_qtraits *tr = pk_qtraits_of(t);
            pk_quantize_fn rf = pk_refine_fn(t);
            CHECK(rf != NULL);
            if (!rf) continue;
            for (int wi = 0; wi < 2; wi++) {
                const float *w = wi ? im : NULL;
                size_t n_ref = tr->quantize ? tr->quantize(x, a, ROWS, N, w) : 0;
                if (!tr->quantize)
                    for (int r = 0; r < ROWS; r++)
                        tr->from_float(x + r * N, a + r * pk_row_size(t, N), N);
                size_t n_new = rf(x, b, ROWS, N, w);
                CHECK(n_new == pk_row_size(t, N) * ROWS && (!tr->quantize || n_ref == n_new));
                double e_ref = weighted_err(t, a, x, ROWS, N, w);
                double e_new = weighted_err(t, b, x, ROWS, N, w);
                fprintf(stderr, "   %-7s %-6s %-8s ref %.4e refined %.4e (%+.1f%%)\n", tr->name,
                        dist ? "heavy" : "gauss", w ? "imatrix" : "plain", e_ref, e_new,
                        100 * (e_new / e_ref - 1));
                CHECKF(e_new <= e_ref, "%s: refined %g > reference %g", tr->name, e_new, e_ref);
                if (t == PK_Q_Q4_K || t == PK_Q_Q4_0)
                    CHECKF(e_new < 0.97 * e_ref, "%s: refined %g not 3%% below %g", tr->name,
                           e_new, e_ref);
                /* the dot product kernels read the same bytes as to_float */
                const pk_qtraits *vt = pk_qtraits_of(tr->vec_dot_type);
                uint8_t *qa = malloc(pk_row_size(tr->vec_dot_type, N));
                vt->from_float(act, qa, N);
                float av[N];
                vt->to_float(qa, av, N);
                for (int r = 0; r < ROWS; r += 7) {
                    const uint8_t *row = b + (size_t)r * pk_row_size(t, N);
                    tr->to_float(row, dec, N);
                    double ref = 0, mag = 0;
                    for (int c = 0; c < N; c++) {
                        ref += (double)dec[c] * av[c];
                        mag += fabs((double)dec[c] * av[c]);
                    }
                    float got = 0;
                    tr->vec_dot(N, &got, row, qa);
                    CHECKF(fabs(got - ref) <= 1e-4 * mag + 1e-6, "%s vec_dot %g vs %g", tr->name,
                           got, ref);
                }
                free(qa);
            }
        }
    }
    free(x);
    free(a);
    free(b);
}

static void test_errors(void) {
    pk_quantize_params p = pk_quantize_default_params();
    p.type = "Q9_Z";
    CHECK(pk_quantize_model(model_path, "/tmp/pk_never", &p, NULL) == PK_ERR_INVALID);
    CHECK(strstr(pk_last_error(), "Q9_Z") != NULL);
    p.type = "Q4_0";
    CHECK(pk_quantize_model("/nonexistent.gguf", "/tmp/pk_never", &p, NULL) == PK_ERR_IO);
    const char *keep[] = { "attn_k", NULL };
    p.keep = keep;
    CHECK(pk_quantize_model(model_path, "/tmp/pk_never", &p, NULL) == PK_ERR_INVALID);
    CHECK(strstr(pk_last_error(), "NAME=TYPE") != NULL);
    p.keep = NULL;
    CHECK(pk_quantize_model(model_path, "/nonexistent/dir/out.gguf", &p, NULL) == PK_ERR_IO);
    CHECK(access("/tmp/pk_never", F_OK) != 0);
}

int main(void) {
    static char big[] = "/tmp/pk_qz_model_XXXXXX", small[] = "/tmp/pk_qz_small_XXXXXX";
    model_path = make_model(&B, N_LAYER, big);
    small_path = make_model(&B_small, 3, small);
    PK_RUN(test_recipes);
    PK_RUN(test_budget);
    PK_RUN(test_budget_tiny);
    PK_RUN(test_budget_measured);
    PK_RUN(test_imatrix);
    PK_RUN(test_errors);
    PK_RUN(test_refine);
    unlink(model_path);
    unlink(small_path);
    for (int i = 0; i < B.n; i++) free(B.data[i]);
    for (int i = 0; i < B_small.n; i++) free(B_small.data[i]);
    return pk_test_summary();
}
