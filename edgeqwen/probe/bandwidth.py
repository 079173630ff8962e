"""A short CPU memory-bandwidth measurement: decode speed on CPU is bounded by
bandwidth / bytes of weights read per token."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["measure_bandwidth"]


def measure_bandwidth(size_mb: int = 256, budget_s: float = 0.25) -> float:
    """GB/s of a large array copy (bytes read + bytes written), best of a few repeats within
    ``budget_s``. Arrays are far larger than any CPU cache, so this is DRAM bandwidth as one
    numpy copy thread sees it. 256 MiB is above glibc's non-temporal-store threshold: smaller
    copies pay a read-for-ownership per written line and read about half the real bandwidth."""
    n = size_mb * 2**20 // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # fault the pages in
    best = float("inf")
    deadline = time.perf_counter() + budget_s
    runs = 0
    while runs < 3 or (time.perf_counter() < deadline and runs < 20):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
        runs += 1
        if time.perf_counter() > deadline and runs >= 3:
            break
    return 2 * src.nbytes / best / 1e9
