"""The OpenAI chat-completions wire format: a request body in, our types out.

Pure functions on dicts: no HTTP, no model. A bad request raises :class:`InvalidRequestError`
whose message names the field, and the app answers it as a 400 in OpenAI's error shape.
Decisions, where the OpenAI API leaves room: the ``model`` field is echoed, not checked (this
server serves one model); ``top_k``, ``min_p``, ``repetition_penalty`` and ``enable_thinking``
(also as ``chat_template_kwargs``) are accepted as extensions, as vLLM and llama-server do, and so
is ``prompt_lookup`` (GenerationConfig's; ``serve --prompt-lookup`` sets it for bodies without it);
``reasoning_effort`` turns Qwen3's thinking off (none, minimal) or on (low to high); vLLM's
``stop_token_ids`` is read, and its ``min_tokens``, ``ignore_eos``, ``include_stop_str_in_output``,
``bad_words``, ``chat_template`` (a request's own template), and on chat its ``echo``,
``add_generation_prompt`` and ``continue_final_message`` ... are taken at their off values and
refused at others; so are llama.cpp's samplers this server has not (``mirostat``, ``tfs_z``,
DRY, XTC ...), and llama-server's fields that its clients send to its OpenAI routes too are read
(``repeat_penalty``, ``repeat_last_n``, ``n_predict``; ``grammar`` and ``json_schema`` in
:mod:`.guided`); ``top_k`` 0 or below is off (llama.cpp's and vLLM's -1); ``seed: -1``
is no seed (random, as llama.cpp and Ollama read it), another negative seed a seed; options that
would silently change the answer's meaning (non-text content parts or output modalities, the
deprecated ``functions``) are refused rather than ignored. What goes back is :mod:`.bodies`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import InvalidRequestError
from ..message_dicts import content_text, message_of
from ..runtime.formats import ResponseFormat
from ..types import MAX_LOGPROBS, GenerationConfig, Message
from .guided import guided_format

T = TypeVar("T")

__all__ = [
    "ChatRequest",
    "LLAMA_SAMPLERS",
    "MAX_CHOICES",
    "MAX_STOPS",
    "RequestError",
    "choice_settings",
    "choices_of",
    "flag",
    "format_of",
    "llama_samplers_off",
    "parse_chat_request",
    "refuse_unless_off",
    "response_format_of",
    "settings_of",
    "streaming",
]

_FLOATS = ("temperature", "top_p", "min_p", "typical_p", "presence_penalty", "frequency_penalty", "repetition_penalty")
MAX_STOPS = 16  # stop strings a request may send
# vLLM's sampling extensions this server has not: taken at their off values, refused at any other
_VLLM_OFF: dict[str, Any] = {
    "min_tokens": 0, "include_stop_str_in_output": False, "use_beam_search": False,
    "bad_words": None, "allowed_token_ids": None, "logits_processors": None, "prompt_logprobs": None,
    "skip_special_tokens": True, "chat_template": "",
}  # fmt: skip
# llama.cpp's samplers this server has not (llama-server's fields, Ollama's options): off at 0 or
# below for the first, at these values for the rest (ignore_eos is vLLM's too), refused at others
_LLAMA_AT_MOST_0 = ("mirostat", "dynatemp_range", "dry_multiplier", "xtc_probability", "top_n_sigma", "n_indent")
_LLAMA_OFF: dict[str, Any] = {"tfs_z": 1.0, "ignore_eos": False, "lora": [], "post_sampling_probs": False}
LLAMA_SAMPLERS = (*_LLAMA_AT_MOST_0, *_LLAMA_OFF)
MAX_CHOICES = 16  # n: choices one request may ask for (each is a whole answer, made in turn)
_MAX_BIASED = 300  # logit_bias entries a request may send (a bound of this server's on its work)


class RequestError(InvalidRequestError):
    """A 400: ``param`` names the field at fault, as OpenAI's error body does."""


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


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"{name} must be a number, got {value!r}.", name)
    return float(value)


def refuse_unless_off(body: dict[str, Any], offs: dict[str, Any], empty: tuple[Any, ...] = ()) -> None:
    """Another server's options this server has not: each taken when absent, at its off value in
    ``offs`` or one of ``empty``, and refused at any other (the answer would not be what it asks)."""
    for name, off in offs.items():
        if body.get(name) not in (None, off, *empty):
            raise RequestError(
                f"{name} is not supported by this server (only {off!r}): the answer would not be what it asks.", name
            )


def llama_samplers_off(body: dict[str, Any]) -> None:
    """llama.cpp's samplers this server has not, each taken where absent or off and refused at any
    other value (the answer would not be what it asks)."""
    for name in _LLAMA_AT_MOST_0:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value > 0):
            raise RequestError(
                f"{name} is not supported by this server (only 0, off): the answer would not be what it asks.", name
            )
    refuse_unless_off(body, _LLAMA_OFF)


def _llama_settings(body: dict[str, Any], out: dict[str, Any]) -> None:
    """llama-server's names for what this server has: ``repeat_penalty`` (repetition_penalty's),
    ``repeat_last_n`` (the penalty window; -1 the whole context); ``n_predict`` is read with max_tokens."""
    penalty = _number(body, "repeat_penalty")
    if penalty is not None:
        if out.setdefault("repetition_penalty", penalty) != penalty:
            raise RequestError("repeat_penalty and repetition_penalty disagree: send one of them.", "repeat_penalty")
    window = body.get("repeat_last_n")
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, int) or window < -1:
            raise RequestError(
                f"repeat_last_n must be a whole number (-1: the context), got {window!r}.", "repeat_last_n"
            )
        out["penalty_window"] = window if window >= 0 else 1 << 30
    llama_samplers_off(body)


def settings_of(body: dict[str, Any], max_tokens_limit: int) -> dict[str, Any]:
    """The sampling settings of a request body, checked (GenerationConfig overrides)."""
    out: dict[str, Any] = {}
    for name in _FLOATS:
        value = _number(body, name)
        if value is not None:
            out[name] = value
    if "temperature" in out and out["temperature"] > 2:
        raise RequestError(f"temperature must be in [0, 2], got {out['temperature']}.", "temperature")
    for name in ("top_k", "seed", "prompt_lookup", "thinking_budget"):
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise RequestError(f"{name} must be a whole number, got {value!r}.", name)
            out[name] = value
    if out.get("top_k", 0) < 0:  # off to llama.cpp (0 and below) and vLLM (-1), as 0 is here
        out["top_k"] = 0
    if out.get("seed") == -1:  # "random" to llama.cpp and Ollama (its default options send it), and their apps
        del out["seed"]
    elif out.get("seed", 0) < 0:  # a seed like any other to OpenAI and vLLM; the sampler's are unsigned
        out["seed"] %= 1 << 64
    # llama-server's n_predict where neither OpenAI name is sent; its -1 and -2 are no limit
    name = next((n for n in ("max_completion_tokens", "max_tokens", "n_predict") if body.get(n) is not None), "")
    limit = body.get(name) if name and not (name == "n_predict" and body[name] in (-1, -2)) else None
    if limit is None:
        out["max_tokens"] = max_tokens_limit
    elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise RequestError(f"{name} must be a whole number >= 1, got {limit!r}.", name)
    elif limit > max_tokens_limit:
        # lowered, not refused: apps send 4096 or more by default, and finish_reason "length" says
        # where an answer was cut, as llama.cpp's server does with its own limit
        out["max_tokens"] = max_tokens_limit
    else:
        out["max_tokens"] = limit
    prediction = body.get("prediction")
    if prediction is not None:  # OpenAI's Predicted Outputs: what the answer is expected to be much like
        if not isinstance(prediction, dict) or prediction.get("type") != "content":
            raise RequestError(
                'prediction must be {"type": "content", "content": TEXT}, the text the answer is expected to be '
                "much like.",
                "prediction",
            )
        out["prediction"] = _read(content_text, prediction.get("content"), "prediction.content")
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
            raise RequestError("stop must be a non-empty string or a list of them.", "stop")
        if len(stops) > MAX_STOPS:
            raise RequestError(f"stop takes at most {MAX_STOPS} strings, got {len(stops)}.", "stop")
        out["stop"] = tuple(stops)
    ids = body.get("stop_token_ids")  # vLLM's
    if ids:
        if not isinstance(ids, list) or len(ids) > MAX_STOPS:
            raise RequestError(f"stop_token_ids must be a list of at most {MAX_STOPS} token ids.", "stop_token_ids")
        out["stop_token_ids"] = tuple(ids)
    refuse_unless_off(body, _VLLM_OFF, empty=([], {}))
    _llama_settings(body, out)
    wanted, top = body.get("logprobs"), body.get("top_logprobs")
    if wanted not in (None, True, False):
        raise RequestError(f"logprobs must be true or false, got {wanted!r}.", "logprobs")
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_LOGPROBS:
            raise RequestError(
                f"top_logprobs must be a whole number from 0 to {MAX_LOGPROBS}, got {top!r}.", "top_logprobs"
            )
        if not wanted:
            raise RequestError("top_logprobs needs logprobs: true.", "top_logprobs")
    if wanted:
        out["logprobs"] = top or 0
    bias = body.get("logit_bias")
    if bias:
        if not isinstance(bias, dict) or len(bias) > _MAX_BIASED:
            raise RequestError(
                f"logit_bias must be an object of at most {_MAX_BIASED} token ids (as strings) to numbers in "
                "[-100, 100].",
                "logit_bias",
            )
        out["logit_bias"] = bias
    try:  # the ranges (top_p in (0, 1], ...) are checked here, not after the request waited for the model
        GenerationConfig().with_(**out)
    except InvalidRequestError as exc:
        raise RequestError(str(exc), exc.param) from exc
    return out


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


def flag(body: dict[str, Any], name: str, default: bool = False) -> bool:
    """A field that is true or false, ``default`` where absent or null; a RequestError naming it otherwise."""
    value = body.get(name)
    if value is not None and not isinstance(value, bool):  # 1 == True to Python, not to the API
        raise RequestError(f"{name} must be true or false, got {value!r:.40}.", name)
    return default if value is None else value


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
