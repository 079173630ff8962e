"""``Embedder``: text to vectors with a local embedding model (Qwen3-Embedding), for search and RAG.

>>> emb = Embedder()                                                   # doctest: +SKIP
>>> docs = emb.embed_many(["The capital of France is Paris.", "Gravity pulls."])  # doctest: +SKIP
>>> query = emb.embed("capital of France?", instruction=RETRIEVAL)       # doctest: +SKIP
>>> (docs @ query).argmax()                                             # doctest: +SKIP
0

A vector is what Qwen3-Embedding's model card computes: the text's tokens, then ``<|endoftext|>``,
and the final norm's output at that last token (last-token pooling), scaled to length 1. A query
may carry a one-sentence task (``Instruct: {task}\\nQuery:{query}``, the card's format); documents
are embedded bare. ``dimensions`` keeps the first N numbers and rescales them to length 1 (the
model was trained for that: Matryoshka learning, 32 to 1024). Each text is read from an empty
cache, so its vector never depends on what was embedded before. No safety policy runs here: an
embedding is not an answer, and documents to index are data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from .errors import InvalidRequestError, ModelLoadError
from .sidemodel import SideModel, listed_texts
from .tokenizer import Tokenizer
from .types import check_text

__all__ = ["RETRIEVAL", "Embedder", "normalize", "query_text"]

# The model card's example task for web-search queries; any one-sentence task works the same way.
RETRIEVAL = "Given a web search query, retrieve relevant passages that answer the query"
END = "<|endoftext|>"  # the token whose state is the vector (the HF tokenizer appends it too)


def query_text(text: str, instruction: str | None) -> str:
    """What the model reads for ``text`` under a task ``instruction`` (None: the text bare)."""
    return text if instruction is None else f"Instruct: {instruction}\nQuery:{text}"


def normalize(vectors: np.ndarray, dimensions: int | None = None) -> np.ndarray:
    """Rows cut to their first ``dimensions`` numbers (all when None) and scaled to length 1."""
    if dimensions is not None:
        vectors = vectors[..., :dimensions]
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, np.finfo(np.float32).tiny)).astype(np.float32)


class Embedder(SideModel):
    """Vectors for texts from a local embedding model (llama.cpp, or an ONNX model converted here).

    ``model``: a catalog embedding model's name, a GGUF file or a model folder; None takes the
    installed one. ``context_length``: the longest text, in tokens, it reads, its closing token
    included (8,192 by default, or less where the model or this machine's free memory holds less:
    :func:`~edgeqwen.sidemodel.side_context`).
    """

    role = "embedding"

    def _bind(self, tokenizer: Tokenizer) -> None:
        end = tokenizer.token_id(END)
        if end is None:
            raise ModelLoadError(f"{self.name} has no {END} token: it is not a Qwen embedding model.")
        self._end = end

    @property
    def dimensions(self) -> int:
        """The length of a full vector (the model's hidden size)."""
        return int(self.backend.model.n_embd)

    def tokens(self, text: str, instruction: str | None = None, truncate: bool = False) -> list[int]:
        """The token ids the model reads for ``text``: its tokens (control tokens typed stay text)
        and the closing ``<|endoftext|>``. Refuses an empty text, as OpenAI's API does, and one
        longer than ``context_length`` unless ``truncate`` (its end is then cut off, as Ollama's
        API does by default)."""
        check_text(text, "The text to embed", "input")
        if instruction is not None:
            check_text(instruction, "The instruction", "instruction")
        if not text:
            raise InvalidRequestError("The text to embed is empty; an empty text has no meaning to compare.", "input")
        ids = [*self.backend.tokenizer.encode(query_text(text, instruction)), self._end]
        if truncate and len(ids) > self.context_length:
            return [*ids[: self.context_length - 1], self._end]
        if len(ids) > self.context_length:
            raise InvalidRequestError(
                f"The text is {len(ids)} tokens (its closing token included); this embedding model reads at most "
                f"{self.context_length} (its context_length). Split it into chunks, or load it with a larger "
                "context_length.",
                "input",
            )
        return ids

    def split(self, text: str, max_tokens: int | None = None, overlap: int = 0) -> list[str]:
        """``text`` as chunks to embed one by one, each at most ``max_tokens`` tokens (512 by default,
        a common size for retrieval; at most ``context_length`` - 1), cut at the most natural place
        each can end: a blank line, a line end, a sentence end, a space (:func:`~edgeqwen.chunks.split_text`).
        With no overlap the chunks join back into the text; ``overlap`` tokens repeat between chunks."""
        from .chunks import split_text

        check_text(text, "The text to split", "text")
        most = self.context_length - 1  # the closing token's place
        max_tokens = min(512, most) if max_tokens is None else max_tokens
        if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > most:
            raise InvalidRequestError(
                f"max_tokens={max_tokens} is more than this embedding model reads ({most} tokens and its closing "
                "token: its context_length); ask for fewer, or load it with a larger context_length.",
                "max_tokens",
            )
        return split_text(text, self.backend.tokenizer.offsets, max_tokens, overlap)

    def token_lists(
        self, texts: Iterable[str], *, instruction: str | None = None, truncate: bool = False
    ) -> list[list[int]]:
        """Each text's token ids (:meth:`tokens`), every text checked before any is read (an error
        names its place, ``input[i]``)."""
        ids = []
        for i, text in enumerate(listed_texts(texts, "texts", "for one text use embed(text)")):
            try:
                ids.append(self.tokens(text, instruction, truncate))
            except InvalidRequestError as exc:
                raise InvalidRequestError(f"input[{i}]: {exc}", f"input[{i}]") from exc
        return ids

    def vectors(
        self,
        token_lists: Iterable[Sequence[int]],
        *,
        dimensions: int | None = None,
        unit: bool = True,
        cancel: threading.Event | None = None,
    ) -> Iterator[np.ndarray]:
        """The unit vector of each list of token ids (made by :meth:`tokens`), as each is read;
        ``unit=False``: the pooled state as the model wrote it, cut to ``dimensions`` but not
        scaled (Text Embeddings Inference's ``normalize: false``). ``cancel``, set, stops the text
        being read (GenerationCancelled): a client gone while a long one is read."""
        dimensions = self.check_dimensions(dimensions)  # checked now, not at the first vector
        if not unit:
            return (self.backend.hidden_state(ids, cancel)[:dimensions].astype(np.float32) for ids in token_lists)
        return (normalize(self.backend.hidden_state(ids, cancel), dimensions) for ids in token_lists)

    def embed(
        self, text: str, *, instruction: str | None = None, dimensions: int | None = None, truncate: bool = False
    ) -> np.ndarray:
        """One text's unit vector (float32). ``instruction``: the task, for a query."""
        return next(self.vectors([self.tokens(text, instruction, truncate)], dimensions=dimensions))

    def embed_iter(
        self,
        texts: Iterable[str],
        *,
        instruction: str | None = None,
        dimensions: int | None = None,
        truncate: bool = False,
    ) -> Iterator[np.ndarray]:
        """Each text's unit vector as soon as it is read, in order, so a long run can show its
        progress and keep what it has. Every text is checked first: a bad one fails before any
        time is spent (the error names its place, ``input[i]``)."""
        ids = self.token_lists(texts, instruction=instruction, truncate=truncate)
        return self.vectors(ids, dimensions=dimensions)

    def embed_many(
        self,
        texts: Iterable[str],
        *,
        instruction: str | None = None,
        dimensions: int | None = None,
        truncate: bool = False,
    ) -> np.ndarray:
        """Unit vectors for ``texts``, one row each (float32); :meth:`embed_iter` gives them as they come."""
        rows = list(self.embed_iter(texts, instruction=instruction, dimensions=dimensions, truncate=truncate))
        return np.stack(rows) if rows else np.zeros((0, dimensions or self.dimensions), dtype=np.float32)

    def check_dimensions(self, dimensions: int | None) -> int | None:
        """``dimensions`` if it is a whole number from 1 to the vector's length (None: all of it)."""
        if dimensions is None:
            return None
        full = self.dimensions
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= full:
            raise InvalidRequestError(
                f"dimensions must be a whole number from 1 to {full} (this model's vectors), got {dimensions!r}; "
                "Qwen3-Embedding was trained for 32 and up.",
                "dimensions",
            )
        return dimensions if dimensions < full else None
