"""The exception tree. Every error a user can cause is an :class:`EdgeQwenError` that says what to do.

Errors from onnxruntime, tokenizers, the file system or subprocesses are translated at the
boundary where they happen (``raise ModelLoadError(...) from exc``); the CLI prints
``str(error)`` and exits with :attr:`EdgeQwenError.exit_code`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

__all__ = [
    "AuditLogError",
    "BackendUnavailableError",
    "ConversionError",
    "DownloadError",
    "EdgeQwenError",
    "GenerationCancelled",
    "GrammarError",
    "InsufficientDiskError",
    "InsufficientMemoryError",
    "IntegrityError",
    "InvalidRequestError",
    "ModelLoadError",
    "ModelNotFoundError",
    "PolicyError",
    "PromptTooLongError",
    "RefusedError",
    "StructuredOutputError",
    "UnsupportedArchitectureError",
    "map_exceptions",
]


class EdgeQwenError(Exception):
    """Base class of every error edgeqwen raises on purpose."""

    exit_code = 1


class InvalidRequestError(EdgeQwenError, ValueError):
    """A request argument is out of range (e.g. ``top_p=2``) or malformed. ``param`` names the
    argument at fault where one is (the HTTP server reports it as OpenAI's ``param``)."""

    exit_code = 2

    def __init__(self, message: str = "", param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class PromptTooLongError(InvalidRequestError):
    """The prompt does not fit the model's context window."""

    def __init__(self, prompt_tokens: int, context_length: int, hint: str = "") -> None:
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length
        # Anthropic's words and OpenAI's, which clients match to tell a full window from other bad
        # requests (Claude Code reads the two numbers; LiteLLM, hence aider, and CrewAI the phrases)
        msg = (
            f"The prompt is too long: {prompt_tokens} tokens > {context_length - 1} maximum (this model's "
            f"maximum context length is {context_length} tokens, and one is needed to answer). Shorten the "
            f"prompt{hint or ', or use a model or build with a longer context'}."
        )
        super().__init__(msg, param="messages")  # what an HTTP client sent too much of


class GrammarError(InvalidRequestError):
    """A response format (JSON Schema, regex, choices, Lark grammar) cannot be compiled or checked."""


class StructuredOutputError(EdgeQwenError):
    """A constrained answer did not complete into a valid value: it was cut (``cut``: it ran out of
    max_tokens, or a string reached the length strings are decoded within), or (``keyword`` set)
    it broke that schema keyword in every attempt."""

    def __init__(self, message: str, text: str, keyword: str | None = None, cut: bool = False) -> None:
        super().__init__(message)
        self.text = text  # what the model wrote, so nothing is lost
        self.keyword = keyword
        self.cut = cut


class ModelNotFoundError(EdgeQwenError, FileNotFoundError):
    """No model folder at the given path or name."""


class ModelLoadError(EdgeQwenError):
    """A model folder exists but is incomplete, corrupt or inconsistent."""


class UnsupportedArchitectureError(EdgeQwenError):
    """The model's architecture is not one edgeqwen can run or convert."""


class ConversionError(EdgeQwenError):
    """Building an int4 ONNX model failed."""


class BackendUnavailableError(EdgeQwenError):
    """A backend's runtime package (onnxruntime, mlc_llm, ...) is not installed or usable."""


class IntegrityError(ModelLoadError):
    """A downloaded or installed file does not match the size or checksum the hub recorded."""


class InsufficientDiskError(EdgeQwenError):
    """Not enough free disk space for a download or conversion (checked before starting)."""


class DownloadError(EdgeQwenError):
    """The hub could not be reached or refused the request."""


class InsufficientMemoryError(EdgeQwenError):
    """The model at the requested context will not fit in free memory (checked before loading)."""


class GenerationCancelled(EdgeQwenError):
    """Generation was cancelled by the caller."""


class RefusedError(EdgeQwenError):
    """The safety policy refused the prompt or stopped the answer, so there is no value to return
    (``Assistant.json`` / ``regex`` / ``choice``; ``chat`` returns such a reply as it is).
    ``text`` is the policy's refusal or what was shown; ``events`` say which rule acted."""

    exit_code = 3

    def __init__(self, message: str, text: str, events: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.text = text
        self.events = events


class AuditLogError(EdgeQwenError):
    """The audit log could not be written (a full disk, a file made read-only): the answer stops
    rather than going on unrecorded. ``event`` is the line that was not written."""

    def __init__(self, message: str, event: str = "") -> None:
        super().__init__(message)
        self.event = event


class PolicyError(InvalidRequestError):
    """A safety policy file or value is malformed; the message names the file, line or field."""


@contextlib.contextmanager
def map_exceptions(mapping: Mapping[type[BaseException], Callable[[BaseException], EdgeQwenError]]) -> Iterator[None]:
    """Translate a library's exceptions at a boundary (httpx's idea): the first type in ``mapping``
    that matches makes ours, raised ``from`` the original; our own errors and unmapped ones pass."""
    try:
        yield
    except EdgeQwenError:
        raise
    except Exception as exc:
        for kind, make in mapping.items():
            if isinstance(exc, kind):
                raise make(exc) from exc
        raise
