/* test_fuzz_replay.c: replays every committed fuzz corpus through its
 * harness (the same functions libFuzzer drives), so that inputs which once
 * crashed stay fixed; under the _asan build any memory error fails. */
#include "base/base.h"
#include "test.h"

#include <dirent.h>

int pk_fuzz_gguf(const uint8_t *data, size_t size);
int pk_fuzz_tok(const uint8_t *data, size_t size);
int pk_fuzz_image(const uint8_t *data, size_t size);

static const struct {
    const char *dir;
    int (*fn)(const uint8_t *, size_t);
} HARNESSES[] = {
    { "fuzz/corpus/gguf", pk_fuzz_gguf },
    { "tests/data/gguf-bad", pk_fuzz_gguf },
    { "fuzz/corpus/tok", pk_fuzz_tok },
    { "fuzz/corpus/image", pk_fuzz_image },
};

static void test_replay(void) {
    const char *src = getenv("POCKET_SRC") ? getenv("POCKET_SRC") : ".";
    for (size_t h = 0; h < sizeof(HARNESSES) / sizeof(HARNESSES[0]); h++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", src, HARNESSES[h].dir);
        DIR *d = opendir(dir);
        CHECKF(d != NULL, "cannot open %s", dir);
        if (!d) continue;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            char *data = NULL;
            size_t len = 0;
            if (pk_read_file(path, 1 << 26, &data, &len) != PK_OK) continue;
            HARNESSES[h].fn((const uint8_t *)data, len);
            pk_free(data);
            n++;
        }
        closedir(d);
        fprintf(stderr, "   %s: %d inputs\n", HARNESSES[h].dir, n);
        CHECK(n > 0);
    }
}

int main(void) {
    PK_RUN(test_replay);
    return pk_test_summary();
}
