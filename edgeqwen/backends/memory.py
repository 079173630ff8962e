"""Process-memory housekeeping for the ONNX backend (Linux/glibc; a no-op elsewhere).

Two things onnxruntime leaves resident that a long-running assistant on a small machine should
not pay for:

- **glibc's dynamic mmap threshold** (``fix_mmap_threshold``): see its docstring.
- **Weight-file pages nobody reads any more** (``release_clean_file_pages``). onnxruntime maps
  the external weight file and repacks most weights into its own layout at load; some mapped
  tensors stay referenced after that (block scales next to their repacked copy, the tied
  embedding's int4 table) and keep every page that the repacking touched resident: 111 MiB for
  Qwen2.5-1.5B at block 32. Dropping those pages (``MADV_DONTNEED``) is invisible to the
  program: they are clean copies of the file, and any later read faults the page back in from
  the page cache (a token's embedding row is one page). Mappings that hold even one private
  (written) page are left alone, so nothing onnxruntime changed is ever discarded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["fix_mmap_threshold", "release_clean_file_pages"]

_MMAP_FIXED = False
_MADV_DONTNEED = 4


def _tuning_enabled() -> bool:
    """Linux (glibc, /proc) and not opted out with ``EDGEQWEN_MALLOC_TUNING=0``."""
    return sys.platform.startswith("linux") and os.environ.get("EDGEQWEN_MALLOC_TUNING") != "0"


def fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at 128 KiB (once per process; Linux/glibc only).

    onnxruntime's per-step temporaries grow with the KV-cache size (hundreds of KiB per layer at
    8K context). glibc raises its mmap threshold after the first such block is freed, and from
    then on serves them from the heap, whose resident size then grew by ~5 KB per model run in a
    long-running process (measured: +15 MiB per 3,300 decode steps at 8K context, never
    returned; none at 2K). A fixed threshold maps and unmaps them instead: flat RSS, and no
    decode-speed change we could measure. ``EDGEQWEN_MALLOC_TUNING=0`` leaves malloc alone.
    """
    global _MMAP_FIXED
    if _MMAP_FIXED or not _tuning_enabled():
        return
    _MMAP_FIXED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        pass


def _mappings(smaps: str) -> Iterable[tuple[int, int, str, dict[str, int]]]:
    """(start, end, path, {field: kB}) for each mapping in a /proc/PID/smaps text."""
    current: tuple[int, int, str] | None = None
    fields: dict[str, int] = {}
    for line in smaps.splitlines():
        parts = line.split()
        if len(parts) >= 5 and "-" in parts[0] and ":" in parts[3]:  # a mapping's header line
            if current is not None:
                yield (*current, fields)
            start, end = (int(x, 16) for x in parts[0].split("-"))
            current, fields = (start, end, parts[5] if len(parts) > 5 else ""), {}
        elif len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1])
    if current is not None:
        yield (*current, fields)


def release_clean_file_pages(files: Iterable[Path]) -> int:
    """Drop this process's resident pages of ``files`` wherever the mapping holds no private
    (written) page. Returns the bytes released; 0 where /proc or madvise is unavailable, or when
    ``EDGEQWEN_MALLOC_TUNING=0``."""
    if not _tuning_enabled():
        return 0
    targets = {str(Path(f).resolve()) for f in files}
    try:
        import ctypes

        smaps = Path("/proc/self/smaps").read_text()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    except (OSError, AttributeError):
        return 0
    released = 0
    for start, end, path, fields in _mappings(smaps):
        if path not in targets or fields.get("Rss", 0) == 0 or fields.get("Anonymous", 1) != 0:
            continue
        if libc.madvise(start, end - start, _MADV_DONTNEED) == 0:
            released += fields["Rss"] * 1024
    return released
