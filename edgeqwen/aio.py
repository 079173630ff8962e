"""``AsyncAssistant``: the :class:`~edgeqwen.Assistant` for asyncio programs.

>>> bot = await AsyncAssistant.load(system="Answer in one sentence.")    # doctest: +SKIP
>>> (await bot.chat("What is the capital of France?")).text               # doctest: +SKIP
>>> async for text in await bot.stream("And of Spain?"):                  # doctest: +SKIP
...     print(text, end="")

The event loop never runs the model. Each answer runs on the assistant's one model thread, in
the order asked (the model answers one request at a time, and a second thread would only take
cores from the first); its text reaches the loop through an ``asyncio.Queue``. A task cancelled
while it waits for an answer, and a stream closed or left before its end, stop that answer where
it is, as breaking out of :class:`~edgeqwen.ReplyStream` does; an answer still waiting its turn is
dropped without touching the model.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .errors import GenerationCancelled, InvalidRequestError, StructuredOutputError
from .message_dicts import MessageLike
from .reply import not_a_reply, value_of
from .runtime.formats import ResponseFormat
from .types import Message, Reply

if TYPE_CHECKING:
    from .assistant import Assistant
    from .reply import ReplyStream

__all__ = ["AsyncAssistant", "AsyncReplyStream"]

log = logging.getLogger("edgeqwen")

_State = Literal["waiting", "running", "ended"]
T = TypeVar("T")


def _resolve(done: concurrent.futures.Future[Any], failure: BaseException | None, result: Any = None) -> None:
    """Hand a job's outcome to the task awaiting it, unless that task was cancelled meanwhile."""
    if not done.set_running_or_notify_cancel():
        return
    if failure is None:
        done.set_result(result)
    else:
        done.set_exception(failure)


class _Job:
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
        self._job = _Job(owner)
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


class AsyncAssistant:
    """An :class:`~edgeqwen.Assistant` whose answers are awaited. Build one with ``await
    AsyncAssistant.load(...)`` (the model loads on a thread; the loop keeps serving) or wrap an
    Assistant already loaded: ``AsyncAssistant(Assistant(...))``. One model thread serves every
    answer in turn, from any number of tasks and event loops."""

    def __init__(self, assistant: Assistant) -> None:
        from .assistant import Assistant

        if not isinstance(assistant, Assistant):
            raise InvalidRequestError(
                f"AsyncAssistant wraps an Assistant, got {type(assistant).__name__}; "
                "use `await AsyncAssistant.load(model, ...)` to load one."
            )
        self.assistant = assistant
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._waiting = 0
        self._running = False
        self._closed = False
        self._streams: weakref.WeakSet[AsyncReplyStream] = weakref.WeakSet()  # answers not yet ended
        self._stopped: BaseException | None = None  # stop_all()'s reason, given to later requests

    @classmethod
    async def load(cls, model: str | None = None, system: str | None = None, **options: Any) -> AsyncAssistant:
        """Load ``model`` as ``Assistant(model, system, **options)`` does, on a thread."""
        from .assistant import Assistant

        def load() -> Assistant:  # a warning (the demo model's note) names this line, not the thread pool's
            return Assistant(model, system, **options)

        return cls(await asyncio.to_thread(load))

    # -- state -----------------------------------------------------------------------------------
    @property
    def history(self) -> tuple[Message, ...]:
        return self.assistant.history

    @property
    def busy(self) -> bool:
        """The model is answering."""
        return self._running

    @property
    def waiting(self) -> int:
        """Answers waiting for the model."""
        return self._waiting

    # -- the model thread ------------------------------------------------------------------------
    def _submit(self, job: Callable[[], None]) -> None:
        """Queue ``job`` for the model thread (a job counts as waiting until it begins)."""
        with self._lock:
            if self._stopped is not None:
                raise self._stopped
            if self._closed:
                raise InvalidRequestError("This AsyncAssistant is closed; load or wrap a new one.")
            self._waiting += 1
            if self._thread is None:  # one thread for the assistant's life; a daemon, so exit never waits on it
                self._thread = threading.Thread(target=self._work, name="edgeqwen-model", daemon=True)
                self._thread.start()
            self._jobs.put(job)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except BaseException:  # a job reports its own errors; this thread must outlive any
                log.exception("edgeqwen's model thread: a job failed")

    async def _open(self, start: Callable[[], ReplyStream], whole: bool = False) -> AsyncReplyStream:
        stream = AsyncReplyStream(self, asyncio.get_running_loop())
        self._submit(lambda: stream._run(start, whole))
        with self._lock:  # stop_all may read the set from another thread (BackgroundServer.stop)
            self._streams.add(stream)
        await stream._started()
        return stream

    # -- answers ---------------------------------------------------------------------------------
    async def stream(self, text: str | Sequence[MessageLike], **options: Any) -> AsyncReplyStream:
        """Start an answer to ``text``, as :meth:`edgeqwen.Assistant.stream` (same options); returns
        once the answer has begun, raising the prompt's errors (too long, refused format ...)."""
        return await self._open(lambda: self.assistant.stream(text, **options))

    async def answer(self, messages: Sequence[MessageLike], **options: Any) -> AsyncReplyStream:
        """Start an answer to a conversation the caller keeps, as :meth:`edgeqwen.Assistant.answer`."""
        return await self._open(lambda: self.assistant.answer(messages, **options))

    async def prompt_tokens(self, messages: Sequence[Message], **options: Any) -> int:
        """How many tokens the model would read to answer ``messages``, as
        :meth:`edgeqwen.Assistant.prompt_tokens`: the tokenizer's work, off the event loop and
        without waiting for the model."""
        return await asyncio.to_thread(self.assistant.prompt_tokens, messages, **options)

    async def prompt_ids(self, messages: Sequence[Message], **options: Any) -> list[int]:
        """The token ids :meth:`prompt_tokens` counts, as :meth:`edgeqwen.Assistant.prompt_ids`."""
        return await asyncio.to_thread(self.assistant.prompt_ids, messages, **options)

    async def resume(self, **options: Any) -> AsyncReplyStream:
        """Go on with the last answer from where it ended, as :meth:`edgeqwen.Assistant.resume`."""
        return await self._open(lambda: self.assistant.resume(**options))

    async def complete(self, prompt: str | Sequence[int], **options: Any) -> AsyncReplyStream:
        """Start continuing a raw prompt, as :meth:`edgeqwen.Assistant.complete`."""
        return await self._open(lambda: self.assistant.complete(prompt, **options))

    async def chat(self, text: str | Sequence[MessageLike], **options: Any) -> Reply:
        """Answer ``text`` and return the whole :class:`~edgeqwen.Reply`."""
        stream = await self._open(lambda: self.assistant.stream(text, **options), whole=True)
        return await stream.reply()

    async def json(self, text: str, schema: Any = None, **options: Any) -> Any:
        """Answer as JSON, as :meth:`edgeqwen.Assistant.json` does."""
        from .assistant import json_format

        return value_of(await self.chat(text, response_format=json_format(schema), **options))

    async def regex(self, text: str, pattern: str, **options: Any) -> str:
        """Answer with text that fully matches ``pattern``."""
        return value_of(await self.chat(text, response_format=ResponseFormat.regex(pattern), **options))

    async def choice(self, text: str, options: Sequence[str], **overrides: Any) -> str:
        """Answer with exactly one of ``options``."""
        return value_of(await self.chat(text, response_format=ResponseFormat.choice(options), **overrides))

    async def reset(self, system: str | None = None, history: Sequence[MessageLike] = ()) -> None:
        """Forget the conversation (and optionally set a new system prompt), or put ``history`` in
        its place (:meth:`Assistant.reset`), after the answers already asked for."""
        await self.in_turn(lambda assistant: assistant.reset(system, history))

    async def in_turn(self, job: Callable[[Assistant], T]) -> T:
        """``job(assistant)``'s result, run on the model thread after the answers already asked
        for: work that uses the model (or a model loaded beside it, such as a guard model) outside
        an answer. Cancelled while it waits, it is dropped; running, it finishes."""
        turn = _Job(self)
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            if not turn.begin():
                return
            result, failure = None, None
            try:
                result = job(self.assistant)
            except BaseException as exc:
                failure = exc
            turn.end()
            _resolve(done, failure, result)

        self._submit(run)
        try:
            return await asyncio.wrap_future(done)
        except asyncio.CancelledError:
            turn.cancel()  # still waiting: dropped (running, it is done in a moment)
            raise

    # -- closing ---------------------------------------------------------------------------------
    def stop_all(self, reason: BaseException) -> None:
        """Stop every answer, the one running and those waiting, each raising ``reason`` where it is
        awaited, and refuse later ones with it (a server told to shut down: an answer on a Pi can
        take minutes, which ``docker stop`` does not wait for). From any thread."""
        with self._lock:
            self._stopped = reason
            streams = list(self._streams)
        for stream in streams:  # outside the lock, which stopping a stream takes
            stream.stop(reason)

    async def aclose(self) -> None:
        """Let the answers asked for finish, then free the model. Later requests are refused."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def close() -> None:
            failure: BaseException | None = None
            try:
                self.assistant.close()
            except BaseException as exc:
                failure = exc
            _resolve(done, failure)

        with self._lock:
            if self._closed:
                return
            self._closed = True
            started = self._thread is not None
            if started:
                self._jobs.put(close)
                self._jobs.put(None)  # the model thread ends after closing
        if not started:
            close()
        await asyncio.wrap_future(done)

    async def __aenter__(self) -> AsyncAssistant:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
