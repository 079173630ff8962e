"""The responses this server keeps: what ``previous_response_id`` continues, the output items an
``item_reference`` names, and what ``GET`` and ``DELETE /v1/responses/ID`` and
``GET /v1/responses/ID/input_items`` read; beside them ``POST /v1/responses/input_tokens``, which
counts what a response would read (a stored conversation's turns among them).

OpenAI's Responses API stores every response unless asked not to (``store: false``), and its own
guide to conversation state has a client send only the new input with the last response's id. A
server that refused that id broke every program written from that guide; the Vercel AI SDK's
OpenAI provider sends each earlier answer of a conversation as a reference to its item.

Kept here, in memory: the newest ``limit`` responses, and no more than :data:`STORED_CHARS` of
text (a chain that is continued stays: reading a response renews it and those before it), lost
when the server stops. Each keeps its conversation as the model read it, without the request's
``instructions`` (OpenAI's rule: they are not carried to the next response), its answer last
with the token ids the model wrote, so the next request's prompt matches the cache token for
token. The messages are shared between a response and those after it: a chain of ``n``
responses holds each message once.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..types import Message, Reply
from .http import HTTPError, authorize, read_body, until_disconnect

if TYPE_CHECKING:
    from .app import _App
    from .responses import ResponsesRequest

__all__ = ["ResponseStore", "STORED_CHARS", "listed_item", "listing", "page_of", "stored_routes"]

# the most text kept, whatever the count: 256 answers with 20 top logprobs a token are a gigabyte
# of JSON, more than a small board has
STORED_CHARS = 64 << 20


@dataclass(frozen=True)
class _Stored:
    conversation: tuple[Message, ...]
    body: dict[str, Any]
    before: str | None  # the response this one continued
    items: tuple[dict[str, Any], ...]  # its request's input, as items with ids (input_items)
    size: int  # characters of its own: the response's and its items' JSON, the messages no earlier one holds


def listed_item(item: dict[str, Any]) -> dict[str, Any]:
    """An input item as OpenAI's list of them shows it: a type, an id (``msg_...``) where it came
    without, a message's text as a content part."""
    kind = item.get("type", "message")
    prefix = {"function_call": "fc", "function_call_output": "fco"}.get(str(kind), "msg")
    listed = {
        **item,
        "type": kind,
        "id": item["id"] if isinstance(item.get("id"), str) else f"{prefix}_{uuid.uuid4().hex[:24]}",
    }
    if kind == "message" and isinstance(item.get("content"), str):
        part = "output_text" if item.get("role") == "assistant" else "input_text"
        listed["content"] = [{"type": part, "text": item["content"]}]
    return listed


class ResponseStore:
    """The newest ``limit`` responses, by id (``limit=0``: none is kept)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: OrderedDict[str, _Stored] = OrderedDict()
        self._items: dict[str, str] = {}  # an output item's id: its response's
        self._size = 0

    def __len__(self) -> int:
        return len(self._kept)

    def _gone(self, rid: str, status: int, param: str | None, code: str, what: str = "response") -> HTTPError:
        where = (
            "this server keeps no responses (it was started with --max-stored-responses 0)"
            if self.limit == 0
            else f"this server keeps its newest {self.limit} responses in memory until it stops, "
            "and none sent with store: false"
        )
        return HTTPError(
            status,
            f"No {what} with id {rid!r} is stored here: {where}. Send the whole conversation as input instead.",
            "invalid_request_error",
            param,
            code,
        )

    def _get(self, rid: str) -> _Stored:
        """The kept response ``rid``, or the 404 for a read of one not kept."""
        stored = self._kept.get(rid)
        if stored is None:
            raise self._gone(rid, 404, None, "response_not_found")
        return stored

    def conversation(self, rid: str) -> tuple[Message, ...]:
        """What the response ``rid`` continues from: its conversation, its answer last. Reading it
        renews it and the responses before it (a conversation in use is the last to go)."""
        stored = self._kept.get(rid)
        if stored is None:
            raise self._gone(rid, 400, "previous_response_id", "previous_response_not_found")
        self._renew(rid)
        return stored.conversation

    def _renew(self, rid: str) -> None:
        link: str | None = rid
        while link is not None and link in self._kept:
            self._kept.move_to_end(link)
            link = self._kept[link].before

    def item(self, item_id: str, where: str) -> dict[str, Any]:
        """An output item of a kept response, by its id (``where``: the input item that names it)."""
        rid = self._items.get(item_id)
        if rid is None:
            raise self._gone(item_id, 400, where, "item_not_found", what=f"item (named by {where})")
        self._renew(rid)
        return next(item for item in self._kept[rid].body["output"] if item.get("id") == item_id)

    def keep(self, rid: str, request: ResponsesRequest, reply: Reply, body: dict[str, Any]) -> None:
        """Keep a finished response, unless it was asked not to be or none is kept."""
        if not request.store or self.limit == 0:
            return
        conversation = request.messages[1:] if request.instructions is not None else request.messages
        before = self._kept.get(request.previous_response_id or "")
        new = conversation[len(before.conversation) if before is not None else 0 :]
        items = tuple(listed_item(item) for item in request.input_items)
        size = len(json.dumps([body, items])) + sum(len(m.content) + len(m.thinking) for m in new)
        self._kept[rid] = _Stored((*conversation, reply.message()), body, request.previous_response_id, items, size)
        self._items.update((item["id"], rid) for item in body["output"])
        self._size += size
        while len(self._kept) > self.limit or (self._size > STORED_CHARS and len(self._kept) > 1):
            self._forget(next(iter(self._kept)))

    def _forget(self, rid: str) -> None:
        stored = self._kept.pop(rid)
        self._size -= stored.size
        for item in stored.body["output"]:
            self._items.pop(item["id"], None)

    def body(self, rid: str) -> dict[str, Any]:
        return self._get(rid).body

    def input_items(self, rid: str, limit: int, order: str, after: str | None) -> dict[str, Any]:
        """OpenAI's list of a kept response's input items: ``limit`` of them, in ``order`` (desc: the
        last first, OpenAI's default), after the item ``after``."""
        return page_of(self._get(rid).items, limit, order, after, f"of {rid}'s input")

    def delete(self, rid: str) -> None:
        self._get(rid)
        self._forget(rid)


def page_of(
    items: Sequence[dict[str, Any]], limit: int, order: str = "asc", after: str | None = None, of: str = ""
) -> dict[str, Any]:
    """OpenAI's list object: ``limit`` of ``items`` (kept oldest first) in ``order`` (desc: the
    last first, OpenAI's default), after the item ``after`` (a 400 saying it is no item ``of``)."""
    ordered = list(items if order == "asc" else reversed(items))
    if after is not None:
        ids = [item["id"] for item in ordered]
        if after not in ids:
            raise HTTPError(400, f"after: {after!r} is no item {of}.", "invalid_request_error", "after")
        ordered = ordered[ids.index(after) + 1 :]
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }


def listing(request: Request) -> tuple[int, str, str | None]:
    """A list's ``limit`` (1 to 100, 20 unless given), ``order`` (desc unless given) and ``after``."""
    query = request.query_params
    limit, order = query.get("limit", "20"), query.get("order", "desc")
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 100:  # "²" is a digit to str
        raise HTTPError(
            400, f"limit must be a whole number from 1 to 100, got {limit!r}.", "invalid_request_error", "limit"
        )
    if order not in ("asc", "desc"):
        raise HTTPError(400, f'order must be "asc" or "desc", got {order!r}.', "invalid_request_error", "order")
    return int(limit), order, query.get("after")


def stored_routes(app: _App) -> list[Route]:
    """``GET`` and ``DELETE /v1/responses/ID``, ``GET /v1/responses/ID/input_items``, ``POST
    /v1/responses/ID/cancel`` and ``POST /v1/responses/input_tokens``, over the app's store."""

    async def read(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            body = app.stored.body(request.path_params["rid"])
            if request.query_params.get("stream", "false").lower() not in ("false", "0"):
                # OpenAI replays a background response's events; here none runs in the background
                # and the events of a finished one are not kept (its JSON read as SSE is no event)
                raise HTTPError(
                    400,
                    "stream: this server keeps a finished response, not its events, and runs none in the "
                    "background; retrieve it without stream.",
                    "invalid_request_error",
                    "stream",
                )
        except Exception as exc:
            return app.failed(exc)
        return app.answered(body)

    async def delete(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            rid = request.path_params["rid"]
            app.stored.delete(rid)
        except Exception as exc:
            return app.failed(exc)
        return app.answered({"id": rid, "object": "response", "deleted": True})

    async def cancel(request: Request) -> Response:
        """OpenAI's cancel of a background response (``client.responses.cancel``): here every
        response ran in the foreground and is finished, so there is none to cancel."""
        try:
            authorize(request, app.settings)
            app.stored.body(request.path_params["rid"])  # a 404 for one not kept, as GET says
            raise HTTPError(
                400,
                "Only a response created with background: true can be cancelled; this server answers in the "
                "foreground only, and this response is finished. To stop an answer, close its stream.",
                "invalid_request_error",
                "response_id",
            )
        except Exception as exc:
            return app.failed(exc)

    async def input_items(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            page = app.stored.input_items(request.path_params["rid"], *listing(request))
        except Exception as exc:
            return app.failed(exc)
        return app.answered(page)

    async def input_tokens(request: Request) -> Response:
        """OpenAI's count of a response's input tokens (``client.responses.input_tokens.count``):
        the prompt the model would read for that body, tools and stored turns included; no turn on
        the model."""
        try:
            authorize(request, app.settings)
            asked = app.parse_responses(await read_body(request, app.settings), app.settings.max_tokens)
            count = await until_disconnect(request, app.worker.prompt_tokens(asked))
        except Exception as exc:
            return app.failed(exc)
        return app.answered({"object": "response.input_tokens", "input_tokens": count})

    return [
        Route("/v1/responses/input_tokens", input_tokens, methods=["POST"]),
        Route("/v1/responses/{rid}/input_items", input_items, methods=["GET"]),
        Route("/v1/responses/{rid}/cancel", cancel, methods=["POST"]),
        Route("/v1/responses/{rid}", read, methods=["GET"]),
        Route("/v1/responses/{rid}", delete, methods=["DELETE"]),
    ]
