"""From a backend's chunks to a finished :class:`~edgeqwen.types.Reply`: a chain of small stages.

1. **parse**: thinking and tool-call markup are split from the answer text (``OutputParser``);
2. **filter**: the safety policy's output filter redacts or stops the answer as it streams;
3. **build**: the reply (text, thinking, tool calls, finish reason, metrics, token ids to keep);
4. **check**: a structured answer is parsed and validated in full. One that breaks a keyword
   decoding could not enforce is answered again with a new seed (``retry``), up to
   :data:`MAX_ATTEMPTS` in all, then :class:`~edgeqwen.errors.StructuredOutputError` names the
   keyword and carries the text;
5. **history**: the caller's ``on_done`` (the Assistant adds the turn to its history).

Stages 1–2 run while the caller iterates; 3–5 once, when the answer ends (or is abandoned). An
answer that may be resampled is held back until it has passed the check: nobody sees an answer
that is then replaced. That is every answer read whole (``reply()``) and every streamed answer
whose format decoding does not enforce exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from .chat import OutputParser, ParsedOutput, PlainParser
from .errors import InvalidRequestError, RefusedError, StructuredOutputError
from .generation_config import GenerationConfig
from .runtime.formats import ResponseFormat
from .types import Chunk, FinishReason, Metrics, Reply, TokenLogprob

if TYPE_CHECKING:
    from .safety import ModeratedFilter, StreamFilter

__all__ = [
    "MAX_ATTEMPTS",
    "ReplyStream",
    "Retry",
    "build_reply",
    "check_format",
    "not_a_reply",
    "resample_config",
    "value_of",
]

_CHANGED = ("redact", "stop", "refuse")  # safety actions that change what the model wrote
MAX_ATTEMPTS = 3  # answers to one request whose structured value breaks a checked-after keyword
RESAMPLE_TEMPERATURE = 0.7  # a greedy request resamples at this temperature (greedy would repeat itself)

# (attempt number from 1, the events list the new answer's checks append to) -> its chunks
Retry = Callable[[int, list[Any]], Iterator[Chunk]]


def resample_config(config: GenerationConfig, attempt: int) -> GenerationConfig:
    """The settings of attempt ``attempt`` (1, 2, ...): another seed, reproducibly, and sampling
    where the request was greedy."""
    temperature = config.temperature if config.temperature > 0 else RESAMPLE_TEMPERATURE
    return config.with_(seed=(config.seed or 0) + attempt, temperature=temperature)


_REPLY_FIELDS = frozenset(f.name for f in fields(Reply))


def not_a_reply(stream: object, name: str, ask: str) -> AttributeError:
    """The AttributeError for ``name`` asked of a stream: a Reply's field says where the Reply is
    (``stream.answer(...).text`` is the first thing a caller of ``answer`` tries)."""
    kind = type(stream).__name__
    if name in _REPLY_FIELDS:
        return AttributeError(
            f"'{kind}' object has no attribute {name!r}: it is the answer being made; {ask} waits for it "
            f"and returns the Reply, whose .{name} this is (or iterate the stream for the text as it comes).",
            name=name,
            obj=stream,
        )
    return AttributeError(f"'{kind}' object has no attribute {name!r}", name=name, obj=stream)


class ReplyStream:
    """Iterate for answer text as it is generated; :meth:`reply` gives the finished :class:`Reply`.

    Thinking text and tool-call markup are never yielded. Breaking out of the loop (or Ctrl-C)
    cancels generation; the partial answer is kept in the history.
    """

    def __init__(
        self,
        chunks: Iterator[Chunk],
        on_done: Callable[[Reply], None],
        *,
        thinking: bool = False,
        trimmed: int = 0,
        prefix_ids: Sequence[int] | None = None,
        fmt: ResponseFormat | None = None,
        output_filter: StreamFilter | ModeratedFilter | None = None,
        events: list[Any] | None = None,
        retry: Retry | None = None,
        tools: Sequence[dict[str, Any]] = (),
        logprobs: bool = False,
        plain: bool = False,
        seed: str = "",
        prompt_tokens: int = 0,
    ) -> None:
        """``prefix_ids``: what the prompt put at the start of the answer, kept with its tokens
        (None: the backend streams text only, so the reply keeps no ids). ``events``: shared with
        the caller (an output self-check appends its verdict while the stream runs). ``retry``:
        a new answer to the same request, for a structured answer that failed its check. ``tools``:
        those the model may call on its own ("auto"), whose calls are held to their grammar, so an
        argument the string bound closed is said cut there too. ``logprobs``: the chunks carry their
        tokens' log probabilities, kept in the reply. ``plain``: a raw completion, whose text is kept
        as the model wrote it (no thinking or tool calls read out of it). ``seed``: the text of an
        assistant message the answer continues (what the prompt ends with; not part of the reply).
        ``prompt_tokens``: the prompt's length, known before the first token (0 for a refusal)."""
        self._chunks = chunks
        self.prompt_tokens = prompt_tokens
        self._retry = retry if fmt is not None else None
        self._attempt = 1
        self._first_events = list(events or ())
        # held back until checked: a format that decoding does not enforce exactly may be resampled
        self._held = self._retry is not None and not fmt.relaxed().exact
        self._on_done = on_done
        self._plain = plain
        self._seed = seed
        self._parser = self._new_parser(thinking)
        self._filter = output_filter
        self._fmt = fmt
        self._tools = tools
        self._trimmed = trimmed
        self._prefix_ids = None if prefix_ids is None else tuple(prefix_ids)
        self._events = events if events is not None else []
        self._tokens: list[int] = []
        self._logprobs: list[TokenLogprob] | None = [] if logprobs else None
        self._prompt_logprobs: tuple[TokenLogprob | None, ...] | None = None
        self._shown: list[str] = []
        self._finish: FinishReason = "cancelled"
        self._metrics: Metrics | None = None  # the last chunk's; None while the answer runs
        self._reply: Reply | None = None
        self._error: StructuredOutputError | None = None
        self._started = False
        self._thinking_filter: Any = None  # the output filters' own pass over the thinking as it streams
        self._thinking_done = False
        self._thought: list[str] = []  # the thinking as that pass let it out: the reply's thinking

    def __getattr__(self, name: str) -> Any:  # only for names the stream lacks
        raise not_a_reply(self, name, ".reply()")

    def __iter__(self) -> Iterator[str]:
        parts = self.pieces()
        try:
            for kind, text in parts:
                if kind == "text":
                    yield text
        finally:
            parts.close()  # a caller leaving early stops generation, as before

    def pieces(self) -> Iterator[tuple[str, str]]:
        """The answer as it comes, as ``("thinking", text)`` and ``("text", text)`` pieces: Qwen3's
        thinking (checked by the output filters as it streams) before the answer's text. Iterate
        this or the stream itself, once."""
        if self._started and self._reply is None:
            # .reply() in the middle of the caller's own loop over the stream: it said "use .reply()"
            raise InvalidRequestError(
                "This ReplyStream is still being read: finish that loop, or stop it (break out of it, or call "
                ".close() on its iterator), before calling .reply() or reading it again."
            )
        if self._started:
            raise InvalidRequestError("A ReplyStream can be iterated once; use .reply() for the result.")
        self._started = True
        if self._held:
            yield from self._checked()
            return
        failed = False
        try:
            yield from self._visible()
        except Exception:
            failed = True
            raise
        finally:
            # an error is not an answer: the turn is not remembered (the caller stopping early,
            # or Ctrl-C, keep the answer so far)
            tail = self._settle(remember=not failed)
        if tail:
            yield "text", tail

    def _checked(self) -> Iterator[tuple[str, str]]:
        """Answers until one passes its check (or attempts run out), then its text."""
        while True:
            failed = False
            try:
                shown = list(self._visible())
            except Exception:
                failed = True
                raise
            finally:
                tail = self._settle(remember=not failed)  # raises StructuredOutputError when no attempt is left
            if self._reply is not None:
                break
            self._restart()
        yield from (piece for piece in [*shown, ("text", tail)] if piece[1])

    def _restart(self) -> None:
        """A new answer to the same request, with fresh per-answer state."""
        assert self._retry is not None and self._fmt is not None
        self._attempt += 1
        self._parser = self._new_parser(self._parser.allow_thinking)
        if self._filter is not None:
            self._filter.reset()
        self._events = list(self._first_events)
        self._tokens, self._shown = [], []
        self._thinking_filter, self._thinking_done, self._thought = None, False, []
        self._logprobs = None if self._logprobs is None else []
        self._finish, self._metrics = "cancelled", None
        self._chunks = self._retry(self._attempt - 1, self._events)

    def _new_parser(self, thinking: bool) -> OutputParser | PlainParser:
        return PlainParser() if self._plain else OutputParser(allow_thinking=thinking, seed=self._seed)

    # -- stages 1-2, while streaming ---------------------------------------------------------------
    def _visible(self) -> Iterator[tuple[str, str]]:
        for chunk in self._chunks:
            if chunk.token is not None:
                self._tokens.append(chunk.token)
            if chunk.logprob is not None and self._logprobs is not None:
                self._logprobs.append(chunk.logprob)
            if chunk.finish_reason is not None:
                self._metrics, self._finish = chunk.metrics or Metrics(), chunk.finish_reason
                self._prompt_logprobs = chunk.prompt_logprobs
            text = self._filtered(self._parser.feed(chunk.text))
            thought = self._thinking_piece(ended=bool(text) or self._parser.answering)
            if thought:
                yield "thinking", thought
            if text:
                yield "text", text
            if self._filter is not None and self._filter.stopped:  # a stop rule fired: end the answer now
                self._finish = "filtered"
                return
        thought = self._thinking_piece(ended=True)  # cut while thinking: what the filter held back
        if thought:
            yield "thinking", thought

    def _thinking_piece(self, ended: bool) -> str:
        """The thinking written since the last piece, through the output filters' detectors (their
        hold-back too: a value is shown whole or redacted); ``ended``: let go of what they held."""
        if self._thinking_done:
            return ""
        delta = self._parser.thinking_delta()
        if self._filter is not None and self._thinking_filter is None and (delta or ended):
            from .safety.stream import StreamFilter

            self._thinking_filter = StreamFilter(self._filter.detectors)
        check = self._thinking_filter
        shown = check.feed(delta) if check is not None and delta else delta
        if ended:
            self._thinking_done = True
            shown += check.finish() if check is not None and not check.stopped else ""
        self._thought.append(shown)
        return shown

    def _filtered(self, text: str) -> str:
        if self._filter is None:
            return text
        shown = self._filter.feed(text)
        self._shown.append(shown)
        return shown

    # -- stages 3-5, once --------------------------------------------------------------------------
    def _settle(self, remember: bool = True) -> str:
        """End the answer: the text still held back, after building, remembering and checking the
        reply; without ``remember`` (generation failed) only stop it."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()  # stops generation if the caller stopped early
        if not remember:
            return ""
        tail, parsed = self._parser.finish(cut=self._finish == "length")
        tail, parsed = self._filtered_end(tail, parsed)
        if self._reply is None:
            reply = build_reply(
                parsed,
                self._finish,
                replace(self._metrics or self._so_far(), attempts=self._attempt),
                self._events,
                trimmed=self._trimmed,
                token_ids=None if self._prefix_ids is None else self._prefix_ids + tuple(self._tokens),
                logprobs=None if self._logprobs is None else tuple(self._logprobs),
                prompt_logprobs=self._prompt_logprobs,
            )
            error = None
            # a refused or stopped answer has no value to check: value_of says why instead
            checkable = reply.finish_reason not in ("cancelled", "refused", "filtered")
            if self._fmt is not None and checkable:
                try:
                    reply = check_format(self._fmt, reply, self._parser.raw_text)
                except StructuredOutputError as exc:
                    error = exc
            elif self._tools and reply.tool_calls and checkable:
                try:
                    calls = ResponseFormat.tool_call(self._tools)  # only for a reply that holds calls
                    calls.check_cut([call.arguments for call in reply.tool_calls], self._parser.raw_text)
                except StructuredOutputError as exc:
                    error = exc
            if error is not None and error.cut and reply.finish_reason in ("stop", "tool_calls"):
                reply = replace(reply, finish_reason="length")  # cut by a bound, as by max_tokens
            if error is not None and error.keyword and self._held and self._attempt < MAX_ATTEMPTS:
                return tail  # resampled by the caller (_checked); this answer is dropped
            self._reply = reply
            self._on_done(reply)
            if error is not None:
                self._error = error
                raise error
        return tail

    def _so_far(self) -> Metrics:
        """An answer stopped before its last chunk (a filter's stop, the caller leaving): the
        tokens read and written still count (they came back as usage 0 over HTTP)."""
        return Metrics(prompt_tokens=self.prompt_tokens, generated_tokens=len(self._tokens), finish_reason=self._finish)

    def _filtered_end(self, tail: str, parsed: ParsedOutput) -> tuple[str, ParsedOutput]:
        """The filter's last word on the answer (what it held back), and its check of the thinking."""
        if self._filter is None:
            return tail, parsed
        if self._filter.stopped:
            tail = ""
        else:
            tail = self._filter.feed(tail) + self._filter.finish()
            self._shown.append(tail)
        calls = self._filter.check_calls(parsed.tool_calls) if parsed.tool_calls else ()
        if parsed.tool_calls and not calls:
            self._finish = "filtered"  # a stop (the system prompt in a call's arguments): no call is made
        self._events.extend(self._filter.events)
        self._thinking_piece(ended=True)  # what the pass still held, where the caller stopped early
        check = self._thinking_filter  # made by now wherever the filter is
        self._events.extend(check.events)
        thinking = "" if check.stopped else "".join(self._thought)
        return tail, ParsedOutput("".join(self._shown), thinking, calls)

    # -- results -----------------------------------------------------------------------------------
    @property
    def error(self) -> StructuredOutputError | None:
        """Why the constrained answer did not parse, once the stream has ended (else None)."""
        return self._error

    def reply(self, strict: bool = True) -> Reply:
        """The finished reply (generating the rest first). Raises the StructuredOutputError again
        if the constrained answer did not parse, rather than returning a reply without a value;
        ``strict=False`` returns that reply as it is (``parsed`` None), e.g. to show a truncated answer."""
        if self._reply is None:
            if not self._started:
                self._held = self._retry is not None  # nothing is shown, so any answer may be resampled
            try:
                for _ in self:
                    pass
            except StructuredOutputError:
                if strict:
                    raise
        if self._error is not None and strict:
            raise self._error
        assert self._reply is not None  # set when the stream ended
        return self._reply


def build_reply(
    parsed: ParsedOutput,
    finish: FinishReason,
    metrics: Metrics,
    events: Sequence[Any],
    *,
    trimmed: int = 0,
    token_ids: tuple[int, ...] | None = None,
    logprobs: tuple[TokenLogprob, ...] | None = None,
    prompt_logprobs: tuple[TokenLogprob | None, ...] | None = None,
) -> Reply:
    """The reply for a parsed (and filtered) answer. Its token ids are kept only for an answer
    that ended normally and that the safety policy left as the model wrote it: they are what
    the next turn's prompt reuses from the KV cache. Its tokens' log probabilities only where the
    policy left it as written: they would show what it removed."""
    filtered = finish in ("refused", "filtered") or any(e.action in _CHANGED for e in events)
    keep = token_ids is not None and finish in ("stop", "length") and not filtered
    return Reply(
        text=parsed.content,
        thinking=parsed.thinking,
        tool_calls=parsed.tool_calls,
        finish_reason=finish,
        metrics=metrics,
        trimmed_turns=trimmed,
        token_ids=token_ids if keep and token_ids is not None else (),
        filtered=filtered,
        safety_events=tuple(events),
        logprobs=None if filtered else logprobs,
        prompt_logprobs=prompt_logprobs,
    )


def check_format(fmt: ResponseFormat, reply: Reply, raw_text: str) -> Reply:
    """The reply with the value of its structured answer, or StructuredOutputError (with the
    text) when the answer is incomplete or invalid: blamed on the safety policy when it changed
    the answer, not on max_tokens."""
    try:
        if fmt.kind == "tool_call":
            value: Any = fmt.check_tool_calls(reply.tool_calls, raw_text)
        else:
            value = fmt.parse(reply.text)
    except StructuredOutputError as exc:
        changed = [e for e in reply.safety_events if e.action in _CHANGED]
        if not reply.filtered or not changed:
            raise
        rules = ", ".join(sorted({f"{e.category} ({e.action})" for e in changed}))
        raise StructuredOutputError(
            f"The safety policy changed the answer ({rules}), so it is no longer what the response format asks "
            "for. The reply's safety_events say what was changed; to get such values in structured answers, "
            "use a policy without that rule (e.g. drop the type from pii/secrets, or policy='none').",
            exc.text,
        ) from exc
    return replace(reply, parsed=value)


def value_of(reply: Reply) -> Any:
    """The value a constrained reply stands for; a ``RefusedError`` where the safety policy refused
    the prompt or stopped the answer (never None in place of a value)."""
    if reply.finish_reason in ("refused", "filtered"):
        what = "refused the prompt" if reply.finish_reason == "refused" else "stopped the answer"
        why = ", ".join(sorted({e.category for e in reply.safety_events if e.action in ("refuse", "stop")}))
        raise RefusedError(
            f"The safety policy {what}{f' ({why})' if why else ''}, so there is no value: {reply.text[:200]!r}. "
            "If the request is harmless, pass a policy without the layer that acted (docs/safety.md).",
            reply.text,
            tuple(reply.safety_events),
        )
    return reply.parsed
