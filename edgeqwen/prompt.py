"""The prompt an answer reads: the system prompt with the policy's rules, the kept history and the
new messages, rendered by the model's template to token ids; what of it the backend keeps apart for
later prompts, and where the activation probe reads it.

:class:`Prompter` is made per answer from the assistant's backend and guard (so a guard swapped on
an assistant is the one read), and holds no state of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from .turns import Turn, continued_text, fit
from .types import Message

if TYPE_CHECKING:
    from .backends import Backend
    from .safety import Guard

__all__ = ["Prompter"]


@dataclass(frozen=True)
class Prompter:
    backend: Backend
    guard: Guard

    def system(self, turn: Turn) -> str | None:
        """The system prompt the model reads: the app's (or the template's own) with the policy's rules."""
        return self.guard.system_prompt(turn.system, self.backend.template.default_system)

    def conversation(self, turn: Turn, history: Sequence[Message]) -> list[Message]:
        """The messages the model answers: the system prompt (with the policy's rules), the kept
        history and the new messages."""
        system = self.system(turn)
        head = [Message("system", system)] if system is not None else []
        return head + list(history) + list(turn.new)

    def encode(self, turn: Turn, history: Sequence[Message], thinking: bool) -> list[int]:
        template = self.backend.template
        own = turn.own_ids
        pieces = template.render(
            self.conversation(turn, history), turn.tools, add_generation_prompt=own is None, enable_thinking=thinking
        )
        if own is not None:  # the answer's own tokens, the start the prompt gave it included: the cache holds them
            pieces += [template.im_start, "assistant\n", own]
        elif turn.continued is not None:
            pieces.append(continued_text(turn.continued, template.family, thinking))
        return template.encode(self.backend.tokenizer, pieces)

    def fit(self, turn: Turn, max_tokens: int | None, thinking: bool) -> tuple[list[int], list[Message], int]:
        """Prompt ids for history + new messages (see :func:`~.turns.fit`)."""
        return fit(turn, partial(self.encode, turn, thinking=thinking), self.backend.context_length, max_tokens)

    def check_at(self, turn: Turn, ids: Sequence[int], history: Sequence[Message], thinking: bool) -> int:
        """Where the activation probe reads a prompt that continues an assistant message: the end
        of the template's own start of the answer, the state it was trained on (0: the last token)."""
        if turn.continued is None:
            return 0
        head = self.encode(replace(turn, continued=None), history, thinking)
        same = next((i for i, (a, b) in enumerate(zip(head, ids, strict=False)) if a != b), min(len(head), len(ids)))
        return same if same < len(ids) else 0

    def kept_head(self, turn: Turn, ids: Sequence[int]) -> int:
        """What of the prompt the backend keeps apart for later prompts (``Request.keep_prefix``):
        all of it where the self-check's prompts run before the next turn; else the system turn
        (prompt and tools), which the app's next prompts start with while its side requests (a
        title, tags, follow-ups: Open WebUI sends three after each answer) run between."""
        if self.guard.asks_the_model:
            return len(ids)
        return self.backend.template.opening_turn(ids) if self.system(turn) is not None or turn.tools else 0
