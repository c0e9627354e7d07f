#!/usr/bin/python3
"""Render QMSum meetings as "Speaker: text" lines with the house model's own
renderer (tools/house-model/prepare.py), one blank line between meetings,
for the calibration and held-out text of the quantization bench.

usage: qmsum_text.py SPLIT_DIR FIRST COUNT OUT.txt
(meetings sorted by file name; FIRST is 0-based)"""
import glob, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "house-model"))
from prepare import render  # noqa: E402


def main():
    split, first, count, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    files = sorted(glob.glob(os.path.join(split, "*.json")))[first:first + count]
    if not files:
        sys.exit(f"qmsum_text.py: no meetings in {split} from {first}")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n\n".join(render(p) for p in files) + "\n")


if __name__ == "__main__":
    main()
