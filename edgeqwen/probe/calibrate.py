"""``edgeqwen probe --calibrate``: time each installed CPU backend on this machine, once.

The planner's speed estimate is "GB of weights a decode step reads per second" divided into the
bytes read per token. Without a measurement that rate comes from the copy bandwidth and a ratio
measured elsewhere; a calibration times a few seconds of real decoding per backend, on the model
the planner would pick when it is installed in that backend's build, and keeps the rate per
machine (CPU model, cores, SIMD flags, backend versions), so the estimates and the choice between
backends are this machine's own. A model of another size is extrapolated by its bytes per token.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..paths import write_atomic
from .snapshot import SystemSnapshot

__all__ = [
    "Calibration",
    "Measurement",
    "calibrate",
    "keep",
    "kept",
    "load_calibration",
    "machine_key",
    "save_calibration",
]

FILE = "calibration.json"
# A decode step of a model this small is not bound by reading its weights (the demo model's
# 94 MB decodes at 47 tok/s on 2 cores, 4 GB/s, where a 1.5B model reads 9-10 GB/s), so its rate
# says nothing about a Qwen model's: such a measurement is shown, not used.
MIN_WEIGHTS_BYTES = 300 * 2**20


@dataclass(frozen=True)
class Measurement:
    backend: str
    model: str  # what was timed
    weights_bytes: int  # bytes one decode step reads (the build's weights)
    decode_tps: float  # median of the runs
    threads: int

    @property
    def rate_gbps(self) -> float:
        return self.weights_bytes * self.decode_tps / 1e9


@dataclass(frozen=True)
class Calibration:
    machine: str
    measurements: tuple[Measurement, ...] = field(default=())

    @property
    def rates(self) -> dict[str, float]:
        """GB/s of weights per backend, from measurements on models big enough to be bound by it."""
        return {m.backend: m.rate_gbps for m in self.measurements if m.weights_bytes >= MIN_WEIGHTS_BYTES}

    @property
    def models(self) -> dict[str, str]:
        return {m.backend: m.model for m in self.measurements}


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in ("onnxruntime", "llama_cpp_python"):
        try:
            out.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            continue
    return ",".join(out)


def machine_key(snap: SystemSnapshot) -> str:
    """What a calibration holds for: the same CPU, cores, SIMD flags and backend versions."""
    return hashlib.sha256(f"{snap.hardware}|{_versions()}".encode()).hexdigest()[:16]


def kept(file: Path) -> dict[str, Any]:
    """What a file the probe keeps per machine holds (``{key: entry}``); empty where it is missing
    or not such a map."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def keep(file: Path, key: str, entry: Any) -> Path:
    """``entry`` kept under ``key`` in ``file``, beside other machines' (written whole, then renamed
    over it: a reader never sees half a file). Raises OSError where the cache cannot be written."""
    data = kept(file)
    data[key] = entry
    return write_atomic(file, json.dumps(data, indent=1))


def load_calibration(snap: SystemSnapshot, cache: Path) -> Calibration | None:
    """This machine's calibration, or None (never made, another machine, other backend versions)."""
    try:
        entry = kept(cache / FILE)[machine_key(snap)]
        return Calibration(entry["machine"], tuple(Measurement(**m) for m in entry["measurements"]))
    except (KeyError, TypeError):
        return None


def save_calibration(snap: SystemSnapshot, cache: Path, calibration: Calibration) -> Path:
    entry = {"machine": calibration.machine, "measurements": [asdict(m) for m in calibration.measurements]}
    return keep(cache / FILE, machine_key(snap), entry)


def calibrate(
    snap: SystemSnapshot,
    builds: Mapping[str, Path],
    timer: Callable[[str, Path], Measurement],
    say: Callable[[str], None] | None = None,
    rounds: int = 2,
) -> Calibration:
    """Time each backend on its build (``{"llamacpp": gguf, "onnx": folder}``) with ``timer``
    (:func:`edgeqwen.bench.time_decode`: this layer does not load models), ``rounds`` times in
    A B B A order: a machine that drifts (a VM's neighbours, a laptop's clocks; 45% between rounds
    on one VM, docs/performance.md) then slows every backend alike, where timing one backend after
    the other hands the drift to the second. Each backend's rate is the median of its rounds."""
    order = list(builds)
    runs: dict[str, list[Measurement]] = {backend: [] for backend in order}
    for r in range(rounds):
        for backend in order if r % 2 == 0 else order[::-1]:
            if say:
                say(f"timing {backend} on {builds[backend].name} (a few seconds; round {r + 1} of {rounds})...")
            start = time.perf_counter()
            m = timer(backend, builds[backend])
            if say:
                say(
                    f"  {backend}: {m.decode_tps:.1f} tok/s on {m.model} = {m.rate_gbps:.1f} GB/s of weights "
                    f"({time.perf_counter() - start:.0f} s)"
                )
            runs[backend].append(m)
    measured = tuple(
        replace(ms[0], decode_tps=round(statistics.median(m.decode_tps for m in ms), 2)) for ms in runs.values() if ms
    )
    return Calibration(machine_key(snap), measured)
