/* image.h: photos and masks in and out of pocket. Decodes JPEG (libjpeg-turbo,
 * EXIF orientation applied) and PNG (libpng, every colour type and depth) to
 * 8-bit RGB or to an 8-bit mask, and encodes PNG or JPEG, written atomically.
 * Input bytes are untrusted: every failure is an error naming the file and
 * what is wrong with it (truncated, corrupt, not an image, too large). */
#ifndef PK_IMAGE_H
#define PK_IMAGE_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

/* Largest image accepted, in pixels (width * height). */
#define PK_IMAGE_MAX_PIXELS (1u << 28)
/* Largest image file read, in bytes. */
#define PK_IMAGE_MAX_FILE ((size_t)1 << 30)

typedef struct pk_image {
    uint8_t *px; /* (h, w, ch) bytes, row-major, top row first, stride w*ch;
                    owned by the image, free with pk_image_free() */
    int w, h;
    int ch;      /* 3 = RGB, 1 = gray (masks) */
} pk_image;

/* What a decoder makes of the file. */
typedef enum pk_image_mode {
    /* 8-bit RGB. Gray is replicated, palettes expanded, 16-bit samples
     * scaled to 8 bits; an alpha channel (or a tRNS colour) is composited
     * over white, as a viewer shows it on a white page. CMYK JPEGs are
     * converted naively (Adobe inverted CMYK: R = C*K/255). */
    PK_IMAGE_RGB = 3,
    /* 8-bit gray mask. If the file has an alpha channel (or tRNS) and any
     * pixel is not fully opaque, the mask is the alpha (a cut-out or strokes
     * painted on a transparent layer); otherwise it is max(R, G, B) per
     * pixel, so that paint of any bright colour selects. */
    PK_IMAGE_MASK = 1
} pk_image_mode;

typedef enum pk_image_format {
    PK_IMAGE_UNKNOWN = 0,
    PK_IMAGE_PNG,
    PK_IMAGE_JPEG
} pk_image_format;

/* Format from the first bytes of a file (PNG signature, JPEG SOI). */
pk_image_format pk_image_sniff(const uint8_t *data, size_t size);
/* Format from a file name's extension: .png, .jpg, .jpeg (any case). */
pk_image_format pk_image_format_from_path(const char *path);

/* Decode a PNG or JPEG held in memory. name: used in error messages (a
 * path, or "<memory>"). JPEGs are turned upright as their EXIF Orientation
 * tag says (all 8 values; a missing or malformed EXIF block means 1).
 * Strict: data that ends early (even only the end marker) is an error.
 * OUT *img: caller owns; free with pk_image_free(). On failure *img is
 * zeroed. Errors: PK_ERR_FORMAT (not an image, corrupt, truncated),
 * PK_ERR_RANGE (zero width or height, more than PK_IMAGE_MAX_PIXELS),
 * PK_ERR_NOMEM. Thread safe (no shared state). */
pk_status pk_image_decode(const uint8_t *data, size_t size, const char *name,
                          pk_image_mode mode, pk_image *img);

/* The same with a lower size limit (max_pixels, capped at
 * PK_IMAGE_MAX_PIXELS): for callers that want less, e.g. the fuzz harness. */
pk_status pk_image_decode_max(const uint8_t *data, size_t size, const char *name,
                              pk_image_mode mode, uint64_t max_pixels, pk_image *img);

/* Read and decode a file (at most PK_IMAGE_MAX_FILE bytes). As above, plus
 * PK_ERR_IO when the file cannot be read. */
pk_status pk_image_load(const char *path, pk_image_mode mode, pk_image *img);

void pk_image_free(pk_image *img);

/* Encode px ((h, w, ch) bytes, ch 1 or 3) as PNG or JPEG. quality: JPEG
 * quality 1..100 (0 = 92; 4:4:4 chroma at 90 and above), ignored for PNG.
 * OUT *data: caller owns (pk_free), *size its length. */
pk_status pk_image_encode(const uint8_t *px, int w, int h, int ch,
                          pk_image_format fmt, int quality, uint8_t **data,
                          size_t *size);

/* Encode in the format the path's extension names and write the file
 * atomically: a temporary file beside it, fsync, rename. On any failure
 * (unknown extension, full disk, no such directory...) the temporary file
 * is removed, an existing file at path is left untouched, and the error
 * names the path. */
pk_status pk_image_save(const char *path, const uint8_t *px, int w, int h,
                        int ch, int quality);

/* The EXIF Orientation (1..8) in a JPEG APP1 payload (the bytes after the
 * marker's length field: "Exif\0\0" then a TIFF header, either byte order).
 * Every offset is checked against n; anything malformed, missing or out of
 * range gives 1 (upright). */
int pk_exif_orientation(const uint8_t *app1, size_t n);

/* Apply EXIF orientation o (1..8; others mean 1) to src ((h, w, ch) bytes,
 * ch 1 or 3) into dst, which is (w, h, ch) for o >= 5 (the sides swap) and
 * (h, w, ch) otherwise. 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
 * 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 anticlockwise. */
void pk_image_orient(const uint8_t *src, int w, int h, int ch, int o,
                     uint8_t *dst);

#endif
