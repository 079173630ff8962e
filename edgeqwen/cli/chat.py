"""``edgeqwen chat``: a session in the terminal, its lines read by :mod:`edgeqwen.repl`, and the
conversation kept in a file and restored (/save, /load, --load) as OpenAI's chat messages."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidRequestError
from ..jsontext import load_json
from ..message_dicts import conversation_dict, conversation_of
from ..repl import CHAT_HELP, closes_block, opens_block, parse_chat_line, unfenced
from ..turns import history_of
from .common import clean_errors, echo_answer, model_options, open_assistant, sampling_options, say, where_cut

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..types import Message

__all__ = ["chat", "load_conversation", "read_conversation", "save_conversation"]


def save_conversation(bot: Assistant, name: str) -> str:
    """Write the system prompt and the history to the file ``name`` (replaced whole, never left
    half written); what to tell the user."""
    path = Path(name).expanduser()
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
        system, messages = conversation_of(value)
        history_of(messages)  # as reset() will read it: a system message inside is no history
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{name} is no conversation: {exc}", "file") from exc
    return system, messages


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


def _block(first: str) -> str:
    """Text of several lines, read until its closing \"\"\" (or the end of the input: nothing
    typed is lost)."""
    lines = [first]
    while True:
        try:
            lines.append(click.prompt("...", prompt_suffix=" ", default="", show_default=False))
        except (EOFError, click.Abort):
            return unfenced(lines)
        if closes_block(lines[-1]):
            return unfenced(lines)


@click.command()
@click.argument("model", required=False)
@click.option(
    "--load",
    "load_from",
    type=click.Path(dir_okay=False),
    help="Go on with a conversation /save wrote (or a list of chat messages in JSON).",
)
@model_options
@sampling_options
@clean_errors
def chat(model: str | None, load_from: str | None, **opts: Any) -> None:
    """Interactive chat. /reset clears the history, /system TEXT sets the system prompt, /save FILE
    and /load FILE keep and restore the conversation, /exit quits; Ctrl-C stops the current answer
    and keeps the session."""
    saved = None
    if load_from is not None:  # read before the model loads, which can take a while
        try:
            saved = read_conversation(load_from)
        except InvalidRequestError as exc:
            raise click.BadParameter(str(exc), param_hint="--load") from None
    bot = open_assistant(model, opts)
    if load_from is not None:
        say(load_conversation(bot, load_from, saved))
    for stream, errors in ((sys.stdin, "surrogateescape"), (sys.stdout, "backslashreplace")):
        # a line that is not UTF-8 reaches the library, which says so (and any echo of it is escaped)
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=errors)
    say(CHAT_HELP)
    while True:
        try:
            line = click.prompt(">>>", prompt_suffix=" ", default="", show_default=False)
        except (EOFError, click.Abort):
            click.echo()
            return
        if opens_block(line):
            line = _block(line)
        parsed = parse_chat_line(line)
        if parsed.action == "exit":
            return
        if parsed.action == "reset":
            bot.reset()
            say("(history cleared)")
        elif parsed.action == "show_system":
            say(
                f"(system prompt: {bot.system!r}; /system TEXT sets it)"
                if bot.system
                else "(no system prompt set: the model's default is used)"
            )
        elif parsed.action == "set_system":
            bot.reset(system=parsed.text)
            say("(system prompt set, history cleared)")
        elif parsed.action in ("save", "load"):
            if not parsed.text:
                say(f"Say which file: /{parsed.action} FILE. Nothing was {parsed.action}ed.")
                continue
            try:
                said = (save_conversation if parsed.action == "save" else load_conversation)(bot, parsed.text)
            except InvalidRequestError as exc:  # the session stays as it was
                said = f"Error: {exc}"
            say(said)
        elif parsed.action == "help":
            say(CHAT_HELP)
        elif parsed.action == "unknown":  # the line stays on screen, to fix and send again
            hint = f" Did you mean {parsed.meant}?" if parsed.meant else ""
            hint += " Nothing was sent."
            say(f"Unknown command {parsed.command}.{hint} {CHAT_HELP}")
        if parsed.action not in ("message", "continue"):
            continue
        try:
            stream = bot.stream(line) if parsed.action == "message" else bot.resume()
        except InvalidRequestError as exc:  # one bad line: say why, keep the session
            say(f"Error: {exc}")
            continue
        try:
            echo_answer(stream)
        except KeyboardInterrupt:
            say("\n(stopped: /continue goes on)")
        click.echo()
        reply = stream.reply()
        if reply.trimmed_turns:
            say(f"(dropped {reply.trimmed_turns} oldest turn(s) to fit the context window)")
        if reply.finish_reason == "length":
            say(f"(cut {where_cut(reply, bot.config.max_tokens)}: /continue goes on)")
