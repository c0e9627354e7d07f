/* test_gguf.c: GGUF reader and writer: a round trip of every value type,
 * nested arrays, alignment and tensors; the real files in ../shared; clean
 * failure under allocation faults and at every truncation point. */
#include "gguf/gguf.h"
#include "test.h"

#include <unistd.h>

static char tmp_path[64];

static const char *tmpfile_path(void) {
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/pk_gguf_XXXXXX");
    close(mkstemp(tmp_path));
    return tmp_path;
}

static float T1[64 * 3];
static uint16_t T2[32 * 2];

static pk_status produce(void *user, void *out, uint64_t n) {
    memset(out, *(int *)user, n);
    return PK_OK;
}

static pk_status write_sample(const char *path, uint32_t align) {
    pk_gguf_writer *w = NULL;
    pk_status st = pk_gguf_writer_new(align, &w);
    if (st) return st;
    static int fill = 0x5A;
    uint8_t u8s[3] = { 1, 2, 250 };
    int64_t i64s[2] = { -5, 1LL << 40 };
    double f64s[2] = { 0.5, -1e300 };
    const char *strs[3] = { "a", "", "\xe2\x82\xac uro" };
    for (int i = 0; i < 64 * 3; i++) T1[i] = (float)i * 0.25f - 3;
    for (int i = 0; i < 64; i++) T2[i] = pk_fp32_to_fp16((float)i);
    uint64_t ne1[2] = { 64, 3 }, ne2[2] = { 32, 2 }, ne3[1] = { 256 };
    if ((st = pk_gguf_set_str(w, "general.architecture", "llama")) ||
        (st = pk_gguf_set_u32(w, "u32", 0xDEADBEEF)) || (st = pk_gguf_set_i32(w, "i32", -7)) ||
        (st = pk_gguf_set_u64(w, "u64", 1ull << 63)) || (st = pk_gguf_set_f32(w, "f32", 1.5f)) ||
        (st = pk_gguf_set_bool(w, "bool", true)) ||
        (st = pk_gguf_set_arr(w, "arr.u8", PK_GGUF_UINT8, u8s, 3)) ||
        (st = pk_gguf_set_arr(w, "arr.i64", PK_GGUF_INT64, i64s, 2)) ||
        (st = pk_gguf_set_arr(w, "arr.f64", PK_GGUF_FLOAT64, f64s, 2)) ||
        (st = pk_gguf_set_arr_str(w, "arr.str", strs, NULL, 3)) ||
        (st = pk_gguf_set_u32(w, "u32", 42)) || /* replaces */
        (st = pk_gguf_add_tensor(w, "t.f32", PK_Q_F32, 2, ne1, T1, NULL, NULL)) ||
        (st = pk_gguf_add_tensor(w, "t.f16", PK_Q_F16, 2, ne2, T2, NULL, NULL)) ||
        (st = pk_gguf_add_tensor(w, "t.q4_k", PK_Q_Q4_K, 1, ne3, NULL, produce, &fill)))
        goto done;
    st = pk_gguf_writer_finish(w, path);
done:
    pk_gguf_writer_free(w);
    return st;
}

static void check_sample(const pk_gguf *g, uint32_t align) {
    uint32_t u;
    int64_t i;
    float f;
    bool b;
    pk_gguf_str s;
    CHECK(g->version == 3);
    CHECK(g->alignment == align);
    CHECK_OK(pk_gguf_get_u32(g, "u32", &u));
    CHECK(u == 42);
    CHECK_OK(pk_gguf_get_i64(g, "i32", &i));
    CHECK(i == -7);
    CHECK(pk_gguf_get_i64(g, "u64", &i) == PK_ERR_RANGE);
    CHECK_OK(pk_gguf_get_f32(g, "f32", &f));
    CHECK(f == 1.5f);
    CHECK_OK(pk_gguf_get_bool(g, "bool", &b));
    CHECK(b);
    CHECK_OK(pk_gguf_get_str(g, "general.architecture", &s));
    CHECK(pk_gguf_str_eq(s, "llama"));
    CHECK(pk_gguf_get_u32(g, "general.architecture", &u) == PK_ERR_FORMAT);
    CHECK(strstr(pk_last_error(), "general.architecture") != NULL);
    CHECK(pk_gguf_get_u32(g, "missing", &u) == PK_ERR_NOT_FOUND);
    const pk_gguf_value *a;
    CHECK_OK(pk_gguf_get_arr(g, "arr.u8", PK_GGUF_UINT8, &a));
    CHECK(a->v.arr.n == 3 && pk_gguf_arr_i64(a, 2) == 250);
    CHECK_OK(pk_gguf_get_arr(g, "arr.i64", PK_GGUF_INT64, &a));
    CHECK(pk_gguf_arr_i64(a, 0) == -5 && pk_gguf_arr_i64(a, 1) == (1LL << 40));
    CHECK_OK(pk_gguf_get_arr(g, "arr.f64", PK_GGUF_FLOAT64, &a));
    CHECK(pk_gguf_arr_f64(a, 1) == -1e300);
    CHECK_OK(pk_gguf_get_arr(g, "arr.str", PK_GGUF_STRING, &a));
    CHECK(a->v.arr.n == 3);
    CHECK(pk_gguf_str_eq(pk_gguf_arr_str(a, 0), "a"));
    CHECK(pk_gguf_str_eq(pk_gguf_arr_str(a, 1), ""));
    CHECK(pk_gguf_str_eq(pk_gguf_arr_str(a, 2), "\xe2\x82\xac uro"));
    CHECK(pk_gguf_get_arr(g, "arr.str", PK_GGUF_UINT8, &a) == PK_ERR_FORMAT);
    CHECK(g->n_tensors == 3);
    const pk_gguf_tensor *t = pk_gguf_tensor_find(g, "t.f32");
    CHECK(t && t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 3 && t->n_bytes == 64 * 3 * 4);
    if (t) CHECK(!memcmp(t->data, T1, sizeof(T1)));
    t = pk_gguf_tensor_find(g, "t.f16");
    CHECK(t && t->type == PK_Q_F16 && !memcmp(t->data, T2, sizeof(T2)));
    t = pk_gguf_tensor_find(g, "t.q4_k");
    CHECK(t && t->type == PK_Q_Q4_K && t->n_bytes == 144 && ((const uint8_t *)t->data)[143] == 0x5A);
    for (uint64_t k = 0; k < g->n_tensors; k++)
        CHECK(((uintptr_t)g->tensors[k].data - (uintptr_t)g->map.data) % align == 0);
}

static void test_roundtrip(void) {
    uint32_t aligns[] = { 32, 64, 1 };
    for (int k = 0; k < 3; k++) {
        const char *p = tmpfile_path();
        CHECK_OK(write_sample(p, aligns[k]));
        pk_gguf *g = NULL;
        CHECK_OK(pk_gguf_open(p, true, &g));
        if (g) check_sample(g, aligns[k]);
        /* copy every key into a new file and read it back */
        if (g) {
            pk_gguf_writer *w = NULL;
            CHECK_OK(pk_gguf_writer_new(aligns[k], &w));
            for (uint64_t i = 0; i < g->n_kv; i++) CHECK_OK(pk_gguf_copy_kv(w, &g->kv[i]));
            for (uint64_t i = 0; i < g->n_tensors; i++) {
                const pk_gguf_tensor *t = &g->tensors[i];
                char name[64];
                snprintf(name, sizeof(name), "%.*s", (int)t->name.len, t->name.ptr);
                CHECK_OK(pk_gguf_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, NULL, NULL));
            }
            char p2[80];
            snprintf(p2, sizeof(p2), "%s.copy", p);
            CHECK_OK(pk_gguf_writer_finish(w, p2));
            pk_gguf_writer_free(w);
            pk_gguf *g2 = NULL;
            CHECK_OK(pk_gguf_open(p2, false, &g2));
            if (g2) check_sample(g2, aligns[k]);
            pk_gguf_close(g2);
            unlink(p2);
        }
        pk_gguf_close(g);
        unlink(p);
    }
}

static void test_writer_errors(void) {
    pk_gguf_writer *w = NULL;
    CHECK(pk_gguf_writer_new(3, &w) == PK_ERR_INVALID);
    CHECK_OK(pk_gguf_writer_new(0, &w));
    uint64_t ne[1] = { 100 };
    float d[100] = { 0 };
    CHECK(pk_gguf_add_tensor(w, "x", PK_Q_Q4_0, 1, ne, d, NULL, NULL) == PK_ERR_INVALID);
    CHECK(strstr(pk_last_error(), "multiple") != NULL);
    CHECK_OK(pk_gguf_add_tensor(w, "x", PK_Q_F32, 1, ne, d, NULL, NULL));
    CHECK(pk_gguf_add_tensor(w, "x", PK_Q_F32, 1, ne, d, NULL, NULL) == PK_ERR_INVALID);
    CHECK(pk_gguf_writer_finish(w, "/nonexistent/dir/x.gguf") == PK_ERR_IO);
    pk_gguf_writer_free(w);
    pk_gguf_writer_free(NULL);
    pk_gguf_close(NULL);
}

static void test_stories(void) {
    pk_gguf *g = NULL;
    CHECK_OK(pk_gguf_open(pk_test_path("models/stories260K/stories260K.gguf"), true, &g));
    if (!g) return;
    uint32_t u;
    CHECK_OK(pk_gguf_get_u32(g, "llama.embedding_length", &u));
    CHECK(u == 64);
    CHECK_OK(pk_gguf_get_u32(g, "llama.block_count", &u));
    CHECK(u == 5);
    const pk_gguf_value *a;
    CHECK_OK(pk_gguf_get_arr(g, "tokenizer.ggml.tokens", PK_GGUF_STRING, &a));
    CHECK(a->v.arr.n == 512);
    const pk_gguf_tensor *t = pk_gguf_tensor_find(g, "token_embd.weight");
    CHECK(t && t->ne[0] == 64 && t->ne[1] == 512 && t->type == PK_Q_F32);
    pk_gguf_close(g);
}

static void test_vocab_files(void) {
    static const char *names[] = { "llama-spm", "phi-3", "gpt-2", "falcon", "mpt", "refact",
                                   "starcoder", "deepseek-llm", "deepseek-coder", "command-r",
                                   "gpt-neox", "baichuan", "bert-bge", "qwen2" };
    int opened = 0;
    for (size_t i = 0; i < PK_ARRAY_LEN(names); i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "tokenizers/llamacpp-vocab/ggml-vocab-%s.gguf", names[i]);
        if (access(pk_test_path(rel), R_OK) != 0) continue;
        pk_gguf *g = NULL;
        CHECK_OK(pk_gguf_open(pk_test_path(rel), true, &g));
        opened += g != NULL;
        pk_gguf_close(g);
    }
    CHECKF(opened >= 10, "only %d vocab files opened", opened);
}

/* Every prefix of a valid file fails cleanly; so does every allocation
 * failure point. */
static void test_truncation_and_faults(void) {
    const char *p = tmpfile_path();
    CHECK_OK(write_sample(p, 32));
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(pk_read_file(p, 1 << 20, &data, &len));
    unlink(p);
    if (!data) return;
    int bad = 0;
    size_t data_start = 0;
    pk_gguf *g = NULL;
    CHECK_OK(pk_gguf_open_mem(data, len, &g));
    size_t data_end = 0; /* end of the last tensor's bytes; padding may go */
    if (g) {
        data_start = (size_t)g->data_offset;
        for (uint64_t i = 0; i < g->n_tensors; i++)
            data_end = PK_MAX(data_end, (size_t)(g->data_offset + g->tensors[i].offset +
                                                 g->tensors[i].n_bytes));
    }
    pk_gguf_close(g);
    CHECK(data_end > data_start && data_end <= len);
    for (size_t cut = 0; cut < data_end; cut++) {
        g = NULL;
        pk_status st = pk_gguf_open_mem(data, cut, &g);
        if (st == PK_OK) bad++;
        pk_gguf_close(g);
    }
    CHECKF(bad == 0, "%d truncated files accepted (data at %zu of %zu)", bad, data_start, len);
    for (long n = 1; n < 200; n++) {
        pk_alloc_fail_after(n);
        g = NULL;
        pk_status st = pk_gguf_open_mem(data, len, &g);
        pk_alloc_fail_after(0);
        pk_gguf_close(g);
        if (st == PK_OK) break;
        CHECK(st == PK_ERR_NOMEM);
    }
    pk_free(data);
}

int main(void) {
    PK_RUN(test_roundtrip);
    PK_RUN(test_writer_errors);
    PK_RUN(test_stories);
    PK_RUN(test_vocab_files);
    PK_RUN(test_truncation_and_faults);
    return pk_test_summary();
}
