"""Safety: system-prompt policies, input checks, streaming output filters, decoding-level bans,
an optional self-check, and an audit trail. See :class:`Policy` and :class:`Guard`."""

from __future__ import annotations

from .audit import AuditLog, SafetyEvent
from .bans import BannedStrings
from .detectors import PII_TYPES, SECRET_TYPES, Detector
from .guard import Guard, InputDecision
from .input import HAZARD_CATEGORIES, check_hazards, check_injection
from .policy import PRESETS, Policy
from .stream import FilterResult, StreamFilter, filter_text

__all__ = [
    "AuditLog",
    "BannedStrings",
    "Detector",
    "FilterResult",
    "Guard",
    "HAZARD_CATEGORIES",
    "InputDecision",
    "PII_TYPES",
    "PRESETS",
    "Policy",
    "SECRET_TYPES",
    "SafetyEvent",
    "StreamFilter",
    "check_hazards",
    "check_injection",
    "filter_text",
]
