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
import re
import time
import warnings
from collections.abc import Collection
from pathlib import Path

__all__ = ["BusyCores", "busy_seconds", "default_threads", "thread_count", "threads_for"]

MIN_INTERVAL_S = 0.5  # a shorter look says little; the previous answer stands


def default_threads() -> int:
    """One thread per physical core this process may use, of the performance cores only on a CPU
    that mixes two kinds (probe/cores.py: as llama.cpp's own default); no more than its CPU
    affinity and its cgroup's CPU quota allow (16 threads under a container's 2-CPU quota are
    throttled each period)."""
    from ..probe.cores import performance_cores
    from ..probe.limits import usable_cores

    cores = performance_cores()
    if cores is None:
        try:
            import psutil

            cores = psutil.cpu_count(logical=False)
        except Exception:  # psutil missing or unable to read the CPU topology
            cores = None
    return usable_cores(cores or os.cpu_count() or 1)


def thread_count(threads: int | None) -> int:
    """The threads a backend runs: ``threads`` as given (None: :func:`default_threads`), but never
    more than the CPUs this process may run on, with a warning. A step waits for every thread, and
    one more thread than CPUs is descheduled in turn at each step: on 2 CPUs, 3 threads decoded the
    demo model at 30 tok/s against 90 (llama.cpp) and the 1.5B geometry at 9.3 against 19 (ONNX)."""
    if threads is None:
        return default_threads()
    from ..probe.limits import usable_cores

    cpus = usable_cores(os.cpu_count() or 1)
    if threads > cpus:
        warnings.warn(
            f"threads={threads} is more than the {cpus} CPUs this process may run on; using {cpus} (more "
            "threads than CPUs wait on each other at every step: decoding ran 2-3x slower with one more).",
            RuntimeWarning,
            stacklevel=3,
        )
        return cpus
    return threads


def threads_for(cores: int, busy_elsewhere: float) -> int:
    """Threads to use on ``cores`` when other processes keep ``busy_elsewhere`` cores busy: a core
    counts as taken from half a core of use up, and one thread always runs."""
    return max(1, cores - int(busy_elsewhere + 0.5))


def busy_seconds(stat: Path = Path("/proc/stat"), cpus: Collection[int] | None = None) -> float | None:
    """Non-idle CPU time so far (minus idle and iowait) of the whole machine, or of the CPUs
    numbered in ``cpus`` only; None where /proc/stat cannot be read (not Linux)."""
    try:
        lines = stat.read_text().splitlines()
        if cpus is None:
            rows = lines[:1]
        else:
            rows = [line for line in lines if re.match(r"cpu\d", line) and int(line.split()[0][3:]) in cpus]
        total = 0
        for row in rows:
            fields = [int(x) for x in row.split()[1:]]
            total += sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)
    except (OSError, ValueError, IndexError):
        return None
    if not rows:
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return total / ticks


class BusyCores:
    """Cores other processes used since the last look: the busy time of the CPUs this process may
    run on (/proc/stat) minus this process's own CPU time, over the wall time between looks, less
    ``spare`` (cores of those our threads leave free, which a neighbour takes first). None where
    /proc/stat is not there (not Linux) or the look came too soon."""

    def __init__(self, stat: Path = Path("/proc/stat"), cpus: Collection[int] | None = None, spare: int = 0) -> None:
        self._stat = stat
        self._cpus = cpus
        self._spare = spare
        self._last = self._sample()

    @classmethod
    def for_threads(cls, threads: int) -> BusyCores:
        """Watching what ``threads`` threads of this process compete with: in a container pinned to
        some CPUs (``--cpuset-cpus``) only those, the host's others are not ours to share; under a
        CPU quota (``--cpus 2`` on 16 cores) a neighbour takes the cores our threads leave first."""
        from ..probe.cores import performance_cpus
        from ..probe.limits import allowed_cpus, read_limits

        allowed = allowed_cpus()
        fast = performance_cpus()
        if fast is not None:  # a neighbour on an efficiency core takes nothing our threads use
            allowed = fast if allowed is None else (allowed & fast) or allowed
        watched = len(allowed) if allowed else (os.cpu_count() or threads)
        if allowed is not None and len(allowed) >= (os.cpu_count() or 0):
            allowed = None  # every CPU: the machine's own line
        spare = max(0, watched - threads) if read_limits().cpus is not None else 0
        return cls(cpus=allowed, spare=spare)

    def _sample(self) -> tuple[float, float, float] | None:
        busy = busy_seconds(self._stat, self._cpus)
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
        used = max(0.0, (now[1] - last[1]) - (now[2] - last[2])) / (now[0] - last[0])
        return max(0.0, used - self._spare)
