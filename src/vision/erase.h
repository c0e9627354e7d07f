/* erase.h: `pocket erase` below the public API (pk_erase_rgb, pk_erase_file
 * in pocket.h): mask distance transform and dilation, and the fill step
 * that grows a selection, inpaints it (inpaint.h) and blends the result
 * back only inside the grown region. */
#ifndef PK_ERASE_H
#define PK_ERASE_H

#include "base/base.h"

#include <stdint.h>

/* Exact squared Euclidean distance from every pixel to the nearest pixel
 * with set[i] != 0 (Meijster, Roerdink & Hesselink 2000: a column pass,
 * then a lower envelope of parabolas per row; O(w*h)). set: w*h bytes.
 * OUT d2: w*h values (caller allocates); UINT32_MAX where set is empty or
 * the distance does not fit. Errors: PK_ERR_INVALID, PK_ERR_NOMEM. */
pk_status pk_mask_dist_sq(const uint8_t *set, int w, int h, uint32_t *d2);

/* Dilate by a disc of radius r >= 0: out[i] = 255 when some in[j] != 0 lies
 * within Euclidean distance r of pixel i (dx*dx + dy*dy <= r*r), else 0.
 * O(w*h) whatever r. out may not alias in. */
pk_status pk_mask_dilate(const uint8_t *in, int w, int h, int r, uint8_t *out);

/* Grow sel (w*h bytes, != 0 = erase) by dilate px, fill the grown region
 * of rgb (w*h*3, in place) with pk_inpaint(seed, pool), and blend: alpha 1
 * on sel, min(1, d / (feather + 1)) on the grown ring where d is the
 * distance to the nearest pixel outside the region; pixels outside it are
 * not written. OUT *n_filled (may be NULL): size of the grown region.
 * Errors: PK_ERR_INVALID when the grown region is empty or the whole
 * photo; pk_inpaint's. */
pk_status pk_erase_fill(uint8_t *rgb, int w, int h, const uint8_t *sel,
                        int dilate, int feather, uint64_t seed, pk_pool *pool,
                        uint64_t *n_filled);

#endif
