/* fuzz_image.c: libFuzzer harness for the image decoders (src/image):
 * decode arbitrary bytes as a photo and as a mask, read every pixel of
 * what was accepted, and parse the bytes as an EXIF block. Built by
 * fuzz/fuzz.cmake with clang -fsanitize=fuzzer; replayed over
 * fuzz/corpus/image (made by fuzz/make_image_corpus.sh) by
 * tests/test_fuzz_replay.c. */
#include "image/image.h"

int pk_fuzz_image(const uint8_t *data, size_t size);

int pk_fuzz_image(const uint8_t *data, size_t size) {
    volatile unsigned sink = 0;
    for (int k = 0; k < 2; k++) {
        pk_image img;
        /* 1 MP: bigger images are legal but only slow the fuzzer down */
        if (pk_image_decode_max(data, size, "fuzz", k ? PK_IMAGE_MASK : PK_IMAGE_RGB, 1 << 20,
                                &img) != PK_OK)
            continue;
        size_t n = (size_t)img.w * (size_t)img.h * (size_t)img.ch;
        for (size_t i = 0; i < n; i += 61) sink += img.px[i];
        sink += img.px[n - 1];
        pk_image_free(&img);
    }
    sink += (unsigned)pk_exif_orientation(data, size);
    (void)sink;
    return 0;
}

#ifdef PK_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return pk_fuzz_image(data, size); }
#endif
