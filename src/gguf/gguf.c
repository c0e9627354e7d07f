/* gguf.c: GGUF v2/v3 reader. Parses the header, metadata and tensor infos
 * out of a read-only mapping with a bounds-checked cursor; validates every
 * length against the bytes that remain and every tensor against the data
 * section before returning. Values and tensor data stay in the mapping. */
#include "gguf/gguf.h"

#include <stdlib.h>
#include <string.h>

#define GGUF_MAGIC "GGUF"
#define MAX_NESTING 8

/* ---- cursor ---- */

typedef struct cursor {
    const uint8_t *p;
    size_t size, off;
    uint32_t version;
} cursor;

static pk_status need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->off)
        return pk_err(PK_ERR_FORMAT, "truncated: %s needs %llu bytes at offset %zu, %zu remain",
                      what, (unsigned long long)n, c->off, c->size - c->off);
    return PK_OK;
}

static pk_status rd(cursor *c, void *out, size_t n, const char *what) {
    pk_status st = need(c, n, what);
    if (st) return st;
    memcpy(out, c->p + c->off, n);
    c->off += n;
    return PK_OK;
}

static pk_status rd_u32(cursor *c, uint32_t *v, const char *what) { return rd(c, v, 4, what); }

/* v1 used 32-bit counts; v2+ 64-bit */
static pk_status rd_u64(cursor *c, uint64_t *v, const char *what) { return rd(c, v, 8, what); }

static pk_status rd_str(cursor *c, pk_gguf_str *s, const char *what) {
    uint64_t len;
    pk_status st = rd_u64(c, &len, what);
    if (st) return st;
    if ((st = need(c, len, what))) return st;
    s->ptr = (const char *)c->p + c->off;
    s->len = len;
    c->off += (size_t)len;
    return PK_OK;
}

/* ---- values ---- */

static const struct { const char *name; size_t size; } TYPES[PK_GGUF_TYPE_COUNT] = {
    { "u8", 1 }, { "i8", 1 }, { "u16", 2 }, { "i16", 2 }, { "u32", 4 }, { "i32", 4 },
    { "f32", 4 }, { "bool", 1 }, { "str", 0 }, { "arr", 0 }, { "u64", 8 }, { "i64", 8 },
    { "f64", 8 },
};

const char *pk_gguf_type_name(pk_gguf_type t) {
    return (unsigned)t < PK_GGUF_TYPE_COUNT ? TYPES[t].name : "unknown";
}

static void widen(pk_gguf_type t, const uint8_t *p, pk_gguf_value *v) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            float f32; uint64_t u64; int64_t i64; double f64; } x;
    memcpy(&x, p, TYPES[t].size);
    switch (t) {
    case PK_GGUF_UINT8: v->v.u64 = x.u8; break;
    case PK_GGUF_INT8: v->v.i64 = x.i8; break;
    case PK_GGUF_UINT16: v->v.u64 = x.u16; break;
    case PK_GGUF_INT16: v->v.i64 = x.i16; break;
    case PK_GGUF_UINT32: v->v.u64 = x.u32; break;
    case PK_GGUF_INT32: v->v.i64 = x.i32; break;
    case PK_GGUF_FLOAT32: v->v.f64 = x.f32; break;
    case PK_GGUF_BOOL: v->v.b = x.u8 != 0; break;
    case PK_GGUF_UINT64: v->v.u64 = x.u64; break;
    case PK_GGUF_INT64: v->v.i64 = x.i64; break;
    case PK_GGUF_FLOAT64: v->v.f64 = x.f64; break;
    default: break;
    }
}

static bool is_signed(pk_gguf_type t) {
    return t == PK_GGUF_INT8 || t == PK_GGUF_INT16 || t == PK_GGUF_INT32 || t == PK_GGUF_INT64;
}
static bool is_float(pk_gguf_type t) { return t == PK_GGUF_FLOAT32 || t == PK_GGUF_FLOAT64; }

/* offset tables of string/array arrays, freed with the reader */
typedef struct offs_list {
    uint64_t **v;
    size_t n, cap;
} offs_list;

static pk_status offs_push(offs_list *l, uint64_t *o) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint64_t **nv = pk_realloc(l->v, cap * sizeof(*nv));
        if (!nv) {
            pk_free(o);
            return PK_ERR_NOMEM;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = o;
    return PK_OK;
}

static pk_status parse_value(cursor *c, pk_gguf_type t, pk_gguf_value *v, offs_list *ol,
                             int depth, const char *key);

/* Skip over (and validate) one element of type t without keeping it. */
static pk_status skip_elem(cursor *c, pk_gguf_type t, offs_list *ol, int depth,
                           const char *key) {
    pk_gguf_value tmp;
    return parse_value(c, t, &tmp, ol, depth, key);
}

static pk_status parse_value(cursor *c, pk_gguf_type t, pk_gguf_value *v, offs_list *ol,
                             int depth, const char *key) {
    pk_status st;
    memset(v, 0, sizeof(*v));
    v->type = t;
    if ((unsigned)t >= PK_GGUF_TYPE_COUNT)
        return pk_err(PK_ERR_FORMAT, "key %s: unknown value type %u at offset %zu", key,
                      (unsigned)t, c->off);
    if (t == PK_GGUF_STRING) return rd_str(c, &v->v.str, key);
    if (t != PK_GGUF_ARRAY) {
        if ((st = need(c, TYPES[t].size, key))) return st;
        widen(t, c->p + c->off, v);
        if (t == PK_GGUF_BOOL && c->p[c->off] > 1)
            return pk_err(PK_ERR_FORMAT, "key %s: bool value %u is not 0 or 1", key, c->p[c->off]);
        c->off += TYPES[t].size;
        return PK_OK;
    }
    if (depth >= MAX_NESTING)
        return pk_err(PK_ERR_FORMAT, "key %s: arrays nested deeper than %d", key, MAX_NESTING);
    uint32_t et;
    uint64_t n;
    if ((st = rd_u32(c, &et, key)) || (st = rd_u64(c, &n, key))) return st;
    if (et >= PK_GGUF_TYPE_COUNT)
        return pk_err(PK_ERR_FORMAT, "key %s: unknown array element type %u", key, et);
    v->v.arr.type = (pk_gguf_type)et;
    v->v.arr.n = n;
    v->v.arr.data = c->p + c->off;
    if (et != PK_GGUF_STRING && et != PK_GGUF_ARRAY) {
        uint64_t bytes;
        if (pk_mul_ovf(n, TYPES[et].size, &bytes) || bytes > c->size - c->off)
            return pk_err(PK_ERR_FORMAT,
                          "key %s: array of %llu %s elements past end of file (%zu bytes remain)",
                          key, (unsigned long long)n, TYPES[et].name, c->size - c->off);
        if (et == PK_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (c->p[c->off + i] > 1)
                    return pk_err(PK_ERR_FORMAT, "key %s: bool element %llu is %u", key,
                                  (unsigned long long)i, c->p[c->off + i]);
        c->off += (size_t)bytes;
        return PK_OK;
    }
    /* each string needs at least 8 bytes, each array 12: bound n first */
    uint64_t min_each = et == PK_GGUF_STRING ? 8 : 12;
    if (n > (c->size - c->off) / min_each)
        return pk_err(PK_ERR_FORMAT,
                      "key %s: array of %llu %s elements cannot fit in the %zu bytes that remain",
                      key, (unsigned long long)n, TYPES[et].name, c->size - c->off);
    uint64_t *offs = pk_malloc(sizeof(uint64_t) * (size_t)(n ? n : 1));
    if (!offs) return PK_ERR_NOMEM;
    if ((st = offs_push(ol, offs))) return st;
    size_t start = c->off;
    for (uint64_t i = 0; i < n; i++) {
        offs[i] = c->off - start;
        if ((st = skip_elem(c, (pk_gguf_type)et, ol, depth + 1, key))) return st;
    }
    v->v.arr.offs = offs;
    return PK_OK;
}

/* ---- open ---- */

static void free_parts(pk_gguf *g, offs_list *ol) {
    for (size_t i = 0; i < ol->n; i++) pk_free(ol->v[i]);
    pk_free(ol->v);
    ol->v = NULL;
    ol->n = ol->cap = 0;
    pk_free(g->kv);
    pk_free(g->tensors);
    g->kv = NULL;
    g->tensors = NULL;
}

/* The offset tables live in a list hung off the reader; store it after kv
 * and tensors so pk_gguf_close can free it. */
typedef struct pk_gguf_full {
    pk_gguf g;
    offs_list ol;
} pk_gguf_full;

static bool str_eq(pk_gguf_str a, pk_gguf_str b) {
    return a.len == b.len && memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}

/* printable, bounded copy of a GGUF string for error messages */
static const char *shown(pk_gguf_str s, char *buf, size_t cap) {
    size_t n = (size_t)PK_MIN(s.len, (uint64_t)cap - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        buf[i] = ch >= 32 && ch != 127 ? (char)ch : '?';
    }
    buf[n] = 0;
    return buf;
}

/* hash set of names for duplicate detection */
static uint64_t hash_str(pk_gguf_str s) {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < s.len; i++) h = (h ^ (uint8_t)s.ptr[i]) * 1099511628211ull;
    return h;
}

static pk_status check_dups(pk_gguf_str (*get)(const pk_gguf *, uint64_t), const pk_gguf *g,
                            uint64_t n, const char *what) {
    if (n < 2) return PK_OK;
    uint64_t cap = 16;
    while (cap < n * 2) cap *= 2;
    uint64_t *slots = pk_calloc((size_t)cap, sizeof(uint64_t)); /* index + 1 */
    if (!slots) return PK_ERR_NOMEM;
    pk_status st = PK_OK;
    for (uint64_t i = 0; i < n && !st; i++) {
        pk_gguf_str s = get(g, i);
        uint64_t h = hash_str(s) & (cap - 1);
        while (slots[h]) {
            if (str_eq(get(g, slots[h] - 1), s)) {
                char b[96];
                st = pk_err(PK_ERR_FORMAT, "duplicate %s name '%s' (entries %llu and %llu)",
                            what, shown(s, b, sizeof(b)), (unsigned long long)(slots[h] - 1),
                            (unsigned long long)i);
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        slots[h] = i + 1;
    }
    pk_free(slots);
    return st;
}

static pk_gguf_str kv_name(const pk_gguf *g, uint64_t i) { return g->kv[i].key; }
static pk_gguf_str tensor_name(const pk_gguf *g, uint64_t i) { return g->tensors[i].name; }

static int cmp_u64pair(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static pk_status parse(pk_gguf_full *f) {
    pk_gguf *g = &f->g;
    cursor c = { g->map.data, g->map.size, 0, 0 };
    pk_status st;
    char magic[4];
    char nb[96];
    if ((st = rd(&c, magic, 4, "magic"))) return st;
    if (memcmp(magic, GGUF_MAGIC, 4) != 0)
        return pk_err(PK_ERR_FORMAT, "bad magic %02x %02x %02x %02x (not a GGUF file)",
                      (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2], (uint8_t)magic[3]);
    if ((st = rd_u32(&c, &g->version, "version"))) return st;
    if (g->version != 2 && g->version != 3)
        return pk_err(PK_ERR_UNSUPPORTED, "GGUF version %u is not supported (2 and 3 are)",
                      g->version);
    c.version = g->version;
    if ((st = rd_u64(&c, &g->n_tensors, "tensor count")) ||
        (st = rd_u64(&c, &g->n_kv, "metadata count")))
        return st;
    /* a key/value needs at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 8 + 4 + 8 */
    if (g->n_kv > (c.size - c.off) / 13)
        return pk_err(PK_ERR_FORMAT, "metadata count %llu cannot fit in a file of %zu bytes",
                      (unsigned long long)g->n_kv, c.size);
    if (g->n_tensors > (c.size - c.off) / 32)
        return pk_err(PK_ERR_FORMAT, "tensor count %llu cannot fit in a file of %zu bytes",
                      (unsigned long long)g->n_tensors, c.size);
    g->kv = pk_calloc((size_t)(g->n_kv ? g->n_kv : 1), sizeof(pk_gguf_kv));
    g->tensors = pk_calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof(pk_gguf_tensor));
    if (!g->kv || !g->tensors) return PK_ERR_NOMEM;

    g->alignment = 32;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        pk_gguf_kv *kv = &g->kv[i];
        uint32_t t;
        snprintf(nb, sizeof(nb), "key %llu", (unsigned long long)i);
        if ((st = rd_str(&c, &kv->key, nb))) return st;
        shown(kv->key, nb, sizeof(nb));
        if ((st = rd_u32(&c, &t, nb))) return st;
        if ((st = parse_value(&c, (pk_gguf_type)t, &kv->value, &f->ol, 0, nb))) return st;
        if (pk_gguf_str_eq(kv->key, "general.alignment")) {
            uint64_t a = 0;
            if (kv->value.type == PK_GGUF_UINT32 || kv->value.type == PK_GGUF_UINT64)
                a = kv->value.v.u64;
            else if (is_signed(kv->value.type) && kv->value.v.i64 > 0)
                a = (uint64_t)kv->value.v.i64;
            if (a == 0 || (a & (a - 1)) || a > (1u << 20))
                return pk_err(PK_ERR_FORMAT,
                              "general.alignment must be a power of two up to 1 MiB (got %s %llu)",
                              pk_gguf_type_name(kv->value.type), (unsigned long long)a);
            g->alignment = a;
        }
    }
    if ((st = check_dups(kv_name, g, g->n_kv, "metadata key"))) return st;

    for (uint64_t i = 0; i < g->n_tensors; i++) {
        pk_gguf_tensor *t = &g->tensors[i];
        uint32_t nd, ty;
        snprintf(nb, sizeof(nb), "tensor %llu", (unsigned long long)i);
        if ((st = rd_str(&c, &t->name, nb))) return st;
        shown(t->name, nb, sizeof(nb));
        if ((st = rd_u32(&c, &nd, nb))) return st;
        if (nd == 0 || nd > PK_GGUF_MAX_DIMS)
            return pk_err(PK_ERR_FORMAT, "tensor %s: %u dimensions (1 to %d allowed)", nb, nd,
                          PK_GGUF_MAX_DIMS);
        t->n_dims = (int)nd;
        uint64_t n_el = 1;
        for (int d = 0; d < PK_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            if ((st = rd_u64(&c, &t->ne[d], nb))) return st;
            if (t->ne[d] == 0 || t->ne[d] > ((uint64_t)1 << 62) || pk_mul_ovf(n_el, t->ne[d], &n_el) ||
                n_el > ((uint64_t)1 << 62))
                return pk_err(PK_ERR_FORMAT, "tensor %s: dimension %u of %llu is zero or overflows",
                              nb, d, (unsigned long long)t->ne[d]);
        }
        if ((st = rd_u32(&c, &ty, nb)) || (st = rd_u64(&c, &t->offset, nb))) return st;
        if (!pk_qtype_known((int)ty))
            return pk_err(PK_ERR_UNSUPPORTED, "tensor %s: unknown tensor type %u", nb, ty);
        t->type = (pk_qtype)ty;
        const pk_qtraits *q = pk_qtraits_of(t->type);
        if (t->ne[0] % (uint64_t)q->blck)
            return pk_err(PK_ERR_FORMAT, "tensor %s: row of %llu is not a multiple of %s's block of %d",
                          nb, (unsigned long long)t->ne[0], q->name, q->blck);
        uint64_t bytes;
        if (pk_mul_ovf(n_el / (uint64_t)q->blck, q->bytes, &bytes))
            return pk_err(PK_ERR_FORMAT, "tensor %s: size overflows", nb);
        t->n_bytes = bytes;
        if (t->offset % g->alignment)
            return pk_err(PK_ERR_FORMAT, "tensor %s: offset %llu is not a multiple of the alignment %llu",
                          nb, (unsigned long long)t->offset, (unsigned long long)g->alignment);
    }
    if ((st = check_dups(tensor_name, g, g->n_tensors, "tensor"))) return st;

    uint64_t data_off = (c.off + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors && data_off > c.size)
        return pk_err(PK_ERR_FORMAT, "truncated: tensor data would start at %llu, file has %zu bytes",
                      (unsigned long long)data_off, c.size);
    g->data_offset = data_off;
    uint64_t data_size = c.size > data_off ? c.size - data_off : 0;
    uint64_t (*spans)[2] = NULL;
    if (g->n_tensors) {
        spans = pk_malloc(sizeof(*spans) * (size_t)g->n_tensors);
        if (!spans) return PK_ERR_NOMEM;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        pk_gguf_tensor *t = &g->tensors[i];
        uint64_t end;
        if (pk_add_ovf(t->offset, t->n_bytes, &end) || end > data_size) {
            pk_err(PK_ERR_FORMAT, "tensor %s: offset %llu + size %llu past end of data (%llu)",
                   shown(t->name, nb, sizeof(nb)), (unsigned long long)t->offset,
                   (unsigned long long)t->n_bytes, (unsigned long long)data_size);
            pk_free(spans);
            return PK_ERR_FORMAT;
        }
        t->data = g->map.data + data_off + t->offset;
        spans[i][0] = t->offset;
        spans[i][1] = i;
    }
    if (g->n_tensors > 1) {
        qsort(spans, (size_t)g->n_tensors, sizeof(*spans), cmp_u64pair);
        for (uint64_t i = 1; i < g->n_tensors; i++) {
            const pk_gguf_tensor *a = &g->tensors[spans[i - 1][1]], *b = &g->tensors[spans[i][1]];
            if (a->offset + a->n_bytes > b->offset) {
                char nb2[96];
                pk_err(PK_ERR_FORMAT, "tensors %s and %s overlap (offsets %llu + %llu > %llu)",
                       shown(a->name, nb, sizeof(nb)), shown(b->name, nb2, sizeof(nb2)),
                       (unsigned long long)a->offset, (unsigned long long)a->n_bytes,
                       (unsigned long long)b->offset);
                pk_free(spans);
                return PK_ERR_FORMAT;
            }
        }
    }
    pk_free(spans);
    return PK_OK;
}

static pk_status open_map(pk_gguf_full *f, pk_gguf **out) {
    pk_status st = parse(f);
    if (st) {
        pk_gguf_close(&f->g);
        return st;
    }
    *out = &f->g;
    return PK_OK;
}

pk_status pk_gguf_open(const char *path, bool use_mmap, pk_gguf **out) {
    *out = NULL;
    pk_gguf_full *f = pk_calloc(1, sizeof(*f));
    if (!f) return PK_ERR_NOMEM;
    pk_status st = pk_map_open(path, use_mmap, &f->g.map);
    if (st) {
        pk_free(f);
        return st;
    }
    st = open_map(f, out);
    if (st) pk_err_prefix("%s", path);
    return st;
}

pk_status pk_gguf_open_mem(const void *data, size_t size, pk_gguf **out) {
    *out = NULL;
    pk_gguf_full *f = pk_calloc(1, sizeof(*f));
    if (!f) return PK_ERR_NOMEM;
    f->g.map.data = data;
    f->g.map.size = size;
    f->g.map.fd = -1;
    return open_map(f, out);
}

void pk_gguf_close(pk_gguf *g) {
    if (!g) return;
    pk_gguf_full *f = (pk_gguf_full *)g;
    free_parts(g, &f->ol);
    if (g->map.fd >= 0 || g->map.owned) pk_map_close(&g->map);
    pk_free(f);
}

/* ---- lookups ---- */

bool pk_gguf_str_eq(pk_gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

const pk_gguf_kv *pk_gguf_find(const pk_gguf *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (pk_gguf_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const pk_gguf_tensor *pk_gguf_tensor_find(const pk_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (pk_gguf_str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static pk_status find_typed(const pk_gguf *g, const char *key, const pk_gguf_kv **kv) {
    *kv = pk_gguf_find(g, key);
    if (!*kv) return pk_err(PK_ERR_NOT_FOUND, "metadata key %s not found", key);
    return PK_OK;
}

static pk_status wrong_type(const char *key, pk_gguf_type got, const char *want) {
    return pk_err(PK_ERR_FORMAT, "metadata key %s is %s, expected %s", key,
                  pk_gguf_type_name(got), want);
}

pk_status pk_gguf_get_i64(const pk_gguf *g, const char *key, int64_t *out) {
    const pk_gguf_kv *kv;
    pk_status st = find_typed(g, key, &kv);
    if (st) return st;
    pk_gguf_type t = kv->value.type;
    if (is_signed(t)) *out = kv->value.v.i64;
    else if (t == PK_GGUF_UINT8 || t == PK_GGUF_UINT16 || t == PK_GGUF_UINT32 ||
             t == PK_GGUF_UINT64) {
        if (kv->value.v.u64 > INT64_MAX)
            return pk_err(PK_ERR_RANGE, "metadata key %s: %llu out of range", key,
                          (unsigned long long)kv->value.v.u64);
        *out = (int64_t)kv->value.v.u64;
    } else
        return wrong_type(key, t, "an integer");
    return PK_OK;
}

pk_status pk_gguf_get_u32(const pk_gguf *g, const char *key, uint32_t *out) {
    int64_t v;
    pk_status st = pk_gguf_get_i64(g, key, &v);
    if (st) return st;
    if (v < 0 || v > UINT32_MAX)
        return pk_err(PK_ERR_RANGE, "metadata key %s: %lld out of range for u32", key, (long long)v);
    *out = (uint32_t)v;
    return PK_OK;
}

pk_status pk_gguf_get_f32(const pk_gguf *g, const char *key, float *out) {
    const pk_gguf_kv *kv;
    pk_status st = find_typed(g, key, &kv);
    if (st) return st;
    pk_gguf_type t = kv->value.type;
    if (is_float(t)) *out = (float)kv->value.v.f64;
    else if (is_signed(t)) *out = (float)kv->value.v.i64;
    else if (t != PK_GGUF_STRING && t != PK_GGUF_ARRAY && t != PK_GGUF_BOOL) *out = (float)kv->value.v.u64;
    else return wrong_type(key, t, "a number");
    return PK_OK;
}

pk_status pk_gguf_get_bool(const pk_gguf *g, const char *key, bool *out) {
    const pk_gguf_kv *kv;
    pk_status st = find_typed(g, key, &kv);
    if (st) return st;
    if (kv->value.type != PK_GGUF_BOOL) return wrong_type(key, kv->value.type, "bool");
    *out = kv->value.v.b;
    return PK_OK;
}

pk_status pk_gguf_get_str(const pk_gguf *g, const char *key, pk_gguf_str *out) {
    const pk_gguf_kv *kv;
    pk_status st = find_typed(g, key, &kv);
    if (st) return st;
    if (kv->value.type != PK_GGUF_STRING) return wrong_type(key, kv->value.type, "str");
    *out = kv->value.v.str;
    return PK_OK;
}

pk_status pk_gguf_get_strdup(const pk_gguf *g, const char *key, char **out) {
    pk_gguf_str s = { "", 0 };
    pk_status st = pk_gguf_get_str(g, key, &s);
    if (st) return st;
    *out = pk_strndup(s.ptr, (size_t)s.len);
    return *out ? PK_OK : PK_ERR_NOMEM;
}

pk_status pk_gguf_get_arr(const pk_gguf *g, const char *key, pk_gguf_type elem,
                          const pk_gguf_value **out) {
    const pk_gguf_kv *kv;
    pk_status st = find_typed(g, key, &kv);
    if (st) return st;
    if (kv->value.type != PK_GGUF_ARRAY) return wrong_type(key, kv->value.type, "arr");
    if (kv->value.v.arr.type != elem)
        return pk_err(PK_ERR_FORMAT, "metadata key %s: array of %s, expected %s", key,
                      pk_gguf_type_name(kv->value.v.arr.type), pk_gguf_type_name(elem));
    *out = &kv->value;
    return PK_OK;
}

pk_gguf_str pk_gguf_arr_str(const pk_gguf_value *arr, uint64_t i) {
    pk_gguf_str s = { "", 0 };
    if (arr->v.arr.type != PK_GGUF_STRING || i >= arr->v.arr.n) return s;
    const uint8_t *p = arr->v.arr.data + arr->v.arr.offs[i];
    memcpy(&s.len, p, 8);
    s.ptr = (const char *)p + 8;
    return s;
}

int64_t pk_gguf_arr_i64(const pk_gguf_value *arr, uint64_t i) {
    pk_gguf_type t = arr->v.arr.type;
    if (i >= arr->v.arr.n || t == PK_GGUF_STRING || t == PK_GGUF_ARRAY) return 0;
    pk_gguf_value v;
    widen(t, arr->v.arr.data + i * TYPES[t].size, &v);
    if (is_float(t)) return (int64_t)v.v.f64;
    if (t == PK_GGUF_BOOL) return v.v.b;
    return v.v.i64; /* u64 and i64 share storage; large u64 wrap */
}

double pk_gguf_arr_f64(const pk_gguf_value *arr, uint64_t i) {
    pk_gguf_type t = arr->v.arr.type;
    if (i >= arr->v.arr.n || t == PK_GGUF_STRING || t == PK_GGUF_ARRAY) return 0;
    pk_gguf_value v;
    widen(t, arr->v.arr.data + i * TYPES[t].size, &v);
    if (is_float(t)) return v.v.f64;
    if (is_signed(t)) return (double)v.v.i64;
    if (t == PK_GGUF_BOOL) return v.v.b;
    return (double)v.v.u64;
}
