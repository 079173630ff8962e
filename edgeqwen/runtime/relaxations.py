"""The relaxations of a JSON Schema, one per kind of llguidance error: each makes llguidance take
a superset of the schema and says what it left to the check after (relax.py tries them in turn).

A pattern llguidance cannot read loses its assertions, a length it cannot decide goes to the check,
``patternProperties`` it cannot split merge, huge bounds, ``min/maxProperties``, keywords beside a
circular reference, an ``allOf`` it cannot intersect, a cycle through ``$ref`` untangled; a
reference that allows nothing becomes ``false`` where it is optional.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import regex

from ..errors import GrammarError
from .keywords import ANNOTATIONS, KEYWORDS
from .numbers import BOUNDS
from .patterns import ecma_pattern, loosened_patterns, nested_too_deeply, too_large
from .walk import replace_refs, walk

__all__ = [
    "ANNOTATIONS_ONLY",
    "FIXES",
    "drop_min_max_properties",
    "drop_undecided_lengths",
    "drop_unsatisfiable_refs",
    "readable_patterns",
]


# Each relaxation returns what it left to the check (None: it changed nothing); this, where it
# took out only words the check ignores as well, so the grammar stays exact
ANNOTATIONS_ONLY = "annotations"
_STRING_BOUNDS = frozenset(("minLength", "maxLength"))
_STRING_SHAPES = frozenset(("pattern", "format", "anyOf", "allOf", "oneOf", "$ref"))


def _drop_bad_patterns(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """A pattern llguidance cannot read becomes the tightest superset it can (its assertions
    removed: CloudFormation's ids are ``^(?!00000000-...)[0-9a-f]{8}-...$`` or ``\\A...\\Z``), else
    goes; the check after reads the schema's own."""
    changed = False
    decoded: dict[str, str | None] = {}  # a pattern -> what the grammar reads for it (one compile each)
    for node in walk(schema):
        pattern = node.get("pattern")
        if not isinstance(pattern, str):
            continue
        if pattern not in decoded:
            if compiles({"type": "string", "pattern": pattern}):
                decoded[pattern] = pattern
            else:
                _python_regex(pattern)  # one the check cannot run either is the schema's mistake
                loose = (p for p in loosened_patterns(pattern) if compiles({"type": "string", "pattern": p}))
                decoded[pattern] = next(loose, None)
        if decoded[pattern] is None:
            del node["pattern"]
        elif decoded[pattern] != pattern:
            node["pattern"] = decoded[pattern]
        changed = changed or decoded[pattern] != pattern
    return "pattern" if changed else None


def drop_undecided_lengths(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """llguidance cannot always tell whether a pattern leaves any string within a length bound
    ("Unable to determine if regex is empty": ``^aws\\.partner(/[A-Za-z0-9]+){2,}$`` in at most 256
    characters), and refuses the schema. The patterns (and a node's branches) stay in the grammar;
    the lengths of a node that compiles only without them go to the check."""
    defs = {k: schema[k] for k in ("definitions", "$defs") if isinstance(schema.get(k), dict)}
    changed = False
    undecided: dict[str, bool] = {}  # a node's JSON -> its lengths must go (CloudFormation repeats its strings)
    for node in walk(schema):
        if not (node.keys() & _STRING_BOUNDS and node.keys() & _STRING_SHAPES):
            continue
        text = json.dumps(node, sort_keys=True)
        if text not in undecided:
            whole = defs | node
            undecided[text] = not compiles(whole) and compiles(
                {k: v for k, v in whole.items() if k not in _STRING_BOUNDS}
            )
        if undecided[text]:
            for bound in _STRING_BOUNDS & node.keys():
                del node[bound]
            changed = True
    return "minLength/maxLength" if changed else None


def _python_regex(pattern: str) -> None:
    """A pattern the check after cannot read (it reads them as the ``regex`` module does) is refused,
    and one too large to build: the ``regex`` module builds a count piece by piece as llguidance does."""
    if (why := too_large(pattern, "The JSON Schema's pattern")) is not None:
        raise GrammarError(f"{why}.")
    try:
        ecma_pattern(pattern)
    except regex.error as exc:
        raise GrammarError(f"Invalid JSON Schema: the pattern {pattern!r} does not compile ({exc}).") from exc
    except RecursionError as exc:  # the regex module's parser recurses a level per group
        raise nested_too_deeply(pattern, "The JSON Schema's pattern") from exc


def readable_patterns(schema: dict[str, Any]) -> None:
    """Every pattern and key pattern the check will read, read now: llguidance takes some that are
    no regex (``abc\\``, a lone backslash at the end), and the check refused them only after a whole
    answer was decoded."""
    for node in walk(schema):
        if isinstance(node.get("pattern"), str):
            _python_regex(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            for pattern in node["patternProperties"]:
                _python_regex(pattern)


def _merge_pattern_properties(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """Overlapping (or uncompilable) patternProperties: every key not named in ``properties`` may
    then hold a value of any of their schemas (or of additionalProperties)."""
    changed = False
    for node in walk(schema):
        pp = node.get("patternProperties")
        if not isinstance(pp, dict) or not pp:
            continue
        if len(pp) == 1 and compiles({"type": "object", "patternProperties": pp}):
            continue
        _fold_patterns(node, pp)
        changed = True
    return "patternProperties" if changed else None


def _fold_patterns(node: dict[str, Any], pp: dict[str, Any]) -> None:
    """patternProperties into additionalProperties: a key not named may hold any of their values."""
    extra = node.get("additionalProperties", True)
    options = [*pp.values(), *([] if extra is False else [extra])]
    node["additionalProperties"] = True if any(o is True or o == {} for o in options) else {"anyOf": options}
    del node["patternProperties"]


def _drop(schema: dict[str, Any], name: str, keys: Callable[[dict[str, Any]], list[str]]) -> str | None:
    """Delete ``keys(node)`` from every schema object; ``name`` if that changed anything."""
    changed = False
    for node in walk(schema):
        for key in keys(node):
            del node[key]
            changed = True
    return name if changed else None


def _huge(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > 2**53


def _drop_huge_bounds(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    return _drop(schema, "minimum/maximum", lambda node: [k for k in BOUNDS if _huge(node.get(k))])


def drop_min_max_properties(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    counts = ("minProperties", "maxProperties")
    return _drop(schema, "minProperties/maxProperties", lambda node: [k for k in counts if k in node])


def _drop_ref_siblings(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    def siblings(node: dict[str, Any]) -> list[str]:
        return [k for k in node if k in KEYWORDS and k != "$ref"] if "$ref" in node else []

    return _drop(schema, "$ref siblings", siblings)


def _drop_all_of(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    return _drop(schema, "allOf", lambda node: ["allOf"] if "allOf" in node else [])


def _drop_unknown_annotations(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """Words JSON Schema gives no meaning beside a reference, or an ``anyOf`` of them: llguidance
    counts them as keywords to intersect, which it cannot on a recursive reference (pydantic's
    recursive discriminated unions fell back to any JSON). The check ignores them as well."""
    changed = False
    for node in walk(schema):
        branches = node.get("anyOf")
        if "$ref" in node or (isinstance(branches, list) and any(type(b) is dict and "$ref" in b for b in branches)):
            for key in [k for k in node if _unknown_annotation(k, node[k])]:
                del node[key]
                changed = True
    return ANNOTATIONS_ONLY if changed else None


def _untangle_cycles(schema: dict[str, Any], compiles: Callable[[Any], bool]) -> str | None:
    """A recursive reference llguidance must intersect with something: keywords beside an
    ``anyOf`` with a reference among its branches (it adds them to each branch), and a pattern that
    matches a named property (both schemas apply to that key). Left to the check: those keywords,
    and the pattern for named keys (folded into additionalProperties)."""
    dropped = []
    for node in walk(schema):
        branches = node.get("anyOf")
        if isinstance(branches, list) and any(isinstance(b, dict) and "$ref" in b for b in branches):
            beside = [k for k in node if k in KEYWORDS and k not in ("anyOf", "$ref")]
            for key in beside:
                del node[key]
            dropped += beside
        pp, named = node.get("patternProperties"), node.get("properties")
        if isinstance(pp, dict) and isinstance(named, dict) and any(_matches(p, k) for p in pp for k in named):
            _fold_patterns(node, pp)
            dropped.append("patternProperties")
    return "/".join(sorted(set(dropped))) or None


def _unknown_annotation(key: str, value: Any) -> bool:
    """A word JSON Schema gives no meaning, which no reference could point into (not an object, or
    OpenAPI's discriminator). Any word llguidance neither implements nor reads as an annotation
    (keywords.ANNOTATIONS) counts as a keyword beside a reference, which it cannot take on a recursive
    one (pydantic writes "discriminator" beside every discriminated union; OpenAPI "nullable",
    "deprecated", "x-..."; llguidance 1.9)."""
    return key not in KEYWORDS and key not in ANNOTATIONS and (type(value) is not dict or key == "discriminator")


def _matches(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return True  # a pattern Python cannot read: assume it overlaps


_UNSATISFIABLE_AT = re.compile(r"^Unsatisfiable schema.*\n\s*while processing [^#\s]*(#/\S+)", re.S)


def drop_unsatisfiable_refs(schema: dict[str, Any], error: str, as_given: Callable[[], str | None] | None) -> bool:
    """llguidance drops an anyOf branch or an optional property that allows no value when it is
    written in place, but refuses the whole schema when it is reached through a ``$ref`` (a
    SchemaStore schema: a definition closed to every key whose oneOf branches each require one,
    used as an anyOf branch beside a string). Each reference to it becomes ``false``, exactly the
    values it allows: dropped where it was optional, still failing the schema where it was not.
    ``as_given``: the error of the schema without the decoding bounds, where they were applied;
    only a subschema that allows nothing there too is dropped (else the bounds are what to undo)."""
    found = _UNSATISFIABLE_AT.search(error)
    if found is None:
        return False
    if as_given is not None:
        again = _UNSATISFIABLE_AT.search(as_given() or "")
        if again is None or again.group(1) != found.group(1):
            return False
    return replace_refs(schema, found.group(1), False)


# llguidance's message -> the relaxation that removes its cause (each keeps a superset)
FIXES: tuple[tuple[re.Pattern[str], Callable[[dict[str, Any], Callable[[Any], bool]], str | None]], ...] = (
    (re.compile(r"patternProperty|patternProperties"), _merge_pattern_properties),
    (re.compile(r"regex|look-?around|lookahead", re.I), _drop_bad_patterns),
    (re.compile(r"regex|look-?around", re.I), _merge_pattern_properties),
    (re.compile(r"integer range|number range"), _drop_huge_bounds),
    (re.compile(r"min/maxProperties|minProperties|maxProperties"), drop_min_max_properties),
    (re.compile(r"circular references with sibling"), _drop_unknown_annotations),
    (re.compile(r"circular references with sibling"), _drop_ref_siblings),
    (re.compile(r"circular references with sibling"), _drop_all_of),
    (re.compile(r"circular references with sibling"), _untangle_cycles),
    (re.compile(r"intersection|allOf"), _drop_all_of),
)
