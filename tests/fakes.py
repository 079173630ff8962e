"""The package's fakes (edgeqwen.testing), with the defaults these tests use: Qwen's vocabulary."""

from __future__ import annotations

import os
import select
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Sequence

from edgeqwen.testing import FakeBackend, ScriptedModel
from edgeqwen.types import Chunk

__all__ = ["FakeBackend", "ScriptedModel", "SlowStart", "in_forked_child", "qwen_scripted"]

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


def in_forked_child(say: Callable[[], bytes], timeout: float = 20.0) -> bytes:
    """What ``say()`` gives in a child forked now, or b"" where the child did not answer within
    ``timeout`` (it hung: it is killed)."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a threaded process
        pid = os.fork()
    if pid == 0:  # the child: answer within the parent's wait, then leave at once
        os.close(read)
        os.write(write, say())
        os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], timeout)
    said = os.read(read, 64) if ready else b""
    os.close(read)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return said
