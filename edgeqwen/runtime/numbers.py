"""Numbers llguidance reads wrongly, refuses or crashes on, and what is kept from its grammar.

JSON numbers reach llguidance as doubles and as digit automata. It crashes the whole process on an
integer range at or below -2^63, took an integer's upper bound past 2^63 - 1 as 2^63 - 1, cannot
parse NaN, Infinity or an integer past a double, builds ``multipleOf`` for minutes or misreads it.
Each such value is left out of the grammar (which then takes a superset) and to the check after;
a grammar text holding one is refused before llguidance sees it (:func:`crash_message`). Also the
integer formats (OpenAPI's int8..uint64) said as ranges. docs/structured-output.md has the cases.
"""

from __future__ import annotations

import decimal
import functools
import json
import math
import re
from collections.abc import Callable, Collection
from typing import Any

from .matcher import byte_tokenizer, matcher_limits, panic_message
from .walk import HOLDS, walk

__all__ = [
    "BOUNDS",
    "INTEGER_FORMATS",
    "MAX_COUNT",
    "MAX_MULTIPLE_DIGITS",
    "NUMBER_FORMATS",
    "crash_message",
    "crashes_llguidance",
    "finite_number",
    "integer_range",
    "keep_numbers_from_llguidance",
    "misread_multiples",
    "number_over",
]

BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")

# OpenAPI's format registry: an integer of the machine type each names, its range said in the
# grammar and asserted by the check (schemars writes uint8..uint64 for Rust's types, whose serde
# refuses a value out of range). float and double name how a number is stored, which every JSON
# number fits: known, nothing asserted.
INTEGER_FORMATS: dict[str, tuple[int, int]] = {
    **{f"int{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"uint{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
}
NUMBER_FORMATS = frozenset({"float", "double"})


def integer_range(node: dict[str, Any], low: int, high: int, closing: bool) -> bool:
    """An integer format's range as ``minimum`` / ``maximum`` on each side the node leaves looser;
    True where the grammar then says the format whole: the node allows no non-integer number, and
    each side is said (draft 4's ``exclusiveMinimum: true``, a flag on ``minimum``, is left as written;
    ``closing``: the schema is made finite for decoding)."""
    types = node.get("type")
    listed = {types} if isinstance(types, str) else set(types) if isinstance(types, list) else None
    if listed is not None and not listed & {"integer", "number"}:
        return True  # a format reads only the type it is defined for
    exact = integers = listed is not None and "number" not in listed
    sides = (("minimum", "exclusiveMinimum", low, max), ("maximum", "exclusiveMaximum", high, min))
    for key, flag, limit, tighter in sides:
        given = node.get(key)
        if given is not None and not finite_number(given):
            exact = False  # not a number: the schema is the check's to refuse
        elif given is not None and tighter(given, limit) == given:
            continue  # the schema's own bound says it
        elif node.get(flag) is True:
            exact = False
        elif not _grammar_takes(limit, integers):
            # int64's -2^63: decoding bounds a number above -10^16 (digits.DigitLimit), inside it
            exact = exact and closing and given is None and not {"enum", "const"} & node.keys()
        else:
            node[key] = limit
    return exact


def finite_number(value: Any) -> bool:
    """A JSON number (not a bool, NaN or an infinity); an int is never converted, which past a
    double's range would raise."""
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _grammar_takes(limit: int, integers: bool) -> bool:
    """Whether llguidance builds a range to ``limit`` exactly. It reads a lower bound as a double
    and refuses one at or below -2^63; an integer's upper bound past 2^63 - 1 it takes as 2^63 - 1
    (see _wide_bounds); a number that may have a fraction it refuses at or past 2^63."""
    return -(2.0**63) < float(limit) and (limit <= _I64_MAX if integers else float(limit) < 2.0**63)


# llguidance 1.9 crashes the whole process (a stack overflow, no exception) on a number it reads as
# -2^63 or less where it builds an integer range: a const or enum value under "type": "integer" (or
# any integer -2^63 .. -2^63 + 512, which a double rounds to -2^63), a range of one such value.
# No such number reaches it: a negative literal of 19 or more digits, or with an exponent.
# (The look-behind is read in Python at a match: in the pattern it ran at every character of the
# text, 64 µs a slice schema against 7.)
_BIG_NEGATIVE = re.compile(r"-(?:\d{19,}(?:\.\d+)?(?:[eE][+-]?\d+)?|\d+(?:\.\d+)?[eE]\+?\d+)")


def crashes_llguidance(text: str) -> str | None:
    """The first number written in ``text`` (a schema's or a grammar's) that llguidance may crash
    on, or None."""
    for m in _BIG_NEGATIVE.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        if before.isalnum() or before in "_.":  # part of a word or of another number (\w or .)
            continue
        literal = m.group()
        if _at_or_below_i64_min(int(literal) if literal.lstrip("-").isdigit() else float(literal)):
            return literal
    return None


# What JSON has no number for (Python writes NaN and Infinity; an integer past a double's range),
# which llguidance cannot parse in a grammar at all
_NAN_OR_INFINITY = re.compile(r'(?<![\w"])(?:NaN|-?Infinity)(?![\w"])')
_PAST_A_DOUBLE = re.compile(r"\d{309}")


def _unreadable_text(text: str) -> bool:
    # the words looked for first: the look-behind read at every character cost 196 µs a slice schema
    if ("NaN" in text or "Infinity" in text) and _NAN_OR_INFINITY.search(text):
        return True
    return _PAST_A_DOUBLE.search(text) is not None


def _unreadable(value: Any) -> bool:
    if type(value) is float:
        return not math.isfinite(value)
    if type(value) is int:
        return abs(value) >= 10**308
    if type(value) is list:
        return any(_unreadable(v) for v in value)
    if type(value) is dict:
        return any(_unreadable(v) for v in value.values())
    return False


def _drop_values(
    schema: dict[str, Any], dropped: set[str], bad: Callable[[Any], bool], keywords: Collection[str]
) -> None:
    """Every value ``bad`` holds of a node's keywords and words (not its subschemas) out of the
    grammar: a bound, const, enum or multipleOf to the check (the grammar then takes any value
    there: a superset); an annotation (``default``, ``examples``, ``x-...``), which decoding never
    reads, silently."""
    for node in walk(schema):
        for key in [k for k, v in node.items() if HOLDS.get(k) is None and bad(v)]:
            del node[key]
            if key in BOUNDS:
                dropped.add("minimum/maximum")
            elif key in keywords:
                dropped.add(key)


_I64_MAX = 2**63 - 1
_WIDE_BOUND = re.compile(r'(?:aximum|inimum)": ?(?:-?\d{19}|-?[\d.]+[eE])')  # may pass ±2^63


def _at_or_below_i64_min(value: float) -> bool:
    """Whether llguidance, reading ``value`` as a double, gets -2^63 or less (an int never converted:
    past a double's range that would raise)."""
    return value <= -(2**63) + 512 if type(value) is int else value <= -(2.0**63)


def _wide_bounds(schema: dict[str, Any], dropped: set[str]) -> None:
    """A bound past 2^63 - 1, or at or below -2^63, left to the check: llguidance took an integer's
    upper bound past 2^63 - 1 as 2^63 - 1 (valid integers above it were refused, silently), crashes
    on an integer range of one value at or below -2^63, and refuses the others."""
    for node in walk(schema):
        for key in BOUNDS:
            value = node.get(key)
            if type(value) in (int, float) and (value > _I64_MAX or _at_or_below_i64_min(value)):
                del node[key]
                dropped.add("minimum/maximum")


# llguidance reads a string's length bounds as a regex repetition count (a u32: 2^32 and past are a
# parse error) and an array's or object's counts as a u64; past them the whole schema fell to any
# JSON. No answer holds 4 billion characters, items or members, so a larger count is read as that:
# a minimum so lowered takes a superset (the check enforces it); a maximum so lowered refuses only
# values no model writes.
MAX_COUNT = 2**32 - 1
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_HUGE_COUNT = re.compile(r'(?:Length|Items|Properties)": ?\d{10}')


def _huge_counts(schema: dict[str, Any], dropped: set[str]) -> None:
    for node in walk(schema):
        for key in _COUNTS:
            value = node.get(key)
            if type(value) is int and value > MAX_COUNT:
                node[key] = MAX_COUNT
                if key.startswith("min"):
                    dropped.add("minProperties/maxProperties" if key == "minProperties" else key)


def keep_numbers_from_llguidance(
    schema: dict[str, Any], text: str, dropped: set[str], keywords: Collection[str]
) -> None:
    """Every bound, ``const``, ``enum`` or annotation llguidance would misread, refuse or crash on
    out of ``schema`` (in place; ``text`` is its JSON, to skip the walks nearly every schema needs
    none of); what a check must then enforce named in ``dropped`` (the ``keywords`` it knows)."""
    if _WIDE_BOUND.search(text):
        _wide_bounds(schema, dropped)
    if _HUGE_COUNT.search(text):
        _huge_counts(schema, dropped)
    if crashes_llguidance(text):
        _drop_values(schema, dropped, lambda value: crashes_llguidance(json.dumps(value)) is not None, keywords)
    if _unreadable_text(text):
        _drop_values(schema, dropped, _unreadable, keywords)


def number_over(value: Any, bound: int) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > bound


# llguidance decodes `multipleOf` with an automaton over the number's digits, a state per
# remainder: for a step of 1,000,003 the matcher took 7 s and 330 MB to build, for 2^31 minutes and
# gigabytes (a request could stall a server). A step with more significant digits goes to the check.
MAX_MULTIPLE_DIGITS = 10_000
_MULTIPLES = range(-12, 13)  # the multiples of a step tried on llguidance's reading of it


def _step_digits(step: float) -> int:
    """A step's significant digits as an integer: 0.05 -> 5, 2.5 -> 25, 2^31 -> 2147483648."""
    digits = decimal.Decimal(repr(step)).normalize().as_tuple().digits
    return int("".join(map(str, digits)) or 0)


@functools.lru_cache(maxsize=256)
def _reads_multiples(step: str, integer: bool) -> bool:
    """Whether llguidance's grammar for ``multipleOf: step`` takes each multiple tried, as Python
    writes it. It does not always (llguidance 1.9: 0.25's 0.5, 0.13's 1.3, every multiple of 0.0007
    or 0.011, and no value at all, 0 included, for steps of 5e8 or more or 1e-11 or less)."""
    from llguidance import LLMatcher

    tokenizer = byte_tokenizer()
    kind = "integer" if integer else "number"
    grammar = f'{{"grammars":[{{"name":"m","json_schema":{{"type":"{kind}","multipleOf":{step}}}}}]}}'
    try:
        built = LLMatcher(tokenizer, grammar, log_level=0, limits=matcher_limits())
    except BaseException as exc:
        panic_message(exc)
        return False
    if built.is_error():
        return False
    exact = decimal.Decimal(step)
    for k in _MULTIPLES:
        text = format((exact * k).normalize(), "f") if k else "0"
        matcher = built.deep_copy()
        if not (matcher.consume_tokens(tokenizer.tokenize_str(text)) and matcher.is_accepting()):
            return False
    return True


def _step_read(step: float, text: str) -> bool:
    """Whether llguidance builds ``multipleOf: step`` (written ``text``) quickly and reads it right."""
    return _step_digits(step) <= MAX_MULTIPLE_DIGITS and _reads_multiples(text, False)


def misread_multiples(schema: dict[str, Any], dropped: set[str]) -> None:
    """A ``multipleOf`` llguidance would build slowly, read wrong or refuse (more digits than it
    reads: 2^53, 1e-15) goes to the check (the grammar then takes any number there: a superset)."""
    for node in walk(schema):
        step = node.get("multipleOf")
        if not finite_number(step) or step <= 0:
            continue  # not a step (the check says so) or nothing llguidance is asked to build
        text = json.dumps(step)
        integral = type(step) is int or step.is_integer()
        if not _step_read(step, text) or (integral and not _reads_multiples(text, True)):
            del node["multipleOf"]
            dropped.add("multipleOf")


_STEP_TEXT = re.compile(r'"multipleOf" ?: ?(\d[\d.eE+-]*)')


def crash_message(grammar: str) -> str | None:
    """Why ``grammar`` must not reach llguidance, or None: a number it would crash the process on, or
    a ``multipleOf`` it would build for minutes or misread (a Lark grammar's ``%json``, a tool's
    schema; a relaxed schema's grammar holds neither)."""
    value = crashes_llguidance(grammar)
    if value is not None:
        return (
            f"the number {value} (-2^63 or less as llguidance reads it) would crash llguidance 1.9; "
            "write it as a string or leave it out"
        )
    for m in _STEP_TEXT.finditer(grammar) if '"multipleOf"' in grammar else ():
        step = json.loads(m[1])
        if finite_number(step) and step > 0 and not _step_read(step, m[1]):
            return (
                f"llguidance cannot decode multipleOf {m[1]} (too slow to build, or misread); "
                "leave it to a check of the answer"
            )
    return None
