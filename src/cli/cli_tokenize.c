/* cli_tokenize.c: `pocket tokenize -m MODEL [-p TEXT | stdin]`: token ids of
 * a text with a model's vocabulary, as ids or as pieces. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: pocket tokenize -m MODEL [-p TEXT] [--ids] [--no-bos] [--pieces] [--no-special]\n"
               "  reads stdin when -p is not given\n"
               "  --ids        one id per line (default: space-separated)\n"
               "  --no-bos     add no BOS/EOS (special-token text is still parsed)\n"
               "  --pieces     print each token's id and piece\n"
               "  --no-special parse control-token text as plain text\n");
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL;
    int one_per_line = 0, add_special = 1, pieces = 0, parse_special = 1, rc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) model = argv[++i];
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && i + 1 < argc) text = argv[++i];
        else if (!strcmp(a, "--ids")) one_per_line = 1;
        else if (!strcmp(a, "--no-bos")) add_special = 0;
        else if (!strcmp(a, "--pieces")) pieces = 1;
        else if (!strcmp(a, "--no-special")) parse_special = 0;
        else {
            fprintf(stderr, "pocket tokenize: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model) {
        usage(stderr);
        return 2;
    }
    char *buf = NULL;
    size_t len = 0;
    if (!text) { /* stdin, up to 64 MB */
        size_t cap = 1 << 16;
        buf = malloc(cap);
        size_t r;
        while (buf && (r = fread(buf + len, 1, cap - len, stdin)) > 0) {
            len += r;
            if (len == cap) {
                if (cap >= (64u << 20)) {
                    fprintf(stderr, "pocket tokenize: stdin larger than 64 MB\n");
                    free(buf);
                    return 1;
                }
                char *nb = realloc(buf, cap *= 2);
                if (!nb) break;
                buf = nb;
            }
        }
        if (!buf) return 1;
        text = buf;
    } else {
        len = strlen(text);
    }
    pk_tokenizer *tk = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    if (pk_tokenizer_load(model, &tk) != PK_OK ||
        pk_tokenizer_encode(tk, text, len, add_special, parse_special, &ids, &n) != PK_OK) {
        fprintf(stderr, "pocket tokenize: %s\n", pk_last_error());
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (pieces) {
            size_t pl;
            const char *p = pk_tokenizer_piece(tk, ids[i], 1, &pl);
            printf("%6d '%.*s'\n", ids[i], (int)pl, p);
        } else {
            printf(one_per_line ? "%d\n" : (i + 1 < n ? "%d " : "%d"), ids[i]);
        }
    }
    if (!pieces && !one_per_line) putchar('\n');
    rc = 0;
out:
    pk_free(ids);
    pk_tokenizer_free(tk);
    free(buf);
    return rc;
}
