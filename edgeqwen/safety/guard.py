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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import InvalidRequestError
from ..generation_config import GenerationConfig
from ..types import Chunk, Message, check_text
from .audit import AuditLog, SafetyEvent
from .detectors import (
    Detector,
    blocklist_detector,
    hidden_text_detector,
    leak_detectors,
    pii_detectors,
    secret_detectors,
)
from .encodings import without_code
from .guardmodel import GuardModel
from .hazards import HAZARD_CATEGORIES, check_hazards, hazard_category
from .input import InputFinding, check_injection, check_topics, decoded_texts, speaks_of_abuse
from .judged import read_for_harm, too_short_to_judge
from .language import is_english
from .moderation import ModeratedFilter
from .policy import Policy
from .selfharm import check_self_harm, speaks_of_self_harm
from .stream import StreamFilter
from .tooldata import check_tool_result

__all__ = [
    "Guard",
    "InputDecision",
]


@dataclass(frozen=True)
class InputDecision:
    action: str  # allow | warn | refuse
    events: tuple[SafetyEvent, ...] = ()
    category: str | None = None  # what decided a refusal (picks the refusal text)
    screen_logit: float | None = None  # the learned screen's harmful logit (the probe stacks on it)


_RANK = {"allow": 0, "warn": 1, "refuse": 2}


def _refused_as(text: str, named: str | None = None) -> str:
    """The category a learned refusal (the screen's, the probe's) names, which picks its text:
    someone speaking of hurting themselves gets support, someone speaking of abuse where to get
    help, before any hazard the text ``named``."""
    if speaks_of_self_harm(text):
        return "self_harm"
    return "abuse" if speaks_of_abuse(text) else named or "harmful"


class Guard:
    def __init__(
        self,
        policy: Policy | str | Path | dict[str, Any] | None,
        on_event: Callable[[SafetyEvent], None] | None = None,
        audit_log: str | Path | None = None,
    ) -> None:
        self.policy = Policy.of(policy)
        if on_event is not None and not callable(on_event):  # else a TypeError at the first event
            raise InvalidRequestError(
                f"on_safety_event must be a function that takes a SafetyEvent, got {type(on_event).__name__}.",
                "on_safety_event",
            )
        self._sinks = [s for s in (on_event, AuditLog(audit_log) if audit_log else None) if s is not None]
        self._bans: Any = None
        self._bans_tokenizer: Any = None
        self.model: GuardModel | None = None  # the policy's guard model, once attached
        self._probe: Any = None
        self._probe_backend: Any = None
        self._opening: tuple[Any, int] | None = None  # (backend, length of the self-check prompts' shared opening)
        self._last_screen: tuple[tuple[Any, ...], InputDecision] | None = None  # (what was asked, its decision)

    def attach(self, backend: Any) -> None:
        """Run the policy's guard model on ``backend`` (the Assistant loads it by name)."""
        self.model = GuardModel(backend)
        self._last_screen = None  # decided without it

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
        """What a refused request is answered with (see :meth:`refusal_for` for a decision's)."""
        return self.policy.refusal

    def refusal_for(self, decision: InputDecision) -> str:
        return self.policy.refusal_for(decision.category)

    def screen(
        self, backend: Any, text: str, earlier: Sequence[str] = (), results: Sequence[str] = ()
    ) -> InputDecision:
        """Everything the policy checks before the model answers ``text``: the input checks, then
        (if asked for and they passed) the guard model's and the model's own verdicts. ``earlier``:
        the conversation's earlier user turns (see :meth:`check_input`); ``results``: the new tool
        results (see :meth:`check_tool_results`).

        The same request again (the next of ``n`` choices, a regenerated answer, a client's retry)
        gets the last decision without its checks run again: they are deterministic, and a guard
        model or the model's own verdict costs seconds. Its events are sent again, dated now, so
        the audit trail still has them for each answer."""
        if not self.policy.active or not (text or results):
            return InputDecision("allow")
        key = (backend, text, tuple(earlier), tuple(results))
        last = self._last_screen
        if last is not None and last[0] == key:
            now = time.time()
            events = tuple(replace(e, time=now, latency_s=0.0) for e in last[1].events)
            for event in events:
                self.emit(event)
            return replace(last[1], events=events)
        decision = self._screen(backend, text, earlier, results)
        self._last_screen = (key, decision)
        return decision

    def _screen(self, backend: Any, text: str, earlier: Sequence[str], results: Sequence[str]) -> InputDecision:
        decision = self.check_input(text, earlier) if text else InputDecision("allow")
        if results and decision.action != "refuse":
            data = self.check_tool_results(results)
            if data.events:
                action = max(decision.action, data.action, key=_RANK.__getitem__)
                category = data.category if action == "refuse" else None
                decision = InputDecision(action, (*decision.events, *data.events), category, decision.screen_logit)
        if not text:
            return decision
        if decision.action != "refuse" and self.policy.guard_stage in ("input", "both") and self.guard_reads(text):
            event = self.guard_event(text, None)
            if event is not None:
                category = event.category.split(":", 1)[1]
                decision = InputDecision(event.action, (*decision.events, event), category)
        if decision.action != "refuse" and self.policy.self_check in ("input", "both"):
            verdict = self.self_check(backend, text, "input")
            if verdict is not None:
                return InputDecision("refuse", (*decision.events, verdict), verdict.category)
        return decision

    def guard_reads(self, prompt: str) -> bool:
        """Whether the guard model judges the exchange of ``prompt``: there is one, and the policy has
        it read every prompt or this one is not in English (``guard_languages="other"``)."""
        if self.model is None:
            return False
        return self.policy.guard_languages == "all" or not is_english(prompt)

    def guard_event(self, prompt: str, answer: str | None) -> SafetyEvent | None:
        """The guard model's verdict on a prompt (or on the answer to it) as an event, or None
        when it says Safe. Unsafe refuses a prompt; an answer already shown is flagged."""
        assert self.model is not None
        verdict = self.model.moderate(prompt, answer)
        if verdict.safety == "Safe":
            return None
        if verdict.safety == "Unsafe":
            action = "refuse" if answer is None else "flag"
        else:
            action = self.policy.guard_controversial if answer is None else "flag"
            if action == "allow":
                return None
        stage = "input" if answer is None else "output"
        category = verdict.category or "guard"
        evidence = f"{verdict.safety}: {', '.join(verdict.categories) or 'no category'}"
        event = SafetyEvent(time.time(), "guard", f"{stage}:{category}", action, None, evidence, verdict.latency_s)
        self.emit(event)
        return event

    def _screen_findings(self, text: str) -> tuple[list[tuple[InputFinding, str]], float | None]:
        """The learned screen's flags on the text and its decoded payloads, and its harmful logit."""
        from .screen import Screen

        p, screen = self.policy, Screen.load()
        flagged: dict[str, float] = {}
        written = without_code(text)  # its Morse or NATO is read from its reading, not its symbols
        texts = (written, *decoded_texts(text)[1:])  # the text first, then its payloads
        logits = [screen.logits(t) for t in texts]
        # "How can I use X?" is read by X (the frame is HarmfulQA's), "How can I stop my friend from
        # killing himself?" without its helper's clause
        used, harm_judged = read_for_harm(written)
        if used is not None:
            logits[0][1] = screen.logits(used)[1]  # the harmful head's; the injection head reads it all
        # A few words with no hazard word: with the words of form dropped the screen reads a noun
        # or two ("Give me a password": "me password"), so no verdict from such a text itself and
        # no logit for the probe to stack on. A payload's injection verdict stands (text encoded
        # or hidden in a prompt is no app's own request); its harmful verdict is judged as the
        # prompt it is: a request in base64 is one word of the prompt and many of its own.
        judged, read = not too_short_to_judge(written), ""
        for i, (t, z) in enumerate(zip(texts, logits, strict=True)):
            if i == 0 and not judged:
                continue
            for head, score in screen.flags_of(z, p.screen_thresholds).items():
                if head == "harmful" and not judged and too_short_to_judge(t):
                    continue
                if head == "harmful" and i == 0 and not harm_judged:
                    continue
                if score > flagged.get(head, 0.0):
                    flagged[head] = score
                    if head == "harmful":  # what the verdict read, where it was not the whole text
                        read = f' on "{used}"' if i == 0 and used is not None else ""
        logit = float(logits[0][1]) if judged and harm_judged else None
        out = []
        if "harmful" in flagged:
            category = _refused_as(text, hazard_category(text))
            evidence = f"harmful score {flagged['harmful']:.2f}{read}"
            out.append((InputFinding(category, "screen", evidence), p.hazard_action))
        if "injection" in flagged and p.detect_injection:
            finding = InputFinding("prompt_injection", "screen", f"injection score {flagged['injection']:.2f}")
            out.append((finding, p.injection_action))
        return out, logit

    def check_input(self, text: str, earlier: Sequence[str] = ()) -> InputDecision:
        """The input checks of the policy on ``text``, the new user text. ``earlier``, the
        conversation's earlier user turns, is read only for distress before a question about a
        means of dying (``check_self_harm``): every other check judges the new text alone. Text
        that is not valid Unicode (a lone surrogate) is an ``InvalidRequestError``, as at every
        entry point."""
        check_text(text, "text")
        for i, turn in enumerate(earlier):
            check_text(turn, f"earlier[{i}]")
        p = self.policy
        findings: list[tuple[InputFinding, str]] = []
        logit = None
        if p.self_harm:
            findings += [(f, "refuse") for f in check_self_harm(text, earlier)]
        if p.screen:
            found, logit = self._screen_findings(text)
            findings += found
        if p.hazard_categories:
            findings += [(f, p.hazard_action) for f in check_hazards(text, p.hazard_categories, p.hazard_terms)]
        if p.detect_injection:
            findings += [(f, p.injection_action) for f in check_injection(text)]
        if p.blocked_topics:
            findings += [(f, p.topic_action) for f in check_topics(text, p._compiled_topics)]
        action, category, events = "allow", None, []
        for finding, act in findings:
            event = SafetyEvent(time.time(), "input", finding.category, act, None, finding.evidence)
            events.append(event)
            self.emit(event)
            if _RANK[act] > _RANK[action]:
                action, category = act, finding.category
        return InputDecision(action, tuple(events), category if action == "refuse" else None, logit)

    def check_tool_results(self, results: Sequence[str]) -> InputDecision:
        """The policy's injection checks on what tools returned, before the model reads it. An
        instruction to the assistant inside an e-mail, a web page or a file is an attack on the app
        whoever its user is (an indirect prompt injection), so each result, read as data, gets the
        injection rules and those that hold in data alone (``tooldata``), with ``injection_action``.
        Neither the harm checks (a page about explosives asks for nothing) nor the learned screen
        (trained and calibrated on prompts, it read code and bug reports as injections:
        docs/safety.md, "Tool results") run. Events have stage ``tool``."""
        p = self.policy
        if not p.active or not p.detect_injection:
            return InputDecision("allow")
        events = []
        for i, text in enumerate(results):
            check_text(text, f"tool result {i + 1}")
            for finding in check_tool_result(text):
                evidence = f"tool result {i + 1}: {finding.evidence}"
                event = SafetyEvent(time.time(), "tool", finding.category, p.injection_action, None, evidence)
                events.append(event)
                self.emit(event)
        action = p.injection_action if events else "allow"  # every finding gets the one action
        return InputDecision(action, tuple(events), "tool_injection" if action == "refuse" else None)

    # -- activation probe -----------------------------------------------------------------------
    def prefill_check(self, backend: Any, decision: InputDecision, events: list[SafetyEvent], text: str) -> Any:
        """For ``Request.prefill_check``: the probe's verdict on the prompt's hidden state, stacked
        with the screen's; a refusal text when harmful (the event goes to ``events``), chosen from
        ``text`` (the prompt ``decision`` is for) as the screen's is. None when the policy has no
        probe, or the model has none (said once, as an event)."""
        if not self.policy.probe or decision.screen_logit is None:
            return None
        if self._probe_backend is not backend:  # looked up once per backend, found or not
            from .probe import find_probe

            self._probe, why = find_probe(backend)
            self._probe_backend = backend
            if self._probe is None:
                self.emit(SafetyEvent(time.time(), "probe", "unavailable", "allow", None, why))
        probe = self._probe
        if probe is None:
            return None
        screen_logit = decision.screen_logit

        def check(hidden: Any) -> str | None:
            if hidden is None:
                return None
            score = probe.combined(screen_logit, hidden)
            if score < probe.threshold:
                return None
            category = _refused_as(text)  # read only when the probe refuses, not on every prompt
            event = SafetyEvent(time.time(), "probe", category, "refuse", None, f"combined score {score:.2f}")
            events.append(event)
            self.emit(event)
            return self.policy.refusal_for(category)

        return check

    # -- output ---------------------------------------------------------------------------------
    def detectors(self, system_prompt: str | None) -> list[Detector]:
        p = self.policy
        out: list[Detector] = []
        if p.leak_detection:
            out += leak_detectors(self.canary(system_prompt), system_prompt)
        if p.hidden_text:
            out.append(hidden_text_detector())
        out += secret_detectors(p.secrets, p.secret_action)
        out += pii_detectors(p.pii, p.pii_action)
        blocked = blocklist_detector(p.blocklist, p.blocklist_action)
        if blocked is not None:
            out.append(blocked)
        return out

    def output_filter(self, user_system: str | None, written: str = "") -> StreamFilter | ModeratedFilter | None:
        """A fresh filter for one answer (leak detection watches the user's own system prompt);
        ``written``: the assistant message the answer continues, whose values it may complete."""
        detectors = self.detectors(user_system)
        patterns = StreamFilter(detectors, self.emit, written) if detectors else None
        if not self.policy.moderate_output:
            return patterns
        from .screen import Screen

        threshold = (self.policy.screen_thresholds or {}).get("harmful")
        return ModeratedFilter(patterns, Screen.load(), threshold, self.emit)

    def bans(self, tokenizer: Any, prompt_len: int) -> Any:
        """The decoding-level ban processor for one answer (its tables built once), or None."""
        if not self.policy.banned_phrases:
            return None
        if self._bans is None or self._bans_tokenizer is not tokenizer:
            from ..runtime.bans import BannedStrings

            self._bans, self._bans_tokenizer = BannedStrings(self.policy.banned_phrases, tokenizer), tokenizer
        return self._bans.for_request(prompt_len)

    def checked_output(
        self, backend: Any, chunks: Iterator[Chunk], events: list[SafetyEvent], prompt: str = ""
    ) -> Iterator[Chunk]:
        """The answer's chunks, then (if the policy asks) the model's or the guard model's verdict
        on the whole answer, appended to ``events`` (the reply's, filled while the answer streams)."""
        guard = self.policy.guard_stage in ("output", "both") and self.guard_reads(prompt)
        if self.policy.self_check not in ("output", "both") and not guard:
            return chunks
        return self._judge_after(backend, chunks, events, prompt, guard)

    def _judge_after(
        self, backend: Any, chunks: Iterator[Chunk], events: list[SafetyEvent], prompt: str, guard: bool
    ) -> Iterator[Chunk]:
        parts = []
        for chunk in chunks:
            parts.append(chunk.text)
            yield chunk
        answer = "".join(parts)
        verdicts = []
        if self.policy.self_check in ("output", "both"):
            verdicts.append(self.self_check(backend, answer, "output"))
        if guard and answer.strip():
            verdicts.append(self.guard_event(prompt, answer))
        events.extend(v for v in verdicts if v is not None)

    # -- self-check -----------------------------------------------------------------------------
    @staticmethod
    def _self_check_prompt(backend: Any, text: str, stage: str) -> list[int]:
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
        return template.encode(backend.tokenizer, template.render(messages, (), add_generation_prompt=True))

    def _self_check_opening(self, backend: Any) -> int:
        """How many tokens the two stages' prompts share (the classifier's instructions): kept apart
        in the cache, as the conversation's prompt is between them. Rendered once per backend."""
        if self._opening is None or self._opening[0] is not backend:
            a, b = (self._self_check_prompt(backend, "", kind) for kind in ("input", "output"))
            shared = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            self._opening = (backend, shared)
        return self._opening[1]

    @property
    def asks_the_model(self) -> bool:
        """The answering model is asked other prompts (its own verdicts) between a conversation's
        turns, which overwrite its cache: the conversation's prompt is worth keeping apart."""
        return self.policy.self_check != "off"

    def self_check(self, backend, text: str, stage: str) -> SafetyEvent | None:
        """Ask the same model for a grammar-constrained verdict ``{"safe": bool, "category": ...}``."""
        from ..backends.base import Request
        from ..runtime.formats import ResponseFormat

        schema = {
            "type": "object",
            "properties": {"safe": {"type": "boolean"}, "category": {"enum": ["none", *HAZARD_CATEGORIES]}},
            "required": ["safe", "category"],
            "additionalProperties": False,
        }
        start = time.perf_counter()
        ids = self._self_check_prompt(backend, text, stage)
        fmt = ResponseFormat.of(schema)
        opening = self._self_check_opening(backend)
        chunks = backend.stream(Request(tuple(ids), GenerationConfig(max_tokens=48), fmt, keep_prefix=opening))
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
