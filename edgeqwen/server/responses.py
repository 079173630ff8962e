"""OpenAI's Responses API (``POST /v1/responses``): the same answers as chat completions.

A request is translated to the chat-completions body :func:`~.protocol.parse_chat_request`
checks, so both endpoints take one set of rules, and a reply goes back as a ``response`` object
or as its stream of events. Pure functions on dicts, as :mod:`.protocol`.

Decisions, where the API leaves room or this server cannot follow it:

- Responses are kept in memory (:mod:`.stored`), so ``previous_response_id`` continues one and
  an ``item_reference`` input reads an item of one (what the Vercel AI SDK sends for each earlier
  answer); so are conversations (:mod:`.conversations`), which ``conversation`` reads and grows.
- Function tools, and the functions of a ``namespace`` tool (offered as ``namespace.name``, their
  calls returned with the namespace apart); a tool of another type (web search, file search, code
  interpreter, MCP) is a 400 naming it. Text only: an image or file input part is a 400.
- ``reasoning`` items sent back as input are dropped (the model does not read its old thinking);
  ``include`` entries other than ``message.output_text.logprobs`` give nothing (there is no
  encrypted reasoning to give).
- Qwen3's thinking comes back as a ``reasoning`` item before the message, whose ``content`` holds
  the text; a stream sends it as it is written (``response.reasoning_text.delta``).

What goes back (a ``response`` object, its stream of events) is :mod:`.response_events`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Protocol

from ..errors import InvalidRequestError
from ..message_dicts import message_of
from ..types import Message
from .protocol import ChatRequest, RequestError, parse_chat_request

__all__ = ["Held", "Kept", "ResponsesRequest", "input_messages", "parse_responses_request"]

_PASSED = ("temperature", "top_p", "top_k", "min_p", "seed", "prompt_lookup", "parallel_tool_calls", "stream", "model")
_REFUSED = {
    "background": "this server answers in the foreground only",
    "prompt": "this server has no stored prompt templates: send instructions and input",
}
_ROLES = ("user", "system", "developer", "assistant")
_TEXT_PARTS = ("input_text", "output_text", "text")


class Kept(Protocol):
    """The responses a server keeps (:class:`~.stored.ResponseStore`)."""

    def conversation(self, rid: str) -> tuple[Message, ...]:
        """What response ``rid`` continues from, its answer last (an HTTPError where not kept)."""
        ...

    def item(self, item_id: str, where: str) -> dict[str, Any]:
        """An output item of a kept response (an HTTPError naming ``where`` where not kept)."""
        ...


class Held(Protocol):
    """The conversations a server keeps (:class:`~.conversations.ConversationStore`)."""

    def messages(self, cid: str) -> tuple[Message, ...]:
        """What a response in conversation ``cid`` reads before its input (an HTTPError where not kept)."""
        ...


# -- the request --------------------------------------------------------------------------------
def _text_of(content: Any, where: str) -> str:
    """A message's ``content``: a string, or a list of text parts (input_text / output_text)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RequestError(f"{where} must be a string or a list of input_text parts.", where)
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        if kind == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])
        elif kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
        else:
            raise RequestError(
                f"{where}[{j}] is a {kind!r} part; this server takes text only "
                "({'type': 'input_text', 'text': ...}).",
                f"{where}[{j}]",
            )
    return "".join(texts)


def _messages(body: dict[str, Any], kept: Kept | None, name: str = "input") -> tuple[list[dict[str, Any]], list[str]]:
    """The conversation as chat messages, and where in the request each came from (``name``: the
    field of the items, ``input`` or a conversation's ``items``)."""
    messages: list[dict[str, Any]] = []
    origin: list[str] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise RequestError("instructions must be a string.", "instructions")
        messages.append({"role": "system", "content": instructions})
        origin.append("instructions")
    given = body.get(name)
    if isinstance(given, str):
        return [*messages, {"role": "user", "content": given}], [*origin, name]
    if not isinstance(given, list) or not given:
        raise RequestError(
            f"{name} must be a string or a non-empty list of items (messages, function calls ...).", name
        )
    previous = None
    for i, item in enumerate(given):
        where = f"{name}[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"{where} must be an object (a message or a function call item).", where)
        if item.get("type") == "item_reference":
            item = _referred(item, where, kept)
        kind, before = item.get("type", "message"), previous
        previous = kind
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise RequestError(f"{where}.role must be one of {', '.join(_ROLES)}; got {role!r}.", f"{where}.role")
            messages.append({"role": role, "content": _text_of(item.get("content"), f"{where}.content")})
        elif kind == "function_call":
            name = _named(item.get("name"), item.get("namespace"))
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": name, "arguments": item.get("arguments", "{}")},
            }
            if before == "function_call":  # calls made together are one assistant turn
                messages[-1]["tool_calls"].append(call)
                continue
            messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append({"role": "tool", "content": _text_of(output, f"{where}.output")})
        elif kind == "reasoning":
            continue  # the model's old thinking: not read again (as chat completions drop it)
        else:
            raise RequestError(
                f"{where} is a {kind!r} item; this server takes messages, function_call and function_call_output.",
                f"{where}.type",
            )
        origin.append(where)
    return messages, origin


def input_messages(items: list[Any], kept: Kept | None, name: str) -> tuple[Message, ...]:
    """Input items (a conversation's ``name``: ``items``) as the messages the model reads; a
    RequestError naming ``name[i]`` for a bad one."""
    dicts, origin = _messages({name: items}, kept, name)
    out = []
    for i, message in enumerate(dicts):
        try:
            out.append(message_of(message, f"messages[{i}]"))
        except InvalidRequestError as exc:
            raise _rename(RequestError(str(exc), exc.param), origin) from None
    return tuple(out)


def _referred(reference: dict[str, Any], where: str, kept: Kept | None) -> dict[str, Any]:
    """The kept output item an ``item_reference`` names."""
    item_id = reference.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise RequestError(f"{where} is an item_reference without the id of an item (msg_..., fc_...).", f"{where}.id")
    if kept is None:
        raise RequestError(f"{where} refers to a stored item; this server keeps none: send the item itself.", where)
    return kept.item(item_id, where)


def _named(name: Any, namespace: Any) -> Any:
    """A function's name as the model sees it: a namespace's functions are ``namespace.name``."""
    return f"{namespace}.{name}" if isinstance(namespace, str) and namespace and isinstance(name, str) else name


def _function(tool: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    fn = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
    if namespace is not None:
        fn["name"] = _named(fn.get("name"), namespace)
    return {"type": "function", "function": fn}


def _tools(body: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, tuple[str, ...]]:
    """The function tools (a namespace's flattened), and the namespaces' names."""
    tools = body.get("tools")
    if tools is None:
        return None, ()
    if not isinstance(tools, list):
        raise RequestError("tools must be a list of function tools.", "tools")
    out, namespaces = [], []
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "namespace" and isinstance(tool.get("name"), str) and isinstance(tool.get("tools"), list):
            # a group of functions (the Agents SDK's toolNamespace, Codex's agent tools): each is a
            # function to the model, and its calls come back with the namespace apart
            namespaces.append(tool["name"])
            for j, inner in enumerate(tool["tools"]):
                if not isinstance(inner, dict) or inner.get("type") != "function":
                    what = inner.get("type") if isinstance(inner, dict) else type(inner).__name__
                    raise RequestError(
                        f"tools[{i}].tools[{j}] is a {what!r} tool; this server runs function tools only.",
                        f"tools[{i}].tools[{j}]",
                    )
                out.append(_function(inner, tool["name"]))
            continue
        if kind != "function":
            hint = ' (Codex: web_search = "disabled" in config.toml)' if kind == "web_search" else ""
            raise RequestError(
                f"tools[{i}] is a {kind!r} tool; this server runs function tools only "
                f"({{'type': 'function', 'name': ..., 'parameters': {{...}}}}): leave it out{hint}.",
                f"tools[{i}]",
            )
        out.append(_function(tool))
    return out, tuple(namespaces)


def _tool_choice(value: Any) -> Any:
    if isinstance(value, dict) and value.get("type") == "function" and "function" not in value:
        return {"type": "function", "function": {"name": _named(value.get("name"), value.get("namespace"))}}
    if isinstance(value, dict) and value.get("type") not in (None, "function"):
        raise RequestError(f"tool_choice {value.get('type')!r} names a tool this server does not run.", "tool_choice")
    return value


def _format(body: dict[str, Any]) -> dict[str, Any] | None:
    text = body.get("text")
    if text is None:
        return None
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise RequestError(
            'text.format must be an object: {"type": "text" | "json_object" | "json_schema", ...}.', "text"
        )
    if fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise RequestError(
                'text.format json_schema needs {"type": "json_schema", "name": ..., "schema": {...}}.', "text.format"
            )
        spec = {k: fmt[k] for k in ("name", "schema", "strict") if k in fmt}
        return {"type": "json_schema", "json_schema": spec}
    return {"type": fmt.get("type")}


def _rename(exc: RequestError, origin: list[str]) -> RequestError:
    """A chat-completions error about ``messages[i]`` said of the input item it came from."""

    def where(match: re.Match[str]) -> str:
        i = int(match.group(1))
        return origin[i] if i < len(origin) else match.group(0)

    param = re.sub(r"messages\[(\d+)\]", where, exc.param) if exc.param else exc.param
    message = re.sub(r"messages\[(\d+)\]", where, str(exc)).replace("response_format", "text.format")
    return RequestError(message, param.replace("response_format", "text.format") if param else param)


@dataclass(frozen=True)
class ResponsesRequest(ChatRequest):
    """A parsed ``/v1/responses`` body: the chat request it asks for (``messages``: the
    instructions first, then the conversation ``previous_response_id`` names, then the new input),
    and what the response says of itself and whether it is kept."""

    previous_response_id: str | None = None
    conversation: str | None = None  # the kept conversation it reads and grows
    truncation: str = "disabled"  # "auto": the oldest turns are dropped to fit (OpenAI's two values)
    instructions: str | None = None
    store: bool = True
    namespaces: tuple[str, ...] = ()  # of the namespace tools, whose functions the model calls as ns.name
    input_items: tuple[dict[str, Any], ...] = ()  # the input as items, as given (a string as a message)


def _stored_fields(body: dict[str, Any]) -> tuple[str | None, bool]:
    previous, store = body.get("previous_response_id"), body.get("store", True)
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise RequestError(
            "previous_response_id must be the id of an earlier response (resp_...).", "previous_response_id"
        )
    if store is not None and not isinstance(store, bool):
        raise RequestError(f"store must be true or false, got {store!r}.", "store")
    return previous, store is not False


def _conversation(body: dict[str, Any], previous: str | None, held: Held | None) -> str | None:
    """The id of the conversation a body names (a string, or ``{"id": ...}``)."""
    given = body.get("conversation")
    if given is None:
        return None
    cid = given.get("id") if isinstance(given, dict) else given
    if not isinstance(cid, str) or not cid:
        raise RequestError("conversation must be a conversation's id (conv_...) or {'id': ...}.", "conversation")
    if previous is not None:  # OpenAI's rule: one way of carrying the conversation
        raise RequestError("Use either previous_response_id or conversation, not both.", "conversation")
    if held is None:
        raise RequestError("This server keeps no conversations: send the whole conversation as input.", "conversation")
    return cid


def parse_responses_request(
    body: Any, max_tokens_limit: int, kept: Kept | None = None, held: Held | None = None
) -> ResponsesRequest:
    """Check a decoded ``/v1/responses`` body and turn it into a :class:`ResponsesRequest`.
    ``kept``: the responses ``previous_response_id`` and ``item_reference`` read; ``held``: the
    conversations ``conversation`` reads; None where none is kept."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    for name, why in _REFUSED.items():
        if body.get(name) not in (None, False):
            raise RequestError(f"{name} is not supported: {why}.", name)
    previous, store = _stored_fields(body)
    cid = _conversation(body, previous, held)
    truncation = body.get("truncation") or "disabled"
    if truncation not in ("auto", "disabled"):
        raise RequestError(f'truncation must be "auto" or "disabled", got {truncation!r:.40}.', "truncation")
    messages, origin = _messages(body, kept)
    chat: dict[str, Any] = {k: body[k] for k in _PASSED if k in body}
    chat["messages"] = messages
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    tools, namespaces = _tools(body)
    if tools is not None:
        chat["tools"] = tools
    if "tool_choice" in body:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    fmt = _format(body)
    if fmt is not None:
        chat["response_format"] = fmt
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    include = body.get("include") or []
    if not isinstance(include, list):
        raise RequestError("include must be a list of strings.", "include")
    if "message.output_text.logprobs" in include:
        chat["logprobs"] = True
        chat["top_logprobs"] = body.get("top_logprobs") or 0
    try:
        parsed = parse_chat_request(chat, max_tokens_limit)
    except RequestError as exc:
        raise _rename(exc, origin) from None
    own = {f.name: getattr(parsed, f.name) for f in fields(parsed)}
    own["truncate"] = truncation == "auto"
    instructions = body.get("instructions")
    if previous is not None:  # the stored conversation goes between the instructions and the new input
        if kept is None:
            raise RequestError(
                "This server keeps no responses: send the whole conversation as input.", "previous_response_id"
            )
        head = 1 if instructions is not None else 0
        own["messages"] = (*parsed.messages[:head], *kept.conversation(previous), *parsed.messages[head:])
    elif cid is not None and held is not None:  # the same place for a kept conversation
        head = 1 if instructions is not None else 0
        own["messages"] = (*parsed.messages[:head], *held.messages(cid), *parsed.messages[head:])
    given = body["input"]
    items = ({"type": "message", "role": "user", "content": given},) if isinstance(given, str) else tuple(given)
    return ResponsesRequest(
        **own,
        previous_response_id=previous,
        conversation=cid,
        truncation=truncation,
        instructions=instructions,
        store=store,
        namespaces=namespaces,
        input_items=items,
    )
