/* cli_inspect.c: `pocket inspect MODEL`: GGUF version, metadata, tensors,
 * a summary by type, parameter count, file size and bits per weight. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

typedef struct type_sum {
    const char *type;
    uint64_t count, bytes, elems;
} type_sum;

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int show_tensors = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: pocket inspect MODEL.gguf [--no-tensors]\n"
                   "  prints the GGUF version, every metadata key (type and value; long arrays\n"
                   "  abbreviated), every tensor (type, shape, offset, bytes), a summary by type,\n"
                   "  the parameter count, file size and bits per weight\n");
            return 0;
        } else if (!strcmp(argv[i], "--no-tensors")) {
            show_tensors = 0;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "pocket inspect: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "usage: pocket inspect MODEL.gguf\n");
        return 2;
    }
    pk_file *f = NULL;
    if (pk_file_open(path, &f) != PK_OK) {
        fprintf(stderr, "pocket inspect: %s\n", pk_last_error());
        return 1;
    }
    pk_file_info fi;
    pk_file_get_info(f, &fi);
    printf("file: %s\nGGUF version: %u\nfile size: %llu bytes\nalignment: %llu\ndata offset: %llu\n",
           path, fi.version, (unsigned long long)fi.file_size, (unsigned long long)fi.alignment,
           (unsigned long long)fi.data_offset);
    printf("metadata: %llu keys\n", (unsigned long long)fi.n_kv);
    for (uint64_t i = 0; i < fi.n_kv; i++) {
        size_t kl;
        const char *k = pk_file_kv_key(f, i, &kl);
        char *v = NULL;
        if (pk_file_kv_text(f, i, 8, &v) != PK_OK) {
            fprintf(stderr, "pocket inspect: %s\n", pk_last_error());
            pk_file_close(f);
            return 1;
        }
        printf("  %-44.*s %-9s = %s\n", (int)kl, k, pk_file_kv_type(f, i), v);
        pk_free(v);
    }
    type_sum sums[40];
    int n_sum = 0;
    uint64_t params = 0, bytes = 0;
    printf("tensors: %llu\n", (unsigned long long)fi.n_tensors);
    for (uint64_t i = 0; i < fi.n_tensors; i++) {
        pk_file_tensor t;
        pk_file_get_tensor(f, i, &t);
        params += t.n_elements;
        bytes += t.n_bytes;
        int s = 0;
        while (s < n_sum && strcmp(sums[s].type, t.type)) s++;
        if (s == n_sum && n_sum < 40) sums[n_sum++] = (type_sum){ t.type, 0, 0, 0 };
        if (s < 40) {
            sums[s].count++;
            sums[s].bytes += t.n_bytes;
            sums[s].elems += t.n_elements;
        }
        if (!show_tensors) continue;
        char shape[96];
        int o = snprintf(shape, sizeof(shape), "(%llu", (unsigned long long)t.ne[0]);
        for (int d = 1; d < t.n_dims; d++)
            o += snprintf(shape + o, sizeof(shape) - (size_t)o, ", %llu", (unsigned long long)t.ne[d]);
        snprintf(shape + o, sizeof(shape) - (size_t)o, ")");
        printf("  %-40.*s %-7s %-22s offset %-12llu %llu bytes\n", (int)t.name_len, t.name, t.type, shape,
               (unsigned long long)t.offset, (unsigned long long)t.n_bytes);
    }
    printf("by type:\n");
    for (int s = 0; s < n_sum; s++)
        printf("  %-7s %5llu tensors %14llu bytes %8.3f bits/weight\n", sums[s].type,
               (unsigned long long)sums[s].count, (unsigned long long)sums[s].bytes,
               sums[s].elems ? sums[s].bytes * 8.0 / sums[s].elems : 0.0);
    printf("parameters: %llu\ntensor bytes: %llu\nbits per weight: %.3f (file: %.3f)\n",
           (unsigned long long)params, (unsigned long long)bytes, params ? bytes * 8.0 / params : 0.0,
           params ? fi.file_size * 8.0 / params : 0.0);
    pk_file_close(f);
    return 0;
}
