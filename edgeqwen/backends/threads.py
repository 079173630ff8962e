"""How many threads a CPU decode step should use when other processes want the cores too.

A decode step splits every matrix across its threads and waits for the slowest; with a neighbour
spinning on one of two cores, the thread that shares that core arrives last every time, and
llama.cpp's spinning workers make it worse. Measured on 2 cores with one busy neighbour (Qwen2.5-1.5B
geometry, docs/performance.md "A busy neighbour"): llama.cpp decodes 3.4 tok/s on 2 threads and 5.4
on 1 (quiet: 9.0 on 2), the ONNX path 5.2 and 5.8 (quiet: 10.3). So before each answer the llama.cpp
backend looks at how many cores others kept busy since its last look and leaves those to them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["BusyCores", "busy_seconds", "threads_for"]

MIN_INTERVAL_S = 0.5  # a shorter look says little; the previous answer stands


def threads_for(cores: int, busy_elsewhere: float) -> int:
    """Threads to use on ``cores`` when other processes keep ``busy_elsewhere`` cores busy: a core
    counts as taken from half a core of use up, and one thread always runs."""
    return max(1, cores - int(busy_elsewhere + 0.5))


def busy_seconds(stat: Path = Path("/proc/stat")) -> float | None:
    """Non-idle CPU time of the whole machine so far (every core, minus idle and iowait), or None
    where /proc/stat cannot be read (not Linux)."""
    try:
        fields = [int(x) for x in stat.read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)) / ticks


class BusyCores:
    """Cores other processes used since the last look: the machine's busy time (/proc/stat) minus
    this process's own CPU time, over the wall time between looks. None where /proc/stat is not
    there (not Linux) or the look came too soon."""

    def __init__(self, stat: Path = Path("/proc/stat")) -> None:
        self._stat = stat
        self._last = self._sample()

    def _sample(self) -> tuple[float, float, float] | None:
        busy = busy_seconds(self._stat)
        if busy is None:
            return None
        own = sum(os.times()[:2])  # user + system time of every thread of this process
        return time.monotonic(), busy, own

    def others(self) -> float | None:
        now = self._sample()
        last = self._last
        if now is None or last is None or now[0] - last[0] < MIN_INTERVAL_S:
            return None
        self._last = now
        return max(0.0, (now[1] - last[1]) - (now[2] - last[2])) / (now[0] - last[0])
