"""Read the machine, then plan which model, build, context and backend fit, before any download."""

from __future__ import annotations

from .planner import Plan, Recommendation, plan
from .snapshot import GPU, SystemSnapshot, read_system

__all__ = ["GPU", "Plan", "Recommendation", "SystemSnapshot", "plan", "read_system"]
