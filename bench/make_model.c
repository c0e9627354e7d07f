/* make_model.c: writes a llama-architecture GGUF of a real model's shape
 * with random weights (normal, std 0.02; norms 1) in F16 or F32, through
 * pocket's GGUF writer, streaming one tensor at a time. The vocabulary is
 * copied from a GGUF that has one (default: llama.cpp's Llama-2 vocab file
 * in ../shared), so the file loads in pocket and in llama.cpp alike.
 * Quantize it with `pocket quantize` for the speed comparison.
 *
 *   bench/make_model SHAPE OUT.gguf [--type f16|f32] [--vocab VOCAB.gguf]
 *   SHAPE: 7b (Llama-2-7B), tinyllama (TinyLlama-1.1B), small (test size) */
#include "gguf/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
    const char *name;
    int dim, n_layer, n_head, n_kv_head, ff, vocab, ctx;
} shape;

static const shape SHAPES[] = {
    { "7b", 4096, 32, 32, 32, 11008, 32000, 4096 },
    { "tinyllama", 2048, 22, 32, 4, 5632, 32000, 2048 },
    { "small", 256, 4, 8, 4, 768, 32000, 512 },
};

typedef struct gen {
    uint64_t seed;
    pk_qtype type;
    int64_t ne0;
    float std;
} gen;

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* approximately normal: sum of 4 uniforms, scaled to unit variance */
static float nrand(uint64_t *s) {
    float a = 0;
    for (int i = 0; i < 4; i++) a += (float)(next(s) >> 40) * (1.0f / 16777216.0f);
    return (a - 2.0f) * 1.7320508f;
}

static pk_status produce(void *user, void *out, uint64_t n_bytes) {
    gen *g = user;
    const pk_qtraits *q = pk_qtraits_of(g->type);
    size_t rb = pk_row_size(g->type, g->ne0);
    int64_t rows = (int64_t)(n_bytes / rb);
    float *row = malloc(sizeof(float) * (size_t)g->ne0);
    if (!row) return PK_ERR_NOMEM;
    uint64_t s = g->seed;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < g->ne0; i++) row[i] = g->std ? nrand(&s) * g->std : 1.0f;
        q->from_float(row, (uint8_t *)out + (size_t)r * rb, g->ne0);
    }
    free(row);
    return PK_OK;
}

int main(int argc, char **argv) {
    const char *vocab = "../shared/tokenizers/llamacpp-vocab/ggml-vocab-llama-spm.gguf", *type = "f16";
    if (argc < 3) {
        fprintf(stderr, "usage: make_model 7b|tinyllama|small OUT.gguf [--type f16|f32] [--vocab V.gguf]\n");
        return 2;
    }
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--type")) type = argv[i + 1];
        else if (!strcmp(argv[i], "--vocab")) vocab = argv[i + 1];
    }
    const shape *sh = NULL;
    for (size_t i = 0; i < sizeof(SHAPES) / sizeof(SHAPES[0]); i++)
        if (!strcmp(argv[1], SHAPES[i].name)) sh = &SHAPES[i];
    int ty = pk_qtype_from_name(type);
    if (!sh || (ty != PK_Q_F16 && ty != PK_Q_F32)) {
        fprintf(stderr, "make_model: unknown shape '%s' or type '%s'\n", argv[1], type);
        return 2;
    }
    pk_gguf *vg = NULL;
    pk_gguf_writer *w = NULL;
    if (pk_gguf_open(vocab, true, &vg) || pk_gguf_writer_new(0, &w)) goto fail;
    for (uint64_t i = 0; i < vg->n_kv; i++)
        if (vg->kv[i].key.len > 10 && !memcmp(vg->kv[i].key.ptr, "tokenizer.", 10) &&
            pk_gguf_copy_kv(w, &vg->kv[i]))
            goto fail;
    int hd = sh->dim / sh->n_head, kvd = hd * sh->n_kv_head;
    if (pk_gguf_set_str(w, "general.architecture", "llama") ||
        pk_gguf_set_str(w, "general.name", sh->name) ||
        pk_gguf_set_u32(w, "general.file_type", ty == PK_Q_F16 ? 1 : 0) ||
        pk_gguf_set_u32(w, "llama.context_length", (uint32_t)sh->ctx) ||
        pk_gguf_set_u32(w, "llama.embedding_length", (uint32_t)sh->dim) ||
        pk_gguf_set_u32(w, "llama.block_count", (uint32_t)sh->n_layer) ||
        pk_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)sh->ff) ||
        pk_gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)hd) ||
        pk_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)sh->n_head) ||
        pk_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)sh->n_kv_head) ||
        pk_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) ||
        pk_gguf_set_f32(w, "llama.rope.freq_base", 10000.0f))
        goto fail;
    int n_t = 3 + 9 * sh->n_layer;
    gen *gens = calloc((size_t)n_t, sizeof(gen));
    char (*names)[64] = calloc((size_t)n_t, 64);
    if (!gens || !names) goto fail;
    int k = 0;
#define ADD(nm, a, b, std_)                                                                    \
    do {                                                                                       \
        uint64_t ne[2] = { (uint64_t)(a), (uint64_t)(b) };                                     \
        snprintf(names[k], 64, "%s", nm);                                                      \
        gens[k] = (gen){ 0x9E3779B97F4A7C15ull * (uint64_t)(k + 1), (b) == 1 ? PK_Q_F32 : (pk_qtype)ty, \
                         (a), std_ };                                                          \
        if (pk_gguf_add_tensor(w, names[k], gens[k].type, (b) == 1 ? 1 : 2, ne, NULL, produce, \
                               &gens[k]))                                                      \
            goto fail;                                                                         \
        k++;                                                                                   \
    } while (0)
    char nm[64];
    ADD("token_embd.weight", sh->dim, sh->vocab, 0.02f);
    for (int l = 0; l < sh->n_layer; l++) {
        snprintf(nm, sizeof(nm), "blk.%d.attn_norm.weight", l);
        ADD(nm, sh->dim, 1, 0.0f);
        snprintf(nm, sizeof(nm), "blk.%d.attn_q.weight", l);
        ADD(nm, sh->dim, sh->dim, 0.02f);
        snprintf(nm, sizeof(nm), "blk.%d.attn_k.weight", l);
        ADD(nm, sh->dim, kvd, 0.02f);
        snprintf(nm, sizeof(nm), "blk.%d.attn_v.weight", l);
        ADD(nm, sh->dim, kvd, 0.02f);
        snprintf(nm, sizeof(nm), "blk.%d.attn_output.weight", l);
        ADD(nm, sh->dim, sh->dim, 0.02f);
        snprintf(nm, sizeof(nm), "blk.%d.ffn_norm.weight", l);
        ADD(nm, sh->dim, 1, 0.0f);
        snprintf(nm, sizeof(nm), "blk.%d.ffn_gate.weight", l);
        ADD(nm, sh->dim, sh->ff, 0.02f);
        snprintf(nm, sizeof(nm), "blk.%d.ffn_up.weight", l);
        ADD(nm, sh->dim, sh->ff, 0.02f);
        snprintf(nm, sizeof(nm), "blk.%d.ffn_down.weight", l);
        ADD(nm, sh->ff, sh->dim, 0.02f);
    }
    ADD("output_norm.weight", sh->dim, 1, 0.0f);
    ADD("output.weight", sh->dim, sh->vocab, 0.02f);
#undef ADD
    if (pk_gguf_writer_finish(w, argv[2])) goto fail;
    printf("wrote %s (%s shape, %s)\n", argv[2], sh->name, type);
    pk_gguf_writer_free(w);
    pk_gguf_close(vg);
    free(gens);
    free(names);
    return 0;
fail:
    fprintf(stderr, "make_model: %s\n", pk_last_error());
    pk_gguf_writer_free(w);
    pk_gguf_close(vg);
    return 1;
}
