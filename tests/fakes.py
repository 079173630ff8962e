"""A scripted language model for testing the layers above the backend without ONNX."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
