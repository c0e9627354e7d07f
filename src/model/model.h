/* model.h: the model layer: hyperparameters and weight views of a
 * Llama-family GGUF (llama incl. Mistral/TinyLlama/Llama-3, qwen2, phi3),
 * the context (KV cache and preallocated scratch) and the forward pass over
 * a batch of tokens. Weights stay in the mmap; the forward pass does not
 * allocate. */
#ifndef PK_MODEL_H
#define PK_MODEL_H

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "tokenizer/tok.h"

typedef enum { PK_ARCH_LLAMA, PK_ARCH_QWEN2, PK_ARCH_PHI3 } pk_arch;

/* A weight: a view into the mapping. A matrix W has ne1 rows of ne0
 * elements (ggml order: ne0 is the input dimension of y = W x). */
typedef struct pk_tensor {
    const void *data;
    pk_qtype type;
    int64_t ne0, ne1;
    size_t row_bytes;
} pk_tensor;

typedef struct pk_layer {
    pk_tensor attn_norm, ffn_norm;     /* (n_embd) f32 */
    pk_tensor wq, wk, wv, wo;          /* wq (n_embd -> n_head*hd) ... */
    pk_tensor bq, bk, bv;              /* qwen2 biases, data NULL if absent */
    pk_tensor wqkv;                    /* phi3 fused q|k|v, else data NULL */
    pk_tensor w_gate, w_up, w_down;    /* phi3: w_up holds gate|up */
} pk_layer;

typedef struct pk_hparams {
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_kv_head, n_ff;
    int head_dim, n_rot;
    float rms_eps, rope_base, rope_scale; /* rope_scale: positions divided by it */
    bool rope_neox;                       /* rotate halves (qwen2, phi3) */
} pk_hparams;

struct pk_model {
    pk_gguf *gguf;
    pk_tok *tok;
    pk_arch arch;
    char arch_name[32];
    char *name;                 /* general.name or "" (owned) */
    pk_hparams hp;
    pk_tensor tok_embd, output_norm, output;
    pk_layer *layers;           /* (n_layer) */
    float *rope_freqs;          /* (n_rot/2) llama-3 frequency divisors, or NULL (owned copy) */
    int n_threads;
    uint64_t n_params, n_bytes;
};

enum { PK_ATT_TB = 16 }; /* query tokens per prefill attention task */

/* Context: KV cache (f16 or q8_0) and scratch for up to n_batch tokens. */
struct pk_ctx {
    pk_model *model;
    pk_pool *pool;
    int n_ctx, n_batch, n_past;
    int kv_type;                /* pk_qtype of the cache: f16 or q8_0 */
    size_t kv_row;              /* bytes per cached position (all kv heads) */
    uint8_t *kv_k, *kv_v;       /* (n_layer, n_ctx) rows of kv_row bytes */
    float *x, *xn;              /* (n_batch, n_embd) */
    float *q;                   /* (n_batch, n_head*head_dim) */
    float *k, *v;               /* (n_batch, n_kv_head*head_dim) */
    float *att_out;             /* (n_batch, n_head*head_dim) */
    float *hb, *hb2;            /* (n_batch, max(n_ff*2, qkv)) */
    float *att;                 /* (n_threads, n_ctx) scores */
    float *att_tmp;             /* (n_threads, 2 * head_dim): q in the K dot type, a V row */
    float *att_kv;              /* per thread (n_ctx, hd) K, (hd, n_ctx) V^T, (PK_ATT_TB, n_ctx)
                                 * probabilities, (PK_ATT_TB, hd) queries: prefill attention */
    float *rope_cs;             /* (n_batch, n_rot/2, 2) cos, sin per position */
    void *qbuf;                 /* activations quantized for vec_dot */
    size_t qbuf_size;
    float *logits;              /* (n_batch or 1, n_vocab) */
    int n_logits;               /* rows valid in logits */
    void *imatrix;              /* pk_imatrix being collected, or NULL */
};

/* Run the transformer over tokens[0..n) at positions n_past.. and append to
 * the cache. Writes logits of every token (all) or of the last. */
pk_status pk_forward(pk_ctx *ctx, const int32_t *tokens, int n, bool all);

/* y (n, W.ne1) = x (n, W.ne0) @ W^T, rows split across the pool. */
void pk_matmul(pk_ctx *ctx, const pk_tensor *w, const float *x, float *y, int n);

#endif
