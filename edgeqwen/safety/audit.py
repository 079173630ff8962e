"""The audit trail: every intervention is a :class:`SafetyEvent`, sent to a callback and
optionally appended to a JSON Lines file."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "AuditLog",
    "SafetyEvent",
]


@dataclass(frozen=True)
class SafetyEvent:
    """``stage``: input | output | self_check; ``action``: refuse, warn, redact, stop, flag, allow;
    ``span``: character offsets in the checked text (the answer as generated, for output);
    ``evidence``: the matched text (omitted from the log for redacted items)."""

    time: float
    stage: str
    category: str
    action: str
    span: tuple[int, int] | None = None
    evidence: str = ""
    latency_s: float = 0.0

    def as_dict(self, include_evidence: bool = True) -> dict[str, Any]:
        out = asdict(self)
        out["span"] = list(self.span) if self.span else None
        if not include_evidence:
            out["evidence"] = ""
        return out


class AuditLog:
    """Append events to ``path`` (JSON Lines), thread-safe. Redacted or stopped text is not
    written, so the log does not become a copy of the personal data it kept out of answers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def __call__(self, event: SafetyEvent) -> None:
        keep = event.action not in ("redact", "stop")
        line = json.dumps(event.as_dict(include_evidence=keep), ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
