"""Which cores a decode step's threads belong on: the performance cores of a CPU that mixes two
kinds (Intel's hybrid laptop parts, Apple silicon).

A step splits every matrix evenly across its threads and waits for the slowest; a thread on an
efficiency core finishes last at every step. llama.cpp's own default (``cpu_get_num_math``) runs
one thread per performance core there: on x86 Linux it skips the cores CPUID calls Atom, on macOS
it takes ``hw.perflevel0.physicalcpu``. edgeqwen's default follows it on both backends. Linux
names an Intel hybrid CPU's two kinds in sysfs (``/sys/devices/cpu_core/cpus`` and
``cpu_atom/cpus``, the perf event sources of each kind), which Python reads without CPUID. Other
mixed CPUs (Arm big.LITTLE boards, AMD's Zen 5c parts) are not told apart, as llama.cpp does not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["parse_cpu_list", "performance_cores", "performance_cpus"]

SYSFS = Path("/sys")


def parse_cpu_list(text: str) -> set[int]:
    """A kernel CPU list (``0-3,8,10-11``) as the CPUs it names; empty where it names none."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def performance_cpus(sysfs: Path = SYSFS) -> set[int] | None:
    """The logical CPUs of the performance cores where Linux names two kinds of core (an Intel
    hybrid CPU); None on a CPU of one kind, or where sysfs does not say."""
    try:
        fast = parse_cpu_list((sysfs / "devices/cpu_core/cpus").read_text())
        slow = parse_cpu_list((sysfs / "devices/cpu_atom/cpus").read_text())
    except OSError:
        return None
    return fast if fast and slow else None


def _physical(cpus: set[int], sysfs: Path) -> int:
    """How many cores ``cpus`` are on: one per set of hyperthread siblings."""
    cores = set()
    for cpu in cpus:
        try:
            cores.add((sysfs / f"devices/system/cpu/cpu{cpu}/topology/thread_siblings_list").read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return len(cores)


def _sysctl_int(name: str) -> int | None:
    """macOS ``sysctlbyname`` of a whole number; None where there is no such name (or no macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        value, size = ctypes.c_int32(0), ctypes.c_size_t(4)
        if libc.sysctlbyname(name.encode(), ctypes.byref(value), ctypes.byref(size), None, ctypes.c_size_t(0)):
            return None
    except (OSError, AttributeError, TypeError):
        return None
    return int(value.value)


def performance_cores(
    sysfs: Path = SYSFS, platform: str = sys.platform, sysctl: Callable[[str], int | None] = _sysctl_int
) -> int | None:
    """The performance cores (physical) of a CPU that mixes two kinds of core; None on one kind."""
    if platform == "darwin":
        levels = sysctl("hw.nperflevels")
        return sysctl("hw.perflevel0.physicalcpu") if levels is not None and levels > 1 else None
    fast = performance_cpus(sysfs)
    return None if fast is None else _physical(fast, sysfs)
