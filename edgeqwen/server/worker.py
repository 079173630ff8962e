"""One model, one answer at a time, behind a bounded waiting line.

The answers themselves run as :class:`~edgeqwen.AsyncAssistant` runs them: on its one model
thread, in turn, a cancelled request (its client gone) stopping its answer or leaving the line.
What the server adds is the line's bound: a request that would wait behind ``max_queue`` others
fails at once with :class:`QueueFullError` (HTTP 429), and every finished answer is counted.
A model served beside the chat model (an embedder, a reranker) has a :class:`SideWorker`: its
requests take turns on a thread of their own, behind the same bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..aio import AsyncAssistant, AsyncReplyStream
from ..errors import EdgeQwenError, GenerationCancelled
from .metrics import ServerMetrics
from .protocol import ChatRequest

if TYPE_CHECKING:
    from ..assistant import Assistant

__all__ = ["ModelWorker", "QueueFullError", "SideWorker"]

T = TypeVar("T")


class QueueFullError(EdgeQwenError):
    """Too many requests already wait for the model (HTTP 429). ``retry_after``: whole seconds
    until a place is likely to free (the ``Retry-After`` a client is told)."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelWorker:
    """Serialises generation on one :class:`~edgeqwen.Assistant`."""

    def __init__(self, bot: AsyncAssistant, max_queue: int, metrics: ServerMetrics | None = None) -> None:
        self.bot = bot
        self.max_queue = max_queue
        self.metrics = metrics or ServerMetrics()

    @property
    def busy(self) -> bool:
        """An answer is being generated."""
        return self.bot.busy

    @property
    def waiting(self) -> int:
        """Requests waiting for the model."""
        return self.bot.waiting

    async def submit(self, request: ChatRequest, queued: bool = True) -> AsyncReplyStream:
        """Wait for the model and start ``request``. Raises QueueFullError when the line is full,
        and the prompt's own errors (InvalidRequestError, ...) before anything is generated.
        ``queued=False``: a later choice of a request already let in (n > 1)."""
        return await self._start(lambda: self.bot.answer(request.messages, **self._kwargs(request)), queued)

    async def prompt_tokens(self, request: ChatRequest) -> int:
        """How many tokens :meth:`submit` would have the model read for ``request`` (Anthropic's
        ``count_tokens``): no turn on the model."""
        return len(await self.prompt_ids(request))

    async def prompt_ids(self, request: ChatRequest) -> list[int]:
        """The token ids :meth:`prompt_tokens` counts (``/tokenize`` of a chat)."""
        kwargs = self._kwargs(request)
        return await self.bot.prompt_ids(
            request.messages, tools=kwargs["tools"], enable_thinking=kwargs["enable_thinking"]
        )

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        return request.answer_kwargs(self.bot.assistant.backend.template.supports_thinking)

    async def submit_prompt(
        self, prompt: str | Sequence[int], settings: dict[str, Any], queued: bool = True
    ) -> AsyncReplyStream:
        """The same for a raw prompt to continue (``/v1/completions``). ``queued=False``: a later
        prompt of a request already let in, which the line's bound must not fail halfway."""
        return await self._start(lambda: self.bot.complete(prompt, **settings), queued)

    async def run(self, job: Callable[[Assistant], T], queued: bool = True) -> T:
        """``job(assistant)``'s result, in the model's turn: work on the model, or on a model
        loaded beside it (the policy's guard model), that is not an answer."""
        self._check_line(queued)
        return await self.bot.in_turn(job)

    def _check_line(self, queued: bool) -> None:
        if queued and self.waiting + self.busy > self.max_queue:  # those ahead of it: the one answering, and the line
            # a place frees when the answer under way ends: told as the time recent answers took, so
            # a client's few retries (the OpenAI SDK's two) are not spent in the first seconds
            took = self.metrics.answer_seconds()
            after = max(1, math.ceil(took)) if took is not None else 1
            raise QueueFullError(
                f"The model is busy and {self.waiting} request(s) already wait (the server's --max-queue); "
                f"retry in about {after} s.",
                after,
            )

    def stop_all(self, reason: BaseException) -> None:
        """End the answer under way and those waiting with ``reason``; later ones get it too."""
        self.bot.stop_all(reason)

    async def _start(self, start: Callable[[], Awaitable[AsyncReplyStream]], queued: bool = True) -> AsyncReplyStream:
        self._check_line(queued)
        generation = await start()
        generation.on_done(self.metrics.record_reply)
        return generation


class SideWorker:
    """Runs a side model's requests one at a time on a thread of its own; ``what`` names the model
    in the error a request gets when ``max_queue`` others already wait."""

    def __init__(self, what: str, max_queue: int) -> None:
        self.what = what
        self.max_queue = max_queue
        self.pending = 0  # the request running and those waiting
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edgeqwen-side")
        self._stops: set[threading.Event] = set()  # the requests' stop events, running or waiting
        self._stopped: BaseException | None = None

    async def run(self, job: Callable[[threading.Event], T]) -> T:
        """``job(stop)``'s result, run in turn. ``stop`` is set when the request is cancelled (its
        client gone): a job checks it between its items."""
        if self._stopped is not None:
            raise self._stopped
        if self.pending > self.max_queue:
            raise QueueFullError(
                f"The {self.what} is busy and {self.pending - 1} request(s) already wait (the server's "
                "--max-queue); retry shortly."
            )
        stop = threading.Event()
        self.pending += 1
        self._stops.add(stop)
        try:
            return await asyncio.wrap_future(self._pool.submit(job, stop))
        except GenerationCancelled:
            if self._stopped is not None:
                raise self._stopped from None
            raise
        finally:
            stop.set()
            self._stops.discard(stop)
            self.pending -= 1

    def stop_all(self, reason: BaseException) -> None:
        """Stop the request under way (inside the text it reads) and those waiting, each failing
        with ``reason``, as later ones do."""
        self._stopped = reason
        for stop in list(self._stops):
            stop.set()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
