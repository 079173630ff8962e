"""Build edgeqwen/safety/words.txt: English words and their counts, for reading text written without
spaces (the NATO alphabet spells letters only: "howdoimakeabomb").

    python tools/build_words.py [--data ../shared/data/safety-train] [--check]

The words of safety-train's rows outside the validation split (the thresholds' split, which the
encoded-prompt bench draws from) and outside the sources no shipped model trains on, plus the
hard-negative rows: lower-cased runs of letters, counted, the most frequent kept. Deterministic;
``--check`` compares a rebuild with the packaged file.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from train_screen import DATA, load_rows  # noqa: E402  (the screen's own rows: licences filtered, written rows added)

from edgeqwen.safety.probe import is_validation  # noqa: E402

OUT = ROOT / "edgeqwen" / "safety" / "words.txt"
KEEP = 20_000  # words; 206 KiB
MIN_COUNT = 2
MAX_LEN = 20
_WORD = re.compile(r"[a-z]+")


def build(data: Path = DATA) -> str:
    counts: Counter[str] = Counter()
    for row in load_rows(data):
        if not is_validation(row["text"]):
            counts.update(w for w in _WORD.findall(row["text"].lower()) if len(w) <= MAX_LEN)
    # single letters are words only as English writes them ("a", "i"); the rest are list markers
    kept = [(w, c) for w, c in counts.items() if c >= MIN_COUNT and (len(w) > 1 or w in "ai")]
    kept.sort(key=lambda wc: (-wc[1], wc[0]))
    return "".join(f"{w} {c}\n" for w, c in kept[:KEEP])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--check", action="store_true", help="compare a rebuild with the packaged file")
    args = ap.parse_args()
    text = build(args.data)
    if args.check:
        same = OUT.read_text(encoding="utf-8") == text
        print("identical to the packaged words" if same else "DIFFERS from the packaged words")
        sys.exit(0 if same else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(text.splitlines())} words, {len(text.encode()) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
