/* pocket.h: the public API of libpocket, an on-device runtime for
 * Llama-family GGUF models. Everything the CLI and the apps do goes through
 * these calls. Handles are opaque; fallible calls return pk_status and pass
 * results through out-params; pk_last_error() says what went wrong and where.
 * Thread safety: a pk_model is read-only after load and may be shared by
 * several pk_ctx; a pk_ctx is used by one thread at a time. */
#ifndef POCKET_H
#define POCKET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ---- */

typedef enum pk_status {
    PK_OK = 0,
    PK_ERR_INVALID = -1,   /* bad argument or malformed input */
    PK_ERR_NOMEM = -2,     /* allocation failed */
    PK_ERR_IO = -3,        /* file could not be opened, read or written */
    PK_ERR_FORMAT = -4,    /* file content violates its format */
    PK_ERR_UNSUPPORTED = -5, /* valid, but not something pocket runs */
    PK_ERR_RANGE = -6,     /* a size or count out of range (context full...) */
    PK_ERR_NOT_FOUND = -7, /* a key, tensor or token that must exist does not */
    PK_ERR_CANCELLED = -8  /* a callback asked to stop */
} pk_status;

/* Text of the last error on the calling thread ("" if none). Borrowed; valid
 * until the next pocket call on this thread. */
const char *pk_last_error(void);

/* Short name of a status code ("ok", "invalid", ...). Static storage. */
const char *pk_status_str(pk_status st);

/* The CPU kernel set in use, picked once from what the CPU reports: "avx2",
 * "neon", "neon+dotprod", "neon+dotprod+i8mm" or "ref" (scalar, or
 * POCKET_REF=1). Static storage. */
const char *pk_kernels(void);

/* Free memory that a pocket call says the caller owns. Accepts NULL. */
void pk_free(void *p);

/* ---- model ---- */

typedef struct pk_model pk_model;

typedef struct pk_model_params {
    int n_threads;        /* worker threads for this model's contexts; 0 = all cores */
    int use_mmap;         /* 1 (default): weights are mmapped views */
} pk_model_params;

pk_model_params pk_model_default_params(void);

/* Load a GGUF model. OUT *model is owned by the caller; free with
 * pk_model_free(). On failure *model is NULL and pk_last_error() names the
 * key, tensor or byte offset at fault. */
pk_status pk_model_load(const char *path, const pk_model_params *params,
                        pk_model **model);
void pk_model_free(pk_model *model);

typedef struct pk_model_info {
    const char *arch;      /* "llama", "qwen2", "phi3" (borrowed from model) */
    const char *name;      /* general.name or "" */
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_kv_head, n_ff;
    uint64_t n_params;     /* number of weights */
    uint64_t n_bytes;      /* bytes of tensor data */
    int bos, eos;          /* special token ids, -1 if none */
} pk_model_info;

/* Fill *info (OUT). Strings are borrowed; valid until pk_model_free(). */
void pk_model_get_info(const pk_model *model, pk_model_info *info);

/* ---- tokenizer ---- */

/* Encode UTF-8 text. add_special: add BOS/EOS as the model's metadata asks;
 * parse_special: text like "<|im_start|>" becomes the control token rather
 * than plain text. OUT *ids is owned by the caller (pk_free), *n_ids its
 * length. */
pk_status pk_tokenize(const pk_model *model, const char *text, size_t len,
                      int add_special, int parse_special,
                      int32_t **ids, size_t *n_ids);

/* The bytes of one token's piece (special tokens render as their text when
 * render_special is set, otherwise as ""). Borrowed; valid until
 * pk_model_free(). *len receives the byte count; may be NULL. */
const char *pk_token_piece(const pk_model *model, int32_t id,
                           int render_special, size_t *len);

/* Decode ids to UTF-8 text. OUT *text is owned by the caller (pk_free),
 * NUL-terminated, *len its length (may be NULL). */
pk_status pk_detokenize(const pk_model *model, const int32_t *ids, size_t n,
                        int render_special, char **text, size_t *len);

/* ---- context: KV cache and forward pass ---- */

typedef struct pk_ctx pk_ctx;

typedef struct pk_ctx_params {
    int n_ctx;       /* KV cache length in tokens; 0 = min(train ctx, 4096) */
    int n_batch;     /* max tokens per forward call; 0 = 512 */
    int n_threads;   /* 0 = model's setting */
    const char *kv_type; /* KV cache element type: NULL or "f16" (default),
                            or "q8_0" (about half the memory; needs a head
                            dimension that is a multiple of 32) */
} pk_ctx_params;

pk_ctx_params pk_ctx_default_params(void);

/* Create a context over a loaded model; allocates the KV cache and all
 * scratch buffers up front (nothing in the forward pass allocates). OUT *ctx
 * owned by the caller; free with pk_ctx_free(), before the model. */
pk_status pk_ctx_new(pk_model *model, const pk_ctx_params *params,
                     pk_ctx **ctx);
void pk_ctx_free(pk_ctx *ctx);

/* Run the model over n tokens at positions pos.. pos+n-1 (prefill when n > 1,
 * decode when n == 1), appending them to the KV cache. Only the logits of the
 * last token are kept unless all_logits is set. Fails with PK_ERR_RANGE when
 * pos + n exceeds n_ctx. */
pk_status pk_ctx_eval(pk_ctx *ctx, const int32_t *tokens, int n, int pos,
                      int all_logits);

/* Logits of the i-th token of the last eval (i = 0 when only the last was
 * kept). Borrowed; (n_vocab,) floats valid until the next eval. */
const float *pk_ctx_logits(const pk_ctx *ctx, int i);

/* Drop KV entries at positions >= pos. */
void pk_ctx_truncate(pk_ctx *ctx, int pos);

int pk_ctx_n_ctx(const pk_ctx *ctx);

/* ---- sampling and generation ---- */

typedef struct pk_sampler_params {
    float temperature;     /* 0 = greedy */
    int top_k;             /* 0 = off */
    float top_p;           /* 1 = off */
    float min_p;           /* 0 = off */
    float repeat_penalty;  /* 1 = off */
    float presence_penalty, frequency_penalty; /* 0 = off */
    int penalty_last_n;    /* window for penalties; 64 default */
    uint64_t seed;
} pk_sampler_params;

pk_sampler_params pk_sampler_default_params(void);

typedef struct pk_sampler pk_sampler;

/* OUT *s owned by caller; free with pk_sampler_free(). */
pk_status pk_sampler_new(const pk_sampler_params *p, int n_vocab,
                         pk_sampler **s);
void pk_sampler_free(pk_sampler *s);
/* Record a token in the penalty history (prompt tokens and sampled ones). */
void pk_sampler_accept(pk_sampler *s, int32_t tok);
/* Pick a token from logits (n_vocab,). Uses internal preallocated scratch;
 * logits are not modified. */
int32_t pk_sampler_sample(pk_sampler *s, const float *logits);

/* Streaming callback: called with each new token and its decoded text bytes
 * (never half a UTF-8 character). Return non-zero to stop. */
typedef int (*pk_token_cb)(void *user, int32_t tok, const char *text,
                           size_t len);

typedef struct pk_gen_params {
    int n_predict;               /* max new tokens; default 128 */
    pk_sampler_params sampler;
    const char *const *stop;     /* NULL-terminated stop strings, may be NULL */
    int stop_on_eos;             /* default 1 */
} pk_gen_params;

pk_gen_params pk_gen_default_params(void);

/* Generate after the prompt tokens (which are evaluated first, from position
 * 0: the context is reset). OUT *out_ids (may be NULL) receives the generated
 * ids, caller owns (pk_free); *n_out their count. */
pk_status pk_generate(pk_ctx *ctx, const int32_t *prompt, size_t n_prompt,
                      const pk_gen_params *gp, pk_token_cb cb, void *user,
                      int32_t **out_ids, size_t *n_out);

/* ---- tokenizer without a model ---- */

typedef struct pk_tokenizer pk_tokenizer;

/* Load a vocabulary from a GGUF file (vocab-only or a whole model; no
 * weights are touched) or from a Hugging Face tokenizer.json. OUT *tk
 * owned by the caller; free with pk_tokenizer_free(). */
pk_status pk_tokenizer_load(const char *path, pk_tokenizer **tk);
void pk_tokenizer_free(pk_tokenizer *tk);
int pk_tokenizer_n_vocab(const pk_tokenizer *tk);
/* As pk_tokenize / pk_token_piece / pk_detokenize. */
pk_status pk_tokenizer_encode(const pk_tokenizer *tk, const char *text, size_t len,
                              int add_special, int parse_special, int32_t **ids,
                              size_t *n_ids);
const char *pk_tokenizer_piece(const pk_tokenizer *tk, int32_t id,
                               int render_special, size_t *len);
pk_status pk_tokenizer_decode(const pk_tokenizer *tk, const int32_t *ids, size_t n,
                              int render_special, char **text, size_t *len);

/* ---- GGUF files (inspection) ---- */

typedef struct pk_file pk_file;

typedef struct pk_file_tensor {
    const char *name;       /* not NUL-terminated; name_len bytes */
    size_t name_len;
    const char *type;       /* "q4_K", "f32", ... */
    int n_dims;
    uint64_t ne[4];
    uint64_t offset;        /* in the file */
    uint64_t n_bytes, n_elements;
} pk_file_tensor;

typedef struct pk_file_info {
    uint32_t version;
    uint64_t n_kv, n_tensors, file_size, data_offset, alignment;
} pk_file_info;

/* Open and validate a GGUF file (see pk_model_load for the checks). OUT *f
 * owned by the caller; free with pk_file_close(). */
pk_status pk_file_open(const char *path, pk_file **f);
void pk_file_close(pk_file *f);
void pk_file_get_info(const pk_file *f, pk_file_info *info);
/* Key i (borrowed, not NUL-terminated, *len bytes) and its type as text
 * ("u32", "str", "arr[str]"...). Static or borrowed storage. */
const char *pk_file_kv_key(const pk_file *f, uint64_t i, size_t *len);
const char *pk_file_kv_type(const pk_file *f, uint64_t i);
/* The value as text; arrays show at most max_elems elements and the count.
 * OUT *text caller owns (pk_free). */
pk_status pk_file_kv_text(const pk_file *f, uint64_t i, size_t max_elems, char **text);
void pk_file_get_tensor(const pk_file *f, uint64_t i, pk_file_tensor *t);

/* ---- chat templates ---- */

typedef struct pk_chat_msg {
    const char *role;     /* "system", "user" or "assistant" */
    const char *content;
} pk_chat_msg;

/* Lay out messages as a model family was trained to see them. tmpl is a
 * template name (chatml/qwen2, llama3, llama2, mistral, phi3, gemma) or the
 * text of a tokenizer.chat_template, recognised by its markers. With
 * add_generation_prompt the text ends where the assistant's answer begins.
 * OUT *out caller owns (pk_free). The result holds control-token text:
 * tokenize it with parse_special. */
pk_status pk_chat_apply(const char *tmpl, const pk_chat_msg *msgs, size_t n,
                        int add_generation_prompt, char **out);
/* The same with the model's own tokenizer.chat_template. */
pk_status pk_chat_apply_model(const pk_model *model, const pk_chat_msg *msgs,
                              size_t n, int add_generation_prompt, char **out);

/* ---- evaluation ---- */

typedef struct pk_ppl_params {
    int n_ctx;               /* window in tokens (default 512); the second
                                half of each window is scored */
    int max_chunks;          /* 0 = every whole window of the text */
    int n_threads;           /* 0 = the model's */
    int top_k;               /* tokens kept per position by save_logits (64) */
    const char *save_logits; /* write this model's top-k log-probs here */
    const char *kld_base;    /* compare with a file written by save_logits */
    const char *kv_type;     /* KV cache type, as pk_ctx_params.kv_type */
    void (*progress)(void *user, int chunk, int n_chunks, double ppl);
    void *user;
} pk_ppl_params;

typedef struct pk_ppl_result {
    double ppl, ppl_err;     /* perplexity and its standard error */
    int n_tokens;            /* scored tokens */
    int has_kld;
    double kld_mean, kld_p99, kld_max; /* KL(base || model) per token, nats */
    double top1_agree;       /* share of tokens whose argmax equals the base's */
} pk_ppl_result;

pk_ppl_params pk_ppl_default_params(void);
/* Perplexity of the model over a UTF-8 text file, and with kld_base the KL
 * divergence of its next-token distributions from a base model's (the
 * base's top-k tokens and one bucket for the remaining mass). OUT *res. */
pk_status pk_perplexity(pk_model *model, const char *text_path,
                        const pk_ppl_params *p, pk_ppl_result *res);
/* Collect an importance matrix (mean squared input activation per column of
 * every weight matrix) over windows of n_ctx tokens of a calibration text
 * and save it (GGUF, llama.cpp's imatrix layout) to out_path. */
pk_status pk_imatrix_compute(pk_model *model, const char *text_path, int n_ctx,
                             int max_chunks, int n_threads, const char *out_path);

/* ---- conversion ---- */

/* Convert a llama2.c checkpoint (fp32; legacy 7-int header or the version
 * 1/2 "ak42" headers) to an F32 GGUF of architecture llama. tokenizer_bin
 * (llama2.c's tokenizer.bin, may be NULL: then a byte-level placeholder
 * vocab cannot be made and the call fails) gives the vocabulary. */
pk_status pk_convert_llama2c(const char *in_path, const char *tokenizer_bin,
                             const char *out_path);

/* Write a GGUF from a JSON manifest (metadata with explicit types, tensor
 * names, shapes in ggml order and byte offsets) and a raw fp32 file, as
 * scripts that train models produce. Matrices become type_name (f32, f16,
 * bf16), vectors stay f32. */
pk_status pk_convert_raw(const char *manifest, const char *out_path,
                         const char *type_name);

/* ---- quantization ---- */

/* One line of the quantizer's per-tensor report. Strings borrowed for the
 * duration of the callback. */
typedef struct pk_quantize_report {
    const char *name;       /* tensor name */
    int index, count;       /* 1-based position among all tensors */
    const char *type_in, *type_out;
    uint64_t n_elements, bytes_in, bytes_out;
    double rel_error;       /* imatrix-weighted relative squared error, or -1 */
} pk_quantize_report;

typedef struct pk_quantize_params {
    const char *type;         /* "Q4_K_M", "q4_0", "IQ4_XS", ...; NULL with a budget */
    uint64_t target_bytes;    /* 0 = off; else the file is at most this size */
    double target_bpw;        /* 0 = off; else bits per weight of the 2-D tensors */
    const char *imatrix;      /* importance matrix file (GGUF) or NULL */
    const char *const *keep;  /* NULL-terminated "NAME_SUBSTRING=TYPE" overrides
                                 ("^NAME=TYPE": exactly that tensor) */
    int n_threads;            /* 0 = all cores */
    int reference;            /* 1: ggml's quantizers only (the bytes llama-quantize
                                 writes); default: the refined block-scale search */
    const char *calib;        /* with a budget: measure each tensor's effect on
                                 the output (KLD over this text) instead of
                                 estimating it from its role; NULL = estimate */
    int calib_chunks;         /* windows of calib per probe (0 = 4) */
    const char *sens_cache;   /* measured sensitivities: read from this file
                                 when it exists, else written to it; may be NULL */
    void (*report)(void *user, const pk_quantize_report *r); /* may be NULL */
    void *user;
} pk_quantize_params;

typedef struct pk_quantize_summary {
    uint64_t file_bytes;      /* size of the written file */
    uint64_t n_params;        /* elements of all tensors */
    double bpw;               /* file_bytes * 8 / n_params */
} pk_quantize_summary;

pk_quantize_params pk_quantize_default_params(void);

/* Quantize the GGUF model at in_path (F32, F16 or BF16; Q8_0 with a
 * warning) into out_path, streaming tensor by tensor. Names of recipes:
 * plain types (all 2-D weights in that type, output.weight in Q6_K for
 * k-quant and IQ types) and the mixes Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M,
 * Q3_K_M. With target_bytes or target_bpw the per-tensor types are chosen to
 * minimise the importance-weighted error under the budget. OUT *sum (may be
 * NULL). The output is written to out_path.tmp and renamed at the end. */
pk_status pk_quantize_model(const char *in_path, const char *out_path,
                            const pk_quantize_params *p,
                            pk_quantize_summary *sum);

/* ---- erase: remove a person from a photo ---- */

/* How the region to erase is chosen. */
typedef enum pk_erase_select {
    PK_ERASE_MASK = 0, /* a mask from the caller: pixels > 127 are erased */
    PK_ERASE_POINT,    /* the person under the point (x, y): segmentation
                          (MediaPipe selfie model), then the connected
                          component there; a tap just beside the person
                          (within max(4, longer side / 50) px) still finds it */
    PK_ERASE_BOX       /* the largest person component inside the box
                          (x, y, box_w, box_h), taken whole */
} pk_erase_select;

typedef struct pk_erase_opts {
    pk_erase_select select;
    const char *mask_path;  /* pk_erase_file with PK_ERASE_MASK: the mask
                               image (PNG or JPEG, the photo's size; alpha
                               if translucent, else max(R,G,B), > 127) */
    int x, y;               /* point, or the box's top-left corner: photo
                               pixels after EXIF orientation, 0,0 top-left */
    int box_w, box_h;       /* box size (PK_ERASE_BOX) */
    int dilate;             /* grow the selection by this radius (px,
                               Euclidean) to cover edges and halos;
                               -1 = max(4, longer side / 60) for POINT and
                               BOX (the 256-pixel segmentation is coarse),
                               max(2, longer side / 200) for MASK */
    int feather;            /* width (px) of the blend from the photo to the
                               fill at the inside edge of the grown region;
                               -1 = dilate / 2; 0 = hard edge */
    uint64_t seed;          /* fill's random seed; same seed, same output */
    int n_threads;          /* 0 = all cores */
    const char *seg_model;  /* selfie segmentation .tflite for POINT/BOX;
                               NULL = env POCKET_SEG_MODEL or the built-in
                               path to ../shared, plus the landscape model
                               beside it when present (per-pixel maximum) */
    int quality;            /* JPEG output quality 1..100; 0 = 92 */
} pk_erase_opts;

typedef struct pk_erase_result {
    int w, h;               /* photo size (after EXIF orientation) */
    uint64_t n_selected;    /* pixels selected (mask or person component) */
    uint64_t n_filled;      /* pixels replaced (selection after dilation) */
    double ms_segment;      /* segmentation time, 0 with a mask */
    double ms_fill;         /* dilation, fill and blend */
} pk_erase_result;

/* Defaults: PK_ERASE_MASK, dilate -1, feather -1, seed 0, all cores. */
pk_erase_opts pk_erase_default_opts(void);

/* Erase a region of a photo in place and fill it from the rest of the
 * photo (PatchMatch inpainting). rgb: w*h*3 bytes, RGB, top row first.
 * mask: w*h bytes for PK_ERASE_MASK (> 127 = erase), ignored otherwise
 * (may be NULL). Pixels outside the grown selection keep their exact
 * bytes; the selection itself is fully replaced; only the grown ring is
 * blended. OUT *res (may be NULL). Errors: PK_ERR_INVALID (no mask, "mask
 * selects no pixel", a selection that covers the whole photo, box of zero
 * size), PK_ERR_RANGE (point or box outside the photo, naming its size),
 * PK_ERR_NOT_FOUND ("no person found at X,Y" / in the box), PK_ERR_IO /
 * PK_ERR_FORMAT (segmentation model), PK_ERR_NOMEM. Deterministic for a
 * given seed whatever n_threads. Each call loads its own model and makes
 * its own thread pool: calls on different threads are independent. */
pk_status pk_erase_rgb(uint8_t *rgb, int w, int h, const uint8_t *mask,
                       const pk_erase_opts *opts, pk_erase_result *res);

/* The same from file to file: reads a JPEG (EXIF orientation applied) or
 * PNG photo, the mask (PK_ERASE_MASK; it must have the photo's size, else
 * an error naming both sizes), and writes out_path as PNG or JPEG by its
 * extension (.png, .jpg, .jpeg), atomically: on failure an existing
 * out_path is untouched. Errors as above, each naming the file at fault. */
pk_status pk_erase_file(const char *in_path, const char *out_path,
                        const pk_erase_opts *opts, pk_erase_result *res);

#ifdef __cplusplus
}
#endif
#endif
