/* test.h: the tiny test harness every tests/test_*.c uses. A test file
 * defines test functions, lists them in main() with PK_RUN, and returns
 * pk_test_summary(). CHECK records a failure with file:line and goes on. */
#ifndef PK_TEST_H
#define PK_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pk_t_fail, pk_t_checks, pk_t_cur_fail, pk_t_ran, pk_t_failed_tests,
    pk_t_skipped;

#define CHECK(c)                                                              \
    do {                                                                      \
        pk_t_checks++;                                                        \
        if (!(c)) {                                                           \
            pk_t_fail++;                                                      \
            pk_t_cur_fail++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                    #c);                                                      \
        }                                                                     \
    } while (0)

#define CHECKF(c, ...)                                                        \
    do {                                                                      \
        pk_t_checks++;                                                        \
        if (!(c)) {                                                           \
            pk_t_fail++;                                                      \
            pk_t_cur_fail++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__,  \
                    #c);                                                      \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

/* status must be PK_OK; prints pk_last_error() otherwise */
#define CHECK_OK(expr)                                                        \
    do {                                                                      \
        int st_ = (expr);                                                     \
        CHECKF(st_ == 0, "%s -> %d: %s", #expr, st_, pk_last_error());        \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                 \
    CHECKF(fabs((double)(a) - (double)(b)) <= (tol), "%g vs %g (tol %g)",     \
           (double)(a), (double)(b), (double)(tol))

#define PK_RUN(fn)                                                            \
    do {                                                                      \
        pk_t_cur_fail = 0;                                                    \
        fprintf(stderr, "-- %s\n", #fn);                                      \
        fn();                                                                 \
        pk_t_ran++;                                                           \
        if (pk_t_cur_fail) pk_t_failed_tests++;                               \
    } while (0)

/* Mark the current test skipped (only for genuinely optional inputs). */
#define PK_SKIP(why)                                                          \
    do {                                                                      \
        fprintf(stderr, "   skipped: %s\n", why);                             \
        pk_t_skipped++;                                                       \
        return;                                                               \
    } while (0)

static inline const char *pk_test_shared(void) {
    const char *s = getenv("POCKET_SHARED");
    return s ? s : "../shared";
}

/* Path under ../shared in one of 8 rotating static buffers, so a call may
 * take several paths at once. */
static inline const char *pk_test_path(const char *rel) {
    static char buf[8][4096];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof(buf[0]), "%s/%s", pk_test_shared(), rel);
    return b;
}

static inline int pk_test_summary(void) {
    fprintf(stderr, "%d tests, %d checks, %d failed checks, %d skipped\n",
            pk_t_ran, pk_t_checks, pk_t_fail, pk_t_skipped);
    return pk_t_fail ? 1 : 0;
}

/* Deterministic test data: xorshift64, uniform in [-1, 1). */
static inline float pk_test_frand(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (float)((*state >> 40) * (1.0 / (1ull << 24))) * 2.0f - 1.0f;
}

#endif
