"""A fake backend for testing apps built on edgeqwen, and edgeqwen's own layers above the backend,
without a model (as httpx ships ``MockTransport`` and llm a mock model).

>>> from edgeqwen import Assistant
>>> from edgeqwen.testing import FakeBackend
>>> fake = FakeBackend(replies=["Paris."])
>>> Assistant(backend=fake).chat("Capital of France?").text
'Paris.'
>>> len(fake.requests)
1

The fake has a real (byte-level) tokenizer with the ChatML and Qwen control tokens, the Qwen2.5
chat template, and a scripted language model whose logits put all weight on the next token of the
reply. Everything between the Assistant and the logits runs for real: the sampling loop, stop
strings, grammar constraints (a scripted token the grammar forbids gives way to an allowed one),
decoding-level bans, the safety filters, history and prefix reuse.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .backends.base import BasicInfo, LoopBackend, Request
from .chat import template_for
from .errors import GenerationCancelled
from .tokenizer import Tokenizer, byte_level_tokenizer
from .types import Chunk

__all__ = ["FakeBackend", "ScriptedModel"]


class ScriptedModel:
    """A ``LanguageModel`` that emits ``script`` token by token (one-hot logits, the last token
    repeated once the script ends) and records what it was fed. Scoring a prompt
    (``prefill_all``), each position's logits favour the prompt's next token by ``PROMPT_LOGIT``."""

    PROMPT_LOGIT = 2.0

    def __init__(self, script: Sequence[int], vocab: int, context_length: int = 4096) -> None:
        self.script = list(script)
        self.vocab = vocab
        self.context_length = context_length
        self.last_reused = 0
        self.tokens: list[int] = []
        self.prompt_length = 0
        self.step = 0

    def _logits(self) -> np.ndarray:
        logits = np.zeros(self.vocab, dtype=np.float32)
        logits[self.script[min(self.step, len(self.script) - 1)]] = 10.0
        self.step += 1
        return logits

    cancellable_prefill = True

    def prefill(self, token_ids: Sequence[int], cancel: threading.Event | None = None) -> np.ndarray:
        same = 0
        for a, b in zip(self.tokens, token_ids, strict=False):
            if a != b:
                break
            same += 1
        self.last_reused = min(same, len(token_ids) - 1)
        if cancel is not None and cancel.is_set():  # as a real model stops reading: the cached part kept
            self.tokens = list(token_ids[:same])
            raise GenerationCancelled(f"Cancelled after {same} of the prompt's {len(token_ids)} tokens.")
        self.tokens = list(token_ids)
        self.prompt_length = len(token_ids)
        self.step = 0
        return self._logits()

    def prefill_all(
        self, token_ids: Sequence[int], read: Callable[[np.ndarray], None], cancel: threading.Event | None = None
    ) -> np.ndarray:
        if cancel is not None and cancel.is_set():  # as a real model stops scoring
            self.tokens, self.last_reused = [], 0
            raise GenerationCancelled(f"Cancelled before the prompt's {len(token_ids)} tokens were scored.")
        for at in range(len(token_ids) - 1):
            row = np.zeros(self.vocab, dtype=np.float32)
            row[token_ids[at + 1]] = self.PROMPT_LOGIT
            read(row)
        self.tokens, self.step, self.last_reused = list(token_ids), 0, 0
        self.prompt_length = len(token_ids)
        logits = self._logits()
        read(logits)
        return logits

    def decode(self, token: int) -> np.ndarray:
        return self.extend([token])

    def extend(self, tokens: Sequence[int]) -> np.ndarray:
        self.tokens.extend(tokens)
        self.step += len(tokens) - 1  # tokens a grammar forced stand for script steps too
        return self._logits()

    def verify(self, tokens: Sequence[int], rows: int | None = None) -> np.ndarray:
        """The logits after each of the last ``rows`` of ``tokens`` (all by default), fed in one
        pass (prompt lookup's check)."""
        out = []
        for token in tokens:
            self.tokens.append(int(token))
            out.append(self._logits())
        return np.stack(out[len(out) - (len(out) if rows is None else rows) :])

    def rewind(self, n: int) -> None:
        """Keep the first ``n`` positions fed; the script goes back with them."""
        self.tokens = self.tokens[:n]
        self.step = n - self.prompt_length + 1


class FakeBackend(LoopBackend):
    """Answers each request with the next of ``replies`` (cycling), or with ``script`` token ids.
    ``requests`` records every :class:`~edgeqwen.backends.Request` it got; ``tokenizer_json``
    swaps in another tokenizer (e.g. Qwen's, for token ids that match a real model)."""

    name = "fake"
    supports_prompt_logprobs = True

    def __init__(
        self,
        replies: Sequence[str] = ("Hello!",),
        *,
        script: Sequence[int] | None = None,
        tokenizer_json: str | Path | None = None,
        context_length: int = 4096,
    ) -> None:
        self.tokenizer = Tokenizer(tokenizer_json or byte_level_tokenizer())
        self.template = template_for("qwen2", self.tokenizer)
        vocab = self.tokenizer.vocab_size
        end = self.tokenizer.token_id("<|im_end|>")
        self.info = BasicInfo(
            "fake", self.tokenizer.path.parent, vocab, context_length, (end,) if end is not None else ()
        )
        self.model = ScriptedModel(script or [end or 0], vocab, context_length)
        self._replies = itertools.cycle(list(replies)) if script is None else None
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    @property
    def script(self) -> list[int]:
        return self.model.script

    @script.setter
    def script(self, tokens: Sequence[int]) -> None:
        """Answer every later request with these token ids (replies are no longer used)."""
        self.model.script = list(tokens)
        self._replies = None

    def stream(self, request: Request, cancel: threading.Event | None = None) -> Iterator[Chunk]:
        self.requests.append(request)
        if self._replies is not None:
            self.model.script = [*self.tokenizer.encode(next(self._replies)), *self.info.eos_token_ids]
        return super().stream(request, cancel)
