"""Frozen data passed across module boundaries: requests, messages, chunks, replies, metrics."""

from __future__ import annotations

import difflib
import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .errors import InvalidRequestError

__all__ = [
    "Chunk",
    "FinishReason",
    "GenerationConfig",
    "Message",
    "Metrics",
    "Reply",
    "Role",
    "TokenLogprob",
    "ToolCall",
    "check_api_key",
    "check_text",
    "is_list",
    "listed",
    "release",
]

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "cancelled", "stop_string", "refused", "filtered"]
MAX_LOGPROBS = 20  # alternatives a token may report, as OpenAI's top_logprobs
MAX_LOOKUP = 32  # tokens prompt lookup may guess a step: a longer guess is checked as a prompt chunk
PREDICTION_LOOKUP = 3  # prompt lookup's width where a prediction turns it on (docs/performance.md)
# the filters and the temperature, in the order a sampler applies them unless told another
SAMPLER_ORDER = ("top_k", "temperature", "top_a", "min_p", "top_p", "typical_p", "tfs")


def _check(cond: bool, message: str, param: str | None = None) -> None:
    if not cond:
        raise InvalidRequestError(message, param)


def is_list(value: object) -> bool:
    """Whether ``value`` is a list of items as a caller means one: iterable (not a class such as
    ``str``), and not one text, bytes or a mapping, whose letters, byte values or keys iterating
    would read as the items."""
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray, memoryview, Mapping))


def listed(value: object, name: str, what: str) -> tuple[object, ...]:
    """``value`` as a tuple where it is a list of items (None: none; one string: itself); a
    mapping, a number or anything else is an InvalidRequestError naming ``name``."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    _check(is_list(value), f"{name} must be a list of {what}, got {type(value).__name__}.", name)
    return tuple(value)  # type: ignore[call-overload]


def _token_ids(value: object) -> tuple[int, ...]:
    ids = listed(value, "stop_token_ids", "token ids")
    for t in ids:
        # 1.5 was read as token 1, True as 1
        _check(
            isinstance(t, numbers.Integral) and not isinstance(t, bool) and t >= 0,
            f"stop_token_ids must be token ids (whole numbers >= 0), got {t!r}.",
            "stop_token_ids",
        )
    return tuple(int(t) for t in ids)  # type: ignore[call-overload]


def _bias_pairs(value: object) -> tuple[tuple[int, float], ...]:
    """``logit_bias`` as sorted (token id, bias) pairs, from a mapping (OpenAI's JSON gives the ids
    as strings) or pairs; an InvalidRequestError that says what is wrong otherwise."""
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(key, bias) for key, bias in items]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvalidRequestError(
            f"logit_bias must map token ids to numbers in [-100, 100], got {value!r}.", "logit_bias"
        ) from None
    out: dict[int, float] = {}
    for key, bias in pairs:
        token = key if isinstance(key, numbers.Integral) and not isinstance(key, bool) else None
        if isinstance(key, str) and key.strip().isascii() and key.strip().isdigit():  # "²" is a digit to str
            token = int(key)
        _check(
            token is not None and token >= 0,
            f"logit_bias keys must be token ids (whole numbers >= 0), got {key!r}.",
            "logit_bias",
        )
        ok = (
            isinstance(bias, numbers.Real)
            and not isinstance(bias, bool)
            and math.isfinite(bias)
            and -100 <= bias <= 100
        )
        _check(ok, f"logit_bias values must be numbers in [-100, 100], got {bias!r} for token {key}.", "logit_bias")
        out[int(token)] = float(bias)  # type: ignore[arg-type]
    return tuple(sorted(out.items()))


def release(version: str) -> tuple[int, ...]:
    """A package version's major and minor numbers ("1.23.2" -> (1, 23)), to hold it to a floor."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


def check_api_key(key: object, param: str = "api_key") -> None:
    """An API key an HTTP header can carry: printable ASCII with no spaces (a Bearer token's
    characters). An empty one is refused too: ``--api-key "$KEY"`` with KEY unset had served with
    no key, and a key past ASCII was a UnicodeEncodeError at the first request."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidRequestError(
            "The API key is empty (an unset variable?): give the key, or leave it out to go without one.", param
        )
    if not all(" " < c < "\x7f" for c in key):
        raise InvalidRequestError(
            "The API key has a space, a control character or a non-ASCII character, which no HTTP header can carry.",
            param,
        )


def check_text(value: object, where: str, param: str | None = None) -> str:
    """``value`` if it is text a tokenizer can take, else an InvalidRequestError naming ``where``
    (its ``param``: ``param``, the request field, where given, else ``where``).

    The rule at every entry point (Python, CLI, HTTP): text that is not valid Unicode is refused,
    never repaired silently, so what the model reads is exactly what was sent. A lone surrogate
    U+DC80..U+DCFF is how Python carries a byte that was not UTF-8 (command-line arguments)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidRequestError(
            f"{where} must be text (str), got bytes; decode them first, e.g. data.decode('utf-8').", param or where
        )
    if not isinstance(value, str):
        raise InvalidRequestError(f"{where} must be text (str), got {type(value).__name__}.", param or where)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        what = f"the byte 0x{code - 0xDC00:02X}, which is not UTF-8" if 0xDC80 <= code <= 0xDCFF else "a lone surrogate"
        raise InvalidRequestError(
            f"{where} is not valid Unicode: character {exc.start} is U+{code:04X} ({what}). Send UTF-8 text, "
            "or decode the bytes with errors='replace' to turn bad bytes into U+FFFD.",
            param or where,
        ) from None
    return value


@dataclass(frozen=True)
class GenerationConfig:
    """How to pick tokens. Defaults are greedy decoding with no penalties.

    ``temperature=0`` means greedy (argmax). ``top_k=0``, ``top_p=1``, ``min_p=0`` and
    ``typical_p=1`` switch those filters off (``typical_p``: locally typical sampling, the tokens
    whose surprise is nearest the distribution's entropy, up to that much probability; TGI's and
    llama.cpp's). The temperature comes first, as transformers and vLLM apply it;
    ``temperature_last=True`` applies it after those filters instead (llama.cpp's order,
    text-generation-webui's and TabbyAPI's option), so min-p and top-p read the model's own
    probabilities. ``top_a`` (0 = off) and ``tfs`` (tail-free, 1 = off) are KoboldAI's filters.
    ``sampler_order``: the filters and ``"temperature"`` in the order to apply them (names of
    :data:`SAMPLER_ORDER`, the order otherwise; one left out is not applied, as KoboldCpp and
    llama.cpp read their lists), in place of ``temperature_last``.
    Penalties act on the last ``penalty_window`` tokens (prompt included),
    as llama.cpp's ``repeat_last_n`` does: ``repetition_penalty`` the HF/CTRL way (divide
    positive logits, multiply negative ones; ``penalty_slope`` below 1 lessens it for tokens seen
    only in the window's older half, KoboldCpp's ``rep_pen_slope``), ``presence_penalty`` /
    ``frequency_penalty`` the OpenAI way (subtract once per seen token / once per occurrence). ``logit_bias`` adds a
    number in [-100, 100] to a token's logit, as OpenAI's does (a mapping of token id to bias;
    -100 bans the token outright). ``logprobs``: None (off), or report each generated token's log
    probability and its ``logprobs`` most likely alternatives (0 to 20) in ``Reply.logprobs``.
    ``prompt_logprobs``: the same for every prompt token, in ``Reply.prompt_logprobs`` (vLLM's
    name; scoring a text, as evaluation harnesses do). ``prompt_lookup``: guess up to this many
    tokens a step from the text so far and have the model check them in one pass (speculative
    decoding without a draft model, runtime/lookup.py); the answer is the one it would write
    without guessing, faster where it repeats what it read. 0 (off) to ``MAX_LOOKUP``.
    ``prediction``: text the answer is expected to be much like (OpenAI's Predicted Outputs: the
    file an edit rewrites); prompt lookup guesses from it first, and is on at
    :data:`PREDICTION_LOOKUP` where ``prompt_lookup`` is 0. The answer is the model's either way.
    ``thinking_budget``: the most tokens Qwen3 may think before it must answer (None: no bound;
    Anthropic's ``budget_tokens``); at the bound the thinking is closed as Qwen closes it.
    """

    max_tokens: int = 512
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    typical_p: float = 1.0
    temperature_last: bool = False
    top_a: float = 0.0
    tfs: float = 1.0
    sampler_order: tuple[str, ...] | None = None
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    penalty_window: int = 64
    penalty_slope: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    logit_bias: tuple[tuple[int, float], ...] = ()
    logprobs: int | None = None
    prompt_logprobs: int | None = None
    prompt_lookup: int = 0
    prediction: str = ""
    thinking_budget: int | None = None

    @property
    def lookup_width(self) -> int:
        """Tokens prompt lookup guesses a step: as asked, or a prediction's default (0: off)."""
        return self.prompt_lookup or (PREDICTION_LOOKUP if self.prediction else 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", listed(self.stop, "stop", "strings (or one string)"))
        object.__setattr__(self, "stop_token_ids", _token_ids(self.stop_token_ids))
        if self.sampler_order is not None:
            object.__setattr__(self, "sampler_order", listed(self.sampler_order, "sampler_order", "sampler names"))
        object.__setattr__(self, "logit_bias", _bias_pairs(() if self.logit_bias is None else self.logit_bias))
        self.validate()

    def validate(self) -> None:
        def finite(name: str) -> float:
            value = getattr(self, name)
            _check(
                isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
                f"{name} must be a finite number, got {value!r}.",
                name,
            )
            return float(value)

        def whole(name: str, least: int) -> bool:  # True is an int to Python, not a count to a user
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                return False
            object.__setattr__(self, name, int(value))  # numpy's integers too, stored as int
            return value >= least

        _check(
            whole("max_tokens", 1),
            f"max_tokens must be a whole number >= 1, got {self.max_tokens!r}.",
            "max_tokens",
        )
        _check(
            finite("temperature") >= 0, f"temperature must be >= 0 (0 = greedy), got {self.temperature}.", "temperature"
        )
        _check(
            whole("top_k", 0),
            f"top_k must be a whole number >= 0 (0 = off), got {self.top_k!r}.",
            "top_k",
        )
        _check(0 < finite("top_p") <= 1, f"top_p must be in (0, 1] (1 = off), got {self.top_p}.", "top_p")
        _check(0 <= finite("min_p") < 1, f"min_p must be in [0, 1) (0 = off), got {self.min_p}.", "min_p")
        _check(
            0 < finite("typical_p") <= 1, f"typical_p must be in (0, 1] (1 = off), got {self.typical_p}.", "typical_p"
        )
        _check(
            isinstance(self.temperature_last, bool),
            f"temperature_last must be True or False, got {self.temperature_last!r}.",
            "temperature_last",
        )
        _check(0 <= finite("top_a") <= 1, f"top_a must be in [0, 1] (0 = off), got {self.top_a}.", "top_a")
        _check(0 < finite("tfs") <= 1, f"tfs must be in (0, 1] (1 = off), got {self.tfs}.", "tfs")
        order = self.sampler_order
        _check(
            order is None or (set(order) <= set(SAMPLER_ORDER) and len(set(order)) == len(order)),
            f"sampler_order must name each of {', '.join(SAMPLER_ORDER)} at most once, got {order!r}.",
            "sampler_order",
        )
        _check(
            order is None or not self.temperature_last,
            "temperature_last and sampler_order both place the temperature: give one of them.",
            "temperature_last",
        )
        _check(
            0 <= finite("penalty_slope") <= 1,
            f"penalty_slope must be in [0, 1] (1 = the whole penalty over the whole window), got {self.penalty_slope}.",
            "penalty_slope",
        )
        _check(
            finite("repetition_penalty") > 0,
            f"repetition_penalty must be > 0 (1 = off), got {self.repetition_penalty}.",
            "repetition_penalty",
        )
        _check(
            -2 <= finite("presence_penalty") <= 2,
            f"presence_penalty must be in [-2, 2], got {self.presence_penalty}.",
            "presence_penalty",
        )
        _check(
            -2 <= finite("frequency_penalty") <= 2,
            f"frequency_penalty must be in [-2, 2], got {self.frequency_penalty}.",
            "frequency_penalty",
        )
        _check(
            whole("penalty_window", 0),
            f"penalty_window must be a whole number >= 0, got {self.penalty_window!r}.",
            "penalty_window",
        )
        _check(
            self.seed is None or whole("seed", 0),
            f"seed must be a whole number >= 0 or None, got {self.seed!r}.",
            "seed",
        )
        _check(all(isinstance(s, str) and s for s in self.stop), "stop strings must be non-empty strings.", "stop")
        for name in ("logprobs", "prompt_logprobs"):
            value = getattr(self, name)
            _check(
                value is None or (whole(name, 0) and value <= MAX_LOGPROBS),
                f"{name} must be None (off) or the number of alternatives to report, 0 to {MAX_LOGPROBS}; "
                f"got {value!r}.",
                name,
            )
        _check(
            self.thinking_budget is None or whole("thinking_budget", 1),
            f"thinking_budget must be a whole number of tokens >= 1, or None (no bound); got {self.thinking_budget!r}.",
            "thinking_budget",
        )
        _check(
            whole("prompt_lookup", 0) and self.prompt_lookup <= MAX_LOOKUP,
            f"prompt_lookup must be a whole number of tokens to guess a step, 0 (off) to {MAX_LOOKUP}; "
            f"got {self.prompt_lookup!r}.",
            "prompt_lookup",
        )
        _check(
            isinstance(self.prediction, str),
            "prediction must be text (what the answer is expected to be much like), not "
            f"{type(self.prediction).__name__}.",
            "prediction",
        )

    def with_(self, **changes: Any) -> GenerationConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            names = sorted(self.__dataclass_fields__)
            guesses = [g for u in sorted(unknown) for g in difflib.get_close_matches(u, names, n=1)]
            hint = f" Did you mean {', '.join(guesses)}?" if guesses else f" Known: {', '.join(names)}."
            raise InvalidRequestError(f"unknown generation setting(s): {', '.join(sorted(unknown))}.{hint}")
        return replace(self, **changes)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]

    def __post_init__(self) -> None:
        # the chat template writes each call as JSON: a dict or an object json cannot write failed there
        _check(
            isinstance(self.name, str) and bool(self.name),
            f"A tool call's name must be a non-empty string, got {self.name!r}.",
            "tool_calls",
        )
        _check(
            isinstance(self.arguments, dict),
            f"Tool call {self.name!r}: its arguments must be a dict (a JSON object), got "
            f"{type(self.arguments).__name__}.",
            "tool_calls",
        )
        try:
            json.dumps(self.arguments)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidRequestError(
                f"Tool call {self.name!r}: its arguments are not JSON-serialisable ({exc}).", "tool_calls"
            ) from None


@dataclass(frozen=True)
class Message:
    """One chat message. ``token_ids`` keeps an assistant turn exactly as generated."""

    role: Role
    content: str = ""
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    token_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check(self.role in ("system", "user", "assistant", "tool"), f"unknown message role {self.role!r}.", "role")
        if self.role == "tool" and isinstance(self.content, (dict, list)):  # a tool's result as a value
            raise InvalidRequestError("A tool message's content is text: pass json.dumps(result).", "content")
        check_text(self.content, "message content")
        check_text(self.thinking, "message thinking")
        calls = self.tool_calls
        _check(
            isinstance(calls, (tuple, list)) and all(isinstance(c, ToolCall) for c in calls),
            f"tool_calls must be a list of edgeqwen.ToolCall, got {calls!r:.80}.",
            "tool_calls",
        )
        _check(not calls or self.role == "assistant", f"A {self.role} message cannot hold tool calls.", "tool_calls")
        object.__setattr__(self, "tool_calls", tuple(calls))


@dataclass(frozen=True)
class Metrics:
    """Per-request numbers. Token rates are 0.0 when the phase did no work."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    prefill_tokens: int = 0
    generated_tokens: int = 0
    ttft_s: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    finish_reason: FinishReason | None = None
    attempts: int = 1  # answers generated for this reply (more than 1: resampled, see reply.py)
    drafted_tokens: int = 0  # tokens guessed by prompt lookup (GenerationConfig.prompt_lookup)
    accepted_tokens: int = 0  # of those, the ones the model agreed with: each a decode step saved
    stop_sequence: str | None = None  # the stop string that ended the answer (finish_reason "stop_string")

    @property
    def prefill_tps(self) -> float:
        return self.prefill_tokens / self.prefill_s if self.prefill_s > 0 else 0.0

    @property
    def decode_tps(self) -> float:
        steps = self.generated_tokens - 1
        return steps / self.decode_s if self.decode_s > 0 and steps > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out.update(prefill_tps=self.prefill_tps, decode_tps=self.decode_tps)
        return out


@dataclass(frozen=True)
class TokenLogprob:
    """A token (generated, or of the prompt) and its log probability under the model: its own distribution at that
    step, before sampling settings, penalties, biases and any grammar. ``text`` is the token's
    text (a token that holds part of a character shows U+FFFD; ``bytes`` holds it whole); ``top``
    the most likely tokens at that step, most likely first (each with ``top`` empty)."""

    token: int
    text: str
    bytes: bytes
    logprob: float
    top: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """One step of a stream: new text (possibly empty while bytes are held back) and the token
    (with its log probability where the request asked for them)."""

    text: str
    token: int | None = None
    finish_reason: FinishReason | None = None
    metrics: Metrics | None = None
    logprob: TokenLogprob | None = None
    # the prompt's tokens scored, on the last chunk, where GenerationConfig.prompt_logprobs asked
    prompt_logprobs: tuple[TokenLogprob | None, ...] | None = None


@dataclass(frozen=True)
class Reply:
    """A finished answer. ``text`` never contains the thinking text or tool-call markup."""

    text: str
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason | None = None
    metrics: Metrics = field(default_factory=Metrics)
    trimmed_turns: int = 0
    token_ids: tuple[int, ...] = ()
    parsed: Any = None  # the value of a structured answer (response_format)
    filtered: bool = False  # the safety layer refused, redacted or stopped something
    safety_events: tuple[Any, ...] = ()  # edgeqwen.safety.SafetyEvent, in order
    # every token the model wrote for the answer (thinking and tool-call markup too, not the end
    # token), where GenerationConfig.logprobs asked for them; None where the safety layer changed
    # the answer (its tokens would show what was removed) or nothing asked
    logprobs: tuple[TokenLogprob, ...] | None = None
    # every prompt token, where GenerationConfig.prompt_logprobs asked: the first is None (nothing
    # before it predicts it); the others as the model rated them given the tokens before
    prompt_logprobs: tuple[TokenLogprob | None, ...] | None = None

    def __str__(self) -> str:
        return self.text

    def message(self) -> Message:
        """The answer as a conversation's assistant message: every token the model wrote kept (the
        template adds the end token), so the next turn's prompt matches the cache token for token."""
        return Message(
            "assistant",
            self.text,
            thinking=self.thinking,
            tool_calls=self.tool_calls,
            token_ids=self.token_ids or None,
        )
