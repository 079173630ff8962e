"""Does scoring windows of a prompt rank held-out injections better than the whole prompt?

    python tools/bench/safety_windows.py SAFETY_TRAIN [--families a,b] [--window 240] [--stride 120]

Leave-one-source-out with the shipped screen recipe (tools/train_screen.py): each held-out row is
scored on its whole text, and on the highest of its whole text and ``--window``-character windows
every ``--stride`` characters (an injection inside a long document is diluted in the whole-text
features). Threshold-free: recall at 1/2/5% of the held-out benign rows, pooled, per head; per
source at 5% for injections. Families: ``--families`` plus the 4 with the most benign rows, or
safety_eval's 10-family subset (``subset_families``). Exploratory (docs/safety.md); nothing ships.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

import safety_eval as se  # noqa: E402

_ARGS: dict = {}


def windows(text: str, width: int, stride: int) -> list[str]:
    return [] if len(text) <= width else [text[i : i + width] for i in range(0, len(text) - width // 2, stride)]


def _fold(fam: str) -> list[tuple]:
    screen, _ = se.fold_screen(fam)
    out = []
    for row in se._LOSO["rows"]:
        if se.family(row["source"]) != fam:
            continue
        whole = screen.logits(row["text"])
        parts = [screen.logits(w) for w in windows(row["text"], _ARGS["width"], _ARGS["stride"])]
        out.append((row["label"], row["source"], whole, np.max(np.stack([whole, *parts]), axis=0)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--families", default="", help="comma-separated families to hold out")
    ap.add_argument("--window", type=int, default=240)
    ap.add_argument("--stride", type=int, default=120)
    args = ap.parse_args()
    _ARGS.update(width=args.window, stride=args.stride)
    rows = se.prepare_loso(args.data)
    fams = se.subset_families(rows, 10, held=tuple(f for f in args.families.split(",") if f))
    start = time.time()
    with mp.get_context("fork").Pool(2) as pool:
        res = [row for fold in pool.map(_fold, fams) for row in fold]
    print(f"window {args.window}, stride {args.stride}; held out: {', '.join(fams)} ({time.time() - start:.0f} s)")
    negatives = [r for r in res if r[0] == "benign"]
    for h, head in enumerate(("injection", "harmful")):
        positives = [r for r in res if r[0] == head]
        for kind, k in (("whole", 2), ("windows", 3)):
            neg = [float(r[k][h]) for r in negatives]
            rates = [se.recall_at_fp([float(r[k][h]) for r in positives], neg, fp) for fp in (0.01, 0.02, 0.05)]
            print(f"  {head:9} {kind:7} recall at 1/2/5% FP: " + " / ".join(f"{v:.1%}" for v in rates))
            if head == "injection":
                by_source = {
                    s: [float(r[k][h]) for r in positives if r[1] == s] for s in sorted({r[1] for r in positives})
                }
                caught = (f"{s} {round(se.recall_at_fp(v, neg, 0.05) * len(v))}/{len(v)}" for s, v in by_source.items())
                print("    at 5%: " + ", ".join(caught))


if __name__ == "__main__":
    main()
