"""AWS CloudFormation's resource schemas with real values, as ``jsonschema_bench.py`` cases.

cfn-lint (PyPI, MIT-0) ships the resource provider schema of every CloudFormation resource type
(``cfnlint/data/schemas/resources/*.json``, named by hash; ``providers/us-east-1.json`` maps a
type to its file) and, in its sdist, the templates of its own tests. A resource's ``Properties``
in a template is a value its type's schema describes. This writes one case per resource type:
the schema, and every distinct ``Properties`` of the templates that holds no intrinsic function
(``Ref``, ``Fn::Sub``, ``!GetAtt``...: CloudFormation resolves those before the schema applies).

Each value is labelled by ``jsonschema_bench.label``: the check's verdict with formats as
annotations, in the draft edgeqwen reads (none named is 2020-12; cfn-lint reads draft 7 with
keywords of its own, so one DynamoDB key schema that draft 7 takes fails 2020-12's
``prefixItems``). What the cases test is the grammar, and the formats, on values people wrote.

    pip download --no-deps cfn-lint==1.58.0 && unzip -q cfn_lint-*.whl -d cfn
    pip download --no-deps --no-binary :all: cfn-lint==1.58.0 && tar xzf cfn_lint-*.tar.gz
    python tools/bench/cloudformation_cases.py cfn/cfnlint/data/schemas cfn_lint-1.58.0/test/fixtures/templates OUT
    python tools/bench/jsonschema_bench.py OUT                                    # 54 types, 167 values
    python tools/bench/jsonschema_bench.py cfn/cfnlint/data/schemas/resources     # every schema, no values
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsonschema_bench import label, write_cases  # noqa: E402

_INTRINSIC = ("Ref", "Condition")


class _TemplateLoader(yaml.SafeLoader):
    """YAML templates write intrinsic functions as tags (``!Ref x``): read as ``{"Fn::Ref": x}``."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Fn::" + suffix: value}


_TemplateLoader.add_multi_constructor("!", _tag)


def _intrinsic(node: object) -> bool:
    if isinstance(node, dict):
        return any(k in _INTRINSIC or k.startswith("Fn::") for k in node) or any(map(_intrinsic, node.values()))
    return isinstance(node, list) and any(map(_intrinsic, node))


def _template(path: Path) -> dict | None:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_TemplateLoader)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("Resources"), dict) else None


def cases(schemas: Path, templates: Path) -> tuple[dict[str, dict], Counter]:
    types = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    values: dict[str, dict[str, object]] = defaultdict(dict)
    skipped: Counter = Counter()
    for path in sorted(templates.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json", ".template") or (template := _template(path)) is None:
            continue
        for resource in template["Resources"].values():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            if not isinstance(kind, str):
                continue
            properties = resource.get("Properties", {})
            if kind not in types:
                skipped["type not in us-east-1"] += 1
            elif _intrinsic(properties):
                skipped["intrinsic function"] += 1
            else:
                try:
                    values[kind][json.dumps(properties, sort_keys=True)] = properties
                except TypeError:  # a YAML date or the like: no JSON value
                    skipped["not JSON"] += 1
    out = {}
    for kind, found in sorted(values.items()):
        schema = json.loads((schemas / "resources" / f"{types[kind]}.json").read_text())
        out[kind] = {
            "description": kind,
            "schema": schema,
            "tests": [{"data": v, "valid": label(v, schema)} for v in found.values()],
        }
    return out, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schemas", type=Path, help="cfn-lint's cfnlint/data/schemas")
    parser.add_argument("templates", type=Path, help="its sdist's test/fixtures/templates")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    found, skipped = cases(args.schemas, args.templates)
    total, valid = write_cases(args.out, {kind.replace("::", "_"): case for kind, case in found.items()})
    print(f"{len(found)} resource types, {total} values ({valid} valid, {total - valid} invalid)")
    print(f"left out: {dict(skipped)}")


if __name__ == "__main__":
    main()
