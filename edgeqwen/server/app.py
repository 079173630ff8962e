"""The HTTP layer: a Starlette app that speaks OpenAI's chat-completions and Responses APIs, its
legacy completions API, its embeddings API, and the rerank API of Jina's and Cohere's shape.

Routes: ``POST /v1/chat/completions``, ``POST /v1/responses`` and ``POST /v1/completions`` (JSON or
SSE; the last in :mod:`.completions`), ``POST /v1/embeddings`` (with an embedding model beside the
chat model; Text Embeddings Inference's ``/embed`` too, :mod:`.embeddings`), ``POST /v1/rerank``
(with a reranker beside it; :mod:`.rerank`), ``GET /v1/models`` (and ``/v1/models/ID``, other
servers' model cards: :mod:`.models`), ``GET /health`` (no key needed, for load balancers and scripts), ``GET
/metrics`` (Prometheus text; ``?format=json``). Every error is OpenAI's ``{"error": {...}}`` shape:
400 bad request, 401 missing or wrong API key, 404 unknown route, 413 body too large, 415 a
compressed body, 429 queue full, 500 model failure, 503 out of memory (:mod:`.http`). OpenAI's
moderation API judges texts by the policy's harm checks (:mod:`.moderations`); ``/tokenize`` and
``/detokenize`` are vLLM's and llama.cpp's (:mod:`.tokenize`), and llama-server's own
``/completion`` and ``/apply-template`` are served too (:mod:`.llama_server`), and Hugging Face's
TGI ``/generate`` (:mod:`.tgi`). Ollama's API and
Anthropic's Messages API are served beside it, over the same model (:mod:`.ollama`,
:mod:`.anthropic`); the responses kept for ``previous_response_id`` are in :mod:`.stored`. The model
work is in :mod:`.worker`; this module only translates.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route

from .. import __version__
from ..aio import AsyncAssistant, AsyncReplyStream
from ..turns import answer_room
from ..types import Reply
from .anthropic import anthropic_routes
from .bodies import chunk_body, completion_body, error_body, finish_reason, logprobs_body, new_id, usage_body
from .bodies import tool_calls_body as _tool_calls
from .completions import completions_routes
from .conversations import ConversationStore, conversation_routes
from .embeddings import EmbeddingWorker, embedding_routes
from .http import (
    HTTPError,
    authorize,
    data_events,
    format_error,
    in_line,
    openai_refused,
    read_body,
    sse,
    translate,
    turn,
    typed_events,
    until_disconnect,
)
from .kobold import kobold_routes
from .llama_server import llama_server_routes
from .metrics import ServerMetrics
from .models import model_routes
from .moderations import moderations_routes
from .ollama import ollama_routes
from .protocol import ChatRequest, choice_settings, parse_chat_request
from .rerank import RerankWorker, rerank_routes
from .response_events import ResponseEvents, response_body, response_id
from .responses import ResponsesRequest, parse_responses_request
from .settings import Cors, ServerSettings
from .stored import ResponseStore, stored_routes
from .tgi import tgi_routes
from .tokenize import tokenize_routes
from .worker import ModelWorker

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..embeddings import Embedder
    from ..rerank import Reranker

__all__ = ["create_app"]

log = logging.getLogger("edgeqwen.server")
C = TypeVar("C", bound=ChatRequest)


def _created(assistant: Assistant) -> int:
    """OpenAI's ``created`` for the model: when its folder was written (else the server's start)."""
    path = getattr(getattr(assistant.backend, "info", None), "path", None)
    try:
        return int(Path(path).stat().st_mtime) if path is not None else int(time.time())
    except (OSError, TypeError):
        return int(time.time())


def _fingerprint(assistant: Assistant, created: int) -> str:
    """OpenAI's ``system_fingerprint``: what the answers' determinism rests on (this edgeqwen, the
    backend, the model's file and when it was written), so a client comparing seeded answers can
    tell when it changed. TGI's client (LlamaIndex's TextGenerationInference) requires one."""
    backend = assistant.backend
    path = getattr(getattr(backend, "info", None), "path", None)
    said = f"{__version__} {type(backend).__name__} {path} {created}"
    return "fp_" + hashlib.sha256(said.encode()).hexdigest()[:12]


class _App:
    def __init__(
        self,
        bot: AsyncAssistant,
        settings: ServerSettings,
        model_id: str,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings
        self.model_id = model_id
        self.metrics = ServerMetrics()
        self.worker = ModelWorker(bot, settings.max_queue, self.metrics)
        self.created = _created(bot.assistant)
        self.fingerprint = _fingerprint(bot.assistant, self.created)
        self.embedding = EmbeddingWorker(embedder, settings.max_queue) if embedder is not None else None
        self.reranking = RerankWorker(reranker, settings.max_queue) if reranker is not None else None
        self.bot_backend = bot.assistant.backend
        self.stored = ResponseStore(settings.max_stored_responses)
        self.conversations = ConversationStore(settings.max_stored_responses, self.stored)

    def shut_down(self) -> None:
        """Told to stop (SIGTERM, Ctrl-C): end every answer and request under way or waiting with a
        503 (a stream's own error event once it began), as every later request gets, so the
        server exits within a token's time instead of when the answers end."""
        reason = HTTPError(
            503,
            "The server is shutting down; this answer was stopped. Retry against a server that is up.",
            "server_error",
            code="shutting_down",
        )
        self.worker.stop_all(reason)
        for side in (self.embedding, self.reranking):
            if side is not None:
                side.stop_all(reason)

    async def chat(self, request: Request) -> Response:
        return await self.answer(request, parse_chat_request, new_id, self._completion, self._chat_sse)

    async def responses(self, request: Request) -> Response:
        return await self.answer(
            request, self.parse_responses, response_id, self._response, self._responses_sse, refused=self._refused
        )

    def _refused(self, error: HTTPError, rid: str, chat: ResponsesRequest) -> str:
        """A response refused after its stream began: created, then failed (OpenAI's clients read
        ``response.created`` first)."""
        events = ResponseEvents(rid, self.model_id, chat)
        return events.started() + events.failed(error)

    def parse_responses(self, body: Any, max_tokens: int) -> ResponsesRequest:
        asked = parse_responses_request(body, max_tokens, self.stored, self.conversations)
        return replace(asked, store=asked.store and self.stored.limit > 0)  # what the response says of itself

    def _completion(self, rid: str, replies: list[Reply], chat: ChatRequest) -> dict[str, Any]:
        return completion_body(rid, self.model_id, replies, chat.parallel_tool_calls, self.fingerprint)

    def _response(self, rid: str, replies: list[Reply], chat: ResponsesRequest) -> dict[str, Any]:
        body = response_body(rid, self.model_id, replies[0], chat)
        self._keep(rid, chat, replies[0], body)
        return body

    def _keep(self, rid: str, chat: ResponsesRequest, reply: Reply, body: dict[str, Any]) -> None:
        """A finished response kept (unless store: false), and added to its conversation."""
        self.stored.keep(rid, chat, reply, body)
        if chat.conversation is not None:
            self.conversations.extend(chat.conversation, chat, reply, body)

    def failed(self, exc: BaseException, fail: Callable[[HTTPError], Response] = HTTPError.response) -> Response:
        """``exc`` as an error response, its status counted: OpenAI's shape, or as ``fail`` writes
        it in the route's API's own."""
        error = translate(exc)
        self.metrics.record_status(error.status)
        response = fail(error)
        for name, value in (error.headers or {}).items():  # every API's shape says when to retry, and how to log in
            response.headers.setdefault(name, value)
        return response

    def answered(self, body: Any) -> Response:
        """``body`` as a 200's JSON, its status counted."""
        self.metrics.record_status(200)
        return JSONResponse(body)

    def seed(self) -> int:
        """Where a request with n > 1 gives no seed, the one its later choices count on from: the
        served assistant's own, else a new one (so that sampling choices differ)."""
        own = self.worker.bot.assistant.config.seed
        return own if own is not None else secrets.randbelow(2**31)

    def _choice(self, chat: ChatRequest, index: int, seed: int) -> ChatRequest:
        return replace(chat, settings=choice_settings(chat.settings, index, seed))

    async def answer(
        self,
        request: Request,
        parse: Callable[[Any, int], C],
        new_rid: Callable[[], str],
        whole: Callable[[str, list[Reply], C], dict[str, Any]],
        streamed: Callable[[AsyncReplyStream, str, C, int], AsyncIterator[str]],
        fail: Callable[[HTTPError], Response] = HTTPError.response,
        refused: Callable[[HTTPError, str, C], str] = openai_refused,
    ) -> Response:
        """One request of a chat API: parsed, answered in turn (each of its ``n`` choices too), sent
        whole or as its stream; an error as ``fail`` writes it (OpenAI's shape, or the API's own),
        or in a stream that began while the request waited in line, as ``refused`` writes it."""
        try:
            authorize(request, self.settings)
            chat = parse(await read_body(request, self.settings), self.settings.max_tokens)
            submitted = asyncio.ensure_future(self.worker.submit(chat))
            generation = await self.opened(request, submitted, chat.stream)
        except Exception as exc:
            return self.failed(exc, fail)
        rid, seed = new_rid(), self.seed()
        if chat.stream:
            return self.stream(
                submitted, generation, lambda g: streamed(g, rid, chat, seed), lambda error: refused(error, rid, chat)
            )

        assert generation is not None  # only a stream leaves the line early

        async def collect(generation: AsyncReplyStream) -> Reply:
            try:
                reply = await generation.reply(strict=False)
            finally:
                generation.cancel()
            failed = format_error(generation, reply)
            if failed is not None:
                raise failed
            return reply

        replies: list[Reply] = []
        try:
            replies.append(await until_disconnect(request, collect(generation)))
            for index in range(1, chat.n):  # let in once: a later choice never gets a 429 halfway
                later = self.worker.submit(self._choice(chat, index, seed), queued=False)
                replies.append(await until_disconnect(request, collect(await until_disconnect(request, later))))
        except Exception as exc:
            return self.failed(exc, fail)
        return self.answered(whole(rid, replies, chat))

    async def opened(
        self, request: Request, submitted: asyncio.Future[AsyncReplyStream], stream: bool
    ) -> AsyncReplyStream | None:
        """The request's answer once it has begun (its errors raised, for a status); None for a
        stream still in line after a keep-alive's wait, whose headers then go out at once."""
        if stream and not await until_disconnect(request, turn(submitted, self.settings.keepalive_s)):
            return None
        return await until_disconnect(request, submitted)

    def stream(
        self,
        submitted: asyncio.Future[AsyncReplyStream],
        generation: AsyncReplyStream | None,
        streamed: Callable[[AsyncReplyStream], AsyncIterator[str]],
        refused: Callable[[HTTPError], str],
    ) -> Response:
        """The stream of an answer :meth:`opened` gave, or of one still in line (None)."""
        self.metrics.record_status(200)  # the status line goes out now; later errors go in the stream
        if generation is None:
            return sse(in_line(submitted, streamed, refused, self.settings.keepalive_s))
        return sse(streamed(generation))

    def _chat_sse(self, generation: AsyncReplyStream, rid: str, chat: ChatRequest, seed: int) -> AsyncIterator[str]:
        chunk = partial(chunk_body, rid, self.model_id, fingerprint=self.fingerprint)
        current = [generation]  # the choice being streamed

        def opening(index: int) -> list[dict[str, Any]]:
            return [chunk({"role": "assistant", "content": ""}, index=index)]

        def piece(text: str, index: int) -> dict[str, Any]:
            return chunk({"content": text}, index=index)

        def closing(reply: Reply, index: int) -> list[dict[str, Any]]:
            delta: dict[str, Any] = {}
            if reply.tool_calls:
                delta["tool_calls"] = _tool_calls(reply, streaming=True, parallel=chat.parallel_tool_calls)
            if reply.thinking and not current[0].thinking_streamed:
                delta["reasoning_content"] = reply.thinking
            logprobs = logprobs_body(reply)
            return [chunk(delta, finish_reason(reply), logprobs=logprobs, index=index)]

        def thought(text: str, index: int) -> dict[str, Any]:  # as vLLM and llama.cpp's server stream it
            return chunk({"reasoning_content": text}, index=index)

        async def more(index: int) -> AsyncReplyStream | None:
            if index >= chat.n:
                return None
            current[0] = await self.worker.submit(self._choice(chat, index, seed), queued=False)
            return current[0]

        def ending(replies: list[Reply]) -> list[dict[str, Any]]:
            return [chunk(None, usage=usage_body(*replies))] if chat.include_usage else []

        return data_events(generation, opening, piece, closing, thought, more, ending, self.settings.keepalive_s)

    def _responses_sse(
        self, generation: AsyncReplyStream, rid: str, chat: ResponsesRequest, seed: int
    ) -> AsyncIterator[str]:
        events = ResponseEvents(rid, self.model_id, chat)

        def keep(reply: Reply) -> None:  # before the client reads it is done
            assert events.done is not None
            self._keep(rid, chat, reply, events.done)

        return typed_events(generation, events, keep, self.settings.keepalive_s)

    def served(self) -> list[str]:
        """The models' ids: the chat model's, then the embedding model's (what Ollama's API lists)."""
        return [self.model_id] + ([self.embedding.embedder.name] if self.embedding is not None else [])

    def listed(self) -> list[str]:
        """What ``/v1/models`` lists: :meth:`served`, then the reranker's (Ollama's API has no reranking)."""
        return self.served() + ([self.reranking.reranker.name] if self.reranking is not None else [])

    def longest_prompt(self) -> int:
        """The most tokens a prompt may take and leave room to answer (a longer one drops turns
        first, or is refused)."""
        context = self.bot_backend.context_length
        return context - answer_room(self.settings.max_tokens, context)

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
            authorize(request, self.settings)
        except HTTPError as exc:
            return exc.response()
        if request.query_params.get("format") == "json":
            return JSONResponse(self.metrics.as_dict(self.worker.waiting, self.worker.busy))
        return PlainTextResponse(
            self.metrics.prometheus(self.worker.waiting, self.worker.busy), media_type="text/plain; version=0.0.4"
        )


def _served_elsewhere(request: Request) -> tuple[str, str] | None:
    """The served path a client meant, and the base URL that reaches it, when its base URL lacks
    ``/v1`` or has one too many: OpenAI's clients want ``.../v1``; Anthropic's and Ollama's add
    ``/v1`` or ``/api`` themselves and want the bare address (``/v1/v1/messages``, ``/v1/api/chat``)."""
    path = request.url.path
    bare = str(request.base_url).rstrip("/")
    for near, base in ((f"/v1{path}", f"{bare}/v1"), (path.removeprefix("/v1"), bare)):
        scope = {**request.scope, "path": near}
        if near != path and any(r.matches(scope)[0] is Match.FULL for r in request.app.routes if isinstance(r, Route)):
            return near, base
    return None


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status == 404:
        # name what is served: a client pointed at a route of another server learns what is here
        served = ", ".join(
            f"{'/'.join(sorted(r.methods - {'HEAD'}))} {r.path.replace(':path', '')}"
            for r in request.app.routes
            if isinstance(r, Route)
        )
        message = f"No route {request.method} {request.url.path}. "
        if meant := _served_elsewhere(request):
            message += f"{request.method} {meant[0]} is served: set the client's base URL to {meant[1]}. "
        message += f"This server has {served}."
        if request.url.path.startswith(("/api/", "/v1/api/")):  # Ollama's clients show its shape's text
            return JSONResponse({"error": message}, status_code=404)
    elif status == 405:
        # every route at the path (Starlette's Allow names the first only: / is Ollama's GET and TEI's POST)
        at = [r for r in request.app.routes if isinstance(r, Route) and r.matches(request.scope)[0] is Match.PARTIAL]
        allowed = ", ".join(sorted({m for r in at for m in r.methods or ()}))
        message = f"{request.method} is not allowed on {request.url.path}: use {allowed}."
        body = error_body(message, "invalid_request_error", code="405")
        return JSONResponse(body, status_code=405, headers={"Allow": allowed})
    else:
        message = str(getattr(exc, "detail", exc))
    return JSONResponse(error_body(message, "invalid_request_error", code=str(status)), status_code=status)


def create_app(
    assistant: Assistant | AsyncAssistant,
    settings: ServerSettings | None = None,
    model_id: str | None = None,
    embedder: Embedder | None = None,
    reranker: Reranker | None = None,
) -> Starlette:
    """The ASGI app serving ``assistant`` over HTTP. Given an :class:`~edgeqwen.AsyncAssistant`
    that the program also answers with, its requests and the program's own answers take turns on
    the one model. ``embedder``: an :class:`~edgeqwen.Embedder` that serves ``/v1/embeddings``;
    ``reranker``: a :class:`~edgeqwen.Reranker` that serves ``/v1/rerank``."""
    settings = settings or ServerSettings()
    bot = assistant if isinstance(assistant, AsyncAssistant) else AsyncAssistant(assistant)
    name = model_id or getattr(getattr(bot.assistant.backend, "info", None), "name", None) or "edgeqwen"
    state = _App(bot, settings, name, embedder, reranker)
    routes = [
        Route("/v1/chat/completions", state.chat, methods=["POST"]),
        Route("/v1/responses", state.responses, methods=["POST"]),
        *stored_routes(state),
        *conversation_routes(state),
        *anthropic_routes(state),  # Anthropic's Messages API, for the clients that speak only it
        *completions_routes(state),
        *embedding_routes(state),  # OpenAI's /v1/embeddings, Text Embeddings Inference's /embed
        *tgi_routes(state),  # Text Generation Inference's /generate; POST /, TGI's or TEI's by its body
        *kobold_routes(state),  # the KoboldAI API as KoboldCpp serves it (/api/v1/generate ...)
        *moderations_routes(state),  # OpenAI's moderation API, over the policy's harm checks
        *tokenize_routes(state),  # vLLM's and llama.cpp's /tokenize and /detokenize
        *llama_server_routes(state),  # llama-server's own /completion and /apply-template
        *rerank_routes(state),
        *model_routes(state),  # OpenAI's /v1/models; TabbyAPI's and text-generation-webui's model cards
        Route("/health", state.health, methods=["GET"]),
        Route("/metrics", state.metrics_route, methods=["GET"]),
        *ollama_routes(state),  # Ollama's API, for the apps that speak only it
    ]
    # a browser asks first (an OPTIONS preflight) and reads an answer only if the server names its page
    cors = Middleware(Cors, settings=settings)
    app = Starlette(routes=routes, middleware=[cors], exception_handlers={404: _not_found, 405: _not_found})
    app.state.edgeqwen = state
    return app
