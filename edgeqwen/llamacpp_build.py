"""Which llama.cpp build is installed, read without loading it: its kernels' library file, and what
this CPU's check of its AMX kernels found (written by :mod:`edgeqwen.backends.amx`, read by the
probe too, which may not load a backend).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .paths import cache_dir, keep, kept

__all__ = ["AMX_VERDICTS", "amx_built_in", "amx_verdict", "keep_amx_verdict", "llamacpp_library"]

AMX_VERDICTS = "llama-cpp-amx.json"  # in the cache: {library path: {size, mtime_ns, ok, detail}}


def llamacpp_library(package: Path | None = None) -> Path | None:
    """The installed llama.cpp's CPU kernels (ggml's CPU backend beside libllama, else libllama):
    what tells one build of a version from another. ``package``: the ``llama_cpp`` folder (None:
    the one Python would import)."""
    if package is None:
        spec = importlib.util.find_spec("llama_cpp")
        if spec is None or not spec.submodule_search_locations:
            return None
        package = Path(next(iter(spec.submodule_search_locations)))
    folder = package / "lib"
    found = sorted(folder.glob("libggml-cpu*")) + sorted(folder.glob("libllama*"))
    return found[0].resolve() if found else None


def amx_built_in(library: Path) -> bool:
    """``library`` holds llama.cpp's AMX kernels: their buffer type's symbol is in the file (read,
    not loaded; a build without them, ``-mno-amx-int8``, has none)."""
    try:
        return b"ggml_backend_amx_buffer_type" in library.read_bytes()
    except OSError:
        return False


def _identity(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def amx_verdict(library: Path) -> tuple[bool, str] | None:
    """Whether the AMX kernels of ``library`` work on this CPU, and what the check found; None where
    this very file was never checked (no AMX kernels, or never loaded; a rebuild is another file)."""
    seen = kept(cache_dir() / AMX_VERDICTS).get(str(library))
    if not isinstance(seen, dict):
        return None
    try:
        same = {k: seen.get(k) for k in ("size", "mtime_ns")} == _identity(library)
    except OSError:
        return None
    return (bool(seen.get("ok")), str(seen.get("detail", ""))) if same else None


def keep_amx_verdict(library: Path, ok: bool, detail: str) -> None:
    """Keep what the check of ``library`` found; an unwritable cache keeps nothing (it runs again)."""
    try:
        keep(cache_dir() / AMX_VERDICTS, str(library), {**_identity(library), "ok": ok, "detail": detail})
    except OSError:
        pass
