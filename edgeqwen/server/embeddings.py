"""OpenAI's embeddings API (``POST /v1/embeddings``), served by an :class:`~edgeqwen.Embedder`
beside the chat model (``edgeqwen serve MODEL --embeddings qwen3-embedding-0.6b``).

``input`` is a text or a list of up to 2,048 texts (OpenAI's bound), each turned into one unit
vector; ``dimensions`` shortens them (the model was trained for that); ``encoding_format``
``float`` or ``base64`` (little-endian float32, what OpenAI's Python client asks for unless told).
Token-id input is refused: ids are one tokenizer's, and the ones clients send are OpenAI's
(LangChain's ``OpenAIEmbeddings`` sends tiktoken's unless ``check_embedding_ctx_length=False``),
which would embed as other words here without a sign. Requests run one at a time on a thread of
their own, behind the same ``--max-queue`` bound as answers; a client that hangs up stops its
request at the next text.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import GenerationCancelled, InvalidRequestError
from .http import HTTPError
from .protocol import RequestError
from .worker import SideWorker

if TYPE_CHECKING:
    from ..embeddings import Embedder

__all__ = [
    "EmbeddingWorker",
    "EmbeddingsRequest",
    "embeddings_body",
    "no_embedding_model",
    "parse_embeddings_request",
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

    def where(self, i: int) -> str:
        return f"input[{i}]" if self.listed else "input"


def parse_embeddings_request(body: Any) -> EmbeddingsRequest:
    """The request's texts and options; a RequestError naming the field for anything else."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with input and model.", None)
    given = body.get("input")
    if isinstance(given, str):
        texts: list[Any] = [given]
    elif isinstance(given, list) and given:
        texts = given
    else:
        raise RequestError("input must be a text or a non-empty list of texts.", "input")
    if len(texts) > MAX_INPUTS:
        raise RequestError(f"input has {len(texts)} texts; send at most {MAX_INPUTS} a request.", "input")
    for i, text in enumerate(texts):
        where = "input" if isinstance(given, str) else f"input[{i}]"
        if isinstance(text, (int, list)) and not isinstance(text, bool):
            raise RequestError(_TOKEN_IDS, where)
        if not isinstance(text, str):
            raise RequestError(f"{where} must be a text, got {type(text).__name__}.", where)
        if not text:
            raise RequestError(f"{where} is empty; an empty text has no meaning to compare.", where)
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        raise RequestError(f"encoding_format must be 'float' or 'base64', got {fmt!r}.", "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise RequestError(f"dimensions must be a whole number >= 1, got {dimensions!r}.", "dimensions")
    model = body.get("model", "")
    listed = isinstance(given, list)
    return EmbeddingsRequest(model if isinstance(model, str) else "", tuple(texts), dimensions, fmt, listed)


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
            ids = self.embedder.token_lists(asked.texts, truncate=asked.truncate)
            vectors = self.embedder.vectors(ids, dimensions=asked.dimensions)
        except InvalidRequestError as exc:
            if asked.listed or exc.param != "input[0]":
                raise
            raise RequestError(str(exc).replace("input[0]", "input", 1), "input") from exc
        rows = []
        for row in vectors:
            rows.append(row)
            if stop.is_set() and len(rows) < len(ids):
                raise GenerationCancelled("The client closed the connection.")
        return np.stack(rows), sum(len(one) for one in ids)

    def close(self) -> None:
        self._side.close()
