"""``edgeqwen chat``: a session in the terminal, its lines read by :mod:`edgeqwen.repl`, its
conversation kept in a file and restored (/save, /load, --load: conversation.py)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import InvalidRequestError
from ..repl import CHAT_HELP, closes_block, opens_block, parse_chat_line, unfenced
from .common import clean_errors, echo_answer, model_options, open_assistant, sampling_options, say, where_cut
from .conversation import load_conversation, read_conversation, save_conversation

__all__ = ["chat"]


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
                done = "saved" if parsed.action == "save" else "loaded"
                say(f"Say which file: /{parsed.action} FILE. Nothing was {done}.")
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
