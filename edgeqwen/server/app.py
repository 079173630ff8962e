"""The HTTP layer: a Starlette app that speaks OpenAI's chat-completions and Responses APIs.

Routes: ``POST /v1/chat/completions`` and ``POST /v1/responses`` (JSON or SSE), ``GET /v1/models``
(and ``/v1/models/ID``), ``GET /health`` (no key needed, for load balancers and scripts),
``GET /metrics`` (Prometheus text; ``?format=json``). Every error is OpenAI's ``{"error": {...}}``
shape: 400 bad request, 401 missing or wrong API key, 404 unknown route, 413 body too large, 415 a
compressed body, 429 queue full, 500 model failure, 503 out of memory. The model work is in
:mod:`.worker`; this module only translates.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from ..aio import AsyncAssistant, AsyncReplyStream
from ..errors import EdgeQwenError, GrammarError, InvalidRequestError, StructuredOutputError
from ..types import Reply, check_api_key, load_json
from .metrics import ServerMetrics
from .protocol import (
    ChatRequest,
    chunk_body,
    completion_body,
    error_body,
    finish_reason,
    logprobs_body,
    new_id,
    parse_chat_request,
    usage_body,
)
from .protocol import tool_calls_body as _tool_calls
from .responses import ResponseEvents, parse_responses_request, response_body, response_id
from .worker import ModelWorker, QueueFullError

if TYPE_CHECKING:
    from ..assistant import Assistant

__all__ = ["HTTPError", "ServerSettings", "create_app"]

log = logging.getLogger("edgeqwen.server")
T = TypeVar("T")
# what an Origin header holds: scheme://host[:port] (an app's own scheme too: app://, file://), or null
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#]*|null")
# a web app on this machine (a dev server on any port) may call the API from a browser; a page of
# any other site may not unless named, so a site the user visits cannot use the model through it
_LOCAL_PAGES = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?")


@dataclass(frozen=True)
class ServerSettings:
    """Limits and access. ``max_tokens``: the most a request may ask for (and what it gets when it
    does not say); ``max_queue``: requests that may wait while one is generated (more get 429);
    ``body_timeout_s``: a request body not whole by then gets 408 (uvicorn itself waits forever,
    so a client that sends half a body would hold its connection for good); ``cors_origins``: the
    web pages (origins, ``*`` for any) a browser may let call the API, besides pages served from
    this machine (``http://localhost:PORT`` ...), which always may."""

    api_key: str | None = None
    max_request_bytes: int = 1 << 20
    max_tokens: int = 2048
    max_queue: int = 8
    body_timeout_s: float = 30.0
    cors_origins: tuple[str, ...] = ()

    def allows(self, origin: str) -> bool:
        """Whether a web page of ``origin`` may use the API: the one rule for the CORS answers
        (:class:`_Cors`) and for the 403 before the model runs."""
        return "*" in self.cors_origins or origin in self.cors_origins or _LOCAL_PAGES.fullmatch(origin) is not None

    def __post_init__(self) -> None:
        for name in ("max_request_bytes", "max_tokens"):
            if getattr(self, name) < 1:
                raise InvalidRequestError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.max_queue < 0:
            raise InvalidRequestError(f"max_queue must be >= 0, got {self.max_queue}.")
        if not self.body_timeout_s > 0:
            raise InvalidRequestError(f"body_timeout_s must be > 0, got {self.body_timeout_s}.")
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        for origin in self.cors_origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise InvalidRequestError(
                    f"cors origin {origin!r} is not an origin: give scheme, host and port if any, as a browser sends "
                    "it (https://app.example.com, http://192.168.1.5:3000, app://my-app, null), or * for any page."
                )
        if self.api_key is not None:
            check_api_key(self.api_key)


class HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.param, self.code = status, kind, param, code

    def response(self) -> JSONResponse:
        headers = {"Retry-After": "1"} if self.status in (429, 503) else None
        if self.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        body = error_body(str(self), self.kind, self.param, self.code)
        return JSONResponse(body, status_code=self.status, headers=headers)


def _translate(exc: BaseException) -> HTTPError:
    if isinstance(exc, HTTPError):
        return exc
    if isinstance(exc, QueueFullError):
        return HTTPError(429, str(exc), "rate_limit_error", code="queue_full")
    if isinstance(exc, InvalidRequestError):
        param = exc.param or ("response_format" if isinstance(exc, GrammarError) else None)
        return HTTPError(400, str(exc), "invalid_request_error", param)
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


async def _until_disconnect(request: Request, work: Awaitable[T]) -> T:
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


def _created(assistant: Assistant) -> int:
    """OpenAI's ``created`` for the model: when its folder was written (else the server's start)."""
    path = getattr(getattr(assistant.backend, "info", None), "path", None)
    try:
        return int(Path(path).stat().st_mtime) if path is not None else int(time.time())
    except (OSError, TypeError):
        return int(time.time())


def _format_error(generation: AsyncReplyStream, reply: Reply) -> StructuredOutputError | None:
    """A constrained answer that ended without parsing, other than at max_tokens: the model failed."""
    return generation.error if reply.finish_reason != "length" else None


async def _told(generation: AsyncReplyStream) -> AsyncIterator[str | Reply]:
    """The answer's text as it comes, then its finished reply (a constrained answer that failed to
    parse, other than at max_tokens, raises its error instead)."""
    try:
        async for text in generation:
            yield text
    except StructuredOutputError:
        pass  # judged with the finish reason, below
    reply = await generation.reply(strict=False)
    failed = _format_error(generation, reply)
    if failed is not None:
        raise failed
    yield reply


class _App:
    def __init__(self, bot: AsyncAssistant, settings: ServerSettings, model_id: str) -> None:
        self.settings = settings
        self.model_id = model_id
        self.metrics = ServerMetrics()
        self.worker = ModelWorker(bot, settings.max_queue, self.metrics)
        self.created = _created(bot.assistant)

    def _authorize(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None and not self.settings.allows(origin):
            # a page of another site may send a "simple" POST without asking first: it could not
            # read the answer, but the model would still run for it
            raise HTTPError(
                403,
                f"Requests from web pages of {origin} are not allowed; start the server with "
                f"--cors-origin {origin} to allow them.",
                "permission_error",
                code="origin_not_allowed",
            )
        key = self.settings.api_key
        if key is None:
            return
        given = request.headers.get("authorization", "")
        token = given[7:] if given[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(token.encode(), key.encode()):
            raise HTTPError(
                401,
                "Missing or wrong API key: send 'Authorization: Bearer KEY'.",
                "authentication_error",
                code="invalid_api_key",
            )

    async def _body(self, request: Request) -> Any:
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # a compressed body read as JSON was "not valid JSON: can't decode byte 0x8b"
            raise HTTPError(
                415,
                f"Content-Encoding {encoding!r} is not supported: send the JSON body uncompressed.",
                "invalid_request_error",
            )
        limit = self.settings.max_request_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
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

        timeout = self.settings.body_timeout_s
        try:
            await asyncio.wait_for(read(), timeout)
        except asyncio.TimeoutError as exc:
            raise HTTPError(
                408,
                f"The request body did not arrive in full within {timeout:g} s ({len(data)} bytes came); "
                "send it whole.",
                "invalid_request_error",
            ) from exc
        try:
            return load_json(bytes(data))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HTTPError(400, f"The request body is not valid JSON: {exc}.", "invalid_request_error") from exc

    async def chat(self, request: Request) -> Response:
        return await self._answer(request, parse_chat_request, new_id, self._completion, self._chat_sse)

    async def responses(self, request: Request) -> Response:
        return await self._answer(request, parse_responses_request, response_id, self._response, self._responses_sse)

    def _completion(self, rid: str, reply: Reply, chat: ChatRequest) -> dict[str, Any]:
        return completion_body(rid, self.model_id, reply, chat.parallel_tool_calls)

    def _response(self, rid: str, reply: Reply, chat: ChatRequest) -> dict[str, Any]:
        return response_body(rid, self.model_id, reply, chat)

    async def _answer(
        self,
        request: Request,
        parse: Callable[[Any, int], ChatRequest],
        new_rid: Callable[[], str],
        whole: Callable[[str, Reply, ChatRequest], dict[str, Any]],
        streamed: Callable[[AsyncReplyStream, str, ChatRequest], AsyncIterator[str]],
    ) -> Response:
        """One request of either API: parsed, answered in turn, sent whole or as its stream."""
        try:
            self._authorize(request)
            chat = parse(await self._body(request), self.settings.max_tokens)
            generation = await _until_disconnect(request, self.worker.submit(chat))
        except Exception as exc:
            error = _translate(exc)
            self.metrics.record_status(error.status)
            return error.response()
        rid = new_rid()
        if chat.stream:
            self.metrics.record_status(200)  # the status line goes out now; later errors go in the stream
            return StreamingResponse(
                streamed(generation, rid, chat),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )

        async def collect() -> Reply:
            try:
                return await generation.reply(strict=False)
            finally:
                generation.cancel()

        try:
            reply = await _until_disconnect(request, collect())
            failed = _format_error(generation, reply)
            if failed is not None:
                raise failed
        except Exception as exc:
            error = _translate(exc)
            self.metrics.record_status(error.status)
            return error.response()
        self.metrics.record_status(200)
        return JSONResponse(whole(rid, reply, chat))

    async def _chat_sse(self, generation: AsyncReplyStream, rid: str, chat: ChatRequest) -> AsyncIterator[str]:
        def event(body: dict[str, Any]) -> str:
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        try:
            yield event(chunk_body(rid, self.model_id, {"role": "assistant", "content": ""}))
            async for said in _told(generation):
                if isinstance(said, str):
                    yield event(chunk_body(rid, self.model_id, {"content": said}))
                else:
                    reply = said  # the last item: the finished reply
            delta: dict[str, Any] = {}
            if reply.tool_calls:
                delta["tool_calls"] = _tool_calls(reply, streaming=True, parallel=chat.parallel_tool_calls)
            if reply.thinking:
                delta["reasoning_content"] = reply.thinking
            yield event(chunk_body(rid, self.model_id, delta, finish_reason(reply), logprobs=logprobs_body(reply)))
            if chat.include_usage:
                yield event(chunk_body(rid, self.model_id, None, usage=usage_body(reply)))
            yield "data: [DONE]\n\n"
        except Exception as exc:  # headers are sent: report in the stream, as OpenAI does
            error = _translate(exc)
            yield event(error_body(str(error), error.kind, error.param, error.code))
        finally:
            generation.cancel()

    async def _responses_sse(self, generation: AsyncReplyStream, rid: str, chat: ChatRequest) -> AsyncIterator[str]:
        events = ResponseEvents(rid, self.model_id, chat)
        try:
            yield events.started()
            async for said in _told(generation):
                yield events.text(said) if isinstance(said, str) else events.finished(said)
        except Exception as exc:  # headers are sent: a response.failed event, as OpenAI sends
            error = _translate(exc)
            yield events.failed(str(error), error.code or error.kind)
        finally:
            generation.cancel()

    async def models(self, request: Request) -> Response:
        try:
            self._authorize(request)
        except HTTPError as exc:
            return exc.response()
        return JSONResponse({"object": "list", "data": [self._model()]})

    async def model(self, request: Request) -> Response:
        """OpenAI's ``models.retrieve``: the served model by its id; any other id is 404."""
        try:
            self._authorize(request)
            asked = request.path_params["model"]
            if asked != self.model_id:
                raise HTTPError(
                    404,
                    f"The model {asked!r} is not served here; this server serves {self.model_id!r}.",
                    "invalid_request_error",
                    "model",
                    "model_not_found",
                )
        except HTTPError as exc:
            return exc.response()
        return JSONResponse(self._model())

    def _model(self) -> dict[str, Any]:
        return {"id": self.model_id, "object": "model", "created": self.created, "owned_by": "edgeqwen"}

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "model": self.model_id,
                "generating": self.worker.busy,
                "queue_waiting": self.worker.waiting,
            }
        )

    async def metrics_route(self, request: Request) -> Response:
        try:
            self._authorize(request)
        except HTTPError as exc:
            return exc.response()
        if request.query_params.get("format") == "json":
            return JSONResponse(self.metrics.as_dict(self.worker.waiting, self.worker.busy))
        return PlainTextResponse(
            self.metrics.prometheus(self.worker.waiting, self.worker.busy), media_type="text/plain; version=0.0.4"
        )


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status == 404:
        # name what is served: an OpenAI client pointed at /v1/completions or /v1/embeddings learns
        # that only the chat API is here
        served = ", ".join(
            f"{'/'.join(sorted(r.methods - {'HEAD'}))} {r.path.replace(':path', '')}"
            for r in request.app.routes
            if isinstance(r, Route)
        )
        message = f"No route {request.method} {request.url.path}. This server has {served}."
    elif status == 405 and (allowed := (getattr(exc, "headers", None) or {}).get("Allow")):
        message = f"{request.method} is not allowed on {request.url.path}: use {allowed}."
    else:
        message = str(getattr(exc, "detail", exc))
    return JSONResponse(error_body(message, "invalid_request_error", code=str(status)), status_code=status)


class _Cors(CORSMiddleware):
    """Starlette's CORS answers, with :meth:`ServerSettings.allows` deciding which pages may ask."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        # allow_origins only for "*": then the answers say "*" rather than echo each page's origin
        origins = list(settings.cors_origins)
        super().__init__(app, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"], max_age=600)
        self.settings = settings

    def is_allowed_origin(self, origin: str) -> bool:
        return self.settings.allows(origin)


def create_app(
    assistant: Assistant | AsyncAssistant, settings: ServerSettings | None = None, model_id: str | None = None
) -> Starlette:
    """The ASGI app serving ``assistant`` over HTTP. Given an :class:`~edgeqwen.AsyncAssistant`
    that the program also answers with, its requests and the program's own answers take turns on
    the one model."""
    settings = settings or ServerSettings()
    bot = assistant if isinstance(assistant, AsyncAssistant) else AsyncAssistant(assistant)
    name = model_id or getattr(getattr(bot.assistant.backend, "info", None), "name", None) or "edgeqwen"
    state = _App(bot, settings, name)
    routes = [
        Route("/v1/chat/completions", state.chat, methods=["POST"]),
        Route("/v1/responses", state.responses, methods=["POST"]),
        Route("/v1/models", state.models, methods=["GET"]),
        Route("/v1/models/{model:path}", state.model, methods=["GET"]),
        Route("/health", state.health, methods=["GET"]),
        Route("/metrics", state.metrics_route, methods=["GET"]),
    ]
    # a browser asks first (an OPTIONS preflight) and reads an answer only if the server names its page
    cors = Middleware(_Cors, settings=settings)
    app = Starlette(routes=routes, middleware=[cors], exception_handlers={404: _not_found, 405: _not_found})
    app.state.edgeqwen = state
    return app
