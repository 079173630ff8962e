"""How often ``safety.language.is_english`` names a text's language right, on texts whose language is
known and that nobody wrote to test it: ChatterBot's first turns in 27 languages, the Debian FAQ's
questions in ten (faq_questions.py's sources), safety-train's rows (English but for a dozen), and
LLAMATOR's HarmBench behaviours in English and Russian.

    python tools/bench/language_check.py --chatterbot WHEEL [--faq ROOT] [--llamator WHEEL] [--show 3]

Each line: texts read as their label (English, or not English), of all. A miss toward "not English"
costs a guard model's check under ``guard_languages="other"``; one toward "English" leaves the
prompt to the English checks. The FAQs in other languages keep a few untranslated English entries,
which count as misses.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edgeqwen.safety.language import is_english  # noqa: E402

TRAIN = Path(__file__).resolve().parents[3] / "shared" / "data" / "safety-train" / "train.jsonl"


def labelled(chatterbot: Path | None, faq: Path | None, llamator: Path | None) -> list[tuple[str, bool, str]]:
    """(set, is English, text) for every text of the sources given."""
    import yaml

    out = []
    if TRAIN.exists():
        out += [("safety-train " + (d := json.loads(line))["label"], True, d["text"]) for line in TRAIN.open()]
    if chatterbot:
        with zipfile.ZipFile(chatterbot) as z:
            for name in z.namelist():
                if "/data/" in name and name.endswith(".yml"):
                    language = name.split("/")[2]
                    for turns in (yaml.safe_load(z.read(name)) or {}).get("conversations") or []:
                        if turns and isinstance(turns[0], str):
                            out.append(("chatterbot " + language, language == "english", turns[0]))
    if faq:
        import faq_questions

        for name, questions in faq_questions.sources(faq).items():
            language = name.rsplit("-", 1)[-1] if name.startswith("debian-faq") else "en"
            out += [("faq " + language, language == "en", q) for q in questions]
    if llamator:
        import llamator_sets

        for row in llamator_sets.rows(llamator):
            if row["set"].startswith("harmbench"):
                out.append(("llamator " + row["set"].split()[1], row["set"].split()[1] == "en", row["text"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chatterbot", type=Path, help="chatterbot-corpus's wheel (pip download --no-deps)")
    parser.add_argument("--faq", type=Path, help="the FAQ root of faq_questions.py")
    parser.add_argument("--llamator", type=Path, help="LLAMATOR's wheel (needs pyarrow)")
    parser.add_argument("--show", type=int, default=0, help="print this many misses of each set")
    args = parser.parse_args()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: dict[str, list[str]] = defaultdict(list)
    for name, english, text in labelled(args.chatterbot, args.faq, args.llamator):
        counts[name][1] += 1
        if is_english(text) == english:
            counts[name][0] += 1
        else:
            misses[name].append(text[:100].replace("\n", " "))
    for name, (right, n) in sorted(counts.items()):
        print(f"{name:34s} {right:5d} of {n:5d} ({right / n:.1%})")
        for text in misses[name][: args.show]:
            print("    miss:", text)


if __name__ == "__main__":
    main()
