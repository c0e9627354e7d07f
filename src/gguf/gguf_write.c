/* gguf_write.c: GGUF v3 writer. Metadata values are serialised into one
 * growing buffer as they are set (a repeated key replaces the old bytes);
 * tensors are described up front and their data is copied or produced by a
 * callback one tensor at a time while the file is streamed to path.tmp,
 * which is renamed over path only when everything was written. */
#define _GNU_SOURCE
#include "gguf/gguf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- types ---- */

typedef struct wkv {
    char *key;
    uint8_t *bytes; /* serialised type + value (after the key) */
    size_t n;
} wkv;

typedef struct wtensor {
    char *name;
    pk_qtype type;
    int n_dims;
    uint64_t ne[PK_GGUF_MAX_DIMS];
    uint64_t n_bytes, offset;
    const void *data;
    pk_gguf_data_fn fn;
    void *user;
} wtensor;

struct pk_gguf_writer {
    uint32_t alignment;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

static void bb_u32(pk_buf *b, uint32_t v) { pk_buf_put(b, &v, 4); }
static void bb_u64(pk_buf *b, uint64_t v) { pk_buf_put(b, &v, 8); }
static void bb_str(pk_buf *b, const char *s, size_t n) {
    bb_u64(b, n);
    pk_buf_put(b, s, n);
}

/* ---- create/free ---- */

pk_status pk_gguf_writer_new(uint32_t alignment, pk_gguf_writer **out) {
    *out = NULL;
    if (alignment == 0) alignment = 32;
    if (alignment & (alignment - 1))
        return pk_err(PK_ERR_INVALID, "gguf writer: alignment %u is not a power of two", alignment);
    pk_gguf_writer *w = pk_calloc(1, sizeof(*w));
    if (!w) return PK_ERR_NOMEM;
    w->alignment = alignment;
    if (alignment != 32) {
        pk_status st = pk_gguf_set_u32(w, "general.alignment", alignment);
        if (st) {
            pk_gguf_writer_free(w);
            return st;
        }
    }
    *out = w;
    return PK_OK;
}

void pk_gguf_writer_free(pk_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        pk_free(w->kv[i].key);
        pk_free(w->kv[i].bytes);
    }
    for (size_t i = 0; i < w->n_t; i++) pk_free(w->t[i].name);
    pk_free(w->kv);
    pk_free(w->t);
    pk_free(w);
}

/* ---- metadata ---- */

/* Take ownership of b's bytes as the value of key. */
static pk_status put_kv(pk_gguf_writer *w, const char *key, pk_buf *b) {
    if (b->fail) {
        pk_free(b->p);
        return PK_ERR_NOMEM;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            pk_free(w->kv[i].bytes);
            w->kv[i].bytes = (uint8_t *)b->p;
            w->kv[i].n = b->n;
            return PK_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *nk = pk_realloc(w->kv, cap * sizeof(*nk));
        if (!nk) {
            pk_free(b->p);
            return PK_ERR_NOMEM;
        }
        w->kv = nk;
        w->cap_kv = cap;
    }
    char *k = pk_strdup(key);
    if (!k) {
        pk_free(b->p);
        return PK_ERR_NOMEM;
    }
    w->kv[w->n_kv++] = (wkv){ k, (uint8_t *)b->p, b->n };
    return PK_OK;
}

static pk_status set_scalar(pk_gguf_writer *w, const char *key, pk_gguf_type t, const void *v,
                            size_t n) {
    pk_buf b = { 0 };
    bb_u32(&b, t);
    pk_buf_put(&b, v, n);
    return put_kv(w, key, &b);
}

pk_status pk_gguf_set_u32(pk_gguf_writer *w, const char *key, uint32_t v) {
    return set_scalar(w, key, PK_GGUF_UINT32, &v, 4);
}
pk_status pk_gguf_set_i32(pk_gguf_writer *w, const char *key, int32_t v) {
    return set_scalar(w, key, PK_GGUF_INT32, &v, 4);
}
pk_status pk_gguf_set_u64(pk_gguf_writer *w, const char *key, uint64_t v) {
    return set_scalar(w, key, PK_GGUF_UINT64, &v, 8);
}
pk_status pk_gguf_set_f32(pk_gguf_writer *w, const char *key, float v) {
    return set_scalar(w, key, PK_GGUF_FLOAT32, &v, 4);
}
pk_status pk_gguf_set_bool(pk_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, PK_GGUF_BOOL, &b, 1);
}
pk_status pk_gguf_set_str(pk_gguf_writer *w, const char *key, const char *v) {
    pk_buf b = { 0 };
    bb_u32(&b, PK_GGUF_STRING);
    bb_str(&b, v, strlen(v));
    return put_kv(w, key, &b);
}

static size_t elem_size(pk_gguf_type t) {
    static const size_t sz[PK_GGUF_TYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    return (unsigned)t < PK_GGUF_TYPE_COUNT ? sz[t] : 0;
}

pk_status pk_gguf_set_arr(pk_gguf_writer *w, const char *key, pk_gguf_type elem,
                          const void *data, uint64_t n) {
    size_t es = elem_size(elem), bytes;
    if (!es) return pk_err(PK_ERR_INVALID, "gguf writer: key %s: %s is not a fixed-size type",
                           key, pk_gguf_type_name(elem));
    if (!pk_size_mul((size_t)n, es, &bytes))
        return pk_err(PK_ERR_INVALID, "gguf writer: key %s: array too large", key);
    pk_buf b = { 0 };
    bb_u32(&b, PK_GGUF_ARRAY);
    bb_u32(&b, elem);
    bb_u64(&b, n);
    pk_buf_put(&b, data, bytes);
    return put_kv(w, key, &b);
}

pk_status pk_gguf_set_arr_str(pk_gguf_writer *w, const char *key, const char *const *strs,
                              const size_t *lens, uint64_t n) {
    pk_buf b = { 0 };
    bb_u32(&b, PK_GGUF_ARRAY);
    bb_u32(&b, PK_GGUF_STRING);
    bb_u64(&b, n);
    for (uint64_t i = 0; i < n; i++) bb_str(&b, strs[i], lens ? lens[i] : strlen(strs[i]));
    return put_kv(w, key, &b);
}

/* Bytes taken by one untagged value of type t at p. The reader validated
 * the whole file, so walking it again cannot leave the mapping. */
static size_t raw_size(pk_gguf_type t, const uint8_t *p) {
    if (t == PK_GGUF_STRING) {
        uint64_t l;
        memcpy(&l, p, 8);
        return 8 + (size_t)l;
    }
    if (t != PK_GGUF_ARRAY) return elem_size(t);
    uint32_t et;
    uint64_t n;
    memcpy(&et, p, 4);
    memcpy(&n, p + 4, 8);
    if (et != PK_GGUF_STRING && et != PK_GGUF_ARRAY) return 12 + (size_t)n * elem_size(et);
    size_t sz = 12;
    for (uint64_t i = 0; i < n; i++) sz += raw_size((pk_gguf_type)et, p + sz);
    return sz;
}

/* Serialise a reader value with its type tag. Strings and arrays are copied
 * as the bytes they occupy in the source file. */
static void ser_value(pk_buf *b, const pk_gguf_value *v) {
    bb_u32(b, v->type);
    if (v->type == PK_GGUF_STRING) {
        bb_str(b, v->v.str.ptr, (size_t)v->v.str.len);
        return;
    }
    if (v->type == PK_GGUF_ARRAY) {
        const uint8_t *start = v->v.arr.data - 12; /* element type and count */
        pk_buf_put(b, start, raw_size(PK_GGUF_ARRAY, start));
        return;
    }
    union { uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64; } x;
    switch (v->type) {
    case PK_GGUF_FLOAT32: x.f32 = (float)v->v.f64; break;
    case PK_GGUF_FLOAT64: x.f64 = v->v.f64; break;
    case PK_GGUF_BOOL: x.u8 = v->v.b; break;
    case PK_GGUF_UINT8: case PK_GGUF_INT8: x.u8 = (uint8_t)v->v.u64; break;
    case PK_GGUF_UINT16: case PK_GGUF_INT16: x.u16 = (uint16_t)v->v.u64; break;
    case PK_GGUF_UINT32: case PK_GGUF_INT32: x.u32 = (uint32_t)v->v.u64; break;
    default: x.u64 = v->v.u64; break;
    }
    pk_buf_put(b, &x, elem_size(v->type));
}

pk_status pk_gguf_copy_kv(pk_gguf_writer *w, const pk_gguf_kv *kv) {
    char key[512];
    if (kv->key.len >= sizeof(key))
        return pk_err(PK_ERR_INVALID, "gguf writer: key of %llu bytes too long",
                      (unsigned long long)kv->key.len);
    memcpy(key, kv->key.ptr, (size_t)kv->key.len);
    key[kv->key.len] = 0;
    pk_buf b = { 0 };
    ser_value(&b, &kv->value);
    return put_kv(w, key, &b);
}

/* ---- tensors ---- */

pk_status pk_gguf_add_tensor(pk_gguf_writer *w, const char *name, pk_qtype type, int n_dims,
                             const uint64_t *ne, const void *data, pk_gguf_data_fn fn,
                             void *user) {
    if (n_dims < 1 || n_dims > PK_GGUF_MAX_DIMS)
        return pk_err(PK_ERR_INVALID, "gguf writer: tensor %s: %d dimensions", name, n_dims);
    if (!data && !fn)
        return pk_err(PK_ERR_INVALID, "gguf writer: tensor %s: no data and no producer", name);
    const pk_qtraits *q = pk_qtraits_of(type);
    if (!q) return pk_err(PK_ERR_INVALID, "gguf writer: tensor %s: unknown type %d", name, (int)type);
    uint64_t n_el = 1;
    for (int d = 0; d < n_dims; d++)
        if (!ne[d] || pk_mul_ovf(n_el, ne[d], &n_el))
            return pk_err(PK_ERR_INVALID, "gguf writer: tensor %s: bad dimension %d", name, d);
    if (ne[0] % (uint64_t)q->blck)
        return pk_err(PK_ERR_INVALID, "gguf writer: tensor %s: row of %llu is not a multiple of %s's block %d",
                      name, (unsigned long long)ne[0], q->name, q->blck);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return pk_err(PK_ERR_INVALID, "gguf writer: duplicate tensor %s", name);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *nt = pk_realloc(w->t, cap * sizeof(*nt));
        if (!nt) return PK_ERR_NOMEM;
        w->t = nt;
        w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof(*t));
    if (!(t->name = pk_strdup(name))) return PK_ERR_NOMEM;
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < PK_GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->n_bytes = n_el / (uint64_t)q->blck * q->bytes;
    t->data = data;
    t->fn = fn;
    t->user = user;
    w->n_t++;
    return PK_OK;
}

/* ---- finish ---- */

static pk_status write_all(FILE *f, const void *p, size_t n, const char *path) {
    if (n && fwrite(p, 1, n, f) != n)
        return pk_err(PK_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return PK_OK;
}

static pk_status pad_to(FILE *f, uint64_t *pos, uint64_t align, const char *path) {
    static const uint8_t zeros[64];
    uint64_t pad = (align - *pos % align) % align;
    while (pad) {
        size_t n = (size_t)PK_MIN(pad, sizeof(zeros));
        pk_status st = write_all(f, zeros, n, path);
        if (st) return st;
        pad -= n;
        *pos += n;
    }
    return PK_OK;
}

pk_status pk_gguf_writer_finish(pk_gguf_writer *w, const char *path) {
    pk_status st = PK_OK;
    pk_buf h = { 0 };
    uint8_t *buf = NULL;
    size_t pl = strlen(path);
    char *tmp = pk_malloc(pl + 5);
    if (!tmp) return PK_ERR_NOMEM;
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    FILE *f = NULL;

    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = off;
        off += (w->t[i].n_bytes + w->alignment - 1) / w->alignment * w->alignment;
    }
    pk_buf_put(&h, "GGUF", 4);
    bb_u32(&h, 3);
    bb_u64(&h, w->n_t);
    bb_u64(&h, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        bb_str(&h, w->kv[i].key, strlen(w->kv[i].key));
        pk_buf_put(&h, w->kv[i].bytes, w->kv[i].n);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        bb_str(&h, t->name, strlen(t->name));
        bb_u32(&h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) bb_u64(&h, t->ne[d]);
        bb_u32(&h, (uint32_t)t->type);
        bb_u64(&h, t->offset);
    }
    if (h.fail) {
        st = PK_ERR_NOMEM;
        goto fail;
    }
    f = fopen(tmp, "wb");
    if (!f) {
        st = pk_err(PK_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto fail;
    }
    uint64_t pos = h.n;
    if ((st = write_all(f, h.p, h.n, tmp)) || (st = pad_to(f, &pos, w->alignment, tmp))) goto fail;
    size_t cap = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        const void *src = t->data;
        if (!src) {
            if (cap < t->n_bytes) {
                pk_free(buf);
                cap = (size_t)t->n_bytes;
                if (!(buf = pk_malloc(cap))) {
                    st = PK_ERR_NOMEM;
                    goto fail;
                }
            }
            if ((st = t->fn(t->user, buf, t->n_bytes))) {
                pk_err_prefix("%s: tensor %s", path, t->name);
                goto fail;
            }
            src = buf;
        }
        if ((st = write_all(f, src, (size_t)t->n_bytes, tmp))) goto fail;
        pos += t->n_bytes;
        if ((st = pad_to(f, &pos, w->alignment, tmp))) goto fail;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        st = pk_err(PK_ERR_IO, "%s: flush failed: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fclose(f) != 0) {
        f = NULL;
        st = pk_err(PK_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
        goto fail;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        st = pk_err(PK_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    pk_free(tmp);
    pk_free(h.p);
    pk_free(buf);
    return PK_OK;
fail:
    if (f) fclose(f);
    unlink(tmp);
    pk_free(tmp);
    pk_free(h.p);
    pk_free(buf);
    return st;
}
