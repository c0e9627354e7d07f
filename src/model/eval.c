/* eval.c: measuring a model on a text file: perplexity in windows of n_ctx
 * tokens (the second half of each window is scored, as llama.cpp's
 * perplexity tool does, so every scored token sees at least n_ctx/2 of
 * context), KL divergence against the saved top-k distributions of a base
 * model, and importance-matrix collection for the quantizer. */
#include "model/model.h"
#include "quant/quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGITS_MAGIC "PKLG"
#define LOGITS_VERSION 1

/* ---- text to windows ---- */

static pk_status load_tokens(pk_model *m, const char *path, int32_t **ids, size_t *n) {
    char *text = NULL;
    size_t len;
    pk_status st = pk_read_file(path, (size_t)1 << 30, &text, &len);
    if (st) return st;
    st = pk_tok_encode(m->tok, text, len, true, false, ids, n); /* BOS first, as llama.cpp */
    pk_free(text);
    return st;
}

static uint64_t hash_ids(const int32_t *ids, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)ids[i]) * 1099511628211ull;
    return h;
}

/* Evaluate window c (tokens [c*n_ctx, (c+1)*n_ctx)) with BOS as its first
 * token; all logits kept. */
static pk_status eval_window(pk_ctx *ctx, const int32_t *ids, int n_ctx, int c, int32_t *buf) {
    memcpy(buf, ids + (size_t)c * (size_t)n_ctx, sizeof(int32_t) * (size_t)n_ctx);
    int bos = pk_tok_bos(ctx->model->tok);
    if (bos >= 0) buf[0] = bos;
    return pk_ctx_eval(ctx, buf, n_ctx, 0, 1);
}

/* log-softmax of logits (n) into out; returns nothing */
static void log_softmax(const float *l, int n, float *out) {
    float mx = l[0];
    for (int i = 1; i < n; i++) mx = PK_MAX(mx, l[i]);
    double s = 0;
    for (int i = 0; i < n; i++) s += exp((double)l[i] - mx);
    float lse = mx + (float)log(s);
    for (int i = 0; i < n; i++) out[i] = l[i] - lse;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- perplexity and KLD ---- */

pk_ppl_params pk_ppl_default_params(void) {
    return (pk_ppl_params){ .n_ctx = 512, .top_k = 64 };
}

typedef struct logits_hdr {
    char magic[4];
    uint32_t version, n_vocab, n_ctx, top_k, n_scored;
    uint64_t ids_hash;
} logits_hdr;

pk_status pk_perplexity(pk_model *m, const char *text_path, const pk_ppl_params *pp,
                        pk_ppl_result *res) {
    pk_ppl_params p = pp ? *pp : pk_ppl_default_params();
    memset(res, 0, sizeof(*res));
    int32_t *ids = NULL, *buf = NULL;
    size_t n_ids = 0;
    pk_ctx *ctx = NULL;
    float *lp = NULL;
    double *klds = NULL;
    FILE *save = NULL, *base = NULL;
    int32_t *topi = NULL;
    float *topv = NULL;
    pk_status st;
    int n_ctx = p.n_ctx, nv = m->hp.n_vocab, K = p.top_k;
    if (n_ctx < 16) return pk_err(PK_ERR_INVALID, "perplexity: context %d is too small (at least 16)", n_ctx);
    if (K < 1 || K > nv) return pk_err(PK_ERR_INVALID, "perplexity: top-k %d out of 1..%d", K, nv);
    if ((st = load_tokens(m, text_path, &ids, &n_ids))) return st;
    int n_chunks = (int)(n_ids / (size_t)n_ctx);
    if (p.max_chunks > 0 && n_chunks > p.max_chunks) n_chunks = p.max_chunks;
    if (n_chunks < 1) {
        st = pk_err(PK_ERR_RANGE, "%s: %zu tokens is less than one window of %d", text_path, n_ids, n_ctx);
        goto done;
    }
    int first = n_ctx / 2, per_chunk = n_ctx - 1 - first;
    uint32_t n_scored = (uint32_t)n_chunks * (uint32_t)per_chunk;
    uint64_t h = hash_ids(ids, (size_t)n_chunks * (size_t)n_ctx);
    pk_ctx_params cp = { .n_ctx = n_ctx, .n_batch = n_ctx, .n_threads = p.n_threads, .kv_type = p.kv_type };
    if ((st = pk_ctx_new(m, &cp, &ctx))) goto done;
    buf = pk_malloc(sizeof(int32_t) * (size_t)n_ctx);
    lp = pk_malloc(sizeof(float) * (size_t)nv);
    topi = pk_malloc(sizeof(int32_t) * (size_t)K);
    topv = pk_malloc(sizeof(float) * (size_t)K);
    if (!buf || !lp || !topi || !topv) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    logits_hdr hdr = { { 'P', 'K', 'L', 'G' }, LOGITS_VERSION, (uint32_t)nv, (uint32_t)n_ctx, (uint32_t)K,
                       n_scored, h };
    if (p.save_logits && p.kld_base) {
        st = pk_err(PK_ERR_INVALID, "perplexity: save logits or compare with a base, not both");
        goto done;
    }
    if (p.save_logits) {
        if (!(save = fopen(p.save_logits, "wb")) || fwrite(&hdr, sizeof(hdr), 1, save) != 1) {
            st = pk_err(PK_ERR_IO, "%s: cannot write", p.save_logits);
            goto done;
        }
    }
    if (p.kld_base) {
        logits_hdr bh;
        if (!(base = fopen(p.kld_base, "rb")) || fread(&bh, sizeof(bh), 1, base) != 1) {
            st = pk_err(PK_ERR_IO, "%s: cannot read a logits file", p.kld_base);
            goto done;
        }
        if (memcmp(bh.magic, LOGITS_MAGIC, 4) || bh.version != LOGITS_VERSION) {
            st = pk_err(PK_ERR_FORMAT, "%s: not a pocket logits file", p.kld_base);
            goto done;
        }
        if (bh.n_vocab != (uint32_t)nv || bh.n_ctx != (uint32_t)n_ctx || bh.ids_hash != h ||
            bh.n_scored < n_scored) {
            st = pk_err(PK_ERR_INVALID,
                        "%s: made with vocab %u, context %u, %u scored tokens of another text; "
                        "this run has vocab %d, context %d, %u tokens",
                        p.kld_base, bh.n_vocab, bh.n_ctx, bh.n_scored, nv, n_ctx, n_scored);
            goto done;
        }
        if (bh.top_k < 1 || bh.top_k > (uint32_t)nv) {
            st = pk_err(PK_ERR_FORMAT, "%s: top-k %u out of range", p.kld_base, bh.top_k);
            goto done;
        }
        K = (int)bh.top_k; /* compare over the base's own top-k */
        pk_free(topi);
        pk_free(topv);
        topi = pk_malloc(sizeof(int32_t) * (size_t)K);
        topv = pk_malloc(sizeof(float) * (size_t)K);
        if (!topi || !topv) {
            st = PK_ERR_NOMEM;
            goto done;
        }
        klds = pk_malloc(sizeof(double) * n_scored);
        if (!klds) {
            st = PK_ERR_NOMEM;
            goto done;
        }
        res->has_kld = 1;
    }
    double nll = 0, nll2 = 0;
    uint32_t count = 0, agree = 0;
    for (int c = 0; c < n_chunks; c++) {
        if ((st = eval_window(ctx, ids, n_ctx, c, buf))) goto done;
        for (int i = first; i < n_ctx - 1; i++) {
            log_softmax(pk_ctx_logits(ctx, i), nv, lp);
            int32_t next = ids[(size_t)c * (size_t)n_ctx + (size_t)i + 1];
            double v = -lp[next];
            nll += v;
            nll2 += v * v;
            if (save) { /* top-k of this distribution, by selection */
                for (int k = 0; k < K; k++) topi[k] = -1;
                for (int t = 0; t < nv; t++) {
                    if (topi[K - 1] >= 0 && lp[t] <= lp[topi[K - 1]]) continue;
                    int k = K - 1;
                    while (k > 0 && (topi[k - 1] < 0 || lp[t] > lp[topi[k - 1]])) {
                        topi[k] = topi[k - 1];
                        k--;
                    }
                    topi[k] = t;
                }
                for (int k = 0; k < K; k++) topv[k] = lp[topi[k]];
                if (fwrite(topi, sizeof(int32_t), (size_t)K, save) != (size_t)K ||
                    fwrite(topv, sizeof(float), (size_t)K, save) != (size_t)K) {
                    st = pk_err(PK_ERR_IO, "%s: write failed (disk full?)", p.save_logits);
                    goto done;
                }
            }
            if (base) {
                if (fread(topi, sizeof(int32_t), (size_t)K, base) != (size_t)K ||
                    fread(topv, sizeof(float), (size_t)K, base) != (size_t)K) {
                    st = pk_err(PK_ERR_FORMAT, "%s: truncated at scored token %u", p.kld_base, count);
                    goto done;
                }
                /* KL(base || this) over the base's top-k plus one bucket for
                 * the rest of the probability mass */
                double kl = 0, pb_sum = 0, q_sum = 0;
                for (int k = 0; k < K; k++) {
                    int32_t t = topi[k];
                    if (t < 0 || t >= nv) {
                        st = pk_err(PK_ERR_FORMAT, "%s: token id %d out of range", p.kld_base, t);
                        goto done;
                    }
                    double pb = exp((double)topv[k]);
                    kl += pb * ((double)topv[k] - lp[t]);
                    pb_sum += pb;
                    q_sum += exp((double)lp[t]);
                }
                double pr = 1 - pb_sum, qr = 1 - q_sum;
                if (pr > 1e-12 && qr > 1e-12) kl += pr * log(pr / qr);
                klds[count] = kl > 0 ? kl : 0;
                int32_t am = 0;
                for (int t = 1; t < nv; t++)
                    if (lp[t] > lp[am]) am = t;
                if (am == topi[0]) agree++;
            }
            count++;
        }
        res->ppl = exp(nll / count);
        if (p.progress) p.progress(p.user, c + 1, n_chunks, res->ppl);
    }
    double mean = nll / count, var = nll2 / count - mean * mean;
    res->n_tokens = (int)count;
    res->ppl = exp(mean);
    res->ppl_err = res->ppl * sqrt(PK_MAX(var, 0) / count);
    if (klds) {
        double s = 0;
        for (uint32_t i = 0; i < count; i++) s += klds[i];
        qsort(klds, count, sizeof(double), cmp_double);
        res->kld_mean = s / count;
        res->kld_p99 = klds[(size_t)(0.99 * (count - 1))];
        res->kld_max = klds[count - 1];
        res->top1_agree = (double)agree / count;
    }
    st = PK_OK;
done:
    if (save && fclose(save) != 0 && st == PK_OK) st = pk_err(PK_ERR_IO, "%s: close failed", p.save_logits);
    if (base) fclose(base);
    pk_free(ids);
    pk_free(buf);
    pk_free(lp);
    pk_free(topi);
    pk_free(topv);
    pk_free(klds);
    pk_ctx_free(ctx);
    return st;
}

/* ---- importance matrix ---- */

pk_status pk_imatrix_compute(pk_model *m, const char *text_path, int n_ctx, int max_chunks, int n_threads,
                             const char *out_path) {
    int32_t *ids = NULL, *buf = NULL;
    size_t n_ids = 0;
    pk_ctx *ctx = NULL;
    pk_imatrix *im = NULL;
    pk_status st;
    if (n_ctx < 16) return pk_err(PK_ERR_INVALID, "imatrix: context %d is too small", n_ctx);
    if ((st = load_tokens(m, text_path, &ids, &n_ids))) return st;
    int n_chunks = (int)(n_ids / (size_t)n_ctx);
    if (max_chunks > 0 && n_chunks > max_chunks) n_chunks = max_chunks;
    if (n_chunks < 1) {
        st = pk_err(PK_ERR_RANGE, "%s: %zu tokens is less than one window of %d", text_path, n_ids, n_ctx);
        goto done;
    }
    pk_ctx_params cp = { .n_ctx = n_ctx, .n_batch = n_ctx, .n_threads = n_threads };
    if ((st = pk_ctx_new(m, &cp, &ctx))) goto done;
    im = pk_calloc(1, sizeof(*im));
    buf = pk_malloc(sizeof(int32_t) * (size_t)n_ctx);
    if (!im || !buf) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    const char *slash = strrchr(text_path, '/');
    im->dataset = pk_strdup(slash ? slash + 1 : text_path);
    ctx->imatrix = im;
    for (int c = 0; c < n_chunks; c++) {
        /* last-token logits suffice: the activations are what is collected */
        memcpy(buf, ids + (size_t)c * (size_t)n_ctx, sizeof(int32_t) * (size_t)n_ctx);
        if (pk_tok_bos(m->tok) >= 0) buf[0] = pk_tok_bos(m->tok);
        if ((st = pk_ctx_eval(ctx, buf, n_ctx, 0, 0))) goto done;
        pk_log(PK_LOG_INFO, "imatrix: chunk %d of %d", c + 1, n_chunks);
    }
    im->chunk_count = (uint32_t)n_chunks;
    im->chunk_size = (uint32_t)n_ctx;
    st = pk_imatrix_save(im, out_path);
done:
    if (ctx) ctx->imatrix = NULL;
    pk_imatrix_free(im);
    pk_ctx_free(ctx);
    pk_free(ids);
    pk_free(buf);
    return st;
}
