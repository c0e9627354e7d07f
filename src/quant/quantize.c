/* quantize.c: the model quantizer behind `pocket quantize`. It plans a type
 * per tensor (a named recipe, or a size budget filled greedily by the best
 * error reduction per byte, errors measured by quantizing a sample of each
 * tensor's rows weighted by the importance matrix) and then streams the
 * output GGUF: each tensor is converted and quantized while the writer asks
 * for it, so only one tensor's output is in memory at a time, and each
 * source tensor's pages of the mapped input are released once it is done. */
#define _GNU_SOURCE /* madvise */
#include "quant/quantize.h"
#include "quant/quant_refine.h"
#include "quant/quant_sens.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- row quantization over the pool ---- */

typedef struct rows_job {
    pk_qtype t;
    const float *src;
    uint8_t *dst;
    int64_t n_rows, n_per_row;
    const float *imatrix;
    size_t row_bytes;
    pk_quantize_fn fn;      /* refined quantizer or NULL */
} rows_job;

/* The quantizer of type t: the refined one when asked and available, else
 * the reference imatrix-aware one; NULL means from_float row by row. */
static pk_quantize_fn quantizer_of(pk_qtype t, bool refine) {
    pk_quantize_fn fn = refine ? pk_refine_fn(t) : NULL;
    return fn ? fn : pk_qtraits_of(t)->quantize;
}

static void rows_task(void *arg, int ith, int nth) {
    rows_job *j = arg;
    const pk_qtraits *q = pk_qtraits_of(j->t);
    int64_t r0 = j->n_rows * ith / nth, r1 = j->n_rows * (ith + 1) / nth;
    if (r1 <= r0) return;
    const float *src = j->src + r0 * j->n_per_row;
    uint8_t *dst = j->dst + (size_t)r0 * j->row_bytes;
    if (j->fn) {
        j->fn(src, dst, r1 - r0, j->n_per_row, j->imatrix);
    } else {
        for (int64_t r = r0; r < r1; r++, src += j->n_per_row, dst += j->row_bytes)
            q->from_float(src, dst, j->n_per_row);
    }
}

size_t pk_quantize_rows(pk_pool *pool, pk_qtype t, const float *src, void *dst,
                        int64_t n_rows, int64_t n_per_row, const float *imatrix, bool refine) {
    const pk_qtraits *q = pk_qtraits_of(t);
    size_t row_bytes = pk_row_size(t, n_per_row);
    if (!q || !row_bytes || (!q->quantize && !q->from_float)) {
        pk_err(PK_ERR_UNSUPPORTED, "cannot quantize rows of %lld to %s",
               (long long)n_per_row, pk_qtype_name(t));
        return 0;
    }
    rows_job j = { t, src, dst, n_rows, n_per_row, imatrix, row_bytes, quantizer_of(t, refine) };
    /* small jobs on one thread: the pool's wake-up costs more than it saves */
    int nth = n_rows * n_per_row < 65536 ? 1 : pk_pool_size(pool);
    pk_pool_run_n(pool, (int)PK_MIN(nth, PK_MAX(n_rows, 1)), rows_task, &j);
    return row_bytes * (size_t)n_rows;
}

typedef struct err_job {
    pk_qtype t;
    const float *rows;
    int64_t n_rows, n_per_row;
    const float *imatrix;
    pk_quantize_fn fn;
    uint8_t *qbuf;    /* (nth, row_bytes) */
    float *deq;       /* (nth, n_per_row) */
    double num[64], den[64];
    bool fail;
} err_job;

static void err_task(void *arg, int ith, int nth) {
    err_job *j = arg;
    const pk_qtraits *q = pk_qtraits_of(j->t);
    size_t rb = pk_row_size(j->t, j->n_per_row);
    uint8_t *qb = j->qbuf + (size_t)ith * rb;
    float *dq = j->deq + (size_t)ith * j->n_per_row;
    double num = 0, den = 0;
    for (int64_t r = ith; r < j->n_rows; r += nth) {
        const float *x = j->rows + r * j->n_per_row;
        if (j->fn) j->fn(x, qb, 1, j->n_per_row, j->imatrix);
        else q->from_float(x, qb, j->n_per_row);
        q->to_float(qb, dq, j->n_per_row);
        for (int64_t c = 0; c < j->n_per_row; c++) {
            double w = j->imatrix ? j->imatrix[c] : 1.0;
            double d = (double)x[c] - dq[c];
            num += w * d * d;
            den += w * (double)x[c] * x[c];
        }
    }
    j->num[ith] = num;
    j->den[ith] = den;
}

double pk_quant_rel_error(pk_pool *pool, pk_qtype t, const float *rows,
                          int64_t n_rows, int64_t n_per_row,
                          const float *imatrix, bool refine) {
    const pk_qtraits *q = pk_qtraits_of(t);
    size_t rb = pk_row_size(t, n_per_row);
    if (!q || !rb || !q->to_float || (!q->quantize && !q->from_float)) {
        pk_err(PK_ERR_UNSUPPORTED, "no quantizer for %s rows of %lld",
               pk_qtype_name(t), (long long)n_per_row);
        return -1;
    }
    int nth = PK_MIN(pk_pool_size(pool), 64);
    err_job *j = pk_calloc(1, sizeof(*j));
    if (!j) return -1;
    j->t = t;
    j->rows = rows;
    j->n_rows = n_rows;
    j->n_per_row = n_per_row;
    j->imatrix = imatrix;
    j->fn = quantizer_of(t, refine);
    j->qbuf = pk_malloc(rb * (size_t)nth);
    j->deq = pk_malloc(sizeof(float) * (size_t)n_per_row * (size_t)nth);
    double res = -1;
    if (j->qbuf && j->deq) {
        pk_pool_run_n(pool, nth, err_task, j);
        double num = 0, den = 0;
        for (int i = 0; i < nth; i++) {
            num += j->num[i];
            den += j->den[i];
        }
        res = den > 0 ? num / den : 0;
    }
    pk_free(j->qbuf);
    pk_free(j->deq);
    pk_free(j);
    return res;
}

/* ---- recipes ---- */

pk_quantize_params pk_quantize_default_params(void) {
    return (pk_quantize_params){ .type = "Q4_K_M" };
}

typedef enum { MIX_NONE, MIX_Q3_K_M, MIX_Q4_K_S, MIX_Q4_K_M, MIX_Q5_K_S, MIX_Q5_K_M } mix_kind;

static const struct {
    const char *name;
    mix_kind mix;
    pk_qtype base;
    int ftype; /* llama.cpp's general.file_type number */
} RECIPES[] = {
    { "F32", MIX_NONE, PK_Q_F32, 0 },      { "F16", MIX_NONE, PK_Q_F16, 1 },
    { "BF16", MIX_NONE, PK_Q_BF16, 32 },   { "Q4_0", MIX_NONE, PK_Q_Q4_0, 2 },
    { "Q4_1", MIX_NONE, PK_Q_Q4_1, 3 },    { "Q8_0", MIX_NONE, PK_Q_Q8_0, 7 },
    { "Q5_0", MIX_NONE, PK_Q_Q5_0, 8 },    { "Q5_1", MIX_NONE, PK_Q_Q5_1, 9 },
    { "Q2_K", MIX_NONE, PK_Q_Q2_K, 10 },   { "Q3_K", MIX_Q3_K_M, PK_Q_Q3_K, 12 },
    { "Q3_K_M", MIX_Q3_K_M, PK_Q_Q3_K, 12 }, { "Q4_K_S", MIX_Q4_K_S, PK_Q_Q4_K, 14 },
    { "Q4_K", MIX_Q4_K_M, PK_Q_Q4_K, 15 }, { "Q4_K_M", MIX_Q4_K_M, PK_Q_Q4_K, 15 },
    { "Q5_K_S", MIX_Q5_K_S, PK_Q_Q5_K, 16 }, { "Q5_K", MIX_Q5_K_M, PK_Q_Q5_K, 17 },
    { "Q5_K_M", MIX_Q5_K_M, PK_Q_Q5_K, 17 }, { "Q6_K", MIX_NONE, PK_Q_Q6_K, 18 },
    { "IQ4_NL", MIX_NONE, PK_Q_IQ4_NL, 25 }, { "IQ4_XS", MIX_NONE, PK_Q_IQ4_XS, 30 },
};

static int find_recipe(const char *name) {
    for (size_t i = 0; i < PK_ARRAY_LEN(RECIPES); i++)
        if (!strcasecmp(name, RECIPES[i].name)) return (int)i;
    return -1;
}

/* Layers that get more bits in llama.cpp-style mixes: the first and last
 * eighth and every third layer between. */
static bool more_bits_layer(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool name_has(const char *name, const char *part) { return strstr(name, part) != NULL; }

static int layer_of(const char *name) {
    int l = -1;
    if (sscanf(name, "blk.%d.", &l) != 1) return -1;
    return l;
}

/* A type that fits rows of ne0 elements: k-quants need multiples of 256,
 * the simple quants 32; fall back to the nearest one that fits. */
static pk_qtype fit_type(pk_qtype t, int64_t ne0) {
    if (pk_row_size(t, ne0)) return t;
    switch (t) {
    case PK_Q_Q2_K: case PK_Q_Q3_K: case PK_Q_IQ4_XS: t = PK_Q_IQ4_NL; break;
    case PK_Q_Q4_K: t = PK_Q_Q5_0; break;
    case PK_Q_Q5_K: t = PK_Q_Q5_1; break;
    case PK_Q_Q6_K: t = PK_Q_Q8_0; break;
    default: t = PK_Q_F16; break;
    }
    return pk_row_size(t, ne0) ? t : PK_Q_F16;
}

/* With tied embeddings (no output.weight) token_embd is also the output
 * matrix: it is treated as the output (llama.cpp does the same). */
static bool is_output(const char *name, bool tied) {
    return !strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight"));
}

static pk_qtype recipe_type(int r, const char *name, int n_layer, int64_t ne0, bool tied) {
    pk_qtype base = RECIPES[r].base;
    mix_kind mix = RECIPES[r].mix;
    bool kq = base == PK_Q_Q2_K || base == PK_Q_Q3_K || base == PK_Q_Q4_K ||
              base == PK_Q_Q5_K || base == PK_Q_IQ4_XS || base == PK_Q_IQ4_NL;
    pk_qtype t = base;
    int il = layer_of(name);
    if (is_output(name, tied)) {
        if (kq || base == PK_Q_Q4_0 || base == PK_Q_Q4_1 || base == PK_Q_Q5_0 ||
            base == PK_Q_Q5_1)
            t = PK_Q_Q6_K;
    } else if (name_has(name, "attn_v.weight") || name_has(name, "ffn_down.weight")) {
        bool v = name_has(name, "attn_v");
        switch (mix) {
        case MIX_Q3_K_M: t = il >= 0 && il < 2 ? PK_Q_Q5_K : PK_Q_Q4_K; break;
        case MIX_Q4_K_S: t = il >= 0 && il < (v ? 4 : n_layer / 8) ? PK_Q_Q5_K : PK_Q_Q4_K; break;
        case MIX_Q4_K_M:
        case MIX_Q5_K_M: t = il >= 0 && more_bits_layer(il, n_layer) ? PK_Q_Q6_K : base; break;
        case MIX_Q5_K_S: t = PK_Q_Q5_K; break;
        default: break;
        }
    } else if (name_has(name, "attn_output.weight") && mix == MIX_Q3_K_M) {
        t = PK_Q_Q4_K;
    }
    return fit_type(t, ne0);
}

/* ---- plan ---- */

/* candidate types of the budget search, cheapest first */
static const pk_qtype LADDER_K[] = { PK_Q_Q2_K, PK_Q_Q3_K, PK_Q_IQ4_XS, PK_Q_Q4_K,
                                     PK_Q_Q5_K, PK_Q_Q6_K, PK_Q_Q8_0 };
static const pk_qtype LADDER_32[] = { PK_Q_IQ4_NL, PK_Q_Q5_0, PK_Q_Q8_0 };
enum { MAX_CAND = 7, SAMPLE_ROWS = 256 };

typedef struct qtensor {
    const pk_gguf_tensor *src;
    char name[256];
    bool weight;            /* a 2-D matrix whose type is chosen */
    pk_qtype out;
    float *imat;            /* (ne0) mean squared activation, or NULL */
    int n_cand;
    pk_qtype cand[MAX_CAND];
    double err[MAX_CAND];   /* relative weighted error per candidate */
    int pick;               /* index into cand during the budget search */
    double lambda;          /* output loss per unit of relative error, or a
                               role weight (then scaled by the element count) */
    double kld;             /* measured KLD at the probe type, or -1 */
} qtensor;

typedef struct qstate {
    pk_gguf *in;
    qtensor *t;             /* (n) */
    uint64_t n;
    pk_pool *pool;
    const pk_quantize_params *p;
    int index;              /* tensors written so far */
    float *fbuf;            /* scratch floats for conversion */
    size_t fbuf_n;
    bool measured;          /* lambdas are measured KLD per unit error */
} qstate;

static uint64_t n_elems(const pk_gguf_tensor *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= t->ne[d];
    return n;
}

static uint64_t tensor_bytes(const qtensor *q, pk_qtype type) {
    return pk_row_size(type, (int64_t)q->src->ne[0]) * (n_elems(q->src) / q->src->ne[0]);
}

/* Default sensitivities by role: noise in the logits and in the tensors that
 * write to the residual stream (attn_v through attn_output, ffn_down) moves
 * the output most; q and k pass through a softmax that damps it; an
 * embedding row error touches one token. */
static double role_lambda(const char *name, bool tied) {
    if (is_output(name, tied)) return 4.0;
    if (name_has(name, "attn_v.") || name_has(name, "ffn_down.")) return 2.0;
    if (name_has(name, "attn_q.") || name_has(name, "attn_k.")) return 0.5;
    if (name_has(name, "token_embd.")) return 0.5;
    return 1.0;
}

/* Release the pages of [p, p + n) of the read-only input mapping from this
 * process (they stay in the page cache and fault back in if read again), so
 * the resident size stays near one tensor instead of growing to the input
 * file's size. Pages shared with a neighbouring tensor are simply re-read. */
static void drop_pages(const void *p, size_t n) {
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0 || !n) return;
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(ps - 1), e = (uintptr_t)p + n;
    madvise((void *)a, e - a, MADV_DONTNEED); /* advice only: failure is harmless */
}

static pk_status ensure_fbuf(qstate *s, size_t n) {
    if (s->fbuf_n >= n) return PK_OK;
    float *b = pk_realloc(s->fbuf, n * sizeof(float));
    if (!b) return PK_ERR_NOMEM;
    s->fbuf = b;
    s->fbuf_n = n;
    return PK_OK;
}

/* Convert rows [r0, r0 + n) of a source tensor to float into dst. */
static pk_status rows_to_float(const qtensor *q, int64_t r0, int64_t n, float *dst) {
    const pk_qtraits *tr = pk_qtraits_of(q->src->type);
    int64_t ne0 = (int64_t)q->src->ne[0];
    size_t rb = pk_row_size(q->src->type, ne0);
    if (!tr || !tr->to_float)
        return pk_err(PK_ERR_UNSUPPORTED, "tensor %s: cannot read type %s", q->name,
                      pk_qtype_name(q->src->type));
    const uint8_t *base = (const uint8_t *)q->src->data + (size_t)r0 * rb;
    for (int64_t r = 0; r < n; r++) tr->to_float(base + (size_t)r * rb, dst + r * ne0, ne0);
    return PK_OK;
}

static pk_status measure_errors(qstate *s, qtensor *q) {
    int64_t ne0 = (int64_t)q->src->ne[0];
    int64_t rows = (int64_t)(n_elems(q->src) / (uint64_t)ne0);
    int64_t ns = PK_MIN(rows, SAMPLE_ROWS);
    pk_status st = ensure_fbuf(s, (size_t)(ns * ne0));
    if (st) return st;
    for (int64_t i = 0; i < ns; i++) {
        int64_t r = i * rows / ns;
        if ((st = rows_to_float(q, r, 1, s->fbuf + i * ne0))) return st;
    }
    if (s->in->map.owned == NULL) drop_pages(q->src->data, q->src->n_bytes);
    for (int c = 0; c < q->n_cand; c++) {
        double e = pk_quant_rel_error(s->pool, q->cand[c], s->fbuf, ns, ne0, q->imat,
                                      !s->p->reference);
        if (e < 0) {
            pk_err_prefix("tensor %s", q->name);
            return PK_ERR_UNSUPPORTED;
        }
        q->err[c] = e;
    }
    return PK_OK;
}

/* Greedy budget fill: repeatedly take the upgrade with the largest weighted
 * error reduction per added byte that still fits. Looking past the next
 * candidate handles ladders whose errors are not convex in bytes. */
static pk_status plan_budget(qstate *s, uint64_t budget, uint64_t fixed) {
    uint64_t total = fixed;
    for (uint64_t i = 0; i < s->n; i++) {
        qtensor *q = &s->t[i];
        if (!q->weight) {
            total += tensor_bytes(q, q->out);
            continue;
        }
        q->pick = 0;
        total += tensor_bytes(q, q->cand[0]);
    }
    if (total > budget)
        return pk_err(PK_ERR_RANGE,
                      "target of %llu bytes is below the smallest file these tensors "
                      "allow (%llu bytes)", (unsigned long long)budget,
                      (unsigned long long)total);
    for (;;) {
        double best = 0;
        qtensor *bq = NULL;
        int bc = -1;
        uint64_t bd = 0;
        for (uint64_t i = 0; i < s->n; i++) {
            qtensor *q = &s->t[i];
            if (!q->weight) continue;
            uint64_t cur = tensor_bytes(q, q->cand[q->pick]);
            for (int c = q->pick + 1; c < q->n_cand; c++) {
                uint64_t nb = tensor_bytes(q, q->cand[c]);
                if (nb <= cur || total - cur + nb > budget) continue;
                double gain = q->lambda * (q->err[q->pick] - q->err[c]) *
                              (s->measured ? 1.0 : (double)n_elems(q->src));
                double rate = gain / (double)(nb - cur);
                if (gain > 0 && rate > best) {
                    best = rate;
                    bq = q;
                    bc = c;
                    bd = nb - cur;
                }
            }
        }
        if (!bq) break;
        bq->pick = bc;
        total += bd;
    }
    for (uint64_t i = 0; i < s->n; i++)
        if (s->t[i].weight) s->t[i].out = s->t[i].cand[s->t[i].pick];
    return PK_OK;
}

/* ---- measured sensitivity ---- */

/* The probe type: the candidate nearest 3.5 bits per weight (q3_K on the
 * k-quant ladder), where the output loss is large enough to measure and
 * still in the regime the budget picks from. */
static int probe_index(const qtensor *q) {
    int best = 0;
    double bd = 1e9;
    for (int c = 0; c < q->n_cand; c++) {
        const pk_qtraits *t = pk_qtraits_of(q->cand[c]);
        double d = fabs(t->bytes * 8.0 / t->blck - 3.5);
        if (d < bd) {
            bd = d;
            best = c;
        }
    }
    return best;
}

static void read_sens_cache(qstate *s, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512], name[300], type[32];
    double kld;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%299s %lf %31s", name, &kld, type) != 3) continue;
        for (uint64_t i = 0; i < s->n; i++) {
            qtensor *q = &s->t[i];
            if (q->weight && !strcmp(q->name, name) &&
                !strcasecmp(pk_qtype_name(q->cand[probe_index(q)]), type))
                q->kld = kld;
        }
    }
    fclose(f);
}

static pk_status write_sens_cache(const qstate *s, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return pk_err(PK_ERR_IO, "cannot write sensitivity file %s", path);
    fprintf(f, "# pocket quantize: tensor, mean KLD with only it quantized, probe type\n");
    for (uint64_t i = 0; i < s->n; i++) {
        const qtensor *q = &s->t[i];
        if (q->weight && q->kld >= 0)
            fprintf(f, "%s %.9e %s\n", q->name, q->kld, pk_qtype_name(q->cand[probe_index(q)]));
    }
    return fclose(f) ? pk_err(PK_ERR_IO, "cannot write sensitivity file %s", path) : PK_OK;
}

/* lambda = KLD at the probe type / relative error at the probe type: the
 * loss of each candidate is then estimated as lambda * its error. */
static pk_status measure_sensitivity(qstate *s, const char *in_path, const char *keep_type) {
    const pk_quantize_params *p = s->p;
    pk_sens *ps = NULL;
    pk_status st = PK_OK;
    int n_weight = 0, done = 0, probed = 0;
    for (uint64_t i = 0; i < s->n; i++) {
        s->t[i].kld = -1;
        n_weight += s->t[i].weight;
    }
    if (p->sens_cache) read_sens_cache(s, p->sens_cache);
    for (uint64_t i = 0; i < s->n; i++) {
        qtensor *q = &s->t[i];
        if (!q->weight) continue;
        done++;
        int pc = probe_index(q);
        if (q->kld < 0) {
            if (!ps && (st = pk_sens_new(in_path, keep_type, p->calib, p->calib_chunks, p, &ps)))
                goto out;
            if ((st = pk_sens_probe(ps, q->name, q->cand[pc], &q->kld))) goto out;
            probed++;
            pk_log(PK_LOG_INFO, "sensitivity [%d/%d] %s: KLD %.3e at %s (rel err %.3e)", done,
                   n_weight, q->name, q->kld, pk_qtype_name(q->cand[pc]), q->err[pc]);
        }
        q->lambda = q->err[pc] > 0 ? PK_MAX(q->kld, 1e-12) / q->err[pc] : 0;
    }
    s->measured = true;
    if (p->sens_cache && probed) st = write_sens_cache(s, p->sens_cache);
out:
    pk_sens_free(ps);
    return st;
}

static int keep_override(const pk_quantize_params *p, const char *name, pk_qtype *t) {
    if (!p->keep) return 0;
    for (const char *const *k = p->keep; *k; k++) {
        const char *eq = strrchr(*k, '=');
        if (!eq || eq == *k)
            return pk_err(PK_ERR_INVALID, "--keep '%s': expected NAME=TYPE", *k);
        char pat[256];
        size_t pl = (size_t)(eq - *k);
        if (pl >= sizeof(pat)) return pk_err(PK_ERR_INVALID, "--keep '%s': name too long", *k);
        memcpy(pat, *k, pl);
        pat[pl] = 0;
        int ty = pk_qtype_from_name(eq + 1);
        if (ty < 0) return pk_err(PK_ERR_INVALID, "--keep '%s': unknown type '%s'", *k, eq + 1);
        if (pat[0] == '^' ? !strcmp(name, pat + 1) : strstr(name, pat) != NULL) {
            *t = (pk_qtype)ty;
            return 1;
        }
    }
    return 0;
}

/* ---- write ---- */

typedef struct tensor_cb {
    qstate *s;
    qtensor *q;
} tensor_cb;

static pk_status produce_tensor(void *user, void *out, uint64_t n_bytes) {
    tensor_cb *cb = user;
    qstate *s = cb->s;
    qtensor *q = cb->q;
    int64_t ne0 = (int64_t)q->src->ne[0];
    int64_t rows = (int64_t)(n_elems(q->src) / (uint64_t)ne0);
    double err = -1;
    if (q->out == q->src->type) {
        memcpy(out, q->src->data, n_bytes);
    } else {
        size_t rb = pk_row_size(q->out, ne0);
        int64_t chunk = PK_MAX(1, (int64_t)(4u << 20) / ne0); /* ~16 MB of floats */
        pk_status st = ensure_fbuf(s, (size_t)(PK_MIN(chunk, rows) * ne0));
        if (st) return st;
        double num = 0, den = 0;
        for (int64_t r = 0; r < rows; r += chunk) {
            int64_t n = PK_MIN(chunk, rows - r);
            if ((st = rows_to_float(q, r, n, s->fbuf))) return st;
            uint8_t *dst = (uint8_t *)out + (size_t)r * rb;
            if (!pk_quantize_rows(s->pool, q->out, s->fbuf, dst, n, ne0, q->imat,
                                  !s->p->reference)) {
                pk_err_prefix("tensor %s", q->name);
                return PK_ERR_UNSUPPORTED;
            }
            if (q->weight && r == 0) {
                /* report the error measured on the first chunk's rows */
                const pk_qtraits *tr = pk_qtraits_of(q->out);
                int64_t m = PK_MIN(n, 16);
                float *deq = pk_malloc(sizeof(float) * (size_t)ne0);
                if (!deq) return PK_ERR_NOMEM;
                for (int64_t i = 0; i < m; i++) {
                    tr->to_float(dst + (size_t)i * rb, deq, ne0);
                    for (int64_t c = 0; c < ne0; c++) {
                        double w = q->imat ? q->imat[c] : 1.0;
                        double x = s->fbuf[i * ne0 + c], d = x - deq[c];
                        num += w * d * d;
                        den += w * x * x;
                    }
                }
                pk_free(deq);
            }
        }
        if (den > 0) err = num / den;
    }
    if (s->in->map.owned == NULL) drop_pages(q->src->data, q->src->n_bytes);
    s->index++;
    if (s->p->report) {
        pk_quantize_report r = {
            .name = q->name, .index = s->index, .count = (int)s->n,
            .type_in = pk_qtype_name(q->src->type), .type_out = pk_qtype_name(q->out),
            .n_elements = n_elems(q->src), .bytes_in = q->src->n_bytes,
            .bytes_out = n_bytes, .rel_error = err,
        };
        s->p->report(s->p->user, &r);
    }
    return PK_OK;
}

/* ---- entry ---- */

static int parse_arch_layers(const pk_gguf *g) {
    pk_gguf_str arch;
    if (pk_gguf_get_str(g, "general.architecture", &arch)) return 0;
    char key[128];
    snprintf(key, sizeof(key), "%.*s.block_count", (int)PK_MIN(arch.len, 100), arch.ptr);
    uint32_t n = 0;
    return pk_gguf_get_u32(g, key, &n) == PK_OK ? (int)n : 0;
}

pk_status pk_quantize_model(const char *in_path, const char *out_path,
                            const pk_quantize_params *p, pk_quantize_summary *sum) {
    pk_gguf_writer *w = NULL;
    pk_imatrix *im = NULL;
    tensor_cb *cbs = NULL;
    qstate s = { 0 };
    s.p = p;
    pk_status st;
    int recipe = -1;
    if (sum) memset(sum, 0, sizeof(*sum));
    if (!p->target_bytes && p->target_bpw <= 0) {
        if (!p->type)
            return pk_err(PK_ERR_INVALID, "quantize: give a type, a target size or a bpw");
        if ((recipe = find_recipe(p->type)) < 0)
            return pk_err(PK_ERR_INVALID, "quantize: unknown type '%s'", p->type);
    }
    if ((st = pk_gguf_open(in_path, true, &s.in))) return st;
    if ((st = pk_pool_new(p->n_threads, &s.pool))) goto fail;
    if (p->imatrix && (st = pk_imatrix_load(p->imatrix, &im))) goto fail;
    s.n = s.in->n_tensors;
    if (!(s.t = pk_calloc(s.n ? s.n : 1, sizeof(qtensor))) ||
        !(cbs = pk_calloc(s.n ? s.n : 1, sizeof(tensor_cb)))) {
        st = PK_ERR_NOMEM;
        goto fail;
    }
    int n_layer = parse_arch_layers(s.in);
    bool tied = pk_gguf_tensor_find(s.in, "output.weight") == NULL;
    bool warned_q8 = false;
    const char *src_recipe = NULL; /* recipe that keeps the weights as they are */
    uint64_t n_params = 0, fixed = 0;

    for (uint64_t i = 0; i < s.n; i++) {
        qtensor *q = &s.t[i];
        q->src = &s.in->tensors[i];
        snprintf(q->name, sizeof(q->name), "%.*s", (int)PK_MIN(q->src->name.len, 255),
                 q->src->name.ptr);
        q->out = q->src->type;
        n_params += n_elems(q->src);
        pk_qtype src = q->src->type;
        bool floaty = src == PK_Q_F32 || src == PK_Q_F16 || src == PK_Q_BF16;
        if (!floaty && src != PK_Q_Q8_0) {
            st = pk_err(PK_ERR_UNSUPPORTED,
                        "tensor %s is %s: quantize from an F32, F16 or BF16 model "
                        "(or Q8_0)", q->name, pk_qtype_name(src));
            goto fail;
        }
        if (q->src->n_dims < 2 || !strstr(q->name, ".weight") ||
            q->src->ne[1] == 1) {
            if (src != PK_Q_F32 && src != PK_Q_F16) q->out = PK_Q_F32;
            continue; /* norms, biases, rope_freqs stay as they are */
        }
        if (!src_recipe) src_recipe = pk_qtype_name(src);
        if (src == PK_Q_Q8_0 && !warned_q8) {
            pk_log(PK_LOG_WARN, "%s: requantizing from Q8_0 adds the Q8_0 error to the new one",
                   in_path);
            warned_q8 = true;
        }
        int64_t ne0 = (int64_t)q->src->ne[0];
        pk_qtype forced = PK_Q_F32;
        int k = keep_override(p, q->name, &forced);
        if (k < 0) {
            st = (pk_status)k;
            goto fail;
        }
        if (im) {
            q->imat = pk_malloc(sizeof(float) * (size_t)ne0);
            if (!q->imat) {
                st = PK_ERR_NOMEM;
                goto fail;
            }
            /* tied embeddings: the output matmul's statistics belong to
             * token_embd (pocket imatrix files them as output.weight) */
            bool found = pk_imatrix_weights(im, q->name, ne0, q->imat) ||
                         (tied && !strcmp(q->name, "token_embd.weight") &&
                          pk_imatrix_weights(im, "output.weight", ne0, q->imat));
            if (!found) {
                pk_free(q->imat);
                q->imat = NULL;
                if (strcmp(q->name, "token_embd.weight") != 0)
                    pk_log(PK_LOG_WARN, "imatrix has no data for %s", q->name);
            }
        }
        if (k == 1) {
            if (!pk_row_size(forced, ne0)) {
                st = pk_err(PK_ERR_INVALID, "--keep: %s rows of %lld do not fit type %s",
                            q->name, (long long)ne0, pk_qtype_name(forced));
                goto fail;
            }
            q->out = forced;
            continue;
        }
        if (recipe >= 0) {
            q->out = recipe_type(recipe, q->name, n_layer, ne0, tied);
            continue;
        }
        q->weight = true;
        q->lambda = role_lambda(q->name, tied);
        const pk_qtype *lad = ne0 % PK_QK_K == 0 ? LADDER_K : LADDER_32;
        int nl = ne0 % PK_QK_K == 0 ? (int)PK_ARRAY_LEN(LADDER_K) : (int)PK_ARRAY_LEN(LADDER_32);
        for (int c = 0; c < nl; c++)
            if (pk_row_size(lad[c], ne0)) q->cand[q->n_cand++] = lad[c];
        if (!q->n_cand) {
            q->weight = false;
            q->out = PK_Q_F16;
        }
    }

    if (recipe < 0) {
        /* header, metadata and tensor infos barely change; padding is at most
         * one alignment per tensor; two new keys */
        fixed = s.in->data_offset + s.n * s.in->alignment + 4096;
        uint64_t budget = p->target_bytes;
        if (!budget) budget = (uint64_t)(p->target_bpw * (double)n_params / 8.0);
        for (uint64_t i = 0; i < s.n; i++)
            if (s.t[i].weight && (st = measure_errors(&s, &s.t[i]))) goto fail;
        if (p->calib && src_recipe && (st = measure_sensitivity(&s, in_path, src_recipe)))
            goto fail;
        if ((st = plan_budget(&s, budget, fixed))) goto fail;
    }

    if ((st = pk_gguf_writer_new((uint32_t)s.in->alignment, &w))) goto fail;
    for (uint64_t i = 0; i < s.in->n_kv; i++) {
        const pk_gguf_kv *kv = &s.in->kv[i];
        if (pk_gguf_str_eq(kv->key, "general.file_type") ||
            pk_gguf_str_eq(kv->key, "general.quantization_version"))
            continue;
        if ((st = pk_gguf_copy_kv(w, kv))) goto fail;
    }
    /* llama.cpp's file type: the recipe's, or "guessed" (1024) for a budget mix */
    if ((st = pk_gguf_set_u32(w, "general.file_type",
                              recipe >= 0 ? (uint32_t)RECIPES[recipe].ftype : 1024u)) ||
        (st = pk_gguf_set_u32(w, "general.quantization_version", 2)))
        goto fail;
    for (uint64_t i = 0; i < s.n; i++) {
        qtensor *q = &s.t[i];
        cbs[i] = (tensor_cb){ &s, q };
        if ((st = pk_gguf_add_tensor(w, q->name, q->out, q->src->n_dims, q->src->ne, NULL,
                                     produce_tensor, &cbs[i])))
            goto fail;
    }
    if ((st = pk_gguf_writer_finish(w, out_path))) goto fail;
    if (sum) {
        struct stat sb;
        if (stat(out_path, &sb) == 0) sum->file_bytes = (uint64_t)sb.st_size;
        sum->n_params = n_params;
        sum->bpw = n_params ? (double)sum->file_bytes * 8.0 / (double)n_params : 0;
    }
fail:
    if (s.t)
        for (uint64_t i = 0; i < s.n; i++) pk_free(s.t[i].imat);
    pk_free(s.t);
    pk_free(cbs);
    pk_free(s.fbuf);
    pk_gguf_writer_free(w);
    pk_imatrix_free(im);
    pk_pool_free(s.pool);
    pk_gguf_close(s.in);
    return st;
}
