"""``Reranker``: documents ordered by how well each answers a query, with Qwen3-Reranker (a
cross-encoder), the second stage of search and RAG after an :class:`~edgeqwen.Embedder` has
found the candidates.

>>> rr = Reranker()                                                              # doctest: +SKIP
>>> rr.rerank("capital of France?", ["Gravity pulls.", "Paris is France's capital."])[0].index  # doctest: +SKIP
1

A score is what Qwen3-Reranker's model card computes: the model reads its judging prompt (a
system line, ``<Instruct>``, ``<Query>``, ``<Document>``, an empty thinking block) and the score
is P("yes") against "no" as its next token, from 0 to 1. Unlike two vectors' cosine, the model
reads the query and the document together. A document longer than the window loses its end, as
the card's own code does (``truncate=False`` refuses it instead). One query's documents share
the prompt up to the document, which the cache keeps, so each prefills only its own tokens.
No safety policy runs: documents to rank are data, and nothing is answered.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .embeddings import RETRIEVAL
from .errors import InvalidRequestError, ModelLoadError
from .sidemodel import SideModel, listed_texts
from .tokenizer import Tokenizer
from .types import check_text

__all__ = ["Ranked", "Reranker", "best_first", "check_top_n", "judging_prompt", "yes_probability"]

# The model card's prompt, word for word: what the model was trained to judge.
SYSTEM = (
    "Judge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the "
    'answer can only be "yes" or "no".'
)
HEAD = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n"
TAIL = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def judging_prompt(query: str, document: str, instruction: str | None = None) -> str:
    """The card's ``<Instruct>``/``<Query>``/``<Document>`` text between the prompt's head and tail
    (``instruction`` None: the card's web-search task)."""
    return f"<Instruct>: {instruction or RETRIEVAL}\n<Query>: {query}\n<Document>: {document}"


def yes_probability(logits: np.ndarray, yes: int, no: int) -> float:
    """P("yes") against "no" alone, from the next token's logits: the card's softmax over the two."""
    margin = float(logits[no]) - float(logits[yes])
    if margin > 0:  # the form whose exp cannot overflow
        return math.exp(-margin) / (1.0 + math.exp(-margin))
    return 1.0 / (1.0 + math.exp(margin))


@dataclass(frozen=True)
class Ranked:
    """One document's place: its ``index`` in the list given, its ``score`` (0 to 1) and its text."""

    index: int
    score: float
    document: str


def check_top_n(top_n: object) -> None:
    """Refuses a ``top_n`` that is not None or a whole number from 1 (naming the field)."""
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise InvalidRequestError(f"top_n must be a whole number >= 1, got {top_n!r}.", "top_n")


def best_first(scores: Sequence[float], documents: Sequence[str], top_n: int | None = None) -> list[Ranked]:
    """The documents by score, best first (ties in the order given), the first ``top_n`` (None: all)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return [Ranked(i, scores[i], documents[i]) for i in order[:top_n]]


class Reranker(SideModel):
    """Scores of documents against a query from a local reranker (llama.cpp, or an ONNX model
    converted here).

    ``model``: a catalog reranker's name, a GGUF file or a model folder; None takes the installed
    one. ``context_length``: the most tokens a query and one document take together, the judging
    prompt's included (8,192 by default, or less where the model or free memory holds less).
    """

    role = "reranker"

    def _bind(self, tokenizer: Tokenizer) -> None:
        yes, no = tokenizer.token_id("yes"), tokenizer.token_id("no")
        if yes is None or no is None or tokenizer.token_id("<|im_start|>") is None:
            raise ModelLoadError(f"{self.name} has no yes/no or <|im_start|> tokens: it is not a Qwen3 reranker.")
        self._yes, self._no = yes, no
        self._head, self._tail = tokenizer.encode_controls(HEAD), tokenizer.encode_controls(TAIL)

    def tokens(self, query: str, document: str, instruction: str | None = None, truncate: bool = True) -> list[int]:
        """The token ids the model reads to judge ``document`` against ``query``. Control tokens
        typed in either stay text. A document too long for the window loses its end unless
        ``truncate`` is False (then it is refused); a query too long for any document is refused."""
        return self._document(query, document, instruction, truncate, self._room(query, instruction))

    def token_lists(
        self,
        query: str,
        documents: Iterable[str],
        *,
        instruction: str | None = None,
        truncate: bool = True,
    ) -> list[list[int]]:
        """Each document's prompt (:meth:`tokens`), every one checked before any is read (an
        error names its place, ``documents[i]``)."""
        documents = _listed(documents)
        room = self._room(query, instruction)
        ids = []
        for i, document in enumerate(documents):
            try:
                ids.append(self._document(query, document, instruction, truncate, room))
            except InvalidRequestError as exc:
                raise InvalidRequestError(f"documents[{i}]: {exc}", f"documents[{i}]") from exc
        return ids

    def _room(self, query: str, instruction: str | None) -> int:
        """The tokens left for a document's text after the query's; refuses a query with none left."""
        check_text(query, "The query", "query")
        if instruction is not None:
            check_text(instruction, "The instruction", "instruction")
        if not query.strip():
            raise InvalidRequestError("The query is empty; there is nothing to judge the documents against.", "query")
        frame = len(self._head) + len(self._tail)
        bare = len(self.backend.tokenizer.encode(judging_prompt(query, "", instruction)))
        if bare + frame >= self.context_length:
            raise InvalidRequestError(
                f"The query and instruction take {bare} tokens, {bare + frame} with the judging prompt; this reranker "
                f"reads at most {self.context_length} with a document (its context_length). Shorten the query, or "
                "load it with a larger context_length.",
                "query",
            )
        return self.context_length - frame

    def _document(self, query: str, document: str, instruction: str | None, truncate: bool, room: int) -> list[int]:
        check_text(document, "The document")
        body = self.backend.tokenizer.encode(judging_prompt(query, document, instruction))
        if len(body) > room and not truncate:
            raise InvalidRequestError(
                f"The document takes the prompt to {len(body) + self.context_length - room} tokens; this reranker "
                f"reads at most {self.context_length} (its context_length). Split it, pass truncate=True to judge "
                "its beginning, or load it with a larger context_length.",
                "documents",
            )
        return [*self._head, *body[:room], *self._tail]

    def shared_length(self, query: str, instruction: str | None = None) -> int:
        """How many first tokens every document's prompt for this query has: the judging prompt up to
        ``<Document>:``, kept apart so that each document's prompt computes only its own tokens, the
        same way whatever was scored before (so a score never depends on the other documents)."""
        bare = self.backend.tokenizer.encode(judging_prompt(query, "", instruction).rstrip(" "))
        return len(self._head) + len(bare)

    def scores_iter(
        self, query: str, documents: Iterable[str], *, instruction: str | None = None, truncate: bool = True
    ) -> Iterator[float]:
        """Each document's score as soon as it is read, in order. Every document is checked first:
        a bad one fails before any time is spent (the error names its place, ``documents[i]``)."""
        prompts = self.token_lists(query, documents, instruction=instruction, truncate=truncate)
        return self.judge(prompts, self.shared_length(query, instruction))

    def judge(
        self, prompts: Iterable[Sequence[int]], shared: int, cancel: threading.Event | None = None
    ) -> Iterator[float]:
        """Each prompt's score (prompts from :meth:`token_lists`, ``shared`` from
        :meth:`shared_length` for the same query), as each is read; ``cancel``, set, stops the
        document being read (GenerationCancelled)."""
        # A document whose first token swallowed the prompt's last keeps a prefix of its own: the
        # same tokens always split at the same place, which is all a score's sameness needs.
        yes, no = self._yes, self._no
        return (yes_probability(self.backend.next_logits(ids, shared, cancel), yes, no) for ids in prompts)

    def score(self, query: str, document: str, *, instruction: str | None = None, truncate: bool = True) -> float:
        """How well ``document`` answers ``query``: from 0 to 1. ``instruction``: the task, one
        sentence (default: the card's web-search one)."""
        return next(self.scores_iter(query, [document], instruction=instruction, truncate=truncate))

    def scores(
        self, query: str, documents: Iterable[str], *, instruction: str | None = None, truncate: bool = True
    ) -> list[float]:
        """Each document's score, in the order given (:meth:`scores_iter` gives them as they come)."""
        return list(self.scores_iter(query, documents, instruction=instruction, truncate=truncate))

    def rerank(
        self,
        query: str,
        documents: Iterable[str],
        *,
        top_n: int | None = None,
        instruction: str | None = None,
        truncate: bool = True,
    ) -> list[Ranked]:
        """The documents best first (ties in the order given), the first ``top_n`` of them (None: all)."""
        check_top_n(top_n)
        documents = list(_listed(documents))
        return best_first(self.scores(query, documents, instruction=instruction, truncate=truncate), documents, top_n)


def _listed(documents: object) -> Iterable[str]:
    """``documents`` where it is a list of texts (:func:`~.sidemodel.listed_texts`)."""
    return listed_texts(documents, "documents", "for one use score(query, document)")
