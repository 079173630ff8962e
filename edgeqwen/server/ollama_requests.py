"""Ollama's request bodies read as the OpenAI requests they mean: ``/api/chat`` as a chat request
(:func:`openai_chat`), ``/api/generate`` as a one-message chat or, with ``raw``, a prompt
continued as written (:func:`generate_chat`). Pure functions: the routes are in ``ollama.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .protocol import ChatRequest, RequestError, parse_chat_request
from .samplers import LLAMA_SAMPLERS, llama_samplers_off

__all__ = ["generate_chat", "openai_chat", "untagged"]

# options this server sets at start (how a model loads and is kept): ignored
_LOAD_OPTIONS = {
    "num_ctx", "num_batch", "num_gpu", "main_gpu", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mmap",
    "use_mlock", "numa", "num_thread", "num_keep", "embedding_only", "penalize_newline",
}  # fmt: skip
_SAMPLING = {  # Ollama's option -> the chat field settings_of reads
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "tfs_z": "tfs",  # tail-free sampling, in Ollama's options until llama.cpp dropped it
    "seed": "seed",
    "stop": "stop",
    "repeat_penalty": "repetition_penalty",
    "repeat_last_n": "repeat_last_n",  # the penalty window (llama.cpp's name)
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def untagged(asked: Any) -> Any:
    """A model name without Ollama's default tag: ``NAME:latest`` is ``NAME``."""
    return asked[: -len(":latest")] if isinstance(asked, str) and asked.endswith(":latest") else asked


def _options(body: dict[str, Any], out: dict[str, Any]) -> None:
    """Ollama's ``options`` as the OpenAI fields they mean; one that would change the answer in a
    way this server cannot (mirostat, dynatemp_range ...) is refused rather than ignored."""
    options = body.get("options")
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise RequestError("options must be an object.", "options")
    try:  # llama.cpp's samplers, which Ollama's options name as llama-server does
        llama_samplers_off(options)
    except RequestError as exc:
        raise RequestError(f"options.{exc}", "options") from None
    for name, value in options.items():
        if name in _SAMPLING:
            out[_SAMPLING[name]] = value
        elif name == "num_predict":
            if isinstance(value, bool) or not isinstance(value, int):
                raise RequestError(f"options.num_predict must be a whole number, got {value!r}.", "options")
            if value > 0:  # -1 (no limit) and -2 (fill the context): the server's --max-tokens
                out["max_tokens"] = value
        elif name not in _LOAD_OPTIONS and name not in LLAMA_SAMPLERS:
            raise RequestError(f"options.{name} is not supported by this server.", "options")


def _format(value: Any) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    if value == "json":
        return {"type": "json_object"}
    if isinstance(value, dict):
        return {"type": "json_schema", "json_schema": {"name": "format", "schema": value}}
    raise RequestError(f'format must be "json" or a JSON Schema object, got {value!r}.', "format")


def _think(value: Any, out: dict[str, Any]) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        out["enable_thinking"] = value
    elif value in ("low", "medium", "high"):
        out["reasoning_effort"] = value
    else:
        raise RequestError(f'think must be true, false, "low", "medium" or "high", got {value!r}.', "think")


def openai_chat(body: Any, max_tokens: int) -> ChatRequest:
    """An Ollama ``/api/chat`` body as the chat request it means (RequestError if bad)."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with model and messages.")
    messages = body.get("messages")
    out: dict[str, Any] = {"model": body.get("model", ""), "stream": body.get("stream", True)}
    if isinstance(messages, list):
        converted = []
        for i, message in enumerate(messages):
            if isinstance(message, dict):
                if message.get("images"):
                    raise RequestError(
                        f"messages[{i}].images: this server's models read text only.", f"messages[{i}].images"
                    )
                thinking = message.get("thinking")
                message = {k: v for k, v in message.items() if k not in ("images", "tool_name", "thinking")}
                if thinking:
                    message["reasoning_content"] = thinking
            converted.append(message)
        messages = converted
    out["messages"] = messages
    for name in ("tools", "logprobs", "top_logprobs"):  # the same fields in both APIs
        if body.get(name) is not None:
            out[name] = body[name]
    out["response_format"] = _format(body.get("format"))
    _think(body.get("think"), out)
    _options(body, out)
    # Ollama drops a conversation's oldest messages to fit its window, so its clients expect it
    return replace(parse_chat_request(out, max_tokens), truncate=True)


_NOT_GENERATED = {  # /api/generate fields this server refuses rather than ignores
    "suffix": "the served models were not trained to fill in the middle",
    "template": "the model's own chat template is used",
    "images": "the served models read text only",
    "context": "send the conversation with /api/chat instead",
}
# what raw (the prompt continued as written, no template) leaves nothing to read
_NOT_RAW = {"system": "there is no template to put it in", "think": "thinking is the chat template's"}


def generate_chat(body: Any, max_tokens: int) -> ChatRequest | None:
    """An Ollama ``/api/generate`` body as a chat of one user message (its ``system`` first); None
    where there is no prompt (a client loading the model). With ``"raw": true`` the route continues
    that message's text as written instead."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with model and prompt.")
    for name, why in _NOT_GENERATED.items():
        if body.get(name):
            raise RequestError(f"{name} is not supported: {why}.", name)
    raw = body.get("raw")
    if raw is not None and not isinstance(raw, bool):  # 1 == True: `in (True, False)` took 1 and 0
        raise RequestError(f"raw must be true or false, got {raw!r}.", "raw")
    for name, why in _NOT_RAW.items() if raw else ():
        if body.get(name) not in (None, False, ""):
            raise RequestError(f"{name} is not read with raw: {why}; put it in the prompt.", name)
    prompt = body.get("prompt")
    if prompt in (None, ""):
        return None
    if not isinstance(prompt, str):
        raise RequestError("prompt must be a string.", "prompt")
    system = body.get("system")
    messages = [{"role": "system", "content": system}] if system else []
    chat = {k: v for k, v in body.items() if k not in ("prompt", "system", "raw")}
    chat["messages"] = [*messages, {"role": "user", "content": prompt}]
    return openai_chat(chat, max_tokens)
