/* test_erase.c: the erase pipeline (src/vision/erase.c): distance transform
 * and dilation against brute force (tails, 1-pixel images, empty masks),
 * pixels outside the grown selection bit-exact, the selection fully
 * replaced by the fill, every documented error, and pk_erase_file end to
 * end on a real photo with a tapped point. */
#include "test.h"

#include "image/image.h"
#include "vision/erase.h"
#include "vision/inpaint.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* A random mask: sparse dots (density 1/k) plus a few rectangles. */
static void random_mask(uint8_t *m, int w, int h, int k) {
    for (int i = 0; i < w * h; i++) m[i] = k && rnd() % (unsigned)k == 0 ? (uint8_t)(1 + rnd() % 255) : 0;
    int nr = (int)(rnd() % 3);
    for (int r = 0; r < nr; r++) {
        int x0 = (int)(rnd() % (unsigned)w), y0 = (int)(rnd() % (unsigned)h);
        int rw = 1 + (int)(rnd() % 6), rh = 1 + (int)(rnd() % 6); /* PK_MIN evaluates twice */
        int x1 = PK_MIN(w, x0 + rw), y1 = PK_MIN(h, y0 + rh);
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) m[y * w + x] = 255;
    }
}

/* ---- distance and dilation against brute force ---- */

static void test_dist_and_dilate(void) {
    int sizes[][2] = { { 1, 1 }, { 1, 17 }, { 23, 1 }, { 2, 2 }, { 13, 7 }, { 31, 29 }, { 64, 5 } };
    int radii[] = { 0, 1, 2, 3, 5, 8, 40 };
    int bad_d = 0, bad_m = 0;
    for (size_t s = 0; s < PK_ARRAY_LEN(sizes); s++) {
        int w = sizes[s][0], h = sizes[s][1];
        uint8_t *m = malloc((size_t)w * h), *out = malloc((size_t)w * h);
        uint32_t *d2 = malloc((size_t)w * h * sizeof(uint32_t));
        for (int trial = 0; trial < 12; trial++) {
            random_mask(m, w, h, trial == 0 ? 0 : trial < 4 ? 40 : 6);
            CHECK_OK(pk_mask_dist_sq(m, w, h, d2));
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    uint64_t best = UINT64_MAX;
                    for (int v = 0; v < h; v++)
                        for (int u = 0; u < w; u++)
                            if (m[v * w + u]) {
                                uint64_t dd = (uint64_t)(u - x) * (u - x) + (uint64_t)(v - y) * (v - y);
                                if (dd < best) best = dd;
                            }
                    uint32_t want = best == UINT64_MAX ? UINT32_MAX : (uint32_t)best;
                    bad_d += d2[y * w + x] != want;
                }
            for (size_t r = 0; r < PK_ARRAY_LEN(radii); r++) {
                int rad = radii[r];
                CHECK_OK(pk_mask_dilate(m, w, h, rad, out));
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        int hit = 0; /* naive: any set pixel in the disc */
                        for (int v = PK_MAX(0, y - rad); v <= PK_MIN(h - 1, y + rad) && !hit; v++)
                            for (int u = PK_MAX(0, x - rad); u <= PK_MIN(w - 1, x + rad) && !hit; u++)
                                hit = m[v * w + u] && (u - x) * (u - x) + (v - y) * (v - y) <= rad * rad;
                        bad_m += out[y * w + x] != (hit ? 255 : 0);
                    }
            }
        }
        free(m);
        free(out);
        free(d2);
    }
    CHECKF(bad_d == 0, "%d distances differ from brute force", bad_d);
    CHECKF(bad_m == 0, "%d dilated pixels differ from the naive disc", bad_m);
    uint8_t one = 1, o;
    uint32_t d;
    CHECK(pk_mask_dilate(&one, 1, 1, -1, &o) == PK_ERR_INVALID);
    CHECK(pk_mask_dilate(&one, 0, 1, 1, &o) == PK_ERR_INVALID);
    CHECK(pk_mask_dist_sq(NULL, 1, 1, &d) == PK_ERR_INVALID);
}

/* ---- fill: outside bit-exact, inside replaced ---- */

static uint8_t *noise_photo(int w, int h) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                p[(y * w + x) * 3 + c] = (uint8_t)((x * 5 + y * 3 + c * 70) % 256 ^ (rnd() & 15));
    return p;
}

static void test_fill_exact_outside(void) {
    enum { W = 96, H = 64 };
    uint8_t *photo = noise_photo(W, H), *rgb = malloc(W * H * 3), *sel = calloc(W * H, 1);
    uint8_t *grown = malloc(W * H), *ref = malloc(W * H * 3);
    for (int y = 20; y < 44; y++)
        for (int x = 30; x < 50 + (y % 7); x++) sel[y * W + x] = 255;
    int dilates[] = { 0, 3, 9 }, feathers[] = { 0, 2, 6 };
    for (int k = 0; k < 3; k++) {
        memcpy(rgb, photo, W * H * 3);
        uint64_t nf = 0;
        CHECK_OK(pk_erase_fill(rgb, W, H, sel, dilates[k], feathers[k], 7, NULL, &nf));
        CHECK_OK(pk_mask_dilate(sel, W, H, dilates[k], grown));
        uint64_t ng = 0;
        int outside_diff = 0, inside_same = 0, sel_vs_fill = 0;
        memcpy(ref, photo, W * H * 3);
        pk_inpaint_opts io = pk_inpaint_default_opts();
        io.seed = 7;
        CHECK_OK(pk_inpaint(ref, W, H, grown, &io, NULL));
        for (int i = 0; i < W * H; i++) {
            ng += grown[i] != 0;
            if (!grown[i]) outside_diff += memcmp(rgb + 3 * i, photo + 3 * i, 3) != 0;
            else if (sel[i]) {
                inside_same += !memcmp(rgb + 3 * i, photo + 3 * i, 3);
                sel_vs_fill += memcmp(rgb + 3 * i, ref + 3 * i, 3) != 0;
            }
        }
        CHECK(nf == ng);
        CHECKF(outside_diff == 0, "dilate %d: %d pixels outside the region changed", dilates[k],
               outside_diff);
        CHECKF(sel_vs_fill == 0, "dilate %d: %d selected pixels are not the fill", dilates[k], sel_vs_fill);
        CHECKF(inside_same < 20, "dilate %d: %d selected pixels kept the photo", dilates[k], inside_same);
        /* threads do not change the result */
        uint8_t *rgb2 = malloc(W * H * 3);
        memcpy(rgb2, photo, W * H * 3);
        pk_pool *pool = NULL;
        CHECK_OK(pk_pool_new(2, &pool));
        CHECK_OK(pk_erase_fill(rgb2, W, H, sel, dilates[k], feathers[k], 7, pool, NULL));
        CHECK(!memcmp(rgb, rgb2, W * H * 3));
        pk_pool_free(pool);
        free(rgb2);
    }
    /* pk_erase_rgb with a mask: the same contract through the public call */
    memcpy(rgb, photo, W * H * 3);
    pk_erase_opts o = pk_erase_default_opts();
    o.dilate = 4;
    o.n_threads = 1;
    pk_erase_result r;
    CHECK_OK(pk_erase_rgb(rgb, W, H, sel, &o, &r));
    CHECK_OK(pk_mask_dilate(sel, W, H, 4, grown));
    int outside_diff = 0;
    for (int i = 0; i < W * H; i++)
        if (!grown[i]) outside_diff += memcmp(rgb + 3 * i, photo + 3 * i, 3) != 0;
    CHECK(outside_diff == 0 && r.w == W && r.h == H && r.n_filled > r.n_selected && r.n_selected > 0);
    free(photo);
    free(rgb);
    free(sel);
    free(grown);
    free(ref);
}

/* ---- errors ---- */

#define CHECK_ERR(expr, want_st, want_msg)                                              \
    do {                                                                                \
        pk_status st_e = (expr);                                                        \
        CHECKF(st_e == (want_st) && strstr(pk_last_error(), want_msg), "%s -> %d '%s'", \
               #expr, st_e, pk_last_error());                                           \
    } while (0)

static void test_errors(void) {
    enum { W = 40, H = 30 };
    uint8_t *rgb = noise_photo(W, H), mask[W * H];
    pk_erase_opts o = pk_erase_default_opts();
    o.n_threads = 1;
    memset(mask, 0, sizeof(mask));
    CHECK_ERR(pk_erase_rgb(rgb, W, H, mask, &o, NULL), PK_ERR_INVALID, "mask selects no pixel");
    memset(mask, 100, sizeof(mask)); /* all below the threshold */
    CHECK_ERR(pk_erase_rgb(rgb, W, H, mask, &o, NULL), PK_ERR_INVALID, "mask selects no pixel");
    memset(mask, 255, sizeof(mask));
    CHECK_ERR(pk_erase_rgb(rgb, W, H, mask, &o, NULL), PK_ERR_INVALID, "every pixel");
    memset(mask, 0, sizeof(mask));
    mask[15 * W + 20] = 255;
    o.dilate = 60; /* grows over everything */
    CHECK_ERR(pk_erase_rgb(rgb, W, H, mask, &o, NULL), PK_ERR_INVALID, "whole 40x30 photo");
    o.dilate = -1;
    CHECK_ERR(pk_erase_rgb(rgb, W, H, NULL, &o, NULL), PK_ERR_INVALID, "no mask");
    CHECK_ERR(pk_erase_rgb(rgb, 0, H, mask, &o, NULL), PK_ERR_INVALID, "bad photo");
    o.select = PK_ERASE_POINT;
    o.x = 40;
    o.y = 3;
    CHECK_ERR(pk_erase_rgb(rgb, W, H, NULL, &o, NULL), PK_ERR_RANGE, "point 40,3 is outside the 40x30 photo");
    o.x = -1;
    CHECK_ERR(pk_erase_rgb(rgb, W, H, NULL, &o, NULL), PK_ERR_RANGE, "40x30");
    o.select = PK_ERASE_BOX;
    o.x = 40;
    o.y = 0;
    o.box_w = 5;
    o.box_h = 5;
    CHECK_ERR(pk_erase_rgb(rgb, W, H, NULL, &o, NULL), PK_ERR_RANGE, "box 40,0,5,5 is outside the 40x30 photo");
    o.x = -5;
    CHECK_ERR(pk_erase_rgb(rgb, W, H, NULL, &o, NULL), PK_ERR_RANGE, "outside");
    o.x = 0;
    o.box_w = 0;
    CHECK_ERR(pk_erase_rgb(rgb, W, H, NULL, &o, NULL), PK_ERR_INVALID, "at least 1");
    o.box_w = 5;
    o.select = (pk_erase_select)9;
    CHECK_ERR(pk_erase_rgb(rgb, W, H, NULL, &o, NULL), PK_ERR_INVALID, "selection");
    o.select = PK_ERASE_POINT;
    o.x = o.y = 1;
    o.seg_model = "/nonexistent/model.tflite";
    CHECK_ERR(pk_erase_rgb(rgb, W, H, NULL, &o, NULL), PK_ERR_IO, "/nonexistent/model.tflite");
    /* allocation failures: an error, never a crash or a leak */
    memset(mask, 0, sizeof(mask));
    for (int y = 5; y < 12; y++) mask[y * W + 9] = 255;
    o = pk_erase_default_opts();
    o.n_threads = 1;
    for (int k = 1; k <= 12; k++) {
        uint8_t *c = malloc(W * H * 3);
        memcpy(c, rgb, W * H * 3);
        pk_alloc_fail_after(k);
        pk_status st = pk_erase_rgb(c, W, H, mask, &o, NULL);
        pk_alloc_fail_after(0);
        CHECKF(st == PK_OK || st == PK_ERR_NOMEM, "fail after %d: %d %s", k, st, pk_last_error());
        free(c);
    }
    free(rgb);
}

/* ---- files, segmentation ---- */

static void test_file_and_point(void) {
    const char *photo = pk_test_path("images/people/girl-1.jpg");
    if (access(photo, R_OK) != 0) PK_SKIP("no ../shared/images");
    char dir[] = "/tmp/pk_test_erase_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char out[128], small[128];
    snprintf(out, sizeof(out), "%s/out.png", dir);
    snprintf(small, sizeof(small), "%s/small.png", dir);
    pk_erase_opts o = pk_erase_default_opts();
    o.mask_path = small;
    uint8_t px[10 * 10];
    memset(px, 255, sizeof(px));
    CHECK_OK(pk_image_save(small, px, 10, 10, 1, 0));
    CHECK_ERR(pk_erase_file(photo, out, &o, NULL), PK_ERR_INVALID, "is 10x10 but the photo");
    CHECK(strstr(pk_last_error(), "600x399") != NULL);
    CHECK_ERR(pk_erase_file(photo, "/tmp/out.bmp", &o, NULL), PK_ERR_INVALID, "out.bmp");
    CHECK_ERR(pk_erase_file("/nonexistent.jpg", out, &o, NULL), PK_ERR_IO, "/nonexistent.jpg");
    /* the person under a point; the reference general mask has 35170
     * pixels > 127, the landscape one 39424, their maximum 39823 */
    o.select = PK_ERASE_POINT;
    o.x = 217;
    o.y = 270;
    o.n_threads = 2;
    pk_erase_result r;
    CHECK_OK(pk_erase_file(photo, out, &o, &r));
    CHECKF(r.n_selected > 36000 && r.n_selected < 42000 && r.n_filled > r.n_selected,
           "selected %llu, filled %llu", (unsigned long long)r.n_selected,
           (unsigned long long)r.n_filled);
    pk_image a, b;
    CHECK_OK(pk_image_load(out, PK_IMAGE_RGB, &a));
    CHECK_OK(pk_image_load(photo, PK_IMAGE_RGB, &b));
    CHECK(a.w == 600 && a.h == 399);
    if (a.px && b.px) { /* the top-left corner is far from the person: untouched */
        CHECK(!memcmp(a.px, b.px, 30));
        CHECK(memcmp(a.px + (270 * 600 + 217) * 3, b.px + (270 * 600 + 217) * 3, 3) != 0);
        /* the raised forearm, where only the landscape model sees the person */
        CHECK(memcmp(a.px + (100 * 600 + 370) * 3, b.px + (100 * 600 + 370) * 3, 3) != 0);
    }
    pk_image_free(&a);
    pk_image_free(&b);
    /* a mask file, through a lossless PNG: outside the grown mask every
     * byte is the decoded photo's */
    pk_erase_opts om = pk_erase_default_opts();
    om.mask_path = pk_test_path("images/segmentation/reference/girl-1.general.png");
    om.dilate = 3;
    CHECK_OK(pk_erase_file(photo, out, &om, &r));
    pk_image m;
    CHECK_OK(pk_image_load(om.mask_path, PK_IMAGE_MASK, &m));
    CHECK_OK(pk_image_load(out, PK_IMAGE_RGB, &a));
    CHECK_OK(pk_image_load(photo, PK_IMAGE_RGB, &b));
    if (m.px && a.px && b.px) {
        uint8_t *grown = malloc(600 * 399);
        for (int i = 0; i < 600 * 399; i++) m.px[i] = m.px[i] > 127;
        CHECK_OK(pk_mask_dilate(m.px, 600, 399, 3, grown));
        int changed_outside = 0, changed_inside = 0;
        for (int i = 0; i < 600 * 399; i++) {
            int diff = memcmp(a.px + 3 * i, b.px + 3 * i, 3) != 0;
            if (grown[i]) changed_inside += diff;
            else changed_outside += diff;
        }
        CHECKF(changed_outside == 0, "%d pixels outside the grown mask changed", changed_outside);
        CHECK(changed_inside > 30000);
        free(grown);
    }
    pk_image_free(&m);
    pk_image_free(&a);
    pk_image_free(&b);
    o.x = 10;
    o.y = 10;
    CHECK_ERR(pk_erase_file(photo, out, &o, NULL), PK_ERR_NOT_FOUND, "no person found at 10,10");
    o.select = PK_ERASE_BOX;
    o.x = 450;
    o.y = 0;
    o.box_w = 100;
    o.box_h = 40;
    CHECK_ERR(pk_erase_file(photo, out, &o, NULL), PK_ERR_NOT_FOUND, "no person found in the box");
    o.x = 100;
    o.y = 100;
    o.box_w = 200;
    o.box_h = 200;
    CHECK_OK(pk_erase_file(photo, out, &o, &r));
    CHECK(r.n_selected > 30000);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    PK_RUN(test_dist_and_dilate);
    PK_RUN(test_fill_exact_outside);
    PK_RUN(test_errors);
    PK_RUN(test_file_and_point);
    return pk_test_summary();
}
