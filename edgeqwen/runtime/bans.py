"""Banned phrases enforced in decoding: a phrase cannot be generated at all (a policy's
``banned_phrases``; a tool-call marker under ``tool_choice="none"``).

:class:`BannedStrings` is a logits processor. At each step it masks every token whose bytes
would complete a banned phrase given what was generated so far, at the byte level and across
token boundaries (case-insensitive for ASCII letters), so the model takes another path instead
of being cut off. A phrase is completed by a token either when the token contains it, or when the
text ends with the phrase's first ``k`` bytes and the token starts with the rest; both sets are
found with a sorted list of token byte strings, so a step costs a few binary searches.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Sequence

import numpy as np

from ..tokenizer import Tokenizer

__all__ = [
    "BannedStrings",
]


class BannedStrings:
    def __init__(self, phrases: Sequence[str], tokenizer: Tokenizer) -> None:
        self.phrases = [p.encode("utf-8").lower() for p in phrases if p]
        self._bytes: list[bytes] = []
        n = tokenizer.vocab_size
        for t in range(n):
            try:
                self._bytes.append(tokenizer.token_bytes(t).lower())
            except Exception:  # ids without a token (padding): never complete anything
                self._bytes.append(b"")
        order = sorted(range(n), key=self._bytes.__getitem__)
        self._sorted_ids = np.array(order, dtype=np.int64)
        self._sorted = [self._bytes[i] for i in order]
        # tokens that contain a phrase whole are banned at every step
        always = {t for t, b in enumerate(self._bytes) if b and any(p in b for p in self.phrases)}
        self._always = np.array(sorted(always), dtype=np.int64)
        self._max = max((len(p) for p in self.phrases), default=0)
        self.reset()

    def for_request(self, prompt_len: int) -> BannedStrings:
        """A processor for one answer: the tables shared, the per-answer state its own (so two
        answers never share state, and nothing is reset behind another's back)."""
        clone = copy.copy(self)
        clone.reset(prompt_len)
        return clone

    def reset(self, prompt_len: int = 0) -> None:
        """Start a new answer; the first ``prompt_len`` ids (the prompt) are not checked."""
        self.prompt_len = prompt_len
        self._tail = b""
        self._seen = 0

    def _starting_with(self, prefix: bytes) -> np.ndarray:
        lo = bisect.bisect_left(self._sorted, prefix)
        hi = bisect.bisect_left(self._sorted, prefix + b"\xff\xff\xff\xff")
        return self._sorted_ids[lo:hi]

    def _update(self, token_ids: np.ndarray) -> None:
        start = max(self.prompt_len, self._seen)
        for t in token_ids[start:]:
            self._tail = (self._tail + self._bytes[int(t)])[-self._max :]
        self._seen = len(token_ids)

    def __call__(self, token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        if not self.phrases:
            return logits
        if len(token_ids) < self._seen:
            self.reset(self.prompt_len)
        self._update(token_ids)
        banned = [self._always]
        for phrase in self.phrases:
            for k in range(1, len(phrase)):
                if self._tail.endswith(phrase[:k]):
                    banned.append(self._starting_with(phrase[k:]))
        ids = np.concatenate(banned)
        if ids.size:
            logits = logits.copy()
            logits[ids[ids < logits.shape[-1]]] = -np.inf
        return logits
