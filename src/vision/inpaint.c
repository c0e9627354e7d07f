/* inpaint.c: fill a hole in a photo (see inpaint.h). A pyramid of the photo
 * and its hole, down to where the hole is two patch radii deep; there the
 * hole starts as an onion-peel fill, then at every level Wexler's EM
 * alternates PatchMatch search (Barnes: propagation + random search; patch
 * SSD with known pixels weighted up and a penalty on far sources) with
 * weighted voting, and the field is upsampled to the next finer level. Levels
 * finer than max_side only refine near the hole (short search, one EM step);
 * the coarsest level and a solved level 0 get twice the EM steps.
 * A push-pull membrane then removes the seam at the hole border, and the
 * fill's low-pass layer is pulled towards a membrane (harmonic) fill from the
 * border, its texture kept (struct_texture). Threads work
 * on fixed row bands with their own seeded RNG, so the output never depends
 * on the thread count. */
#include "vision/inpaint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- types ---- */

enum {
    M_HOLE = 1,          /* mask bit: pixel to fill */
    M_SRC = 2,           /* mask bit: a patch centred here may be copied */
    BAND_H = 16,         /* rows per search band (fixed: determinism) */
    MAX_PATCH = 63,      /* SSD of a 63x63 RGB patch fits in int32 */
    DEF_PATCH = 13,
    REFINE_PATCH = 7,    /* largest patch above max_side (speed) */
    DEF_MAX_SIDE = 1024,
    DEF_ITERS = 5,
    REFINE_RADIUS = 6,   /* random search radius above max_side */
    COARSE_MIN_SIDE = 24, /* stop the pyramid below this longer side */
    COARSE_DEPTH = 2    /* or once the hole is this many patch radii deep */
};

typedef struct { int32_t x, y; } nn_t;

typedef struct level {
    int w, h;
    uint8_t *img;        /* (h, w, 3) RGB; hole pixels hold the estimate */
    uint8_t *m;          /* (h, w) M_HOLE | M_SRC bits */
    int64_t n_src;       /* pixels with M_SRC */
    uint32_t *src_list;  /* (n_src) their indices when rare, else NULL */
    int owns_img;        /* 0 for level 0: img is the caller's buffer */
} level;

/* The nearest-neighbour field of one level, over its region of interest:
 * the bounding box of the hole dilated by the patch radius. */
typedef struct field {
    int x0, y0, rw, rh;
    uint8_t *active;     /* (rh, rw) the patch centred here meets the hole:
                            1 all hole, 2 hole and known pixels, else 0 */
    nn_t *nn;            /* (rh, rw) source patch centre, level coordinates */
    float *d;            /* (rh, rw) patch SSD to the source, then vote weight */
    float *lconf;        /* (rh, rw) -log confidence (distance into the hole) */
    uint16_t *wsum;      /* (rh, rw) patch_dist_known weight total, where
                            the patch lies inside the image */
    uint8_t *next;       /* (rh, rw, 3) vote output */
} field;

typedef enum { T_DIST, T_SEARCH, T_WEIGHT, T_VOTE, T_COPY, T_UPSAMPLE } task_kind;

/* One pool task; every field is written by the caller between runs. */
typedef struct job {
    task_kind kind;
    level *L;
    const level *C;      /* coarser level (T_UPSAMPLE) */
    field *F;
    const field *CF;     /* coarser field (T_UPSAMPLE) */
    int r;               /* patch radius */
    int rmax;            /* random search radius */
    int sweep;           /* search sweep counter (direction, band shift) */
    int lev;
    uint64_t seed;
    float inv_2s2;       /* 1 / (2 sigma^2) for the similarity weight */
    float s2;            /* mean per-channel squared error of the matches */
    float loc;           /* distance penalty per squared pixel of offset */
    int known_w;         /* weight of known pixels in a target patch */
} job;

#define CONF_BASE 1.3f /* Wexler's confidence: weight CONF_BASE^-depth */
/* Locality: copying from a distance of the longer image side costs as much
 * as a mean squared error of LOC_PENALTY per channel and pixel. */
#define LOC_PENALTY 500.0f
/* Known pixels of a target patch count this many times its hole pixels. */
#define KNOWN_WEIGHT 8
/* Structure + texture split at the finest level (struct_texture). */
#define ST_SIGMA 3.0f  /* low-pass Gaussian sigma, pixels */
#define ST_LAMBDA 0.5f /* share of the membrane in the hole's low-pass layer */
#define ST_SWEEPS 50   /* SOR sweeps after the push-pull start */
/* The membrane's share shrinks as s2 / (s2 + ST_ERR0) with the mean squared
 * error s2 of the last matches: near-exact copies (a periodic texture) are
 * kept as they are. */
#define ST_ERR0 20.0f

/* ---- random numbers ---- */

static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 0x2545F4914F6CDD1Dull) >> 32);
}

/* uniform in [0, n) for n >= 1 */
static int rng_below(uint64_t *s, uint32_t n) {
    return (int)(((uint64_t)rng_next(s) * n) >> 32);
}

static uint64_t rng_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t s = mix64(seed ^ mix64(a ^ mix64(b ^ mix64(c))));
    return s ? s : 0x853C49E6748FEA9Bull;
}

/* ---- options ---- */

pk_inpaint_opts pk_inpaint_default_opts(void) {
    pk_inpaint_opts o = { .seed = 0, .patch = DEF_PATCH,
                          .max_side = DEF_MAX_SIDE, .iters = DEF_ITERS };
    return o;
}

/* ---- patches ---- */

static inline int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* SSD over RGB between the patches centred at p and s (coordinates clamped
 * at the image border). Stops early once the sum reaches cut. */
static int patch_dist(const level *L, int r, int px, int py, int sx, int sy,
                      int cut) {
    int w = L->w, h = L->h, sum = 0;
    const uint8_t *im = L->img;
    if (px >= r && py >= r && px < w - r && py < h - r && sx >= r && sy >= r &&
        sx < w - r && sy < h - r) {
        const uint8_t *a = im + ((size_t)(py - r) * w + (px - r)) * 3;
        const uint8_t *b = im + ((size_t)(sy - r) * w + (sx - r)) * 3;
        int n = (2 * r + 1) * 3;
        size_t stride = (size_t)w * 3;
        for (int dy = -r; dy <= r; dy++) {
            int row = 0;
            for (int i = 0; i < n; i++) {
                int e = a[i] - b[i];
                row += e * e;
            }
            sum += row;
            if (sum >= cut) return sum;
            a += stride;
            b += stride;
        }
        return sum;
    }
    for (int dy = -r; dy <= r; dy++) {
        const uint8_t *ra = im + (size_t)clampi(py + dy, 0, h - 1) * w * 3;
        const uint8_t *rb = im + (size_t)clampi(sy + dy, 0, h - 1) * w * 3;
        for (int dx = -r; dx <= r; dx++) {
            const uint8_t *a = ra + clampi(px + dx, 0, w - 1) * 3;
            const uint8_t *b = rb + clampi(sx + dx, 0, w - 1) * 3;
            for (int c = 0; c < 3; c++) {
                int e = a[c] - b[c];
                sum += e * e;
            }
        }
        if (sum >= cut) return sum;
    }
    return sum;
}

/* patch_dist for a target patch that holds known pixels: those count
 * known_w times (they are the truth the fill must continue), normalised
 * back to the scale of patch_dist (sum * n / total weight). Stops early
 * once the result reaches cut (returns cut then). */
static int patch_dist_known(const job *J, int px, int py, int sx, int sy, int cut) {
    const level *L = J->L;
    const field *F = J->F;
    int w = L->w, h = L->h, r = J->r, kn = J->known_w, kh = 1;
    int64_t n = (int64_t)(2 * r + 1) * (2 * r + 1), sum = 0, wsum = 0;
    if (px >= r && py >= r && px < w - r && py < h - r && sx >= r && sy >= r &&
        sx < w - r && sy < h - r) {
        wsum = F->wsum[(size_t)(py - F->y0) * F->rw + (px - F->x0)];
        int64_t lim = (int64_t)cut * wsum;
        const uint8_t *a = L->img + ((size_t)(py - r) * w + (px - r)) * 3;
        const uint8_t *b = L->img + ((size_t)(sy - r) * w + (sx - r)) * 3;
        const uint8_t *ma = L->m + (size_t)(py - r) * w + (px - r);
        for (int dy = -r; dy <= r; dy++) {
            for (int x = 0; x <= 2 * r; x++) {
                int e0 = a[3 * x] - b[3 * x], e1 = a[3 * x + 1] - b[3 * x + 1];
                int e2 = a[3 * x + 2] - b[3 * x + 2];
                sum += (int64_t)((ma[x] & M_HOLE) ? kh : kn) * (e0 * e0 + e1 * e1 + e2 * e2);
            }
            if (sum * n >= lim) return cut;
            a += (size_t)w * 3;
            b += (size_t)w * 3;
            ma += w;
        }
    } else {
        for (int dy = -r; dy <= r; dy++) {
            int ya = clampi(py + dy, 0, h - 1), yb = clampi(sy + dy, 0, h - 1);
            for (int dx = -r; dx <= r; dx++) {
                int xa = clampi(px + dx, 0, w - 1), xb = clampi(sx + dx, 0, w - 1);
                size_t ia = (size_t)ya * w + xa, ib = (size_t)yb * w + xb;
                int e2 = 0;
                for (int c = 0; c < 3; c++) {
                    int e = L->img[ia * 3 + c] - L->img[ib * 3 + c];
                    e2 += e * e;
                }
                int kw = (L->m[ia] & M_HOLE) ? kh : kn;
                sum += (int64_t)kw * e2;
                wsum += kw;
            }
        }
    }
    int64_t v = sum * n / wsum;
    return v >= cut ? cut : (int)v;
}

/* A random source centre (M_SRC set); at least one exists. */
static nn_t pick_src(const level *L, uint64_t *rs) {
    int w = L->w, h = L->h;
    if (L->src_list) {
        uint32_t i = L->src_list[rng_below(rs, (uint32_t)L->n_src)];
        return (nn_t){ (int32_t)(i % (uint32_t)w), (int32_t)(i / (uint32_t)w) };
    }
    /* here sources are at least 1/8 of the pixels */
    for (int t = 0; t < 4096; t++) {
        int x = rng_below(rs, (uint32_t)w), y = rng_below(rs, (uint32_t)h);
        if (L->m[(size_t)y * w + x] & M_SRC) return (nn_t){ x, y };
    }
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (L->m[i] & M_SRC) return (nn_t){ (int32_t)(i % w), (int32_t)(i / w) };
    return (nn_t){ 0, 0 };
}

/* ---- pool tasks ---- */

/* Rows [y0, y1) of band k of the region for a sweep (bands shift by half a
 * band every other sweep so that propagation crosses band borders). */
static int band_rows(const field *F, int sweep, int k, int *y0, int *y1) {
    int shift = (sweep & 1) ? BAND_H / 2 : 0;
    *y0 = PK_MAX(0, k * BAND_H - shift);
    *y1 = PK_MIN(F->rh, (k + 1) * BAND_H - shift);
    return *y0 < *y1;
}

static int n_bands(const field *F, int sweep) {
    int shift = (sweep & 1) ? BAND_H / 2 : 0;
    return (F->rh + shift + BAND_H - 1) / BAND_H;
}

/* Cost of copying the patch at (sx, sy) to (px, py): the SSD plus a
 * penalty growing with the squared distance (nearby content is likelier to
 * continue the surroundings). */
static int match_cost(const job *J, int px, int py, int sx, int sy, int cut,
                      int mixed) {
    float dx = (float)(sx - px), dy = (float)(sy - py);
    float pf = J->loc * (dx * dx + dy * dy);
    int pen = pf > 1e9f ? 1000000000 : (int)pf;
    if (pen >= cut) return cut;
    if (mixed && J->known_w > 1) return patch_dist_known(J, px, py, sx, sy, cut - pen) + pen;
    return patch_dist(J->L, J->r, px, py, sx, sy, cut - pen) + pen;
}

static void try_cand(const job *J, int px, int py, int cx, int cy, int mixed,
                     nn_t *best, float *bd) {
    const level *L = J->L;
    if (cx < 0 || cy < 0 || cx >= L->w || cy >= L->h) return;
    if (!(L->m[(size_t)cy * L->w + cx] & M_SRC)) return;
    if (cx == best->x && cy == best->y) return;
    int cut = *bd >= 2e9f ? 0x7FFFFFFF : (int)*bd;
    int d = match_cost(J, px, py, cx, cy, cut, mixed);
    if (d < cut) {
        *best = (nn_t){ cx, cy };
        *bd = (float)d;
    }
}

/* PatchMatch over one band: propagation from the previous pixel in scan
 * order (same band only) and random search around the best match. */
static void search_band(const job *J, int k) {
    const level *L = J->L;
    field *F = J->F;
    int y0, y1;
    if (!band_rows(F, J->sweep, k, &y0, &y1)) return;
    int dir = (J->sweep & 1) ? -1 : 1;
    uint64_t rs = rng_seed(J->seed, (uint64_t)J->lev, (uint64_t)J->sweep, (uint64_t)k);
    for (int t = 0; t < y1 - y0; t++) {
        int y = dir > 0 ? y0 + t : y1 - 1 - t;
        for (int u = 0; u < F->rw; u++) {
            int x = dir > 0 ? u : F->rw - 1 - u;
            size_t i = (size_t)y * F->rw + x;
            if (!F->active[i]) continue;
            int px = F->x0 + x, py = F->y0 + y, mixed = F->active[i] == 2;
            nn_t best = F->nn[i];
            float bd = F->d[i];
            int xn = x - dir, yn = y - dir;
            if (xn >= 0 && xn < F->rw && F->active[i - dir]) {
                nn_t c = F->nn[i - dir];
                try_cand(J, px, py, c.x + dir, c.y, mixed, &best, &bd);
            }
            if (yn >= y0 && yn < y1 && F->active[(size_t)yn * F->rw + x]) {
                nn_t c = F->nn[(size_t)yn * F->rw + x];
                try_cand(J, px, py, c.x, c.y + dir, mixed, &best, &bd);
            }
            for (int R = J->rmax; R >= 1; R /= 2) {
                int cx = best.x + rng_below(&rs, 2u * R + 1) - R;
                int cy = best.y + rng_below(&rs, 2u * R + 1) - R;
                try_cand(J, px, py, clampi(cx, 0, L->w - 1),
                         clampi(cy, 0, L->h - 1), mixed, &best, &bd);
            }
            F->nn[i] = best;
            F->d[i] = bd;
        }
    }
}

/* Weighted vote at pixel (qx, qy) of the region: each active patch covering
 * it proposes the pixel at the same offset in its source. OUT acc (3)
 * colour; returns the weight sum (0: no patch covers the pixel). */
static float vote_at(const job *J, int qx, int qy, float acc[3]) {
    const level *L = J->L;
    const field *F = J->F;
    int r = J->r, w = L->w, h = L->h;
    float ws = 0;
    acc[0] = acc[1] = acc[2] = 0;
    /* a hole pixel whose window lies in the region: every covering patch is
     * active and inside the image, so the checks can go */
    int inside = qx - r >= F->x0 && qy - r >= F->y0 && qx + r < F->x0 + F->rw &&
                 qy + r < F->y0 + F->rh && (L->m[(size_t)qy * w + qx] & M_HOLE);
    for (int dy = -r; dy <= r; dy++) {
        int py = qy - dy, fy = py - F->y0;
        if (!inside && (py < 0 || py >= h || fy < 0 || fy >= F->rh)) continue;
        for (int dx = -r; dx <= r; dx++) {
            int px = qx - dx, fx = px - F->x0;
            if (!inside && (px < 0 || px >= w || fx < 0 || fx >= F->rw)) continue;
            size_t j = (size_t)fy * F->rw + fx;
            if (!inside && !F->active[j]) continue;
            float wt = F->d[j];
            nn_t s = F->nn[j];
            int sx = clampi(s.x + dx, 0, w - 1), sy = clampi(s.y + dy, 0, h - 1);
            const uint8_t *c = L->img + ((size_t)sy * w + sx) * 3;
            acc[0] += wt * c[0];
            acc[1] += wt * c[1];
            acc[2] += wt * c[2];
            ws += wt;
        }
    }
    return ws;
}

/* The vote for the hole pixels of region rows [y0, y1), into F->next. */
static void vote_rows(const job *J, int y0, int y1) {
    const level *L = J->L;
    field *F = J->F;
    for (int y = y0; y < y1; y++) {
        int qy = F->y0 + y;
        for (int x = 0; x < F->rw; x++) {
            int qx = F->x0 + x;
            if (!(L->m[(size_t)qy * L->w + qx] & M_HOLE)) continue;
            float acc[3];
            float ws = vote_at(J, qx, qy, acc);
            uint8_t *o = F->next + ((size_t)y * F->rw + x) * 3;
            for (int c = 0; c < 3; c++) {
                float v = ws > 0 ? acc[c] / ws + 0.5f : 0;
                o[c] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
            }
        }
    }
}

/* Initial estimate and field of a level from the coarser one: bilinear
 * colour in the hole, source centres doubled (kept when still valid). */
static void upsample_rows(const job *J, int y0, int y1) {
    level *L = J->L;
    const level *C = J->C;
    field *F = J->F;
    const field *G = J->CF;
    int w = L->w, h = L->h;
    for (int y = y0; y < y1; y++) {
        int py = F->y0 + y;
        float cyf = (py + 0.5f) * 0.5f - 0.5f;
        int cy0 = (int)floorf(cyf);
        float fy = cyf - cy0;
        int ya = clampi(cy0, 0, C->h - 1), yb = clampi(cy0 + 1, 0, C->h - 1);
        for (int x = 0; x < F->rw; x++) {
            int px = F->x0 + x;
            size_t i = (size_t)y * F->rw + x;
            if (L->m[(size_t)py * w + px] & M_HOLE) {
                float cxf = (px + 0.5f) * 0.5f - 0.5f;
                int cx0 = (int)floorf(cxf);
                float fx = cxf - cx0;
                int xa = clampi(cx0, 0, C->w - 1), xb = clampi(cx0 + 1, 0, C->w - 1);
                const uint8_t *p00 = C->img + ((size_t)ya * C->w + xa) * 3;
                const uint8_t *p01 = C->img + ((size_t)ya * C->w + xb) * 3;
                const uint8_t *p10 = C->img + ((size_t)yb * C->w + xa) * 3;
                const uint8_t *p11 = C->img + ((size_t)yb * C->w + xb) * 3;
                uint8_t *o = L->img + ((size_t)py * w + px) * 3;
                for (int c = 0; c < 3; c++) {
                    float v = (1 - fy) * ((1 - fx) * p00[c] + fx * p01[c]) +
                              fy * ((1 - fx) * p10[c] + fx * p11[c]);
                    o[c] = (uint8_t)(v + 0.5f);
                }
            }
            if (!F->active[i]) continue;
            int gx = px / 2 - G->x0, gy = py / 2 - G->y0;
            nn_t s = { -1, -1 };
            if (gx >= 0 && gy >= 0 && gx < G->rw && gy < G->rh &&
                G->active[(size_t)gy * G->rw + gx]) {
                nn_t c = G->nn[(size_t)gy * G->rw + gx];
                s.x = clampi(2 * c.x + (px & 1), 0, w - 1);
                s.y = clampi(2 * c.y + (py & 1), 0, h - 1);
            }
            if (s.x < 0 || !(L->m[(size_t)s.y * w + s.x] & M_SRC)) {
                uint64_t rs = rng_seed(J->seed, (uint64_t)J->lev, 0xF111,
                                       (uint64_t)py * w + px);
                /* nearby first: the coarse match, shifted a little */
                nn_t b = s;
                s.x = -1;
                if (b.x >= 0)
                    for (int t = 0; t < 16 && s.x < 0; t++) {
                        int R = 1 + t / 2;
                        int cx = clampi(b.x + rng_below(&rs, 2u * R + 1) - R, 0, w - 1);
                        int cy = clampi(b.y + rng_below(&rs, 2u * R + 1) - R, 0, h - 1);
                        if (L->m[(size_t)cy * w + cx] & M_SRC) s = (nn_t){ cx, cy };
                    }
                if (s.x < 0) s = pick_src(L, &rs);
            }
            F->nn[i] = s;
        }
    }
}

static void task(void *arg, int ith, int nth) {
    const job *J = arg;
    field *F = J->F;
    const level *L = J->L;
    int lo = (int)((int64_t)F->rh * ith / nth), hi = (int)((int64_t)F->rh * (ith + 1) / nth);
    switch (J->kind) {
    case T_SEARCH:
        for (int k = ith; k < n_bands(F, J->sweep); k += nth) search_band(J, k);
        break;
    case T_DIST:
        for (int y = lo; y < hi; y++)
            for (int x = 0; x < F->rw; x++) {
                size_t i = (size_t)y * F->rw + x;
                if (!F->active[i]) continue;
                F->d[i] = (float)match_cost(J, F->x0 + x, F->y0 + y, F->nn[i].x,
                                            F->nn[i].y, 0x7FFFFFFF, F->active[i] == 2);
            }
        break;
    case T_WEIGHT: {
        float np = (float)((2 * J->r + 1) * (2 * J->r + 1) * 3);
        for (int y = lo; y < hi; y++)
            for (int x = 0; x < F->rw; x++) {
                size_t i = (size_t)y * F->rw + x;
                if (!F->active[i]) continue;
                float e = F->d[i] / np * J->inv_2s2 + F->lconf[i];
                F->d[i] = expf(-(e > 80 ? 80 : e));
            }
        break;
    }
    case T_VOTE:
        vote_rows(J, lo, hi);
        break;
    case T_COPY:
        for (int y = lo; y < hi; y++)
            for (int x = 0; x < F->rw; x++) {
                size_t q = (size_t)(F->y0 + y) * L->w + F->x0 + x;
                if (L->m[q] & M_HOLE)
                    memcpy(L->img + q * 3, F->next + ((size_t)y * F->rw + x) * 3, 3);
            }
        break;
    case T_UPSAMPLE:
        upsample_rows(J, lo, hi);
        break;
    }
}

static void run(pk_pool *pool, job *J, task_kind kind) {
    J->kind = kind;
    pk_pool_run(pool, task, J);
}

/* ---- level setup ---- */

/* Per row, the number of hole pixels within [x - r, x + r] (clamped), for
 * the rows and columns [x0, x0 + n) of a level: out (n) counts. */
static void row_window_count(const uint8_t *m, int w, int r, int x0, int n,
                             uint8_t *out) {
    int c = 0;
    for (int x = x0 - r; x <= x0 + r; x++)
        if (x >= 0 && x < w) c += m[x] & M_HOLE;
    for (int i = 0; i < n; i++) {
        int x = x0 + i;
        out[i] = (uint8_t)c;
        int xo = x - r, xi = x + r + 1;
        if (xo >= 0) c -= m[xo] & M_HOLE;
        if (xi < w) c += m[xi] & M_HOLE;
    }
}

/* Mark M_SRC: patch (clamped) free of hole pixels and, where the image is at
 * least a patch wide (tall), fully inside it. Falls back to "not a hole
 * pixel" when that leaves nothing. Builds the source list when rare. */
static pk_status mark_sources(level *L, int r) {
    int w = L->w, h = L->h;
    uint8_t *hc = pk_malloc((size_t)w * h);  /* (h, w) horizontal counts */
    if (!hc) return PK_ERR_NOMEM;
    for (int y = 0; y < h; y++)
        row_window_count(L->m + (size_t)y * w, w, r, 0, w, hc + (size_t)y * w);
    int64_t n = 0;
    int xlo = w > 2 * r ? r : 0, xhi = w > 2 * r ? w - r : w;
    int ylo = h > 2 * r ? r : 0, yhi = h > 2 * r ? h - r : h;
    int *col = pk_calloc((size_t)w, sizeof *col);
    if (!col) { pk_free(hc); return PK_ERR_NOMEM; }
    for (int y = -r; y <= r; y++)
        if (y >= 0 && y < h)
            for (int x = 0; x < w; x++) col[x] += hc[(size_t)y * w + x];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *mm = &L->m[(size_t)y * w + x];
            *mm &= (uint8_t)~M_SRC;
            if (col[x] == 0 && x >= xlo && x < xhi && y >= ylo && y < yhi) {
                *mm |= M_SRC;
                n++;
            }
        }
        int yo = y - r, yi = y + r + 1;
        for (int x = 0; x < w; x++) {
            if (yo >= 0) col[x] -= hc[(size_t)yo * w + x];
            if (yi < h) col[x] += hc[(size_t)yi * w + x];
        }
    }
    pk_free(col);
    pk_free(hc);
    if (n == 0)
        for (size_t i = 0; i < (size_t)w * h; i++)
            if (!(L->m[i] & M_HOLE)) {
                L->m[i] |= M_SRC;
                n++;
            }
    L->n_src = n;
    if (n < (int64_t)w * h / 8) {
        L->src_list = pk_malloc((size_t)n * sizeof *L->src_list);
        if (!L->src_list) return PK_ERR_NOMEM;
        int64_t k = 0;
        for (size_t i = 0; i < (size_t)w * h; i++)
            if (L->m[i] & M_SRC) L->src_list[k++] = (uint32_t)i;
    }
    return PK_OK;
}

/* Halve a level: a coarse pixel is a hole if any of its (up to 4) children
 * is; otherwise the mean of its children. */
static pk_status downsample(const level *F, level *C) {
    C->w = (F->w + 1) / 2;
    C->h = (F->h + 1) / 2;
    C->owns_img = 1;
    C->img = pk_malloc((size_t)C->w * C->h * 3);
    C->m = pk_calloc((size_t)C->w * C->h, 1);
    if (!C->img || !C->m) return PK_ERR_NOMEM;
    for (int y = 0; y < C->h; y++)
        for (int x = 0; x < C->w; x++) {
            int acc[3] = { 0, 0, 0 }, n = 0, hole = 0;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int fx = 2 * x + dx, fy = 2 * y + dy;
                    if (fx >= F->w || fy >= F->h) continue;
                    size_t i = (size_t)fy * F->w + fx;
                    hole |= F->m[i] & M_HOLE;
                    for (int c = 0; c < 3; c++) acc[c] += F->img[i * 3 + c];
                    n++;
                }
            size_t o = (size_t)y * C->w + x;
            C->m[o] = (uint8_t)hole;
            for (int c = 0; c < 3; c++)
                C->img[o * 3 + c] = hole ? 0 : (uint8_t)((acc[c] + n / 2) / n);
        }
    return PK_OK;
}

static void level_free(level *L) {
    if (L->owns_img) pk_free(L->img);
    pk_free(L->m);
    pk_free(L->src_list);
    memset(L, 0, sizeof *L);
}

static void field_free(field *F) {
    pk_free(F->active);
    pk_free(F->nn);
    pk_free(F->d);
    pk_free(F->lconf);
    pk_free(F->wsum);
    pk_free(F->next);
    memset(F, 0, sizeof *F);
}

/* Chamfer distance (steps 1 and sqrt 2) from each pixel of the region
 * (x0, y0, rw, rh) of a level to the nearest non-hole pixel of the region;
 * 1e9 where the region has none. OUT dd (rh, rw). */
static void chamfer(const level *L, int x0, int y0, int rw, int rh, float *dd) {
    const float D1 = 1.0f, D2 = 1.41421356f, BIG = 1e9f;
    int w = L->w;
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++) {
            size_t i = (size_t)y * rw + x;
            float v = (L->m[(size_t)(y0 + y) * w + x0 + x] & M_HOLE) ? BIG : 0;
            if (v > 0) {
                if (x > 0) v = PK_MIN(v, dd[i - 1] + D1);
                if (y > 0) {
                    v = PK_MIN(v, dd[i - rw] + D1);
                    if (x > 0) v = PK_MIN(v, dd[i - rw - 1] + D2);
                    if (x + 1 < rw) v = PK_MIN(v, dd[i - rw + 1] + D2);
                }
            }
            dd[i] = v;
        }
    for (int y = rh - 1; y >= 0; y--)
        for (int x = rw - 1; x >= 0; x--) {
            size_t i = (size_t)y * rw + x;
            float v = dd[i];
            if (v > 0) {
                if (x + 1 < rw) v = PK_MIN(v, dd[i + 1] + D1);
                if (y + 1 < rh) {
                    v = PK_MIN(v, dd[i + rw] + D1);
                    if (x + 1 < rw) v = PK_MIN(v, dd[i + rw + 1] + D2);
                    if (x > 0) v = PK_MIN(v, dd[i + rw - 1] + D2);
                }
            }
            dd[i] = v;
        }
}

/* Hole bounding box of a level (x1, y1 inclusive). */
static void hole_bbox(const level *L, int *x0, int *y0, int *x1, int *y1) {
    int w = L->w, h = L->h;
    *x0 = w, *y0 = h, *x1 = -1, *y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (L->m[(size_t)y * w + x] & M_HOLE) {
                if (x < *x0) *x0 = x;
                if (x > *x1) *x1 = x;
                if (y < *y0) *y0 = y;
                if (y > *y1) *y1 = y;
            }
}

/* How deep the hole is: the largest distance from a hole pixel to a known
 * one (the image border is not known). -1 when out of memory. */
static float hole_depth(const level *L) {
    int bx0, by0, bx1, by1;
    hole_bbox(L, &bx0, &by0, &bx1, &by1);
    if (bx1 < 0) return 0;
    bx0 = PK_MAX(0, bx0 - 1), by0 = PK_MAX(0, by0 - 1);
    bx1 = PK_MIN(L->w - 1, bx1 + 1), by1 = PK_MIN(L->h - 1, by1 + 1);
    int rw = bx1 - bx0 + 1, rh = by1 - by0 + 1;
    float *dd = pk_malloc((size_t)rw * rh * sizeof *dd), mx = 0;
    if (!dd) return -1;
    chamfer(L, bx0, by0, rw, rh, dd);
    for (size_t i = 0; i < (size_t)rw * rh; i++) mx = PK_MAX(mx, dd[i]);
    pk_free(dd);
    return mx;
}

/* Region, active map and confidence of a level's field. alpha_ln: log of
 * Wexler's confidence base (weight alpha^-distance into the hole). */
static pk_status field_init(const level *L, int r, float alpha_ln, field *F) {
    int w = L->w, h = L->h, bx0, by0, bx1, by1;
    hole_bbox(L, &bx0, &by0, &bx1, &by1);
    F->x0 = PK_MAX(0, bx0 - r);
    F->y0 = PK_MAX(0, by0 - r);
    F->rw = PK_MIN(w - 1, bx1 + r) - F->x0 + 1;
    F->rh = PK_MIN(h - 1, by1 + r) - F->y0 + 1;
    size_t n = (size_t)F->rw * F->rh;
    F->active = pk_malloc(n);
    F->nn = pk_malloc(n * sizeof *F->nn);
    F->d = pk_malloc(n * sizeof *F->d);
    F->lconf = pk_malloc(n * sizeof *F->lconf);
    F->next = pk_malloc(n * 3);
    F->wsum = pk_malloc(n * sizeof *F->wsum);
    uint8_t *hc = pk_malloc(n);
    if (!F->active || !F->nn || !F->d || !F->lconf || !F->next || !F->wsum || !hc) {
        pk_free(hc);
        return PK_ERR_NOMEM;
    }
    /* active: a hole pixel within the (2r+1)^2 window; the region holds
     * every such pixel, so windows may read rows and columns outside it */
    for (int y = 0; y < F->rh; y++)
        row_window_count(L->m + (size_t)(F->y0 + y) * w, w, r, F->x0, F->rw,
                         hc + (size_t)y * F->rw);
    for (int x = 0; x < F->rw; x++) {
        int c = 0;
        for (int y = -r; y <= r; y++)
            if (y >= 0 && y < F->rh) c += hc[(size_t)y * F->rw + x];
        for (int y = 0; y < F->rh; y++) {
            int px = F->x0 + x, py = F->y0 + y;
            int nin = (PK_MIN(px + r, w - 1) - PK_MAX(px - r, 0) + 1) *
                      (PK_MIN(py + r, h - 1) - PK_MAX(py - r, 0) + 1);
            F->active[(size_t)y * F->rw + x] = (uint8_t)(c == 0 ? 0 : c < nin ? 2 : 1);
            F->wsum[(size_t)y * F->rw + x] =
                (uint16_t)(c + KNOWN_WEIGHT * ((2 * r + 1) * (2 * r + 1) - c));
            int yo = y - r, yi = y + r + 1;
            if (yo >= 0) c -= hc[(size_t)yo * F->rw + x];
            if (yi < F->rh) c += hc[(size_t)yi * F->rw + x];
        }
    }
    pk_free(hc);
    chamfer(L, F->x0, F->y0, F->rw, F->rh, F->lconf);
    float *dd = F->lconf;
    const float BIG = 1e9f;
    for (size_t i = 0; i < n; i++) {
        float v = dd[i] >= BIG ? 40.0f : PK_MIN(dd[i], 40.0f);
        dd[i] = v * alpha_ln;
    }
    return PK_OK;
}

/* Coarsest level: onion peel. Layer by layer, each hole pixel touching
 * known (or already filled) pixels takes the mean of those neighbours. */
static pk_status onion_peel(level *L) {
    int w = L->w, h = L->h;
    size_t n = (size_t)w * h;
    uint8_t *known = pk_malloc(n), *nk = pk_malloc(n);
    if (!known || !nk) {
        pk_free(known);
        pk_free(nk);
        return PK_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) known[i] = !(L->m[i] & M_HOLE);
    for (int changed = 1; changed;) {
        changed = 0;
        memcpy(nk, known, n);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                if (known[i]) continue;
                int acc[3] = { 0, 0, 0 }, c = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                        size_t j = (size_t)yy * w + xx;
                        if (!known[j]) continue;
                        for (int k = 0; k < 3; k++) acc[k] += L->img[j * 3 + k];
                        c++;
                    }
                if (!c) continue;
                for (int k = 0; k < 3; k++)
                    L->img[i * 3 + k] = (uint8_t)((acc[k] + c / 2) / c);
                nk[i] = 1;
                changed = 1;
            }
        memcpy(known, nk, n);
    }
    pk_free(known);
    pk_free(nk);
    return PK_OK;
}

/* ---- seams ---- */

/* Push-pull membrane (Gortler et al. 1996): buf is (rh, rw, 4) with a
 * value per channel and a weight of 0 or 1; the pixels of weight 0 get a
 * smooth interpolation of the others (pull: weighted 2x2 means down to one
 * pixel; push: bilinear back up where a level has no data). Serial. */
static pk_status membrane(float *buf0, int rw, int rh) {
    int n_pl = 1;
    int pw[40], ph[40];
    size_t off[40], tot = 0;
    pw[0] = rw, ph[0] = rh;
    for (;;) {
        off[n_pl - 1] = tot;
        tot += (size_t)pw[n_pl - 1] * ph[n_pl - 1] * 4;
        if (pw[n_pl - 1] == 1 && ph[n_pl - 1] == 1) break;
        pw[n_pl] = (pw[n_pl - 1] + 1) / 2, ph[n_pl] = (ph[n_pl - 1] + 1) / 2;
        n_pl++;
    }
    /* coarser levels (ph, pw, 4): sum w*d, w; level 0 is buf0 */
    size_t n0 = (size_t)rw * rh * 4;
    float *buf = tot > n0 ? pk_calloc(tot - n0, sizeof *buf) : NULL;
    if (tot > n0 && !buf) return PK_ERR_NOMEM;
#define PL(l) ((l) ? buf + off[l] - n0 : buf0)
    for (int l = 1; l < n_pl; l++) {   /* pull */
        const float *f = PL(l - 1);
        float *g = PL(l);
        for (int y = 0; y < ph[l]; y++)
            for (int x = 0; x < pw[l]; x++) {
                float *o = g + ((size_t)y * pw[l] + x) * 4;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int fx = 2 * x + dx, fy = 2 * y + dy;
                        if (fx >= pw[l - 1] || fy >= ph[l - 1]) continue;
                        const float *a = f + ((size_t)fy * pw[l - 1] + fx) * 4;
                        for (int k = 0; k < 4; k++) o[k] += a[k];
                    }
                if (o[3] > 1)
                    for (int k = 0; k < 4; k++) o[k] /= o[3];
            }
    }
    float *top = PL(n_pl - 1);
    for (int k = 0; k < 3; k++) top[k] = top[3] > 0 ? top[k] / top[3] : 0;
    for (int l = n_pl - 2; l >= 0; l--) {   /* push: complete level l */
        const float *g = PL(l + 1);
        float *f = PL(l);
        int cw = pw[l + 1], ch = ph[l + 1];
        for (int y = 0; y < ph[l]; y++) {
            float cyf = (y + 0.5f) * 0.5f - 0.5f;
            int cy0 = (int)floorf(cyf);
            float fy = cyf - cy0;
            int ya = clampi(cy0, 0, ch - 1), yb = clampi(cy0 + 1, 0, ch - 1);
            for (int x = 0; x < pw[l]; x++) {
                float cxf = (x + 0.5f) * 0.5f - 0.5f;
                int cx0 = (int)floorf(cxf);
                float fx = cxf - cx0;
                int xa = clampi(cx0, 0, cw - 1), xb = clampi(cx0 + 1, 0, cw - 1);
                float *o = f + ((size_t)y * pw[l] + x) * 4;
                for (int k = 0; k < 3; k++) {
                    float up = (1 - fy) * ((1 - fx) * g[((size_t)ya * cw + xa) * 4 + k] +
                                           fx * g[((size_t)ya * cw + xb) * 4 + k]) +
                               fy * ((1 - fx) * g[((size_t)yb * cw + xa) * 4 + k] +
                                     fx * g[((size_t)yb * cw + xb) * 4 + k]);
                    o[k] += (1 - o[3]) * up;
                }
            }
        }
    }
#undef PL
    pk_free(buf);
    return PK_OK;
}

/* Make the fill meet the photo without a seam (Perez et al. 2003 in spirit,
 * a push-pull membrane in place of the Poisson solve): on the known pixels
 * next to the hole the fill's own vote differs from the photo by d; d is
 * interpolated smoothly over the hole by membrane() and added. Uses the
 * field and weights of the last vote. Serial, O(region). */
static pk_status seam_blend(const job *J) {
    level *L = J->L;
    const field *F = J->F;
    int w = L->w, h = L->h;
    float *buf = pk_calloc((size_t)F->rw * F->rh * 4, sizeof *buf);
    if (!buf) return PK_ERR_NOMEM;
    for (int y = 0; y < F->rh; y++)
        for (int x = 0; x < F->rw; x++) {
            int qx = F->x0 + x, qy = F->y0 + y, ring = 0;
            if (L->m[(size_t)qy * w + qx] & M_HOLE) continue;
            for (int dy = -1; dy <= 1 && !ring; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = qx + dx, yy = qy + dy;
                    if (xx >= 0 && yy >= 0 && xx < w && yy < h &&
                        (L->m[(size_t)yy * w + xx] & M_HOLE))
                        ring = 1;
                }
            float acc[3], ws;
            if (!ring || (ws = vote_at(J, qx, qy, acc)) <= 0) continue;
            float *o = buf + ((size_t)y * F->rw + x) * 4;
            const uint8_t *c = L->img + ((size_t)qy * w + qx) * 3;
            for (int k = 0; k < 3; k++) o[k] = c[k] - acc[k] / ws;
            o[3] = 1;
        }
    if (membrane(buf, F->rw, F->rh)) {
        pk_free(buf);
        return PK_ERR_NOMEM;
    }
    for (int y = 0; y < F->rh; y++)
        for (int x = 0; x < F->rw; x++) {
            size_t q = (size_t)(F->y0 + y) * w + F->x0 + x;
            if (!(L->m[q] & M_HOLE)) continue;
            const float *c = buf + ((size_t)y * F->rw + x) * 4;
            for (int k = 0; k < 3; k++) {
                float v = L->img[q * 3 + k] + c[k] + 0.5f;
                L->img[q * 3 + k] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
            }
        }
    pk_free(buf);
    return PK_OK;
}

/* Gaussian blur of a (rh, rw, 3) float image, edges clamped. */
static void gauss3(const float *in, float *out, float *tmp, int rw, int rh, float sigma) {
    int kr = (int)ceilf(3 * sigma);
    float k[64], ks = 0;
    if (kr > 31) kr = 31;
    for (int i = -kr; i <= kr; i++) ks += k[i + kr] = expf(-0.5f * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * kr; i++) k[i] /= ks;
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++)
            for (int c = 0; c < 3; c++) {
                float s = 0;
                for (int i = -kr; i <= kr; i++)
                    s += k[i + kr] * in[((size_t)y * rw + clampi(x + i, 0, rw - 1)) * 3 + c];
                tmp[((size_t)y * rw + x) * 3 + c] = s;
            }
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++)
            for (int c = 0; c < 3; c++) {
                float s = 0;
                for (int i = -kr; i <= kr; i++)
                    s += k[i + kr] * tmp[((size_t)clampi(y + i, 0, rh - 1) * rw + x) * 3 + c];
                out[((size_t)y * rw + x) * 3 + c] = s;
            }
}

/* Structure + texture (Bertalmio et al. 2003 in spirit): the fill is split
 * into a low-pass layer (Gaussian, sigma) and the residual texture; the
 * low-pass layer in the hole becomes lam times a membrane fill from the
 * known pixels (push-pull start, then red-black SOR sweeps of Laplace's
 * equation) plus 1 - lam times its own, and the texture is added back. The
 * patch fill alone continues structure as confidently as texture (a cliff
 * top carried on as a dome); the membrane pulls its coarse shape towards
 * the smooth, conditional-mean answer. Writes hole pixels only. Serial. */
static pk_status struct_texture(level *L, float sigma, float lam, int sweeps) {
    int w = L->w, h = L->h, bx0, by0, bx1, by1;
    hole_bbox(L, &bx0, &by0, &bx1, &by1);
    int pad = (int)ceilf(3 * sigma) + 2;
    int x0 = PK_MAX(0, bx0 - pad), y0 = PK_MAX(0, by0 - pad);
    int rw = PK_MIN(w - 1, bx1 + pad) - x0 + 1, rh = PK_MIN(h - 1, by1 + pad) - y0 + 1;
    size_t n = (size_t)rw * rh;
    /* bl: the low-pass layer (the fill copied into it first) */
    float *bl = pk_malloc(n * 3 * sizeof *bl), *tmp = pk_malloc(n * 3 * sizeof *tmp), *hm = NULL;
    pk_status st = PK_OK;
    if (!bl || !tmp) { st = PK_ERR_NOMEM; goto out; }
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++) {
            size_t q = (size_t)(y0 + y) * w + x0 + x, i = (size_t)y * rw + x;
            for (int c = 0; c < 3; c++) bl[i * 3 + c] = L->img[q * 3 + c];
        }
    gauss3(bl, bl, tmp, rw, rh, sigma);
    pk_free(tmp);
    tmp = NULL;
    if (!(hm = pk_calloc(n * 4, sizeof *hm))) { st = PK_ERR_NOMEM; goto out; }
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++) {
            size_t q = (size_t)(y0 + y) * w + x0 + x, i = (size_t)y * rw + x;
            if (L->m[q] & M_HOLE) continue;
            for (int c = 0; c < 3; c++) hm[i * 4 + c] = L->img[q * 3 + c];
            hm[i * 4 + 3] = 1;
        }
    if (membrane(hm, rw, rh)) { st = PK_ERR_NOMEM; goto out; }
    for (int s = 0; s < 2 * sweeps; s++)
        for (int y = 0; y < rh; y++)
            for (int x = (y + s) & 1; x < rw; x += 2) {
                size_t q = (size_t)(y0 + y) * w + x0 + x, i = (size_t)y * rw + x;
                if (!(L->m[q] & M_HOLE)) continue;
                size_t l = x > 0 ? i - 1 : i, r = x + 1 < rw ? i + 1 : i;
                size_t u = y > 0 ? i - rw : i, d = y + 1 < rh ? i + rw : i;
                for (int c = 0; c < 3; c++) {
                    float avg = 0.25f * (hm[l * 4 + c] + hm[r * 4 + c] + hm[u * 4 + c] + hm[d * 4 + c]);
                    hm[i * 4 + c] += 1.8f * (avg - hm[i * 4 + c]);
                }
            }
    for (int y = 0; y < rh; y++)
        for (int x = 0; x < rw; x++) {
            size_t q = (size_t)(y0 + y) * w + x0 + x, i = (size_t)y * rw + x;
            if (!(L->m[q] & M_HOLE)) continue;
            for (int c = 0; c < 3; c++) {
                /* lam * membrane + (1 - lam) * low-pass + (fill - low-pass) */
                float v = L->img[q * 3 + c] + lam * (hm[i * 4 + c] - bl[i * 3 + c]) + 0.5f;
                L->img[q * 3 + c] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
            }
        }
out:
    pk_free(bl);
    pk_free(tmp);
    pk_free(hm);
    return st;
}

/* ---- solve ---- */

/* sigma^2 of the similarity weight: mean per-channel squared error of the
 * current matches (serial, fixed order: deterministic). */
static float mean_err(const field *F, int r) {
    double s = 0;
    int64_t c = 0;
    for (size_t i = 0; i < (size_t)F->rw * F->rh; i++)
        if (F->active[i]) {
            s += F->d[i];
            c++;
        }
    double np = (double)(2 * r + 1) * (2 * r + 1) * 3;
    return c ? (float)(s / c / np) : 0;
}

static void vote(pk_pool *pool, job *J) {
    float s2 = J->s2 = mean_err(J->F, J->r);
    J->inv_2s2 = 1.0f / (2.0f * (s2 > 4.0f ? s2 : 4.0f));
    run(pool, J, T_WEIGHT);
    run(pool, J, T_VOTE);
    run(pool, J, T_COPY);
}

pk_status pk_inpaint(uint8_t *rgb, int w, int h, const uint8_t *mask,
                     const pk_inpaint_opts *opts, pk_pool *pool) {
    pk_inpaint_opts o = pk_inpaint_default_opts();
    level *lv = NULL;
    field F = { 0 }, G = { 0 };
    pk_status st = PK_OK;
    int n_lv = 0;
    if (!rgb || !mask) return pk_err(PK_ERR_INVALID, "inpaint: %s is NULL", rgb ? "mask" : "image");
    if (w < 1 || h < 1) return pk_err(PK_ERR_INVALID, "inpaint: image size %dx%d", w, h);
    if ((uint64_t)w * (uint64_t)h > (1ull << 28))
        return pk_err(PK_ERR_RANGE, "inpaint: image %dx%d above 2^28 pixels", w, h);
    if (opts) {
        if (opts->patch) o.patch = opts->patch;
        if (opts->max_side) o.max_side = opts->max_side;
        if (opts->iters) o.iters = opts->iters;
        o.seed = opts->seed;
        o.no_structure = opts->no_structure;
    }
    if (o.patch < 1 || o.patch > MAX_PATCH || !(o.patch & 1))
        return pk_err(PK_ERR_INVALID, "inpaint: patch %d (want odd, 1..%d)", o.patch, MAX_PATCH);
    if (o.max_side < 8)
        return pk_err(PK_ERR_INVALID, "inpaint: max_side %d (want >= 8)", o.max_side);
    if (o.iters < 1 || o.iters > 100)
        return pk_err(PK_ERR_INVALID, "inpaint: iters %d (want 1..100)", o.iters);
    size_t n = (size_t)w * h, n_hole = 0;
    for (size_t i = 0; i < n; i++) n_hole += mask[i] != 0;
    if (n_hole == 0) return pk_err(PK_ERR_INVALID, "inpaint: the mask has no hole pixel");
    if (n_hole == n)
        return pk_err(PK_ERR_INVALID, "inpaint: the mask covers the whole %dx%d image, "
                      "nothing to copy from", w, h);
    int r = o.patch / 2;
    double t_start = pk_time_ms();

    /* pyramid: level 0 is the caller's image; stop when the next level gets
     * too small, stops shrinking or loses its last known pixel */
    int max_lv = 32;
    lv = pk_calloc((size_t)max_lv, sizeof *lv);
    if (!lv) return PK_ERR_NOMEM;
    lv[0].w = w;
    lv[0].h = h;
    lv[0].img = rgb;
    lv[0].m = pk_malloc(n);
    n_lv = 1;
    if (!lv[0].m) { st = PK_ERR_NOMEM; goto fail; }
    for (size_t i = 0; i < n; i++) lv[0].m[i] = mask[i] ? M_HOLE : 0;
    for (;;) {
        level *P = &lv[n_lv - 1];
        int nw = (P->w + 1) / 2, nh = (P->h + 1) / 2;
        if (n_lv == max_lv || PK_MAX(nw, nh) < COARSE_MIN_SIDE || (nw == P->w && nh == P->h))
            break;
        float depth = hole_depth(P);
        if (depth < 0) { st = PK_ERR_NOMEM; goto fail; }
        if (depth <= COARSE_DEPTH * r) break;
        level *C = &lv[n_lv];
        if ((st = downsample(P, C))) { n_lv++; goto fail; }
        int64_t known = 0;
        for (size_t i = 0; i < (size_t)C->w * C->h; i++) known += !(C->m[i] & M_HOLE);
        if (!known) {
            level_free(C);
            break;
        }
        n_lv++;
    }
    pk_log(PK_LOG_DEBUG, "inpaint: %d levels, pyramid %.1f ms", n_lv, pk_time_ms() - t_start);
    /* the solve level: the finest one within max_side */
    int solve = n_lv - 1;
    while (solve > 0 && PK_MAX(lv[solve - 1].w, lv[solve - 1].h) <= o.max_side) solve--;

    job J = { .r = r, .seed = o.seed, .known_w = KNOWN_WEIGHT };
    int sweep = 0;
    for (int k = n_lv - 1; k >= 0; k--) {
        level *L = &lv[k];
        int coarsest = k == n_lv - 1, refine = k < solve;
        double t_lv = pk_time_ms();
        int rl = refine ? PK_MIN(r, REFINE_PATCH / 2) : r;
        J.r = rl;
        if ((st = mark_sources(L, rl))) goto fail;
        if ((st = field_init(L, rl, refine ? 0.0f : logf(CONF_BASE), &F))) goto fail;
        J.L = L;
        J.F = &F;
        J.lev = k;
        {
            float side = (float)PK_MAX(L->w, L->h);
            J.loc = LOC_PENALTY * (float)((2 * rl + 1) * (2 * rl + 1) * 3) / (side * side);
        }
        J.rmax = refine ? REFINE_RADIUS : PK_MAX(L->w, L->h);
        if (coarsest) {
            if ((st = onion_peel(L))) goto fail;
            for (int y = 0; y < F.rh; y++)
                for (int x = 0; x < F.rw; x++) {
                    size_t i = (size_t)y * F.rw + x;
                    uint64_t rs = rng_seed(o.seed, (uint64_t)k, 0x1417,
                                           (uint64_t)(F.y0 + y) * L->w + F.x0 + x);
                    if (F.active[i]) F.nn[i] = pick_src(L, &rs);
                }
            run(pool, &J, T_DIST);
        } else {
            J.C = &lv[k + 1];
            J.CF = &G;
            run(pool, &J, T_UPSAMPLE);
            field_free(&G);
            level_free(&lv[k + 1]);
            run(pool, &J, T_DIST);
            if (!refine) {
                vote(pool, &J);
                run(pool, &J, T_DIST);
            }
        }
        /* twice the EM steps at the coarsest level (it starts from the
         * onion peel) and at level 0 when it is solved (the last word on
         * the fill: 10 steps there add 0.002-0.003 SSIM, bench/ERASE.md) */
        int n_em = refine ? 1 : coarsest || k == 0 ? 2 * o.iters : o.iters;
        int n_sweep = coarsest ? 2 : 1;
        for (int e = 0; e < n_em; e++) {
            for (int s = 0; s < n_sweep; s++) {
                J.sweep = sweep++;
                run(pool, &J, T_SEARCH);
            }
            vote(pool, &J);
            if (e + 1 < n_em) run(pool, &J, T_DIST);
        }
        if (k == 0 && (st = seam_blend(&J))) goto fail;
        if (k == 0 && !o.no_structure &&
            (st = struct_texture(L, ST_SIGMA, ST_LAMBDA * J.s2 / (J.s2 + ST_ERR0), ST_SWEEPS)))
            goto fail;
        pk_log(PK_LOG_DEBUG, "inpaint: level %d %dx%d region %dx%d, %d EM steps, %.1f ms",
               k, L->w, L->h, F.rw, F.rh, n_em, pk_time_ms() - t_lv);
        G = F;
        memset(&F, 0, sizeof F);
    }
fail:
    field_free(&F);
    field_free(&G);
    for (int k = 0; k < n_lv; k++) level_free(&lv[k]);
    pk_free(lv);
    return st;
}
