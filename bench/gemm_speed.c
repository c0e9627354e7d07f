/* gemm_speed.c: one matmul (rows x n weights of a type, t tokens) through
 * the vec_dot loop that prefill used before (pk_gemm_loop) and through the
 * type's GEMM kernel (pk_gemm), single thread, best of REPS, timed in
 * thread CPU time so that a busy machine inflates the figures less (on a
 * host whose speed drifts for seconds at a time, REPS 50 finds its fast
 * state).
 *   bench/gemm_speed TYPE [TOKENS (64)] [N (2048)] [ROWS (2048)] [ITEM (32): rows per call] [REPS (5)] */
#define _POSIX_C_SOURCE 200809L
#include "quant/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gemm_speed TYPE [TOKENS] [N] [ROWS] [ITEM] [REPS]\n");
        return 2;
    }
    pk_quant_init();
    int ty = pk_qtype_from_name(argv[1]);
    int nt = argc > 2 ? atoi(argv[2]) : 64, n = argc > 3 ? atoi(argv[3]) : 2048, nr = argc > 4 ? atoi(argv[4]) : 2048;
    int item = argc > 5 ? atoi(argv[5]) : 32, reps = argc > 6 ? atoi(argv[6]) : 5;
    const pk_qtraits *q = ty >= 0 ? pk_qtraits_of((pk_qtype)ty) : NULL;
    if (!q || !q->vec_dot || nt < 1 || nr < 1 || n < 1 || n % q->blck || item < 1 || reps < 1) {
        fprintf(stderr, "gemm_speed: bad type or sizes (%s, %d tokens, n %d, %d rows)\n", argv[1], nt, n, nr);
        return 2;
    }
    const pk_qtraits *qa = pk_qtraits_of(q->vec_dot_type);
    size_t wr = pk_row_size((pk_qtype)ty, n), xr = pk_row_size(q->vec_dot_type, n);
    float *f = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)nr * (size_t)nt);
    uint8_t *w = malloc(wr * (size_t)nr), *x = malloc(xr * (size_t)nt);
    if (!f || !y || !w || !x) return 1;
    srand(1);
    for (int r = 0; r < nr; r++) {
        for (int i = 0; i < n; i++) f[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        q->from_float(f, w + (size_t)r * wr, n);
    }
    for (int t = 0; t < nt; t++) {
        for (int i = 0; i < n; i++) f[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        qa->from_float(f, x + (size_t)t * xr, n);
    }
    for (int mode = 0; mode < 2; mode++) {
        double best = 1e9;
        for (int rep = 0; rep < reps; rep++) {
            double s = cpu_s();
            for (int r0 = 0; r0 < nr; r0 += item) { /* items of 32 rows, as forward.c cuts them */
                int k = nr - r0 < item ? nr - r0 : item;
                if (mode) pk_gemm((pk_qtype)ty, n, k, nt, y + r0, (size_t)nr, w + (size_t)r0 * wr, wr, x, xr);
                else pk_gemm_loop(q, n, k, nt, y + r0, (size_t)nr, w + (size_t)r0 * wr, wr, x, xr);
            }
            double e = cpu_s() - s;
            best = e < best ? e : best;
        }
        printf("%-6s %-9s %d tokens x %d rows x %d: %8.2f ms  %6.1f GMAC/s\n", argv[1], mode ? "gemm" : "vec_dot", nt,
               nr, n, best * 1e3, (double)n * nr * nt / best / 1e9);
    }
    free(f), free(y), free(w), free(x);
    return 0;
}
