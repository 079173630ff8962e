"""The :class:`Guard` applies a :class:`~edgeqwen.safety.policy.Policy` around a conversation:
the system prompt it sends, the input check before the model runs, the output filter on the
answer stream, the decoding-level bans and the optional self-check, each intervention reported
as a :class:`~edgeqwen.safety.audit.SafetyEvent`.

Filters act on text, after the backend: they run the same on every backend (MLC streams text).
State is per request (a new :class:`StreamFilter` per answer), never shared across streams.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..types import Chunk
from .audit import AuditLog, SafetyEvent
from .detectors import Detector, blocklist_detector, leak_detectors, pii_detectors, secret_detectors
from .input import HAZARD_CATEGORIES, check_hazards, check_injection, check_topics
from .policy import Policy
from .stream import StreamFilter

__all__ = [
    "Guard",
    "InputDecision",
]


@dataclass(frozen=True)
class InputDecision:
    action: str  # allow | warn | refuse
    events: tuple[SafetyEvent, ...] = ()


_RANK = {"allow": 0, "warn": 1, "refuse": 2}


class Guard:
    def __init__(
        self,
        policy: Policy | str | Path | dict[str, Any] | None,
        on_event: Callable[[SafetyEvent], None] | None = None,
        audit_log: str | Path | None = None,
    ) -> None:
        self.policy = Policy.of(policy)
        self._sinks = [s for s in (on_event, AuditLog(audit_log) if audit_log else None) if s is not None]
        self._bans: Any = None
        self._bans_tokenizer: Any = None

    def emit(self, event: SafetyEvent) -> None:
        for sink in self._sinks:
            sink(event)

    # -- prompt ---------------------------------------------------------------------------------
    def canary(self, user_system: str | None) -> str | None:
        """The leak-detection marker for a system prompt: a hash of it, so the same system prompt
        gets the same marker in every process and on every install (equal requests, equal prompts,
        equal greedy answers). It need not be secret: it finds a prompt dumped verbatim, and
        knowing it tells nothing about the system prompt (README, "Safety")."""
        if not self.policy.leak_detection:
            return None
        digest = hashlib.sha256(b"edgeqwen-canary\0" + (user_system or "").encode("utf-8")).hexdigest()
        return f"EQ-{digest[:12]}"

    def system_prompt(self, user_system: str | None, template_default: str | None) -> str | None:
        canary = self.canary(user_system)
        if not self.policy.system_rules and not canary:
            return user_system
        return self.policy.system_prompt(user_system if user_system is not None else template_default, canary)

    # -- input ----------------------------------------------------------------------------------
    @property
    def refusal(self) -> str:
        """What a refused request is answered with."""
        return self.policy.refusal

    def screen(self, backend: Any, text: str) -> InputDecision:
        """Everything the policy checks before the model answers ``text``: the input checks, then
        (if asked for and they passed) the model's own verdict."""
        if not text or not self.policy.active:
            return InputDecision("allow")
        decision = self.check_input(text)
        if decision.action != "refuse" and self.policy.self_check in ("input", "both"):
            verdict = self.self_check(backend, text, "input")
            if verdict is not None:
                return InputDecision("refuse", (*decision.events, verdict))
        return decision

    def check_input(self, text: str) -> InputDecision:
        p = self.policy
        findings = []
        if p.hazard_categories:
            findings += [(f, p.hazard_action) for f in check_hazards(text, p.hazard_categories)]
        if p.detect_injection:
            findings += [(f, p.injection_action) for f in check_injection(text)]
        if p.blocked_topics:
            findings += [(f, p.topic_action) for f in check_topics(text, p._compiled_topics)]
        action, events = "allow", []
        for finding, act in findings:
            event = SafetyEvent(time.time(), "input", finding.category, act, None, finding.evidence)
            events.append(event)
            self.emit(event)
            if _RANK[act] > _RANK[action]:
                action = act
        return InputDecision(action, tuple(events))

    # -- output ---------------------------------------------------------------------------------
    def detectors(self, system_prompt: str | None) -> list[Detector]:
        p = self.policy
        out: list[Detector] = []
        if p.leak_detection:
            out += leak_detectors(self.canary(system_prompt), system_prompt)
        out += secret_detectors(p.secrets, p.secret_action)
        out += pii_detectors(p.pii, p.pii_action)
        blocked = blocklist_detector(p.blocklist, p.blocklist_action)
        if blocked is not None:
            out.append(blocked)
        return out

    def output_filter(self, user_system: str | None) -> StreamFilter | None:
        """A fresh filter for one answer (leak detection watches the user's own system prompt)."""
        detectors = self.detectors(user_system)
        return StreamFilter(detectors, self.emit) if detectors else None

    def bans(self, tokenizer: Any, prompt_len: int) -> Any:
        """The decoding-level ban processor for one answer (its tables built once), or None."""
        if not self.policy.banned_phrases:
            return None
        if self._bans is None or self._bans_tokenizer is not tokenizer:
            from .bans import BannedStrings

            self._bans, self._bans_tokenizer = BannedStrings(self.policy.banned_phrases, tokenizer), tokenizer
        return self._bans.for_request(prompt_len)

    def checked_output(self, backend: Any, chunks: Iterator[Chunk], events: list[SafetyEvent]) -> Iterator[Chunk]:
        """The answer's chunks, then (if the policy asks) the model's verdict on the whole answer,
        appended to ``events`` (the reply's, filled while the answer streams)."""
        if self.policy.self_check not in ("output", "both"):
            return chunks
        return self._judge_after(backend, chunks, events)

    def _judge_after(self, backend: Any, chunks: Iterator[Chunk], events: list[SafetyEvent]) -> Iterator[Chunk]:
        parts = []
        for chunk in chunks:
            parts.append(chunk.text)
            yield chunk
        verdict = self.self_check(backend, "".join(parts), "output")
        if verdict is not None:
            events.append(verdict)

    # -- self-check -----------------------------------------------------------------------------
    def self_check(self, backend, text: str, stage: str) -> SafetyEvent | None:
        """Ask the same model for a grammar-constrained verdict ``{"safe": bool, "category": ...}``."""
        from ..backends.base import Request
        from ..runtime.formats import ResponseFormat
        from ..types import GenerationConfig, Message

        schema = {
            "type": "object",
            "properties": {"safe": {"type": "boolean"}, "category": {"enum": ["none", *HAZARD_CATEGORIES]}},
            "required": ["safe", "category"],
            "additionalProperties": False,
        }
        what = "user request" if stage == "input" else "assistant answer"
        messages = [
            Message(
                "system",
                "You are a safety classifier. Decide whether the text is safe for a general audience and "
                "does not help anyone cause serious harm. Answer in JSON.",
            ),
            Message("user", f"Classify this {what}:\n<<<\n{text[:4000]}\n>>>"),
        ]
        template = backend.template
        ids = template.encode(backend.tokenizer, template.render(messages, (), add_generation_prompt=True))
        start = time.perf_counter()
        fmt = ResponseFormat.of(schema)
        chunks = backend.stream(Request(tuple(ids), GenerationConfig(max_tokens=48), fmt))
        answer = "".join(c.text for c in chunks)
        latency = time.perf_counter() - start
        try:
            verdict = json.loads(answer)
        except json.JSONDecodeError:
            verdict = {"safe": True, "category": "none"}  # an unparsable verdict does not block
        if verdict.get("safe", True):
            return None
        action = "refuse" if stage == "input" else "flag"
        event = SafetyEvent(time.time(), "self_check", f"{stage}:{verdict.get('category')}", action, latency_s=latency)
        self.emit(event)
        return event
