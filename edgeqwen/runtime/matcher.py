"""llguidance's matcher as edgeqwen runs it: its resource limits, its panics as messages, and a
byte tokenizer for trials that need no model's.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = [
    "DEFAULT_LIMITS",
    "RAISED_LIMITS",
    "byte_tokenizer",
    "default_limits",
    "matcher_limits",
    "over_limit",
    "panic_message",
]


# llguidance's resource limits. Matchers get more parser/lexer fuel per step and a larger grammar
# than its defaults (a step that needs them costs tens of ms, rarely; a grammar that needs them
# would otherwise be refused), never more lexer states (their memory, ~2 kB each, is what a Pi lacks).
DEFAULT_LIMITS: dict[str, int] = {}
RAISED_LIMITS = {
    "initial_lexer_fuel": 4_000_000,
    "step_lexer_fuel": 800_000,
    "step_max_items": 200_000,
    "max_grammar_size": 2_000_000,
}
_OVER_LIMIT = re.compile(r"too big|too complex|TooComplex|too many|fuel|limit", re.I)


def over_limit(message: str) -> bool:
    """Whether llguidance's error ``message`` says a resource limit was reached."""
    return _OVER_LIMIT.search(message) is not None


def _parser_limits(values: dict[str, int]) -> Any:
    from llguidance import LLParserLimits

    return LLParserLimits(**values, verbose_errors=False) if values else None


def default_limits() -> Any:
    """llguidance's own limits, which a grammar is first validated under (see DEFAULT_LIMITS)."""
    return _parser_limits(DEFAULT_LIMITS)


def matcher_limits() -> Any:
    """The ``LLParserLimits`` every matcher runs with (see RAISED_LIMITS)."""
    return _parser_limits(RAISED_LIMITS)


def panic_message(exc: BaseException) -> str:
    """llguidance's panic as an error message; anything else is raised again. A Rust panic reaches
    Python as a BaseException (llguidance 1.9 panics writing the error for some malformed keyword
    values with non-ASCII text), which would pass every ``except Exception`` of its callers."""
    if type(exc).__name__ != "PanicException":
        raise exc
    return f"llguidance failed on this grammar: {str(exc).splitlines()[0][:200]}"


@functools.lru_cache(maxsize=1)
def byte_tokenizer() -> Any:
    from llguidance import LLTokenizer

    return LLTokenizer("byte")
