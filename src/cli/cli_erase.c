/* cli_erase.c: `pocket erase PHOTO -o OUT [--mask M | --point X,Y | --box
 * X,Y,W,H]`: remove a person from a photo and fill the hole from the rest
 * of it (pk_erase_file). */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: pocket erase PHOTO -o OUT [--mask MASK | --point X,Y | --box X,Y,W,H]\n"
            "                    [--dilate PX] [--feather PX] [--seed S] [-t N] [-q QUALITY]\n"
            "                    [--seg-model FILE]\n"
            "  PHOTO        JPEG (EXIF orientation applied) or PNG\n"
            "  -o OUT       result, PNG or JPEG by its extension (.png, .jpg, .jpeg),\n"
            "               written atomically\n"
            "  --mask MASK  PNG/JPEG of the photo's size: pixels > 127 are erased (the\n"
            "               alpha channel if it is translucent, else max of R,G,B)\n"
            "  --point X,Y  erase the person under this pixel (person segmentation);\n"
            "               the default selection is --mask\n"
            "  --box X,Y,W,H  erase the largest person inside this box\n"
            "  --dilate PX  grow the selection by PX pixels (default: max(4, side/60)\n"
            "               with --point/--box, max(2, side/200) with --mask)\n"
            "  --feather PX blend width inside the grown edge (default dilate/2)\n"
            "  --seed S     fill's random seed (default 0; same seed, same output)\n"
            "  -t N         threads (default: all cores)\n"
            "  -q QUALITY   JPEG quality 1..100 (default 92)\n"
            "  --seg-model FILE  selfie segmentation .tflite (default: $POCKET_SEG_MODEL\n"
            "               or ../shared/images/segmentation/selfie_segmentation.tflite,\n"
            "               with selfie_segmentation_landscape.tflite beside it when\n"
            "               present: the larger person probability of the two)\n");
}

/* n comma-separated integers, nothing else. */
static int parse_ints(const char *s, int n, int *out) {
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < INT_MIN || v > INT_MAX) return 0;
        out[i] = (int)v;
        if (i + 1 < n && *end != ',') return 0;
        s = end + 1;
        if (i + 1 == n && *end != 0) return 0;
    }
    return 1;
}

static int parse_nonneg(const char *s, long max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 0 || v > max) return 0;
    *out = (int)v;
    return 1;
}

int cmd_erase(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    pk_erase_opts o = pk_erase_default_opts();
    int n_select = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1, xy[4] = { 0, 0, 0, 0 };
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-o") && v) {
            out = v;
        } else if (!strcmp(a, "--mask") && v) {
            o.select = PK_ERASE_MASK;
            o.mask_path = v;
            n_select++;
        } else if (!strcmp(a, "--point") && v) {
            ok = parse_ints(v, 2, xy);
            o.select = PK_ERASE_POINT;
            o.x = xy[0];
            o.y = xy[1];
            n_select++;
        } else if (!strcmp(a, "--box") && v) {
            ok = parse_ints(v, 4, xy);
            o.select = PK_ERASE_BOX;
            o.x = xy[0];
            o.y = xy[1];
            o.box_w = xy[2];
            o.box_h = xy[3];
            n_select++;
        } else if (!strcmp(a, "--dilate") && v) {
            ok = parse_nonneg(v, 10000, &o.dilate);
        } else if (!strcmp(a, "--feather") && v) {
            ok = parse_nonneg(v, 10000, &o.feather);
        } else if (!strcmp(a, "--seed") && v) {
            char *end;
            errno = 0;
            o.seed = strtoull(v, &end, 10);
            ok = end != v && !*end && !errno && v[0] != '-';
        } else if (!strcmp(a, "-t") && v) {
            ok = parse_nonneg(v, 1024, &o.n_threads);
        } else if (!strcmp(a, "-q") && v) {
            ok = parse_nonneg(v, 100, &o.quality) && o.quality >= 1;
        } else if (!strcmp(a, "--seg-model") && v) {
            o.seg_model = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "pocket erase: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!in) {
            in = a;
            continue;
        } else {
            fprintf(stderr, "pocket erase: unexpected argument '%s'\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "pocket erase: bad value '%s' for %s\n", v, a);
            return 2;
        }
        i++;
    }
    if (!in || !out) {
        fprintf(stderr, "pocket erase: need a PHOTO and -o OUT\n");
        usage(stderr);
        return 2;
    }
    if (n_select != 1) {
        fprintf(stderr, "pocket erase: give exactly one of --mask, --point, --box\n");
        return 2;
    }
    pk_erase_result r;
    if (pk_erase_file(in, out, &o, &r) != PK_OK) {
        fprintf(stderr, "pocket erase: %s\n", pk_last_error());
        return 1;
    }
    fprintf(stderr, "pocket erase: %dx%d, %llu pixels selected, %llu filled; segmentation %.0f ms, "
                    "fill %.0f ms\n",
            r.w, r.h, (unsigned long long)r.n_selected, (unsigned long long)r.n_filled,
            r.ms_segment, r.ms_fill);
    printf("wrote %s\n", out);
    return 0;
}
