/* cli_convert.c: `pocket convert-llama2c IN.bin OUT.gguf [--tokenizer T]`. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cmd_convert_llama2c(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *tok = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: pocket convert-llama2c IN.bin OUT.gguf [--tokenizer tokenizer.bin]\n"
                   "  converts a llama2.c checkpoint (legacy header or version 1/2 'ak42' files,\n"
                   "  fp32) to an F32 GGUF of architecture llama; with --tokenizer the vocabulary\n"
                   "  of llama2.c's tokenizer.bin is written as a SentencePiece-style vocab\n");
            return 0;
        } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            tok = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "pocket convert-llama2c: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            fprintf(stderr, "pocket convert-llama2c: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "usage: pocket convert-llama2c IN.bin OUT.gguf [--tokenizer tokenizer.bin]\n");
        return 2;
    }
    if (pk_convert_llama2c(in, tok, out) != PK_OK) {
        fprintf(stderr, "pocket convert-llama2c: %s\n", pk_last_error());
        return 1;
    }
    printf("wrote %s\n", out);
    return 0;
}
