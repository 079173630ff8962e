"""The backend boundary: token ids in, a stream of text chunks out.

Capabilities are attributes, never type checks: ``supports_logits_processors`` says whether
logits processors (penalties, grammar, bans) can run inside decoding; ``supports_response_format``
whether ``stream`` honours a :class:`~edgeqwen.runtime.grammar.ResponseFormat` (ONNX: our grammar
engine as a logits processor; MLC: its own grammar engine); ``supports_prefix_cache`` whether a
prompt that extends the previous one only prefills the new tokens.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from ..chat import ChatTemplate
from ..model import ModelInfo
from ..runtime.grammar import ResponseFormat
from ..runtime.sampling import LogitsProcessor
from ..tokenizer import Tokenizer
from ..types import Chunk, GenerationConfig

__all__ = ["Backend", "LanguageModel"]


class LanguageModel(Protocol):
    """What :func:`edgeqwen.runtime.loop.generate_step` drives."""

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
    unsupported_settings: tuple[str, ...] = ()  # GenerationConfig fields this backend ignores
    streams_token_ids: bool = True  # chunks carry the token ids (kept in history for prefix reuse)

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

    @property
    def grammar_engine(self):
        """llguidance bound to this model's tokenizer and logits width (built once, ~1 s for Qwen)."""
        engine = self.__dict__.get("_grammar_engine")
        if engine is None:
            from ..runtime.grammar import GrammarEngine

            engine = GrammarEngine(self.tokenizer.json_text, self.info.vocab_size, self.stop_token_ids)
            self.__dict__["_grammar_engine"] = engine
        return engine

    @abstractmethod
    def stream(
        self,
        prompt_ids: Sequence[int],
        config: GenerationConfig,
        processors: Sequence[LogitsProcessor] = (),
        cancel: threading.Event | None = None,
        response_format: ResponseFormat | None = None,
        thinking: bool = False,
    ) -> Iterator[Chunk]:
        """Generate from ``prompt_ids``; the last chunk has ``finish_reason`` and metrics.
        ``response_format`` constrains the answer (``thinking``: Qwen3 may think first)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release runtime resources."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
