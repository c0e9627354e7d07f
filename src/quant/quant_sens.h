/* quant_sens.h: measured sensitivity of a model's output to the
 * quantization of one tensor, for the quantizer's size budget. A probe
 * quantizes a single tensor (the rest stay as they are), runs pocket's
 * own forward over a calibration text and returns the mean KL divergence of
 * the next-token distributions from the unquantized model's. */
#ifndef PK_QUANT_SENS_H
#define PK_QUANT_SENS_H

#include "quant/quant.h"
#include "pocket.h"

typedef struct pk_sens pk_sens;

/* Start probing in_path (an F32/F16/BF16 model whose recipe name is
 * keep_type, e.g. "F16") over chunks windows of calib: computes the base
 * logits. qp gives the imatrix, reference flag and threads of the probe
 * quantizations. OUT *s owned by caller (pk_sens_free). */
pk_status pk_sens_new(const char *in_path, const char *keep_type, const char *calib, int chunks,
                      const pk_quantize_params *qp, pk_sens **s);
/* Mean KLD (OUT *kld, nats per token) with only tensor name in type t. */
pk_status pk_sens_probe(pk_sens *s, const char *name, pk_qtype t, double *kld);
/* Removes the temporary files; accepts NULL. */
void pk_sens_free(pk_sens *s);

#endif
