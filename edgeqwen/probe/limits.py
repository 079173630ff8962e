"""The share of the machine this process may use: cgroup limits and CPU affinity.

In a container (Docker ``--memory 4g --cpus 2``, a Kubernetes pod, a systemd unit with
``MemoryMax=``) /proc/meminfo and the core count describe the host. A model planned against the
host's 64 GiB is killed by the kernel at the container's 4 GiB, and 16 threads under a 2-CPU quota
are throttled every period. So the probe, the memory check before a load and the default thread
count read the limits here. Reading is split from parsing so tests describe cgroups with files.

cgroup v2 (one tree): ``memory.max``, ``memory.current``, ``memory.stat``, ``cpu.max`` in the
process's cgroup and each parent (the tightest counts). cgroup v1: ``memory.limit_in_bytes``,
``memory.usage_in_bytes``, ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` under each controller's
mount. Where nothing can be read, nothing is limited.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Limits",
    "allowed_cpus",
    "available_memory",
    "cpu_affinity",
    "in_container",
    "parse_cgroup_paths",
    "parse_cpu_max",
    "read_limits",
    "usable_cores",
]

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
# cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit number
_V1_UNLIMITED = 2**62


@dataclass(frozen=True)
class Limits:
    """What a cgroup allows this process, None where it sets no limit."""

    memory_max: int | None = None  # bytes the cgroup may hold
    memory_available: int | None = None  # of those, free or reclaimable (page cache) now
    cpus: float | None = None  # CPU time per wall second (a quota of 1.5 = one and a half cores)
    source: str = ""  # "cgroup v2" / "cgroup v1" where a limit was found


def parse_cgroup_paths(text: str) -> dict[str, str]:
    """/proc/self/cgroup -> controller -> path; the v2 tree's entry is under ``""``."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def parse_cpu_max(text: str) -> float | None:
    """cgroup v2 ``cpu.max`` ("200000 100000": 2 CPUs; "max 100000": none) in CPUs."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None  # "max", or a file of another kind


def _stat(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _chain(base: Path, path: str) -> list[Path]:
    """The cgroup's folder and each parent up to ``base``, innermost first. Inside a container
    the process's path names the host's tree, which the container sees mounted at ``base``
    itself: then only ``base`` is read."""
    here = base / path.lstrip("/")
    if not here.is_dir():
        return [base]
    out = [here]
    while here != base and base in here.parents:
        here = here.parent
        out.append(here)
    return out


def _tightest(values: list[float | int | None]) -> float | int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _memory(folders: list[Path], limit_file: str, usage_file: str, inactive: str) -> tuple[int | None, int | None]:
    """The tightest memory limit along ``folders`` and what is free under it (reclaimable page
    cache counted as free); None, None where no folder sets one."""
    best_max, best_free = None, None
    for folder in folders:
        limit = _int(folder / limit_file)
        if limit is None or limit >= _V1_UNLIMITED:  # v2 writes "max", v1 a huge number
            continue
        used = _int(folder / usage_file) or 0
        free = min(limit, max(0, limit - used + _stat(folder / "memory.stat", inactive)))
        best_max = limit if best_max is None else min(best_max, limit)
        best_free = free if best_free is None else min(best_free, free)
    return best_max, best_free


def _v2(base: Path, path: str) -> Limits:
    folders, cpus = _chain(base, path), []
    best_max, best_free = _memory(folders, "memory.max", "memory.current", "inactive_file")
    for folder in folders:
        try:
            cpus.append(parse_cpu_max((folder / "cpu.max").read_text()))
        except OSError:
            pass
    cpu = _tightest(cpus)
    found = best_max is not None or cpu is not None
    return Limits(best_max, best_free, cpu, "cgroup v2" if found else "")


def _v1(base: Path, paths: dict[str, str]) -> Limits:
    folders, cpus = _chain(base / "memory", paths.get("memory", "/")), []
    best_max, best_free = _memory(folders, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    cpu_mount = next((base / n for n in ("cpu", "cpu,cpuacct", "cpuacct,cpu") if (base / n).is_dir()), None)
    if cpu_mount is not None:
        for folder in _chain(cpu_mount, paths.get("cpu", "/")):
            quota, period = _int(folder / "cpu.cfs_quota_us"), _int(folder / "cpu.cfs_period_us")
            if quota is not None and period and quota > 0:
                cpus.append(quota / period)
    cpu = _tightest(cpus)
    found = best_max is not None or cpu is not None
    return Limits(best_max, best_free, cpu, "cgroup v1" if found else "")


def read_limits(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> Limits:
    """This process's cgroup limits; an empty :class:`Limits` where none can be read. Never raises."""
    try:
        paths = parse_cgroup_paths(self_cgroup.read_text())
    except OSError:
        return Limits()
    try:
        if (root / "cgroup.controllers").is_file():  # the unified (v2) tree is mounted at the root
            return _v2(root, paths.get("", "/"))
        if (root / "memory").is_dir() or (root / "cpu").is_dir():
            return _v1(root, paths)
    except OSError:  # an unreadable tree is no limit we know of
        pass
    return Limits()


def in_container(root: Path = Path("/")) -> bool:
    """Docker (``/.dockerenv``), Podman (``/run/.containerenv``) or a Kubernetes pod."""
    return (
        (root / ".dockerenv").exists()
        or (root / "run" / ".containerenv").exists()
        or "KUBERNETES_SERVICE_HOST" in os.environ
    )


def allowed_cpus() -> set[int] | None:
    """The CPUs this process may run on (``sched_getaffinity``); None where unknown."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return None


def cpu_affinity() -> int | None:
    """How many CPUs this process may run on; None where unknown."""
    allowed = allowed_cpus()
    return None if allowed is None else len(allowed)


def usable_cores(cores: int, limits: Limits | None = None, affinity: int | None = None) -> int:
    """Of ``cores`` (the machine's), how many this process can keep busy: no more than the CPUs it
    may run on (affinity, a container's ``--cpuset-cpus``) nor its CPU quota (``--cpus``: 2.5
    CPUs keep two threads busy; a third would be throttled), and at least one. ``limits`` and
    ``affinity`` (a CPU count) are read from this process when not given."""
    limits = read_limits() if limits is None else limits
    affinity = cpu_affinity() if affinity is None else affinity
    usable = cores
    if affinity:
        usable = min(usable, affinity)
    if limits.cpus is not None:
        usable = min(usable, max(1, math.floor(limits.cpus + 1e-9)))
    return max(1, usable)


def available_memory(host_available: int | None = None, limits: Limits | None = None) -> int:
    """Bytes a model may still take: the host's free memory, or less where a cgroup caps it."""
    if host_available is None:
        import psutil

        host_available = int(psutil.virtual_memory().available)
    limits = read_limits() if limits is None else limits
    if limits.memory_available is not None:
        return min(host_available, limits.memory_available)
    return host_available
