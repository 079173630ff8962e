"""Grammar-constrained decoding with llguidance: JSON Schema, pydantic models, any-JSON, regex,
choices and Lark grammars, enforced token by token inside our generation loop.

Each step the constraint computes the set of allowed tokens (a bitmask over the 151,936-wide
logits), masks everything else to -inf, and the sampler picks among what is left, so sampling
settings still apply inside the allowed set. When the grammar is complete only the stop tokens
are allowed. JSON is compact (no free whitespace) and every value is bounded (schema.py), so a
weak model cannot run a value to the token limit. Every result is parsed and checked again
(``jsonschema`` / pydantic) before it is returned.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from ..errors import BackendUnavailableError, GrammarError, StructuredOutputError
from .schema import DEFAULT_MAX_STRING, decoding_schema

__all__ = [
    "MARKERS",
    "FastForwardConstraint",
    "GrammarConstraint",
    "GrammarEngine",
    "RelaxedConstraintWarning",
    "ResponseFormat",
]


class RelaxedConstraintWarning(UserWarning):
    """``lenient=True`` let a schema compile without enforcing some keywords during decoding."""


Kind = Literal["json_schema", "json_object", "regex", "choice", "lark", "tool_call"]
COMPILE_TIME_LIMIT_S = 10.0
GRAMMAR_CACHE_SIZE = 64  # compiled response formats kept per model


# Qwen's tool-call and thinking markers are special tokens; in other ChatML vocabularies (the
# demo model's) they are plain text, and the grammar must say them as text.
MARKERS = frozenset({"<tool_call>", "</tool_call>", "<think>", "</think>"})


# Python-only regex syntax that a JSON Schema ``pattern`` (ECMA-262) cannot carry.
_PY_ONLY_REGEX = re.compile(r"\(\?P[<=]|\(\?[aiLmsux]+[):]|\\[AZ]|\(\?#|\(\?\(")


def _json_string_value(text: str) -> str:
    """The string a JSON-string answer stands for (the text itself while it is incomplete)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text  # incomplete (max_tokens): the caller's validation reports it with the raw text
    return value if isinstance(value, str) else text


def _marker(name: str, special: Collection[str]) -> str:
    """A marker in Lark: a special-token reference, or a string literal."""
    return name if name in special else json.dumps(name)


@dataclass(frozen=True)
class ResponseFormat:
    """What shape the answer must have. Build one with :meth:`of` from a JSON Schema dict, a
    pydantic model class, ``{"type": "json_object"}``, an OpenAI ``json_schema`` format, or use
    :meth:`regex`, :meth:`choice`, :meth:`lark`."""

    kind: Kind
    schema: dict[str, Any] | None = None
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    grammar: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    lenient: bool = False
    max_string_length: int | None = DEFAULT_MAX_STRING
    # patterned and formatted strings get max_string_length too, unless that leaves no value
    bound_patterns: bool = True
    thinking_budget: int = 4096  # characters of Qwen3 thinking allowed before the answer must start
    fast_forward: bool = True  # append tokens the grammar forces without sampling them
    model: Any = field(default=None, compare=False)  # pydantic class, for validation

    @classmethod
    def of(cls, spec: Any, *, lenient: bool = False) -> ResponseFormat:
        if isinstance(spec, ResponseFormat):
            return spec
        if isinstance(spec, type) and hasattr(spec, "model_json_schema"):
            try:
                schema = spec.model_json_schema()
            except Exception as exc:  # pydantic raises PydanticSchemaGenerationError and others
                raise GrammarError(
                    f"The pydantic model {spec.__name__} has a field type that has no JSON Schema ({exc}); "
                    "use JSON-compatible field types (str, int, float, bool, lists, nested models, Literal)."
                ) from exc
            return cls("json_schema", schema=schema, lenient=lenient, model=spec)
        if isinstance(spec, dict):
            if spec.get("type") == "json_object":
                inner = spec.get("schema")
                return cls("json_schema", schema=inner, lenient=lenient) if inner else cls("json_object")
            if spec.get("type") == "json_schema" and isinstance(spec.get("json_schema"), dict):
                inner = spec["json_schema"]
                # OpenAI's "strict": false: enforce what decoding can, check the rest on the result
                relaxed = lenient or inner.get("strict") is False
                return cls("json_schema", schema=inner.get("schema", {}), lenient=relaxed)
            return cls("json_schema", schema=spec, lenient=lenient)
        raise GrammarError(
            f"Unsupported response format {type(spec).__name__}: pass a JSON Schema dict, a pydantic model class, "
            '{"type": "json_object"}, or ResponseFormat.regex(...) / .choice(...) / .lark(...).'
        )

    @classmethod
    def regex(cls, pattern: str) -> ResponseFormat:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise GrammarError(f"The regex {pattern!r} does not compile: {exc}.") from exc
        return cls("regex", pattern=pattern)

    @classmethod
    def choice(cls, options: Sequence[str]) -> ResponseFormat:
        opts = tuple(options)
        if not opts or not all(isinstance(o, str) and o for o in opts):
            raise GrammarError("choice needs a non-empty list of non-empty strings.")
        return cls("choice", choices=opts)

    @classmethod
    def lark(cls, grammar: str) -> ResponseFormat:
        return cls("lark", grammar=grammar)

    @classmethod
    def tool_call(cls, tools: Sequence[dict[str, Any]], name: str | None = None) -> ResponseFormat:
        """One Qwen ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` whose arguments are
        valid for the chosen function (or for ``name``, when given)."""
        from ..chat import normalize_tools

        fns = [t["function"] for t in normalize_tools(tools)]
        if name is not None:
            fns = [f for f in fns if f["name"] == name]
            if not fns:
                raise GrammarError(
                    f"tool_choice names {name!r}, which is not among the tools given.", param="tool_choice"
                )
        if not fns:
            raise GrammarError("A tool call was required but no tools were given.", param="tools")
        return cls("tool_call", tools=tuple(fns))

    def tool_call_schema(self) -> dict[str, Any]:
        """One tool call as JSON, ``{"name": ..., "arguments": {...}}`` with arguments valid for the
        named tool (in their decoding form): the one place the tool-call schema is written."""
        variants = []
        for fn in self.tools:
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            variants.append(
                {
                    "type": "object",
                    "properties": {
                        "name": {"const": fn["name"]},
                        "arguments": decoding_schema(params, self.max_string_length, self.bound_patterns),
                    },
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
            )
        return variants[0] if len(variants) == 1 else {"anyOf": variants}

    def json_schema_form(self) -> tuple[dict[str, Any], Callable[[str], str] | None]:
        """This format as one JSON Schema, for engines that take only JSON Schema (MLC, a remote
        OpenAI-compatible server), and how to turn the JSON they write back into our answer text
        (None: the JSON is the answer). Fails closed where JSON Schema cannot say it."""
        if self.kind in ("json_schema", "json_object"):
            schema = self.schema if self.kind == "json_schema" else {"type": "object"}
            return decoding_schema(schema or {}, self.max_string_length, self.bound_patterns), None
        if self.kind == "choice":
            return {"enum": list(self.choices)}, _json_string_value
        if self.kind == "regex":
            pattern = self.pattern or ""
            if _PY_ONLY_REGEX.search(pattern):
                raise GrammarError(
                    f"The regex {pattern!r} uses Python-only syntax that a JSON Schema pattern cannot carry; "
                    "rewrite it without named groups, inline flags or \\A/\\Z, or use backend='onnx'."
                )
            return {"type": "string", "pattern": f"^(?:{pattern})$"}, _json_string_value
        if self.kind == "tool_call":
            return self.tool_call_schema(), lambda text: f"<tool_call>\n{text.strip()}\n</tool_call>"
        raise GrammarError(
            f"This backend cannot express a {self.kind} constraint (it takes JSON Schema only); "
            "use a JSON Schema, regex or choice, or backend='onnx'."
        )

    def _tool_rule(self, special: Collection[str]) -> str:
        # Qwen writes tool calls the way its chat template renders them: json.dumps separators.
        schema = {
            **self.tool_call_schema(),
            "x-guidance": {
                "whitespace_flexible": False,
                "item_separator": ", ",
                "key_separator": ": ",
                "lenient": self.lenient,
            },
        }
        open_, close = _marker("<tool_call>", special), _marker("</tool_call>", special)
        return f'{open_} "\\n" %json {json.dumps(schema)} "\\n" {close}'

    # -- grammar ------------------------------------------------------------------------------
    def _json_grammar(self, schema: dict[str, Any] | None) -> str:
        from llguidance import LLMatcher

        if schema is not None and not isinstance(schema, dict):
            raise GrammarError(f"A JSON Schema must be a JSON object, got {type(schema).__name__}.")
        schema = decoding_schema(schema if schema is not None else {}, self.max_string_length, self.bound_patterns)
        options = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":", "lenient": self.lenient}
        try:
            return LLMatcher.grammar_from_json_schema(schema, overrides=options)
        except ValueError as exc:
            raise GrammarError(f"Invalid JSON Schema: {exc}") from exc

    def grammar_text(self, thinking: bool = False, special: Collection[str] = MARKERS) -> str:
        """The llguidance grammar; with ``thinking`` one ``<think>…</think>`` block may come first.
        ``special``: the markers that are special tokens of the tokenizer; the others are text."""
        from llguidance import LLMatcher

        if self.kind == "json_schema":
            grammar = self._json_grammar(self.schema)
        elif self.kind == "json_object":
            grammar = self._json_grammar({"type": "object"})
        elif self.kind == "regex":
            grammar = LLMatcher.grammar_from_regex(self.pattern or "")
        elif self.kind == "choice":
            grammar = LLMatcher.grammar_from_lark("start: " + " | ".join(json.dumps(c) for c in self.choices))
        elif self.kind == "tool_call":
            grammar = LLMatcher.grammar_from_lark("start: " + self._tool_rule(special))
        else:
            grammar = LLMatcher.grammar_from_lark(self.grammar or "")
        if not thinking:
            return grammar
        # The answer as a rule after one <think>...</think> block (Qwen3 opens it itself).
        if self.kind in ("json_schema", "json_object"):
            body = json.loads(grammar)["grammars"][0]["json_schema"]
            answer = "%json " + json.dumps(body)
        elif self.kind == "regex":
            answer = "/" + (self.pattern or "").replace("/", "\\/") + "/"
        elif self.kind == "choice":
            answer = " | ".join(json.dumps(c) for c in self.choices)
        elif self.kind == "tool_call":
            answer = self._tool_rule(special)
        else:
            raise GrammarError(
                "A Lark response format cannot be combined with thinking; add the think block "
                "to your grammar (start: <think> /(.|\\n)*/ </think> ...) or turn thinking off."
            )
        think = f"/(.|\\n){{0,{int(self.thinking_budget)}}}/"
        open_, close = _marker("<think>", special), _marker("</think>", special)
        lark = f"start: {open_} THINK {close} /\\n*/ answer\nTHINK: {think}\nanswer: " + answer
        return LLMatcher.grammar_from_lark(lark)

    # -- results ------------------------------------------------------------------------------
    def check_tool_calls(self, calls: Sequence[Any], text: str) -> tuple[Any, ...]:
        """Constrained tool calls, validated against their function's parameters."""
        import jsonschema

        if not calls:
            raise StructuredOutputError("The answer holds no complete tool call; raise max_tokens.", text)
        by_name = {fn["name"]: fn for fn in self.tools}
        for call in calls:
            fn = by_name.get(call.name)
            if fn is None:
                raise StructuredOutputError(f"The model called an unknown tool {call.name!r}.", text)
            try:
                jsonschema.validate(call.arguments, fn.get("parameters") or {})
            except jsonschema.ValidationError as exc:
                raise StructuredOutputError(f"Arguments of {call.name} do not validate: {exc.message}", text) from exc
        return tuple(calls)

    def parse(self, text: str) -> Any:
        """The value the answer stands for, checked again independently of the grammar."""
        if self.kind in ("json_schema", "json_object"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise StructuredOutputError(
                    f"The answer is not complete JSON ({exc.msg} at {exc.pos}); raise max_tokens.", text
                ) from exc
            if self.model is not None:
                try:
                    return self.model.model_validate(value)
                except Exception as exc:  # pydantic.ValidationError
                    raise StructuredOutputError(f"The answer does not validate: {exc}", text) from exc
            if self.schema:
                import jsonschema

                try:
                    jsonschema.validate(value, self.schema)
                except jsonschema.ValidationError as exc:
                    raise StructuredOutputError(f"The answer does not validate: {exc.message}", text) from exc
            return value
        if self.kind == "regex":
            if not re.fullmatch(self.pattern or "", text):
                raise StructuredOutputError(f"The answer does not match {self.pattern!r}; raise max_tokens.", text)
            return text
        if self.kind == "choice":
            if text not in self.choices:
                raise StructuredOutputError(f"The answer {text!r} is not one of the choices.", text)
            return text
        return text


class GrammarEngine:
    """llguidance bound to one tokenizer: compiles (with a cache) and makes constraints."""

    def __init__(self, tokenizer_json: str, vocab_size: int, stop_ids: Sequence[int]) -> None:
        try:
            from llguidance import LLTokenizer
        except ImportError as exc:  # pragma: no cover - llguidance is a runtime dependency
            raise BackendUnavailableError("Structured output needs llguidance: pip install llguidance") from exc
        self.vocab_size = vocab_size
        self.tokenizer = LLTokenizer(tokenizer_json, n_vocab=vocab_size, eos_token=list(stop_ids))
        self.special_markers = frozenset(m for m in MARKERS if self._is_special(m))
        # bounded: a server compiles whatever schemas its clients send, for as long as it runs
        self._cache: OrderedDict[tuple[str, bool], str] = OrderedDict()
        self.compile_times: deque[float] = deque(maxlen=1024)

    def _is_special(self, text: str) -> bool:
        ids = self.tokenizer.tokenize_str(text)
        return len(ids) == 1 and self.tokenizer.is_special_token(ids[0])

    def compile(self, fmt: ResponseFormat, thinking: bool = False) -> str:
        from llguidance import LLMatcher

        spec = {f.name: getattr(fmt, f.name) for f in fields(fmt) if f.name != "model"}
        key = (json.dumps(spec, sort_keys=True, default=str), thinking)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        start = time.perf_counter()
        grammar = fmt.grammar_text(thinking, self.special_markers)
        is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, self.tokenizer)
        if is_error and fmt.bound_patterns and re.search(r"Unsatisfiable|regex is empty", messages[0]):
            # a pattern or format whose values are longer than the default bound: leave it unbounded
            grammar = replace(fmt, bound_patterns=False).grammar_text(thinking, self.special_markers)
            is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, self.tokenizer)
        elapsed = time.perf_counter() - start
        self.compile_times.append(elapsed)
        if is_error:
            raise _explain(messages[0], fmt)
        if messages and fmt.lenient:
            import warnings

            warnings.warn(
                "lenient=True: not enforced while decoding (checked on the result instead): " + "; ".join(messages),
                RelaxedConstraintWarning,
                stacklevel=4,
            )
        if elapsed > COMPILE_TIME_LIMIT_S:
            raise GrammarError(f"Compiling this response format took {elapsed:.1f} s; simplify the schema.")
        self._cache[key] = grammar
        if len(self._cache) > GRAMMAR_CACHE_SIZE:
            self._cache.popitem(last=False)  # the least recently used
        return grammar

    def constraint(self, fmt: ResponseFormat, prompt_len: int, thinking: bool = False) -> GrammarConstraint:
        cls = FastForwardConstraint if fmt.fast_forward else GrammarConstraint
        return cls(self, self.compile(fmt, thinking), prompt_len)


def _explain(message: str, fmt: ResponseFormat) -> GrammarError:
    """llguidance's message as one short line that says what to do; never its grammar dump."""
    m = re.search(r"Unimplemented keys: \[(.*?)\]", message)
    if m:
        keys = tuple(k.strip().strip("\"'") for k in m.group(1).split(","))
        return GrammarError(
            f"The JSON Schema uses keyword(s) {m.group(1)} that constrained decoding cannot enforce. "
            "Remove them, or pass lenient=True to enforce the rest (the result is still validated "
            "against the full schema afterwards).",
            unsupported=keys,
        )
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    first = first if len(first) <= 300 else first[:300] + "..."
    if fmt.kind == "regex":
        return GrammarError(f"The regex {fmt.pattern!r} cannot be compiled: {first}")
    return GrammarError(f"The response format cannot be compiled: {first}")


class GrammarConstraint:
    """A stateful logits processor: consumes the tokens sampled since its last call, then masks
    every token the grammar does not allow next."""

    def __init__(self, engine: GrammarEngine, grammar: str, prompt_len: int) -> None:
        from llguidance import LLMatcher

        self._matcher = LLMatcher(engine.tokenizer, grammar)
        if self._matcher.is_error():
            raise GrammarError(self._matcher.get_error())
        self._prompt_len = prompt_len
        self._seen = prompt_len
        self._mask = np.zeros((engine.vocab_size + 31) // 32, dtype=np.int32)
        self.mask_times: list[float] = []

    def reset(self) -> None:
        self._matcher.reset()
        self._seen = self._prompt_len

    @property
    def done(self) -> bool:
        return self._matcher.is_stopped() or self._matcher.is_accepting()

    def _catch_up(self, token_ids: np.ndarray) -> None:
        new = [int(t) for t in token_ids[self._seen :]]
        if new and not self._matcher.consume_tokens(new):
            raise GrammarError(f"The grammar rejected a token it allowed: {self._matcher.get_error()}")
        self._seen = len(token_ids)

    def __call__(self, token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        self._catch_up(token_ids)
        start = time.perf_counter()
        self._matcher.unsafe_compute_mask_ptr(self._mask.ctypes.data, self._mask.nbytes)
        allowed = np.unpackbits(self._mask.view(np.uint8), count=logits.size, bitorder="little").view(bool)
        out = np.where(allowed, logits, np.float32(-np.inf))
        self.mask_times.append(time.perf_counter() - start)
        return out


class FastForwardConstraint(GrammarConstraint):
    """Also tells the loop which tokens the grammar forces next (e.g. a fixed key), so they are
    appended without a sampling step each."""

    def fast_forward(self, token_ids: np.ndarray) -> list[int]:
        self._catch_up(token_ids)
        forced = [int(t) for t in self._matcher.compute_ff_tokens()]
        if forced:
            if not self._matcher.consume_tokens(forced):
                raise GrammarError(f"The grammar rejected its own forced tokens: {self._matcher.get_error()}")
            self._seen += len(forced)
        return forced
