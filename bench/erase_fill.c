/* erase_fill.c: run pk_inpaint on files, for bench/erase_quality.py.
 * Reads a binary PPM (P6, maxval 255) photo and a binary PGM (P5) mask of
 * the same size (nonzero = fill), writes the filled photo as P6 and prints
 * the fill time on stderr.
 *   erase_fill in.ppm mask.pgm out.ppm [-t threads] [--seed N] [--patch N]
 *              [--max-side N] [--iters N] [--no-structure] */
#include "base/base.h"
#include "vision/inpaint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- netpbm ---- */

static int pnm_int(FILE *f, int *v) {
    int c;
    for (;;) {
        c = fgetc(f);
        if (c == '#')
            while (c != '\n' && c != EOF) c = fgetc(f);
        if (c == EOF) return 0;
        if (c >= '0' && c <= '9') break;
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return 0;
    }
    long x = 0;
    while (c >= '0' && c <= '9') {
        x = x * 10 + (c - '0');
        if (x > 1 << 20) return 0;
        c = fgetc(f);
    }
    *v = (int)x;
    return 1; /* the one whitespace byte after the number is consumed */
}

/* Read a P6 (ch 3) or P5 (ch 1) file with maxval 255. Caller frees *data. */
static int pnm_read(const char *path, int ch, uint8_t **data, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    int mx;
    if (!f) { fprintf(stderr, "erase_fill: cannot open %s\n", path); return 0; }
    char m[2];
    if (fread(m, 1, 2, f) != 2 || m[0] != 'P' || m[1] != (ch == 3 ? '6' : '5') ||
        !pnm_int(f, w) || !pnm_int(f, h) || !pnm_int(f, &mx) || mx != 255 ||
        *w < 1 || *h < 1) {
        fprintf(stderr, "erase_fill: %s: not a binary %s with maxval 255\n", path,
                ch == 3 ? "PPM (P6)" : "PGM (P5)");
        fclose(f);
        return 0;
    }
    size_t n = (size_t)*w * *h * ch;
    *data = malloc(n);
    if (!*data || fread(*data, 1, n, f) != n) {
        fprintf(stderr, "erase_fill: %s: short file\n", path);
        free(*data);
        fclose(f);
        return 0;
    }
    fclose(f);
    return 1;
}

int main(int argc, char **argv) {
    const char *in = NULL, *mk = NULL, *out = NULL;
    int n_thr = 1;
    pk_inpaint_opts o = pk_inpaint_default_opts();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "-t")) n_thr = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--seed")) o.seed = strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(a, "--patch")) o.patch = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--max-side")) o.max_side = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--iters")) o.iters = atoi(argv[++i]);
        else if (!strcmp(a, "--no-structure")) o.no_structure = 1;
        else if (!in) in = a;
        else if (!mk) mk = a;
        else if (!out) out = a;
        else { fprintf(stderr, "erase_fill: unexpected argument %s\n", a); return 2; }
    }
    if (!out) {
        fprintf(stderr, "usage: erase_fill in.ppm mask.pgm out.ppm [-t threads] "
                "[--seed N] [--patch N] [--max-side N] [--iters N] [--no-structure]\n");
        return 2;
    }
    uint8_t *rgb = NULL, *mask = NULL;
    int w, h, mw, mh, rc = 1;
    pk_pool *pool = NULL;
    if (!pnm_read(in, 3, &rgb, &w, &h) || !pnm_read(mk, 1, &mask, &mw, &mh)) goto done;
    if (mw != w || mh != h) {
        fprintf(stderr, "erase_fill: mask %dx%d, image %dx%d\n", mw, mh, w, h);
        goto done;
    }
    if (n_thr > 1 && pk_pool_new(n_thr, &pool)) {
        fprintf(stderr, "erase_fill: %s\n", pk_last_error());
        goto done;
    }
    double t0 = pk_time_ms();
    pk_status st = pk_inpaint(rgb, w, h, mask, &o, pool);
    double t1 = pk_time_ms();
    if (st) {
        fprintf(stderr, "erase_fill: %s\n", pk_last_error());
        goto done;
    }
    fprintf(stderr, "erase_fill: %dx%d, %d threads, fill %.1f ms\n", w, h, n_thr, t1 - t0);
    FILE *f = fopen(out, "wb");
    if (!f) { fprintf(stderr, "erase_fill: cannot write %s\n", out); goto done; }
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    size_t n = (size_t)w * h * 3;
    int ok = fwrite(rgb, 1, n, f) == n;
    if (fclose(f) || !ok) { fprintf(stderr, "erase_fill: write error on %s\n", out); goto done; }
    rc = 0;
done:
    pk_pool_free(pool);
    free(rgb);
    free(mask);
    return rc;
}
