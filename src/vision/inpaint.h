/* inpaint.h: fill a hole in a photo from the rest of it. Multi-scale
 * PatchMatch completion (Barnes et al. 2009 nearest-neighbour fields,
 * Wexler et al. 2007 voting), coarse to fine, threaded with pocket's pool.
 * The contract between `pocket erase` (erase.c) and the fill (inpaint.c). */
#ifndef PK_INPAINT_H
#define PK_INPAINT_H

#include "base/base.h"

#include <stdint.h>

typedef struct pk_inpaint_opts {
    uint64_t seed;   /* random search seed; same seed, same output */
    int patch;       /* patch side in pixels, odd; 0 = default (13); levels
                        finer than max_side use at most 7 */
    int max_side;    /* solve at most at this resolution (longer side), then
                        upsample the fill; 0 = default (chosen by inpaint.c) */
    int iters;       /* EM iterations per scale (twice that at the coarsest
                        level and at full resolution); 0 = default */
    int no_structure; /* 1: keep the voted fill as it is; 0 (default): its
                        low-pass layer is mixed with a membrane fill from
                        the hole border (less so where the patches match
                        near-exactly), its texture kept (inpaint.c) */
} pk_inpaint_opts;

/* Defaults for every field (seed 0). */
pk_inpaint_opts pk_inpaint_default_opts(void);

/* Fill the pixels of rgb (w*h*3 bytes, RGB, row-major, stride w*3) where
 * mask[i] != 0 (w*h bytes) with content synthesised from the pixels where
 * mask == 0. Pixels outside the mask are left bit-for-bit unchanged; the
 * caller blends or feathers if it wants to. opts may be NULL (defaults);
 * patch must be odd and at most 63. pool: borrowed, may be NULL
 * (single thread). Output is deterministic for a given seed, image, mask and
 * options, whatever the number of threads.
 * Errors: PK_ERR_INVALID (w or h < 1, NULL pointers, a mask with no hole
 * pixel, or no known pixel to copy from), PK_ERR_RANGE (image too large:
 * w*h*3 overflows or above 1<<28 pixels), PK_ERR_NOMEM. */
pk_status pk_inpaint(uint8_t *rgb, int w, int h, const uint8_t *mask,
                     const pk_inpaint_opts *opts, pk_pool *pool);

#endif
