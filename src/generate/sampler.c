/* sampler.c: token samplers: repetition/presence/frequency penalties over
 * the last N accepted tokens, then greedy, or temperature with top-k, top-p
 * and min-p filtering and a seeded PRNG. All scratch is allocated at
 * creation; sampling itself does not allocate. */
#include "base/base.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pk_sampler {
    pk_sampler_params p;
    int n_vocab;
    float *logits;        /* (n_vocab) working copy */
    int32_t *idx;         /* (n_vocab) candidate ids */
    int32_t *hist;        /* (penalty_last_n) ring of recent tokens */
    int n_hist, hist_pos;
    uint16_t *count;      /* (n_vocab) occurrences in the window */
    uint64_t rng;
};

pk_sampler_params pk_sampler_default_params(void) {
    return (pk_sampler_params){ .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                                .repeat_penalty = 1.0f, .penalty_last_n = 64, .seed = 0x5EED };
}

void pk_sampler_free(pk_sampler *s) {
    if (!s) return;
    pk_free(s->logits);
    pk_free(s->idx);
    pk_free(s->hist);
    pk_free(s->count);
    pk_free(s);
}

pk_status pk_sampler_new(const pk_sampler_params *p, int n_vocab, pk_sampler **out) {
    *out = NULL;
    if (n_vocab <= 0) return pk_err(PK_ERR_INVALID, "sampler: vocabulary of %d", n_vocab);
    if (p->temperature < 0 || p->top_k < 0 || p->top_p <= 0 || p->top_p > 1 || p->min_p < 0 ||
        p->min_p > 1 || p->repeat_penalty <= 0 || p->penalty_last_n < 0)
        return pk_err(PK_ERR_INVALID,
                      "sampler: bad parameters (temp %g, top_k %d, top_p %g, min_p %g, repeat %g, last_n %d)",
                      p->temperature, p->top_k, p->top_p, p->min_p, p->repeat_penalty, p->penalty_last_n);
    pk_sampler *s = pk_calloc(1, sizeof(*s));
    if (!s) return PK_ERR_NOMEM;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->logits = pk_malloc(sizeof(float) * (size_t)n_vocab);
    s->idx = pk_malloc(sizeof(int32_t) * (size_t)n_vocab);
    s->hist = pk_malloc(sizeof(int32_t) * (size_t)(p->penalty_last_n + 1));
    s->count = pk_calloc((size_t)n_vocab, sizeof(uint16_t));
    if (!s->logits || !s->idx || !s->hist || !s->count) {
        pk_sampler_free(s);
        return PK_ERR_NOMEM;
    }
    s->rng = p->seed ? p->seed : 0x9E3779B97F4A7C15ull;
    *out = s;
    return PK_OK;
}

void pk_sampler_accept(pk_sampler *s, int32_t tok) {
    int n = s->p.penalty_last_n;
    if (n == 0 || tok < 0 || tok >= s->n_vocab) return;
    if (s->n_hist == n) {
        int32_t old = s->hist[s->hist_pos];
        if (s->count[old]) s->count[old]--;
    } else {
        s->n_hist++;
    }
    s->hist[s->hist_pos] = tok;
    s->hist_pos = (s->hist_pos + 1) % n;
    if (s->count[tok] < UINT16_MAX) s->count[tok]++;
}

/* xorshift64*: uniform in [0, 1) */
static double next_uniform(pk_sampler *s) {
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static _Thread_local const float *sort_logits;
static int by_logit_desc(const void *a, const void *b) {
    float x = sort_logits[*(const int32_t *)a], y = sort_logits[*(const int32_t *)b];
    if (x != y) return x > y ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

int32_t pk_sampler_sample(pk_sampler *s, const float *in) {
    int nv = s->n_vocab;
    float *l = s->logits;
    memcpy(l, in, sizeof(float) * (size_t)nv);
    /* penalties on tokens seen in the window */
    const pk_sampler_params *p = &s->p;
    if (s->n_hist && (p->repeat_penalty != 1.0f || p->presence_penalty || p->frequency_penalty)) {
        /* recomputed from the input, so a token listed twice is penalised once */
        for (int i = 0; i < s->n_hist; i++) {
            int32_t t = s->hist[i];
            float v = in[t];
            v = v > 0 ? v / p->repeat_penalty : v * p->repeat_penalty;
            l[t] = v - ((float)s->count[t] * p->frequency_penalty + p->presence_penalty);
        }
    }
    if (p->temperature <= 0) {
        int32_t best = 0;
        for (int i = 1; i < nv; i++)
            if (l[i] > l[best]) best = i;
        return best;
    }
    /* candidates sorted by logit (top_k bounds the sort when set) */
    int n = nv;
    sort_logits = l;
    if (p->top_k > 0 && p->top_k < nv) {
        /* the k largest via a min-heap in idx[0..k), then sort those */
        int k = p->top_k;
        int32_t *hp = s->idx;
        for (int i = 0; i < nv; i++) {
            if (i < k) {
                int c = i;
                hp[c] = i;
                while (c && l[hp[(c - 1) / 2]] > l[hp[c]]) {
                    int32_t tmp = hp[c];
                    hp[c] = hp[(c - 1) / 2];
                    hp[(c - 1) / 2] = tmp;
                    c = (c - 1) / 2;
                }
            } else if (l[i] > l[hp[0]]) {
                hp[0] = i;
                for (int c = 0;;) {
                    int a2 = 2 * c + 1, b2 = a2 + 1, m = c;
                    if (a2 < k && l[hp[a2]] < l[hp[m]]) m = a2;
                    if (b2 < k && l[hp[b2]] < l[hp[m]]) m = b2;
                    if (m == c) break;
                    int32_t tmp = hp[c];
                    hp[c] = hp[m];
                    hp[m] = tmp;
                    c = m;
                }
            }
        }
        qsort(s->idx, (size_t)k, sizeof(int32_t), by_logit_desc);
        n = k;
    } else {
        for (int i = 0; i < nv; i++) s->idx[i] = i;
        qsort(s->idx, (size_t)nv, sizeof(int32_t), by_logit_desc);
    }
    /* softmax at temperature over the candidates */
    float mx = l[s->idx[0]];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float e = expf((l[s->idx[i]] - mx) / p->temperature);
        l[s->idx[i]] = e;
        sum += e;
    }
    /* min-p: drop candidates below min_p times the best probability */
    if (p->min_p > 0) {
        float thr = p->min_p * l[s->idx[0]];
        int k = 1;
        while (k < n && l[s->idx[k]] >= thr) k++;
        for (int i = k; i < n; i++) sum -= l[s->idx[i]];
        n = k;
    }
    /* top-p: smallest prefix with cumulative probability >= top_p */
    if (p->top_p < 1) {
        double cum = 0;
        int k = 0;
        while (k < n) {
            cum += l[s->idx[k]] / sum;
            k++;
            if (cum >= p->top_p) break;
        }
        double kept = 0;
        for (int i = 0; i < k; i++) kept += l[s->idx[i]];
        sum = kept;
        n = k;
    }
    double r = next_uniform(s) * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += l[s->idx[i]];
        if (r < acc) return s->idx[i];
    }
    return s->idx[n - 1];
}
