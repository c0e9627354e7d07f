/* fuzz_tok.c: libFuzzer harness for the tokenizers: arbitrary bytes are
 * encoded (with and without special-token parsing) and decoded with an SPM
 * and a byte-level BPE vocabulary from ../shared (POCKET_SHARED), loaded
 * once. Replayed over fuzz/corpus/tok by tests/test_fuzz_replay.c. */
#include "gguf/gguf.h"
#include "tokenizer/tok.h"

#include <stdio.h>
#include <stdlib.h>

int pk_fuzz_tok(const uint8_t *data, size_t size);

static pk_tok *load(const char *name) {
    const char *sh = getenv("POCKET_SHARED") ? getenv("POCKET_SHARED") : "../shared";
    char path[4096];
    snprintf(path, sizeof(path), "%s/tokenizers/llamacpp-vocab/ggml-vocab-%s.gguf", sh, name);
    pk_gguf *g = NULL;
    pk_tok *t = NULL;
    if (pk_gguf_open(path, true, &g) == PK_OK) pk_tok_from_gguf(g, &t);
    pk_gguf_close(g);
    return t;
}

int pk_fuzz_tok(const uint8_t *data, size_t size) {
    static pk_tok *toks[2];
    static int ready;
    if (!ready) {
        toks[0] = load("llama-spm");
        toks[1] = load("gpt-2");
        ready = 1;
    }
    for (int k = 0; k < 2; k++) {
        if (!toks[k]) continue;
        for (int special = 0; special < 2; special++) {
            int32_t *ids = NULL;
            size_t n = 0;
            if (pk_tok_encode(toks[k], (const char *)data, size, special, special, &ids, &n) == PK_OK) {
                char *text = NULL;
                if (pk_tok_decode(toks[k], ids, n, special, &text, NULL) == PK_OK) pk_free(text);
            }
            pk_free(ids);
        }
    }
    return 0;
}

#ifdef PK_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return pk_fuzz_tok(data, size); }
#endif
