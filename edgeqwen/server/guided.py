"""Other servers' structured outputs on OpenAI's routes. vLLM's: ``structured_outputs`` (``json``,
``regex``, ``choice``, ``grammar``, ``json_object``) and the older ``guided_json``,
``guided_regex``, ``guided_choice`` and ``guided_grammar`` that clients written for vLLM send in the
body (the ``openai`` client's ``extra_body``). llama-server's: ``grammar`` (GBNF) and
``json_schema`` (a schema as it is), which it reads on every route and clients written for it send
to its chat route (Strands' ``LlamaCppModel`` asks for structured output so); text-generation-webui's
and TabbyAPI's ``grammar_string`` (GBNF; SillyTavern sends it to both, and beside ``grammar``
to llama.cpp) and TabbyAPI's ``regex_pattern``. They were passed
over, and the answer came back unconstrained with a 200: now each is the response format it
means, on ``/v1/chat/completions``, ``/v1/completions`` and llama-server's ``/completion``.
Hugging Face's TGI: ``response_format`` ``{"type": "json" | "json_object" | "regex", "value": ...}``.
``huggingface_hub``'s ``InferenceClient.chat_completion`` with a ``base_url`` rewrites OpenAI's
``json_schema`` into ``{"type": "json_object", "value": SCHEMA}``, and LangChain's
``ChatHuggingFace`` sends ``{"type": "json_object", "schema": SCHEMA}`` (Fireworks' and Together's
form): both were read as any JSON object, the schema passed over (``{}`` for a schema that
requires a field, with a 200).

Decisions:
- One at a time: two of them, or one beside a ``response_format`` other than text, is refused.
- ``json``: a JSON Schema (an object, or its JSON text, as vLLM takes it). ``grammar``: GBNF (what
  vLLM's default backend reads) or Lark, through llguidance's converter; the same reading serves
  llama-server's ``grammar``.
- vLLM's backend and whitespace options (``guided_decoding_backend``, ``whitespace_pattern``, ...)
  are passed over: they choose how, not what. ``structural_tag`` is refused (no equivalent here).
"""

from __future__ import annotations

from typing import Any

from ..errors import GrammarError, InvalidRequestError
from ..jsontext import load_json
from ..runtime.formats import ResponseFormat

__all__ = ["guided_format"]

_GUIDED = ("json", "regex", "choice", "grammar")
# llama-server's grammar (GBNF) and json_schema; text-generation-webui's and TabbyAPI's
# grammar_string (GBNF), TabbyAPI's regex_pattern: "" is each one's off value
_NAMED = (("grammar", "grammar"), ("json_schema", "json"), ("grammar_string", "grammar"), ("regex_pattern", "regex"))
_PASSED = {"whitespace_pattern", "disable_any_whitespace", "disable_additional_properties", "backend"}


def _grammar_format(text: Any, field: str) -> ResponseFormat:
    """A grammar's text (GBNF or Lark) as the format that holds the answer to it."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequestError(f"{field} must be a grammar's text (GBNF or Lark).", field)
    from llguidance.gbnf_to_lark import any_to_lark

    try:
        lark = any_to_lark(text)
    except Exception as exc:  # its converter's own error types
        if "::=" in text:  # GBNF's rule sign: a GBNF grammar it cannot read
            raise InvalidRequestError(f"{field} is not a GBNF grammar this server reads: {exc}", field) from exc
        lark = text  # Lark as written (compiled, and its errors named, when answered)
    try:
        return ResponseFormat.lark(lark)
    except GrammarError as exc:
        raise InvalidRequestError(f"{field} is not a grammar this server reads: {exc}", field) from exc


def _one(kind: str, value: Any, field: str) -> ResponseFormat | dict[str, Any]:
    if kind == "json":
        if isinstance(value, str):
            try:
                value = load_json(value)  # its nesting bounded: a deep one was a RecursionError, a 500
            except ValueError as exc:
                raise InvalidRequestError(
                    f"{field} must be a JSON Schema (an object, or its JSON text): {exc}.", field
                ) from exc
        if not isinstance(value, dict):
            raise InvalidRequestError(f"{field} must be a JSON Schema object.", field)
        return {"type": "json_schema", "json_schema": {"schema": value}}
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "grammar":
        return _grammar_format(value, field)
    try:
        if kind == "regex":
            if not isinstance(value, str):
                raise GrammarError("a regex must be text.")
            return ResponseFormat.regex(value)
        if not isinstance(value, list):
            raise GrammarError("choice must be a list of texts.")
        return ResponseFormat.choice(value)
    except GrammarError as exc:
        raise InvalidRequestError(f"{field}: {exc}", field) from exc


def guided_format(body: dict[str, Any]) -> ResponseFormat | dict[str, Any] | None:
    """The response format a body's vLLM or llama-server structured-output fields ask for; None
    where it has none."""
    given = {f"guided_{k}": (k, body[f"guided_{k}"]) for k in _GUIDED if body.get(f"guided_{k}") is not None}
    for name, kind in _NAMED:
        if body.get(name) not in (None, ""):
            given[name] = (kind, body[name])
    if given.get("grammar_string") == given.get("grammar"):  # SillyTavern sends one grammar under both names
        given.pop("grammar_string", None)
    outputs = body.get("structured_outputs")
    if outputs is not None:
        if not isinstance(outputs, dict):
            raise InvalidRequestError(
                'structured_outputs must be an object such as {"json": SCHEMA}.', "structured_outputs"
            )
        for key, value in outputs.items():
            if key in (*_GUIDED, "json_object") and value not in (None, False):
                given[f"structured_outputs.{key}"] = (key, value)
            elif key not in _PASSED and value not in (None, False):
                raise InvalidRequestError(
                    f"structured_outputs.{key} is not supported: send json, regex, choice, grammar or json_object.",
                    f"structured_outputs.{key}",
                )
    shape = body.get("response_format")
    kind = shape.get("type") if isinstance(shape, dict) else None
    # json_object's schema under value (TGI's, huggingface_hub's) or schema (Fireworks', Together's,
    # LangChain's ChatHuggingFace): read as any JSON object, the schema was passed over
    held = next((shape[k] for k in ("value", "schema") if shape.get(k) is not None), None) if kind else None
    tgi = kind in ("json", "regex") or (kind == "json_object" and held is not None)
    if tgi:
        given["response_format"] = ("regex" if kind == "regex" else "json", held)
    if not given:
        return None
    if len(given) > 1:
        raise InvalidRequestError(f"Send one structured output, got {', '.join(given)}.", next(iter(given)))
    if not tgi and kind not in (None, "text"):
        raise InvalidRequestError(f"Send response_format or {next(iter(given))}, not both.", "response_format")
    field, (kind, value) = next(iter(given.items()))
    return _one(kind, value, field)
