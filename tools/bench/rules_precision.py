"""How often the input rules fire on text nobody wrote as an attack or a harmful request: the
gettext catalogues a Linux system ships (each program's interface strings, English and their
translations into ~150 languages), and safety-train's labelled rows for the injections they find.

    python tools/bench/rules_precision.py [--locale /usr/share/locale] [--data SAFETY_TRAIN]
    python tools/bench/rules_precision.py --texts debian,man,docstrings   # English prose, ~4 min

``--texts`` runs the default preset's rules over English prose nobody wrote as a prompt either,
closer to what users paste: the Debian archive's package descriptions (the apt lists), the man
pages' paragraphs, and the docstring paragraphs of the installed Python packages; ``json:FOLDER``
every JSON value under a folder, as a tool returns data. Each text is also read as a tool result
(``tool_result:`` kinds: what ``Guard.check_tool_results`` would flag).

Interface strings are short, technical and full of the rules' words ("ignore", "previous",
"instructions", "kill", "delete all"), so a hit there is a false positive the rules would also make
in ordinary text. The other languages' override and extraction patterns (safety/injection_languages.py) have no
other non-English benign text to be checked on here.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import re
import struct
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from edgeqwen.safety.hazards import _REQUEST, check_hazards  # noqa: E402
from edgeqwen.safety.input import check_injection  # noqa: E402
from edgeqwen.safety.selfharm import check_self_harm  # noqa: E402
from edgeqwen.safety.tooldata import check_tool_result  # noqa: E402


def read_mo(path: Path) -> list[tuple[str, str]]:
    """(source, translation) pairs of a GNU .mo file; entries that are not UTF-8 are skipped
    (gettext's own reader gives up on the whole file at the first odd header)."""
    data = path.read_bytes()
    if len(data) < 28:
        return []
    order = {b"\xde\x12\x04\x95": "<", b"\x95\x04\x12\xde": ">"}.get(data[:4])
    if order is None:
        return []
    n, originals, translations = struct.unpack(order + "3I", data[8:20])
    pairs = []
    for i in range(n):
        try:
            (lo, oo), (lt, ot) = (
                struct.unpack(order + "2I", data[t + 8 * i : t + 8 * i + 8]) for t in (originals, translations)
            )
            pairs.append((data[oo : oo + lo].decode(), data[ot : ot + lt].decode()))
        except (struct.error, UnicodeDecodeError):
            continue
    return pairs


def catalogue_strings(locale_dir: Path):
    """(language, text) for every translated string and its English source, each once (plural
    forms split)."""
    seen: set[str] = set()
    for mo in sorted(locale_dir.glob("*/LC_MESSAGES/*.mo")):
        lang = mo.parts[-3]
        for source, text in read_mo(mo):
            for lang_of, values in (("en", source), (lang, text)):
                for value in values.split("\x00"):
                    if value and value not in seen:
                        seen.add(value)
                        yield lang_of, value


def catalogue_hits(locale_dir: Path, examples: int = 8) -> dict:
    n, hits, shown = Counter(), Counter(), []
    for lang, text in catalogue_strings(locale_dir):
        family = lang.split("_")[0].split("@")[0]
        n[family] += 1
        strong = check_hazards(text, terms=False)  # the default preset's strong patterns
        checks = (
            ("injection", check_injection(text)),
            ("hazard", strong),
            # strict's: also hazard terms, which count only inside a request (else the same findings)
            ("hazard_terms", check_hazards(text) if _REQUEST.search(text) else strong),
            ("self_harm", check_self_harm(text)),  # answered with support, not the model
        )
        for kind, findings in checks:
            if findings:
                hits[(family, kind)] += 1
                if sum(e["kind"] == kind for e in shown) < examples:
                    shown.append({"lang": lang, "kind": kind, "evidence": findings[0].evidence, "text": text[:160]})
    return {
        "strings": sum(n.values()),
        "languages": len(n),
        "english": n["en"],
        "hits": {f"{lang}:{kind}": k for (lang, kind), k in sorted(hits.items())},
        "examples": shown,
    }


def debian_descriptions(lists: Path = Path("/var/lib/apt/lists")) -> list[str]:
    """Each package's description (summary and long text) from the apt lists (plain or lz4)."""
    out, current = set(), None
    for path in sorted(lists.glob("*_Packages*")):
        raw = path.read_bytes()
        if path.suffix == ".lz4":  # apt keeps its lists lz4-compressed; the lz4 command reads them
            import subprocess

            try:
                raw = subprocess.run(["lz4", "-dc", str(path)], capture_output=True, check=True).stdout
            except (OSError, subprocess.CalledProcessError) as exc:
                raise SystemExit(f"Cannot read {path}: {exc} (apt install lz4)") from exc
        for line in raw.decode("utf-8", "replace").splitlines():
            if line.startswith("Description"):
                if current:
                    out.add(current)
                current = line.partition(":")[2].strip()
            elif line.startswith(" ") and current is not None:
                current += "" if line.strip() == "." else " " + line.strip()
            elif current:
                out.add(current)
                current = None
        if current:
            out.add(current)
    return sorted(out)


_TROFF_ESCAPE = re.compile(r"\\f[BIRP]|\\f\(..|\\\(..|\\&|\\e")


def man_paragraphs(root: Path = Path("/usr/share/man"), min_chars: int = 40) -> list[str]:
    """Paragraphs of the English man pages, troff requests and font escapes removed (roughly)."""
    out = set()
    for page in root.glob("man[1-8]/*.gz"):
        try:
            raw = gzip.open(page, "rt", encoding="utf-8", errors="replace").read()
        except (OSError, EOFError):
            continue
        words: list[str] = []
        for line in raw.splitlines():
            if line.startswith(('.\\"', "'\\\"")):
                continue
            if line.startswith("."):
                request, _, rest = line.partition(" ")
                if request in (".PP", ".P", ".LP", ".SH", ".SS", ".TP", ".IP", ".sp", ".br"):
                    words.append("\n")
                if rest and request in (".B", ".I", ".BR", ".IR", ".BI", ".RB", ".RI", ".IB", ".SH", ".SS"):
                    words.append(rest.replace('"', ""))
                continue
            words.append(line)
        text = _TROFF_ESCAPE.sub("", " ".join(words).replace("\\-", "-"))
        out.update(p for p in (" ".join(par.split()) for par in text.split("\n")) if min_chars <= len(p) <= 3000)
    return sorted(out)


def docstring_paragraphs(site_packages: Path, min_chars: int = 40) -> list[str]:
    """Paragraphs of every module, class and function docstring under ``site_packages``."""
    out = set()
    for path in site_packages.rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                for par in (ast.get_docstring(node) or "").split("\n\n"):
                    text = " ".join(par.split())
                    if min_chars <= len(text) <= 2000:
                        out.add(text)
    return sorted(out)


def json_values(folder: Path) -> list[str]:
    """Every JSON value under ``folder`` as a tool would return it (``json.dumps``): each ``.json``
    file, each element where it is a list, each test's value where it is a ``jsonschema_bench``
    case (``{"schema", "tests"}``)."""
    out = []
    for path in sorted(folder.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("tests"), list) and "schema" in doc:
            values = [t["data"] for t in doc["tests"] if isinstance(t, dict) and "data" in t]
        else:
            values = doc if isinstance(doc, list) else [doc]
        out += [json.dumps(v) for v in values]
    return out


def text_hits(texts: list[str], examples: int = 12) -> dict:
    """The default preset's rules on ``texts``: how many each kind flags, and some of them; and the
    tool-result check's findings (``tooldata``: the injection rules on the text as read, and the
    rules of data alone) on the same texts, as if a tool had returned them."""
    hits: Counter = Counter()
    shown: list[dict] = []
    for text in texts:
        found = [
            *(("hazard:" + f.category, f) for f in check_hazards(text, terms=False)),
            *(("injection:" + f.code, f) for f in check_injection(text)),
            *(("self_harm", f) for f in check_self_harm(text)),
            *(("tool_result:" + f.code, f) for f in check_tool_result(text)),
        ]
        for kind, finding in found:
            hits[kind] += 1
            if sum(e["kind"] == kind for e in shown) < examples:
                shown.append({"kind": kind, "evidence": finding.evidence[:60], "text": text[:160]})
    return {"texts": len(texts), "hits": dict(sorted(hits.items())), "examples": shown}


def corpus_hits(data: Path) -> dict:
    """Rows of safety-train each label has, and how many the injection rules flag."""
    from train_screen import load_rows

    counts: dict[str, dict[str, int]] = {}
    for row in load_rows(data, excluded=(), hard_negatives=False):
        c = counts.setdefault(row["label"], {"n": 0, "flagged": 0})
        c["n"] += 1
        c["flagged"] += bool(check_injection(row["text"]))
    return dict(sorted(counts.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--locale", type=Path, default=Path("/usr/share/locale"))
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "safety-train")
    ap.add_argument(
        "--texts", default="", help="debian,man,docstrings,json:FOLDER: English prose or JSON instead of the catalogues"
    )
    args = ap.parse_args()
    if args.texts:
        import sysconfig

        sources = {
            "debian": debian_descriptions,
            "man": man_paragraphs,
            "docstrings": lambda: docstring_paragraphs(Path(sysconfig.get_paths()["purelib"])),
        }
        for name in args.texts.split(","):
            if name.startswith("json:"):
                sources[name] = lambda folder=Path(name[5:]): json_values(folder)
        unknown = set(args.texts.split(",")) - set(sources)
        if unknown:
            raise SystemExit(f"--texts takes {', '.join(sources)} or json:FOLDER; not {', '.join(sorted(unknown))}")
        print(json.dumps({name: text_hits(sources[name]()) for name in args.texts.split(",")}, indent=1))
        return
    result = {"catalogues": catalogue_hits(args.locale)}
    if (args.data / "train.jsonl").exists():
        result["safety_train"] = corpus_hits(args.data)
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
