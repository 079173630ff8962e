"""OpenAI's Conversations API (``/v1/conversations``) and the Responses API's ``conversation``:
a conversation kept by the server, which a response reads before its input and grows by its
input and output items.

OpenAI's guide to conversation state shows it first, and the Agents SDK's
``OpenAIConversationsSession`` keeps an agent's memory in one (it lists, adds and pops items).
Kept here as the response store keeps responses (:mod:`.stored`): in memory, lost when the server
stops, the newest ``limit`` conversations (a conversation used is renewed) and no more than
:data:`~.stored.STORED_CHARS` of text in all. A conversation holds its items (what the items API
lists) and the messages the model read for its last response, its answer with the token ids the
model wrote, so the next response's prompt matches the cache token for token; items added
through the items API are read as a request's input items are, and deleting one rebuilds the
messages from the items.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..types import Message, Reply
from .http import HTTPError, authorize, read_body
from .protocol import RequestError
from .responses import input_messages
from .stored import STORED_CHARS, listed_item, listing, page_of

if TYPE_CHECKING:
    from .app import _App
    from .responses import Kept, ResponsesRequest

__all__ = ["ConversationStore", "conversation_routes"]

MAX_ADDED = 20  # items one request may add (OpenAI's bound)
_METADATA_KEYS, _KEY_CHARS, _VALUE_CHARS = 16, 64, 512  # OpenAI's bounds on metadata


@dataclass
class _Conversation:
    created_at: int
    metadata: dict[str, str]
    items: list[dict[str, Any]] = field(default_factory=list)  # listed, oldest first
    messages: tuple[Message, ...] = ()  # what the next response reads
    stale: bool = False  # an item was deleted: the messages are rebuilt from the items
    size: int = 0


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    ok = isinstance(value, dict) and len(value) <= _METADATA_KEYS
    ok = ok and all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= _KEY_CHARS and len(v) <= _VALUE_CHARS
        for k, v in value.items()
    )
    if not ok:
        raise RequestError(
            f"metadata must be an object of at most {_METADATA_KEYS} string values (keys of at most "
            f"{_KEY_CHARS} characters, values of at most {_VALUE_CHARS}).",
            "metadata",
        )
    return dict(value)


class ConversationStore:
    """The newest ``limit`` conversations, by id (``limit=0``: none is kept). ``kept``: the
    response store, whose items an added ``item_reference`` names."""

    def __init__(self, limit: int, kept: Kept | None = None) -> None:
        self.limit = limit
        self._kept = kept
        self._held: OrderedDict[str, _Conversation] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._held)

    def _get(self, cid: str, status: int = 404, param: str | None = None) -> _Conversation:
        held = self._held.get(cid)
        if held is None:
            where = (
                "this server keeps no conversations (it was started with --max-stored-responses 0)"
                if self.limit == 0
                else f"this server keeps its newest {self.limit} conversations in memory until it stops"
            )
            raise HTTPError(
                status,
                f"No conversation with id {cid!r} is kept here: {where}. Create one (POST /v1/conversations), "
                "or send the whole conversation as input.",
                "invalid_request_error",
                param,
                "conversation_not_found",
            )
        self._held.move_to_end(cid)
        return held

    def _read(self, items: Any, param: str) -> tuple[list[dict[str, Any]], tuple[Message, ...]]:
        """Items given to a conversation: checked and listed (ids given where they came without),
        and the messages they are to the model."""
        if not isinstance(items, list) or len(items) > MAX_ADDED:
            raise RequestError(f"{param} must be a list of at most {MAX_ADDED} items.", param)
        if not items:
            return [], ()
        messages = input_messages(items, self._kept, param)  # every item checked before any is kept
        if self._kept is not None:  # a reference is kept as the item it names, which may go first
            items = [
                self._kept.item(item["id"], f"{param}[{i}]") if item.get("type") == "item_reference" else item
                for i, item in enumerate(items)
            ]
        return [listed_item(item) for item in items], messages

    # -- the API ---------------------------------------------------------------------------------
    def create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RequestError("The request body must be a JSON object (items, metadata).")
        if self.limit == 0:
            raise HTTPError(
                400,
                "This server keeps no conversations (it was started with --max-stored-responses 0): send the "
                "whole conversation as input.",
                "invalid_request_error",
            )
        items, messages = self._read(body.get("items") or [], "items")
        cid = f"conv_{uuid.uuid4().hex}"
        held = _Conversation(int(time.time()), _metadata(body.get("metadata")), items, messages)
        self._held[cid] = held
        self._grow(held, items, messages)
        return self.body(cid)

    def body(self, cid: str) -> dict[str, Any]:
        held = self._get(cid)
        return {"id": cid, "object": "conversation", "created_at": held.created_at, "metadata": held.metadata}

    def update(self, cid: str, body: Any) -> dict[str, Any]:
        held = self._get(cid)
        if not isinstance(body, dict) or "metadata" not in body:
            raise RequestError("Send the conversation's new metadata: {'metadata': {...}}.", "metadata")
        held.metadata = _metadata(body["metadata"])
        return self.body(cid)

    def delete(self, cid: str) -> dict[str, Any]:
        self._get(cid)
        self._size -= self._held.pop(cid).size
        return {"id": cid, "object": "conversation.deleted", "deleted": True}

    def add(self, cid: str, body: Any) -> dict[str, Any]:
        held = self._get(cid)
        if not isinstance(body, dict):
            raise RequestError("The request body must be a JSON object: {'items': [...]}.")
        items, messages = self._read(body.get("items"), "items")
        held.items += items
        held.messages += messages
        self._grow(held, items, messages)
        return page_of(items, len(items))

    def items(self, cid: str, limit: int, order: str, after: str | None) -> dict[str, Any]:
        return page_of(self._get(cid).items, limit, order, after, f"of {cid}")

    def item(self, cid: str, item_id: str) -> dict[str, Any]:
        held = self._get(cid)
        found = next((item for item in held.items if item["id"] == item_id), None)
        if found is None:
            raise HTTPError(404, f"No item {item_id!r} in {cid}.", "invalid_request_error", None, "item_not_found")
        return found

    def delete_item(self, cid: str, item_id: str) -> dict[str, Any]:
        held = self._get(cid)
        size = len(json.dumps(self.item(cid, item_id)))
        held.items = [item for item in held.items if item["id"] != item_id]
        held.stale = True  # what the model reads is rebuilt from the items left
        held.size -= size
        self._size -= size
        return self.body(cid)

    # -- what a response reads, and what it adds -------------------------------------------------
    def messages(self, cid: str) -> tuple[Message, ...]:
        """What a response in conversation ``cid`` reads before its input (a 400 where none is kept)."""
        held = self._get(cid, 400, "conversation")
        if held.stale:
            held.messages = input_messages(held.items, self._kept, "items") if held.items else ()
            held.stale = False
        return held.messages

    def extend(self, cid: str, request: ResponsesRequest, reply: Reply, body: dict[str, Any]) -> None:
        """A finished response in ``cid``: its input items and output items are the conversation's
        next, and what the model read, its answer last, what the next response reads."""
        held = self._held.get(cid)
        if held is None:  # deleted while the answer ran
            return
        head = 1 if request.instructions is not None else 0
        read = (*request.messages[head:], reply.message())
        new = [listed_item(item) for item in request.input_items] + list(body["output"])
        before = len(held.messages)
        held.items += new
        held.messages, held.stale = read, False
        self._grow(held, new, read[before:])

    def _grow(self, held: _Conversation, items: list[dict[str, Any]], messages: tuple[Message, ...]) -> None:
        size = len(json.dumps(items)) + sum(len(m.content) + len(m.thinking) for m in messages)
        held.size += size
        self._size += size
        while len(self._held) > self.limit or (self._size > STORED_CHARS and len(self._held) > 1):
            _, oldest = self._held.popitem(last=False)
            self._size -= oldest.size


def conversation_routes(app: _App) -> list[Route]:
    """``/v1/conversations`` and its items, over the app's conversation store."""
    store = app.conversations

    def route(path: str, method: str, run: Any, reads_body: bool = False) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                authorize(request, app.settings)
                body = await read_body(request, app.settings) if reads_body else None
                answer = run(request.path_params, body, request)
            except Exception as exc:  # a RequestError is a 400 naming its field
                return app.failed(exc)
            return app.answered(answer)

        return Route(path, endpoint, methods=[method])

    one, items, item = "/v1/conversations/{cid}", "/v1/conversations/{cid}/items", "/v1/conversations/{cid}/items/{iid}"
    return [
        route("/v1/conversations", "POST", lambda p, b, r: store.create(b), reads_body=True),
        route(one, "GET", lambda p, b, r: store.body(p["cid"])),
        route(one, "POST", lambda p, b, r: store.update(p["cid"], b), reads_body=True),
        route(one, "DELETE", lambda p, b, r: store.delete(p["cid"])),
        route(items, "GET", lambda p, b, r: store.items(p["cid"], *listing(r))),
        route(items, "POST", lambda p, b, r: store.add(p["cid"], b), reads_body=True),
        route(item, "GET", lambda p, b, r: store.item(p["cid"], p["iid"])),
        route(item, "DELETE", lambda p, b, r: store.delete_item(p["cid"], p["iid"])),
    ]
