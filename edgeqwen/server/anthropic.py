"""Anthropic's Messages API (``POST /v1/messages``, ``POST /v1/messages/count_tokens``): the same
answers as chat completions, for the clients that speak only it (the ``anthropic`` SDKs, and the
apps and agents built on them), as llama.cpp's server and Ollama serve it.

A request is translated to the chat-completions body :func:`~.protocol.parse_chat_request`
checks, so every endpoint takes one set of rules; a reply goes back as a ``message`` or as its
stream of events. Decisions, where this server cannot follow the API:

- Text only: an image or document block is a 400; server tools (web search, code execution, the
  computer, bash and text-editor tools Anthropic runs) are a 400 naming them.
- Qwen3's thinking comes back as a ``thinking`` block with an empty ``signature`` (nothing signs
  it); ``thinking: {"type": "enabled"}`` turns it on, its ``budget_tokens`` bounding it,
  ``"adaptive"`` turns it on where the model can think. ``output_config.format`` (structured
  outputs) is a JSON Schema the answer is held to, as ``response_format`` is; a system message in
  the conversation is a system turn where it is.
- ``usage.input_tokens`` counts the prompt tokens not read from the cache, as Anthropic's does
  (``cache_read_input_tokens`` the others); a stream's ``message_start`` says the whole prompt, and
  its ``message_delta`` both counts, at the end.
- ``stop_sequence`` names the stop string that ended an answer where our own loop ran it
  (llama.cpp, ONNX); an answer a remote server or MLC stopped says ``end_turn``.
- Errors have Anthropic's shape, ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..aio import AsyncReplyStream
from ..types import Reply
from .http import HTTPError, authorize, read_body, typed_events, until_disconnect
from .protocol import ChatRequest, RequestError, parse_chat_request

if TYPE_CHECKING:
    from .app import _App

__all__ = ["MessageEvents", "anthropic_routes", "message_body", "message_id", "parse_messages_request"]

_SERVER_TOOLS = "a tool Anthropic's servers run (web search, code execution, computer, bash, text editor)"
_STOP = {"stop": "end_turn", "length": "max_tokens", "refused": "refusal", "filtered": "refusal"}


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """A message's content as blocks (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise RequestError(f"{where} must be a string or a list of content blocks.", where)
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise RequestError(f"{where}[{j}] must be a content block with a type.", f"{where}[{j}]")
    return content


def _text(block: dict[str, Any], where: str) -> str:
    kind = block["type"]
    if kind == "text" and isinstance(block.get("text"), str):
        return block["text"]
    if kind in ("image", "document", "search_result"):
        raise RequestError(f"{where} is a {kind!r} block; this server's models read text only.", where)
    raise RequestError(f"{where} is a {kind!r} block, which this server cannot read here.", where)


def _joined(content: Any, where: str) -> str:
    """Content that may only be text (a string or text blocks), as one string."""
    return "".join(_text(block, f"{where}[{k}]") for k, block in enumerate(_blocks(content, where)))


def _tool_result(block: dict[str, Any], where: str) -> dict[str, Any]:
    text = _joined(block.get("content", ""), f"{where}.content")
    if block.get("is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "content": text, "tool_call_id": block.get("tool_use_id")}


def _message(message: Any, i: int) -> list[dict[str, Any]]:
    """One Anthropic message as chat messages: a user message's tool results become tool messages
    (before its text), an assistant message's tool_use blocks its tool calls."""
    where = f"messages[{i}]"
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant", "system"):
        got = message.get("role") if isinstance(message, dict) else type(message).__name__
        raise RequestError(f"{where}.role must be user, assistant or system; got {got!r}.", f"{where}.role")
    if message["role"] == "system":  # in the conversation (Claude Code sends one): a system turn where it is
        return [{"role": "system", "content": _joined(message.get("content"), f"{where}.content")}]
    role, texts, calls, results, thinking = message["role"], [], [], [], ""
    for j, block in enumerate(_blocks(message.get("content"), f"{where}.content")):
        at, kind = f"{where}.content[{j}]", block["type"]
        if kind == "tool_result" and role == "user":
            results.append(_tool_result(block, at))
        elif kind == "tool_use" and role == "assistant":
            arguments = json.dumps(block.get("input", {}), ensure_ascii=False)
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
        elif kind == "thinking" and role == "assistant":
            thinking += block.get("thinking") or ""
        elif kind == "redacted_thinking":
            continue  # another model's, encrypted: nothing to read
        else:
            texts.append(_text(block, at))
    out: list[dict[str, Any]] = list(results)
    if role == "assistant":
        answer: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
        if calls:
            answer["tool_calls"] = calls
        if thinking:
            answer["reasoning_content"] = thinking
        out.append(answer)
    elif texts or not results:
        out.append({"role": "user", "content": "".join(texts)})
    return out


def _tools(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise RequestError("tools must be a list of tools ({name, description, input_schema}).", "tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom") or "input_schema" not in tool:
            kind = tool.get("type") if isinstance(tool, dict) else type(tool).__name__
            raise RequestError(
                f"tools[{i}] is {_SERVER_TOOLS} ({kind!r}), or no tool; this server runs client tools only "
                "({'name': ..., 'description': ..., 'input_schema': {...}}): leave it out.",
                f"tools[{i}]",
            )
        fn = {"name": tool.get("name"), "description": tool.get("description", ""), "parameters": tool["input_schema"]}
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(value: Any, chat: dict[str, Any]) -> None:
    if value is None:
        return
    kind = value.get("type") if isinstance(value, dict) else None
    kind = kind if isinstance(kind, str) else None  # a list as the type is no type (not a 500: unhashable)
    choices = {"auto": "auto", "any": "required", "none": "none"}
    if kind in choices:
        chat["tool_choice"] = choices[kind]
    elif kind == "tool":
        chat["tool_choice"] = {"type": "function", "function": {"name": value.get("name")}}
    else:
        raise RequestError('tool_choice must be {"type": "auto" | "any" | "tool" | "none"}.', "tool_choice")
    if value.get("disable_parallel_tool_use"):
        chat["parallel_tool_calls"] = False


def parse_messages_request(body: Any, max_tokens_limit: int) -> ChatRequest:
    """Check a decoded ``/v1/messages`` body and turn it into the :class:`ChatRequest` it asks for."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    if body.get("mcp_servers"):
        raise RequestError("mcp_servers is not supported: this server runs no MCP servers itself.", "mcp_servers")
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None:
        messages.append({"role": "system", "content": _joined(system, "system")})
    given = body.get("messages")
    if not isinstance(given, list) or not given:
        raise RequestError("messages must be a non-empty list of {role, content} objects.", "messages")
    for i, message in enumerate(given):
        messages += _message(message, i)
    chat: dict[str, Any] = {k: body[k] for k in ("model", "temperature", "top_p", "top_k", "stream") if k in body}
    chat["messages"] = messages
    if "max_tokens" not in body:
        raise RequestError("max_tokens is required: the most tokens the answer may have.", "max_tokens")
    chat["max_tokens"] = body["max_tokens"]
    if body.get("stop_sequences") is not None:
        chat["stop"] = body["stop_sequences"]
    tools = _tools(body)
    if tools is not None:
        chat["tools"] = tools
    _tool_choice(body.get("tool_choice"), chat)
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind in ("enabled", "disabled"):
        chat["enable_thinking"] = kind == "enabled"
        if kind == "enabled" and thinking.get("budget_tokens") is not None:
            chat["thinking_budget"] = thinking["budget_tokens"]
    elif kind == "adaptive":  # the model decides (Claude Code's default): thinking where the model can
        chat["reasoning_effort"] = "medium"
    config = body.get("output_config")
    if config is not None and not isinstance(config, dict):
        raise RequestError(
            'output_config must be an object: {"format": {"type": "json_schema", ...}}.', "output_config"
        )
    fmt = (config or {}).get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":  # structured outputs
        chat["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fmt.get("schema")},
        }
    elif fmt is not None:
        raise RequestError(
            'output_config.format must be {"type": "json_schema", "schema": {...}}.', "output_config.format"
        )
    return parse_chat_request(chat, max_tokens_limit)


# -- the answer ---------------------------------------------------------------------------------
def message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def _usage(reply: Reply) -> dict[str, int]:
    m = reply.metrics
    return {
        "input_tokens": m.prompt_tokens - m.cached_tokens,
        "cache_read_input_tokens": m.cached_tokens,
        "cache_creation_input_tokens": 0,
        "output_tokens": m.generated_tokens,
    }


def _stop(reply: Reply) -> tuple[str, str | None]:
    """The stop reason, and the stop sequence that ended the answer."""
    if reply.tool_calls and reply.finish_reason == "stop":
        return "tool_use", None
    if reply.finish_reason == "stop_string":
        return "stop_sequence", reply.metrics.stop_sequence
    return _STOP.get(reply.finish_reason or "", "end_turn"), None


def _calls(reply: Reply, request: ChatRequest) -> list[dict[str, Any]]:
    calls = reply.tool_calls if request.parallel_tool_calls else reply.tool_calls[:1]
    return [
        {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": c.name, "input": c.arguments}
        for c in calls
    ]


def _shell(mid: str, model: str) -> dict[str, Any]:
    return {"id": mid, "type": "message", "role": "assistant", "model": model, "content": []}


def message_body(mid: str, model: str, reply: Reply, request: ChatRequest) -> dict[str, Any]:
    """The whole ``message`` for a finished reply."""
    content: list[dict[str, Any]] = []
    if reply.thinking:
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": ""})
    if reply.text or not reply.tool_calls:
        content.append({"type": "text", "text": reply.text})
    content += _calls(reply, request)
    stop, sequence = _stop(reply)
    return {
        **_shell(mid, model),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": sequence,
        "usage": _usage(reply),
    }


class MessageEvents:
    """A message's stream, as Anthropic's server sends it: ``started()``, then ``thought(piece)``
    and ``text(piece)`` as the answer comes (each a ``content_block_delta`` of its open block),
    ``finished(reply)`` last (the tool calls, each whole in one ``input_json_delta``, then
    ``message_delta`` with the stop reason and usage, and ``message_stop``)."""

    def __init__(self, mid: str, model: str, request: ChatRequest, prompt_tokens: int = 0) -> None:
        self.mid, self.model, self.request, self.prompt_tokens = mid, model, request, prompt_tokens
        self.index = -1  # the open block's
        self.open: str | None = None  # its type

    @staticmethod
    def _event(kind: str, **fields: Any) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields}, ensure_ascii=False)}\n\n"

    def started(self) -> str:
        message = {**_shell(self.mid, self.model), "stop_reason": None, "stop_sequence": None}
        # the prompt's length (what the cache held is known at the end: message_delta says both)
        message["usage"] = {"input_tokens": self.prompt_tokens, "output_tokens": 0}
        return self._event("message_start", message=message)

    def _close(self) -> str:
        if self.open is None:
            return ""
        out = (
            self._event("content_block_delta", index=self.index, delta={"type": "signature_delta", "signature": ""})
            if self.open == "thinking"
            else ""
        )
        self.open = None
        return out + self._event("content_block_stop", index=self.index)

    def _block(self, kind: str, block: dict[str, Any]) -> str:
        if self.open == kind:
            return ""
        out = self._close()
        self.index += 1
        self.open = kind
        return out + self._event("content_block_start", index=self.index, content_block=block)

    def thought(self, piece: str) -> str:
        out = self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        return out + self._event(
            "content_block_delta", index=self.index, delta={"type": "thinking_delta", "thinking": piece}
        )

    def text(self, piece: str) -> str:
        out = self._block("text", {"type": "text", "text": ""})
        return out + self._event("content_block_delta", index=self.index, delta={"type": "text_delta", "text": piece})

    def finished(self, reply: Reply) -> str:
        out = ""
        if reply.thinking and self.index < 0:  # not streamed (a stop rule ended it): whole, first
            out += self.thought(reply.thinking)
        if self.open != "text" and (reply.finish_reason == "refused" or not reply.tool_calls) and reply.text:
            out += self.text(reply.text)  # a refusal, or text the filters held to the end
        out += self._close()
        for call in _calls(reply, self.request):
            arguments = json.dumps(call["input"], ensure_ascii=False)
            out += self._block("tool_use", {**call, "input": {}})
            out += self._event(
                "content_block_delta", index=self.index, delta={"type": "input_json_delta", "partial_json": arguments}
            )
            out += self._close()
        stop, sequence = _stop(reply)
        out += self._event("message_delta", delta={"stop_reason": stop, "stop_sequence": sequence}, usage=_usage(reply))
        return out + self._event("message_stop")

    def failed(self, error: HTTPError) -> str:
        return self._event("error", error=_error(error))

    def keepalive(self) -> str:
        return self._event("ping")  # Anthropic's own, which its clients read and pass over


# -- the routes ---------------------------------------------------------------------------------
def _error(error: HTTPError) -> dict[str, str]:
    """An error as Anthropic writes one; its kind's name as OpenAI's but for the server's own."""
    return {"type": "api_error" if error.kind == "server_error" else error.kind, "message": str(error)}


def _refused(error: HTTPError, mid: str, request: ChatRequest) -> str:
    """Refused after the stream began (it waited in line): Anthropic's error event, as its server
    sends an overload in a stream."""
    return MessageEvents._event("error", error=_error(error))


def _failed(error: HTTPError) -> Response:
    return JSONResponse({"type": "error", "error": _error(error)}, status_code=error.status)


def anthropic_routes(app: _App) -> list[Route]:
    """``POST /v1/messages`` and ``/v1/messages/count_tokens`` over the OpenAI app's state."""

    def whole(mid: str, replies: list[Reply], request: ChatRequest) -> dict[str, Any]:
        return message_body(mid, app.model_id, replies[0], request)

    def streamed(generation: AsyncReplyStream, mid: str, request: ChatRequest, seed: int) -> AsyncIterator[str]:
        events = MessageEvents(mid, app.model_id, request, generation.prompt_tokens)
        return typed_events(generation, events, every=app.settings.keepalive_s)

    async def messages(request: Request) -> Response:
        return await app.answer(request, parse_messages_request, message_id, whole, streamed, _failed, _refused)

    async def count_tokens(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            body = await read_body(request, app.settings)
            asked = parse_messages_request({"max_tokens": 1, **body} if isinstance(body, dict) else body, 1)
            count = await until_disconnect(request, app.worker.prompt_tokens(asked))
        except Exception as exc:
            return app.failed(exc, _failed)
        return app.answered({"input_tokens": count})

    return [
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    ]
