"""OpenAI's moderation API (``POST /v1/moderations``) over the safety layer's input checks: apps
that screen what their users write before they send it (the ``openai`` client's
``moderations.create``, guardrail recipes, LangChain's moderation chain) get an answer from the
same checks that decide this server's refusals, instead of a 404 that stops them.

Decisions, where the API leaves room:
- The judge is the server's policy's harm checks (``--policy``): the self-harm rules, the learned
  screen and the hazard rules, with its thresholds, terms and categories; a policy with none of them
  (``--policy none``, ``pii``) is judged by the ``default`` preset's. Injection and topic checks
  are left out: they judge what a prompt does to the model, not what it says. Where the policy has
  a guard model for prompts (``guard``, ``guard_stage`` input or both), each text the rules let
  pass is read by it too, in the model's turn (seconds a text on a CPU): flagged when it says
  Unsafe, or Controversial under ``guard_controversial: refuse``, in its categories (its Jailbreak
  left out, as the injection checks are). The activation probe does not run: it reads the
  answering model's prefill of a chat prompt.
- A text is ``flagged`` where the policy would refuse it; each category the checks name is mapped
  to OpenAI's (:data:`AS_OPENAI`); those OpenAI has no name for (misinformation, privacy, unethical
  acts) are keys of their own beside OpenAI's thirteen. The learned screen's verdict with no
  hazard named is ``illicit`` (what it was trained on: requests for help doing harm).
- Scores are 1 for a flagged category and 0 otherwise: the checks decide by rules and fixed
  thresholds, not by calibrated per-category probabilities.
- ``input``: a text, a list of texts, or a list of content parts (text only; an image is refused,
  not passed over). At most :data:`MAX_INPUTS` texts and :data:`MAX_CHARS` characters in all. What
  a check catches and misses, measured:
  docs/safety.md.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..safety import PRESETS, Guard, Policy
from ..safety.guardmodel import GUARD_CATEGORIES, GuardVerdict
from .http import authorize, read_body, until_disconnect
from .protocol import RequestError

if TYPE_CHECKING:
    from .app import _App

__all__ = [
    "AS_OPENAI",
    "MAX_CHARS",
    "MAX_INPUTS",
    "OPENAI_CATEGORIES",
    "guard_categories",
    "judge",
    "moderation_result",
    "moderations_routes",
    "parse_moderation",
    "result_body",
    "rule_flags",
]

MAX_INPUTS = 64  # texts per request: each is read by every check in turn
# Characters per request, all texts together. The checks read up to about 30 µs a character on the
# slowest texts measured ("a a a ...", letters spaced out; the hazard rules' searches most): an 800 kB
# body kept a core busy for 19 s. A chat prompt is bounded by the context, measured before any check.
MAX_CHARS = 131_072
MODEL = "edgeqwen-moderation"
OPENAI_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
    "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic",
)  # fmt: skip
AS_OPENAI: dict[str, tuple[str, ...]] = {  # a category the checks name -> OpenAI's
    "violent_crimes": ("violence", "illicit/violent"),
    "weapons": ("illicit/violent",),
    "non_violent_crimes": ("illicit",),
    "sex_crimes": ("sexual", "illicit/violent"),
    "child_exploitation": ("sexual/minors",),
    "hate": ("hate",),
    "self_harm": ("self-harm", "self-harm/intent"),
    "sexual_content": ("sexual",),
    "abuse": ("violence",),  # the screen's verdict on a text that speaks of abuse
    "harmful": ("illicit",),  # the screen's verdict naming no hazard
}


def judge(policy: Policy) -> Guard:
    """The guard that moderates for a server answering under ``policy``: its harm checks only."""
    if not (policy.self_harm or policy.screen or policy.hazard_categories):
        policy = PRESETS["default"]
    # a Guard of its own: no audit trail or event hook (these texts are not prompts being answered)
    return Guard(replace(policy, detect_injection=False, blocked_topics=()))


def parse_moderation(body: Any) -> tuple[str, ...]:
    """The texts of a ``/v1/moderations`` body; a RequestError naming the field for anything else."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with input.")
    given = body.get("input")
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list) or not given:
        raise RequestError("input must be a text, a list of texts, or a list of text parts.", "input")
    if len(given) > MAX_INPUTS:
        raise RequestError(f"input holds {len(given)} items; send at most {MAX_INPUTS} per request.", "input")
    texts = []
    for i, item in enumerate(given):
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif isinstance(item, dict) and item.get("type") == "image_url":
            raise RequestError(f"input[{i}] is an image: this server moderates text only.", f"input[{i}]")
        else:
            raise RequestError(f"input[{i}] must be a text or a text part ({{'type': 'text', 'text': ...}}).", "input")
    if (total := sum(map(len, texts))) > MAX_CHARS:
        raise RequestError(
            f"input holds {total:,} characters; send at most {MAX_CHARS:,} per request (a long text in "
            "parts, over several requests).",
            "input",
        )
    return tuple(texts)


def guard_categories(verdict: GuardVerdict, controversial: str) -> tuple[str, ...]:
    """The categories (ours) a guard model's verdict flags a text in, as a prompt under a policy
    whose ``guard_controversial`` is ``controversial``: none for one it would answer."""
    if verdict.safety == "Safe" or (verdict.safety == "Controversial" and controversial != "refuse"):
        return ()
    named = tuple(GUARD_CATEGORIES.get(c, "guard") for c in verdict.categories if c != "Jailbreak")
    return named or (() if verdict.categories else ("guard",))


def rule_flags(guard: Guard, text: str) -> list[tuple[str, bool]]:
    """What the checks found in ``text``: each category they name, and whether it is refused."""
    return [(e.category, e.action == "refuse") for e in guard.check_input(text).events]


def moderation_result(guard: Guard, text: str) -> dict[str, Any]:
    """One text's result in OpenAI's shape, by the checks alone (the route adds the guard model's)."""
    return result_body(rule_flags(guard, text))


def result_body(flags: list[tuple[str, bool]]) -> dict[str, Any]:
    """A result in OpenAI's shape from the categories found and whether each is refused."""
    named: dict[str, bool] = dict.fromkeys(OPENAI_CATEGORIES, False)
    for flagged_in, refused in flags:
        for category in AS_OPENAI.get(flagged_in, (flagged_in,)):
            named[category] = named.get(category, False) or refused
    return {
        "flagged": any(named.values()),
        "categories": named,
        "category_scores": {category: float(on) for category, on in named.items()},
        "category_applied_input_types": {category: ["text"] for category in named},
    }


def moderations_routes(app: _App) -> list[Route]:
    """``POST /v1/moderations``, judged by the server's policy's harm checks."""
    served = app.worker.bot.assistant.guard
    guard = judge(served.policy)
    reads_prompts = served.policy.guard_stage in ("input", "both")  # guard_reads: a model, the language

    async def judged(texts: tuple[str, ...]) -> list[dict[str, Any]]:
        # off the event loop: the rules and the screen read each text in full
        found = await asyncio.to_thread(lambda: [rule_flags(guard, t) for t in texts])
        for i, text in enumerate(texts):
            if not reads_prompts or not served.guard_reads(text) or any(refused for _, refused in found[i]):
                continue
            # one text a turn: answers waiting go between them, and a client gone stops the rest
            verdict = await app.worker.run(lambda bot, t=text: bot.guard.model.moderate(t), queued=i == 0)
            found[i] += [(c, True) for c in guard_categories(verdict, served.policy.guard_controversial)]
        return [result_body(flags) for flags in found]

    async def moderations(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            texts = parse_moderation(await read_body(request, app.settings))
            results = await until_disconnect(request, judged(texts))
        except Exception as exc:
            return app.failed(exc)
        return app.answered({"id": f"modr-{uuid.uuid4().hex[:24]}", "model": MODEL, "results": results})

    return [Route("/v1/moderations", moderations, methods=["POST"])]
