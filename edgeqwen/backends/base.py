"""The backend boundary: one :class:`Request` in, a stream of text chunks out.

Every backend is built the same way, ``cls(model_path, context_length=, threads=, device=)``
(through the registry in :mod:`edgeqwen.backends`), and serves ``stream(request, cancel)``.
Capabilities are attributes, never type checks: ``supports_logits_processors`` says whether
logits processors (penalties, grammar, bans) can run inside decoding; ``supports_response_format``
whether ``stream`` honours a :class:`~edgeqwen.runtime.formats.ResponseFormat` (ONNX: our grammar
engine as a logits processor; MLC: its own grammar engine); ``supports_prefix_cache`` whether a
prompt that extends the previous one only prefills the new tokens (the Assistant keeps an answer's
token ids in its history only then); ``supports_hidden_states`` whether the prompt's last hidden
state reaches ``Request.prefill_check`` (the safety layer's activation probe);
``supports_kept_prefixes`` whether a prefix named by ``Request.keep_prefix`` is kept apart and
restored for a later prompt that starts with it, whatever ran between; ``supports_logprobs`` /
``supports_prompt_logprobs`` whether ``GenerationConfig.logprobs`` / ``prompt_logprobs`` are
reported (the latter needs every prompt position's logits: ``LanguageModel.prefill_all``);
``supports_next_logits`` whether ``next_logits`` reads the logits after a prompt (a reranker's
yes/no judgement) without answering. ``kv_cache_types``: the KV cache types (``f16``, ``q8_0``,
``q4_0``) the backend may be built with (``kv_cache_type=``); none where it keeps its model's own.
"""

from __future__ import annotations

import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ..chat import ChatTemplate
from ..errors import GrammarError, InvalidRequestError
from ..generation_config import GenerationConfig
from ..model import ModelInfo
from ..runtime.formats import ResponseFormat
from ..runtime.loop import prefill, stream_generate
from ..runtime.sampling import LogitsProcessor
from ..tokenizer import Tokenizer
from ..types import Chunk, Message

__all__ = [
    "Backend",
    "BasicInfo",
    "LanguageModel",
    "LoopBackend",
    "Request",
    "UnsupportedSettingWarning",
    "plan_memory",
    "prefill_hidden",
    "reusable_prefix",
]


@dataclass(frozen=True)
class Request:
    """One answer to generate: the prompt as token ids (rendered by our chat template), how to
    sample, and what shape the answer must have. ``thinking``: Qwen3 may think before a constrained
    answer. ``processors``: extra logits processors (decoding-level bans), for backends that run them."""

    prompt_ids: tuple[int, ...]
    config: GenerationConfig = field(default_factory=GenerationConfig)
    response_format: ResponseFormat | None = None
    thinking: bool = False
    processors: tuple[LogitsProcessor, ...] = ()
    # The same prompt as messages (system first) and the tools offered, for a backend that
    # renders the prompt itself (``renders_prompt``: a remote server applies its own template).
    messages: tuple[Message, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    # "auto": a call the model opens must name one of ``tools`` with arguments valid for it;
    # "none": the model cannot open one. A forced call is a ``response_format`` instead.
    tool_choice: Literal["auto", "none"] = "auto"
    # Called with the prompt's last hidden state after the prefill, before any token is shown
    # (backends with ``supports_hidden_states``); a text it returns is the answer instead, as refused.
    prefill_check: Callable[[np.ndarray], str | None] | None = None
    # Where ``prefill_check`` reads the prompt when not at its last token (0): the end of the
    # template's own text, before a continued assistant message, as the probe was trained to read.
    check_at: int = 0
    # The first ``keep_prefix`` prompt tokens will start later prompts again, with others between
    # (a guard model's two template heads; a conversation's turns with self-checks between; a
    # chat prompt's system turn, with an app's side requests between): kept
    # apart by backends with ``supports_kept_prefixes`` (prefixes.py).
    keep_prefix: int = 0


class UnsupportedSettingWarning(UserWarning):
    """A generation setting this backend cannot honour; the answer is made without it."""


class LanguageModel(Protocol):
    """What :func:`edgeqwen.runtime.loop.generate_step` drives. A model whose ``prefill`` also
    takes ``cancel=`` (a ``threading.Event`` it checks while it reads a long prompt, raising
    :class:`~edgeqwen.errors.GenerationCancelled` with the part read kept in its cache) says so
    with ``cancellable_prefill = True``: a prompt of thousands of tokens takes minutes on a small
    CPU, which a client that hung up would otherwise hold the model for."""

    context_length: int
    last_reused: int

    def prefill(self, token_ids: Sequence[int]) -> np.ndarray: ...

    def decode(self, token: int) -> np.ndarray: ...

    def extend(self, tokens: Sequence[int]) -> np.ndarray: ...


class Backend(ABC):
    name: str = "base"
    supports_logits_processors: bool = False
    supports_response_format: bool = False
    supports_prefix_cache: bool = False
    supports_hidden_states: bool = False
    supports_kept_prefixes: bool = False
    supports_logprobs: bool = False  # GenerationConfig.logprobs: our own loop sees every logit
    supports_prompt_logprobs: bool = False  # GenerationConfig.prompt_logprobs: the model's prefill_all
    supports_next_logits: bool = False  # next_logits(token_ids): our own loop's prefill
    supports_prompt_lookup: bool = False  # GenerationConfig.prompt_lookup: guesses checked in one pass
    unsupported_settings: tuple[str, ...] = ()  # GenerationConfig fields this backend ignores
    streams_token_ids: bool = True  # chunks carry the token ids (kept in history for prefix reuse)
    renders_prompt: bool = False  # takes Request.messages and applies its own chat template
    remote: bool = False  # built with base_url / api_key (a server elsewhere)
    kv_cache_types: tuple[str, ...] = ()  # built with kv_cache_type= one of these (model.KV_CACHE_TYPES)

    info: ModelInfo
    tokenizer: Tokenizer
    template: ChatTemplate

    @property
    def context_length(self) -> int:
        return self.info.context_length

    @property
    def stop_token_ids(self) -> tuple[int, ...]:
        ids = set(self.info.eos_token_ids)
        for text in ("<|im_end|>", "<|endoftext|>"):
            tid = self.tokenizer.token_id(text)
            if tid is not None:
                ids.add(tid)
        return tuple(sorted(ids))

    def check_reports(self, config: GenerationConfig) -> None:
        """An InvalidRequestError for log probabilities this backend cannot report."""
        if config.logprobs is not None and not self.supports_logprobs:
            raise InvalidRequestError(
                f"The {self.name} backend cannot report log probabilities; use llama.cpp or ONNX.", "logprobs"
            )
        if config.prompt_logprobs is not None and not self.supports_prompt_logprobs:
            raise InvalidRequestError(
                f"The {self.name} backend cannot score a prompt's tokens (prompt_logprobs); llama.cpp and ONNX "
                "can (backend='llamacpp' or 'onnx').",
                "prompt_logprobs",
            )

    @property
    def grammar_engine(self):
        """llguidance bound to this model's tokenizer and logits width (built once, ~1 s for Qwen)."""
        engine = self.__dict__.get("_grammar_engine")
        if engine is None:
            from ..runtime.grammar import GrammarEngine

            engine = GrammarEngine(self.tokenizer.json_text, self.info.vocab_size, self.stop_token_ids)
            self.__dict__["_grammar_engine"] = engine
        return engine

    def tool_call_processor(self, request: Request) -> LogitsProcessor | None:
        """What holds a tool call to ``request.tool_choice`` while decoding (the model may write a
        call to a tool nobody listed, with any arguments, or one under "none"), or None."""
        if not request.tools or request.response_format is not None:
            return None
        n = len(request.prompt_ids)
        if request.tool_choice == "none":
            ban = self.__dict__.get("_tool_call_ban")
            if ban is None:  # ~1 s for Qwen's vocabulary, once per model
                from ..runtime.bans import BannedStrings

                ban = self.__dict__["_tool_call_ban"] = BannedStrings(["<tool_call>"], self.tokenizer)
            return ban.for_request(n)
        try:
            return self.grammar_engine.tool_calls(request.tools, n)
        except GrammarError as exc:  # a forced call would fail; "auto" answered before, and still does
            warnings.warn(f"Tool calls are not held to the tools' schemas: {exc}", stacklevel=2)
            return None

    @classmethod  # noqa: B027 - optional hook
    def check_available(cls) -> None:
        """Raise BackendUnavailableError (saying how to install) when this backend's runtime is
        missing; called before a model name is resolved or anything is downloaded."""

    @abstractmethod
    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Chunk]:
        """Generate the answer to ``request``; the last chunk has ``finish_reason`` and metrics.
        A request the backend cannot serve fails here, before the first chunk."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release runtime resources."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LoopBackend(Backend):
    """A backend whose ``model`` is a :class:`LanguageModel` driven by our own loop
    (:func:`~edgeqwen.runtime.loop.stream_generate`): grammars, bans and penalties run as logits
    processors, one answer at a time (the KV cache is shared state)."""

    supports_logits_processors = True
    supports_response_format = True
    supports_prefix_cache = True
    supports_logprobs = True
    supports_next_logits = True

    model: LanguageModel
    _lock: threading.Lock
    _owner: int | None = None  # the thread whose answer holds the lock

    @property
    def supports_prompt_lookup(self) -> bool:
        """GenerationConfig.prompt_lookup: the model checks several guessed tokens in one pass."""
        return hasattr(self.model, "verify")

    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Chunk]:
        # a prediction alone only hints at speed: nothing to warn of where it cannot be used
        if request.config.prompt_lookup and not self.supports_prompt_lookup and not self.__dict__.get("_lookup_warned"):
            self.__dict__["_lookup_warned"] = True
            warnings.warn(
                f"prompt_lookup={request.config.prompt_lookup} is not used on the {self.name} backend: its model "
                "has no verify(tokens) to check several tokens in one pass (llama.cpp and ONNX have one).",
                UnsupportedSettingWarning,
                stacklevel=3,
            )
        processors = list(request.processors)
        calls = self.tool_call_processor(request)
        if calls is not None:
            processors.append(calls)
        if request.response_format is not None:  # compiled now, not on first iteration: a bad grammar fails fast
            fmt, n = request.response_format, len(request.prompt_ids)
            processors.append(self.grammar_engine.constraint(fmt, n, request.thinking))
        return self._locked(request, processors, cancel)

    def _locked(
        self, request: Request, processors: Sequence[LogitsProcessor], cancel: threading.Event | None
    ) -> Iterator[Chunk]:
        if self._owner == threading.get_ident():
            # an unfinished answer of this thread holds the lock: waiting for it would never end
            raise InvalidRequestError(
                "This model is still streaming an earlier answer in this thread; finish that stream or "
                "close it (break out of its loop, or call .close() on its iterator) before asking again."
            )
        with self._lock:
            self._owner = threading.get_ident()
            try:
                check = request.prefill_check if self.supports_hidden_states else None
                if self.supports_hidden_states:
                    self.model.capture_hidden = check is not None
                if request.keep_prefix > 0 and self.supports_kept_prefixes:
                    self.model.keep_prefix(request.prompt_ids[: request.keep_prefix])
                yield from stream_generate(
                    self.model,
                    self.tokenizer,
                    request.prompt_ids,
                    request.config,
                    processors,
                    self.stop_token_ids,
                    cancel,
                    prefill_check=check,
                    check_at=request.check_at,
                )
            finally:
                self._owner = None

    def hidden_state(self, token_ids: Sequence[int], cancel: threading.Event | None = None) -> np.ndarray:
        """The final norm's output at the last of ``token_ids`` (an embedding model's vector), for
        backends with ``supports_hidden_states``. Computed from an empty cache, so a text's vector
        does not depend on what this model read before; waits for an answer in progress.
        ``cancel``, set while the text is read, stops it (GenerationCancelled) where the model can."""
        if not self.supports_hidden_states:
            raise InvalidRequestError(
                f"The {self.name} backend does not expose hidden states; use llama.cpp (a GGUF file) or an ONNX "
                "model converted by edgeqwen."
            )
        if self._owner == threading.get_ident():
            raise InvalidRequestError(
                "This model is still streaming an answer in this thread; finish or close it before embedding."
            )
        with self._lock:
            self.model.reset()
            return prefill_hidden(self.model, token_ids, cancel)

    def next_logits(
        self, token_ids: Sequence[int], shared: int = 0, cancel: threading.Event | None = None
    ) -> np.ndarray:
        """The logits of the token after ``token_ids`` (a copy), nothing generated; waits for an
        answer in progress. ``shared``: how many first tokens start other prompts too (one query's
        documents). Those are kept apart and put back before the rest is computed, so prompts that
        start alike prefill only what differs, and a prompt's logits never depend on what ran before.
        ``cancel`` as for :meth:`hidden_state`."""
        if self._owner == threading.get_ident():
            raise InvalidRequestError(
                "This model is still streaming an answer in this thread; finish or close it before scoring."
            )
        with self._lock:
            if shared >= 2 and self.supports_kept_prefixes:
                self.model.keep_prefix(token_ids[:shared])
                self.model.rewind(0)
            else:
                self.model.reset()
            return np.array(prefill(self.model, token_ids, cancel), dtype=np.float32)


@dataclass(frozen=True)
class BasicInfo:
    """What the layers above read of a model that has no model folder of ours (a fake, a server)."""

    name: str
    path: Path | None
    vocab_size: int
    context_length: int
    eos_token_ids: tuple[int, ...] = ()


class _Sized(Protocol):
    name: str
    model_type: str
    context_length: int
    weights_bytes: int

    def kv_bytes_per_token(self, bytes_per_value: float) -> int: ...


def plan_memory(
    info: _Sized,
    context_length: int | None,
    ram_available: int | None = None,
    kv_bytes_per_value: float = 4,
    held: int = 0,
    q8_bytes_per_value: float | None = None,
) -> int:
    """Pick (when not given) and check the KV-cache size against free RAM before anything loads.
    ``held``: bytes the backend keeps beside the model's file (llama.cpp's AMX copy);
    ``q8_bytes_per_value``: where the backend could keep its KV cache in 8 bits instead, what that takes."""
    from ..model import checked_context_length
    from ..probe.planner import auto_context, check_fit

    if ram_available is None:
        from ..probe.limits import available_memory

        ram_available = available_memory()  # a container's memory limit, not the host's free RAM
    weights = info.weights_bytes + held
    kv = info.kv_bytes_per_token(kv_bytes_per_value)
    if context_length is None:
        context_length = auto_context(ram_available, weights, kv, info.context_length)
    context_length = checked_context_length(context_length, info.context_length)
    q8 = info.kv_bytes_per_token(q8_bytes_per_value) if q8_bytes_per_value is not None else None
    check_fit(ram_available, weights, kv, context_length, f"{info.name} ({info.model_type})", q8)
    return context_length


def prefill_hidden(model: Any, token_ids: Sequence[int], cancel: threading.Event | None = None) -> np.ndarray:
    """The hidden state of a prompt's last position (for training a probe), from a model of a
    backend with ``supports_hidden_states``: its prefill keeps it while ``capture_hidden`` is on."""
    capture, model.capture_hidden = model.capture_hidden, True
    try:
        prefill(model, token_ids, cancel)
    finally:
        model.capture_hidden = capture
    assert model.last_hidden is not None
    return model.last_hidden


def reusable_prefix(cached: Sequence[int], prompt: Sequence[int]) -> int:
    """How many leading prompt tokens the KV cache already holds and may keep. At least two prompt
    tokens always run, so on onnxruntime every position is computed by the same multi-row kernels
    whether its prefix came from the cache or not: its int4 kernels for one row differ from those
    for several (logits by up to ~1, docs/performance.md "Reproducible answers"), and the same
    prompt must get the same greedy answer fresh or cached. (llama.cpp's kernels differ below 64
    rows; its model keeps the last prompt's logits instead.)"""
    same = 0
    for a, b in zip(cached, prompt, strict=False):
        if a != b:
            break
        same += 1
    return max(0, min(same, len(prompt) - 2))
