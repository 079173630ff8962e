"""JSON Schema patterns: how the check reads them, and the nearest one llguidance can decode with.

The check reads a pattern with the ``regex`` module (:func:`ecma_pattern`). llguidance's regex
engine has no assertions but a leading or trailing anchor, so a pattern with a look-around, a word
boundary or Python's ``\\Z`` was dropped from the grammar whole and left to the check, and a model
then wrote any string where an id was asked for. :func:`loosened_pattern` removes only the
assertions: every string the pattern matches still matches (an assertion only ever takes matches
away), so the grammar stays a superset and the check after holds the rest.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from typing import Any

import regex

from ..errors import GrammarError
from .kept import Kept

__all__ = [
    "MAX_REGEX_SIZE",
    "SEARCH_TIMEOUT_S",
    "astral_escapes",
    "ecma_classes",
    "ecma_pattern",
    "lark_too_large",
    "loosened_patterns",
    "nested_too_deeply",
    "regex_size",
    "small_counts",
    "too_large",
]

# How long one search of a pattern someone gave (a schema's, a regex format's, a policy's topic) may
# run on text someone gave. Python's engines backtrack: "(a|aa)+b" on 60 a's runs for hours. Each
# caller says what a search cut short means; a real pattern takes microseconds, a Pi ten times that.
SEARCH_TIMEOUT_S = 1.0

# a high and a low surrogate written as two \\u escapes, not after an escaped backslash
_SURROGATE_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")
_QUANTIFIER = re.compile(r"(?:[*+?]|\{\d+(?:,\d*)?\})[?+]?")
_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")


def astral_escapes(pattern: str) -> str:
    """``pattern`` with each UTF-16 surrogate pair written as ``\\uD800\\uDC00`` as the one character
    ECMA-262 (JSON Schema's regex dialect) reads it as, ``\\U00010000``: Python's ``regex`` and
    llguidance read two lone surrogates, so XML's "any character" class ``[...\\uD800\\uDC00-\\uDBFF\\uDFFF]``
    (AWS CloudFormation's schemas) was a bad range to both."""
    if "\\u" not in pattern:
        return pattern

    def one(m: re.Match[str]) -> str:
        high, low = int(m[2], 16), int(m[3], 16)
        return f"{m[1]}\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    return _SURROGATE_PAIR.sub(one, pattern)


# ECMA-262's classes (JSON Schema's regex dialect): \d and \w are ASCII, \s is its WhiteSpace and
# LineTerminator set. Python's ``regex`` reads \d and \w as Unicode ("߀" a digit, "é" a word
# character) and, like llguidance, \s as Unicode's White_Space (U+0085 in, U+FEFF out).
_ECMA_WHITESPACE = r"\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ECMA_CLASSES = {"d": "0-9", "w": "A-Za-z0-9_", "s": _ECMA_WHITESPACE}


def ecma_classes(pattern: str, dollar: str = "$") -> str:
    """``pattern`` with ``\\d``, ``\\w``, ``\\s`` and their negations written as the sets ECMA-262
    means by them, and ``\\cX`` as the control character it names, which both the check's ``regex``
    and llguidance read alike. Inside a set a negated class (``[\\D]``) has no such spelling and is
    kept. ``dollar``: what a ``$`` outside a
    set becomes (the check's ``\\Z``: Python's ``$`` also matches before a final newline, ECMA's
    only at the end)."""
    if "\\" not in pattern and (dollar == "$" or "$" not in pattern):
        return pattern
    out: list[str] = []
    i, n, in_set = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            if e.lower() in _ECMA_CLASSES and (not in_set or e.islower()):
                members = _ECMA_CLASSES[e.lower()]
                out.append(members if in_set else f"[{'^' if e.isupper() else ''}{members}]")
            elif e == "c" and i + 2 < n and pattern[i + 2].isascii() and pattern[i + 2].isalpha():
                out.append(f"\\x{ord(pattern[i + 2]) % 32:02x}")  # a control character: \cJ is \n
                i += 1
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_set:
            in_set = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a "]" first in a set is a member
                out.append("]")
                i += 1
            continue
        if c == "]" and in_set:
            in_set = False
        out.append(dollar if c == "$" and not in_set else c)
        i += 1
    return "".join(out)


# The check reads the same patterns for every answer: they are kept compiled, the most recently
# used first, up to 1,024 patterns and 200,000 pieces in all (regex_size). A pattern of 10,000
# pieces is 1.4 MB compiled: 1,024 of them, the bound by count alone before, were 1.4 GB a server
# could be made to hold by as many schemas.
_kept: Kept[str, regex.Pattern[str]] = Kept(1024, 200_000)


def ecma_pattern(pattern: str) -> regex.Pattern[str]:
    """A JSON Schema pattern as the check reads it (and ``format: regex``): with the ``regex`` module,
    which knows ``\\p{L}`` and the other Unicode property classes Python's ``re`` refuses, surrogate
    pairs as one character, and ECMA-262's ``\\d``, ``\\w``, ``\\s`` and ``$``. ``regex.error`` where it
    cannot."""
    hit = _kept.get(pattern)
    if hit is not None:
        return hit
    # not in the regex module's own cache too (500 patterns, whatever their size)
    compiled = regex.compile(ecma_classes(astral_escapes(pattern), dollar=r"\Z"), cache_pattern=False)
    _kept.put(pattern, compiled, max(regex_size(pattern), 1))
    return compiled


def loosened_patterns(pattern: str) -> Iterator[str]:
    """Patterns that match every string ``pattern`` matches, tightest first: without its
    look-arounds, word boundaries (``\\b``, ``\\B``) and with ``\\Z`` as ``\\z`` (the same end of
    text); then also without any anchor that is not the pattern's first or last character
    (``"^arn:...$"`` quoted, an anchor inside a group). Nothing where a backreference or a broken
    group is in the way, or where there was no assertion to remove."""
    first = _without_assertions(pattern, anchors=False)
    if first is None:
        return
    if first != pattern:
        yield first
    second = _without_assertions(pattern, anchors=True)
    if second is not None and second not in (first, pattern):
        yield second


def _without_assertions(pattern: str, anchors: bool) -> str | None:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            escaped = pattern[i + 1]
            if escaped in "bB":
                i = _after_quantifier(pattern, i + 2)  # an assertion repeated is still the assertion
            elif escaped in "Zz" and anchors and i + 2 < n:
                i = _after_quantifier(pattern, i + 2)
            elif escaped in "Zz":
                out.append("\\z")
                i += 2
            elif escaped == "A" and anchors and i > 0:
                i = _after_quantifier(pattern, i + 2)
            elif escaped in "123456789":
                return None  # a backreference: no regular superset written here
            else:
                out.append(pattern[i : i + 2])
                i += 2
        elif c == "[":
            end = _class_end(pattern, i)
            if end is None:
                return None
            out.append(pattern[i:end])
            i = end
        elif pattern.startswith(_LOOKAROUNDS, i):
            end = _group_end(pattern, i)
            if end is None:
                return None
            i = _after_quantifier(pattern, end)
        elif anchors and ((c == "^" and i > 0) or (c == "$" and i < n - 1)):
            i = _after_quantifier(pattern, i + 1)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _after_quantifier(pattern: str, i: int) -> int:
    found = _QUANTIFIER.match(pattern, i)
    return found.end() if found else i


def _class_end(pattern: str, i: int) -> int | None:
    """The index after the character class opening at ``i`` (a ``]`` first in it is a member)."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):
        j += 1
    while j < len(pattern):
        if pattern[j] == "\\":
            j += 2
        elif pattern[j] == "]":
            return j + 1
        else:
            j += 1
    return None


def _group_end(pattern: str, i: int) -> int | None:
    """The index after the group opening at ``i``."""
    depth, j = 0, i
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            end = _class_end(pattern, j)
            if end is None:
                return None
            j = end
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return None


# -- size ---------------------------------------------------------------------------------------
# llguidance, and the ``regex`` module the check reads patterns with, build a counted repetition
# piece by piece: "a{1000000}" is a million pieces (250-400 bytes each), where "a{0,1000000}" costs
# what "a*" does. A JSON Schema's "pattern": "a{99999999}" took 25 GB and the server with it. Of
# 8,429 real patterns (JSONSchemaBench's 1,120 schemas, SchemaStore's 677) the counts add at most
# 424 pieces to the pattern's own length.
MAX_REGEX_SIZE = 10_000
_REPEATS = frozenset(("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"))
_PROPERTY_CLASS = re.compile(r"\\[pP](?:\{[^}]*\}|[A-Za-z])")  # \p{L}: Python's re reads none
_COUNT = re.compile(r"\{\s*(\d+)\s*(?:,\s*\d*\s*)?\}")
_COUNTS = re.compile(r"\{(\d+)(?:(,)(\d*))?\}")


def _parsed_size(items: Any) -> int:
    total = 0
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            low, _high, item = arg
            total += max(low, 1) * _parsed_size(item)
        elif name == "BRANCH":
            total += sum(_parsed_size(branch) for branch in arg[1])
        elif name == "SUBPATTERN":
            total += _parsed_size(arg[-1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            total += _parsed_size(arg[1])
        elif name == "ATOMIC_GROUP":
            total += _parsed_size(arg)
        elif name == "GROUPREF_EXISTS":
            total += _parsed_size(arg[1]) + (_parsed_size(arg[2]) if arg[2] else 0)
        else:  # a character, a set, an anchor
            total += 1
    return total


def regex_size(pattern: str) -> int:  # not cached: read in microseconds, and a key could be 1 MB
    """About how many pieces llguidance builds for ``pattern``: each part once per repetition its
    counts require (alternatives added, nested counts multiplied). Where Python cannot read the
    pattern, each count is taken as if it held the whole pattern (never less than the truth)."""
    try:
        from re import _parser as sre_parse  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse  # type: ignore[no-redef]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Possible nested set": a reading, not an error
            return _parsed_size(sre_parse.parse(_PROPERTY_CLASS.sub(".", pattern)))
    except Exception:  # re.error, OverflowError, RecursionError: syntax of llguidance's own
        return _unread_size(pattern)


def _unread_size(pattern: str) -> int:
    """:func:`regex_size` of a pattern no parser here reads: each count as if it held the whole."""
    return len(pattern) * math.prod(max(int(count), 1) for count in _COUNT.findall(pattern))


def too_large(pattern: str, what: str) -> str | None:
    """Why ``pattern`` is too large for llguidance to build, or None: its counts add more than
    ``MAX_REGEX_SIZE`` pieces to its own length (a long list of alternatives costs what its text does)."""
    size = regex_size(pattern)
    if size <= len(pattern) + MAX_REGEX_SIZE:
        return None
    shown = pattern if len(pattern) <= 80 else pattern[:77] + "..."
    return (
        f"{what} {shown!r} is too large to build: its counts ask for about {size:,} pieces, and at most "
        f"{MAX_REGEX_SIZE:,} more than its length are built (a count such as {{1000}} is built piece by piece, "
        "in memory); lower the counts, or write * or + and check the length yourself"
    )


def nested_too_deeply(pattern: str, what: str) -> GrammarError:
    """The refusal of a pattern whose groups nest past the parsers' recursion (a RecursionError)."""
    return GrammarError(
        f"{what} {pattern[:80]!r}... nests its groups too deeply to read; write it with fewer nested groups."
    )


def small_counts(pattern: str) -> str:
    """``pattern`` with each count at most 1 (a count above its bound stays above it), to read its
    syntax without building it: ``a{99999999}`` is a regex, and the ``regex`` module would build it."""

    def one(m: re.Match[str]) -> str:
        low = min(int(m[1]), 1)
        if not m[2]:
            return f"{{{low}}}"
        if not m[3]:
            return f"{{{low},}}"
        return f"{{{low},{min(int(m[3]), 1) if int(m[3]) >= int(m[1]) else 0}}}"

    return _COUNTS.sub(one, pattern)


# A Lark grammar's tokens: a comment, a string, a regex (/.../flags), a count ({n}, {n,m}, ~ n,
# ~ n..m; their lower bound a group of its own), a name (a priority after it skipped)
_LARK_TOKEN = re.compile(
    r'(?P<comment>//[^\n]*)|(?P<string>"(?:[^"\\\n]|\\.)*"i?)|(?P<regex>/(?P<body>(?:[^/\\\n]|\\.)+)/[imslux]*)'
    r"|\{\s*(?P<low>\d+)\s*(?:,\s*\d*\s*)?\}|~\s*(?P<tilde_low>\d+)(?:\s*\.\.\s*\d+)?"
    r"|(?P<name>[A-Za-z_]\w*)(?:\.-?\d+)?|(?P<newline>\n)|[^\s]"
)


def _lark_count(m: re.Match[str]) -> int | None:
    """A count token's lower bound ({n}, {n,m}, ~ n, ~ n..m), or None for any other token."""
    low = m["low"] or m["tilde_low"]
    return int(low) if low else None


def _lark_terminals(grammar: str) -> dict[str, list[re.Match[str]]]:
    """Each terminal's definition (an upper-case name at a line's start, then ``:``) as its tokens."""
    tokens = [m for m in _LARK_TOKEN.finditer(grammar) if not m["comment"]]
    defined: dict[str, list[re.Match[str]]] = {}
    body: list[re.Match[str]] | None = None
    for i, m in enumerate(tokens):
        starts = (i == 0 or tokens[i - 1]["newline"]) and i + 1 < len(tokens) and tokens[i + 1][0] == ":"
        if starts and m["name"]:
            body = defined.setdefault(m["name"], []) if m["name"].isupper() else None
        elif starts or (m[0] == "%" and (i == 0 or tokens[i - 1]["newline"])):
            body = None
        elif body is not None and not m["newline"] and not (body == [] and m[0] == ":"):
            body.append(m)
    return defined


def _lark_sizes(defined: dict[str, list[re.Match[str]]]) -> dict[str, int]:
    """Each terminal's pieces (:func:`_lark_size`), the terminals it names first: iterative, as a
    chain of terminals may be thousands long; one that names itself (Lark refuses it) counts 1 there."""
    sizes: dict[str, int] = {}
    for root in defined:
        stack, path = [root], {root}
        while stack:
            name = stack[-1]
            if name in sizes:
                stack.pop()
                continue
            named = (m["name"] for m in defined[name] if m["name"] in defined)
            pending = next((n for n in named if n not in sizes and n not in path), None)
            if pending is not None:
                stack.append(pending)
                path.add(pending)
                continue
            sizes[name] = _lark_size(defined[name], sizes)
            path.discard(stack.pop())
    return sizes


def _lark_size(tokens: list[re.Match[str]], sizes: dict[str, int]) -> int:
    """The pieces a terminal's tokens build: alternatives and sequences added, a count's lower
    bound multiplying what it repeats (``{0,N}`` costs what ``*`` does), a terminal named inside
    another built again where it stands (its size in ``sizes``)."""
    stack: list[list[int]] = [[0, 0]]  # per open group: the alternatives' sum, the sequence so far
    last = 0  # the size of the item just read, which a count multiplies
    for m in tokens:
        if m[0] in "([":
            stack.append([0, 0])
            last = 0
            continue
        if m[0] in ")]" and len(stack) > 1:
            done, seq = stack.pop()
            last = done + seq
            stack[-1][1] += last
            continue
        if m[0] == "|":
            stack[-1][0] += stack[-1][1]
            stack[-1][1] = last = 0
            continue
        if (count := _lark_count(m)) is not None:
            times = max(count, 1)
            stack[-1][1] += last * (times - 1)
            last *= times
            continue
        if m["string"]:
            last = max(len(m[0]) - 2 - m[0].endswith("i"), 1)
        elif m["regex"]:
            last = regex_size(m["body"])
        else:
            last = sizes.get(m["name"], 1) if m["name"] else 1
        stack[-1][1] += last
    while len(stack) > 1:  # an unclosed group: llguidance refuses the grammar itself
        done, seq = stack.pop()
        stack[-1][1] += done + seq
    return sum(stack[0])


def lark_too_large(grammar: str) -> str | None:
    """Why a Lark grammar is too large for llguidance to build, or None: a regex terminal as
    :func:`too_large` reads it, a rule or terminal repeated more than ``MAX_REGEX_SIZE`` times
    (``"a"{1000000}``), or a terminal whose counts, through the terminals it names, build more
    than that beyond the grammar's length (``A: B{1000}`` and ``B: "a"{1000}``: 0.5 GB, 1.6 s).
    A rule's counts through other rules are not followed: the parser does not build them out."""
    for m in _LARK_TOKEN.finditer(grammar):
        if m["regex"] and (why := too_large(m["body"], "The Lark grammar's regex")) is not None:
            return why
        if (times := _lark_count(m)) is not None and times > MAX_REGEX_SIZE:
            return (
                f"The Lark grammar repeats a part {times:,} times ({m[0]}), more than the {MAX_REGEX_SIZE:,} "
                "the grammar engine builds (a count is built piece by piece, in memory); lower the count, "
                "or write * or + and check the length yourself"
            )
    defined = _lark_terminals(grammar)
    sizes = _lark_sizes(defined)
    for name in defined:  # in the grammar's order
        if (size := sizes[name]) > len(grammar) + MAX_REGEX_SIZE:
            return (
                f"The Lark grammar's terminal {name} is too large to build: its counts, through the terminals it "
                f"names, ask for about {size:,} pieces, and at most {MAX_REGEX_SIZE:,} more than the grammar's "
                "length are built (a terminal is built out in full, in memory); lower the counts, or make the "
                "repeated part a rule (lower-case name)"
            )
    return None
