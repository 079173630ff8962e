"""The check every structured answer gets: the user's own schema, asserted in full by jsonschema.

Decoding enforces what llguidance can (relax.py); this is the rest. Formats are asserted, as
decoding enforces them; ``dependencies`` is checked under every draft (decoding honours it); and
``pattern`` / ``patternProperties`` / ``additionalProperties`` and ``format: regex`` read patterns
as ``patterns.ecma_pattern`` does (the ``regex`` module, which knows the ``\\p{L}`` classes JSON
Schema's ECMA-262 patterns use and Python's ``re`` refuses).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import regex

from ..errors import BackendUnavailableError, GrammarError
from ..jsontext import nesting
from .kept import Kept
from .numbers import INTEGER_FORMATS
from .patterns import SEARCH_TIMEOUT_S, ecma_pattern, small_counts, too_large
from .relax import MAX_SCHEMA_DEPTH, _refuse_invalid, refuse_costly
from .rewrite import JSON_POINTER, NON_NEGATIVE, RELATIVE_POINTER, validator_class

__all__ = ["Violation", "check", "require_format_packages"]


@dataclass(frozen=True)
class Violation:
    """Why a value is not valid: the keyword that fails, where, and jsonschema's message."""

    keyword: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.keyword!r} at {self.path}: {self.message}"


class _Unchecked(Exception):
    """A pattern search that ran past SEARCH_TIMEOUT_S. A pattern left to the check may backtrack
    ("^(?=a)(a|aa)+$" on an answer of 50 characters: an hour): such a search fails the check, so the
    answer is resampled, never returned unchecked."""


def _search(pattern: str, text: str) -> bool:
    try:
        return ecma_pattern(pattern).search(text, timeout=SEARCH_TIMEOUT_S) is not None
    except TimeoutError:
        raise _Unchecked(
            f"{text[:60]!r} could not be checked against {pattern!r} within {SEARCH_TIMEOUT_S:g} s (the pattern "
            "backtracks; write it without nested or overlapping repeats)"
        ) from None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    named, patterns = schema.get("properties", {}), list(schema.get("patternProperties", {}))
    extras = [k for k in instance if k not in named and not any(_search(p, k) for p in patterns)]
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        listed = ", ".join(repr(k) for k in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


def _json_key(value: Any) -> Any:
    """A hashable key equal for JSON values JSON Schema calls equal: 1 and 1.0 alike, true and 1
    not, objects whatever their key order."""
    if value is True or value is False:
        return ("bool", value)
    if isinstance(value, dict):
        return ("object", frozenset((k, _json_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("array", tuple(_json_key(v) for v in value))
    return value  # a string, a number (1 == 1.0 and their hashes agree), None


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """jsonschema's compares every pair of objects or arrays (3,000 objects: 5.9 s); a key each, once."""
    from jsonschema.exceptions import ValidationError

    if unique and validator.is_type(instance, "array"):
        seen: set[Any] = set()
        for item in instance:
            key = _json_key(item)
            if key in seen:
                yield ValidationError(f"{instance!r:.200} has non-unique elements")
                return
            seen.add(key)


# RFC 3987's ucschar (allowed wherever RFC 3986 allows an unreserved character) and iprivate
# (in the query only): an IRI is valid where the URI it maps to (RFC 3987 section 3.1, those
# characters percent-encoded) is, so the check reuses the URI reading instead of rfc3987's
# grammar, whose import costs seconds.
_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    + "".join(f"{chr(plane << 16)}-{chr((plane << 16) | 0xFFFD)}" for plane in range(1, 14))
    + "\U000e1000-\U000efffd"
)
_IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
_UCS = re.compile(f"[{_UCSCHAR}]")
_UCS_OR_PRIVATE = re.compile(f"[{_UCSCHAR}{_IPRIVATE}]")


def _iri(instance: object, rule: str) -> bool:
    """``iri`` (``rule="URI"``) and ``iri-reference`` (``"URI_reference"``): the URI the IRI maps to
    is one, and every non-ASCII character is a ucschar (or an iprivate one in the query)."""
    from rfc3986_validator import validate_rfc3986

    if not isinstance(instance, str):
        return True
    end = instance.find("#")  # the fragment's "#", else the end
    end = len(instance) if end < 0 else end
    start = instance.find("?", 0, end)
    start = end if start < 0 else start
    mapped = "".join(
        _UCS.sub("%00", part) if i != 1 else _UCS_OR_PRIVATE.sub("%00", part)
        for i, part in enumerate((instance[:start], instance[start:end], instance[end:]))
    )
    return mapped.isascii() and validate_rfc3986(mapped, rule=rule) is not None


# RFC 5321's Mailbox, as JSON Schema's suite reads ``email``: jsonschema's checker asks only for an
# "@", so where the check alone guards an answer (MLC, a remote server) ".a@b" and "a@b=c" passed.
# Every address llguidance's email format writes is one (compared on 50,000 strings; its labels
# may run past 63 characters, which a hostname's may not: such an answer is resampled).
# ``idn-email`` (RFC 6531) adds any non-ASCII character to both forms of the local part and reads
# the domain as an internationalised host name.
_ATEXT = r"-A-Za-z0-9!#$%&'*+/=?^_`{|}~"  # the hyphen first: a range's end otherwise
_QTEXT = r"\x20\x21\x23-\x5b\x5d-\x7e"
_LOCAL_PART = re.compile(rf'([{_ATEXT}]+(\.[{_ATEXT}]+)*|"([{_QTEXT}]|\\[\x20-\x7e])*")\Z')
_UTF8_NON_ASCII = "\\x80-\\ud7ff\\ue000-\\U0010ffff"  # RFC 6531's (no surrogate is a character)
_IDN_LOCAL_PART = re.compile(
    rf'([{_ATEXT}{_UTF8_NON_ASCII}]+(\.[{_ATEXT}{_UTF8_NON_ASCII}]+)*|"([{_QTEXT}{_UTF8_NON_ASCII}]|\\[\x20-\x7e])*")\Z'
)


def _email(instance: object, host: Callable[[str], bool] | None = None) -> bool:
    """``email``, or with ``host`` (the idn-hostname checker) ``idn-email``."""
    from fqdn import FQDN

    if not isinstance(instance, str):
        return True
    local, at, domain = instance.rpartition("@")
    if not at or not (_IDN_LOCAL_PART if host else _LOCAL_PART).match(local):
        return False
    if domain[:1] == "[" and domain[-1:] == "]":  # an address literal: [192.0.2.1], [IPv6:::1]
        literal = domain[1:-1]
        try:
            if literal[:5].lower() == "ipv6:":
                ipaddress.IPv6Address(literal[5:])
            else:
                ipaddress.IPv4Address(literal)
        except ValueError:
            return False
        return True
    if host is not None:
        return bool(domain) and host(domain)
    return bool(domain) and FQDN(domain, min_labels=1).is_valid


# A relative JSON pointer: an integer without leading zeros, then "#" or a JSON pointer (RFC 6901);
# 2020-12's draft (bhutton-00) adds an index adjustment ("0+1/a"). jsonschema's checker refuses
# "100" and "100/a" (it reads any digit after a "0" as a leading zero) and takes "٣/a".
_RELATIVE_POINTER = re.compile(rf"{NON_NEGATIVE}(#|{JSON_POINTER})\Z")
_RELATIVE_POINTER_2020 = re.compile(rf"{RELATIVE_POINTER}\Z")


def _relative_pointer(instance: object, adjusted: bool) -> bool:
    if not isinstance(instance, str):
        return True
    return (_RELATIVE_POINTER_2020 if adjusted else _RELATIVE_POINTER).match(instance) is not None


_LEAP_SECOND = re.compile(r"(\d\d):(\d\d):60(\.\d+)?([Zz]|[+-]\d\d:\d\d)\Z")


def _ecma_regex(instance: object) -> bool:
    """``format: regex`` as ``pattern`` reads one: jsonschema's asks Python's ``re``, which refuses
    ``\\p{L}`` and the surrogate pairs JSON Schema's ECMA-262 patterns write (and the check reads)."""
    if isinstance(instance, str):
        # regex.error: not one. A huge count (a model can be asked to write "a{99999999}") is read
        # at a small size: the regex module builds counts piece by piece, gigabytes for that one
        try:
            ecma_pattern(instance if too_large(instance, "") is None else small_counts(instance))
        except RecursionError as exc:  # groups nested past the parser's recursion: no regex to read
            raise regex.error("groups nested too deeply") from exc
    return True


@lru_cache(maxsize=16)  # one per draft's checker, not one per schema
def _format_checker(checker: Any) -> Any:
    """``checker`` that reads ``regex`` as the check reads patterns, and also takes RFC 3339's leap
    second (``23:59:60Z``, or the same instant in another offset) in ``time`` and ``date-time``:
    jsonschema's refuses every second 60; and asserts OpenAPI's integer formats, IRIs and e-mail
    addresses as RFC 5321 writes them."""
    import jsonschema

    latest = jsonschema.Draft202012Validator.FORMAT_CHECKER
    adjusted = checker is latest  # its relative pointers' form
    checker = copy.copy(checker)
    # a format a later draft defines is asserted under an earlier one too (date, uuid, uri-reference
    # in a draft 4 schema, as OpenAPI 3.0 writes them): the grammar enforces it in every draft, and a
    # check that read it as an unknown annotation took values the grammar refused
    checker.checkers = {**latest.checkers, **checker.checkers}
    if "regex" in checker.checkers:
        checker.checkers["regex"] = (_ecma_regex, regex.error)
    for name in ("time", "date-time"):
        if name not in checker.checkers:
            continue
        plain, raises = checker.checkers[name]

        def conforms(instance: object, plain: Any = plain) -> bool:
            if isinstance(instance, str) and (leap := _LEAP_SECOND.search(instance)):
                hour, minute, zone = int(leap[1]), int(leap[2]), leap[4]
                offset = 0 if zone in "Zz" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 60 + int(zone[4:]))
                if (hour * 60 + minute - offset) % 1440 != 23 * 60 + 59:
                    return False  # a leap second is the last second of a UTC day
                instance = instance[: leap.start() + 6] + "59" + instance[leap.start() + 8 :]
            return plain(instance)

        checker.checkers[name] = (conforms, raises)
    for name, (low, high) in INTEGER_FORMATS.items():
        checker.checkers[name] = (partial(_integer_in, low=low, high=high), ())
    checker.checkers["email"] = (_email, ())
    if "relative-json-pointer" in checker.checkers:  # (drafts 7 and later)
        checker.checkers["relative-json-pointer"] = (partial(_relative_pointer, adjusted=adjusted), ())
    if "idn-hostname" in checker.checkers:  # (where idna is installed, as jsonschema reads it)
        checker.checkers["idn-email"] = (partial(_email, host=partial(checker.conforms, format="idn-hostname")), ())
    checker.checkers["iri"] = (partial(_iri, rule="URI"), ())
    checker.checkers["iri-reference"] = (partial(_iri, rule="URI_reference"), ())
    return checker


def _integer_in(instance: object, low: int, high: int) -> bool:
    """An integer format (``int32``, ``uint8``...): a number that is an integer in the type's range;
    other types pass, as a format reads only the type it is defined for."""
    if type(instance) not in (int, float):  # bool is an int to Python, not to JSON
        return True
    return (isinstance(instance, int) or instance.is_integer()) and low <= instance <= high


@lru_cache(maxsize=16)  # one per draft: building the class costs ~1 ms, more than most checks
def _checker_class(cls: Any) -> Any:
    import jsonschema

    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
        "uniqueItems": _unique_items,
    }
    if "dependencies" not in cls.VALIDATORS:
        # 2019-09 split `dependencies` into dependentRequired / dependentSchemas, and its validators
        # ignore the old keyword, which decoding honours: checked too (the test suite's compatibility rule)
        keywords["dependencies"] = jsonschema.Draft7Validator.VALIDATORS["dependencies"]
    return jsonschema.validators.extend(cls, keywords)


# The packages the check asserts these formats with (jsonschema's checkers and ours). Where one
# cannot be imported (a --no-deps install; rfc3986-validator 0.1.0 is a wheel with no module in
# it), jsonschema silently takes any string for its formats: refused instead, naming the package.
_FORMAT_PACKAGES = (
    ("rfc3339_validator", "rfc3339-validator", ("date-time", "time")),
    ("rfc3986_validator", "rfc3986-validator", ("uri", "uri-reference", "iri", "iri-reference")),
    ("fqdn", "fqdn", ("hostname", "email", "idn-email")),
    ("idna", "idna", ("idn-hostname", "idn-email")),
    ("isoduration", "isoduration", ("duration",)),
    ("jsonpointer", "jsonpointer", ("json-pointer", "relative-json-pointer")),
    ("uri_template", "uri-template", ("uri-template",)),
)
_FORMAT_NAME = re.compile(r'"format": "([^"\\]*)"')  # as json.dumps writes the key and a plain value


@lru_cache(maxsize=1)
def _missing_format_packages() -> tuple[tuple[str, tuple[str, ...]], ...]:
    import importlib.util

    return tuple(
        (package, formats) for module, package, formats in _FORMAT_PACKAGES if not importlib.util.find_spec(module)
    )


def require_format_packages(schema: Any) -> None:
    """Refuse a schema whose formats the check could not assert here (a package it asserts them
    with cannot be imported), before anything is generated. Free where nothing is missing."""
    missing = _missing_format_packages()
    if not missing:
        return
    try:
        text = schema if isinstance(schema, str) else json.dumps(schema)
    except (TypeError, ValueError):
        return  # not JSON: refused where the schema is read
    for package, formats in missing:
        used = sorted(set(_FORMAT_NAME.findall(text)) & set(formats))
        if used:
            raise BackendUnavailableError(
                f"Checking the format {used[0]!r} needs the {package} package, which cannot be imported here "
                f"(missing, or a release with no module): pip install -U {package}"
            )


# Validators kept by their schema's text: one for a schema of 830 kB holds about 2.2 MB
_validators: Kept[str, Any] = Kept(256, 16 << 20)


def _validator(text: str) -> Any:
    kept = _validators.get(text)
    if kept is not None:
        return kept
    require_format_packages(text)
    schema = json.loads(text)
    if isinstance(schema, dict):  # relax() refused these already; check() may be asked directly
        refuse_costly(schema, text)
    cls = _checker_class(validator_class(schema))
    validator = cls(schema, format_checker=_format_checker(cls.FORMAT_CHECKER))
    _validators.put(text, validator, len(text))
    return validator


def check(value: Any, schema: Any) -> Violation | None:
    """Why ``value`` is not valid for ``schema``, or None. Standard formats are asserted (not
    annotations), as decoding enforces them."""
    import jsonschema
    from referencing.exceptions import Unresolvable

    try:
        validator = _validator(json.dumps(schema))
        if nesting(value, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:
            # A recursive schema lets the model nest without end, and jsonschema recurses per level:
            # past ~190 levels it raised RecursionError (a GrammarError, a 400 over HTTP, for a fine
            # schema), and at the dependency floors a Rust panic from the reference resolver (pyo3's
            # PanicException). Read no deeper than a schema may nest: the answer is resampled.
            return Violation(
                "nesting", "$", f"the value nests its objects and arrays more than {MAX_SCHEMA_DEPTH} levels deep"
            )
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except _Unchecked as exc:
        return Violation("pattern", "$", str(exc))
    except (Unresolvable, jsonschema.exceptions.UnknownType, re.error, regex.error, RecursionError) as exc:
        raise GrammarError(f"The schema cannot be checked: {str(exc).splitlines()[0][:300]}") from exc
    except Exception:  # jsonschema tripping over a keyword's value: say which, where the schema is the cause
        _refuse_invalid(schema, "")  # (checked only here: a whole-schema check costs 5 ms at the median)
        raise
    if error is None:
        return None
    where = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
    # a `false` subschema's error names no keyword (jsonschema: validator None, and no path past it)
    keyword = "false" if error.validator is None else str(error.validator)
    return Violation(keyword, where, error.message[:300])
