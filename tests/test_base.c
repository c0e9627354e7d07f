/* test_base.c: base module: fp16/bf16 conversion, checked math, UTF-8,
 * allocation fault injection, thread pool, atomic file writes. */
#include "base/base.h"
#include "test.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static void test_fp16_roundtrip(void) {
    /* every half converts to float and back to itself (NaNs stay NaN) */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = pk_fp16_to_fp32((uint16_t)h);
        uint16_t back = pk_fp32_to_fp16(f);
        bool is_nan = ((h >> 10) & 0x1F) == 0x1F && (h & 0x3FF);
        if (is_nan ? !isnan(f) : back != h) bad++;
    }
    CHECKF(bad == 0, "%d halves do not round-trip", bad);
    CHECK(pk_fp32_to_fp16(1.0f) == 0x3C00);
    CHECK(pk_fp32_to_fp16(65504.0f) == 0x7BFF);
    CHECK(pk_fp32_to_fp16(65520.0f) == 0x7C00); /* rounds to inf */
    CHECK(pk_fp32_to_fp16(-2.0f) == 0xC000);
    /* ties to even: 1 + 2^-11 is halfway between 1 and 1+2^-10 */
    CHECK(pk_fp32_to_fp16(1.0f + 1.0f / 2048) == 0x3C00);
    CHECK(pk_fp32_to_fp16(1.0f + 3.0f / 2048) == 0x3C02);
    /* smallest subnormal and half of it (ties to even -> 0) */
    CHECK(pk_fp32_to_fp16(5.9604644775390625e-08f) == 0x0001);
    CHECK(pk_fp32_to_fp16(2.98023223876953125e-08f) == 0x0000);
}

static void test_bf16(void) {
    CHECK(pk_fp32_to_bf16(1.0f) == 0x3F80);
    CHECK(pk_bf16_to_fp32(0x3F80) == 1.0f);
    CHECK(isnan(pk_bf16_to_fp32(pk_fp32_to_bf16(NAN))));
    /* 1 + 2^-8 is a tie between 1 and 1 + 2^-7: stays 1 (even) */
    CHECK(pk_fp32_to_bf16(1.0f + 1.0f / 256) == 0x3F80);
}

static void test_checked_math(void) {
    size_t out;
    CHECK(!pk_size_mul(SIZE_MAX / 2 + 1, 2, &out));
    CHECK(pk_size_mul(1000, 1000, &out) && out == 1000000);
    CHECK(!pk_size_add(SIZE_MAX, 1, &out));
}

static void test_utf8(void) {
    uint32_t cp;
    const uint8_t euro[] = { 0xE2, 0x82, 0xAC };
    CHECK(pk_utf8_decode(euro, 3, &cp) == 3 && cp == 0x20AC);
    CHECK(pk_utf8_decode(euro, 2, &cp) == 1 && cp == 0xFFFD);
    const uint8_t overlong[] = { 0xE0, 0x80, 0xAF };
    CHECK(pk_utf8_decode(overlong, 3, &cp) == 1 && cp == 0xFFFD);
    const uint8_t surrogate[] = { 0xED, 0xA0, 0x80 };
    CHECK(pk_utf8_decode(surrogate, 3, &cp) == 1 && cp == 0xFFFD);
    char buf[4];
    CHECK(pk_utf8_encode(0x1F600, buf) == 4);
    CHECK(pk_utf8_decode((const uint8_t *)buf, 4, &cp) == 4 && cp == 0x1F600);
    CHECK(pk_utf8_incomplete_tail("ab\xE2\x82", 4) == 2);
    CHECK(pk_utf8_incomplete_tail("ab\xE2\x82\xAC", 5) == 0);
    CHECK(pk_utf8_incomplete_tail("ab", 2) == 0);
    CHECK(pk_utf8_incomplete_tail("\xF0\x9F\x98", 3) == 3);
}

static void test_alloc_fail(void) {
    pk_alloc_fail_after(2);
    void *a = pk_malloc(10);
    void *b = pk_malloc(10);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(strstr(pk_last_error(), "out of memory") != NULL);
    pk_alloc_fail_after(0);
    pk_free(a);
}

typedef struct {
    atomic_long sum;
    int hits[8];
} pool_job;

static void pool_task(void *arg, int ith, int nth) {
    pool_job *j = arg;
    for (int i = ith; i < 1000; i += nth) atomic_fetch_add(&j->sum, i);
    j->hits[ith]++;
}

static void test_pool(void) {
    for (int nt = 1; nt <= 4; nt++) {
        pk_pool *pool = NULL;
        CHECK_OK(pk_pool_new(nt, &pool));
        CHECK(pk_pool_size(pool) == nt);
        pool_job j = { 0 };
        for (int rep = 0; rep < 200; rep++) pk_pool_run(pool, pool_task, &j);
        CHECK(atomic_load(&j.sum) == 200L * 499500);
        for (int i = 0; i < nt; i++) CHECK(j.hits[i] == 200);
        pool_job j2 = { 0 };
        pk_pool_run_n(pool, 1, pool_task, &j2);
        CHECK(atomic_load(&j2.sum) == 499500 && j2.hits[0] == 1);
        nanosleep(&(struct timespec){ 0, 20000000 }, NULL); /* let workers sleep */
        pk_pool_run(pool, pool_task, &j2);
        CHECK(atomic_load(&j2.sum) == 2 * 499500);
        pk_pool_free(pool);
    }
    pk_pool_free(NULL);
}

static void test_files(void) {
    char path[] = "/tmp/pk_test_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(pk_write_file_atomic(path, "hello", 5));
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(pk_read_file(path, 100, &data, &len));
    CHECK(len == 5 && data && !strcmp(data, "hello"));
    pk_free(data);
    CHECK(pk_read_file(path, 3, &data, &len) == PK_ERR_RANGE);
    pk_map m;
    CHECK_OK(pk_map_open(path, true, &m));
    CHECK(m.size == 5 && !memcmp(m.data, "hello", 5));
    pk_map_close(&m);
    CHECK(pk_map_open("/nonexistent/x", true, &m) == PK_ERR_IO);
    CHECK(strstr(pk_last_error(), "/nonexistent/x") != NULL);
    CHECK(pk_write_file_atomic("/nonexistent/dir/x", "a", 1) == PK_ERR_IO);
    unlink(path);
}

int main(void) {
    PK_RUN(test_fp16_roundtrip);
    PK_RUN(test_bf16);
    PK_RUN(test_checked_math);
    PK_RUN(test_utf8);
    PK_RUN(test_alloc_fail);
    PK_RUN(test_pool);
    PK_RUN(test_files);
    return pk_test_summary();
}
