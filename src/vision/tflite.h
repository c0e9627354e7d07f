/* tflite.h: a small TFLite interpreter for the segmentation models of
 * `pocket erase`. It reads a TFLite flatbuffer with its own bounds-checked
 * flatbuffer reader (hostile files give errors, never out-of-range reads),
 * validates every tensor shape of every operator at load, and runs the
 * float32 NHWC operators such models use (batch 1). Weights stored as fp16
 * behind DEQUANTIZE ops are expanded to fp32 at load. */
#ifndef PK_TFLITE_H
#define PK_TFLITE_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pk_tfl pk_tfl;

/* Parse and prepare a model from bytes (data is only read during the call;
 * weights are copied). OUT *m: caller owns, free with pk_tfl_free().
 * Errors: PK_ERR_FORMAT (malformed flatbuffer or inconsistent shapes, the
 * message names the table, field and offset), PK_ERR_UNSUPPORTED (an
 * operator, option or tensor type outside the supported set),
 * PK_ERR_NOMEM. */
pk_status pk_tfl_load(const uint8_t *data, size_t size, pk_tfl **m);
/* Same from a file (PK_ERR_IO when it cannot be read). */
pk_status pk_tfl_open(const char *path, pk_tfl **m);
void pk_tfl_free(pk_tfl *m);

/* Graph inputs and outputs of subgraph 0. shape: OUT up to 4 dims,
 * returns the number of dims (0 for a bad index). The float buffers are
 * borrowed: valid until pk_tfl_free(); write inputs, run pk_tfl_invoke(),
 * read outputs. */
int pk_tfl_n_inputs(const pk_tfl *m);
int pk_tfl_n_outputs(const pk_tfl *m);
int pk_tfl_input_shape(const pk_tfl *m, int i, int shape[4]);
int pk_tfl_output_shape(const pk_tfl *m, int i, int shape[4]);
float *pk_tfl_input(pk_tfl *m, int i);
const float *pk_tfl_output(const pk_tfl *m, int i);

/* Run all operators in order. pool (borrowed, may be NULL) splits the
 * convolutions by output rows. No allocation. Not thread safe per model. */
pk_status pk_tfl_invoke(pk_tfl *m, pk_pool *pool);

/* Operators of the model, in execution order: count and the name of the
 * i-th one ("CONV_2D", or the custom code). Borrowed strings. */
int pk_tfl_n_ops(const pk_tfl *m);
const char *pk_tfl_op_name(const pk_tfl *m, int i);
/* Multiply-adds of one pk_tfl_invoke() in the convolutions (a cost bound
 * for callers that run untrusted models, e.g. the fuzz harness). */
double pk_tfl_macs(const pk_tfl *m);

#endif
