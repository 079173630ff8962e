"""The package's fakes (edgeqwen.testing), with the defaults these tests use: Qwen's vocabulary."""

from __future__ import annotations

from collections.abc import Sequence

from edgeqwen.testing import FakeBackend, ScriptedModel

__all__ = ["FakeBackend", "ScriptedModel", "qwen_scripted"]

QWEN_VOCAB = 151936


def qwen_scripted(script: Sequence[int], context_length: int = 4096) -> ScriptedModel:
    """A scripted model with Qwen's logits width."""
    return ScriptedModel(script, QWEN_VOCAB, context_length)
