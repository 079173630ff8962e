"""A stand-in for ``mlc_llm`` (not on PyPI, needs a GPU) that follows the real API's shapes.

Signatures mirror ``mlc_llm/serve/engine.py`` (``MLCEngine(model, device="auto", *, model_lib,
mode, engine_config, enable_tracing)``, ``engine.completions.create(*, prompt, ...)``,
``abort``, ``terminate``) and responses mirror ``mlc_llm/protocol/openai_api_protocol.py``
(``CompletionResponse`` with ``choices[i].text`` deltas, a last chunk with ``usage`` and
``usage.extra`` timings when ``stream_options={"include_usage": True}``). Instead of a model it
answers with the next text in ``SCRIPT`` (default: ``DEFAULT``), one "token" per word piece, and
honours ``max_tokens`` and ``stop`` the way the engine does (the stop string is not emitted).
Every engine is kept in ``ENGINES`` and every request in ``engine.requests``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .protocol.error_protocol import BadRequestError
from .protocol.openai_api_protocol import CompletionResponse, CompletionResponseChoice, CompletionUsage

DEFAULT = "Hello from the GPU."
SCRIPT: list[str] = []
ENGINES: list[MLCEngine] = []
FAIL_LOAD: str | None = None  # set to make the next MLCEngine(...) raise like TVM does
EXTRA = {"ttft_s": 0.05, "prefill_tokens_per_s": 2000.0, "decode_tokens_per_s": 150.0, "end_to_end_latency_s": 0.2}
_PIECE = re.compile(r"\s*\S+|\s+")


class Completion:
    def __init__(self, engine: MLCEngine) -> None:
        self.engine = engine

    def create(  # noqa: PLR0913 - the real signature
        self,
        *,
        prompt: str | list[int],
        model: str | None = None,
        best_of: int = 1,
        echo: bool = False,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        logprobs: int | None = None,
        logit_bias: dict[int, float] | None = None,
        max_tokens: int | None = None,
        n: int = 1,
        seed: int | None = None,
        stop: str | list[str] | None = None,
        stream: bool = False,
        stream_options: dict[str, Any] | None = None,
        suffix: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        user: str | None = None,
        response_format: dict[str, Any] | None = None,
        request_id: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ):
        request = dict(locals())
        request.pop("self")
        _validate(request)
        self.engine.requests.append(request)
        gen = self.engine._stream(request)
        if stream:
            return gen
        text, finish, usage = "", None, None
        for r in gen:
            usage = r.usage or usage
            for c in r.choices:
                text += c.text
                finish = c.finish_reason or finish
        choice = CompletionResponseChoice(finish, 0, None, text)
        return CompletionResponse(id=request_id or "cmpl-0", choices=[choice], usage=usage)


def _validate(request: dict[str, Any]) -> None:
    """What pydantic validation of CompletionRequest / RequestResponseFormat rejects."""
    fmt = request["response_format"]
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("type", "text") not in ("text", "json_object"):
            raise ValueError(f"response_format.type must be 'text' or 'json_object', got {fmt!r}")
        schema = fmt.get("schema")
        if schema is not None:
            if not isinstance(schema, str):
                raise ValueError("response_format.schema must be a JSON string")
            json.loads(schema)
    for name in ("frequency_penalty", "presence_penalty"):
        value = request[name]
        if value and not -2 <= value <= 2:
            raise BadRequestError("Penalty value should be in range [-2, 2].")
    if request["stream_options"] is not None and not request["stream"]:
        raise ValueError("stream must be set to True when stream_options is present")
    if request["best_of"] != 1:
        raise BadRequestError("best_of is not supported")


class MLCEngine:
    def __init__(
        self,
        model: str,
        device: str = "auto",
        *,
        model_lib: str | None = None,
        mode: str = "local",
        engine_config: Any = None,
        enable_tracing: bool = False,
    ) -> None:
        global FAIL_LOAD
        if FAIL_LOAD:
            message, FAIL_LOAD = FAIL_LOAD, None
            raise RuntimeError(message)
        if mode not in ("local", "interactive", "server"):
            raise ValueError(f"Invalid engine mode {mode}")
        if not (Path(model) / "mlc-chat-config.json").is_file():
            raise ValueError(f"Cannot find mlc-chat-config.json in {model}")
        self.model, self.device, self.mode, self.engine_config = model, device, mode, engine_config
        self.requests: list[dict[str, Any]] = []
        self.aborted: list[str] = []
        self.terminated = False
        self.completions = Completion(self)
        ENGINES.append(self)

    def _stream(self, request: dict[str, Any]):
        if self.terminated:
            raise ValueError("The engine has terminated.")
        text = SCRIPT.pop(0) if SCRIPT else DEFAULT
        stops = request["stop"] or []
        stops = [stops] if isinstance(stops, str) else stops
        limit = request["max_tokens"] or 1 << 30
        rid = request["request_id"] or "cmpl-0"
        emitted, count, finish = "", 0, "stop"
        for piece in _PIECE.findall(text):
            if count >= limit:
                finish = "length"
                break
            count += 1
            candidate = emitted + piece
            hits = [candidate.find(s) for s in stops if s in candidate]
            if hits:  # the engine stops at a stop string and does not emit it
                piece = candidate[len(emitted) : min(hits)]
                if piece:
                    yield CompletionResponse(id=rid, choices=[CompletionResponseChoice(None, 0, None, piece)])
                break
            emitted = candidate
            yield CompletionResponse(id=rid, choices=[CompletionResponseChoice(None, 0, None, piece)])
        yield CompletionResponse(id=rid, choices=[CompletionResponseChoice(finish, 0, None, "")])
        if (request["stream_options"] or {}).get("include_usage"):
            prompt = request["prompt"]
            n_prompt = len(prompt) if isinstance(prompt, list) else len(prompt.split())
            usage = CompletionUsage(n_prompt, count, n_prompt + count, dict(EXTRA))
            yield CompletionResponse(id=rid, choices=[], usage=usage)

    def abort(self, request_id: str) -> None:
        self.aborted.append(request_id)

    def terminate(self) -> None:
        self.terminated = True
