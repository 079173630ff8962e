"""Chat templates (Qwen2.5, Qwen3, ChatML) and parsing of what the model wrote back.

A template renders messages into *pieces*: ``str`` pieces are plain text (encoded with special
tokens disabled, so user text can never forge ``<|im_start|>``), ``int`` pieces are control
token ids, and ``tuple`` pieces are token ids kept from an earlier turn so that the prompt
prefix is byte-for-byte stable across turns (the KV cache is then reused).

The renderings follow the official Jinja templates shipped with Qwen2.5-*-Instruct and Qwen3.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequestError
from .generation_config import GenerationConfig
from .jsontext import MAX_JSON_DEPTH, load_json, nesting
from .tokenizer import Tokenizer
from .types import Message, ToolCall, check_text, is_list

__all__ = [
    "ChatTemplate",
    "MAX_TOOL_NAME",
    "OutputParser",
    "ParsedOutput",
    "PlainParser",
    "normalize_tools",
    "template_for",
]

Piece = str | int | tuple

QWEN25_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
SMOLLM_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
NO_THINK_PREFIX = "<think>\n\n</think>\n\n"
_TOOLS_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_TOOLS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    'within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
    '"arguments": <args-json-object>}\n</tool_call>'
)


def _tojson(value: Any) -> str:
    # Hugging Face's ``tojson`` filter: json.dumps with ensure_ascii=False and default separators.
    return json.dumps(value, ensure_ascii=False)


MAX_TOOL_NAME = 128  # MCP's limit; OpenAI's is 64
_TOOL_NAME = re.compile(rf"[\w.-]{{1,{MAX_TOOL_NAME}}}")  # \w: letters and digits of any script


def normalize_tools(tools: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Accept OpenAI-style ``{"type": "function", "function": {...}}`` or bare function specs
    (a Python function becomes one in ``toolspec.tool_specs``, before this)."""
    if isinstance(tools, (str, dict)):  # one tool, or a name: iterating it would read keys or letters
        raise InvalidRequestError(f"tools must be a list of function specs, got one {type(tools).__name__}.", "tools")
    if tools is not None and not is_list(tools):
        raise InvalidRequestError(f"tools must be a list of function specs, got {type(tools).__name__}.", "tools")
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, tool in enumerate(tools or ()):
        if not isinstance(tool, dict):
            raise InvalidRequestError(
                f"tools[{i}] must be a dict (a JSON Schema function spec) or a Python function.", "tools"
            )
        fn = tool.get("function", tool) if tool.get("type", "function") == "function" else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequestError(
                f"tools[{i}] needs a function name: use {{'type': 'function', 'function': "
                "{'name': ..., 'description': ..., 'parameters': {...}}}.",
                "tools",
            )
        if not _TOOL_NAME.fullmatch(fn["name"]):
            # a call's name is parsed back out of the model's text: markup or quotes in it break the
            # parse ('x</tool_call>' came back as text), and OpenAI and MCP refuse such names too
            raise InvalidRequestError(
                f"tools[{i}] has the function name {fn['name'][:80]!r}: a name is letters, digits, '_', "
                f"'-' or '.', at most {MAX_TOOL_NAME} characters (e.g. 'get_weather').",
                "tools",
            )
        if fn["name"] in names:  # a call names its tool: two of one name cannot be told apart
            raise InvalidRequestError(
                f"tools[{i}] repeats the function name {fn['name']!r}; names must differ.", "tools"
            )
        names.add(fn["name"])
        try:  # the template renders the spec as JSON text: it must be JSON, and valid Unicode
            if nesting(fn, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:  # as 3.11's json.dumps refused it (3.14's goes on)
                raise RecursionError
            check_text(json.dumps(fn, ensure_ascii=False), f"tools[{i}]")
        except RecursionError as exc:
            raise InvalidRequestError(
                f"tools[{i}] nests its objects and arrays too deep to be written as JSON; define the deep parts "
                "of its parameters under $defs and refer to them with $ref.",
                "tools",
            ) from exc
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InvalidRequestError):
                raise
            raise InvalidRequestError(f"tools[{i}] is not JSON-serialisable: {exc}.", "tools") from exc
        params = fn.get("parameters")
        # a call's arguments are a JSON object (Qwen's template and OpenAI's API alike)
        if params is not None and (not isinstance(params, dict) or params.get("type", "object") != "object"):
            raise InvalidRequestError(
                f"tools[{i}].function.parameters must be a JSON Schema of type 'object' (the call's "
                f"arguments are an object), got {json.dumps(params)[:80]}.",
                "tools",
            )
        out.append({"type": "function", "function": fn})
    return out


@dataclass(frozen=True)
class ChatTemplate:
    """One model family's prompt format."""

    family: str  # "qwen2.5" | "qwen3" | "chatml" | "remote" (a server applies its own template)
    default_system: str | None = None
    im_start: int | None = None
    im_end: int | None = None

    def recommended_config(self, enable_thinking: bool = False) -> GenerationConfig:
        """Sampling defaults from the model cards, as the catalog records them per family
        (Qwen3 has a second set for thinking mode). SmolLM2-135M loops under plain greedy
        decoding; its entry adds a 1.1 repetition penalty."""
        from .catalog import catalog

        spec = next((m for m in catalog() if m.family == self.family), None)
        defaults = dict(spec.defaults) if spec else {}
        thinking = defaults.pop("thinking", {})
        if enable_thinking:
            defaults.update(thinking)
        return GenerationConfig(**defaults)

    @property
    def supports_thinking(self) -> bool:
        return self.family in ("qwen3", "remote")  # a remote server says itself if it cannot

    def opening_turn(self, token_ids: Sequence[int]) -> int:
        """How many first tokens of a prompt this template rendered are its opening turn, up to the
        next turn's start (0 where no turn follows): where that turn is the system prompt with the
        tools, the part an app's other prompts start with too."""
        if self.im_start is None or not token_ids or token_ids[0] != self.im_start:
            return 0
        try:
            return token_ids.index(self.im_start, 1)
        except ValueError:
            return 0

    def generation_prefix(self, enable_thinking: bool) -> str:
        """Text the prompt itself puts at the start of the assistant's turn."""
        return NO_THINK_PREFIX if self.family == "qwen3" and not enable_thinking else ""

    def render(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
        enable_thinking: bool = False,
    ) -> list[Piece]:
        tools = normalize_tools(tools)
        pieces: list[Piece] = []
        start, end = self.im_start, self.im_end

        def turn(role: str, *body: Piece) -> None:
            pieces.extend([start, role + "\n", *body, end, "\n"])

        msgs = list(messages)
        system = msgs.pop(0).content if msgs and msgs[0].role == "system" else None
        if tools:
            head = system if system is not None else (self.default_system or "")
            if self.family == "qwen2.5":
                text = head + "\n\n" + _TOOLS_HEAD
            else:
                text = (head + "\n\n" if head else "") + _TOOLS_HEAD
            text += "".join("\n" + _tojson(t) for t in tools) + _TOOLS_TAIL
            turn("system", text)
        elif system is not None:
            turn("system", system)
        elif self.default_system is not None:
            turn("system", self.default_system)

        last_user = max((i for i, m in enumerate(msgs) if m.role == "user"), default=-1)
        for i, msg in enumerate(msgs):
            if msg.role == "assistant":
                pieces.extend(self._assistant(msg, after_last_user=i > last_user))
            elif msg.role == "tool":
                if i == 0 or msgs[i - 1].role != "tool":
                    pieces.extend([start, "user"])
                pieces.append("\n<tool_response>\n" + msg.content + "\n</tool_response>")
                if i == len(msgs) - 1 or msgs[i + 1].role != "tool":
                    pieces.extend([end, "\n"])
            else:
                turn(msg.role, msg.content)
        if add_generation_prompt:
            pieces.extend([start, "assistant\n" + self.generation_prefix(enable_thinking)])
        return pieces

    def _assistant(self, msg: Message, after_last_user: bool) -> list[Piece]:
        start, end = self.im_start, self.im_end
        if msg.token_ids is not None and not msg.thinking:
            return [start, "assistant\n", tuple(msg.token_ids), end, "\n"]
        content = msg.content
        if self.family == "qwen3" and msg.thinking and after_last_user:
            content = "<think>\n" + msg.thinking.strip("\n") + "\n</think>\n\n" + content.lstrip("\n")
        if not msg.tool_calls:
            return [start, "assistant\n" + content, end, "\n"]
        text = "assistant"
        if content:
            text += "\n" + content
        for call in msg.tool_calls:
            # the official template writes the name bare: the same text for every name a tool may
            # have (normalize_tools), and still JSON for one a history brings from elsewhere
            text += '\n<tool_call>\n{"name": ' + _tojson(call.name) + ', "arguments": ' + _tojson(call.arguments)
            text += "}\n</tool_call>"
        return [start, text, end, "\n"]

    def encode(self, tokenizer: Tokenizer, pieces: Sequence[Piece]) -> list[int]:
        """Pieces to ids; adjacent text pieces are joined first so tokenization matches the
        official template's (which tokenizes the whole string, splitting at control tokens)."""
        ids: list[int] = []
        text = ""
        for piece in pieces:
            if isinstance(piece, str):
                text += piece
                continue
            ids.extend(tokenizer.encode(text))
            text = ""
            if isinstance(piece, tuple):
                ids.extend(piece)
            elif piece is not None:
                ids.append(piece)
        ids.extend(tokenizer.encode(text))
        return ids


def template_for(model_type: str, tokenizer: Tokenizer) -> ChatTemplate:
    """The template for a genai_config ``model.type`` (qwen2, qwen3, llama)."""
    start, end = tokenizer.token_id("<|im_start|>"), tokenizer.token_id("<|im_end|>")
    if start is None or end is None:
        raise InvalidRequestError(
            "This tokenizer has no <|im_start|>/<|im_end|> tokens, so it is not a ChatML model; "
            "edgeqwen supports Qwen2.5, Qwen3 and ChatML models such as SmolLM2."
        )
    if model_type == "qwen2":
        return ChatTemplate("qwen2.5", QWEN25_DEFAULT_SYSTEM, start, end)
    if model_type == "qwen3":
        return ChatTemplate("qwen3", None, start, end)
    return ChatTemplate("chatml", SMOLLM_DEFAULT_SYSTEM, start, end)


# ---------------------------------------------------------------------------------------------
# Output parsing: thinking text, tool calls and the answer, also while streaming.

_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


@dataclass(frozen=True)
class ParsedOutput:
    content: str
    thinking: str
    tool_calls: tuple[ToolCall, ...]


def _parse_tool_calls(text: str) -> tuple[tuple[ToolCall, ...], bool]:
    """The calls in ``text``, and whether every ``<tool_call>`` block was one."""
    calls, blocks = [], _TOOL_CALL.findall(text)
    for body in blocks:
        try:
            data = load_json(body)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"]:
            args = data.get("arguments", {})
            if isinstance(args, str):
                try:
                    args = load_json(args)
                except json.JSONDecodeError:
                    args = {"_raw": args}
            calls.append(ToolCall(data["name"], args if isinstance(args, dict) else {"_value": args}))
    return tuple(calls), len(calls) == len(blocks)


class OutputParser:
    """Splits the model's text stream into thinking and answer, hiding tool-call markup.

    ``seed``: what the prompt already wrote of the answer (a continued assistant message): read
    as the start of the stream, so its thinking and markup are understood, and never given out
    again: the answer and thinking are what the model adds.
    """

    _OPEN, _CLOSE, _CALL = "<think>", "</think>", "<tool_call>"

    def __init__(self, allow_thinking: bool, seed: str = "") -> None:
        self.allow_thinking = allow_thinking
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self._raw = ""
        self._emitted = 0  # chars of the answer region already emitted
        self._answer_start = 0 if not self.allow_thinking else None
        self._thought_emitted = 0  # chars of the thinking already given by thinking_delta
        self._seed_answer = self._seed_thought = 0
        if self.seed:
            self.feed(self.seed)
            self.thinking_delta()
            if self._answer_start is not None:  # held-back markup of the seed is the caller's too
                self._emitted = len(self._raw) - self._answer_start
            self._seed_answer, self._seed_thought = self._emitted, self._thought_emitted

    def _find_answer_start(self) -> int | None:
        raw = self._raw.lstrip()
        offset = len(self._raw) - len(raw)
        if not raw.startswith(self._OPEN):
            if self._OPEN.startswith(raw):
                return None  # could still become "<think>"
            return 0
        close = raw.find(self._CLOSE)
        if close < 0:
            return None
        return offset + close + len(self._CLOSE)

    def feed(self, text: str) -> str:
        """Add model text; return the answer text that is now safe to show."""
        self._raw += text
        if self._answer_start is None:
            self._answer_start = self._find_answer_start()
            if self._answer_start is None:
                return ""
            # skip the blank lines after </think>
            rest = self._raw[self._answer_start :]
            self._answer_start += len(rest) - len(rest.lstrip("\n"))
            if not rest.strip("\n"):
                self._answer_start = None
                return ""
        answer = self._raw[self._answer_start :]
        call = answer.find(self._CALL)
        if call >= 0:
            safe = call
        else:
            safe = len(answer)
            for k in range(min(len(self._CALL) - 1, len(answer)), 0, -1):
                if self._CALL.startswith(answer[-k:]):
                    safe = len(answer) - k
                    break
        out = answer[self._emitted : safe] if safe > self._emitted else ""
        self._emitted = max(self._emitted, safe)
        return out

    @property
    def raw_text(self) -> str:
        return self._raw

    def thinking_delta(self) -> str:
        """The thinking written since the last call that is safe to show: what may still be the
        start of ``</think>``, and newlines that may be the last before it, are held back, so the
        pieces add up to :meth:`finish`'s ``thinking``."""
        stripped = self._raw.lstrip()
        if not self.allow_thinking or not stripped.startswith(self._OPEN):
            return ""
        body = stripped[len(self._OPEN) :]
        close = body.find(self._CLOSE)
        if close >= 0:
            region = body[:close]
        else:
            hold = next((k for k in range(len(self._CLOSE) - 1, 0, -1) if body.endswith(self._CLOSE[:k])), 0)
            region = body[: len(body) - hold]
        region = region.lstrip("\n").rstrip("\n")  # as finish() strips them
        out = region[self._thought_emitted :]
        self._thought_emitted = max(self._thought_emitted, len(region))
        return out

    @property
    def answering(self) -> bool:
        """The answer has begun: any thinking has ended."""
        return self._answer_start is not None

    def finish(self, cut: bool = False) -> tuple[str, ParsedOutput]:
        """End of stream: the answer text still held back, and the whole output parsed.
        What :meth:`feed` returned plus that tail equals ``content``, so a streamed answer and
        a non-streamed one are the same. ``cut``: the answer was ended by a bound (max_tokens),
        so a last call left open and unreadable is a call cut short, not text: it is left out
        (the finish reason says why), as it is while streaming."""
        raw, thinking = self._raw, ""
        stripped = raw.lstrip()
        if self.allow_thinking and stripped.startswith(self._OPEN):
            thinking = stripped[len(self._OPEN) :].split(self._CLOSE, 1)[0].strip("\n")
        if self._answer_start is not None:
            content = raw[self._answer_start :]
        elif stripped.startswith(self._OPEN) or not stripped:
            content = ""  # cut off while thinking, or nothing after </think>
        else:
            content = raw  # began like "<think>" but never was
        last = content.rfind(self._CALL)
        if cut and last >= 0 and "</tool_call>" not in content[last:] and not _parse_tool_calls(content[last:])[0]:
            content = content[:last]  # `<tool_call>\n{"name": "f", "argu` at max_tokens: no call, no text
        calls, every_call_parsed = _parse_tool_calls(content)
        # markup that is not a call stays in the text: the model's words are never dropped unseen
        visible = content.split(self._CALL, 1)[0] if every_call_parsed else content
        added = ParsedOutput(visible[self._seed_answer :], thinking[self._seed_thought :], calls)
        return visible[self._emitted :], added


class PlainParser:
    """:class:`OutputParser`'s shape for a raw completion: the text is the answer as the model
    wrote it, markup included (there was no template to say what markup means)."""

    allow_thinking = False
    answering = True

    def thinking_delta(self) -> str:
        return ""

    def __init__(self) -> None:
        self._raw = ""

    def feed(self, text: str) -> str:
        self._raw += text
        return text

    @property
    def raw_text(self) -> str:
        return self._raw

    def finish(self, cut: bool = False) -> tuple[str, ParsedOutput]:
        return "", ParsedOutput(self._raw, "", ())
