"""Ollama's API (``/api/...``) beside OpenAI's, on the same model and the same waiting line, for the
apps that speak only Ollama's (Home Assistant's Ollama integration, and the many tools whose
"local model" setting means an Ollama URL): point them at ``http://HOST:PORT``.

``POST /api/chat`` and ``POST /api/generate`` (streamed as NDJSON unless ``"stream": false``, as
Ollama does; generate's ``raw`` continues the prompt as written, as ``/v1/completions`` does),
``POST /api/embed`` and the older ``/api/embeddings`` (with ``--embeddings``), ``GET /api/tags``,
``POST /api/show``, ``GET /api/ps``, ``GET /api/version``, ``GET /``. A chat body is read as the
OpenAI chat request it means (``ollama_requests.py``), so both APIs answer under the same checks,
safety policy and limits. Errors are Ollama's ``{"error": "..."}``. A model name other than a served
one is a 404, as Ollama's; models are not pulled, copied or deleted through the API (``edgeqwen
pull`` on the server does that), which those routes say.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from ..aio import AsyncReplyStream
from ..types import Reply
from .bodies import logprobs_body
from .embeddings import no_embedding_model, parse_embeddings_request
from .http import HTTPError, Thought, authorize, read_body, told, translate, until_disconnect, whole_reply
from .ollama_requests import generate_chat, openai_chat, untagged
from .protocol import ChatRequest, RequestError

if TYPE_CHECKING:
    from .app import _App

__all__ = ["OLLAMA_API_VERSION", "iso_time", "ollama_routes"]

# The API level these routes follow (thinking, tools, a JSON Schema as format): clients gate those
# features on the version they are told.
OLLAMA_API_VERSION = "0.12.0"


def iso_time(seconds: float | None = None) -> str:
    """A time as Ollama and Anthropic write it (RFC 3339, UTC, ``Z``); now when none is given."""
    moment = datetime.now(timezone.utc) if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def _stats(reply: Reply, started: float) -> dict[str, Any]:
    m = reply.metrics
    done = "length" if reply.finish_reason == "length" else "stop"
    return {
        "done": True,
        "done_reason": done,
        "total_duration": int((time.perf_counter() - started) * 1e9),
        "load_duration": 0,
        "prompt_eval_count": m.prompt_tokens,
        "prompt_eval_duration": int(m.prefill_s * 1e9),
        "eval_count": m.generated_tokens,
        "eval_duration": int(m.decode_s * 1e9),
    }


def _logprobs(reply: Reply) -> dict[str, Any]:
    """The tokens' log probabilities where asked (``logprobs``), all with the last line."""
    body = logprobs_body(reply)
    return {"logprobs": body["content"]} if body is not None else {}


def _calls(reply: Reply) -> list[dict[str, Any]]:
    return [{"function": {"name": c.name, "arguments": c.arguments}} for c in reply.tool_calls]


class _Ollama:
    """The routes, over the OpenAI app's state (its worker, embedder, settings and metrics)."""

    def __init__(self, app: _App) -> None:
        self.app = app

    def _served(self, asked: Any, embedding: bool = False) -> str:
        """The served model ``asked`` names (``NAME`` or ``NAME:latest``), else a 404 as Ollama's."""
        name = untagged(asked)
        chat, embedder = self.app.model_id, self.app.embedding.embedder.name if self.app.embedding else None
        if embedding and embedder is None:
            raise no_embedding_model(chat)
        if embedding and name == embedder or not embedding and name == chat:
            return name
        if not embedding and embedder is not None and name == embedder:
            raise HTTPError(
                400,
                f"{embedder!r} is the embedding model: it turns text into vectors and cannot answer; chat with "
                f"{chat!r}.",
                "invalid_request_error",
            )
        if embedding and name == chat:
            raise HTTPError(
                400,
                f"{chat!r} is the chat model; its hidden states were never trained as text vectors. Embed with "
                f"{embedder!r}.",
                "invalid_request_error",
            )
        served = " and ".join(repr(n) for n in self.app.served())
        raise HTTPError(
            404,
            f"model {asked!r} not found: this server serves {served} (GET /api/tags); models are added with "
            "`edgeqwen pull` where the server runs.",
            "not_found_error",
        )

    async def _answer(
        self, request: Request, parse: Callable[[Any], ChatRequest | None], field: str, reads_raw: bool = False
    ) -> Response:
        """One chat or generate request: parsed, answered in turn, sent whole or as NDJSON lines;
        ``field`` is where its text goes (chat's ``message``, generate's ``response``). ``reads_raw``
        (generate): ``"raw": true`` continues the prompt as written, with no template; a chat has
        no such field."""
        started = time.perf_counter()
        try:
            authorize(request, self.app.settings)
            body = await read_body(request, self.app.settings)
            chat = parse(body)
            if chat is None:
                # An empty prompt or no messages loads the model and answers nothing (clients warm a
                # model up so). It is always loaded here, and stays so: keep_alive 0 unloads nothing.
                model = self._served(body.get("model"))
                said = {"model": model, "created_at": iso_time(), **self._said(field, "")}
                return JSONResponse({**said, "done": True, "done_reason": "load"})
            self._served(chat.model)
            generation = await until_disconnect(request, self._submit(chat, raw=reads_raw and body.get("raw") is True))
        except Exception as exc:
            return self._error(exc)
        if chat.stream:
            self.app.metrics.record_status(200)
            lines = self._lines(generation, chat.model, field, started)
            return StreamingResponse(lines, media_type="application/x-ndjson")
        try:
            reply = await whole_reply(request, generation)
        except Exception as exc:
            return self._error(exc)
        return self.app.answered(self._whole(reply, chat.model, field, started))

    async def _submit(self, chat: ChatRequest, raw: bool) -> AsyncReplyStream:
        if not raw:
            return await self.app.worker.submit(chat)
        # the prompt as written (/v1/completions' path): the policy's checks as for a chat
        formatted = {"response_format": chat.response_format} if chat.response_format else {}
        return await self.app.worker.submit_prompt(chat.messages[-1].content, {**chat.settings, **formatted})

    def _error(self, exc: BaseException) -> Response:
        return self.app.failed(exc, lambda error: JSONResponse({"error": str(error)}, status_code=error.status))

    @staticmethod
    def _said(field: str, text: str, thinking: str = "", calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """What a piece of the answer is in the route's shape: a chat ``message`` or generate's ``response``."""
        if field == "response":
            return {"response": text, **({"thinking": thinking} if thinking else {})}
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        if calls:
            message["tool_calls"] = calls
        return {"message": message}

    def _whole(self, reply: Reply, model: str, field: str, started: float) -> dict[str, Any]:
        said = self._said(field, reply.text, reply.thinking, _calls(reply))
        return {"model": model, "created_at": iso_time(), **said, **_stats(reply, started), **_logprobs(reply)}

    async def _lines(
        self, generation: AsyncReplyStream, model: str, field: str, started: float
    ) -> AsyncIterator[bytes]:
        def line(body: dict[str, Any]) -> bytes:
            return (json.dumps({"model": model, "created_at": iso_time(), **body}, ensure_ascii=False) + "\n").encode()

        try:
            async for said in told(generation):
                if isinstance(said, Thought):  # Qwen3's thinking as it comes, as Ollama streams it
                    yield line({**self._said(field, "", said), "done": False})
                    continue
                if isinstance(said, str):
                    yield line({**self._said(field, said), "done": False})
                    continue
                thinking = "" if generation.thinking_streamed else said.thinking
                if thinking or said.tool_calls:  # in a line of their own, where apps read a message's parts
                    yield line({**self._said(field, "", thinking, _calls(said)), "done": False})
                yield line({**self._said(field, ""), **_stats(said, started), **_logprobs(said)})
        except Exception as exc:  # the status line went out: the error is the stream's last line, as Ollama's
            yield (json.dumps({"error": str(translate(exc))}) + "\n").encode()
        finally:
            generation.cancel()

    # -- routes --------------------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        def parse(body: Any) -> ChatRequest | None:
            if isinstance(body, dict) and body.get("messages") in (None, []):
                return None  # Ollama's way to load a model: a chat with no messages
            return openai_chat(body, self.app.settings.max_tokens)

        return await self._answer(request, parse, "message")

    async def generate(self, request: Request) -> Response:
        parse = partial(generate_chat, max_tokens=self.app.settings.max_tokens)
        return await self._answer(request, parse, "response", reads_raw=True)

    async def embed(self, request: Request) -> Response:
        """``/api/embed`` (``input``) and the older ``/api/embeddings`` (``prompt``, one vector)."""
        started = time.perf_counter()
        legacy = request.url.path.endswith("/embeddings")
        try:
            authorize(request, self.app.settings)
            body = await read_body(request, self.app.settings)
            if not isinstance(body, dict):
                raise RequestError("The request body must be a JSON object with model and input.")
            model = self._served(body.get("model"), embedding=True)
            assert self.app.embedding is not None  # _served said so otherwise
            given = {"input": body.get("prompt") if legacy else body.get("input"), "dimensions": body.get("dimensions")}
            truncate = body.get("truncate", True)  # Ollama's default: a text too long loses its end
            if not isinstance(truncate, bool):
                raise RequestError(f"truncate must be true or false, got {truncate!r}.", "truncate")
            asked = replace(parse_embeddings_request(given), truncate=truncate)
            vectors, tokens = await until_disconnect(request, self.app.embedding.embed(asked))
        except Exception as exc:
            return self._error(exc)
        self.app.metrics.record_status(200)
        self.app.metrics.record_side("embedding", len(vectors), tokens)
        if legacy:
            return JSONResponse({"embedding": vectors[0].tolist()})
        return JSONResponse(
            {
                "model": model,
                "embeddings": vectors.tolist(),
                "total_duration": int((time.perf_counter() - started) * 1e9),
                "load_duration": 0,
                "prompt_eval_count": tokens,
            }
        )

    def _facts(self, name: str) -> dict[str, Any]:
        """What Ollama's listings say of a served model, read from its backend."""
        from ..catalog import spec_named

        embedder = self.app.embedding.embedder if self.app.embedding is not None else None
        backend = embedder.backend if embedder is not None and name == embedder.name else self.app.bot_backend
        info = backend.info
        spec = spec_named(name)
        params = spec.geometry.checkpoint_params if spec is not None else 0
        return {
            "format": "gguf" if backend.name == "llamacpp" else backend.name,
            "family": getattr(info, "model_type", ""),
            "parameter_size": f"{params / 1e9:.1f}B" if params else "",
            "quantization": getattr(info, "quantization", "int4" if backend.name == "onnx" else ""),
            "size": getattr(info, "weights_bytes", 0),
            "context_length": backend.context_length,
            "thinks": backend.template.supports_thinking,
        }

    def _listed(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A served model as Ollama's listings name it (their shared fields), and its facts."""
        facts = self._facts(name)
        details = {
            "parent_model": "",
            "format": facts["format"],
            "family": facts["family"],
            "families": [facts["family"]],
            "parameter_size": facts["parameter_size"],
            "quantization_level": facts["quantization"],
        }
        return {"name": name, "model": name, "size": facts["size"], "digest": "", "details": details}, facts

    async def tags(self, request: Request) -> Response:
        try:
            authorize(request, self.app.settings)
        except HTTPError as exc:
            return self._error(exc)
        models = [{**self._listed(name)[0], "modified_at": iso_time(self.app.created)} for name in self.app.served()]
        return JSONResponse({"models": models})

    async def ps(self, request: Request) -> Response:
        try:
            authorize(request, self.app.settings)
        except HTTPError as exc:
            return self._error(exc)
        models = []
        for name in self.app.served():
            listed, facts = self._listed(name)
            expires = "9999-12-31T23:59:59Z"  # loaded for the server's life
            models.append({**listed, "expires_at": expires, "size_vram": 0, "context_length": facts["context_length"]})
        return JSONResponse({"models": models})

    async def show(self, request: Request) -> Response:
        try:
            authorize(request, self.app.settings)
            body = await read_body(request, self.app.settings)
            asked = body.get("model", body.get("name")) if isinstance(body, dict) else None
            embedding = self.app.embedding is not None and untagged(asked) == self.app.embedding.embedder.name
            name = self._served(asked, embedding=embedding)
        except Exception as exc:
            return self._error(exc)
        listed, facts = self._listed(name)
        thinking = ["thinking"] if facts["thinks"] else []
        capabilities = ["embedding"] if embedding else ["completion", "tools", *thinking]
        return JSONResponse(
            {
                "modelfile": "",
                "parameters": "",
                "template": "",
                "details": listed["details"],
                "model_info": {
                    "general.architecture": facts["family"],
                    f"{facts['family']}.context_length": facts["context_length"],
                },
                "capabilities": capabilities,
                "modified_at": iso_time(self.app.created),
            }
        )

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": OLLAMA_API_VERSION})

    async def root(self, request: Request) -> Response:
        return PlainTextResponse(
            "edgeqwen is running (OpenAI's API at /v1, Ollama's at /api, Anthropic's at /v1/messages)"
        )

    async def managed_elsewhere(self, request: Request) -> Response:
        verb = request.url.path.rsplit("/", 1)[-1]
        try:
            authorize(request, self.app.settings)  # a caller without the key learns nothing of the server
        except HTTPError as exc:
            return self._error(exc)
        return self._error(
            HTTPError(
                400,
                f"/api/{verb}: models are not managed through this server's API. Run `edgeqwen pull MODEL` (or "
                "`edgeqwen rm MODEL`) where it runs, and start it with that model.",
                "invalid_request_error",
            )
        )


def ollama_routes(app: _App) -> list[Route]:
    """Ollama's routes over the OpenAI app's state."""
    o = _Ollama(app)
    return [
        Route("/", o.root, methods=["GET", "HEAD"]),
        Route("/api/chat", o.chat, methods=["POST"]),
        Route("/api/generate", o.generate, methods=["POST"]),
        Route("/api/embed", o.embed, methods=["POST"]),
        Route("/api/embeddings", o.embed, methods=["POST"]),
        Route("/api/tags", o.tags, methods=["GET"]),
        Route("/api/ps", o.ps, methods=["GET"]),
        Route("/api/show", o.show, methods=["POST"]),
        Route("/api/version", o.version, methods=["GET"]),
        *(
            Route(f"/api/{verb}", o.managed_elsewhere, methods=["POST", "DELETE"])
            for verb in ("pull", "push", "create", "copy", "delete")
        ),
    ]
