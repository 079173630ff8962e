"""Backends: where a prompt's token ids become new tokens. See :mod:`.base`."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidRequestError
from .base import Backend

__all__ = ["BACKENDS", "Backend", "backend_for_folder", "load_backend"]

BACKENDS = ("onnx", "mlc")


def backend_for_folder(path: str | Path) -> str:
    """Which backend runs a model folder: ``mlc`` for an MLC build, else ``onnx``."""
    return "mlc" if (Path(path) / "mlc-chat-config.json").is_file() else "onnx"


def load_backend(name: str, model_path, **options) -> Backend:
    """Instantiate a backend by name; heavy imports happen here, not at ``import edgeqwen``.
    ``auto`` picks by the folder's build (MLC build folder: mlc, else onnx)."""
    if name == "auto":
        name = backend_for_folder(model_path)
    if name in ("onnx", "cpu"):
        from .onnx import OnnxBackend

        options.pop("device", None)
        return OnnxBackend(model_path, **options)
    if name == "mlc":
        from .mlc import MlcBackend

        return MlcBackend(model_path, **options)
    raise InvalidRequestError(f"Unknown backend {name!r}; choose one of: auto, {', '.join(BACKENDS)}.")
