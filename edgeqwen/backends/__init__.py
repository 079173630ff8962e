"""Backends: where a prompt's token ids become new tokens. See :mod:`.base`.

One registry, name -> class, imported only when used (onnxruntime, mlc_llm are heavy). Every
class is built the same way: ``cls(model_path, context_length=, threads=, device=)``, and a
remote one (``remote = True``) also with ``base_url=, api_key=``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import InvalidRequestError
from ..model import checked_kv_cache_type
from .base import Backend, Request

__all__ = [
    "BACKENDS",
    "Backend",
    "Request",
    "backend_class",
    "backend_for_folder",
    "check_kv_cache_type",
    "load_backend",
    "register_backend",
]

_REGISTRY: dict[str, str | type[Backend]] = {
    "onnx": "edgeqwen.backends.onnx:OnnxBackend",
    "mlc": "edgeqwen.backends.mlc:MlcBackend",
    "openai": "edgeqwen.backends.openai:OpenAIBackend",
    "llamacpp": "edgeqwen.backends.llamacpp:LlamaCppBackend",
}
_ALIASES = {"cpu": "onnx"}
BACKENDS = tuple(_REGISTRY)  # the built-in ones; register_backend adds more


def register_backend(name: str, cls: str | type[Backend]) -> None:
    """Add a backend (a class, or ``"module:Class"`` to import when first used)."""
    _REGISTRY[name] = cls


def backend_class(name: str) -> type[Backend]:
    """The class registered under ``name`` (its module imported now)."""
    target = _REGISTRY.get(_ALIASES.get(name, name))
    if target is None:
        raise InvalidRequestError(f"Unknown backend {name!r}; choose one of: auto, {', '.join(_REGISTRY)}.", "backend")
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        _REGISTRY[_ALIASES.get(name, name)] = target
    return target


def backend_for_folder(path: str | Path) -> str:
    """Which backend runs a model: ``mlc`` for an MLC build, ``llamacpp`` for a GGUF file or a
    folder holding one (and no ONNX build), else ``onnx``."""
    path = Path(path)
    if (path / "mlc-chat-config.json").is_file():
        return "mlc"
    if path.suffix == ".gguf" or (
        path.is_dir() and not (path / "genai_config.json").is_file() and any(path.glob("*.gguf"))
    ):
        return "llamacpp"
    return "onnx"


def check_kv_cache_type(cls: type[Backend], kv_cache_type: str) -> None:
    """A clear error unless backend ``cls`` may keep its KV cache as ``kv_cache_type``."""
    if checked_kv_cache_type(kv_cache_type) not in cls.kv_cache_types:
        raise InvalidRequestError(
            f"kv_cache_type={kv_cache_type!r} is for llama.cpp models (GGUF files); the {cls.name} backend keeps "
            "its KV cache in the type its model was built with. Leave kv_cache_type out, or run a GGUF build "
            "(`edgeqwen pull MODEL --backend llamacpp`).",
            "kv_cache_type",
        )


def load_backend(
    name: str,
    model_path: str | Path,
    *,
    context_length: int | None = None,
    threads: int | None = None,
    device: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    kv_cache_type: str | None = None,
) -> Backend:
    """Build a backend by name; ``auto`` picks by the folder's build (MLC build: mlc, GGUF: llamacpp,
    else onnx).
    ``base_url`` and ``api_key`` are for a remote backend (``openai``); ``kv_cache_type`` for one that
    lists it in ``kv_cache_types`` (None: the backend's own)."""
    if name == "auto":
        name = backend_for_folder(model_path)
    cls = backend_class(name)
    options: dict[str, object] = {"context_length": context_length, "threads": threads, "device": device}
    if kv_cache_type is not None:
        check_kv_cache_type(cls, kv_cache_type)
        options["kv_cache_type"] = kv_cache_type
    if cls.remote:
        options.update(base_url=base_url, api_key=api_key)
    elif base_url is not None or api_key is not None:
        raise InvalidRequestError(f"base_url and api_key are for backend='openai', not {name!r}.", "base_url")
    return cls(model_path, **options)
