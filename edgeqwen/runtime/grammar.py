"""Grammar-constrained decoding with llguidance: JSON Schema, pydantic models, any-JSON, regex,
choices and Lark grammars, enforced token by token inside our generation loop.

Each step the constraint computes the set of allowed tokens (a bitmask over the 151,936-wide
logits), masks everything else to -inf, and the sampler picks among what is left, so sampling
settings still apply inside the allowed set. When the grammar is complete only the stop tokens
are allowed. JSON is compact (no free whitespace) and every value is bounded (schema.py), so a
weak model cannot run a value to the token limit. A JSON Schema is first relaxed to what
llguidance can enforce (relax.py); every result is parsed and checked in full (``jsonschema`` /
pydantic) before it is returned.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BackendUnavailableError, GrammarError
from ..tokenizer import MARKER_TOKENS
from .digits import BOUND, DigitLimit, DigitTable, Widths
from .formats import ResponseFormat
from .kept import Kept
from .matcher import matcher_limits, over_limit, panic_message
from .numbers import crash_message
from .relax import compiles as relax_compiles
from .relax import warn_if_slow

if TYPE_CHECKING:
    from llguidance import LLMatcher

__all__ = [
    "MARKERS",
    "FastForwardConstraint",
    "GrammarConstraint",
    "GrammarEngine",
    "TriggeredConstraint",
    "grammar_text",
]

GRAMMAR_CACHE_SIZE = 64  # compiled response formats kept per model (regex, choice, Lark, tools)
GRAMMAR_CACHE_CHARS = 16 << 20  # and their texts' length in all: a Lark grammar may be 1 MB
# Built matchers kept per model, copied for each answer: building one for a large schema costs
# 50-130 ms (llguidance compiles the schema then), a copy well under that. One for an 830 kB schema
# holds about 9 MB: at most 4 Mi characters of grammar are kept built (about 45 MB).
MATCHER_CACHE_SIZE = 16
MATCHER_CACHE_CHARS = 4 << 20


# Qwen's tool-call and thinking markers are special tokens; in other ChatML vocabularies (the
# demo model's) they are plain text, and the grammar must say them as text.
MARKERS = frozenset(MARKER_TOKENS)


def _marker(name: str, special: Collection[str]) -> str:
    """A marker in Lark: a special-token reference, or a string literal."""
    return name if name in special else json.dumps(name)


def _tool_rule(fmt: ResponseFormat, special: Collection[str], opened: bool = False) -> str:
    """A whole ``<tool_call>...</tool_call>``, or with ``opened`` what follows its open marker."""
    # Qwen writes tool calls the way its chat template renders them: json.dumps separators.
    schema = {
        **fmt.tool_call_schema(),
        "x-guidance": {
            "whitespace_flexible": False,
            "item_separator": ", ",
            "key_separator": ": ",
            "lenient": fmt.relaxed().lenient,
        },
    }
    open_, close = _marker("<tool_call>", special), _marker("</tool_call>", special)
    rest = f'"\\n" %json {json.dumps(schema)} "\\n" {close}'
    return rest if opened else f"{open_} {rest}"


# -- grammar ------------------------------------------------------------------------------
def grammar_text(
    fmt: ResponseFormat, thinking: bool = False, special: Collection[str] = MARKERS, opened: bool = False
) -> str:
    """The llguidance grammar; with ``thinking`` one ``<think>…</think>`` block may come first.
    ``special``: the markers that are special tokens of the tokenizer; the others are text.
    ``opened``: a tool call's grammar from after its ``<tool_call>`` (the model wrote that itself)."""
    from llguidance import LLMatcher

    if fmt.kind in ("json_schema", "json_object"):
        grammar = fmt.relaxed().grammar  # validated by relax()
    elif fmt.kind == "regex":
        grammar = LLMatcher.grammar_from_regex(fmt.pattern or "")
    elif fmt.kind == "choice":
        grammar = LLMatcher.grammar_from_lark("start: " + " | ".join(json.dumps(c) for c in fmt.choices))
    elif fmt.kind == "tool_call":
        grammar = LLMatcher.grammar_from_lark("start: " + _tool_rule(fmt, special, opened))
    else:
        grammar = LLMatcher.grammar_from_lark(fmt.grammar or "")
    if not thinking:
        return grammar
    # The answer as a rule after one <think>...</think> block (Qwen3 opens it itself).
    if fmt.kind in ("json_schema", "json_object"):
        body = json.loads(grammar)["grammars"][0]["json_schema"]
        answer = "%json " + json.dumps(body)
    elif fmt.kind == "regex":
        answer = "/" + (fmt.pattern or "").replace("/", "\\/") + "/"
    elif fmt.kind == "choice":
        answer = " | ".join(json.dumps(c) for c in fmt.choices)
    elif fmt.kind == "tool_call":
        answer = _tool_rule(fmt, special)
    else:
        raise GrammarError(
            "A Lark response format cannot be combined with thinking; add the think block "
            "to your grammar (start: <think> /(.|\\n)*/ </think> ...) or turn thinking off."
        )
    think = f"/(.|\\n){{0,{int(fmt.thinking_budget)}}}/"
    open_, close = _marker("<think>", special), _marker("</think>", special)
    lark = f"start: {open_} THINK {close} /\\n*/ answer\nTHINK: {think}\nanswer: " + answer
    return LLMatcher.grammar_from_lark(lark)


class GrammarEngine:
    """llguidance bound to one tokenizer: compiles (with a cache) and makes constraints."""

    def __init__(self, tokenizer_json: str, vocab_size: int, stop_ids: Sequence[int]) -> None:
        try:
            from llguidance import LLTokenizer
        except ImportError as exc:  # pragma: no cover - llguidance is a runtime dependency
            raise BackendUnavailableError("Structured output needs llguidance: pip install llguidance") from exc
        self.vocab_size = vocab_size
        self.tokenizer = LLTokenizer(tokenizer_json, n_vocab=vocab_size, eos_token=list(stop_ids))
        # marker -> its token id, for the markers that are one special token of this vocabulary
        self._marker_ids: dict[str, int] = {}
        for marker in MARKERS:
            ids = self.tokenizer.tokenize_str(marker)
            if len(ids) == 1 and self.tokenizer.is_special_token(ids[0]):
                self._marker_ids[marker] = ids[0]
        self.special_markers = frozenset(self._marker_ids)
        # bounded: a server compiles whatever schemas its clients send, for as long as it runs
        self._cache: Kept[tuple[str, bool, bool], str] = Kept(GRAMMAR_CACHE_SIZE, GRAMMAR_CACHE_CHARS)
        self._matchers: Kept[str, LLMatcher] = Kept(MATCHER_CACHE_SIZE, MATCHER_CACHE_CHARS)  # one never used
        self.compile_times: deque[float] = deque(maxlen=1024)
        self._digit_table: DigitTable | None = None

    @property
    def digit_table(self) -> DigitTable:
        """What each token does to a JSON number (built on first use: 40 ms for Qwen's vocabulary)."""
        if self._digit_table is None:
            markers = {t: m.encode() for m, t in self._marker_ids.items()}
            decode, special = self.tokenizer.decode_bytes, self.tokenizer.is_special_token
            table = []
            for t in range(self.vocab_size):
                try:
                    raw = decode([t])
                except Exception:  # ids without a token (padding) continue nothing
                    raw = b""
                if raw.startswith(b"<[") and special(t):  # llguidance spells a special token by its id
                    raw = markers.get(t, b"")
                table.append(raw)
            self._digit_table = DigitTable(table)
        return self._digit_table

    def digit_limit(self, fmt: ResponseFormat, thinking: bool = False) -> DigitLimit | None:
        """The bound on the numbers of an answer in ``fmt`` (None where its values are not made
        finite: no JSON, or ``max_string_length=None``), widened where its schema sets wider bounds."""
        if not fmt.made_finite:
            return None
        return DigitLimit(self.digit_table, fmt.relaxed().digits, b"</think>" if thinking else None)

    def compile(self, fmt: ResponseFormat, thinking: bool = False, opened: bool = False) -> str:
        """The grammar text for ``fmt`` (built and kept; see :func:`grammar_text` for ``opened``)."""
        start = time.perf_counter()
        if fmt.kind in ("json_schema", "json_object") and not thinking:
            compiled = relax_compiles()
            grammar = fmt.relaxed(self._build).grammar  # compiled, validated and cached by relax()
            # relax() warned of a slow compile itself
            return self._timed(start, grammar, warn=False) if relax_compiles() != compiled else grammar
        spec = {f.name: getattr(fmt, f.name) for f in fields(fmt) if f.name != "model"}
        key = (json.dumps(spec, sort_keys=True, default=str), thinking, opened)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        grammar = grammar_text(fmt, thinking, self.special_markers, opened)
        error = self._build(grammar)
        if error is not None:
            raise _explain(error, fmt)
        self._cache.put(key, self._timed(start, grammar), len(key[0]) + len(grammar))
        return grammar

    def _build(self, grammar: str) -> str | None:
        """Build the matcher this grammar decodes with and keep it (relax.Validate): llguidance's
        error, or None."""
        return self._kept(grammar)[1]

    def _kept(self, grammar: str) -> tuple[LLMatcher | None, str | None]:
        from llguidance import LLMatcher

        if (crash := crash_message(grammar)) is not None:  # a Lark grammar's %json, a regex's text
            return None, crash
        try:
            matcher = LLMatcher(self.tokenizer, grammar, log_level=0, limits=matcher_limits())
        except BaseException as exc:
            return None, panic_message(exc)
        if matcher.is_error():
            return None, matcher.get_error()
        self._matchers.put(grammar, matcher, len(grammar))
        return matcher, None

    def matcher(self, grammar: str) -> LLMatcher:
        """A fresh ``LLMatcher`` for a grammar :meth:`compile` returned: a copy of the kept one."""
        kept = self._matchers.get(grammar)
        if kept is None:  # evicted, or compiled by another engine (relax's cache is shared)
            kept, error = self._kept(grammar)
            if kept is None:
                raise GrammarError(f"The response format cannot be compiled: {error}")
        return kept.deep_copy()

    def _timed(self, start: float, grammar: str, warn: bool = True) -> str:
        elapsed = time.perf_counter() - start
        self.compile_times.append(elapsed)
        if warn:
            warn_if_slow(elapsed)
        return grammar

    def tool_calls(self, tools: Sequence[dict[str, Any]], prompt_len: int) -> TriggeredConstraint | None:
        """For ``tool_choice="auto"``: from the ``<tool_call>`` the model opens to its close, a listed
        tool's name and arguments its schema allows. None where the marker is no single token of
        the vocabulary (the demo model's: text cannot trigger on one token), so calls stay as written."""
        if "<tool_call>" not in self.special_markers:
            return None
        fmt = ResponseFormat.tool_call(tools)
        grammar = self.compile(fmt, opened=True)
        return TriggeredConstraint(self, grammar, self._marker_ids["<tool_call>"], prompt_len, fmt.relaxed().digits)

    def constraint(self, fmt: ResponseFormat, prompt_len: int, thinking: bool = False) -> GrammarConstraint:
        cls = FastForwardConstraint if fmt.fast_forward else GrammarConstraint
        return cls(self, self.compile(fmt, thinking), prompt_len, self.digit_limit(fmt, thinking))


def _first_line(message: str) -> str:
    """llguidance's message as one short line: never its grammar dump or its "<non-verbose/>" tag."""
    lines = message.replace("<non-verbose/>", "").strip().splitlines()
    first = lines[0] if lines else "unknown error"
    return first if len(first) <= 300 else first[:300] + "..."


def _explain(message: str, fmt: ResponseFormat) -> GrammarError:
    """llguidance's compile error as one line that says what to do."""
    first = _first_line(message)
    if fmt.kind == "regex":
        return GrammarError(f"The regex {fmt.pattern!r} cannot be compiled: {first}")
    return GrammarError(f"The response format cannot be compiled: {first}")


def _rejected(error: str, what: str) -> GrammarError:
    """llguidance's error while decoding, as one line: a limit reached says what to simplify."""
    first = _first_line(error)
    if over_limit(first):
        return GrammarError(
            f"The response format needs more than the grammar engine's limits at this point of the answer "
            f"({first}); simplify it: fewer counted repetitions, fewer parts one character long."
        )
    return GrammarError(f"The grammar rejected {what}: {first}")


class GrammarConstraint:
    """A stateful logits processor: consumes the tokens sampled since its last call, then masks
    every token the grammar does not allow next (and, with ``digits``, every token that would take
    a JSON number past its bound)."""

    def __init__(self, engine: GrammarEngine, grammar: str, prompt_len: int, digits: DigitLimit | None = None) -> None:
        self._matcher = engine.matcher(grammar)
        self._prompt_len = prompt_len
        self._seen = prompt_len
        self._mask = np.zeros((engine.vocab_size + 31) // 32, dtype=np.int32)
        self._digits = digits
        self.mask_times: list[float] = []

    def reset(self) -> None:
        self._matcher.reset()
        self._seen = self._prompt_len
        if self._digits is not None:
            self._digits.reset()

    def _took(self, tokens: list[int]) -> None:
        if self._digits is not None:
            self._digits.feed(tokens)

    @property
    def done(self) -> bool:
        return self._matcher.is_stopped() or self._matcher.is_accepting()

    def _catch_up(self, token_ids: np.ndarray) -> None:
        new = [int(t) for t in token_ids[self._seen :]]
        if new and not self._matcher.consume_tokens(new):
            raise _rejected(self._matcher.get_error(), "a token it allowed")
        self._took(new)
        self._seen = len(token_ids)

    def __call__(self, token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        self._catch_up(token_ids)
        start = time.perf_counter()
        self._matcher.unsafe_compute_mask_ptr(self._mask.ctypes.data, self._mask.nbytes)
        allowed = np.unpackbits(self._mask.view(np.uint8), count=logits.size, bitorder="little").view(bool)
        out = np.where(allowed, logits, np.float32(-np.inf))
        if self._digits is not None:
            out = self._digits(out)
        self.mask_times.append(time.perf_counter() - start)
        return out


class TriggeredConstraint:
    """Free text until the model writes ``trigger`` (Qwen's ``<tool_call>``); from there until the
    grammar is complete (the call's close) every token is held to it; then free again, so a second
    call is held the same way. Free steps cost a scan of the new token: no mask is computed."""

    def __init__(
        self, engine: GrammarEngine, grammar: str, trigger: int, prompt_len: int, digits: Widths = BOUND
    ) -> None:
        self._engine, self._grammar, self._trigger = engine, grammar, trigger
        self._digits = digits  # the bound on the calls' numbers
        self._seen = prompt_len
        self._held: GrammarConstraint | None = None

    def __call__(self, token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        if self._held is not None:
            self._held._catch_up(token_ids)
            if self._held.done:  # the call is closed: free text again
                self._held, self._seen = None, len(token_ids)
        if self._held is None:
            opened = np.flatnonzero(np.asarray(token_ids[self._seen :]) == self._trigger)
            if not opened.size:
                self._seen = len(token_ids)
                return logits
            # held from the token after the marker, where the grammar starts
            start = self._seen + int(opened[0]) + 1
            digits = DigitLimit(self._engine.digit_table, self._digits)
            self._held = GrammarConstraint(self._engine, self._grammar, start, digits)
            self._seen = len(token_ids)
        return self._held(token_ids, logits)


class FastForwardConstraint(GrammarConstraint):
    """Also tells the loop which tokens the grammar forces next (e.g. a fixed key), so they are
    appended without a sampling step each."""

    def fast_forward(self, token_ids: np.ndarray) -> list[int]:
        self._catch_up(token_ids)
        forced = [int(t) for t in self._matcher.compute_ff_tokens()]
        if forced:
            if not self._matcher.consume_tokens(forced):
                raise _rejected(self._matcher.get_error(), "its own forced tokens")
            self._took(forced)
            self._seen += len(forced)
        return forced
