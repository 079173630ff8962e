"""Scalars written more than once, made one definition (what a schema as decoded compiles to).

llguidance compiles a value's lexeme each place the value is written: a string with a ``format``
costs up to several ms each time (GitHub's schemas write ``"format": "uri"`` up to a hundred times),
a number with a range about 0.7 ms. :func:`shared_leaves` makes each scalar's schema written more than once a reference
to one definition (docs/structured-output.md, "What a first answer waits for is the schema as
decoded").
"""

from __future__ import annotations

import json
from typing import Any

from .rewrite import KEYWORDS

__all__ = ["LEAF", "leaf_key", "shared_leaves"]

LEAF = "edgeqwen_leaf"  # the prefix of the definitions made here
_SCALAR_TYPES = frozenset(("string", "number", "integer", "boolean", "null"))
_LEAF_KEYWORDS = frozenset(("type", "format", "pattern", "minLength", "maxLength", "minimum", "maximum",
                            "exclusiveMinimum", "exclusiveMaximum", "multipleOf"))  # fmt: skip
# where a leaf is shared: a schema's own values and branches; an allOf's parts, a not, a condition
# are intersected or negated by llguidance, and a reference there is left as written
_SHARED_IN = {"properties": "map", "patternProperties": "map", "$defs": "map", "definitions": "map",
              "additionalProperties": "one", "items": "one", "prefixItems": "many", "anyOf": "many",
              "oneOf": "many"}  # fmt: skip


def leaf_key(node: dict[str, Any]) -> str | None:
    """A scalar's schema as the grammar reads it (what no keyword reads left out: annotations,
    OpenAPI's ``example``; a number's format), as JSON, where it says more than its type; else None.
    A node with an ``$id`` or an ``$anchor`` is no leaf: a reference may name it."""
    types = node.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or not types or not set(types) <= _SCALAR_TYPES:
        return None
    said = {k: v for k, v in node.items() if k in KEYWORDS or k[:1] == "$" and k != "$comment" or k == "id"}
    if "string" not in types:
        said.pop("format", None)
    if not said.keys() <= _LEAF_KEYWORDS or len(said) == 1:
        return None
    return json.dumps(said, sort_keys=True)


def shared_leaves(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Each scalar below the root of ``schema`` written more than once (or as one of ``defs``) made a
    reference to one definition, in place (``schema`` is fresh from ``narrow``); the new definitions."""
    known = {json.dumps(v, sort_keys=True): name for name, v in defs.items() if leaf_key(v)}
    places: dict[str, list[tuple[Any, Any]]] = {}  # leaf -> (container, slot) where it is written
    todo = [schema]
    while todo:
        node = todo.pop()
        for key, how in _SHARED_IN.items():
            held = node.get(key)
            if how == "map" and isinstance(held, dict):
                container, slots = held, list(held.items())
            elif isinstance(held, list) and (how == "many" or key == "items"):
                container, slots = held, list(enumerate(held))
            elif how == "one" and isinstance(held, dict):
                container, slots = node, [(key, held)]
            else:
                continue
            for slot, child in slots:
                if isinstance(child, dict):
                    leaf = leaf_key(child)
                    if leaf is None:
                        todo.append(child)
                    else:
                        places.setdefault(leaf, []).append((container, slot))
    new = {}
    for i, (leaf, where) in enumerate(places.items()):
        name = known.get(leaf)
        if name is None and len(where) > 1:
            name = f"{LEAF}_{i}"
            new[name] = json.loads(leaf)
        if name is not None:
            for container, slot in where:
                container[slot] = {"$ref": f"#/$defs/{name}"}
    return new
