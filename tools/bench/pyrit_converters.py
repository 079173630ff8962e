"""Requests rewritten by PyRIT's own converters: does a preset still refuse a harmful request, and
leave a harmless one alone?

PyRIT (Microsoft's red-teaming kit, MIT) rewrites an attack prompt with "converters" before it
sends it: ciphers and encodings, Unicode tricks (confusable letters, zero-width joiners, tag
characters, bidi overrides, diacritics, superscripts), spacing and punctuation noise, and framings
that hide the request in a puzzle, a code listing, an acrostic, a math exercise or a role-play
config. Every text converter that needs no model and no key runs here with its defaults (a few with
one argument given below), on the corpus README's validation split as ``encoded_prompts.py`` draws
it (fixed seed; rows the shipped screen never trained on, its thresholds set on the benign ones).
The converters are PyRIT's code, not this project's: nothing here was written from them.

PyRIT's dependencies are many and none is edgeqwen's, so it lives in a virtual environment of its
own; this script runs itself there to convert (``--convert``) and scores here:

    python -m venv /tmp/pyrit && /tmp/pyrit/bin/pip install pyrit==1.1.0
    python tools/bench/pyrit_converters.py --pyrit-python /tmp/pyrit/bin/python [--presets default,strict]
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Converters that need an argument: one each, as PyRIT's documentation shows them. The rest that
# need a model (translation, tense, tone, persuasion, ...), a file or a key are left out.
ARGUMENTS = {
    "CaesarConverter": {"caesar_offset": 3},
    "VigenereConverter": {"key": "secret"},
    "CodeChameleonConverter": {"encrypt_type": "reverse"},
}
LEFT_OUT = ("ImageColorSaturation", "ImageCompression", "ImageResizing", "ImageRotation", "PDF", "QRCode", "WordDoc")


def convert(rows: dict[str, list[str]]) -> dict[str, dict[str, list[str | None]]]:
    """Every text converter of the installed PyRIT that builds without a model: {name: {label: texts}}
    (None where the converter refuses a prompt). Runs where PyRIT is installed; each prompt is
    converted with ``random`` seeded by its index."""
    import asyncio
    import random

    import pyrit.converter as converters

    out: dict[str, dict[str, list[str | None]]] = {}
    for name in sorted(dir(converters)):
        if not name.endswith("Converter") or name == "Converter" or name.removesuffix("Converter") in LEFT_OUT:
            continue
        try:
            conv = getattr(converters, name)(**ARGUMENTS.get(name, {}))
            if not conv.input_supported("text") or not conv.output_supported("text"):
                continue
        except Exception as exc:  # noqa: BLE001  (needs a model, a key, a file: said, then left out)
            print(f"left out {name}: {type(exc).__name__}: {str(exc)[:100]}", file=sys.stderr)
            continue
        cells: dict[str, list[str | None]] = {}
        for label, texts in rows.items():
            cells[label] = []
            for i, text in enumerate(texts):
                random.seed(i)
                try:
                    result = asyncio.run(conv.convert_async(prompt=text, input_type="text"))
                except ValueError:  # a prompt the converter cannot take (BinaryConverter: an emoji)
                    cells[label].append(None)
                    continue
                cells[label].append(result.output_text)
        out[name.removesuffix("Converter")] = cells
    return out


def evaluate(preset: str, rows: dict[str, list[str]], converted: dict[str, dict[str, list[str | None]]]) -> dict:
    """Per converter: harmful kept (refused converted, of those refused as written) and benign refused;
    a prompt the converter refused counts in neither."""
    from encoded_prompts import caught
    from safety_eval import preset_guard

    refused = functools.partial(caught, preset_guard(preset))

    plain = [refused(t) for t in rows["harmful"]]
    out = {
        "as written": {
            "harmful": (sum(plain), len(plain)),
            "benign": (sum(map(refused, rows["benign"])), len(rows["benign"])),
        }
    }
    for name, cells in converted.items():
        kept = [refused(t) for t, was in zip(cells["harmful"], plain, strict=True) if was and t is not None]
        benign = [refused(t) for t in cells["benign"] if t is not None]
        out[name] = {"harmful": (sum(kept), len(kept)), "benign": (sum(benign), len(benign))}
    return out


def _convert_under(python: str, rows: dict[str, list[str]]) -> dict[str, dict[str, list[str | None]]]:
    """Run :func:`convert` under ``python`` (a Python with pyrit installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "rows.json", Path(tmp) / "converted.json"
        src.write_text(json.dumps(rows))
        # PyRIT prints as it converts; only what this script says (converters left out) is kept
        done = subprocess.run([python, __file__, "--convert", str(src), str(dst)], capture_output=True, text=True)
        said = [line for line in done.stderr.splitlines() if line.startswith("left out")]
        print("\n".join(said) if done.returncode == 0 else done.stderr[-3000:], file=sys.stderr)
        if done.returncode:
            sys.exit(f"converting under {python} failed (above)")
        return json.loads(dst.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyrit-python", help="a Python with pyrit installed (runs the converters)")
    parser.add_argument("--presets", default="default")
    parser.add_argument("--per-label", type=int, default=300)
    parser.add_argument("--convert", nargs=2, metavar=("ROWS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--save", help="also write the converted prompts to this JSON file")
    parser.add_argument(
        "--load", help="score what a --save wrote (no PyRIT needed; some converters' draws differ between runs)"
    )
    args = parser.parse_args()
    if args.convert:  # the half that runs under --pyrit-python
        rows = json.loads(Path(args.convert[0]).read_text())
        Path(args.convert[1]).write_text(json.dumps(convert(rows)))
        return
    if not args.pyrit_python and not args.load:
        parser.error("--pyrit-python is required (a Python with pyrit installed; see this script's docstring)")
    from encoded_prompts import kept_table, validation_rows

    if args.load:  # the prompts and their conversions, as --save wrote them
        saved = json.loads(Path(args.load).read_text())
        rows, converted = saved["rows"], saved["converted"]
    else:
        rows = validation_rows(args.per_label)
        converted = _convert_under(args.pyrit_python, rows)
    if args.save:
        Path(args.save).write_text(json.dumps({"rows": rows, "converted": converted}, ensure_ascii=False))
    for preset in args.presets.split(","):
        res = evaluate(preset, rows, converted)
        print(f"\n`{preset}`: harmful prompts refused as written, kept once converted; benign prompts refused\n")
        print(kept_table(res, "converter"))


if __name__ == "__main__":
    main()
