"""Compare two runs of the suite (their --json files), e.g. before and after a commit.

    python benchmarks/compare.py before.json after.json [--threshold 5]

Rows are matched by section, op, shape and threads. "speed-up" is before / after of ember's
time: above 1 the second run is faster. Rows that changed by more than the threshold (percent)
are marked; on a shared machine, rerun before believing a change under ~10%.
"""

from __future__ import annotations

import argparse
import json


def load(path: str) -> tuple[dict, dict]:
    with open(path) as f:
        data = json.load(f)
    rows = {(r["section"], r["op"], r["shape"], str(r["threads"])): r for r in data["rows"]}
    return data["meta"], rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--threshold", type=float, default=5.0, help="percent change to mark")
    args = p.parse_args()
    meta_a, a = load(args.before)
    meta_b, b = load(args.after)
    print(f"before: {meta_a.get('commit')} ({meta_a.get('mode')}), {args.before}")
    print(f"after:  {meta_b.get('commit')} ({meta_b.get('mode')}), {args.after}")
    if meta_a.get("cpu") != meta_b.get("cpu"):
        print(f"different CPUs: {meta_a.get('cpu')} / {meta_b.get('cpu')}")
    print(f"{'op':34} | {'shape':24} | thr | before ms | after ms | speed-up")
    for key in (k for k in a if k in b):  # in the first run's order
        before, after = a[key]["ember_ms"], b[key]["ember_ms"]
        if not before or not after:
            continue
        speedup = before / after
        mark = " *" if abs(speedup - 1) * 100 > args.threshold else ""
        _, op, shape, threads = key
        print(f"{op:34} | {shape:24} | {threads:3} | {before:9.4g} | {after:8.4g} | "
              f"{speedup:.2f}{mark}")  # fmt: skip
    for key in sorted(a.keys() ^ b.keys()):
        print(f"only in {'before' if key in a else 'after'}: {' / '.join(key)}")


if __name__ == "__main__":
    main()
