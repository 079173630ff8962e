"""The JSON Schema the grammar enforces: the user's, made finite for a model that may never stop.

Decoding must end: a weak or looping model can write digits, letters or members forever, and
llguidance follows the schema wherever it allows that. :func:`decoding_schema` narrows the schema
(never widens it) so every value is bounded; the answer is still validated against the user's
own schema afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from .rewrite import _DATA

__all__ = ["DEFAULT_MAX_STRING", "MAX_SAFE_INTEGER", "NUMBER_STEP", "decoding_schema"]

DEFAULT_MAX_STRING = 256  # characters, for JSON strings whose schema sets no maxLength
# Numbers a looping model cannot run to the token limit: what a double (JavaScript's number)
# holds exactly, 2**53 - 1 at most, with at most 10 decimals (llguidance's multipleOf takes no
# finer step than 1e-10).
MAX_SAFE_INTEGER = 2**53 - 1
NUMBER_STEP = 1e-10
_ANY = "edgeqwen_any"
_ANY_REF = {"$ref": f"#/$defs/{_ANY}"}
_KEY = "^.{0,32}$"


def _is_any(schema: Any) -> bool:
    return schema is True or schema == {}


def decoding_schema(schema: dict[str, Any], max_string: int | None, bound_patterns: bool = True) -> dict[str, Any]:
    """The schema the grammar enforces.

    Strings without maxLength (and without enum or const; with ``bound_patterns`` off, also without
    pattern or format) get ``max_string``; numbers get a largest magnitude and a smallest step
    (``_bound_number``); objects that name their properties allow no others (as OpenAI's strict
    mode does); free-form objects, arrays and ``{}`` values use a bounded "any JSON" (two levels;
    keys and strings up to 32 characters; at most 8 members at the top and 4 below). Every value
    this accepts is valid for the original schema, which results are checked against.
    """
    if not max_string:
        return schema
    used = False

    def walk(node: Any) -> Any:
        nonlocal used
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key in _DATA:
                out[key] = value
            elif key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
                out[key] = (
                    {k: (_ANY_REF if _is_any(v) else walk(v)) for k, v in value.items()}
                    if isinstance(value, dict)
                    else value
                )
            else:
                out[key] = walk(value)
        types = out.get("type")
        # only names count: a dict here is a definition called "type" under a container this walk
        # does not know (Vega's "defs"), which it walks as a schema all the same
        types = [t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)]
        shaped = not bound_patterns and {"pattern", "format"} & out.keys()
        if "string" in types and not {"maxLength", "enum", "const"} & out.keys() and not shaped:
            out["maxLength"] = max(max_string, int(out.get("minLength", 0)))
        if {"integer", "number"} & set(types) and not {"enum", "const"} & out.keys():
            _bound_number(out, integer="number" not in types)
        if "object" in types:
            extra = out.get("additionalProperties")
            named = out.get("properties")
            missing = [k for k in out.get("required") or () if isinstance(named, dict) and k not in named]
            if missing and (extra is None or extra is True or _is_any(extra)):
                # required but not described: still allowed (as bounded any-JSON) once extras are not
                out["properties"] = {**named, **dict.fromkeys(missing, _ANY_REF)}
            if "properties" in out or "patternProperties" in out:
                if extra is None or extra is True:
                    out["additionalProperties"] = False
                elif _is_any(extra):
                    out["additionalProperties"] = False
            elif extra is None or _is_any(extra):
                out["patternProperties"] = {_KEY: _ANY_REF}
                out["additionalProperties"] = False
                out.setdefault("maxProperties", 8)
                used = True
        if "array" in types and _is_any(out.get("items", {})) and "prefixItems" not in out:
            out["items"] = _ANY_REF
            out.setdefault("maxItems", 8)
            used = True
        return out

    result = walk(schema)
    used = used or json.dumps(result).find(_ANY) >= 0
    if used:
        # "any JSON", two levels deep: scalars, or small arrays / objects of scalars
        scalar = [
            {"type": "string", "maxLength": min(max_string, 32)},
            _bound_number({"type": "number"}, integer=False),
            {"type": "boolean"},
            {"type": "null"},
        ]
        defs = dict(result.get("$defs", {}))
        defs[_ANY] = {
            "anyOf": [
                *scalar,
                {"type": "array", "items": {"anyOf": scalar}, "maxItems": 4},
                {
                    "type": "object",
                    "patternProperties": {_KEY: {"anyOf": scalar}},
                    "additionalProperties": False,
                    "maxProperties": 4,
                },
            ]
        }
        result = {**result, "$defs": defs}
    return result


def _bound_number(node: dict[str, Any], integer: bool) -> dict[str, Any]:
    """Bound a number's digits: a magnitude a double holds exactly, and (for non-integers) a
    smallest step, each only where the schema sets none and the bound leaves values to pick."""
    low, high = node.get("minimum", node.get("exclusiveMinimum")), node.get("maximum", node.get("exclusiveMaximum"))
    if high is None and (low is None or low < MAX_SAFE_INTEGER):
        node["maximum"] = MAX_SAFE_INTEGER
    if low is None and (high is None or high > -MAX_SAFE_INTEGER):
        node["minimum"] = -MAX_SAFE_INTEGER
    if not integer and "multipleOf" not in node:
        node["multipleOf"] = NUMBER_STEP
    return node
