/* test_image.c: image I/O (src/image): PNG and JPEG round trips, every PNG
 * colour type and depth written here with libpng, CMYK JPEG, all 8 EXIF
 * orientations on JPEGs made in the test, hostile EXIF blocks, files cut at
 * every length and with flipped bytes, size limits, masks, allocation
 * failures, and atomic saves that leave the old file alone on failure. */
#include "test.h"

#include "image/image.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

/* ---- helpers ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof(buf[0]), "%s/%s", tmpdir, name);
    return b;
}

static int file_equals(const char *path, const uint8_t *data, size_t n) {
    char *got = NULL;
    size_t len = 0;
    if (pk_read_file(path, 1 << 26, &got, &len) != PK_OK) return 0;
    int eq = len == n && !memcmp(got, data, n);
    pk_free(got);
    return eq;
}

/* A PNG written by libpng directly: any colour type, depth, interlace.
 * rows: h rows of packed samples as libpng wants them (16-bit big-endian).
 * OUT *out (malloc), *n. */
typedef struct mem_out {
    uint8_t *p;
    size_t n, cap;
} mem_out;

static void mem_write(png_structp png, png_bytep d, size_t n) {
    mem_out *m = png_get_io_ptr(png);
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, d, n);
    m->n += n;
}
static void mem_flush(png_structp png) { (void)png; }

static uint8_t *write_png(int w, int h, int color, int depth, int interlace,
                          uint8_t **rows, const png_color *pal, int n_pal,
                          const uint8_t *trns, int n_trns, size_t *n) {
    mem_out m = { 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m.p);
        return NULL;
    }
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, n_pal);
    if (trns) png_set_tRNS(png, info, trns, n_trns, NULL);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *n = m.n;
    return m.p;
}

/* A smooth test photo (h, w, 3) that JPEG keeps well. */
static uint8_t *smooth_rgb(int w, int h) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(20 + x * 200 / (w + 40));
            q[1] = (uint8_t)(20 + y * 200 / (h + 40));
            q[2] = (uint8_t)(128 + 60 * sin(x * 0.1 + y * 0.07));
        }
    return p;
}

/* ---- round trips ---- */

static void test_png_roundtrip(void) {
    int sizes[][2] = { { 1, 1 }, { 7, 3 }, { 64, 17 }, { 333, 5 } };
    for (size_t k = 0; k < PK_ARRAY_LEN(sizes); k++) {
        int w = sizes[k][0], h = sizes[k][1];
        for (int ch = 1; ch <= 3; ch += 2) {
            size_t n = (size_t)w * h * ch;
            uint8_t *px = malloc(n);
            for (size_t i = 0; i < n; i++) px[i] = (uint8_t)rnd();
            uint8_t *enc = NULL;
            size_t ne = 0;
            CHECK_OK(pk_image_encode(px, w, h, ch, PK_IMAGE_PNG, 0, &enc, &ne));
            CHECK(pk_image_sniff(enc, ne) == PK_IMAGE_PNG);
            pk_image img;
            CHECK_OK(pk_image_decode(enc, ne, "rt.png", ch == 3 ? PK_IMAGE_RGB : PK_IMAGE_MASK, &img));
            CHECKF(img.w == w && img.h == h && img.ch == ch && !memcmp(img.px, px, n),
                   "%dx%dx%d", w, h, ch);
            pk_image_free(&img);
            /* and through a file */
            CHECK_OK(pk_image_save(tmp_path("rt.PNG"), px, w, h, ch, 0));
            CHECK_OK(pk_image_load(tmp_path("rt.PNG"), ch == 3 ? PK_IMAGE_RGB : PK_IMAGE_MASK, &img));
            CHECK(img.px && img.w == w && img.h == h && !memcmp(img.px, px, n));
            pk_image_free(&img);
            pk_free(enc);
            free(px);
        }
    }
}

static void test_jpeg_roundtrip(void) {
    int sizes[][2] = { { 1, 1 }, { 9, 5 }, { 64, 48 }, { 101, 37 } };
    for (size_t k = 0; k < PK_ARRAY_LEN(sizes); k++) {
        int w = sizes[k][0], h = sizes[k][1];
        uint8_t *px = smooth_rgb(w, h);
        for (int q = 50; q <= 100; q += 25) {
            uint8_t *enc = NULL;
            size_t ne = 0;
            CHECK_OK(pk_image_encode(px, w, h, 3, PK_IMAGE_JPEG, q, &enc, &ne));
            CHECK(pk_image_sniff(enc, ne) == PK_IMAGE_JPEG);
            pk_image img;
            CHECK_OK(pk_image_decode(enc, ne, "rt.jpg", PK_IMAGE_RGB, &img));
            CHECK(img.w == w && img.h == h && img.ch == 3);
            double err = 0;
            for (size_t i = 0; img.px && i < (size_t)w * h * 3; i++) err += fabs((double)img.px[i] - px[i]);
            err /= (double)w * h * 3;
            CHECKF(err < (q >= 75 ? 3.0 : 6.0), "%dx%d q%d: mean abs error %.2f", w, h, q, err);
            pk_image_free(&img);
            pk_free(enc);
        }
        /* gray JPEG: a mask read back through max(R,G,B) */
        uint8_t *g = malloc((size_t)w * h);
        for (size_t i = 0; i < (size_t)w * h; i++) g[i] = px[3 * i + 1];
        CHECK_OK(pk_image_save(tmp_path("g.jpeg"), g, w, h, 1, 95));
        pk_image img;
        CHECK_OK(pk_image_load(tmp_path("g.jpeg"), PK_IMAGE_MASK, &img));
        int maxd = 0;
        for (size_t i = 0; img.px && i < (size_t)w * h; i++) maxd = PK_MAX(maxd, abs(img.px[i] - g[i]));
        CHECKF(img.ch == 1 && maxd <= 8, "gray jpeg max diff %d", maxd);
        pk_image_free(&img);
        free(g);
        free(px);
    }
    uint8_t *enc = NULL;
    size_t ne = 0;
    uint8_t one[3] = { 1, 2, 3 };
    CHECK(pk_image_encode(one, 1, 1, 3, PK_IMAGE_JPEG, 101, &enc, &ne) == PK_ERR_INVALID);
    CHECK(pk_image_encode(one, 70000, 1, 3, PK_IMAGE_JPEG, 90, &enc, &ne) == PK_ERR_RANGE);
    CHECK(pk_image_encode(one, 0, 1, 3, PK_IMAGE_PNG, 90, &enc, &ne) == PK_ERR_RANGE);
    CHECK(pk_image_encode(one, 1, 1, 2, PK_IMAGE_PNG, 90, &enc, &ne) == PK_ERR_INVALID);
    CHECK(enc == NULL);
}

/* ---- PNG colour types and depths ---- */

static void test_png_variants(void) {
    enum { W = 13, H = 6 };
    uint8_t buf[H][W * 8];
    uint8_t *rows[H];
    for (int y = 0; y < H; y++) rows[y] = buf[y];
    size_t n;
    uint8_t *f;
    pk_image img;

    /* gray 8 -> replicated; as mask: the gray itself */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) buf[y][x] = (uint8_t)(y * 40 + x);
    f = write_png(W, H, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0, &n);
    CHECK_OK(pk_image_decode(f, n, "g8", PK_IMAGE_RGB, &img));
    int ok = img.px != NULL;
    for (int i = 0; ok && i < W * H; i++)
        ok = img.px[3 * i] == buf[i / W][i % W] && img.px[3 * i + 2] == buf[i / W][i % W];
    CHECK(ok);
    pk_image_free(&img);
    CHECK_OK(pk_image_decode(f, n, "g8", PK_IMAGE_MASK, &img));
    CHECK(img.ch == 1 && img.px && img.px[W + 3] == buf[1][3]);
    pk_image_free(&img);
    free(f);

    /* gray 1 bit, Adam7 interlaced */
    memset(buf, 0, sizeof(buf));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if ((x + y) % 3 == 0) buf[y][x / 8] |= (uint8_t)(0x80 >> (x % 8));
    f = write_png(W, H, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_ADAM7, rows, NULL, 0, NULL, 0, &n);
    CHECK_OK(pk_image_decode(f, n, "g1", PK_IMAGE_MASK, &img));
    ok = img.px != NULL;
    for (int y = 0; ok && y < H; y++)
        for (int x = 0; ok && x < W; x++) ok = img.px[y * W + x] == ((x + y) % 3 == 0 ? 255 : 0);
    CHECK(ok);
    pk_image_free(&img);
    free(f);

    /* palette 4 bit with tRNS: entry 1 half transparent, over white */
    png_color pal[3] = { { 255, 0, 0 }, { 0, 0, 255 }, { 10, 20, 30 } };
    uint8_t trns[2] = { 255, 128 };
    memset(buf, 0, sizeof(buf));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) buf[y][x / 2] |= (uint8_t)(((x + y) % 3) << (x % 2 ? 0 : 4));
    f = write_png(W, H, PNG_COLOR_TYPE_PALETTE, 4, PNG_INTERLACE_NONE, rows, pal, 3, trns, 2, &n);
    CHECK_OK(pk_image_decode(f, n, "p4", PK_IMAGE_RGB, &img));
    ok = img.px != NULL;
    for (int y = 0; ok && y < H; y++)
        for (int x = 0; ok && x < W; x++) {
            const uint8_t *p = img.px + (y * W + x) * 3;
            int e = (x + y) % 3;
            uint8_t want[3] = { pal[e].red, pal[e].green, pal[e].blue };
            if (e == 1) { /* (c*128 + 255*127 + 127) / 255 */
                want[0] = (uint8_t)((0 * 128 + 255 * 127 + 127) / 255);
                want[1] = want[0];
                want[2] = (uint8_t)((255 * 128 + 255 * 127 + 127) / 255);
            }
            ok = !memcmp(p, want, 3);
            if (!ok) fprintf(stderr, "   p4 at %d,%d: %d %d %d\n", x, y, p[0], p[1], p[2]);
        }
    CHECK(ok);
    pk_image_free(&img);
    CHECK_OK(pk_image_decode(f, n, "p4", PK_IMAGE_MASK, &img)); /* translucent: alpha */
    CHECK(img.px && img.px[0] == 255 && img.px[1] == 128 && img.px[2] == 255);
    pk_image_free(&img);
    free(f);

    /* RGB 16 bit: v * 257 scales back to v */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W * 3; x++) {
            uint8_t v = (uint8_t)(x * 7 + y * 31);
            buf[y][2 * x] = v;
            buf[y][2 * x + 1] = v;
        }
    f = write_png(W, H, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0, &n);
    CHECK_OK(pk_image_decode(f, n, "rgb16", PK_IMAGE_RGB, &img));
    ok = img.px != NULL;
    for (int y = 0; ok && y < H; y++)
        for (int x = 0; ok && x < W * 3; x++) ok = img.px[y * W * 3 + x] == (uint8_t)(x * 7 + y * 31);
    CHECK(ok);
    pk_image_free(&img);
    /* opaque colour as a mask: max of the channels */
    CHECK_OK(pk_image_decode(f, n, "rgb16", PK_IMAGE_MASK, &img));
    CHECK(img.px && img.px[0] == PK_MAX(buf[0][0], PK_MAX(buf[0][2], buf[0][4])));
    pk_image_free(&img);
    free(f);

    /* RGBA 8: composited over white; as a mask: alpha */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = &buf[y][4 * x];
            p[0] = 200;
            p[1] = 100;
            p[2] = 0;
            p[3] = (uint8_t)(x * 20);
        }
    f = write_png(W, H, PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0, &n);
    CHECK_OK(pk_image_decode(f, n, "rgba", PK_IMAGE_RGB, &img));
    ok = img.px != NULL;
    for (int x = 0; ok && x < W; x++) {
        unsigned a = (unsigned)x * 20;
        ok = img.px[3 * x] == (200 * a + 255 * (255 - a) + 127) / 255 &&
             img.px[3 * x + 2] == (255 * (255 - a) + 127) / 255;
    }
    CHECK(ok);
    pk_image_free(&img);
    CHECK_OK(pk_image_decode(f, n, "rgba", PK_IMAGE_MASK, &img));
    CHECK(img.px && img.px[5] == 100 && img.px[W + 12] == 240);
    pk_image_free(&img);
    free(f);

    /* gray+alpha 16 bit, fully opaque: the mask is the gray */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = &buf[y][4 * x];
            p[0] = p[1] = (uint8_t)(x * 10);
            p[2] = p[3] = 255;
        }
    f = write_png(W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 16, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0, &n);
    CHECK_OK(pk_image_decode(f, n, "ga16", PK_IMAGE_MASK, &img));
    CHECK(img.px && img.px[3] == 30 && img.px[W * 2 + 12] == 120);
    pk_image_free(&img);
    free(f);
}

/* ---- CMYK JPEG (Adobe, inverted) ---- */

static void test_jpeg_cmyk(void) {
    enum { W = 16, H = 16 };
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &n);
    c.image_width = W;
    c.image_height = H;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[W * 4];
    for (int x = 0; x < W; x++) {
        row[4 * x] = 200;
        row[4 * x + 1] = 100;
        row[4 * x + 2] = 50;
        row[4 * x + 3] = 255;
    }
    JSAMPROW r = row;
    while (c.next_scanline < H) jpeg_write_scanlines(&c, &r, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    pk_image img;
    CHECK_OK(pk_image_decode(out, n, "cmyk.jpg", PK_IMAGE_RGB, &img));
    CHECKF(img.px && abs(img.px[0] - 200) <= 3 && abs(img.px[1] - 100) <= 3 && abs(img.px[2] - 50) <= 3,
           "%d %d %d", img.px ? img.px[0] : -1, img.px ? img.px[1] : -1, img.px ? img.px[2] : -1);
    pk_image_free(&img);
    free(out);
}

/* ---- EXIF ---- */

/* APP1 payload "Exif\0\0" + TIFF with IFD0 holding Orientation = o (and a
 * dummy tag before it). */
static size_t make_exif(uint8_t *p, int o, int le) {
#define W16(at, v) (le ? (p[at] = (uint8_t)(v), p[(at) + 1] = (uint8_t)((v) >> 8)) \
                       : (p[at] = (uint8_t)((v) >> 8), p[(at) + 1] = (uint8_t)(v)))
#define W32(at, v) (le ? (W16(at, (v) & 0xFFFF), W16((at) + 2, (uint32_t)(v) >> 16)) \
                       : (W16(at, (uint32_t)(v) >> 16), W16((at) + 2, (v) & 0xFFFF)))
    memset(p, 0, 64);
    memcpy(p, "Exif\0\0", 6);
    uint8_t *t = p + 6;
    (void)t;
    p[6] = p[7] = le ? 'I' : 'M';
    W16(8, 42);
    W32(10, 8);             /* IFD0 at TIFF offset 8 */
    W16(14, 2);             /* two entries */
    W16(16, 0x010F);        /* Make, ASCII, ignored */
    W16(18, 2);
    W32(20, 4);
    W32(24, 0);
    W16(28, 0x0112);        /* Orientation, SHORT, 1 */
    W16(30, 3);
    W32(32, 1);
    W16(36, o);
    W32(40, 0);             /* next IFD */
    return 44;
#undef W16
#undef W32
}

/* JPEG with an APP1 block spliced in after SOI. OUT malloc'd bytes. */
static uint8_t *splice_app1(const uint8_t *jpg, size_t n, const uint8_t *app1, size_t na,
                            size_t *out_n) {
    uint8_t *o = malloc(n + na + 4);
    memcpy(o, jpg, 2);
    o[2] = 0xFF;
    o[3] = 0xE1;
    o[4] = (uint8_t)((na + 2) >> 8);
    o[5] = (uint8_t)(na + 2);
    memcpy(o + 6, app1, na);
    memcpy(o + 6 + na, jpg + 2, n - 2);
    *out_n = n + na + 4;
    return o;
}

/* Expected pixel at (ox, oy) of orientation o, written independently of
 * pk_image_orient: o = transpose? then mirror x? then flip y? */
static void expect_src(int o, int w, int h, int ox, int oy, int *sx, int *sy) {
    static const int8_t tf[9][3] = { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 1, 0 }, { 0, 1, 1 }, { 0, 0, 1 },
                                     { 1, 0, 0 }, { 1, 1, 0 }, { 1, 1, 1 }, { 1, 0, 1 } };
    int tw = tf[o][0] ? h : w, th = tf[o][0] ? w : h; /* size after transpose */
    int x = ox, y = oy;
    if (tf[o][2]) y = th - 1 - y;
    if (tf[o][1]) x = tw - 1 - x;
    if (tf[o][0]) {
        int t = x;
        x = y;
        y = t;
    }
    *sx = x;
    *sy = y;
}

static void test_exif_orientations(void) {
    enum { W = 48, H = 32 };
    static const uint8_t colors[6][3] = { { 250, 10, 10 },  { 10, 250, 10 },  { 10, 10, 250 },
                                          { 250, 250, 10 }, { 10, 250, 250 }, { 120, 120, 120 } };
    uint8_t *px = malloc(W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) memcpy(px + (y * W + x) * 3, colors[(y / 16) * 3 + x / 16], 3);
    uint8_t *jpg = NULL;
    size_t nj = 0;
    CHECK_OK(pk_image_encode(px, W, H, 3, PK_IMAGE_JPEG, 95, &jpg, &nj));
    for (int o = 1; o <= 8; o++) {
        for (int le = 0; le <= 1; le++) {
            uint8_t exif[64];
            size_t ne = make_exif(exif, o, le);
            CHECK(pk_exif_orientation(exif, ne) == o);
            size_t n = 0;
            uint8_t *f = splice_app1(jpg, nj, exif, ne, &n);
            pk_image img;
            CHECK_OK(pk_image_decode(f, n, "exif.jpg", PK_IMAGE_RGB, &img));
            int ow = o >= 5 ? H : W, oh = o >= 5 ? W : H;
            CHECKF(img.w == ow && img.h == oh, "o=%d: %dx%d", o, img.w, img.h);
            int bad = 0;
            for (int y = 0; img.px && img.w == ow && y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    int sx, sy;
                    expect_src(o, W, H, x, y, &sx, &sy);
                    for (int c = 0; c < 3; c++)
                        bad += abs(img.px[(y * ow + x) * 3 + c] - px[(sy * W + sx) * 3 + c]) > 12;
                }
            CHECKF(bad == 0, "orientation %d (%s): %d samples off", o, le ? "II" : "MM", bad);
            if (o == 6 && img.px) /* rotated clockwise: stored bottom-left is now top-left */
                CHECK(abs(img.px[0] - colors[3][0]) < 12 && abs(img.px[2] - colors[3][2]) < 12);
            /* the same orientation on a mask: max(R,G,B) of the photo */
            pk_image m;
            CHECK_OK(pk_image_decode(f, n, "exif.jpg", PK_IMAGE_MASK, &m));
            CHECK(m.w == ow && m.h == oh && m.ch == 1);
            int bad_m = 0;
            for (int i = 0; img.px && m.px && m.w == ow && i < ow * oh; i++) {
                const uint8_t *p = img.px + 3 * i;
                bad_m += m.px[i] != PK_MAX(p[0], PK_MAX(p[1], p[2]));
            }
            CHECKF(bad_m == 0, "orientation %d: %d mask pixels off", o, bad_m);
            pk_image_free(&m);
            pk_image_free(&img);
            free(f);
        }
    }
    pk_free(jpg);
    free(px);
}

/* pk_image_orient exactly, odd sizes, 1 and 3 channels */
static void test_orient_exact(void) {
    int sizes[][2] = { { 1, 1 }, { 1, 4 }, { 5, 1 }, { 7, 5 }, { 16, 9 } };
    for (size_t k = 0; k < PK_ARRAY_LEN(sizes); k++) {
        int w = sizes[k][0], h = sizes[k][1];
        for (int ch = 1; ch <= 3; ch += 2) {
            uint8_t *src = malloc((size_t)w * h * ch), *dst = malloc((size_t)w * h * ch);
            for (int i = 0; i < w * h * ch; i++) src[i] = (uint8_t)rnd();
            for (int o = 1; o <= 8; o++) {
                pk_image_orient(src, w, h, ch, o, dst);
                int ow = o >= 5 ? h : w, oh = o >= 5 ? w : h, bad = 0;
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++) {
                        int sx, sy;
                        expect_src(o, w, h, x, y, &sx, &sy);
                        bad += memcmp(dst + (y * ow + x) * ch, src + (sy * w + sx) * ch, (size_t)ch) != 0;
                    }
                CHECKF(bad == 0, "%dx%dx%d orientation %d: %d pixels off", w, h, ch, o, bad);
            }
            free(src);
            free(dst);
        }
    }
}

static void test_exif_hostile(void) {
    uint8_t e[64], t[64];
    size_t n = make_exif(e, 6, 1);
    CHECK(pk_exif_orientation(e, n) == 6);
    CHECK(pk_exif_orientation(NULL, 0) == 1);
    /* every prefix: never read past n, orientation 1 unless the tag fits */
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, e, k);
        int o = pk_exif_orientation(cut, k);
        CHECKF(o == 1 || (o == 6 && k >= 6 + 8 + 2 + 24), "prefix %zu -> %d", k, o);
        free(cut);
    }
    struct { size_t at; uint8_t v[4]; int nv; const char *what; } pokes[] = {
        { 6, { 'X', 'X' }, 2, "bad byte order" },
        { 8, { 43, 0 }, 2, "bad magic" },
        { 10, { 0xFF, 0xFF, 0xFF, 0xFF }, 4, "IFD offset 4G" },
        { 10, { 0xFE, 0xFF, 0xFF, 0xFF }, 4, "IFD offset near 4G" },
        { 10, { 4, 0, 0, 0 }, 4, "IFD offset inside the header" },
        { 10, { 37, 0, 0, 0 }, 4, "IFD count at the end" },
        { 10, { 38, 0, 0, 0 }, 4, "IFD offset past the end" },
        { 14, { 0xFF, 0xFF }, 2, "65535 entries" },
        { 30, { 9, 0 }, 2, "orientation of type SRATIONAL" },
        { 32, { 0xFF, 0xFF, 0xFF, 0xFF }, 4, "count 4G" },
        { 36, { 9, 0 }, 2, "orientation 9" },
        { 36, { 0, 0 }, 2, "orientation 0" },
        { 36, { 0xFF, 0xFF }, 2, "orientation 65535" },
    };
    for (size_t i = 0; i < PK_ARRAY_LEN(pokes); i++) {
        memcpy(t, e, n);
        memcpy(t + pokes[i].at, pokes[i].v, (size_t)pokes[i].nv);
        int o = pk_exif_orientation(t, n);
        /* 65535 entries are clamped to what fits, so the tag is still found */
        int want = !strcmp(pokes[i].what, "65535 entries") ? 6 : 1;
        CHECKF(o == want, "%s -> %d", pokes[i].what, o);
    }
    /* random garbage after the header, under ASan: no out-of-bounds read */
    for (int it = 0; it < 20000; it++) {
        size_t len = 6 + rnd() % 58;
        memcpy(t, e, n);
        for (int k = 0; k < 4; k++) t[6 + rnd() % (len - 6 > 0 ? len - 6 : 1)] = (uint8_t)rnd();
        uint8_t *exact = malloc(len);
        memcpy(exact, t, len);
        int o = pk_exif_orientation(exact, len);
        CHECK(o >= 1 && o <= 8);
        free(exact);
    }
    /* a hostile APP1 inside a real JPEG: decodes upright */
    uint8_t px[16 * 8 * 3];
    for (size_t i = 0; i < sizeof(px); i++) px[i] = (uint8_t)(i * 3);
    uint8_t *jpg = NULL;
    size_t nj = 0;
    CHECK_OK(pk_image_encode(px, 16, 8, 3, PK_IMAGE_JPEG, 90, &jpg, &nj));
    memcpy(t, e, n);
    memset(t + 10, 0xFF, 4);
    size_t nf = 0;
    uint8_t *f = splice_app1(jpg, nj, t, n, &nf);
    pk_image img;
    CHECK_OK(pk_image_decode(f, nf, "hostile-exif.jpg", PK_IMAGE_RGB, &img));
    CHECK(img.w == 16 && img.h == 8);
    pk_image_free(&img);
    free(f);
    pk_free(jpg);
}

/* ---- bad files ---- */

static void check_bad(const uint8_t *data, size_t n, const char *name, const char *want) {
    pk_image img;
    pk_status st = pk_image_decode(data, n, name, PK_IMAGE_RGB, &img);
    CHECKF(st != PK_OK && img.px == NULL, "%s (%zu bytes) decoded", name, n);
    CHECKF(strstr(pk_last_error(), name) && strstr(pk_last_error(), want), "%s: %s (want '%s')", name,
           pk_last_error(), want);
}

static void test_truncated(void) {
    uint8_t *px = smooth_rgb(40, 24);
    for (int fmt = PK_IMAGE_PNG; fmt <= PK_IMAGE_JPEG; fmt++) {
        uint8_t *f = NULL;
        size_t n = 0;
        CHECK_OK(pk_image_encode(px, 40, 24, 3, (pk_image_format)fmt, 90, &f, &n));
        int min_cut = fmt == PK_IMAGE_PNG ? 8 : 3; /* shorter: no signature */
        for (size_t k = 0; k < n; k++) {
            /* an exact-size heap copy so that ASan sees any over-read */
            uint8_t *cut = malloc(k ? k : 1);
            memcpy(cut, f, k);
            char name[64];
            snprintf(name, sizeof(name), "cut-%zu.%s", k, fmt == PK_IMAGE_PNG ? "png" : "jpg");
            check_bad(cut, k, name, k == 0 ? "empty" : (int)k < min_cut ? "not an image" : "truncated");
            free(cut);
        }
        pk_free(f);
    }
    free(px);
}

static void test_corrupt(void) {
    uint8_t *px = smooth_rgb(40, 24);
    int n_ok = 0, n_err = 0;
    for (int fmt = PK_IMAGE_PNG; fmt <= PK_IMAGE_JPEG; fmt++) {
        uint8_t *f = NULL;
        size_t n = 0;
        CHECK_OK(pk_image_encode(px, 40, 24, 3, (pk_image_format)fmt, 90, &f, &n));
        uint8_t *g = malloc(n);
        for (int it = 0; it < 1500; it++) {
            memcpy(g, f, n);
            int flips = 1 + (int)(rnd() % 4);
            for (int k = 0; k < flips; k++) g[rnd() % n] ^= (uint8_t)(1 + rnd() % 255);
            pk_image img;
            pk_status st = pk_image_decode(g, n, "flipped", it % 2 ? PK_IMAGE_RGB : PK_IMAGE_MASK, &img);
            if (st == PK_OK) {
                CHECK(img.px && img.w > 0 && img.h > 0);
                n_ok++;
            } else {
                CHECKF((st == PK_ERR_FORMAT || st == PK_ERR_RANGE) && !img.px &&
                       strstr(pk_last_error(), "flipped"), "%d: %s", st, pk_last_error());
                n_err++;
            }
            pk_image_free(&img);
        }
        /* a bad CRC in the PNG header, a bad JPEG marker */
        memcpy(g, f, n);
        if (fmt == PK_IMAGE_PNG) {
            g[29] ^= 1;
        } else {
            for (size_t i = 2; i + 9 < n; i++) /* SOF0: 3-bit samples */
                if (g[i] == 0xFF && g[i + 1] == 0xC0) {
                    g[i + 4] = 3;
                    break;
                }
        }
        check_bad(g, n, fmt == PK_IMAGE_PNG ? "crc.png" : "marker.jpg", "corrupt");
        free(g);
        pk_free(f);
    }
    fprintf(stderr, "   flipped bytes: %d decoded, %d rejected\n", n_ok, n_err);
    check_bad((const uint8_t *)"hello, world", 12, "hello.txt", "not an image");
    check_bad((const uint8_t *)"", 0, "empty.png", "empty");
    free(px);
}

static void test_limits(void) {
    uint8_t px[8 * 8 * 3] = { 0 };
    uint8_t *f = NULL;
    size_t n = 0;
    /* PNG: IHDR width/height at bytes 16..23 */
    CHECK_OK(pk_image_encode(px, 8, 8, 3, PK_IMAGE_PNG, 0, &f, &n));
    uint8_t *g = malloc(n);
    memcpy(g, f, n);
    memset(g + 16, 0, 4);
    check_bad(g, n, "zero.png", "zero width or height");
    memcpy(g, f, n);
    g[17] = 0x01; /* 65544 x 8 is fine by size (CRC then fails) */
    g[21] = 0x40; /* 65544 x 16392: too large */
    check_bad(g, n, "huge.png", "too large");
    free(g);
    pk_free(f);
    /* JPEG: SOF0 = FF C0 len(2) P(1) H(2) W(2) */
    CHECK_OK(pk_image_encode(px, 8, 8, 3, PK_IMAGE_JPEG, 80, &f, &n));
    g = malloc(n);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < n && !sof; i++)
        if (f[i] == 0xFF && f[i + 1] == 0xC0) sof = i;
    CHECK(sof > 0);
    memcpy(g, f, n);
    g[sof + 5] = 0xFE; /* height 65000 */
    g[sof + 7] = 0xFE; /* width 65000 */
    g[sof + 6] = g[sof + 8] = 0xE8;
    check_bad(g, n, "huge.jpg", "too large");
    memcpy(g, f, n);
    g[sof + 5] = g[sof + 6] = 0;
    check_bad(g, n, "zero.jpg", "zero width");
    free(g);
    pk_free(f);
}

static void test_alloc_failures(void) {
    uint8_t *px = smooth_rgb(20, 10);
    for (int fmt = PK_IMAGE_PNG; fmt <= PK_IMAGE_JPEG; fmt++) {
        uint8_t *f = NULL;
        size_t n = 0;
        CHECK_OK(pk_image_encode(px, 20, 10, 3, (pk_image_format)fmt, 90, &f, &n));
        for (int k = 1; k <= 6; k++) {
            pk_image img;
            pk_alloc_fail_after(k);
            pk_status st = pk_image_decode(f, n, "nomem", PK_IMAGE_MASK, &img);
            pk_alloc_fail_after(0);
            CHECK(st == PK_OK || (st == PK_ERR_NOMEM && !img.px));
            pk_image_free(&img);
            uint8_t *e = NULL;
            size_t ne = 0;
            pk_alloc_fail_after(k);
            st = pk_image_encode(px, 20, 10, 3, (pk_image_format)fmt, 90, &e, &ne);
            pk_alloc_fail_after(0);
            CHECK(st == PK_OK || (st == PK_ERR_NOMEM && !e));
            pk_free(e);
        }
        pk_free(f);
    }
    free(px);
}

/* ---- atomic saves ---- */

static void test_atomic_save(void) {
    uint8_t a[4 * 4 * 3], b[4 * 4 * 3];
    memset(a, 10, sizeof(a));
    memset(b, 200, sizeof(b));
    const char *p = tmp_path("keep.png");
    CHECK_OK(pk_image_save(p, a, 4, 4, 3, 0));
    char *old = NULL;
    size_t nold = 0;
    CHECK_OK(pk_read_file(p, 1 << 20, &old, &nold));
    /* unknown extension */
    CHECK(pk_image_save(tmp_path("x.gif"), b, 4, 4, 3, 0) == PK_ERR_INVALID);
    CHECK(strstr(pk_last_error(), "x.gif") && strstr(pk_last_error(), ".png"));
    /* a directory that does not exist */
    CHECK(pk_image_save(tmp_path("nodir/out.png"), b, 4, 4, 3, 0) == PK_ERR_IO);
    CHECK(strstr(pk_last_error(), "nodir/out.png") != NULL);
    /* the temporary file cannot be created (a directory is in its way;
     * works as root, unlike a read-only directory) */
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", p);
    CHECK(mkdir(tmp, 0755) == 0);
    CHECK(pk_image_save(p, b, 4, 4, 3, 0) == PK_ERR_IO);
    CHECK(file_equals(p, (const uint8_t *)old, nold));
    rmdir(tmp);
    /* the disk fills up mid-write: RLIMIT_FSIZE makes write() fail (EFBIG) */
    uint8_t *big = malloc(256 * 256 * 3);
    for (int i = 0; i < 256 * 256 * 3; i++) big[i] = (uint8_t)rnd();
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    pk_status st = pk_image_save(p, big, 256, 256, 3, 0);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, prev);
    CHECKF(st == PK_ERR_IO, "save past RLIMIT_FSIZE: %d %s", st, pk_last_error());
    CHECK(file_equals(p, (const uint8_t *)old, nold));
    CHECK(access(tmp, F_OK) != 0 && errno == ENOENT); /* temp removed */
    /* and a save that works replaces the file */
    CHECK_OK(pk_image_save(p, big, 256, 256, 3, 0));
    pk_image img;
    CHECK_OK(pk_image_load(p, PK_IMAGE_RGB, &img));
    CHECK(img.px && !memcmp(img.px, big, sizeof(uint8_t) * 256 * 256 * 3));
    pk_image_free(&img);
    CHECK(pk_image_load(tmp_path("missing.png"), PK_IMAGE_RGB, &img) == PK_ERR_IO);
    CHECK(strstr(pk_last_error(), "missing.png") != NULL);
    free(big);
    pk_free(old);
}

static void test_formats(void) {
    CHECK(pk_image_format_from_path("a/b.PNG") == PK_IMAGE_PNG);
    CHECK(pk_image_format_from_path("x.Jpeg") == PK_IMAGE_JPEG);
    CHECK(pk_image_format_from_path("x.jpg") == PK_IMAGE_JPEG);
    CHECK(pk_image_format_from_path("x.png/y") == PK_IMAGE_UNKNOWN);
    CHECK(pk_image_format_from_path("png") == PK_IMAGE_UNKNOWN);
    CHECK(pk_image_format_from_path("x.webp") == PK_IMAGE_UNKNOWN);
    /* the real photos in ../shared */
    pk_image img;
    CHECK_OK(pk_image_load(pk_test_path("images/people/girl-1.jpg"), PK_IMAGE_RGB, &img));
    CHECK(img.w == 600 && img.h == 399 && img.ch == 3);
    pk_image_free(&img);
    CHECK_OK(pk_image_load(pk_test_path("images/people/girl-1.out.png"), PK_IMAGE_MASK, &img));
    CHECK(img.w == 600 && img.h == 399 && img.ch == 1);
    pk_image_free(&img);
}

int main(void) {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pk_test_image_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    PK_RUN(test_formats);
    PK_RUN(test_png_roundtrip);
    PK_RUN(test_jpeg_roundtrip);
    PK_RUN(test_png_variants);
    PK_RUN(test_jpeg_cmyk);
    PK_RUN(test_exif_orientations);
    PK_RUN(test_orient_exact);
    PK_RUN(test_exif_hostile);
    PK_RUN(test_truncated);
    PK_RUN(test_corrupt);
    PK_RUN(test_limits);
    PK_RUN(test_alloc_failures);
    PK_RUN(test_atomic_save);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "   could not remove %s\n", tmpdir);
    return pk_test_summary();
}
