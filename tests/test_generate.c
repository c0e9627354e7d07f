/* test_generate.c: samplers and the generation loop on stories260K: greedy
 * equals top-k 1 at any temperature; a seed reproduces a sampled text and
 * another seed changes it; penalties change greedy output; stop strings end
 * generation without emitting themselves; streamed chunks are whole UTF-8;
 * cancellation from the callback; errors for bad parameters; a llama2.c
 * version-1 checkpoint converts like the legacy one. */
#include "base/base.h"
#include "test.h"

#include <fcntl.h>
#include <unistd.h>

static pk_model *M;

static char *gen_text(pk_gen_params *gp, int32_t **ids, size_t *n) {
    pk_ctx *c = NULL;
    CHECK_OK(pk_ctx_new(M, NULL, &c));
    int32_t bos = 1;
    int32_t *out = NULL;
    size_t no = 0;
    CHECK_OK(pk_generate(c, &bos, 1, gp, NULL, NULL, &out, &no));
    char *text = NULL;
    CHECK_OK(pk_detokenize(M, out, no, 0, &text, NULL));
    if (ids) *ids = out, *n = no;
    else pk_free(out);
    pk_ctx_free(c);
    return text;
}

static void test_samplers(void) {
    pk_gen_params g = pk_gen_default_params();
    g.n_predict = 40;
    g.sampler.temperature = 0;
    char *greedy = gen_text(&g, NULL, NULL);
    g.sampler.temperature = 1.5f;
    g.sampler.top_k = 1;
    char *k1 = gen_text(&g, NULL, NULL);
    CHECKF(!strcmp(greedy, k1), "top-k 1 differs from greedy:\n%s\n%s", greedy, k1);
    g.sampler.top_k = 40;
    g.sampler.seed = 7;
    char *a = gen_text(&g, NULL, NULL), *b = gen_text(&g, NULL, NULL);
    CHECK(!strcmp(a, b));
    g.sampler.seed = 8;
    char *c = gen_text(&g, NULL, NULL);
    CHECK(strcmp(a, c) != 0);
    g.sampler.temperature = 0;
    g.sampler.repeat_penalty = 1.8f;
    char *pen = gen_text(&g, NULL, NULL);
    CHECK(strcmp(pen, greedy) != 0);
    g.sampler.repeat_penalty = 1.0f;
    g.sampler.temperature = 0.8f;
    g.sampler.min_p = 0.5f; /* only tokens with at least half the top probability */
    g.sampler.top_p = 0.3f;
    char *narrow = gen_text(&g, NULL, NULL);
    CHECK(strlen(narrow) > 10);
    pk_free(greedy), pk_free(k1), pk_free(a), pk_free(b), pk_free(c), pk_free(pen), pk_free(narrow);
    pk_sampler *s = NULL;
    pk_sampler_params sp = pk_sampler_default_params();
    sp.top_p = 0;
    CHECK(pk_sampler_new(&sp, 512, &s) == PK_ERR_INVALID && !s);
}

typedef struct collect {
    char buf[4096];
    size_t n;
    int calls, bad_utf8, stop_after;
} collect;

static int on_tok(void *user, int32_t tok, const char *text, size_t len) {
    collect *c = user;
    (void)tok;
    if (len && pk_utf8_incomplete_tail(text, len)) c->bad_utf8++;
    if (c->n + len < sizeof(c->buf)) {
        memcpy(c->buf + c->n, text, len);
        c->n += len;
        c->buf[c->n] = 0;
    }
    return c->stop_after && ++c->calls >= c->stop_after;
}

static void test_stop_and_stream(void) {
    pk_ctx *ctx = NULL;
    CHECK_OK(pk_ctx_new(M, NULL, &ctx));
    pk_gen_params g = pk_gen_default_params();
    g.n_predict = 100;
    g.sampler.temperature = 0;
    const char *stops[] = { "Lily", NULL };
    g.stop = stops;
    collect c = { .n = 0 };
    int32_t bos = 1;
    int32_t *out = NULL;
    size_t n = 0;
    CHECK_OK(pk_generate(ctx, &bos, 1, &g, on_tok, &c, &out, &n));
    /* greedy text is "Once upon a time, there was a little girl named Lily. ..." */
    CHECKF(!strcmp(c.buf, "Once upon a time, there was a little girl named "), "'%s'", c.buf);
    CHECK(c.bad_utf8 == 0);
    CHECK(n > 5 && n < 20);
    pk_free(out);
    /* cancellation */
    collect c2 = { .stop_after = 3 };
    g.stop = NULL;
    CHECK(pk_generate(ctx, &bos, 1, &g, on_tok, &c2, &out, &n) == PK_ERR_CANCELLED);
    CHECK(n == 3);
    pk_free(out);
    /* a prompt longer than the context */
    int32_t *big = calloc(10000, sizeof(int32_t));
    CHECK(pk_generate(ctx, big, 10000, &g, NULL, NULL, NULL, NULL) == PK_ERR_RANGE);
    free(big);
    CHECK(pk_generate(ctx, &bos, 0, &g, NULL, NULL, NULL, NULL) == PK_ERR_INVALID);
    pk_ctx_free(ctx);
}

/* llama2.c version 1: 256-byte header ("ak42", version, 7 ints, shared flag)
 * and weights grouped by kind; built here from the legacy checkpoint */
static void test_llama2c_v1(void) {
    char *data = NULL;
    size_t len;
    CHECK_OK(pk_read_file(pk_test_path("models/stories260K/stories260K.bin"), 1 << 24, &data, &len));
    if (!data) return;
    int32_t h[7];
    memcpy(h, data, 28);
    int dim = h[0], hid = h[1], L = h[2], nh = h[3], nkv = h[4], V = h[5] < 0 ? -h[5] : h[5], seq = h[6];
    int hd = dim / nh, kvd = hd * nkv;
    const float *f = (const float *)(data + 28);
    size_t emb = (size_t)V * dim, an = (size_t)L * dim, wq = (size_t)L * dim * dim, wk = (size_t)L * kvd * dim;
    size_t wo = wq, fn = an, w1 = (size_t)L * hid * dim;
    const float *p_emb = f, *p_an = p_emb + emb, *p_wq = p_an + an, *p_wk = p_wq + wq, *p_wv = p_wk + wk;
    const float *p_wo = p_wv + wk, *p_fn = p_wo + wo, *p_w1 = p_fn + fn, *p_w2 = p_w1 + w1, *p_w3 = p_w2 + w1;
    const float *p_on = p_w3 + w1;
    char path[] = "/tmp/pk_l2c_v1_XXXXXX";
    int fd = mkstemp(path);
    FILE *o = fdopen(fd, "wb");
    uint8_t hdr[256] = { 0 };
    uint32_t magic = 0x616b3432;
    int32_t ver = 1, cfg[7] = { dim, hid, L, nh, nkv, V, seq };
    memcpy(hdr, &magic, 4);
    memcpy(hdr + 4, &ver, 4);
    memcpy(hdr + 8, cfg, 28);
    hdr[36] = 1; /* shared classifier */
    fwrite(hdr, 1, 256, o);
    fwrite(p_an, 4, an, o);
    fwrite(p_fn, 4, fn, o);
    fwrite(p_on, 4, (size_t)dim, o);
    fwrite(p_emb, 4, emb, o);
    fwrite(p_wq, 4, wq, o);
    fwrite(p_wk, 4, wk, o);
    fwrite(p_wv, 4, wk, o);
    fwrite(p_wo, 4, wo, o);
    fwrite(p_w1, 4, w1, o);
    fwrite(p_w2, 4, w1, o);
    fwrite(p_w3, 4, w1, o);
    fclose(o);
    pk_free(data);
    char out[] = "/tmp/pk_l2c_v1g_XXXXXX";
    close(mkstemp(out));
    CHECK_OK(pk_convert_llama2c(path, pk_test_path("models/stories260K/tok512.bin"), out));
    pk_model *m = NULL;
    CHECK_OK(pk_model_load(out, NULL, &m));
    if (m) {
        pk_ctx *c = NULL;
        CHECK_OK(pk_ctx_new(m, NULL, &c));
        pk_gen_params g = pk_gen_default_params();
        g.n_predict = 64;
        g.sampler.temperature = 0;
        g.stop_on_eos = 0;
        int32_t bos = 1, *ids = NULL;
        size_t n = 0;
        CHECK_OK(pk_generate(c, &bos, 1, &g, NULL, NULL, &ids, &n));
        int32_t want[3] = { 403, 407, 261 }; /* the golden ids begin so */
        CHECK(n == 64 && ids[0] == want[0] && ids[1] == want[1] && ids[2] == want[2]);
        pk_free(ids);
        pk_ctx_free(c);
        pk_model_free(m);
    }
    /* version 2 (int8) is refused by name */
    uint8_t v2[300] = { 0 };
    ver = 2;
    memcpy(v2, &magic, 4);
    memcpy(v2 + 4, &ver, 4);
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, v2, sizeof(v2)) == (ssize_t)sizeof(v2));
    close(fd);
    CHECK(pk_convert_llama2c(path, pk_test_path("models/stories260K/tok512.bin"), out) == PK_ERR_UNSUPPORTED);
    CHECK(strstr(pk_last_error(), "version 2") != NULL);
    unlink(path);
    unlink(out);
}

int main(void) {
    CHECK_OK(pk_model_load(pk_test_path("models/stories260K/stories260K.gguf"), NULL, &M));
    if (!M) return pk_test_summary();
    PK_RUN(test_samplers);
    PK_RUN(test_stop_and_stream);
    PK_RUN(test_llama2c_v1);
    pk_model_free(M);
    return pk_test_summary();
}
