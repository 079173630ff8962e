"""How fast this machine decodes, as the planner counts it: GB of weights a decode step reads per
second, from a calibration (:mod:`.calibrate`), a board's published llama.cpp figures, or the copy
bandwidth with a measured efficiency; the ONNX path against llama.cpp by the CPU's features where
nothing was timed; and which of a model's GGUF files llama.cpp should run here.
"""

from __future__ import annotations

from ..catalog import GGUF_BITS_PER_WEIGHT, ModelSpec
from .calibrate import Calibration
from .snapshot import GPU, SystemSnapshot

__all__ = [
    "CPU_EFFICIENCY",
    "GPU_EFFICIENCY",
    "TIE",
    "board_decode",
    "cpu_bandwidth",
    "cpu_decode_rate",
    "cpu_prompt_tps",
    "gguf_quantization",
    "gpu_bandwidth",
    "llamacpp_byte_rate",
    "onnx_vs_llamacpp",
]

# Two CPU backends' estimates this close are a tie (run-to-run spread of the measurements behind
# them: docs/performance.md); a tie goes to the build that downloads ready to run over one that
# is converted here (torch, the full checkpoint, minutes and GBs).
TIE = 0.05
CPU_EFFICIENCY = 0.6  # share of measured copy bandwidth a decode step reaches
GPU_EFFICIENCY = 0.6

# When no measurement is given (fixtures, --quick): typical STREAM-copy figures, GB/s.
_BOARD_BANDWIDTH = {"raspberry pi 5": 9.0, "raspberry pi 4": 4.0, "jetson orin nano": 30.0, "jetson": 30.0}
# On a Raspberry Pi one copy thread (what the probe measures) sees far less than the 4 cores of a
# decode step pull, so its decode rate comes from published llama.cpp runs there instead: GB of
# weights read per second = model file size x tokens/s (docs/raspberry-pi.md has the sources).
_BOARD_DECODE = {
    "raspberry pi 5": (9.5, "llama.cpp on a Pi 5: Llama-3.2-3B Q4_K_M 4.5-4.9 tok/s, TinyLlama-1.1B Q8_0 9 tok/s"),
    "raspberry pi 4": (3.5, "llama.cpp on a Pi 4: TinyLlama-1.1B Q8_0 3 tok/s"),
}
# edgeqwen's ONNX int4 build (block 32, 8-bit lm_head: the converter's default) decode / llama.cpp
# Q4_0 decode on the same machine, both of Qwen2.5-1.5B: the rule when no calibration was made, by
# what the CPU has (docs/performance.md, "CPU backends"); carried to other models in bytes read.
# Measured: x86 with AVX2 only ONNX_AVX2_RATIO (this project's machine; 1.11 with a 4-bit lm_head in
# the same run). x86 with AVX-512 VNNI: the default build 0.78-0.90 on Zen 5 and 0.78-0.85 on Zen 4
# (medians of two runs each); with a 4-bit lm_head 0.81-0.87 on Zen 4; on a 2-core Sapphire
# Rapids-class Xeon the default build 0.87 against llama.cpp with its AMX kernels (1.62 against a
# build without them, which tools/setup.sh no longer makes there).
# Not measured: AVX-VNNI without AVX-512 (taken as VNNI: llama.cpp's Q4_0 kernels use the same int8
# dot product) and Arm (taken as 0.85: llama.cpp's published Pi figures are all there is).
ONNX_VS_LLAMACPP = 0.85
ONNX_AVX2_RATIO = 1.02
ONNX_VNNI_RATIO = 0.80
# A llama.cpp whose AMX kernels failed this CPU's check runs without any extra buffer type, so
# without its repacked Q4_0 too: on the 2-core Sapphire Rapids-class Xeon the ONNX path decoded 1.51x
# its Q4_K_M and 1.81x its Q4_0 (one interleaved run, two loads each; Q4_K_M 1.2x Q4_0, so the rule
# takes Q4_K_M there: gguf_quantization).
ONNX_NO_AMX_RATIO = 1.5
# Where llama.cpp's AMX kernels run, its rate per byte of a Q4_K_M GGUF over a Q4_0 one's, for a
# mix nothing timed: on the 2-core Xeon 0.78 and 0.65 on stand-ins of Qwen2.5-1.5B and 3B, 0.72 in
# a calibration. Elsewhere taken as equal (AMD Zen 4: within a few per cent on Qwen3-4B's geometry).
AMX_Q4_K_M_BYTES = 0.7


def llamacpp_byte_rate(snap: SystemSnapshot, quantization: str, relative_to: str = "Q4_0") -> float:
    """llama.cpp's rate per byte of a GGUF in ``quantization`` on a CPU like this one, relative to
    one in ``relative_to`` (what was timed, or the rule's reference mix; where no calibration timed
    ``quantization`` itself)."""
    amx_kernels = "amx" in snap.cpu_features and snap.llamacpp_amx is not False

    def per_byte(mix: str) -> float:
        return AMX_Q4_K_M_BYTES if amx_kernels and mix == "Q4_K_M" else 1.0

    return per_byte(quantization) / per_byte(relative_to)


# A prompt is read at a rate in layer weights multiplied per second (bound by arithmetic, not by
# reading). Per weight, on the 2-core Xeon (AMX, AVX-512 VNNI), 512-token prompts: the ONNX path
# 112-115 G/s at block 32 over Qwen2.5-1.5B and 3B, 163 at block 128 (Qwen3-4B's build); llama.cpp
# Q4_0 248-270 G/s, Q4_K_M 218-224 over all three (docs/performance.md, "Prompt speed"). A
# measurement of one build is carried to another by these, measured there only, taken elsewhere.
ONNX_PROMPT_PER_BLOCK = {32: 1.0, 128: 1.42}
LLAMACPP_PROMPT_PER_MIX = {"Q4_0": 1.0, "Q4_K_M": 0.85}


def cpu_prompt_tps(
    spec: ModelSpec, backend: str, calibration: Calibration | None, quantization: str = ""
) -> float | None:
    """Tokens/s at which ``backend`` reads a prompt of ``spec`` (PROMPT_TOKENS long) here, from the
    prompt rate this machine's calibration measured; None where nothing timed it (no calibration,
    one kept by an earlier version, or a backend it did not time) or the model is much smaller than
    what was: not guessed."""
    m = calibration.measurement(backend, quantization) if calibration is not None else None
    if m is None or not m.prompt_rate or spec.geometry.layer_params < m.prompt_weights / 2:
        # a model's small matrices read below the rate: the demo model (a fifth of the timed third's
        # weights) 0.54x of it on llama.cpp, 0.63x on the ONNX path
        return None
    if backend == "onnx":
        block, _ = spec.onnx_layout
        scale = ONNX_PROMPT_PER_BLOCK.get(block, 1.0) / ONNX_PROMPT_PER_BLOCK.get(m.block_size, 1.0)
    else:
        scale = LLAMACPP_PROMPT_PER_MIX.get(quantization, 1.0) / LLAMACPP_PROMPT_PER_MIX.get(m.quantization, 1.0)
    return m.prompt_rate * 1e9 * scale / spec.geometry.layer_params


def onnx_vs_llamacpp(snap: SystemSnapshot) -> tuple[float, str]:
    """The ONNX path's decode speed over llama.cpp's on a CPU like this one, and the evidence."""
    features = set(snap.cpu_features)
    if snap.llamacpp_amx is False:
        return ONNX_NO_AMX_RATIO, "measured against llama.cpp without the AMX kernels that failed here, Q4_K_M"
    if snap.arch in ("x86_64", "amd64") and features & {"avx512_vnni", "avx_vnni"}:
        return ONNX_VNNI_RATIO, "measured on x86 with AVX-512 VNNI"
    if snap.arch in ("x86_64", "amd64") and "avx2" in features:
        return ONNX_AVX2_RATIO, "measured on x86 with AVX2 and no VNNI"
    return ONNX_VS_LLAMACPP, "assumed (not measured on this kind of CPU)"


# GPU memory bandwidth by name, GB/s (spec sheets).
_GPU_BANDWIDTH = {
    "rtx 4090": 1008,
    "rtx 4080": 717,
    "rtx 4070": 504,
    "rtx 4060": 272,
    "rtx 3090": 936,
    "rtx 3080": 760,
    "rtx 3070": 448,
    "rtx 3060": 360,
    "h100": 3350,
    "h200": 4800,
    "a100": 1555,
    "l4": 300,
    "t4": 320,
    "m1": 68,
    "m2": 100,
    "m3": 100,
    "m4": 120,
    "orin nano": 68,
    "orin": 204,
}


def cpu_bandwidth(snap: SystemSnapshot) -> tuple[float, str]:
    if snap.bandwidth_gbps:
        return snap.bandwidth_gbps, "measured"
    board = (snap.board or "").lower()
    for key, value in _BOARD_BANDWIDTH.items():
        if key in board:
            return value, f"typical for {snap.board}"
    if snap.arch in ("arm64", "aarch64") and snap.os == "darwin":
        return 60.0, "typical for Apple Silicon CPU cores"
    return 20.0, "typical for a laptop/desktop (dual-channel DDR4)"


def board_decode(snap: SystemSnapshot, backend: str = "onnx") -> tuple[float, str] | None:
    """The published (llama.cpp) decode rate of this board, if it is one we have figures for."""
    board = (snap.board or "").lower()
    for key, (rate, source) in _BOARD_DECODE.items():
        if key in board:
            if backend == "llamacpp":
                return rate, source
            ratio, why = onnx_vs_llamacpp(snap)
            return rate * ratio, f"{source}; x {ratio} for edgeqwen's ONNX path ({why})"
    return None


def cpu_decode_rate(
    snap: SystemSnapshot, backend: str = "onnx", calibration: Calibration | None = None, quantization: str = ""
) -> tuple[float | None, str]:
    """GB/s of weights a CPU decode step of ``backend`` reads, and where the figure comes from:
    this machine's calibration, a board's published figures, or its copy bandwidth. None for
    llama.cpp under the rule: its measured ratio to the ONNX path is in tokens/s on one model (the
    GGUF reads fewer bytes than the ONNX build's repacked weights), so its estimate is derived
    from the ONNX path's tokens/s instead (:func:`estimate`); None for the ONNX path when only
    llama.cpp is calibrated, derived from llama.cpp's tokens/s the same way. A GGUF's
    ``quantization`` takes the rate measured on that quantization where there is one, else the
    measured one's carried by :func:`llamacpp_byte_rate`."""
    measured = calibration.measurement(backend, quantization) if calibration is not None else None
    if measured is not None:
        rate, source = measured.rate_gbps, f"calibrated on this machine ({measured.model})"
        if backend == "llamacpp" and quantization and measured.quantization not in ("", quantization):
            # a first probe times one GGUF mix: another is read at its own rate per byte here
            rate *= llamacpp_byte_rate(snap, quantization, measured.quantization)
            source += f", {measured.quantization}'s rate carried to {quantization}"
        return rate, source
    if calibration is not None and backend == "onnx" and "llamacpp" in calibration.rates:
        # llama.cpp measured (on a stand-in, before any download) and the ONNX path not: the rule's
        # ratio from that measurement, not a copy-bandwidth guess beside a measurement
        ratio, why = onnx_vs_llamacpp(snap)
        return None, f"llama.cpp's calibrated tokens/s x {ratio} ({why})"
    published = board_decode(snap, backend)
    if published is not None:
        return published
    bandwidth, source = cpu_bandwidth(snap)
    rate = bandwidth * CPU_EFFICIENCY
    if backend == "llamacpp":
        ratio, why = onnx_vs_llamacpp(snap)
        return None, f"the ONNX path's tokens/s / {ratio} ({why})"
    return rate, f"{source} copy bandwidth x {CPU_EFFICIENCY}"


def gpu_bandwidth(gpu: GPU) -> float:
    name = gpu.name.lower()
    for key, value in _GPU_BANDWIDTH.items():
        if key in name:
            return float(value)
    return 200.0


def gguf_quantization(
    spec: ModelSpec, calibration: Calibration | None = None, snap: SystemSnapshot | None = None
) -> str:
    """Which of ``spec``'s GGUF files llama.cpp should run here: where a calibration timed more than
    one of their quantizations, the one with the most bits per weight (Q4_K_M: the better answers)
    among those within :data:`TIE` of the fastest; else the catalog's default. One CPU decodes
    Q4_K_M 1.4x as fast as Q4_0, another 0.8x (docs/performance.md), so no rule picks it uncalibrated,
    but where llama.cpp runs without its repacked Q4_0 (its AMX kernels failed here: 1.2x)."""
    files = spec.gguf_files
    default = spec.builds.get("gguf", {}).get("quantization", "Q4_0")
    if snap is not None and snap.llamacpp_amx is False and "Q4_K_M" in files:
        default = "Q4_K_M"
    if calibration is None or len(files) < 2:
        return default
    rates = {m.quantization: m.rate_gbps for m in calibration.usable if m.backend == "llamacpp"}
    tps = {q: rates[q] / spec.gguf_bytes(q) for q in files if q in rates}
    if len(tps) < 2:
        return default
    fast = max(tps.values())
    return max((q for q, t in tps.items() if t >= (1 - TIE) * fast), key=lambda q: GGUF_BITS_PER_WEIGHT[q][0])
