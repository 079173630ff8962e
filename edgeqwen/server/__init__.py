"""An OpenAI-compatible HTTP server for one local model (``edgeqwen serve``).

Needs the ``server`` extra (Starlette and uvicorn): ``pip install 'edgeqwen[server]'``.
:func:`create_app` gives the ASGI app; :func:`serve` runs it until Ctrl-C;
:class:`BackgroundServer` runs it on a thread (tests, notebooks, examples).
"""

from __future__ import annotations

from typing import Any

from ..errors import BackendUnavailableError

__all__ = ["BackgroundServer", "ServerSettings", "check_port", "create_app", "require", "serve"]

_WHERE = {
    "ServerSettings": "settings",
    "create_app": "app",
    "BackgroundServer": "runner",
    "check_port": "runner",
    "serve": "runner",
}


def require() -> None:
    """Fail with the install command when the server extra is missing."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"The server needs Starlette and uvicorn: pip install 'edgeqwen[server]' ({exc})."
        ) from exc


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        require()
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'edgeqwen.server' has no attribute {name!r}")
