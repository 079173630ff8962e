"""OpenAI's embeddings API (``POST /v1/embeddings``), served by an :class:`~edgeqwen.Embedder`
beside the chat model (``edgeqwen serve MODEL --embeddings qwen3-embedding-0.6b``).

``input`` is a text or a list of up to 2,048 texts (OpenAI's bound), each turned into one unit
vector; ``dimensions`` shortens them (the model was trained for that); ``encoding_format``
``float`` or ``base64`` (little-endian float32, what OpenAI's Python client asks for unless told).
Token-id input is refused: ids are one tokenizer's, and the ones clients send are OpenAI's
(LangChain's ``OpenAIEmbeddings`` sends tiktoken's unless ``check_embedding_ctx_length=False``),
which would embed as other words here without a sign. Requests run one at a time on a thread of
their own, behind the same ``--max-queue`` bound as answers; a client that hangs up stops its
request inside the text being read (where the backend can stop a prompt) and leaves the others.

Hugging Face's Text Embeddings Inference API too (:func:`parse_tei_embed`): ``POST /embed``, and
``POST /`` where ``huggingface_hub``'s ``InferenceClient.feature_extraction`` sends it (Haystack's
TEI embedders; that route is :mod:`.tgi`'s, which tells it from a text generation);
LlamaIndex's ``TextEmbeddingsInference`` posts to ``/embed``.
Decided: ``inputs`` a text or a list; ``prompt_name`` ``query`` is the embedding model's retrieval
task (the card's query prompt), ``document`` none; ``truncate`` as Ollama's; ``normalize: false``
(Haystack's TEI embedders send it unless told) gives the pooled state unscaled, as TEI does;
``truncation_direction`` ``Left`` is refused (a long text keeps its beginning).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..embeddings import RETRIEVAL
from ..errors import GenerationCancelled, InvalidRequestError
from .http import HTTPError, authorize, read_body, until_disconnect
from .protocol import RequestError
from .worker import SideWorker

if TYPE_CHECKING:
    from ..embeddings import Embedder
    from .app import _App

__all__ = [
    "EmbeddingWorker",
    "EmbeddingsRequest",
    "embedding_routes",
    "embeddings_body",
    "no_embedding_model",
    "parse_embeddings_request",
    "parse_tei_embed",
    "tei_embedding",
]

MAX_INPUTS = 2048  # OpenAI's bound on texts per request
_TOKEN_IDS = (
    "input holds token ids; send text. Token ids are one tokenizer's, and this model's are not OpenAI's "
    "(LangChain's OpenAIEmbeddings sends tiktoken ids: set check_embedding_ctx_length=False)."
)


@dataclass(frozen=True)
class EmbeddingsRequest:
    model: str
    texts: tuple[str, ...]
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"
    listed: bool = True  # input was a list (errors name input[i]), not one text
    truncate: bool = False  # a text too long loses its end (Ollama's API) rather than failing (OpenAI's)
    instruction: str | None = None  # the task a query is embedded for (TEI's prompt_name "query")
    unit: bool = True  # scaled to length 1 (TEI's normalize false: the model's own state)
    field: str = "input"  # what the API calls the texts (TEI's: inputs)


def _texts(given: Any, field: str) -> tuple[str, ...]:
    if isinstance(given, str):
        texts: list[Any] = [given]
    elif isinstance(given, list) and given:
        texts = given
    else:
        raise RequestError(f"{field} must be a text or a non-empty list of texts.", field)
    if len(texts) > MAX_INPUTS:
        raise RequestError(f"{field} has {len(texts)} texts; send at most {MAX_INPUTS} a request.", field)
    for i, text in enumerate(texts):
        where = field if isinstance(given, str) else f"{field}[{i}]"
        if isinstance(text, (int, list)) and not isinstance(text, bool):
            raise RequestError(_TOKEN_IDS, where)
        if not isinstance(text, str):
            raise RequestError(f"{where} must be a text, got {type(text).__name__}.", where)
        if not text:
            raise RequestError(f"{where} is empty; an empty text has no meaning to compare.", where)
    return tuple(texts)


def _dimensions(body: dict[str, Any]) -> int | None:
    dimensions = body.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise RequestError(f"dimensions must be a whole number >= 1, got {dimensions!r}.", "dimensions")
    return dimensions


def parse_embeddings_request(body: Any) -> EmbeddingsRequest:
    """The request's texts and options; a RequestError naming the field for anything else."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with input and model.", None)
    texts = _texts(body.get("input"), "input")
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        raise RequestError(f"encoding_format must be 'float' or 'base64', got {fmt!r}.", "encoding_format")
    model = body.get("model", "")
    listed = isinstance(body.get("input"), list)
    return EmbeddingsRequest(model if isinstance(model, str) else "", texts, _dimensions(body), fmt, listed)


_PROMPTS = {"query": RETRIEVAL, "document": None}  # TEI's prompt_name: the card's prompts for the two


def parse_tei_embed(body: Any) -> EmbeddingsRequest:
    """A Text Embeddings Inference ``/embed`` body; a RequestError naming the field for anything else."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with inputs.", None)
    if "parameters" in body:  # text generation's body (huggingface_hub's text_generation): never a vector
        raise RequestError("This is Text Generation Inference's generate request: send it to /generate.", "parameters")
    for name, off in (("normalize", True), ("truncate", False)):
        if not isinstance(body.get(name, off), bool):
            raise RequestError(f"{name} must be true or false, got {body[name]!r}.", name)
    if str(body.get("truncation_direction") or "right").lower() != "right":
        raise RequestError(
            "truncation_direction Left is not supported: a text too long keeps its beginning (Right).",
            "truncation_direction",
        )
    name = body.get("prompt_name")
    if name is not None and name not in _PROMPTS:
        raise RequestError(f"prompt_name must be one of {', '.join(_PROMPTS)}, got {name!r}.", "prompt_name")
    return EmbeddingsRequest(
        "",
        _texts(body.get("inputs"), "inputs"),
        _dimensions(body),
        listed=isinstance(body.get("inputs"), list),
        truncate=bool(body.get("truncate")),
        instruction=_PROMPTS.get(name) if name is not None else None,
        unit=body.get("normalize") is not False,
        field="inputs",
    )


def no_embedding_model(chat_model: str) -> HTTPError:
    """The 404 for embeddings asked of a server started without ``--embeddings``, on either API."""
    from ..catalog import catalog

    which = next(s.name for s in catalog() if s.role == "embedding")
    return HTTPError(
        404,
        f"This server has no embedding model (it serves {chat_model!r} for answers); start it with "
        f"--embeddings {which}.",
        "invalid_request_error",
        "model",
        "model_not_found",
    )


def embeddings_body(model: str, vectors: np.ndarray, prompt_tokens: int, fmt: str) -> dict[str, Any]:
    """OpenAI's ``list`` of ``embedding`` objects, in the order of the texts."""

    def encoded(row: np.ndarray) -> list[float] | str:
        if fmt == "base64":
            return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
        return [float(x) for x in row]

    data = [{"object": "embedding", "index": i, "embedding": encoded(row)} for i, row in enumerate(vectors)]
    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return {"object": "list", "data": data, "model": model, "usage": usage}


class EmbeddingWorker:
    """Runs embedding requests one at a time on a thread of their own."""

    def __init__(self, embedder: Embedder, max_queue: int) -> None:
        self.embedder = embedder
        self._side = SideWorker("embedding model", max_queue)

    async def embed(self, asked: EmbeddingsRequest) -> tuple[np.ndarray, int]:
        """The texts' vectors and their token count. QueueFullError when ``max_queue`` wait already."""
        return await self._side.run(lambda stop: self._run(asked, stop))

    def _run(self, asked: EmbeddingsRequest, stop: threading.Event) -> tuple[np.ndarray, int]:
        try:  # every text checked before any is read
            ids = self.embedder.token_lists(asked.texts, instruction=asked.instruction, truncate=asked.truncate)
            vectors = self.embedder.vectors(ids, dimensions=asked.dimensions, unit=asked.unit, cancel=stop)
        except InvalidRequestError as exc:
            param = str(exc.param or "")
            if not param.startswith("input["):
                raise
            where = asked.field + param[len("input") :] if asked.listed else asked.field
            raise RequestError(str(exc).replace(param, where, 1), where) from exc
        rows = []
        for row in vectors:
            rows.append(row)
            if stop.is_set() and len(rows) < len(ids):
                raise GenerationCancelled("The client closed the connection.")
        return np.stack(rows), sum(len(one) for one in ids)

    def stop_all(self, reason: BaseException) -> None:
        self._side.stop_all(reason)

    def close(self) -> None:
        self._side.close()


_UNREAD: Any = object()  # a handler's body not read yet (POST / reads it first, to tell TEI's from TGI's)


def _handler(
    app: _App, parse: Callable[[Any], EmbeddingsRequest], answer: Callable[[EmbeddingsRequest, np.ndarray, int], Any]
) -> Callable[..., Awaitable[Response]]:
    async def embed(request: Request, body: Any = _UNREAD) -> Response:
        try:
            authorize(request, app.settings)
            asked = parse(await read_body(request, app.settings) if body is _UNREAD else body)
            if app.embedding is None:  # what was asked is checked before what is missing
                raise no_embedding_model(app.model_id)
            vectors, tokens = await until_disconnect(request, app.embedding.embed(asked))
        except Exception as exc:
            return app.failed(exc)
        app.metrics.record_status(200)
        app.metrics.record_side("embedding", len(vectors), tokens)
        return JSONResponse(answer(asked, vectors, tokens))

    return embed


def tei_embedding(app: _App) -> Callable[..., Awaitable[Response]]:
    """Text Embeddings Inference's embed: ``handler(request, body=...)``, the vectors as a list of lists."""
    return _handler(app, parse_tei_embed, lambda a, v, n: [[float(x) for x in row] for row in v])


def embedding_routes(app: _App) -> list[Route]:
    """``POST /v1/embeddings``, and Text Embeddings Inference's ``POST /embed`` (its ``POST /`` is
    shared with TGI's text generation: :mod:`.tgi`)."""
    openai = _handler(app, parse_embeddings_request, lambda a, v, n: embeddings_body(a.model, v, n, a.encoding_format))
    return [Route("/v1/embeddings", openai, methods=["POST"]), Route("/embed", tei_embedding(app), methods=["POST"])]
