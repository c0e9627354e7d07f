#!/usr/bin/python3
"""Compare the loss curves of two training logs (train_log.txt) step by
step: the reproducibility check of the house model. Prints the steps both
logs have, the largest loss difference, and exits 1 when any training or
validation loss differs at the given number of decimals.

    compare_logs.py LOG_A LOG_B [--decimals 3]
"""
import argparse
import re
import sys

LINE = re.compile(r"^step (\d+) loss ([0-9.]+)(?: .*?val ([0-9.]+))?")


def read(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                out[int(m.group(1))] = (float(m.group(2)), float(m.group(3)) if m.group(3) else None)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--decimals", type=int, default=3)
    a = ap.parse_args()
    la, lb = read(a.a), read(a.b)
    common = sorted(set(la) & set(lb))
    if not common:
        print("no common steps")
        return 1
    worst, bad = 0.0, []
    for s in common:
        for i, what in ((0, "loss"), (1, "val")):
            x, y = la[s][i], lb[s][i]
            if x is None or y is None:
                continue
            worst = max(worst, abs(x - y))
            if round(x, a.decimals) != round(y, a.decimals):
                bad.append(f"step {s} {what}: {x} vs {y}")
    print(f"{len(common)} common steps ({common[0]}..{common[-1]}); largest difference {worst:.6f}")
    for b in bad[:10]:
        print("differs:", b)
    print("same to %d decimals" % a.decimals if not bad else "%d values differ" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
