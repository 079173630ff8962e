"""Output filtering while tokens stream: nothing banned is ever emitted, even split across tokens.

:class:`StreamFilter` keeps a hold-back buffer. Text is released only up to the earliest place
where a detector has a *partial* match running into the end of the buffer (the ``regex``
module's ``partial=True``), or a complete match that could still grow; everything before that is
final. So plain text flows at once, a possible e-mail address waits for its end, and the streamed
output, redactions included, is exactly what filtering the whole text at once gives
(:func:`filter_text`), which the fuzz tests check.

Hits: the earliest start wins, then the longest, then the detector listed first. ``redact``
replaces the span with ``[KIND REDACTED]``, ``flag`` lets it through and records it, ``stop``
ends the answer before the span.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import regex

from ..types import ToolCall
from .audit import SafetyEvent
from .detectors import LEAK_KINDS, Detector, fold

__all__ = [
    "FilterResult",
    "StreamFilter",
    "filter_text",
]


def _ends_on_a_boundary(det: Detector, text: str, m: regex.Match[str]) -> bool:
    """Whether a look-ahead of a complete match read the stream's end as a word boundary: a letter
    more would change the hit ("0233651564 cell" is a phone and its label, "0233651564 cellPhone:"
    is not), so it is not final yet. ``regex`` reports no partial match for that."""
    probe = det.pattern.match(text + "a", m.start())
    return probe is None or probe.span() != m.span()


@dataclass(frozen=True)
class FilterResult:
    text: str
    events: tuple[SafetyEvent, ...]
    stopped: bool


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    detector: Detector
    order: int


class StreamFilter:
    """``feed(text) -> safe text``; ``finish() -> the rest``. ``stopped`` turns true on a ``stop``
    hit, after which everything is dropped. ``on_event`` gets each :class:`SafetyEvent`.

    ``written``: text already before the answer (an assistant message it continues), read as the
    answer's start but never released again: a value the answer completes ("My card is 4111 1111"
    then " 1111 1111") is found whole and what the answer adds of it redacted, where the answer
    alone holds no value a detector knows. A value entirely in it is not the answer's."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        on_event: Callable[[SafetyEvent], None] | None = None,
        written: str = "",
    ) -> None:
        self.detectors = tuple(detectors)
        # (order, detector), those that count only after a hit of their kind last: they read the
        # hits the others found before them in the same scan
        self._ordered = sorted(enumerate(self.detectors), key=lambda od: od[1].follows is not None)
        self.on_event = on_event
        self.written = written
        self.reset()

    def reset(self) -> None:
        self._buf = self.written  # text not yet released
        self._offset = -len(self.written)  # position of _buf[0] in the answer (the written text is before 0)
        self._context = ""  # released original text kept for look-behind guards
        self._ends: dict[str, int] = {}  # where the last released hit of each kind ended, in the answer
        self.stopped = False
        self.events: list[SafetyEvent] = []

    def _scan(self, final: bool) -> tuple[int, list[_Hit]]:
        """(hold, hits): release nothing from ``hold`` on; ``hits`` start before it."""
        text = fold(self._context + self._buf)  # same length: spans are the text's as written
        base = len(self._context)
        end = len(text)
        hold = end
        hits: list[_Hit] = []
        for order, det in self._ordered:
            for m in det.pattern.finditer(text, base, overlapped=True, partial=not final):
                # a match out of its detector's context never counts, however it grows (the look-
                # behind reads only text before it): nothing to hold back for
                if not det.in_context(text, m.start()) or not self._follows(det, text, m.start(), hits):
                    continue
                # May it still grow? Partial, or the rest of the buffer could still become part of a
                # match that starts here (``regex`` prefers a shorter complete match to a partial one).
                if not final and (
                    m.partial
                    or det.pattern.fullmatch(text, m.start(), partial=True) is not None
                    or _ends_on_a_boundary(det, text, m)
                ):
                    hold = min(hold, m.start())
                    break
                length = det.valid_length(m.group()) if m.end() > m.start() else 0
                if length:
                    hits.append(_Hit(m.start() - base, m.start() + length - base, det, order))
        hold -= base
        return hold, sorted(hits, key=lambda h: (h.start, -(h.end - h.start), h.order))

    def _follows(self, det: Detector, text: str, start: int, hits: list[_Hit]) -> bool:
        """Whether a ``follows`` detector's match at ``start`` of ``text`` comes right after a hit
        of its kind: one found in this scan, or the last one released."""
        if det.follows is None:
            return True
        base = len(self._context)
        ends = [h.end + base for h in hits if h.detector.kind == det.kind and h.end + base <= start]
        if det.kind in self._ends:
            ends.append(self._ends[det.kind] - self._offset + base)
        end = max((e for e in ends if 0 <= e <= start), default=None)
        return end is not None and det.follows.fullmatch(text, end, start) is not None

    def _answers(self, start: int, end: int) -> str:
        """``_buf[start:end]``, less what of it was written before the answer."""
        return self._buf[max(start, -self._offset) : end]

    def _release(self, final: bool) -> str:
        if self.stopped or not self._buf:
            return ""
        hold, hits = self._scan(final)
        out, pos = [], 0
        for hit in hits:
            if hit.start < pos or hit.start >= hold or self._offset + hit.end <= 0:
                continue  # overlapped, held, or in the written text alone
            out.append(self._answers(pos, hit.start))
            span = (max(0, self._offset + hit.start), self._offset + hit.end)
            det = hit.detector
            self._ends[det.kind] = self._offset + hit.end
            event = SafetyEvent(time.time(), "output", det.kind, det.action, span, self._buf[hit.start : hit.end])
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)
            if det.action == "stop":
                self.stopped = True
                self._buf = ""
                return "".join(out)
            out.append(det.label if det.action == "redact" else self._answers(hit.start, hit.end))
            pos = hit.end
            hold = max(hold, pos)
        cut = max(pos, hold)
        out.append(self._answers(pos, cut))
        released = self._buf[:cut]
        self._context = (self._context + released)[-64:]
        self._offset += cut
        self._buf = self._buf[cut:]
        return "".join(out)

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        self._buf += text
        return self._release(final=False)

    def finish(self) -> str:
        out = self._release(final=True)
        self._buf = ""
        return out

    def check_calls(self, calls: tuple[ToolCall, ...]) -> tuple[ToolCall, ...]:
        """The answer's tool calls, each string of their arguments read by the detectors of
        ``LEAK_KINDS``, as the answer's text is: a key redacted where it stands, the system prompt
        (a ``stop``) withholds every call and stops the answer. Events as the text's, at stage
        ``tool_call``."""
        if self.stopped:
            return ()
        detectors = [d for d in self.detectors if d.kind in LEAK_KINDS]
        if not detectors:
            return calls

        def read(value: object) -> object:
            if isinstance(value, str):
                checked = filter_text(value, detectors)
                for event in checked.events:
                    event = replace(event, stage="tool_call")
                    self.events.append(event)
                    if self.on_event is not None:
                        self.on_event(event)
                self.stopped = self.stopped or checked.stopped
                return checked.text
            if isinstance(value, dict):
                return {k: read(v) for k, v in value.items()}
            if isinstance(value, list):
                return [read(v) for v in value]
            return value

        made = tuple(ToolCall(call.name, read(call.arguments)) for call in calls)  # type: ignore[arg-type]
        return () if self.stopped else made


def filter_text(text: str, detectors: Sequence[Detector], written: str = "") -> FilterResult:
    """Filter a whole text at once (the reference the streaming filter must equal); ``written``:
    as :class:`StreamFilter`'s."""
    f = StreamFilter(detectors, written=written)
    f._buf += text
    out = f.finish()
    return FilterResult(out, tuple(f.events), f.stopped)
