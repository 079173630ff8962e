"""A JSON number's digits bounded while decoding, beside the grammar rather than in it.

A looping model writes digits until ``max_tokens``, and an answer cut there is no JSON; every
number a JSON answer holds is therefore kept to ``INTEGER_DIGITS`` digits before the point (below
10^16: every integer a double holds exactly, up to 2^53 - 1, is in reach), at most
``FRACTION_DIGITS`` after it, and no exponent. Said in the grammar (a range and a step on every
number), that bound cost llguidance about 0.45 ms a new schema to build, most of the gap between
a schema's grammar as decoded and the schema as given (docs/structured-output.md); said here it
costs nothing to build and a scan of each new token's bytes to keep. A schema's own bounds widen it
(:func:`widths`: ``maximum: 1e20`` allows 21 digits, ``multipleOf: 1e-18`` 18 decimals), as the
grammar's bound was added only where the schema set none.

:class:`DigitTable` holds what a vocabulary's tokens do to a number (once per grammar engine);
:class:`DigitLimit` follows one answer's JSON text (outside or inside a string, the digits of the
number being written) and says which tokens would take that number past the bound. It never takes
the last allowed token away: where the grammar allows only digits (a schema's own ``minimum:
1e20``), the schema's bound wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "BOUND",
    "FRACTION_DIGITS",
    "INTEGER_DIGITS",
    "DigitLimit",
    "DigitTable",
    "Widths",
    "in_reach",
    "widths",
]

INTEGER_DIGITS = 16
FRACTION_DIGITS = 10
WIDEST = 400  # digits on either side a schema's own bounds may widen it to (a double's range: 309)

_DIGITS = frozenset(b"0123456789")
# what a token does to the number it continues: its leading digits, then a point and the digits
# after it, then whether an exponent starts
_CONTINUES = re.compile(rb"([0-9]*)(?:(\.)([0-9]*))?([eE])?")
_OUT, _INTEGER, _FRACTION = 0, 1, 2
# a number a schema's keyword bounds values with (the keys as JSON writes them, in a grammar's text too)
_BOUNDS = re.compile(r'"(?:(?:exclusiveM|m)(?:inimum|aximum)|multipleOf)": ?(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)')


class Widths(NamedTuple):
    """Digits a number may have before and after its point."""

    integer: int = INTEGER_DIGITS
    fraction: int = FRACTION_DIGITS


BOUND = Widths()  # where a schema writes no wider bound of its own


def widths(text: str) -> Widths:
    """The bound for answers to a schema or grammar written in ``text``: the default, widened to the
    digits of each ``minimum`` / ``maximum`` (exclusive or not) and ``multipleOf`` it writes."""
    integer, fraction = INTEGER_DIGITS, FRACTION_DIGITS
    for m in _BOUNDS.finditer(text):
        try:
            whole, part = _digits(Decimal(m.group(1)))
        except ArithmeticError:  # an exponent past what Decimal reads: as wide as the bound goes
            whole = part = WIDEST
        integer, fraction = max(integer, whole), max(fraction, part)
    return Widths(min(integer, WIDEST), min(fraction, WIDEST))


def _digits(value: Decimal) -> tuple[int, int]:
    """The digits ``value`` has before and after its point, written out without an exponent (read
    from the exponent: writing 1e999999 out would take a million characters)."""
    _sign, digits, exponent = value.as_tuple()
    if not any(digits) or not isinstance(exponent, int):
        return 0, 0
    exponent += len(digits) - len("".join(map(str, digits)).rstrip("0"))  # trailing zeros
    return max(0, value.adjusted() + 1), max(0, -exponent)


class DigitTable:
    """Per vocabulary: for every token that can continue a number (its first byte a digit, ``.``,
    ``e`` or ``E``) its leading digits, the digits after a point it holds, and whether it starts an
    exponent; and each token's bytes, for the scan."""

    def __init__(self, token_bytes: Sequence[bytes]) -> None:
        self.token_bytes = token_bytes
        ids, lead, point, after, exponent = [], [], [], [], []
        for t, raw in enumerate(token_bytes):
            if not raw or raw[0] not in b"0123456789.eE":
                continue
            m = _CONTINUES.match(raw)
            ids.append(t)
            lead.append(len(m.group(1)))
            point.append(m.group(2) is not None)
            after.append(len(m.group(3) or b""))
            exponent.append(m.group(4) is not None)
        self.ids = np.array(ids, dtype=np.int64)
        self.lead = np.array(lead, dtype=np.int64)
        self.point = np.array(point, dtype=bool)
        self.after = np.array(after, dtype=np.int64)
        self.exponent = np.array(exponent, dtype=bool)
        self._over: dict[tuple[int, int, Widths], np.ndarray] = {}

    def over(self, part: int, count: int, bound: Widths = BOUND) -> np.ndarray:
        """The ids that would take a number past ``bound``, its ``count`` digits so far in ``part``
        (``_INTEGER`` or ``_FRACTION``); kept, as a number has few such states."""
        key = (part, min(count, max(bound) + 1), bound)
        found = self._over.get(key)
        if found is None:
            if len(self._over) > 4096:  # states of many bounds (schemas' own): a server runs for long
                self._over.clear()
            count = key[1]
            if part == _INTEGER:
                past = (count + self.lead > bound.integer) | (self.point & (self.after > bound.fraction))
            else:  # a second point is no JSON: the grammar refuses it
                past = count + self.lead > bound.fraction
            found = self._over[key] = self.ids[past | self.exponent]
        return found


class DigitLimit:
    """One answer's scan: fed each token the answer takes, it bans (``__call__``) the tokens that
    would take the number being written past ``bound``. ``after``: the bytes the JSON follows
    (``</think>`` when a think block comes first); nothing is held before them."""

    def __init__(self, table: DigitTable, bound: Widths = BOUND, after: bytes | None = None) -> None:
        self.table = table
        self.bound = bound
        self._after = after
        self.reset()

    def reset(self) -> None:
        self._waiting = self._after is not None
        self._tail = b""
        self._string = self._escape = False
        self._part, self._count = _OUT, 0

    def feed(self, tokens: Iterable[int]) -> None:
        token_bytes = self.table.token_bytes
        for t in tokens:
            raw = token_bytes[t] if 0 <= t < len(token_bytes) else b""
            if self._waiting:
                tail = self._tail + raw
                at = tail.find(self._after)
                if at < 0:
                    self._tail = tail[-len(self._after) :]
                    continue
                self._waiting, raw = False, tail[at + len(self._after) :]
            self._scan(raw)

    def _scan(self, raw: bytes) -> None:
        string, escape, part, count = self._string, self._escape, self._part, self._count
        for b in raw:
            if string:
                if escape:
                    escape = False
                elif b == 0x5C:  # backslash
                    escape = True
                elif b == 0x22:
                    string = False
            elif b in _DIGITS:
                part, count = (part, count + 1) if part != _OUT else (_INTEGER, 1)
            elif b == 0x2D:  # a minus sign starts a number (an exponent's is never reached)
                part, count = _INTEGER, 0
            elif b == 0x2E and part == _INTEGER:
                part, count = _FRACTION, 0
            else:
                part, string = _OUT, b == 0x22
        self._string, self._escape, self._part, self._count = string, escape, part, count

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` (the grammar's mask applied; changed in place) with the tokens past the bound
        masked too, unless that would leave no token allowed."""
        if self._waiting or self._string or self._part == _OUT:
            return logits
        banned = self.table.over(self._part, self._count, self.bound)  # the table spans the logits
        was = logits[banned]
        if not banned.size or was.max() == -np.inf:
            return logits
        logits[banned] = -np.inf
        if logits.max() == -np.inf:  # nothing else was allowed: the grammar's own bound wins
            logits[banned] = was
        return logits


def in_reach(value: Any, bound: Widths = BOUND) -> bool:
    """Whether every number in ``value`` (a parsed JSON value) can be written within ``bound``:
    what :class:`DigitLimit` lets an answer hold."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, bool) or v is None or isinstance(v, str):
            continue
        elif isinstance(v, int):
            if _digits(Decimal(v))[0] > bound.integer:
                return False
        elif isinstance(v, float):
            if not math.isfinite(v):
                return False
            whole, part = _digits(Decimal(repr(v)))  # its shortest spelling, written out
            if whole > bound.integer or part > bound.fraction:
                return False
    return True
