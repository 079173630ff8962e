"""Backends: where a prompt's token ids become new tokens. See :mod:`.base`."""

from __future__ import annotations

from ..errors import InvalidRequestError
from .base import Backend

__all__ = ["Backend", "load_backend"]

BACKENDS = ("onnx",)


def load_backend(name: str, model_path, **options) -> Backend:
    """Instantiate a backend by name; heavy imports happen here, not at ``import edgeqwen``."""
    if name in ("onnx", "auto", "cpu"):
        from .onnx import OnnxBackend

        return OnnxBackend(model_path, **options)
    raise InvalidRequestError(f"Unknown backend {name!r}; choose one of: auto, {', '.join(BACKENDS)}.")
