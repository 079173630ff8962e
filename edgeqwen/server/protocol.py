"""The OpenAI chat-completions wire format: a request body in, our types out.

Pure functions on dicts: no HTTP, no model. A bad request raises :class:`InvalidRequestError`
whose message names the field, and the app answers it as a 400 in OpenAI's error shape.
Decisions, where the OpenAI API leaves room: the ``model`` field is echoed, not checked (this
server serves one model); ``enable_thinking`` (also as ``chat_template_kwargs``) is accepted as an
extension, as vLLM and llama-server do; ``reasoning_effort`` turns Qwen3's thinking off (none,
minimal) or on (low to high); vLLM's ``echo``, ``add_generation_prompt`` and
``continue_final_message`` are taken at their off values and refused at others; options that
would silently change the answer's meaning (non-text content parts or output modalities, the
deprecated ``functions``) are refused rather than ignored. The sampling settings, in every
dialect's names, are :mod:`.samplers`; the answer's format :mod:`.guided`. What goes back is :mod:`.bodies`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import InvalidRequestError
from ..message_dicts import message_of
from ..runtime.formats import ResponseFormat
from ..types import Message
from .guided import guided_format
from .samplers import RequestError, flag, refuse_unless_off, settings_of

T = TypeVar("T")

__all__ = [
    "ChatRequest",
    "MAX_CHOICES",
    "RequestError",
    "choice_settings",
    "choices_of",
    "flag",
    "format_of",
    "parse_chat_request",
    "response_format_of",
    "streaming",
]

MAX_CHOICES = 16  # n: choices one request may ask for (each is a whole answer, made in turn)


@dataclass(frozen=True)
class ChatRequest:
    """A parsed ``/v1/chat/completions`` body, ready for :meth:`Assistant.answer`."""

    messages: tuple[Message, ...]
    model: str = ""
    stream: bool = False
    include_usage: bool = False
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: str | dict[str, Any] = "auto"
    response_format: dict[str, Any] | ResponseFormat | None = None  # a ResponseFormat: vLLM's regex, choice, grammar
    enable_thinking: bool | None = None
    reasoning_effort: str | None = None  # OpenAI's knob, read as Qwen3's switch (_EFFORT_THINKS)
    parallel_tool_calls: bool = True  # False: at most one call is returned (the first)
    settings: dict[str, Any] = field(default_factory=dict)  # GenerationConfig overrides
    n: int = 1  # choices, answered in turn (choice_settings gives each its seed)
    # drop the oldest turns to fit (Ollama's way, the Responses API's truncation "auto"); else a
    # conversation past the window is a 400, as OpenAI's and Anthropic's APIs answer it
    truncate: bool = False

    def answer_kwargs(self, model_thinks: bool = True) -> dict[str, Any]:
        thinking = self.enable_thinking
        if thinking is None and self.reasoning_effort is not None:
            # low to high: think where the model can; a model that cannot answers as it always does
            thinks = _EFFORT_THINKS[self.reasoning_effort]
            thinking = (True if model_thinks else None) if thinks else False
        return {
            "tools": list(self.tools) if self.tools is not None else None,
            "tool_choice": self.tool_choice,
            "response_format": self.response_format,
            "enable_thinking": thinking,
            "truncate": self.truncate,
            **self.settings,
        }


def choices_of(body: dict[str, Any]) -> int:
    """``n``, checked: how many choices to answer."""
    n = body.get("n")
    if n is None:
        return 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CHOICES:
        raise RequestError(f"n must be a whole number from 1 to {MAX_CHOICES}, got {n!r}.", "n")
    return n


def choice_settings(settings: dict[str, Any], index: int, seed: int) -> dict[str, Any]:
    """The settings of choice ``index`` of a request with ``n`` > 1: the first as asked, each later
    one with the next seed after the request's (``seed`` where it gave none), so choices that sample
    differ, and a request with a seed gets the same choices again."""
    if index == 0:
        return settings
    return {**settings, "seed": (settings.get("seed") if settings.get("seed") is not None else seed) + index}


def _messages(value: Any) -> tuple[Message, ...]:
    if not isinstance(value, list) or not value:
        raise RequestError("messages must be a non-empty list of {role, content} objects.", "messages")
    return tuple(_read(message_of, msg, f"messages[{i}]") for i, msg in enumerate(value))


def _read(read: Callable[[Any, str], T], value: Any, where: str) -> T:
    """``read(value, where)``, its InvalidRequestError a RequestError (the Responses API renames its field)."""
    try:
        return read(value, where)
    except InvalidRequestError as exc:
        raise RequestError(str(exc), exc.param) from None


def response_format_of(value: Any) -> dict[str, Any] | None:
    """OpenAI's ``response_format``, checked: None for text."""
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        spec = value.get("json_schema", value.get("value"))  # TGI's holds it in value
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            raise RequestError(
                'response_format json_schema needs {"json_schema": {"name": ..., "schema": {...}}}.', "response_format"
            )
        strict = spec.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise RequestError("response_format.json_schema.strict must be true or false.", "response_format")
        return {"type": "json_schema", "json_schema": {"schema": spec.get("schema", {}), "strict": strict}}
    raise RequestError(
        f'response_format.type must be "text", "json_object" or "json_schema" (or TGI\'s "json", "regex"), got '
        f"{kind!r}.",
        "response_format",
    )


def format_of(body: dict[str, Any]) -> dict[str, Any] | ResponseFormat | None:
    """The answer's format a body asks for: OpenAI's ``response_format``, or vLLM's or llama-server's
    fields for it (:mod:`.guided`); None for free text."""
    return guided_format(body) or response_format_of(body.get("response_format"))


def _tool_choice(value: Any) -> str | dict[str, Any]:
    if value is None:
        return "auto"
    if value in ("auto", "none", "required"):
        return value
    fn = value.get("function") if isinstance(value, dict) else None
    if isinstance(fn, dict) and isinstance(fn.get("name"), str):
        return {"name": fn["name"]}
    raise RequestError(
        'tool_choice must be "auto", "none", "required" or {"type": "function", "function": {"name": ...}}.',
        "tool_choice",
    )


_EFFORT_THINKS = {"none": False, "minimal": False, "low": True, "medium": True, "high": True}


def _reasoning_effort(value: Any, thinking: bool | None) -> str | None:
    """OpenAI's reasoning knob as Qwen3's one switch: none/minimal turn thinking off, low to high on
    (its length is not graded; ``max_tokens`` bounds it). Ignored, a client asking for high got
    no thinking (the Assistant's default is off)."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in _EFFORT_THINKS:
        raise RequestError(
            f"reasoning_effort must be one of {', '.join(_EFFORT_THINKS)}, got {value!r}.", "reasoning_effort"
        )
    if thinking is not None and thinking != _EFFORT_THINKS[value]:
        raise RequestError(
            f"reasoning_effort={value!r} and enable_thinking={str(thinking).lower()} disagree: pass one of them.",
            "reasoning_effort",
        )
    return value


def streaming(body: dict[str, Any]) -> tuple[bool, bool]:
    """``stream`` and ``stream_options.include_usage``, checked: whether to stream, and whether a
    stream ends with a usage event."""
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise RequestError("stream must be true or false.", "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise RequestError("stream_options must be an object.", "stream_options")
    return bool(stream), bool(options.get("include_usage"))


def _vllm_chat_fields(body: dict[str, Any], messages: tuple[Message, ...]) -> None:
    """vLLM's fields of a chat that this server does not do, refused where they ask for it."""
    refuse_unless_off(body, {"echo": False, "add_generation_prompt": True, "documents": None}, empty=([],))
    if body.get("continue_final_message") is False and messages[-1].role == "assistant":
        # vLLM's default opens a new turn after it; this server continues it, as llama-server does
        raise RequestError(
            "continue_final_message false with a final assistant message: this server continues that message "
            "(a prefill); send true, or end the messages with the user's.",
            "continue_final_message",
        )


def parse_chat_request(body: Any, max_tokens_limit: int) -> ChatRequest:
    """Check a decoded JSON body and turn it into a :class:`ChatRequest` (RequestError if bad)."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    n = choices_of(body)
    for legacy in ("functions", "function_call"):  # ignored, a client would get no call and no error
        if body.get(legacy) is not None:
            raise RequestError(
                f"{legacy} is the deprecated form of tools: pass tools=[{{'type': 'function', 'function': "
                "{...}}] and tool_choice; calls come back as message.tool_calls.",
                legacy,
            )
    stream, include_usage = streaming(body)
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise RequestError("tools must be a list of function tools.", "tools")
    modalities = body.get("modalities")
    if modalities is not None and (not isinstance(modalities, list) or any(m != "text" for m in modalities)):
        raise RequestError(
            f'modalities must be ["text"]: this server answers in text only, got {modalities!r}.', "modalities"
        )
    if body.get("audio") is not None:
        raise RequestError("audio output is not supported: this server answers in text only.", "audio")
    if body.get("web_search_options") is not None:  # ignored, an answer would read as searched when it was not
        raise RequestError(
            "web_search_options is not supported: this server has no web search; the model answers from what it "
            "knows and what the messages hold.",
            "web_search_options",
        )
    kwargs = body.get("chat_template_kwargs") or {}
    thinking = body.get("enable_thinking", kwargs.get("enable_thinking") if isinstance(kwargs, dict) else None)
    if thinking is not None and not isinstance(thinking, bool):
        raise RequestError("enable_thinking must be true or false.", "enable_thinking")
    effort = _reasoning_effort(body.get("reasoning_effort"), thinking)
    parallel = body.get("parallel_tool_calls", True)
    if not isinstance(parallel, bool) and parallel is not None:
        raise RequestError("parallel_tool_calls must be true or false.", "parallel_tool_calls")
    messages = _messages(body.get("messages"))
    _vllm_chat_fields(body, messages)
    model = body.get("model", "")
    return ChatRequest(
        messages=messages,
        model=model if isinstance(model, str) else "",
        stream=stream,
        include_usage=include_usage,
        tools=tuple(tools) if tools else None,
        tool_choice=_tool_choice(body.get("tool_choice")),
        response_format=format_of(body),
        enable_thinking=thinking,
        reasoning_effort=effort,
        parallel_tool_calls=parallel is not False,
        settings=settings_of(body, max_tokens_limit),
        n=n,
    )
