/* bandwidth.c: the machine's memory read bandwidth, the roof that token
 * generation cannot pass (tg <= bandwidth / bytes read per token). Each
 * thread sums its own slice of a buffer far larger than the caches; the
 * best of several passes is reported, for 1..T threads.
 *
 *   bench/bandwidth [--mb N (1024)] [-t T (online CPUs)] [-r R (5)] [--json] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct slice {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
    pthread_barrier_t *bar;
} slice;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Eight independent accumulators so the loads, not the adds, set the pace;
 * a software prefetch 4 KB ahead per 64-byte line, as the GEMV kernels do
 * (on the 2-core dev machine, busy, 2026-11-29: 5.7-6.7 GB/s with a 2 KB
 * prefetch, 3.7-3.8 without; the hardware prefetcher alone keeps too few
 * lines in flight; idle, 2 threads, alternating: 4 KB 17.7-22.2 GB/s, 2 KB
 * 18.0-21.3), so the roof is what a reader can reach. */
static void *read_slice(void *arg) {
    slice *s = arg;
    uint64_t a[8] = { 0 };
    pthread_barrier_wait(s->bar);
    for (size_t i = 0; i + 8 <= s->n; i += 8) {
        __builtin_prefetch(s->p + i + 512);
        for (int k = 0; k < 8; k++) a[k] += s->p[i + (size_t)k];
    }
    s->sum = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
    pthread_barrier_wait(s->bar);
    return NULL;
}

/* One pass over the buffer with t threads; returns GB/s (1e9 bytes). */
static double pass(const uint64_t *buf, size_t n, int t, uint64_t *sink) {
    pthread_t th[64];
    slice sl[64];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)t + 1);
    for (int i = 0; i < t; i++) {
        size_t lo = n * (size_t)i / (size_t)t, hi = n * (size_t)(i + 1) / (size_t)t;
        sl[i] = (slice){ .p = buf + lo, .n = hi - lo, .bar = &bar };
        pthread_create(&th[i], NULL, read_slice, &sl[i]);
    }
    pthread_barrier_wait(&bar); /* all started */
    double t0 = now_s();
    pthread_barrier_wait(&bar); /* all done */
    double dt = now_s() - t0;
    for (int i = 0; i < t; i++) {
        pthread_join(th[i], NULL);
        *sink += sl[i].sum;
    }
    pthread_barrier_destroy(&bar);
    return (double)(n * sizeof(uint64_t)) / dt * 1e-9;
}

int main(int argc, char **argv) {
    size_t mb = 1024;
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), reps = 5, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "usage: bandwidth [--mb N] [-t T] [-r R] [--json]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || reps < 1 || mb < 64) {
        fprintf(stderr, "bandwidth: need 1 <= T <= 64, R >= 1, N >= 64 MB\n");
        return 2;
    }
    size_t n = mb * 1024 * 1024 / sizeof(uint64_t);
    uint64_t *buf = malloc(n * sizeof(uint64_t));
    if (!buf) {
        fprintf(stderr, "bandwidth: cannot allocate %zu MB\n", mb);
        return 1;
    }
    for (size_t i = 0; i < n; i++) buf[i] = i * 0x9E3779B97F4A7C15ull; /* touch every page */
    uint64_t sink = 0;
    if (json) printf("{\"mb\": %zu, \"read_gbs\": [", mb);
    for (int t = 1; t <= threads; t++) {
        double best = 0;
        for (int r = 0; r < reps; r++) {
            double g = pass(buf, n, t, &sink);
            if (g > best) best = g;
        }
        if (json) printf("%s%.2f", t > 1 ? ", " : "", best);
        else printf("read bandwidth, %d thread%s: %.2f GB/s\n", t, t > 1 ? "s" : "", best);
    }
    if (json) printf("]}\n");
    free(buf);
    return sink == 42 ? 3 : 0; /* keeps the sums alive */
}
