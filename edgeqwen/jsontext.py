"""JSON from users, read with one limit on how deep it nests, the same on every Python.

Python 3.11's ``json.loads`` raised RecursionError about 1,000 levels down; 3.14's reads on to
its C stack's end (5,000 levels whole), and the code that then walks the value stops at the
recursion limit, a RecursionError (a 500) far from the input. :data:`MAX_JSON_DEPTH` is
edgeqwen's own limit instead, and deeper JSON the ``JSONDecodeError`` every caller handles.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "load_json", "nesting"]

# How deep JSON from a user (a body, a tool's spec or a call's arguments) may nest its objects and
# arrays: past it a 400, not a RecursionError in the code that walks the value. No real schema,
# tool or request here nests past 30.
MAX_JSON_DEPTH = 500


def load_json(text: str | bytes) -> Any:
    """``json.loads``, where a value nested deeper than :data:`MAX_JSON_DEPTH` is the
    JSONDecodeError every caller handles, on every Python (3.11's reader raised RecursionError near
    its recursion limit; 3.14's reads on, and the code that walks the value then stops at its
    recursion limit). Bytes are read as ``json.loads`` reads them (UTF-8, -16 or -32, a BOM allowed)."""
    try:
        value = json.loads(text)
    except RecursionError:
        pass
    else:
        # fewer openings than the limit cannot nest past it: most texts need no scan
        opened = text.count(b"[") + text.count(b"{") if isinstance(text, bytes) else text.count("[") + text.count("{")
        if opened <= MAX_JSON_DEPTH or _depth(_text_of(text)) <= MAX_JSON_DEPTH:
            return value
    text = _text_of(text)
    raise json.JSONDecodeError("objects and arrays nested too deep to read", text, _deepest(text)) from None


def _text_of(text: str | bytes) -> str:
    return text.decode(json.detect_encoding(text), "replace") if isinstance(text, bytes) else text


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def _depth(text: str) -> int:
    """How deep valid JSON ``text``'s objects and arrays nest: its brackets outside strings, summed
    (90 ms for a 4 MiB body of 160,000 brackets, twice what json.loads takes; only a text with more
    openings than the limit is scanned)."""
    import numpy as np

    brackets = np.frombuffer(_NOT_BRACKETS.sub("", _STRING.sub("", text)).encode(), np.uint8)
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def _deepest(text: str) -> int:
    """Where ``text``'s deepest object or array opens (outside strings): the error's position."""
    depth = deepest = at = 0
    quoted = escaped = False
    for i, char in enumerate(text):
        if quoted:
            quoted, escaped = (escaped or char != '"'), (not escaped and char == "\\")
        elif char == '"':
            quoted = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, at = depth, i
        elif char in "]}":
            depth -= 1
    return at


def nesting(value: Any, stop: int | None = None) -> int:
    """How deep ``value``'s objects and arrays are nested (a scalar: 0; ``{}``: 1); with ``stop``,
    read no deeper than one level past it. Iterative: a user's value may be nested deeper than
    Python's recursion goes."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if type(node) is dict or type(node) is list:
            deepest = max(deepest, level)
            if stop is None or level <= stop:
                stack.extend((child, level + 1) for child in (node.values() if type(node) is dict else node))
    return deepest
