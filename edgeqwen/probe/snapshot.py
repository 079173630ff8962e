"""``SystemSnapshot``: everything the planner needs to know about a machine, read once.

Reading is split from parsing: the ``parse_*`` functions take the text of ``/proc/cpuinfo``,
``/proc/meminfo``, ``/proc/device-tree/model``, ``nvidia-smi`` CSV output or macOS ``sysctl``
output, so tests can describe machines we do not have with recorded files.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..catalog import llamacpp_installed
from ..llamacpp_build import amx_verdict, llamacpp_library
from .cores import performance_cores
from .limits import Limits, cpu_affinity, read_limits, usable_cores

__all__ = [
    "GPU",
    "SystemSnapshot",
    "apply_limits",
    "note_llamacpp_build",
    "parse_cpuinfo",
    "parse_meminfo",
    "parse_nvidia_smi",
    "parse_sysctl",
    "read_system",
    "snapshot_from_files",
]

GIB = 1024**3
# x86 /proc/cpuinfo flag -> our name; Arm "Features" -> our name.
_X86_FLAGS = {
    "avx2": "avx2",
    "avx512f": "avx512",
    "avx_vnni": "avx_vnni",
    "avx512_vnni": "avx512_vnni",
    "fma": "fma",
    "f16c": "f16c",
    "amx_int8": "amx",
}
_ARM_FLAGS = {"asimd": "neon", "asimddp": "dotprod", "i8mm": "i8mm", "sve": "sve", "fphp": "fp16"}


@dataclass(frozen=True)
class GPU:
    name: str
    vendor: str  # nvidia | apple | other
    memory_total: int  # bytes; for Apple Silicon the unified memory
    memory_free: int
    unified_memory: bool = False


@dataclass(frozen=True)
class SystemSnapshot:
    os: str
    arch: str
    cpu_model: str
    physical_cores: int
    logical_cores: int
    cpu_features: tuple[str, ...]
    ram_total: int
    ram_available: int
    swap_total: int = 0
    disk_free: int | None = None
    board: str | None = None  # "Raspberry Pi 5 Model B Rev 1.0", "NVIDIA Jetson Orin Nano ..."
    gpus: tuple[GPU, ...] = ()
    mlc_available: bool = False
    onnx_providers: tuple[str, ...] = ()
    llamacpp_available: bool = False
    # the installed llama.cpp's AMX kernels passed this CPU's check (backends/amx.py); None: it has
    # none, or they never ran here
    llamacpp_amx: bool | None = None
    bandwidth_gbps: float | None = None  # measured CPU memory bandwidth (copy), GB/s
    cpu_quota: float | None = None  # a cgroup's CPU time per second (a container's --cpus), if any
    # of the physical cores, the performance ones where the CPU mixes two kinds (cores.py); None: one kind
    performance_cores: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def is_raspberry_pi(self) -> bool:
        return bool(self.board and "raspberry pi" in self.board.lower())

    @property
    def is_jetson(self) -> bool:
        return bool(self.board and "jetson" in self.board.lower())

    @property
    def hardware(self) -> str:
        """What identifies this machine's CPU side: the same text means the same CPU, cores, SIMD
        flags, CPU quota (a container's --cpus 0.5 and 1 both give one core, at other speeds) and
        performance cores (a calibration timed on all of a hybrid CPU's cores is not this one's)."""
        parts = [
            self.arch,
            self.cpu_model,
            str(self.physical_cores),
            str(self.logical_cores),
            ",".join(self.cpu_features),
        ]
        if self.cpu_quota is not None:
            parts.append(f"quota={self.cpu_quota:g}")
        if self.performance_cores is not None:  # the default threads run on these (a timing of all was kept before)
            parts.append(f"performance={self.performance_cores}")
        return "|".join(parts)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cpu_features"] = list(self.cpu_features)
        out["onnx_providers"] = list(self.onnx_providers)
        out["notes"] = list(self.notes)
        return out


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """CPU model, logical cores and SIMD features from /proc/cpuinfo (x86 or Arm), and the board
    where the kernel names it (``board``: Raspberry Pi)."""
    model, features, processors, cores_per_socket, physical = "", set(), 0, None, set()
    board = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            processors += 1
        elif key == "model" and value and not value.isdigit():
            board = value  # Raspberry Pi kernels name the board here (x86's "model" is a number)
        elif key in ("model name", "cpu model", "hardware") and not model:
            model = value
        elif key in ("flags", "features"):
            for flag in value.split():
                name = _X86_FLAGS.get(flag) or _ARM_FLAGS.get(flag)
                if name:
                    features.add(name)
        elif key == "cpu cores":
            cores_per_socket = int(value)
        elif key == "physical id":
            physical.add(value)
    if not model:
        part = re.search(r"CPU part\s*:\s*(0x[0-9a-f]+)", text)
        model = {"0xd0b": "Cortex-A76", "0xd08": "Cortex-A72", "0xd03": "Cortex-A53", "0xd42": "Cortex-A78AE"}.get(
            part.group(1) if part else "", "unknown"
        )
    physical_cores = cores_per_socket * max(1, len(physical)) if cores_per_socket else processors
    return {
        "cpu_model": model,
        "logical_cores": processors,
        "physical_cores": physical_cores or processors,
        "cpu_features": tuple(sorted(features)),
        **({"board": board} if board else {}),
    }


def parse_meminfo(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        m = re.match(r"(\w+):\s+(\d+)\s*kB", line)
        if m:
            values[m.group(1)] = int(m.group(2)) * 1024
    total = values.get("MemTotal", 0)
    return {
        "ram_total": total,
        "ram_available": values.get("MemAvailable", values.get("MemFree", total)),
        "swap_total": values.get("SwapTotal", 0),
    }


def parse_nvidia_smi(text: str) -> tuple[GPU, ...]:
    """``nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits`` (MiB)."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[1].replace(".", "").isdigit():
            gpus.append(GPU(parts[0], "nvidia", int(float(parts[1]) * 2**20), int(float(parts[2]) * 2**20)))
    return tuple(gpus)


def parse_sysctl(text: str) -> dict[str, Any]:
    """macOS ``sysctl hw.memsize machdep.cpu.brand_string hw.physicalcpu hw.logicalcpu hw.optional.arm64
    hw.nperflevels hw.perflevel0.physicalcpu ...``."""
    kv = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        kv[key.strip()] = value.strip()
    mem = int(kv.get("hw.memsize", 0))
    brand = kv.get("machdep.cpu.brand_string", "unknown")
    out: dict[str, Any] = {
        "cpu_model": brand,
        "ram_total": mem,
        "physical_cores": int(kv.get("hw.physicalcpu", 1)),
        "logical_cores": int(kv.get("hw.logicalcpu", 1)),
    }
    if int(kv.get("hw.nperflevels") or 1) > 1 and kv.get("hw.perflevel0.physicalcpu", "").isdigit():
        out["performance_cores"] = int(kv["hw.perflevel0.physicalcpu"])  # Apple silicon's P cores
    if kv.get("hw.optional.arm64") == "1":
        feats = ["neon"] + [
            n
            for k, n in (("hw.optional.arm.FEAT_DotProd", "dotprod"), ("hw.optional.arm.FEAT_I8MM", "i8mm"))
            if kv.get(k) == "1"
        ]
        out["cpu_features"] = tuple(sorted(feats))
        out["gpus"] = (GPU(f"{brand} GPU", "apple", mem, mem, unified_memory=True),)
    return out


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _run(cmd: list[str]) -> str | None:
    if not shutil.which(cmd[0]):
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _nvml_gpus() -> tuple[GPU, ...] | None:
    if importlib.util.find_spec("pynvml") is None:
        return None
    try:
        import pynvml

        pynvml.nvmlInit()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            name = pynvml.nvmlDeviceGetName(h)
            gpus.append(GPU(name.decode() if isinstance(name, bytes) else name, "nvidia", mem.total, mem.free))
        return tuple(gpus)
    except Exception:  # NVML present but no driver/GPU: fall back to nvidia-smi
        return None


def _onnx_providers() -> tuple[str, ...]:
    if importlib.util.find_spec("onnxruntime") is None:
        return ()
    try:
        from ..paths import onnxruntime_cache

        with onnxruntime_cache():
            import onnxruntime
        return tuple(onnxruntime.get_available_providers())
    except Exception:  # a broken onnxruntime install must not break the probe
        return ()


def snapshot_from_files(
    *,
    os_name: str,
    arch: str,
    cpuinfo: str | None = None,
    meminfo: str | None = None,
    device_model: str | None = None,
    nvidia_smi: str | None = None,
    sysctl: str | None = None,
    mlc_available: bool = False,
    onnx_providers: tuple[str, ...] = ("CPUExecutionProvider",),
    llamacpp_available: bool = False,
    bandwidth_gbps: float | None = None,
    disk_free: int | None = None,
) -> SystemSnapshot:
    """Build a snapshot from recorded text (what :func:`read_system` reads on a live machine)."""
    fields: dict[str, Any] = {
        "cpu_model": "unknown",
        "physical_cores": 1,
        "logical_cores": 1,
        "cpu_features": (),
        "ram_total": 0,
        "ram_available": 0,
        "gpus": (),
    }
    if cpuinfo:
        fields.update(parse_cpuinfo(cpuinfo))
    if meminfo:
        fields.update(parse_meminfo(meminfo))
    if sysctl:
        fields.update(parse_sysctl(sysctl))
        fields.setdefault("ram_available", fields["ram_total"])
        if not fields["ram_available"]:
            fields["ram_available"] = int(fields["ram_total"] * 0.7)
    # the device tree names the board; a container on a Pi may not see it, but sees cpuinfo's line
    named = fields.pop("board", None)
    board = (device_model.strip("\x00 \n") if device_model else None) or named
    gpus = tuple(fields.pop("gpus", ()))
    if nvidia_smi:
        gpus += parse_nvidia_smi(nvidia_smi)
    if board and "jetson" in board.lower() and not gpus:
        # Jetson: an integrated CUDA GPU sharing system memory (nvidia-smi reports none on JetPack 5).
        gpus = (GPU(f"{board} GPU", "nvidia", fields["ram_total"], fields["ram_available"], unified_memory=True),)
    return SystemSnapshot(
        os=os_name,
        arch=arch,
        board=board,
        gpus=gpus,
        mlc_available=mlc_available,
        onnx_providers=tuple(onnx_providers),
        llamacpp_available=llamacpp_available,
        bandwidth_gbps=bandwidth_gbps,
        disk_free=disk_free,
        **fields,
    )


def apply_limits(snap: SystemSnapshot, limits: Limits, affinity: int | None) -> SystemSnapshot:
    """The snapshot as this process sees the machine: cores and memory no more than its CPU
    affinity and cgroup allow (a container's ``--cpus``/``--cpuset-cpus``/``--memory``), with a
    note saying so where they are less than the host's."""
    # None: affinity unknown (not Linux), so no limit from it; never this machine's own
    logical = usable_cores(snap.logical_cores, limits, affinity or snap.logical_cores)
    physical = min(snap.physical_cores, logical)
    ram_total = min(snap.ram_total, limits.memory_max) if limits.memory_max is not None else snap.ram_total
    ram_available = snap.ram_available
    if limits.memory_available is not None:
        ram_available = min(ram_available, limits.memory_available)
    said = []
    if logical < snap.logical_cores:
        by_quota = limits.cpus is not None and limits.cpus < (affinity or snap.logical_cores)
        why = f"a CPU quota of {limits.cpus:g} CPUs" if by_quota else f"{affinity} CPUs in its affinity"
        said.append(f"{logical} of the host's {snap.logical_cores} CPU threads ({why})")
    if ram_total < snap.ram_total:
        said.append(f"{ram_total / GIB:.1f} GiB of the host's {snap.ram_total / GIB:.1f} GiB of memory")
    if not said:
        return snap if limits.cpus is None else replace(snap, cpu_quota=limits.cpus)
    source = limits.source or "the scheduler"
    note = f"This process may use {' and '.join(said)} ({source}); the plan counts only that."
    return replace(
        snap,
        physical_cores=physical,
        logical_cores=logical,
        ram_total=ram_total,
        ram_available=ram_available,
        cpu_quota=limits.cpus,
        notes=(*snap.notes, note),
    )


def note_llamacpp_build(snap: SystemSnapshot) -> SystemSnapshot:
    """What this CPU's check of the installed llama.cpp's AMX kernels found (edgeqwen/backends/amx.py),
    and a note where they failed: it then runs without them, and without its repacked Q4_0."""
    library = llamacpp_library() if snap.llamacpp_available else None
    found = amx_verdict(library) if library is not None else None
    if found is None:
        return snap
    if found[0]:
        return replace(snap, llamacpp_amx=True)
    note = (
        f"llama.cpp's AMX kernels do not work on this CPU ({found[1]}), so it runs without them and without "
        "its repacked weights (Q4_0 decode at 0.44x a working build's on a Sapphire Rapids-class Xeon; the "
        "estimates below count that). `bash tools/setup.sh` builds it with them working; `edgeqwen probe "
        "--calibrate` times it as it is."
    )
    return replace(snap, llamacpp_amx=False, notes=(*snap.notes, note))


def read_system(measure_bandwidth: bool = True, cache_dir: Path | None = None) -> SystemSnapshot:
    """Read this machine. Never raises for a missing source: what cannot be read is left out.
    With ``cache_dir``, the bandwidth is the best this machine has measured there (kept across
    runs, so plans do not move with the measurement's noise), and its free disk is read."""
    system, arch = platform.system().lower(), platform.machine().lower()
    bandwidth = None
    if measure_bandwidth:
        from .bandwidth import measure_bandwidth as measure

        bandwidth = measure()
    disk = None
    if cache_dir is not None:
        probe_dir = cache_dir
        while not probe_dir.exists() and probe_dir != probe_dir.parent:
            probe_dir = probe_dir.parent
        disk = shutil.disk_usage(probe_dir).free
    smi = None
    gpus = _nvml_gpus()
    if gpus is None:
        smi = _run(["nvidia-smi", "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"])
    snap = snapshot_from_files(
        os_name=system,
        arch=arch,
        cpuinfo=_read("/proc/cpuinfo"),
        meminfo=_read("/proc/meminfo"),
        device_model=_read("/proc/device-tree/model"),
        nvidia_smi=smi,
        sysctl=_run(
            [
                "sysctl",
                "hw.memsize",
                "machdep.cpu.brand_string",
                "hw.physicalcpu",
                "hw.logicalcpu",
                "hw.optional.arm64",
                "hw.optional.arm.FEAT_DotProd",
                "hw.optional.arm.FEAT_I8MM",
                "hw.nperflevels",
                "hw.perflevel0.physicalcpu",
            ]
        )
        if system == "darwin"
        else None,
        mlc_available=importlib.util.find_spec("mlc_llm") is not None,
        onnx_providers=_onnx_providers(),
        llamacpp_available=llamacpp_installed(),
        bandwidth_gbps=bandwidth,
        disk_free=disk,
    )
    extra: dict[str, Any] = {}
    if gpus:
        extra["gpus"] = gpus
    try:
        import psutil

        vm = psutil.virtual_memory()
        extra.update(ram_total=vm.total, ram_available=vm.available, swap_total=psutil.swap_memory().total)
        extra["physical_cores"] = psutil.cpu_count(logical=False) or snap.physical_cores
        extra["logical_cores"] = psutil.cpu_count(logical=True) or snap.logical_cores
    except Exception:  # psutil unavailable: the /proc values stand
        pass
    if system == "linux":
        extra["performance_cores"] = performance_cores()
    if snap.logical_cores <= 1 and not extra.get("logical_cores"):
        extra["logical_cores"] = os.cpu_count() or 1
    if extra:
        snap = replace(snap, **extra)
    snap = note_llamacpp_build(apply_limits(snap, read_limits(), cpu_affinity()))
    if cache_dir is not None:
        from .bandwidth import settle_bandwidth

        snap = settle_bandwidth(snap, cache_dir)
    return snap
