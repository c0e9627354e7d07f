/* image_io.c: timings of the non-fill parts of `pocket erase` on a 12 MP
 * photo (4000x3000, synthetic and smooth, like a camera frame): JPEG and
 * PNG encode/decode, EXIF rotation, mask dilation. Best of -r runs, ms.
 *   build/bench/image_io [-r 3] [--w 4000] [--h 3000] */
#include "base/base.h"
#include "image/image.h"
#include "vision/erase.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double best = 0;
#define TIME(reps, expr)                                  \
    do {                                                  \
        best = 1e30;                                      \
        for (int r_ = 0; r_ < (reps); r_++) {             \
            double t0_ = pk_time_ms();                    \
            expr;                                         \
            double dt_ = pk_time_ms() - t0_;              \
            if (dt_ < best) best = dt_;                   \
        }                                                 \
    } while (0)

int main(int argc, char **argv) {
    int reps = 3, w = 4000, h = 3000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-r")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--w")) w = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--h")) h = atoi(argv[i + 1]);
    }
    if (reps < 1 || w < 16 || h < 16) return 2;
    size_t n = (size_t)w * h;
    uint8_t *rgb = malloc(n * 3), *mask = malloc(n), *out = malloc(n * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(128 + 100 * sin(x * 0.003) * cos(y * 0.002));
            p[1] = (uint8_t)(x * 200 / w + (x ^ y) % 7);
            p[2] = (uint8_t)(y * 200 / h);
            double dx = (x - w / 2.0) / (w / 6.0), dy = (y - h / 2.0) / (h / 3.0);
            mask[(size_t)y * w + x] = dx * dx + dy * dy < 1 ? 255 : 0;
        }
    printf("%dx%d (%.1f MP), best of %d, ms\n", w, h, n / 1e6, reps);
    uint8_t *enc = NULL;
    size_t ne = 0;
    pk_image img;
    TIME(reps, pk_free(enc); pk_image_encode(rgb, w, h, 3, PK_IMAGE_JPEG, 92, &enc, &ne));
    printf("jpeg encode q92      %8.1f  (%zu bytes)\n", best, ne);
    TIME(reps, pk_image_decode(enc, ne, "bench", PK_IMAGE_RGB, &img); pk_image_free(&img));
    printf("jpeg decode          %8.1f\n", best);
    TIME(reps, pk_free(enc); enc = NULL; pk_image_encode(rgb, w, h, 3, PK_IMAGE_PNG, 0, &enc, &ne));
    printf("png encode           %8.1f  (%zu bytes)\n", best, ne);
    TIME(reps, pk_image_decode(enc, ne, "bench", PK_IMAGE_RGB, &img); pk_image_free(&img));
    printf("png decode           %8.1f\n", best);
    pk_free(enc);
    TIME(reps, pk_image_orient(rgb, w, h, 3, 6, out));
    printf("rotate 90 (EXIF 6)   %8.1f\n", best);
    int radii[] = { 4, 40, 400 };
    for (int k = 0; k < 3; k++) {
        TIME(reps, pk_mask_dilate(mask, w, h, radii[k], out));
        printf("dilate r=%-4d        %8.1f\n", radii[k], best);
    }
    free(rgb);
    free(mask);
    free(out);
    return 0;
}
