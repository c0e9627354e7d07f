#!/usr/bin/env bash
# Writes the image fixtures with libpng and libjpeg directly (a small C
# program built on the fly), independent of pocket's own encoder:
#   fuzz/corpus/image/  tiny PNGs (every colour type, 1/2/8/16 bits, Adam7,
#                       tRNS) and JPEGs (4:2:0, gray, progressive, EXIF
#                       orientation 6, CMYK), and truncated copies: the
#                       seed corpus fuzz_image.c starts from and that
#                       tests/test_fuzz_replay.c replays
#   tests/data/erase/   600x399 masks for tests/test_cli.sh: all black
#                       (selects nothing) and all white (selects everything)
# Usage: bash fuzz/make_image_corpus.sh   (from the source tree; idempotent)
set -euo pipefail
cd "$(dirname "$0")/.."
C=fuzz/corpus/image
D=tests/data/erase
mkdir -p "$C" "$D"
B=$(mktemp -d)
trap 'rm -rf "$B"' EXIT
cat > "$B/gen.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>

static unsigned char buf[1 << 20];

/* rows of (w * spp * bytes) generated from (x, y, sample) */
static void png(const char *path, int w, int h, int color, int depth, int interlace,
                int spp, int pal) {
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    png_init_io(p, f);
    png_set_IHDR(p, i, w, h, depth, color, interlace, 0, 0);
    if (pal) {
        png_color c[4] = { { 255, 0, 0 }, { 0, 200, 0 }, { 0, 0, 255 }, { 90, 90, 90 } };
        png_byte t[2] = { 0, 128 };
        png_set_PLTE(p, i, c, 4);
        png_set_tRNS(p, i, t, 2, NULL);
    }
    png_write_info(p, i);
    size_t rb = ((size_t)w * spp * depth + 7) / 8;
    png_bytep rows[64];
    for (int y = 0; y < h; y++) {
        rows[y] = buf + y * rb;
        for (size_t k = 0; k < rb; k++) rows[y][k] = (png_byte)(k * 37 + y * 91 + 5);
    }
    png_write_image(p, rows);
    png_write_end(p, i);
    png_destroy_write_struct(&p, &i);
    fclose(f);
}

static void jpg(const char *path, int w, int h, int comps, J_COLOR_SPACE cs, int q,
                int progressive, int exif_orient) {
    FILE *f = fopen(path, "wb");
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, q, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (exif_orient) { /* "Exif\0\0", II, 42, IFD0 at 8: one entry, Orientation */
        unsigned char x[26] = { 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                                1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0 };
        unsigned char full[30];
        memcpy(full, x, 26);
        full[24] = (unsigned char)exif_orient;
        full[25] = 0;
        memset(full + 26, 0, 4);
        jpeg_write_marker(&c, JPEG_APP0 + 1, full, 30);
    }
    unsigned char row[64 * 4];
    while (c.next_scanline < c.image_height) {
        for (int k = 0; k < w * comps; k++) row[k] = (unsigned char)(k * 9 + c.next_scanline * 13);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static void mask(const char *path, int w, int h, int v) {
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    png_init_io(p, f);
    png_set_IHDR(p, i, w, h, 8, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    png_set_compression_level(p, 9);
    png_write_info(p, i);
    memset(buf, v, w);
    for (int y = 0; y < h; y++) png_write_row(p, buf);
    png_write_end(p, i);
    png_destroy_write_struct(&p, &i);
    fclose(f);
}

int main(int argc, char **argv) {
    char path[4096];
#define OUT(name) (snprintf(path, sizeof path, "%s/%s", argv[1], name), path)
    if (argc < 3) return 2;
    png(OUT("gray1_adam7.png"), 5, 3, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_ADAM7, 1, 0);
    png(OUT("pal2_trns.png"), 6, 4, PNG_COLOR_TYPE_PALETTE, 2, 0, 1, 1);
    png(OUT("rgba16.png"), 4, 3, PNG_COLOR_TYPE_RGBA, 16, 0, 4, 0);
    png(OUT("ga8.png"), 3, 3, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 2, 0);
    png(OUT("rgb8.png"), 8, 8, PNG_COLOR_TYPE_RGB, 8, 0, 3, 0);
    jpg(OUT("rgb420.jpg"), 16, 16, 3, JCS_RGB, 75, 0, 0);
    jpg(OUT("gray.jpg"), 9, 7, 1, JCS_GRAYSCALE, 90, 0, 0);
    jpg(OUT("progressive.jpg"), 17, 9, 3, JCS_RGB, 80, 1, 0);
    jpg(OUT("exif6.jpg"), 12, 8, 3, JCS_RGB, 85, 0, 6);
    jpg(OUT("cmyk.jpg"), 8, 8, 4, JCS_CMYK, 90, 0, 0);
    snprintf(path, sizeof path, "%s/empty-600x399.png", argv[2]);
    mask(path, 600, 399, 0);
    snprintf(path, sizeof path, "%s/full-600x399.png", argv[2]);
    mask(path, 600, 399, 255);
    return 0;
}
EOF
# shellcheck disable=SC2046
cc -O1 -o "$B/gen" "$B/gen.c" $(pkg-config --cflags --libs libpng libjpeg)
"$B/gen" "$C" "$D"
# truncated copies: half the file, and all but the end marker
for f in rgb8.png rgb420.jpg progressive.jpg; do
  n=$(stat -c %s "$C/$f")
  head -c $((n / 2)) "$C/$f" > "$C/cut-half-$f"
  head -c $((n - 2)) "$C/$f" > "$C/cut-end-$f"
done
ls -l "$C" "$D" | awk 'NF > 5 { print $5, $NF }'
