"""CycloneDX's own valid and invalid BOMs against CycloneDX's JSON Schemas, as ``jsonschema_bench.py``
cases.

A software bill of materials is a document a build writes and a model may be asked to fill in;
CycloneDX (OWASP, Apache-2.0) publishes a JSON Schema per version (draft-07: long enums of
licence ids in a second document, a signature schema in a third, ``iri-reference``, ``idn-email``
and ``date-time`` formats, patterns for hashes and serial numbers) and, in its specification
repository, BOMs named ``valid-*`` and ``invalid-*`` for each version, which its own tools check
(``tools/src/test/resources``). Both ship in ``cyclonedx-python-lib``'s sdist, nobody here wrote
or had read them:

    pip download --no-deps --no-binary :all: cyclonedx-python-lib==11.12.0
    python tools/bench/cyclonedx_cases.py cyclonedx_python_lib-11.12.0.tar.gz OUT
    python tools/bench/jsonschema_bench.py OUT

One case per schema file (``bom-1.2.SNAPSHOT.schema.json`` ... ``bom-1.7``, and the two
``-strict`` ones), the documents it refers to bundled in (``edgeqwen.runtime.documents.bundled``,
as ``ResponseFormat.of(schema, resources=...)`` does). Each case holds its version's JSON BOMs,
labelled by their file names (the corpus's own verdict, not this project's check); ``--disagree``
also lists the files jsonschema's own validator, formats asserted, labels otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsonschema_bench import write_cases  # noqa: E402

from edgeqwen.runtime.documents import bundled  # noqa: E402

SCHEMAS = "cyclonedx/schema/_res/"
TESTS = "tests/_data/schemaTestData/"
BASE = "http://cyclonedx.org/schema/"  # the schemas' $id; their references are relative to it
_SCHEMA = re.compile(r"bom-(\d+\.\d+)(-strict)?\.SNAPSHOT\.schema\.json")
_TEST = re.compile(r"(\d+\.\d+)/((?:in)?valid-[^/]+\.json)")


def read(path: Path) -> dict[str, bytes]:
    """The sdist's schema and test files by their path below its top folder."""
    out: dict[str, bytes] = {}

    def keep(name: str, data: bytes) -> None:
        if name.startswith((SCHEMAS, TESTS)) and name.endswith(".json"):
            out[name] = data

    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            keep(file.relative_to(path).as_posix(), file.read_bytes())
    else:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.isfile():
                    keep(member.name.split("/", 1)[-1], tar.extractfile(member).read())
    if not any(name.startswith(TESTS) for name in out):
        raise SystemExit(f"No CycloneDX test BOMs in {path}: expected cyclonedx-python-lib's sdist (or its folder).")
    return out


def cases(files: dict[str, bytes]) -> dict[str, dict]:
    documents = {
        BASE + name[len(SCHEMAS) :]: json.loads(data)
        for name, data in files.items()
        if name.startswith(SCHEMAS) and not _SCHEMA.fullmatch(name[len(SCHEMAS) :])
    }
    tests: dict[str, list[dict]] = {}
    for name, data in sorted(files.items()):
        found = _TEST.fullmatch(name[len(TESTS) :]) if name.startswith(TESTS) else None
        if found:
            version, file = found.groups()
            value = json.loads(data)
            tests.setdefault(version, []).append(
                {"data": value, "valid": file.startswith("valid-"), "description": file}
            )
    out = {}
    for name, data in sorted(files.items()):
        found = _SCHEMA.fullmatch(name[len(SCHEMAS) :]) if name.startswith(SCHEMAS) else None
        if found and found.group(1) in tests:
            version, strict = found.groups()
            schema = bundled(json.loads(data), documents)
            title = f"cyclonedx-{version}{strict or ''}"
            out[title] = {
                "schema": schema,
                "tests": tests[version],
                "description": f"CycloneDX {version}{strict or ''}",
            }
    return out


def disagreements(found: dict[str, dict]) -> list[str]:
    """The tests jsonschema's validator (formats asserted) labels otherwise than the file name."""
    import jsonschema

    out = []
    for title, case in found.items():
        validator = jsonschema.validators.validator_for(case["schema"])(
            case["schema"], format_checker=jsonschema.FormatChecker()
        )
        for test in case["tests"]:
            if validator.is_valid(test["data"]) != test["valid"]:
                out.append(f"{title}: {test['description']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sdist", type=Path, help="cyclonedx-python-lib's sdist (.tar.gz), or its unpacked folder")
    ap.add_argument("out", type=Path)
    ap.add_argument("--disagree", action="store_true", help="list the labels jsonschema's validator disputes")
    args = ap.parse_args()
    found = cases(read(args.sdist))
    values, valid = write_cases(args.out, found)
    print(f"{len(found)} schemas, {values} values ({valid} valid) -> {args.out}")
    if args.disagree:
        print("\n".join(disagreements(found)) or "jsonschema agrees with every label")


if __name__ == "__main__":
    main()
