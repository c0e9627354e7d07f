/* test_seg.c: the TFLite interpreter and the person segmentation against
 * the reference outputs of MediaPipe's own runtime (../shared/images/
 * segmentation/reference, see its README): raw model outputs on the exact
 * reference input tensors, the whole pipeline from the JPEG photos against
 * the reference masks, connected components, and hostile model files. */
#include "test.h"

#include "vision/seg.h"
#include "vision/tflite.h"

#include <stdint.h>
#include <stdio.h>

#include <jpeglib.h>
#include <png.h>

#define MODEL_GENERAL "images/segmentation/selfie_segmentation.tflite"
#define MODEL_LANDSCAPE "images/segmentation/selfie_segmentation_landscape.tflite"

/* Max |ours - MediaPipe| on the raw output: both are fp32; the difference
 * is summation order (XNNPACK uses FMA and blocked sums). Measured 3.5e-5. */
#define RAW_TOL 1e-4

/* ---- helpers ---- */

static float *read_f32(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *v = malloc(n * sizeof(float));
    size_t got = v ? fread(v, sizeof(float), n, f) : 0;
    int extra = fgetc(f);
    fclose(f);
    if (got != n || extra != EOF) {
        free(v);
        return NULL;
    }
    return v;
}

static uint8_t *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

/* ---- raw model output vs the reference runtime ---- */

static void check_raw(const char *model, const char *tag, int w, int h) {
    pk_seg *s = NULL;
    CHECK_OK(pk_seg_new(pk_test_path(model), &s));
    if (!s) return;
    int mw, mh;
    pk_seg_input_size(s, &mw, &mh);
    CHECK(mw == w && mh == h);
    size_t n = (size_t)w * h;
    float *out = malloc(n * sizeof(float));
    for (int k = 1; k <= 3; k++) {
        char ip[256], op[256];
        snprintf(ip, sizeof ip, "images/segmentation/reference/girl-%d.%s.input_%dx%dx3.f32",
                 k, tag, w, h);
        snprintf(op, sizeof op, "images/segmentation/reference/girl-%d.%s.raw_%dx%d.f32",
                 k, tag, w, h);
        float *in = read_f32(pk_test_path(ip), n * 3);
        float *ref = read_f32(pk_test_path(op), n);
        CHECKF(in && ref, "reading %s / %s", ip, op);
        if (in && ref) {
            double t0 = pk_time_ms();
            CHECK_OK(pk_seg_forward(s, in, out));
            double ms = pk_time_ms() - t0;
            double maxd = 0, sum = 0;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)out[i] - ref[i]);
                maxd = d > maxd ? d : maxd;
                sum += d;
            }
            fprintf(stderr, "   girl-%d %s: max |diff| %.3g, mean %.3g, %.1f ms\n",
                    k, tag, maxd, sum / (double)n, ms);
            CHECKF(maxd <= RAW_TOL, "girl-%d %s: max diff %g", k, tag, maxd);
        }
        free(in);
        free(ref);
    }
    free(out);
    pk_seg_free(s);
}

static void test_raw_general(void) { check_raw(MODEL_GENERAL, "general", 256, 256); }
static void test_raw_landscape(void) { check_raw(MODEL_LANDSCAPE, "landscape", 256, 144); }

/* The interpreter lists exactly the operators the file declares. */
static void test_op_list(void) {
    pk_tfl *m = NULL;
    CHECK_OK(pk_tfl_open(pk_test_path(MODEL_GENERAL), &m));
    if (!m) return;
    CHECK(pk_tfl_n_ops(m) == 246);
    int n_tconv = 0, n_conv = 0;
    for (int i = 0; i < pk_tfl_n_ops(m); i++) {
        n_tconv += !strcmp(pk_tfl_op_name(m, i), "Convolution2DTransposeBias");
        n_conv += !strcmp(pk_tfl_op_name(m, i), "CONV_2D");
    }
    CHECK(n_tconv == 1 && n_conv == 43);
    pk_tfl_free(m);
}

/* ---- whole pipeline from the JPEG photos ---- */

static uint8_t *load_jpeg(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    uint8_t *rgb = malloc((size_t)*w * *h * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb + (size_t)cinfo.output_scanline * *w * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return rgb;
}

static uint8_t *load_png_gray(const char *path, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return NULL;
    img.format = PNG_FORMAT_GRAY;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        return NULL;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return buf;
}

static void check_pipeline(const char *model, const char *tag, int w_model,
                           int h_model) {
    pk_seg *s = NULL;
    CHECK_OK(pk_seg_new(pk_test_path(model), &s));
    if (!s) return;
    for (int k = 1; k <= 3; k++) {
        char jp[128], mp[128], ip[160];
        snprintf(jp, sizeof jp, "images/people/girl-%d.jpg", k);
        snprintf(mp, sizeof mp, "images/segmentation/reference/girl-%d.%s.png", k, tag);
        snprintf(ip, sizeof ip, "images/segmentation/reference/girl-%d.%s.input_%dx%dx3.f32",
                 k, tag, w_model, h_model);
        int w = 0, h = 0, rw = 0, rh = 0;
        uint8_t *rgb = load_jpeg(pk_test_path(jp), &w, &h);
        uint8_t *ref = load_png_gray(pk_test_path(mp), &rw, &rh);
        CHECKF(rgb && ref && rw == w && rh == h, "%s %dx%d, %s %dx%d", jp, w, h,
               mp, rw, rh);
        if (!rgb || !ref || rw != w || rh != h) {
            free(rgb);
            free(ref);
            continue;
        }
        /* the model input we make from the photo vs the reference input
         * (float rounding of the sample positions: measured <= 1.6e-5) */
        size_t nm = (size_t)w_model * h_model * 3;
        float *mine = malloc(nm * sizeof(float));
        float *rin = read_f32(pk_test_path(ip), nm);
        pk_seg_preprocess(s, rgb, w, h, mine);
        double in_max = 0;
        for (size_t i = 0; rin && i < nm; i++)
            in_max = fmax(in_max, fabs((double)mine[i] - rin[i]));
        CHECKF(rin && in_max <= 1e-4, "girl-%d %s input max diff %g", k, tag, in_max);

        uint8_t *m8 = malloc((size_t)w * h);
        float *mf = malloc((size_t)w * h * sizeof(float));
        double t0 = pk_time_ms();
        CHECK_OK(pk_seg_run_u8(s, rgb, w, h, m8));
        double ms = pk_time_ms() - t0;
        CHECK_OK(pk_seg_run(s, rgb, w, h, mf));
        size_t inter = 0, uni = 0, exact = 0, fg = 0, range_ok = 1;
        double mad = 0;
        for (size_t i = 0; i < (size_t)w * h; i++) {
            int a = m8[i] > 127, b = ref[i] > 127;
            inter += a && b;
            uni += a || b;
            fg += b;
            exact += m8[i] == ref[i];
            mad += abs((int)m8[i] - (int)ref[i]);
            if (!(mf[i] >= 0.0f && mf[i] <= 1.0f) ||
                fabs(mf[i] * 255.0 - m8[i]) > 0.5001)
                range_ok = 0;
        }
        double iou = uni ? (double)inter / (double)uni : 1.0;
        fprintf(stderr, "   girl-%d %s: input max diff %.3g, IoU %.4f, exact "
                "%.3f, mean |diff| %.3f/255, fg %.3f, %.1f ms\n", k, tag,
                in_max, iou, (double)exact / ((double)w * h),
                mad / ((double)w * h), (double)fg / ((double)w * h), ms);
        CHECKF(iou >= 0.98, "girl-%d %s IoU %.4f", k, tag, iou);
        CHECK(range_ok);
        free(mine);
        free(rin);
        free(m8);
        free(mf);
        free(rgb);
        free(ref);
    }
    pk_seg_free(s);
}

static void test_pipeline_general(void) {
    check_pipeline(MODEL_GENERAL, "general", 256, 256);
}
static void test_pipeline_landscape(void) {
    check_pipeline(MODEL_LANDSCAPE, "landscape", 256, 144);
}

/* ---- connected components ---- */

static void test_components(void) {
    enum { W = 12, H = 8 };
    /* two blobs: A (3x3 at 1,1) and B (an L of 7 pixels at 6..9), diagonal
     * contact joins pixels 8-connected */
    uint8_t m[W * H] = { 0 }, comp[W * H];
    for (int y = 1; y < 4; y++)
        for (int x = 1; x < 4; x++) m[y * W + x] = 200;
    m[4 * W + 4] = 128; /* diagonal neighbour of (3,3): joins A */
    for (int x = 6; x < 10; x++) m[5 * W + x] = 255;
    for (int y = 2; y < 5; y++) m[y * W + 9] = 255;
    m[7 * W + 0] = 127; /* not person (> 127 is) */
    size_t n = 0;
    CHECK_OK(pk_seg_component_point(m, W, H, 2, 2, comp, &n));
    CHECK(n == 10);
    CHECK(comp[4 * W + 4] == 255 && comp[5 * W + 6] == 0 && comp[1 * W + 1] == 255);
    CHECK_OK(pk_seg_component_point(m, W, H, 9, 2, comp, &n));
    CHECK(n == 7 && comp[5 * W + 6] == 255 && comp[2 * W + 2] == 0);
    CHECK(pk_seg_component_point(m, W, H, 0, 7, comp, &n) == PK_ERR_NOT_FOUND);
    CHECK(n == 0 && comp[2 * W + 2] == 0);
    CHECK(pk_seg_component_point(m, W, H, -1, 0, comp, &n) == PK_ERR_RANGE);
    CHECK(pk_seg_component_point(m, W, H, 0, H, comp, &n) == PK_ERR_RANGE);
    /* box covering 4 px of A and 3 of B (6..8 of row 5): A wins, whole */
    CHECK_OK(pk_seg_component_box(m, W, H, 2, 2, 7, 4, comp, &n));
    CHECK(n == 10 && comp[1 * W + 1] == 255 && comp[5 * W + 9] == 0);
    /* box over B only, partly outside the image: clipped */
    CHECK_OK(pk_seg_component_box(m, W, H, 5, 4, 100, 100, comp, &n));
    CHECK(n == 7);
    CHECK(pk_seg_component_box(m, W, H, 10, 6, 2, 2, comp, &n) == PK_ERR_NOT_FOUND);
    CHECK(pk_seg_component_box(m, W, H, 20, 0, 5, 5, comp, &n) == PK_ERR_RANGE);
    CHECK(pk_seg_component_box(m, W, H, 0, 0, 0, 5, comp, &n) == PK_ERR_RANGE);
}

/* ---- hostile model files ---- */

/* Load must either fail with an error message or give a model whose
 * invoke is safe; never crash (this runs under ASan too). */
static int try_load(const uint8_t *b, size_t n) {
    pk_tfl *m = NULL;
    pk_status st = pk_tfl_load(b, n, &m);
    if (st) {
        CHECK(m == NULL && pk_last_error()[0] != 0);
        return 0;
    }
    if (pk_tfl_macs(m) < 2e8) pk_tfl_invoke(m, NULL);
    pk_tfl_free(m);
    return 1;
}

/* corrupted-model trials: every loaded one also runs the network, which is
 * slow under ASan; fewer trials there (the fuzz corpus replays the rest) */
#if defined(__SANITIZE_ADDRESS__)
enum { N_CORRUPT = 120 };
#else
enum { N_CORRUPT = 400 };
#endif

static void test_hostile(void) {
    size_t n = 0;
    uint8_t *good = read_bytes(pk_test_path(MODEL_GENERAL), &n);
    CHECK(good && n > 1000);
    if (!good) return;
    /* truncation: every prefix up to 1 KB, then every 997th */
    int loaded = 0, tried = 0;
    for (size_t len = 0; len < n; len += len < 1024 ? 1 : 997) {
        uint8_t *c = malloc(len ? len : 1); /* exact size so ASan sees overreads */
        memcpy(c, good, len);
        loaded += try_load(c, len);
        tried++;
        free(c);
    }
    fprintf(stderr, "   truncated: %d of %d prefixes loaded\n", loaded, tried);
    CHECK(loaded == 0);
    /* corrupted bytes: offsets, vtables, counts (first 4 KB hold the tables
     * of the header; the rest are mostly tensors and operators) */
    uint8_t *c = malloc(n);
    uint32_t rng = 12345;
    int ok = 0;
    for (int it = 0; it < N_CORRUPT; it++) {
        memcpy(c, good, n);
        int flips = 1 + it % 4;
        for (int f = 0; f < flips; f++) {
            rng = rng * 1664525u + 1013904223u;
            size_t pos = (rng >> 8) % n;
            if (it % 3 == 0) pos = (rng >> 8) % 4096;
            rng = rng * 1664525u + 1013904223u;
            c[pos] = (it & 1) ? (uint8_t)(rng >> 24) : c[pos] ^ (uint8_t)(1u << (rng >> 29));
        }
        ok += try_load(c, n);
    }
    fprintf(stderr, "   corrupted: %d of %d still loaded\n", ok, (int)N_CORRUPT);
    /* the file as is must load, and bad identifier must not */
    CHECK(try_load(good, n) == 1);
    memcpy(c, good, n);
    c[4] = 'X';
    CHECK(pk_tfl_load(c, n, &(pk_tfl *){ NULL }) == PK_ERR_FORMAT);
    free(c);
    free(good);
}

/* Every allocation failure is reported, not crashed on (leaks show in the
 * ASan build). */
static void test_alloc_failures(void) {
    int nomem = 0;
    for (long k = 1; k < 400; k += 7) {
        pk_seg *s = NULL;
        pk_alloc_fail_after(k);
        pk_status st = pk_seg_new(pk_test_path(MODEL_LANDSCAPE), &s);
        pk_alloc_fail_after(0);
        if (st) {
            CHECK(st == PK_ERR_NOMEM && s == NULL);
            nomem++;
        }
        pk_seg_free(s);
    }
    CHECK(nomem > 10);
}

static void test_bad_paths(void) {
    pk_seg *s = NULL;
    CHECK(pk_seg_new("/nonexistent/model.tflite", &s) == PK_ERR_IO && !s);
    CHECK(pk_seg_new(pk_test_path("images/people/girl-1.jpg"), &s) ==
          PK_ERR_FORMAT && !s);
    CHECK(pk_seg_default_model()[0] != 0);
}

int main(void) {
    PK_RUN(test_op_list);
    PK_RUN(test_raw_general);
    PK_RUN(test_raw_landscape);
    PK_RUN(test_pipeline_general);
    PK_RUN(test_pipeline_landscape);
    PK_RUN(test_components);
    PK_RUN(test_hostile);
    PK_RUN(test_alloc_failures);
    PK_RUN(test_bad_paths);
    return pk_test_summary();
}
