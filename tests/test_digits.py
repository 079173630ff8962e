"""digits.py: a JSON number's digits bounded while decoding, on a vocabulary of single bytes (and a
few tokens of several digits, or a point and digits, as other tokenizers have)."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen.runtime.digits import (
    FRACTION_DIGITS,
    INTEGER_DIGITS,
    WIDEST,
    DigitLimit,
    DigitTable,
    Widths,
    in_reach,
    widths,
)

BYTES = [bytes([i]) for i in range(256)]
EXTRA = [b"123", b".25", b".12345678901", b"5e", b"e+", b"else", b"</think>"]
TABLE = DigitTable(BYTES + EXTRA)
ID = {raw: i for i, raw in enumerate(BYTES + EXTRA)}


def _ids(text: str) -> list[int]:
    return list(text.encode())


def _banned(limit: DigitLimit, allowed: list[bytes] | None = None) -> set[bytes]:
    """The tokens the limit bans now, with ``allowed`` (default: every token) allowed by the grammar."""
    logits = np.full(len(BYTES + EXTRA), -np.inf, dtype=np.float32)
    for raw in allowed if allowed is not None else BYTES + EXTRA:
        logits[ID[raw]] = 0.0
    out = limit(logits.copy())  # masked in place
    return {raw for raw in BYTES + EXTRA if np.isfinite(logits[ID[raw]]) and not np.isfinite(out[ID[raw]])}


def _after(text: str, after: bytes | None = None) -> DigitLimit:
    limit = DigitLimit(TABLE, after=after)
    limit.feed(_ids(text))
    return limit


def test_an_integer_part_stops_at_its_digits():
    exponents = {b"e", b"E", b"5e", b"e+", b"else"}
    assert _banned(_after('{"n":' + "9" * (INTEGER_DIGITS - 1))) == {b"123", b".12345678901", *exponents}
    full = _banned(_after('{"n":-' + "9" * INTEGER_DIGITS))
    assert {bytes([d]) for d in b"0123456789"} <= full and b"." not in full and b".25" not in full
    assert _banned(_after("[" + "1" * (INTEGER_DIGITS - 3))) == {b".12345678901", *exponents}  # "123" fits


def test_a_fraction_stops_at_its_digits_and_no_exponent_starts():
    limit = _after("[1." + "0" * (FRACTION_DIGITS - 2))
    assert _banned(limit) == {b"123", b"e", b"E", b"5e", b"e+", b"else"}  # ".25" is no JSON after a point
    limit.feed(_ids("00"))
    assert {bytes([d]) for d in b"0123456789"} <= _banned(limit)
    point = _after("[" + "1" * INTEGER_DIGITS)  # a point and its decimals in one token
    assert b".25" not in _banned(point) and b".12345678901" in _banned(point)


def test_nothing_is_held_in_a_string_a_key_or_between_values():
    digits = "1" * (INTEGER_DIGITS + 5)
    assert _banned(_after('{"' + digits)) == set()  # a key
    assert _banned(_after('["a\\"' + digits)) == set()  # an escaped quote: still in the string
    assert _banned(_after('["a\\\\"' + "," + digits))  # an escaped backslash: the string ended
    assert _banned(_after("[" + digits + ",")) == set()
    assert _banned(_after('["' + digits + '",true')) == set()


def test_the_last_allowed_token_is_never_taken_away():
    # a schema's own minimum of 10^20: the grammar allows only digits here, and wins
    limit = _after("9" * INTEGER_DIGITS)
    only_digits = [bytes([d]) for d in b"0123456789"]
    assert _banned(limit, only_digits) == set()
    assert _banned(limit, [*only_digits, b"}"]) == set(only_digits)


def test_a_think_block_is_not_json():
    limit = _after("<think>" + "1" * 40, after=b"</think>")
    assert _banned(limit) == set()
    limit.feed(_ids("</thi"))
    limit.feed(_ids("nk>\n" + "1" * INTEGER_DIGITS))  # the marker across two tokens
    assert b"1" in _banned(limit)
    special = _after("<think>123", after=b"</think>")
    special.feed([ID[b"</think>"]])  # a special token whose bytes the table says as the marker
    special.feed(_ids("1" * INTEGER_DIGITS))
    assert b"1" in _banned(special)
    special.reset()
    assert _banned(special) == set()


NUMBERS = st.one_of(
    st.integers(min_value=-(10**INTEGER_DIGITS) + 1, max_value=10**INTEGER_DIGITS - 1),
    st.decimals(min_value=-(10**15), max_value=10**15, places=FRACTION_DIGITS, allow_nan=False).map(
        lambda d: json.loads(str(d))
    ),
)
VALUES = st.recursive(
    st.one_of(NUMBERS, st.text(max_size=30), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)


def _written(value) -> str:
    """Compact JSON with each number written out as a model under the bound writes it: no exponent."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _written(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_written(v) for v in value) + "]"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return json.dumps(value, ensure_ascii=False)


@settings(max_examples=150, deadline=None)
@given(VALUES)
def test_every_value_in_reach_is_written_without_a_ban(value):
    assert in_reach(value)
    text = _written(value)
    limit = DigitLimit(TABLE)
    for b in text.encode():
        assert bytes([b]) not in _banned(limit), text
        limit.feed([b])


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=10**INTEGER_DIGITS, max_value=10**30), st.booleans())
def test_an_integer_past_the_bound_is_cut(number, negative):
    value = [-number if negative else number]
    assert not in_reach(value)
    limit, text = DigitLimit(TABLE), json.dumps(value)
    held = False
    for b in text.encode():
        held = held or bytes([b]) in _banned(limit)
        limit.feed([b])
    assert held


@pytest.mark.parametrize(
    ("value", "reach"),
    [
        (10**16 - 1, True),
        (-(10**16), False),
        (1e-05, True),  # written 0.00001
        (1e-11, False),
        (0.1 + 0.2, False),  # 0.30000000000000004: 17 decimals
        (1.5, True),
        (float(2**53), True),
        (1e16, False),
        ({"a": [1, {"b": 2.5e-10}]}, False),
        ({"a": [1, {"b": "1" * 40}]}, True),
        (True, True),
    ],
)
def test_in_reach(value, reach):
    assert in_reach(value) is reach


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ('{"type": "number"}', (INTEGER_DIGITS, FRACTION_DIGITS)),
        ('{"maximum": 1e20, "multipleOf": 1e-18}', (21, 18)),
        ('{"exclusiveMinimum": -123456789012345678901234, "minimum": 0.5}', (24, FRACTION_DIGITS)),
        ('{"exclusiveMaximum": 2.5e-12}', (INTEGER_DIGITS, 13)),
        ('{"multipleOf": 100000000000000000000.000}', (21, FRACTION_DIGITS)),  # trailing zeros add no decimal
        ('{"properties": {"minimum": {"type": "integer"}}, "default": 5}', (INTEGER_DIGITS, FRACTION_DIGITS)),
        ('{"maximum": 1e99999999999999999999}', (WIDEST, WIDEST)),  # past what Decimal reads: the widest
        ('{"maximum": ' + "9" * 5000 + "}", (WIDEST, FRACTION_DIGITS)),
    ],
)
def test_a_schemas_own_bounds_widen_the_bound(text, bound):
    assert widths(text) == bound


def test_a_wider_bound_lets_a_number_have_its_digits():
    limit = DigitLimit(TABLE, Widths(21, 18))
    limit.feed(_ids("[" + "9" * INTEGER_DIGITS))
    assert b"1" not in _banned(limit) and b"e" in _banned(limit)
    limit.feed(_ids("9" * 5))
    assert b"1" in _banned(limit)
    limit.feed(_ids("." + "0" * 17))
    assert b"1" not in _banned(limit) and b"123" in _banned(limit)
    assert in_reach([10**20], Widths(21, 18)) and not in_reach([10**20])
    assert in_reach([1e-18], Widths(21, 18)) and not in_reach([1e-18])
