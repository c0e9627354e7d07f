#!/usr/bin/python3
"""erase_quality.py: how well pocket's hole fill (pk_inpaint, through
build/bench/erase_fill) restores a known background, against OpenCV's Telea
and Navier-Stokes inpainting. Person-shaped holes (from the girl-N.out.png
alpha masks) are scaled to ~3%, 8% and 15% of the image and placed where the
photo shows background, so the truth under the hole is known. Reports SSIM,
PSNR and sharpness per hole size, the time and peak RSS of a 12 MP fill with
2 threads, and writes the contact sheet docs/erase-contact-sheet.jpg.

  /usr/bin/python3 bench/erase_quality.py [--bin build/bench/erase_fill]
      [--threads 2] [--seeds 0,1,2,3,4,5] [--no-12mp] [--before=--no-structure]
      [--before-bin OLD/build/bench/erase_fill]
      [--sheet docs/erase-contact-sheet.jpg]
Needs python3-opencv and numpy (Debian: apt-get install python3-opencv)."""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared", "images")
SIZES = [("small", 0.03), ("medium", 0.08), ("large", 0.15)]


# ---- images and holes ----

def synthetic(kind, w=640, h=480):
    """Deterministic test scenes with structure and texture."""
    rng = np.random.default_rng(7 if kind == "hills" else 11)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "hills":
        sky = np.stack([230 - 0.2 * yy, 190 - 0.15 * yy, 120 + 0.1 * yy], -1)
        ridge = h * 0.45 + 30 * np.sin(xx / 70.0) + 12 * np.sin(xx / 23.0 + 1)
        noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
        grass = np.stack([40 + 18 * noise, 120 + 30 * noise + 0.1 * (yy - h / 2),
                          50 + 15 * noise], -1)
        img = np.where((yy > ridge)[..., None], grass, sky)
    else:  # bricks: staggered courses, mortar, lighting gradient, grain
        bh, bw = 24, 56
        row = (yy // bh).astype(int)
        off = np.where(row % 2 == 1, bw // 2, 0)
        bx = ((xx + off) % bw)
        by = yy % bh
        mortar = (bx < 4) | (by < 4)
        tone = rng.uniform(0.8, 1.15, (h // bh + 2, w // bw + 3))
        t = tone[row, ((xx + off) // bw).astype(int)]
        grain = rng.normal(0, 6, (h, w))
        light = 0.85 + 0.3 * xx / w
        brick = np.stack([60 * t, 80 * t, 170 * t], -1) * light[..., None] + grain[..., None]
        img = np.where(mortar[..., None], np.full((h, w, 3), 190.0) + grain[..., None], brick)
    return np.clip(img, 0, 255).astype(np.uint8)


def person_alpha(i):
    a = cv2.imread(os.path.join(SHARED, "people", "girl-%d.out.png" % i), cv2.IMREAD_UNCHANGED)
    return (a[..., 3] >= 128).astype(np.uint8)


def place_hole(shape, forbid, frac):
    """Scale a person shape to frac of the image and put it where it covers
    the fewest forbidden (person) pixels, nearest the centre on ties."""
    h, w = forbid.shape
    ys, xs = np.nonzero(shape)
    crop = shape[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    s = np.sqrt(frac * w * h / crop.sum())
    sw, sh = max(1, int(round(crop.shape[1] * s))), max(1, int(round(crop.shape[0] * s)))
    if sh > h or sw > w:
        k = min(h / sh, w / sw)
        sw, sh = int(sw * k), int(sh * k)
    sm = (cv2.resize(crop * 255, (sw, sh), interpolation=cv2.INTER_LINEAR) >= 128).astype(np.uint8)
    # overlap for every top-left position via a correlation of the masks
    ov = cv2.filter2D(forbid.astype(np.float32), -1, sm.astype(np.float32),
                      anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
    ov = ov[:h - sh + 1, :w - sw + 1]
    cy, cx = (h - sh) / 2, (w - sw) / 2
    gy, gx = np.mgrid[0:ov.shape[0], 0:ov.shape[1]]
    score = np.round(ov) * 1e6 + (gy - cy) ** 2 + (gx - cx) ** 2
    y, x = np.unravel_index(np.argmin(score), score.shape)
    m = np.zeros((h, w), np.uint8)
    m[y:y + sh, x:x + sw] = sm
    return m


def cases():
    """(name, image BGR, forbidden mask, shape) for photos and synthetics."""
    out = []
    for i in (1, 2, 3):
        img = cv2.imread(os.path.join(SHARED, "people", "girl-%d.jpg" % i))
        forbid = cv2.dilate(person_alpha(i), np.ones((21, 21), np.uint8))
        out.append(("girl-%d" % i, img, forbid, person_alpha(i % 3 + 1)))
    for j, kind in enumerate(("hills", "bricks")):
        img = synthetic(kind)
        out.append((kind, img, np.zeros(img.shape[:2], np.uint8), person_alpha(j + 1)))
    return out


# ---- metrics ----

def luma(img):
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float64)


def ssim_map(a, b):
    """Wang et al. SSIM on luma, Gaussian window sigma 1.5."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x, y = luma(a), luma(b)
    g = lambda z: cv2.GaussianBlur(z, (11, 11), 1.5)
    mx, my = g(x), g(y)
    sxx, syy, sxy = g(x * x) - mx * mx, g(y * y) - my * my, g(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def grad_energy(img):
    y = luma(img)
    gx, gy = cv2.Sobel(y, cv2.CV_64F, 1, 0), cv2.Sobel(y, cv2.CV_64F, 0, 1)
    return gx * gx + gy * gy


def metrics(truth, out, m):
    hole = m > 0
    near = cv2.dilate(m, np.ones((11, 11), np.uint8)) > 0  # hole and its seam
    ring = (cv2.dilate(m, np.ones((25, 25), np.uint8)) > 0) & ~near
    d = (truth.astype(np.float64) - out)[hole]
    mse = (d * d).mean()
    psnr = 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)
    ge = grad_energy(out)
    sharp = ge[hole].mean() / max(ge[ring].mean(), 1e-9)
    return ssim_map(truth, out)[near].mean(), psnr, sharp


# ---- fills ----

def pocket_fill(bin_path, img, m, threads, tmp, extra=(), measure_rss=False):
    pi, pm, po = (os.path.join(tmp, n) for n in ("in.ppm", "mask.pgm", "out.ppm"))
    cv2.imwrite(pi, img)
    cv2.imwrite(pm, (m > 0).astype(np.uint8) * 255)
    cmd = [bin_path, pi, pm, po, "-t", str(threads)] + list(extra)
    if measure_rss:
        cmd = ["/usr/bin/time", "-f", "maxrss_kb=%M"] + cmd
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        sys.exit("erase_fill failed: " + r.stderr)
    wall = float(re.search(r"fill ([0-9.]+) ms", r.stderr).group(1))
    cpu = 1000 * (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
    rss = re.search(r"maxrss_kb=(\d+)", r.stderr)
    out = cv2.imread(po)
    if measure_rss:
        return out, (wall, cpu), int(rss.group(1))
    return out, cpu, None


def opencv_fill(img, m, flag):
    """cv2.inpaint with radius 3; returns the result and its CPU ms."""
    t = time.process_time()
    out = cv2.inpaint(img, (m > 0).astype(np.uint8) * 255, 3, flag)
    return out, (time.process_time() - t) * 1000


METHODS = [("pocket", None), ("telea", cv2.INPAINT_TELEA), ("ns", cv2.INPAINT_NS)]


def run_quality(args, tmp):
    rows = []  # (case, size, frac, method, ssim, psnr, sharp, ms)
    for name, img, forbid, shape in cases():
        if args.images and name not in args.images.split(","):
            continue
        for size, frac in SIZES:
            m = place_hole(shape, forbid, frac)
            truth_sharp = metrics(img, img, m)[2]
            for meth, flag in METHODS:
                if flag is None or flag == "before":  # mean over the seeds: one fill is noisy
                    runs = []
                    more = args.extra.split() + (args.before.split() if flag else [])
                    binp = args.before_bin if flag and args.before_bin else args.bin
                    for seed in args.seeds.split(","):
                        out, ms, _ = pocket_fill(binp, img, m, args.threads, tmp,
                                                 ["--seed", seed] + more)
                        assert (out[m == 0] == img[m == 0]).all(), "pixels outside the hole changed"
                        runs.append(metrics(img, out, m) + (ms,))
                    s, p, sh, ms = np.mean(runs, 0)
                else:
                    out, ms = opencv_fill(img, m, flag)
                    s, p, sh = metrics(img, out, m)
                rows.append((name, size, m.mean(), meth, s, p, sh, ms, truth_sharp))
                if args.verbose:
                    print("%-8s %-6s %4.1f%% %-6s ssim %.4f psnr %5.2f sharp %.2f (truth %.2f) %7.1f ms"
                          % (name, size, 100 * m.mean(), meth, s, p, sh, truth_sharp, ms),
                          file=sys.stderr)
    return rows


def table(rows, group):
    """Means over the photos (group "photos") or the synthetic images."""
    rows = [r for r in rows if r[0].startswith("girl") == (group == "photos")]
    lines = ["| hole | method | SSIM (hole+5px) | PSNR dB (hole) | sharpness (truth) | CPU ms |",
             "|---|---|---|---|---|---|"]
    for size, _ in SIZES:
        fr = np.mean([r[2] for r in rows if r[1] == size and r[3] == "pocket"])
        for meth, _ in METHODS:
            sel = [r for r in rows if r[1] == size and r[3] == meth]
            lines.append("| %s (%.1f%%) | %s | %.4f | %.2f | %.2f (%.2f) | %.0f |" % (
                size, 100 * fr, meth, np.mean([r[4] for r in sel]), np.mean([r[5] for r in sel]),
                np.mean([r[6] for r in sel]), np.mean([r[8] for r in sel]),
                np.mean([r[7] for r in sel])))
    return "\n".join(lines)


def per_case(rows):
    lines = ["| image | hole | " + " | ".join("%s SSIM / PSNR" % m for m, _ in METHODS) + " |",
             "|---|---|" + "---|" * len(METHODS)]
    keys = []
    for r in rows:
        if (r[0], r[1]) not in keys:
            keys.append((r[0], r[1]))
    for k in keys:
        cells = []
        for meth, _ in METHODS:
            r = [x for x in rows if (x[0], x[1]) == k and x[3] == meth][0]
            cells.append("%.4f / %.2f" % (r[4], r[5]))
        lines.append("| %s | %s | %s |" % (k[0], k[1], " | ".join(cells)))
    return "\n".join(lines)


# ---- 12 MP ----

def run_12mp(args, tmp):
    img = cv2.imread(os.path.join(SHARED, "people", "girl-2.jpg"))
    h, w = img.shape[:2]
    cw = min(w, h * 4 // 3)
    img = img[:, (w - cw) // 2:(w - cw) // 2 + cw]
    big = cv2.resize(img, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    forbid = cv2.resize(cv2.dilate(person_alpha(2), np.ones((21, 21), np.uint8))
                        [:, (w - cw) // 2:(w - cw) // 2 + cw], (4000, 3000),
                        interpolation=cv2.INTER_NEAREST)
    m = place_hole(person_alpha(1), forbid, 0.10)
    out, (ms, cpu), rss = pocket_fill(args.bin, big, m, 2, tmp, measure_rss=True)
    s, p, sh = metrics(big, out, m)
    res = {"w": 4000, "h": 3000, "hole": m.mean(), "ms": ms, "cpu_ms": cpu, "rss_mb": rss / 1024,
           "ssim": s, "psnr": p, "sharp": sh}
    if args.opencv_12mp:
        o2, ms2 = opencv_fill(big, m, cv2.INPAINT_TELEA)
        res["telea_ms"] = ms2
        res["telea_ssim"], res["telea_psnr"], res["telea_sharp"] = metrics(big, o2, m)
    return res


# ---- contact sheet ----

def contact_sheet(args, tmp, path):
    """Per photo: original, the person mask, OpenCV Telea, pocket."""
    tile_w = 400
    rows = []
    for i in (1, 2, 3):
        img = cv2.imread(os.path.join(SHARED, "people", "girl-%d.jpg" % i))
        # what `pocket erase --point` selects: the larger of the general and
        # landscape models' probabilities (reference runtime outputs)
        seg = np.maximum(*[cv2.imread(os.path.join(SHARED, "segmentation", "reference",
                                                   "girl-%d.%s.png" % (i, k)), cv2.IMREAD_GRAYSCALE)
                           for k in ("general", "landscape")])
        m = (seg >= 128).astype(np.uint8)
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (17, 17)))
        tel, _ = opencv_fill(img, m, cv2.INPAINT_TELEA)
        poc, _, _ = pocket_fill(args.bin, img, m, args.threads, tmp)
        show = img.copy()
        show[m > 0] = (0.5 * show[m > 0] + [0, 0, 127]).astype(np.uint8)
        th = int(round(img.shape[0] * tile_w / img.shape[1]))
        tiles = [cv2.resize(t, (tile_w, th), interpolation=cv2.INTER_AREA)
                 for t in (img, show, tel, poc)]
        rows.append(np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255)
                               for t in tiles]))
    wmax = rows[0].shape[1]
    sheet = np.vstack(rows)
    head = np.full((28, wmax, 3), 255, np.uint8)
    for k, lab in enumerate(("original", "mask (2 models, +8 px)", "OpenCV Telea", "pocket")):
        cv2.putText(head, lab, (k * (tile_w + 4) + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (0, 0, 0), 1, cv2.LINE_AA)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.vstack([head, sheet]), [cv2.IMWRITE_JPEG_QUALITY, 88])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench", "erase_fill"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-12mp", action="store_true")
    ap.add_argument("--opencv-12mp", action="store_true", help="also time Telea at 12 MP")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--sheet", default=os.path.join(ROOT, "docs", "erase-contact-sheet.jpg"))
    ap.add_argument("--no-sheet", action="store_true")
    ap.add_argument("--images", help="comma-separated subset: girl-1,...,hills,bricks")
    ap.add_argument("--seeds", default="0,1,2,3,4,5",
                    help="pocket's seeds; its rows are the means over them")
    ap.add_argument("--extra", default="", help='more erase_fill options, e.g. "--patch 9 "')
    ap.add_argument("--before", help='also run pocket with these erase_fill options as row '
                    '"before" (same holes and seeds, one run), e.g. --before=--no-structure')
    ap.add_argument("--before-bin", help="erase_fill binary for the before rows (e.g. a "
                    "build of the previous commit); default --bin")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.before is not None or args.before_bin:
        args.before = args.before or ""
        METHODS.insert(1, ("before", "before"))
    with tempfile.TemporaryDirectory(prefix="erase_quality") as tmp:
        if not args.no_quality:
            rows = run_quality(args, tmp)
            print("Photos (girl-1, -2, -3), mean per hole size:\n")
            print(table(rows, "photos"))
            print("\nSynthetic (hills, bricks), mean per hole size:\n")
            print(table(rows, "synthetic"))
            print("\nPer image:\n")
            print(per_case(rows))
        if not args.no_12mp:
            r = run_12mp(args, tmp)
            print("\n12 MP: %dx%d, hole %.1f%%, 2 threads: fill %.0f ms wall, process CPU "
                  "%.0f ms (incl. PPM I/O), peak RSS %.0f MB (incl. the image); SSIM %.4f "
                  "PSNR %.2f sharpness %.2f (load average %.1f)"
                  % (r["w"], r["h"], 100 * r["hole"], r["ms"], r["cpu_ms"], r["rss_mb"],
                     r["ssim"], r["psnr"], r["sharp"], os.getloadavg()[0]))
            if "telea_ms" in r:
                print("12 MP OpenCV Telea (1 thread): %.0f ms CPU; SSIM %.4f PSNR %.2f sharpness %.2f"
                      % (r["telea_ms"], r["telea_ssim"], r["telea_psnr"], r["telea_sharp"]))
        if not args.no_sheet:
            contact_sheet(args, tmp, args.sheet)
            print("\ncontact sheet: %s" % os.path.relpath(args.sheet, ROOT))


if __name__ == "__main__":
    main()
