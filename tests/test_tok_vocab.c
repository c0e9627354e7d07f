/* test_tok_vocab.c: tokenizers against llama.cpp's reference cases: for every
 * vocab GGUF in ../shared/tokenizers/llamacpp-vocab with .inp/.out files,
 * each case encodes (no BOS, special text not parsed) to exactly the ids of
 * its .out line, and decodes back to the input where the vocab is lossless. */
#include "gguf/gguf.h"
#include "test.h"
#include "tokenizer/tok.h"

#include <jansson.h>
#include <unistd.h>

static const char MARK[] = "\n__ggml_vocab_test__\n";

static int check_cases(pk_tok *t, const char *name, const char *path);

/* Returns 1 when all cases pass, 0 when some fail, -1 when unsupported. */
static int check_vocab(const char *name, bool must_support) {
    char rel[256], path[4096];
    snprintf(rel, sizeof(rel), "tokenizers/llamacpp-vocab/ggml-vocab-%s.gguf", name);
    snprintf(path, sizeof(path), "%s", pk_test_path(rel));
    pk_gguf *g = NULL;
    pk_tok *t = NULL;
    CHECK_OK(pk_gguf_open(path, true, &g));
    if (!g) return 0;
    pk_status st = pk_tok_from_gguf(g, &t);
    pk_gguf_close(g);
    if (st == PK_ERR_UNSUPPORTED && !must_support) {
        fprintf(stderr, "   %s: unsupported: %s\n", name, pk_last_error());
        return -1;
    }
    CHECKF(st == PK_OK, "%s: %s", name, pk_last_error());
    if (!t) return 0;
    int r = check_cases(t, name, path);
    pk_tok_free(t);
    return r;
}

/* the .inp/.out cases at path.inp / path.out */
static int check_cases(pk_tok *t, const char *name, const char *path) {
    char inp_path[4200], out_path[4200];
    snprintf(inp_path, sizeof(inp_path), "%s.inp", path);
    snprintf(out_path, sizeof(out_path), "%s.out", path);
    char *inp = NULL, *out = NULL;
    size_t inp_len, out_len;
    CHECK_OK(pk_read_file(inp_path, 1 << 24, &inp, &inp_len));
    CHECK_OK(pk_read_file(out_path, 1 << 24, &out, &out_len));
    int n_case = 0, n_bad = 0;
    char *ip = inp, *op = out;
    while (ip && op && *op) {
        char *end = strstr(ip, MARK);
        if (!end) break;
        char *oend = strchr(op, '\n');
        if (oend) *oend = 0;
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK(pk_tok_encode(t, ip, (size_t)(end - ip), false, false, &ids, &n));
        /* expected ids */
        int32_t want[4096];
        size_t nw = 0;
        for (char *q = op; *q && nw < 4096;) {
            char *e;
            long v = strtol(q, &e, 10);
            if (e == q) break;
            want[nw++] = (int32_t)v;
            q = e;
        }
        bool same = n == nw && (n == 0 || !memcmp(ids, want, n * sizeof(int32_t)));
        if (!same) {
            n_bad++;
            if (n_bad <= 3) {
                fprintf(stderr, "   %s case %d '%.*s':\n     want", name, n_case, (int)PK_MIN(end - ip, 60), ip);
                for (size_t k = 0; k < nw && k < 24; k++) fprintf(stderr, " %d", want[k]);
                fprintf(stderr, "\n     got ");
                for (size_t k = 0; k < n && k < 24; k++) fprintf(stderr, " %d", ids[k]);
                fprintf(stderr, "\n");
            }
        }
        pk_free(ids);
        n_case++;
        ip = end + strlen(MARK);
        op = oend ? oend + 1 : op + strlen(op);
    }
    CHECKF(n_bad == 0, "%s: %d of %d cases differ", name, n_bad, n_case);
    CHECKF(n_case >= 20, "%s: only %d cases read", name, n_case);
    fprintf(stderr, "   %s: %d cases, %d differ\n", name, n_case, n_bad);
    pk_free(inp);
    pk_free(out);
    return n_bad == 0;
}

static void test_llama_spm(void) { check_vocab("llama-spm", true); }
static void test_phi3(void) { check_vocab("phi-3", true); }
static void test_bpe_family(void) {
    static const char *names[] = { "gpt-2", "falcon", "starcoder", "refact", "deepseek-llm",
                                   "deepseek-coder", "mpt", "gpt-neox", "command-r", "qwen2" };
    for (size_t i = 0; i < PK_ARRAY_LEN(names); i++) {
        char rel[200];
        snprintf(rel, sizeof(rel), "tokenizers/llamacpp-vocab/ggml-vocab-%s.gguf", names[i]);
        char inp[240];
        snprintf(inp, sizeof(inp), "%s.inp", rel);
        if (access(pk_test_path(rel), R_OK) != 0 || access(pk_test_path(inp), R_OK) != 0) continue;
        check_vocab(names[i], true);
    }
}

/* vocabularies built from Hugging Face tokenizer.json files, against the
 * llama.cpp cases of the same tokenizers */
static void json_cases(const char *json, const char *cases) {
    pk_tok *t = NULL;
    char jp[4096], cp[4096];
    snprintf(jp, sizeof(jp), "%s", pk_test_path(json));
    snprintf(cp, sizeof(cp), "%s", pk_test_path(cases));
    CHECK_OK(pk_tok_from_hf_json(jp, &t));
    if (!t) return;
    check_cases(t, json, cp);
    pk_tok_free(t);
}

static void test_hf_json(void) {
    json_cases("tokenizers/llama3/tokenizer.json", "tokenizers/llamacpp-vocab/ggml-vocab-llama-bpe.gguf");
    json_cases("tokenizers/qwen2/tokenizer.json", "tokenizers/llamacpp-vocab/ggml-vocab-qwen2.gguf");
}

/* reference ids from the Hugging Face tokenizers reference (transformers.js),
 * made by tools/fixtures/hf_tok_cases.mjs: Chinese, emoji, code, numbers,
 * whitespace runs, DialogSum and QMSum text */
static void hf_fixture(const char *name) {
    char jp[4096], fp[4096];
    snprintf(jp, sizeof(jp), "%s/tokenizer.json", pk_test_path(name));
    const char *src = getenv("POCKET_SRC") ? getenv("POCKET_SRC") : ".";
    snprintf(fp, sizeof(fp), "%s/tests/data/tok/%s.json", src, strrchr(name, '/') + 1);
    pk_tok *t = NULL;
    CHECK_OK(pk_tok_from_hf_json(jp, &t));
    json_error_t err;
    json_t *cases = json_load_file(fp, 0, &err);
    CHECKF(cases != NULL, "%s: %s", fp, err.text);
    if (!t || !cases) {
        pk_tok_free(t);
        json_decref(cases);
        return;
    }
    size_t i, n_bad = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        json_t *jt = json_object_get(c, "text"), *jids = json_object_get(c, "ids");
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK(pk_tok_encode(t, json_string_value(jt), json_string_length(jt), false, false, &ids, &n));
        bool same = n == json_array_size(jids);
        for (size_t k = 0; same && k < n; k++) same = ids[k] == json_integer_value(json_array_get(jids, k));
        if (!same && n_bad++ < 2) {
            fprintf(stderr, "   %s case %zu '%.50s': %zu ids, want %zu\n     got ", name, i, json_string_value(jt),
                    n, json_array_size(jids));
            for (size_t k = 0; k < n && k < 16; k++) fprintf(stderr, " %d", ids[k]);
            fprintf(stderr, "\n     want");
            for (size_t k = 0; k < json_array_size(jids) && k < 16; k++)
                fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(jids, k)));
            fprintf(stderr, "\n");
        }
        pk_free(ids);
    }
    fprintf(stderr, "   %s: %zu reference cases, %zu differ\n", name, json_array_size(cases), n_bad);
    CHECKF(n_bad == 0, "%s: %zu cases differ", name, n_bad);
    json_decref(cases);
    pk_tok_free(t);
}

static void test_hf_reference(void) {
    hf_fixture("tokenizers/llama2");
    hf_fixture("tokenizers/llama3");
    hf_fixture("tokenizers/qwen2");
}

static void test_roundtrip_spm(void) {
    pk_gguf *g = NULL;
    pk_tok *t = NULL;
    CHECK_OK(pk_gguf_open(pk_test_path("tokenizers/llamacpp-vocab/ggml-vocab-llama-spm.gguf"), true, &g));
    if (!g) return;
    CHECK_OK(pk_tok_from_gguf(g, &t));
    pk_gguf_close(g);
    if (!t) return;
    static const char *texts[] = { "Hello world", " leading space", "多语言 测试 🙂 emoji",
                                   "tabs\tand\nnewlines\n\n", "<s> not special", "a  b   c" };
    for (size_t i = 0; i < PK_ARRAY_LEN(texts); i++) {
        int32_t *ids;
        size_t n;
        char *back;
        CHECK_OK(pk_tok_encode(t, texts[i], strlen(texts[i]), true, false, &ids, &n));
        CHECK(n > 0 && ids[0] == pk_tok_bos(t));
        CHECK_OK(pk_tok_decode(t, ids, n, false, &back, NULL));
        CHECKF(!strcmp(back, texts[i]), "'%s' -> '%s'", texts[i], back);
        pk_free(ids);
        pk_free(back);
    }
    /* special text is plain text unless asked */
    int32_t *ids;
    size_t n;
    CHECK_OK(pk_tok_encode(t, "</s>", 4, false, true, &ids, &n));
    CHECK(n == 1 && ids[0] == pk_tok_eos(t));
    pk_free(ids);
    CHECK_OK(pk_tok_encode(t, "</s>", 4, false, false, &ids, &n));
    CHECK(n > 1);
    pk_free(ids);
    /* invalid UTF-8 does not crash and round-trips through byte tokens */
    const char bad[] = "ok\xff\xfe\xc3";
    CHECK_OK(pk_tok_encode(t, bad, 5, false, false, &ids, &n));
    char *back;
    CHECK_OK(pk_tok_decode(t, ids, n, false, &back, NULL));
    CHECK(!strcmp(back, bad));
    pk_free(ids);
    pk_free(back);
    pk_tok_free(t);
}

int main(void) {
    PK_RUN(test_llama_spm);
    PK_RUN(test_phi3);
    PK_RUN(test_bpe_family);
    PK_RUN(test_roundtrip_spm);
    PK_RUN(test_hf_json);
    PK_RUN(test_hf_reference);
    return pk_test_summary();
}
