"""Backends: where a prompt's token ids become new tokens. See :mod:`.base`."""

from __future__ import annotations

import importlib.util

from ..errors import BackendUnavailableError, InvalidRequestError
from .base import Backend

__all__ = ["Backend", "load_backend"]

BACKENDS = ("onnx", "mlc")
MLC_INSTALL = (
    "MLC-LLM is not installed, and it is not on PyPI: install its wheel from MLC's own channel, e.g. "
    "`pip install --pre -f https://mlc.ai/wheels mlc-llm-nightly-cu123 mlc-ai-nightly-cu123` (CUDA 12.3; "
    "pick the -cpu, -vulkan or macOS wheels for your machine; there is no Linux aarch64 wheel, so a "
    "Raspberry Pi stays on the ONNX backend). Or use backend='onnx'."
)


def load_backend(name: str, model_path, **options) -> Backend:
    """Instantiate a backend by name; heavy imports happen here, not at ``import edgeqwen``."""
    if name in ("onnx", "auto", "cpu"):
        from .onnx import OnnxBackend

        return OnnxBackend(model_path, **options)
    if name == "mlc":
        if importlib.util.find_spec("mlc_llm") is None:
            raise BackendUnavailableError(MLC_INSTALL)
        raise BackendUnavailableError(
            "mlc_llm is installed, but edgeqwen's MLC adapter is not built yet; use backend='onnx' for now."
        )
    raise InvalidRequestError(f"Unknown backend {name!r}; choose one of: auto, {', '.join(BACKENDS)}.")
