"""The input checks on questions people ask about software: the entries of published FAQs, in
English and nine other languages. Nobody here wrote them, and none is a safety prompt: every one
the presets refuse or flag is a false positive.

    mkdir faq && cd faq
    apt-get download debian-faq debian-faq-de debian-faq-fr debian-faq-it debian-faq-ja \\
        debian-faq-ko debian-faq-nl debian-faq-pt debian-faq-ru debian-faq-zh-cn python3.11-doc \\
        git-man perl-doc r-doc-html sqlite3-doc fetchmail
    for d in *.deb; do dpkg-deb -x "$d" root; done
    pip download --no-deps --no-binary :all: django scrapy -d sdist
    for f in sdist/*.tar.gz; do tar xzf "$f" -C sdist; done
    python tools/bench/faq_questions.py . [--show] [--json OUT]

Sources (Debian 12's packages; Django 5.2 and Scrapy 2.19 sdists): the Debian FAQ's numbered
questions in ten languages, the Python FAQ's, Django's and Scrapy's question headings, gitfaq's,
perlfaq1-9's, the R FAQ's, SQLite's and fetchmail's entries. A heading counts where it ends in a
question mark; SQLite's and fetchmail's entries count as written (a few state a problem instead).

Split by source: ``dev`` is the English Debian FAQ, gitfaq and Scrapy's, whose refusals were read
when this tool was written (``--show`` prints them, and only them); every other source is ``test``
and stays unread, so its figures are out of sample for any change made after reading ``dev``.
Every question goes through ``Guard(preset).check_input`` (screen and rules; no model, so no
activation probe).
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safety_eval import preset_guard, wilson  # noqa: E402

DEV = ("debian-faq-en", "gitfaq", "scrapy-faq")
LANGUAGES = ("de", "fr", "it", "ja", "ko", "nl", "pt", "ru", "zh-cn")
_QUESTION_END = ("?", "？")
_UNDERLINE = re.compile(r"([=\-~^\"*+#])\1{2,}")
_NUMBERED = re.compile(r"^\s*\d+(?:\.\d+)+\.?\s+(\S.*)$")
_ROLE = re.compile(r":\w+:`([^`<]+?)\s*(?:<[^>]*>)?`")
_POD_CODE = re.compile(r"[A-Z]<+\s*(.*?)\s*>+")


def _clean(text: str) -> str:
    text = _ROLE.sub(r"\1", html.unescape(text))
    text = _POD_CODE.sub(r"\1", text.replace("``", "`").replace("`", ""))
    return re.sub(r"\s+", " ", text).strip()


def _asked(texts: Iterator[str], questions_only: bool = True) -> list[str]:
    """Each text once, cleaned; only the questions where ``questions_only``."""
    out: dict[str, None] = {}
    for text in texts:
        text = _clean(text)
        if 8 <= len(text) <= 200 and (text.endswith(_QUESTION_END) or not questions_only):
            out[text] = None
    return list(out)


def _debian(path: Path) -> Iterator[str]:
    lines = gzip.open(path, "rt", encoding="utf-8", errors="replace").read().splitlines()
    for i, line in enumerate(lines):
        if m := _NUMBERED.match(line):
            text = m.group(1)
            # a long heading goes on, indented, on the next line
            if not text.endswith(_QUESTION_END) and i + 1 < len(lines) and lines[i + 1].startswith("      "):
                text += " " + lines[i + 1].strip()
            yield text


def _debian_reader(path: Path) -> Callable[[], list[str]]:
    return lambda: _asked(_debian(path))


def _underlined(paths: list[Path]) -> Iterator[str]:
    """reStructuredText (and Django's .txt) section titles."""
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        for title, rule in pairwise(lines):
            if title.strip() and _UNDERLINE.fullmatch(rule.strip()) and len(rule.strip()) >= len(title.strip()) - 2:
                yield title


def _pod(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("=head2 "):
                yield line[len("=head2 ") :]


def _man(path: Path) -> Iterator[str]:
    """A man page's indented question lines, as groff renders them."""
    roff = gzip.open(path, "rb").read()
    shown = subprocess.run(["groff", "-man", "-Tutf8", "-P-c"], input=roff, capture_output=True, check=True).stdout
    for line in shown.decode("utf-8", errors="replace").splitlines():
        line = re.sub(r".\x08", "", line)  # overstrikes, where -P-c is not honoured
        if re.match(r"^ {7}\S", line):
            yield line


def _html_matches(path: Path, pattern: str) -> Iterator[str]:
    for m in re.finditer(pattern, path.read_text(encoding="utf-8", errors="replace")):
        yield re.sub(r"<[^>]+>", "", m.group(1))


def sources(root: Path) -> dict[str, list[str]]:
    """``{source: [question, ...]}`` for each FAQ found under ``root`` (see the module's recipe)."""
    doc = root / "root" / "usr" / "share"
    faq = doc / "doc" / "debian" / "FAQ"
    readers: dict[str, Callable[[], list[str]]] = {
        **{f"debian-faq-{lang}": _debian_reader(faq / f"debian-faq.{lang}.txt.gz") for lang in ("en", *LANGUAGES)},
        "python-faq": lambda: _asked(_underlined(sorted((doc / "doc/python3.11/html/_sources/faq").glob("*.rst.txt")))),
        "django-faq": lambda: _asked(_underlined(sorted(root.glob("sdist/django-*/docs/faq/*.txt")))),
        "scrapy-faq": lambda: _asked(_underlined(sorted(root.glob("sdist/scrapy-*/docs/faq.rst")))),
        "gitfaq": lambda: _asked(_man(doc / "man/man7/gitfaq.7.gz")),
        "perlfaq": lambda: _asked(_pod(sorted(doc.glob("perl/5.*/pod/perlfaq[1-9].pod")))),
        "r-faq": lambda: _asked(
            _html_matches(doc / "doc/r-doc-html/manual/R-FAQ.html", r"<h[2-4][^>]*>(?:<[^>]*>)*[\d.]+\s*(.*?)</h")
        ),
        "sqlite-faq": lambda: _asked(
            _html_matches(doc / "doc/sqlite3/faq.html", r'<a href="#q\d+">(.*?)</a>'), questions_only=False
        ),
        "fetchmail-faq": lambda: _asked(
            _html_matches(doc / "doc/fetchmail/fetchmail-FAQ.html", r'<a href="#[A-Z]\d+">[A-Z]\d+\.\s*(.*?)</a>'),
            questions_only=False,
        ),
    }
    found = {}
    for name, read in readers.items():
        try:
            questions = read()
        except (OSError, subprocess.CalledProcessError):
            continue
        if questions:
            found[name] = questions
    return found


def _group(name: str) -> str:
    if name in DEV:
        return "dev"
    return "test, other languages" if name.removeprefix("debian-faq-") in LANGUAGES else "test, English"


def evaluate(found: dict[str, list[str]], presets: list[str], show: bool = False) -> dict:
    result: dict[str, dict] = {}
    for preset in presets:
        guard = preset_guard(preset)
        per_source, groups = {}, {}
        for name, questions in found.items():
            refused, flagged = [], []
            for text in questions:
                decision = guard.check_input(text)
                if decision.action == "refuse":
                    refused.append(text)
                if any(e.category == "prompt_injection" for e in decision.events):
                    flagged.append(text)
            per_source[name] = {"n": len(questions), "refused": len(refused), "injection": len(flagged)}
            g = groups.setdefault(_group(name), {"n": 0, "refused": 0, "injection": 0})
            for key in g:
                g[key] += per_source[name][key]
            if show and name in DEV:
                for text in refused:
                    print(f"  {preset} {name} refused: {text}")
                for text in flagged:
                    print(f"  {preset} {name} injection: {text}")
        for g in groups.values():
            g["refused_ci95"] = list(wilson(g["refused"], g["n"]))
            g["injection_ci95"] = list(wilson(g["injection"], g["n"]))
        result[preset] = {"sources": per_source, "groups": groups}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="the folder the recipe above made")
    ap.add_argument("--presets", default="default,strict")
    ap.add_argument("--show", action="store_true", help="print the dev sources' refused and flagged questions")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    found = sources(args.root)
    if not found:
        raise SystemExit(f"No FAQ found under {args.root}: run the recipe at the top of this file there.")
    result = evaluate(found, args.presets.split(","), args.show)
    for preset, figures in result.items():
        for name, row in figures["sources"].items():
            print(f"{preset:8} {name:18} {_group(name):22} n={row['n']:4} refused={row['refused']:3} "
                  f"injection={row['injection']:3}")  # fmt: skip
        for group, g in sorted(figures["groups"].items()):
            lo, hi = g["refused_ci95"]
            print(f"{preset:8} {group:41} n={g['n']:4} refused {g['refused'] / g['n']:.1%} ({lo:.1%}-{hi:.1%}), "
                  f"injection {g['injection'] / g['n']:.1%}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
