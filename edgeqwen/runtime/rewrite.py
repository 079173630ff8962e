"""Rewrites that keep a JSON Schema's meaning and make it one llguidance takes, before any compile.

What JSON Schema keyword is honoured how (:data:`KEYWORDS`, the table README prints), which draft
a schema is read as, and the rewrites done by reading the schema alone: ``oneOf`` as ``anyOf``
where no value can match two branches, ``uniqueItems`` over a small enum spelled out,
``dependentRequired`` said in the grammar on an object that allows no other keys, keywords beside
``$ref`` ignored in drafts 4-7 as they say, and what llguidance cannot enforce dropped and named
(:func:`rewrite`). References are rewritten in refs.py, numbers in numbers.py; the relaxations
driven by llguidance's errors are in relaxations.py, tried by relax.py.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from typing import Any

from .numbers import INTEGER_FORMATS, NUMBER_FORMATS, integer_range, keep_numbers_from_llguidance, number_over
from .patterns import astral_escapes
from .refs import local_refs_made_llguidance_readable, resolve
from .walk import walk

__all__ = [
    "AFTER",
    "DECODING",
    "ENFORCED_FORMATS",
    "KEYWORDS",
    "PARTLY",
    "STANDARD_FORMATS",
    "OpenAPINullableWarning",
    "UnknownFormatWarning",
    "dependencies_in_grammar",
    "dialect",
    "rewrite",
    "validator_class",
]


class UnknownFormatWarning(UserWarning):
    """A ``format`` JSON Schema does not define: an annotation, as 2019-09 and later say it is."""


class OpenAPINullableWarning(UserWarning):
    """OpenAPI 3.0's ``nullable: true``, which JSON Schema ignores: null stays disallowed there."""


# Formats llguidance enforces while decoding; the other standard ones are checked after.
ENFORCED_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri"}
)
# checked after (jsonschema's checkers; iri and iri-reference are not among them: their checker
# costs 3 s per import, so they are annotations like unknown formats)
STANDARD_FORMATS = ENFORCED_FORMATS | {
    "idn-email", "idn-hostname", "uri-reference", "uri-template", "json-pointer",
    "relative-json-pointer", "regex",
}  # fmt: skip
# IPv6 as RFC 4291 writes it, the last 32 bits also as an IPv4 address (`::ffff:192.168.0.1`):
# exactly what jsonschema's checker (Python's ipaddress, no zone) takes; llguidance's own ipv6
# format has no IPv4 forms. Compared with ipaddress on 200,000 generated and mutated strings.
_H16 = "[0-9A-Fa-f]{1,4}"
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LS32 = rf"({_H16}:{_H16}|{_OCTET}(\.{_OCTET}){{3}})"
IPV6_PATTERN = "^(" + "|".join((
    rf"({_H16}:){{6}}{_LS32}", rf"::({_H16}:){{5}}{_LS32}", rf"({_H16})?::({_H16}:){{4}}{_LS32}",
    rf"(({_H16}:)?{_H16})?::({_H16}:){{3}}{_LS32}", rf"(({_H16}:){{0,2}}{_H16})?::({_H16}:){{2}}{_LS32}",
    rf"(({_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}", rf"(({_H16}:){{0,4}}{_H16})?::{_LS32}",
    rf"(({_H16}:){{0,5}}{_H16})?::{_H16}", rf"(({_H16}:){{0,6}}{_H16})?::",
)) + ")$"  # fmt: skip

HOSTNAME_MAX = 253  # characters in a hostname (RFC 1123; what the check's fqdn reading allows)

DECODING, PARTLY, AFTER = "enforced in decoding", "in decoding where it can, else checked after", "checked after"
# How each validation keyword is honoured (annotations such as title/description/default are not listed).
KEYWORDS: dict[str, str] = {
    "type": DECODING, "enum": DECODING, "const": DECODING, "anyOf": DECODING, "$ref": DECODING,
    "properties": DECODING, "required": DECODING, "additionalProperties": DECODING,
    "items": DECODING, "prefixItems": DECODING, "minItems": DECODING, "maxItems": DECODING,
    "minimum": PARTLY, "maximum": PARTLY, "exclusiveMinimum": PARTLY, "exclusiveMaximum": PARTLY,
    "multipleOf": PARTLY,
    "format": PARTLY, "pattern": PARTLY, "patternProperties": PARTLY, "allOf": PARTLY, "oneOf": PARTLY,
    "minProperties": PARTLY, "maxProperties": PARTLY, "minLength": PARTLY, "maxLength": PARTLY,
    "not": PARTLY, "if": AFTER, "then": AFTER, "else": AFTER, "uniqueItems": PARTLY,
    "dependentRequired": PARTLY, "dependentSchemas": AFTER, "dependencies": PARTLY,
    "contains": AFTER, "minContains": AFTER, "maxContains": AFTER, "propertyNames": AFTER,
    "unevaluatedProperties": AFTER, "unevaluatedItems": AFTER, "additionalItems": DECODING,
}  # fmt: skip

# left out of the grammar (uniqueItems only where _unique_choices cannot say it; dependencies are
# said again by dependencies_in_grammar where they can be)
_DROPPED = (
    *(k for k, how in KEYWORDS.items() if how == AFTER),
    "not",
    "uniqueItems",
    "dependentRequired",
    "dependencies",
)


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

    for _ in range(_REF_HOPS):
        branches = [resolve(b, root) for b in branches]
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


# Drafts before 2019-09 ignore every keyword beside "$ref" (llguidance intersects them, which would
# reject values these drafts accept) and spell dependentRequired "dependencies". Read by the URI's
# path, not its exact text: real schemas write https, a missing "#" or a trailing slash, which
# jsonschema's own lookup does not know, and the grammar and the check must read the same draft.
_DIALECT = re.compile(r"json-schema\.org/(?:(draft-0[3467])|draft/(2019-09|2020-12))/schema")
_OLD_DRAFTS = frozenset(("draft-03", "draft-04", "draft-06", "draft-07"))
# What llguidance knows each draft by; any other "$schema" it tries to fetch, and refuses.
_CANONICAL = {
    **{draft: f"http://json-schema.org/{draft}/schema#" for draft in _OLD_DRAFTS},
    **{draft: f"https://json-schema.org/draft/{draft}/schema" for draft in ("2019-09", "2020-12")},
}
_VALIDATORS = {
    "draft-03": "Draft3Validator",
    "draft-04": "Draft4Validator",
    "draft-06": "Draft6Validator",
    "draft-07": "Draft7Validator",
    "2019-09": "Draft201909Validator",
    "2020-12": "Draft202012Validator",
}


def dialect(schema: Any) -> str:
    """The draft a schema is read by: the one its ``$schema`` names; otherwise (none, or a
    meta-schema of its own) 2020-12, or 2019-09 where an array-form ``items`` (a tuple, which
    2020-12 spells ``prefixItems`` and refuses as written) says it was written for an earlier
    draft. llguidance reads such a tuple the same way; 2019-09 rather than 7 as it, like the
    grammar, applies the keywords beside ``$ref``."""
    if not isinstance(schema, dict):
        return "2020-12"
    named = _DIALECT.search(str(schema.get("$schema", "")))
    if named:
        return named[1] or named[2]
    return "2019-09" if any(isinstance(node.get("items"), list) for node in walk(schema)) else "2020-12"


def validator_class(schema: Any) -> Any:
    """The ``jsonschema`` validator class of the schema's :func:`dialect`."""
    import jsonschema

    return getattr(jsonschema, _VALIDATORS[dialect(schema)])


_STATIC_KEYS = frozenset((*_DROPPED, "oneOf", "format", "minProperties", "maxProperties"))  # what _static acts on
_STATIC_WORK = re.compile('"(?:' + "|".join(re.escape(k) for k in sorted(_STATIC_KEYS)) + ')":')
_UNIQUE_CHOICES = 100  # the most arrays a uniqueItems-of-an-enum is spelled out as
_ONE_OF_KEY_SETS = 16  # the most branches a oneOf of required keys is spelled out as
_ONE_OF_CHOICES = 4096  # the most choices of absent keys walked to find them


_REF_HOPS = 4  # a reference to a reference to ... is followed this far, then left as it is


def _unique_choices(node: dict[str, Any], root: dict[str, Any]) -> bool:
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


def _negation_in_grammar(node: dict[str, Any]) -> bool:
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
    required = neg.get("required")
    if asked == {"required"} and isinstance(required, list) and len(required) == 1 and isinstance(required[0], str):
        if not isinstance(node.get("properties"), dict):
            return False  # naming it would close the object while decoding (schema.py)
        node["type"] = [t for t in types if t == "object"]  # "required" holds of any other value
        node["properties"][required[0]] = False
        return True
    if asked in ({"enum"}, {"const"}) and isinstance(node.get("enum"), list):
        out = [neg["const"]] if "const" in asked else neg["enum"]
        if not isinstance(out, list):
            return False
        node["enum"] = [v for v in node["enum"] if not any(_same(v, x) for x in out)]
        return True
    return False


def _counts_llguidance_refuses(node: dict[str, Any], closing: bool) -> bool:
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
    closed = extra is False or (closing and (extra is True or extra == {}))
    most = min(len(named) if closed else math.inf, math.inf if high is None else high)
    if r == len(named) or max(r, low or 0) > most:
        return False
    if high is None and (low is None or low <= r):
        return False
    return not (closed and (low is None or low <= r + 1) and (high is None or high == r + 1))


def _static(schema: dict[str, Any], dropped: set[str], closing: bool, old_draft: bool) -> bool:
    """Drop in place what llguidance cannot enforce, naming it in ``dropped``. True where a
    dependentRequired was marked for :func:`dependencies_in_grammar`."""
    marked = False
    unknown: dict[str, None] = {}  # formats JSON Schema does not define, in the order met
    # the draft's own keyword ("dependencies" before 2019-09): the check ignores the other one
    dependent = "dependencies" if old_draft else "dependentRequired"
    for node in walk(schema):
        if not node.keys() & _STATIC_KEYS:
            continue  # most nodes of a large schema: one set intersection instead of a check per keyword
        if node.get("uniqueItems") is True:
            _unique_choices(node, schema)  # enforced in decoding where it can be
        if "not" in node and _negation_in_grammar(node):
            del node["not"]
        for key in _DROPPED:
            if key in node and not (key == "uniqueItems" and node[key] is False):
                value = node.pop(key)
                if key == dependent and isinstance(value, dict):
                    lists = {k: v for k, v in value.items() if isinstance(v, list) and v}
                    only_lists = all(isinstance(v, list) for v in value.values())
                    if lists and isinstance(node.get("properties"), dict):
                        node[_DEPENDENT] = [key, lists]  # in the grammar where the object is closed
                        marked = True
                        if only_lists:
                            continue  # dependencies_in_grammar names it if it stays to the check
                    elif only_lists and not lists:
                        continue  # empty lists constrain nothing
                dropped.add(key)
        if _counts_llguidance_refuses(node, closing):
            node.pop("minProperties", None), node.pop("maxProperties", None)
            dropped.add("minProperties/maxProperties")  # known now: no compile spent finding out
        if "oneOf" in node:
            branches = node.pop("oneOf")
            if (only := _types_of_one_branch(branches)) is not None:
                branches = [{"type": only}]
            elif (alone := _one_set_of_keys(branches, node)) is not None:
                branches = alone
            elif not _distinct_branches(branches, schema):
                dropped.add("oneOf")
            if "anyOf" in node:
                node.setdefault("allOf", []).append({"anyOf": branches})
            else:
                node["anyOf"] = branches
        fmt = node.get("format")
        if fmt == "ipv6" and "pattern" not in node:
            node["pattern"] = IPV6_PATTERN  # the format, said in full (and still checked after)
            del node["format"]
        if fmt == "hostname" and (node.get("maxLength") is None or number_over(node["maxLength"], HOSTNAME_MAX)):
            node["maxLength"] = HOSTNAME_MAX  # llguidance's format has no total length; the check's does
        if isinstance(fmt, str) and fmt not in ENFORCED_FORMATS:
            del node["format"]
            if fmt in INTEGER_FORMATS:
                if not integer_range(node, *INTEGER_FORMATS[fmt], closing):
                    dropped.add("format")
            elif fmt in STANDARD_FORMATS:
                dropped.add("format")
            elif fmt not in NUMBER_FORMATS:
                unknown[fmt] = None
    if unknown:  # one warning per schema: CloudFormation's name five or more formats of their own
        named = [repr(f) for f in unknown]
        which = f"format {named[0]} is not one" if len(named) == 1 else f"formats {', '.join(named)} are not ones"
        warnings.warn(
            f"{which} edgeqwen checks: treated as {'an annotation' if len(named) == 1 else 'annotations'}, "
            "as JSON Schema 2019-09 and later treat formats.",
            UnknownFormatWarning,
            stacklevel=2,
        )
    return marked


def _warn_nullable(schema: dict[str, Any]) -> None:
    """One warning for OpenAPI 3.0's ``nullable: true`` where the node's ``type`` leaves null out:
    JSON Schema reads it as an annotation, so the answer can never be null there, and a model asked
    to fill a field it has no value for must make one up."""
    where = [n for n in walk(schema) if n.get("nullable") is True and not _allows_null(n.get("type"))]
    if where:
        warnings.warn(
            f"'nullable: true' ({len(where)} {'place' if len(where) == 1 else 'places'}) is OpenAPI 3.0's "
            "keyword, not JSON Schema's: null is not allowed there. To allow it, write the type as a "
            'list with "null" (e.g. "type": ["string", "null"]) or add {"type": "null"} to an anyOf.',
            OpenAPINullableWarning,
            stacklevel=3,
        )


def _allows_null(types: Any) -> bool:
    return types == "null" or (isinstance(types, list) and "null" in types)


# dependentRequired {a: [b, c]} on an object that allows no other keys, said as llguidance can:
# a absent, or a, b and c all present (on an open object llguidance rejected values this allows).
_DEPENDENT = "x-edgeqwen-dependent-required"
_MAX_DEPENDENT = 3  # each one doubles the object's branches in llguidance's intersection


def dependencies_in_grammar(schema: dict[str, Any], enforce: bool) -> tuple[set[str], int]:
    """Replace each mark :func:`_static` left with the grammar's form, or drop it: the keywords
    left to the check, and how many objects the grammar now says them for."""
    left, said = set(), 0
    for node in walk(schema):
        mark = node.pop(_DEPENDENT, None)
        if mark is None:
            continue
        keyword, lists = mark
        closed = node.get("additionalProperties") is False and isinstance(node.get("allOf", []), list)
        if enforce and closed and len(lists) <= _MAX_DEPENDENT:
            node.setdefault("allOf", []).extend(
                {"anyOf": [{"properties": {k: False}}, {"required": [k, *needs]}]} for k, needs in lists.items()
            )
            said += 1
        else:
            left.add(keyword)
    return left, said


def _ignore_ref_siblings(schema: dict[str, Any], text: str) -> None:
    """As those drafts say: exact, nothing left to the check (it applies the same draft). A
    sibling some reference points into (``#/.../properties/...``) is kept, to stay resolvable."""
    pointed = {part for ref in re.findall(r'"\$ref": "#/([^"]*)"', text) for part in ref.split("/")}
    for node in walk(schema):
        if "$ref" in node:
            for key in [k for k in node if k in KEYWORDS and k != "$ref" and k not in pointed]:
                del node[key]


_SURROGATE_IN_TEXT = re.compile(r"\\\\u[dD][89abAB]")  # a high one, as the schema's JSON writes it


def _astral_patterns(schema: dict[str, Any]) -> None:
    for node in walk(schema):
        if isinstance(node.get("pattern"), str):
            node["pattern"] = astral_escapes(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            node["patternProperties"] = {astral_escapes(k): v for k, v in node["patternProperties"].items()}


def rewrite(schema: dict[str, Any], text: str, dropped: set[str], closing: bool) -> bool:
    """All of the above on ``schema`` (in place; ``text`` is its JSON, to skip the walks most
    schemas need none of; ``closing``: decoding will close objects that name their properties).
    True where dependentRequired was marked (dependencies_in_grammar)."""
    read_as = dialect(schema)
    if "$schema" in schema:  # https, no "#", a meta-schema of its own: what the check reads it as
        schema["$schema"] = _CANONICAL[read_as]
    old_draft = read_as in _OLD_DRAFTS
    local_refs_made_llguidance_readable(schema, text)
    if _SURROGATE_IN_TEXT.search(text):
        _astral_patterns(schema)
    marked = _STATIC_WORK.search(text) is not None and _static(schema, dropped, closing, old_draft)
    keep_numbers_from_llguidance(schema, text, dropped, KEYWORDS)
    if '"nullable": true' in text:
        _warn_nullable(schema)
    if old_draft and '"$ref"' in text:
        _ignore_ref_siblings(schema, text)
    return marked
