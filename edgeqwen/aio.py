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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .aio_stream import AsyncReplyStream, Job, resolve
from .errors import InvalidRequestError
from .message_dicts import MessageLike
from .reply import value_of
from .runtime.formats import ResponseFormat
from .types import Message, Reply

if TYPE_CHECKING:
    from .assistant import Assistant
    from .reply import ReplyStream

__all__ = ["AsyncAssistant", "AsyncReplyStream"]

log = logging.getLogger("edgeqwen")

T = TypeVar("T")


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
        turn = Job(self)
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
            resolve(done, failure, result)

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
            resolve(done, failure)

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
