"""Frozen data passed across module boundaries: requests, messages, chunks, replies, metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidRequestError

__all__ = [
    "Chunk",
    "FinishReason",
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


def __getattr__(name: str) -> Any:
    # GenerationConfig and its limits lived here until generation_config.py: programs that import
    # them from edgeqwen.types (this repository's own tools did) keep working
    from . import generation_config

    if name in generation_config.__all__:
        return getattr(generation_config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
