/* test_gguf_bad.c: the hostile GGUF corpus (tests/data/gguf-bad, made by
 * tools/fixtures/make_bad_gguf.py): every file fails to open with an error
 * that contains the expected words, from a file and from memory. */
#include "gguf/gguf.h"
#include "test.h"

static void test_corpus(void) {
    const char *src = getenv("POCKET_SRC") ? getenv("POCKET_SRC") : ".";
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/gguf-bad/EXPECT.txt", src);
    char *list = NULL;
    size_t len;
    CHECK_OK(pk_read_file(path, 1 << 20, &list, &len));
    if (!list) return;
    int n = 0;
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        const char *expect = tab + 1;
        snprintf(path, sizeof(path), "%s/tests/data/gguf-bad/%s", src, line);
        pk_gguf *g = NULL;
        pk_status st = pk_gguf_open(path, true, &g);
        CHECKF(st != PK_OK && !g, "%s was accepted", line);
        CHECKF(strstr(pk_last_error(), expect) != NULL, "%s: error '%s' lacks '%s'", line, pk_last_error(),
               expect);
        CHECKF(strstr(pk_last_error(), line) != NULL, "%s: error does not name the file", line);
        pk_gguf_close(g);
        /* the same bytes from memory */
        char *data = NULL;
        size_t dl = 0;
        CHECK_OK(pk_read_file(path, 1 << 20, &data, &dl));
        CHECK(pk_gguf_open_mem(data ? data : "", dl, &g) != PK_OK);
        pk_free(data);
        n++;
    }
    CHECKF(n >= 30, "only %d corpus files", n);
    pk_free(list);
}

int main(void) {
    pk_quant_init();
    PK_RUN(test_corpus);
    return pk_test_summary();
}
