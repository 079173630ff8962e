"""The package's fakes (edgeqwen.testing), with the defaults these tests use: Qwen's vocabulary."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from edgeqwen.testing import FakeBackend, ScriptedModel
from edgeqwen.types import Chunk

__all__ = ["FakeBackend", "ScriptedModel", "SlowStart", "qwen_scripted"]

QWEN_VOCAB = 151936


def qwen_scripted(script: Sequence[int], context_length: int = 4096) -> ScriptedModel:
    """A scripted model with Qwen's logits width."""
    return ScriptedModel(script, QWEN_VOCAB, context_length)


class SlowStart(FakeBackend):
    """A fake model silent for ``pause`` seconds before its first token, as a long prompt's
    prefill is on a small CPU."""

    pause = 0.4

    def stream(self, request, cancel=None) -> Iterator[Chunk]:
        chunks = super().stream(request, cancel)

        def later() -> Iterator[Chunk]:
            time.sleep(self.pause)
            yield from chunks

        return later()
