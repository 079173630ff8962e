"""MLC-LLM on a GPU (CUDA, Vulkan, ROCm) or Apple Metal: an adapter over ``mlc_llm.MLCEngine``.

The prompt is rendered by *our* chat template and sent as token ids through the engine's
OpenAI-style ``engine.completions.create(prompt=[ids], stream=True, ...)``. The engine's
``chat.completions`` endpoint would apply MLC's own conversation template instead, which differs
from the CPU path in ways a user would notice: tools rendered in MLC's function-calling format
rather than Qwen's ``<tool_call>`` one, assistant turns with tool calls refused, no
``enable_thinking`` switch for Qwen3. Sending our ids keeps the same prompt bytes, the same
history trimming and the same Qwen3 no-think rendering on both backends; streaming, stop strings,
``response_format`` and usage come back in the same protocol objects.

MLC decodes on the GPU and takes no logits processors. Structured output is MLC's own grammar
engine, fed ``response_format={"type": "json_object", "schema": "<schema as a JSON string>"}``;
regex and choice requests become an equivalent JSON Schema (``pattern`` / ``enum``) whose JSON
string is unwrapped here, and what MLC cannot express (Lark grammars, thinking before a
constrained answer) fails closed with :class:`~edgeqwen.errors.GrammarError`. The answer is
validated again by the caller (``jsonschema`` / pydantic) either way.
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chat import template_for
from ..errors import (
    BackendUnavailableError,
    EdgeQwenError,
    GrammarError,
    InvalidRequestError,
    ModelLoadError,
    ModelNotFoundError,
    PromptTooLongError,
    map_exceptions,
)
from ..generation_config import GenerationConfig
from ..model import SUPPORTED_TYPES, checked_context_length, unsupported_architecture
from ..paths import expand
from ..runtime.formats import ResponseFormat
from ..tokenizer import Tokenizer
from ..types import Chunk, Metrics
from .base import Backend, Request, UnsupportedSettingWarning

__all__ = [
    "MLC_INSTALL",
    "MlcBackend",
    "MlcModelInfo",
    "UnsupportedSettingWarning",
    "mlc_response_format",
    "parse_device",
    "read_mlc_model_info",
]

MLC_INSTALL = (
    "MLC-LLM is not installed, and it is not on PyPI: install its wheel from MLC's own channel, e.g. "
    "`pip install --pre -f https://mlc.ai/wheels mlc-llm-nightly-cu123 mlc-ai-nightly-cu123` (CUDA 12.3; "
    "pick the -cpu, -vulkan or macOS wheels for your machine; there is no Linux aarch64 wheel, so a "
    "Raspberry Pi stays on the ONNX backend). Or use backend='onnx'."
)
_DEVICE = re.compile(r"(auto|metal|(cuda|vulkan|rocm)(:\d+)?)")


def parse_device(device: str) -> str:
    """Validate an MLC device string: ``auto``, ``cuda[:i]``, ``metal``, ``vulkan[:i]``, ``rocm[:i]``."""
    text = str(device).strip().lower()
    if not _DEVICE.fullmatch(text):
        raise InvalidRequestError(
            f"Unknown MLC device {device!r}; use auto, cuda, cuda:1, metal, vulkan, vulkan:0 or rocm."
        )
    return text


@dataclass(frozen=True)
class MlcModelInfo:
    """What edgeqwen needs from an MLC build folder (``mlc-chat-config.json`` + tokenizer)."""

    path: Path
    model_type: str
    context_length: int
    vocab_size: int
    eos_token_ids: tuple[int, ...]
    quantization: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def weights_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.glob("params_shard_*.bin"))


def read_mlc_model_info(path: str | Path) -> MlcModelInfo:
    """Validate an MLC model folder; every problem names the file and the fix."""
    folder = expand(path)
    if folder.is_file() and folder.name == "mlc-chat-config.json":
        folder = folder.parent
    config = folder / "mlc-chat-config.json"
    fix = "Pass an MLC build folder (e.g. from `edgeqwen pull qwen2.5-1.5b-instruct --backend mlc`)."
    if not config.is_file():
        raise ModelNotFoundError(f"{folder} has no mlc-chat-config.json, so it is not an MLC build. {fix}")
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
        model_type = str(cfg["model_type"])
        context = int(cfg.get("context_window_size") or cfg["model_config"]["context_window_size"])
        vocab = int(cfg.get("vocab_size") or cfg["model_config"]["vocab_size"])
        conv = cfg.get("conv_template") or {}
        stops = conv.get("stop_token_ids", []) if isinstance(conv, dict) else []
        eos = cfg.get("eos_token_id", [])
        eos_ids = {int(t) for t in itertools.chain(stops, eos if isinstance(eos, list) else [eos])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{config} is unreadable or misses a field ({exc!r}). {fix}") from exc
    if model_type not in SUPPORTED_TYPES:
        raise unsupported_architecture(f"The MLC build {folder}", model_type)
    if not (folder / "tokenizer.json").is_file():
        raise ModelLoadError(f"The MLC folder {folder} has no tokenizer.json. {fix}")
    quant = str(cfg.get("quantization", ""))
    return MlcModelInfo(folder.resolve(), model_type, context, vocab, tuple(sorted(eos_ids)), quant)


def _mlc_error(exc: BaseException) -> EdgeQwenError:
    """MLC's failures as ours: a request it refused (its BadRequestError) is the caller's to fix."""
    kind = InvalidRequestError if type(exc).__name__ == "BadRequestError" else EdgeQwenError
    return kind(f"MLC rejected or failed the request: {exc}")


def mlc_response_format(
    fmt: ResponseFormat, thinking: bool = False
) -> tuple[dict[str, Any], Callable[[str], str] | None]:
    """MLC's ``response_format`` for ``fmt``, and how to turn MLC's JSON back into our answer text
    (``None``: the JSON is the answer). Fails closed where MLC cannot express the constraint."""
    if thinking:
        raise GrammarError(
            "MLC's grammar applies from the first token, so it cannot let Qwen3 think before a constrained "
            "answer; turn thinking off (enable_thinking=False) or use backend='onnx'."
        )
    if fmt.kind == "json_object":
        return {"type": "json_object"}, None
    schema, unwrap = fmt.json_schema_form()
    return {"type": "json_object", "schema": json.dumps(schema)}, unwrap


class MlcBackend(Backend):
    name = "mlc"
    supports_logits_processors = False
    supports_response_format = True
    # not in MLC's protocol
    unsupported_settings = (
        "top_k", "min_p", "typical_p", "temperature_last", "top_a", "tfs", "sampler_order", "repetition_penalty",
        "penalty_slope", "prompt_lookup", "prediction",
    )  # fmt: skip
    streams_token_ids = False  # MLC streams text

    def __init__(
        self,
        model_path: str | Path,
        *,
        context_length: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        mode: str = "interactive",
    ) -> None:
        self.check_available()
        mlc_llm = importlib.import_module("mlc_llm")
        if threads is not None:
            raise InvalidRequestError("threads is for the CPU backend; MLC runs on the GPU (pass device instead).")
        device = device or "auto"
        self.device = parse_device(device)
        self.info = read_mlc_model_info(model_path)
        self.tokenizer = Tokenizer(self.info.path / "tokenizer.json")
        self.template = template_for(self.info.model_type, self.tokenizer)
        self._context = checked_context_length(context_length, self.info.context_length)
        engine_config = None
        if context_length is not None:
            engine_config = importlib.import_module("mlc_llm.serve").EngineConfig(
                max_total_sequence_length=context_length, max_single_sequence_length=context_length
            )
        try:
            self.engine = mlc_llm.MLCEngine(
                str(self.info.path), device=self.device, mode=mode, engine_config=engine_config
            )
        except Exception as exc:  # TVM errors: no such device, no model library, JIT compile failure
            raise ModelLoadError(
                f"MLC could not load {self.info.path} on device {self.device!r}: {exc}. Check that the GPU "
                "driver works (nvidia-smi / vulkaninfo), that the MLC wheel matches it, or use backend='onnx'."
            ) from exc
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._warned: set[str] = set()
        self._closed = False

    @classmethod
    def check_available(cls) -> None:
        try:
            importlib.import_module("mlc_llm")
        except ImportError as exc:
            raise BackendUnavailableError(MLC_INSTALL) from exc

    @property
    def context_length(self) -> int:
        return self._context

    def _warn_unsupported(self, config: GenerationConfig) -> None:
        neutral = GenerationConfig()
        for name in self.unsupported_settings:
            if getattr(config, name) != getattr(neutral, name) and name not in self._warned:
                self._warned.add(name)
                instead = (
                    "the answer is the same, decoded a token a step"
                    if name in ("prompt_lookup", "prediction")
                    else "use temperature/top_p and presence/frequency penalties"
                )
                shown = getattr(config, name) if name != "prediction" else "..."
                warnings.warn(
                    f"{name}={shown} is ignored on the MLC backend: MLC's OpenAI protocol "
                    f"has no such field ({instead}).",
                    UnsupportedSettingWarning,
                    stacklevel=4,
                )

    def request(self, config: GenerationConfig, response_format: dict[str, Any] | None) -> dict[str, Any]:
        """The keyword arguments of ``completions.create`` for ``config`` (without the prompt)."""
        self._warn_unsupported(config)
        stop = list(config.stop) + [self.tokenizer.decode([t]) for t in config.stop_token_ids]
        kwargs: dict[str, Any] = {
            "max_tokens": config.max_tokens,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "frequency_penalty": config.frequency_penalty or None,
            "presence_penalty": config.presence_penalty or None,
            "seed": config.seed,
            "stop": stop or None,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if config.logit_bias:
            kwargs["logit_bias"] = dict(config.logit_bias)
        if response_format is not None:
            kwargs["response_format"] = response_format
        return kwargs

    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Chunk]:
        if request.processors:
            raise GrammarError("The MLC backend decodes on the GPU and cannot run logits processors.")
        if self._closed:
            raise InvalidRequestError("This MLC backend was closed; create a new Assistant.")
        if len(request.prompt_ids) >= self.context_length:
            raise PromptTooLongError(len(request.prompt_ids), self.context_length)
        fmt, unwrap = (None, None)
        if request.response_format is not None:
            fmt, unwrap = mlc_response_format(request.response_format, request.thinking)
        kwargs = self.request(request.config, fmt)
        marker = self.tokenizer.token_id("<tool_call>")
        if request.tools and request.tool_choice == "none" and fmt is None and marker is not None:
            # no logits processors on the GPU: the engine's logit_bias keeps Qwen's call marker out
            kwargs["logit_bias"] = {**kwargs.get("logit_bias", {}), marker: -100.0}
        return self._locked(list(request.prompt_ids), kwargs, unwrap, cancel)

    def _locked(self, *args: Any) -> Iterator[Chunk]:
        with self._lock:  # interactive mode: one request at a time
            yield from self._generate(*args)

    def _generate(
        self,
        prompt: list[int],
        kwargs: dict[str, Any],
        unwrap: Callable[[str], str] | None,
        cancel: threading.Event | None,
    ) -> Iterator[Chunk]:
        request_id = f"edgeqwen-{next(self._ids)}"
        start = time.perf_counter()
        first: float | None = None
        finish, usage, held = None, None, []
        done = False
        try:
            with map_exceptions({Exception: _mlc_error}):  # mlc_llm's BadRequestError, TVM errors
                responses = self.engine.completions.create(prompt=prompt, request_id=request_id, **kwargs)
                for response in responses:
                    if response.usage is not None:
                        usage = response.usage
                    for choice in response.choices:
                        if choice.text:
                            first = first or time.perf_counter()
                            if unwrap is None:
                                yield Chunk(choice.text)
                            else:
                                held.append(choice.text)
                        if choice.finish_reason is not None:
                            finish = choice.finish_reason
                    if cancel is not None and cancel.is_set():
                        break
            done = finish is not None
        finally:
            if not done:
                self.engine.abort(request_id)  # cancelled, or the consumer stopped iterating
        end = time.perf_counter()
        if unwrap is not None and held:
            yield Chunk(unwrap("".join(held)))
        reason = {"stop": "stop", "length": "length"}.get(finish or "", "cancelled")
        yield Chunk("", finish_reason=reason, metrics=self._metrics(usage, start, first, end, reason))

    @staticmethod
    def _metrics(usage: Any, start: float, first: float | None, end: float, reason: str) -> Metrics:
        """Our metrics from MLC's ``usage`` (its ``extra`` holds the engine's own timings)."""
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        generated = int(getattr(usage, "completion_tokens", 0) or 0)
        extra = getattr(usage, "extra", None) or {}
        ttft = float(extra.get("ttft_s") or ((first or end) - start))
        prefill_tps = float(extra.get("prefill_tokens_per_s") or 0.0)
        decode_tps = float(extra.get("decode_tokens_per_s") or 0.0)
        prefill_s = prompt / prefill_tps if prefill_tps > 0 else ttft
        if decode_tps > 0 and generated > 1:
            decode_s = (generated - 1) / decode_tps
        else:
            decode_s = max(0.0, (end - start) - ttft)
        return Metrics(
            prompt_tokens=prompt,
            prefill_tokens=prompt,
            generated_tokens=generated,
            ttft_s=ttft,
            prefill_s=prefill_s,
            decode_s=decode_s,
            finish_reason=reason,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.engine.terminate()
