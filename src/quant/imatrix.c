/* imatrix.c: the importance matrix: per weight tensor, the sum of squared
 * input activations per column and the number of rows summed. Stored as
 * GGUF in the layout llama.cpp's imatrix tool uses (general.type =
 * "imatrix", tensors <name>.in_sum2 (n_cols, 1) and <name>.counts (1, 1)),
 * so a file made by either tool can be given to either quantizer. */
#include "quant/quantize.h"

#include <string.h>

/* ---- create/free ---- */

void pk_imatrix_free(pk_imatrix *im) {
    if (!im) return;
    for (size_t i = 0; i < im->n; i++) {
        pk_free(im->e[i].name);
        pk_free(im->e[i].sum2);
    }
    pk_free(im->e);
    pk_free(im->dataset);
    pk_free(im);
}

pk_imatrix_entry *pk_imatrix_get(pk_imatrix *im, const char *name,
                                 int64_t n_cols, bool create) {
    for (size_t i = 0; i < im->n; i++) {
        if (strcmp(im->e[i].name, name) != 0) continue;
        if (im->e[i].n_cols != n_cols) {
            pk_err(PK_ERR_FORMAT, "imatrix entry %s has %lld columns, the weight has %lld",
                   name, (long long)im->e[i].n_cols, (long long)n_cols);
            return NULL;
        }
        return &im->e[i];
    }
    if (!create) {
        pk_err(PK_ERR_NOT_FOUND, "imatrix has no entry for %s", name);
        return NULL;
    }
    if (n_cols <= 0 || n_cols > (1 << 24)) {
        pk_err(PK_ERR_INVALID, "imatrix entry %s: bad column count %lld", name,
               (long long)n_cols);
        return NULL;
    }
    if (im->n == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 64;
        pk_imatrix_entry *e = pk_realloc(im->e, cap * sizeof(*e));
        if (!e) return NULL;
        im->e = e;
        im->cap = cap;
    }
    pk_imatrix_entry *e = &im->e[im->n];
    memset(e, 0, sizeof(*e));
    e->name = pk_strdup(name);
    e->sum2 = pk_calloc((size_t)n_cols, sizeof(float));
    if (!e->name || !e->sum2) {
        pk_free(e->name);
        pk_free(e->sum2);
        return NULL;
    }
    e->n_cols = n_cols;
    im->n++;
    return e;
}

bool pk_imatrix_weights(const pk_imatrix *im, const char *name, int64_t n_cols,
                        float *out) {
    if (!im) return false;
    for (size_t i = 0; i < im->n; i++) {
        const pk_imatrix_entry *e = &im->e[i];
        if (strcmp(e->name, name) != 0 || e->n_cols != n_cols || e->count <= 0)
            continue;
        for (int64_t j = 0; j < n_cols; j++) out[j] = e->sum2[j] / e->count;
        return true;
    }
    return false;
}

/* ---- load ---- */

static const char SUFFIX_SUM2[] = ".in_sum2";
static const char SUFFIX_COUNTS[] = ".counts";

static bool ends_with(pk_gguf_str s, const char *suf, size_t *stem) {
    size_t l = strlen(suf);
    if (s.len < l || memcmp(s.ptr + s.len - l, suf, l) != 0) return false;
    *stem = (size_t)s.len - l;
    return true;
}

pk_status pk_imatrix_load(const char *path, pk_imatrix **out) {
    *out = NULL;
    pk_gguf *g = NULL;
    pk_status st = pk_gguf_open(path, true, &g);
    if (st) return st;
    pk_imatrix *im = pk_calloc(1, sizeof(*im));
    if (!im) {
        st = PK_ERR_NOMEM;
        goto fail;
    }
    uint32_t u = 0;
    if (pk_gguf_get_u32(g, "imatrix.chunk_count", &u) == PK_OK) im->chunk_count = u;
    if (pk_gguf_get_u32(g, "imatrix.chunk_size", &u) == PK_OK) im->chunk_size = u;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const pk_gguf_tensor *t = &g->tensors[i];
        size_t stem;
        if (!ends_with(t->name, SUFFIX_SUM2, &stem)) continue;
        if (t->type != PK_Q_F32 || t->ne[1] != 1) {
            st = pk_err(PK_ERR_UNSUPPORTED,
                        "%s: tensor %.*s: expected F32 (n, 1), got %s (%llu, %llu) "
                        "(per-expert imatrices are not supported)",
                        path, (int)t->name.len, t->name.ptr, pk_qtype_name(t->type),
                        (unsigned long long)t->ne[0], (unsigned long long)t->ne[1]);
            goto fail;
        }
        char name[512];
        if (stem >= sizeof(name) - sizeof(SUFFIX_COUNTS)) {
            st = pk_err(PK_ERR_FORMAT, "%s: tensor name of %zu bytes too long", path, stem);
            goto fail;
        }
        memcpy(name, t->name.ptr, stem);
        memcpy(name + stem, SUFFIX_COUNTS, sizeof(SUFFIX_COUNTS));
        const pk_gguf_tensor *c = pk_gguf_tensor_find(g, name);
        if (!c || c->type != PK_Q_F32 || c->ne[0] != 1 || c->ne[1] != 1) {
            st = pk_err(PK_ERR_FORMAT, "%s: %s missing or not F32 (1, 1)", path, name);
            goto fail;
        }
        name[stem] = 0;
        pk_imatrix_entry *e = pk_imatrix_get(im, name, (int64_t)t->ne[0], true);
        if (!e) {
            st = PK_ERR_NOMEM;
            goto fail;
        }
        memcpy(e->sum2, t->data, (size_t)t->ne[0] * sizeof(float));
        memcpy(&e->count, c->data, sizeof(float));
    }
    pk_gguf_close(g);
    *out = im;
    return PK_OK;
fail:
    pk_gguf_close(g);
    pk_imatrix_free(im);
    return st;
}

/* ---- save ---- */

pk_status pk_imatrix_save(const pk_imatrix *im, const char *path) {
    pk_gguf_writer *w = NULL;
    pk_status st = pk_gguf_writer_new(0, &w);
    if (st) return st;
    char (*names)[2][520] = pk_calloc(im->n ? im->n : 1, sizeof(*names));
    if (!names) {
        st = PK_ERR_NOMEM;
        goto done;
    }
    const char *ds = im->dataset ? im->dataset : "";
    if ((st = pk_gguf_set_str(w, "general.type", "imatrix")) ||
        (st = pk_gguf_set_arr_str(w, "imatrix.datasets", &ds, NULL, 1)) ||
        (st = pk_gguf_set_u32(w, "imatrix.chunk_count", im->chunk_count)) ||
        (st = pk_gguf_set_u32(w, "imatrix.chunk_size", im->chunk_size)))
        goto done;
    for (size_t i = 0; i < im->n; i++) {
        const pk_imatrix_entry *e = &im->e[i];
        snprintf(names[i][0], sizeof(names[i][0]), "%s%s", e->name, SUFFIX_SUM2);
        snprintf(names[i][1], sizeof(names[i][1]), "%s%s", e->name, SUFFIX_COUNTS);
        uint64_t ne_s[2] = { (uint64_t)e->n_cols, 1 }, ne_c[2] = { 1, 1 };
        if ((st = pk_gguf_add_tensor(w, names[i][0], PK_Q_F32, 2, ne_s, e->sum2, NULL, NULL)) ||
            (st = pk_gguf_add_tensor(w, names[i][1], PK_Q_F32, 2, ne_c, &e->count, NULL, NULL)))
            goto done;
    }
    st = pk_gguf_writer_finish(w, path);
done:
    pk_gguf_writer_free(w);
    pk_free(names);
    return st;
}
