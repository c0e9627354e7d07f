/* cli_bench.c: `pocket bench`: prompt processing (pp) and generation (tg)
 * speed in tokens per second over repeated runs, as llama-bench measures
 * them (pp: one batch of P tokens from an empty cache; tg: N single-token
 * steps), with mean, standard deviation and median, model load time, time
 * to the first token and peak RSS, and the CPU kernel set in use (e.g.
 * "avx2", "neon+dotprod+i8mm"); --json adds every run's figure. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int pk_bench_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of n values (v is not changed) */
static double median(const double *v, int n) {
    double s[100];
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* ", \"key\": [a, b, ...]" */
static void json_runs(const char *key, const double *v, int n) {
    printf(", \"%s\": [", key);
    for (int i = 0; i < n; i++) printf("%s%.3f", i ? ", " : "", v[i]);
    printf("]");
}

static void mean_sd(const double *v, int n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0;
}

int cmd_bench(int argc, char **argv) {
    const char *model = NULL;
    int threads = 0, n_pp = 512, n_tg = 128, reps = 3, json = 0;
    const char *kv_type = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: pocket bench -m MODEL [-t N] [-p 512] [-n 128] [-r 3] [--kv-type f16|q8_0] [--json]\n"
                   "  pp: tokens/s evaluating P prompt tokens as one batch; tg: tokens/s of N\n"
                   "  single-token steps; each repeated R times (mean +/- sd); also the load\n"
                   "  time, the time to the first token (load + one token) and the peak\n"
                   "  resident memory. -p 0 or -n 0 skips that test.\n");
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "pocket bench: '%s' needs a value or is unknown\n", a);
            return 2;
        }
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "-t")) threads = atoi(v);
        else if (!strcmp(a, "-p")) n_pp = atoi(v);
        else if (!strcmp(a, "-n")) n_tg = atoi(v);
        else if (!strcmp(a, "-r")) reps = atoi(v);
        else if (!strcmp(a, "--kv-type")) kv_type = v;
        else {
            fprintf(stderr, "pocket bench: unknown option '%s'\n", a);
            return 2;
        }
        i++;
    }
    if (!model || n_pp < 0 || n_tg < 0 || reps < 1 || reps > 100) {
        fprintf(stderr, "usage: pocket bench -m MODEL [-t N] [-p 512] [-n 128] [-r 3] [--json]\n");
        return 2;
    }
    pk_model_params mp = pk_model_default_params();
    mp.n_threads = threads;
    pk_model *m = NULL;
    pk_ctx *ctx = NULL;
    double t0 = now_s();
    if (pk_model_load(model, &mp, &m) != PK_OK) {
        fprintf(stderr, "pocket bench: %s\n", pk_last_error());
        return 1;
    }
    double load_s = now_s() - t0;
    pk_model_info info;
    pk_model_get_info(m, &info);
    pk_ctx_params cp = pk_ctx_default_params();
    cp.n_ctx = (n_pp > n_tg ? n_pp : n_tg) + 1;
    cp.kv_type = kv_type;
    cp.n_batch = n_pp > 0 ? n_pp : 1;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(n_pp > n_tg ? n_pp + 1 : n_tg + 1));
    double *pp = calloc((size_t)reps, sizeof(double)), *tg = calloc((size_t)reps, sizeof(double));
    int rc = 1;
    if (!toks || !pp || !tg) goto out;
    if (pk_ctx_new(m, &cp, &ctx) != PK_OK) {
        fprintf(stderr, "pocket bench: %s\n", pk_last_error());
        goto out;
    }
    srand(1);
    for (int i = 0; i <= (n_pp > n_tg ? n_pp : n_tg); i++) toks[i] = rand() % info.n_vocab;
    /* time to the first token: load, context, one token through the model
     * (the first pass also faults the weights in: page cache to memory map) */
    if (pk_ctx_eval(ctx, toks, 1, 0, 0) != PK_OK) goto fail;
    double first_s = now_s() - t0;
    /* one untimed warm-up of each kind (caches) */
    if ((n_pp && pk_ctx_eval(ctx, toks, n_pp, 0, 0) != PK_OK) || (n_tg && pk_ctx_eval(ctx, toks, 1, 0, 0) != PK_OK)) {
        fprintf(stderr, "pocket bench: %s\n", pk_last_error());
        goto out;
    }
    for (int r = 0; r < reps; r++) {
        if (n_pp) {
            double s = now_s();
            if (pk_ctx_eval(ctx, toks, n_pp, 0, 0) != PK_OK) goto fail;
            pp[r] = n_pp / (now_s() - s);
        }
        if (n_tg) {
            double s = now_s();
            for (int i = 0; i < n_tg; i++)
                if (pk_ctx_eval(ctx, &toks[i], 1, i, 0) != PK_OK) goto fail;
            tg[r] = n_tg / (now_s() - s);
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    double ppm = 0, pps = 0, tgm = 0, tgs = 0;
    if (n_pp) mean_sd(pp, reps, &ppm, &pps);
    if (n_tg) mean_sd(tg, reps, &tgm, &tgs);
    double ppmed = n_pp ? median(pp, reps) : 0, tgmed = n_tg ? median(tg, reps) : 0;
    int nt = threads > 0 ? threads : 0;
    if (json) { /* per-run figures and medians after the summary keys */
        printf("{\"model\": \"%s\", \"n_params\": %llu, \"model_bytes\": %llu, \"threads\": %d, "
               "\"kernels\": \"%s\", \"n_prompt\": %d, \"n_gen\": %d, \"reps\": %d, \"pp_tps\": %.3f, \"pp_sd\": %.3f, "
               "\"tg_tps\": %.3f, \"tg_sd\": %.3f, \"load_s\": %.3f, \"first_token_s\": %.3f, "
               "\"peak_rss_mb\": %.1f, \"pp_median\": %.3f, \"tg_median\": %.3f",
               model, (unsigned long long)info.n_params, (unsigned long long)info.n_bytes, nt, pk_kernels(), n_pp, n_tg,
               reps, ppm, pps, tgm, tgs, load_s, first_s, rss_mb, ppmed, tgmed);
        json_runs("pp_runs", n_pp ? pp : NULL, n_pp ? reps : 0);
        json_runs("tg_runs", n_tg ? tg : NULL, n_tg ? reps : 0);
        printf("}\n");
    } else {
        printf("model: %s (%s, %.2f M params, %.2f MB)\nthreads: %d, kernels: %s\n", model, info.arch,
               info.n_params / 1e6, info.n_bytes / 1e6, nt ? nt : pk_bench_cpus(), pk_kernels());
        if (n_pp) printf("pp%-5d %10.2f +/- %.2f tokens/s (median %.2f)\n", n_pp, ppm, pps, ppmed);
        if (n_tg) printf("tg%-5d %10.2f +/- %.2f tokens/s (median %.2f)\n", n_tg, tgm, tgs, tgmed);
        printf("load: %.3f s, first token: %.3f s, peak RSS: %.1f MB\n", load_s, first_s, rss_mb);
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "pocket bench: %s\n", pk_last_error());
out:
    free(toks);
    free(pp);
    free(tg);
    pk_ctx_free(ctx);
    pk_model_free(m);
    return rc;
}
