/* convert_raw.c: GGUF from a JSON manifest and a raw little-endian fp32
 * tensor file, so that scripts (the house model's trainer) write models
 * through pocket's own GGUF writer. Manifest:
 *   { "data": "tensors.bin",
 *     "metadata": { "KEY": { "type": "u32|i32|f32|bool|str|arr_str|arr_f32|arr_i32",
 *                            "value": ... }, ... },
 *     "tensors": [ { "name": "...", "shape": [ne0, ne1], "offset": BYTES }, ... ] }
 * Matrices are written in the requested type, vectors stay F32. */
#include "gguf/gguf.h"

#include <jansson.h>
#include <string.h>

typedef struct raw_tensor {
    const float *src;
    uint64_t n;
    pk_qtype type;
    int64_t ne0;
} raw_tensor;

static pk_status produce(void *user, void *out, uint64_t n_bytes) {
    raw_tensor *t = user;
    const pk_qtraits *q = pk_qtraits_of(t->type);
    int64_t rows = (int64_t)(t->n / (uint64_t)t->ne0);
    size_t rb = pk_row_size(t->type, t->ne0);
    if (rb * (size_t)rows != n_bytes) return pk_err(PK_ERR_INVALID, "size mismatch");
    for (int64_t r = 0; r < rows; r++)
        q->from_float(t->src + r * t->ne0, (uint8_t *)out + (size_t)r * rb, t->ne0);
    return PK_OK;
}

static pk_status set_meta(pk_gguf_writer *w, const char *key, json_t *spec) {
    const char *type = json_string_value(json_object_get(spec, "type"));
    json_t *v = json_object_get(spec, "value");
    if (!type || !v) return pk_err(PK_ERR_FORMAT, "manifest: metadata %s needs \"type\" and \"value\"", key);
    if (!strcmp(type, "u32") && json_is_integer(v)) return pk_gguf_set_u32(w, key, (uint32_t)json_integer_value(v));
    if (!strcmp(type, "i32") && json_is_integer(v)) return pk_gguf_set_i32(w, key, (int32_t)json_integer_value(v));
    if (!strcmp(type, "f32") && json_is_number(v)) return pk_gguf_set_f32(w, key, (float)json_number_value(v));
    if (!strcmp(type, "bool") && json_is_boolean(v)) return pk_gguf_set_bool(w, key, json_is_true(v));
    if (!strcmp(type, "str") && json_is_string(v)) return pk_gguf_set_str(w, key, json_string_value(v));
    if (!json_is_array(v)) return pk_err(PK_ERR_FORMAT, "manifest: metadata %s: value does not fit type %s", key, type);
    size_t n = json_array_size(v);
    pk_status st = PK_OK;
    if (!strcmp(type, "arr_str")) {
        const char **s = pk_calloc(n ? n : 1, sizeof(char *));
        size_t *l = pk_calloc(n ? n : 1, sizeof(size_t));
        if (!s || !l) st = PK_ERR_NOMEM;
        for (size_t i = 0; i < n && !st; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_string(e)) st = pk_err(PK_ERR_FORMAT, "manifest: %s[%zu] is not a string", key, i);
            else s[i] = json_string_value(e), l[i] = json_string_length(e);
        }
        if (!st) st = pk_gguf_set_arr_str(w, key, s, l, n);
        pk_free(s);
        pk_free(l);
        return st;
    }
    bool f = !strcmp(type, "arr_f32"), i32 = !strcmp(type, "arr_i32");
    if (!f && !i32) return pk_err(PK_ERR_FORMAT, "manifest: metadata %s: unknown type %s", key, type);
    uint32_t *buf = pk_malloc(sizeof(uint32_t) * (n ? n : 1));
    if (!buf) return PK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (f) {
            float x = (float)json_number_value(e);
            memcpy(&buf[i], &x, 4);
        } else {
            int32_t x = (int32_t)json_integer_value(e);
            memcpy(&buf[i], &x, 4);
        }
    }
    st = pk_gguf_set_arr(w, key, f ? PK_GGUF_FLOAT32 : PK_GGUF_INT32, buf, n);
    pk_free(buf);
    return st;
}

pk_status pk_convert_raw(const char *manifest, const char *out_path, const char *type_name) {
    json_error_t jerr;
    pk_quant_init();
    int ty = pk_qtype_from_name(type_name ? type_name : "f16");
    if (ty != PK_Q_F32 && ty != PK_Q_F16 && ty != PK_Q_BF16)
        return pk_err(PK_ERR_INVALID, "convert-raw: type %s (f32, f16 or bf16)", type_name);
    json_t *root = json_load_file(manifest, 0, &jerr);
    if (!root) return pk_err(PK_ERR_FORMAT, "%s:%d:%d: %s", manifest, jerr.line, jerr.column, jerr.text);
    pk_map data = { 0 };
    data.fd = -1;
    pk_gguf_writer *w = NULL;
    raw_tensor *ts = NULL;
    pk_status st;
    const char *dname = json_string_value(json_object_get(root, "data"));
    json_t *meta = json_object_get(root, "metadata"), *tens = json_object_get(root, "tensors");
    if (!dname || !json_is_object(meta) || !json_is_array(tens)) {
        st = pk_err(PK_ERR_FORMAT, "%s: needs \"data\", \"metadata\" and \"tensors\"", manifest);
        goto done;
    }
    char dpath[4096];
    const char *slash = strrchr(manifest, '/');
    if (dname[0] == '/' || !slash) snprintf(dpath, sizeof(dpath), "%s", dname);
    else snprintf(dpath, sizeof(dpath), "%.*s/%s", (int)(slash - manifest), manifest, dname);
    if ((st = pk_map_open(dpath, true, &data)) || (st = pk_gguf_writer_new(0, &w))) goto done;
    const char *key;
    json_t *spec;
    json_object_foreach(meta, key, spec) {
        if ((st = set_meta(w, key, spec))) goto done;
    }
    size_t nt = json_array_size(tens);
    ts = pk_calloc(nt ? nt : 1, sizeof(*ts));
    if (!ts) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < nt; i++) {
        json_t *t = json_array_get(tens, i), *shape = json_object_get(t, "shape");
        const char *name = json_string_value(json_object_get(t, "name"));
        json_int_t off = json_integer_value(json_object_get(t, "offset"));
        size_t nd = json_array_size(shape);
        if (!name || nd < 1 || nd > 2 || off < 0 || off % 4) {
            st = pk_err(PK_ERR_FORMAT, "%s: tensor %zu needs a name, a shape of 1-2 dims and a 4-aligned offset",
                        manifest, i);
            goto done;
        }
        uint64_t ne[2] = { 1, 1 }, n = 1;
        for (size_t d = 0; d < nd; d++) {
            json_int_t v = json_integer_value(json_array_get(shape, d));
            if (v <= 0 || pk_mul_ovf(n, (uint64_t)v, &n)) {
                st = pk_err(PK_ERR_FORMAT, "%s: tensor %s: bad dimension %zu", manifest, name, d);
                goto done;
            }
            ne[d] = (uint64_t)v;
        }
        uint64_t end;
        if (pk_add_ovf((uint64_t)off, n * 4, &end) || end > data.size) {
            st = pk_err(PK_ERR_FORMAT, "%s: tensor %s: %llu floats at %lld pass the end of %s (%zu bytes)", manifest,
                        name, (unsigned long long)n, (long long)off, dpath, data.size);
            goto done;
        }
        ts[i] = (raw_tensor){ (const float *)(data.data + off), n, nd == 2 ? (pk_qtype)ty : PK_Q_F32,
                              (int64_t)ne[0] };
        if ((st = pk_gguf_add_tensor(w, name, ts[i].type, (int)nd, ne, NULL, produce, &ts[i]))) goto done;
    }
    if ((st = pk_gguf_set_u32(w, "general.file_type", ty == PK_Q_F32 ? 0 : ty == PK_Q_F16 ? 1 : 32))) goto done;
    st = pk_gguf_writer_finish(w, out_path);
done:
    pk_gguf_writer_free(w);
    pk_free(ts);
    pk_map_close(&data);
    json_decref(root);
    return st;
}
