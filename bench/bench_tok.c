/* bench_tok.c: tokenizer speed on a real transcript: the first 100 KB of a
 * QMSum meeting, encoded with the Llama-2 SentencePiece vocab (GGUF) and the
 * Llama-3 and Qwen2 byte-level BPE vocabs (tokenizer.json), one core, best
 * of 5 runs. usage: bench/bench_tok [SHARED_DIR] */
#include "pocket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    const char *sh = argc > 1 ? argv[1] : "../shared";
    char path[4096];
    /* a transcript as plain text: speaker turns from the first val meeting */
    snprintf(path, sizeof(path), "%s/data/qmsum/val", sh);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "ls %s/*.json | head -1", path);
    FILE *p = popen(cmd, "r");
    char file[4096] = "";
    if (!p || !fgets(file, sizeof(file), p)) return 1;
    pclose(p);
    file[strcspn(file, "\n")] = 0;
    FILE *f = fopen(file, "rb");
    if (!f) return 1;
    static char text[100 * 1024 + 1];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    const char *vocabs[][2] = {
        { "llama-2 SPM (GGUF)", "tokenizers/llamacpp-vocab/ggml-vocab-llama-spm.gguf" },
        { "llama-3 BPE (tokenizer.json)", "tokenizers/llama3/tokenizer.json" },
        { "qwen2 BPE (tokenizer.json)", "tokenizers/qwen2/tokenizer.json" },
    };
    printf("text: %zu bytes of %s\n", n, file);
    for (int v = 0; v < 3; v++) {
        snprintf(path, sizeof(path), "%s/%s", sh, vocabs[v][1]);
        pk_tokenizer *tk = NULL;
        if (pk_tokenizer_load(path, &tk) != PK_OK) {
            fprintf(stderr, "%s\n", pk_last_error());
            return 1;
        }
        double best = 1e9;
        size_t nt = 0;
        for (int r = 0; r < 5; r++) {
            int32_t *ids = NULL;
            double t0 = now_ms();
            if (pk_tokenizer_encode(tk, text, n, 0, 0, &ids, &nt) != PK_OK) return 1;
            double dt = now_ms() - t0;
            if (dt < best) best = dt;
            pk_free(ids);
        }
        printf("%-30s %7zu tokens  %7.2f ms  (%.1f MB/s)\n", vocabs[v][0], nt, best, n / best / 1e3);
        pk_tokenizer_free(tk);
    }
    return 0;
}
