"""Where edgeqwen keeps files: ``$EDGEQWEN_HOME`` (default ``~/.cache/edgeqwen``), installed
models under ``models/`` in it. The bottom of the layering: everything may import it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["cache_dir", "existing", "expand", "installed_path", "models_dir", "onnxruntime_cache"]


def expand(path: str | os.PathLike) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; one naming no user ("~0") is kept as
    written, as the shell keeps it (``Path.expanduser`` raises RuntimeError there)."""
    return Path(os.path.expanduser(path))


def cache_dir() -> Path:
    return expand(os.environ.get("EDGEQWEN_HOME") or Path.home() / ".cache" / "edgeqwen")


def models_dir() -> Path:
    return cache_dir() / "models"


def installed_path(name: str) -> Path | None:
    """Where the installed model ``name`` lives: a folder or link directly under :func:`models_dir`;
    None for a name that is no plain folder name ("..", "a/b", an absolute path), which joined to
    the models folder would name a folder outside it (``rm ..`` deleted the whole cache)."""
    plain = isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name
    return models_dir() / name if plain and "\\" not in name and "\x00" not in name else None


def existing(text: str | os.PathLike) -> Path | None:
    """``text`` as a path (``~`` expanded) if something is there, else None. User text is tried as
    a path before it is read as a name or as JSON, and a string no file system takes as a name (a
    long JSON schema, a NUL byte) is "nothing there", not an OSError."""
    try:
        path = expand(text)
        return path if path.exists() or path.is_symlink() else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def onnxruntime_cache() -> Iterator[None]:
    """Around ``import onnxruntime``: it writes a device id and a telemetry database under
    ``$XDG_CACHE_HOME/Microsoft`` when imported, unless telemetry is off. edgeqwen turns it off
    (nothing phones home) unless the user set ``ORT_DISABLE_TELEMETRY`` themselves; and with
    ``EDGEQWEN_HOME`` set, whatever onnxruntime still writes goes there (``runtime-cache/``)."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    home = os.environ.get("EDGEQWEN_HOME")
    if not home or "onnxruntime" in sys.modules:
        yield
        return
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(expand(home) / "runtime-cache")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved
