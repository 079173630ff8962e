"""Where edgeqwen keeps files: ``$EDGEQWEN_HOME`` (default ``~/.cache/edgeqwen``, or a folder under
the temporary directory for a user with no home), installed models under ``models/`` in it; and
how they are made there: one process at a time per model, in a scratch folder, the disk's room
checked first and a full disk said as such. The bottom of the layering: everything may import it."""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import InsufficientDiskError

__all__ = [
    "CacheFallbackWarning",
    "cache_dir",
    "can_create",
    "check_disk",
    "disk_full_said",
    "existing",
    "expand",
    "installed_path",
    "installing",
    "is_disk_full",
    "keep",
    "kept",
    "models_dir",
    "onnxruntime_cache",
    "say_if_disk_full",
    "scratch",
    "temp_folder",
    "write_atomic",
]


_BIGGER_DISK = "free some space, or set EDGEQWEN_HOME to a folder on a bigger disk"


class CacheFallbackWarning(UserWarning):
    """There is no home folder to keep files in, so a folder under the temporary directory is used."""


def expand(path: str | os.PathLike) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; one naming no user ("~0") is kept as
    written, as the shell keeps it (``Path.expanduser`` raises RuntimeError there)."""
    return Path(os.path.expanduser(path))


def cache_dir() -> Path:
    home = os.environ.get("EDGEQWEN_HOME")
    if home:
        return expand(home)
    return _default_cache(os.environ.get("HOME"), os.environ.get("XDG_CACHE_HOME"), tempfile.gettempdir())


@functools.lru_cache(maxsize=8)
def _default_cache(home: str | None, xdg: str | None, temp: str) -> Path:
    """``$XDG_CACHE_HOME/edgeqwen`` (an absolute path only, as the XDG spec says), else
    ``~/.cache/edgeqwen``; where there is no home to keep it in, a folder of this user's under the
    temporary directory, said once. Downloads already follow XDG_CACHE_HOME (huggingface_hub's
    cache), so without it a user who moved caches to a bigger disk had conversions fill the small
    one. A cache already in ``~/.cache/edgeqwen`` is kept while the XDG one does not exist, so
    setting XDG_CACHE_HOME later does not hide the models installed before. A container run as a
    user /etc/passwd does not name has HOME unset (``Path.home()`` raised RuntimeError) or HOME=/
    as Docker sets it (every write failed)."""
    user_home = os.path.expanduser("~")
    legacy = Path(user_home) / ".cache" / "edgeqwen" if Path(user_home).is_absolute() else None
    default = legacy
    if xdg and Path(xdg).is_absolute():
        chosen = Path(xdg) / "edgeqwen"
        if chosen.exists() or legacy is None or not legacy.is_dir():
            default = chosen
    if default is not None and can_create(default):
        return default
    fallback = temp_folder(Path(temp))
    where = f"HOME={home}" if home is not None else "HOME is not set and this user has no home"
    warnings.warn(
        CacheFallbackWarning(
            f"No writable home folder ({where}): edgeqwen keeps its files in {fallback} for now, which the "
            "system may delete. Set EDGEQWEN_HOME to a writable folder to keep models and caches."
        ),
        stacklevel=3,
    )
    return fallback


def can_create(folder: Path) -> bool:
    """Whether ``folder`` is there (read-only is the owner's choice: an image with models baked
    in) or the nearest thing above it that is there is a folder that may be written."""
    for path in (folder, *folder.parents):
        if path.exists():
            return path == folder or (path.is_dir() and os.access(path, os.W_OK | os.X_OK))
    return False


def temp_folder(temp: Path | None = None) -> Path:
    """``edgeqwen-UID`` under the temporary directory, the same each run so caches last; another
    user's folder there (made to be written through) is never used: a fresh one is made instead."""
    temp = temp or Path(tempfile.gettempdir())
    folder = temp / f"edgeqwen-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        mine = not folder.is_symlink() and (not hasattr(os, "getuid") or folder.stat().st_uid == os.getuid())
        if mine:
            return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="edgeqwen-", dir=temp))


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
def installing(name: str, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Held by one process at a time per installed model ``name`` (``locks/NAME.lock`` in the cache),
    around making it: two first runs at once each converted the demo model, and the second to
    finish deleted the folder the first was loading. ``waiting`` is called if another holds it.
    Where there is no ``fcntl`` (Windows) nothing is held."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock = cache_dir() / "locks" / f"{name}.lock"
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock, "a")  # closed by the with below
    except OSError:  # a read-only cache: nothing can be installed into it, and the write says so
        yield
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                waiting()
            fcntl.flock(fh, fcntl.LOCK_EX)  # released by the kernel if its holder dies
        except OSError:  # a file system without locks (some FUSE and SMB mounts: ENOLCK): go on as before
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def scratch(name: str, root: Path | None = None) -> Iterator[Path]:
    """A folder beside the installed models (or in ``root``) to make ``name`` in (``.NAME.partial-*``),
    removed after. Taken holding :func:`installing`, so any other folder of that name is what a
    killed attempt left (a conversion the OOM killer stopped left 0.5 GB for the demo model, GBs for
    a Qwen), and is removed first."""
    root = root or models_dir()
    root.mkdir(parents=True, exist_ok=True)
    for left in root.glob(glob.escape(f".{name}.partial-") + "*"):
        shutil.rmtree(left, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}.partial-", dir=root) as tmp:
        yield Path(tmp)


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


def _size(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def check_disk(folder: Path, need: float, what: str, fix: str = _BIGGER_DISK) -> None:
    """Refuse ``what`` before it starts where ``folder``'s disk has less than ``need`` bytes free."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < need:
        raise InsufficientDiskError(f"{what} needs about {_size(need)} free at {probe}, and {_size(free)} is; {fix}.")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a full disk: an OSError's errno, or the OS's words inside another library's
    error (safetensors wraps it in SafetensorError; the builder's log holds it as text)."""
    return getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)


def say_if_disk_full(exc: BaseException, folder: Path | str, what: str, fix: str = _BIGGER_DISK) -> None:
    """Raise InsufficientDiskError naming ``folder`` where ``exc`` is a full disk (else nothing)."""
    if is_disk_full(exc):
        raise InsufficientDiskError(
            f"The disk at {folder} filled up while {what}; {fix}, then run the same command again."
        ) from exc


@contextlib.contextmanager
def disk_full_said(folder: Path, what: str) -> Iterator[None]:
    """A disk that fills up half way (a check before cannot know every other writer) ends in
    InsufficientDiskError naming the folder, not safetensors' or the builder's traceback."""
    try:
        yield
    except InsufficientDiskError:
        raise
    except Exception as exc:
        say_if_disk_full(exc, folder, what)
        raise


def write_atomic(target: Path, text: str) -> Path:
    """``text`` as ``target``, whole or not at all: written under a name of its own beside it, then
    renamed over it, so a reader never sees half a file and writers at once never take each other's
    (a fixed temporary name let one rename another's half-written file). Raises OSError, leaving the
    old file as it was and no temporary file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def kept(file: Path) -> dict[str, Any]:
    """What a file the cache keeps per key holds (``{key: entry}``: per machine, per library);
    empty where it is missing or not such a map."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def keep(file: Path, key: str, entry: Any) -> Path:
    """``entry`` kept under ``key`` in ``file``, beside the others (:func:`write_atomic`: a reader
    never sees half a file). Raises OSError where the cache cannot be written."""
    data = kept(file)
    data[key] = entry
    return write_atomic(file, json.dumps(data, indent=1))
