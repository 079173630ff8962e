"""JSON Schema keywords llguidance refuses, said exactly in what it takes where they can be.

``oneOf`` as ``anyOf`` where no value can match two branches (types only one branch allows, sets of
required keys, branches a ``const``/``enum``/type tells apart), ``if``/``then``/``else`` that ask
a required property for one of its listed values, ``uniqueItems`` over a small enum as
the list of every allowed array, a ``not`` the grammar already says; and which ``min/maxProperties``
llguidance refuses, known before any compile. rewrite.py applies them (``_static``); what is not
said here is left to the check.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from .refs import REF_HOPS, resolve

__all__ = [
    "allows_no_value",
    "conditions_as_branches",
    "counts_llguidance_refuses",
    "drop_counts_that_say_nothing",
    "negation_in_grammar",
    "one_of_as_any_of",
    "unique_choices",
]

_UNIQUE_CHOICES = 100  # the most arrays a uniqueItems-of-an-enum is spelled out as
_ONE_OF_KEY_SETS = 16  # the most branches a oneOf of required keys is spelled out as
_ONE_OF_CHOICES = 4096  # the most choices of absent keys walked to find them
_CONDITION_BRANCHES = 16  # the most branches a chain of conditions on one property is said as


def unique_choices(node: dict[str, Any], root: dict[str, Any]) -> bool:
    """``uniqueItems`` over a small enum, said exactly: the node becomes the list of every array
    of distinct values its length bounds allow (in any order). False where that list is too long."""
    items = resolve(node.get("items"), root)
    if not isinstance(items, dict) or "prefixItems" in node or "contains" in node:
        return False
    values = [items["const"]] if "const" in items else items.get("enum")
    if not isinstance(values, list) or not values or len(values) > 6:
        return False
    values = [v for i, v in enumerate(values) if v not in values[:i]]
    low, high = int(node.get("minItems", 0)), min(int(node.get("maxItems", len(values))), len(values))
    arrays = [list(p) for n in range(low, high + 1) for p in itertools.permutations(values, n)]
    if len(arrays) > _UNIQUE_CHOICES:
        return False
    for key in ("items", "minItems", "maxItems", "uniqueItems"):
        node.pop(key, None)
    node["enum"] = arrays
    return True


_JSON_TYPES = ("null", "boolean", "object", "array", "string", "number", "integer")
_NOTES = frozenset({"title", "description", "$comment", "examples", "default", "deprecated", "readOnly", "writeOnly"})


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1 (Python's == says it is)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _forbidden_key(neg: Any) -> str | None:
    """The key a ``not`` forbids where that is all it says: ``{"required": ["x"]}`` -> ``"x"``."""
    required = neg.get("required") if type(neg) is dict and not neg.keys() - _NOTES - {"required"} else None
    if isinstance(required, list) and len(required) == 1 and isinstance(required[0], str):
        return required[0]
    return None


def negation_in_grammar(node: dict[str, Any]) -> bool:
    """``not`` said in the grammar where it only excludes: every value (``{}``), some types, one
    property, values of the node's own enum. True where the node then says exactly what ``not``
    did (llguidance has no ``not``; real schemas forbid a property with ``"not": {}`` under it, or
    with ``"not": {"required": [name]}``)."""
    neg = node["not"]
    types = node.get("type", list(_JSON_TYPES))
    types = [types] if isinstance(types, str) else types
    if "$ref" in node or not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        return False
    if neg is False:
        return True  # excludes nothing
    neg = {} if neg is True else neg
    if not isinstance(neg, dict):
        return False
    asked = neg.keys() - _NOTES
    if not asked:  # every value excluded: where the node is optional, the grammar leaves it out
        node["type"] = []
        return True
    if asked == {"type"}:
        excluded = neg["type"]
        excluded = [excluded] if isinstance(excluded, str) else excluded
        if not isinstance(excluded, list) or not all(isinstance(t, str) for t in excluded):
            return False
        out = set(excluded) | ({"integer"} if "number" in excluded else set())
        node["type"] = [t for t in types if t not in out]
        return not ("integer" in out and "number" in node["type"])  # a number "not an integer" is checked
    forbidden = _forbidden_key(neg)
    if forbidden is not None:
        if not isinstance(node.get("properties"), dict):
            return False  # naming it would close the object while decoding (schema.py)
        node["type"] = [t for t in types if t == "object"]  # "required" holds of any other value
        node["properties"][forbidden] = False
        return True
    if asked in ({"enum"}, {"const"}) and isinstance(node.get("enum"), list):
        out = [neg["const"]] if "const" in asked else neg["enum"]
        if not isinstance(out, list):
            return False
        node["enum"] = [v for v in node["enum"] if not any(_same(v, x) for x in out)]
        return True
    return False


def allows_no_value(schema: Any) -> bool:
    """``false``, ``{"not": {}}`` (OpenAPI generators' spelling of it) or the ``{"type": []}`` that
    :func:`negation_in_grammar` makes of the latter."""
    if schema is False:
        return True
    if type(schema) is not dict or schema.keys() - _NOTES not in ({"not"}, {"type"}):
        return False
    return schema.get("not", False) in ({}, True) or schema.get("type", False) == []


def drop_counts_that_say_nothing(node: dict[str, Any]) -> None:
    """Remove ``minProperties`` at most the number of required keys (every valid object has them)
    and ``maxProperties`` at least the number of named properties of an object closed to other
    keys (no valid object has more): exact, not left to the check. The google-genai SDK writes
    every model so (``"additionalProperties": {"not": {}}``, ``"maxProperties"`` = its fields)."""
    low, high = node.get("minProperties"), node.get("maxProperties")
    required = node.get("required", [])
    if isinstance(low, int) and not isinstance(low, bool) and isinstance(required, list):
        if all(isinstance(k, str) for k in required) and low <= len(set(required)):
            del node["minProperties"]
    named = node.get("properties", {})
    if isinstance(high, int) and not isinstance(high, bool) and isinstance(named, dict):
        closed = allows_no_value(node.get("additionalProperties", True)) and "patternProperties" not in node
        if closed and high >= len(named):
            del node["maxProperties"]


def counts_llguidance_refuses(node: dict[str, Any], closing: bool) -> bool:
    """Where llguidance refuses min/maxProperties (measured over every count up to 5 on objects
    of 1-4 named properties, llguidance 1.9): unless every named key is required or the counts ask
    nothing, an object open to other keys never; a closed one only for "at least / at most one
    key beyond the required ones". Counts no object meets are left for llguidance to call
    unsatisfiable. ``closing``: decoding closes objects that name their properties (schema.py),
    unless other keys have a schema of their own."""
    named, extra = node.get("properties"), node.get("additionalProperties", True)
    if not ({"minProperties", "maxProperties"} & node.keys()) or not isinstance(named, dict) or not named:
        return False
    low, high = node.get("minProperties"), node.get("maxProperties")
    required = node.get("required")
    r = len(set(named) & set(required)) if isinstance(required, list) else 0
    # keys a pattern takes are other keys too: llguidance refused OpenAPI 3.0's Responses (one named
    # key, patternProperties, closed, minProperties 1)
    patterns = bool(node.get("patternProperties"))
    closed = not patterns and (extra is False or (closing and (extra is True or extra == {})))
    most = min(len(named) if closed else math.inf, math.inf if high is None else high)
    if r == len(named) or max(r, low or 0) > most:
        return False
    if high is None and (low is None or low <= r):
        return False
    return not (closed and (low is None or low <= r + 1) and (high is None or high == r + 1))


def _types_of_one_branch(branches: list[Any]) -> list[str] | None:
    """Where every branch says only ``type``: the types exactly one branch allows, which is all
    ``oneOf`` then means (Kubernetes' nullable int-or-string, ``[string, null]`` / ``[integer,
    null]``, allows no null). None where that does not apply, or nothing is left."""
    counts: dict[str, int] = {}
    for branch in branches:
        if type(branch) is not dict or not branch.keys() - _NOTES == {"type"}:
            return None
        named = branch["type"]
        named = [named] if isinstance(named, str) else named
        if not isinstance(named, list) or not all(isinstance(t, str) for t in named):
            return None
        for t in set(named):
            counts[t] = counts.get(t, 0) + 1
    if "integer" in counts and "number" in counts:
        return None  # "a number that is no integer" is not a type
    return sorted(t for t, n in counts.items() if n == 1) or None


def _one_set_of_keys(branches: list[Any], node: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Where every branch only says which keys are required (CloudFormation's mutually exclusive
    settings, ``[{"required": ["A", "B"]}, {"required": ["C"]}]``): ``anyOf`` of "branch i's keys
    present and, of each other branch's keys it lacks, one absent", which is exactly one branch
    met. A value that is no object meets every branch, so ``node`` is made an object. None where
    that does not apply, or it takes more than ``_ONE_OF_KEY_SETS`` branches."""
    types = node.get("type", "object")
    types = [types] if isinstance(types, str) else types
    if len(branches) < 2 or not isinstance(types, list) or "object" not in types or "$ref" in node:
        return None
    sets = []
    for branch in branches:
        required = branch.get("required", []) if type(branch) is dict else None
        if required is None or branch.keys() - _NOTES - {"required"}:
            return None
        if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
            return None
        sets.append(list(dict.fromkeys(required)))
    # per branch, for each other branch: its keys this one lacks (one of them must be absent)
    lacking = [
        [[k for k in other if k not in keys] for other in sets[:i] + sets[i + 1 :]] for i, keys in enumerate(sets)
    ]
    # counted before any is walked: branches that share keys give few distinct parts from a product
    # too large to walk (25 branches of the same two keys: 2^24 choices for one branch)
    if sum(math.prod(len(lack) for lack in each) for each in lacking) > _ONE_OF_CHOICES:
        return None
    out: list[dict[str, Any]] = []
    for keys, each in zip(sets, lacking, strict=True):
        for absent in itertools.product(*each):  # nothing where another branch's keys are all here
            part: dict[str, Any] = {"required": keys} if keys else {}
            if absent:
                part["properties"] = dict.fromkeys(absent, False)
            if part not in out:
                out.append(part)
            if len(out) > _ONE_OF_KEY_SETS:
                return None
    if not out:
        return None  # no value meets exactly one: left to the check, which says so
    node["type"] = "object"
    return out


def _distinct_branches(branches: list[Any], root: dict[str, Any]) -> bool:
    """No value can match two branches: each pair differs in its type, in its const/enum (an enum
    written as ``oneOf`` of consts, each with its description), or in the const/enum of a
    property both require. Then ``anyOf`` says exactly what ``oneOf`` does. A branch that is a
    reference is read where it points (pydantic writes a discriminated union as ``oneOf`` of
    ``$ref``s): a branch allows no more than its target, so targets apart keep branches apart."""

    def types(b: dict[str, Any]) -> set[str] | None:
        t = b.get("type")
        if t is None:
            return None
        found = set(t) if isinstance(t, list) else {t}
        return found | {"number"} if "integer" in found else found | ({"integer"} if "number" in found else set())

    def values(b: dict[str, Any], key: str) -> list[Any] | None:
        prop = resolve((b.get("properties") or {}).get(key), root)
        if key not in (b.get("required") or ()) or not isinstance(prop, dict):
            return None
        return choices(prop)

    def choices(b: dict[str, Any]) -> list[Any] | None:
        listed = [b["const"]] if "const" in b else b.get("enum")
        return listed if isinstance(listed, list) else None

    def apart(va: list[Any] | None, vb: list[Any] | None) -> bool:
        return va is not None and vb is not None and not any(_same(x, y) for x in va for y in vb)

    branches = [resolve(b, root, REF_HOPS) for b in branches]
    if not all(isinstance(b, dict) for b in branches):
        return False
    for i, a in enumerate(branches):
        for b in branches[i + 1 :]:
            ta, tb = types(a), types(b)
            if (ta is not None and tb is not None and not ta & tb) or apart(choices(a), choices(b)):
                continue
            if ta != {"object"} and tb != {"object"}:
                return False  # a value of another type meets neither's "required", so matches both
            keys = set(a.get("properties") or {}) & set(b.get("properties") or {})
            if not any(apart(values(a, k), values(b, k)) for k in keys):
                return False
    return True


def one_of_as_any_of(branches: list[Any], node: dict[str, Any], root: dict[str, Any]) -> tuple[list[Any], bool]:
    """A ``oneOf``'s branches as ``anyOf`` branches llguidance takes, and whether they say it
    exactly: types only one branch allows, each set of required keys with the others' absent, or
    branches no value can match two of. Where none applies, the same branches: a superset."""
    if (only := _types_of_one_branch(branches)) is not None:
        return [{"type": only}], True
    if (alone := _one_set_of_keys(branches, node)) is not None:
        return alone, True
    return branches, _distinct_branches(branches, root)


_ABSENT = object()  # the property's value in a condition's reading where the object lacks it


def _asks(condition: Any) -> tuple[str, list[Any], bool] | None:
    """What an ``if`` asks of one property, where that is all it asks: the property, the values
    it asks for, and whether the property may be absent (a condition without ``required`` holds
    of an object that lacks it). ``{"properties": {"type": {"const": "markdown"}}}``, with
    ``"required": ["type"]`` or not; ``{"not": {"required": ["type"]}}``: absent only."""
    if type(condition) is not dict:
        return None
    if condition.keys() - _NOTES == {"not"}:
        forbidden = _forbidden_key(condition["not"])
        return None if forbidden is None else (forbidden, [], True)
    if condition.keys() - _NOTES - {"properties", "required", "type"}:
        return None
    props, required = condition.get("properties"), condition.get("required", [])
    if condition.get("type", "object") not in ("object", ["object"]) or type(props) is not dict or len(props) != 1:
        return None
    ((key, test),) = props.items()
    if type(test) is not dict or not isinstance(required, list) or any(k != key for k in required):
        return None
    asked = test.keys() - _NOTES
    values = [test["const"]] if asked == {"const"} else test.get("enum") if asked == {"enum"} else None
    return (key, values, not required) if isinstance(values, list) else None


def _absent_said(part: Any) -> Any:
    """A ``then``/``else`` that forbids a key (``"not": {"required": ["x"]}``, how Read the Docs says
    "no requirements file with uv sync"), said as the key's absence: on the object the condition
    reads, the same; in a branch the grammar takes, and leaves unclosed, as a part."""
    forbidden = _forbidden_key(part.get("not")) if type(part) is dict else None
    props = part.get("properties", {}) if forbidden is not None else None
    if type(props) is not dict or "$ref" in part:
        return part
    said = {k: v for k, v in part.items() if k != "not"}
    said["properties"] = {**props, forbidden: False}
    return said


def conditions_as_branches(node: dict[str, Any], root: dict[str, Any]) -> bool:
    """``if``/``then``/``else`` said exactly where every condition on an object (its own, and each
    ``allOf`` part that is only a condition) asks the same property for listed values or for its
    absence, and that property's values are a list (a discriminator: GitHub's issue forms, whose
    item ``type`` is one of six, each with attributes of its own): ``anyOf`` of one branch per set
    of values (and absence, where the property is optional) that meets the same conditions,
    holding the ``then`` of each condition they meet and the ``else`` of each they do not. The
    conditions are taken out of ``node``; False (``node`` unchanged, the conditions left to the
    check) where that does not apply."""
    parts = node.get("allOf") if isinstance(node.get("allOf"), list) else []
    only_condition = {"if", "then", "else"}
    chain = [(None, node)] if "if" in node else []
    chain += [
        (i, p) for i, p in enumerate(parts) if type(p) is dict and "if" in p and not p.keys() - _NOTES - only_condition
    ]
    if not chain or node.get("type") not in ("object", ["object"]) or "$ref" in node:
        return False
    asked = [_asks(part["if"]) for _, part in chain]
    keys = {a[0] for a in asked if a is not None}
    props, required = node.get("properties"), node.get("required", [])
    if None in asked or len(keys) != 1 or not isinstance(props, dict) or not isinstance(required, list):
        return False
    key = keys.pop()
    prop = resolve(props.get(key), root, REF_HOPS)
    values = ([prop["const"]] if "const" in prop else prop.get("enum")) if isinstance(prop, dict) else None
    if not isinstance(values, list) or not values:
        return False
    values = [v for i, v in enumerate(values) if not any(_same(v, w) for w in values[:i])]
    groups: dict[tuple[bool, ...], list[Any]] = {}
    for value in values if key in required else [*values, _ABSENT]:
        met = tuple(
            may_lack if value is _ABSENT else any(_same(value, v) for v in test)
            for _, test, may_lack in asked  # type: ignore[misc]
        )
        groups.setdefault(met, []).append(value)
    branches = []
    for met, group in groups.items():
        held = [
            part.get("then", True) if yes else part.get("else", True) for yes, (_, part) in zip(met, chain, strict=True)
        ]
        if any(h is False for h in held):
            continue  # these values meet a condition whose answer allows nothing
        held = [_absent_said(h) for h in held if h is not True]
        present = [v for v in group if v is not _ABSENT]
        shapes = [{"required": [key], "properties": {key: {"enum": present}}}] if present else []
        shapes += [{"properties": {key: False}}] if len(present) < len(group) else []  # the object without it
        branches += [{**shape, "allOf": held} if held else shape for shape in shapes]
    if not branches or len(branches) > _CONDITION_BRANCHES:
        return False
    for word in ("if", "then", "else"):
        node.pop(word, None)
    if any(i is not None for i, _ in chain):
        node["allOf"] = [p for i, p in enumerate(parts) if all(i != j for j, _ in chain)]
    if "anyOf" in node:
        node.setdefault("allOf", []).append({"anyOf": branches})
    else:
        node["anyOf"] = branches
    if node.get("allOf") == []:
        del node["allOf"]
    return True
