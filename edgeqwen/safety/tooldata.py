"""What tools return, read for instructions: indirect prompt injection.

An agent's tool results (an e-mail, a web page, a file, a search hit) are data some stranger may
have written, and an instruction to the assistant inside them is an attack on the app whoever its
user is. Two things differ from a user's prompt:

- Tools return serialised data: JSON with its strings escaped, YAML with long strings folded
  over indented lines ("Ignore all previous\\n    instructions"). :func:`as_read` gives the text a
  reader of the data sees, and the checks read that.
- Words that are ordinary in a prompt are out of place in data. A user speaks to the assistant; an
  e-mail that speaks to "you, the AI language model", tells "any AI reading this" what to do, or
  carries a chat template's system marker is written for the model, not for the person it was
  sent to (:data:`_TO_THE_MODEL`).
"""

from __future__ import annotations

import json
import re

import regex

from .input import InputFinding, ascii_quotes, check_injection

__all__ = [
    "as_read",
    "check_tool_result",
]

# What the model is called: a kind of software it is, or "assistant", "agent", "system" and the
# like said to be AI, virtual or automated ("Dear agents," greets estate agents). "AI" in capitals
# only: "Hi Ai," greets someone called Ai.
_MODEL = (
    r"(?:(?:(?-i:AI|A\.I\.)|virtual|automated|digital) (?:(?:large )?language models?|assistants?|agents?|models?|"
    r"systems?|(?:\w+ )?(?:software|tools?|readers?|screeners?|reviewers?))|(?:large )?language models?|LLMs?|"
    r"chat ?bots?|(?-i:AI|A\.I\.)|artificial intelligence|Qwen[\w.-]*|(?:Chat)?GPT[\w.-]*)"
)
# Written to the model, not to the person the data was for. "If you are an AI researcher" and
# "a framework for AI agents" are no such thing: the model must be the one addressed, ending its
# phrase.
_TO_THE_MODEL = [
    (
        r"\b(?:to you|note to|message (?:to|for)|attention|dear|hey|hi|hello|greetings),?\s+(?:you,?\s+)?"
        r"(?:the\s+|an?\s+|this\s+|all\s+|any\s+)?" + _MODEL + r"(?=\s*[,.:;!]|\s*$)",
        "addresses_the_model",
    ),
    (
        r"\bif you(?:'re| are) (?:an? |the )?" + _MODEL + r"(?:,|\s+(?:reading|processing|summari[sz]ing|parsing|"
        r"analy[sz]ing|scanning|reviewing)\b)|\b(?:any|every|all)\s+" + _MODEL + r"\s+(?:reading|processing|"
        r"summari[sz]ing|parsing|analy[sz]ing|scanning|reviewing)\s+this\b",
        "addresses_the_model",
    ),
    # a system turn in a chat template's markers, or a bracketed system message: the data claims
    # to be the app's own instructions (a user's or assistant's marker is what documentation of
    # chat templates is full of; "f(system_message)" and "log(systemPrompt)" are code)
    (
        r"<\|(?:im_start|start_header_id)\|>\s*system\b|<\|system\|>|<<SYS>>|"
        r"(?<![\w.])[(\[<]\s*system[ _-](?:message|prompt|instructions?|override|note)\s*[)\]>]",
        "fake_turn",
    ),
]
_TO_THE_MODEL_RE = [(regex.compile(p, regex.IGNORECASE), kind) for p, kind in _TO_THE_MODEL]
# YAML's double-quoted strings fold a long line as a backslash, a newline, the indent and an
# escaped space; JSON and both escape newlines, tabs and quotes.
_FOLD = re.compile(r"\\\r?\n[ \t]*(?:\\(?= ))?")
_ESCAPE = re.compile(r"\\([nrt\"'\\/])")
_ESCAPED = {"n": "\n", "r": "\n", "t": " "}
_SPACE = re.compile(r"\s+")


def _strings(value: object) -> list[str]:
    """A JSON value's strings, keys and values, in order (a loop: a value nested a thousand deep
    is data too)."""
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(reversed([x for pair in v.items() for x in pair]))
        elif isinstance(v, list):
            stack.extend(reversed(v))
    return out


def as_read(text: str) -> str:
    """``text`` as a reader of the data sees it: a JSON value's strings (keys and values, in
    order), otherwise the text with string escapes and YAML's folds undone; either with every run
    of white space one space, since data wraps its lines where it likes."""
    head = text.lstrip()[:1]
    strings = None
    if head in ("{", "[", '"'):
        try:
            strings = _strings(json.loads(text))
        except (ValueError, RecursionError):  # not JSON, or nested past the decoder's depth: read as text
            pass
    if strings is not None:
        text = "\n".join(strings)
    elif "\\" in text:
        text = _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(1)), _FOLD.sub("", text))
    return _SPACE.sub(" ", text).strip()


def check_tool_result(text: str) -> list[InputFinding]:
    """The injection rules on a tool result as read (:func:`as_read`), and the rules that hold in
    data only: text written to the model, a turn's markers. The first finding, or none."""
    read = as_read(text)
    # payloads are read back from the text as written (a cipher is read line by line); the
    # patterns then read the data's text, whose lines a tool wrapped where it liked
    found = check_injection(text) or (check_injection(read, decode=False) if read != text else [])
    if found:
        return found
    quoted = ascii_quotes(read)
    for pattern, kind in _TO_THE_MODEL_RE:
        m = pattern.search(quoted)
        if m:
            return [InputFinding("prompt_injection", kind, m.group()[:120])]
    return []
