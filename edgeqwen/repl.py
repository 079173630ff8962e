"""What a line typed into ``edgeqwen chat`` asks for: a command, or a message to send.

Pure parsing, so the CLI only dispatches. A line that is neither a known command nor plausibly a
mistyped one (or one of Ollama's, which people type from habit) is a message, sent as typed:
``/etc/hosts is what?`` and ``/systemic risk?`` are questions, and nothing the user typed is
dropped or rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHAT_HELP",
    "COMMANDS",
    "FENCE",
    "ChatAction",
    "ChatLine",
    "closes_block",
    "mistyped",
    "opens_block",
    "parse_chat_line",
    "unfenced",
]

CHAT_HELP = (
    'Type a message (several lines between """ and """); /continue goes on with the last answer, /reset, '
    "/system TEXT, /save FILE, /load FILE, /exit, /help. Ctrl-C stops an answer."
)
FENCE = '"""'  # Ollama's REPL marks text of several lines so; a line read alone would be sent alone
COMMANDS = ("/reset", "/clear", "/system", "/continue", "/save", "/load", "/exit", "/quit", "/bye", "/help")
# Ollama's REPL commands this one has not: typed with their argument, they are still commands
# ("/set verbose" sent to the model was a message about settings, and joined the history)
FOREIGN = ("/set", "/show")
_COMMAND = re.compile(r"/[A-Za-z?]+")

ChatAction = Literal[
    "empty", "exit", "reset", "show_system", "set_system", "continue", "save", "load", "help", "unknown", "message"
]


@dataclass(frozen=True)
class ChatLine:
    """``action``; ``text``: the message (as typed), the new system prompt or the file to save to
    or load from (empty where none was typed); for ``unknown``,
    ``command`` is the word typed and ``meant`` the command it most likely meant (or None)."""

    action: ChatAction
    text: str = ""
    command: str = ""
    meant: str | None = None


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one inserted, dropped, changed or swapped letter."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if len(a) > len(b):
        return a[i + 1 :] == b[i:]
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    return a[i + 1 :] == b[i + 1 :] or (a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :])


def mistyped(command: str) -> str | None:
    """The command a lone /word or a /word with text most likely meant ("/sytem Be brief")."""
    if not _COMMAND.fullmatch(command):
        return None
    return next((known for known in COMMANDS if _one_edit(command, known)), None)


def parse_chat_line(line: str) -> ChatLine:
    """What ``line`` asks for. Commands are case-insensitive ("/Exit" on a phone keyboard)."""
    if not line.strip():
        return ChatLine("empty")
    command, _, rest = line.strip().partition(" ")
    command = command.lower() if _COMMAND.fullmatch(command) else command
    if command in ("/exit", "/quit", "/bye"):
        return ChatLine("exit")
    if command in ("/reset", "/clear"):  # /clear: Ollama's word for it
        return ChatLine("reset")
    if command == "/continue" and not rest:
        return ChatLine("continue")
    if command == "/system":
        # a bare /system shows the prompt: setting it to "" would be a surprise
        return ChatLine("set_system", rest.strip()) if rest.strip() else ChatLine("show_system")
    if command in ("/save", "/load"):  # the file may hold spaces: the rest of the line, as typed
        return ChatLine("save" if command == "/save" else "load", rest.strip())
    if command in ("/help", "/?"):
        return ChatLine("help")
    meant = mistyped(command)
    if meant or (_COMMAND.fullmatch(command) and not rest) or command in FOREIGN:
        # a lone /word, or one letter off a command, is a mistyped command, not a message
        return ChatLine("unknown", command=command, meant=meant)
    return ChatLine("message", line)


def opens_block(line: str) -> bool:
    """Whether ``line`` starts text of several lines: it begins with \"\"\" (after a command and its
    space, for ``/system \"\"\"...``) and does not close it on the same line."""
    head = line.lstrip()
    command, _, rest = head.partition(" ")
    starts = head.startswith(FENCE) or (_COMMAND.fullmatch(command) is not None and rest.lstrip().startswith(FENCE))
    return starts and line.count(FENCE) % 2 == 1


def closes_block(line: str) -> bool:
    """Whether a line read inside a block ends it (it holds the closing \"\"\")."""
    return line.count(FENCE) % 2 == 1


def unfenced(lines: list[str]) -> str:
    """The lines of a block as one text, without its opening and closing \"\"\" (a block the
    input ended before it closed keeps all it has)."""
    text = "\n".join(lines)
    start = text.index(FENCE)
    end = text.rindex(FENCE)
    if end == start:  # never closed
        return text[:start] + text[start + len(FENCE) :]
    return text[:start] + text[start + len(FENCE) : end] + text[end + len(FENCE) :]
