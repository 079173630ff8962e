"""llama.cpp's own server API, beside OpenAI's: ``POST /completion`` (and ``/completions``),
``POST /apply-template`` and ``GET /props``; ``POST /infill`` is a 400 (no fill in the middle).
Scripts and front-ends written for ``llama-server`` call these, not ``/v1/completions``:
SillyTavern's llama.cpp connection generates with ``/completion``. The prompt goes through
:meth:`edgeqwen.Assistant.complete`, as ``/v1/completions``'s does: no chat template, the
policy's input checks and output filters.

Decisions, where the two servers differ:
- ``prompt``: text, token ids, or one list mixing both (each text read as ``/v1/completions``
  reads one: control tokens written out are those tokens). Several prompts in one request are
  refused: send one a request. ``n_cmpl`` (or ``n``, as SillyTavern's swipes send it) above 1
  answers that many completions in turn, each the next seed, as llama-server's array (a stream's
  events carry their ``index``).
- A setting the body leaves out is the served model's default, not llama-server's (0.8, 40, 0.95).
  ``n_predict`` -1 (its default) is the server's ``--max-tokens``; 0 answers nothing, as
  llama-server does, without running the model. ``top_k`` 0 or below is off; ``seed`` -1 random.
- The samplers run in llama.cpp's order (top-k, typical, top-p, min-p, the temperature last), or
  in the body's ``samplers`` (llama.cpp's names; SillyTavern sends them), where the temperature
  had come first whatever either said. ``tfs_z``: tail-free sampling, which llama.cpp had.
- Samplers this server has not are taken at their off values and refused at any other (they
  would change the answer unsaid): ``mirostat``, ``dynatemp_range``, ``dry_multiplier``,
  ``xtc_probability``, ``top_n_sigma``, ``n_indent`` (0 or below), ``min_keep`` (1 or below),
  ``ignore_eos``, ``post_sampling_probs`` (false), ``lora`` (none). What only steers
  llama-server's own slots, cache and clock (``n_keep``, ``cache_prompt``, ``id_slot``,
  ``t_max_predict_ms``, ...) and other servers' fields that
  front-ends send to all of them are passed over.
- ``grammar`` (GBNF, read by llguidance's converter; Lark too) and ``json_schema`` constrain the
  answer, as they do on the OpenAI routes (:mod:`.guided`); so do ``response_format`` and vLLM's fields.
- ``n_probs``: each token's log probability and its ``n_probs`` most likely alternatives before
  sampling settings (``completion_probabilities``; a stream sends them with its last event).
- ``/props``: the window as ``n_ctx``, the served model's sampling defaults, and the model's own
  chat template as its files hold it (Jinja text; "" where none does), though edgeqwen renders
  chat prompts with its own templates: front-ends read it to pick the prompt format they write.
- ``stop_type``: ``eos``, ``limit`` or ``word``; a refused or filtered answer (the policy's) is
  ``eos``, and ``finish_reason`` beside it says which, in OpenAI's words.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..generation_config import MAX_LOGPROBS
from ..model import chat_template_source
from ..turns import raw_prompt
from ..types import Reply, TokenLogprob
from .bodies import finish_reason
from .http import HTTPError, authorize, data_events, event, read_body, until_disconnect, whole_reply
from .protocol import RequestError, choice_settings, choices_of, flag, format_of, parse_chat_request
from .samplers import LLAMA_ORDER, LLAMA_SAMPLERS, settings_of
from .tokenize import tokens_text

if TYPE_CHECKING:
    from ..aio import AsyncReplyStream
    from ..tokenizer import Tokenizer
    from .app import _App

__all__ = ["LlamaCompletion", "completion_body", "failed_event", "llama_server_routes", "parse_llama_completion"]

# what settings_of reads as llama-server means it (its samplers this server has not among them)
_SAME = (
    "temperature", "top_p", "top_k", "min_p", "typical_p", "presence_penalty", "frequency_penalty", "seed", "stop",
    "repeat_penalty", "repeat_last_n", "tfs_z", "samplers", "min_keep", *LLAMA_SAMPLERS,
)  # fmt: skip


@dataclass(frozen=True)
class LlamaCompletion:
    """A parsed ``/completion`` body."""

    prompt: tuple[int, ...]
    stream: bool = False
    settings: dict[str, Any] = field(default_factory=dict)  # Assistant.complete's keywords
    n_probs: int = 0
    return_tokens: bool = False
    nothing: bool = False  # n_predict 0: answered empty, the model not run
    n: int = 1  # completions of the prompt (n_cmpl, or n as SillyTavern sends it)


def _prompt(tokenizer: Tokenizer, value: Any) -> tuple[int, ...]:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], (str, list)):
        value = value[0]  # one prompt in a list: llama-server's array form of one
    if isinstance(value, str):
        return tuple(raw_prompt(tokenizer, value)[0])
    if not isinstance(value, list) or not value:
        raise RequestError("prompt must be a text, token ids, or one list of both.", "prompt")
    if all(isinstance(p, str) for p in value) or any(isinstance(p, (list, dict)) for p in value):
        raise RequestError(
            f"prompt holds {len(value)} prompts: this server answers one a request; send the others in requests "
            "of their own.",
            "prompt",
        )
    ids: list[int] = []
    for i, part in enumerate(value):
        if isinstance(part, str):
            ids += raw_prompt(tokenizer, part)[0] if part else []
        elif isinstance(part, int) and not isinstance(part, bool) and 0 <= part < tokenizer.vocab_size:
            ids.append(part)
        else:
            raise RequestError(
                f"prompt[{i}] must be a text or a token id from 0 to {tokenizer.vocab_size - 1}, got {part!r:.40}.",
                "prompt",
            )
    if not ids:
        raise RequestError("The prompt is empty: give the text or token ids to continue.", "prompt")
    return tuple(ids)


def _bias(tokenizer: Tokenizer, value: Any) -> dict[str, float] | None:
    """llama-server's ``logit_bias`` (``[[id or text, bias or false], ...]`` or an object) as OpenAI's."""
    if value in (None, [], {}):
        return None
    keyed = isinstance(value, dict)  # OpenAI's form: its keys are token ids written as text
    pairs = list(value.items()) if keyed else value
    if not isinstance(pairs, list) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pairs):
        raise RequestError('logit_bias must be [[token id or text, bias], ...] or {"id": bias}.', "logit_bias")
    out: dict[str, float] = {}
    for key, bias in pairs:
        if bias is False:
            bias = -100.0  # never produced
        if isinstance(bias, bool) or not isinstance(bias, (int, float)):
            raise RequestError(f"logit_bias for {key!r:.40} must be a number or false, got {bias!r:.40}.", "logit_bias")
        if isinstance(key, int) and not isinstance(key, bool):
            ids = [key]
        elif isinstance(key, str) and keyed and key.isascii() and key.isdigit():
            ids = [int(key)]
        elif isinstance(key, str):  # a text: each of its tokens, as llama-server reads it
            ids = tokenizer.encode(key)
        else:
            ids = []
        if not ids:
            raise RequestError(f"logit_bias key {key!r:.40} is neither a token id nor text.", "logit_bias")
        # llama-server takes any bias; past +-100 a logit is already certain or never chosen
        out.update((str(i), max(-100.0, min(100.0, float(bias)))) for i in ids)
    return out


def parse_llama_completion(body: Any, tokenizer: Tokenizer, max_tokens_limit: int) -> LlamaCompletion:
    """Check a ``/completion`` body and turn it into a :class:`LlamaCompletion` (RequestError if bad)."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with prompt.")
    name = "n_cmpl" if body.get("n_cmpl") is not None else "n"
    try:
        n = choices_of({"n": body.get(name)})
    except RequestError as exc:
        raise RequestError(str(exc).replace("n must", f"{name} must", 1), name) from None
    plain = {k: body[k] for k in _SAME if k in body}
    predict = body.get("n_predict", body.get("max_tokens", -1))
    if isinstance(predict, bool) or not isinstance(predict, int) or predict < -2:
        raise RequestError(f"n_predict must be a whole number (-1: no limit), got {predict!r}.", "n_predict")
    plain["max_tokens"] = predict if predict > 0 else None
    plain["logit_bias"] = _bias(tokenizer, body.get("logit_bias"))
    settings = settings_of(plain, max_tokens_limit, LLAMA_ORDER)  # llama.cpp's order: the temperature last
    probs = body.get("n_probs", 0)
    if isinstance(probs, bool) or not isinstance(probs, int) or not 0 <= probs <= MAX_LOGPROBS:
        raise RequestError(f"n_probs must be a whole number from 0 to {MAX_LOGPROBS}, got {probs!r}.", "n_probs")
    if probs:
        settings["logprobs"] = probs
    fmt = format_of(body)
    if fmt is not None:
        settings["response_format"] = fmt
    return LlamaCompletion(
        _prompt(tokenizer, body.get("prompt")),
        stream=flag(body, "stream"),
        settings=settings,
        n_probs=probs,
        return_tokens=flag(body, "return_tokens"),
        nothing=predict == 0,
        n=n,
    )


def _probabilities(said: tuple[TokenLogprob, ...]) -> list[dict[str, Any]]:
    def one(t: TokenLogprob) -> dict[str, Any]:
        return {"id": t.token, "token": t.text, "bytes": list(t.bytes), "logprob": t.logprob}

    return [{**one(t), "top_logprobs": [one(a) for a in t.top]} for t in said]


_STOP_TYPE = {"length": "limit", "stop_string": "word"}


def completion_body(model: str, asked: LlamaCompletion, reply: Reply | None, content: str) -> dict[str, Any]:
    """llama-server's answer (or a stream's last event, ``content`` empty); ``reply`` None for
    ``n_predict`` 0."""
    m = reply.metrics if reply is not None else None
    body: dict[str, Any] = {
        "content": content,
        "tokens": list(reply.token_ids) if reply is not None and asked.return_tokens else [],
        "id_slot": 0,
        "stop": True,
        "model": model,
        "stop_type": _STOP_TYPE.get(m.finish_reason or "", "eos") if m is not None else "limit",
        "stopping_word": (m.stop_sequence or "") if m is not None else "",
        "tokens_predicted": m.generated_tokens if m is not None else 0,
        "tokens_evaluated": m.prompt_tokens if m is not None else len(asked.prompt),
        "tokens_cached": m.cached_tokens if m is not None else 0,
        "truncated": False,
        "finish_reason": finish_reason(reply) if reply is not None else "length",
    }
    if m is not None:
        body["timings"] = {
            "prompt_n": m.prefill_tokens,
            "prompt_ms": m.prefill_s * 1e3,
            "prompt_per_token_ms": m.prefill_s * 1e3 / max(1, m.prefill_tokens),
            "prompt_per_second": m.prefill_tps,
            "predicted_n": m.generated_tokens,
            "predicted_ms": m.decode_s * 1e3,
            "predicted_per_token_ms": m.decode_s * 1e3 / max(1, m.generated_tokens),
            "predicted_per_second": m.decode_tps,
        }
    if asked.n_probs and reply is not None and reply.logprobs is not None:
        body["completion_probabilities"] = _probabilities(reply.logprobs)
    return body


def failed_event(error: HTTPError) -> str:
    """An error after the stream's headers went out, as llama-server writes one."""
    return event({"error": {"code": error.status, "message": str(error), "type": error.kind}})


def llama_server_routes(app: _App) -> list[Route]:
    """``POST /completion`` (and ``/completions``), ``POST /apply-template`` and ``GET /props``;
    ``POST /infill`` is a 400 (no fill in the middle)."""
    tokenizer = app.bot_backend.tokenizer
    template: list[str] = []  # the model's own chat template, read from its files at the first /props

    async def completion(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            body = await read_body(request, app.settings)
            asked = parse_llama_completion(body, tokenizer, app.settings.max_tokens)
            if asked.nothing:
                app.metrics.record_status(200)
                nothing = [{**completion_body(app.model_id, asked, None, ""), "index": i} for i in range(asked.n)]
                return JSONResponse(nothing[0] if asked.n == 1 else nothing)
            seed = app.seed()

            def start(index: int) -> Awaitable[AsyncReplyStream]:
                # the line's bound lets a request in once: its later answers never get a 429 halfway
                settings = choice_settings(asked.settings, index, seed)
                return app.worker.submit_prompt(asked.prompt, settings, queued=index == 0)

            submitted = asyncio.ensure_future(start(0))
            generation = await app.opened(request, submitted, asked.stream)
            if asked.stream:
                return app.stream(submitted, generation, partial(streamed, asked=asked, start=start), failed_event)
            assert generation is not None  # only a stream leaves the line early
            answers = []
            for index in range(asked.n):
                if index:
                    generation = await until_disconnect(request, start(index))
                reply = await whole_reply(request, generation)
                answers.append({**completion_body(app.model_id, asked, reply, reply.text), "index": index})
        except Exception as exc:
            return app.failed(exc)
        return app.answered(answers[0] if asked.n == 1 else answers)  # llama-server's array for several

    def streamed(
        generation: AsyncReplyStream, asked: LlamaCompletion, start: Callable[[int], Awaitable[AsyncReplyStream]]
    ) -> AsyncIterator[str]:
        """Each completion's pieces, then its whole fields, each event with its ``index``; the
        next completion started once the one before has ended."""

        def piece(text: str, index: int) -> dict[str, Any]:  # a raw prompt's answer is text, thinking included
            return {"content": str(text), "tokens": [], "stop": False, "id_slot": 0, "index": index}

        def closing(reply: Reply, index: int) -> list[dict[str, Any]]:
            return [{**completion_body(app.model_id, asked, reply, ""), "index": index}]

        async def more(index: int) -> AsyncReplyStream | None:
            return await start(index) if index < asked.n else None

        every = app.settings.keepalive_s
        return data_events(generation, lambda i: [], piece, closing, piece, more, None, every, "", failed_event)

    async def apply_template(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            asked = parse_chat_request(await read_body(request, app.settings), app.settings.max_tokens)
            ids = await until_disconnect(request, app.worker.prompt_ids(asked))
        except Exception as exc:
            return app.failed(exc)
        return app.answered({"prompt": tokens_text(tokenizer, ids)})

    async def props(request: Request) -> Response:
        """What llama-server says of itself: the window (SillyTavern sets its context size from
        ``n_ctx``), the model's own chat template (it picks its prompt format by it), the defaults."""
        try:
            authorize(request, app.settings)
        except Exception as exc:
            return app.failed(exc)
        config = app.worker.bot.assistant.config
        backend = app.bot_backend
        params = {
            "n_predict": app.settings.max_tokens,
            "temperature": config.temperature,
            "top_k": config.top_k,
            "top_p": config.top_p,
            "min_p": config.min_p,
            "typical_p": config.typical_p,
            "repeat_penalty": config.repetition_penalty,
            "repeat_last_n": config.penalty_window,
            "presence_penalty": config.presence_penalty,
            "frequency_penalty": config.frequency_penalty,
            "seed": -1 if config.seed is None else config.seed,
            "samplers": list(LLAMA_ORDER),
        }
        if not template:  # a GGUF's metadata is megabytes to read: once, not at every client's connect
            template.append(await asyncio.to_thread(chat_template_source, getattr(backend.info, "path", None)))
        return JSONResponse(
            {
                "default_generation_settings": {"n_ctx": backend.context_length, "params": params, **params},
                "total_slots": 1,
                "model_alias": app.model_id,
                "model_path": str(getattr(backend.info, "path", None) or app.model_id),
                "modalities": {"vision": False, "audio": False},
                "chat_template": template[0],
                "build_info": f"edgeqwen {__version__}",
            }
        )

    async def infill(request: Request) -> Response:
        """llama-server's fill in the middle (llama.vim's, llama.vscode's and Continue's llama.cpp
        autocomplete): refused as ``suffix`` is elsewhere, not the 404 that lists every route."""
        try:
            authorize(request, app.settings)
            raise RequestError(
                "/infill (fill in the middle) is not supported: the served models were not trained for it. "
                "Complete a prompt with /completion or /v1/completions.",
                "input_suffix",
            )
        except Exception as exc:
            return app.failed(exc)

    return [
        Route("/infill", infill, methods=["POST"]),
        Route("/props", props, methods=["GET"]),
        Route("/completion", completion, methods=["POST"]),
        Route("/completions", completion, methods=["POST"]),
        Route("/apply-template", apply_template, methods=["POST"]),
    ]
