/* gemv_speed.c: decode's matmul (one token) at kernel level: rows x n
 * weights of a type times one activation row, through the vec_dot loop
 * (what decode ran before) and through the type's GEMV kernel (pk_gemv),
 * one thread, in items of 32 rows as forward.c cuts them. "hot": the same
 * matrix again and again (it stays in L2/L3); "cold": a pass over copies
 * of it that together pass --mb (default 640 MB, beyond the L3), so the
 * weights stream from memory as in a real decode step. Figures: GB/s of
 * weights read, best of 5, in thread CPU time (a busy machine inflates
 * them less than wall time; a stalled load still counts as CPU time).
 * THREADS > 1: that many threads each take an equal share of the rows of
 * every pass (GEMV only), timed in wall time, best and median of 9: the
 * figure decode's 2-thread roof is about.
 *   bench/gemv_speed TYPE [N (2048)] [ROWS (5632)] [MB (640)] [THREADS (1)] */
#define _POSIX_C_SOURCE 200809L
#include "quant/quant.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void run(const pk_qtraits *q, pk_qtype ty, bool gemv, int n, int nr, float *y, const uint8_t *w,
                size_t wr, const uint8_t *x) {
    for (int r0 = 0; r0 < nr; r0 += 32) {
        int k = nr - r0 < 32 ? nr - r0 : 32;
        const uint8_t *wk = w + (size_t)r0 * wr;
        if (gemv) pk_gemv(ty, n, k, y + r0, wk, wr, x);
        else
            for (int r = 0; r < k; r++) q->vec_dot(n, y + r0 + r, wk + (size_t)r * wr, x);
    }
}

static double wall_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* threaded mode: thread ith of nth runs rows [nr ith / nth, nr (ith+1) / nth)
 * of each of `passes` matrices, all threads meeting at a barrier per pass */
typedef struct par {
    pk_qtype ty;
    int n, nr, nth, passes;
    float *y;
    const uint8_t *w, *x;
    size_t wr, mat;
    pthread_barrier_t *bar;
    int ith;
} par;

static void *par_run(void *arg) {
    par *p = arg;
    int r0 = (int)((long)p->nr * p->ith / p->nth), r1 = (int)((long)p->nr * (p->ith + 1) / p->nth);
    for (int c = 0; c < p->passes; c++) {
        run(NULL, p->ty, true, p->n, r1 - r0, p->y + r0, p->w + p->mat * (size_t)c + (size_t)r0 * p->wr, p->wr, p->x);
        pthread_barrier_wait(p->bar);
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run_threads(pk_qtype ty, const char *name, int nth, int n, int nr, float *y, const uint8_t *w,
                        size_t wr, size_t mat, int copies, const uint8_t *x) {
    enum { REPS = 9, TMAX = 16 };
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nth);
    double t[REPS];
    for (int rep = 0; rep < REPS; rep++) {
        par ps[TMAX];
        pthread_t th[TMAX];
        double s = wall_s();
        for (int i = 0; i < nth; i++) {
            ps[i] = (par){ .ty = ty, .n = n, .nr = nr, .nth = nth, .passes = copies, .y = y, .w = w, .x = x,
                           .wr = wr, .mat = mat, .bar = &bar, .ith = i };
            if (i) pthread_create(&th[i], NULL, par_run, &ps[i]);
        }
        par_run(&ps[0]);
        for (int i = 1; i < nth; i++) pthread_join(th[i], NULL);
        t[rep] = (wall_s() - s) / copies;
    }
    pthread_barrier_destroy(&bar);
    qsort(t, REPS, sizeof(double), cmp_d);
    printf("%-6s cold gemv x%d %d rows x %d: best %7.3f ms %6.2f GB/s, median %6.2f GB/s\n", name, nth, nr, n,
           t[0] * 1e3, (double)mat / t[0] / 1e9, (double)mat / t[REPS / 2] / 1e9);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gemv_speed TYPE [N] [ROWS] [MB] [THREADS]\n");
        return 2;
    }
    pk_quant_init();
    int ty = pk_qtype_from_name(argv[1]);
    int n = argc > 2 ? atoi(argv[2]) : 2048, nr = argc > 3 ? atoi(argv[3]) : 5632;
    double mb = argc > 4 ? atof(argv[4]) : 640;
    int nth = argc > 5 ? atoi(argv[5]) : 1;
    const pk_qtraits *q = ty >= 0 ? pk_qtraits_of((pk_qtype)ty) : NULL;
    if (!q || !q->vec_dot || nr < 1 || n < 1 || n % q->blck || mb <= 0 || nth < 1 || nth > 16) {
        fprintf(stderr, "gemv_speed: bad type, sizes or threads (%s, n %d, %d rows, %g MB, %d threads)\n", argv[1],
                n, nr, mb, nth);
        return 2;
    }
    const pk_qtraits *qa = pk_qtraits_of(q->vec_dot_type);
    size_t wr = pk_row_size((pk_qtype)ty, n), xr = pk_row_size(q->vec_dot_type, n), mat = wr * (size_t)nr;
    int copies = (int)(mb * 1e6 / (double)mat) + 1;
    float *f = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)nr);
    uint8_t *w = malloc(mat * (size_t)copies), *x = malloc(xr);
    if (!f || !y || !w || !x) return 1;
    srand(1);
    for (int r = 0; r < nr; r++) {
        for (int i = 0; i < n; i++) f[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        q->from_float(f, w + (size_t)r * wr, n);
    }
    for (int c = 1; c < copies; c++) memcpy(w + mat * (size_t)c, w, mat);
    for (int i = 0; i < n; i++) f[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    qa->from_float(f, x, n);
    if (nth > 1) {
        run_threads((pk_qtype)ty, argv[1], nth, n, nr, y, w, wr, mat, copies, x);
        free(f), free(y), free(w), free(x);
        return 0;
    }
    for (int cold = 0; cold < 2; cold++)
        for (int mode = 0; mode < 2; mode++) {
            double best = 1e9;
            int passes = cold ? copies : 20 + (int)(40e6 / (double)mat); /* hot: at least 40 MB */
            for (int rep = 0; rep < 5; rep++) {
                double s = cpu_s();
                for (int c = 0; c < passes; c++)
                    run(q, (pk_qtype)ty, mode, n, nr, y, w + (cold ? mat * (size_t)c : 0), wr, x);
                double e = (cpu_s() - s) / passes;
                best = e < best ? e : best;
            }
            printf("%-6s %-4s %-7s %d rows x %d: %7.3f ms  %6.2f GB/s\n", argv[1], cold ? "cold" : "hot",
                   mode ? "gemv" : "vec_dot", nr, n, best * 1e3, (double)mat / best / 1e9);
        }
    free(f), free(y), free(w), free(x);
    return 0;
}
