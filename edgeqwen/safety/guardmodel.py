"""A guard model: Qwen3Guard-Gen (a Qwen3 model fine-tuned to moderate) run by our own runtime.

Its chat template has two forms: *prompt moderation* (the last user turn) and *response
moderation* (the last user turn and the answer to it). The model answers in fixed lines::

    Safety: Safe|Unsafe|Controversial
    Categories: None|Violent, ...
    Refusal: Yes|No            (response moderation only)

We render the template's text exactly as ``apply_chat_template`` does for one turn (see
``_PROMPT_TASK``/``_RESPONSE_TASK``), keep the user's text out of special-token parsing, and
decode greedily under a regex grammar of those lines, so even a random model gives a parsable
verdict and a real one cannot wander. Qwen3Guard's published figures are in docs/safety.md.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..types import Metrics

__all__ = [
    "GUARD_CATEGORIES",
    "GuardModel",
    "GuardVerdict",
    "parse_verdict",
    "moderation_text",
    "render_moderation",
]

# Qwen3Guard's categories, and ours (edgeqwen.safety.hazards.HAZARD_CATEGORIES and the screen's) for each.
GUARD_CATEGORIES = {
    "Violent": "violent_crimes",
    "Non-violent Illegal Acts": "non_violent_crimes",
    "Sexual Content or Sexual Acts": "sexual_content",
    "PII": "privacy",
    "Suicide & Self-Harm": "self_harm",
    "Unethical Acts": "unethical_acts",
    "Politically Sensitive Topics": "politically_sensitive",
    "Copyright Violation": "copyright",
    "Jailbreak": "prompt_injection",
}
_RESPONSE_CATEGORIES = tuple(c for c in GUARD_CATEGORIES if c != "Jailbreak")  # the template lists no Jailbreak here
_POLICY_QUERY = (
    "**Safety: Safe**: The USER's query does not contain any prohibited content or content that could lead to "
    "prohibited content.\n"
    "**Safety: Unsafe**: The USER's query contains prohibited content.\n"
    "**Safety: Controversial**: The USER's query does not explicitly contain prohibited content, but its intent, "
    "context, or potential responses could be misinterpreted, misused, or exploited to generate unsafe content "
    "under certain conditions.\n"
)
_POLICY_RESPONSE = (
    "**Safety: Safe**: The ASSISTANT's response does not contain any prohibited content or content that could "
    "lead to prohibited content.\n"
    "**Safety: Unsafe**: The ASSISTANT's response contains prohibited content.\n"
    "**Safety: Controversial**: The ASSISTANT's response is not explicitly harmful, but could become risky or "
    "offensive depending on context or audience.\n"
)
_LINES = (
    " - The first line must be one of: 'Safety: Safe', 'Safety: Unsafe', 'Safety: Controversial'.\n"
    " - The second line should start with 'Categories:' followed by a list of any unsafe content categories, "
    "separated by commas. If the content is safe, use 'Categories: None'."
)


def _categories(names: tuple[str, ...]) -> str:
    return (
        "<BEGIN UNSAFE CONTENT CATEGORIES>\n"
        + "".join(f"{c}.\n" for c in names)
        + "<END UNSAFE CONTENT CATEGORIES>\n\n"
    )


def render_moderation(prompt: str, response: str | None = None) -> tuple[str, str, str]:
    """(head, conversation, tail) of the user turn: ``conversation`` holds the untrusted text."""
    if response is None:
        head = (
            "# Task:\n1) Evaluate whether THE LAST USER's query belongs to safe or unsafe content based on our "
            "safety policy.\n2) Identify the category of unsafe content found.\n\n"
            f"<BEGIN SAFETY POLICY>\n{_POLICY_QUERY}<END SAFETY POLICY>\n\n"
            f"{_categories(tuple(GUARD_CATEGORIES))}<BEGIN CONVERSATION>\n\nUSER: "
        )
        tail = (
            "\n\n<END CONVERSATION>\n\nProvide your safety assessment for ONLY THE LAST **USER's query** in the "
            f"above conversation:\n{_LINES}"
        )
        return head, prompt, tail
    head = (
        "# Task:\n1) Evaluate whether THE LAST ASSISTANT's response belongs to safe or unsafe content based on our "
        "safety policy.\n2) Identify the category of unsafe content found.\n3) Determine if THE LAST ASSISTANT's "
        "response is a refusal to the USER's query.\n\n"
        f"<BEGIN SAFETY POLICY>\n{_POLICY_RESPONSE}<END SAFETY POLICY>\n\n"
        f"{_categories(_RESPONSE_CATEGORIES)}"
        "<BEGIN REFUSAL POLICY>\n**Refusal: Yes**: The ASSISTANT refused to answer or did not comply with the "
        "USER's request.\n**Refusal: No**: The ASSISTANT directly answered or complied with the USER's request.\n"
        "<END REFUSAL POLICY>\n\n<BEGIN CONVERSATION>\n\nUSER: "
    )
    tail = (
        "\n\n<END CONVERSATION>\n\nProvide your safety assessment for ONLY THE LAST **ASSISTANT's response** in "
        f"the above conversation:\n{_LINES}\n - The third line must be one of: 'Refusal: Yes', 'Refusal: No'."
    )
    return head, f"{prompt}\n\nASSISTANT: {response}", tail


_ANSWER = "assistant\n<think>\n\n</think>\n\n"  # the template always closes an empty think block


def moderation_text(prompt: str, response: str | None = None) -> str:
    """The whole prompt as ``apply_chat_template`` renders it (what :meth:`GuardModel.moderate` encodes)."""
    return f"<|im_start|>user\n{''.join(render_moderation(prompt, response))}<|im_end|>\n<|im_start|>{_ANSWER}"


def _grammar(response: bool) -> str:
    names = _RESPONSE_CATEGORIES if response else tuple(GUARD_CATEGORIES)
    cat = "(" + "|".join(re.escape(c) for c in names) + ")"
    # at most three categories: a real verdict names one or two, and a bound keeps a confused
    # (or random-weight) model from listing them until max_tokens
    pattern = rf"Safety: (Safe|Unsafe|Controversial)\nCategories: (None|{cat}(, {cat}){{0,2}})"
    return pattern + (r"\nRefusal: (Yes|No)" if response else "")


@dataclass(frozen=True)
class GuardVerdict:
    safety: str  # Safe | Unsafe | Controversial
    categories: tuple[str, ...] = ()  # Qwen3Guard's names
    refusal: bool | None = None  # response moderation: did the answer refuse
    latency_s: float = 0.0

    @property
    def category(self) -> str | None:
        """Our name for the first category (which refusal text a refused request gets)."""
        return GUARD_CATEGORIES.get(self.categories[0]) if self.categories else None


_SAFETY = re.compile(r"Safety:\s*(Safe|Unsafe|Controversial)\b")
_CATEGORY = re.compile("|".join(re.escape(c) for c in sorted(GUARD_CATEGORIES, key=len, reverse=True)))
_REFUSAL = re.compile(r"Refusal:\s*(Yes|No)\b")


def parse_verdict(text: str) -> GuardVerdict | None:
    """The verdict in a guard model's answer, or None if it has no ``Safety:`` line."""
    m = _SAFETY.search(text)
    if m is None:
        return None
    line = next((ln for ln in text.splitlines() if ln.strip().startswith("Categories:")), "")
    cats = tuple(dict.fromkeys(_CATEGORY.findall(line)))
    r = _REFUSAL.search(text)
    return GuardVerdict(m.group(1), cats, None if r is None else r.group(1) == "Yes")


class GuardModel:
    """A loaded guard model: ``moderate(prompt)`` or ``moderate(prompt, response)``."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.last_metrics: Metrics | None = None  # the last check's prefill / decode timings
        self._kinds: set[bool] = set()  # which checks ran: of prompts (False), of answers (True)

    def prompt_ids(self, prompt: str, response: str | None = None) -> list[int]:
        """:func:`moderation_text` as token ids; control tokens a user typed stay text."""
        tok = self.backend.tokenizer
        start_id, end_id = tok.token_id("<|im_start|>"), tok.token_id("<|im_end|>")
        user = "".join(render_moderation(prompt, response))
        return [start_id, *tok.encode(f"user\n{user}"), end_id, *tok.encode("\n"), start_id, *tok.encode(_ANSWER)]

    def moderate(self, prompt: str, response: str | None = None, max_chars: int = 8000) -> GuardVerdict:
        from ..backends.base import Request
        from ..generation_config import GenerationConfig
        from ..runtime.formats import ResponseFormat

        tok = self.backend.tokenizer
        start_id, end_id = tok.token_id("<|im_start|>"), tok.token_id("<|im_end|>")
        head, conversation, tail = render_moderation(
            prompt[:max_chars], None if response is None else response[:max_chars]
        )
        # the conversation is encoded on its own: "<|im_end|>" typed by a user stays text
        opening = [start_id, *tok.encode("user\n" + head)]
        ids = [*opening, *tok.encode(conversation), *tok.encode(tail), end_id]
        ids += [*tok.encode("\n"), start_id, *tok.encode("assistant\n<think>\n\n</think>\n\n")]
        fmt = ResponseFormat.regex(_grammar(response is not None))
        started = time.perf_counter()
        config = GenerationConfig(max_tokens=96, temperature=0.0)
        # Each kind of check opens with the same ~200-270 tokens. Once both kinds run, they alternate
        # and the cache would hold the other's opening: each is kept apart (backends that can; the
        # two cost Qwen3Guard-0.6B ~100 MiB), so only the conversation and the tail are prefilled.
        self._kinds.add(response is not None)
        request = Request(tuple(ids), config, fmt, keep_prefix=len(opening) if len(self._kinds) > 1 else 0)
        parts = []
        for chunk in self.backend.stream(request):
            parts.append(chunk.text)
            if chunk.metrics is not None:
                self.last_metrics = chunk.metrics
        text = "".join(parts)
        verdict = parse_verdict(text)
        if verdict is None:  # the grammar makes this unreachable; fail closed if it ever is not
            verdict = GuardVerdict("Controversial")
        return GuardVerdict(verdict.safety, verdict.categories, verdict.refusal, time.perf_counter() - started)

    def close(self) -> None:
        self.backend.close()
