"""A conversation kept in a file (``edgeqwen chat``'s /save, /load and --load, ``edgeqwen run
--conversation``): the system prompt and the history as OpenAI's chat messages, in JSON."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidRequestError
from ..jsontext import load_json
from ..message_dicts import conversation_dict, conversation_of

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..types import Message

__all__ = ["load_conversation", "read_conversation", "save_conversation"]


def save_conversation(bot: Assistant, name: str) -> str:
    """Write the system prompt and the history to the file ``name`` (replaced whole, never left
    half written); what to tell the user."""
    path = Path(name).expanduser()
    if path.is_dir():
        raise InvalidRequestError(f"{name} is a folder; name a file in it. Nothing was saved.", "file")
    # replaced only where it holds a conversation (or nothing): "/save notes.txt" deleted the notes
    if path.exists() and path.stat().st_size > 0:
        try:
            read_conversation(name)
        except InvalidRequestError as exc:
            raise InvalidRequestError(
                f"Nothing was saved: {exc} It is left as it was; name a new file, or one a conversation was saved to.",
                "file",
            ) from exc
    text = json.dumps(conversation_dict(bot.system, bot.history), ensure_ascii=False, indent=1) + "\n"
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise InvalidRequestError(f"Cannot write {name} ({exc.strerror or exc}); nothing was saved.", "file") from exc
    return f"(saved {len(bot.history)} messages to {name}; /load {name} or `edgeqwen chat --load {name}` goes on)"


def read_conversation(name: str) -> tuple[str | None, list[Message]]:
    """The system prompt and messages saved in the file ``name``, or InvalidRequestError saying why not."""
    try:
        value = load_json(Path(name).expanduser().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidRequestError(f"Cannot read {name} ({why}).", "file") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{name} is not JSON ({exc.msg} at line {exc.lineno}).", "file") from exc
    try:
        return conversation_of(value)  # no system message among the messages: what reset() takes
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{name} is no conversation: {exc}", "file") from exc


def load_conversation(bot: Assistant, name: str, saved: tuple[str | None, list[Message]] | None = None) -> str:
    """Put the conversation in the file ``name`` (``saved``: already read from it) in place of the
    session's, system prompt and history, or raise InvalidRequestError and change nothing; what to
    tell the user."""
    system, messages = read_conversation(name) if saved is None else saved
    bot.reset(system=system, history=messages)
    if system is None:  # saved without one: the model's default, not the one this session had
        bot.system = None
    prompt = "its system prompt" if system else "no system prompt"
    return f"(loaded {len(messages)} messages and {prompt} from {name})"
