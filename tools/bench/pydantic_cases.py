"""The pydantic models a Python package defines, as ``jsonschema_bench.py`` cases.

An app asks for structured output with its own pydantic models far more often than with a schema
file. A package's models are a corpus of such schemas nobody here wrote: the ``openai`` SDK
(Apache-2.0) defines ~1,000 of them for its API's requests and responses (unions with
discriminators, literals, nested and optional models). This writes one case per model that
pydantic can give a JSON Schema for (``model_json_schema()``, the schema edgeqwen decodes a model
with), and values for each:

- **valid values drawn from the schema** by hypothesis-jsonschema (optional: without it, schemas
  only), derandomised, at most ``DRAW_SECONDS`` a schema, labelled by ``jsonschema_bench.label``
  (the check's verdict, and the formats as jsonschema's format checker reads them: pydantic
  validates a model's formats, so a drawn ``""`` for a UUID field is no valid value).
  hypothesis-jsonschema 0.23.1 fails on the internals of the hypothesis the suite uses (6.170);
  install both apart: ``pip install --no-deps --target /tmp/hjs hypothesis-jsonschema==0.23.1
  hypothesis==6.112.0`` and run with ``PYTHONPATH=/tmp/hjs``;
- **invalid values made from the valid ones**: a required key dropped, or a property's value
  replaced by one of another JSON type, kept only where the check refuses them.

    PYTHONPATH=/tmp/hjs python tools/bench/pydantic_cases.py openai.types OUT [--values 3]
    python tools/bench/jsonschema_bench.py OUT [--generate 100]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import pkgutil
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsonschema_bench import label, write_cases  # noqa: E402

DRAW_SECONDS = 3.0
_OTHER_TYPE = {str: 12345, int: "text", float: "text", bool: "text", list: {"x": 1}, dict: [1, 2], type(None): 0}


def models(package: str) -> Iterator[type]:
    """Every pydantic model a package's modules define (each once, by where it is defined)."""
    from pydantic import BaseModel

    root = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(getattr(root, "__path__", []), package + ".")]
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception:  # an optional dependency missing: that module's models are left out
            continue
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseModel)
                and obj.__module__ == name
                and not getattr(obj, "__pydantic_generic_metadata__", {}).get("parameters")
            ):
                yield obj


def draw(schema: dict, n: int) -> list[object]:
    """Up to ``n`` distinct values of ``schema`` from hypothesis-jsonschema, the same every run."""
    try:
        from hypothesis import HealthCheck, given, settings
        from hypothesis_jsonschema import from_schema
    except ImportError:
        return []
    found: list[object] = []

    @settings(
        max_examples=4 * n, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(from_schema(schema))
    def collect(value: object) -> None:
        if len(found) < n and value not in found:
            found.append(value)

    def give_up(*_: object) -> None:
        raise TimeoutError

    # a large union can take hypothesis-jsonschema minutes: what it drew in a few seconds is kept
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, DRAW_SECONDS, 0.5)  # again, should hypothesis swallow one
    try:
        collect()
    except Exception:  # a schema hypothesis-jsonschema cannot draw from (recursive, unsatisfiable)
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return found


def broken(value: object, schema: dict) -> Iterator[object]:
    """Values made invalid from a valid object: a required key dropped, a property's type changed."""
    if not isinstance(value, dict):
        return
    for key in schema.get("required", []):
        if key in value:
            yield {k: v for k, v in value.items() if k != key}
            break
    for key, item in value.items():
        yield {**value, key: _OTHER_TYPE.get(type(item), "text")}
        break


def cases(package: str, n_values: int) -> dict[str, dict]:
    found: dict[str, dict] = {}
    seen: set[str] = set()
    for i, model in enumerate(models(package)):
        if i % 100 == 0:
            print(f"{i} models read, {len(found)} cases", file=sys.stderr, flush=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                schema = model.model_json_schema()
        except Exception:  # a field type pydantic cannot say in JSON Schema
            continue
        text = json.dumps(schema, sort_keys=True)
        if text in seen:
            continue
        seen.add(text)
        tests = []
        for value in draw(schema, n_values):
            if not label(value, schema, formats=True):
                continue
            tests.append({"data": value, "valid": True})
            for bad in broken(value, schema):
                if not label(bad, schema, formats=True) and all(t["data"] != bad for t in tests):
                    tests.append({"data": bad, "valid": False})
        name = f"{model.__module__}.{model.__qualname__}"
        found[name] = {"schema": schema, "tests": tests, "description": name}
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("package", help="an importable package, e.g. openai.types")
    ap.add_argument("out", type=Path)
    ap.add_argument("--values", type=int, default=3, help="valid values drawn per schema")
    args = ap.parse_args()
    found = cases(args.package, args.values)
    values, valid = write_cases(args.out, found)
    print(f"{len(found)} schemas, {values} values ({valid} valid) -> {args.out}")


if __name__ == "__main__":
    main()
