/* erase.c: erase a person from a photo. The selection (a mask, or the
 * person under a point / in a box from seg.h) is grown by an exact
 * Euclidean dilation, filled by pk_inpaint (inpaint.h) and blended back
 * only inside the grown region, so every other pixel keeps its bytes.
 * Implements pk_erase_rgb and pk_erase_file of pocket.h. */
#include "vision/erase.h"

#include "image/image.h"
#include "vision/inpaint.h"
#include "vision/seg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- distance transform and dilation ---- */

static int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

pk_status pk_mask_dist_sq(const uint8_t *set, int w, int h, uint32_t *d2) {
    if (!set || !d2 || w < 1 || h < 1)
        return pk_err(PK_ERR_INVALID, "mask distance: bad arguments (%dx%d)", w, h);
    /* g: distance to the nearest set pixel in the same column, capped at
     * inf; stored in d2 until the row pass replaces it. */
    const uint32_t inf = (uint32_t)w + (uint32_t)h;
    size_t W = (size_t)w;
    for (int y = 0; y < h; y++) {
        const uint8_t *s = set + (size_t)y * W;
        uint32_t *g = d2 + (size_t)y * W;
        for (int x = 0; x < w; x++)
            g[x] = s[x] ? 0 : y ? PK_MIN(g[x - (ptrdiff_t)W] + 1, inf) : inf;
    }
    for (int y = h - 2; y >= 0; y--) {
        uint32_t *g = d2 + (size_t)y * W;
        for (int x = 0; x < w; x++)
            if (g[x + W] + 1 < g[x]) g[x] = g[x + W] + 1;
    }
    int64_t *g2 = pk_malloc(W * sizeof(int64_t)); /* g^2 of the row */
    int *s = pk_malloc(W * sizeof(int));          /* parabola apexes */
    int *t = pk_malloc(W * sizeof(int));          /* where each starts */
    if (!g2 || !s || !t) {
        pk_free(g2);
        pk_free(s);
        pk_free(t);
        return PK_ERR_NOMEM;
    }
    const int64_t inf2 = (int64_t)inf * inf;
    for (int y = 0; y < h; y++) {
        uint32_t *row = d2 + (size_t)y * W;
        for (int x = 0; x < w; x++) g2[x] = (int64_t)row[x] * row[x];
        /* lower envelope of f_i(u) = (u - i)^2 + g(i)^2 */
        int q = 0;
        s[0] = 0;
        t[0] = 0;
        for (int u = 1; u < w; u++) {
            while (q >= 0) {
                int64_t a = (int64_t)(t[q] - s[q]), b = (int64_t)(t[q] - u);
                if (a * a + g2[s[q]] <= b * b + g2[u]) break;
                q--;
            }
            if (q < 0) {
                q = 0;
                s[0] = u;
            } else {
                int64_t i = s[q];
                int64_t sep = 1 + floor_div((int64_t)u * u - i * i + g2[u] - g2[i], 2 * (u - i));
                if (sep < w) {
                    q++;
                    s[q] = u;
                    t[q] = (int)sep;
                }
            }
        }
        for (int u = w - 1; u >= 0; u--) {
            int64_t a = u - s[q];
            int64_t v = a * a + g2[s[q]];
            row[u] = v >= inf2 || v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
            if (u == t[q]) q--;
        }
    }
    pk_free(g2);
    pk_free(s);
    pk_free(t);
    return PK_OK;
}

/* out[i] = 255 where d2[i] <= r*r (n pixels). */
static void within(const uint32_t *d2, size_t n, int r, uint8_t *out) {
    uint64_t rr = (uint64_t)r * (uint64_t)r;
    for (size_t i = 0; i < n; i++) out[i] = d2[i] != UINT32_MAX && d2[i] <= rr ? 255 : 0;
}

pk_status pk_mask_dilate(const uint8_t *in, int w, int h, int r, uint8_t *out) {
    if (!in || !out || w < 1 || h < 1 || r < 0)
        return pk_err(PK_ERR_INVALID, "dilate: bad arguments (%dx%d, radius %d)", w, h, r);
    size_t n = (size_t)w * (size_t)h;
    uint32_t *d2 = pk_malloc(n * sizeof(uint32_t));
    if (!d2) return PK_ERR_NOMEM;
    pk_status st = pk_mask_dist_sq(in, w, h, d2);
    if (st == PK_OK) within(d2, n, r, out);
    pk_free(d2);
    return st;
}

/* ---- fill and blend ---- */

static uint64_t count_set(const uint8_t *m, size_t n) {
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++) c += m[i] != 0;
    return c;
}

pk_status pk_erase_fill(uint8_t *rgb, int w, int h, const uint8_t *sel,
                        int dilate, int feather, uint64_t seed, pk_pool *pool,
                        uint64_t *n_filled) {
    if (!rgb || !sel || w < 1 || h < 1 || dilate < 0 || feather < 0)
        return pk_err(PK_ERR_INVALID, "erase: bad arguments (%dx%d, dilate %d, feather %d)", w, h,
                      dilate, feather);
    size_t n = (size_t)w * (size_t)h;
    uint8_t *region = pk_malloc(n), *outside = pk_malloc(n), *fill = pk_malloc(n * 3);
    uint32_t *d2 = pk_malloc(n * sizeof(uint32_t));
    pk_status st = PK_ERR_NOMEM;
    if (!region || !outside || !fill || !d2) goto out;
    /* the dilation, with d2 reused below for the feather distances */
    if ((st = pk_mask_dist_sq(sel, w, h, d2)) != PK_OK) goto out;
    within(d2, n, dilate, region);
    uint64_t nr = count_set(region, n);
    if (n_filled) *n_filled = nr;
    if (nr == 0) {
        st = pk_err(PK_ERR_INVALID, "mask selects no pixel");
        goto out;
    }
    if (nr == n) {
        st = pk_err(PK_ERR_INVALID, "grown by %d px the selection covers the whole %dx%d photo: "
                    "nothing is left to fill from (use a smaller dilation)", dilate, w, h);
        goto out;
    }
    memcpy(fill, rgb, n * 3);
    pk_inpaint_opts io = pk_inpaint_default_opts();
    io.seed = seed;
    if ((st = pk_inpaint(fill, w, h, region, &io, pool)) != PK_OK) goto out;
    /* distance of each region pixel to the nearest pixel outside it */
    for (size_t i = 0; i < n; i++) outside[i] = !region[i];
    if ((st = pk_mask_dist_sq(outside, w, h, d2)) != PK_OK) goto out;
    double scale = 256.0 / (feather + 1);
    for (size_t i = 0; i < n; i++) {
        if (!region[i]) continue;
        unsigned a = 256;
        if (!sel[i]) {
            double v = sqrt((double)d2[i]) * scale;
            a = v >= 256.0 ? 256 : (unsigned)(v + 0.5);
        }
        for (int c = 0; c < 3; c++) {
            unsigned o = rgb[3 * i + c], f = fill[3 * i + c];
            rgb[3 * i + c] = (uint8_t)((o * (256 - a) + f * a + 128) >> 8);
        }
    }
out:
    pk_free(region);
    pk_free(outside);
    pk_free(fill);
    pk_free(d2);
    return st;
}

/* ---- selection ---- */

pk_erase_opts pk_erase_default_opts(void) {
    pk_erase_opts o;
    memset(&o, 0, sizeof(o));
    o.select = PK_ERASE_MASK;
    o.dilate = -1;
    o.feather = -1;
    return o;
}

/* Person probability at 8 bits for the whole photo from one model (path;
 * NULL: the default). OUT prob (w*h). */
static pk_status segment_one(const char *path, const uint8_t *rgb, int w, int h,
                             pk_pool *pool, uint8_t *prob) {
    pk_seg *seg = NULL;
    pk_status st = pk_seg_new(path, &seg);
    if (st != PK_OK) return st;
    pk_seg_set_pool(seg, pool);
    st = pk_seg_run_u8(seg, rgb, w, h, prob);
    pk_seg_free(seg);
    return st;
}

/* The landscape model beside the default general one: the default path
 * with its file name selfie_segmentation.tflite replaced by
 * selfie_segmentation_landscape.tflite. OUT buf (n bytes); 0 when the
 * default path has another name. */
static int landscape_path(char *buf, size_t n) {
    static const char gen[] = "selfie_segmentation.tflite";
    const char *d = pk_seg_default_model();
    size_t ld = strlen(d), lg = sizeof gen - 1;
    if (ld < lg || strcmp(d + ld - lg, gen) || (ld > lg && d[ld - lg - 1] != '/')) return 0;
    return snprintf(buf, n, "%.*sselfie_segmentation_landscape.tflite", (int)(ld - lg), d) <
           (int)n;
}

/* Person probability at 8 bits for the whole photo. With the default model
 * the landscape model next to it (when present) runs too and each pixel
 * takes the larger of the two probabilities: on ../shared's girl-1 the
 * general model misses the raised forearm (p = 0 there) that the landscape
 * model finds, and neither model's output is changed. A model given with
 * --seg-model runs alone. OUT *prob (w*h, caller frees). */
static pk_status segment(const uint8_t *rgb, int w, int h, const pk_erase_opts *o,
                         pk_pool *pool, uint8_t **prob) {
    size_t n = (size_t)w * (size_t)h;
    char lpath[4096];
    *prob = pk_malloc(n);
    if (!*prob) return PK_ERR_NOMEM;
    pk_status st = segment_one(o->seg_model, rgb, w, h, pool, *prob);
    if (st != PK_OK || o->seg_model || !landscape_path(lpath, sizeof lpath)) return st;
    FILE *f = fopen(lpath, "rb"); /* absent: the general model alone */
    if (!f) return st;
    fclose(f);
    uint8_t *p2 = pk_malloc(n);
    if (!p2) return PK_ERR_NOMEM;
    st = segment_one(lpath, rgb, w, h, pool, p2);
    for (size_t i = 0; st == PK_OK && i < n; i++)
        if (p2[i] > (*prob)[i]) (*prob)[i] = p2[i];
    pk_free(p2);
    return st;
}

/* The selection sel (w*h, 255 = erase) the options ask for. */
static pk_status select_region(const uint8_t *rgb, int w, int h, const uint8_t *mask,
                               const pk_erase_opts *o, pk_pool *pool, uint8_t *sel,
                               pk_erase_result *res) {
    size_t n = (size_t)w * (size_t)h;
    if (o->select == PK_ERASE_MASK) {
        if (!mask) return pk_err(PK_ERR_INVALID, "erase: no mask given");
        for (size_t i = 0; i < n; i++) sel[i] = mask[i] > 127 ? 255 : 0;
        return PK_OK;
    }
    if (o->select == PK_ERASE_POINT) {
        if (o->x < 0 || o->y < 0 || o->x >= w || o->y >= h)
            return pk_err(PK_ERR_RANGE, "point %d,%d is outside the %dx%d photo", o->x, o->y, w, h);
    } else if (o->select == PK_ERASE_BOX) {
        if (o->box_w < 1 || o->box_h < 1)
            return pk_err(PK_ERR_INVALID, "box %d,%d,%d,%d: width and height must be at least 1",
                          o->x, o->y, o->box_w, o->box_h);
        if (o->x >= w || o->y >= h || (int64_t)o->x + o->box_w <= 0 ||
            (int64_t)o->y + o->box_h <= 0)
            return pk_err(PK_ERR_RANGE, "box %d,%d,%d,%d is outside the %dx%d photo", o->x, o->y,
                          o->box_w, o->box_h, w, h);
    } else {
        return pk_err(PK_ERR_INVALID, "erase: unknown selection kind %d", (int)o->select);
    }
    uint8_t *prob = NULL;
    double t0 = pk_time_ms();
    pk_status st = segment(rgb, w, h, o, pool, &prob);
    if (res) res->ms_segment = pk_time_ms() - t0;
    if (st == PK_OK && o->select == PK_ERASE_POINT) {
        st = pk_seg_component_point(prob, w, h, o->x, o->y, sel, NULL);
        if (st == PK_ERR_NOT_FOUND) { /* a tap just beside the person */
            int r = PK_MAX(4, PK_MAX(w, h) / 50);
            st = pk_seg_component_box(prob, w, h, o->x - r, o->y - r, 2 * r + 1, 2 * r + 1, sel,
                                      NULL);
        }
        if (st == PK_ERR_NOT_FOUND) st = pk_err(st, "no person found at %d,%d", o->x, o->y);
    } else if (st == PK_OK) {
        st = pk_seg_component_box(prob, w, h, o->x, o->y, o->box_w, o->box_h, sel, NULL);
        if (st == PK_ERR_NOT_FOUND)
            st = pk_err(st, "no person found in the box %d,%d,%d,%d", o->x, o->y, o->box_w,
                        o->box_h);
    }
    pk_free(prob);
    return st;
}

/* ---- public calls ---- */

pk_status pk_erase_rgb(uint8_t *rgb, int w, int h, const uint8_t *mask,
                       const pk_erase_opts *opts, pk_erase_result *res) {
    pk_erase_opts o = opts ? *opts : pk_erase_default_opts();
    if (res) memset(res, 0, sizeof(*res));
    if (!rgb || w < 1 || h < 1)
        return pk_err(PK_ERR_INVALID, "erase: bad photo (%dx%d)", w, h);
    if ((uint64_t)w * (uint64_t)h > PK_IMAGE_MAX_PIXELS)
        return pk_err(PK_ERR_RANGE, "erase: photo %dx%d is above the limit of %u pixels", w, h,
                      PK_IMAGE_MAX_PIXELS);
    if (res) {
        res->w = w;
        res->h = h;
    }
    /* the person mask comes from a 256x256 model: 1/60 of the photo is about
     * 4 model pixels, what covers its soft edges on ../shared's photos */
    if (o.dilate < 0)
        o.dilate = o.select == PK_ERASE_MASK ? PK_MAX(2, PK_MAX(w, h) / 200)
                                             : PK_MAX(4, PK_MAX(w, h) / 60);
    if (o.feather < 0) o.feather = o.dilate / 2;
    size_t n = (size_t)w * (size_t)h;
    pk_pool *pool = NULL;
    uint8_t *sel = pk_malloc(n);
    pk_status st = sel ? pk_pool_new(o.n_threads, &pool) : PK_ERR_NOMEM;
    if (st != PK_OK) goto out;
    if ((st = select_region(rgb, w, h, mask, &o, pool, sel, res)) != PK_OK) goto out;
    uint64_t ns = count_set(sel, n);
    if (res) res->n_selected = ns;
    if (ns == 0) {
        st = pk_err(PK_ERR_INVALID, "mask selects no pixel");
        goto out;
    }
    if (ns == n) {
        st = pk_err(PK_ERR_INVALID, "mask selects every pixel of the %dx%d photo: nothing is left "
                    "to fill from", w, h);
        goto out;
    }
    double t0 = pk_time_ms();
    st = pk_erase_fill(rgb, w, h, sel, o.dilate, o.feather, o.seed, pool,
                       res ? &res->n_filled : NULL);
    if (res) res->ms_fill = pk_time_ms() - t0;
out:
    pk_pool_free(pool);
    pk_free(sel);
    return st;
}

pk_status pk_erase_file(const char *in_path, const char *out_path,
                        const pk_erase_opts *opts, pk_erase_result *res) {
    pk_erase_opts o = opts ? *opts : pk_erase_default_opts();
    if (res) memset(res, 0, sizeof(*res));
    if (!in_path || !out_path) return pk_err(PK_ERR_INVALID, "erase: NULL path");
    if (pk_image_format_from_path(out_path) == PK_IMAGE_UNKNOWN)
        return pk_err(PK_ERR_INVALID, "%s: unknown image type: the name must end in .png, .jpg "
                      "or .jpeg", out_path);
    if (o.select == PK_ERASE_MASK && !o.mask_path)
        return pk_err(PK_ERR_INVALID, "erase: no mask file given");
    pk_image photo = { 0 }, mask = { 0 };
    pk_status st = pk_image_load(in_path, PK_IMAGE_RGB, &photo);
    if (st != PK_OK) goto out;
    if (o.select == PK_ERASE_MASK) {
        if ((st = pk_image_load(o.mask_path, PK_IMAGE_MASK, &mask)) != PK_OK) goto out;
        if (mask.w != photo.w || mask.h != photo.h) {
            st = pk_err(PK_ERR_INVALID, "mask %s is %dx%d but the photo %s is %dx%d", o.mask_path,
                        mask.w, mask.h, in_path, photo.w, photo.h);
            goto out;
        }
    }
    if ((st = pk_erase_rgb(photo.px, photo.w, photo.h, mask.px, &o, res)) != PK_OK) goto out;
    st = pk_image_save(out_path, photo.px, photo.w, photo.h, 3, o.quality);
out:
    pk_image_free(&photo);
    pk_image_free(&mask);
    return st;
}
