/* seg.h: person segmentation for `pocket erase`. Runs the MediaPipe selfie
 * segmentation TFLite model (general 256x256 or landscape 256x144) through
 * pocket's own small TFLite interpreter (tflite.h) with the exact pre- and
 * post-processing of the MediaPipe runtime, and picks the person under a tap
 * (point) or inside a box as a connected component of the mask. */
#ifndef PK_SEG_H
#define PK_SEG_H

#include "base/base.h"

#include <stdint.h>

/* ---- model ---- */

typedef struct pk_seg pk_seg;

/* Default model location: env POCKET_SEG_MODEL when set and non-empty,
 * else the compile-time path PK_SEG_DEFAULT_MODEL (the build sets it to
 * <source dir>/../shared/images/segmentation/selfie_segmentation.tflite),
 * else "../shared/images/segmentation/selfie_segmentation.tflite" relative
 * to the working directory. Returns a static string; never NULL. The CLI's
 * --seg-model option overrides it. */
const char *pk_seg_default_model(void);

/* Load a selfie-segmentation TFLite file (path; NULL means
 * pk_seg_default_model()). The model must have one float32 NHWC input of
 * 3 channels and one float32 output of 1 channel. OUT *seg: caller owns,
 * free with pk_seg_free(). Errors: PK_ERR_IO (cannot read), PK_ERR_FORMAT
 * (malformed flatbuffer, with where and which offset), PK_ERR_UNSUPPORTED
 * (an operator or type the interpreter does not run). */
pk_status pk_seg_new(const char *path, pk_seg **seg);
void pk_seg_free(pk_seg *seg);

/* Model input size (e.g. 256x256 or 256 wide x 144 high). */
void pk_seg_input_size(const pk_seg *seg, int *w, int *h);

/* Optional thread pool for the convolutions (borrowed; must outlive the
 * seg or be reset with NULL). NULL (default): single-threaded. */
void pk_seg_set_pool(pk_seg *seg, pk_pool *pool);

/* Person probability for every pixel of an RGB photo.
 * rgb: w*h*3 bytes, row-major, top row first, stride w*3. OUT mask: w*h
 * floats in [0,1] (caller allocates), the MediaPipe result: the photo is
 * stretched to the model size (bilinear, half-pixel centres, clamp to edge,
 * no antialiasing), RGB/255 in, the output probability is rounded to 8 bits
 * (k/255) at model resolution and bilinearly upsampled to w x h.
 * A pk_seg runs one image at a time (not thread safe per handle). */
pk_status pk_seg_run(pk_seg *seg, const uint8_t *rgb, int w, int h,
                     float *mask);

/* Same, 8-bit: mask8[i] = round(probability * 255), the value the
 * reference runtime writes to its grayscale PNG. OUT mask8: w*h bytes. */
pk_status pk_seg_run_u8(pk_seg *seg, const uint8_t *rgb, int w, int h,
                        uint8_t *mask8);

/* Raw model call: in = model input tensor (h x w x 3 float32, [0,1]),
 * OUT out = model output (h x w float32). Sizes from pk_seg_input_size.
 * For tests and tools. */
pk_status pk_seg_forward(pk_seg *seg, const float *in, float *out);

/* The model input the photo becomes (pre-processing only): OUT in =
 * mh x mw x 3 floats, RGB / 255. For tests and tools. */
void pk_seg_preprocess(const pk_seg *seg, const uint8_t *rgb, int w, int h,
                       float *in);

/* ---- picking the person ---- */

/* Connected component (8-connected) of the pixels with mask8 > 127 that
 * contains the point (x, y). OUT comp: w*h bytes, 255 inside the component,
 * 0 elsewhere (caller allocates). OUT *n_pixels (may be NULL): its size.
 * Returns PK_ERR_RANGE when the point is outside the image and
 * PK_ERR_NOT_FOUND (comp all zero) when the pixel under the point is not
 * person; callers may then fall back to pk_seg_component_box() with a small
 * box around the point. */
pk_status pk_seg_component_point(const uint8_t *mask8, int w, int h, int x,
                                 int y, uint8_t *comp, size_t *n_pixels);

/* The largest 8-connected component of mask8 > 127 among the pixels inside
 * the box [bx, bx+bw) x [by, by+bh) (clipped to the image); the component
 * is returned whole, including its pixels outside the box. Same outputs as
 * above; PK_ERR_RANGE for a box that misses the image, PK_ERR_NOT_FOUND when
 * no person pixel lies in the box. */
pk_status pk_seg_component_box(const uint8_t *mask8, int w, int h, int bx,
                               int by, int bw, int bh, uint8_t *comp,
                               size_t *n_pixels);

#endif
