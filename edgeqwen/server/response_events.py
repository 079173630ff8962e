"""What OpenAI's Responses API sends back: a ``response`` object for a finished reply
(:func:`response_body`), or its stream of events as OpenAI's server sends them
(:class:`ResponseEvents`). Pure functions on our types; the request is :mod:`.responses`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..types import Reply
from .bodies import logprobs_body
from .http import HTTPError
from .responses import ResponsesRequest

__all__ = ["ResponseEvents", "response_body", "response_id"]


def response_id() -> str:
    return f"resp_{uuid.uuid4().hex[:24]}"


def _item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _status(reply: Reply) -> tuple[str, dict[str, str] | None]:
    if reply.finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if reply.finish_reason == "filtered":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _usage(reply: Reply) -> dict[str, Any]:
    m = reply.metrics
    return {
        "input_tokens": m.prompt_tokens,
        "input_tokens_details": {"cached_tokens": m.cached_tokens},
        "output_tokens": m.generated_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": m.prompt_tokens + m.generated_tokens,
    }


def _text_part(reply: Reply) -> dict[str, Any]:
    if reply.finish_reason == "refused":  # the policy refused the request: OpenAI's refusal part
        return {"type": "refusal", "refusal": reply.text}
    part: dict[str, Any] = {"type": "output_text", "text": reply.text, "annotations": []}
    lp = logprobs_body(reply)
    if lp is not None:
        part["logprobs"] = lp["content"]
    return part


def _message(item_id: str, part: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": [part]}


def _reasoning(text: str, item_id: str | None = None, status: str = "completed") -> dict[str, Any]:
    """Qwen3's thinking as a ``reasoning`` item: the text whole, as open-weight models' servers give it."""
    content = [{"type": "reasoning_text", "text": text}] if text else []
    return {"type": "reasoning", "id": item_id or _item_id("rs"), "summary": [], "content": content, "status": status}


def _call(name: str, arguments: str, namespaces: tuple[str, ...]) -> dict[str, Any]:
    item = {"type": "function_call", "id": _item_id("fc"), "call_id": f"call_{uuid.uuid4().hex[:24]}", "name": name}
    space, _, inner = name.partition(".")
    if inner and space in namespaces:
        item.update(name=inner, namespace=space)
    return {**item, "arguments": arguments, "status": "completed"}


def _calls(reply: Reply, request: ResponsesRequest) -> list[dict[str, Any]]:
    """The function calls that follow the message."""
    return [
        _call(call.name, json.dumps(call.arguments, ensure_ascii=False), request.namespaces)
        for call in (reply.tool_calls if request.parallel_tool_calls else reply.tool_calls[:1])
    ]


def _shell(rid: str, model: str, created: int, request: ResponsesRequest, status: str) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": request.parallel_tool_calls,
        "tool_choice": request.tool_choice
        if isinstance(request.tool_choice, str)
        else {"type": "function", "name": request.tool_choice.get("name")},
        "tools": [{"type": "function", **t.get("function", t)} for t in request.tools or ()],
        "text": {"format": request.response_format or {"type": "text"}},
        "store": request.store,
        "previous_response_id": request.previous_response_id,
        "conversation": {"id": request.conversation} if request.conversation is not None else None,
        "truncation": request.truncation,
        "instructions": request.instructions,
        "usage": None,
    }


def _finished(shell: dict[str, Any], reply: Reply, output: list[dict[str, Any]]) -> dict[str, Any]:
    status, details = _status(reply)
    return {**shell, "status": status, "incomplete_details": details, "output": output, "usage": _usage(reply)}


def response_body(rid: str, model: str, reply: Reply, request: ResponsesRequest) -> dict[str, Any]:
    """The whole ``response`` object for a finished reply."""
    shell = _shell(rid, model, int(time.time()), request, "completed")
    output = [_reasoning(reply.thinking)] if reply.thinking else []  # the thinking first, as it was written
    if reply.text or not reply.tool_calls:
        output.append(_message(_item_id("msg"), _text_part(reply)))
    return _finished(shell, reply, output + _calls(reply, request))


class ResponseEvents:
    """The stream of a response, event by event, as OpenAI's server sends it: ``started()`` first,
    ``thought(piece)`` for each piece of the thinking (a ``reasoning`` item, its text streamed as
    ``response.reasoning_text.delta`` events, as open-weight models' servers send it), ``text(piece)``
    for each piece of the answer, ``finished(reply)`` last. Each returns the SSE lines to send."""

    def __init__(self, rid: str, model: str, request: ResponsesRequest) -> None:
        self.shell = _shell(rid, model, int(time.time()), request, "in_progress")
        self.request = request
        self.sequence = 0
        self.output: list[dict[str, Any]] = []  # the items done so far
        self.message_id: str | None = None
        self.reasoning_id: str | None = None  # the thinking's item while it is open
        self.thinking = ""
        self.done: dict[str, Any] | None = None  # the response, once finished

    def _event(self, kind: str, **fields: Any) -> str:
        body = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(body, ensure_ascii=False)}\n\n"

    def started(self) -> str:
        return self._event("response.created", response=self.shell) + self._event(
            "response.in_progress", response=self.shell
        )

    def _at(self, item_id: str | None) -> dict[str, Any]:
        """Where an open item's text is: its one content part, after the items done."""
        return {"item_id": item_id, "output_index": len(self.output), "content_index": 0}

    def thought(self, piece: str) -> str:
        out = ""
        if self.reasoning_id is None:
            self.reasoning_id = _item_id("rs")
            item = _reasoning("", self.reasoning_id, "in_progress")
            out += self._event("response.output_item.added", output_index=len(self.output), item=item)
            empty = {"type": "reasoning_text", "text": ""}
            out += self._event("response.content_part.added", **self._at(self.reasoning_id), part=empty)
        self.thinking += piece
        return out + self._event("response.reasoning_text.delta", **self._at(self.reasoning_id), delta=piece)

    def _close_reasoning(self) -> str:
        if self.reasoning_id is None:
            return ""
        at, part = self._at(self.reasoning_id), {"type": "reasoning_text", "text": self.thinking}
        item = _reasoning(self.thinking, self.reasoning_id)
        out = self._event("response.reasoning_text.done", **at, text=self.thinking)
        out += self._event("response.content_part.done", **at, part=part)
        out += self._event("response.output_item.done", output_index=at["output_index"], item=item)
        self.output.append(item)
        self.reasoning_id = None
        return out

    def _open_message(self) -> str:
        out = self._close_reasoning()
        self.message_id = _item_id("msg")
        empty = {"type": "output_text", "text": "", "annotations": []}
        item = _message(self.message_id, empty, "in_progress")
        out += self._event("response.output_item.added", output_index=len(self.output), item=item)
        return out + self._event("response.content_part.added", **self._at(self.message_id), part=empty)

    def text(self, piece: str) -> str:
        out = self._open_message() if self.message_id is None else ""
        return out + self._event("response.output_text.delta", **self._at(self.message_id), delta=piece, logprobs=[])

    def finished(self, reply: Reply) -> str:
        late = reply.thinking if reply.thinking and not self.thinking else ""  # not streamed (a stop rule ended it)
        if late and self.message_id is None:  # whole, in its place before the message
            out = self.thought(late) + self._close_reasoning()
            late = ""
        else:
            out = self._close_reasoning()
        if self.message_id is not None or reply.text or not reply.tool_calls:
            if self.message_id is None:
                out += self._open_message()
            part, at = _text_part(reply), self._at(self.message_id)
            if part["type"] == "output_text":
                out += self._event("response.output_text.done", **at, text=part["text"], logprobs=[])
            out += self._event("response.content_part.done", **at, part=part)
            message = _message(str(self.message_id), part)
            out += self._event("response.output_item.done", output_index=at["output_index"], item=message)
            self.output.append(message)
        for item in [_reasoning(late)] * bool(late) + _calls(reply, self.request):
            index = len(self.output)
            out += self._event("response.output_item.added", output_index=index, item={**item, "status": "in_progress"})
            if item["type"] == "function_call":
                arguments = item["arguments"]
                out += self._event(
                    "response.function_call_arguments.done", item_id=item["id"], output_index=index, arguments=arguments
                )
            out += self._event("response.output_item.done", output_index=index, item=item)
            self.output.append(item)
        done = self.done = _finished(self.shell, reply, self.output)
        kind = "response.completed" if done["status"] == "completed" else "response.incomplete"
        return out + self._event(kind, response=done)

    def keepalive(self) -> str:
        # OpenAI's own (openai-node reads it since 2026-07); Codex's idle timer counts events only
        return self._event("keepalive")

    def failed(self, failure: HTTPError) -> str:
        error = {"code": failure.code or failure.kind or "server_error", "message": str(failure)}
        return self._event("response.failed", response={**self.shell, "status": "failed", "error": error})
