/* quant_refine.h: refined quantizers for q4_0, q4_K, q5_K, q6_K and iq4_xs.
 * They write the standard ggml block layouts (any reader decodes them with
 * the reference to_float) but search the block scales harder than ggml's
 * quantizers: a weighted least-squares fit per sub-block over many candidate
 * scales with alternating re-rounding, then a search of the super-block
 * scales that accounts for the rounding of the packed sub-scales, then a
 * final re-rounding of the levels. Each block is also quantized with the
 * reference quantizer and the one with the lower weighted error is kept, so
 * the result is never worse than the reference under that error. */
#ifndef PK_QUANT_REFINE_H
#define PK_QUANT_REFINE_H

#include "quant/quant.h"

/* The refined quantizer of type t (pk_quantize_fn contract: n_rows rows of
 * n_per_row floats, optional per-column importance weights imatrix
 * (n_per_row); returns bytes written, 0 on allocation failure with the error
 * set). The error minimised per block is sum_j w_j (x_j - q(x)_j)^2 with
 * w = imatrix, or w = 1 without one. NULL when t has no refined quantizer.
 * Thread-safe; allocates one row of scratch per call. */
pk_quantize_fn pk_refine_fn(pk_qtype t);

#endif
