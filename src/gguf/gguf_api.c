/* gguf_api.c: the public GGUF inspection calls (pk_file_*) over the
 * reader, for `pocket inspect` and library users. */
#include "gguf/gguf.h"

#include <stdio.h>
#include <string.h>

struct pk_file {
    pk_gguf *g;
};

pk_status pk_file_open(const char *path, pk_file **out) {
    *out = NULL;
    pk_quant_init();
    pk_file *f = pk_calloc(1, sizeof(*f));
    if (!f) return PK_ERR_NOMEM;
    pk_status st = pk_gguf_open(path, true, &f->g);
    if (st) {
        pk_free(f);
        return st;
    }
    *out = f;
    return PK_OK;
}

void pk_file_close(pk_file *f) {
    if (!f) return;
    pk_gguf_close(f->g);
    pk_free(f);
}

void pk_file_get_info(const pk_file *f, pk_file_info *info) {
    const pk_gguf *g = f->g;
    *info = (pk_file_info){ g->version, g->n_kv, g->n_tensors, g->map.size, g->data_offset, g->alignment };
}

const char *pk_file_kv_key(const pk_file *f, uint64_t i, size_t *len) {
    if (i >= f->g->n_kv) {
        *len = 0;
        return "";
    }
    *len = (size_t)f->g->kv[i].key.len;
    return f->g->kv[i].key.ptr;
}

const char *pk_file_kv_type(const pk_file *f, uint64_t i) {
    static const char *arr[PK_GGUF_TYPE_COUNT] = {
        "arr[u8]", "arr[i8]", "arr[u16]", "arr[i16]", "arr[u32]", "arr[i32]", "arr[f32]",
        "arr[bool]", "arr[str]", "arr[arr]", "arr[u64]", "arr[i64]", "arr[f64]" };
    if (i >= f->g->n_kv) return "";
    const pk_gguf_value *v = &f->g->kv[i].value;
    if (v->type == PK_GGUF_ARRAY) return arr[v->v.arr.type];
    return pk_gguf_type_name(v->type);
}

/* a string shown in quotes with control bytes escaped, cut at 200 bytes */
static void put_str(pk_buf *b, const char *s, size_t l) {
    pk_buf_put(b, "\"", 1);
    for (size_t i = 0; i < l && i < 200; i++) {
        char esc[8];
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c == '\n') snprintf(esc, sizeof(esc), "\\n");
        else if (c < 32 || c == 127) snprintf(esc, sizeof(esc), "\\x%02x", c);
        else esc[0] = (char)c, esc[1] = 0;
        pk_buf_put(b, esc, strlen(esc));
    }
    pk_buf_put(b, l > 200 ? "...\"" : "\"", l > 200 ? 4 : 1);
}

static void put_scalar(pk_buf *b, const pk_gguf_value *v) {
    char s[64];
    switch (v->type) {
    case PK_GGUF_INT8: case PK_GGUF_INT16: case PK_GGUF_INT32: case PK_GGUF_INT64:
        snprintf(s, sizeof(s), "%lld", (long long)v->v.i64);
        break;
    case PK_GGUF_FLOAT32: case PK_GGUF_FLOAT64: snprintf(s, sizeof(s), "%g", v->v.f64); break;
    case PK_GGUF_BOOL: snprintf(s, sizeof(s), "%s", v->v.b ? "true" : "false"); break;
    default: snprintf(s, sizeof(s), "%llu", (unsigned long long)v->v.u64); break;
    }
    pk_buf_put(b, s, strlen(s));
}

pk_status pk_file_kv_text(const pk_file *f, uint64_t i, size_t max_elems, char **text) {
    *text = NULL;
    if (i >= f->g->n_kv) return pk_err(PK_ERR_RANGE, "key index %llu of %llu", (unsigned long long)i,
                                       (unsigned long long)f->g->n_kv);
    const pk_gguf_value *v = &f->g->kv[i].value;
    pk_buf b = { 0 };
    pk_buf_put(&b, "", 0);
    if (v->type == PK_GGUF_STRING) {
        put_str(&b, v->v.str.ptr, (size_t)v->v.str.len);
    } else if (v->type == PK_GGUF_ARRAY) {
        uint64_t n = v->v.arr.n;
        pk_buf_put(&b, "[", 1);
        for (uint64_t k = 0; k < n && k < max_elems; k++) {
            if (k) pk_buf_put(&b, ", ", 2);
            if (v->v.arr.type == PK_GGUF_STRING) {
                pk_gguf_str s = pk_gguf_arr_str(v, k);
                put_str(&b, s.ptr, (size_t)s.len);
            } else if (v->v.arr.type == PK_GGUF_ARRAY) {
                pk_buf_put(&b, "[...]", 5);
            } else {
                pk_gguf_value e = { .type = v->v.arr.type };
                if (e.type == PK_GGUF_FLOAT32 || e.type == PK_GGUF_FLOAT64) e.v.f64 = pk_gguf_arr_f64(v, k);
                else e.v.i64 = pk_gguf_arr_i64(v, k);
                if (e.type == PK_GGUF_BOOL) e.v.b = pk_gguf_arr_i64(v, k) != 0;
                put_scalar(&b, &e);
            }
        }
        char tail[48];
        snprintf(tail, sizeof(tail), n > max_elems ? ", ... (%llu)]" : "]", (unsigned long long)n);
        pk_buf_put(&b, tail, strlen(tail));
    } else {
        put_scalar(&b, v);
    }
    if (b.fail) {
        pk_free(b.p);
        return PK_ERR_NOMEM;
    }
    *text = b.p;
    return PK_OK;
}

void pk_file_get_tensor(const pk_file *f, uint64_t i, pk_file_tensor *out) {
    memset(out, 0, sizeof(*out));
    if (i >= f->g->n_tensors) return;
    const pk_gguf_tensor *t = &f->g->tensors[i];
    out->name = t->name.ptr;
    out->name_len = (size_t)t->name.len;
    out->type = pk_qtype_name(t->type);
    out->n_dims = t->n_dims;
    out->n_elements = 1;
    for (int d = 0; d < 4; d++) {
        out->ne[d] = t->ne[d];
        out->n_elements *= t->ne[d];
    }
    out->offset = f->g->data_offset + t->offset;
    out->n_bytes = t->n_bytes;
}
