/* tok_api.c: the public model-less tokenizer (pk_tokenizer_*): a vocabulary
 * from a GGUF file's tokenizer keys, or from a tokenizer.json. */
#include "tokenizer/tok.h"

#include <string.h>

struct pk_tokenizer {
    pk_tok *tok;
};

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

pk_status pk_tokenizer_load(const char *path, pk_tokenizer **out) {
    *out = NULL;
    pk_quant_init();
    pk_tokenizer *tk = pk_calloc(1, sizeof(*tk));
    if (!tk) return PK_ERR_NOMEM;
    pk_status st;
    if (ends_with(path, ".json")) {
        st = pk_tok_from_hf_json(path, &tk->tok);
    } else {
        pk_gguf *g = NULL;
        st = pk_gguf_open(path, true, &g);
        if (!st) {
            st = pk_tok_from_gguf(g, &tk->tok);
            if (st) pk_err_prefix("%s", path);
        }
        pk_gguf_close(g);
    }
    if (st) {
        pk_free(tk);
        return st;
    }
    *out = tk;
    return PK_OK;
}

void pk_tokenizer_free(pk_tokenizer *tk) {
    if (!tk) return;
    pk_tok_free(tk->tok);
    pk_free(tk);
}

int pk_tokenizer_n_vocab(const pk_tokenizer *tk) { return pk_tok_n_vocab(tk->tok); }

pk_status pk_tokenizer_encode(const pk_tokenizer *tk, const char *text, size_t len, int add_special,
                              int parse_special, int32_t **ids, size_t *n_ids) {
    return pk_tok_encode(tk->tok, text, len, add_special != 0, parse_special != 0, ids, n_ids);
}

const char *pk_tokenizer_piece(const pk_tokenizer *tk, int32_t id, int render_special, size_t *len) {
    return pk_tok_piece(tk->tok, id, render_special != 0, len);
}

pk_status pk_tokenizer_decode(const pk_tokenizer *tk, const int32_t *ids, size_t n, int render_special,
                              char **text, size_t *len) {
    return pk_tok_decode(tk->tok, ids, n, render_special != 0, text, len);
}
