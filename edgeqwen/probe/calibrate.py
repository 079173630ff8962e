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
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..paths import keep, kept
from .snapshot import SystemSnapshot

__all__ = [
    "PROMPT_TOKENS",
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
# Prompt speed is timed, and said, on a prompt this long (llama-bench's pp512): per token, a prompt
# of 2,048 read 0.86x as fast on the ONNX path and 0.68x on llama.cpp (docs/performance.md).
PROMPT_TOKENS = 512


@dataclass(frozen=True)
class Measurement:
    backend: str
    model: str  # what was timed
    weights_bytes: int  # bytes one decode step reads (the build's weights)
    decode_tps: float  # median of the runs
    threads: int
    # a GGUF's mix (Q4_0, Q4_K_M): on one CPU a decode step reads Q4_K_M's bytes 1.4x as fast as
    # Q4_0's, on another 0.8x (docs/performance.md), so a rate holds for its own quantization
    quantization: str = ""
    # Prompt speed, which is bound by arithmetic, not by reading: tok/s over a PROMPT_TOKENS prompt
    # and the layers' weights each of its tokens is multiplied by; 0 where a calibration kept by an
    # earlier version did not time it. An ONNX build's MatMulNBits block size (0: a GGUF), since
    # per weight a block-128 build read prompts 1.4x as fast as a block-32 one.
    prompt_tps: float = 0.0
    prompt_weights: int = 0
    block_size: int = 0

    @property
    def rate_gbps(self) -> float:
        return self.weights_bytes * self.decode_tps / 1e9

    @property
    def prompt_rate(self) -> float:
        """Billions of layer weights a second that prompt tokens are multiplied by (0: not timed)."""
        return self.prompt_tps * self.prompt_weights / 1e9


@dataclass(frozen=True)
class Calibration:
    machine: str
    measurements: tuple[Measurement, ...] = field(default=())

    @property
    def rates(self) -> dict[str, float]:
        """GB/s of weights per backend, from measurements on models big enough to be bound by it
        (the first one timed where a backend has several: its reference build's)."""
        out: dict[str, float] = {}
        for m in self.usable:
            out.setdefault(m.backend, m.rate_gbps)
        return out

    def measurement(self, backend: str, quantization: str = "") -> Measurement | None:
        """``backend``'s measurement reading ``quantization``: that quantization's where there is one,
        else the backend's first (its rate is then carried: rates.llamacpp_byte_rate); None if unmeasured."""
        bound = [m for m in self.usable if m.backend == backend]
        same = [m for m in bound if quantization and m.quantization == quantization]
        return (same or bound or [None])[0]

    @property
    def usable(self) -> tuple[Measurement, ...]:
        """The measurements on models big enough to be bound by reading their weights."""
        return tuple(m for m in self.measurements if m.weights_bytes >= MIN_WEIGHTS_BYTES)


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in ("onnxruntime", "llama_cpp_python"):
        try:
            out.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            continue
    # a rebuild of the same version runs at its own speed (llama.cpp with or without its AMX kernels)
    from ..llamacpp_build import llamacpp_library

    library = llamacpp_library()
    if library is not None:  # its bytes: builds with and without -fno-dse have the same size
        out.append(f"llama.cpp build={hashlib.sha256(library.read_bytes()).hexdigest()[:16]}")
    return ",".join(out)


def machine_key(snap: SystemSnapshot) -> str:
    """What a calibration holds for: the same CPU, cores, SIMD flags and backend versions (and
    llama.cpp's build)."""
    return hashlib.sha256(f"{snap.hardware}|{_versions()}".encode()).hexdigest()[:16]


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
    builds: Sequence[tuple[str, Path]],
    timer: Callable[[str, Path], Measurement],
    say: Callable[[str], None] | None = None,
    rounds: int = 2,
) -> Calibration:
    """Time each backend on its build (``[("llamacpp", gguf), ("onnx", folder)]``; a backend may
    come twice, with builds of two quantizations) with ``timer`` (:func:`edgeqwen.bench.time_decode`:
    this layer does not load models), ``rounds`` times in A B B A order: a machine that drifts (a
    VM's neighbours, a laptop's clocks; 45% between rounds on one VM, docs/performance.md) then
    slows every build alike, where timing one after the other hands the drift to the second. Each
    build's rate is the median of its rounds."""
    order = list(range(len(builds)))
    runs: list[list[Measurement]] = [[] for _ in order]
    for r in range(rounds):
        for i in order if r % 2 == 0 else order[::-1]:
            backend, path = builds[i]
            if say:
                say(f"timing {backend} on {path.name} (a few seconds; round {r + 1} of {rounds})...")
            start = time.perf_counter()
            m = timer(backend, path)
            if say:
                quant = f" ({m.quantization})" if m.quantization else ""
                say(
                    f"  {backend}: {m.decode_tps:.1f} tok/s on {m.model}{quant} = {m.rate_gbps:.1f} GB/s of weights, "
                    f"a prompt at {m.prompt_tps:.0f} tok/s ({time.perf_counter() - start:.0f} s)"
                )
            runs[i].append(m)
    measured = tuple(
        replace(
            ms[0],
            decode_tps=round(statistics.median(m.decode_tps for m in ms), 2),
            prompt_tps=round(statistics.median(m.prompt_tps for m in ms), 1),
        )
        for ms in runs
        if ms
    )
    return Calibration(machine_key(snap), measured)
