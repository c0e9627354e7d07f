/* quantize.h: the model quantizer. Streams a GGUF file (F32/F16/BF16, or
 * Q8_0 with a warning) into a GGUF of standard ggml types, tensor by tensor,
 * so peak memory stays near one tensor. Chooses per-tensor types from a
 * named recipe or, under a size budget, by measured quantization error
 * weighted by the importance matrix (activation statistics). The imatrix
 * file uses the GGUF layout llama.cpp's imatrix tool writes
 * (<tensor>.in_sum2, <tensor>.counts), so files interchange. */
#ifndef PK_QUANTIZE_H
#define PK_QUANTIZE_H

#include "gguf/gguf.h"
#include "quant/quant.h"

/* ---- importance matrix ---- */

typedef struct pk_imatrix_entry {
    char *name;         /* weight tensor name, e.g. "blk.0.attn_q.weight" */
    int64_t n_cols;
    float *sum2;        /* (n_cols) sum of squared activations */
    float count;        /* number of activation rows summed */
} pk_imatrix_entry;

typedef struct pk_imatrix {
    pk_imatrix_entry *e; /* (n) */
    size_t n, cap;
    uint32_t chunk_count, chunk_size;
    char *dataset;       /* calibration file name or NULL */
} pk_imatrix;

/* Load an imatrix GGUF. OUT *im owned by caller (pk_imatrix_free). */
pk_status pk_imatrix_load(const char *path, pk_imatrix **im);
/* Save (GGUF, llama.cpp-compatible layout). */
pk_status pk_imatrix_save(const pk_imatrix *im, const char *path);
void pk_imatrix_free(pk_imatrix *im);
/* Find or create the entry for a weight with n_cols input columns. Returns
 * NULL on allocation failure or on a column-count mismatch (error set). */
pk_imatrix_entry *pk_imatrix_get(pk_imatrix *im, const char *name,
                                 int64_t n_cols, bool create);
/* Mean squared activation per column into out (n_cols); false if absent. */
bool pk_imatrix_weights(const pk_imatrix *im, const char *name, int64_t n_cols,
                        float *out);

/* ---- tensor-level helpers (used by the quantizer and tests) ---- */

/* Quantize n_rows x n_per_row floats into dst with type t, using the
 * imatrix-aware entry when imatrix != NULL; refine: the refined quantizer
 * of quant_refine.h where the type has one, else ggml's. Returns bytes
 * written, 0 on failure (error set). Splits rows across the pool. */
size_t pk_quantize_rows(pk_pool *pool, pk_qtype t, const float *src, void *dst,
                        int64_t n_rows, int64_t n_per_row, const float *imatrix,
                        bool refine);

/* Relative weighted squared error of quantizing rows with type t:
 * sum_ij w_j (x_ij - q(x)_ij)^2 / sum_ij w_j x_ij^2 (w = 1 without imatrix).
 * Returns a negative value on failure (error set). Uses the pool. */
double pk_quant_rel_error(pk_pool *pool, pk_qtype t, const float *rows,
                          int64_t n_rows, int64_t n_per_row,
                          const float *imatrix, bool refine);

#endif
