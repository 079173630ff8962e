"""The KoboldAI API as KoboldCpp serves it: ``POST /api/v1/generate``, its stream
``POST /api/extra/generate/stream``, its polled stream ``/api/extra/generate/check`` (the text so
far of the answer of a ``genkey``), ``POST /api/extra/abort``, and the cards its clients read
first (``/api/v1/model``, ``/api/v1/info/version``, ``/api/extra/version``, the context and
length limits, ``/api/extra/perf``; each ``/api/v1`` route under ``/api/latest`` too). SillyTavern's "KoboldAI
Classic" connection, KoboldAI Lite, the AI Horde worker and LangChain's ``KoboldApiLLM`` speak
only it. The prompt is continued as written, as
``/v1/completions`` continues it: no chat template, the policy's input checks and output filters.

Decisions, where the two servers differ:
- Samplers by KoboldCpp's names (``rep_pen``, ``rep_pen_range``, ``rep_pen_slope``, ``typical``,
  ``tfs``, ``top_a``, ``sampler_seed``, ``sampler_order``; :mod:`.samplers` reads them). Where the
  body leaves one out: the served model's default, as on every route here, except what the model
  has no word on, which is KoboldCpp's: its order (the temperature last) and the penalty's window
  (320 tokens). ``max_length`` left out is the server's ``--max-tokens``.
- ``memory`` goes before ``prompt``; where the two and ``max_length`` pass ``max_context_length``
  (or the model's window), the prompt's oldest tokens are cut, as KoboldCpp cuts them, and the
  memory is kept whole.
- ``grammar``: GBNF, or a JSON Schema's text (KoboldCpp turns one into a grammar);
  ``stop_sequence``, ``singleline`` (a stop at the first new line), ``logit_bias``.
- Refused, not passed over: samplers this server has not at other than their off values
  (:mod:`.samplers`), ``banned_tokens`` / ``banned_strings`` (phrases), ``images``, ``n`` above 1,
  ``logprobs`` (``/v1/completions`` reports them).
  Passed over: KoboldAI United's story flags (``use_story``, ``use_memory`` ...: it keeps no
  story), ``use_default_badwordsids`` (which KoboldCpp passes over too), ``quiet``.
- ``/api/extra/abort`` stops the answer started with the body's ``genkey``, or without one every
  answer of this API started without one, as KoboldCpp (one user's server) stops its current one.
- Errors are KoboldCpp's ``{"detail": {"msg", "type"}}``, which SillyTavern shows.
- ``/api/extra/version`` answers as KoboldCpp, whose clients turn on streaming, grammars and min-p
  by it; ``served_by`` names this server.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import InvalidRequestError
from ..jsontext import load_json
from ..turns import raw_prompt
from ..types import Metrics, Reply
from .http import HTTPError, authorize, data_events, event, read_body, whole_reply
from .protocol import RequestError, format_of
from .samplers import KOBOLD_ORDER, refuse_unless_off, settings_of

if TYPE_CHECKING:
    from ..aio import AsyncReplyStream
    from ..tokenizer import Tokenizer
    from .app import _App

__all__ = ["KOBOLDCPP_API", "KoboldRequest", "fitted", "kobold_error", "kobold_routes", "parse_kobold_request"]

KOBOLDCPP_API = "1.102"  # the KoboldCpp whose API was read; its clients gate features by it
_SERVED_BY = f"edgeqwen {__version__}"
_UNITED_API = "1.2.5"  # KoboldAI United's API version, which KoboldCpp reports (stop sequences from 1.2.2)
_WINDOW = 320  # KoboldCpp's rep_pen_range where a request names none
_CHECKED = 16  # genkeys whose last answer's text check can still give (KoboldCpp keeps its one user's)
# KoboldCpp's stop_reason: -1 none yet, 0 out of tokens, 1 the end token, 2 a stop sequence
_STOP_REASONS = {"length": 0, "stop": 1, "stop_string": 2}
_REFUSED: dict[str, Any] = {"banned_tokens": [], "banned_strings": [], "images": [], "n": 1, "logprobs": False}


@dataclass(frozen=True)
class KoboldRequest:
    """A parsed ``/api/v1/generate`` body."""

    memory: str
    prompt: str
    context: int | None  # max_context_length, where given
    genkey: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # Assistant.complete's keywords


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RequestError(f"{name} must be text, got {value!r:.40}.", name)
    return value


def parse_kobold_request(body: Any, max_tokens_limit: int) -> KoboldRequest:
    """Check a KoboldAI ``generate`` body and turn it into a :class:`KoboldRequest` (RequestError if bad)."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with a prompt.")
    memory, prompt = _text(body, "memory"), _text(body, "prompt")
    if not memory + prompt:
        raise RequestError("prompt must be the text to continue, not empty.", "prompt")
    refuse_unless_off(body, _REFUSED, empty=("", None))
    plain = {k: v for k, v in body.items() if k not in ("grammar", "n", "stop", "max_tokens", "logprobs")}
    plain["max_tokens"] = body.get("max_length")
    plain["seed"] = body.get("sampler_seed")
    plain.setdefault("rep_pen_range", _WINDOW)
    stops = body.get("stop_sequence") or []
    if not isinstance(stops, list):
        raise RequestError("stop_sequence must be a list of texts.", "stop_sequence")
    stops = [s for s in stops if s]  # KoboldCpp skips empty ones; SillyTavern can send them
    if body.get("singleline"):
        stops.append("\n")
    if stops:
        plain["stop"] = list(dict.fromkeys(stops))
    try:
        settings = settings_of(plain, max_tokens_limit, KOBOLD_ORDER)
    except RequestError as exc:
        names = {"max_tokens": "max_length", "seed": "sampler_seed", "stop": "stop_sequence"}
        name = names.get(exc.param or "", exc.param)
        raise RequestError(str(exc).replace(exc.param or "\0", name or ""), name) from None
    grammar = body.get("grammar")
    if grammar not in (None, ""):
        asked: dict[str, Any] = {"grammar": grammar}
        if isinstance(grammar, str) and grammar.lstrip().startswith("{"):  # a JSON Schema's text (GBNF never is)
            try:
                asked = {"json_schema": load_json(grammar)}  # its nesting bounded
            except ValueError as exc:
                raise RequestError(f"grammar is a JSON Schema's text that cannot be read: {exc}", "grammar") from None
        try:
            settings["response_format"] = format_of(asked)
        except InvalidRequestError as exc:
            raise RequestError(str(exc).replace(exc.param or "\0", "grammar"), "grammar") from None
    context = body.get("max_context_length")
    if context is not None and (isinstance(context, bool) or not isinstance(context, int) or context < 1):
        raise RequestError(f"max_context_length must be a whole number >= 1, got {context!r}.", "max_context_length")
    genkey = body.get("genkey") or ""
    if not isinstance(genkey, str):
        raise RequestError("genkey must be text.", "genkey")
    return KoboldRequest(memory, prompt, context, genkey, settings)


def fitted(tokenizer: Tokenizer, asked: KoboldRequest, window: int) -> list[int]:
    """The prompt to continue, as token ids: the memory's, then the prompt's, each read on its own
    as KoboldCpp reads them, the prompt's oldest cut where both and the answer pass
    ``max_context_length`` (at most ``window``). Ids, so the answer does not read the text again."""
    room = min(asked.context or window, window) - asked.settings["max_tokens"]
    memory = raw_prompt(tokenizer, asked.memory)[0] if asked.memory else []
    prompt = raw_prompt(tokenizer, asked.prompt)[0] if asked.prompt else []
    if len(memory) + len(prompt) <= room:
        return memory + prompt
    if room - len(memory) < 1:
        raise RequestError(
            f"memory ({len(memory)} tokens) and max_length ({asked.settings['max_tokens']}) leave no room for the "
            f"prompt in a context of {min(asked.context or window, window)} tokens: shorten the memory or max_length.",
            "memory" if memory else "max_length",
        )
    return memory + prompt[len(prompt) - (room - len(memory)) :]


def _finish(reply: Reply) -> str:
    return "length" if reply.finish_reason == "length" else "stop"


def kobold_error(error: HTTPError) -> dict[str, Any]:
    """An error in KoboldCpp's shape, whose ``detail.msg`` SillyTavern shows."""
    return {"detail": {"msg": str(error), "type": error.kind}}


def kobold_routes(app: _App) -> list[Route]:
    """The KoboldAI API over the app's model and waiting line."""
    running: dict[str, set[asyncio.Future[AsyncReplyStream]]] = {}  # genkey ("" none) -> answers under way
    said: OrderedDict[str, list[str]] = OrderedDict()  # genkey -> its last answer's text so far, for check

    def saying(key: str) -> list[str]:
        """Where the answer asked for under ``key`` puts its text as it comes (the last few keys kept)."""
        said[key] = pieces = []
        said.move_to_end(key)
        while len(said) > _CHECKED:
            said.popitem(last=False)
        return pieces

    def keep(key: str, submitted: asyncio.Future[AsyncReplyStream]) -> Callable[[], None]:
        """Keep an answer where abort finds it, until it ends (or never starts); the forgetting."""

        def forget(*_: Any) -> None:
            mine = running.get(key, set())
            mine.discard(submitted)
            if not mine:
                running.pop(key, None)

        def started(future: asyncio.Future[AsyncReplyStream]) -> None:
            if future.cancelled() or future.exception() is not None:
                forget()
            else:
                future.result().on_done(forget)  # not called for an answer that failed: its route forgets it

        running.setdefault(key, set()).add(submitted)
        submitted.add_done_callback(started)
        return forget

    def failed(exc: BaseException) -> Response:
        return app.failed(exc, lambda error: JSONResponse(kobold_error(error), status_code=error.status))

    async def generate(request: Request, stream: bool) -> Response:
        try:
            authorize(request, app.settings)
            asked = parse_kobold_request(await read_body(request, app.settings), app.settings.max_tokens)
            backend = app.bot_backend
            prompt = (
                asked.memory + asked.prompt
                if backend.remote  # its tokenizer only estimates: that server cuts what does not fit
                else fitted(backend.tokenizer, asked, backend.context_length)
            )
            submitted = asyncio.ensure_future(app.worker.submit_prompt(prompt, asked.settings))
            forget, pieces = keep(asked.genkey, submitted), saying(asked.genkey)
            try:
                generation = await app.opened(request, submitted, stream)
                if stream:
                    return app.stream(submitted, generation, lambda g: streamed(g, forget, pieces), failed_event)
                assert generation is not None  # only a stream leaves the line early
                reply = await whole_reply(request, generation, pieces)
            finally:
                if not stream:
                    forget()
        except Exception as exc:
            return failed(exc)
        m = reply.metrics
        result = {
            "text": reply.text,
            "finish_reason": _finish(reply),
            "prompt_tokens": m.prompt_tokens,
            "completion_tokens": m.generated_tokens,
        }
        return app.answered({"results": [result]})

    async def streamed(
        generation: AsyncReplyStream, forget: Callable[[], None], pieces: list[str]
    ) -> AsyncIterator[str]:
        """KoboldCpp's events: ``event: message`` with a piece of the answer as ``token``, the last
        with its ``finish_reason``."""

        def piece(text: str, index: int) -> dict[str, Any]:
            pieces.append(str(text))
            return {"token": str(text), "finish_reason": None}

        def closing(reply: Reply, index: int) -> list[dict[str, Any]]:
            return [{"token": "", "finish_reason": _finish(reply)}]

        events = data_events(
            generation, lambda i: [], piece, closing, None, None, None, app.settings.keepalive_s, "", failed_event
        )
        try:
            async for said in events:
                yield "event: message\n" + said if said.startswith("data:") else said
        finally:
            forget()

    def failed_event(error: HTTPError) -> str:
        return "event: message\n" + event(kobold_error(error))

    def keyed(answer: Callable[[str], dict[str, Any]]) -> Callable[[Request], Awaitable[Response]]:
        """A route that answers for the ``genkey`` of its body (which may be empty, or none)."""

        async def route(request: Request) -> Response:
            try:
                authorize(request, app.settings)
                body = await read_body(request, app.settings) if await request.body() else {}
            except Exception as exc:
                return failed(exc)
            return JSONResponse(answer((body.get("genkey") or "") if isinstance(body, dict) else ""))

        return route

    def check(key: str) -> dict[str, Any]:
        """KoboldCpp's polled streaming: the text so far of the answer asked for under ``key``, the
        whole of it once it has ended; empty where there is none."""
        return {"results": [{"text": "".join(said.get(key, ()))}]}

    def abort(key: str) -> dict[str, Any]:
        stopped = False
        for submitted in list(running.get(key, ())):
            stopped = True
            if submitted.done():  # under way: stopped at its next token, its text so far answered
                if not submitted.cancelled() and submitted.exception() is None:
                    submitted.result().cancel()
            else:  # in line: stopped at its turn (cancelling the request would leave its client no answer)
                submitted.add_done_callback(
                    lambda f: f.result().cancel() if not f.cancelled() and f.exception() is None else None
                )
        return {"success": "true" if stopped else "false", "done": "true"}

    def card(answer: Callable[[], dict[str, Any]]) -> Callable[[Request], Awaitable[Response]]:
        """A route that answers what the server is and holds, read when asked."""

        async def route(request: Request) -> Response:
            try:
                authorize(request, app.settings)
            except Exception as exc:
                return failed(exc)
            return JSONResponse(answer())

        return route

    def perf() -> dict[str, Any]:
        """KoboldCpp's status: the last answer's timings and counts, the line, whether the model is
        free (its clients show them, and some wait for ``idle`` before they send)."""
        metrics = app.metrics
        last = metrics.last or Metrics()
        return {
            "last_process": last.prefill_s,
            "last_eval": last.decode_s,
            "last_input_count": last.prompt_tokens,
            "last_token_count": last.generated_tokens,
            "last_process_speed": last.prefill_tps,
            "last_eval_speed": last.decode_tps,
            "stop_reason": _STOP_REASONS.get(last.finish_reason or "", -1),
            "total_gens": metrics.replies,
            "queue": app.worker.waiting,
            "idle": 0 if app.worker.busy else 1,
            "uptime": time.monotonic() - metrics.started,
            "quiet": False,
        }

    def version() -> dict[str, Any]:
        protected = app.settings.api_key is not None
        return {"result": "KoboldCpp", "version": KOBOLDCPP_API, "protected": protected, "served_by": _SERVED_BY}

    async def whole(request: Request) -> Response:
        return await generate(request, False)

    async def stream(request: Request) -> Response:
        return await generate(request, True)

    window = card(lambda: {"value": app.bot_backend.context_length})
    united = {  # KoboldAI United's routes, under /api/v1 and /api/latest (the AI Horde worker's)
        "generate": (whole, "POST"),
        "model": (card(lambda: {"result": f"koboldcpp/{app.model_id}"}), "GET"),
        "info/version": (card(lambda: {"result": _UNITED_API}), "GET"),
        "config/max_context_length": (window, "GET"),
        "config/max_length": (card(lambda: {"value": app.settings.max_tokens}), "GET"),
    }
    return [
        *(Route(f"/api/{v}/{path}", f, methods=[m]) for path, (f, m) in united.items() for v in ("v1", "latest")),
        Route("/api/extra/generate/stream", stream, methods=["POST"]),
        Route("/api/extra/abort", keyed(abort), methods=["POST"]),
        Route("/api/extra/generate/check", keyed(check), methods=["GET", "POST"]),
        Route("/api/extra/version", card(version), methods=["GET"]),
        Route("/api/extra/perf", card(perf), methods=["GET"]),
        Route("/api/extra/true_max_context_length", window, methods=["GET"]),
    ]
