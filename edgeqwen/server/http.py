"""The HTTP plumbing the routes share: who may ask (:func:`authorize`), the body within the
server's limits (:func:`read_body`), errors in OpenAI's shape (:class:`HTTPError`, and
:func:`translate` from our exception tree), a client hanging up, and server-sent event streams."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from ..aio import AsyncReplyStream
from ..errors import EdgeQwenError, GrammarError, InvalidRequestError, PromptTooLongError, StructuredOutputError
from ..jsontext import load_json
from ..types import Reply
from .bodies import error_body
from .settings import ServerSettings
from .worker import QueueFullError

__all__ = [
    "Events",
    "HTTPError",
    "KEEPALIVE",
    "Thought",
    "authorize",
    "data_events",
    "event",
    "format_error",
    "in_line",
    "kept_alive",
    "openai_refused",
    "read_body",
    "sse",
    "told",
    "translate",
    "turn",
    "typed_events",
    "until_disconnect",
    "whole_reply",
]

log = logging.getLogger("edgeqwen.server")
T = TypeVar("T")


class HTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        kind: str,
        param: str | None = None,
        code: str | None = None,
        retry_after: int = 1,
    ):
        super().__init__(message)
        self.status, self.kind, self.param, self.code = status, kind, param, code
        self.retry_after = retry_after  # seconds, sent with a 429 or 503

    @property
    def headers(self) -> dict[str, str] | None:
        if self.status == 401:
            return {"WWW-Authenticate": "Bearer"}
        return {"Retry-After": str(self.retry_after)} if self.status in (429, 503) else None

    def response(self) -> JSONResponse:
        body = error_body(str(self), self.kind, self.param, self.code)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def translate(exc: BaseException) -> HTTPError:
    if isinstance(exc, HTTPError):
        return exc
    if isinstance(exc, QueueFullError):
        return HTTPError(429, str(exc), "rate_limit_error", code="queue_full", retry_after=exc.retry_after)
    if isinstance(exc, InvalidRequestError):
        param = exc.param or ("response_format" if isinstance(exc, GrammarError) else None)
        # OpenAI's code for it, which clients read as a context-window error (an agent may compact
        # its conversation and retry) rather than as some other bad request
        code = "context_length_exceeded" if isinstance(exc, PromptTooLongError) else None
        return HTTPError(400, str(exc), "invalid_request_error", param, code)
    if isinstance(exc, EdgeQwenError):
        return HTTPError(500, str(exc), "server_error")
    if isinstance(exc, MemoryError):  # this request's, most likely: the server itself goes on
        log.error("out of memory while answering")
        return HTTPError(
            503,
            "The server ran out of memory answering this request; send a shorter conversation or a smaller "
            "max_tokens, or retry when it is less busy.",
            "server_error",
            code="out_of_memory",
        )
    log.exception("unexpected error while answering", exc_info=exc)
    return HTTPError(500, f"Internal error: {type(exc).__name__}: {exc}", "server_error")


def authorize(request: Request, settings: ServerSettings) -> None:
    """A request from a page the server does not allow, or without the API key it needs: an HTTPError."""
    origin = request.headers.get("origin")
    if origin is not None and not settings.allows(origin):
        # a page of another site may send a "simple" POST without asking first: it could not
        # read the answer, but the model would still run for it
        raise HTTPError(
            403,
            f"Requests from web pages of {origin} are not allowed; start the server with "
            f"--cors-origin {origin} to allow them.",
            "permission_error",
            code="origin_not_allowed",
        )
    key = settings.api_key
    if key is None:
        return
    given = request.headers.get("authorization", "")
    # Anthropic's clients send the key as x-api-key
    token = given[7:] if given[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
    if not hmac.compare_digest(token.encode(), key.encode()):
        raise HTTPError(
            401,
            "Missing or wrong API key: send 'Authorization: Bearer KEY' (or 'x-api-key: KEY').",
            "authentication_error",
            code="invalid_api_key",
        )


async def read_body(request: Request, settings: ServerSettings) -> Any:
    """The request's JSON body, read within the server's size and time limits."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # a compressed body read as JSON was "not valid JSON: can't decode byte 0x8b"
        raise HTTPError(
            415,
            f"Content-Encoding {encoding!r} is not supported: send the JSON body uncompressed.",
            "invalid_request_error",
        )
    limit = settings.max_request_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise HTTPError(
            413,
            f"The request body is {declared} bytes; this server takes at most {limit} (--max-request-bytes).",
            "invalid_request_error",
        )
    data = bytearray()

    async def read() -> None:
        async for part in request.stream():
            data.extend(part)
            if len(data) > limit:
                raise HTTPError(
                    413, f"The request body is over {limit} bytes (--max-request-bytes).", "invalid_request_error"
                )

    timeout = settings.body_timeout_s
    try:
        await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError as exc:
        raise HTTPError(
            408,
            f"The request body did not arrive in full within {timeout:g} s ({len(data)} bytes came); send it whole.",
            "invalid_request_error",
        ) from exc
    try:
        return load_json(bytes(data))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPError(400, f"The request body is not valid JSON: {exc}.", "invalid_request_error") from exc


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work`` unless the client hangs up first (then ``work`` is cancelled)."""

    async def hang_up() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return

    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(hang_up())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            # cancel() only asks: wait until the task has run its cleanup and really ended
            await asyncio.wait({task})
    if task.cancelled():
        raise HTTPError(499, "The client closed the connection.", "client_closed")
    return task.result()


async def whole_reply(request: Request, generation: AsyncReplyStream, said: list[str] | None = None) -> Reply:
    """The finished reply of an answer that is not streamed; the answer stopped whatever happens
    (a client that hangs up, an error), so the model is free for the next. ``said``: where its text
    goes as it comes, read piece by piece (KoboldCpp's polled streaming reads it meanwhile)."""

    async def read() -> Reply:
        if said is not None:
            try:
                async for kind, text in generation.pieces():
                    if kind == "text":
                        said.append(text)
            except StructuredOutputError:
                pass  # the reply says how it ended, as when it is read whole
        return await generation.reply(strict=False)

    try:
        return await until_disconnect(request, read())
    finally:
        generation.cancel()


def format_error(generation: AsyncReplyStream, reply: Reply) -> StructuredOutputError | None:
    """A constrained answer that ended without parsing, other than at max_tokens: the model failed."""
    return generation.error if reply.finish_reason != "length" else None


class Thought(str):
    """A piece of Qwen3's thinking, as :func:`told` gives it beside the answer's text."""


async def told(generation: AsyncReplyStream) -> AsyncIterator[str | Reply]:
    """The answer as it comes (its thinking as :class:`Thought` pieces, first), then its finished
    reply (a constrained answer that failed to parse, other than at max_tokens, raises its error
    instead)."""
    try:
        async for kind, text in generation.pieces():
            yield Thought(text) if kind == "thinking" else text
    except StructuredOutputError:
        pass  # judged with the finish reason, below
    reply = await generation.reply(strict=False)
    failed = format_error(generation, reply)
    if failed is not None:
        raise failed
    yield reply


class Events(Protocol):
    """A stream of typed events (the Responses API's, Anthropic's): each call gives the SSE text."""

    def started(self) -> str: ...
    def thought(self, piece: str) -> str: ...
    def text(self, piece: str) -> str: ...
    def finished(self, reply: Reply) -> str: ...
    def failed(self, error: HTTPError) -> str: ...
    def keepalive(self) -> str: ...


async def typed_events(
    generation: AsyncReplyStream, events: Events, done: Callable[[Reply], None] | None = None, every: float = 0.0
) -> AsyncIterator[str]:
    """``generation`` as ``events`` write it, their keep-alive after ``every`` seconds of silence;
    ``done(reply)`` before the last event goes out. An error after the headers are sent is the
    API's own failure event."""
    try:
        yield events.started()
        async for said in kept_alive(told(generation), every):
            if said is None:
                yield events.keepalive()
            elif isinstance(said, Thought):
                yield events.thought(said)
            elif isinstance(said, str):
                yield events.text(said)
            else:
                last = events.finished(said)
                if done is not None:
                    done(said)
                yield last
    except Exception as exc:
        yield events.failed(translate(exc))
    finally:
        generation.cancel()


def event(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def data_events(
    generation: AsyncReplyStream,
    opening: Callable[[int], list[dict[str, Any]]],
    piece: Callable[[str, int], dict[str, Any]],
    closing: Callable[[Reply, int], list[dict[str, Any]]],
    thought: Callable[[str, int], dict[str, Any]] | None = None,
    more: Callable[[int], Awaitable[AsyncReplyStream | None]] | None = None,
    ending: Callable[[list[Reply]], list[dict[str, Any]]] | None = None,
    every: float = 0.0,
    done: str = "data: [DONE]\n\n",
    failed: Callable[[HTTPError], str] | None = None,
) -> AsyncIterator[str]:
    """A chat or completions stream. For each answer (``generation``, then ``more(i)`` for choice
    ``i`` where n > 1, started once the one before it has ended, until it gives None): its opening
    events, an event per piece of text (and of thinking, where ``thought`` says how) and the events
    its finished reply closes with, each given the choice's index; then ``ending``'s events for all
    the replies (their usage), then ``done`` (OpenAI's ``[DONE]``; llama-server sends none); an SSE
    comment after ``every`` seconds of silence. An error after the headers went out is an event in
    OpenAI's error shape, as OpenAI sends it (or as ``failed`` writes it), and ends the stream."""
    current: AsyncReplyStream | None = generation
    replies: list[Reply] = []
    try:
        while current is not None:
            index = len(replies)
            for body in opening(index):
                yield event(body)
            async for said in kept_alive(told(current), every):
                if said is None:
                    yield KEEPALIVE
                elif isinstance(said, Thought):
                    if thought is not None:
                        yield event(thought(said, index))
                elif isinstance(said, str):
                    yield event(piece(said, index))
                else:
                    replies.append(said)  # the last item: the finished reply
            for body in closing(replies[-1], index):
                yield event(body)
            current = await more(index + 1) if more is not None else None
        for body in ending(replies) if ending is not None else ():
            yield event(body)
        if done:
            yield done
    except Exception as exc:
        error = translate(exc)
        yield (
            failed(error) if failed is not None else event(error_body(str(error), error.kind, error.param, error.code))
        )
    finally:
        if current is not None:
            current.cancel()


# An SSE comment: every client's parser skips it (OpenAI's, Anthropic's, the AI SDK's, a browser's)
KEEPALIVE = ": keep-alive\n\n"


async def kept_alive(items: AsyncIterator[T], every: float) -> AsyncIterator[T | None]:
    """``items``, with None between them wherever none came for ``every`` seconds (0: never), for
    the caller to send its API's keep-alive. A long prompt's prefill on a small CPU (minutes for an
    agent's 20k tokens), a tool call held whole and a checked answer are silent: proxies (nginx's
    60 s), Node's fetch (300 s) and agents' idle timers (Codex's) end a stream that says nothing."""
    source = aiter(items)
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({pending}, timeout=every if every > 0 else None)
            if not done:
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending})
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


async def turn(submitted: asyncio.Future[Any], wait: float) -> bool:
    """Whether ``submitted`` had its turn (or was refused) within ``wait`` seconds (0: as long as it
    takes); cancelled (the client gone), it cancels the request."""
    try:
        done, _ = await asyncio.wait({submitted}, timeout=wait if wait > 0 else None)
    except asyncio.CancelledError:
        submitted.cancel()
        raise
    return bool(done)


def openai_refused(error: HTTPError, rid: str, request: object) -> str:
    """A request refused after its stream began, as OpenAI's chat stream says an error."""
    return event(error_body(str(error), error.kind, error.param, error.code))


async def in_line(
    submitted: asyncio.Future[AsyncReplyStream],
    streamed: Callable[[AsyncReplyStream], AsyncIterator[str]],
    refused: Callable[[HTTPError], str],
    every: float,
) -> AsyncIterator[str]:
    """The stream of a request that waits in line behind a long answer: a keep-alive every ``every``
    seconds until its turn (headers held till then met the same timeouts as a silent stream), then
    its own events; refused at its turn (a prompt too long for the model), the API's error event."""
    try:
        while not (await asyncio.wait({submitted}, timeout=every))[0]:
            yield KEEPALIVE  # a comment: no API lets another event come before its stream's first
        generation = submitted.result()
    except Exception as exc:
        yield refused(translate(exc))
        return
    finally:
        if not submitted.done():
            submitted.cancel()
            await asyncio.wait({submitted})
    events = streamed(generation)
    try:
        async for text in events:
            yield text
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
        generation.cancel()  # where the events never began, their own cancel never ran


def sse(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
