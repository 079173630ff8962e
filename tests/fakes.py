"""A scripted language model for testing the layers above the backend without ONNX."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

from edgeqwen.backends.base import Backend
from edgeqwen.chat import template_for
from edgeqwen.runtime.loop import stream_generate
from edgeqwen.tokenizer import Tokenizer


class ScriptedModel:
    """Emits ``script`` token by token (logits are one-hot), records what it was fed."""

    def __init__(self, script: Sequence[int], vocab: int = 151936, context_length: int = 4096) -> None:
        self.script = list(script)
        self.vocab = vocab
        self.context_length = context_length
        self.last_reused = 0
        self.tokens: list[int] = []
        self.step = 0

    def _logits(self) -> np.ndarray:
        logits = np.zeros(self.vocab, dtype=np.float32)
        logits[self.script[min(self.step, len(self.script) - 1)]] = 10.0
        self.step += 1
        return logits

    def prefill(self, token_ids: Sequence[int]) -> np.ndarray:
        same = 0
        for a, b in zip(self.tokens, token_ids, strict=False):
            if a != b:
                break
            same += 1
        self.last_reused = min(same, len(token_ids) - 1)
        self.tokens = list(token_ids)
        self.step = 0
        return self._logits()

    def decode(self, token: int) -> np.ndarray:
        self.tokens.append(token)
        return self._logits()

    def extend(self, tokens: Sequence[int]) -> np.ndarray:
        self.tokens.extend(tokens)
        self.step += len(tokens) - 1
        return self._logits()


class FakeBackend(Backend):
    """A backend over :class:`ScriptedModel` with the real Qwen2.5 tokenizer and template: the
    layers above the backend (Assistant, server, safety) without onnxruntime."""

    name = "fake"
    supports_logits_processors = True
    supports_response_format = True
    supports_prefix_cache = True

    def __init__(self, tokenizer_json, script: Sequence[int] = (9707, 151645), context_length: int = 4096) -> None:
        self.tokenizer = Tokenizer(tokenizer_json)
        self.template = template_for("qwen2", self.tokenizer)
        self.model = ScriptedModel(script, context_length=context_length)
        self.info = SimpleNamespace(vocab_size=151936, eos_token_ids=(151645,), context_length=context_length)
        self.requests: list[list[int]] = []

    def stream(self, prompt_ids, config, processors=(), cancel=None, response_format=None, thinking=False):
        self.requests.append(list(prompt_ids))
        if response_format is not None:
            processors = [*processors, self.grammar_engine.constraint(response_format, len(prompt_ids), thinking)]
        return stream_generate(self.model, self.tokenizer, prompt_ids, config, processors, self.stop_token_ids, cancel)
