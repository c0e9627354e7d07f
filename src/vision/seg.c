/* seg.c: MediaPipe selfie segmentation on a photo (see seg.h): stretch the
 * photo to the model size, run the TFLite model, round the probability to
 * 8 bits and upsample it to the photo; then pick the person under a point or
 * in a box as a connected component of the mask. */
#include "vision/seg.h"
#include "vision/tflite.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- types ---- */

struct pk_seg {
    pk_tfl *model;
    pk_pool *pool;    /* borrowed, may be NULL */
    int mw, mh;       /* model input width, height */
    uint8_t *mask_m;  /* (mh, mw) model output rounded to 8 bits */
};

/* ---- create / free ---- */

const char *pk_seg_default_model(void) {
    const char *env = getenv("POCKET_SEG_MODEL");
    if (env && env[0]) return env;
#ifdef PK_SEG_DEFAULT_MODEL
    return PK_SEG_DEFAULT_MODEL;
#else
    return "../shared/images/segmentation/selfie_segmentation.tflite";
#endif
}

pk_status pk_seg_new(const char *path, pk_seg **out) {
    pk_seg *s = NULL;
    pk_status st;
    int in[4], o[4];
    *out = NULL;
    if (!path) path = pk_seg_default_model();
    s = pk_calloc(1, sizeof *s);
    if (!s) return PK_ERR_NOMEM;
    if ((st = pk_tfl_open(path, &s->model))) goto fail;
    if (pk_tfl_n_inputs(s->model) != 1 || pk_tfl_n_outputs(s->model) != 1 ||
        pk_tfl_input_shape(s->model, 0, in) != 4 ||
        pk_tfl_output_shape(s->model, 0, o) != 4 || in[0] != 1 || in[3] != 3 ||
        o[0] != 1 || o[3] != 1 || o[1] != in[1] || o[2] != in[2]) {
        st = pk_err(PK_ERR_UNSUPPORTED, "%s: not a segmentation model (want one "
                    "1xHxWx3 input and one 1xHxWx1 output)", path);
        goto fail;
    }
    s->mh = in[1];
    s->mw = in[2];
    s->mask_m = pk_malloc((size_t)s->mw * s->mh);
    if (!s->mask_m) { st = PK_ERR_NOMEM; goto fail; }
    *out = s;
    return PK_OK;
fail:
    pk_seg_free(s);
    return st;
}

void pk_seg_free(pk_seg *s) {
    if (!s) return;
    pk_tfl_free(s->model);
    pk_free(s->mask_m);
    pk_free(s);
}

void pk_seg_input_size(const pk_seg *s, int *w, int *h) {
    *w = s->mw;
    *h = s->mh;
}

void pk_seg_set_pool(pk_seg *s, pk_pool *pool) { s->pool = pool; }

/* ---- inference ---- */

pk_status pk_seg_forward(pk_seg *s, const float *in, float *out) {
    size_t n = (size_t)s->mw * s->mh;
    memcpy(pk_tfl_input(s->model, 0), in, n * 3 * sizeof(float));
    pk_status st = pk_tfl_invoke(s->model, s->pool);
    if (st) return st;
    memcpy(out, pk_tfl_output(s->model, 0), n * sizeof(float));
    return PK_OK;
}

/* Bilinear tap of destination coordinate o of a resize from n to m samples
 * with half-pixel centres and clamp to edge: samples i0, i1, weight f of i1. */
static void tap(int o, int n, int m, int *i0, int *i1, float *f) {
    float v = ((float)o + 0.5f) * (float)n / (float)m - 0.5f;
    float fl = floorf(v);
    int a = (int)fl;
    *f = v - fl;
    *i0 = a < 0 ? 0 : a > n - 1 ? n - 1 : a;
    *i1 = a + 1 < 0 ? 0 : a + 1 > n - 1 ? n - 1 : a + 1;
}

/* Stretch the photo to the model input: RGB (h,w,3) u8 -> (mh,mw,3) / 255. */
void pk_seg_preprocess(const pk_seg *s, const uint8_t *rgb, int w, int h,
                       float *in) {
    for (int y = 0; y < s->mh; y++) {
        int y0, y1;
        float fy;
        tap(y, h, s->mh, &y0, &y1, &fy);
        const uint8_t *r0 = rgb + (size_t)y0 * w * 3, *r1 = rgb + (size_t)y1 * w * 3;
        for (int x = 0; x < s->mw; x++) {
            int x0, x1;
            float fx;
            tap(x, w, s->mw, &x0, &x1, &fx);
            for (int c = 0; c < 3; c++) {
                float top = r0[x0 * 3 + c] + (r0[x1 * 3 + c] - r0[x0 * 3 + c]) * fx;
                float bot = r1[x0 * 3 + c] + (r1[x1 * 3 + c] - r1[x0 * 3 + c]) * fx;
                *in++ = (top + (bot - top) * fy) * (1.0f / 255.0f);
            }
        }
    }
}

static pk_status run(pk_seg *s, const uint8_t *rgb, int w, int h, float *mask,
                     uint8_t *mask8) {
    if (!rgb || w < 1 || h < 1 || w > (1 << 16) || h > (1 << 16))
        return pk_err(PK_ERR_INVALID, "segmentation: bad image %dx%d", w, h);
    pk_seg_preprocess(s, rgb, w, h, pk_tfl_input(s->model, 0));
    pk_status st = pk_tfl_invoke(s->model, s->pool);
    if (st) return st;
    const float *o = pk_tfl_output(s->model, 0);
    size_t n = (size_t)s->mw * s->mh;
    for (size_t i = 0; i < n; i++) {
        float v = o[i] < 0.0f ? 0.0f : o[i] > 1.0f ? 1.0f : o[i];
        s->mask_m[i] = (uint8_t)lrintf(v * 255.0f);
    }
    for (int y = 0; y < h; y++) {
        int y0, y1;
        float fy;
        tap(y, s->mh, h, &y0, &y1, &fy);
        const uint8_t *r0 = s->mask_m + (size_t)y0 * s->mw;
        const uint8_t *r1 = s->mask_m + (size_t)y1 * s->mw;
        for (int x = 0; x < w; x++) {
            int x0, x1;
            float fx;
            tap(x, s->mw, w, &x0, &x1, &fx);
            float top = r0[x0] + (r0[x1] - r0[x0]) * fx;
            float bot = r1[x0] + (r1[x1] - r1[x0]) * fx;
            float v = top + (bot - top) * fy; /* 0..255 */
            size_t i = (size_t)y * w + x;
            if (mask) mask[i] = v * (1.0f / 255.0f);
            if (mask8) mask8[i] = (uint8_t)lrintf(v);
        }
    }
    return PK_OK;
}

pk_status pk_seg_run(pk_seg *s, const uint8_t *rgb, int w, int h, float *mask) {
    return run(s, rgb, w, h, mask, NULL);
}

pk_status pk_seg_run_u8(pk_seg *s, const uint8_t *rgb, int w, int h,
                        uint8_t *mask8) {
    return run(s, rgb, w, h, NULL, mask8);
}

/* ---- connected components ---- */

/* Flood the 8-connected component of mask8 > 127 from seed, writing label
 * into lab (w*h int32, 0 = unvisited). queue: w*h ints of scratch. Returns
 * its size; *in_box counts its pixels inside [bx0,bx1) x [by0,by1). */
static size_t flood(const uint8_t *mask8, int w, int h, size_t seed,
                    int32_t label, int32_t *lab, int32_t *queue, int bx0,
                    int by0, int bx1, int by1, size_t *in_box) {
    size_t head = 0, tail = 0, n = 0;
    *in_box = 0;
    lab[seed] = label;
    queue[tail++] = (int32_t)seed;
    while (head < tail) {
        int32_t p = queue[head++];
        int px = p % w, py = p / w;
        n++;
        if (px >= bx0 && px < bx1 && py >= by0 && py < by1) (*in_box)++;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int qx = px + dx, qy = py + dy;
                if ((dx == 0 && dy == 0) || qx < 0 || qy < 0 || qx >= w || qy >= h)
                    continue;
                size_t q = (size_t)qy * w + qx;
                if (lab[q] || mask8[q] <= 127) continue;
                lab[q] = label;
                queue[tail++] = (int32_t)q;
            }
    }
    return n;
}

static pk_status component(const uint8_t *mask8, int w, int h, int bx0, int by0,
                           int bx1, int by1, uint8_t *comp, size_t *n_pixels) {
    size_t n;
    int32_t *lab = NULL, *queue = NULL;
    if (n_pixels) *n_pixels = 0;
    if (w < 1 || h < 1 || !pk_size_mul((size_t)w, (size_t)h, &n) ||
        n > (size_t)INT32_MAX)
        return pk_err(PK_ERR_INVALID, "segmentation: bad mask size %dx%d", w, h);
    memset(comp, 0, n);
    lab = pk_calloc(n, sizeof *lab);
    queue = pk_malloc(n * sizeof *queue);
    if (!lab || !queue) {
        pk_free(lab);
        pk_free(queue);
        return PK_ERR_NOMEM;
    }
    int32_t label = 0, best = 0;
    size_t best_in = 0, best_n = 0;
    for (int y = by0; y < by1; y++)
        for (int x = bx0; x < bx1; x++) {
            size_t i = (size_t)y * w + x, in_box, cnt;
            if (lab[i] || mask8[i] <= 127) continue;
            cnt = flood(mask8, w, h, i, ++label, lab, queue, bx0, by0, bx1, by1,
                        &in_box);
            if (in_box > best_in) {
                best_in = in_box;
                best = label;
                best_n = cnt;
            }
        }
    for (size_t i = 0; best && i < n; i++)
        if (lab[i] == best) comp[i] = 255;
    pk_free(lab);
    pk_free(queue);
    if (n_pixels) *n_pixels = best_n;
    if (!best)
        return pk_err(PK_ERR_NOT_FOUND, "segmentation: no person at %d,%d "
                      "(box %dx%d)", bx0, by0, bx1 - bx0, by1 - by0);
    return PK_OK;
}

pk_status pk_seg_component_point(const uint8_t *mask8, int w, int h, int x,
                                 int y, uint8_t *comp, size_t *n_pixels) {
    if (x < 0 || y < 0 || x >= w || y >= h) {
        if (n_pixels) *n_pixels = 0;
        return pk_err(PK_ERR_RANGE, "segmentation: point %d,%d outside the "
                      "%dx%d image", x, y, w, h);
    }
    return component(mask8, w, h, x, y, x + 1, y + 1, comp, n_pixels);
}

pk_status pk_seg_component_box(const uint8_t *mask8, int w, int h, int bx,
                               int by, int bw, int bh, uint8_t *comp,
                               size_t *n_pixels) {
    int64_t x0 = PK_MAX(bx, 0), y0 = PK_MAX(by, 0);
    int64_t x1 = PK_MIN((int64_t)bx + bw, w), y1 = PK_MIN((int64_t)by + bh, h);
    if (bw < 1 || bh < 1 || x0 >= x1 || y0 >= y1) {
        if (n_pixels) *n_pixels = 0;
        return pk_err(PK_ERR_RANGE, "segmentation: box %d,%d %dx%d misses the "
                      "%dx%d image", bx, by, bw, bh, w, h);
    }
    return component(mask8, w, h, (int)x0, (int)y0, (int)x1, (int)y1, comp,
                     n_pixels);
}
