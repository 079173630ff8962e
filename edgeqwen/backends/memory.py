"""Process memory for the ONNX backend: what a session and its process would otherwise keep
resident (or walk page tables for) that an assistant on a small machine should not pay for.

- ``MappedWeights``: the weight files mapped once by us, their pages dropped when nobody reads them.
- ``small_page_zeros``: KV buffers in 4 KiB pages, so the cache's resident size follows its tokens.
- ``trim_heap``: free heap handed back after loading.
- ``fix_mmap_threshold``: glibc's thresholds pinned, so per-token buffers reuse warm pages.
- ``huge_pages_for_new_memory``: onnxruntime's repacked weights moved into huge pages (decode speed).

The figures behind each are in docs/performance.md ("Memory"). Process-wide switches:
:func:`configure` (``MemoryTuning``), with ``EDGEQWEN_MALLOC_TUNING`` / ``EDGEQWEN_HUGE_PAGES``
(``0`` or ``1``) overriding it.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MappedWeights",
    "MemoryTuning",
    "collapse_resident",
    "configure",
    "current",
    "fix_mmap_threshold",
    "huge_pages_for_new_memory",
    "small_page_zeros",
    "trim_heap",
]

_MMAP_FIXED = False
MMAP_THRESHOLD = 1 << 20  # bytes; see fix_mmap_threshold
TRIM_THRESHOLD = 4 << 20
MADV_COLLAPSE = 25  # Linux 6.1+; the mmap module does not name it


@dataclass(frozen=True)
class MemoryTuning:
    """What edgeqwen may change in the process: ``malloc`` (glibc's thresholds, heap trimming,
    dropping weight-file pages) and ``huge_pages`` (needs ``malloc``)."""

    malloc: bool = True
    huge_pages: bool = True


_configured = MemoryTuning()


def configure(tuning: MemoryTuning) -> None:
    """Set the process-wide memory tuning (before a model loads; the environment still overrides)."""
    global _configured
    _configured = tuning


def current() -> MemoryTuning:
    """The tuning in force: :func:`configure`'s, with ``EDGEQWEN_MALLOC_TUNING`` and
    ``EDGEQWEN_HUGE_PAGES`` (``0`` off, ``1`` on) overriding it."""

    def env(name: str, default: bool) -> bool:
        value = os.environ.get(name)
        return default if value not in ("0", "1") else value == "1"

    malloc = env("EDGEQWEN_MALLOC_TUNING", _configured.malloc)
    return MemoryTuning(malloc, malloc and env("EDGEQWEN_HUGE_PAGES", _configured.huge_pages))


def _tuning_enabled() -> bool:
    """Linux (glibc, /proc) and malloc tuning on."""
    return sys.platform.startswith("linux") and current().malloc


def fix_mmap_threshold() -> None:
    """Pin glibc's mmap threshold at 1 MiB and its trim threshold at 4 MiB (once per process;
    Linux/glibc only), so a decode step's temporaries reuse warm heap pages instead of faulting
    fresh mapped ones, and the heap does not grow without bound (docs/performance.md, "Memory")."""
    global _MMAP_FIXED
    if _MMAP_FIXED or not _tuning_enabled():
        return
    _MMAP_FIXED = True
    _glibc("mallopt", -3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
    _glibc("mallopt", -1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD


def trim_heap() -> None:
    """Return glibc's free heap pages to the system (``malloc_trim(0)``; Linux/glibc only)."""
    if _tuning_enabled():
        _glibc("malloc_trim", 0)


def _glibc(function: str, *args: int) -> None:
    """Call a glibc malloc function; nothing where libc is not glibc (musl, macOS, ...)."""
    try:
        import ctypes

        getattr(ctypes.CDLL("libc.so.6"), function)(*args)
    except (OSError, AttributeError):
        pass


@contextmanager
def huge_pages_for_new_memory() -> Iterator[None]:
    """Move the anonymous memory the block allocated and filled into transparent huge pages
    (``MADV_COLLAPSE``; Linux 6.1+, a no-op elsewhere, after ``EDGEQWEN_HUGE_PAGES=0`` or with
    ``EDGEQWEN_MALLOC_TUNING=0``).

    Meant for building an onnxruntime session: the int4 weights it repacks at load are ~0.9 GiB
    for Qwen2.5-1.5B, read once every token. In 4 KiB pages that read misses the TLB on every
    page; in 2 MiB pages it does not. The collapse copies each page once (~1.4 s for Qwen2.5-1.5B
    on the benchmark VM) and the resident size does not change: only huge-page-sized spans that
    are resident to the last page are collapsed, so memory allocated but never touched (thread
    stacks, free heap) stays unbacked. A collapse keeps every byte where it was, so memory another
    thread maps or frees meanwhile is safe too. Decode: 1.03-1.05x (paired, docs/performance.md).
    """
    if not _huge_pages_enabled():
        yield
        return
    before = _anonymous_regions()
    yield
    collapse_resident(_new_ranges(before, _anonymous_regions()))


def _huge_pages_enabled() -> bool:
    return _tuning_enabled() and current().huge_pages and _huge_page_size() > 0


def _huge_page_size() -> int:
    """The PMD-sized transparent huge page (2 MiB on x86-64 and 4 KiB-page arm64, 32 MiB with a
    Raspberry Pi 5's 16 KiB pages); 0 where the kernel has none."""
    try:
        return int(Path("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size").read_text())
    except (OSError, ValueError):
        return 0


def _anonymous_regions() -> set[tuple[int, int]]:
    """(start, end) of this process's private writable anonymous mappings, the heap included."""
    regions = set()
    with open("/proc/self/maps") as fh:
        for line in fh:
            fields = line.split()
            if fields[1].startswith("rw") and fields[1].endswith("p") and (len(fields) == 5 or fields[5] == "[heap]"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                regions.add((start, end))
    return regions


def _new_ranges(before: set[tuple[int, int]], after: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The address ranges mapped in ``after`` and not in ``before``. The kernel merges a new
    mapping into an older neighbour with the same flags, so a region that changed is not new as
    a whole."""
    ranges = []
    old = sorted(before)
    for start, end in sorted(after):
        for old_start, old_end in old:
            if old_end <= start or old_start >= end:
                continue
            if old_start > start:
                ranges.append((start, old_start))
            start = max(start, old_end)
        if start < end:
            ranges.append((start, end))
    return ranges


def collapse_resident(regions: Iterable[tuple[int, int]]) -> int:
    """``MADV_COLLAPSE`` every huge-page-aligned span of ``regions`` whose pages are all resident;
    returns the bytes now in huge pages. Stops at the first ``EINVAL`` (a kernel without the
    advice, or huge pages turned off); a span the kernel cannot collapse right now is left as is."""
    size = _huge_page_size()
    if size <= 0:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    per_span = size // mmap.PAGESIZE
    collapsed = 0
    for start, end in sorted(regions):
        low, high = -(-start // size) * size, end // size * size
        if high <= low:
            continue
        resident = np.zeros((high - low) // mmap.PAGESIZE, dtype=np.uint8)
        if libc.mincore(low, high - low, resident.ctypes.data) != 0:
            continue
        for span in np.flatnonzero((resident.reshape(-1, per_span) & 1).all(axis=1)):
            if libc.madvise(low + int(span) * size, size, MADV_COLLAPSE) == 0:
                collapsed += size
            elif ctypes.get_errno() == errno.EINVAL:
                return collapsed
    return collapsed


def small_page_zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """``np.zeros(shape, dtype)`` in its own anonymous mapping kept out of transparent huge pages
    (Linux), so that only the 4 KiB pages written become resident."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if nbytes == 0 or not _tuning_enabled() or not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return np.zeros(shape, dtype=dtype)
    buffer = mmap.mmap(-1, nbytes)  # zero-filled on first touch; the array keeps it alive
    buffer.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def _external(tensor: Any) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


class MappedWeights:
    """The external weight files of an ONNX graph, each mapped once (read-only, shared), with a
    zero-copy array per external initializer.

    ``arrays`` maps initializer names to numpy views of the mapping; tensors of a type numpy
    cannot hold are left out (onnxruntime then loads those itself). The views, and any tensor
    made from them, are valid while this object lives: the owner keeps it as long as the session.
    Raises ``ValueError`` when a file is shorter than the graph says (a truncated download).
    """

    def __init__(self, graph: Any, folder: Path) -> None:
        from onnx import helper

        self._maps: dict[str, mmap.mmap] = {}
        self._values: dict[str, Any] = {}
        self.arrays: dict[str, np.ndarray] = {}
        for tensor in graph.initializer:
            where = _external(tensor)
            if "location" not in where:
                continue
            try:
                dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
            except (KeyError, TypeError, ValueError):  # int4, string, ...: onnxruntime reads it
                continue
            if dtype.kind not in "biuf":
                continue
            count = int(np.prod(tensor.dims, dtype=np.int64))
            offset = int(where.get("offset", 0))
            length = int(where.get("length", count * dtype.itemsize))
            if length != count * dtype.itemsize:
                raise ValueError(f"{tensor.name}: {length} bytes on file for {count} x {dtype} values")
            view = self._map(folder / where["location"])
            if offset + length > len(view):
                raise ValueError(
                    f"{where['location']} holds {len(view):,} bytes but {tensor.name} needs bytes "
                    f"{offset:,} to {offset + length:,}: the file is truncated"
                )
            self.arrays[tensor.name] = np.frombuffer(view, dtype=dtype, count=count, offset=offset).reshape(
                tuple(tensor.dims)
            )

    def _map(self, path: Path) -> mmap.mmap:
        key = str(path.resolve())
        if key not in self._maps:
            with open(path, "rb") as fh:
                self._maps[key] = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return self._maps[key]

    def ort_values(self, ort: Any) -> dict[str, Any]:
        """An ``OrtValue`` over each array, kept here: a session holds only pointers to them."""
        if not self._values:
            self._values = {name: ort.OrtValue.ortvalue_from_numpy(a) for name, a in self.arrays.items()}
        return self._values

    @property
    def nbytes(self) -> int:
        """Bytes of the mapped files."""
        return sum(len(m) for m in self._maps.values())

    def release(self) -> bool:
        """Drop this process's resident pages of the mapped files (Linux; a no-op elsewhere or
        with ``EDGEQWEN_MALLOC_TUNING=0``). Returns whether pages were dropped."""
        if not _tuning_enabled() or not hasattr(mmap, "MADV_DONTNEED"):
            return False
        for view in self._maps.values():
            view.madvise(mmap.MADV_DONTNEED)
        return bool(self._maps)

    @contextmanager
    def releasing(self, interval: float = 0.05) -> Iterator[None]:
        """Release the pages every ``interval`` seconds while the block runs, and once at its end."""
        done = threading.Event()

        def loop() -> None:
            while not done.wait(interval) and self.release():
                pass

        worker = threading.Thread(target=loop, name="edgeqwen-release-pages", daemon=True)
        worker.start()
        try:
            yield
        finally:
            done.set()
            worker.join()
            self.release()
