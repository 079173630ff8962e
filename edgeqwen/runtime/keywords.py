"""JSON Schema's keywords: how each one that asserts is honoured (:data:`KEYWORDS`, the table
README prints), and the keys of a schema that JSON Schema ignores though its author likely meant a
keyword: a misspelled one (``minLenght``, ``Required``, ``additional_properties``, ``ref``), or a
schema with no keyword at all (an example value, or the schema under a name). Ignored, they assert
nothing, in the grammar and in the check alike: said with a warning, as JSON Schema's own
semantics take such a schema.
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import Any

from .walk import walk

__all__ = [
    "AFTER",
    "ANNOTATIONS",
    "DECODING",
    "KEYWORDS",
    "PARTLY",
    "MisspelledKeywordWarning",
    "meant",
    "warn_ignored_keys",
]

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
    "not": PARTLY, "if": PARTLY, "then": PARTLY, "else": PARTLY, "uniqueItems": PARTLY,
    "dependentRequired": PARTLY, "dependentSchemas": AFTER, "dependencies": PARTLY,
    "contains": AFTER, "minContains": AFTER, "maxContains": AFTER, "propertyNames": AFTER,
    "unevaluatedProperties": AFTER, "unevaluatedItems": AFTER, "additionalItems": DECODING,
    "$dynamicRef": PARTLY, "$recursiveRef": PARTLY,
}  # fmt: skip

# What llguidance reads as annotations (relaxations.py: any other word it does not implement is a
# keyword to it, beside a reference)
ANNOTATIONS = frozenset(("$anchor", "$defs", "definitions", "$schema", "$id", "id", "$comment", "title",
                         "description", "default", "readOnly", "writeOnly", "examples",
                         "contentMediaType", "contentEncoding", "x-guidance"))  # fmt: skip
# Every other word some draft (3 to 2020-12), OpenAPI or llguidance defines: none is a misspelling
_KNOWN = frozenset(KEYWORDS) | ANNOTATIONS | {
    "$dynamicAnchor", "$recursiveAnchor", "$vocabulary", "deprecated", "contentSchema", "disallow", "divisibleBy",
    "extends", "nullable", "discriminator", "propertyDependencies",
}  # fmt: skip


# What each keyword's value is: a key whose value is not of its kind misspells nothing ("patterns": [])
_SCHEMA, _NUMBER = (dict, bool), (int, float)
_TAKES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("not", "if", "then", "else", "contains", "propertyNames", "additionalProperties",
                     "additionalItems", "unevaluatedProperties", "unevaluatedItems"), _SCHEMA),
    **dict.fromkeys(("allOf", "anyOf", "oneOf", "prefixItems", "enum", "required"), (list,)),
    **dict.fromkeys(("properties", "patternProperties", "dependentSchemas", "dependentRequired", "dependencies"),
                    (dict,)),
    **dict.fromkeys(("pattern", "format", "$ref", "$dynamicRef", "$recursiveRef"), (str,)),
    "items": (dict, bool, list), "type": (str, list), "uniqueItems": (bool,), "const": (object,),
    "exclusiveMinimum": (*_NUMBER, bool), "exclusiveMaximum": (*_NUMBER, bool),
}  # fmt: skip


def _takes(keyword: str, value: Any) -> bool:
    kinds = _TAKES.get(keyword, _NUMBER)  # the counts and bounds: a number
    return isinstance(value, kinds) and not (kinds == _NUMBER and isinstance(value, bool))


class MisspelledKeywordWarning(UserWarning):
    """A key within a typo of a JSON Schema keyword (``minLenght``), or a schema with no keyword at
    its top: JSON Schema ignores both, so they assert nothing."""


def _squashed(word: str) -> str:
    return re.sub(r"[^a-z]", "", word.lower())  # "additional_properties", "Required", "type:", "ref"


_BY_KEYWORD = {k: _squashed(k) for k in KEYWORDS}
_BY_SQUASHED = {letters: k for k, letters in _BY_KEYWORD.items()}


def _distance(a: str, b: str, most: int) -> int:
    """Edits (a transposition one) from ``a`` to ``b``; ``most + 1`` once it is past ``most``."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    before, row = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        above, row = row, [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(above[j] + 1, row[j - 1] + 1, above[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and before is not None:
                row[j] = min(row[j], before[j - 2] + 1)
        before = above
        if min(row) > most:
            return most + 1
    return row[-1]


def meant(key: str) -> str | None:
    """The keyword ``key`` misspells, or None: the same letters in another case or with other
    punctuation, or one edit away (two for a keyword of ten letters or more). Not a known word,
    an ``x-`` extension, nor a keyword put out of use on purpose (``_format``, ``xrequired``)."""
    if len(key) > 32 or key in _KNOWN or key.startswith(("x-", "_")) or key[1:] in KEYWORDS or not key.isascii():
        return None  # the longest keyword has 21 letters: a long key is kept out of the cache below
    return _meant(key)


@functools.lru_cache(maxsize=4096)
def _meant(key: str) -> str | None:
    squashed = _squashed(key)
    if squashed in _BY_SQUASHED:
        return _BY_SQUASHED[squashed]
    for keyword, letters in _BY_KEYWORD.items():
        most = 2 if len(keyword) >= 10 else 1 if len(keyword) >= 4 else 0
        if letters in squashed and len(squashed) > len(letters) + 1:  # a word of its own: tsAdditionalProperties
            continue
        if most and _distance(squashed, letters, most) <= most:
            return keyword
    return None


def warn_ignored_keys(schema: dict[str, Any]) -> None:
    """One warning for the keys JSON Schema ignores that likely meant a keyword, and one for a
    schema whose top holds no keyword at all (any JSON value then answers it)."""
    found: dict[tuple[str, str], int] = {}
    for node in walk(schema):
        for key, value in node.items():
            if key not in _KNOWN and (keyword := meant(key)) is not None and _takes(keyword, value):
                found[key, keyword] = found.get((key, keyword), 0) + 1
    if found:
        said = [
            f"{key!r}{f' in {n} places' if n > 1 else ''} (did you mean {keyword!r}?)"
            for (key, keyword), n in found.items()
        ]
        warnings.warn(
            f"The JSON Schema holds {'a key' if len(said) == 1 else 'keys'} that JSON Schema ignores, so "
            f"{'it asserts' if len(said) == 1 else 'they assert'} nothing in decoding or in the check: "
            f"{', '.join(said[:8])}{' ...' if len(said) > 8 else ''}.",
            MisspelledKeywordWarning,
            stacklevel=3,
        )
    unread = [k for k in schema if k not in _KNOWN and not k.startswith(("x-", "$"))]
    if unread and len(unread) == len([k for k in schema if not k.startswith(("x-", "$"))]) and not found:
        names = ", ".join(repr(k) for k in unread[:4]) + (" ..." if len(unread) > 4 else "")
        warnings.warn(
            f"The JSON Schema has no keyword at its top ({names}), so it asserts nothing: any JSON value is an "
            "answer. Is it an example of the value rather than its schema, or the schema under a name "
            '({"Person": {...}}: pass what is under the name)?',
            MisspelledKeywordWarning,
            stacklevel=3,
        )
