/* tok.c: the vocabulary (pieces, scores, types, special ids) built from
 * GGUF tokenizer.ggml.* metadata, a piece -> id hash, special-token
 * splitting, and the SentencePiece-style encoder (best-score bigram merges
 * over UTF-8 characters with byte fallback) and decoder. */
#include "tokenizer/tok_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- hash of pieces ---- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

int32_t pk_tok_find(const pk_tok *t, const char *s, size_t n) {
    uint64_t m = t->hcap - 1, h = hash_bytes(s, n) & m;
    for (;;) {
        int32_t id = t->hslots[h];
        if (id < 0) return -1;
        if (t->len[id] == n && memcmp(t->text[id], s, n) == 0) return id;
        h = (h + 1) & m;
    }
}

static pk_status build_hash(pk_tok *t) {
    uint64_t cap = 16;
    while (cap < (uint64_t)t->n_vocab * 2) cap *= 2;
    t->hslots = pk_malloc(sizeof(int32_t) * cap);
    if (!t->hslots) return PK_ERR_NOMEM;
    memset(t->hslots, 0xFF, sizeof(int32_t) * cap);
    t->hcap = cap;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint64_t h = hash_bytes(t->text[id], t->len[id]) & (cap - 1);
        bool dup = false;
        while (t->hslots[h] >= 0) {
            int32_t o = t->hslots[h];
            if (t->len[o] == t->len[id] && !memcmp(t->text[o], t->text[id], t->len[id])) {
                dup = true; /* keep the first id of a repeated piece */
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        if (!dup) t->hslots[h] = id;
    }
    return PK_OK;
}

/* ---- create/free ---- */

void pk_tok_free(pk_tok *t) {
    if (!t) return;
    pk_free(t->blob);
    pk_free(t->text);
    pk_free(t->len);
    pk_free(t->score);
    pk_free(t->type);
    if (t->piece) pk_free(t->piece_blob);
    pk_free(t->piece);
    pk_free(t->piece_len);
    pk_free(t->hslots);
    pk_free(t->special);
    pk_tok_bpe_free(t);
    pk_free(t);
}

int pk_tok_n_vocab(const pk_tok *t) { return t->n_vocab; }
int pk_tok_bos(const pk_tok *t) { return t->bos; }
int pk_tok_eos(const pk_tok *t) { return t->eos; }

bool pk_tok_is_eog(const pk_tok *t, int32_t id) {
    if (id < 0 || id >= t->n_vocab) return false;
    if (id == t->eos || id == t->eot) return true;
    return (t->type[id] == PK_TOKTYPE_CONTROL) && t->eog_extra && t->eog_extra == id;
}

/* Copy the token strings of the GGUF into one blob. */
static pk_status load_tokens(pk_tok *t, const pk_gguf *g) {
    const pk_gguf_value *toks;
    pk_status st = pk_gguf_get_arr(g, "tokenizer.ggml.tokens", PK_GGUF_STRING, &toks);
    if (st) return st;
    if (toks->v.arr.n == 0 || toks->v.arr.n > (1u << 24))
        return pk_err(PK_ERR_FORMAT, "tokenizer.ggml.tokens: %llu tokens (1 to 16M allowed)",
                      (unsigned long long)toks->v.arr.n);
    t->n_vocab = (int32_t)toks->v.arr.n;
    size_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) total += (size_t)pk_gguf_arr_str(toks, (uint64_t)i).len + 1;
    t->blob = pk_malloc(total);
    t->text = pk_calloc((size_t)t->n_vocab, sizeof(char *));
    t->len = pk_calloc((size_t)t->n_vocab, sizeof(uint32_t));
    t->score = pk_calloc((size_t)t->n_vocab, sizeof(float));
    t->type = pk_calloc((size_t)t->n_vocab, sizeof(uint8_t));
    t->piece = pk_calloc((size_t)t->n_vocab, sizeof(char *));
    t->piece_len = pk_calloc((size_t)t->n_vocab, sizeof(uint32_t));
    if (!t->blob || !t->text || !t->len || !t->score || !t->type || !t->piece || !t->piece_len)
        return PK_ERR_NOMEM;
    char *p = t->blob;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        pk_gguf_str s = pk_gguf_arr_str(toks, (uint64_t)i);
        memcpy(p, s.ptr, (size_t)s.len);
        p[s.len] = 0;
        t->text[i] = p;
        t->len[i] = (uint32_t)s.len;
        t->type[i] = PK_TOKTYPE_NORMAL;
        p += s.len + 1;
    }
    const pk_gguf_value *arr;
    if (pk_gguf_get_arr(g, "tokenizer.ggml.scores", PK_GGUF_FLOAT32, &arr) == PK_OK) {
        if (arr->v.arr.n != (uint64_t)t->n_vocab)
            return pk_err(PK_ERR_FORMAT, "tokenizer.ggml.scores has %llu entries for %d tokens",
                          (unsigned long long)arr->v.arr.n, t->n_vocab);
        for (int32_t i = 0; i < t->n_vocab; i++) t->score[i] = (float)pk_gguf_arr_f64(arr, (uint64_t)i);
    }
    if (pk_gguf_get_arr(g, "tokenizer.ggml.token_type", PK_GGUF_INT32, &arr) == PK_OK) {
        if (arr->v.arr.n != (uint64_t)t->n_vocab)
            return pk_err(PK_ERR_FORMAT, "tokenizer.ggml.token_type has %llu entries for %d tokens",
                          (unsigned long long)arr->v.arr.n, t->n_vocab);
        for (int32_t i = 0; i < t->n_vocab; i++) {
            int64_t ty = pk_gguf_arr_i64(arr, (uint64_t)i);
            t->type[i] = (uint8_t)(ty >= 1 && ty <= 6 ? ty : PK_TOKTYPE_NORMAL);
        }
    }
    pk_err_clear();
    return PK_OK;
}

static int32_t get_id(const pk_gguf *g, const char *key, int32_t n_vocab, int32_t dflt) {
    uint32_t v;
    if (pk_gguf_get_u32(g, key, &v) != PK_OK) return dflt;
    return v < (uint32_t)n_vocab ? (int32_t)v : -1;
}

static bool get_flag(const pk_gguf *g, const char *key, bool dflt) {
    bool b;
    return pk_gguf_get_bool(g, key, &b) == PK_OK ? b : dflt;
}

/* Decoded bytes of every token: SPM turns U+2581 into a space and <0xXX>
 * into the byte; BPE maps its byte-level alphabet back (tok_bpe.c). */
static pk_status make_pieces(pk_tok *t) {
    size_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) total += t->len[i] + 1;
    char *buf = pk_malloc(total);
    if (!buf) return PK_ERR_NOMEM;
    t->piece_blob = buf;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const char *s = t->text[i];
        size_t n = t->len[i], o = 0;
        t->piece[i] = buf;
        if (t->type[i] == PK_TOKTYPE_BYTE && n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x') {
            buf[o++] = (char)strtol(s + 3, NULL, 16);
        } else if (t->kind == PK_TOK_BPE) {
            o = pk_tok_bpe_unmap(s, n, buf);
        } else {
            for (size_t j = 0; j < n;) {
                if (j + 2 < n + 0 && (uint8_t)s[j] == 0xE2 && (uint8_t)s[j + 1] == 0x96 &&
                    (uint8_t)s[j + 2] == 0x81) {
                    buf[o++] = ' ';
                    j += 3;
                } else {
                    buf[o++] = s[j++];
                }
            }
        }
        buf[o] = 0;
        t->piece_len[i] = (uint32_t)o;
        buf += o + 1;
    }
    return PK_OK;
}

/* Tokens matched in text before the model's own splitting: control tokens
 * (only with parse_special) and user-defined ones (always), longest first. */
static _Thread_local const pk_tok *sort_tok; /* qsort has no context argument in C11 */
static int cmp_special(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (sort_tok->len[x] != sort_tok->len[y]) return sort_tok->len[x] > sort_tok->len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static pk_status collect_special(pk_tok *t) {
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if ((t->type[i] == PK_TOKTYPE_CONTROL || t->type[i] == PK_TOKTYPE_USER) && t->len[i]) n++;
    t->special = pk_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!t->special) return PK_ERR_NOMEM;
    t->n_special = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if ((t->type[i] == PK_TOKTYPE_CONTROL || t->type[i] == PK_TOKTYPE_USER) && t->len[i])
            t->special[t->n_special++] = i;
    sort_tok = t;
    qsort(t->special, (size_t)t->n_special, sizeof(int32_t), cmp_special);
    /* words can be merged separately unless a token has U+2581 after
     * another character (then a merge could cross a word start) */
    t->spm_word_split = t->kind == PK_TOK_SPM;
    for (int32_t i = 0; i < t->n_vocab && t->spm_word_split; i++) {
        const char *x = t->text[i];
        for (uint32_t k = 3; k + 3 <= t->len[i]; k++)
            if (!memcmp(x + k, "\xE2\x96\x81", 3) && memcmp(x + k - 3, "\xE2\x96\x81", 3)) {
                t->spm_word_split = false;
                break;
            }
    }
    memset(t->special_first, 0, sizeof(t->special_first));
    for (int32_t k = 0; k < t->n_special; k++) {
        uint8_t c = (uint8_t)t->text[t->special[k]][0];
        t->special_first[c >> 3] |= (uint8_t)(1u << (c & 7));
    }
    return PK_OK;
}

pk_status pk_tok_finish(pk_tok *t) {
    pk_status st;
    if (!t->hslots && (st = build_hash(t))) return st;
    if ((st = make_pieces(t)) || (st = collect_special(t))) return st;
    return PK_OK;
}

pk_status pk_tok_build_hash(pk_tok *t) { return build_hash(t); }

pk_status pk_tok_from_gguf(const pk_gguf *g, pk_tok **out) {
    *out = NULL;
    pk_gguf_str model;
    pk_status st = pk_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (st) return st;
    pk_tok *t = pk_calloc(1, sizeof(*t));
    if (!t) return PK_ERR_NOMEM;
    if (pk_gguf_str_eq(model, "llama")) t->kind = PK_TOK_SPM;
    else if (pk_gguf_str_eq(model, "gpt2")) t->kind = PK_TOK_BPE;
    else {
        st = pk_err(PK_ERR_UNSUPPORTED, "tokenizer.ggml.model '%.*s' is not supported (llama, gpt2 are)",
                    (int)PK_MIN(model.len, 40), model.ptr);
        goto fail;
    }
    if ((st = load_tokens(t, g))) goto fail;
    bool spm = t->kind == PK_TOK_SPM;
    t->bos = get_id(g, "tokenizer.ggml.bos_token_id", t->n_vocab, spm ? 1 : -1);
    t->eos = get_id(g, "tokenizer.ggml.eos_token_id", t->n_vocab, spm ? 2 : -1);
    t->unk = get_id(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, spm ? 0 : -1);
    t->eot = get_id(g, "tokenizer.ggml.eot_token_id", t->n_vocab, -1);
    t->add_bos = get_flag(g, "tokenizer.ggml.add_bos_token", spm);
    t->add_eos = get_flag(g, "tokenizer.ggml.add_eos_token", false);
    t->add_space_prefix = get_flag(g, "tokenizer.ggml.add_space_prefix", spm);
    /* chat models end turns with a control token other than EOS */
    static const char *eog_names[] = { "<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>",
                                       "<|endoftext|>" };
    for (size_t i = 0; i < PK_ARRAY_LEN(eog_names) && !t->eog_extra; i++) {
        int32_t id = -1;
        for (int32_t k = 0; k < t->n_vocab && id < 0; k++)
            if (t->len[k] == strlen(eog_names[i]) && !memcmp(t->text[k], eog_names[i], t->len[k])) id = k;
        if (id >= 0 && id != t->eos) t->eog_extra = id;
    }
    if ((st = build_hash(t))) goto fail;
    if (t->kind == PK_TOK_BPE && (st = pk_tok_bpe_init(t, g))) goto fail;
    if ((st = make_pieces(t)) || (st = collect_special(t))) goto fail;
    *out = t;
    return PK_OK;
fail:
    pk_tok_free(t);
    return st;
}

/* ---- SentencePiece-style encoding ---- */

typedef struct sym {
    int prev, next;     /* linked list over the text's characters */
    uint32_t off, n;    /* bytes of the text this symbol covers */
} sym;

typedef struct bigram {
    float score;
    int left, right;
    uint32_t size;      /* bytes; a stale entry no longer matches */
} bigram;

typedef struct heap {
    bigram *v;
    size_t n, cap;
} heap;

/* max-heap on score; ties go to the leftmost pair */
static bool bg_less(const bigram *a, const bigram *b) {
    return a->score < b->score || (a->score == b->score && a->left > b->left);
}

static bool heap_push(heap *h, bigram b) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bigram *nv = pk_realloc(h->v, cap * sizeof(*nv));
        if (!nv) return false;
        h->v = nv;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->v[i] = b;
    while (i && bg_less(&h->v[(i - 1) / 2], &h->v[i])) {
        bigram tmp = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
    return true;
}

static bigram heap_pop(heap *h) {
    bigram top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && bg_less(&h->v[m], &h->v[l])) m = l;
        if (r < h->n && bg_less(&h->v[m], &h->v[r])) m = r;
        if (m == i) break;
        bigram tmp = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = tmp;
        i = m;
    }
    return top;
}

static bool try_pair(const pk_tok *t, const char *text, sym *s, heap *h, int l, int r) {
    if (l < 0 || r < 0) return true;
    int32_t id = pk_tok_find(t, text + s[l].off, s[l].n + s[r].n);
    if (id < 0) return true;
    bigram b = { t->score[id], l, r, s[l].n + s[r].n };
    return heap_push(h, b);
}

/* Append an id to a growing output array. */
pk_status pk_tok_out_push(pk_tok_out *o, int32_t id) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        int32_t *nv = pk_realloc(o->ids, cap * sizeof(int32_t));
        if (!nv) return PK_ERR_NOMEM;
        o->ids = nv;
        o->cap = cap;
    }
    o->ids[o->n++] = id;
    return PK_OK;
}

static pk_status byte_fallback(const pk_tok *t, const char *p, size_t n, pk_tok_out *o) {
    for (size_t i = 0; i < n; i++) {
        char name[8];
        snprintf(name, sizeof(name), "<0x%02X>", (uint8_t)p[i]);
        int32_t id = pk_tok_find(t, name, 6);
        pk_status st = pk_tok_out_push(o, id >= 0 ? id : (t->unk >= 0 ? t->unk : 0));
        if (st) return st;
    }
    return PK_OK;
}

/* BPE-style merging of the characters of text[w0, w1): best-score pair
 * first (leftmost on ties), then byte fallback for pieces not in the vocab.
 * s and h are scratch reused across words. */
static pk_status spm_merge(const pk_tok *t, const char *text, size_t w0, size_t w1, sym *s, heap *hp,
                           pk_tok_out *o) {
    hp->n = 0;
    pk_status st = PK_OK;
    int ns = 0;
    for (size_t off = w0; off < w1;) {
        int len = pk_utf8_len((uint8_t)text[off]);
        if (len == 0 || off + (size_t)len > w1) len = 1;
        s[ns] = (sym){ ns - 1, ns + 1, (uint32_t)off, (uint32_t)len };
        off += (size_t)len;
        ns++;
    }
    s[ns - 1].next = -1;
    for (int i = 1; i < ns; i++)
        if (!try_pair(t, text, s, hp, i - 1, i)) return PK_ERR_NOMEM;
    while (hp->n) {
        bigram b = heap_pop(hp);
        sym *l = &s[b.left], *r = &s[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s[r->next].prev = b.left;
        if (!try_pair(t, text, s, hp, l->prev, b.left) || !try_pair(t, text, s, hp, b.left, l->next))
            return PK_ERR_NOMEM;
    }
    for (int i = 0; i >= 0 && !st; i = s[i].next) {
        int32_t id = pk_tok_find(t, text + s[i].off, s[i].n);
        st = id >= 0 ? pk_tok_out_push(o, id) : byte_fallback(t, text + s[i].off, s[i].n, o);
    }
    return st;
}

/* Encode one run of plain text (no special tokens inside). */
static pk_status spm_encode(const pk_tok *t, const char *raw, size_t rn, bool first, pk_tok_out *o) {
    /* escape: optional leading space, spaces -> U+2581 (3 bytes) */
    bool prefix = t->add_space_prefix && first;
    size_t cap = (rn + 1) * 3;
    char *text = pk_malloc(cap);
    sym *s = NULL;
    heap h = { 0 };
    pk_status st = PK_OK;
    if (!text) return PK_ERR_NOMEM;
    size_t n = 0;
    if (prefix) {
        memcpy(text, "\xE2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < rn; i++) {
        if (raw[i] == ' ') {
            memcpy(text + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            text[n++] = raw[i];
        }
    }
    if (!n) goto done;
    s = pk_malloc(sizeof(sym) * n);
    if (!s) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    /* When no token has U+2581 after another character (checked at load),
     * no merge can cross the start of a word, so each word is merged on its
     * own: the same result with a small heap per word. */
    for (size_t w0 = 0; w0 < n && !st;) {
        size_t w1 = n;
        if (t->spm_word_split)
            for (size_t k = w0 + 3; k + 3 <= n; k++)
                if (!memcmp(text + k, "\xE2\x96\x81", 3) && memcmp(text + k - 3, "\xE2\x96\x81", 3)) {
                    w1 = k;
                    break;
                }
        st = spm_merge(t, text, w0, w1, s, &h, o);
        w0 = w1;
    }
done:
    pk_free(text);
    pk_free(s);
    pk_free(h.v);
    return st;
}

/* ---- encode: special tokens, then the model's encoder per run ---- */

static pk_status encode_run(const pk_tok *t, const char *p, size_t n, bool first, pk_tok_out *o) {
    if (!n) return PK_OK; /* text between two special tokens may be empty */
    return t->kind == PK_TOK_SPM ? spm_encode(t, p, n, first, o) : pk_tok_bpe_encode(t, p, n, o);
}

pk_status pk_tok_encode(const pk_tok *t, const char *text, size_t len, bool add_special,
                        bool parse_special, int32_t **ids, size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    pk_tok_out o = { 0 };
    pk_status st = PK_OK;
    utf8proc_uint8_t *nfc = NULL;
    if (t->nfc && len) { /* invalid UTF-8 cannot be normalized: used as it is */
        utf8proc_ssize_t nl = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &nfc,
                                           UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (nl >= 0) {
            text = (const char *)nfc;
            len = (size_t)nl;
        } else {
            nfc = NULL;
        }
    }
    if (add_special && t->add_bos && t->bos >= 0 && (st = pk_tok_out_push(&o, t->bos))) goto fail;
    size_t start = 0;
    bool first = true;
    for (size_t i = 0; i < len;) {
        int32_t hit = -1;
        uint8_t c0 = (uint8_t)text[i];
        if (!(t->special_first[c0 >> 3] & (1u << (c0 & 7)))) {
            i++;
            continue;
        }
        for (int32_t k = 0; k < t->n_special; k++) {
            int32_t id = t->special[k];
            if (t->type[id] == PK_TOKTYPE_CONTROL && !parse_special) continue;
            if (t->len[id] <= len - i && !memcmp(text + i, t->text[id], t->len[id])) {
                hit = id;
                break;
            }
        }
        if (hit < 0) {
            i++;
            continue;
        }
        if ((st = encode_run(t, text + start, i - start, first, &o))) goto fail;
        if ((st = pk_tok_out_push(&o, hit))) goto fail;
        first = true; /* SentencePiece prefixes a space after a special token too */
        i += t->len[hit];
        start = i;
    }
    if ((st = encode_run(t, text + start, len - start, first, &o))) goto fail;
    if (add_special && t->add_eos && t->eos >= 0 && (st = pk_tok_out_push(&o, t->eos))) goto fail;
    if (!o.ids && !(o.ids = pk_malloc(sizeof(int32_t)))) {
        st = PK_ERR_NOMEM;
        goto fail;
    }
    free(nfc);
    *ids = o.ids;
    *n_ids = o.n;
    return PK_OK;
fail:
    free(nfc);
    pk_free(o.ids);
    return st;
}

/* ---- decode ---- */

const char *pk_tok_piece(const pk_tok *t, int32_t id, bool render_special, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return "";
    }
    uint8_t ty = t->type[id];
    if ((ty == PK_TOKTYPE_CONTROL || ty == PK_TOKTYPE_UNKNOWN || ty == PK_TOKTYPE_UNUSED) &&
        !render_special) {
        if (len) *len = 0;
        return "";
    }
    if (ty == PK_TOKTYPE_CONTROL || ty == PK_TOKTYPE_USER) {
        if (len) *len = t->len[id];
        return t->text[id];
    }
    if (len) *len = t->piece_len[id];
    return t->piece[id];
}

pk_status pk_tok_decode(const pk_tok *t, const int32_t *ids, size_t n, bool render_special,
                        char **text, size_t *len) {
    *text = NULL;
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        pk_tok_piece(t, ids[i], render_special, &l);
        total += l;
    }
    char *buf = pk_malloc(total);
    if (!buf) return PK_ERR_NOMEM;
    size_t o = 0;
    bool at_start = true;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const char *p = pk_tok_piece(t, ids[i], render_special, &l);
        if (ids[i] == t->bos) {
            at_start = true;
            if (!render_special) continue;
        }
        /* SentencePiece adds a space before the text; drop it again */
        if (at_start && t->kind == PK_TOK_SPM && t->add_space_prefix && l && p[0] == ' ') {
            p++;
            l--;
            at_start = false;
        }
        if (l) at_start = false;
        memcpy(buf + o, p, l);
        o += l;
    }
    buf[o] = 0;
    *text = buf;
    if (len) *len = o;
    return PK_OK;
}
