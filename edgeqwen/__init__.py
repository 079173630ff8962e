"""edgeqwen: small Qwen models, int4, on the machines people already own."""

from __future__ import annotations

from importlib import metadata as _metadata

from .errors import (
    AuditLogError,
    BackendUnavailableError,
    ConversionError,
    DownloadError,
    EdgeQwenError,
    GenerationCancelled,
    GrammarError,
    InsufficientDiskError,
    InsufficientMemoryError,
    IntegrityError,
    InvalidRequestError,
    ModelLoadError,
    ModelNotFoundError,
    PolicyError,
    PromptTooLongError,
    RefusedError,
    StructuredOutputError,
    UnsupportedArchitectureError,
)
from .generation_config import GenerationConfig
from .runtime.formats import ResponseFormat
from .types import Chunk, Message, Metrics, Reply, TokenLogprob, ToolCall

try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("edgeqwen")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Assistant",
    "AsyncAssistant",
    "AuditLogError",
    "BackendUnavailableError",
    "Chunk",
    "ConversionError",
    "DownloadError",
    "EdgeQwenError",
    "Embedder",
    "GenerationCancelled",
    "GenerationConfig",
    "GrammarError",
    "InsufficientDiskError",
    "InsufficientMemoryError",
    "IntegrityError",
    "InvalidRequestError",
    "Message",
    "Metrics",
    "ModelLoadError",
    "ModelNotFoundError",
    "Policy",
    "PolicyError",
    "PromptTooLongError",
    "RefusedError",
    "Reply",
    "Reranker",
    "ResponseFormat",
    "StructuredOutputError",
    "TokenLogprob",
    "ToolCall",
    "UnsupportedArchitectureError",
    "__version__",
]


def __getattr__(name: str):
    # Assistant pulls in the runtime; keep `import edgeqwen` light.
    if name == "Assistant":
        from .assistant import Assistant

        return Assistant
    if name == "AsyncAssistant":
        from .aio import AsyncAssistant

        return AsyncAssistant
    if name == "Embedder":
        from .embeddings import Embedder

        return Embedder
    if name == "Reranker":
        from .rerank import Reranker

        return Reranker
    if name == "Policy":
        from .safety import Policy

        return Policy
    raise AttributeError(f"module 'edgeqwen' has no attribute {name!r}")
