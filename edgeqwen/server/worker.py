"""One model, one answer at a time: a bounded waiting line in front of a generation thread.

The event loop never runs the model. :meth:`ModelWorker.submit` waits for the model (or fails
at once with :class:`QueueFullError` when ``max_queue`` requests already wait), then the
worker's one long-lived thread builds the prompt and generates, handing text to the loop
through an ``asyncio.Queue``. The thread, not the request handler, frees the model when it is
done, so a client that goes away (its handler cancelled) stops the answer and the next request
starts only after the model is really idle.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..errors import EdgeQwenError, GenerationCancelled, StructuredOutputError
from ..types import Reply
from .metrics import ServerMetrics
from .protocol import ChatRequest

__all__ = ["Generation", "ModelWorker", "QueueFullError"]


class QueueFullError(EdgeQwenError):
    """Too many requests already wait for the model (HTTP 429)."""


class Generation:
    """One answer being generated on its own thread. Iterate :meth:`events` for
    ``("text", str)`` pieces and a final ``("done", Reply)``; :meth:`cancel` stops it."""

    def __init__(
        self, worker: ModelWorker, request: ChatRequest, loop: asyncio.AbstractEventLoop, release: Callable[[], None]
    ) -> None:
        self._worker = worker
        self.release = release  # frees the model; called once, from the thread, when it ends
        self._request = request
        self._loop = loop
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._lock = threading.Lock()
        self._finished = False
        self.cancelled = False
        # a constrained answer that ended (not at max_tokens) without parsing: the model failed
        self.format_error: StructuredOutputError | None = None

    def _put(self, kind: str, value: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop has closed (server shutting down): nobody is listening
            pass

    def run(self) -> None:
        """The thread's body: build the prompt, generate, then free the model and report."""
        reply: Reply | None = None
        result: tuple[str, Any] = ("error", GenerationCancelled("The request was cancelled before it started."))
        try:
            if not self.cancelled:
                assistant = self._worker.assistant
                thinks = assistant.backend.template.supports_thinking
                stream = assistant.answer(self._request.messages, **self._request.answer_kwargs(thinks))
                self._put("started", None)
                pieces = iter(stream)
                try:
                    for text in pieces:
                        if self.cancelled:
                            break
                        self._put("text", text)
                except StructuredOutputError:
                    pass  # kept as stream.error; judged below, with the finish reason
                finally:
                    getattr(pieces, "close", lambda: None)()
                reply = stream.reply(strict=False)
                if stream.error is not None and reply.finish_reason != "length":
                    self.format_error = stream.error
                result = ("done", reply)
        except BaseException as exc:  # reported to the handler, which answers 400 or 500
            result = ("error", exc)
        finally:
            with self._lock:
                self._finished = True
            # free the model before the handler hears "done", so a client's next request finds it idle
            self._worker._finished(self, reply)
            self._put(*result)

    def cancel(self) -> None:
        """Stop generating (the client went away). Safe to call at any time, more than once."""
        with self._lock:
            if self._finished or self.cancelled:
                return
            self.cancelled = True
            self._worker.assistant.cancel()

    async def next_event(self) -> tuple[str, Any]:
        return await self._queue.get()

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        while True:
            kind, value = await self.next_event()
            if kind == "error":
                raise value
            yield kind, value
            if kind == "done":
                return


class ModelWorker:
    """Serialises generation on one :class:`~edgeqwen.Assistant`."""

    def __init__(self, assistant: Any, max_queue: int, metrics: ServerMetrics | None = None) -> None:
        self.assistant = assistant
        self.max_queue = max_queue
        self.metrics = metrics or ServerMetrics()
        self.waiting = 0
        self._slot: asyncio.Lock | None = None
        self._jobs: queue.SimpleQueue[Generation] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """The model is taken: an answer is being generated (or its request is being started)."""
        return self._slot is not None and self._slot.locked()

    def _serve_jobs(self) -> None:
        while True:
            self._jobs.get().run()

    async def submit(self, request: ChatRequest) -> Generation:
        """Wait for the model and start ``request``. Raises QueueFullError when the line is full,
        and the prompt's own errors (InvalidRequestError, ...) before anything is generated."""
        loop = asyncio.get_running_loop()
        if self._slot is None:
            self._slot = asyncio.Lock()
        if self._slot.locked() and self.waiting >= self.max_queue:
            raise QueueFullError(
                f"The model is busy and {self.waiting} request(s) already wait (the server's --max-queue); "
                "retry shortly."
            )
        self.waiting += 1
        try:
            await self._slot.acquire()
        finally:
            self.waiting -= 1
        slot = self._slot
        generation = Generation(self, request, loop, lambda: loop.call_soon_threadsafe(slot.release))
        if self._thread is None:  # one thread for the server's life: no per-request thread churn
            self._thread = threading.Thread(target=self._serve_jobs, name="edgeqwen-generate", daemon=True)
            self._thread.start()
        self._jobs.put(generation)
        try:
            kind, value = await generation.next_event()
        except BaseException:  # cancelled while the prompt was being built
            generation.cancel()
            raise
        if kind == "error":
            raise value
        return generation

    def _finished(self, generation: Generation, reply: Reply | None) -> None:
        """Called on the generation thread when it ends: count it, then free the model."""
        if reply is not None:
            self.metrics.record_reply(reply)
        try:
            generation.release()
        except RuntimeError:  # the loop has closed
            pass
