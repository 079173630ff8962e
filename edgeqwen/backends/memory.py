"""Process memory for the ONNX backend: weight files mapped once, small-page KV buffers, malloc.

What a session and its process would otherwise keep resident that an assistant on a small machine
should not pay for (figures for Qwen2.5-1.5B, int4 block 32, 4K context):

- **Weight-file pages nobody reads any more** (``MappedWeights``). onnxruntime repacks most int4
  weights into its own layout at load. If it maps the weight file itself, every page the
  repacking read stays counted in the process until the load ends, and the tensors it keeps
  referenced afterwards (block scales beside their repacked copy, the tied embedding's int4 table)
  stay resident for good: +320 MiB at the load's peak and +184 MiB after it for Qwen2.5-1.5B at
  block 32. So we map each weight file ourselves, once, read-only and shared, and hand
  onnxruntime a zero-copy tensor per external initializer (``SessionOptions.add_initializer``).
  Because the mapping is ours, its address cannot be reused while the session lives and no
  page of it can be written, so dropping its pages (``MADV_DONTNEED``) is always safe: a later
  read faults the page back in from the page cache. We drop them every 50 ms while the session
  loads, and the backend drops them again every 64 tokens: each embedding row a token reads maps
  the 64 KiB around it (the kernel's fault-around, which ``MADV_RANDOM`` does not turn off),
  +56 MiB after a 512-token prompt of random ids.
- **Huge pages under a KV cache that is mostly empty** (``small_page_zeros``). A KV buffer is
  allocated for the whole context but filled a token at a time. With transparent huge pages the
  first token written to each buffer makes 2 MiB resident: 112 MiB for Qwen2.5-1.5B's 56
  buffers after a 512-token prompt, where the tokens need 28 MiB. In 4 KiB pages the cache's
  resident size follows the tokens it holds.
- **Free heap that glibc keeps** (``trim_heap``). Parsing Qwen's tokenizer.json leaves 38 MiB of
  freed heap that glibc does not hand back on its own; ``malloc_trim`` after loading does.
- **glibc's dynamic mmap threshold** and **pages faulted again every token**
  (``fix_mmap_threshold``): see its docstring.

And one that costs decode time: the repacked weights sit in 4 KiB pages, so reading them once a
token walks the page tables ~230,000 times (``huge_pages_for_new_memory``).

``EDGEQWEN_MALLOC_TUNING=0`` turns off all but the mapping itself; ``EDGEQWEN_HUGE_PAGES=0`` turns
off only the huge pages.
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
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MappedWeights",
    "collapse_resident",
    "fix_mmap_threshold",
    "huge_pages_for_new_memory",
    "small_page_zeros",
    "trim_heap",
]

_MMAP_FIXED = False
MMAP_THRESHOLD = 1 << 20  # bytes; see fix_mmap_threshold
TRIM_THRESHOLD = 4 << 20
MADV_COLLAPSE = 25  # Linux 6.1+; the mmap module does not name it


def _tuning_enabled() -> bool:
    """Linux (glibc, /proc) and not opted out with ``EDGEQWEN_MALLOC_TUNING=0``."""
    return sys.platform.startswith("linux") and os.environ.get("EDGEQWEN_MALLOC_TUNING") != "0"


def fix_mmap_threshold() -> None:
    """Pin glibc's mmap threshold at 1 MiB and its trim threshold at 4 MiB (once per process;
    Linux/glibc only).

    - **Fixed, not dynamic.** onnxruntime's per-step temporaries grow with the tokens in the cache.
      By default glibc raises its mmap threshold after the first large block is freed (up to
      32 MiB) and then serves them, prefill's included, from a heap that fragments and keeps
      growing: the demo model at 8K context held 510-518 MiB instead of ~205 MiB over 200
      prompts of 32 decode steps each, ~1 KB more a step, with nothing given back by
      ``malloc_trim``.
    - **1 MiB, not glibc's initial 128 KiB.** Blocks from 128 KiB to 1 MiB are what a decode step
      allocates over and over: the logits copies (593 KB for Qwen's vocabulary) and attention
      temporaries. Mapped, each one faults ~145 fresh pages (0.4-0.5 ms here) and is unmapped
      again; from the heap it reuses warm pages (20 us). Qwen2.5-1.5B's time outside
      onnxruntime per decoded token went from 1.5-1.7 ms (2.5%) to 0.56 ms. Prefill's larger
      temporaries (an MLP activation of a 64-token step is 2.3 MB) are still mapped and unmapped.
    - **Trim at 4 MiB**, so the free top of the heap those blocks come back to is kept.

    Measured flat with these thresholds (the same loop: 206, 205, 203 MiB after 1, 26 and 51
    prompts). ``EDGEQWEN_MALLOC_TUNING=0`` leaves malloc alone.
    """
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
    return _tuning_enabled() and os.environ.get("EDGEQWEN_HUGE_PAGES") != "0" and _huge_page_size() > 0


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
