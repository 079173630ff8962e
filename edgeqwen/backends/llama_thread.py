"""Every call into llama.cpp that computes runs on one thread of the process.

llama.cpp's CPU kernels run under OpenMP (its default build, and pip's), and GNU libgomp keeps a
team of worker threads for each thread that has entered a parallel region, until that thread
exits. Once the process holds more such threads than it has CPUs, libgomp stops spinning between
regions and sleeps, so every step of a decode waits for its team to wake. A model loaded on one
thread and run on another (an ``AsyncAssistant``'s model thread, ``edgeqwen serve``'s, a web
framework's thread pool) had two teams, and decoded at a third of its speed (docs/performance.md,
"One thread for llama.cpp"). Here loading a model, creating its context and each
``llama_decode`` run on one thread, whichever thread asks; freeing one does not compute and runs
where it is asked (at exit this thread may be gone).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["on_llama_thread"]

T = TypeVar("T")


class _Call(Generic[T]):
    def __init__(self, fn: Callable[[], T]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # raised again on the thread that asked
            self.error = exc
        finally:
            self.done.set()


_calls: queue.SimpleQueue[_Call[object]] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_start = threading.Lock()


def _forked() -> None:
    """A forked child has no copy of the thread: the next call starts its own (it had waited
    forever for the parent's)."""
    global _calls, _thread, _start
    _calls, _thread, _start = queue.SimpleQueue(), None, threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_forked)


def _serve() -> None:
    while True:
        _calls.get().run()


def on_llama_thread(fn: Callable[[], T], on_interrupt: Callable[[], None] | None = None) -> T:
    """``fn()``, run on the llama.cpp thread (at once where the caller is that thread). An
    interrupt (Ctrl-C) while it runs is raised once it has returned, so what the caller keeps of
    the model's state (the tokens in its cache) matches what llama.cpp holds; ``on_interrupt`` is
    called first, to ask ``fn`` to stop (a prompt's batch of 512 tokens takes a minute on a Pi)."""
    global _thread
    if threading.current_thread() is _thread:
        return fn()
    with _start:
        if _thread is None:
            _thread = threading.Thread(target=_serve, name="edgeqwen-llama.cpp", daemon=True)
            _thread.start()
    call = _Call(fn)
    _calls.put(call)  # type: ignore[arg-type]
    try:
        call.done.wait()
    except BaseException:
        if on_interrupt is not None:
            on_interrupt()
        call.done.wait()
        raise
    if call.error is not None:
        raise call.error
    return call.result  # type: ignore[return-value]
