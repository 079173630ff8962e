"""Output moderation while the answer streams: the learned screen's ``harmful`` head on a window
of the answer, so a harmful answer stops mid-stream (finish reason ``filtered``) before the
sentence that tipped it is shown.

:class:`ModeratedFilter` sits after the pattern filter (:class:`~edgeqwen.safety.stream.StreamFilter`)
and has its interface. It holds released text back to the next sentence end (or ``max_hold``
characters), scores the last ``window`` characters of the answer with that piece in it, and
releases the piece only if the score stays under the threshold. The cost is one screen call
(well under a millisecond) per sentence; the price is that text appears a sentence at a time.
The screen was trained on prompts, not answers: docs/safety.md says what that means for recall.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from ..types import ToolCall
from .audit import SafetyEvent
from .detectors import Detector
from .screen import Screen
from .stream import StreamFilter

__all__ = [
    "ModeratedFilter",
]

_BOUNDARY = re.compile(r"[.!?:;](?=\s)|\n")


class ModeratedFilter:
    def __init__(
        self,
        inner: StreamFilter | None,
        screen: Screen,
        threshold: float | None = None,
        on_event: Callable[[SafetyEvent], None] | None = None,
        window: int = 800,
        max_hold: int = 200,
    ) -> None:
        self.inner = inner
        self.screen = screen
        self.threshold = screen.thresholds["harmful"] if threshold is None else threshold
        self.on_event = on_event
        self.window = window
        self.max_hold = max_hold
        self.reset()

    @property
    def detectors(self) -> Sequence[Detector]:
        return self.inner.detectors if self.inner is not None else ()

    @property
    def stopped(self) -> bool:
        return self._stopped or (self.inner is not None and self.inner.stopped)

    @property
    def events(self) -> list[SafetyEvent]:
        return (self.inner.events if self.inner is not None else []) + self._events

    def check_calls(self, calls: tuple[ToolCall, ...]) -> tuple[ToolCall, ...]:
        """:meth:`StreamFilter.check_calls` (the screen judges the answer's text, not a call)."""
        if self.stopped:
            return ()
        return self.inner.check_calls(calls) if self.inner is not None else calls

    def reset(self) -> None:
        if self.inner is not None:
            self.inner.reset()
        self._held = ""  # passed the pattern filter, not yet scored
        self._seen = ""  # the answer's last ``window`` released characters
        self._released = 0
        self._stopped = False
        self._events: list[SafetyEvent] = []

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        return self._moderate(self.inner.feed(text) if self.inner is not None else text, final=False)

    def finish(self) -> str:
        if self.stopped:
            return ""
        return self._moderate(self.inner.finish() if self.inner is not None else "", final=True)

    def _moderate(self, text: str, final: bool) -> str:
        self._held += text
        if not self._held:
            return ""
        if final or len(self._held) >= self.max_hold:
            cut = len(self._held)
        else:
            ends = [m.end() for m in _BOUNDARY.finditer(self._held)]
            if not ends:
                return ""
            cut = ends[-1]
        piece = self._held[:cut]
        window = (self._seen + piece)[-self.window :]
        score = self.screen.scores(window).harmful
        if score >= self.threshold:
            self._stopped = True
            span = (self._released, self._released + len(piece))
            event = SafetyEvent(time.time(), "output", "harmful", "stop", span, f"harmful score {score:.2f}")
            self._events.append(event)
            if self.on_event is not None:
                self.on_event(event)
            self._held = ""
            return ""
        self._seen = window
        self._released += len(piece)
        self._held = self._held[cut:]
        return piece
