/* convert_llama2c.c: llama2.c checkpoints (fp32, legacy 7-int header or
 * the version 1 "ak42" header) and tokenizer.bin vocabularies to GGUF.
 * llama2.c rotates adjacent pairs, as the GGUF llama architecture does, so
 * q and k are copied without permutation. Every size is checked against
 * the file before a byte is read. */
#include "gguf/gguf.h"

#include <string.h>

typedef struct l2c_cfg {
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
    bool shared;
    int version;
    size_t header;
} l2c_cfg;

/* ---- vocabulary ---- */

typedef struct l2c_vocab {
    char **text;     /* (n) GGUF piece text (spaces as U+2581) */
    size_t *len;
    float *score;
    int32_t *type;
    int n;
} l2c_vocab;

static void vocab_free(l2c_vocab *v) {
    if (v->text)
        for (int i = 0; i < v->n; i++) pk_free(v->text[i]);
    pk_free(v->text);
    pk_free(v->len);
    pk_free(v->score);
    pk_free(v->type);
}

static pk_status load_tokenizer_bin(const char *path, int n_vocab, l2c_vocab *v) {
    pk_map m;
    pk_status st = pk_map_open(path, false, &m);
    if (st) return st;
    memset(v, 0, sizeof(*v));
    v->n = n_vocab;
    v->text = pk_calloc((size_t)n_vocab, sizeof(char *));
    v->len = pk_calloc((size_t)n_vocab, sizeof(size_t));
    v->score = pk_calloc((size_t)n_vocab, sizeof(float));
    v->type = pk_calloc((size_t)n_vocab, sizeof(int32_t));
    if (!v->text || !v->len || !v->score || !v->type) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    size_t off = 4; /* max_token_length */
    if (m.size < 4) {
        st = pk_err(PK_ERR_FORMAT, "%s: %zu bytes is too short for a tokenizer.bin", path, m.size);
        goto done;
    }
    for (int i = 0; i < n_vocab; i++) {
        int32_t len;
        if (m.size - off < 8) {
            st = pk_err(PK_ERR_FORMAT, "%s: truncated at token %d of %d (offset %zu)", path, i, n_vocab, off);
            goto done;
        }
        memcpy(&v->score[i], m.data + off, 4);
        memcpy(&len, m.data + off + 4, 4);
        off += 8;
        if (len < 0 || (size_t)len > m.size - off) {
            st = pk_err(PK_ERR_FORMAT, "%s: token %d has length %d past the end (offset %zu of %zu)", path, i,
                        len, off, m.size);
            goto done;
        }
        const char *s = (const char *)m.data + off;
        off += (size_t)len;
        /* llama2.c writes BOS/EOS as "\n<s>\n" and "\n</s>\n" and spaces as ' ' */
        if (len >= 2 && s[0] == '\n' && s[len - 1] == '\n') {
            s++;
            len -= 2;
        }
        char *t = pk_malloc((size_t)len * 3 + 1);
        if (!t) {
            st = PK_ERR_NOMEM;
            goto done;
        }
        size_t o = 0;
        for (int k = 0; k < len; k++) {
            if (s[k] == ' ') {
                memcpy(t + o, "\xE2\x96\x81", 3);
                o += 3;
            } else {
                t[o++] = s[k];
            }
        }
        t[o] = 0;
        v->text[i] = t;
        v->len[i] = o;
        if (!strcmp(t, "<unk>")) v->type[i] = 2;
        else if (!strcmp(t, "<s>") || !strcmp(t, "</s>")) v->type[i] = 3;
        else if (o == 6 && !memcmp(t, "<0x", 3) && t[5] == '>') v->type[i] = 6;
        else v->type[i] = 1;
    }
done:
    pk_map_close(&m);
    return st;
}

/* ---- checkpoint ---- */

static pk_status read_header(const pk_map *m, const char *path, l2c_cfg *c) {
    int32_t h[9];
    if (m->size < 28) return pk_err(PK_ERR_FORMAT, "%s: %zu bytes is too short for a llama2.c checkpoint", path, m->size);
    memcpy(h, m->data, 28);
    uint32_t magic;
    memcpy(&magic, m->data, 4);
    memset(c, 0, sizeof(*c));
    if (magic == 0x616b3432) { /* "ak42" */
        if (m->size < 256) return pk_err(PK_ERR_FORMAT, "%s: truncated version header", path);
        memcpy(h, m->data + 4, 36);
        c->version = h[0];
        if (c->version != 1)
            return pk_err(PK_ERR_UNSUPPORTED, "%s: llama2.c checkpoint version %d (only fp32 versions 0 and 1)",
                          path, c->version);
        c->dim = h[1], c->hidden = h[2], c->n_layers = h[3], c->n_heads = h[4], c->n_kv_heads = h[5];
        c->vocab = h[6], c->seq_len = h[7];
        c->shared = m->data[4 + 4 + 28] != 0;
        c->header = 256;
    } else {
        c->dim = h[0], c->hidden = h[1], c->n_layers = h[2], c->n_heads = h[3], c->n_kv_heads = h[4];
        c->vocab = h[5], c->seq_len = h[6];
        c->shared = c->vocab > 0;
        if (c->vocab < 0) c->vocab = -c->vocab;
        c->header = 28;
    }
    if (c->dim <= 0 || c->hidden <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->vocab <= 0 || c->seq_len <= 0 || c->dim > 65536 || c->hidden > 262144 || c->n_layers > 1024 ||
        c->vocab > (1 << 22) || c->seq_len > (1 << 22) || c->dim % c->n_heads || c->n_heads % c->n_kv_heads)
        return pk_err(PK_ERR_FORMAT,
                      "%s: implausible header: dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %d, seq %d",
                      path, c->dim, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab, c->seq_len);
    return PK_OK;
}

typedef struct span {
    const float *p;
    uint64_t n;
} span;

pk_status pk_convert_llama2c(const char *in_path, const char *tok_path, const char *out_path) {
    pk_map m = { 0 };
    m.fd = -1;
    l2c_vocab voc = { 0 };
    pk_gguf_writer *w = NULL;
    l2c_cfg c;
    pk_quant_init();
    if (!tok_path)
        return pk_err(PK_ERR_INVALID, "convert-llama2c: a tokenizer.bin is needed for the vocabulary");
    pk_status st = pk_map_open(in_path, true, &m);
    if (st) return st;
    if ((st = read_header(&m, in_path, &c))) goto done;
    uint64_t d = (uint64_t)c.dim, hd = d / (uint64_t)c.n_heads, kvd = hd * (uint64_t)c.n_kv_heads;
    uint64_t L = (uint64_t)c.n_layers, hid = (uint64_t)c.hidden, V = (uint64_t)c.vocab;
    /* element counts of each section, in file order */
    uint64_t need = V * d + L * d * 2 + L * d * d * 2 + L * d * kvd * 2 + L * hid * d * 3 + d;
    if (c.version == 0) need += (uint64_t)c.seq_len * hd; /* freq_cis real + imag */
    if (!c.shared) need += V * d;
    uint64_t bytes = need * 4;
    if (bytes > m.size - c.header) {
        st = pk_err(PK_ERR_FORMAT, "%s: needs %llu bytes of weights after the header, has %zu", in_path,
                    (unsigned long long)bytes, m.size - c.header);
        goto done;
    }
    const float *f = (const float *)(m.data + c.header);
    span emb = { 0 }, att_norm, ffn_norm, out_norm, wq, wk, wv, wo, w1, w2, w3, wcls = { 0 };
#define TAKE(s, count) (s.p = f, s.n = (count), f += (count))
    if (c.version == 0) {
        TAKE(emb, V * d);
        TAKE(att_norm, L * d);
        TAKE(wq, L * d * d);
        TAKE(wk, L * kvd * d);
        TAKE(wv, L * kvd * d);
        TAKE(wo, L * d * d);
        TAKE(ffn_norm, L * d);
        TAKE(w1, L * hid * d);
        TAKE(w2, L * d * hid);
        TAKE(w3, L * hid * d);
        TAKE(out_norm, d);
        f += (uint64_t)c.seq_len * hd; /* precomputed rope tables: not needed */
    } else {
        TAKE(att_norm, L * d);
        TAKE(ffn_norm, L * d);
        TAKE(out_norm, d);
        TAKE(emb, V * d);
        TAKE(wq, L * d * d);
        TAKE(wk, L * kvd * d);
        TAKE(wv, L * kvd * d);
        TAKE(wo, L * d * d);
        TAKE(w1, L * hid * d);
        TAKE(w2, L * d * hid);
        TAKE(w3, L * hid * d);
    }
    if (!c.shared) TAKE(wcls, V * d);
#undef TAKE
    if ((st = load_tokenizer_bin(tok_path, c.vocab, &voc))) goto done;
    if ((st = pk_gguf_writer_new(0, &w))) goto done;
    int32_t *types = voc.type;
    if ((st = pk_gguf_set_str(w, "general.architecture", "llama")) ||
        (st = pk_gguf_set_str(w, "general.name", "llama2.c")) ||
        (st = pk_gguf_set_u32(w, "general.file_type", 0)) ||
        (st = pk_gguf_set_u32(w, "llama.context_length", (uint32_t)c.seq_len)) ||
        (st = pk_gguf_set_u32(w, "llama.embedding_length", (uint32_t)c.dim)) ||
        (st = pk_gguf_set_u32(w, "llama.block_count", (uint32_t)c.n_layers)) ||
        (st = pk_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)c.hidden)) ||
        (st = pk_gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)hd)) ||
        (st = pk_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)c.n_heads)) ||
        (st = pk_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c.n_kv_heads)) ||
        (st = pk_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f)) ||
        (st = pk_gguf_set_f32(w, "llama.rope.freq_base", 10000.0f)) ||
        (st = pk_gguf_set_str(w, "tokenizer.ggml.model", "llama")) ||
        (st = pk_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)voc.text, voc.len,
                                  (uint64_t)voc.n)) ||
        (st = pk_gguf_set_arr(w, "tokenizer.ggml.scores", PK_GGUF_FLOAT32, voc.score, (uint64_t)voc.n)) ||
        (st = pk_gguf_set_arr(w, "tokenizer.ggml.token_type", PK_GGUF_INT32, types, (uint64_t)voc.n)) ||
        (st = pk_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1)) ||
        (st = pk_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2)) ||
        (st = pk_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0)))
        goto done;
    char name[64];
#define ADD(nm, s, off, a, b)                                                                   \
    do {                                                                                       \
        uint64_t ne_[2] = { (a), (b) };                                                        \
        if ((st = pk_gguf_add_tensor(w, nm, PK_Q_F32, (b) == 1 ? 1 : 2, ne_, (s).p + (off), NULL, \
                                     NULL)))                                                   \
            goto done;                                                                         \
    } while (0)
    ADD("token_embd.weight", emb, 0, d, V);
    for (uint64_t l = 0; l < L; l++) {
        snprintf(name, sizeof(name), "blk.%llu.attn_norm.weight", (unsigned long long)l);
        ADD(name, att_norm, l * d, d, 1);
        snprintf(name, sizeof(name), "blk.%llu.attn_q.weight", (unsigned long long)l);
        ADD(name, wq, l * d * d, d, d);
        snprintf(name, sizeof(name), "blk.%llu.attn_k.weight", (unsigned long long)l);
        ADD(name, wk, l * kvd * d, d, kvd);
        snprintf(name, sizeof(name), "blk.%llu.attn_v.weight", (unsigned long long)l);
        ADD(name, wv, l * kvd * d, d, kvd);
        snprintf(name, sizeof(name), "blk.%llu.attn_output.weight", (unsigned long long)l);
        ADD(name, wo, l * d * d, d, d);
        snprintf(name, sizeof(name), "blk.%llu.ffn_norm.weight", (unsigned long long)l);
        ADD(name, ffn_norm, l * d, d, 1);
        snprintf(name, sizeof(name), "blk.%llu.ffn_gate.weight", (unsigned long long)l);
        ADD(name, w1, l * hid * d, d, hid);
        snprintf(name, sizeof(name), "blk.%llu.ffn_down.weight", (unsigned long long)l);
        ADD(name, w2, l * d * hid, hid, d);
        snprintf(name, sizeof(name), "blk.%llu.ffn_up.weight", (unsigned long long)l);
        ADD(name, w3, l * hid * d, d, hid);
    }
    ADD("output_norm.weight", out_norm, 0, d, 1);
    if (!c.shared) ADD("output.weight", wcls, 0, d, V);
#undef ADD
    st = pk_gguf_writer_finish(w, out_path);
done:
    pk_gguf_writer_free(w);
    vocab_free(&voc);
    pk_map_close(&m);
    return st;
}
