"""A short CPU memory-bandwidth measurement: decode speed on CPU is bounded by
bandwidth / bytes of weights read per token.

One measurement moves by a few per cent from run to run (2-core Zen 4 VM: 25.5-27.9 GB/s), and a
model's estimate near the planner's interactive-speed line then crosses it: six `edgeqwen probe`
runs in a row there recommended three different models. So the best measurement a machine has
given is kept (``bandwidth.json`` beside the calibration) and used: a copy only reads low when
something else shares the memory bus, so the best is the machine's own figure, and the plan stops
moving once it is reached.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..paths import keep, kept
from .snapshot import SystemSnapshot

__all__ = ["FILE", "measure_bandwidth", "settle_bandwidth"]

FILE = "bandwidth.json"


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


def _key(snap: SystemSnapshot) -> str:
    return hashlib.sha256(snap.hardware.encode()).hexdigest()[:16]


def settle_bandwidth(snap: SystemSnapshot, cache: Path) -> SystemSnapshot:
    """``snap`` with the best bandwidth measured on this machine (its own, or one kept in ``cache``
    from an earlier run), keeping a better one. A snapshot without a measurement gets the kept
    one; an unreadable or unwritable file only means nothing is kept."""
    key = _key(snap)
    best = kept(cache / FILE).get(key)
    usable = isinstance(best, (int, float)) and not isinstance(best, bool) and math.isfinite(best) and best > 0
    best = float(best) if usable else None
    measured = snap.bandwidth_gbps
    if best is None and measured is None:
        return snap
    if measured is None:
        return replace(snap, bandwidth_gbps=best)
    if best is not None and best >= measured:
        if best - measured < 0.05:
            return snap
        note = (
            f"Memory bandwidth is the best this machine has measured ({best:.1f} GB/s; this run {measured:.1f}), "
            "so the plan does not move with the measurement's noise."
        )
        return replace(snap, bandwidth_gbps=best, notes=(*snap.notes, note))
    try:
        keep(cache / FILE, key, round(measured, 2))
    except OSError:  # a read-only cache: this run's measurement stands
        pass
    return snap
