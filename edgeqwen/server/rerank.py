"""The rerank API (``POST /v1/rerank``, also at ``/rerank`` and ``/v2/rerank``), served by a
:class:`~edgeqwen.Reranker` beside the chat model (``edgeqwen serve MODEL --reranker
qwen3-reranker-0.6b``).

The shape Jina's and Cohere's APIs share, as llama.cpp's server and vLLM serve it, which is what
Open WebUI's external reranker, LangChain's and LlamaIndex's Jina/Cohere rerankers and Dify send:
``query``, ``documents`` (texts, or objects with a ``text``), ``top_n``, ``return_documents``;
the answer's ``results`` hold ``index`` and ``relevance_score`` (0 to 1), best first. One more
field, ``instruction``, is the reranker's task (the model card's: one sentence). A document too
long for the window is judged by its beginning, as the card's code and Cohere's API do. Requests
run one at a time on a thread of their own, behind the same ``--max-queue`` bound as answers; a
client that hangs up stops its request inside the document being read.

Hugging Face's Text Embeddings Inference shape too, at ``/rerank`` (LlamaIndex's and Haystack's TEI
rerankers send it; both run): ``texts`` for ``documents``, ``return_text``; the answer a list
of ``index``, ``score`` (and ``text``), best first. ``raw_scores: true`` (the logits) and
``truncation_direction`` ``Left`` are refused: scores here are probabilities, and a long text is
judged by its beginning.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import GenerationCancelled
from ..rerank import check_top_n
from .http import HTTPError, authorize, read_body, until_disconnect
from .protocol import RequestError
from .worker import SideWorker

if TYPE_CHECKING:
    from ..rerank import Ranked, Reranker
    from .app import _App

__all__ = ["RerankRequest", "RerankWorker", "no_reranker", "parse_rerank_request", "rerank_body", "rerank_routes"]

MAX_DOCUMENTS = 1000  # Cohere's bound on documents a request


@dataclass(frozen=True)
class RerankRequest:
    model: str
    query: str
    documents: tuple[str, ...]
    top_n: int | None = None
    return_documents: bool = False
    instruction: str | None = None
    tei: bool = False  # asked in Text Embeddings Inference's shape (texts), answered in it


def parse_rerank_request(body: Any) -> RerankRequest:
    """The request's query, documents and options; a RequestError naming the field for anything else."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object with query and documents.", None)
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestError("query must be a non-empty text.", "query")
    tei = "texts" in body and "documents" not in body
    field, back_field = ("texts", "return_text") if tei else ("documents", "return_documents")
    given = body.get(field)
    if not isinstance(given, list) or not given:
        raise RequestError(f"{field} must be a non-empty list of texts.", field)
    if len(given) > MAX_DOCUMENTS:
        raise RequestError(f"{field} has {len(given)} entries; send at most {MAX_DOCUMENTS} a request.", field)
    documents = []
    for i, doc in enumerate(given):
        text = doc.get("text") if isinstance(doc, dict) else doc  # Cohere's v1 objects
        if not isinstance(text, str):
            where = f"{field}[{i}]"
            raise RequestError(f"{where} must be a text or an object with a text, got {_kind(doc)}.", where)
        documents.append(text)
    top_n = body.get("top_n")
    check_top_n(top_n)
    back = body.get(back_field, False)
    if not isinstance(back, bool):
        raise RequestError(f"{back_field} must be true or false, got {back!r}.", back_field)
    if tei and body.get("raw_scores") not in (None, False):
        raise RequestError("raw_scores true is not supported: this reranker's scores are probabilities.", "raw_scores")
    if tei and str(body.get("truncation_direction") or "right").lower() != "right":
        raise RequestError(
            "truncation_direction Left is not supported: a long text is judged by its beginning (Right).",
            "truncation_direction",
        )
    instruction = body.get("instruction")
    if instruction is not None and (not isinstance(instruction, str) or not instruction.strip()):
        raise RequestError("instruction must be a non-empty text (the task, one sentence).", "instruction")
    model = body.get("model", "")
    name = model if isinstance(model, str) else ""
    return RerankRequest(name, query, tuple(documents), top_n, back, instruction, tei)


def _kind(value: Any) -> str:
    return "an object without a text" if isinstance(value, dict) else type(value).__name__


def no_reranker(chat_model: str) -> HTTPError:
    """The 404 for reranking asked of a server started without ``--reranker``."""
    from ..catalog import catalog

    which = next(s.name for s in catalog() if s.role == "reranker")
    return HTTPError(
        404,
        f"This server has no reranker (it serves {chat_model!r} for answers); start it with --reranker {which}.",
        "invalid_request_error",
        "model",
        "model_not_found",
    )


def rerank_body(
    asked: RerankRequest, ranked: list[Ranked], prompt_tokens: int, model: str
) -> dict[str, Any] | list[dict[str, Any]]:
    """The results best first, each with its index in ``documents`` (and its text when asked);
    Text Embeddings Inference's list where it was asked in that shape."""
    if asked.tei:
        return [
            {"index": r.index, "score": r.score, **({"text": r.document} if asked.return_documents else {})}
            for r in ranked
        ]

    def result(one: Ranked) -> dict[str, Any]:
        found: dict[str, Any] = {"index": one.index, "relevance_score": one.score}
        return {**found, "document": {"text": one.document}} if asked.return_documents else found

    usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return {"object": "list", "model": asked.model or model, "results": [result(r) for r in ranked], "usage": usage}


class RerankWorker:
    """Runs rerank requests one at a time on a thread of their own."""

    def __init__(self, reranker: Reranker, max_queue: int) -> None:
        self.reranker = reranker
        self._side = SideWorker("reranker", max_queue)

    async def rerank(self, asked: RerankRequest) -> tuple[list[Ranked], int]:
        """The documents best first and the tokens read. QueueFullError when ``max_queue`` wait already."""
        return await self._side.run(lambda stop: self._run(asked, stop))

    def _run(self, asked: RerankRequest, stop: threading.Event) -> tuple[list[Ranked], int]:
        from ..rerank import best_first

        # every document checked before any is read
        prompts = self.reranker.token_lists(asked.query, asked.documents, instruction=asked.instruction)
        shared = self.reranker.shared_length(asked.query, asked.instruction)
        scores = []
        for score in self.reranker.judge(prompts, shared, stop):
            scores.append(score)
            if stop.is_set() and len(scores) < len(prompts):
                raise GenerationCancelled("The client closed the connection.")
        return best_first(scores, asked.documents, asked.top_n), sum(map(len, prompts))

    def stop_all(self, reason: BaseException) -> None:
        self._side.stop_all(reason)

    def close(self) -> None:
        self._side.close()


def rerank_routes(app: _App) -> list[Route]:
    """``POST /v1/rerank`` (also ``/v2/rerank``, ``/rerank``): the documents best first, from the
    reranker served beside the chat model."""

    async def rerank(request: Request) -> Response:
        try:
            authorize(request, app.settings)
            if app.reranking is None:
                raise no_reranker(app.model_id)
            asked = parse_rerank_request(await read_body(request, app.settings))
            ranked, tokens = await until_disconnect(request, app.reranking.rerank(asked))
        except Exception as exc:
            return app.failed(exc)
        app.metrics.record_status(200)
        app.metrics.record_side("rerank", len(asked.documents), tokens)
        return JSONResponse(rerank_body(asked, ranked, tokens, app.reranking.reranker.name))

    return [Route(path, rerank, methods=["POST"]) for path in ("/v1/rerank", "/v2/rerank", "/rerank")]
