/* base.c: errors, logging, the allocation hook, files, half-precision
 * conversion and UTF-8 helpers. The thread pool lives in pool.c. */
#define _GNU_SOURCE
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ---- */

static _Thread_local char err_buf[1024];

pk_status pk_err(pk_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
    va_end(ap);
    return st;
}

void pk_err_prefix(const char *fmt, ...) {
    char old[sizeof(err_buf)];
    memcpy(old, err_buf, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(err_buf) - 3) return;
    size_t used = (size_t)n;
    size_t room = sizeof(err_buf) - used - 3;
    size_t ol = strnlen(old, room);
    memcpy(err_buf + used, ": ", 2);
    memcpy(err_buf + used + 2, old, ol);
    err_buf[used + 2 + ol] = 0;
}

void pk_err_clear(void) { err_buf[0] = 0; }

const char *pk_last_error(void) { return err_buf; }

const char *pk_status_str(pk_status st) {
    switch (st) {
    case PK_OK: return "ok";
    case PK_ERR_INVALID: return "invalid";
    case PK_ERR_NOMEM: return "out of memory";
    case PK_ERR_IO: return "i/o error";
    case PK_ERR_FORMAT: return "format error";
    case PK_ERR_UNSUPPORTED: return "unsupported";
    case PK_ERR_RANGE: return "out of range";
    case PK_ERR_NOT_FOUND: return "not found";
    case PK_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

/* ---- logging ---- */

static int log_level(void) {
    static atomic_int lvl = -1;
    int l = atomic_load(&lvl);
    if (l < 0) {
        const char *e = getenv("POCKET_LOG");
        l = e ? atoi(e) : PK_LOG_WARN;
        atomic_store(&lvl, l);
    }
    return l;
}

void pk_log(pk_log_level lvl, const char *fmt, ...) {
    static const char *names[] = { "error", "warn", "info", "debug" };
    if ((int)lvl > log_level()) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pocket %s: ", names[lvl]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- allocation ---- */

/* fail_at: allocation count at which failures begin (0 = never). Tests only;
 * atomics so that pool threads may allocate (they do not today). */
static atomic_long alloc_count;
static atomic_long alloc_fail_at;

long pk_alloc_fail_after(long n) {
    long made = atomic_exchange(&alloc_count, 0);
    atomic_store(&alloc_fail_at, n);
    return made;
}

static bool alloc_should_fail(void) {
    long c = atomic_fetch_add(&alloc_count, 1) + 1;
    long at = atomic_load(&alloc_fail_at);
    return at > 0 && c >= at;
}

void *pk_malloc(size_t n) {
    void *p = alloc_should_fail() ? NULL : malloc(n ? n : 1);
    if (!p) pk_err(PK_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *pk_calloc(size_t n, size_t size) {
    size_t total;
    if (!pk_size_mul(n, size, &total)) {
        pk_err(PK_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = alloc_should_fail() ? NULL : calloc(total ? total : 1, 1);
    if (!p) pk_err(PK_ERR_NOMEM, "out of memory allocating %zu bytes", total);
    return p;
}

void *pk_realloc(void *p, size_t n) {
    void *q = alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
    if (!q) pk_err(PK_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return q;
}

void pk_free(void *p) { free(p); }

char *pk_strndup(const char *s, size_t n) {
    char *d = pk_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *pk_strdup(const char *s) { return pk_strndup(s, strlen(s)); }

void *pk_malloc_aligned(size_t n, size_t align) {
    void *p = NULL;
    if (alloc_should_fail() || posix_memalign(&p, align, n ? n : 1) != 0) {
        pk_err(PK_ERR_NOMEM, "out of memory allocating %zu aligned bytes", n);
        return NULL;
    }
    return p;
}

void pk_free_aligned(void *p) { free(p); }

/* ---- growable buffer ---- */

void pk_buf_put(pk_buf *b, const void *data, size_t n) {
    if (b->fail) return;
    if (b->cap - b->n <= n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->n <= n) {
            if (cap > SIZE_MAX / 2) {
                b->fail = true;
                return;
            }
            cap *= 2;
        }
        char *np = pk_realloc(b->p, cap);
        if (!np) {
            b->fail = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* ---- files ---- */

pk_status pk_map_open(const char *path, bool use_mmap, pk_map *m) {
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pk_err(PK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pk_err(PK_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        close(fd);
        m->data = (const uint8_t *)"";
        return PK_OK;
    }
    if (use_mmap) {
        void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return pk_err(PK_ERR_IO, "%s: mmap of %zu bytes failed: %s", path,
                          size, strerror(e));
        }
        m->data = p;
        m->size = size;
        m->fd = fd;
        return PK_OK;
    }
    uint8_t *buf = pk_malloc(size);
    if (!buf) {
        close(fd);
        return PK_ERR_NOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            pk_free(buf);
            close(fd);
            return pk_err(PK_ERR_IO, "%s: read failed at byte %zu of %zu", path,
                          got, size);
        }
        got += (size_t)r;
    }
    close(fd);
    m->data = buf;
    m->size = size;
    m->owned = buf;
    return PK_OK;
}

void pk_map_close(pk_map *m) {
    if (!m) return;
    if (m->owned) {
        pk_free(m->owned);
    } else if (m->fd >= 0 && m->size) {
        munmap((void *)m->data, m->size);
    }
    if (m->fd >= 0) close(m->fd);
    memset(m, 0, sizeof(*m));
    m->fd = -1;
}

pk_status pk_read_file(const char *path, size_t max_bytes, char **data,
                       size_t *len) {
    *data = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return pk_err(PK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = pk_malloc(cap);
    if (!buf) {
        fclose(f);
        return PK_ERR_NOMEM;
    }
    for (;;) {
        if (cap - n < 2) {
            if (cap > max_bytes) {
                pk_free(buf);
                fclose(f);
                return pk_err(PK_ERR_RANGE, "%s: larger than the limit of %zu bytes",
                              path, max_bytes);
            }
            char *nb = pk_realloc(buf, cap * 2);
            if (!nb) {
                pk_free(buf);
                fclose(f);
                return PK_ERR_NOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        pk_free(buf);
        return pk_err(PK_ERR_IO, "%s: read error", path);
    }
    if (n > max_bytes) {
        pk_free(buf);
        return pk_err(PK_ERR_RANGE, "%s: %zu bytes is above the limit of %zu", path,
                      n, max_bytes);
    }
    buf[n] = 0;
    *data = buf;
    if (len) *len = n;
    return PK_OK;
}

pk_status pk_write_file_atomic(const char *path, const void *data, size_t len) {
    size_t pl = strlen(path);
    char *tmp = pk_malloc(pl + 5);
    if (!tmp) return PK_ERR_NOMEM;
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        pk_status st = pk_err(PK_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        pk_free(tmp);
        return st;
    }
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            pk_status st = pk_err(PK_ERR_IO, "%s: write failed after %zu of %zu bytes: %s",
                                  path, done, len, strerror(e));
            pk_free(tmp);
            return st;
        }
        done += (size_t)w;
    }
    int synced = fsync(fd) == 0 ? 0 : errno;
    if (close(fd) != 0 && !synced) synced = errno;
    if (synced || rename(tmp, path) != 0) {
        int e = synced ? synced : errno;
        unlink(tmp);
        pk_status st = pk_err(PK_ERR_IO, "%s: could not commit file: %s", path, strerror(e));
        pk_free(tmp);
        return st;
    }
    pk_free(tmp);
    return PK_OK;
}

/* ---- half precision ---- */

float pk_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    if (exp == 0x1F) /* inf / nan */
        return pk_fp32_from_bits(sign | 0x7F800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return pk_fp32_from_bits(sign);
        /* subnormal: value = man * 2^-24, exact in float */
        float v = (float)man * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return pk_fp32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t pk_fp32_to_fp16(float f) {
    uint32_t x = pk_fp32_to_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) return sign | 0x7E00; /* nan */
    if (ax >= 0x477FF000u) return sign | 0x7C00; /* rounds to inf */
    if (ax < 0x38800000u) {
        /* result is subnormal or zero: round ax*2^24 to integer, ties even */
        float v = pk_fp32_from_bits(ax) * 16777216.0f; /* exact: power of two */
        uint32_t i = (uint32_t)v;
        float frac = v - (float)i;
        if (frac > 0.5f || (frac == 0.5f && (i & 1))) i++;
        return sign | (uint16_t)i;
    }
    /* normal: rebias exponent, round mantissa to 10 bits, ties to even */
    uint32_t r = ax - 0x38000000u; /* exponent 127 -> 15 */
    uint32_t lsb = (r >> 13) & 1;
    r += 0xFFF + lsb;
    return sign | (uint16_t)(r >> 13);
}

uint16_t pk_fp32_to_bf16(float f) {
    uint32_t x = pk_fp32_to_bits(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

/* ---- time ---- */

double pk_time_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- UTF-8 ---- */

int pk_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    int len = n ? pk_utf8_len(s[0]) : 0;
    if (len == 0 || (size_t)len > n) goto bad;
    if (len == 1) {
        *cp = s[0];
        return 1;
    }
    uint32_t c = s[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) goto bad;
        c = (c << 6) | (s[i] & 0x3F);
    }
    /* reject overlongs, surrogates and > U+10FFFF */
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        goto bad;
    *cp = c;
    return len;
bad:
    *cp = 0xFFFD;
    return 1;
}

int pk_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF) return pk_utf8_encode(0xFFFD, out);
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t pk_utf8_incomplete_tail(const char *s, size_t n) {
    /* look back at most 3 bytes for a lead byte whose sequence is cut */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t c = (uint8_t)s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation: keep looking */
        int len = pk_utf8_len(c);
        return (len > 1 && (size_t)len > back) ? back : 0;
    }
    return 0;
}
