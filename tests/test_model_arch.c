/* test_model_arch.c: each architecture against an independent reference.
 * Small random-weight models (llama with GQA and a separate output, llama
 * with tied output and rope_freqs, qwen2 with q/k/v biases, phi3 with fused
 * qkv and gate/up) are written with pocket's GGUF writer; pocket's logits
 * over a token sequence are compared with a plainly written fp64 forward
 * pass in this file that shares no code with src/model. Tolerance: pocket
 * keeps K/V in f16, so logits agree to 3e-3 of their RMS, not to 1e-7. The
 * same with quantized weights, against fp64 over the dequantized weights
 * (5e-2: the activations are quantized to 8 bits as well). With a q8_0 KV
 * cache (q, K and V rounded to 8 bits) the f32 models agree to 2e-2. */
#include "gguf/gguf.h"
#include "pocket.h"
#include "test.h"

#include <unistd.h>

enum { V = 64, D = 256, L = 2, T = 12 };

typedef struct cfg {
    const char *arch;
    int n_head, n_kv, ff, hd;
    bool tied, rope_freqs, bias, fused, neox;
    pk_qtype wtype;
} cfg;

typedef struct weights {
    double *emb, *out, *onorm, *rf;
    double *an[L], *fn[L], *wq[L], *wk[L], *wv[L], *wo[L], *bq[L], *bk[L], *bv[L];
    double *wg[L], *wu[L], *wd[L];
} weights;

static uint64_t rs = 88172645463325252ull;
static double urand(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0 * 2 - 1;
}

static double *rnd(size_t n, double scale, double base) {
    double *p = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) p[i] = base + urand() * scale;
    return p;
}

/* ---- writing the model ---- */

typedef struct wt {
    char name[64];
    float *f;
    void *q;
} wt;

static wt tensors[64];
static int n_tensors;

/* Add a tensor; with a quantized type the reference weights are replaced by
 * their dequantized values so the reference sees what pocket sees. */
static void add(pk_gguf_writer *w, const char *name, double *d, int ne0, int ne1, pk_qtype t) {
    wt *x = &tensors[n_tensors++];
    snprintf(x->name, sizeof(x->name), "%s", name);
    x->q = NULL;
    size_t n = (size_t)ne0 * (size_t)ne1;
    x->f = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x->f[i] = (float)d[i];
    uint64_t ne[2] = { (uint64_t)ne0, (uint64_t)ne1 };
    const void *data = x->f;
    if (ne1 > 1 && t != PK_Q_F32) {
        const pk_qtraits *q = pk_qtraits_of(t);
        size_t rb = pk_row_size(t, ne0);
        x->q = malloc(rb * (size_t)ne1);
        for (int r = 0; r < ne1; r++) {
            q->from_float(x->f + (size_t)r * ne0, (uint8_t *)x->q + rb * (size_t)r, ne0);
            q->to_float((uint8_t *)x->q + rb * (size_t)r, x->f + (size_t)r * ne0, ne0);
        }
        for (size_t i = 0; i < n; i++) d[i] = x->f[i];
        data = x->q;
    } else {
        t = PK_Q_F32;
    }
    CHECK_OK(pk_gguf_add_tensor(w, x->name, t, ne1 > 1 ? 2 : 1, ne, data, NULL, NULL));
}

static void write_model(const cfg *c, weights *W, const char *path) {
    pk_gguf_writer *w = NULL;
    CHECK_OK(pk_gguf_writer_new(0, &w));
    char key[96];
#define K(k) (snprintf(key, sizeof(key), "%s.%s", c->arch, k), key)
    CHECK_OK(pk_gguf_set_str(w, "general.architecture", c->arch));
    CHECK_OK(pk_gguf_set_u32(w, K("context_length"), 64));
    CHECK_OK(pk_gguf_set_u32(w, K("embedding_length"), D));
    CHECK_OK(pk_gguf_set_u32(w, K("block_count"), L));
    CHECK_OK(pk_gguf_set_u32(w, K("feed_forward_length"), (uint32_t)c->ff));
    CHECK_OK(pk_gguf_set_u32(w, K("attention.head_count"), (uint32_t)c->n_head));
    CHECK_OK(pk_gguf_set_u32(w, K("attention.head_count_kv"), (uint32_t)c->n_kv));
    CHECK_OK(pk_gguf_set_f32(w, K("attention.layer_norm_rms_epsilon"), 1e-5f));
    CHECK_OK(pk_gguf_set_f32(w, K("rope.freq_base"), 10000.0f));
#undef K
    /* a 64-token SentencePiece vocab of single characters (U+2581, a-z,
     * A-Z, 0-7), so that any engine tokenizes "hello world" the same way */
    const char *toks[V];
    float scores[V];
    int32_t types[V];
    static char names[V][8];
    for (int i = 0; i < V; i++) {
        if (i < 3) snprintf(names[i], sizeof(names[i]), "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else if (i == 3) snprintf(names[i], sizeof(names[i]), "\xe2\x96\x81");
        else if (i < 30) snprintf(names[i], sizeof(names[i]), "%c", 'a' + (i - 4));
        else if (i < 56) snprintf(names[i], sizeof(names[i]), "%c", 'A' + (i - 30));
        else snprintf(names[i], sizeof(names[i]), "%c", '0' + (i - 56));
        toks[i] = names[i];
        scores[i] = (float)-i;
        types[i] = i < 3 ? (i == 0 ? 2 : 3) : 1;
    }
    CHECK_OK(pk_gguf_set_str(w, "tokenizer.ggml.model", "llama"));
    CHECK_OK(pk_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, V));
    CHECK_OK(pk_gguf_set_arr(w, "tokenizer.ggml.scores", PK_GGUF_FLOAT32, scores, V));
    CHECK_OK(pk_gguf_set_arr(w, "tokenizer.ggml.token_type", PK_GGUF_INT32, types, V));
    int qd = c->n_head * c->hd, kvd = c->n_kv * c->hd;
    add(w, "token_embd.weight", W->emb, D, V, c->wtype == PK_Q_F32 ? PK_Q_F32 : PK_Q_Q8_0);
    if (!c->tied) add(w, "output.weight", W->out, D, V, c->wtype);
    add(w, "output_norm.weight", W->onorm, D, 1, PK_Q_F32);
    if (c->rope_freqs) add(w, "rope_freqs.weight", W->rf, c->hd / 2, 1, PK_Q_F32);
    char n[64];
    for (int l = 0; l < L; l++) {
#define N(s) (snprintf(n, sizeof(n), "blk.%d.%s", l, s), n)
        add(w, N("attn_norm.weight"), W->an[l], D, 1, PK_Q_F32);
        add(w, N("ffn_norm.weight"), W->fn[l], D, 1, PK_Q_F32);
        if (c->fused) {
            /* fused q|k|v rows: build, write, then split the (maybe
             * dequantized) values back into the reference's matrices */
            double *qkv = malloc(sizeof(double) * (size_t)D * (size_t)(qd + 2 * kvd));
            memcpy(qkv, W->wq[l], sizeof(double) * (size_t)D * qd);
            memcpy(qkv + (size_t)D * qd, W->wk[l], sizeof(double) * (size_t)D * kvd);
            memcpy(qkv + (size_t)D * (qd + kvd), W->wv[l], sizeof(double) * (size_t)D * kvd);
            add(w, N("attn_qkv.weight"), qkv, D, qd + 2 * kvd, c->wtype);
            memcpy(W->wq[l], qkv, sizeof(double) * (size_t)D * qd);
            memcpy(W->wk[l], qkv + (size_t)D * qd, sizeof(double) * (size_t)D * kvd);
            memcpy(W->wv[l], qkv + (size_t)D * (qd + kvd), sizeof(double) * (size_t)D * kvd);
            free(qkv);
            double *gu = malloc(sizeof(double) * (size_t)D * 2 * (size_t)c->ff);
            memcpy(gu, W->wg[l], sizeof(double) * (size_t)D * c->ff);
            memcpy(gu + (size_t)D * c->ff, W->wu[l], sizeof(double) * (size_t)D * c->ff);
            add(w, N("ffn_up.weight"), gu, D, 2 * c->ff, c->wtype);
            memcpy(W->wg[l], gu, sizeof(double) * (size_t)D * c->ff);
            memcpy(W->wu[l], gu + (size_t)D * c->ff, sizeof(double) * (size_t)D * c->ff);
            free(gu);
        } else {
            add(w, N("attn_q.weight"), W->wq[l], D, qd, c->wtype);
            add(w, N("attn_k.weight"), W->wk[l], D, kvd, c->wtype);
            add(w, N("attn_v.weight"), W->wv[l], D, kvd, c->wtype);
            add(w, N("ffn_gate.weight"), W->wg[l], D, c->ff, c->wtype);
            add(w, N("ffn_up.weight"), W->wu[l], D, c->ff, c->wtype);
        }
        if (c->bias) {
            add(w, N("attn_q.bias"), W->bq[l], qd, 1, PK_Q_F32);
            add(w, N("attn_k.bias"), W->bk[l], kvd, 1, PK_Q_F32);
            add(w, N("attn_v.bias"), W->bv[l], kvd, 1, PK_Q_F32);
        }
        add(w, N("attn_output.weight"), W->wo[l], qd, D, c->wtype);
        add(w, N("ffn_down.weight"), W->wd[l], c->ff, D, c->wtype);
#undef N
    }
    CHECK_OK(pk_gguf_writer_finish(w, path));
    pk_gguf_writer_free(w);
    for (int i = 0; i < n_tensors; i++) {
        free(tensors[i].f);
        free(tensors[i].q);
    }
    n_tensors = 0;
}

/* ---- the fp64 reference ---- */

/* y (rows) = W (rows x cols, row-major) x (cols) */
static void mv(const double *W, const double *x, double *y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int c = 0; c < cols; c++) s += W[(size_t)r * cols + c] * x[c];
        y[r] = s;
    }
}

static void rms(const double *x, const double *w, double *o) {
    double s = 0;
    for (int i = 0; i < D; i++) s += x[i] * x[i];
    s = 1.0 / sqrt(s / D + 1e-5);
    for (int i = 0; i < D; i++) o[i] = x[i] * s * w[i];
}

static void rope_ref(const cfg *c, const weights *W, double *v, int pos) {
    int half = c->hd / 2;
    for (int i = 0; i < half; i++) {
        double th = pos * pow(10000.0, -2.0 * i / c->hd);
        if (c->rope_freqs) th /= (float)W->rf[i];
        int a = c->neox ? i : 2 * i, b = c->neox ? i + half : 2 * i + 1;
        double x0 = v[a], x1 = v[b];
        v[a] = x0 * cos(th) - x1 * sin(th);
        v[b] = x0 * sin(th) + x1 * cos(th);
    }
}

static void ref_forward(const cfg *c, const weights *W, const int *toks, double *logits /* (T, V) */) {
    int qd = c->n_head * c->hd, kvd = c->n_kv * c->hd;
    double *x = calloc((size_t)T * D, sizeof(double)), *xn = malloc(sizeof(double) * D);
    double *K = malloc(sizeof(double) * (size_t)L * T * kvd), *Vv = malloc(sizeof(double) * (size_t)L * T * kvd);
    double *q = malloc(sizeof(double) * qd), *att = malloc(sizeof(double) * qd), *o = malloc(sizeof(double) * D);
    double *g = malloc(sizeof(double) * c->ff), *u = malloc(sizeof(double) * c->ff), *sc = malloc(sizeof(double) * T);
    for (int t = 0; t < T; t++) {
        double *xt = x + (size_t)t * D;
        for (int i = 0; i < D; i++) xt[i] = (float)W->emb[(size_t)toks[t] * D + i];
        for (int l = 0; l < L; l++) {
            double *kt = K + ((size_t)l * T + t) * kvd, *vt = Vv + ((size_t)l * T + t) * kvd;
            rms(xt, W->an[l], xn);
            mv(W->wq[l], xn, q, qd, D);
            mv(W->wk[l], xn, kt, kvd, D);
            mv(W->wv[l], xn, vt, kvd, D);
            if (c->bias) {
                for (int i = 0; i < qd; i++) q[i] += W->bq[l][i];
                for (int i = 0; i < kvd; i++) kt[i] += W->bk[l][i], vt[i] += W->bv[l][i];
            }
            for (int h = 0; h < c->n_head; h++) rope_ref(c, W, q + h * c->hd, t);
            for (int h = 0; h < c->n_kv; h++) rope_ref(c, W, kt + h * c->hd, t);
            for (int h = 0; h < c->n_head; h++) {
                int kh = h / (c->n_head / c->n_kv);
                double mx = -1e300, sum = 0;
                for (int p = 0; p <= t; p++) {
                    const double *kp = K + ((size_t)l * T + p) * kvd + kh * c->hd;
                    double s = 0;
                    for (int i = 0; i < c->hd; i++) s += q[h * c->hd + i] * kp[i];
                    sc[p] = s / sqrt((double)c->hd);
                    if (sc[p] > mx) mx = sc[p];
                }
                for (int p = 0; p <= t; p++) sum += sc[p] = exp(sc[p] - mx);
                for (int i = 0; i < c->hd; i++) {
                    double a = 0;
                    for (int p = 0; p <= t; p++) a += sc[p] / sum * Vv[((size_t)l * T + p) * kvd + kh * c->hd + i];
                    att[h * c->hd + i] = a;
                }
            }
            mv(W->wo[l], att, o, D, qd);
            for (int i = 0; i < D; i++) xt[i] += o[i];
            rms(xt, W->fn[l], xn);
            mv(W->wg[l], xn, g, c->ff, D);
            mv(W->wu[l], xn, u, c->ff, D);
            for (int i = 0; i < c->ff; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            mv(W->wd[l], g, o, D, c->ff);
            for (int i = 0; i < D; i++) xt[i] += o[i];
        }
        rms(xt, W->onorm, xn);
        mv(c->tied ? W->emb : W->out, xn, logits + (size_t)t * V, V, D);
    }
    free(x), free(xn), free(K), free(Vv), free(q), free(att), free(o), free(g), free(u), free(sc);
}

/* ---- the test ---- */

static const char *g_kv_type; /* NULL: the default f16 cache */

static void run_arch(const cfg *c) {
    int qd = c->n_head * c->hd, kvd = c->n_kv * c->hd;
    weights W = { 0 };
    double s = 1.0 / sqrt(D);
    W.emb = rnd((size_t)V * D, 1.0, 0);
    W.out = rnd((size_t)V * D, s * 4, 0);
    W.onorm = rnd(D, 0.2, 1);
    W.rf = rnd((size_t)c->hd / 2, 0.5, 1.5);
    for (int l = 0; l < L; l++) {
        W.an[l] = rnd(D, 0.2, 1), W.fn[l] = rnd(D, 0.2, 1);
        W.wq[l] = rnd((size_t)qd * D, s * 2, 0), W.wk[l] = rnd((size_t)kvd * D, s * 2, 0);
        W.wv[l] = rnd((size_t)kvd * D, s, 0), W.wo[l] = rnd((size_t)D * qd, s, 0);
        W.bq[l] = rnd((size_t)qd, 0.5, 0), W.bk[l] = rnd((size_t)kvd, 0.5, 0), W.bv[l] = rnd((size_t)kvd, 0.5, 0);
        W.wg[l] = rnd((size_t)c->ff * D, s, 0), W.wu[l] = rnd((size_t)c->ff * D, s, 0);
        W.wd[l] = rnd((size_t)D * c->ff, 1.0 / sqrt(c->ff), 0);
    }
    char path[4096] = "/tmp/pk_arch_XXXXXX";
    const char *keep = getenv("POCKET_KEEP_MODELS"); /* for tests/llamacpp_compare.sh */
    if (keep) snprintf(path, sizeof(path), "%s/%s%s%s-%s.gguf", keep, c->arch, c->tied ? "-tied" : "",
                       c->rope_freqs ? "-rope_freqs" : "", pk_qtraits_of(c->wtype)->name);
    else close(mkstemp(path));
    write_model(c, &W, path);
    /* the embedding and norms are stored as float: the reference uses the
     * float values (the rounding happens in add() for quantized types) */
    int toks[T];
    for (int t = 0; t < T; t++) toks[t] = 3 + (t * 7) % (V - 3);
    double *ref = malloc(sizeof(double) * T * V);
    ref_forward(c, &W, toks, ref);
    pk_model *m = NULL;
    pk_ctx *ctx = NULL;
    CHECK_OK(pk_model_load(path, NULL, &m));
    if (m) {
        pk_ctx_params cp = pk_ctx_default_params();
        cp.kv_type = g_kv_type;
        CHECK_OK(pk_ctx_new(m, &cp, &ctx));
        int32_t it[T];
        for (int t = 0; t < T; t++) it[t] = toks[t];
        CHECK_OK(pk_ctx_eval(ctx, it, T, 0, 1));
        double ss = 0, worst = 0;
        for (int t = 0; t < T; t++) {
            const float *lg = pk_ctx_logits(ctx, t);
            for (int v = 0; v < V; v++) {
                ss += ref[t * V + v] * ref[t * V + v];
                worst = fmax(worst, fabs(lg[v] - ref[t * V + v]));
            }
        }
        double rmsv = sqrt(ss / (T * V));
        fprintf(stderr, "   %s%s%s%s (%s, kv %s): max |diff| %.3g, logit rms %.3g\n", c->arch,
                c->tied ? " tied" : "", c->rope_freqs ? " rope_freqs" : "", c->fused ? " fused" : "",
                pk_qtraits_of(c->wtype)->name, g_kv_type ? g_kv_type : "f16", worst, rmsv);
        /* quantized weights also mean activations quantized to 8 bits
         * (q8_0 / q8_K) in every matmul: about 1% per matmul */
        double tol = c->wtype != PK_Q_F32 ? 5e-2 : g_kv_type ? 2e-2 : 3e-3;
        CHECKF(worst <= tol * rmsv, "%s: logits differ by %g (rms %g)", c->arch, worst, rmsv);
    }
    pk_ctx_free(ctx);
    pk_model_free(m);
    if (!keep) unlink(path);
    free(ref);
    free(W.emb), free(W.out), free(W.onorm), free(W.rf);
    for (int l = 0; l < L; l++) {
        free(W.an[l]), free(W.fn[l]), free(W.wq[l]), free(W.wk[l]), free(W.wv[l]), free(W.wo[l]);
        free(W.bq[l]), free(W.bk[l]), free(W.bv[l]), free(W.wg[l]), free(W.wu[l]), free(W.wd[l]);
    }
}

static void test_llama_gqa(void) {
    run_arch(&(cfg){ "llama", 8, 2, 512, 32, false, false, false, false, false, PK_Q_F32 });
}
static void test_llama_tied_rope_freqs(void) {
    run_arch(&(cfg){ "llama", 4, 4, 256, 64, true, true, false, false, false, PK_Q_F32 });
}
static void test_qwen2(void) { run_arch(&(cfg){ "qwen2", 8, 4, 512, 32, false, false, true, false, true, PK_Q_F32 }); }
static void test_phi3(void) { run_arch(&(cfg){ "phi3", 8, 8, 512, 32, false, false, false, true, true, PK_Q_F32 }); }
static void test_quantized(void) {
    run_arch(&(cfg){ "llama", 8, 2, 512, 32, false, false, false, false, false, PK_Q_Q8_0 });
    run_arch(&(cfg){ "llama", 8, 2, 512, 32, false, false, false, false, false, PK_Q_Q4_K });
    run_arch(&(cfg){ "qwen2", 8, 4, 512, 32, false, false, true, false, true, PK_Q_Q6_K });
    run_arch(&(cfg){ "phi3", 8, 8, 512, 32, false, false, false, true, true, PK_Q_IQ4_XS });
}

/* q8_0 KV cache: f32 weights, so the only 8-bit rounding is in attention */
static void test_kv_q8_0(void) {
    g_kv_type = "q8_0";
    run_arch(&(cfg){ "llama", 8, 2, 512, 32, false, false, false, false, false, PK_Q_F32 });
    run_arch(&(cfg){ "llama", 4, 4, 256, 64, true, true, false, false, false, PK_Q_F32 });
    run_arch(&(cfg){ "qwen2", 8, 4, 512, 32, false, false, true, false, true, PK_Q_F32 });
    g_kv_type = NULL;
}

int main(void) {
    pk_quant_init();
    PK_RUN(test_llama_gqa);
    PK_RUN(test_llama_tied_rope_freqs);
    PK_RUN(test_qwen2);
    PK_RUN(test_phi3);
    PK_RUN(test_quantized);
    PK_RUN(test_kv_q8_0);
    return pk_test_summary();
}
