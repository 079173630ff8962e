"""Models served beside the chat model: an embedding model (:class:`~edgeqwen.Embedder`) and a
reranker (:class:`~edgeqwen.Reranker`). A name becomes a backend as the chat model's does
(:mod:`edgeqwen.hub`), with the role checked first, the window fitted to this machine's free
memory, and a backend without what the role needs refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .errors import EdgeQwenError, InvalidRequestError, ModelNotFoundError
from .hub import build_backend, check_role, installed_models, resolve_model
from .types import is_list

if TYPE_CHECKING:
    from .backends import Backend
    from .tokenizer import Tokenizer

__all__ = ["SideModel", "listed_texts", "side_backend", "side_context"]

# What a model served beside the chat model is called, and what it is said to be doing once found.
_SIDE_WORDS = {"embedding": ("embedding model", "Embedding with"), "reranker": ("reranker", "Reranking with")}


def listed_texts(value: object, noun: str, one: str) -> Iterable[str]:
    """``value`` where it is a list of texts (the Embedder's texts, the Reranker's documents); one
    text (``one`` says what to call for it), a mapping or no list at all is an InvalidRequestError
    naming ``noun`` (iterating them read letters or keys, or raised a TypeError)."""
    if isinstance(value, str):
        raise InvalidRequestError(f"This takes a list of {noun}; {one}.", noun)
    if not is_list(value):
        raise InvalidRequestError(f"This takes a list of {noun}, got {type(value).__name__}.", noun)
    return value  # type: ignore[return-value]


def side_context(path: Path, available: int | None = None) -> int:
    """The window an Embedder or a Reranker gets when none is asked for: 8,192 tokens, or less where
    the model reads less or this machine's free memory holds less
    (:func:`~edgeqwen.probe.planner.embedding_context`)."""
    from .backends import backend_for_folder
    from .catalog import EMBEDDING_CONTEXT
    from .model import read_model_info
    from .probe.limits import available_memory
    from .probe.planner import embedding_context

    try:
        if backend_for_folder(path) == "llamacpp":
            from .backends.llamacpp import gguf_info
            from .model import DEFAULT_KV_CACHE_TYPE, KV_CACHE_TYPES

            info = gguf_info(path)  # read once: the backend's load reads it from the same cache
            kv = info.kv_bytes_per_token(KV_CACHE_TYPES[DEFAULT_KV_CACHE_TYPE])
        else:
            info = read_model_info(path)
            kv = info.kv_bytes_per_token(4)
    except (EdgeQwenError, KeyError, OSError, TypeError, ValueError):
        return EMBEDDING_CONTEXT  # the loader says what is wrong with the model
    free = available_memory() if available is None else available
    return embedding_context(free, info.weights_bytes, kv, info.context_length)


# What a side model needs of its backend: the capability, what it cannot do without it, and why.
_SIDE_NEEDS = {
    "embedding": ("supports_hidden_states", "embed", "it does not expose hidden states"),
    "reranker": ("supports_next_logits", "rerank", "it does not give the logits after a prompt"),
}


def side_backend(
    model: str | None,
    role: str,
    backend: str | Backend = "auto",
    context_length: int | None = None,
    threads: int | None = None,
    announce: Callable[[str], None] | None = None,
) -> Backend:
    """The backend of a model served beside the chat model (``role`` "embedding" or "reranker"):
    a catalog model named for another role refused before anything loads, None taking the installed
    one of this role, its window :func:`side_context`'s unless given. A backend given as one is
    taken as it is; either way one without what the role needs is closed and refused."""
    from .backends import Backend

    if isinstance(backend, Backend):
        built = backend
    else:
        check_role(model, role)
        path = _installed_side_model(role, announce) if model in (None, "auto") else model
        if context_length is None and backend in ("auto", "llamacpp", "onnx"):
            context_length = side_context(resolve_model(path, backend=backend))
        options = {"context_length": context_length, "threads": threads}
        built = build_backend(path, backend, announce, options, role=role)
    need, verb, why = _SIDE_NEEDS[role]
    if not getattr(built, need) or built.remote:
        built.close()
        raise InvalidRequestError(
            f"The {built.name} backend cannot {verb}: {why}. Use a GGUF file on llama.cpp (or an ONNX model "
            "converted by edgeqwen).",
            "backend",
        )
    return built


_Side = TypeVar("_Side", bound="SideModel")


class SideModel:
    """A model served beside the chat model (``Embedder``, ``Reranker``): it owns one backend,
    built by :func:`side_backend` for the class's ``role``. ``_bind`` reads the tokens the role
    needs; a model without them is closed and refused."""

    role: str

    def __init__(
        self,
        model: str | None = None,
        *,
        backend: str | Backend = "auto",
        context_length: int | None = None,
        threads: int | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = side_backend(model, self.role, backend, context_length, threads, announce)
        try:
            self._bind(self.backend.tokenizer)
        except BaseException:
            self.backend.close()
            raise

    def _bind(self, tokenizer: Tokenizer) -> None:
        """Keep the token ids the role needs; ModelLoadError where the model lacks them."""

    @property
    def name(self) -> str:
        return self.backend.info.name

    @property
    def context_length(self) -> int:
        """The most tokens the model reads at once (the class says what they hold)."""
        return self.backend.context_length

    def close(self) -> None:
        self.backend.close()

    def __enter__(self: _Side) -> _Side:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _installed_side_model(role: str, announce: Callable[[str], None] | None) -> str:
    from .catalog import catalog

    noun, doing = _SIDE_WORDS[role]
    installed = installed_models()
    for spec in catalog():
        if spec.role != role:
            continue
        for key in (f"{spec.name}-gguf", spec.name):
            if key in installed:
                if announce:
                    announce(f"{doing} {spec.display}")
                return str(installed[key])
    first = next(s for s in catalog() if s.role == role)
    raise ModelNotFoundError(
        f"No {noun} is installed. Get {first.display} with `edgeqwen pull {first.name} --backend llamacpp` "
        f"(~{first.builds['gguf']['approx_size_mib']:,} MiB), or pass a GGUF file."
    )
