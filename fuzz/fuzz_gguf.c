/* fuzz_gguf.c: libFuzzer harness for the GGUF reader: parse arbitrary bytes,
 * then walk every key (typed getters, array elements) and tensor, so that
 * everything the reader accepted is safe to use. Built by fuzz/fuzz.cmake
 * with clang -fsanitize=fuzzer; replayed over fuzz/corpus/gguf by
 * tests/test_fuzz_replay.c. */
#include "gguf/gguf.h"

#include <string.h>

int pk_fuzz_gguf(const uint8_t *data, size_t size);

int pk_fuzz_gguf(const uint8_t *data, size_t size) {
    pk_gguf *g = NULL;
    if (pk_gguf_open_mem(data, size, &g) != PK_OK) return 0;
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const pk_gguf_value *v = &g->kv[i].value;
        if (v->type == PK_GGUF_ARRAY) {
            for (uint64_t k = 0; k < v->v.arr.n && k < 4096; k++) {
                if (v->v.arr.type == PK_GGUF_STRING) sink += pk_gguf_arr_str(v, k).len;
                else sink += (uint64_t)pk_gguf_arr_i64(v, k);
            }
        } else if (v->type == PK_GGUF_STRING && v->v.str.len) {
            sink += (uint8_t)v->v.str.ptr[v->v.str.len - 1];
        }
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const pk_gguf_tensor *t = &g->tensors[i];
        if (t->n_bytes) sink += ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    (void)sink;
    pk_gguf_close(g);
    return 0;
}

#ifdef PK_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return pk_fuzz_gguf(data, size); }
#endif
