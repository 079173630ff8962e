"""The audit trail: every intervention is a :class:`SafetyEvent`, sent to a callback and
optionally appended to a JSON Lines file."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import AuditLogError, InvalidRequestError
from ..paths import expand

__all__ = [
    "AuditLog",
    "SafetyEvent",
]


@dataclass(frozen=True)
class SafetyEvent:
    """``stage``: input | tool (a tool's result) | output | tool_call (a string in a call's
    arguments) | self_check | guard; ``action``: refuse, warn, redact, stop, flag, allow; ``span``:
    character offsets in the checked text (the answer as generated, for output); ``evidence``:
    the matched text (omitted from the log for redacted items)."""

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
        if not isinstance(path, (str, Path)):
            raise InvalidRequestError(f"audit_log must be a file path, got {type(path).__name__}.", "audit_log")
        self.path = expand(path)
        try:  # opened once now, so a path that cannot be written fails before any model loads
            if self.path.is_dir():
                raise InvalidRequestError(f"audit_log {str(path)!r} is a folder; give a file path in it.", "audit_log")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.open("a", encoding="utf-8").close()
        except OSError as exc:
            raise InvalidRequestError(
                f"audit_log {str(path)!r} cannot be written ({exc.strerror or exc}); give a writable file path.",
                "audit_log",
            ) from exc
        self._lock = threading.Lock()

    def __call__(self, event: SafetyEvent) -> None:
        keep = event.action not in ("redact", "stop")
        line = json.dumps(event.as_dict(include_evidence=keep), ensure_ascii=False)
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:  # an audit trail that silently stops recording is worse than no answer
            raise AuditLogError(
                f"The audit log {str(self.path)!r} cannot be written ({exc.strerror or exc}); free space or "
                f"point audit_log elsewhere. The event not written: {line}",
                line,
            ) from exc
