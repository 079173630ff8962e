"""What one answer is built from: the new messages and the history before them (:class:`Turn`),
checked before any model runs, or a raw prompt's token ids."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidRequestError, PromptTooLongError
from .message_dicts import MessageLike, message_of
from .tokenizer import Tokenizer
from .types import Message, check_text, is_list

__all__ = [
    "Turn",
    "answer_room",
    "answerable",
    "as_messages",
    "continued",
    "continued_text",
    "fit",
    "given",
    "history_of",
    "new_messages",
    "raw_prompt",
]


def new_messages(text: object) -> list[Message]:
    """The user's text (or new messages, as Messages or OpenAI-style dicts) as messages; anything
    else is an InvalidRequestError."""
    if isinstance(text, (Message, Mapping)):
        role = text.role if isinstance(text, Message) else text.get("role", "user")
        one = f"Message({role!r}, ...)" if isinstance(text, Message) else f"{{'role': {role!r:.20}, 'content': ...}}"
        raise InvalidRequestError(f"Pass new messages as a list: [{one}], not one message.", "text")
    if isinstance(text, str) or not isinstance(text, Sequence) or isinstance(text, (bytes, bytearray)):
        check_text(text, "The prompt")  # bytes, None, numbers: says what was given and what to do
        if not str(text).strip():
            raise InvalidRequestError("The prompt is empty: pass the text to answer.", "text")
        return [Message("user", str(text))]
    new = as_messages(text)
    if not new:
        raise InvalidRequestError("Nothing to answer: pass the user's text.", "text")
    if any(m.role == "system" for m in new):
        raise InvalidRequestError(
            "A system message cannot be one of the new messages: set the system prompt with "
            "Assistant(system=...), or answer a whole conversation with .answer(messages).",
            "text",
        )
    if new[-1].role == "assistant":
        raise InvalidRequestError(
            "The last new message must be a user message (or tool results) to answer. To continue an "
            "assistant message, pass the whole conversation, ending with it, to .answer(messages).",
            "text",
        )
    answerable(new)
    return new


def history_of(history: object) -> list[Message]:
    """A conversation to follow on from (``Assistant.reset(history=...)``): user, assistant and tool
    messages, as Messages or OpenAI's dicts."""
    if not is_list(history):
        raise InvalidRequestError(f"history must be a list of messages, got {type(history).__name__}.", "history")
    restored = as_messages(list(history))
    if any(m.role == "system" for m in restored):
        raise InvalidRequestError("The history holds a system message: pass it as reset(system=...).", "history")
    return restored


def as_messages(messages: Sequence[object]) -> list[Message]:
    """Messages given as :class:`Message` or as OpenAI's chat-completions dicts, as Messages."""
    if isinstance(messages, Message) or not is_list(messages):
        # a text's letters or a dict's keys would be read as messages
        raise InvalidRequestError(
            f"messages must be a list of messages, got {type(messages).__name__}: to answer one text, pass "
            "[{'role': 'user', 'content': text}] (or use chat(text)).",
            "messages",
        )
    out = []
    for i, m in enumerate(messages):
        if isinstance(m, Mapping):
            m = message_of(m, f"messages[{i}]")
        elif not isinstance(m, Message):
            raise InvalidRequestError(
                f"messages[{i}] must be an edgeqwen.Message or a dict such as {{'role': 'user', 'content': '...'}}, "
                f"got {type(m).__name__}.",
                f"messages[{i}]",
            )
        out.append(m)
    return out


def continued(messages: Sequence[Message]) -> tuple[list[Message], Message | None]:
    """The messages to answer, and a final assistant message the answer continues (a prefill, as
    llama.cpp's server and transformers' ``continue_final_message`` read one), if there is one."""
    if not messages or messages[-1].role != "assistant":
        return list(messages), None
    last = messages[-1]
    if last.tool_calls:
        raise InvalidRequestError(
            "The last message is an assistant message with tool calls: send each call's result as a tool "
            "message after it, and the answer reads them.",
            "messages",
        )
    if len(messages) > 1 and messages[-2].role == "assistant":
        raise InvalidRequestError(
            "Two assistant messages end the conversation: a final assistant message is continued, so the one "
            "before it must be a user message (or tool results).",
            "messages",
        )
    return list(messages[:-1]), last


def continued_text(message: Message, family: str, thinking: bool) -> str:
    """What a continued assistant message puts after the template's start of the answer (a
    ``ChatTemplate.family``'s): its text, or its thinking (still open where the message has no text
    yet) and then its text."""
    if not message.thinking:
        return message.content
    # a server elsewhere is sent the message's text only (OpenAI's API has no field for it)
    if not (thinking and family == "qwen3"):
        raise InvalidRequestError(
            "The assistant message to continue has thinking (reasoning_content), which only a local Qwen3 "
            "model thinking reads: turn thinking on (enable_thinking=True), or leave the thinking out.",
            "messages",
        )
    text = "<think>\n" + message.thinking.lstrip("\n")
    if message.content:
        text = text.rstrip("\n") + "\n</think>\n\n" + message.content.lstrip("\n")
    return text


def answerable(messages: Sequence[Message]) -> int:
    """Where the new turn starts (after the last assistant message), once the messages are known to
    end in something to answer: a user message that is not blank, or tool results."""
    if not messages or messages[-1].role == "assistant":
        raise InvalidRequestError(
            "The last message must be a user message (or tool results) to answer, or an assistant message "
            "after one, to continue it.",
            "messages",
        )
    cut = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1) + 1
    if all(m.role == "user" and not m.content.strip() for m in messages[cut:]):
        raise InvalidRequestError("The last user message is empty: give it the text to answer.", "messages")
    return cut


# how much of the text before an answer the output filters read with it: more than any value they
# find is long, so a long prompt or answer is not scanned again
WRITTEN_READ = 512


@dataclass(frozen=True)
class Turn:
    """What one answer is built from: the new messages, the history before them, the system
    prompt and tools, and whether the answer joins the assistant's own history."""

    new: tuple[Message, ...]
    history: tuple[Message, ...]
    system: str | None
    tools: tuple[dict[str, Any], ...]
    remember: bool
    raw: tuple[int, ...] | None = None  # a raw prompt's ids: no template, system prompt or history
    continued: Message | None = None  # a final assistant message the answer goes on from
    own: bool = False  # the continued message is the model's own answer (resume), not the caller's
    truncate: bool = True  # the oldest turns may be dropped to fit (False: a prompt past the window is refused)

    @property
    def user_text(self) -> str:
        """The new user text: what the policy screens and the output filters read beside. A
        continued message is the caller's words too (a prefill is a known way round refusals),
        but for the model's own answer going on (read when it was asked)."""
        texts = [m.content for m in self.new if m.role == "user"]
        if self.continued is not None and not self.own:
            texts += [t for t in (self.continued.thinking, self.continued.content) if t]
        return "\n".join(texts)

    @property
    def own_ids(self) -> tuple[int, ...] | None:
        """A resumed answer's token ids, where its history kept them (not cut by the safety policy)."""
        last = self.continued
        return tuple(last.token_ids) if self.own and last is not None and last.token_ids else None

    @property
    def written(self) -> str:
        """The text the answer goes on from, which the output filters read as its start (a value
        split between the two is found whole): a continued message's, or a raw prompt's end."""
        if self.continued is not None:
            return self.continued.content[-WRITTEN_READ:]
        return self.new[0].content[-WRITTEN_READ:] if self.raw is not None and self.new else ""


def given(
    messages: Sequence[MessageLike], system: str | None, tools: Sequence[dict[str, Any]], truncate: bool = True
) -> Turn:
    """A conversation the caller keeps (the OpenAI API's way) as the turn that answers it; ``system``
    and ``tools`` where it gives none; ``truncate``: whether its oldest turns may be dropped to fit."""
    msgs = as_messages(messages)
    lead = next((i for i, m in enumerate(msgs) if m.role != "system"), len(msgs))
    # several at the start are one system prompt (Codex sends two developer messages), which the
    # policy's rules and leak detection cover; one later in the conversation stays where it is,
    # a system turn, as Qwen's own templates write it
    if lead:
        system = "\n\n".join(m.content for m in msgs[:lead])
    msgs, last = continued(msgs[lead:])
    cut = answerable(msgs)
    return Turn(
        tuple(msgs[cut:]), tuple(msgs[:cut]), system, tuple(tools), remember=False, continued=last, truncate=truncate
    )


def answer_room(max_tokens: int, context: int) -> int:
    """The tokens a prompt leaves for its answer before its oldest turns are dropped: the answer's
    ``max_tokens``, but no more than a quarter of the window (a long answer asked for must not
    drop the conversation it answers)."""
    return min(max_tokens, max(1, context // 4))


def fit(
    turn: Turn, encode: Callable[[Sequence[Message]], list[int]], context: int, max_tokens: int
) -> tuple[list[int], list[Message], int]:
    """Prompt ids for ``turn`` (``encode(history)``), dropping its oldest turns until an answer of
    ``min(max_tokens, context/4)`` tokens fits. Returns the ids, the kept history and how many
    turns were dropped."""
    if turn.raw is not None:  # written whole by the caller: nothing to drop
        if len(turn.raw) >= context:
            raise PromptTooLongError(len(turn.raw), context)
        return list(turn.raw), [], 0
    room = answer_room(max_tokens, context)
    history = list(turn.history)
    dropped = 0
    if not turn.truncate:  # the caller's whole conversation, or a refusal that says so
        ids = encode(history)
        if len(ids) < context:
            return ids, history, 0  # the answer gets what remains
        raise PromptTooLongError(
            len(ids),
            context,
            hint=" or send fewer messages: none is dropped unasked (truncation 'auto' on the Responses API, "
            "truncate=True in Python, drops the oldest turns to fit), or load the model with a larger context_length",
        )
    while True:
        ids = encode(history)
        if len(ids) + room <= context:
            return ids, history, dropped
        if not history:
            if len(ids) < context:
                return ids, history, dropped  # no history left to drop; the answer gets what remains
            # every earlier turn is already dropped: only a shorter text or a larger window helps
            fewer = "" if turn.remember else ", send fewer messages"
            hint = f" (and the system prompt){fewer}, or load the model with a larger context_length"
            raise PromptTooLongError(len(ids), context, hint=hint)
        # drop one whole turn: the oldest user message and everything up to the next one
        cut = next((i for i in range(1, len(history)) if history[i].role == "user"), len(history))
        del history[:cut]
        dropped += 1


def raw_prompt(tokenizer: Tokenizer, prompt: object) -> tuple[list[int], str]:
    """A raw prompt's token ids and its text: text (control tokens written out are read as those
    tokens) or token ids of this tokenizer's vocabulary."""
    if isinstance(prompt, str):
        if not prompt:
            raise InvalidRequestError("The prompt is empty: pass the text to continue.", "prompt")
        return tokenizer.encode_controls(prompt), prompt
    if isinstance(prompt, np.ndarray):
        prompt = prompt.tolist()
    if isinstance(prompt, (bytes, bytearray, Message)) or not isinstance(prompt, Sequence):
        check_text(prompt, "The prompt")  # says what was given and what to do
    ids = list(prompt)
    if not ids:
        raise InvalidRequestError("The prompt is empty: pass the text or token ids to continue.", "prompt")
    for i, t in enumerate(ids):
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not 0 <= t < tokenizer.vocab_size:
            raise InvalidRequestError(
                f"prompt[{i}] must be a token id from 0 to {tokenizer.vocab_size - 1}, got {t!r}.", "prompt"
            )
    ids = [int(t) for t in ids]
    return ids, tokenizer.decode(ids)
