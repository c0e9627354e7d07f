/* forward.c: the transformer forward pass of the llama, qwen2 and phi3
 * families over a batch of tokens: RMSNorm, q/k/v projections (qwen2
 * biases, phi3 fused), RoPE (adjacent pairs for llama, halves for NeoX-style
 * qwen2/phi3), grouped-query attention over the f16 KV cache, SwiGLU FFN.
 * Every buffer comes from the context. Matmuls (prefill through the GEMM
 * kernels, pk_gemm), attention, norms, SwiGLU, residual adds and KV-cache
 * stores run on the context's pool. */
#include "model/model.h"
#include "quant/quantize.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

/* ---- matmul ---- */

enum {
    MM_MAX = 3,
    MM_ROWS_PP = 64, /* rows per GEMM work item, at least (a multiple of the kernels' 8- and
                      * 16-row groups): a call lays out its activations' scales and sums
                      * once for all its rows */
    MM_ROWS_MAX = 256, /* ... and at most, while every thread still gets 8 items */
    MM_TOKENS = 128, /* tokens per work item: their activations stay in L2 */
    MM_GEMV_MIN = 16, /* decode: the smallest run of rows a thread takes */
};

/* Several weights with the same input x: x is converted to their shared
 * vec_dot type once, and one pool run covers the rows of all of them. The
 * work is cut into items of MM_ROWS_PP rows x MM_TOKENS tokens that
 * threads take from an atomic counter, so a slower core takes fewer items
 * instead of holding up the others at the barrier. Decode (fewer than 4
 * tokens) runs the GEMV kernels token by token over runs of rows that shrink
 * as the work runs out (mm_gemv). */
typedef struct mm_job {
    const pk_tensor *w[MM_MAX];
    float *y[MM_MAX];
    int nw;
    int rows;               /* rows per item */
    int chunks[MM_MAX + 1]; /* prefix sums of row chunks per weight */
    int rowsum[MM_MAX + 1]; /* prefix sums of rows per weight (decode) */
    int n_tblk;             /* token blocks */
    const float *x;         /* (n, ne0) */
    int n;
    const uint8_t *xq;      /* x rows in the vec_dot type */
    size_t xq_row;          /* bytes per converted row */
    pk_from_float_fn conv;
    int64_t ne0;
    atomic_int next;        /* next work item (decode: row); taken by every thread */
} mm_job;

static void mm_convert(void *arg, int ith, int nth) {
    mm_job *j = arg;
    for (int t = ith; t < j->n; t += nth)
        j->conv(j->x + (size_t)t * (size_t)j->ne0, (uint8_t *)j->xq + (size_t)t * j->xq_row, j->ne0);
}

/* Items in token-block-major order: the threads sweep all rows for one
 * block of tokens before the next, so that block's activations are shared
 * while hot. */
static void mm_rows(void *arg, int ith, int nth) {
    (void)ith, (void)nth;
    mm_job *j = arg;
    int n_items = j->chunks[j->nw] * j->n_tblk;
    for (int it; (it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < n_items;) {
        int tb = it / j->chunks[j->nw], c = it % j->chunks[j->nw], k = 0;
        while (c >= j->chunks[k + 1]) k++;
        const pk_tensor *w = j->w[k];
        int64_t r0 = (int64_t)(c - j->chunks[k]) * j->rows, nr = PK_MIN((int64_t)j->rows, w->ne1 - r0);
        int t0 = tb * MM_TOKENS, nt = PK_MIN(MM_TOKENS, j->n - t0);
        size_t ne1 = (size_t)w->ne1;
        pk_gemm(w->type, (int)w->ne0, (int)nr, nt, j->y[k] + (size_t)t0 * ne1 + (size_t)r0, ne1,
                (const uint8_t *)w->data + (size_t)r0 * w->row_bytes, w->row_bytes,
                j->xq + (size_t)t0 * j->xq_row, j->xq_row);
    }
}

/* Decode: the rows of all weights form one range; a thread takes a run of
 * 1 / (2 nth) of what is left (at least MM_GEMV_MIN rows, not across a
 * weight's end), so the first runs are long sequential streams of weights
 * and the last ones short enough that the threads finish together. */
static void mm_gemv(void *arg, int ith, int nth) {
    (void)ith;
    mm_job *j = arg;
    int total = j->rowsum[j->nw];
    int cur = atomic_load_explicit(&j->next, memory_order_relaxed);
    while (cur < total) {
        int k = 0;
        while (cur >= j->rowsum[k + 1]) k++;
        int end = PK_MIN(cur + PK_MAX(MM_GEMV_MIN, (total - cur) / (2 * nth)), j->rowsum[k + 1]);
        if (!atomic_compare_exchange_weak_explicit(&j->next, &cur, end, memory_order_relaxed, memory_order_relaxed))
            continue; /* cur now holds the current value */
        const pk_tensor *w = j->w[k];
        int r0 = cur - j->rowsum[k];
        for (int t = 0; t < j->n; t++)
            pk_gemv(w->type, (int)w->ne0, end - cur, j->y[k] + (size_t)t * (size_t)w->ne1 + (size_t)r0,
                    (const uint8_t *)w->data + (size_t)r0 * w->row_bytes, w->row_bytes, j->xq + (size_t)t * j->xq_row);
        cur = atomic_load_explicit(&j->next, memory_order_relaxed);
    }
}

static void matmul_n(pk_ctx *ctx, const pk_tensor *const *ws, float *const *ys, int nw, const float *x, int n) {
    pk_qtype vt = pk_qtraits_of(ws[0]->type)->vec_dot_type;
    for (int k = 1; k < nw; k++)
        if (pk_qtraits_of(ws[k]->type)->vec_dot_type != vt) { /* mixed: one at a time */
            for (int i = 0; i < nw; i++) matmul_n(ctx, &ws[i], &ys[i], 1, x, n);
            return;
        }
    mm_job j = { .nw = nw, .x = x, .n = n, .ne0 = ws[0]->ne0, .xq_row = pk_row_size(vt, ws[0]->ne0),
                 .conv = pk_qtraits_of(vt)->from_float, .n_tblk = (n + MM_TOKENS - 1) / MM_TOKENS,
                 .rows = MM_ROWS_PP };
    /* Longer items when there are rows enough: the activation table a GEMM
     * call builds costs as much as 7% of a 64-row call (AVX-512, n 4096,
     * bench/gemm_speed q4_0 128 4096 2048 ITEM: 64 rows 196-199 GMAC/s,
     * 256 rows 207-212) */
    int64_t all_rows = 0;
    for (int k = 0; k < nw; k++) all_rows += ws[k]->ne1;
    while (j.rows < MM_ROWS_MAX && all_rows / (2 * j.rows) >= 8 * (int64_t)pk_pool_size(ctx->pool)) j.rows *= 2;
    for (int k = 0; k < nw; k++) {
        j.w[k] = ws[k];
        j.y[k] = ys[k];
        j.chunks[k + 1] = j.chunks[k] + (int)((ws[k]->ne1 + j.rows - 1) / j.rows);
        j.rowsum[k + 1] = j.rowsum[k] + (int)ws[k]->ne1;
    }
    atomic_init(&j.next, 0);
    if (vt == PK_Q_F32) {
        j.xq = (const uint8_t *)x;
    } else {
        j.xq = ctx->qbuf;
        pk_pool_run_n(ctx->pool, PK_MIN(n, pk_pool_size(ctx->pool)), mm_convert, &j);
    }
    pk_pool_run(ctx->pool, n < 4 ? mm_gemv : mm_rows, &j);
}

void pk_matmul(pk_ctx *ctx, const pk_tensor *w, const float *x, float *y, int n) {
    matmul_n(ctx, &w, &y, 1, x, n);
}

/* ---- small ops ---- */

static void rmsnorm(float *o, const float *x, const float *w, int d, float eps) {
    double ss = 0;
    for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
    float s = (float)(1.0 / sqrt(ss / d + eps));
    for (int i = 0; i < d; i++) o[i] = x[i] * s * w[i];
}

/* The element-wise ops of a batch, on the pool: RMSNorm per token, the
 * residual add and SwiGLU over ranges of elements, KV-cache stores per
 * token. Each thread takes a contiguous share; the results do not depend
 * on the thread count. */
typedef struct ew_job {
    float *o, *x;
    const float *w, *u;
    int d, n;
    float eps;
    size_t len;
    pk_from_float_fn conv;          /* kv: cache row conversion */
    uint8_t *kc, *vc;               /* kv: first cache rows */
    size_t kv_row;
    const float *k, *v;
} ew_job;

static void ew_range(size_t len, int ith, int nth, size_t *lo, size_t *hi) {
    *lo = len * (size_t)ith / (size_t)nth;
    *hi = len * (size_t)(ith + 1) / (size_t)nth;
}

static void norm_task(void *arg, int ith, int nth) {
    ew_job *j = arg;
    for (int t = ith; t < j->n; t += nth)
        rmsnorm(j->o + (size_t)t * (size_t)j->d, j->x + (size_t)t * (size_t)j->d, j->w, j->d, j->eps);
}

static void add_task(void *arg, int ith, int nth) { /* x += o */
    ew_job *j = arg;
    size_t lo, hi;
    ew_range(j->len, ith, nth, &lo, &hi);
    for (size_t i = lo; i < hi; i++) j->x[i] += j->o[i];
}

static void swiglu_task(void *arg, int ith, int nth) { /* o = silu(o) * u */
    ew_job *j = arg;
    size_t lo, hi;
    ew_range(j->len, ith, nth, &lo, &hi);
    pk_silu_mul(j->o + lo, j->u + lo, hi - lo);
}

static void kv_task(void *arg, int ith, int nth) {
    ew_job *j = arg;
    for (int t = ith; t < j->n; t += nth) {
        j->conv(j->k + (size_t)t * (size_t)j->d, j->kc + (size_t)t * j->kv_row, j->d);
        j->conv(j->v + (size_t)t * (size_t)j->d, j->vc + (size_t)t * j->kv_row, j->d);
    }
}

/* threads for a job of `work` units: one below 4096 (the pool wake-up
 * would cost more than it saves) */
static int ew_threads(const pk_ctx *c, size_t work) {
    return work < 4096 ? 1 : pk_pool_size(c->pool);
}

static void norm_batch(pk_ctx *c, float *o, const float *x, const float *w, int n) {
    const pk_hparams *h = &c->model->hp;
    ew_job j = { .o = o, .x = (float *)x, .w = w, .d = h->n_embd, .n = n, .eps = h->rms_eps };
    pk_pool_run_n(c->pool, PK_MIN(n, ew_threads(c, (size_t)n * (size_t)h->n_embd)), norm_task, &j);
}

static void add_batch(pk_ctx *c, float *x, const float *o, size_t len) {
    ew_job j = { .o = (float *)o, .x = x, .len = len };
    pk_pool_run_n(c->pool, ew_threads(c, len), add_task, &j);
}

static void add_bias(float *x, const pk_tensor *b, int n, int d, int stride) {
    if (!b->data) return;
    const float *bb = b->data;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < d; i++) x[(size_t)t * (size_t)stride + (size_t)i] += bb[i];
}

/* cos/sin table for the batch positions */
static void rope_table(pk_ctx *c, int n) {
    const pk_hparams *h = &c->model->hp;
    int half = h->n_rot / 2;
    const float *ff = c->model->rope_freqs;
    for (int t = 0; t < n; t++) {
        double p = (double)(c->n_past + t) / h->rope_scale;
        for (int i = 0; i < half; i++) {
            double theta = p * pow((double)h->rope_base, -2.0 * i / h->n_rot);
            if (ff) theta /= ff[i];
            c->rope_cs[((size_t)t * (size_t)half + (size_t)i) * 2] = (float)cos(theta);
            c->rope_cs[((size_t)t * (size_t)half + (size_t)i) * 2 + 1] = (float)sin(theta);
        }
    }
}

/* rotate the first n_rot dims of each head of x (n tokens, n_heads heads) */
static void rope(const pk_ctx *c, float *x, int n, int n_heads, int stride) {
    const pk_hparams *h = &c->model->hp;
    int half = h->n_rot / 2, hd = h->head_dim;
    for (int t = 0; t < n; t++) {
        const float *cs = c->rope_cs + (size_t)t * (size_t)half * 2;
        for (int hh = 0; hh < n_heads; hh++) {
            float *v = x + (size_t)t * (size_t)stride + (size_t)hh * (size_t)hd;
            for (int i = 0; i < half; i++) {
                int a = h->rope_neox ? i : 2 * i, b = h->rope_neox ? i + half : 2 * i + 1;
                float x0 = v[a], x1 = v[b], co = cs[2 * i], si = cs[2 * i + 1];
                v[a] = x0 * co - x1 * si;
                v[b] = x0 * si + x1 * co;
            }
        }
    }
}

/* ---- attention ---- */

typedef struct att_job {
    pk_ctx *c;
    int layer, n;
    atomic_int next;            /* att_prefill_task: next task */
} att_job;

static void att_task(void *arg, int ith, int nth) {
    att_job *j = arg;
    pk_ctx *c = j->c;
    const pk_hparams *h = &c->model->hp;
    int hd = h->head_dim, qd = h->n_head * hd;
    int group = h->n_head / h->n_kv_head;
    /* scores with the cache type's dot kernel (q converted once to its
     * operand type: f16 for an f16 cache, q8_0 for a q8_0 one); V rows
     * widened by the cache type's to_float */
    const pk_qtraits *kt = pk_qtraits_of((pk_qtype)c->kv_type);
    pk_from_float_fn qconv = pk_qtraits_of(kt->vec_dot_type)->from_float;
    size_t head_bytes = pk_row_size((pk_qtype)c->kv_type, hd), row = c->kv_row;
    float *sc = c->att + (size_t)ith * (size_t)c->n_ctx;
    float *tmp = c->att_tmp + (size_t)ith * 2 * (size_t)hd;
    uint8_t *qc = (uint8_t *)(tmp + hd);
    const uint8_t *kc = c->kv_k + (size_t)j->layer * (size_t)c->n_ctx * row;
    const uint8_t *vc = c->kv_v + (size_t)j->layer * (size_t)c->n_ctx * row;
    float scale = 1.0f / sqrtf((float)hd);
    for (int task = ith; task < j->n * h->n_head; task += nth) {
        int t = task / h->n_head, hh = task % h->n_head, kvh = hh / group;
        int n_kv = c->n_past + t + 1; /* causal: positions 0..n_past+t */
        const float *qv = c->q + (size_t)t * (size_t)qd + (size_t)hh * (size_t)hd;
        qconv(qv, qc, hd);
        float mx = -INFINITY;
        for (int p = 0; p < n_kv; p++) {
            float s;
            kt->vec_dot(hd, &s, kc + (size_t)p * row + (size_t)kvh * head_bytes, qc);
            sc[p] = s * scale;
            mx = PK_MAX(mx, sc[p]);
        }
        float sum = 0;
        for (int p = 0; p < n_kv; p++) {
            sc[p] = expf(sc[p] - mx);
            sum += sc[p];
        }
        float *o = c->att_out + (size_t)t * (size_t)qd + (size_t)hh * (size_t)hd;
        memset(o, 0, sizeof(float) * (size_t)hd);
        for (int p = 0; p < n_kv; p++) {
            const uint8_t *vr = vc + (size_t)p * row + (size_t)kvh * head_bytes;
            float a = sc[p] / sum;
            if (kt->vec_mad) {
                kt->vec_mad(hd, o, a, vr);
            } else {
                kt->to_float(vr, tmp, hd);
                for (int i = 0; i < hd; i++) o[i] += a * tmp[i];
            }
        }
    }
}

/* Prefill over an f16 cache. A task is one KV head and a span of up to
 * ATT_SPAN tokens, taken from an atomic counter, latest span (the most
 * keys) first. The head's K rows are widened to f32 (n_kv, hd) and its V
 * rows widened and transposed (hd, n_ctx stride) as the span's blocks of
 * PK_ATT_TB tokens reach them, each key once per task; per block and query
 * head of the group two f32 GEMMs share them: scores = Q K^T (tokens x
 * keys), the causal softmax, out = P V. Keys past a token's position get
 * probability 0. Queries are rounded through f16 as att_task's dot
 * operands are, so that a batch gives the logits of one token at a time. */
enum { ATT_SPAN = 128 };

/* sc[0..lim) <- softmax(scale * sc), sc[lim..n) <- 0. The maximum of the
 * unscaled scores times scale is the maximum of the scaled ones (scale > 0,
 * rounding is monotonic); four running maxima break the compare chain. */
static void softmax_row(float *sc, int lim, int n, float scale) {
    float m4[4] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY }, sum = 0;
    int p = 0;
    for (; p + 4 <= lim; p += 4)
        for (int i = 0; i < 4; i++) m4[i] = PK_MAX(m4[i], sc[p + i]);
    for (; p < lim; p++) m4[0] = PK_MAX(m4[0], sc[p]);
    float mx = PK_MAX(PK_MAX(m4[0], m4[1]), PK_MAX(m4[2], m4[3])) * scale;
    for (p = 0; p < lim; p++) {
        sc[p] = expf(sc[p] * scale - mx);
        sum += sc[p];
    }
    float inv = 1.0f / sum;
    for (p = 0; p < lim; p++) sc[p] *= inv;
    for (; p < n; p++) sc[p] = 0;
}

static void att_prefill_task(void *arg, int ith, int nth) {
    (void)nth;
    att_job *j = arg;
    pk_ctx *c = j->c;
    const pk_hparams *h = &c->model->hp;
    int hd = h->head_dim, qd = h->n_head * hd, group = h->n_head / h->n_kv_head;
    int n_span = (j->n + ATT_SPAN - 1) / ATT_SPAN, n_tasks = n_span * h->n_kv_head;
    size_t row = c->kv_row, n_ctx = (size_t)c->n_ctx, head_bytes = (size_t)hd * 2;
    const pk_qtraits *kt = pk_qtraits_of(PK_Q_F16);
    float *kf = c->att_kv + (size_t)ith * ((2 * (size_t)hd + PK_ATT_TB) * n_ctx + PK_ATT_TB * (size_t)hd);
    float *vt = kf + (size_t)hd * n_ctx;       /* (hd, n_ctx) */
    float *pr = vt + (size_t)hd * n_ctx;       /* (tokens, n_kv) */
    float *qr = pr + PK_ATT_TB * n_ctx;        /* (tokens, hd) */
    float *tmp = c->att_tmp + (size_t)ith * 2 * (size_t)hd;
    const uint8_t *kc = c->kv_k + (size_t)j->layer * n_ctx * row;
    const uint8_t *vc = c->kv_v + (size_t)j->layer * n_ctx * row;
    float scale = 1.0f / sqrtf((float)hd);
    for (int it; (it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < n_tasks;) {
        int task = n_tasks - 1 - it, kvh = task % h->n_kv_head;
        int s0 = task / h->n_kv_head * ATT_SPAN, s1 = PK_MIN(j->n, s0 + ATT_SPAN), have = 0;
        for (int t0 = s0; t0 < s1; t0 += PK_ATT_TB) {
            int tn = PK_MIN(PK_ATT_TB, s1 - t0), n_kv = c->n_past + t0 + tn;
            size_t nk = (size_t)n_kv;
            for (; have < n_kv; have++) {
                size_t off = (size_t)have * row + (size_t)kvh * head_bytes;
                kt->to_float(kc + off, kf + (size_t)have * (size_t)hd, hd);
                kt->to_float(vc + off, tmp, hd);
                for (int i = 0; i < hd; i++) vt[(size_t)i * n_ctx + (size_t)have] = tmp[i];
            }
            for (int g = 0; g < group; g++) {
                int hh = kvh * group + g;
                size_t qo = (size_t)t0 * (size_t)qd + (size_t)hh * (size_t)hd;
                for (int t = 0; t < tn; t++) {
                    pk_qtraits_of(PK_Q_F16)->from_float(c->q + qo + (size_t)t * (size_t)qd, tmp, hd);
                    kt->to_float(tmp, qr + (size_t)t * (size_t)hd, hd);
                }
                pk_gemm(PK_Q_F32, hd, n_kv, tn, pr, nk, kf, sizeof(float) * (size_t)hd, qr,
                        sizeof(float) * (size_t)hd);
                for (int t = 0; t < tn; t++)
                    softmax_row(pr + (size_t)t * nk, c->n_past + t0 + t + 1, n_kv, scale);
                pk_gemm(PK_Q_F32, n_kv, hd, tn, c->att_out + qo, (size_t)qd, vt, sizeof(float) * n_ctx, pr,
                        sizeof(float) * nk);
            }
        }
    }
}

/* ---- imatrix collection hook ---- */

static void collect(pk_ctx *c, int il, const char *what, const float *x, int n, int64_t d) {
    if (!c->imatrix) return;
    char name[64];
    if (il >= 0) snprintf(name, sizeof(name), "blk.%d.%s.weight", il, what);
    else snprintf(name, sizeof(name), "%s.weight", what);
    pk_imatrix_entry *e = pk_imatrix_get(c->imatrix, name, d, true);
    if (!e) return;
    for (int t = 0; t < n; t++)
        for (int64_t i = 0; i < d; i++) e->sum2[i] += x[(size_t)t * (size_t)d + (size_t)i] * x[(size_t)t * (size_t)d + (size_t)i];
    e->count += (float)n;
}

/* ---- forward ---- */

pk_status pk_forward(pk_ctx *c, const int32_t *tokens, int n, bool all) {
    const pk_model *m = c->model;
    const pk_hparams *h = &m->hp;
    int d = h->n_embd, hd = h->head_dim, qd = h->n_head * hd, kvd = h->n_kv_head * hd, ff = h->n_ff;
    const pk_qtraits *et = pk_qtraits_of(m->tok_embd.type);
    for (int t = 0; t < n; t++)
        et->to_float((const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes,
                     c->x + (size_t)t * (size_t)d, d);
    rope_table(c, n);
    for (int il = 0; il < h->n_layer; il++) {
        const pk_layer *L = &m->layers[il];
        norm_batch(c, c->xn, c->x, L->attn_norm.data, n);
        if (L->wqkv.data) {
            collect(c, il, "attn_qkv", c->xn, n, d);
            pk_matmul(c, &L->wqkv, c->xn, c->hb, n);
            for (int t = 0; t < n; t++) {
                const float *r = c->hb + (size_t)t * (size_t)(qd + 2 * kvd);
                memcpy(c->q + (size_t)t * (size_t)qd, r, sizeof(float) * (size_t)qd);
                memcpy(c->k + (size_t)t * (size_t)kvd, r + qd, sizeof(float) * (size_t)kvd);
                memcpy(c->v + (size_t)t * (size_t)kvd, r + qd + kvd, sizeof(float) * (size_t)kvd);
            }
        } else {
            collect(c, il, "attn_q", c->xn, n, d);
            collect(c, il, "attn_k", c->xn, n, d);
            collect(c, il, "attn_v", c->xn, n, d);
            const pk_tensor *ws[3] = { &L->wq, &L->wk, &L->wv };
            float *ys[3] = { c->q, c->k, c->v };
            matmul_n(c, ws, ys, 3, c->xn, n);
            add_bias(c->q, &L->bq, n, qd, qd);
            add_bias(c->k, &L->bk, n, kvd, kvd);
            add_bias(c->v, &L->bv, n, kvd, kvd);
        }
        rope(c, c->q, n, h->n_head, qd);
        rope(c, c->k, n, h->n_kv_head, kvd);
        {
            size_t first = (size_t)il * (size_t)c->n_ctx + (size_t)c->n_past;
            ew_job kj = { .conv = pk_qtraits_of((pk_qtype)c->kv_type)->from_float, .kc = c->kv_k + first * c->kv_row,
                          .vc = c->kv_v + first * c->kv_row, .kv_row = c->kv_row, .k = c->k, .v = c->v, .d = kvd,
                          .n = n };
            pk_pool_run_n(c->pool, PK_MIN(n, ew_threads(c, (size_t)n * (size_t)kvd)), kv_task, &kj);
        }
        att_job aj = { .c = c, .layer = il, .n = n };
        atomic_init(&aj.next, 0);
        pk_pool_run(c->pool, n > 1 && c->kv_type == PK_Q_F16 ? att_prefill_task : att_task, &aj);
        collect(c, il, "attn_output", c->att_out, n, qd);
        pk_matmul(c, &L->wo, c->att_out, c->xn, n);
        add_batch(c, c->x, c->xn, (size_t)n * (size_t)d);

        norm_batch(c, c->xn, c->x, L->ffn_norm.data, n);
        if (m->arch == PK_ARCH_PHI3) {
            collect(c, il, "ffn_up", c->xn, n, d);
            pk_matmul(c, &L->w_up, c->xn, c->hb2, n); /* (n, 2 ff): gate | up */
            for (int t = 0; t < n; t++) {
                const float *g = c->hb2 + (size_t)t * 2 * (size_t)ff;
                float *o = c->hb + (size_t)t * (size_t)ff;
                memcpy(o, g, sizeof(float) * (size_t)ff);
                pk_silu_mul(o, g + ff, (size_t)ff);
            }
        } else {
            collect(c, il, "ffn_gate", c->xn, n, d);
            collect(c, il, "ffn_up", c->xn, n, d);
            const pk_tensor *ws[2] = { &L->w_gate, &L->w_up };
            float *ys[2] = { c->hb, c->hb2 };
            matmul_n(c, ws, ys, 2, c->xn, n);
            ew_job sj = { .o = c->hb, .u = c->hb2, .len = (size_t)n * (size_t)ff };
            pk_pool_run_n(c->pool, ew_threads(c, sj.len), swiglu_task, &sj);
        }
        collect(c, il, "ffn_down", c->hb, n, ff);
        pk_matmul(c, &L->w_down, c->hb, c->xn, n);
        add_batch(c, c->x, c->xn, (size_t)n * (size_t)d);
    }
    int first = all ? 0 : n - 1, nl = all ? n : 1;
    for (int t = 0; t < nl; t++)
        rmsnorm(c->xn + (size_t)t * (size_t)d, c->x + (size_t)(first + t) * (size_t)d, m->output_norm.data, d,
                h->rms_eps);
    collect(c, -1, "output", c->xn, nl, d);
    pk_matmul(c, &m->output, c->xn, c->logits, nl);
    c->n_logits = nl;
    c->n_past += n;
    return PK_OK;
}
