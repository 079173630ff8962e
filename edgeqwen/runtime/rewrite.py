"""Rewrites that keep a JSON Schema's meaning and make it one llguidance takes, before any compile.

Which draft a schema is read as, and the rewrites done by reading the schema alone
(:func:`rewrite`; how each keyword is honoured, :data:`KEYWORDS`, is keywords.py's): what
llguidance cannot enforce dropped and named, keywords it refuses said exactly where they can be
(exact.py: ``oneOf``, ``uniqueItems``, ``not``), ``dependentRequired`` said in the grammar on an
object that allows no other keys, keywords beside ``$ref`` ignored in drafts 4-7 as they say,
references (refs.py) and numbers (numbers.py) made ones llguidance reads. The relaxations driven
by llguidance's errors are in relaxations.py, tried by relax.py.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from ..errors import GrammarError
from .exact import (
    conditions_as_branches,
    counts_llguidance_refuses,
    drop_counts_that_say_nothing,
    negation_in_grammar,
    one_of_as_any_of,
    unique_choices,
)
from .keywords import AFTER, DECODING, KEYWORDS, PARTLY, warn_ignored_keys
from .numbers import INTEGER_FORMATS, NUMBER_FORMATS, integer_range, keep_numbers_from_llguidance, number_over
from .patterns import astral_escapes, ecma_classes
from .refs import dynamic_refs_static, local_refs_made_llguidance_readable
from .walk import walk

__all__ = [
    "AFTER",
    "DECODING",
    "ENFORCED_FORMATS",
    "KEYWORDS",
    "PARTLY",
    "STANDARD_FORMATS",
    "Draft3RequiredWarning",
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


class Draft3RequiredWarning(UserWarning):
    """Draft 3's ``"required": true`` on a property, which later drafts ignore: it is not required."""


# Formats llguidance enforces while decoding; the other standard ones are checked after.
ENFORCED_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri"}
)
# checked after (jsonschema's checkers; check.py's own for iri and iri-reference)
STANDARD_FORMATS = ENFORCED_FORMATS | {
    "idn-email", "idn-hostname", "uri-reference", "uri-template", "json-pointer",
    "relative-json-pointer", "regex", "iri", "iri-reference",
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
# Formats checked after, said in decoding by a pattern that takes every valid value (a superset,
# cheap to compile): without one the grammar wrote any string there, "" too, and every such answer
# was resampled. A JSON pointer's is the format itself (RFC 6901: "/" before each token, "~" only
# as ~0 or ~1), as the check's jsonpointer reads it; check.py reads relative ones by these too.
JSON_POINTER = r"(/([^~]|~[01])*)*"
NON_NEGATIVE = r"(0|[1-9][0-9]*)"  # no leading zero
# an integer, 2020-12's index adjustment, then "#" or a JSON pointer (the check reads the draft)
RELATIVE_POINTER = rf"{NON_NEGATIVE}([+-]{NON_NEGATIVE})?(#|{JSON_POINTER})"
_IDN_HOST = r"[^\x00-\x20!-,/:-@\[-\^`{-\x7f]+"  # letters, digits, "-", "." and any non-ASCII
_SCHEME = r"[A-Za-z][-A-Za-z0-9+.]*:"
FORMAT_SUPERSETS = {
    # a local part (atext, dots and any non-ASCII, or a quoted string, which may hold "@" and
    # spaces), "@", then a host or an address literal
    "idn-email": rf'^([^\x00-\x20"(),:;<>@\[\\\]\x7f]+|"([^"\\]|\\.)*")@({_IDN_HOST}|\[[^\]\s]+\])$',
    "idn-hostname": rf"^{_IDN_HOST}$",
    "iri": rf"^{_SCHEME}",  # a scheme first
    # RFC 3986's characters, "%" only before two hex digits, "[" and "]" only in an authority
    "uri-reference": rf"^(({_SCHEME})?//([-A-Za-z0-9._~!$&'()*+,;=:@\[\]]|%[0-9A-Fa-f]{{2}})*)?"
    + r"([-A-Za-z0-9._~:/?#@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$",
    "json-pointer": rf"^{JSON_POINTER}$",
    "relative-json-pointer": rf"^{RELATIVE_POINTER}$",
}


# left out of the grammar (uniqueItems only where unique_choices cannot say it, conditions where
# conditions_as_branches cannot; dependencies are said again by dependencies_in_grammar where they can be)
_DROPPED = (
    *(k for k, how in KEYWORDS.items() if how == AFTER),
    "if",
    "then",
    "else",
    "not",
    "uniqueItems",
    "dependentRequired",
    "dependencies",
)


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
    grammar, applies the keywords beside ``$ref``. Draft 4 where a boolean ``exclusiveMinimum``
    or ``exclusiveMaximum`` says so (OpenAPI 3.0's schemas): read as 2020-12, the check compared
    every number with ``true`` and refused them all; and where a ``"$ref": "#name"`` finds a part
    by draft 4's ``"id": "#name"`` (and no ``$id`` is written), which 2020-12 does not read."""
    if not isinstance(schema, dict):
        return "2020-12"
    named = _DIALECT.search(str(schema.get("$schema", "")))
    if named:
        return named[1] or named[2]
    tuple_items = dollar_id = False
    named_parts: set[str] = set()  # draft 4's "id": "#name"
    named_refs: set[str] = set()  # "$ref": "#name"
    for node in walk(schema):
        if isinstance(node.get("exclusiveMinimum"), bool) or isinstance(node.get("exclusiveMaximum"), bool):
            return "draft-04"  # only draft 4 (and OpenAPI 3.0, written in it) says "exclusiveMinimum": true
        tuple_items = tuple_items or isinstance(node.get("items"), list)
        dollar_id = dollar_id or "$id" in node
        for key, found in (("id", named_parts), ("$ref", named_refs)):
            fragment = node.get(key)
            if isinstance(fragment, str) and fragment[:1] == "#" and fragment[1:2] not in ("", "/"):
                found.add(fragment[1:])
    if named_parts & named_refs and not dollar_id:
        return "draft-04"  # a part named by draft 4's "id", which a reference finds by that name
    return "2019-09" if tuple_items else "2020-12"


def validator_class(schema: Any) -> Any:
    """The ``jsonschema`` validator class of the schema's :func:`dialect`."""
    import jsonschema

    return getattr(jsonschema, _VALIDATORS[dialect(schema)])


_STATIC_KEYS = frozenset((*_DROPPED, "oneOf", "format", "minProperties", "maxProperties"))  # what _static acts on
_STATIC_WORK = re.compile('"(?:' + "|".join(re.escape(k) for k in sorted(_STATIC_KEYS)) + ')":')


def _static(schema: dict[str, Any], dropped: set[str], closing: bool, old_draft: bool, conditions: bool) -> bool:
    """Drop in place what llguidance cannot enforce, naming it in ``dropped``. True where a
    dependentRequired was marked for :func:`dependencies_in_grammar`. ``conditions``: the draft
    has ``if`` (7 and later)."""
    marked = False
    unknown: dict[str, None] = {}  # formats JSON Schema does not define, in the order met
    # the draft's own keyword ("dependencies" before 2019-09): the check ignores the other one
    dependent = "dependencies" if old_draft else "dependentRequired"
    for node in walk(schema):
        if conditions and ("if" in node or "allOf" in node):
            conditions_as_branches(node, schema)  # said in decoding where a discriminator tells them
        if not node.keys() & _STATIC_KEYS:
            continue  # most nodes of a large schema: one set intersection instead of a check per keyword
        if node.get("uniqueItems") is True:
            unique_choices(node, schema)  # enforced in decoding where it can be
        if "not" in node and negation_in_grammar(node):
            del node["not"]
        if node.get("uniqueItems") is False:
            # asserts nothing, but llguidance calls it unimplemented and the whole schema was then
            # compiled lenient (OpenAPI 3.0's schema writes it once)
            del node["uniqueItems"]
        for key in _DROPPED:
            if key in node:
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
        drop_counts_that_say_nothing(node)
        if counts_llguidance_refuses(node, closing):
            node.pop("minProperties", None), node.pop("maxProperties", None)
            dropped.add("minProperties/maxProperties")  # known now: no compile spent finding out
        if "oneOf" in node:
            branches, exact = one_of_as_any_of(node.pop("oneOf"), node, schema)
            if not exact:
                dropped.add("oneOf")
            if "anyOf" in node:
                node.setdefault("allOf", []).append({"anyOf": branches})
            else:
                node["anyOf"] = branches
        fmt = node.get("format")
        if fmt == "ipv6" and "pattern" not in node:
            node["pattern"] = IPV6_PATTERN  # the format, said in full (and still checked after)
            del node["format"]
        if fmt in FORMAT_SUPERSETS and "pattern" not in node:
            node["pattern"] = FORMAT_SUPERSETS[fmt]  # (the format itself still checked after)
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


# a high surrogate, \s / \S (where llguidance's Unicode whitespace is not ECMA's) or a control escape
# \cX (which it does not read), as the schema's JSON writes them
_NOT_ECMA_IN_TEXT = re.compile(r"\\\\u[dD][89abAB]|\\\\[sS]|\\\\c[A-Za-z]")


def _ecma_patterns(schema: dict[str, Any]) -> None:
    def ecma(pattern: str) -> str:
        return ecma_classes(astral_escapes(pattern))

    for node in walk(schema):
        if isinstance(node.get("pattern"), str):
            node["pattern"] = ecma(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            node["patternProperties"] = {ecma(k): v for k, v in node["patternProperties"].items()}


_BOOLEAN_BOUND = re.compile(r'"exclusiveM(?:in|ax)imum": (?:true|false)')


def _refuse_boolean_bounds(schema: dict[str, Any], read_as: str) -> None:
    """Draft 4's ``"exclusiveMinimum": true`` under draft 6 or later, where the keyword is the bound
    itself: the check would compare every answer with ``true`` and refuse it."""
    for node in walk(schema):
        for key, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(node.get(key), bool):
                raise GrammarError(
                    f'Invalid JSON Schema: "{key}": {str(node[key]).lower()} is draft 4\'s spelling, and the schema '
                    f'is read as {read_as}, where {key} is the bound itself: write "{key}": N in place '
                    f'of "{plain}": N (or drop it where it was false), or name draft 4 in "$schema".'
                )


def _warn_boolean_required(schema: dict[str, Any], read_as: str) -> None:
    """Draft 3's ``"required": true`` on a property in a schema read by a later draft: that draft
    ignores it, as the grammar and the check do, so the property is not required. Said, not
    refused: such a schema works, loosely."""
    where = [n for n in walk(schema) if n.get("required") is True]
    if where:
        warnings.warn(
            f"'required: true' on a property ({len(where)} {'place' if len(where) == 1 else 'places'}) is draft "
            f"3's spelling; {read_as} ignores it, so those properties are not required. To require them, list "
            'their names on the object: "required": ["name", ...].',
            Draft3RequiredWarning,
            stacklevel=3,
        )


# Keywords draft 4 does not know: beside draft 4's spellings in a schema naming no draft, which draft
# its author meant cannot be told, and read as draft 4 they would silently assert nothing.
# (Not $defs: it only holds parts a pointer reaches, in draft 4 as in any other; OpenAPI 3.0's
# components bundled there are read as draft 4.)
_LATER_KEYWORDS = frozenset(("const", "contains", "propertyNames", "if", "then", "else", "prefixItems",
                             "dependentRequired", "dependentSchemas", "unevaluatedProperties",
                             "unevaluatedItems", "minContains", "maxContains", "$anchor"))  # fmt: skip


def _refuse_mixed_drafts(schema: dict[str, Any], text: str) -> None:
    later = sorted({key for node in walk(schema) for key in node.keys() & _LATER_KEYWORDS})
    if later:
        draft_4 = (
            "boolean exclusiveMinimum/exclusiveMaximum" if _BOOLEAN_BOUND.search(text) else '"id": "#name" references'
        )
        raise GrammarError(
            f'The JSON Schema names no draft in "$schema" and mixes draft 4\'s {draft_4} with '
            f"{', '.join(later)}, which draft 4 does not know: name the draft it is written for "
            '("$schema"), and write it as that draft does.'
        )


def _draft_3_required(schema: dict[str, Any]) -> None:
    """Draft 3's ``"required": true`` on a property, said the way llguidance reads (the object's list
    of names); a list on an object, which draft 3 does not know, taken out, as its check ignores it."""
    for node in walk(schema):
        if isinstance(node.get("required"), list):
            del node["required"]
    for node in walk(schema):
        props = node.get("properties")
        if isinstance(props, dict):
            names = [k for k, v in props.items() if isinstance(v, dict) and v.get("required") is True]
            for v in props.values():
                if isinstance(v, dict) and isinstance(v.get("required"), bool):
                    del v["required"]
            if names:
                node["required"] = names


# Draft 3's "time" is a time of day with no offset (its check reads "%H:%M:%S"); the grammar's
# (llguidance's, and every later draft's) is RFC 3339's, which has one: every answer failed the check
_DRAFT_3_TIME = r"^\d{1,2}:\d{1,2}:\d{1,2}$"


def _draft_3_times(schema: dict[str, Any], dropped: set[str]) -> None:
    """Draft 3's ``format: time`` decoded as a superset of its own reading, and checked after."""
    for node in walk(schema):
        if node.get("format") == "time":
            del node["format"]
            node.setdefault("pattern", _DRAFT_3_TIME)  # a pattern of the schema's own stays
            dropped.add("format")


def rewrite(schema: dict[str, Any], text: str, dropped: set[str], closing: bool) -> bool:
    """All of the above on ``schema`` (in place; ``text`` is its JSON, to skip the walks most
    schemas need none of; ``closing``: decoding will close objects that name their properties).
    True where dependentRequired was marked (dependencies_in_grammar)."""
    read_as = dialect(schema)
    warn_ignored_keys(schema)
    if read_as == "draft-04" and "$schema" not in schema:
        _refuse_mixed_drafts(schema, text)
    if "$schema" in schema or read_as == "draft-04":  # https, no "#", a meta-schema of its own, none
        schema["$schema"] = _CANONICAL[read_as]  # what the check reads it as, said to llguidance
    old_draft = read_as in _OLD_DRAFTS
    if read_as not in ("draft-03", "draft-04") and _BOOLEAN_BOUND.search(text):
        _refuse_boolean_bounds(schema, read_as)
    if read_as != "draft-03" and '"required": true' in text:
        _warn_boolean_required(schema, read_as)
    elif read_as == "draft-03" and '"required"' in text:
        _draft_3_required(schema)
    if read_as == "draft-03" and '"time"' in text:
        _draft_3_times(schema, dropped)
    local_refs_made_llguidance_readable(schema, text)
    dynamic_refs_static(schema, text, read_as)
    if _NOT_ECMA_IN_TEXT.search(text):
        _ecma_patterns(schema)
    conditions = read_as not in ("draft-03", "draft-04", "draft-06")
    marked = _STATIC_WORK.search(text) is not None and _static(schema, dropped, closing, old_draft, conditions)
    keep_numbers_from_llguidance(schema, text, dropped, KEYWORDS)
    if '"nullable": true' in text:
        _warn_nullable(schema)
    if old_draft and '"$ref"' in text:
        _ignore_ref_siblings(schema, text)
    return marked
