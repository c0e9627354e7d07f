/* test_inpaint.c: the hole fill (src/vision/inpaint.c). Argument errors,
 * pixels outside the mask untouched, the same output for a seed whatever the
 * thread count, degenerate shapes (1-pixel-wide images, holes at borders),
 * allocation failures, and quality on synthetic images with a known truth. */
#include "base/base.h"
#include "test.h"
#include "vision/inpaint.h"

#include <stdint.h>

/* ---- synthetic images ---- */

/* A periodic texture: stripes and a checker with period 8 x 6, plus a slow
 * gradient, so a hole has a right answer to copy from elsewhere. */
static uint8_t *make_texture(int w, int h) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *c = p + ((size_t)y * w + x) * 3;
            int s = ((x % 8) < 4) ^ ((y % 6) < 3);
            c[0] = (uint8_t)(s ? 200 : 40);
            c[1] = (uint8_t)(60 + (x * 97 / (w > 1 ? w : 1)) % 128);
            c[2] = (uint8_t)((x % 8) * 20 + (y % 6) * 10);
        }
    return p;
}

/* A smooth image: two gradients. */
static uint8_t *make_gradient(int w, int h) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *c = p + ((size_t)y * w + x) * 3;
            c[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            c[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
            c[2] = (uint8_t)((x + y) * 127 / (w + h));
        }
    return p;
}

static uint8_t *make_disc(int w, int h, int cx, int cy, int rad) {
    uint8_t *m = calloc((size_t)w * h, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            m[(size_t)y * w + x] = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad;
    return m;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n) {
    uint8_t *q = malloc(n);
    memcpy(q, p, n);
    return q;
}

/* PSNR in dB over the hole pixels. */
static double hole_psnr(const uint8_t *a, const uint8_t *b, const uint8_t *m, size_t n) {
    double e = 0;
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (m[i]) {
            for (int k = 0; k < 3; k++) {
                double d = (double)a[i * 3 + k] - b[i * 3 + k];
                e += d * d;
            }
            c += 3;
        }
    if (e == 0) return 99;
    return 10 * log10(255.0 * 255.0 / (e / c));
}

/* The hole replaced by the mean colour of the known pixels. */
static void mean_fill(uint8_t *p, const uint8_t *m, size_t n) {
    double s[3] = { 0, 0, 0 };
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (!m[i]) {
            for (int k = 0; k < 3; k++) s[k] += p[i * 3 + k];
            c++;
        }
    for (size_t i = 0; i < n; i++)
        if (m[i])
            for (int k = 0; k < 3; k++) p[i * 3 + k] = (uint8_t)(s[k] / c + 0.5);
}

static int same_outside(const uint8_t *a, const uint8_t *b, const uint8_t *m, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!m[i] && memcmp(a + i * 3, b + i * 3, 3)) return 0;
    return 1;
}

/* ---- tests ---- */

static void test_errors(void) {
    uint8_t rgb[4 * 4 * 3] = { 0 }, m[16] = { 0 };
    pk_inpaint_opts o = pk_inpaint_default_opts();
    CHECK(o.patch == 13 && o.max_side > 0 && o.iters > 0 && o.seed == 0);
    m[5] = 1;
    CHECK(pk_inpaint(NULL, 4, 4, m, &o, NULL) == PK_ERR_INVALID);
    CHECK(strstr(pk_last_error(), "NULL") != NULL);
    CHECK(pk_inpaint(rgb, 4, 4, NULL, &o, NULL) == PK_ERR_INVALID);
    CHECK(pk_inpaint(rgb, 0, 4, m, &o, NULL) == PK_ERR_INVALID);
    CHECK(pk_inpaint(rgb, 4, -1, m, &o, NULL) == PK_ERR_INVALID);
    CHECK(pk_inpaint(rgb, 1 << 15, 1 << 14, m, &o, NULL) == PK_ERR_RANGE);
    CHECK(strstr(pk_last_error(), "2^28") != NULL);
    uint8_t none[16] = { 0 }, all[16];
    memset(all, 255, sizeof all);
    CHECK(pk_inpaint(rgb, 4, 4, none, &o, NULL) == PK_ERR_INVALID);
    CHECK(strstr(pk_last_error(), "no hole") != NULL);
    CHECK(pk_inpaint(rgb, 4, 4, all, &o, NULL) == PK_ERR_INVALID);
    CHECK(strstr(pk_last_error(), "whole") != NULL);
    pk_inpaint_opts bad = o;
    bad.patch = 4;
    CHECK(pk_inpaint(rgb, 4, 4, m, &bad, NULL) == PK_ERR_INVALID);
    CHECK(strstr(pk_last_error(), "patch") != NULL);
    bad = o;
    bad.iters = -3;
    CHECK(pk_inpaint(rgb, 4, 4, m, &bad, NULL) == PK_ERR_INVALID);
    /* the image is untouched by a refused call; NULL opts means defaults */
    uint8_t zero[sizeof rgb] = { 0 };
    CHECK(!memcmp(rgb, zero, sizeof rgb));
    CHECK_OK(pk_inpaint(rgb, 4, 4, m, NULL, NULL));
}

/* Outside the mask nothing changes; any nonzero mask byte is a hole. */
static void test_outside_unchanged(void) {
    int w = 97, h = 61;
    size_t n = (size_t)w * h;
    uint8_t *img = make_texture(w, h), *m = make_disc(w, h, 40, 30, 9);
    for (size_t i = 0; i < n; i++)
        if (m[i]) m[i] = (uint8_t)(1 + i % 255);
    uint8_t *out = dup_bytes(img, n * 3);
    CHECK_OK(pk_inpaint(out, w, h, m, NULL, NULL));
    CHECK(same_outside(img, out, m, n));
    CHECK(hole_psnr(img, out, m, n) > 20);
    free(img);
    free(m);
    free(out);
}

/* Same seed, same bytes for 1, 2 and 3 threads; another seed differs. The
 * image is wider than max_side so the refine path runs too. */
static void test_determinism(void) {
    int w = 173, h = 95;
    size_t n = (size_t)w * h;
    uint8_t *img = make_texture(w, h), *m = make_disc(w, h, 90, 50, 20);
    for (int y = 5; y < 60; y++) m[(size_t)y * w + 20] = m[(size_t)y * w + 21] = 1;
    pk_inpaint_opts o = pk_inpaint_default_opts();
    o.seed = 42;
    o.max_side = 64;
    uint8_t *ref = dup_bytes(img, n * 3);
    CHECK_OK(pk_inpaint(ref, w, h, m, &o, NULL));
    for (int nt = 1; nt <= 3; nt++) {
        pk_pool *pool = NULL;
        CHECK_OK(pk_pool_new(nt, &pool));
        for (int rep = 0; rep < 2; rep++) {
            uint8_t *out = dup_bytes(img, n * 3);
            CHECK_OK(pk_inpaint(out, w, h, m, &o, pool));
            CHECKF(!memcmp(out, ref, n * 3), "%d threads, run %d", nt, rep);
            free(out);
        }
        pk_pool_free(pool);
    }
    uint8_t *other = dup_bytes(img, n * 3);
    o.seed = 43;
    CHECK_OK(pk_inpaint(other, w, h, m, &o, NULL));
    CHECK(memcmp(other, ref, n * 3) != 0);
    CHECK(same_outside(img, other, m, n));
    /* without the structure + texture step: another fill, same contract */
    memcpy(other, img, n * 3);
    o.seed = 42;
    o.no_structure = 1;
    CHECK_OK(pk_inpaint(other, w, h, m, &o, NULL));
    CHECK(memcmp(other, ref, n * 3) != 0);
    CHECK(same_outside(img, other, m, n));
    free(other);
    free(ref);
    free(img);
    free(m);
}

/* A periodic texture with a round hole comes back nearly exactly; a smooth
 * gradient comes back far better than a flat fill. */
static void test_quality(void) {
    struct { int w, h, cx, cy, rad, texture; double min_gain; } cs[] = {
        { 160, 120, 80, 60, 18, 1, 25 },
        { 161, 119, 40, 70, 25, 1, 25 },
        { 150, 100, 75, 50, 15, 0, 5 },
    };
    for (size_t c = 0; c < PK_ARRAY_LEN(cs); c++) {
        int w = cs[c].w, h = cs[c].h;
        size_t n = (size_t)w * h;
        uint8_t *img = cs[c].texture ? make_texture(w, h) : make_gradient(w, h);
        uint8_t *m = make_disc(w, h, cs[c].cx, cs[c].cy, cs[c].rad);
        uint8_t *out = dup_bytes(img, n * 3), *flat = dup_bytes(img, n * 3);
        pk_pool *pool = NULL;
        CHECK_OK(pk_pool_new(2, &pool));
        CHECK_OK(pk_inpaint(out, w, h, m, NULL, pool));
        pk_pool_free(pool);
        mean_fill(flat, m, n);
        double pf = hole_psnr(img, out, m, n), p0 = hole_psnr(img, flat, m, n);
        fprintf(stderr, "   case %zu: fill %.1f dB, mean fill %.1f dB\n", c, pf, p0);
        CHECKF(pf > p0 + cs[c].min_gain, "case %zu: %.1f vs %.1f dB", c, pf, p0);
        CHECK(same_outside(img, out, m, n));
        free(img);
        free(m);
        free(out);
        free(flat);
    }
}

/* 1-pixel-wide and -tall images, tiny images, holes on borders and
 * corners, odd sizes, every patch size option. */
static void test_shapes(void) {
    struct { int w, h; } sz[] = { { 1, 1 }, { 1, 2 }, { 2, 1 }, { 1, 57 }, { 63, 1 },
                                  { 2, 2 }, { 3, 5 }, { 7, 7 }, { 9, 4 }, { 33, 17 },
                                  { 64, 47 } };
    for (size_t s = 0; s < PK_ARRAY_LEN(sz); s++) {
        int w = sz[s].w, h = sz[s].h;
        size_t n = (size_t)w * h;
        if (n < 2) {
            uint8_t p[3] = { 1, 2, 3 }, m = 1;
            CHECK(pk_inpaint(p, w, h, &m, NULL, NULL) == PK_ERR_INVALID);
            continue;
        }
        uint8_t *img = make_gradient(w, h);
        /* corners, first and last pixel, a border run */
        int holes[5][2] = { { 0, 0 }, { w - 1, h - 1 }, { w - 1, 0 }, { 0, h - 1 },
                            { w / 2, h / 2 } };
        for (int k = 0; k < 5; k++) {
            uint8_t *m = calloc(n, 1);
            m[(size_t)holes[k][1] * w + holes[k][0]] = 1;
            if (k == 4)
                for (int x = 0; x < w; x++) m[(size_t)(h - 1) * w + x] = x % 3 != 0 || n < 4;
            if (k == 4 && h == 1) memset(m, 0, n), m[w / 2] = 1;
            uint8_t *out = dup_bytes(img, n * 3);
            pk_inpaint_opts o = pk_inpaint_default_opts();
            o.patch = 1 + 2 * (int)((s + k) % 4);
            pk_status st = pk_inpaint(out, w, h, m, &o, NULL);
            CHECKF(st == PK_OK, "%dx%d hole %d patch %d: %s", w, h, k, o.patch,
                   pk_last_error());
            CHECK(same_outside(img, out, m, n));
            free(out);
            free(m);
        }
        free(img);
    }
    /* a hole that leaves one known pixel */
    int w = 5, h = 3;
    uint8_t *img = make_gradient(w, h), m[15];
    memset(m, 1, sizeof m);
    m[7] = 0;
    CHECK_OK(pk_inpaint(img, w, h, m, NULL, NULL));
    for (int i = 0; i < w * h; i++) CHECK(!memcmp(img + i * 3, img + 7 * 3, 3));
    free(img);
    /* a checkerboard mask: no coarse level keeps a known pixel */
    w = 40, h = 30;
    img = make_texture(w, h);
    uint8_t *cm = malloc((size_t)w * h), *out = dup_bytes(img, (size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) cm[y * w + x] = (x + y) & 1;
    CHECK_OK(pk_inpaint(out, w, h, cm, NULL, NULL));
    CHECK(same_outside(img, out, cm, (size_t)w * h));
    free(cm);
    free(out);
    free(img);
}

/* Random small images, masks and options: never a crash or an error, never
 * a pixel written outside the mask (the ASan build checks the memory). */
static void test_random(void) {
    uint64_t st = 0x9E3779B97F4A7C15ull;
    for (int it = 0; it < 60; it++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(st >> 33);
        int w = 1 + r % 70, h = 1 + (r >> 8) % 50;
        size_t n = (size_t)w * h;
        if (n < 2) continue;
        uint8_t *img = (r >> 16) & 1 ? make_texture(w, h) : make_gradient(w, h);
        uint8_t *m = calloc(n, 1);
        int kind = (r >> 17) % 4;
        for (size_t i = 0; i < n; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t q = (uint32_t)(st >> 40);
            int x = (int)(i % w), y = (int)(i / w);
            if (kind == 0) m[i] = q % 7 == 0;                       /* speckle */
            else if (kind == 1) m[i] = x >= w / 3 && x < w / 3 + 1 + w / 4; /* band */
            else if (kind == 2) m[i] = x < w / 2 && y < h / 2;      /* corner */
            else m[i] = q % 5 != 0;                                 /* mostly hole */
        }
        m[r % n] = 1;
        m[(r / 7) % n] = 0;
        pk_inpaint_opts o = pk_inpaint_default_opts();
        o.seed = r;
        o.patch = 1 + 2 * (int)((r >> 20) % 8);
        o.max_side = 8 + (int)((r >> 23) % 64);
        o.iters = 1 + (int)((r >> 26) % 4);
        uint8_t *out = dup_bytes(img, n * 3);
        pk_status s = pk_inpaint(out, w, h, m, &o, NULL);
        CHECKF(s == PK_OK, "%dx%d kind %d patch %d max_side %d: %s", w, h, kind, o.patch,
               o.max_side, pk_last_error());
        CHECK(same_outside(img, out, m, n));
        free(out);
        free(m);
        free(img);
    }
}

/* Every allocation failure comes back as PK_ERR_NOMEM, never a crash. */
static void test_nomem(void) {
    int w = 90, h = 70;
    size_t n = (size_t)w * h;
    uint8_t *img = make_texture(w, h), *m = make_disc(w, h, 45, 35, 10);
    pk_inpaint_opts o = pk_inpaint_default_opts();
    o.max_side = 40;
    int ok_at = 0;
    for (long k = 1; k < 400 && !ok_at; k++) {
        uint8_t *out = dup_bytes(img, n * 3);
        pk_alloc_fail_after(k);
        pk_status st = pk_inpaint(out, w, h, m, &o, NULL);
        pk_alloc_fail_after(0);
        CHECKF(st == PK_OK || st == PK_ERR_NOMEM, "fail at %ld -> %d", k, st);
        CHECK(same_outside(img, out, m, n));
        if (st == PK_OK) ok_at = (int)k;
        free(out);
    }
    CHECK(ok_at > 1);
    free(img);
    free(m);
}

int main(void) {
    PK_RUN(test_errors);
    PK_RUN(test_outside_unchanged);
    PK_RUN(test_determinism);
    PK_RUN(test_quality);
    PK_RUN(test_shapes);
    PK_RUN(test_random);
    PK_RUN(test_nomem);
    return pk_test_summary();
}
