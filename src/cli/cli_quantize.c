/* cli_quantize.c: `pocket quantize IN.gguf OUT.gguf TYPE|--target-size S|--bpw B
 * [--imatrix FILE] [--keep NAME=TYPE ...]`: a progress line per tensor, a
 * per-tensor report, and the final size and bits per weight. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: pocket quantize IN.gguf OUT.gguf (TYPE | --target-size SIZE | --bpw B)\n"
        "                       [--imatrix FILE] [--keep NAME=TYPE ...] [--reference]\n"
        "                       [-t THREADS] [-q]\n"
        "  TYPE         Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_M Q4_K_S Q4_K_M Q5_K_S Q5_K_M\n"
        "               Q6_K IQ4_NL IQ4_XS F16 BF16 F32\n"
        "  --target-size SIZE  largest file allowed, e.g. 3.9GB, 3900MB, 123456789\n"
        "                      (per-tensor types chosen to minimise the error)\n"
        "  --bpw B      the same as a budget in bits per weight\n"
        "  --calib TEXT with a budget: measure each tensor's effect on the output\n"
        "               (KLD over TEXT with only that tensor quantized) instead of\n"
        "               estimating it from the tensor's role\n"
        "  --calib-chunks N  windows of TEXT per measurement (default 4)\n"
        "  --sens FILE  measured sensitivities: reused from FILE if it exists,\n"
        "               else written to it\n"
        "  --imatrix F  importance matrix from `pocket imatrix` (or llama-imatrix)\n"
        "  --keep N=T   tensors whose name contains N get type T (repeatable;\n"
        "               ^N=T: the tensor named exactly N)\n"
        "  --reference  ggml's quantizers only (the bytes llama-quantize writes);\n"
        "               default: a refined block-scale search, never worse per block\n"
        "  -q           no per-tensor report\n");
}

/* "3.9GB" -> 3900000000 (decimal units; GiB/MiB binary). 0 on error. */
static unsigned long long parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0) return 0;
    double mul = 1;
    if (!strcasecmp(end, "") || !strcasecmp(end, "b")) mul = 1;
    else if (!strcasecmp(end, "kb") || !strcasecmp(end, "k")) mul = 1e3;
    else if (!strcasecmp(end, "mb") || !strcasecmp(end, "m")) mul = 1e6;
    else if (!strcasecmp(end, "gb") || !strcasecmp(end, "g")) mul = 1e9;
    else if (!strcasecmp(end, "kib")) mul = 1024.0;
    else if (!strcasecmp(end, "mib")) mul = 1024.0 * 1024;
    else if (!strcasecmp(end, "gib")) mul = 1024.0 * 1024 * 1024;
    else return 0;
    return (unsigned long long)(v * mul);
}

typedef struct report_state {
    int quiet;
    unsigned long long in_bytes, out_bytes;
} report_state;

static void on_report(void *user, const pk_quantize_report *r) {
    report_state *rs = user;
    rs->in_bytes += r->bytes_in;
    rs->out_bytes += r->bytes_out;
    if (rs->quiet) {
        fprintf(stderr, "\r[%d/%d] %-40.40s", r->index, r->count, r->name);
        if (r->index == r->count) fputc('\n', stderr);
        return;
    }
    char err[32] = "";
    if (r->rel_error >= 0) snprintf(err, sizeof(err), "  err %.2e", r->rel_error);
    fprintf(stderr, "[%4d/%4d] %-36s %-7s -> %-7s %10.2f MB -> %9.2f MB%s\n", r->index,
            r->count, r->name, r->type_in, r->type_out, r->bytes_in / 1e6,
            r->bytes_out / 1e6, err);
}

int cmd_quantize(int argc, char **argv) {
    pk_quantize_params p = pk_quantize_default_params();
    p.type = NULL;
    const char *pos[3] = { 0 };
    int n_pos = 0;
    const char **keep = calloc((size_t)argc + 1, sizeof(*keep));
    int n_keep = 0, rc = 2;
    report_state rs = { 0 };
    if (!keep) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--target-size") && i + 1 < argc) {
            if (!(p.target_bytes = parse_size(argv[++i]))) {
                fprintf(stderr, "pocket quantize: bad size '%s'\n", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--bpw") && i + 1 < argc) {
            p.target_bpw = atof(argv[++i]);
            if (p.target_bpw <= 0 || p.target_bpw > 32) {
                fprintf(stderr, "pocket quantize: bad bpw '%s'\n", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--imatrix") && i + 1 < argc) {
            p.imatrix = argv[++i];
        } else if (!strcmp(a, "--keep") && i + 1 < argc) {
            keep[n_keep++] = argv[++i];
        } else if (!strcmp(a, "-t") && i + 1 < argc) {
            p.n_threads = atoi(argv[++i]);
        } else if (!strcmp(a, "--calib") && i + 1 < argc) {
            p.calib = argv[++i];
        } else if (!strcmp(a, "--calib-chunks") && i + 1 < argc) {
            p.calib_chunks = atoi(argv[++i]);
            if (p.calib_chunks <= 0) {
                fprintf(stderr, "pocket quantize: bad --calib-chunks '%s'\n", argv[i]);
                goto out;
            }
        } else if (!strcmp(a, "--sens") && i + 1 < argc) {
            p.sens_cache = argv[++i];
        } else if (!strcmp(a, "--reference")) {
            p.reference = 1;
        } else if (!strcmp(a, "-q")) {
            rs.quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "pocket quantize: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            goto out;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "pocket quantize: unexpected argument '%s'\n", a);
            goto out;
        }
    }
    int want = (p.target_bytes || p.target_bpw > 0) ? 2 : 3;
    if (n_pos != want) {
        usage(stderr);
        goto out;
    }
    if (want == 3) p.type = pos[2];
    p.keep = n_keep ? keep : NULL;
    p.report = on_report;
    p.user = &rs;
    pk_quantize_summary sum;
    pk_status st = pk_quantize_model(pos[0], pos[1], &p, &sum);
    if (st != PK_OK) {
        fprintf(stderr, "pocket quantize: %s\n", pk_last_error());
        rc = 1;
        goto out;
    }
    printf("%s: %.2f MB of tensors -> %.2f MB; file %llu bytes (%.2f MB), %llu weights, "
           "%.3f bits per weight\n", pos[1], rs.in_bytes / 1e6, rs.out_bytes / 1e6,
           (unsigned long long)sum.file_bytes, sum.file_bytes / 1e6,
           (unsigned long long)sum.n_params, sum.bpw);
    rc = 0;
out:
    free(keep);
    return rc;
}
