/* quant.h: tensor types, their block layouts (bit-exact to ggml's, so GGUF
 * files are interchangeable with llama.cpp) and a per-type trait table:
 * block size, bytes, to_float, from_float, vec_dot and the type the other
 * operand of vec_dot must be in. Reference kernels (_ref) are the spec; SIMD
 * variants are picked once at start by pk_quant_init() and must agree with
 * them. POCKET_REF=1 in the environment forces the reference path;
 * POCKET_GEMM=0 turns the GEMM kernels off (prefill through vec_dot),
 * POCKET_GEMV=0 the GEMV kernels (decode through vec_dot). */
#ifndef PK_QUANT_H
#define PK_QUANT_H

#include "base/base.h"

/* GGUF / ggml type numbering. */
typedef enum pk_qtype {
    PK_Q_F32 = 0, PK_Q_F16 = 1, PK_Q_Q4_0 = 2, PK_Q_Q4_1 = 3,
    PK_Q_Q5_0 = 6, PK_Q_Q5_1 = 7, PK_Q_Q8_0 = 8, PK_Q_Q8_1 = 9,
    PK_Q_Q2_K = 10, PK_Q_Q3_K = 11, PK_Q_Q4_K = 12, PK_Q_Q5_K = 13,
    PK_Q_Q6_K = 14, PK_Q_Q8_K = 15,
    PK_Q_IQ2_XXS = 16, PK_Q_IQ2_XS = 17, PK_Q_IQ3_XXS = 18, PK_Q_IQ1_S = 19,
    PK_Q_IQ4_NL = 20, PK_Q_IQ3_S = 21, PK_Q_IQ2_S = 22, PK_Q_IQ4_XS = 23,
    PK_Q_I8 = 24, PK_Q_I16 = 25, PK_Q_I32 = 26, PK_Q_I64 = 27, PK_Q_F64 = 28,
    PK_Q_IQ1_M = 29, PK_Q_BF16 = 30,
    PK_Q_COUNT = 40 /* room for numbering gaps; see pk_qtype_known() */
} pk_qtype;

#define PK_QK 32    /* elements per block of the simple quants */
#define PK_QK_K 256 /* elements per super-block of the k-quants */

/* Convert n values (n a multiple of the block size). */
typedef void (*pk_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*pk_from_float_fn)(const float *src, void *dst, int64_t n);
/* Quantize with per-column importance weights (n_per_row columns, imatrix
 * may be NULL): rows of n_per_row, n_rows of them. Returns bytes written. */
typedef size_t (*pk_quantize_fn)(const float *src, void *dst, int64_t n_rows,
                                 int64_t n_per_row, const float *imatrix);
/* sum_i a[i] * b[i] over n elements: a in this type, b in vec_dot_type. */
typedef void (*pk_vec_dot_fn)(int n, float *out, const void *a, const void *b);

/* Four dot products of one weight row a with four activation rows
 * b, b + bstride, b + 2 bstride, b + 3 bstride; results to out[0], out[ostride],
 * out[2 ostride], out[3 ostride]. Lets prefill decode each weight block once
 * per four tokens. */
typedef void (*pk_vec_dot4_fn)(int n, float *out, size_t ostride, const void *a, const void *b,
                               size_t bstride);

/* GEMM over rows of this type and activation rows of vec_dot_type:
 * y[t * ys + r] = sum_i W_r[i] * X_t[i] for rows r < nr (row r at
 * w + r * wrow) and tokens t < nt (at x + t * xrow), n elements each.
 * Results equal vec_dot per row and token up to float summation order. */
typedef void (*pk_gemm_fn)(int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow,
                           const void *x, size_t xrow);

/* GEMV for one token (decode): y[r] = sum_i W_r[i] * x[i] for rows r < nr
 * (row r at w + r * wrow), x one activation row of vec_dot_type, n
 * elements. Results equal vec_dot per row up to float summation order. */
typedef void (*pk_gemv_fn)(int n, int nr, float *y, const void *w, size_t wrow, const void *x);

/* y[i] += a * x[i] for i < n, x in this type (attention's V rows). */
typedef void (*pk_vec_mad_fn)(int n, float *y, float a, const void *x);

typedef struct pk_qtraits {
    const char *name;          /* "q4_K" style, as ggml names it */
    int blck;                  /* elements per block */
    size_t bytes;              /* bytes per block */
    bool is_quant;
    pk_to_float_fn to_float;   /* NULL when not supported */
    pk_from_float_fn from_float;        /* plain quantization (SIMD ones bit-exact to the reference) */
    pk_quantize_fn quantize;   /* imatrix-aware; NULL = from_float per row */
    pk_vec_dot_fn vec_dot;     /* dispatched (SIMD when available) */
    pk_vec_dot_fn vec_dot_ref; /* reference */
    pk_qtype vec_dot_type;     /* type of the activation operand */
    pk_vec_dot4_fn vec_dot4;   /* SIMD only; NULL: use vec_dot four times */
    pk_gemm_fn gemm;           /* SIMD only; NULL: pk_gemm falls back to vec_dot */
    pk_gemv_fn gemv;           /* SIMD only; NULL: pk_gemv falls back to vec_dot */
    pk_vec_mad_fn vec_mad;     /* SIMD only; NULL: to_float, then add */
} pk_qtraits;

/* Fill dispatch tables once (cpuid / hwcaps); idempotent, thread-safe. */
void pk_quant_init(void);

/* Name of the kernel set in use: "avx2", "neon", "neon+dotprod",
 * "neon+dotprod+i8mm" or "ref". */
const char *pk_quant_isa(void);

/* Traits of a type (NULL if the type number is not known to pocket). */
const pk_qtraits *pk_qtraits_of(pk_qtype t);
bool pk_qtype_known(int t);
/* The reference table (every kernel the scalar one), for tests. */
const pk_qtraits *pk_qtraits_ref_of(pk_qtype t);
const char *pk_qtype_name(pk_qtype t);
/* Parse a type name case-insensitively ("Q4_K", "f16"); -1 if unknown. */
int pk_qtype_from_name(const char *name);

/* y = W X^T as pk_gemm_fn describes, for weights of type t: the trait's
 * gemm kernel when there is one, else a loop of vec_dot4 / vec_dot (the
 * fallback on builds without a GEMM for the type). Thread-safe. */
void pk_gemm(pk_qtype t, int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow,
             const void *x, size_t xrow);
/* The fallback loop itself, for tests and for kernels' row tails. */
void pk_gemm_loop(const pk_qtraits *q, int n, int nr, int nt, float *y, size_t ys, const void *w, size_t wrow,
                  const void *x, size_t xrow);

/* y = W x as pk_gemv_fn describes, for weights of type t: the trait's gemv
 * kernel when there is one, else a loop of vec_dot. Thread-safe. */
void pk_gemv(pk_qtype t, int n, int nr, float *y, const void *w, size_t wrow, const void *x);

/* SwiGLU's product in place: o[i] = silu(o[i]) * u[i] = o[i] / (1 +
 * e^-o[i]) * u[i], i < n; the SIMD kernel where the CPU has one (within a
 * few ulp of the reference). Thread-safe. */
void pk_silu_mul(float *o, const float *u, size_t n);
/* the scalar reference (libm's expf), for tests */
void pk_silu_mul_ref(float *o, const float *u, size_t n);

/* Bytes of a row of n elements; 0 if n is not a multiple of the block size
 * or the type is unknown. */
size_t pk_row_size(pk_qtype t, int64_t n);

#endif
