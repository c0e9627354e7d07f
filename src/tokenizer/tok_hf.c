/* tok_hf.c: vocabularies from Hugging Face tokenizer.json files (model BPE).
 * Two shapes are recognised, the ones Llama-2, Llama-3 and Qwen2 use:
 *  - byte-level BPE: a ByteLevel pre-tokenizer, with the Split regexes
 *    before it (or GPT-2's when ByteLevel splits by itself);
 *  - SentencePiece-style BPE with byte fallback: a normalizer that prepends
 *    and substitutes U+2581; merge ranks become the SPM merge scores.
 * Added tokens become control (special) or user-defined tokens. */
#include "tokenizer/tok_int.h"

#include <jansson.h>
#include <string.h>

/* ---- reading the json ---- */

/* find a pre-tokenizer or normalizer entry of a given type, in a Sequence or alone */
static json_t *find_typed(json_t *node, const char *type) {
    if (!json_is_object(node)) return NULL;
    const char *t = json_string_value(json_object_get(node, "type"));
    if (t && !strcmp(t, type)) return node;
    json_t *seq = json_object_get(node, "pretokenizers");
    if (!seq) seq = json_object_get(node, "normalizers");
    size_t i;
    json_t *e;
    json_array_foreach(seq, i, e) {
        json_t *hit = find_typed(e, type);
        if (hit) return hit;
    }
    return NULL;
}

typedef struct merges_src {
    json_t *arr;
} merges_src;

static pk_status json_merge(const void *src, uint64_t i, const char **l, size_t *ll, const char **r,
                            size_t *rl) {
    const merges_src *m = src;
    json_t *e = json_array_get(m->arr, (size_t)i);
    if (json_is_string(e)) { /* "a b" */
        const char *s = json_string_value(e);
        size_t n = json_string_length(e);
        const char *sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
        if (!sp) return pk_err(PK_ERR_FORMAT, "tokenizer.json: merges[%llu] has no space", (unsigned long long)i);
        *l = s, *ll = (size_t)(sp - s), *r = sp + 1, *rl = n - *ll - 1;
        return PK_OK;
    }
    if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
        json_is_string(json_array_get(e, 1))) { /* ["a", "b"] */
        *l = json_string_value(json_array_get(e, 0)), *ll = json_string_length(json_array_get(e, 0));
        *r = json_string_value(json_array_get(e, 1)), *rl = json_string_length(json_array_get(e, 1));
        return PK_OK;
    }
    return pk_err(PK_ERR_FORMAT, "tokenizer.json: merges[%llu] is neither \"a b\" nor [a, b]",
                  (unsigned long long)i);
}

pk_status pk_tok_from_hf_json(const char *path, pk_tok **out) {
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return pk_err(PK_ERR_FORMAT, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    pk_status st = PK_OK;
    pk_tok *t = pk_calloc(1, sizeof(*t));
    json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab");
    json_t *merges = json_object_get(model, "merges"), *added = json_object_get(root, "added_tokens");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    if (!t) {
        st = PK_ERR_NOMEM;
        goto fail;
    }
    if (!mtype || strcmp(mtype, "BPE") || !json_is_object(vocab) || !json_is_array(merges)) {
        st = pk_err(PK_ERR_UNSUPPORTED, "%s: model type %s is not supported (BPE with vocab and merges is)", path,
                    mtype ? mtype : "(none)");
        goto fail;
    }
    /* ids: the vocab's, and added tokens' (which may extend it) */
    int64_t max_id = -1;
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 24)) {
            st = pk_err(PK_ERR_FORMAT, "%s: vocab entry '%.40s' has a bad id", path, key);
            goto fail;
        }
        if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    }
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        if (id < 0 || id >= (1 << 24) || !json_is_string(json_object_get(a, "content"))) {
            st = pk_err(PK_ERR_FORMAT, "%s: added_tokens[%zu] has a bad id or no content", path, i);
            goto fail;
        }
        if (id > max_id) max_id = id;
    }
    t->n_vocab = (int32_t)(max_id + 1);
    size_t total = 0;
    json_object_foreach(vocab, key, v) total += strlen(key) + 1;
    json_array_foreach(added, i, a) total += json_string_length(json_object_get(a, "content")) + 1;
    t->blob = pk_malloc(total + (size_t)t->n_vocab);
    t->text = pk_calloc((size_t)t->n_vocab, sizeof(char *));
    t->len = pk_calloc((size_t)t->n_vocab, sizeof(uint32_t));
    t->score = pk_calloc((size_t)t->n_vocab, sizeof(float));
    t->type = pk_calloc((size_t)t->n_vocab, sizeof(uint8_t));
    t->piece = pk_calloc((size_t)t->n_vocab, sizeof(char *));
    t->piece_len = pk_calloc((size_t)t->n_vocab, sizeof(uint32_t));
    if (!t->blob || !t->text || !t->len || !t->score || !t->type || !t->piece || !t->piece_len) {
        st = PK_ERR_NOMEM;
        goto fail;
    }
    char *p = t->blob;
    for (int32_t k = 0; k < t->n_vocab; k++) { /* ids nobody names: empty, unused */
        t->text[k] = p;
        *p++ = 0;
        t->type[k] = PK_TOKTYPE_UNUSED;
    }
    json_object_foreach(vocab, key, v) {
        size_t l = strlen(key);
        int32_t id = (int32_t)json_integer_value(v);
        memcpy(p, key, l + 1);
        t->text[id] = p;
        t->len[id] = (uint32_t)l;
        t->type[id] = (l == 6 && !memcmp(key, "<0x", 3) && key[5] == '>') ? PK_TOKTYPE_BYTE : PK_TOKTYPE_NORMAL;
        t->score[id] = -1e9f; /* pieces no merge makes */
        p += l + 1;
    }
    t->bos = t->eos = t->unk = t->eot = -1;
    json_array_foreach(added, i, a) {
        const char *c = json_string_value(json_object_get(a, "content"));
        size_t l = json_string_length(json_object_get(a, "content"));
        int32_t id = (int32_t)json_integer_value(json_object_get(a, "id"));
        memcpy(p, c, l + 1);
        t->text[id] = p;
        t->len[id] = (uint32_t)l;
        t->type[id] = json_is_true(json_object_get(a, "special")) ? PK_TOKTYPE_CONTROL : PK_TOKTYPE_USER;
        p += l + 1;
        if (!strcmp(c, "<s>") || !strcmp(c, "<|begin_of_text|>")) t->bos = id;
        if (!strcmp(c, "</s>") || !strcmp(c, "<|end_of_text|>") || !strcmp(c, "<|endoftext|>")) t->eos = id;
        if (!strcmp(c, "<unk>")) t->unk = id, t->type[id] = PK_TOKTYPE_UNKNOWN;
        if (!strcmp(c, "<|eot_id|>") || !strcmp(c, "<|im_end|>")) t->eot = id;
    }
    json_t *pre = json_object_get(root, "pre_tokenizer"), *norm = json_object_get(root, "normalizer");
    json_t *bl = find_typed(pre, "ByteLevel");
    merges_src ms = { merges };
    if ((st = pk_tok_build_hash(t))) goto fail;
    if (bl) {
        t->kind = PK_TOK_BPE;
        /* the Split regexes in order; ByteLevel with use_regex adds GPT-2's */
        const char *res[8];
        int nr = 0;
        size_t k;
        json_t *e, *seq = json_object_get(pre, "pretokenizers");
        json_t *single[1] = { pre };
        size_t n_items = seq ? json_array_size(seq) : 1;
        for (k = 0; k < n_items && nr < 7; k++) {
            e = seq ? json_array_get(seq, k) : single[0];
            const char *ty = json_string_value(json_object_get(e, "type"));
            if (ty && !strcmp(ty, "Split")) {
                const char *rx = json_string_value(json_object_get(json_object_get(e, "pattern"), "Regex"));
                if (!rx) {
                    st = pk_err(PK_ERR_UNSUPPORTED, "%s: Split pre-tokenizer without a Regex pattern", path);
                    goto fail;
                }
                res[nr++] = rx;
            } else if (ty && !strcmp(ty, "ByteLevel") && json_is_true(json_object_get(e, "use_regex"))) {
                res[nr++] = pk_tok_bpe_pre_regexes("gpt2")[0];
            }
        }
        res[nr] = NULL;
        t->nfc = find_typed(norm, "NFC") != NULL;
        if ((st = pk_tok_bpe_setup(t, json_array_size(merges), json_merge, &ms, res))) goto fail;
        pk_tok_bpe_set_ignore_merges(t, json_is_true(json_object_get(model, "ignore_merges")));
    } else if (find_typed(norm, "Prepend") || find_typed(pre, "Metaspace")) {
        t->kind = PK_TOK_SPM;
        t->add_space_prefix = true;
        /* SentencePiece BPE: a merged piece's score orders merges, so the
         * rank of the merge that makes a piece is its (negated) score */
        for (size_t k = json_array_size(merges); k-- > 0;) {
            const char *l, *r;
            size_t ll, rl;
            if ((st = json_merge(&ms, k, &l, &ll, &r, &rl))) goto fail;
            char buf[512];
            if (ll + rl > sizeof(buf)) continue;
            memcpy(buf, l, ll);
            memcpy(buf + ll, r, rl);
            int32_t id = pk_tok_find(t, buf, ll + rl);
            if (id >= 0) t->score[id] = -(float)k;
        }
    } else {
        st = pk_err(PK_ERR_UNSUPPORTED,
                    "%s: neither a ByteLevel pre-tokenizer nor a SentencePiece-style normalizer", path);
        goto fail;
    }
    /* BOS: Llama-style post-processors add it; Qwen2's does not */
    json_t *post = json_object_get(root, "post_processor");
    char *post_s = json_dumps(post, JSON_COMPACT);
    t->add_bos = t->bos >= 0 && post_s && strstr(post_s, t->text[t->bos]) != NULL;
    free(post_s);
    if ((st = pk_tok_finish(t))) goto fail;
    json_decref(root);
    *out = t;
    return PK_OK;
fail:
    pk_tok_free(t);
    json_decref(root);
    return st;
}
