/* test_tok_props.c: properties of the tokenizers and the chat templates:
 * decode(encode(x)) == x for random valid UTF-8 (CJK, emoji, whitespace
 * runs) with an SPM and a byte-level BPE vocabulary; invalid UTF-8 never
 * crashes; control-token text is plain text unless parse_special; chat
 * templates lay out turns exactly as each family's template does. */
#include "gguf/gguf.h"
#include "pocket.h"
#include "test.h"
#include "tokenizer/tok.h"

static uint64_t rs = 42;
static uint32_t rnd(uint32_t n) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs % n);
}

static size_t random_utf8(char *out, size_t cap) {
    static const uint32_t pool[] = { ' ', ' ', '\n', '\t', 'a', 'Z', '0', '.', '\'', 0xE9, 0x4E2D, 0x6587,
                                     0x1F600, 0x1F44D, 0x3000, 0x200D, 0x0301, 0x05D0, 0x0E01 };
    size_t n = 0;
    int len = 1 + (int)rnd(40);
    for (int i = 0; i < len && n + 4 < cap; i++) {
        uint32_t cp = rnd(3) ? pool[rnd(sizeof(pool) / sizeof(pool[0]))] : 0x20 + rnd(0x2FF0);
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
        n += (size_t)pk_utf8_encode(cp, out + n);
    }
    out[n] = 0;
    return n;
}

static void roundtrip(const char *vocab_rel) {
    pk_gguf *g = NULL;
    pk_tok *t = NULL;
    CHECK_OK(pk_gguf_open(pk_test_path(vocab_rel), true, &g));
    if (!g) return;
    CHECK_OK(pk_tok_from_gguf(g, &t));
    pk_gguf_close(g);
    if (!t) return;
    int bad = 0;
    for (int k = 0; k < 300; k++) {
        char text[256];
        size_t n = random_utf8(text, sizeof(text));
        int32_t *ids;
        size_t ni;
        char *back;
        CHECK_OK(pk_tok_encode(t, text, n, false, false, &ids, &ni));
        CHECK_OK(pk_tok_decode(t, ids, ni, false, &back, NULL));
        if (strcmp(back, text) && bad++ < 3) fprintf(stderr, "   %s: '%s' -> '%s'\n", vocab_rel, text, back);
        pk_free(ids);
        pk_free(back);
    }
    CHECKF(bad == 0, "%s: %d of 300 texts did not round-trip", vocab_rel, bad);
    /* invalid UTF-8: any bytes are accepted without a crash */
    for (int k = 0; k < 200; k++) {
        char junk[64];
        size_t n = 1 + rnd(63);
        for (size_t i = 0; i < n; i++) junk[i] = (char)rnd(256);
        int32_t *ids = NULL;
        size_t ni;
        CHECK_OK(pk_tok_encode(t, junk, n, true, true, &ids, &ni));
        pk_free(ids);
    }
    pk_tok_free(t);
}

static void test_roundtrip(void) {
    roundtrip("tokenizers/llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    roundtrip("tokenizers/llamacpp-vocab/ggml-vocab-gpt-2.gguf");
    roundtrip("tokenizers/llamacpp-vocab/ggml-vocab-deepseek-coder.gguf");
}

static void test_special_parsing(void) {
    pk_tokenizer *tk = NULL;
    CHECK_OK(pk_tokenizer_load(pk_test_path("tokenizers/qwen2/tokenizer.json"), &tk));
    if (!tk) return;
    const char *txt = "<|im_start|>user";
    int32_t *ids;
    size_t n;
    CHECK_OK(pk_tokenizer_encode(tk, txt, strlen(txt), 0, 1, &ids, &n));
    CHECK(n == 2); /* the control token and "user" */
    pk_free(ids);
    CHECK_OK(pk_tokenizer_encode(tk, txt, strlen(txt), 0, 0, &ids, &n));
    CHECK(n > 2); /* as plain text */
    pk_free(ids);
    pk_tokenizer_free(tk);
}

static void chat(const char *tmpl, bool sys, const char *want) {
    pk_chat_msg m[4] = { { "system", "Be brief." }, { "user", "Hi" }, { "assistant", "Hello." }, { "user", "Bye" } };
    char *out = NULL;
    CHECK_OK(pk_chat_apply(tmpl, sys ? m : m + 1, sys ? 4 : 3, 1, &out));
    CHECKF(out && !strcmp(out, want), "%s:\n---\n%s\n--- want\n%s\n---", tmpl, out ? out : "", want);
    pk_free(out);
}

static void test_chat_templates(void) {
    chat("chatml", true,
         "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
         "Hello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
    chat("llama3", true,
         "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
         "Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user"
         "<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    chat("llama2", true, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]");
    chat("mistral", false, "[INST] Hi [/INST]Hello.</s>[INST] Bye [/INST]");
    chat("phi3", true,
         "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nBye<|end|>\n"
         "<|assistant|>\n");
    chat("gemma", true,
         "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
         "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n");
    /* recognised from a template's text */
    char *out = NULL;
    pk_chat_msg u = { "user", "x" };
    CHECK_OK(pk_chat_apply("{% for m in messages %}<|im_start|>{{ m.role }}...", &u, 1, 1, &out));
    CHECK(out && !strcmp(out, "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"));
    pk_free(out);
    CHECK(pk_chat_apply("{{ unknown }}", &u, 1, 1, &out) == PK_ERR_UNSUPPORTED);
    pk_chat_msg bad = { "robot", "x" };
    CHECK(pk_chat_apply("chatml", &bad, 1, 1, &out) == PK_ERR_INVALID);
}

int main(void) {
    PK_RUN(test_roundtrip);
    PK_RUN(test_special_parsing);
    PK_RUN(test_chat_templates);
    return pk_test_summary();
}
