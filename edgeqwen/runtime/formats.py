"""What shape an answer must have: :class:`ResponseFormat` — a JSON Schema, a pydantic model, any
JSON object, a regex, a choice, a Lark grammar or a forced tool call — with its validation of a
finished answer and its JSON Schema form. The one description every backend reads: the llguidance
grammar (grammar.py), MLC and a remote OpenAI-compatible server (its JSON Schema form).
"""

from __future__ import annotations

import functools
import json
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import regex

from ..errors import GrammarError, StructuredOutputError
from ..jsontext import nesting
from ..types import is_list
from .check import check, require_format_packages
from .digits import Widths
from .documents import bundled
from .patterns import SEARCH_TIMEOUT_S, lark_too_large, nested_too_deeply, too_large
from .pydantic_schema import pydantic_generator
from .relax import Relaxed, Validate, check_grammar_text, relax, validate_grammar
from .schema import ANY_DEPTH, ANY_LAST, ANY_MEMBERS, DEFAULT_MAX_STRING, FREE_KEY, MAX_KEY, SCALAR_REF, bound_numbers
from .walk import has_local_ref, key_patterns, rerooted

__all__ = ["Kind", "ResponseFormat"]

Kind = Literal["json_schema", "json_object", "regex", "choice", "lark", "tool_call"]

# Python-only regex syntax that a JSON Schema ``pattern`` (ECMA-262) cannot carry.
_PY_ONLY_REGEX = re.compile(r"\(\?P[<=]|\(\?[aiLmsux]+[):]|\\[AZ]|\(\?#|\(\?\(")


def _deepest(value: Any, schemas: list[Any], tools: bool) -> str | None:
    """The depth bound's report: a free-form value of ``value`` (with ``tools``, of a call's arguments)
    that holds a container at the any JSON's last level, which decoding closes as it opens it (the
    model went deeper there). Read by validating against each schema as decoded with that level
    held to scalars; where the any JSON is written in place (nested ids) it is not read."""
    shallower = []
    for schema in schemas:
        defs = schema.get("$defs") if isinstance(schema, dict) else None
        if isinstance(defs, dict) and ANY_LAST in defs:
            shallower.append((schema, {**schema, "$defs": {**defs, ANY_LAST: SCALAR_REF}}))
    for item in value if tools else [value]:
        try:
            deeper = any(check(item, s) is None for s, _ in shallower) and all(
                check(item, s) is not None for _, s in shallower
            )
        except GrammarError:  # a form jsonschema cannot read: the depth cannot be told, nothing is said
            deeper = False
        if deeper:
            return (
                f"A free-form value of the answer reached {ANY_DEPTH} levels of nesting, the most it is written "
                "with, and the model opened a value deeper than that, which was closed empty: the answer was cut "
                "there. Describe the deeper value in a schema."
            )
    return None


def _fullmatch(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern`` whole, checked apart from the grammar where that is quick;
    past :data:`SEARCH_TIMEOUT_S` (an answer cut at max_tokens under a pattern that backtracks)
    llguidance's matcher, linear in the text, decides."""
    try:
        return regex.fullmatch(pattern, text, timeout=SEARCH_TIMEOUT_S) is not None
    except TimeoutError:
        from llguidance import LLMatcher

        from .matcher import byte_tokenizer

        tokenizer = byte_tokenizer()
        matcher = LLMatcher(tokenizer, LLMatcher.grammar_from_regex(pattern), log_level=0)
        return bool(matcher.consume_tokens(tokenizer.tokenize_bytes(text.encode())) and matcher.is_accepting())


# what each kind of format is made of (ResponseFormat's field), for one built directly
_PARTS = {"json_schema": "schema", "regex": "pattern", "lark": "grammar", "choice": "choices", "tool_call": "tools"}


def _with(schema: Any, resources: Mapping[str, Any] | None) -> Any:
    """The schema with the documents it refers to bundled in, where the caller gave any."""
    return bundled(schema, resources) if resources and isinstance(schema, dict) else schema


def _json_string_value(text: str) -> str:
    """The string a JSON-string answer stands for (the text itself while it is incomplete)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text  # incomplete (max_tokens): the caller's validation reports it with the raw text
    return value if isinstance(value, str) else text


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
    max_string_length: int | None = DEFAULT_MAX_STRING
    # patterned and formatted strings get max_string_length too, unless that leaves no value
    bound_patterns: bool = True
    thinking_budget: int = 4096  # characters of Qwen3 thinking allowed before the answer must start
    fast_forward: bool = True  # append tokens the grammar forces without sampling them
    model: Any = field(default=None, compare=False)  # pydantic class or TypeAdapter, for validation

    def __post_init__(self) -> None:
        # one built directly is held to what of() and the builders ensure (ResponseFormat("regex") answered "")
        kinds = typing.get_args(Kind)
        if self.kind not in kinds:
            raise GrammarError(f"Unknown response format kind {self.kind!r}; one of {', '.join(kinds)}.")
        part = _PARTS.get(self.kind)
        if part is not None and (getattr(self, part) is None if part == "schema" else not getattr(self, part)):
            raise GrammarError(
                f"A {self.kind} response format needs its {part}: build one with ResponseFormat.of(schema), "
                ".regex(pattern), .choice(options) or .lark(grammar)."
            )
        # a count is built piece by piece: "a{99999999}" would take gigabytes (patterns.py)
        if self.kind == "regex" and (why := too_large(self.pattern or "", "The regex")) is not None:
            raise GrammarError(f"{why}.")
        if self.kind == "lark" and (why := lark_too_large(self.grammar or "")) is not None:
            raise GrammarError(f"{why}.")
        bound = self.max_string_length
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool) or bound < 1):
            raise GrammarError(f"max_string_length must be a whole number >= 1 (or None: unbounded), got {bound!r}.")
        budget = self.thinking_budget
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
            raise GrammarError(f"thinking_budget must be a whole number >= 0, got {budget!r}.")
        for schema in [self.schema] + [fn.get("parameters") for fn in self.tools if isinstance(fn, dict)]:
            require_format_packages(schema)  # said now, not after the answer is generated

    @classmethod
    def of(
        cls, spec: Any, *, resources: Mapping[str, dict[str, Any]] | None = None, lenient: bool = False
    ) -> ResponseFormat:
        """``resources``: the documents a JSON Schema refers to, by URI (``{"https://.../geojson.json":
        {...}}``), bundled into it (edgeqwen fetches nothing). ``lenient`` is deprecated: keywords
        decoding cannot enforce are now always checked on the answer (which is resampled if it
        fails), so there is nothing left to relax."""
        if lenient:
            import warnings

            warnings.warn(
                "lenient=True is no longer needed and does nothing: every schema keyword is honoured "
                "(in decoding, or by checking the answer and resampling).",
                DeprecationWarning,
                stacklevel=2,
            )
        if isinstance(spec, ResponseFormat):
            return spec
        if isinstance(spec, type) and hasattr(spec, "model_json_schema"):
            try:
                schema = spec.model_json_schema(schema_generator=pydantic_generator())
            except Exception as exc:  # pydantic raises PydanticSchemaGenerationError and others
                raise GrammarError(
                    f"The pydantic model {spec.__name__} has a field type that has no JSON Schema ({exc}); "
                    "use JSON-compatible field types (str, int, float, bool, lists, nested models, Literal)."
                ) from exc
            return cls("json_schema", schema=schema, model=spec)
        if isinstance(spec, type) or typing.get_origin(spec) is not None:
            return cls._of_type(spec)
        if isinstance(spec, dict):
            if spec.get("type") == "json_object":
                inner = spec.get("schema")
                return cls("json_schema", schema=_with(inner, resources)) if inner else cls("json_object")
            if spec.get("type") == "json_schema" and isinstance(spec.get("json_schema"), dict):
                # OpenAI's "strict" changes nothing here: the answer is always checked in full
                return cls("json_schema", schema=_with(spec["json_schema"].get("schema", {}), resources))
            return cls("json_schema", schema=_with(spec, resources))
        if isinstance(spec, str):
            raise GrammarError(
                "The response format is a string: pass a JSON Schema as a dict (json.loads(text) if it is "
                "JSON text), or ResponseFormat.regex(pattern) for a regex."
            )
        if hasattr(type(spec), "model_json_schema"):
            raise GrammarError(f"The response format is an instance of {type(spec).__name__}: pass the class itself.")
        raise GrammarError(
            f"Unsupported response format {type(spec).__name__}: pass a JSON Schema dict, a pydantic model class, "
            '{"type": "json_object"}, or ResponseFormat.regex(...) / .choice(...) / .lark(...).'
        )

    @classmethod
    def _of_type(cls, spec: Any) -> ResponseFormat:
        """Any type pydantic reads (``list[Item]``, ``dict[str, int]``, a dataclass, a TypedDict,
        ``Literal[...]``, ``int``): its schema, and the answer validated into that type."""
        try:
            from pydantic import TypeAdapter

            adapter = TypeAdapter(spec)
            schema = adapter.json_schema(schema_generator=pydantic_generator())
        except ImportError as exc:
            raise GrammarError(f"A type as a response format needs pydantic: pip install pydantic ({spec!r}).") from exc
        except Exception as exc:  # PydanticSchemaGenerationError, PydanticUserError, ...
            raise GrammarError(
                f"{spec!r} has no JSON Schema ({str(exc).splitlines()[0]}); pass a JSON Schema dict, a pydantic model "
                "or a type built of JSON-compatible types (str, int, float, bool, lists, dicts, models, Literal)."
            ) from exc
        return cls("json_schema", schema=schema, model=adapter)

    @classmethod
    def regex(cls, pattern: str) -> ResponseFormat:
        check_grammar_text(pattern, "The regex")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise GrammarError(f"The regex {pattern!r} does not compile: {exc}.") from exc
        except RecursionError as exc:  # Python's parser recurses a level per group
            raise nested_too_deeply(pattern, "The regex") from exc
        return cls("regex", pattern=pattern)

    @classmethod
    def choice(cls, options: Sequence[str]) -> ResponseFormat:
        if isinstance(options, str):  # its letters would silently become the choices
            raise GrammarError(f"choice needs a list of strings, got one string {options!r}: pass [{options!r}, ...].")
        if not is_list(options):
            raise GrammarError(f"choice needs a list of strings, got {type(options).__name__}.")
        opts = tuple(options)
        if not opts or not all(isinstance(o, str) and o for o in opts):
            raise GrammarError("choice needs a non-empty list of non-empty strings.")
        for i, option in enumerate(opts):
            check_grammar_text(option, f"choice {i}")
        return cls("choice", choices=opts)

    @classmethod
    def lark(cls, grammar: str) -> ResponseFormat:
        check_grammar_text(grammar, "The Lark grammar")
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

    @property
    def made_finite(self) -> bool:
        """Whether decoding bounds this format's values (strings, numbers, free-form values): JSON,
        unless ``max_string_length=None`` asks for the schema as given."""
        return bool(self.max_string_length) and self.kind in ("json_schema", "json_object", "tool_call")

    def relaxed(self, validate: Validate = validate_grammar) -> Relaxed:
        """What decoding enforces of this format's JSON Schema and what is checked after (for a
        forced tool call: of every tool's parameters). Regex, choice and Lark formats are exact.
        ``validate``: how a grammar is compiled on a cache miss (relax.py)."""
        if self.kind in ("json_schema", "json_object"):
            schema = (self.schema or {}) if self.kind == "json_schema" else {"type": "object"}
            return relax(schema, self.max_string_length, self.bound_patterns, validate)
        if self.kind == "tool_call":
            parts = [self._parameters(fn) for fn in self.tools]
            after = tuple(sorted({k for p in parts for k in p.checked_after}))
            digits = Widths(max(p.digits.integer for p in parts), max(p.digits.fraction for p in parts))
            return Relaxed({}, "", after, any(p.lenient for p in parts), digits)
        return Relaxed({})

    def _parameters(self, fn: dict[str, Any]) -> Relaxed:
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        return relax(params, self.max_string_length, self.bound_patterns)

    def tool_call_schema(self) -> dict[str, Any]:
        """One tool call as JSON, ``{"name": ..., "arguments": {...}}`` with arguments valid for the
        named tool (in their decoding form): the one place the tool-call schema is written."""
        variants, defs = [], {}
        for i, fn in enumerate(self.tools):
            arguments = self._parameters(fn).schema
            if has_local_ref(arguments):
                # its "#/..." references name its own root, which is no longer the document's:
                # the parameters move under $defs, their references re-rooted there
                name = f"edgeqwen_tool_{i}"
                defs[name] = rerooted(arguments, f"#/$defs/{name}")
                arguments = {"$ref": f"#/$defs/{name}"}
            variants.append(
                {
                    "type": "object",
                    "properties": {"name": {"const": fn["name"]}, "arguments": arguments},
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
            )
        schema = variants[0] if len(variants) == 1 else {"anyOf": variants}
        return {**schema, "$defs": defs} if defs else schema

    def json_schema_form(self) -> tuple[dict[str, Any], Callable[[str], str] | None]:
        """This format as one JSON Schema, for engines that take only JSON Schema (MLC, a remote
        OpenAI-compatible server), and how to turn the JSON they write back into our answer text
        (None: the JSON is the answer). Fails closed where JSON Schema cannot say it."""
        finite = bound_numbers if self.made_finite else lambda schema: schema
        if self.kind in ("json_schema", "json_object"):
            return finite(self.relaxed().schema), None
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
            return finite(self.tool_call_schema()), lambda text: f"<tool_call>\n{text.strip()}\n</tool_call>"
        raise GrammarError(
            f"This backend cannot express a {self.kind} constraint (it takes JSON Schema only); "
            "use a JSON Schema, regex or choice, or backend='onnx'."
        )

    # -- results ------------------------------------------------------------------------------
    def check_cut(self, value: Any, text: str) -> None:
        """Raise where ``value`` (an answer, or tool calls' arguments) reached a bound that decoding
        adds and the schema does not set: a string as long as strings without ``maxLength`` are
        written to, or, where a value is free-form, a key of ``MAX_KEY`` characters or an object or
        array of ``ANY_MEMBERS``. The grammar closed it there, so the answer, valid as it is, was
        most likely cut short. (A named array of exactly ``ANY_MEMBERS`` items in a schema that also
        has a free-form value is said cut too: a false report, never a lost answer.)"""
        if not self.made_finite:
            return
        bound = self.max_string_length
        own = {"json_schema": self.schema, "tool_call": self.tools}.get(self.kind, {})
        given = json.dumps(own)
        try:
            tools = self.kind == "tool_call"
            schema = [self._parameters(fn).schema for fn in self.tools] if tools else self.relaxed().schema
        except GrammarError:  # tools whose schemas do not compile: their calls were held to no bound
            return
        decoded = json.dumps(schema)
        strings = f'"maxLength": {bound}' not in given

        @functools.cache
        def keys() -> bool:
            """Whether decoding bounds keys: a free-form object's, or the others' beside named
            properties (the only key patterns decoding adds). Read only when a key is that long."""
            if f'"maxLength": {MAX_KEY}' in given:
                return False
            return json.dumps(FREE_KEY) in decoded or bool(key_patterns(schema) - key_patterns(own))

        counts = {  # container type -> whether decoding bounds it and the schema does not
            dict: f'"maxProperties": {ANY_MEMBERS}' in decoded and f'"maxProperties": {ANY_MEMBERS}' not in given,
            list: f'"maxItems": {ANY_MEMBERS}' in decoded and f'"maxItems": {ANY_MEMBERS}' not in given,
        }

        def find(node: Any, path: str) -> str | None:
            if isinstance(node, str):
                if strings and len(node) == bound:
                    return (
                        f"The string at {path} reached {bound:,} characters, the most a string without maxLength "
                        "is written to, and was cut there; give it a maxLength (or "
                        "ResponseFormat(max_string_length=N)) for a longer one."
                    )
                return None
            calls = self.kind == "tool_call" and path == "$"  # the list of calls, not a value
            if isinstance(node, (dict, list)) and counts[type(node)] and len(node) == ANY_MEMBERS and not calls:
                what, count, keyword = ("object", "members", "maxProperties") if isinstance(node, dict) else (
                    "array", "items", "maxItems")  # fmt: skip
                return (
                    f"The {what} at {path} reached {ANY_MEMBERS} {count}, the most a free-form {what} is written "
                    f"with, and was cut there; give it a {keyword} in a schema for more."
                )
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for key, item in items:
                if isinstance(key, str) and len(key) == MAX_KEY and keys():
                    return (
                        f"A key of the object at {path} reached {MAX_KEY} characters, the most a free-form "
                        "object's key is written to, and was cut there; name the key in a schema."
                    )
                found = find(item, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]")
                if found is not None:
                    return found
            return None

        message = find(value, "$")
        if message is None and ANY_LAST in decoded and nesting(value, ANY_DEPTH + 1) > ANY_DEPTH + tools:
            message = _deepest(value, schema if tools else [schema], tools)
        if message is not None:
            raise StructuredOutputError(message, text, cut=True)

    def check_tool_calls(self, calls: Sequence[Any], text: str) -> tuple[Any, ...]:
        """Constrained tool calls, validated against their function's parameters."""
        if not calls:
            raise StructuredOutputError("The answer holds no complete tool call; raise max_tokens.", text)
        by_name = {fn["name"]: fn for fn in self.tools}
        for call in calls:
            fn = by_name.get(call.name)
            if fn is None:
                raise StructuredOutputError(f"The model called an unknown tool {call.name!r}.", text)
            violation = check(call.arguments, fn.get("parameters") or {})
            if violation is not None:
                raise StructuredOutputError(
                    f"Arguments of {call.name} do not validate: {violation}", text, keyword=violation.keyword
                )
        self.check_cut([call.arguments for call in calls], text)
        return tuple(calls)

    def parse(self, text: str) -> Any:
        """The value the answer stands for, checked again independently of the grammar."""
        if self.kind in ("json_schema", "json_object"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                where = exc.msg if exc.msg.endswith(" at") else f"{exc.msg} at"  # "Unterminated string starting at"
                raise StructuredOutputError(
                    f"The answer is not complete JSON ({where} character {exc.pos}); raise max_tokens.", text, cut=True
                ) from exc
            # A pydantic model's schema is checked too: it names the keyword the grammar left to the
            # check (a Decimal's look-ahead pattern), and an answer that breaks one is resampled.
            violation = check(value, self.schema if self.kind == "json_schema" else {"type": "object"})
            if violation is not None:
                message = f"The answer does not validate: {violation}"
                raise StructuredOutputError(message, text, keyword=violation.keyword)
            result = value
            if self.model is not None:
                # a pydantic model class, or a TypeAdapter for any other type
                validate = getattr(self.model, "model_validate", None) or self.model.validate_python
                try:
                    result = validate(value)
                except Exception as exc:  # pydantic.ValidationError; what only pydantic asks (a past date)
                    errors = exc.errors() if hasattr(exc, "errors") else [{}]
                    kind = f"pydantic {errors[0].get('type', 'validation') if errors else 'validation'}"
                    raise StructuredOutputError(f"The answer does not validate: {exc}", text, keyword=kind) from exc
            self.check_cut(value, text)
            return result
        if self.kind == "regex":
            if not _fullmatch(self.pattern or "", text):
                raise StructuredOutputError(f"The answer does not match {self.pattern!r}; raise max_tokens.", text)
            return text
        if self.kind == "choice":
            if text not in self.choices:
                raise StructuredOutputError(f"The answer {text!r} is not one of the choices.", text)
            return text
        return text
