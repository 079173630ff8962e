"""``AsyncReplyStream``: an answer being generated for an asyncio program, and ``Job``, its
turn on :class:`~edgeqwen.aio.AsyncAssistant`'s one model thread (waiting, running, ended).

The model thread puts the answer's pieces on an ``asyncio.Queue`` through the loop's
``call_soon_threadsafe``; the loop never runs the model. Cancelling a waiting job drops it,
cancelling a running one stops the model's answer at its next token.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Literal

from .errors import GenerationCancelled, InvalidRequestError, StructuredOutputError
from .reply import not_a_reply
from .types import Reply

if TYPE_CHECKING:
    from .aio import AsyncAssistant
    from .reply import ReplyStream

__all__ = ["AsyncReplyStream", "Job", "resolve"]

_State = Literal["waiting", "running", "ended"]


def resolve(done: concurrent.futures.Future[Any], failure: BaseException | None, result: Any = None) -> None:
    """Hand a job's outcome to the task awaiting it, unless that task was cancelled meanwhile."""
    if not done.set_running_or_notify_cancel():
        return
    if failure is None:
        done.set_result(result)
    else:
        done.set_exception(failure)


class Job:
    """One request's turn on the model thread: waiting, then running, then ended. Cancelling a
    waiting job drops it; cancelling a running one stops the model's answer."""

    def __init__(self, owner: AsyncAssistant) -> None:
        self._owner = owner
        self.state: _State = "waiting"
        self.cancelled = False

    def begin(self) -> bool:
        """On the model thread: take the model, unless the job was cancelled while it waited."""
        with self._owner._lock:
            if self.cancelled:
                return False
            self.state = "running"
            self._owner._waiting -= 1
            self._owner._running = True
            return True

    def end(self) -> None:
        """On the model thread: free the model (before anyone hears the result, so a caller's
        next request finds it idle)."""
        with self._owner._lock:
            self.state = "ended"
            self._owner._running = False

    def cancel(self) -> bool:
        """Stop the job; returns whether it had not started (and so has no result to wait for)."""
        with self._owner._lock:
            if self.state == "ended" or self.cancelled:
                return False
            self.cancelled = True
            if self.state == "waiting":
                self.state = "ended"
                self._owner._waiting -= 1
                return True
            # under the lock: the next job cannot begin (and clear the flag) until the flag is set
            self.stop_model()
            return False

    def stop_model(self) -> None:
        self._owner.assistant.cancel()  # the model's loop stops at its next token


class AsyncReplyStream:
    """An answer being generated: ``async for text in stream`` for its text as it comes, ``await
    stream.reply()`` for the finished :class:`~edgeqwen.Reply`. Iterated once, like
    :class:`~edgeqwen.ReplyStream`; leaving the loop early (or :meth:`aclose`) stops the answer and
    keeps what was said in the history."""

    def __init__(self, owner: AsyncAssistant, loop: asyncio.AbstractEventLoop) -> None:
        self._job = Job(owner)
        self._loop = loop
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._ended = asyncio.Event()
        self._reply: Reply | None = None
        self._error: StructuredOutputError | None = None
        self._failure: BaseException | None = None
        self._callbacks: list[Callable[[Reply], None]] = []
        self._read = False
        self._stopped_by: BaseException | None = None  # stop()'s reason, raised where the answer is awaited
        self.thinking_streamed = False  # thinking pieces came (a server sends them once, as they came)
        self.prompt_tokens = 0  # the prompt's length, once the answer has started

    def __getattr__(self, name: str) -> Any:  # only for names the stream lacks
        raise not_a_reply(self, name, "await .reply()")

    # -- the model thread ----------------------------------------------------------------------
    def _put(self, kind: str, value: Any = None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._deliver, kind, value)
        except RuntimeError:  # the loop has closed: nobody is listening
            pass

    def _run(self, start: Callable[[], ReplyStream], whole: bool) -> None:
        """The answer, on the model thread; ``whole``: read as ``reply()`` reads it (nothing is
        shown, so any structured answer may be resampled), not piece by piece."""
        if not self._job.begin():
            return  # cancelled while it waited: already reported by cancel()
        reply: Reply | None = None
        error: StructuredOutputError | None = None
        failure: BaseException | None = None
        try:
            stream = start()
            if self._job.cancelled:  # cancelled while the prompt was built, before the answer took its flag
                self._job.stop_model()
            self._put("started", stream.prompt_tokens)
            if not whole:
                pieces = stream.pieces()
                try:
                    for kind, text in pieces:
                        if self._job.cancelled:
                            break
                        self._put(kind, text)  # "thinking" or "text"
                except StructuredOutputError:
                    pass  # kept as stream.error, raised at the end of the caller's loop
                finally:
                    pieces.close()  # ends the answer (a break keeps the partial answer, as the sync stream does)
            reply, error = stream.reply(strict=False), stream.error
        except BaseException as exc:  # the caller's, raised where it awaits this stream
            failure = exc
        finally:
            self._job.end()
            self._put("end", (reply, error, failure))

    # -- the event loop --------------------------------------------------------------------------
    def _deliver(self, kind: str, value: Any) -> None:
        if kind == "thinking":
            self.thinking_streamed = True
        elif kind == "started":
            self.prompt_tokens = value
        if kind == "end":
            self._reply, self._error, self._failure = value
            if self._stopped_by is not None and self._job.cancelled and self._failure is None:
                self._reply, self._error, self._failure = None, None, self._stopped_by  # cut: not an answer
            with self._job._owner._lock:
                self._job._owner._streams.discard(self)
            self._ended.set()
            if self._reply is not None:
                for callback in self._callbacks:
                    callback(self._reply)
        self._events.put_nowait((kind, value))

    async def _started(self) -> None:
        """Wait until the prompt is built and the answer has begun (its errors are raised here)."""
        try:
            kind, _ = await self._events.get()
        except BaseException:  # the waiting task was cancelled: drop or stop the answer
            self.cancel()
            raise
        if kind == "end":
            assert self._failure is not None  # an answer that never started ended in an error
            raise self._failure

    def cancel(self) -> None:
        """Stop the answer (from any thread; at any time, more than once)."""
        if self._job.cancel():  # it never started: end it here, the model thread will skip it
            self._put("end", (None, None, GenerationCancelled("The answer was cancelled before it started.")))

    def stop(self, reason: BaseException) -> None:
        """Stop the answer as :meth:`cancel` does, but have :meth:`reply` raise ``reason`` rather than
        give the cut answer as if whole (a server shutting down tells its client so); an answer
        that had already ended stands."""
        self._stopped_by = reason
        if self._job.cancel():
            self._put("end", (None, None, reason))

    def on_done(self, callback: Callable[[Reply], None]) -> None:
        """Call ``callback(reply)`` on the event loop when the answer ends (at once if it has).
        Not called for an answer that failed."""
        if self._ended.is_set():
            if self._reply is not None:
                callback(self._reply)
        else:
            self._callbacks.append(callback)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._text(self.pieces())

    @staticmethod
    async def _text(parts: AsyncGenerator[tuple[str, str], None]) -> AsyncIterator[str]:
        try:
            async for kind, text in parts:
                if kind == "text":
                    yield text
        finally:
            await parts.aclose()  # a loop left early stops the answer now, not when collected

    def pieces(self) -> AsyncGenerator[tuple[str, str], None]:
        """The answer as ``("thinking", text)`` and ``("text", text)`` pieces, as
        :meth:`edgeqwen.ReplyStream.pieces`; iterate this or the stream itself, once."""
        if self._read:
            raise InvalidRequestError("An AsyncReplyStream can be iterated once; use await .reply() for the result.")
        self._read = True
        return self._pieces()

    async def _pieces(self) -> AsyncGenerator[tuple[str, str], None]:
        try:
            while True:
                kind, value = await self._events.get()
                if kind in ("text", "thinking"):
                    yield kind, value
                elif kind == "end":
                    if self._failure is not None:
                        raise self._failure
                    if self._error is not None:
                        raise self._error
                    return
        finally:
            if not self._ended.is_set():  # the loop was left early, or its task cancelled
                self.cancel()

    async def reply(self, strict: bool = True) -> Reply:
        """The finished reply (waiting for the rest of the answer). ``strict``: as
        :meth:`edgeqwen.ReplyStream.reply`: a constrained answer that did not parse raises its
        :class:`~edgeqwen.StructuredOutputError`, unless ``strict=False``."""
        try:
            await self._ended.wait()
        except BaseException:
            self.cancel()
            raise
        if self._failure is not None:
            raise self._failure
        if self._error is not None and strict:
            raise self._error
        assert self._reply is not None
        return self._reply

    @property
    def error(self) -> StructuredOutputError | None:
        """Why the constrained answer did not parse, once the answer has ended (else None)."""
        return self._error

    async def aclose(self) -> None:
        """Stop the answer and wait until the model has let go of it."""
        self.cancel()
        await self._ended.wait()

    async def __aenter__(self) -> AsyncReplyStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
