/* base.h: what every module of pocket stands on: error reporting, the one
 * allocation hook, checked size math, read-only file mapping, fp16/bf16
 * conversion and a persistent thread pool. Nothing here knows about models. */
#ifndef PK_BASE_H
#define PK_BASE_H

#include "pocket.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ---- */

/* Record a printf-style message as the calling thread's last error and
 * return st, so that a caller can write `return pk_err(PK_ERR_FORMAT, ...)`. */
pk_status pk_err(pk_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the current last error with "ctx: " (adds where to what). */
void pk_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pk_err_clear(void);

/* ---- logging ---- */

typedef enum { PK_LOG_ERROR, PK_LOG_WARN, PK_LOG_INFO, PK_LOG_DEBUG } pk_log_level;
/* Messages at or below the level (env POCKET_LOG=0..3, default 1) go to
 * stderr. Never logs user content in server code: callers' duty. */
void pk_log(pk_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- allocation ---- */

/* Every allocation in libpocket goes through these. They record a
 * PK_ERR_NOMEM error when they fail. pk_free() (pocket.h) releases. */
void *pk_malloc(size_t n);
void *pk_calloc(size_t n, size_t size);
void *pk_realloc(void *p, size_t n);
char *pk_strdup(const char *s);
char *pk_strndup(const char *s, size_t n);
/* Aligned allocation (align a power of two >= sizeof(void*)); free with
 * pk_free_aligned(). */
void *pk_malloc_aligned(size_t n, size_t align);
void pk_free_aligned(void *p);

/* Fault injection for tests: the Nth allocation from now (1-based) and every
 * one after it fails while fail_after is set; 0 turns it off. Returns the
 * number of allocations made since the last call. */
long pk_alloc_fail_after(long n);

/* ---- checked size math ---- */

/* Return false on overflow; *out is then unspecified. */
static inline bool pk_add_ovf(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_add_overflow(a, b, out);
}
static inline bool pk_mul_ovf(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_mul_overflow(a, b, out);
}
static inline bool pk_size_add(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool pk_size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* ---- growable buffer ---- */

/* Bytes appended at the end, always followed by a NUL (so text can be used
 * as a C string). After an allocation failure, fail is set and further
 * appends do nothing: check once at the end. Owner frees p with pk_free. */
typedef struct pk_buf {
    char *p;
    size_t n, cap;
    bool fail;
} pk_buf;

void pk_buf_put(pk_buf *b, const void *data, size_t n);
static inline void pk_buf_puts(pk_buf *b, const char *s) { pk_buf_put(b, s, __builtin_strlen(s)); }

/* ---- files ---- */

typedef struct pk_map {
    const uint8_t *data; /* read-only view of the whole file */
    size_t size;
    int fd;              /* -1 when data came from memory */
    void *owned;         /* heap copy when mmap is off; NULL otherwise */
} pk_map;

/* Map a file read-only (use_mmap) or read it into memory. OUT *m. */
pk_status pk_map_open(const char *path, bool use_mmap, pk_map *m);
void pk_map_close(pk_map *m);

/* Read a whole file into a NUL-terminated heap buffer (caller frees with
 * pk_free). Refuses files above max_bytes. */
pk_status pk_read_file(const char *path, size_t max_bytes, char **data,
                       size_t *len);

/* Write a file atomically: data to path.tmp, fsync, rename. Full disks and
 * short writes leave the old file untouched and return PK_ERR_IO. */
pk_status pk_write_file_atomic(const char *path, const void *data, size_t len);

/* ---- half precision ---- */

static inline float pk_fp32_from_bits(uint32_t w) {
    union { uint32_t u; float f; } v = { .u = w };
    return v.f;
}
static inline uint32_t pk_fp32_to_bits(float f) {
    union { float f; uint32_t u; } v = { .f = f };
    return v.u;
}
/* IEEE binary16 <-> binary32, round to nearest even; exact for all halves. */
float pk_fp16_to_fp32(uint16_t h);
uint16_t pk_fp32_to_fp16(float f);
/* bfloat16: top half of binary32; conversion rounds to nearest even, NaNs
 * stay quiet NaNs. */
static inline float pk_bf16_to_fp32(uint16_t h) {
    return pk_fp32_from_bits((uint32_t)h << 16);
}
uint16_t pk_fp32_to_bf16(float f);

/* ---- time ---- */
double pk_time_ms(void); /* monotonic milliseconds */

/* ---- thread pool ---- */

/* One persistent pool. pk_pool_run() calls fn(arg, ith, nth) on nth threads
 * (the caller is thread 0) and returns when all are done: it is the barrier
 * between ops. Not reentrant: one pk_pool_run at a time per pool (the owner
 * of the pool, usually a pk_ctx, serialises). */
typedef struct pk_pool pk_pool;
typedef void (*pk_task_fn)(void *arg, int ith, int nth);

/* n_threads <= 0: number of online CPUs. OUT *pool owned by the caller. */
pk_status pk_pool_new(int n_threads, pk_pool **pool);
void pk_pool_free(pk_pool *pool);
int pk_pool_size(const pk_pool *pool);
/* Run fn on all threads of the pool. pool may be NULL: runs fn(arg,0,1). */
void pk_pool_run(pk_pool *pool, pk_task_fn fn, void *arg);
/* Run on the first n threads only (1 <= n <= size). */
void pk_pool_run_n(pk_pool *pool, int n, pk_task_fn fn, void *arg);

/* Number of online CPUs (at least 1). */
int pk_n_cpus(void);

/* ---- UTF-8 ---- */

/* Length of the UTF-8 sequence starting with byte c (1..4), or 0 for a byte
 * that cannot start one. */
static inline int pk_utf8_len(uint8_t c) {
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    if (c < 0xF5) return 4;
    return 0;
}
/* Decode one code point from s (n bytes available). Returns bytes consumed
 * (>= 1); an invalid or truncated sequence yields *cp = 0xFFFD and 1. */
int pk_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* Encode cp into out (4 bytes room). Returns bytes written (1..4). */
int pk_utf8_encode(uint32_t cp, char *out);
/* Number of bytes at the end of s[0..n) that form an incomplete (but so
 * far valid) UTF-8 sequence: hold them back when streaming. */
size_t pk_utf8_incomplete_tail(const char *s, size_t n);

#define PK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
