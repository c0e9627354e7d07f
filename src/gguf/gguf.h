/* gguf.h: GGUF v2/v3 reader (over a read-only mapping, no copies of tensor
 * data) and writer. The reader validates everything before anyone sees it:
 * string and array lengths against the bytes that remain, tensor dims and
 * sizes with overflow checks, data ranges inside the file, duplicate names,
 * unknown types. Errors name the key or tensor and the numbers. */
#ifndef PK_GGUF_H
#define PK_GGUF_H

#include "base/base.h"
#include "quant/quant.h"

#include <stdio.h>

/* ---- metadata value types (GGUF spec numbering) ---- */

typedef enum pk_gguf_type {
    PK_GGUF_UINT8 = 0, PK_GGUF_INT8 = 1, PK_GGUF_UINT16 = 2, PK_GGUF_INT16 = 3,
    PK_GGUF_UINT32 = 4, PK_GGUF_INT32 = 5, PK_GGUF_FLOAT32 = 6, PK_GGUF_BOOL = 7,
    PK_GGUF_STRING = 8, PK_GGUF_ARRAY = 9, PK_GGUF_UINT64 = 10,
    PK_GGUF_INT64 = 11, PK_GGUF_FLOAT64 = 12,
    PK_GGUF_TYPE_COUNT
} pk_gguf_type;

typedef struct pk_gguf_str {
    const char *ptr; /* NOT NUL-terminated; points into the mapping */
    uint64_t len;
} pk_gguf_str;

/* A metadata value. Arrays point into the mapping: elements of fixed-size
 * types are packed little-endian at arr.data; string arrays are walked with
 * pk_gguf_arr_str(); nested arrays with pk_gguf_arr_arr(). */
typedef struct pk_gguf_value {
    pk_gguf_type type;
    union {
        uint64_t u64; int64_t i64; double f64; /* all ints/floats widened */
        bool b;
        pk_gguf_str str;
        struct {
            pk_gguf_type type; /* element type */
            uint64_t n;
            const uint8_t *data;   /* first element in the mapping */
            const uint64_t *offs;  /* for STRING/ARRAY elements: byte offset
                                      of each element from data (n entries,
                                      owned by the reader), else NULL */
        } arr;
    } v;
} pk_gguf_value;

typedef struct pk_gguf_kv {
    pk_gguf_str key;
    pk_gguf_value value;
} pk_gguf_kv;

#define PK_GGUF_MAX_DIMS 4

typedef struct pk_gguf_tensor {
    pk_gguf_str name;
    int n_dims;
    uint64_t ne[PK_GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dim; unused = 1 */
    pk_qtype type;
    uint64_t offset;     /* relative to the data section */
    uint64_t n_bytes;    /* size of the data */
    const void *data;    /* view into the mapping */
} pk_gguf_tensor;

typedef struct pk_gguf {
    pk_map map;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    pk_gguf_kv *kv;          /* (n_kv) */
    pk_gguf_tensor *tensors; /* (n_tensors) */
    uint64_t alignment;
    uint64_t data_offset;    /* start of the tensor data section in the file */
} pk_gguf;

/* Open and validate a GGUF file. OUT *g owned by the caller; free with
 * pk_gguf_close(). use_mmap false reads the file into memory. */
pk_status pk_gguf_open(const char *path, bool use_mmap, pk_gguf **g);
/* Parse a GGUF image already in memory (borrowed; must outlive *g). Used by
 * the fuzz harness and tests. */
pk_status pk_gguf_open_mem(const void *data, size_t size, pk_gguf **g);
void pk_gguf_close(pk_gguf *g);

/* Lookups: NULL / -1 when absent. */
const pk_gguf_kv *pk_gguf_find(const pk_gguf *g, const char *key);
const pk_gguf_tensor *pk_gguf_tensor_find(const pk_gguf *g, const char *name);

/* Typed getters. They return PK_ERR_NOT_FOUND when the key is absent and
 * PK_ERR_FORMAT (naming the key and both types) when the type does not fit.
 * Integers of any width are accepted where they fit the target. */
pk_status pk_gguf_get_u32(const pk_gguf *g, const char *key, uint32_t *out);
pk_status pk_gguf_get_i64(const pk_gguf *g, const char *key, int64_t *out);
pk_status pk_gguf_get_f32(const pk_gguf *g, const char *key, float *out);
pk_status pk_gguf_get_bool(const pk_gguf *g, const char *key, bool *out);
/* String: *out borrowed (not NUL-terminated). */
pk_status pk_gguf_get_str(const pk_gguf *g, const char *key, pk_gguf_str *out);
/* Same, into a NUL-terminated copy that the caller frees with pk_free(). */
pk_status pk_gguf_get_strdup(const pk_gguf *g, const char *key, char **out);
/* Array: *out points at the stored value (borrowed). */
pk_status pk_gguf_get_arr(const pk_gguf *g, const char *key, pk_gguf_type elem,
                          const pk_gguf_value **out);

/* Element i of an array of strings. */
pk_gguf_str pk_gguf_arr_str(const pk_gguf_value *arr, uint64_t i);
/* Element i of a fixed-size numeric array, widened. */
double pk_gguf_arr_f64(const pk_gguf_value *arr, uint64_t i);
int64_t pk_gguf_arr_i64(const pk_gguf_value *arr, uint64_t i);

/* Compare a GGUF string with a C string. */
bool pk_gguf_str_eq(pk_gguf_str s, const char *c);

const char *pk_gguf_type_name(pk_gguf_type t);

/* ---- writer ---- */

/* The writer collects metadata and tensor descriptions, then streams the
 * file: header, metadata, tensor infos, padding, data. Tensor data is either
 * given up front (borrowed, must stay valid until pk_gguf_writer_finish) or
 * produced by a callback at write time, so that a quantizer can stream a
 * model larger than memory. Values are copied. */
typedef struct pk_gguf_writer pk_gguf_writer;

/* OUT *w owned by caller; free with pk_gguf_writer_free(). alignment 0 =
 * 32 (written as general.alignment only when not 32). */
pk_status pk_gguf_writer_new(uint32_t alignment, pk_gguf_writer **w);
void pk_gguf_writer_free(pk_gguf_writer *w);

/* Setting an existing key replaces its value. */
pk_status pk_gguf_set_u32(pk_gguf_writer *w, const char *key, uint32_t v);
pk_status pk_gguf_set_i32(pk_gguf_writer *w, const char *key, int32_t v);
pk_status pk_gguf_set_u64(pk_gguf_writer *w, const char *key, uint64_t v);
pk_status pk_gguf_set_f32(pk_gguf_writer *w, const char *key, float v);
pk_status pk_gguf_set_bool(pk_gguf_writer *w, const char *key, bool v);
pk_status pk_gguf_set_str(pk_gguf_writer *w, const char *key, const char *v);
/* Array of fixed-size elements (elem not STRING/ARRAY): n elements packed
 * little-endian at data. */
pk_status pk_gguf_set_arr(pk_gguf_writer *w, const char *key, pk_gguf_type elem,
                          const void *data, uint64_t n);
pk_status pk_gguf_set_arr_str(pk_gguf_writer *w, const char *key,
                              const char *const *strs, const size_t *lens,
                              uint64_t n);
/* Copy a key/value (any type, nested arrays included) from a reader. */
pk_status pk_gguf_copy_kv(pk_gguf_writer *w, const pk_gguf_kv *kv);

/* Produce n_bytes of tensor data into out. Return PK_OK or an error. */
typedef pk_status (*pk_gguf_data_fn)(void *user, void *out, uint64_t n_bytes);

/* Add a tensor. ne[0] must be a multiple of the type's block size. data
 * (borrowed) or fn must be given. */
pk_status pk_gguf_add_tensor(pk_gguf_writer *w, const char *name,
                             pk_qtype type, int n_dims, const uint64_t *ne,
                             const void *data, pk_gguf_data_fn fn, void *user);

/* Write the file (GGUF v3) to path, via path.tmp and rename, so a full disk
 * or failure leaves no half-written file under path. */
pk_status pk_gguf_writer_finish(pk_gguf_writer *w, const char *path);

#endif
