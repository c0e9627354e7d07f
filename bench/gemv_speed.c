/* gemv_speed.c: decode's matmul (one token) at kernel level: rows x n
 * weights of a type times one activation row, through the vec_dot loop
 * (what decode ran before) and through the type's GEMV kernel (pk_gemv),
 * one thread, in items of 32 rows as forward.c cuts them. "hot": the same
 * matrix again and again (it stays in L2/L3); "cold": a pass over copies
 * of it that together pass --mb (default 640 MB, beyond the L3), so the
 * weights stream from memory as in a real decode step. Figures: GB/s of
 * weights read, best of 5, in thread CPU time (a busy machine inflates
 * them less than wall time; a stalled load still counts as CPU time).
 *   bench/gemv_speed TYPE [N (2048)] [ROWS (5632)] [MB (640)] */
#define _POSIX_C_SOURCE 200809L
#include "quant/quant.h"

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

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gemv_speed TYPE [N] [ROWS] [MB]\n");
        return 2;
    }
    pk_quant_init();
    int ty = pk_qtype_from_name(argv[1]);
    int n = argc > 2 ? atoi(argv[2]) : 2048, nr = argc > 3 ? atoi(argv[3]) : 5632;
    double mb = argc > 4 ? atof(argv[4]) : 640;
    const pk_qtraits *q = ty >= 0 ? pk_qtraits_of((pk_qtype)ty) : NULL;
    if (!q || !q->vec_dot || nr < 1 || n < 1 || n % q->blck || mb <= 0) {
        fprintf(stderr, "gemv_speed: bad type or sizes (%s, n %d, %d rows, %g MB)\n", argv[1], n, nr, mb);
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
    for (int cold = 0; cold < 2; cold++)
        for (int mode = 0; mode < 2; mode++) {
            double best = 1e9;
            int passes = cold ? copies : 20;
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
