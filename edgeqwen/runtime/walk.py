"""The walk over a JSON Schema's subschemas: where subschemas sit, every schema object once, the
values that may hold one, and references replaced, found or re-rooted. Everything that reads or rewrites a schema
walks it this way (rewrite.py, numbers.py, relax.py, schema.py, formats.py).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

__all__ = [
    "DATA",
    "HOLDS",
    "MAP",
    "has_local_ref",
    "key_patterns",
    "replace_refs",
    "rerooted",
    "schema_values",
    "subschemas",
    "walk",
]

# Where subschemas sit: a schema, a list of schemas, a map of schemas.
_ONE = ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else", "contains",
        "propertyNames", "unevaluatedProperties", "unevaluatedItems")  # fmt: skip
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")
# keywords whose value is data (a JSON value), never a schema
DATA = frozenset({"enum", "const", "default", "examples"})
HOLDS = {**dict.fromkeys(_ONE, "one"), **dict.fromkeys(_MANY, "many"), **dict.fromkeys(MAP, "map")}


def subschemas(node: dict[str, Any]) -> list[dict[str, Any]]:
    # on every node of schemas up to megabytes: plain loops and exact type checks (JSON has no
    # dict or list subclasses), no generators
    found: list[dict[str, Any]] = []
    for key, value in node.items():
        kind = HOLDS.get(key)
        if kind is None:
            continue
        if type(value) is dict:
            if kind == "map":
                found.extend(v for v in value.values() if type(v) is dict)
            else:
                found.append(value)
        elif type(value) is list and kind == "many":
            found.extend(v for v in value if type(v) is dict)
    return found


def schema_values(node: dict[str, Any]) -> Iterator[Any]:
    """Every value under ``node`` that may hold a schema, by any key (as llguidance looks for
    references): not the data keywords' values, and under a map keyword each named value (a
    property may be called "examples")."""
    for key, value in node.items():
        if key in MAP and isinstance(value, dict):
            yield from value.values()
        elif key not in DATA:
            yield value


def walk(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema object in ``schema`` (each once), parents before children (a child is found
    after its parent was handled, so what a caller puts into a node is walked too)."""
    stack, seen = [schema] if isinstance(schema, dict) else [], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(reversed(subschemas(node)))


def replace_refs(schema: dict[str, Any], ref: str, value: Any) -> bool:
    """Every subschema that is a reference to ``ref`` (compared percent-decoded), with whatever
    stands beside it, becomes ``value``; True where one did."""
    target, changed = urllib.parse.unquote(ref), False
    for node in walk(schema):
        for key, held in node.items():
            kind = HOLDS.get(key)
            if kind is None:
                continue
            if type(held) is dict and kind != "map":
                held, slots = node, [key]
            else:
                slots = (
                    range(len(held)) if type(held) is list and kind == "many" else list(held) if kind == "map" else []
                )
            for slot in slots:
                child = held[slot]
                if type(child) is dict and urllib.parse.unquote(str(child.get("$ref", ""))) == target:
                    held[slot] = value
                    changed = True
    return changed


def _objects(node: Any, in_map: bool = False) -> Iterator[dict[str, Any]]:
    """Every object under ``node`` that may hold a ``$ref`` (with ``in_map``, ``node`` maps names to
    schemas). Unlike :func:`walk` it also enters keys it does not know (Vega's "defs"), whose
    references llguidance follows all the same; it skips data (``const``, ``enum``...)."""
    if isinstance(node, list):
        for item in node:
            yield from _objects(item)
    elif isinstance(node, dict):
        if in_map:
            for value in node.values():
                yield from _objects(value)
            return
        yield node
        for key, value in node.items():
            if key not in DATA:
                yield from _objects(value, key in MAP)


def _is_pointer(ref: Any) -> bool:
    return isinstance(ref, str) and (ref == "#" or ref.startswith("#/"))


def key_patterns(schema: Any) -> set[str]:
    """The key patterns (``patternProperties``' keys) a schema names anywhere."""
    return {p for node in _objects(schema) if isinstance(node.get("patternProperties"), dict)
            for p in node["patternProperties"]}  # fmt: skip


def has_local_ref(schema: Any) -> bool:
    """Whether ``schema`` refers to a part of itself ("#", "#/...") anywhere."""
    return any(_is_pointer(node.get("$ref")) for node in _objects(schema))


def rerooted(schema: Any, root: str) -> Any:
    """A copy of ``schema`` whose JSON-pointer references ("#", "#/...") point under ``root``."""
    copy = json.loads(json.dumps(schema))
    for node in _objects(copy):
        if _is_pointer(node.get("$ref")):
            node["$ref"] = root + node["$ref"][1:]
    return copy
