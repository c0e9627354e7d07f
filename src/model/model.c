/* model.c: loading a Llama-family model from GGUF: architecture and
 * hyperparameters from metadata, every weight checked for presence, type and
 * shape (errors name the tensor and both shapes), the tokenizer; and the
 * public model, tokenizer and context calls of pocket.h. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- metadata ---- */

static pk_status hp_u32(const pk_gguf *g, const char *arch, const char *key, int *out,
                        bool required, int dflt) {
    char k[128];
    snprintf(k, sizeof(k), "%s.%s", arch, key);
    uint32_t v;
    pk_status st = pk_gguf_get_u32(g, k, &v);
    if (st == PK_ERR_NOT_FOUND && !required) {
        *out = dflt;
        pk_err_clear();
        return PK_OK;
    }
    if (st) return st;
    if (v == 0 || v > (1u << 24)) return pk_err(PK_ERR_FORMAT, "%s = %u is out of range", k, v);
    *out = (int)v;
    return PK_OK;
}

static float hp_f32(const pk_gguf *g, const char *arch, const char *key, float dflt) {
    char k[128];
    snprintf(k, sizeof(k), "%s.%s", arch, key);
    float v;
    if (pk_gguf_get_f32(g, k, &v) == PK_OK) return v;
    pk_err_clear();
    return dflt;
}

/* ---- tensors ---- */

static pk_status get_tensor(const pk_model *m, const char *name, int64_t ne0, int64_t ne1,
                            bool optional, pk_tensor *out) {
    memset(out, 0, sizeof(*out));
    const pk_gguf_tensor *t = pk_gguf_tensor_find(m->gguf, name);
    if (!t) {
        if (optional) return PK_OK;
        return pk_err(PK_ERR_NOT_FOUND, "%s model: tensor %s is missing", m->arch_name, name);
    }
    int64_t t1 = t->n_dims >= 2 ? (int64_t)t->ne[1] : 1;
    if ((int64_t)t->ne[0] != ne0 || t1 != ne1 || t->n_dims > 2)
        return pk_err(PK_ERR_FORMAT, "%s model: tensor %s has shape (%llu, %llu), expected (%lld, %lld)",
                      m->arch_name, name, (unsigned long long)t->ne[0], (unsigned long long)t1,
                      (long long)ne0, (long long)ne1);
    const pk_qtraits *q = pk_qtraits_of(t->type);
    if (!q || !q->to_float || (ne1 > 1 && !q->vec_dot))
        return pk_err(PK_ERR_UNSUPPORTED, "tensor %s: type %s cannot be computed with", name,
                      pk_qtype_name(t->type));
    if (ne1 == 1 && t->type != PK_Q_F32)
        return pk_err(PK_ERR_UNSUPPORTED, "tensor %s: vectors must be F32, not %s", name,
                      pk_qtype_name(t->type));
    out->data = t->data;
    out->type = t->type;
    out->ne0 = ne0;
    out->ne1 = ne1;
    out->row_bytes = pk_row_size(t->type, ne0);
    return PK_OK;
}

static pk_status load_weights(pk_model *m) {
    const pk_hparams *h = &m->hp;
    int64_t d = h->n_embd, qd = (int64_t)h->n_head * h->head_dim, kvd = (int64_t)h->n_kv_head * h->head_dim;
    pk_status st;
    if ((st = get_tensor(m, "token_embd.weight", d, h->n_vocab, false, &m->tok_embd)) ||
        (st = get_tensor(m, "output_norm.weight", d, 1, false, &m->output_norm)) ||
        (st = get_tensor(m, "output.weight", d, h->n_vocab, true, &m->output)))
        return st;
    if (!m->output.data) m->output = m->tok_embd; /* tied */
    m->layers = pk_calloc((size_t)h->n_layer, sizeof(pk_layer));
    if (!m->layers) return PK_ERR_NOMEM;
    char n[96];
#define T(field, suffix, a, b, opt)                                                \
    do {                                                                           \
        snprintf(n, sizeof(n), "blk.%d.%s", il, suffix);                           \
        if ((st = get_tensor(m, n, a, b, opt, &L->field))) return st;              \
    } while (0)
    for (int il = 0; il < h->n_layer; il++) {
        pk_layer *L = &m->layers[il];
        T(attn_norm, "attn_norm.weight", d, 1, false);
        T(ffn_norm, "ffn_norm.weight", d, 1, false);
        T(wo, "attn_output.weight", qd, d, false);
        T(w_down, "ffn_down.weight", h->n_ff, d, false);
        if (m->arch == PK_ARCH_PHI3) {
            T(wqkv, "attn_qkv.weight", d, qd + 2 * kvd, true);
            if (!L->wqkv.data) {
                T(wq, "attn_q.weight", d, qd, false);
                T(wk, "attn_k.weight", d, kvd, false);
                T(wv, "attn_v.weight", d, kvd, false);
            }
            T(w_up, "ffn_up.weight", d, 2 * (int64_t)h->n_ff, false);
        } else {
            T(wq, "attn_q.weight", d, qd, false);
            T(wk, "attn_k.weight", d, kvd, false);
            T(wv, "attn_v.weight", d, kvd, false);
            T(w_gate, "ffn_gate.weight", d, h->n_ff, false);
            T(w_up, "ffn_up.weight", d, h->n_ff, false);
            bool qwen = m->arch == PK_ARCH_QWEN2;
            T(bq, "attn_q.bias", qd, 1, !qwen);
            T(bk, "attn_k.bias", kvd, 1, !qwen);
            T(bv, "attn_v.bias", kvd, 1, !qwen);
        }
    }
#undef T
    const pk_gguf_tensor *rf = pk_gguf_tensor_find(m->gguf, "rope_freqs.weight");
    if (rf) {
        if (rf->type != PK_Q_F32 || (int64_t)rf->ne[0] != h->n_rot / 2)
            return pk_err(PK_ERR_FORMAT, "rope_freqs.weight: expected F32 (%d), got %s (%llu)",
                          h->n_rot / 2, pk_qtype_name(rf->type), (unsigned long long)rf->ne[0]);
        m->rope_freqs = pk_malloc(sizeof(float) * (size_t)(h->n_rot / 2));
        if (!m->rope_freqs) return PK_ERR_NOMEM;
        memcpy(m->rope_freqs, rf->data, sizeof(float) * (size_t)(h->n_rot / 2));
    }
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const pk_gguf_tensor *t = &m->gguf->tensors[i];
        uint64_t ne = 1;
        for (int k = 0; k < t->n_dims; k++) ne *= t->ne[k];
        m->n_params += ne;
        m->n_bytes += t->n_bytes;
    }
    return PK_OK;
}

static pk_status load_hparams(pk_model *m) {
    const pk_gguf *g = m->gguf;
    const char *a = m->arch_name;
    pk_hparams *h = &m->hp;
    pk_status st;
    if ((st = hp_u32(g, a, "embedding_length", &h->n_embd, true, 0)) ||
        (st = hp_u32(g, a, "block_count", &h->n_layer, true, 0)) ||
        (st = hp_u32(g, a, "feed_forward_length", &h->n_ff, true, 0)) ||
        (st = hp_u32(g, a, "attention.head_count", &h->n_head, true, 0)) ||
        (st = hp_u32(g, a, "attention.head_count_kv", &h->n_kv_head, false, h->n_head)) ||
        (st = hp_u32(g, a, "context_length", &h->n_ctx_train, false, 2048)))
        return st;
    if (h->n_embd % h->n_head)
        return pk_err(PK_ERR_FORMAT, "%s.embedding_length %d is not a multiple of head_count %d", a,
                      h->n_embd, h->n_head);
    if (h->n_head % h->n_kv_head)
        return pk_err(PK_ERR_FORMAT, "%s.attention.head_count %d is not a multiple of head_count_kv %d",
                      a, h->n_head, h->n_kv_head);
    h->head_dim = h->n_embd / h->n_head;
    if ((st = hp_u32(g, a, "attention.key_length", &h->head_dim, false, h->head_dim))) return st;
    if ((st = hp_u32(g, a, "rope.dimension_count", &h->n_rot, false, h->head_dim))) return st;
    if (h->n_rot > h->head_dim || h->n_rot % 2)
        return pk_err(PK_ERR_FORMAT, "%s.rope.dimension_count %d does not fit head size %d", a, h->n_rot,
                      h->head_dim);
    h->rms_eps = hp_f32(g, a, "attention.layer_norm_rms_epsilon", 1e-5f);
    h->rope_base = hp_f32(g, a, "rope.freq_base", 10000.0f);
    h->rope_scale = 1.0f;
    char k[128];
    snprintf(k, sizeof(k), "%s.rope.scaling.type", a);
    pk_gguf_str stype;
    if (pk_gguf_get_str(g, k, &stype) == PK_OK && pk_gguf_str_eq(stype, "linear"))
        h->rope_scale = hp_f32(g, a, "rope.scaling.factor", 1.0f);
    else if (pk_gguf_get_str(g, k, &stype) == PK_OK && !pk_gguf_str_eq(stype, "none"))
        return pk_err(PK_ERR_UNSUPPORTED, "%s: rope scaling '%.*s' is not supported", k,
                      (int)PK_MIN(stype.len, 32), stype.ptr);
    pk_err_clear();
    if (h->rope_scale <= 0) h->rope_scale = 1.0f;
    h->rope_neox = m->arch != PK_ARCH_LLAMA;
    h->n_vocab = pk_tok_n_vocab(m->tok);
    return PK_OK;
}

/* ---- public: model ---- */

pk_model_params pk_model_default_params(void) { return (pk_model_params){ 0, 1 }; }

void pk_model_free(pk_model *m) {
    if (!m) return;
    pk_tok_free(m->tok);
    pk_free(m->layers);
    pk_free(m->rope_freqs);
    pk_free(m->name);
    pk_gguf_close(m->gguf);
    pk_free(m);
}

pk_status pk_model_load(const char *path, const pk_model_params *params, pk_model **out) {
    *out = NULL;
    pk_model_params p = params ? *params : pk_model_default_params();
    pk_quant_init();
    pk_model *m = pk_calloc(1, sizeof(*m));
    if (!m) return PK_ERR_NOMEM;
    pk_status st = pk_gguf_open(path, p.use_mmap != 0, &m->gguf);
    if (st) { /* the reader's message names the file already */
        pk_model_free(m);
        return st;
    }
    pk_gguf_str arch;
    if ((st = pk_gguf_get_str(m->gguf, "general.architecture", &arch))) goto fail;
    snprintf(m->arch_name, sizeof(m->arch_name), "%.*s", (int)PK_MIN(arch.len, 31), arch.ptr);
    if (!strcmp(m->arch_name, "llama")) m->arch = PK_ARCH_LLAMA;
    else if (!strcmp(m->arch_name, "qwen2")) m->arch = PK_ARCH_QWEN2;
    else if (!strcmp(m->arch_name, "phi3")) m->arch = PK_ARCH_PHI3;
    else {
        st = pk_err(PK_ERR_UNSUPPORTED, "architecture '%s' is not supported (llama, qwen2, phi3 are)",
                    m->arch_name);
        goto fail;
    }
    if ((st = pk_tok_from_gguf(m->gguf, &m->tok))) goto fail;
    if ((st = load_hparams(m)) || (st = load_weights(m))) goto fail;
    if (pk_gguf_get_strdup(m->gguf, "general.name", &m->name) != PK_OK) {
        pk_err_clear();
        if (!(m->name = pk_strdup(""))) {
            st = PK_ERR_NOMEM;
            goto fail;
        }
    }
    m->n_threads = p.n_threads > 0 ? p.n_threads : pk_n_cpus();
    *out = m;
    return PK_OK;
fail:
    pk_err_prefix("%s", path);
    pk_model_free(m);
    return st;
}

void pk_model_get_info(const pk_model *m, pk_model_info *info) {
    const pk_hparams *h = &m->hp;
    *info = (pk_model_info){
        .arch = m->arch_name, .name = m->name, .n_vocab = h->n_vocab, .n_ctx_train = h->n_ctx_train,
        .n_embd = h->n_embd, .n_layer = h->n_layer, .n_head = h->n_head, .n_kv_head = h->n_kv_head,
        .n_ff = h->n_ff, .n_params = m->n_params, .n_bytes = m->n_bytes,
        .bos = pk_tok_bos(m->tok), .eos = pk_tok_eos(m->tok),
    };
}

/* ---- public: tokenizer of a model ---- */

pk_status pk_tokenize(const pk_model *m, const char *text, size_t len, int add_special,
                      int parse_special, int32_t **ids, size_t *n_ids) {
    return pk_tok_encode(m->tok, text, len, add_special != 0, parse_special != 0, ids, n_ids);
}

const char *pk_token_piece(const pk_model *m, int32_t id, int render_special, size_t *len) {
    return pk_tok_piece(m->tok, id, render_special != 0, len);
}

pk_status pk_detokenize(const pk_model *m, const int32_t *ids, size_t n, int render_special,
                        char **text, size_t *len) {
    return pk_tok_decode(m->tok, ids, n, render_special != 0, text, len);
}

/* ---- public: context ---- */

pk_ctx_params pk_ctx_default_params(void) { return (pk_ctx_params){ 0, 0, 0, NULL }; }

void pk_ctx_free(pk_ctx *c) {
    if (!c) return;
    pk_pool_free(c->pool);
    pk_free_aligned(c->kv_k);
    pk_free_aligned(c->kv_v);
    pk_free_aligned(c->x);
    pk_free_aligned(c->xn);
    pk_free_aligned(c->q);
    pk_free_aligned(c->k);
    pk_free_aligned(c->v);
    pk_free_aligned(c->att_out);
    pk_free_aligned(c->hb);
    pk_free_aligned(c->hb2);
    pk_free_aligned(c->att);
    pk_free_aligned(c->att_tmp);
    pk_free_aligned(c->att_kv);
    pk_free_aligned(c->rope_cs);
    pk_free_aligned(c->qbuf);
    pk_free_aligned(c->logits);
    pk_free(c);
}

static void *abuf(size_t n, size_t elem, bool *ok) {
    size_t bytes;
    if (!pk_size_mul(n ? n : 1, elem, &bytes)) {
        *ok = false;
        return NULL;
    }
    void *p = pk_malloc_aligned(bytes, 64);
    if (!p) *ok = false;
    else memset(p, 0, bytes);
    return p;
}

pk_status pk_ctx_new(pk_model *m, const pk_ctx_params *params, pk_ctx **out) {
    *out = NULL;
    pk_ctx_params p = params ? *params : pk_ctx_default_params();
    const pk_hparams *h = &m->hp;
    if (p.n_ctx < 0 || p.n_batch < 0)
        return pk_err(PK_ERR_INVALID, "context: negative n_ctx %d or n_batch %d", p.n_ctx, p.n_batch);
    int kv_type = PK_Q_F16;
    if (p.kv_type && strcmp(p.kv_type, "f16") != 0) {
        if (strcmp(p.kv_type, "q8_0") != 0)
            return pk_err(PK_ERR_INVALID, "context: KV cache type '%s' is not one of f16, q8_0", p.kv_type);
        if (h->head_dim % PK_QK != 0)
            return pk_err(PK_ERR_UNSUPPORTED,
                          "context: a q8_0 KV cache needs a head dimension that is a multiple of %d; "
                          "this model's is %d (use f16)",
                          PK_QK, h->head_dim);
        kv_type = PK_Q_Q8_0;
    }
    pk_ctx *c = pk_calloc(1, sizeof(*c));
    if (!c) return PK_ERR_NOMEM;
    c->model = m;
    c->kv_type = kv_type;
    c->n_ctx = p.n_ctx ? p.n_ctx : PK_MIN(h->n_ctx_train, 4096);
    c->n_batch = PK_MIN(p.n_batch ? p.n_batch : 512, c->n_ctx);
    pk_status st = pk_pool_new(p.n_threads > 0 ? p.n_threads : m->n_threads, &c->pool);
    if (st) goto fail;
    size_t kvd = (size_t)h->n_kv_head * (size_t)h->head_dim, qd = (size_t)h->n_head * (size_t)h->head_dim;
    size_t nb = (size_t)c->n_batch, kv_bytes;
    c->kv_row = pk_row_size(kv_type, (int64_t)kvd);
    if (!pk_size_mul((size_t)h->n_layer * (size_t)c->n_ctx, c->kv_row, &kv_bytes)) {
        st = pk_err(PK_ERR_RANGE, "KV cache of %d tokens overflows", c->n_ctx);
        goto fail;
    }
    size_t wide = PK_MAX((size_t)h->n_ff * 2, qd + 2 * kvd);
    size_t maxin = PK_MAX(PK_MAX((size_t)h->n_embd, (size_t)h->n_ff), qd);
    /* activations quantized for the widest vec_dot operand type: q8_K at
     * 292 bytes per 256 is the largest per element after f32 */
    c->qbuf_size = nb * (maxin + PK_QK_K) * 4;
    bool ok = true;
    c->kv_k = abuf(kv_bytes, 1, &ok);
    c->kv_v = abuf(kv_bytes, 1, &ok);
    c->x = abuf(nb * (size_t)h->n_embd, 4, &ok);
    c->xn = abuf(nb * maxin, 4, &ok);
    c->q = abuf(nb * qd, 4, &ok);
    c->k = abuf(nb * kvd, 4, &ok);
    c->v = abuf(nb * kvd, 4, &ok);
    c->att_out = abuf(nb * qd, 4, &ok);
    c->hb = abuf(nb * wide, 4, &ok);
    c->hb2 = abuf(nb * wide, 4, &ok);
    c->att = abuf((size_t)pk_pool_size(c->pool) * (size_t)c->n_ctx, 4, &ok);
    c->qbuf = abuf(c->qbuf_size, 1, &ok);
    c->att_tmp = abuf((size_t)pk_pool_size(c->pool) * 2 * (size_t)h->head_dim, 4, &ok);
    c->att_kv = abuf((size_t)pk_pool_size(c->pool) * ((2 * (size_t)h->head_dim + PK_ATT_TB) * (size_t)c->n_ctx +
                                                      PK_ATT_TB * (size_t)h->head_dim), 4, &ok);
    c->rope_cs = abuf(nb * (size_t)h->n_rot, 4, &ok);
    c->logits = abuf(nb * (size_t)h->n_vocab, 4, &ok);
    if (!ok) {
        st = pk_err(PK_ERR_NOMEM, "context of %d tokens: out of memory for KV cache and scratch",
                    c->n_ctx);
        goto fail;
    }
    *out = c;
    return PK_OK;
fail:
    pk_ctx_free(c);
    return st;
}

int pk_ctx_n_ctx(const pk_ctx *c) { return c->n_ctx; }

void pk_ctx_truncate(pk_ctx *c, int pos) {
    if (pos >= 0 && pos < c->n_past) c->n_past = pos;
}

pk_status pk_ctx_eval(pk_ctx *c, const int32_t *tokens, int n, int pos, int all_logits) {
    if (n <= 0) return pk_err(PK_ERR_INVALID, "eval: %d tokens", n);
    if (pos < 0 || pos > c->n_past)
        return pk_err(PK_ERR_INVALID, "eval: position %d is past the cache (%d tokens)", pos, c->n_past);
    if ((int64_t)pos + n > c->n_ctx)
        return pk_err(PK_ERR_RANGE, "eval: positions %d..%d exceed the context of %d tokens", pos,
                      pos + n - 1, c->n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->model->hp.n_vocab)
            return pk_err(PK_ERR_INVALID, "eval: token %d at index %d is outside the vocabulary (%d)",
                          tokens[i], i, c->model->hp.n_vocab);
    c->n_past = pos;
    c->n_logits = 0;
    /* batches of n_batch; only the last batch's logits are kept unless all */
    for (int done = 0; done < n;) {
        int nb = PK_MIN(c->n_batch, n - done);
        if (all_logits && n > c->n_batch)
            return pk_err(PK_ERR_RANGE, "eval: all logits of %d tokens need n_batch >= %d (is %d)", n, n,
                          c->n_batch);
        pk_status st = pk_forward(c, tokens + done, nb, all_logits != 0);
        if (st) return st;
        done += nb;
    }
    return PK_OK;
}

const float *pk_ctx_logits(const pk_ctx *c, int i) {
    if (i < 0 || i >= c->n_logits) return NULL;
    return c->logits + (size_t)i * (size_t)c->model->hp.n_vocab;
}
