"""The values schema authors wrote beside their schemas (``default``, ``examples``), as
``jsonschema_bench.py`` cases.

A real corpus of schemas rarely comes with instances; but its authors write a ``default`` or
``examples`` beside many a subschema, values meant to fit it. This writes one case per such
subschema that shapes a value (an ``enum``, a ``pattern``, ``properties``, a ``$ref``...: a bare
``{"type": "boolean", "default": false}`` tests nothing), carrying the root's ``$schema``, ``$id``
and definitions so its references resolve; subschemas with an ``$id`` of their own or a reference
to anything but those definitions are left out. Each value is labelled by the check (jsonschema,
in the draft edgeqwen reads) with formats left as annotations: what the cases test is the grammar,
and the formats the check asserts. Authors' values are sometimes wrong (``"253402214400"`` as a
``date-time``, ``""`` as a ``uri``): the check refuses them, as it would an answer.

    python tools/bench/annotated_cases.py OUT package/schemas/json [more folders]
    python tools/bench/jsonschema_bench.py OUT
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsonschema_bench import corpus, label, write_cases  # noqa: E402

from edgeqwen.runtime.rewrite import KEYWORDS  # noqa: E402
from edgeqwen.runtime.walk import walk  # noqa: E402

SHAPING = frozenset(KEYWORDS) - {"type"}  # every validation keyword but the bare type
_OTHER_REF = re.compile(r'"\$ref": "(?!#/(?:definitions|\$defs)/)')


def cases(folders: list[Path]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    seen: set[str] = set()
    for folder in folders:
        for path, case in corpus(folder):
            root = case["schema"]
            if not isinstance(root, dict) or (
                '"default"' not in (text := json.dumps(root)) and '"examples"' not in text
            ):
                continue
            top = {k: root[k] for k in ("$schema", "$id", "id") if isinstance(root.get(k), str)}
            top |= {k: root[k] for k in ("definitions", "$defs") if isinstance(root.get(k), dict)}
            for node in walk(root):
                values = ([node["default"]] if "default" in node else []) + list(node.get("examples", []) or [])
                if node is root or not values or "$id" in node or "id" in node or not node.keys() & SHAPING:
                    continue
                if _OTHER_REF.search(json.dumps(node)) or (key := json.dumps([node, values], sort_keys=True)) in seen:
                    continue
                seen.add(key)
                schema = top | node
                try:
                    tests = [{"data": value, "valid": label(value, schema)} for value in values]
                except Exception:  # a subschema the check cannot read on its own: not a case
                    continue
                out[f"{folder.name}-{path.stem}-{len(out):05d}"] = {"schema": schema, "tests": tests}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    found = cases(args.folders)
    values, valid = write_cases(args.out, found)
    print(f"{len(found)} subschemas, {values} values ({valid} valid)")


if __name__ == "__main__":
    main()
