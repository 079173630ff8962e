"""The tokenizer over HTTP: ``POST /tokenize`` and ``POST /detokenize`` (also under ``/v1``, as
Aphrodite serves them), in the shapes vLLM's and llama.cpp's servers give them. Front-ends that
build their own prompts (SillyTavern's vLLM, llama.cpp and Aphrodite connections, prompt tools)
count and trim with them before they send a prompt.

Decisions, where the two APIs leave room:
- One route answers both shapes. ``prompt`` (vLLM) or ``content`` (llama.cpp): a raw prompt,
  tokenized exactly as ``/v1/completions`` reads it (control tokens written out are those
  tokens); ``messages`` (vLLM's chat form): what ``/v1/chat/completions`` would have the model
  read for them, the policy's system rules and the ``tools`` included, as Anthropic's
  ``count_tokens`` counts. The answer holds both servers' keys: ``tokens``, ``count`` and
  ``max_model_len``; ``token_strs`` with ``return_token_strs`` (the vocabulary's strings);
  ``tokens`` as ``{"id", "piece"}`` objects with llama.cpp's ``with_pieces`` (the text of each).
- No special token is added to a raw prompt: Qwen's tokenizers have no BOS, and
  ``/v1/completions`` adds none, so ``add_special_tokens`` / ``add_special`` are read as
  booleans and change nothing. ``add_generation_prompt: false`` is refused: the prompt the model
  reads always opens the answer.
- ``/detokenize``'s text is under both servers' keys, ``prompt`` and ``content``; control tokens
  are written out, so the text tokenized again as a prompt gives the same ids.
- A server answering through another (``--base-url``) refuses both: its token ids are that
  server's, which this one only estimates.

Other servers' token routes, as SillyTavern's connections to them count a prompt before they trim
it (a 404 here, it estimated): TabbyAPI's ``POST /v1/token/encode`` and ``/v1/token/decode``,
text-generation-webui's ``POST /v1/internal/encode``, ``/v1/internal/decode`` and
``/v1/internal/token-count``, KoboldCpp's ``POST /api/extra/tokencount`` (``/api/extra/tokenize``)
and ``/api/extra/detokenize`` (its ``ids``), each in its server's
shape. A text's control tokens written out are those tokens unless the body says not
(``encode_special_tokens``, ``special``: false), as those servers read them; TabbyAPI's chat form
of ``text`` (a list of messages) is refused: ``/tokenize`` counts a chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import InvalidRequestError
from ..turns import raw_prompt
from .http import authorize, read_body, until_disconnect
from .protocol import ChatRequest, RequestError, flag, parse_chat_request

if TYPE_CHECKING:
    from ..tokenizer import Tokenizer
    from .app import _App

__all__ = ["detokenized", "encoded", "parse_tokenize", "pieces_of", "tokenize_routes", "tokens_text"]

_Endpoint = Callable[[Request], Awaitable[Response]]


def parse_tokenize(body: Any) -> str | ChatRequest:
    """What a ``/tokenize`` body asks to tokenize: a raw prompt (``prompt`` or ``content``), or a
    chat (``messages``) as the chat route reads it."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with prompt, content or messages.")
    given = [k for k in ("prompt", "content", "messages") if body.get(k) is not None]
    if len(given) != 1:
        raise RequestError(
            "Send one of prompt (text, as /v1/completions reads it), content (the same, llama.cpp's name) or "
            f"messages (a chat, as /v1/chat/completions reads it); got {', '.join(given) or 'none'}.",
            given[-1] if given else "prompt",
        )
    for name in ("add_special_tokens", "add_special", "return_token_strs", "with_pieces", "parse_special"):
        flag(body, name)
    if given[0] == "messages":
        if not flag(body, "add_generation_prompt", True):
            raise RequestError(
                "add_generation_prompt false is not supported: the prompt the model reads always opens its answer.",
                "add_generation_prompt",
            )
        return parse_chat_request({k: v for k, v in body.items() if k != "add_generation_prompt"}, 1 << 30)
    text = body[given[0]]
    if not isinstance(text, str):  # vLLM's form takes one prompt; token ids are already tokens
        raise RequestError(f"{given[0]} must be a text.", given[0])
    if not flag(body, "parse_special", True):
        raise RequestError(
            "parse_special false is not supported: a prompt's control tokens written out are those tokens, "
            "as /v1/completions reads them.",
            "parse_special",
        )
    return text


def pieces_of(tokenizer: Tokenizer, ids: list[int]) -> list[dict[str, Any]]:
    """llama.cpp's ``with_pieces``: each token's text, or its bytes where they are not whole UTF-8."""
    out: list[dict[str, Any]] = []
    for i in ids:
        raw = tokenizer.token_bytes(i) if i not in tokenizer.special_ids else tokenizer.piece(i).encode()
        try:
            out.append({"id": i, "piece": raw.decode("utf-8")})
        except UnicodeDecodeError:
            out.append({"id": i, "piece": list(raw)})
    return out


def detokenized(tokenizer: Tokenizer, body: Any, special: str = "", field: str = "tokens") -> str:
    """The text of a ``/detokenize`` body's ``tokens`` (KoboldCpp's ``ids``: ``field``), control
    tokens written out unless the body's ``special`` flag (TabbyAPI's ``decode_special_tokens``) is false."""
    if not isinstance(body, dict) or field not in body:
        raise RequestError(f"The request body must be a JSON object with {field} (a list of token ids).")
    controls = flag(body, special, True) if special else True
    tokens = body[field]
    if not isinstance(tokens, list):
        raise RequestError(f"{field} must be a list of token ids.", field)
    if not tokens:
        return ""
    try:
        ids, _ = raw_prompt(tokenizer, tokens)
    except InvalidRequestError as exc:  # it names prompt[i]; this API calls them tokens
        raise RequestError(str(exc).replace("prompt[", f"{field}["), field) from exc
    return (
        tokens_text(tokenizer, ids) if controls else tokenizer.decode(i for i in ids if i not in tokenizer.special_ids)
    )


def tokens_text(tokenizer: Tokenizer, ids: list[int]) -> str:
    """The text of ``ids`` with control tokens written out: read again as a raw prompt, the same ids."""
    text, run = [], []
    for i in ids:
        if i in tokenizer.special_ids:
            text += [tokenizer.decode(run), tokenizer.piece(i)]
            run = []
        else:
            run.append(i)
    return "".join(text) + tokenizer.decode(run)


_KOBOLD_COUNT = ("prompt", "special", lambda ids: {"value": len(ids), "ids": ids})
# path: the text's field, the flag that says control tokens written out are those tokens (true
# where absent), and the answer from the ids
_ENCODE: dict[str, tuple[str, str, Callable[[list[int]], dict[str, Any]]]] = {
    "/v1/token/encode": ("text", "encode_special_tokens", lambda ids: {"tokens": ids, "length": len(ids)}),  # TabbyAPI
    "/v1/internal/encode": ("text", "", lambda ids: {"tokens": ids, "length": len(ids)}),  # text-generation-webui
    "/v1/internal/token-count": ("text", "", lambda ids: {"length": len(ids)}),
    "/api/extra/tokencount": _KOBOLD_COUNT,  # KoboldCpp
    "/api/extra/tokenize": _KOBOLD_COUNT,  # its other name
}
# path: the ids' field, the flag that says control tokens are written out (true where absent), the answer
_DECODE: dict[str, tuple[str, str, Callable[[str], dict[str, Any]]]] = {
    "/v1/token/decode": ("tokens", "decode_special_tokens", lambda text: {"text": text}),  # TabbyAPI
    "/v1/internal/decode": ("tokens", "", lambda text: {"text": text}),  # text-generation-webui
    "/api/extra/detokenize": ("ids", "", lambda text: {"result": text, "success": True}),  # KoboldCpp
}


def encoded(tokenizer: Tokenizer, body: Any, field: str, special: str) -> list[int]:
    """The ids of another server's encode body: its text (``field``), control tokens written out
    read as those tokens unless its ``special`` flag is false."""
    if not isinstance(body, dict) or not isinstance(body.get(field), str):
        raise RequestError(
            f"The request body must be a JSON object with {field}, a text (/tokenize counts a chat's messages).", field
        )
    controls = flag(body, special, True) if special else True
    return tokenizer.encode_controls(body[field]) if controls else tokenizer.encode(body[field])


def tokenize_routes(app: _App) -> list[Route]:
    """``POST /tokenize`` and ``POST /detokenize`` on the served model's tokenizer."""
    backend = app.bot_backend

    def refuse_remote() -> None:
        if backend.remote:
            raise RequestError(
                "This server answers through another server (--base-url), whose token ids it only estimates: "
                "ask that server's /tokenize."
            )

    async def tokenize(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            body = await read_body(request, app.settings)
            refuse_remote()
            asked = parse_tokenize(body)
            if isinstance(asked, ChatRequest):
                ids = await until_disconnect(request, app.worker.prompt_ids(asked))
            else:
                ids = raw_prompt(backend.tokenizer, asked)[0] if asked else []
        except Exception as exc:
            return app.failed(exc)
        app.metrics.record_status(200)
        answer: dict[str, Any] = {"count": len(ids), "max_model_len": backend.context_length, "tokens": ids}
        if body.get("return_token_strs"):
            answer["token_strs"] = [backend.tokenizer.piece(i) for i in ids]
        if body.get("with_pieces"):
            answer["tokens"] = pieces_of(backend.tokenizer, ids)
        return JSONResponse(answer)

    def answering(answer: Callable[[Any], dict[str, Any]]) -> _Endpoint:
        """A route that answers from its body and the tokenizer alone (no model's turn to wait for)."""

        async def route(request: Request) -> Response:
            try:
                authorize(request, app.settings)
                body = await read_body(request, app.settings)
                refuse_remote()
                said = answer(body)
            except Exception as exc:
                return app.failed(exc)
            return app.answered(said)

        return route

    def encode(field: str, special: str, shape: Callable[[list[int]], dict[str, Any]]) -> _Endpoint:
        return answering(lambda body: shape(encoded(backend.tokenizer, body, field, special)))

    def decode(field: str, special: str, shape: Callable[[str], dict[str, Any]]) -> _Endpoint:
        return answering(lambda body: shape(detokenized(backend.tokenizer, body, special, field)))

    detokenize = answering(lambda body: dict.fromkeys(("prompt", "content"), detokenized(backend.tokenizer, body)))

    # vLLM's and llama-server's paths, and Aphrodite's under /v1 (SillyTavern's Aphrodite connection)
    return [
        *(Route(path, encode(*how), methods=["POST"]) for path, how in _ENCODE.items()),
        *(Route(path, decode(*how), methods=["POST"]) for path, how in _DECODE.items()),
        *(Route(f"{root}/tokenize", tokenize, methods=["POST"]) for root in ("", "/v1")),
        *(Route(f"{root}/detokenize", detokenize, methods=["POST"]) for root in ("", "/v1")),
    ]
