/* generate.c: the generation loop: evaluate the prompt, then sample, stream
 * and evaluate one token at a time until EOS, a stop string, n_predict or a
 * full context. Text reaches the callback only when it cannot be the start
 * of a stop string and never ends in half a UTF-8 character. */
#define _GNU_SOURCE /* memmem */
#include "model/model.h"

#include <string.h>

pk_gen_params pk_gen_default_params(void) {
    return (pk_gen_params){ .n_predict = 128, .sampler = pk_sampler_default_params(), .stop = NULL,
                            .stop_on_eos = 1 };
}

/* Bytes at the end of s[0..n) that could begin one of the stop strings. */
static size_t stop_prefix_tail(const char *s, size_t n, const char *const *stop) {
    size_t best = 0;
    for (const char *const *st = stop; st && *st; st++) {
        size_t sl = strlen(*st);
        for (size_t k = PK_MIN(sl - 1, n); k > best; k--)
            if (!memcmp(s + n - k, *st, k)) {
                best = k;
                break;
            }
    }
    return best;
}

/* pending text buffer: bytes decoded but not yet handed to the callback */
typedef struct pend {
    char *buf;
    size_t n, cap;
} pend;

static pk_status pend_add(pend *p, const char *s, size_t n) {
    if (p->cap - p->n < n) {
        size_t cap = PK_MAX(p->cap * 2, p->n + n + 64);
        char *nb = pk_realloc(p->buf, cap);
        if (!nb) return PK_ERR_NOMEM;
        p->buf = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->n, s, n);
    p->n += n;
    return PK_OK;
}

pk_status pk_generate(pk_ctx *ctx, const int32_t *prompt, size_t n_prompt, const pk_gen_params *gp,
                      pk_token_cb cb, void *user, int32_t **out_ids, size_t *n_out) {
    pk_gen_params g = gp ? *gp : pk_gen_default_params();
    const pk_model *m = ctx->model;
    pk_sampler *smp = NULL;
    pend pd = { 0 };
    int32_t *out = NULL;
    size_t n_gen = 0;
    pk_status st;
    if (out_ids) *out_ids = NULL;
    if (n_out) *n_out = 0;
    if (n_prompt == 0) return pk_err(PK_ERR_INVALID, "generate: empty prompt (give at least BOS)");
    if (n_prompt >= (size_t)ctx->n_ctx)
        return pk_err(PK_ERR_RANGE, "generate: prompt of %zu tokens does not fit the context of %d",
                      n_prompt, ctx->n_ctx);
    if (g.n_predict < 0) return pk_err(PK_ERR_INVALID, "generate: n_predict %d", g.n_predict);
    if ((st = pk_sampler_new(&g.sampler, m->hp.n_vocab, &smp))) return st;
    for (const char *const *s = g.stop; s && *s; s++) {
        if (!**s) {
            st = pk_err(PK_ERR_INVALID, "generate: empty stop string");
            goto done;
        }
    }
    /* room for a few tokens of held-back text; grows only for very long
     * stop strings */
    if (!(pd.buf = pk_malloc(pd.cap = 1024))) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    out = pk_malloc(sizeof(int32_t) * (size_t)(g.n_predict ? g.n_predict : 1));
    if (!out) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    if ((st = pk_ctx_eval(ctx, prompt, (int)n_prompt, 0, 0))) goto done;
    for (size_t i = 0; i < n_prompt; i++) pk_sampler_accept(smp, prompt[i]);
    /* SentencePiece's first piece after a bare BOS carries the space prefix */
    bool strip_space = n_prompt == 1 && prompt[0] == pk_tok_bos(m->tok);
    bool stop = false;
    while (!stop && (int)n_gen < g.n_predict) {
        int32_t tok = pk_sampler_sample(smp, pk_ctx_logits(ctx, 0));
        if (g.stop_on_eos && pk_tok_is_eog(m->tok, tok)) break;
        out[n_gen++] = tok;
        pk_sampler_accept(smp, tok);
        size_t pl;
        const char *piece = pk_tok_piece(m->tok, tok, false, &pl);
        if (strip_space && pl && piece[0] == ' ') {
            piece++;
            pl--;
        }
        if (pl) strip_space = false;
        if ((st = pend_add(&pd, piece, pl))) goto done;
        /* a stop string in the pending text ends generation; its text and
         * what follows are not emitted */
        size_t emit = pd.n;
        for (const char *const *s = g.stop; s && *s; s++) {
            const char *hit = pd.n ? memmem(pd.buf, pd.n, *s, strlen(*s)) : NULL;
            if (hit && (size_t)(hit - pd.buf) <= emit) {
                emit = (size_t)(hit - pd.buf);
                stop = true;
            }
        }
        if (!stop) {
            size_t hold = PK_MAX(stop_prefix_tail(pd.buf, pd.n, g.stop),
                                 pk_utf8_incomplete_tail(pd.buf, pd.n));
            emit = pd.n - hold;
        }
        if (cb && cb(user, tok, pd.buf, emit)) {
            st = PK_ERR_CANCELLED;
            goto done;
        }
        memmove(pd.buf, pd.buf + emit, pd.n - emit);
        pd.n -= emit;
        if (stop || (int)n_gen == g.n_predict) break;
        if (ctx->n_past >= ctx->n_ctx) {
            pk_log(PK_LOG_WARN, "generate: context of %d tokens is full", ctx->n_ctx);
            break;
        }
        if ((st = pk_ctx_eval(ctx, &tok, 1, ctx->n_past, 0))) goto done;
    }
    /* flush what was held back for a stop string that never came */
    if (!stop && pd.n && cb && cb(user, -1, pd.buf, pd.n)) st = PK_ERR_CANCELLED;
done:
    pk_sampler_free(smp);
    pk_free(pd.buf);
    if (st == PK_OK || st == PK_ERR_CANCELLED) {
        if (out_ids) {
            *out_ids = out;
            out = NULL;
        }
        if (n_out) *n_out = n_gen;
    }
    pk_free(out);
    return st;
}
