"""OpenAI's legacy completions API (``POST /v1/completions``): a raw prompt continued as written.

What it is for: evaluation harnesses (lm-evaluation-harness's ``local-completions`` scores a
text's tokens with ``echo`` and ``logprobs``), few-shot prompts, and clients that speak only this
API. The prompt goes through :meth:`edgeqwen.Assistant.complete`: no chat template, the safety
policy's input checks and output filters as for chat.

Decisions, where the API leaves room:
- ``prompt``: a string, token ids, or a list of either (answered in turn; a stream takes one).
- ``max_tokens`` defaults to 16, OpenAI's default for this API (not the server's --max-tokens).
- ``logprobs``: 0 to 20 alternatives per token (OpenAI's own limit is 5; vLLM's is 20).
  ``top_logprobs`` holds that many, most likely first, as a token-text-to-logprob object.
- ``echo``: the prompt's text starts the answer; with ``logprobs`` its tokens are scored too (the
  first one ``null``: nothing before it predicts it), on backends that score a prompt (llama.cpp,
  ONNX; ``Backend.supports_prompt_logprobs``).
- ``n``: that many choices per prompt, answered in turn (choice ``i`` of prompt ``p`` has index
  ``p * n + i``, as OpenAI numbers them; each later choice the next seed). At most
  :data:`MAX_PROMPTS` answers in all.
- ``response_format`` holds the answer to a JSON Schema or to JSON, as vLLM and llama-server
  honour it here, and so do vLLM's structured outputs and llama-server's ``grammar`` and
  ``json_schema`` (:mod:`.guided`).
- ``suffix`` (fill in the middle) and ``best_of`` other than 1 are refused, not ignored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..aio import AsyncReplyStream
from ..generation_config import MAX_LOGPROBS
from ..turns import raw_prompt
from ..types import Reply, TokenLogprob
from .bodies import finish_reason, usage_body
from .http import authorize, data_events, openai_refused, read_body, whole_reply
from .protocol import RequestError, choice_settings, choices_of, format_of, streaming
from .samplers import settings_of

if TYPE_CHECKING:
    from .app import _App

__all__ = [
    "CompletionRequest",
    "DEFAULT_MAX_TOKENS",
    "MAX_PROMPTS",
    "choice_logprobs",
    "completion_chunk",
    "completion_id",
    "completions_body",
    "completions_routes",
    "parse_completion_request",
]

DEFAULT_MAX_TOKENS = 16  # OpenAI's for this API
MAX_PROMPTS = 64  # answers one request may ask for (prompts x n): each waits its turn for the model


@dataclass(frozen=True)
class CompletionRequest:
    """A parsed ``/v1/completions`` body: each prompt is text or token ids."""

    prompts: tuple[str | tuple[int, ...], ...]
    model: str = ""
    stream: bool = False
    include_usage: bool = False
    echo: bool = False
    logprobs: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # GenerationConfig overrides
    n: int = 1  # choices per prompt

    def settings_for_prompt(self) -> dict[str, Any]:
        """What :meth:`Assistant.complete` gets: the sampling settings, and the prompt's own log
        probabilities where the echoed prompt is to be scored."""
        out = dict(self.settings)
        if self.logprobs is not None:
            out["logprobs"] = self.logprobs
            if self.echo:
                out["prompt_logprobs"] = self.logprobs
        return out


def _ids(value: list[Any], where: str) -> tuple[int, ...]:
    if not value:
        raise RequestError(f"{where} is empty: give the text or token ids to continue.", "prompt")
    for i, t in enumerate(value):
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise RequestError(f"{where}[{i}] must be a token id (a whole number >= 0), got {t!r}.", "prompt")
    return tuple(value)


def _prompts(value: Any) -> tuple[str | tuple[int, ...], ...]:
    shape = "prompt must be a string, a list of token ids, or a list of strings or of token-id lists"
    if isinstance(value, str):
        return (value,)
    if value == []:
        raise RequestError("prompt is empty: give the text or token ids to continue.", "prompt")
    if not isinstance(value, list):
        raise RequestError(f"{shape}; got {type(value).__name__ if value is not None else 'nothing'}.", "prompt")
    if all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        return (_ids(value, "prompt"),)
    if len(value) > MAX_PROMPTS:
        raise RequestError(f"prompt holds {len(value)} prompts; send at most {MAX_PROMPTS} per request.", "prompt")
    out: list[str | tuple[int, ...]] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            out.append(_ids(item, f"prompt[{i}]"))
        else:
            raise RequestError(f"{shape}; prompt[{i}] is {type(item).__name__}.", "prompt")
    return tuple(out)


def parse_completion_request(body: Any, max_tokens_limit: int) -> CompletionRequest:
    """Check a decoded JSON body and turn it into a :class:`CompletionRequest` (RequestError if bad)."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    if body.get("best_of") not in (None, 1):
        raise RequestError(
            "best_of must be 1: this server generates one answer per choice, not the best of several.", "best_of"
        )
    n = choices_of(body)
    if body.get("suffix"):
        raise RequestError(
            "suffix (fill in the middle) is not supported: the served chat models were not trained for it.", "suffix"
        )
    stream, include_usage = streaming(body)
    echo = body.get("echo", False)
    if echo is not None and not isinstance(echo, bool):
        raise RequestError("echo must be true or false.", "echo")
    logprobs = body.get("logprobs")
    if logprobs is not None and (
        isinstance(logprobs, bool) or not isinstance(logprobs, int) or not 0 <= logprobs <= MAX_LOGPROBS
    ):
        raise RequestError(
            f"logprobs must be null or the number of alternatives to report per token, 0 to {MAX_LOGPROBS}; "
            f"got {logprobs!r}.",
            "logprobs",
        )
    prompts = _prompts(body.get("prompt"))
    if stream and len(prompts) > 1:
        raise RequestError("A streamed request takes one prompt; send the others in requests of their own.", "prompt")
    if len(prompts) * n > MAX_PROMPTS:
        raise RequestError(
            f"{len(prompts)} prompts x n={n} asks for {len(prompts) * n} answers; send at most {MAX_PROMPTS} "
            "per request.",
            "n",
        )
    chat_only = {k: body[k] for k in ("logprobs", "top_logprobs", "max_completion_tokens") if k in body}
    plain = {k: v for k, v in body.items() if k not in chat_only}
    if plain.get("max_tokens") is None and plain.get("n_predict") is None:  # llama-server's, read by settings_of
        plain["max_tokens"] = min(DEFAULT_MAX_TOKENS, max_tokens_limit)
    model = body.get("model", "")
    return CompletionRequest(
        prompts=prompts,
        model=model if isinstance(model, str) else "",
        stream=stream,
        include_usage=include_usage,
        echo=bool(echo),
        logprobs=logprobs,
        settings=_with_format(settings_of(plain, max_tokens_limit), body),
        n=n,
    )


def _with_format(settings: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The settings, with the answer's format where the body asks for one (OpenAI's
    ``response_format``, which vLLM and llama-server honour here too, or vLLM's structured outputs):
    it was passed over, and the text came back unconstrained."""
    fmt = format_of(body)
    return {**settings, "response_format": fmt} if fmt is not None else settings


def completion_id() -> str:
    return f"cmpl-{uuid.uuid4().hex[:24]}"


def _logprobs_body(said: Sequence[TokenLogprob | None], first_token: str) -> dict[str, Any]:
    """The legacy shape: parallel lists, ``text_offset`` counting characters. ``None`` is the
    prompt's first token (its text ``first_token``), which nothing before it rates."""
    body: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    at = 0
    for item in said:
        text = first_token if item is None else item.text
        body["tokens"].append(text)
        body["token_logprobs"].append(None if item is None else item.logprob)
        body["top_logprobs"].append(None if item is None else {a.text: a.logprob for a in item.top})
        body["text_offset"].append(at)
        at += len(text)
    return body


def choice_logprobs(request: CompletionRequest, reply: Reply, first_token: str) -> dict[str, Any] | None:
    """A choice's ``logprobs``, whole or streamed (all with the last event, as the chat stream sends
    them): the echoed prompt's tokens where asked, then the answer's; null where none were asked or
    kept."""
    if request.logprobs is None or reply.logprobs is None:
        return None
    if not request.echo:
        return _logprobs_body(reply.logprobs, first_token)
    if reply.prompt_logprobs is None:
        return None
    return _logprobs_body((*reply.prompt_logprobs, *reply.logprobs), first_token)


def completions_body(
    rid: str, model: str, request: CompletionRequest, answered: Sequence[tuple[str, str, Reply]]
) -> dict[str, Any]:
    """The whole response: a choice per answer, given as (prompt text, its first token's text, reply),
    ``request.n`` answers to each prompt in turn; a prompt's tokens counted once."""
    choices = []
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for index, (prompt, first_token, reply) in enumerate(answered):
        echoed = prompt if request.echo else ""
        choices.append(
            {
                "index": index,
                "text": echoed + reply.text,
                "logprobs": choice_logprobs(request, reply, first_token),
                "finish_reason": finish_reason(reply),
            }
        )
    for start in range(0, len(answered), request.n):  # a prompt's choices: its tokens counted once
        said = usage_body(*(reply for _, _, reply in answered[start : start + request.n]))
        for key in usage:
            usage[key] += said[key]
    return {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
    }


def completion_chunk(
    rid: str,
    model: str,
    text: str | None,
    finish: str | None = None,
    logprobs: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """One streamed event: a piece of choice ``index``'s text (``text=None``: the usage event, with
    no choice)."""
    choices = [] if text is None else [{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}]
    body = {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model, "choices": choices}
    if usage is not None:
        body["usage"] = usage
    return body


def completions_routes(app: _App) -> list[Route]:
    """``POST /v1/completions`` over the app's model and waiting line."""

    async def completions(request: Request) -> Response:
        """Each prompt continued in turn (a stream takes one)."""
        try:
            authorize(request, app.settings)
            asked = parse_completion_request(await read_body(request, app.settings), app.settings.max_tokens)
            tokenizer = app.worker.bot.assistant.backend.tokenizer
            # each prompt's ids and text, checked before any waits for the model (a bad one is a 400 now)
            prompts = [(p, *raw_prompt(tokenizer, p)) for p in asked.prompts]
            settings, seed = asked.settings_for_prompt(), app.seed()
            answered = []
            for i, (given, ids, text) in enumerate(prompts):
                first = tokenizer.decode(ids[:1])
                for j in range(asked.n):
                    # as the client wrote it, so the input checks read what the Python API's would;
                    # the line's bound lets a request in once: its later answers never get a 429 halfway
                    chosen = choice_settings(settings, j, seed)
                    submitted = asyncio.ensure_future(app.worker.submit_prompt(given, chosen, queued=i == j == 0))
                    generation = await app.opened(request, submitted, asked.stream)
                    if asked.stream:
                        rid = completion_id()
                        streamed = partial(
                            events, rid=rid, asked=asked, given=given, prompt=text, first=first, seed=seed
                        )
                        return app.stream(
                            submitted, generation, streamed, partial(openai_refused, rid=rid, request=asked)
                        )
                    assert generation is not None  # only a stream leaves the line early
                    answered.append((text, first, await whole_reply(request, generation)))
        except Exception as exc:
            return app.failed(exc)
        return app.answered(completions_body(completion_id(), app.model_id, asked, answered))

    def events(
        generation: AsyncReplyStream,
        rid: str,
        asked: CompletionRequest,
        given: str | tuple[int, ...],
        prompt: str,
        first: str,
        seed: int,
    ) -> AsyncIterator[str]:
        """One prompt's stream: its ``n`` choices in turn (``prompt``: its text, echoed where asked)."""

        def opening(index: int) -> list[dict[str, Any]]:
            return [completion_chunk(rid, app.model_id, prompt, index=index)] if asked.echo else []

        def piece(text: str, index: int) -> dict[str, Any]:
            return completion_chunk(rid, app.model_id, text, index=index)

        def closing(reply: Reply, index: int) -> list[dict[str, Any]]:
            logprobs = choice_logprobs(asked, reply, first)
            return [completion_chunk(rid, app.model_id, "", finish_reason(reply), logprobs=logprobs, index=index)]

        async def more(index: int) -> AsyncReplyStream | None:
            if index >= asked.n:
                return None
            chosen = choice_settings(asked.settings_for_prompt(), index, seed)
            return await app.worker.submit_prompt(given, chosen, queued=False)

        def ending(replies: list[Reply]) -> list[dict[str, Any]]:
            usage = usage_body(*replies)
            return [completion_chunk(rid, app.model_id, None, usage=usage)] if asked.include_usage else []

        return data_events(generation, opening, piece, closing, None, more, ending, app.settings.keepalive_s)

    return [Route("/v1/completions", completions, methods=["POST"])]
