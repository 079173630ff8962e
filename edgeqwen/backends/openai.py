"""An OpenAI-compatible server as a backend: vLLM, SGLang, llama-server, Ollama, or ``edgeqwen serve``.

For users who outgrow one device: the same app code, safety policies and output checks, with the
model served by an engine elsewhere. The server applies its own chat template, so this backend
sends the conversation as messages (``Request.messages``), not token ids; the ids the Assistant
computes with a byte-level tokenizer (one id per UTF-8 byte, never fewer than a real tokenizer's)
only keep the history within ``context_length``.

Mapping: sampling settings go out as the OpenAI fields (``top_k``, ``min_p`` and
``repetition_penalty`` as the extensions vLLM, llama-server and edgeqwen accept, only when set);
a JSON Schema, choice or regex format as ``response_format`` ``json_schema`` (strict), its answer
validated again here; a forced tool call as ``tools`` + ``tool_choice``; tool calls and
``reasoning_content`` come back as the ``<tool_call>`` / ``<think>`` text the rest of edgeqwen
parses. Every library or HTTP failure becomes an :class:`~edgeqwen.errors.EdgeQwenError` in one
place (:func:`_errors`).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..chat import ChatTemplate
from ..errors import (
    BackendUnavailableError,
    EdgeQwenError,
    InvalidRequestError,
    ModelNotFoundError,
    map_exceptions,
)
from ..generation_config import GenerationConfig
from ..tokenizer import Tokenizer, byte_level_tokenizer
from ..types import Chunk, Message, Metrics, check_api_key
from .base import Backend, BasicInfo, Request

__all__ = ["DEFAULT_CONTEXT", "OpenAIBackend"]

DEFAULT_CONTEXT = 32768  # what the remote model takes, when not told (Qwen2.5 and Qwen3's)
_INSTALL = "The openai backend needs httpx: pip install 'edgeqwen[openai]'."
# Sent only when not these: llama.cpp's and vLLM's servers read the first three, llama.cpp's
# typical_p too, text-generation-webui's and TabbyAPI's temperature_last, KoboldCpp's top_a and
# tfs, an edgeqwen server all of them and sampler_order as names (prompt_lookup only changes how
# fast the same answer comes).
_EXTENSIONS = {
    "top_k": 0, "min_p": 0.0, "repetition_penalty": 1.0, "typical_p": 1.0, "temperature_last": False,
    "top_a": 0.0, "tfs": 1.0, "sampler_order": None, "prompt_lookup": 0,
}  # fmt: skip


class OpenAIBackend(Backend):
    name = "openai"
    supports_logits_processors = False  # decoding happens on the server
    supports_response_format = True
    supports_prefix_cache = False  # the server's own cache, if any, is its business
    streams_token_ids = False
    renders_prompt = True
    remote = True

    def __init__(
        self,
        model_path: str | Path,
        *,
        context_length: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
    ) -> None:
        """``model_path`` is the server's model id; ``base_url`` (else ``$OPENAI_BASE_URL``) is
        its API root (e.g. ``http://127.0.0.1:8080/v1``); ``client`` an ``httpx.Client`` to use
        instead of a new one (a proxy, a ``MockTransport`` in tests)."""
        self.check_available()
        import httpx

        if threads is not None or device is not None:
            raise InvalidRequestError("threads and device are for local backends; the server chooses its own.")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise InvalidRequestError(
                "backend='openai' needs the server's address: base_url='http://HOST:PORT/v1' (or OPENAI_BASE_URL).",
                "base_url",
            )
        try:  # checked now: a malformed one was an httpx.InvalidURL traceback at the first answer
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise InvalidRequestError(
                f"base_url {base_url!r} is not a URL ({exc}); give the server's API root, e.g. http://127.0.0.1:8080/v1.",
                "base_url",
            ) from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidRequestError(
                f"base_url {base_url!r} is not an http(s) address; give the server's API root, e.g. "
                "http://127.0.0.1:8080/v1.",
                "base_url",
            )
        self.model_id = str(model_path)
        self.base_url = base_url.rstrip("/")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            check_api_key(key)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = client or httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0))
        self._headers = headers
        self._context = context_length or DEFAULT_CONTEXT
        self.tokenizer = Tokenizer(byte_level_tokenizer())
        start, end = self.tokenizer.token_id("<|im_start|>"), self.tokenizer.token_id("<|im_end|>")
        self.template = ChatTemplate("remote", None, start, end)
        self.info = BasicInfo(self.model_id, None, self.tokenizer.vocab_size, self._context)
        self._lock = threading.Lock()

    @classmethod
    def check_available(cls) -> None:
        try:
            import httpx  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailableError(_INSTALL) from exc

    @property
    def context_length(self) -> int:
        return self._context

    # -- the request --------------------------------------------------------------------------------
    def body(self, request: Request) -> dict[str, Any]:
        """The ``/chat/completions`` body for ``request``."""
        if request.processors:
            raise InvalidRequestError(
                "The openai backend decodes on the server and cannot run logits processors (e.g. a policy's "
                "banned_phrases); use blocklist (an output filter) instead."
            )
        if not request.messages:
            raise InvalidRequestError("The openai backend needs the conversation as messages (Request.messages).")
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": [_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            **_sampling(request.config),
        }
        tools = [{"type": "function", "function": t.get("function", t)} for t in request.tools]
        fmt = request.response_format
        if fmt is not None and fmt.kind == "tool_call":
            tools = [{"type": "function", "function": fn} for fn in fmt.tools]
            only = {"type": "function", "function": {"name": fmt.tools[0]["name"]}}
            body["tool_choice"] = "required" if len(fmt.tools) > 1 else only
        elif fmt is not None:
            schema, _ = fmt.json_schema_form()
            spec = {"name": "answer", "schema": schema, "strict": True}
            body["response_format"] = {"type": "json_schema", "json_schema": spec}
        if tools:
            body["tools"] = tools
            if fmt is None and request.tool_choice == "none":  # its default is "auto"
                body["tool_choice"] = "none"
        if request.thinking:
            body["chat_template_kwargs"] = {"enable_thinking": True}
        return body

    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Chunk]:
        body = self.body(request)  # a request the server cannot take fails here, before any chunk
        unwrap = None
        fmt = request.response_format
        if fmt is not None and fmt.kind in ("choice", "regex"):
            unwrap = fmt.json_schema_form()[1]
        return self._generate(body, unwrap, cancel)

    # -- the answer ----------------------------------------------------------------------------------
    def _generate(self, body: dict[str, Any], unwrap: Any, cancel: threading.Event | None) -> Iterator[Chunk]:
        start = time.perf_counter()
        first: float | None = None
        answer, finish, usage = _Deltas(), None, None
        url = f"{self.base_url}/chat/completions"
        with (
            self._lock,
            _errors(self.base_url),
            self._client.stream("POST", url, json=body, headers=self._headers) as r,
        ):
            if r.status_code >= 400:
                r.read()
                raise _http_error(r.status_code, _error_message(r.text), self.base_url)
            for event in _sse(r.iter_lines()):
                if "error" in event:
                    raise EdgeQwenError(f"The server failed while answering: {_error_message(json.dumps(event))}")
                usage = event.get("usage") or usage
                for choice in event.get("choices") or ():
                    text = answer.feed(choice.get("delta") or {})
                    if text:
                        first = first or time.perf_counter()
                        if unwrap is None:
                            yield Chunk(text)
                    finish = choice.get("finish_reason") or finish
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
        end = time.perf_counter()
        reason = _FINISH.get(finish or "", "cancelled")
        tail = answer.tail(unwrap)
        yield Chunk(tail, finish_reason=reason, metrics=_metrics(usage, start, first, end, reason))

    def close(self) -> None:
        self._client.close()


_FINISH = {"stop": "stop", "tool_calls": "stop", "length": "length", "content_filter": "filtered"}


class _Deltas:
    """The streamed deltas as the text the rest of edgeqwen parses: ``reasoning_content`` inside
    ``<think>…</think>``, tool calls (their arguments arrive in pieces) as ``<tool_call>`` blocks."""

    def __init__(self) -> None:
        self.thinking = False
        self.held: list[str] = []  # everything, for a format whose JSON is unwrapped at the end
        self.calls: dict[int, dict[str, str]] = {}

    def feed(self, delta: dict[str, Any]) -> str:
        text = ""
        if delta.get("reasoning_content"):
            text += ("" if self.thinking else "<think>\n") + delta["reasoning_content"]
            self.thinking = True
        if delta.get("content"):
            text += ("\n</think>\n\n" if self.thinking else "") + delta["content"]
            self.thinking = False
        for call in delta.get("tool_calls") or ():
            slot = self.calls.setdefault(call.get("index", 0), {"name": "", "arguments": ""})
            fn = call.get("function") or {}
            slot["name"] += fn.get("name") or ""
            slot["arguments"] += fn.get("arguments") or ""
        self.held.append(text)
        return text

    def tail(self, unwrap: Any) -> str:
        """What ends the answer: a thinking block still open, the unwrapped value, the tool calls."""
        out = "\n</think>\n\n" if self.thinking else ""
        if unwrap is not None and "".join(self.held):
            out += unwrap("".join(self.held))
        for slot in self.calls.values():
            call = f'{{"name": {json.dumps(slot["name"])}, "arguments": {slot["arguments"] or "{}"}}}'
            out += f"<tool_call>\n{call}\n</tool_call>"
        return out


def _message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)},
            }
            for i, c in enumerate(m.tool_calls)
        ]
    return out


def _sampling(config: GenerationConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
    }
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(config, name):
            out[name] = getattr(config, name)
    for name, neutral in _EXTENSIONS.items():
        if getattr(config, name) != neutral:
            out[name] = getattr(config, name)
    if config.penalty_slope != 1.0:  # KoboldCpp's name, which an edgeqwen server reads too
        out["rep_pen_slope"] = config.penalty_slope
    if config.seed is not None:
        out["seed"] = config.seed
    if config.prediction:  # OpenAI's Predicted Outputs, which edgeqwen serve reads too
        out["prediction"] = {"type": "content", "content": config.prediction}
    if config.logit_bias:  # the ids are this model's; the server's must be the same tokenizer's
        out["logit_bias"] = {str(t): b for t, b in config.logit_bias}
    if config.stop:
        out["stop"] = list(config.stop)
    return out


def _sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON events of a server-sent event stream, up to ``[DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise EdgeQwenError(f"The server sent an event that is not JSON: {data[:200]!r}.") from exc
        if isinstance(event, dict):
            yield event


def _error_message(text: str) -> str:
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return text.strip()[:300] or "no message"
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        return str(error.get("message") or error)[:500]
    return str(error)[:500]


def _http_error(status: int, message: str, base_url: str) -> EdgeQwenError:
    """An HTTP error status as ours: the server's message, and what to do."""
    if status in (401, 403):
        return InvalidRequestError(f"The server at {base_url} refused the API key ({message}); pass api_key=.")
    if status == 404:
        return ModelNotFoundError(f"The server at {base_url} answered 404: {message}. Check the model id and base_url.")
    if status == 429:
        return EdgeQwenError(f"The server at {base_url} is busy (429: {message}); retry shortly.")
    if 400 <= status < 500:
        return InvalidRequestError(f"The server rejected the request ({status}): {message}")
    return EdgeQwenError(f"The server at {base_url} failed ({status}): {message}")


@contextlib.contextmanager
def _errors(base_url: str) -> Iterator[None]:
    """httpx's exceptions as ours (the one place they are translated)."""
    import httpx

    with map_exceptions(
        {
            httpx.ConnectError: lambda exc: BackendUnavailableError(
                f"Cannot reach the server at {base_url} ({exc}); is it running, and is base_url right?"
            ),
            httpx.TimeoutException: lambda exc: EdgeQwenError(f"The server at {base_url} timed out ({exc})."),
            httpx.HTTPError: lambda exc: EdgeQwenError(f"The connection to {base_url} failed: {exc}"),
        }
    ):
        yield


def _metrics(usage: dict[str, Any] | None, start: float, first: float | None, end: float, reason: str) -> Metrics:
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    generated = int(usage.get("completion_tokens") or 0)
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    ttft = (first or end) - start
    return Metrics(
        prompt_tokens=prompt,
        cached_tokens=cached,
        prefill_tokens=prompt - cached,
        generated_tokens=generated,
        ttft_s=ttft,
        prefill_s=ttft,
        decode_s=max(0.0, end - (first or end)),
        finish_reason=reason,  # type: ignore[arg-type]
    )
