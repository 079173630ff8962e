"""The JSON Schema the grammar enforces: the user's, made finite for a model that may never stop.

Decoding must end: a weak or looping model can write digits, letters or members forever, and
llguidance follows the schema wherever it allows that. :func:`decoding_schema` narrows the schema
(never widens it) so every value is bounded; the answer is still validated against the user's
own schema afterwards.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

from .digits import FRACTION_DIGITS, INTEGER_DIGITS
from .exact import allows_no_value
from .leaves import shared_leaves
from .refs import REF_HOPS, nested_ids, pointer_part, resolve
from .walk import DATA, walk

__all__ = [
    "ANY_DEPTH",
    "ANY_JSON",
    "ANY_LAST",
    "ANY_MEMBERS",
    "DEFAULT_MAX_STRING",
    "FREE_KEY",
    "MAX_KEY",
    "NUMBER_BOUND",
    "NUMBER_STEP",
    "SCALAR_REF",
    "bound_numbers",
    "decoding_schema",
]

# characters, for JSON strings whose schema sets no maxLength: long enough for a paragraph, a letter
# or a function (about 500 tokens of English), which a shorter bound cuts mid-word into a valid but
# silently short answer; short enough that a model stuck in a string still ends
DEFAULT_MAX_STRING = 2048
# Numbers a looping model cannot run to the token limit: below 10^16 in magnitude with at most 10
# decimals. Our own loop holds an answer to it beside the grammar (digits.DigitLimit: said in the
# grammar it cost llguidance ~0.45 ms a schema to build); an engine that takes only JSON Schema
# (MLC, a remote server) gets it said in the schema (bound_numbers).
NUMBER_BOUND = 10**INTEGER_DIGITS
NUMBER_STEP = 10.0**-FRACTION_DIGITS
# Free-form values (json_object, {}, an object that names no properties, an array that names no
# items) are any JSON within bounds most real documents fit (json_object: 90% of the slice's valid
# objects, 37% at the earlier two levels, 8 members and 32-character strings; each level deeper
# costs a schema with many free-form values more to compile than the one before). An answer that
# reaches a count or a length is reported cut (ResponseFormat.check_cut), never returned short.
ANY_JSON = "edgeqwen_any"  # the name of the bounded any-JSON definition (its levels: ANY_JSON_1, ...)
ANY_DEPTH = 4  # containers nested inside a free-form value
ANY_MEMBERS = 64  # members of a free-form object, items of a free-form array
MAX_KEY = 128  # characters of a free-form object's key
INLINE_DEPTH = 2  # the depth where a schema's nested ids keep the definitions out of reach
FREE_KEY = f"^.{{0,{MAX_KEY}}}$"
_ANY_REF = {"$ref": f"#/$defs/{ANY_JSON}"}
# llguidance compiles a value's lexeme each place the value is written: a string of a format or a
# pattern costs up to several ms (GitHub's schemas write a URL a hundred times), a number bounded in
# the schema (bound_numbers) ~0.7 ms. A scalar written more than once, and the any JSON's scalars,
# become one definition each place refers to.
_NUMBER, _SCALAR = "edgeqwen_number", "edgeqwen_scalar"
_REFS = {name: {"$ref": f"#/$defs/{name}"} for name in (_NUMBER, _SCALAR)}
SCALAR_REF = _REFS[_SCALAR]  # the any JSON's scalars, one definition for every level
_REFERS = re.compile(r'"\$(ref|dynamicRef|recursiveRef)"')


def _is_any(schema: Any) -> bool:
    return schema is True or schema == {}


def decoding_schema(
    schema: dict[str, Any], max_string: int | None, bound_patterns: bool = True, shape: bool = True
) -> dict[str, Any]:
    """The schema the grammar enforces.

    Strings without maxLength (and without enum or const; with ``bound_patterns`` off, also without
    pattern or format) get ``max_string``; numbers are bounded while decoding, beside the grammar
    (digits.py; :func:`bound_numbers` says it in the schema); objects that name their properties
    allow no others (as OpenAI's strict mode does); free-form objects, arrays and ``{}`` values use
    a bounded "any JSON" (``ANY_DEPTH`` containers deep, ``ANY_MEMBERS`` members each, keys of
    ``MAX_KEY`` characters and strings of ``max_string``); a map (``additionalProperties`` a
    schema, no properties) gets the same bounds on its keys and members. Every value
    this accepts is valid for the original schema, which results are checked against. With
    ``shape`` off, objects and arrays are left as the schema gives them (where the closing meets
    the schema's own shape in a way llguidance cannot intersect), and only scalars are bounded.
    A schema that describes an object's members and names no type (AWS CloudFormation's resource
    schemas, 38 of the slice's) allows any other value too; its answer is written as an object.
    """
    if not max_string:
        return schema
    if shape and _object_by_its_keywords(schema):
        schema = {**schema, "type": "object"}
    used = False  # whether the bounded any JSON is referred to (its definitions are then added)
    opened = _composed_definitions(schema)

    def any_json() -> dict[str, str]:
        nonlocal used
        used = True
        return _ANY_REF

    def narrow(node: Any, composed: bool = False) -> Any:
        """``composed``: the node is applied together with another (a part of an ``allOf``, a
        branch or definition such a part reaches, a dependent schema): its object is not closed,
        as two objects closed apart let no value through together."""
        if isinstance(node, list):
            return [narrow(n, composed) for n in node]
        if not isinstance(node, dict):
            return node
        declared = node.get("type")
        declared = declared if isinstance(declared, list) else [declared]
        beside = _names_beside(node, schema) if "object" in declared and _SHAPING & node.keys() else set()
        given = node.get("additionalProperties")
        # closed (by the schema, or below to its own names and those its parts and branches give):
        # its branches are then left open, or each would forbid the keys the others and it name
        closes = (
            "object" in declared
            and shape
            and not composed
            and beside is not None
            and bool({"properties", "patternProperties"} & node.keys())
            # closed by the schema, or below
            and (given is None or isinstance(given, bool) or _is_any(given) or allows_no_value(given))
        )
        out = {}
        for key, value in node.items():
            if key in DATA:
                out[key] = value
            elif key in ("dependentSchemas", "dependencies") and isinstance(value, dict):
                out[key] = {k: narrow(v, True) for k, v in value.items()}  # applied with their object
            elif key in ("properties", "patternProperties", "$defs", "definitions"):
                parts = {k for k in value if (key, k) in opened} if isinstance(value, dict) else set()
                out[key] = (
                    {
                        k: (any_json() if shape and not composed and _is_any(v) else narrow(v, k in parts))
                        for k, v in value.items()
                    }
                    if isinstance(value, dict)
                    else value
                )
            else:  # an allOf's parts, and the branches of such a part, are read with their object
                out[key] = narrow(
                    value,
                    (key == "allOf" and _composing(node))
                    or (composed and key in _BRANCHES)
                    or (closes and key in ("anyOf", "oneOf")),
                )
        types = _type_names(out)
        shaped = not bound_patterns and {"pattern", "format"} & out.keys()
        if "string" in types and not {"maxLength", "enum", "const"} & out.keys() and not shaped:
            out["maxLength"] = max(max_string, int(out.get("minLength", 0)))
        free = shape and not composed and not _SHAPING & out.keys()  # no branch or reference shapes it
        if "object" in types and shape and not composed and beside is not None:
            extra = out.get("additionalProperties")
            named = out.get("properties")
            missing = [k for k in out.get("required") or () if isinstance(named, dict) and k not in named]
            # names a part or branch gives: closed to its own names, the object let no value of
            # such a branch through (a discriminated union decoded only its branches of no new key)
            missing += [k for k in sorted(beside) if isinstance(named, dict) and k not in named and k not in missing]
            if missing and (extra is None or extra is True or _is_any(extra)):
                # required but not described: still allowed (as bounded any-JSON) once extras are not;
                # where a part that always applies holds the name to a finite scalar, that bounds it
                held = _held_by_parts(node, schema, bound_patterns)
                out["properties"] = {**named, **{k: {} if k in held else any_json() for k in missing}}
            if "properties" in out or "patternProperties" in out:
                # open to other keys: closed; closed by {"not": {}}: said as llguidance reads it
                if extra is None or _is_any(extra) or allows_no_value(extra):
                    out["additionalProperties"] = False
                elif isinstance(extra, dict) and free and "patternProperties" not in out and _plain(_names(out)):
                    # the others' keys were unbounded strings: now up to MAX_KEY characters, none a
                    # property's name (a pattern that matched one would hold it to both schemas)
                    out["patternProperties"] = {_other_keys(_names(out)): extra}
                    out["additionalProperties"] = False
            elif (extra is None or _is_any(extra)) and free:  # bounded any-JSON members
                out["patternProperties"] = {FREE_KEY: any_json()}
                out["additionalProperties"] = False
                out.setdefault("maxProperties", ANY_MEMBERS)
            elif isinstance(extra, dict) and free and out.get("minProperties", 0) <= ANY_MEMBERS:
                # a map (pydantic's dict[str, X]): its keys were unbounded strings, which a looping
                # model ran to max_tokens, and its members had no count
                out["patternProperties"] = {FREE_KEY: extra}
                out["additionalProperties"] = False
                out.setdefault("maxProperties", ANY_MEMBERS)
        if "array" in types and _is_any(out.get("items", {})) and "prefixItems" not in out and free:
            out["items"] = any_json()
            out.setdefault("maxItems", ANY_MEMBERS)
        return out

    result = narrow(schema)
    nested = nested_ids(result)
    if nested and not _REFERS.search(json.dumps(schema)):
        # an id only moves the base references resolve against, and the schema has none of its own
        # (jsonschema.net writes "id": "/properties/..." on every node): the grammar reads them no
        # more (the check reads the user's schema), so the definitions are in reach
        for node in walk(result):
            for key in ("$id", "id") if node is not result else ():
                if isinstance(node.get(key), str):
                    del node[key]
        nested = False
    if nested:
        # "#/$defs/..." resolves against the nearest "$id" (draft 4: "id"), where the definition is
        # not: said in place instead, and shallower (each level in place doubles what it holds)
        return _inline_any(result, _any_json_inline(max_string, INLINE_DEPTH)) if used else result
    defs = {_NUMBER: {"type": "number"}, **_any_json(max_string)} if used else {}
    leaves = shared_leaves(result, defs)
    if defs or leaves:
        result = {**result, "$defs": {**result.get("$defs", {}), **defs, **leaves}}
    return result


_OBJECT_KEYWORDS = frozenset(("properties", "required", "additionalProperties", "patternProperties", "propertyNames",
                              "minProperties", "maxProperties", "dependentRequired", "dependencies"))  # fmt: skip
_TYPING = frozenset(("type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "if", "not"))


def _object_by_its_keywords(schema: Any) -> bool:
    """Says only what an object's members are, and nothing of its type: a string would be valid,
    and no one asking for these fields wants one (the demo model answered a CloudFormation
    resource schema with a sentence in quotes)."""
    return isinstance(schema, dict) and bool(schema.keys() & _OBJECT_KEYWORDS) and not schema.keys() & _TYPING


def _names(node: dict[str, Any]) -> list[str]:
    named = node.get("properties")
    return [k for k in named if isinstance(k, str)] if isinstance(named, dict) else []


def _plain(names: list[str]) -> bool:
    """No name JSON escapes (a quote, a backslash, a control character): llguidance then wrote such
    a name as one of the other keys, held to their schema, against a pattern that leaves it out."""
    return all(json.dumps(name, ensure_ascii=False)[1:-1] == name for name in names)


_META = frozenset('\\.^$*+?()[]{}|/-&~#"')


def _other_keys(names: list[str]) -> str:
    """A regex of the keys of at most MAX_KEY characters that are none of ``names``, without a
    look-ahead (llguidance has none): for each prefix of a name (the names' trie), that prefix where
    no name ends there, or the prefix and then a character no name has next. One flat alternation:
    a trie written as nested groups passes llguidance's nesting limit at names of ~120 characters."""
    trie: dict[str, Any] = {}
    for name in names:
        if len(name) <= MAX_KEY:  # a longer name never fits the pattern anyway
            node = trie
            for char in name:
                node = node.setdefault(char, {})
            node[""] = {}  # a name ends here

    def esc(text: str) -> str:
        return "".join("\\" + c if c in _META else c for c in text)

    options = []
    todo: list[tuple[str, dict[str, Any]]] = [("", trie)]
    while todo:
        prefix, node = todo.pop()
        if "" not in node:
            options.append(esc(prefix))
        chars = sorted(c for c in node if c)
        room = MAX_KEY - len(prefix)
        if room > 0:
            options.append(esc(prefix) + (f"[^{esc(''.join(chars))}].{{0,{room - 1}}}" if chars else f".{{1,{room}}}"))
            todo += [(prefix + c, node[c]) for c in reversed(chars)]
    return "^(?:" + "|".join(options) + ")$"


def _scalars(max_string: int, shared: bool = True) -> list[dict[str, Any]]:
    number = _REFS[_NUMBER] if shared else {"type": "number"}
    return [{"type": "string", "maxLength": max_string}, number, {"type": "boolean"}, {"type": "null"}]


def _containers(inner: dict[str, Any]) -> list[dict[str, Any]]:
    """An array and an object whose members are ``inner``."""
    return [
        {"type": "array", "items": inner, "maxItems": ANY_MEMBERS},
        {
            "type": "object",
            "patternProperties": {FREE_KEY: inner},
            "additionalProperties": False,
            "maxProperties": ANY_MEMBERS,
        },
    ]


# The any JSON's last level: scalars, or a container closed as soon as it is opened. A model that
# wants to go deeper there writes "{" or "[" and gets "{}" or "[]", which check_cut reads as cut;
# with scalars alone it would write a string in the value's place and nobody would know.
# (written as values: an empty object's or array's schema cost json_object 1.3 ms more to compile)
ANY_LAST = f"{ANY_JSON}_{ANY_DEPTH}"
_EMPTY = [{"enum": [[], {}]}]


def _any_json(max_string: int) -> dict[str, dict[str, Any]]:
    """ "any JSON" ``ANY_DEPTH`` containers deep, as definitions: each level's containers hold the
    next level's values, the last level's only scalars and empty containers (a chain, so the
    grammar grows with the depth, not with the number of paths)."""
    names = [ANY_JSON] + [f"{ANY_JSON}_{level}" for level in range(1, ANY_DEPTH + 1)]
    # the scalars once, for every level (each written out again cost as much to compile)
    defs = {_SCALAR: {"anyOf": _scalars(max_string)}, ANY_LAST: {"anyOf": [SCALAR_REF, *_EMPTY]}}
    for name, inner in itertools.pairwise(names):
        defs[name] = {"anyOf": [SCALAR_REF, *_containers({"$ref": f"#/$defs/{inner}"})]}
    return defs


def _any_json_inline(max_string: int, depth: int) -> dict[str, Any]:
    """The same in place, for a schema whose ids keep ``#/$defs`` from reaching the definitions."""
    inner = [] if depth == 0 else _containers(_any_json_inline(max_string, depth - 1))
    return {"anyOf": [*_scalars(max_string, shared=False), *inner]}


# What gives an object or array its shape besides its own keywords: such a node is not free-form.
_SHAPING = frozenset(("anyOf", "oneOf", "allOf", "$ref", "if", "then", "else"))
_BRANCHES = frozenset(("anyOf", "oneOf", "if", "then", "else"))


def _composed_definitions(schema: dict[str, Any]) -> set[tuple[str, str]]:
    """The definitions (``("$defs", name)``) an ``allOf`` reaches as a part: directly, or through
    a branch or a reference of such a part. Closed, each would forbid the others' properties."""
    defs = {key: schema[key] for key in ("$defs", "definitions") if isinstance(schema.get(key), dict)}

    def targets(node: Any) -> list[tuple[str, str]]:
        """The local definitions ``node`` is, or branches into, at its top."""
        if not isinstance(node, dict):
            return []
        found = []
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and ref.count("/") == 2 and ref.split("/")[1] in defs:
            found.append((ref.split("/")[1], pointer_part(ref.split("/")[2])))
        for key in ("anyOf", "oneOf", "allOf"):
            if isinstance(node.get(key), list):
                found += [t for branch in node[key] for t in targets(branch)]
        for key in ("if", "then", "else"):
            found += targets(node.get(key))
        return found

    parts = [part for node in walk(schema) if _composing(node) for part in node["allOf"]]
    todo = [t for part in parts for t in targets(part)]
    opened: set[tuple[str, str]] = set()
    while todo:
        key, name = todo.pop()
        if (key, name) not in opened and isinstance(defs[key].get(name), dict):
            opened.add((key, name))
            todo += targets(defs[key][name])
    return opened


_BESIDE = ("allOf", "anyOf", "oneOf")  # applied to the same value as the node's own keywords
_BESIDE_NODES = 256  # parts and branches read for names before the object is left open instead


def _names_beside(node: dict[str, Any], root: dict[str, Any]) -> set[str] | None:
    """The property names an object's parts and branches (``allOf``/``anyOf``/``oneOf``, a ``$ref``
    beside its own keywords; local references followed) name or require: closing the object to its
    own names would forbid them. None where one allows names no list says (``patternProperties``),
    or there are too many to read: then the object is not closed."""
    found: set[str] = set()
    for count, branch in enumerate(_applied(node, root, _BESIDE), 1):
        if count > _BESIDE_NODES or "patternProperties" in branch:
            return None
        if branch is not node:
            found.update(_names(branch))
            required = branch.get("required")
            if isinstance(required, list):
                found.update(k for k in required if isinstance(k, str))
    return found


def _applied(node: dict[str, Any], root: dict[str, Any], keys: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """The subschemas applied to the same value as ``node``'s own keywords: those in its ``keys``
    lists and its ``$ref``, then theirs, local references followed, each once (``node`` itself where
    its reference leads nowhere local)."""
    todo = [b for key in keys if isinstance(node.get(key), list) for b in node[key]]
    todo += [node] if "$ref" in node else []
    seen: set[int] = set()
    while todo:
        part = resolve(todo.pop(), root, REF_HOPS)
        if not isinstance(part, dict) or id(part) in seen:
            continue
        seen.add(id(part))
        yield part
        if part is not node:
            todo += [part] if "$ref" in part else []
        todo += [b for key in keys if isinstance(part.get(key), list) for b in part[key]]


_SCALAR_TYPES = frozenset(("string", "number", "integer", "boolean", "null"))


def _held_by_parts(node: dict[str, Any], root: dict[str, Any], bound_patterns: bool) -> set[str]:
    """The property names a part that always applies to ``node`` (an ``allOf`` part, a ``$ref``
    beside its own keywords; local references and the parts' own ``allOf`` followed) holds to a
    scalar, or an array of scalars (:func:`_finite_scalar`). Such a name needs no bounded any JSON of
    the closed object's own: llguidance intersects the two, which was half of detekt's compile
    (docs/structured-output.md), and the part alone allows the same values."""
    held: set[str] = set()
    for count, part in enumerate(_applied(node, root, ("allOf",)), 1):
        if count > _BESIDE_NODES:
            break
        named = part.get("properties")
        if part is not node and isinstance(named, dict):
            held.update(k for k, v in named.items() if _finite_scalar(resolve(v, root, REF_HOPS), bound_patterns, root))
    return held


def _finite_scalar(node: Any, bound_patterns: bool, root: dict[str, Any] | None = None) -> bool:
    """A schema narrowing bounds as it would the object's own property: an enum, a const, scalar
    types only (narrowing bounds a string; the loop a number's digits), or (given ``root``) an array
    of such scalars, which is as long as a property's own typed array may be."""
    if not isinstance(node, dict):
        return False
    if "enum" in node or "const" in node:
        return True
    types = _type_names(node)
    if types == ["array"] and root is not None:
        return _finite_scalar(resolve(node.get("items"), root, REF_HOPS), bound_patterns)
    if not types or not set(types) <= _SCALAR_TYPES:
        return False
    return "string" not in types or "maxLength" in node or bound_patterns or not {"pattern", "format"} & node.keys()


def _composing(node: dict[str, Any]) -> bool:
    """An ``allOf`` that intersects two shapes: two parts, or a part and the node's own properties.
    One part alone (``allOf: [{$ref: ...}]``, a common wrapper for a description) is closed as usual."""
    parts = node.get("allOf")
    return isinstance(parts, list) and len(parts) + bool({"properties", "patternProperties"} & node.keys()) > 1


def _inline_any(node: Any, any_json: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline_any(n, any_json) for n in node]
    if not isinstance(node, dict):
        return node
    if node == _ANY_REF:
        return any_json
    return {k: (v if k in DATA else _inline_any(v, any_json)) for k, v in node.items()}


def bound_numbers(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (a decoding schema) with every number's bound said in it, for an engine whose
    loop is not ours: each number a range and (unless an integer) a step, where the schema sets none."""
    bounded = json.loads(json.dumps(schema))
    for node in walk(bounded):
        types = _type_names(node)
        if {"integer", "number"} & set(types) and not {"enum", "const"} & node.keys():
            _bound_number(node, integer="number" not in types)
    return bounded


def _type_names(node: dict[str, Any]) -> list[str]:
    """The types ``node`` names. Only names count: a dict there is a definition called "type" under
    a container a walk does not know (Vega's "defs"), walked as a schema all the same."""
    types = node.get("type")
    return [t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)]


def _bound_number(node: dict[str, Any], integer: bool) -> dict[str, Any]:
    """Bound a number's digits: a magnitude below NUMBER_BOUND, and (for non-integers) a
    smallest step, each only where the schema sets none and the bound leaves values to pick."""
    low, high = node.get("minimum", node.get("exclusiveMinimum")), node.get("maximum", node.get("exclusiveMaximum"))
    if high is None and (low is None or low < NUMBER_BOUND):
        node["exclusiveMaximum"] = NUMBER_BOUND
    if low is None and (high is None or high > -NUMBER_BOUND):
        node["exclusiveMinimum"] = -NUMBER_BOUND
    if not integer and "multipleOf" not in node:
        node["multipleOf"] = NUMBER_STEP
    return node
