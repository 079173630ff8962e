"""Chat messages written as OpenAI's chat-completions dicts (``{"role": "user", "content": ...}``),
read into :class:`Message`: what the HTTP server is sent, and what Python code written for any
OpenAI-style API (or transformers' chat templates) hands :class:`Assistant`.

Only what changes the prompt is read: role (``developer`` is a system message, as OpenAI means
it), text content (a string or text parts; an image or audio part is refused, never dropped), an
assistant's ``tool_calls`` and ``reasoning_content``. A tool message's ``tool_call_id`` and any
``name`` are not: Qwen's templates write tool results in order, without them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidRequestError
from .jsontext import load_json
from .types import Message, ToolCall, check_text

__all__ = ["MessageLike", "content_text", "conversation_dict", "conversation_of", "message_dict", "message_of"]

# what the Python API takes as a message: ours, or a dict in OpenAI's shape
MessageLike = Message | Mapping[str, Any]

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}


def message_of(value: object, where: str = "message") -> Message:
    """One message dict as a :class:`Message`; an InvalidRequestError naming the field otherwise."""
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"{where} must be an object with role and content.", where)
    given = value.get("role")
    role = _ROLES.get(given) if isinstance(given, str) else None  # a list or an object as the role is no role
    if role is None:
        raise InvalidRequestError(
            f"{where}.role must be one of system, developer, user, assistant, tool; got {given!r:.80}.",
            f"{where}.role",
        )
    content = content_text(value.get("content"), f"{where}.content")
    calls = _tool_calls(value.get("tool_calls"), f"{where}.tool_calls") if role == "assistant" else ()
    thinking = value.get("reasoning_content") if role == "assistant" else None
    try:
        return Message(role, content, thinking=thinking if isinstance(thinking, str) else "", tool_calls=calls)
    except InvalidRequestError as exc:
        raise InvalidRequestError(str(exc), where) from None


def content_text(value: object, where: str) -> str:
    """A message's content (None, a string or a list of text parts) as its text."""
    if value is None:
        return ""
    if isinstance(value, (str, bytes, bytearray, memoryview)):  # bytes: told to decode them
        return check_text(value, where)
    if isinstance(value, list):  # content parts: only text is understood
        texts = []
        for j, part in enumerate(value):
            if not isinstance(part, Mapping) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                raise InvalidRequestError(
                    f"{where}[{j}] is a {kind!r} part; edgeqwen takes text only ({{'type': 'text', 'text': ...}}).",
                    where,
                )
            texts.append(check_text(part["text"], f"{where}[{j}].text"))
        return "".join(texts)
    raise InvalidRequestError(f"{where} must be a string or a list of text parts.", where)


def _tool_calls(value: object, where: str) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRequestError(f"{where} must be a list.", where)
    calls = []
    for j, call in enumerate(value):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequestError(f"{where}[{j}] needs function.name and function.arguments.", f"{where}[{j}]")
        args = fn.get("arguments", "{}")
        if isinstance(args, str):
            try:
                args = load_json(args or "{}")
            except json.JSONDecodeError as exc:
                raise InvalidRequestError(
                    f"{where}[{j}].function.arguments is not valid JSON ({exc.msg}).", f"{where}[{j}]"
                ) from exc
        if not isinstance(args, dict):
            raise InvalidRequestError(f"{where}[{j}].function.arguments must be a JSON object.", f"{where}[{j}]")
        calls.append(ToolCall(fn["name"], args))
    return tuple(calls)


def message_dict(message: Message) -> dict[str, Any]:
    """``message`` as OpenAI's chat-completions dict, what :func:`message_of` reads back to the same
    message (a saved conversation, a request to another server): role and content, an assistant's
    ``tool_calls`` with their arguments as JSON text and its thinking as ``reasoning_content``."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
            for c in message.tool_calls
        ]
    if message.thinking:
        out["reasoning_content"] = message.thinking
    return out


def conversation_dict(system: str | None, history: Sequence[Message]) -> dict[str, Any]:
    """A conversation as ``edgeqwen chat``'s /save writes it: ``{"system": ..., "messages": [...]}``,
    the messages as OpenAI's dicts (the shape of a chat-completions request, less the model)."""
    return {"system": system, "messages": [message_dict(m) for m in history]}


def conversation_of(value: object) -> tuple[str | None, list[Message]]:
    """A saved conversation read back: what :func:`conversation_dict` writes, a chat-completions
    request body, or a bare list of message dicts; a first system (or developer) message is the
    system prompt. The system prompt is None where none is given."""
    if isinstance(value, Mapping):
        system, listed, where = value.get("system"), value.get("messages"), "messages"
        if system is not None and not isinstance(system, str):
            raise InvalidRequestError(f"system must be text or null, got {type(system).__name__}.", "system")
    else:
        system, listed, where = None, value, "conversation"
    if not isinstance(listed, list):
        raise InvalidRequestError(
            'A conversation is {"system": ..., "messages": [...]} or a list of {"role", "content"} messages.', where
        )
    messages = [message_of(m, f"{where}[{i}]") for i, m in enumerate(listed)]
    first = 1 if messages and messages[0].role == "system" and system is None else 0
    if first:
        system = messages[0].content
    for i, m in enumerate(messages[first:], first):
        if m.role == "system":
            raise InvalidRequestError(
                f'{where}[{i}] is a system message: a conversation has one system prompt, its "system" or '
                "its first message.",
                f"{where}[{i}]",
            )
    return system, messages[first:]
