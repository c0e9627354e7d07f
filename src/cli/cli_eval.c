/* cli_eval.c: `pocket perplexity` and `pocket imatrix`: the measuring
 * stick of the quantizer and the calibration statistics it uses. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ppl_progress(void *user, int chunk, int n, double ppl) {
    (void)user;
    fprintf(stderr, "\r[%d/%d] ppl %.4f", chunk, n, ppl);
    if (chunk == n) fputc('\n', stderr);
}

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    pk_ppl_params p = pk_ppl_default_params();
    pk_model_params mp = pk_model_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: pocket perplexity -m MODEL -f TEXT [--ctx N] [--chunks N] [-t N] [--kv-type f16|q8_0]\n"
                   "                         [--save-logits FILE [--top-k K] | --kld-base FILE]\n"
                   "  perplexity over windows of N tokens (default 512; the second half of each\n"
                   "  window is scored); --save-logits keeps this model's top-K log-probs per\n"
                   "  scored token (default K 64); --kld-base compares with such a file: mean,\n"
                   "  99th percentile and max KL divergence and the share of equal argmax\n");
            return 0;
        }
        if (!v) {
            fprintf(stderr, "pocket perplexity: '%s' needs a value or is unknown\n", a);
            return 2;
        }
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "-f")) file = v;
        else if (!strcmp(a, "--ctx")) p.n_ctx = atoi(v);
        else if (!strcmp(a, "--chunks")) p.max_chunks = atoi(v);
        else if (!strcmp(a, "-t")) mp.n_threads = p.n_threads = atoi(v);
        else if (!strcmp(a, "--top-k")) p.top_k = atoi(v);
        else if (!strcmp(a, "--kv-type")) p.kv_type = v;
        else if (!strcmp(a, "--save-logits")) p.save_logits = v;
        else if (!strcmp(a, "--kld-base")) p.kld_base = v;
        else {
            fprintf(stderr, "pocket perplexity: unknown option '%s'\n", a);
            return 2;
        }
        i++;
    }
    if (!model || !file) {
        fprintf(stderr, "usage: pocket perplexity -m MODEL -f TEXT [--ctx N] ...\n");
        return 2;
    }
    pk_model *m = NULL;
    pk_ppl_result r;
    p.progress = ppl_progress;
    if (pk_model_load(model, &mp, &m) != PK_OK || pk_perplexity(m, file, &p, &r) != PK_OK) {
        fprintf(stderr, "pocket perplexity: %s\n", pk_last_error());
        pk_model_free(m);
        return 1;
    }
    printf("perplexity: %.4f +/- %.4f over %d tokens (ctx %d)\n", r.ppl, r.ppl_err, r.n_tokens, p.n_ctx);
    if (r.has_kld)
        printf("KLD: mean %.6f, p99 %.6f, max %.6f; top-1 agreement %.2f%%\n", r.kld_mean, r.kld_p99,
               r.kld_max, 100 * r.top1_agree);
    pk_model_free(m);
    return 0;
}

int cmd_imatrix(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *out = NULL;
    int n_ctx = 512, chunks = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: pocket imatrix -m MODEL -f CALIB.txt -o FILE [--ctx N] [--chunks N] [-t N]\n"
                   "  collects per-column activation statistics of every weight matrix over a\n"
                   "  calibration text, for `pocket quantize --imatrix`\n");
            return 0;
        }
        if (!v) {
            fprintf(stderr, "pocket imatrix: '%s' needs a value or is unknown\n", a);
            return 2;
        }
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "-f")) file = v;
        else if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--ctx")) n_ctx = atoi(v);
        else if (!strcmp(a, "--chunks")) chunks = atoi(v);
        else if (!strcmp(a, "-t")) threads = atoi(v);
        else {
            fprintf(stderr, "pocket imatrix: unknown option '%s'\n", a);
            return 2;
        }
        i++;
    }
    if (!model || !file || !out) {
        fprintf(stderr, "usage: pocket imatrix -m MODEL -f CALIB.txt -o FILE\n");
        return 2;
    }
    pk_model *m = NULL;
    pk_model_params mp = pk_model_default_params();
    mp.n_threads = threads;
    if (pk_model_load(model, &mp, &m) != PK_OK ||
        pk_imatrix_compute(m, file, n_ctx, chunks, threads, out) != PK_OK) {
        fprintf(stderr, "pocket imatrix: %s\n", pk_last_error());
        pk_model_free(m);
        return 1;
    }
    printf("wrote %s\n", out);
    pk_model_free(m);
    return 0;
}
