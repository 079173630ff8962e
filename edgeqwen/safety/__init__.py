"""Safety: system-prompt policies, a learned input screen, rule checks, streaming output
filters and moderation, decoding-level bans, an optional self-check or guard model, and an
audit trail. See :class:`Policy` and :class:`Guard`."""

from __future__ import annotations

from ..runtime.bans import BannedStrings
from .audit import AuditLog, SafetyEvent
from .detectors import PII_TYPES, SECRET_TYPES, Detector
from .guard import Guard, InputDecision
from .guardmodel import GuardModel, GuardVerdict
from .hazards import HAZARD_CATEGORIES, check_hazards
from .input import check_injection
from .moderation import ModeratedFilter
from .policy import PRESETS, Policy
from .screen import Screen, ScreenScores
from .selfharm import check_self_harm
from .stream import FilterResult, StreamFilter, filter_text

__all__ = [
    "AuditLog",
    "BannedStrings",
    "Detector",
    "FilterResult",
    "Guard",
    "GuardModel",
    "GuardVerdict",
    "HAZARD_CATEGORIES",
    "InputDecision",
    "ModeratedFilter",
    "PII_TYPES",
    "PRESETS",
    "Policy",
    "SECRET_TYPES",
    "SafetyEvent",
    "Screen",
    "ScreenScores",
    "StreamFilter",
    "check_hazards",
    "check_injection",
    "check_self_harm",
    "filter_text",
]
