"""Hugging Face's Text Generation Inference API: ``POST /generate``, ``POST /generate_stream``,
``GET /info``, and ``POST /`` with ``stream`` in the body, where ``huggingface_hub``'s
``text_generation`` sends both (so LangChain's ``HuggingFaceEndpoint(endpoint_url=...)``,
LlamaIndex's ``TextGenerationInference``). ``POST /`` without ``parameters`` is Text Embeddings
Inference's embed (:mod:`.embeddings`). The prompt (``inputs``) is continued as written, as
``/v1/completions`` continues it: no chat template, the policy's input checks and output filters.

Decisions, where the two servers differ:
- Greedy unless ``do_sample`` or a sampler is set (``temperature`` other than 1, ``top_k``,
  ``top_p`` or ``typical_p`` below 1), as TGI chooses; a sampler the body leaves out is then the
  served model's default (as on every route here), not TGI's 1.0; ``max_new_tokens`` left out is
  the server's ``--max-tokens``.
- ``grammar`` (``json``, ``json_schema``, ``regex``) holds the answer; ``stop``, ``seed``,
  ``repetition_penalty``, ``frequency_penalty``, ``typical_p``, ``return_full_text`` as TGI reads
  them.
- ``details``: ``finish_reason`` (``length``, ``eos_token``, ``stop_sequence``),
  ``generated_tokens``, ``seed``, and each token's id, text and log probability (its
  ``top_n_tokens`` alternatives too); no ``prefill`` (``decoder_input_details`` is refused).
- A stream's event carries a piece of the answer's text as the policy's filters release it (one
  token or more): its ``id`` is -1 and its ``logprob`` null, and the last event holds
  ``generated_text`` and, with ``details``, the whole answer's details.
- ``/info``'s ``version`` is the TGI API served (3.0: grammars, tool calls on chat), its
  ``router`` this edgeqwen; ``max_total_tokens`` the window, ``max_input_tokens`` what a prompt
  may take and leave room to answer.
- Refused, not passed over: ``best_of`` above 1, ``watermark``, ``truncate``, ``adapter_id``,
  ``decoder_input_details``. Errors are TGI's ``{"error", "error_type"}``,
  which ``huggingface_hub`` raises as its ``ValidationError``, ``OverloadedError`` ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import InvalidRequestError
from ..generation_config import MAX_LOGPROBS
from ..types import Reply, TokenLogprob
from .embeddings import tei_embedding
from .http import HTTPError, authorize, data_events, event, read_body, whole_reply
from .protocol import RequestError, flag, format_of
from .samplers import MAX_STOPS, settings_of

if TYPE_CHECKING:
    from ..aio import AsyncReplyStream
    from .app import _App

__all__ = ["TgiRequest", "parse_tgi_request", "tgi_error", "tgi_routes"]

_SAME = ("temperature", "top_k", "top_p", "seed", "repetition_penalty", "frequency_penalty", "typical_p")
_REFUSED = {  # parameter: its off value; the answer would not be what it asks at any other
    "best_of": 1,
    "watermark": False,
    "truncate": None,
    "adapter_id": None,
    "decoder_input_details": False,
}
_FINISH = {"length": "length", "stop_string": "stop_sequence"}  # the rest: the end token's


@dataclass(frozen=True)
class TgiRequest:
    """A parsed ``/generate`` body."""

    inputs: str
    stream: bool = False
    details: bool = False
    full_text: bool = False  # return_full_text: the prompt before the answer
    settings: dict[str, Any] = field(default_factory=dict)  # Assistant.complete's keywords


def parse_tgi_request(body: Any, max_tokens_limit: int, stream: bool | None = None) -> TgiRequest:
    """Check a TGI body (``stream`` None: the body's own, ``POST /``'s) and turn it into a
    :class:`TgiRequest` (RequestError if bad)."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with inputs and parameters.")
    inputs = body.get("inputs")
    if not isinstance(inputs, str) or not inputs:
        raise RequestError("inputs must be the prompt's text, not empty.", "inputs")
    given = body.get("parameters") or {}
    if not isinstance(given, dict):
        raise RequestError("parameters must be an object.", "parameters")
    for name, off in _REFUSED.items():
        if given.get(name) not in (None, off):
            raise RequestError(
                f"parameters.{name} is not supported by this server (only {off!r}): the answer would not be what it "
                "asks.",
                name,
            )
    plain = {k: given[k] for k in _SAME if given.get(k) is not None}
    warpers = (("temperature", 1.0), ("top_k", 0), ("top_p", 1.0), ("typical_p", 1.0))
    sampled = given.get("do_sample") or any(plain.get(k) not in (None, off) for k, off in warpers)
    if not sampled:
        plain["temperature"] = 0.0  # TGI's greedy choice
    plain["max_tokens"] = given.get("max_new_tokens")
    stop = given.get("stop") or given.get("stop_sequences")
    if stop:
        plain["stop"] = stop
    try:
        settings = settings_of(plain, max_tokens_limit)
    except RequestError as exc:
        name = "max_new_tokens" if exc.param == "max_tokens" else exc.param
        raise RequestError(f"parameters.{str(exc).replace('max_tokens', 'max_new_tokens')}", name) from None
    top = given.get("top_n_tokens")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_LOGPROBS):
        raise RequestError(
            f"top_n_tokens must be a whole number from 0 to {MAX_LOGPROBS}, got {top!r}.", "top_n_tokens"
        )
    details = flag(given, "details")
    if details:
        settings["logprobs"] = top or 0
    grammar = given.get("grammar")
    if grammar is not None:  # TGI's {"type": "json" | "json_schema" | "regex", "value": ...}
        try:
            fmt = format_of({"response_format": grammar})
        except InvalidRequestError as exc:
            raise RequestError(str(exc).replace("response_format", "grammar"), "grammar") from None
        if fmt is not None:
            settings["response_format"] = fmt
    streamed = flag(body, "stream") if stream is None else stream
    return TgiRequest(inputs, streamed, details, flag(given, "return_full_text"), settings)


def _token(t: TokenLogprob) -> dict[str, Any]:
    return {"id": t.token, "text": t.text, "logprob": t.logprob, "special": False}


def _details(asked: TgiRequest, reply: Reply, streamed: bool = False) -> dict[str, Any]:
    m = reply.metrics
    out: dict[str, Any] = {
        "finish_reason": _FINISH.get(m.finish_reason or "", "eos_token"),
        "generated_tokens": m.generated_tokens,
        "seed": asked.settings.get("seed"),
    }
    if not streamed:
        said = reply.logprobs or ()
        out |= {"prefill": [], "tokens": [_token(t) for t in said], "best_of_sequences": None}
        if asked.settings.get("logprobs"):
            out["top_tokens"] = [[_token(a) for a in t.top] for t in said]
    else:
        out["input_length"] = m.prompt_tokens
    return out


def tgi_error(error: HTTPError) -> dict[str, Any]:
    """An error in TGI's shape: its message, and the kind ``huggingface_hub`` raises it as."""
    kind = "overloaded" if error.status == 429 else "validation" if error.status < 500 else "generation"
    return {"error": str(error), "error_type": kind}


def tgi_routes(app: _App) -> list[Route]:
    """``POST /generate``, ``POST /generate_stream``, and ``POST /``: TGI's text generation where
    the body has ``parameters`` (what ``text_generation`` always sends), else TEI's embed."""
    tei = tei_embedding(app)

    def failed(exc: BaseException) -> Response:
        return app.failed(exc, lambda error: JSONResponse(tgi_error(error), status_code=error.status))

    async def generate(request: Request, stream: bool | None = None, body: Any = None) -> Response:
        try:
            authorize(request, app.settings)
            body = await read_body(request, app.settings) if body is None else body
            asked = parse_tgi_request(body, app.settings.max_tokens, stream)
            submitted = asyncio.ensure_future(app.worker.submit_prompt(asked.inputs, asked.settings))
            generation = await app.opened(request, submitted, asked.stream)
            if asked.stream:
                return app.stream(submitted, generation, lambda g: streamed(g, asked), failed_event)
            assert generation is not None  # only a stream leaves the line early
            reply = await whole_reply(request, generation)
        except Exception as exc:
            return failed(exc)
        whole: dict[str, Any] = {"generated_text": (asked.inputs if asked.full_text else "") + reply.text}
        if asked.details:
            whole["details"] = _details(asked, reply)
        return app.answered([whole] if stream is None else whole)  # POST / answers TGI's list of one

    def streamed(generation: AsyncReplyStream, asked: TgiRequest) -> AsyncIterator[str]:
        count = [0]

        def piece(text: str, index: int) -> dict[str, Any]:
            count[0] += 1
            token = {"id": -1, "text": str(text), "logprob": None, "special": False}
            return {"index": count[0], "token": token, "top_tokens": None, "generated_text": None, "details": None}

        def closing(reply: Reply, index: int) -> list[dict[str, Any]]:
            last = piece("", index)
            last["token"]["special"] = True  # the end: no text of its own, as TGI's end token has none
            last["generated_text"] = (asked.inputs if asked.full_text else "") + reply.text
            last["details"] = _details(asked, reply, streamed=True) if asked.details else None
            return [last]

        every = app.settings.keepalive_s
        return data_events(generation, lambda i: [], piece, closing, piece, None, None, every, "", failed_event)

    def failed_event(error: HTTPError) -> str:
        return event(tgi_error(error))

    async def root(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            body = await read_body(request, app.settings)
        except Exception as exc:
            return app.failed(exc)
        if isinstance(body, dict) and "parameters" in body:
            return await generate(request, None, body)
        return await tei(request, body)

    async def whole(request: Request) -> Response:
        return await generate(request, False)

    async def stream(request: Request) -> Response:
        return await generate(request, True)

    async def info(request: Request) -> Response:
        """TGI's ``/info``: LlamaIndex's ``TextGenerationInference`` takes its context window from
        ``max_total_tokens`` and its model's name from ``model_id`` (without it, 3,900 tokens and
        no name), and reads ``version`` (TGI's API, served as of 3.0) to know tool calls work."""
        try:
            authorize(request, app.settings)
        except Exception as exc:
            return failed(exc)
        return JSONResponse(
            {
                "model_id": app.model_id,
                "model_sha": None,
                "model_pipeline_tag": "text-generation",
                "max_concurrent_requests": 1,  # one answer at a time; others wait in line
                "max_best_of": 1,
                "max_stop_sequences": MAX_STOPS,
                "max_input_tokens": app.longest_prompt(),
                "max_total_tokens": app.bot_backend.context_length,
                "router": f"edgeqwen {__version__}",
                "version": "3.0.0",
                "sha": None,
            }
        )

    return [
        Route("/info", info, methods=["GET"]),
        Route("/generate", whole, methods=["POST"]),
        Route("/generate_stream", stream, methods=["POST"]),
        Route("/", root, methods=["POST"]),
    ]
