/* quant_sens.c: per-tensor sensitivity probes for the quantizer's budget
 * (see quant_sens.h). Built on the public API only: each probe writes a
 * temporary model with pk_quantize_model (one --keep override), loads it
 * and scores it with pk_perplexity against saved base logits. */
#include "quant/quant_sens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pk_sens {
    char in_path[1024], keep_type[16], calib[1024];
    char base[64], tmp[64];   /* temporary files: base logits, probe model */
    int chunks, n_ctx;
    pk_quantize_params qp;
};

static pk_status score(pk_sens *s, const char *model_path, const char *save, const char *base,
                       double *kld) {
    pk_model *m = NULL;
    pk_model_params mp = pk_model_default_params();
    mp.n_threads = s->qp.n_threads;
    pk_status st = pk_model_load(model_path, &mp, &m);
    if (st) return st;
    if (!s->n_ctx) {
        pk_model_info info;
        pk_model_get_info(m, &info);
        s->n_ctx = info.n_ctx_train > 0 && info.n_ctx_train < 256 ? info.n_ctx_train : 256;
    }
    pk_ppl_params pp = pk_ppl_default_params();
    pp.n_ctx = s->n_ctx;
    pp.max_chunks = s->chunks;
    pp.n_threads = s->qp.n_threads;
    pp.save_logits = save;
    pp.kld_base = base;
    pk_ppl_result r;
    st = pk_perplexity(m, s->calib, &pp, &r);
    pk_model_free(m);
    if (!st && kld) *kld = r.has_kld ? r.kld_mean : 0;
    return st;
}

static pk_status tmp_name(char *out, size_t n, const char *what) {
    snprintf(out, n, "/tmp/pk_sens_%s_XXXXXX", what);
    int fd = mkstemp(out);
    if (fd < 0) return pk_err(PK_ERR_IO, "sensitivity: cannot create a temporary file in /tmp");
    close(fd);
    return PK_OK;
}

pk_status pk_sens_new(const char *in_path, const char *keep_type, const char *calib, int chunks,
                      const pk_quantize_params *qp, pk_sens **out) {
    *out = NULL;
    if (strlen(in_path) >= 1024 || strlen(calib) >= 1024 || strlen(keep_type) >= 16)
        return pk_err(PK_ERR_INVALID, "sensitivity: path or type name too long");
    pk_sens *s = calloc(1, sizeof(*s));
    if (!s) return PK_ERR_NOMEM;
    snprintf(s->in_path, sizeof(s->in_path), "%s", in_path);
    snprintf(s->keep_type, sizeof(s->keep_type), "%s", keep_type);
    snprintf(s->calib, sizeof(s->calib), "%s", calib);
    s->chunks = chunks > 0 ? chunks : 4;
    s->qp = *qp;
    s->qp.report = NULL;
    s->qp.target_bytes = 0;
    s->qp.target_bpw = 0;
    s->qp.calib = NULL;
    s->qp.sens_cache = NULL;
    pk_status st;
    if ((st = tmp_name(s->base, sizeof(s->base), "base")) ||
        (st = tmp_name(s->tmp, sizeof(s->tmp), "model")) ||
        (st = score(s, in_path, s->base, NULL, NULL))) {
        pk_err_prefix("sensitivity base logits");
        pk_sens_free(s);
        return st;
    }
    *out = s;
    return PK_OK;
}

pk_status pk_sens_probe(pk_sens *s, const char *name, pk_qtype t, double *kld) {
    char keep[320];
    snprintf(keep, sizeof(keep), "^%s=%s", name, pk_qtype_name(t));
    const char *keeps[] = { keep, NULL };
    pk_quantize_params qp = s->qp;
    qp.type = s->keep_type;
    qp.keep = keeps;
    pk_status st = pk_quantize_model(s->in_path, s->tmp, &qp, NULL);
    if (!st) st = score(s, s->tmp, NULL, s->base, kld);
    if (st) pk_err_prefix("sensitivity probe of %s", name);
    return st;
}

void pk_sens_free(pk_sens *s) {
    if (!s) return;
    if (s->base[0]) unlink(s->base);
    if (s->tmp[0]) unlink(s->tmp);
    free(s);
}
