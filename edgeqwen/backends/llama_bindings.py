"""llama-cpp-python's ctypes bindings, imported and set up once a process: llama.cpp's log kept
for error messages, and its parameter structs set by name with unknown names refused."""

from __future__ import annotations

import ctypes
import threading
from types import ModuleType

from ..catalog import LLAMACPP_INSTALL
from ..errors import BackendUnavailableError

__all__ = ["bindings", "last_log", "set_fields"]

_state: dict[str, object] = {}  # the bindings module, the log callback (kept alive), recent log lines
_init_lock = threading.Lock()


def bindings() -> ModuleType:
    """llama_cpp's ctypes bindings, imported and initialised once, with llama.cpp's log (which
    prints every tensor while loading) kept for error messages instead of printed."""
    with _init_lock:
        ll = _state.get("ll")
        if ll is not None:
            return ll  # type: ignore[return-value]
        try:
            from llama_cpp import llama_cpp as ll
        except (ImportError, OSError) as exc:  # OSError: libllama.so missing or built for another CPU
            raise BackendUnavailableError(f"llama.cpp is not installed ({exc}); {LLAMACPP_INSTALL}.") from exc
        lines: list[str] = []

        def keep(level: int, text: bytes | None, _data: object) -> None:
            if text and level >= 3:  # warnings and errors (ggml_log_level: 2 info, 3 warn, 4 error)
                lines.append(text.decode("utf-8", errors="replace").strip())
                del lines[:-20]

        callback = ll.llama_log_callback(keep)
        ll.llama_log_set(callback, ctypes.c_void_p())
        ll.llama_backend_init()
        _state.update(ll=ll, callback=callback, lines=lines)
        return ll


def set_fields(params: ctypes.Structure, **fields: object) -> None:
    """Set fields of a llama.cpp parameter struct, refusing names it does not have: ctypes would
    store an unknown name as a plain attribute that llama.cpp never sees (``use_mmap`` became
    ``load_mode`` in its C API; the pinned bindings follow the C names)."""
    known = {name for name, *_ in type(params)._fields_}
    for name, value in fields.items():
        if name not in known:
            raise BackendUnavailableError(
                f"This llama-cpp-python has no {type(params).__name__}.{name}; install the version edgeqwen "
                f"pins: {LLAMACPP_INSTALL}."
            )
        setattr(params, name, value)


def last_log() -> str:
    lines = [line for line in _state.get("lines", []) if line]  # type: ignore[union-attr]
    return lines[-1] if lines else "no message from llama.cpp"
