/* image.c: JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB or
 * masks, EXIF orientation, and encoding with atomic writes (image.h has
 * the contracts). Both libraries report errors by longjmp: all decoder and
 * encoder state lives in one heap struct per call, so nothing the longjmp
 * skips over is lost, and one cleanup path frees it. */
#include "image/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* A progressive JPEG may hold any number of scans, each a pass over the
 * whole image; real encoders write at most a few dozen. */
#define PK_JPEG_MAX_SCANS 256
#define PK_JPEG_MAX_SIDE 65500
#define PK_JPEG_DEFAULT_QUALITY 92

/* ---- formats ---- */

pk_image_format pk_image_sniff(const uint8_t *data, size_t size) {
    static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
    if (size >= 8 && !memcmp(data, png_sig, 8)) return PK_IMAGE_PNG;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return PK_IMAGE_JPEG;
    return PK_IMAGE_UNKNOWN;
}

pk_image_format pk_image_format_from_path(const char *path) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return PK_IMAGE_UNKNOWN;
    if (!strcasecmp(dot, ".png")) return PK_IMAGE_PNG;
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return PK_IMAGE_JPEG;
    return PK_IMAGE_UNKNOWN;
}

void pk_image_free(pk_image *img) {
    if (!img) return;
    pk_free(img->px);
    memset(img, 0, sizeof(*img));
}

/* w x h within limits (max_pixels), or an error naming the file and the
 * size. */
static pk_status check_dims(const char *name, const char *kind, uint64_t w,
                            uint64_t h, uint64_t max_pixels) {
    if (w == 0 || h == 0)
        return pk_err(PK_ERR_RANGE, "%s: %s image has zero width or height (%llux%llu)",
                      name, kind, (unsigned long long)w, (unsigned long long)h);
    if (w * h > max_pixels)
        return pk_err(PK_ERR_RANGE, "%s: %s image too large: %llux%llu is above the limit of %llu pixels",
                      name, kind, (unsigned long long)w, (unsigned long long)h,
                      (unsigned long long)max_pixels);
    return PK_OK;
}

/* ---- EXIF orientation ---- */

static uint32_t rd16(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? rd16(p, 1) | rd16(p + 2, 1) << 16 : rd16(p, 0) << 16 | rd16(p + 2, 0);
}

int pk_exif_orientation(const uint8_t *app1, size_t n) {
    if (!app1 || n < 6 + 8 || memcmp(app1, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *t = app1 + 6; /* TIFF header; offsets count from here */
    size_t tn = n - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd < 8 || ifd > tn || tn - ifd < 2) return 1;
    size_t count = rd16(t + ifd, le);
    size_t room = (tn - ifd - 2) / 12; /* whole entries that fit */
    if (count > room) count = room;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = t + ifd + 2 + 12 * i;
        if (rd16(e, le) != 0x0112) continue;
        uint32_t type = rd16(e + 2, le), cnt = rd32(e + 4, le), v;
        if (cnt != 1) return 1;
        if (type == 3) v = rd16(e + 8, le);       /* SHORT, as the spec says */
        else if (type == 4) v = rd32(e + 8, le);  /* LONG, seen in the wild */
        else return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

void pk_image_orient(const uint8_t *src, int w, int h, int ch, int o,
                     uint8_t *dst) {
    /* source (sx, sy) = (a*ox + b*oy + c, d*ox + e*oy + f), with c and f
     * in units of (w - 1) and (h - 1): every orientation is affine */
    static const int8_t T[9][6] = {
        { 1, 0, 0, 0, 1, 0 },  { 1, 0, 0, 0, 1, 0 },  { -1, 0, 1, 0, 1, 0 },
        { -1, 0, 1, 0, -1, 1 }, { 1, 0, 0, 0, -1, 1 }, { 0, 1, 0, 1, 0, 0 },
        { 0, 1, 0, -1, 0, 1 },  { 0, -1, 1, -1, 0, 1 }, { 0, -1, 1, 1, 0, 0 },
    };
    if (o < 1 || o > 8) o = 1;
    const int8_t *t = T[o];
    int ow = o >= 5 ? h : w, oh = o >= 5 ? w : h;
    ptrdiff_t step_x = ((ptrdiff_t)t[3] * w + t[0]) * ch; /* per output column */
    ptrdiff_t step_y = ((ptrdiff_t)t[4] * w + t[1]) * ch; /* per output row */
    /* offsets, not pointers: stepping past either end is not formed */
    ptrdiff_t row = ((ptrdiff_t)t[5] * (h - 1) * w + (ptrdiff_t)t[2] * (w - 1)) * ch;
    for (int oy = 0; oy < oh; oy++, row += step_y) {
        ptrdiff_t at = row;
        uint8_t *q = dst + (size_t)oy * ow * ch;
        if (ch == 3) {
            for (int ox = 0; ox < ow; ox++, at += step_x, q += 3) {
                q[0] = src[at];
                q[1] = src[at + 1];
                q[2] = src[at + 2];
            }
        } else {
            for (int ox = 0; ox < ow; ox++, at += step_x) q[ox] = src[at];
        }
    }
}

/* ---- pixel conversion ---- */

/* RGBA (n pixels) to RGB over white, or to a mask (alpha when any pixel is
 * translucent, else max(R,G,B)), in place. */
static void from_rgba(uint8_t *px, size_t n, pk_image_mode mode) {
    if (mode == PK_IMAGE_RGB) {
        for (size_t i = 0; i < n; i++) {
            unsigned a = px[4 * i + 3];
            for (int c = 0; c < 3; c++)
                px[3 * i + c] = (uint8_t)((px[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
        }
        return;
    }
    int translucent = 0;
    for (size_t i = 0; i < n && !translucent; i++) translucent = px[4 * i + 3] != 255;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = px + 4 * i;
        px[i] = translucent ? p[3] : PK_MAX(p[0], PK_MAX(p[1], p[2]));
    }
}

/* RGB to mask (max of the channels), in place. */
static void rgb_to_mask(uint8_t *px, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = px + 3 * i;
        px[i] = PK_MAX(p[0], PK_MAX(p[1], p[2]));
    }
}

/* ---- JPEG ---- */

typedef struct jerr_jmp {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int truncated;       /* the source ran dry (JWRN_JPEG_EOF) */
    int too_many_scans;
    char msg[JMSG_LENGTH_MAX];
} jerr_jmp;

static void jerr_exit(j_common_ptr c) {
    jerr_jmp *e = (jerr_jmp *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings: running out of data is fatal (strict about truncation); other
 * corrupt-data warnings are counted and the decoder goes on, as viewers do. */
static void jerr_emit(j_common_ptr c, int level) {
    jerr_jmp *e = (jerr_jmp *)c->err;
    if (level >= 0) return;
    if (c->err->msg_code == JWRN_JPEG_EOF) {
        e->truncated = 1;
        longjmp(e->jb, 1);
    }
    c->err->num_warnings++;
}

static void jprogress(j_common_ptr c) {
    if (!c->is_decompressor) return;
    if (((j_decompress_ptr)c)->input_scan_number > PK_JPEG_MAX_SCANS) {
        ((jerr_jmp *)c->err)->too_many_scans = 1;
        longjmp(((jerr_jmp *)c->err)->jb, 1);
    }
}

typedef struct jdec {
    struct jpeg_decompress_struct cinfo;
    jerr_jmp err;
    struct jpeg_progress_mgr prog;
    uint8_t *px;   /* (h, w, 3) */
    uint8_t *row;  /* one CMYK row */
    uint8_t *turned;
} jdec;

static pk_status jpeg_decode(const uint8_t *data, size_t size, const char *name,
                             pk_image_mode mode, uint64_t max_pixels, pk_image *img) {
    jdec *d = pk_calloc(1, sizeof(*d));
    if (!d) return PK_ERR_NOMEM;
    pk_status st = PK_OK;
    d->cinfo.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = jerr_exit;
    d->err.pub.emit_message = jerr_emit;
    if (setjmp(d->err.jb)) {
        if (d->err.truncated)
            st = pk_err(PK_ERR_FORMAT, "%s: truncated JPEG: the data ends before the image does", name);
        else if (d->err.too_many_scans)
            st = pk_err(PK_ERR_FORMAT, "%s: corrupt JPEG: more than %d progressive scans", name,
                        PK_JPEG_MAX_SCANS);
        else if (d->err.pub.msg_code == JERR_EMPTY_IMAGE)
            st = pk_err(PK_ERR_RANGE, "%s: JPEG image has zero width, height or components", name);
        else if (d->err.pub.msg_code == JERR_OUT_OF_MEMORY)
            st = pk_err(PK_ERR_NOMEM, "%s: out of memory decoding JPEG", name);
        else
            st = pk_err(PK_ERR_FORMAT, "%s: corrupt JPEG: %s", name, d->err.msg);
        goto out;
    }
    jpeg_create_decompress(&d->cinfo);
    d->prog.progress_monitor = jprogress;
    d->cinfo.progress = &d->prog;
    jpeg_mem_src(&d->cinfo, data, (unsigned long)size);
    jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&d->cinfo, TRUE);
    st = check_dims(name, "JPEG", d->cinfo.image_width, d->cinfo.image_height, max_pixels);
    if (st != PK_OK) goto out;
    int orient = 1;
    for (jpeg_saved_marker_ptr m = d->cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && !memcmp(m->data, "Exif\0\0", 6)) {
            orient = pk_exif_orientation(m->data, m->data_length);
            break;
        }
    }
    int cmyk = d->cinfo.jpeg_color_space == JCS_CMYK || d->cinfo.jpeg_color_space == JCS_YCCK;
    d->cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&d->cinfo);
    int w = (int)d->cinfo.output_width, h = (int)d->cinfo.output_height;
    if (d->cinfo.output_components != (cmyk ? 4 : 3)) {
        st = pk_err(PK_ERR_FORMAT, "%s: JPEG decodes to %d components, expected %d", name,
                    d->cinfo.output_components, cmyk ? 4 : 3);
        goto out;
    }
    size_t n = (size_t)w * (size_t)h; /* <= PK_IMAGE_MAX_PIXELS: no overflow below */
    d->px = pk_malloc(n * 3);
    d->row = cmyk ? pk_malloc((size_t)w * 4) : NULL;
    if (!d->px || (cmyk && !d->row)) {
        st = PK_ERR_NOMEM;
        goto out;
    }
    int inverted = d->cinfo.saw_Adobe_marker; /* Adobe writes CMYK inverted */
    while (d->cinfo.output_scanline < d->cinfo.output_height) {
        uint8_t *dst = d->px + (size_t)d->cinfo.output_scanline * w * 3;
        JSAMPROW row = cmyk ? d->row : dst;
        if (jpeg_read_scanlines(&d->cinfo, &row, 1) != 1) {
            st = pk_err(PK_ERR_FORMAT, "%s: corrupt JPEG: decoder stopped at row %u of %d", name,
                        d->cinfo.output_scanline, h);
            goto out;
        }
        for (int x = 0; cmyk && x < w; x++) {
            unsigned k = d->row[4 * x + 3];
            if (!inverted) k = 255 - k;
            for (int c = 0; c < 3; c++) {
                unsigned v = d->row[4 * x + c];
                if (!inverted) v = 255 - v;
                dst[3 * x + c] = (uint8_t)((v * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&d->cinfo);
    if (d->err.pub.num_warnings)
        pk_log(PK_LOG_INFO, "%s: JPEG decoded with %ld corrupt-data warnings", name,
               d->err.pub.num_warnings);
    int ch = 3;
    if (mode == PK_IMAGE_MASK) {
        rgb_to_mask(d->px, n);
        ch = 1;
    }
    if (orient != 1) {
        if (!(d->turned = pk_malloc(n * (size_t)ch))) {
            st = PK_ERR_NOMEM;
            goto out;
        }
        pk_image_orient(d->px, w, h, ch, orient, d->turned);
        pk_free(d->px);
        d->px = d->turned;
        d->turned = NULL;
        if (orient >= 5) {
            int t = w;
            w = h;
            h = t;
        }
    }
    img->px = d->px;
    img->w = w;
    img->h = h;
    img->ch = ch;
    d->px = NULL;
out:
    jpeg_destroy_decompress(&d->cinfo);
    pk_free(d->px);
    pk_free(d->row);
    pk_free(d->turned);
    pk_free(d);
    return st;
}

/* ---- PNG ---- */

typedef struct pdec {
    png_structp png;
    png_infop info;
    const uint8_t *data;
    size_t size, pos;
    int truncated;
    char msg[256];
    uint8_t *px;      /* (h, w, 4) */
    png_bytep *rows;  /* h pointers into px */
} pdec;

static void png_err_fn(png_structp png, png_const_charp msg) {
    pdec *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof(d->msg), "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn_fn(png_structp png, png_const_charp msg) {
    (void)png;
    pk_log(PK_LOG_DEBUG, "png: %s", msg);
}

static void png_read_fn(png_structp png, png_bytep out, size_t n) {
    pdec *d = png_get_io_ptr(png);
    if (n > d->size - d->pos) {
        d->truncated = 1;
        png_error(png, "truncated");
    }
    memcpy(out, d->data + d->pos, n);
    d->pos += n;
}

static pk_status png_decode(const uint8_t *data, size_t size, const char *name,
                            pk_image_mode mode, uint64_t max_pixels, pk_image *img) {
    /* The size in the IHDR, checked before libpng allocates anything. */
    if (size >= 24 && !memcmp(data + 12, "IHDR", 4)) {
        pk_status st =
            check_dims(name, "PNG", rd32(data + 16, 0), rd32(data + 20, 0), max_pixels);
        if (st != PK_OK) return st;
    }
    pdec *d = pk_calloc(1, sizeof(*d));
    if (!d) return PK_ERR_NOMEM;
    pk_status st = PK_OK;
    d->data = data;
    d->size = size;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_err_fn, png_warn_fn);
    if (!d->png || !(d->info = png_create_info_struct(d->png))) {
        st = pk_err(PK_ERR_NOMEM, "%s: out of memory for the PNG decoder", name);
        goto out;
    }
    if (setjmp(png_jmpbuf(d->png))) {
        if (d->truncated)
            st = pk_err(PK_ERR_FORMAT, "%s: truncated PNG: the data ends before the image does", name);
        else
            st = pk_err(PK_ERR_FORMAT, "%s: corrupt PNG: %s", name, d->msg);
        goto out;
    }
    png_set_read_fn(d->png, d, png_read_fn);
    png_set_user_limits(d->png, 0x7fffffff, 0x7fffffff); /* check_dims decides */
    png_read_info(d->png, d->info);
    png_uint_32 w32, h32;
    int depth, color;
    png_get_IHDR(d->png, d->info, &w32, &h32, &depth, &color, NULL, NULL, NULL);
    if ((st = check_dims(name, "PNG", w32, h32, max_pixels)) != PK_OK) goto out;
    int has_alpha = (color & PNG_COLOR_MASK_ALPHA) || png_get_valid(d->png, d->info, PNG_INFO_tRNS);
    png_set_expand(d->png);   /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_scale_16(d->png);
    png_set_gray_to_rgb(d->png);
    if (!has_alpha) png_set_add_alpha(d->png, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    size_t w = w32, h = h32, n = w * h;
    if (png_get_rowbytes(d->png, d->info) != w * 4) {
        st = pk_err(PK_ERR_FORMAT, "%s: PNG rows decode to %zu bytes, expected %zu", name,
                    (size_t)png_get_rowbytes(d->png, d->info), w * 4);
        goto out;
    }
    d->px = pk_malloc(n * 4);
    d->rows = pk_malloc(h * sizeof(*d->rows));
    if (!d->px || !d->rows) {
        st = PK_ERR_NOMEM;
        goto out;
    }
    for (size_t y = 0; y < h; y++) d->rows[y] = d->px + y * w * 4;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL);
    from_rgba(d->px, n, mode);
    int ch = mode == PK_IMAGE_MASK ? 1 : 3;
    uint8_t *shrunk = pk_realloc(d->px, n * (size_t)ch);
    if (shrunk) d->px = shrunk;
    pk_err_clear(); /* a failed shrink is no error */
    img->px = d->px;
    img->w = (int)w;
    img->h = (int)h;
    img->ch = ch;
    d->px = NULL;
out:
    png_destroy_read_struct(d->png ? &d->png : NULL, d->info ? &d->info : NULL, NULL);
    pk_free(d->px);
    pk_free(d->rows);
    pk_free(d);
    return st;
}

/* ---- decoding entry points ---- */

pk_status pk_image_decode_max(const uint8_t *data, size_t size, const char *name,
                              pk_image_mode mode, uint64_t max_pixels, pk_image *img) {
    if (!img) return pk_err(PK_ERR_INVALID, "pk_image_decode: NULL image");
    memset(img, 0, sizeof(*img));
    if (!name) name = "<memory>";
    if (!data || size == 0) return pk_err(PK_ERR_FORMAT, "%s: empty file, not an image", name);
    if (mode != PK_IMAGE_RGB && mode != PK_IMAGE_MASK)
        return pk_err(PK_ERR_INVALID, "%s: unknown decode mode %d", name, (int)mode);
    if (max_pixels > PK_IMAGE_MAX_PIXELS) max_pixels = PK_IMAGE_MAX_PIXELS;
    switch (pk_image_sniff(data, size)) {
    case PK_IMAGE_PNG: return png_decode(data, size, name, mode, max_pixels, img);
    case PK_IMAGE_JPEG: return jpeg_decode(data, size, name, mode, max_pixels, img);
    default: break;
    }
    return pk_err(PK_ERR_FORMAT, "%s: not an image (neither PNG nor JPEG: starts with %02x %02x %02x %02x)",
                  name, data[0], size > 1 ? data[1] : 0, size > 2 ? data[2] : 0,
                  size > 3 ? data[3] : 0);
}

pk_status pk_image_decode(const uint8_t *data, size_t size, const char *name,
                          pk_image_mode mode, pk_image *img) {
    return pk_image_decode_max(data, size, name, mode, PK_IMAGE_MAX_PIXELS, img);
}

pk_status pk_image_load(const char *path, pk_image_mode mode, pk_image *img) {
    if (!img || !path) return pk_err(PK_ERR_INVALID, "pk_image_load: NULL argument");
    memset(img, 0, sizeof(*img));
    char *data = NULL;
    size_t len = 0;
    pk_status st = pk_read_file(path, PK_IMAGE_MAX_FILE, &data, &len);
    if (st != PK_OK) return st;
    st = pk_image_decode((const uint8_t *)data, len, path, mode, img);
    pk_free(data);
    return st;
}

/* ---- encoding ---- */

typedef struct penc {
    png_structp png;
    png_infop info;
    pk_buf buf;
    char msg[256];
} penc;

static void penc_err_fn(png_structp png, png_const_charp msg) {
    penc *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof(e->msg), "%s", msg);
    png_longjmp(png, 1);
}

static void penc_write_fn(png_structp png, png_bytep p, size_t n) {
    penc *e = png_get_io_ptr(png);
    pk_buf_put(&e->buf, p, n);
    if (e->buf.fail) png_error(png, "out of memory");
}

static void penc_flush_fn(png_structp png) { (void)png; }

static pk_status png_encode(const uint8_t *px, int w, int h, int ch, uint8_t **data,
                            size_t *size) {
    penc *e = pk_calloc(1, sizeof(*e));
    if (!e) return PK_ERR_NOMEM;
    pk_status st = PK_OK;
    e->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, penc_err_fn, png_warn_fn);
    if (!e->png || !(e->info = png_create_info_struct(e->png))) {
        st = pk_err(PK_ERR_NOMEM, "out of memory for the PNG encoder");
        goto out;
    }
    if (setjmp(png_jmpbuf(e->png))) {
        st = e->buf.fail ? PK_ERR_NOMEM : pk_err(PK_ERR_INVALID, "PNG encoder: %s", e->msg);
        goto out;
    }
    png_set_write_fn(e->png, e, penc_write_fn, penc_flush_fn);
    /* zlib level 3 and three filters instead of 6 and all five: about 3x
     * faster on photos for about 15% more bytes (bench/image_io) */
    png_set_compression_level(e->png, 3);
    png_set_filter(e->png, 0, PNG_FILTER_SUB | PNG_FILTER_UP | PNG_FILTER_PAETH);
    png_set_IHDR(e->png, e->info, (png_uint_32)w, (png_uint_32)h, 8,
                 ch == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(e->png, e->info);
    for (int y = 0; y < h; y++) png_write_row(e->png, px + (size_t)y * w * ch);
    png_write_end(e->png, e->info);
    *data = (uint8_t *)e->buf.p;
    *size = e->buf.n;
    e->buf.p = NULL;
out:
    png_destroy_write_struct(e->png ? &e->png : NULL, e->info ? &e->info : NULL);
    pk_free(e->buf.p);
    pk_free(e);
    return st;
}

typedef struct jenc {
    struct jpeg_compress_struct cinfo;
    jerr_jmp err;
    unsigned char *out; /* libjpeg's malloc'd destination */
    unsigned long out_size;
} jenc;

static pk_status jpeg_encode(const uint8_t *px, int w, int h, int ch, int quality,
                             uint8_t **data, size_t *size) {
    if (w > PK_JPEG_MAX_SIDE || h > PK_JPEG_MAX_SIDE)
        return pk_err(PK_ERR_RANGE, "JPEG cannot hold a %dx%d image (at most %d per side)", w, h,
                      PK_JPEG_MAX_SIDE);
    jenc *e = pk_calloc(1, sizeof(*e));
    if (!e) return PK_ERR_NOMEM;
    pk_status st = PK_OK;
    e->cinfo.err = jpeg_std_error(&e->err.pub);
    e->err.pub.error_exit = jerr_exit;
    e->err.pub.emit_message = jerr_emit;
    if (setjmp(e->err.jb)) {
        st = pk_err(PK_ERR_INVALID, "JPEG encoder: %s", e->err.msg);
        goto out;
    }
    jpeg_create_compress(&e->cinfo);
    jpeg_mem_dest(&e->cinfo, &e->out, &e->out_size);
    e->cinfo.image_width = (JDIMENSION)w;
    e->cinfo.image_height = (JDIMENSION)h;
    e->cinfo.input_components = ch;
    e->cinfo.in_color_space = ch == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&e->cinfo);
    jpeg_set_quality(&e->cinfo, quality, TRUE);
    if (ch == 3 && quality >= 90) { /* no chroma subsampling at high quality */
        e->cinfo.comp_info[0].h_samp_factor = 1;
        e->cinfo.comp_info[0].v_samp_factor = 1;
    }
    e->cinfo.optimize_coding = TRUE;
    jpeg_start_compress(&e->cinfo, TRUE);
    while (e->cinfo.next_scanline < e->cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)e->cinfo.next_scanline * w * ch);
        jpeg_write_scanlines(&e->cinfo, &row, 1);
    }
    jpeg_finish_compress(&e->cinfo);
    if (!(*data = pk_malloc(e->out_size))) {
        st = PK_ERR_NOMEM;
        goto out;
    }
    memcpy(*data, e->out, e->out_size);
    *size = e->out_size;
out:
    jpeg_destroy_compress(&e->cinfo);
    free(e->out);
    pk_free(e);
    return st;
}

pk_status pk_image_encode(const uint8_t *px, int w, int h, int ch,
                          pk_image_format fmt, int quality, uint8_t **data,
                          size_t *size) {
    if (!data || !size) return pk_err(PK_ERR_INVALID, "pk_image_encode: NULL output");
    *data = NULL;
    *size = 0;
    if (!px || (ch != 1 && ch != 3))
        return pk_err(PK_ERR_INVALID, "pk_image_encode: need pixels with 1 or 3 channels");
    pk_status st = check_dims("pk_image_encode", "the", (uint64_t)(w > 0 ? w : 0),
                              (uint64_t)(h > 0 ? h : 0), PK_IMAGE_MAX_PIXELS);
    if (st != PK_OK) return st;
    if (quality == 0) quality = PK_JPEG_DEFAULT_QUALITY;
    if (quality < 1 || quality > 100)
        return pk_err(PK_ERR_INVALID, "JPEG quality %d is not in 1..100", quality);
    if (fmt == PK_IMAGE_PNG) return png_encode(px, w, h, ch, data, size);
    if (fmt == PK_IMAGE_JPEG) return jpeg_encode(px, w, h, ch, quality, data, size);
    return pk_err(PK_ERR_INVALID, "pk_image_encode: unknown format %d", (int)fmt);
}

pk_status pk_image_save(const char *path, const uint8_t *px, int w, int h,
                        int ch, int quality) {
    if (!path) return pk_err(PK_ERR_INVALID, "pk_image_save: NULL path");
    pk_image_format fmt = pk_image_format_from_path(path);
    if (fmt == PK_IMAGE_UNKNOWN)
        return pk_err(PK_ERR_INVALID, "%s: unknown image type: the name must end in .png, .jpg or .jpeg",
                      path);
    uint8_t *data = NULL;
    size_t size = 0;
    pk_status st = pk_image_encode(px, w, h, ch, fmt, quality, &data, &size);
    if (st != PK_OK) {
        pk_err_prefix("%s", path);
        return st;
    }
    st = pk_write_file_atomic(path, data, size);
    pk_free(data);
    return st;
}
