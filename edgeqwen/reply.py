"""From a backend's chunks to a finished :class:`~edgeqwen.types.Reply`: a chain of small stages.

1. **parse**: thinking and tool-call markup are split from the answer text (``OutputParser``);
2. **filter**: the safety policy's output filter redacts or stops the answer as it streams;
3. **build**: the reply (text, thinking, tool calls, finish reason, metrics, token ids to keep);
4. **history**: the caller's ``on_done`` (the Assistant adds the turn to its history);
5. **check**: a structured answer is parsed and validated; an invalid one raises
   :class:`~edgeqwen.errors.StructuredOutputError` carrying the text.

Stages 1–2 run while the caller iterates; 3–5 once, when the answer ends (or is abandoned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .chat import OutputParser, ParsedOutput
from .errors import InvalidRequestError, StructuredOutputError
from .runtime.formats import ResponseFormat
from .types import Chunk, FinishReason, Metrics, Reply

if TYPE_CHECKING:
    from .safety import StreamFilter

__all__ = ["ReplyStream", "build_reply", "check_format"]

_CHANGED = ("redact", "stop", "refuse")  # safety actions that change what the model wrote


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
        output_filter: StreamFilter | None = None,
        events: list[Any] | None = None,
    ) -> None:
        """``prefix_ids``: what the prompt put at the start of the answer, kept with its tokens
        (None: the backend streams text only, so the reply keeps no ids). ``events``: shared with
        the caller (an output self-check appends its verdict while the stream runs)."""
        self._chunks = chunks
        self._on_done = on_done
        self._parser = OutputParser(allow_thinking=thinking)
        self._filter = output_filter
        self._fmt = fmt
        self._trimmed = trimmed
        self._prefix_ids = None if prefix_ids is None else tuple(prefix_ids)
        self._events = events if events is not None else []
        self._tokens: list[int] = []
        self._shown: list[str] = []
        self._finish: FinishReason = "cancelled"
        self._metrics = Metrics()
        self._reply: Reply | None = None
        self._error: StructuredOutputError | None = None
        self._started = False

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise InvalidRequestError("A ReplyStream can be iterated once; use .reply() for the result.")
        self._started = True
        try:
            yield from self._visible()
        finally:
            tail = self._settle()
        if tail:
            yield tail

    # -- stages 1-2, while streaming ---------------------------------------------------------------
    def _visible(self) -> Iterator[str]:
        for chunk in self._chunks:
            if chunk.token is not None:
                self._tokens.append(chunk.token)
            if chunk.finish_reason is not None:
                self._metrics, self._finish = chunk.metrics or Metrics(), chunk.finish_reason
            text = self._filtered(self._parser.feed(chunk.text))
            if text:
                yield text
            if self._filter is not None and self._filter.stopped:  # a stop rule fired: end the answer now
                self._finish = "filtered"
                return

    def _filtered(self, text: str) -> str:
        if self._filter is None:
            return text
        shown = self._filter.feed(text)
        self._shown.append(shown)
        return shown

    # -- stages 3-5, once --------------------------------------------------------------------------
    def _settle(self) -> str:
        """End the answer: the text still held back, after building, remembering and checking the reply."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()  # stops generation if the caller stopped early
        tail, parsed = self._parser.finish()
        tail, parsed = self._filtered_end(tail, parsed)
        if self._reply is None:
            reply = build_reply(
                parsed,
                self._finish,
                self._metrics,
                self._events,
                trimmed=self._trimmed,
                token_ids=None if self._prefix_ids is None else self._prefix_ids + tuple(self._tokens),
            )
            self._reply = reply
            self._on_done(reply)
            if self._fmt is not None and reply.finish_reason not in ("cancelled", "refused"):
                try:
                    self._reply = check_format(self._fmt, reply, self._parser.raw_text)
                except StructuredOutputError as exc:
                    self._error = exc
                    raise
        return tail

    def _filtered_end(self, tail: str, parsed: ParsedOutput) -> tuple[str, ParsedOutput]:
        """The filter's last word on the answer (what it held back), and its check of the thinking."""
        if self._filter is None:
            return tail, parsed
        if self._filter.stopped:
            tail = ""
        else:
            tail = self._filter.feed(tail) + self._filter.finish()
            self._shown.append(tail)
        self._events.extend(self._filter.events)
        thinking = parsed.thinking
        if thinking:
            from .safety import filter_text

            checked = filter_text(thinking, self._filter.detectors)
            thinking = checked.text if not checked.stopped else ""
            self._events.extend(checked.events)
        return tail, ParsedOutput("".join(self._shown), thinking, parsed.tool_calls)

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
) -> Reply:
    """The reply for a parsed (and filtered) answer. Its token ids are kept only for an answer
    that ended normally and that the safety policy left as the model wrote it: they are what
    the next turn's prompt reuses from the KV cache."""
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
