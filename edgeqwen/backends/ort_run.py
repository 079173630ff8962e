"""One onnxruntime call that a cancel event or Ctrl-C stops between two of the graph's nodes.

A prompt step of 64 tokens runs for 0.75 s on a 2-core Xeon and for seconds on a Pi; a client
that hangs up, or a user's Ctrl-C, waited for it. onnxruntime stops a run whose ``RunOptions``
has ``terminate`` set before its next node, with an error and nothing of the run returned; the
caller then keeps what it held before the call (the positions the run wrote stay past the
cached tokens, to be written again). The call runs on a thread of the model's own, so the
caller's thread is free to watch the event and to take a signal, which Python runs only between
bytecodes. One lasting thread, not one a call: a new thread a step read prompts 1.6% slower (the
1.5B stand-in, 512 tokens; onnxruntime's kernels keep scratch buffers per thread). What a failed
call says is written here too: onnxruntime's own message as one line, as ours.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Protocol

from ..errors import EdgeQwenError, GenerationCancelled

__all__ = ["POLL_S", "StepThread", "first_line", "ort_error", "run_stoppable", "stoppable_step"]

# How often the caller looks at the cancel event while the call runs: each look wakes a thread
# beside onnxruntime's two on a 2-core machine, and every 20 ms read prompts 0.4-0.9% slower.
POLL_S = 0.1


class _Flag(Protocol):
    def is_set(self) -> bool: ...


class _Options(Protocol):  # onnxruntime.RunOptions, as this module uses it
    terminate: bool


class StepThread:
    """A model's thread for its stoppable calls, started at the first; it ends once the model is
    freed. A process forked from one that had started it (a ``multiprocessing`` pool's worker) has
    no copy of the thread, and a call handed to it would wait forever: such a child starts its own."""

    def __init__(self) -> None:
        self._pool: futures.ThreadPoolExecutor | None = None
        self._pid = 0

    def submit(self, call: Callable[[_Options], None], options: _Options) -> futures.Future[None]:
        if self._pool is None or self._pid != os.getpid():
            self._pool = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgeqwen-onnxruntime")
            self._pid = os.getpid()
        return self._pool.submit(call, options)


def run_stoppable(
    thread: StepThread, call: Callable[[_Options], None], options: _Options, cancel: _Flag | None
) -> None:
    """``call(options)`` on ``thread``, ``options.terminate`` set where ``cancel`` is set or an
    exception (KeyboardInterrupt) reaches the caller while it waits. A call stopped by the event
    raises GenerationCancelled; by an exception, that exception, once the call has returned (so
    the model's buffers are not written after the caller moved on)."""
    running = None
    try:
        running = thread.submit(call, options)
        while not futures.wait([running], POLL_S).done:
            if cancel is not None and cancel.is_set():
                options.terminate = True
    except BaseException:
        # Ctrl-C can come inside submit, the call queued but not yet ``running``: that call finds
        # the flag set and returns before the graph's first node.
        options.terminate = True
        if running is not None:
            futures.wait([running])
        raise
    failure = running.exception()
    if failure is not None:
        if options.terminate:  # onnxruntime's "Exiting due to terminate flag being set to true"
            raise GenerationCancelled("Cancelled while a step of the prompt was read.") from failure
        raise failure


@contextlib.contextmanager
def stoppable_step(cancel: _Flag | None, said: str) -> Iterator[None]:
    """One step of a prompt's read or scoring: not begun where ``cancel`` is already set, and
    stopped inside where it is set meanwhile (:func:`run_stoppable`); either way
    GenerationCancelled says ``said``, how far the whole prompt got."""
    if cancel is not None and cancel.is_set():
        raise GenerationCancelled(said)
    try:
        yield
    except GenerationCancelled as exc:
        raise GenerationCancelled(said) from exc


def first_line(exc: BaseException) -> str:
    """onnxruntime's message, which can run to many lines, as one short line."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def ort_error(exc: BaseException) -> EdgeQwenError:
    """onnxruntime failing while it runs (out of memory, a bad kernel) as ours."""
    return EdgeQwenError(
        f"onnxruntime failed while generating ({first_line(exc)}); the model or the machine is at fault."
    )
