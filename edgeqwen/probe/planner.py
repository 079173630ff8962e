"""The fit planner: which model, int4 build, context length and backend fit a machine, and
about how fast they will run.

Memory = weights + KV cache at the context + runtime overhead, against available RAM (CPU) or
free VRAM (GPU) with a safety margin. Decode speed ~ the rate a backend reads weights / bytes read
per token (all weights + the KV cache in use). That rate is measured on this machine when
``edgeqwen probe --calibrate`` has run (:mod:`.calibrate`), else estimated from the copy bandwidth
(or a board's published figures): :mod:`.rates`. Among models that fit, the biggest one that is still
interactive (>= ``MIN_INTERACTIVE_TPS``) is recommended, on its fastest backend; if none is
interactive, the fastest one that fits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..catalog import ModelSpec, catalog
from ..model import DEFAULT_KV_CACHE_TYPE, KV_CACHE_TYPES
from .calibrate import Calibration
from .rates import (
    GPU_EFFICIENCY,
    TIE,
    board_decode,
    cpu_bandwidth,
    cpu_decode_rate,
    cpu_prompt_tps,
    gguf_quantization,
    gpu_bandwidth,
    llamacpp_byte_rate,
    onnx_vs_llamacpp,
)
from .snapshot import GPU, SystemSnapshot

__all__ = [
    "MIN_INTERACTIVE_TPS",
    "Plan",
    "Recommendation",
    "auto_context",
    "CPU_BACKENDS",
    "available_backends",
    "check_fit",
    "cpu_backends",
    "cpu_reads",
    "embedding_context",
    "estimate",
    "plan",
    "reference_model",
    "usable_gpu",
]

GIB = 1024**3
MIN_INTERACTIVE_TPS = 8.0  # about reading speed
RAM_MARGIN = 0.80  # use at most this share of available RAM
VRAM_MARGIN = 0.90
KV_SHARE = 0.30  # the KV cache may take at most this share of the memory budget
_Q8_COST = "half the KV bytes; prompts read slower"  # docs/performance.md, "llama.cpp's KV cache in 8 or 4 bits"
CONTEXTS = (32768, 16384, 8192, 4096, 2048, 1024)
ONNX_OVERHEAD = 400 * 2**20  # onnxruntime arena, activations, a 256-token prefill chunk of logits
LLAMACPP_OVERHEAD = 300 * 2**20  # llama.cpp's compute buffers for a 512-token batch, logits
CPU_BACKENDS = ("llamacpp", "onnx")
REFERENCE_MODEL = "qwen2.5-1.5b-instruct"  # the geometry the backends' speed ratio was measured on
MLC_OVERHEAD = 1 * GIB  # TVM workspace, CUDA/Metal context
SPEED_AT_TOKENS = 1024
# One decode step on a GPU also pays kernel launches and syncs, ~50 us per layer for a batch of
# one: small models are launch-bound, not bandwidth-bound (a 1.5B model is ~2 ms/token, not 0.5).
GPU_LAYER_OVERHEAD_S = 50e-6


@dataclass(frozen=True)
class Recommendation:
    model: str
    display: str
    backend: str  # onnx | mlc | llamacpp
    build: str  # onnx-int4-cpu | mlc-q4f16_1 | gguf
    device: str  # cpu | cuda | metal
    context_length: int
    weights_bytes: int
    kv_bytes: int
    total_bytes: int
    budget_bytes: int
    fits: bool
    decode_tps: float
    reason: str
    quantization: str = ""  # the GGUF's (Q4_0, Q4_K_M) for llama.cpp; "" for the other builds
    prompt_tps: float | None = None  # reading a PROMPT_TOKENS prompt, where this machine timed the backend

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    best: Recommendation | None
    candidates: tuple[Recommendation, ...]
    bandwidth_gbps: float
    bandwidth_source: str
    calibrated: tuple[str, ...] = ()  # the CPU backends whose speed was measured on this machine

    def as_dict(self) -> dict[str, Any]:
        return {
            "best": self.best.as_dict() if self.best else None,
            "candidates": [c.as_dict() for c in self.candidates],
            "bandwidth_gbps": self.bandwidth_gbps,
            "bandwidth_source": self.bandwidth_source,
            "calibrated": list(self.calibrated),
        }


def reference_model() -> ModelSpec:
    """The catalog model the CPU backends' rules were measured on (and a calibration's stand-in is)."""
    return next(s for s in catalog() if s.name == REFERENCE_MODEL)


def cpu_backends(snap: SystemSnapshot, calibration: Calibration | None = None) -> list[str]:
    """The CPU backends installed here, fastest first (by calibration, else by the rule above):
    compared in tokens/s on one model, since their builds of it differ in size."""
    installed = [b for b in CPU_BACKENDS if b != "llamacpp" or snap.llamacpp_available]
    reference = reference_model()
    return sorted(installed, key=lambda b: -estimate(reference, snap, b, 4096, calibration).decode_tps)


def usable_gpu(snap: SystemSnapshot) -> GPU | None:
    for gpu in snap.gpus:
        if gpu.vendor in ("nvidia", "apple") and gpu.memory_free > 2 * GIB:
            return gpu
    return None


def available_backends(snap: SystemSnapshot, calibration: Calibration | None = None) -> list[str]:
    """Backends this machine can run, best first: MLC only when mlc_llm imports and a GPU is usable,
    then the CPU backends installed, fastest first."""
    gpu = ["mlc"] if snap.mlc_available and usable_gpu(snap) is not None else []
    return gpu + cpu_backends(snap, calibration)


def estimate(
    spec: ModelSpec,
    snap: SystemSnapshot,
    backend: str,
    context: int | None = None,
    calibration: Calibration | None = None,
    quantization: str | None = None,
) -> Recommendation:
    """Memory and speed of one model on one backend; ``context=None`` picks the largest that fits.
    For llama.cpp, ``quantization`` names the GGUF file (an installed one); else the one
    :func:`gguf_quantization` picks."""
    g = spec.geometry
    gpu = usable_gpu(snap) if backend == "mlc" else None
    if backend == "mlc":
        weights = g.int4_weight_bytes(32, 2)  # q4f16_1: 4-bit codes, an fp16 scale per 32
        kv_per_token = g.kv_bytes_per_token(2)  # fp16 KV
        overhead = MLC_OVERHEAD
        if gpu is None:
            budget, bandwidth, device = 0, 0.0, "none"
        else:
            unified = gpu.unified_memory
            free = snap.ram_available if unified else gpu.memory_free
            budget = int(free * (RAM_MARGIN if unified else VRAM_MARGIN))
            bandwidth = gpu_bandwidth(gpu) * GPU_EFFICIENCY
            device = "metal" if gpu.vendor == "apple" else "cuda"
        build = "mlc-q4f16_1"
    elif backend == "llamacpp":
        # The GGUF's own size: llama.cpp's repacked copy (Q4_0 -> interleaved rows) replaces it.
        quantization = quantization or gguf_quantization(spec, calibration, snap)
        weights, kv_per_token = cpu_reads(spec, backend, quantization)
        overhead = LLAMACPP_OVERHEAD
        # tools/setup.sh builds llama.cpp's AMX kernels there; a build whose kernels failed runs without
        if "amx" in snap.cpu_features and snap.llamacpp_amx is not False:
            overhead += g.gguf_amx_copy_bytes(quantization)  # held, not read by a decode step
        budget = int(snap.ram_available * RAM_MARGIN)
        bandwidth = cpu_decode_rate(snap, backend, calibration, quantization)[0]
        device, build = "cpu", "gguf"
    else:
        weights, kv_per_token = cpu_reads(spec, backend)
        overhead = ONNX_OVERHEAD
        budget = int(snap.ram_available * RAM_MARGIN)
        bandwidth = cpu_decode_rate(snap, backend, calibration)[0]
        device, build = "cpu", "onnx-int4-cpu"

    # llama.cpp may keep its KV cache in 8 bits: what fits so is said where f16 is what cut or failed
    q8_per_token = g.kv_bytes_per_token(KV_CACHE_TYPES["q8_0"])

    def total(ctx: int, per_token: int = kv_per_token) -> int:
        return weights + overhead + per_token * ctx

    def largest(per_token: int) -> int | None:
        """The largest standard context that fits, its KV cache within KV_SHARE of the budget."""
        options = [c for c in CONTEXTS if c <= g.context_length]
        fitting = [c for c in options if total(c, per_token) <= budget and per_token * c <= KV_SHARE * budget]
        return fitting[0] if fitting else None

    if context is None:
        ctx = largest(kv_per_token) or min(CONTEXTS)
    else:
        ctx = context
    beyond = ctx > g.context_length
    fits = budget > 0 and total(ctx) <= budget and not beyond
    # bytes read per generated token: every weight once, plus the KV cache of a typical
    # conversation (SPEED_AT_TOKENS of context; longer ones are slower)
    per_token = weights + kv_per_token * min(ctx, SPEED_AT_TOKENS)
    step_s = per_token / (bandwidth * 1e9) if bandwidth else 0.0
    if backend == "mlc" and step_s:
        step_s += g.layers * GPU_LAYER_OVERHEAD_S
    tps = 1.0 / step_s if step_s else 0.0
    if device == "cpu" and snap.cpu_quota is not None and not (calibration and backend in calibration.rates):
        # Under a quota below one CPU the process runs that share of the time: measured 0.48x at
        # 0.5 CPUs, one thread, on the demo (docs/performance.md, "Containers").
        tps *= min(1.0, snap.cpu_quota)
    if bandwidth is None:  # from the other CPU backend's rate (cpu_decode_rate says why)
        tps = _carried_over(snap, backend, ctx, calibration, per_token, quantization or "")
    prompt = cpu_prompt_tps(spec, backend, calibration, quantization or "") if device == "cpu" else None
    if backend == "mlc" and gpu is None:
        reason = "no usable GPU (CUDA or Metal with > 2 GiB free)"
    elif beyond:
        reason = f"{ctx} tokens of context is more than this model's maximum of {g.context_length}"
    elif not fits:
        reason = f"needs {total(ctx) / GIB:.1f} GiB at {ctx} tokens of context, budget {budget / GIB:.1f} GiB"
        if backend == "llamacpp" and total(ctx, q8_per_token) <= budget:
            reason += f"; with --kv-cache-type q8_0 it fits in {total(ctx, q8_per_token) / GIB:.1f} GiB ({_Q8_COST})"
    else:
        reason = f"{total(ctx) / GIB:.1f} GiB of {budget / GIB:.1f} GiB budget, ~{tps:.0f} tokens/s"
        if prompt is not None:
            reason += f", prompts read at ~{prompt:.0f} tokens/s"
        if context is None and ctx < g.context_length:
            reason += _context_cut(g.context_length, ctx, total, budget)
            q8 = largest(q8_per_token) if backend == "llamacpp" else None
            if q8 is not None and q8 > ctx:
                reason += f"; with --kv-cache-type q8_0 context {q8} fits ({_Q8_COST})"
    return Recommendation(
        model=spec.name,
        display=spec.display,
        backend=backend,
        build=build,
        device=device,
        context_length=ctx,
        weights_bytes=weights,
        kv_bytes=kv_per_token * ctx,
        total_bytes=total(ctx),
        budget_bytes=budget,
        fits=fits,
        decode_tps=round(tps, 1),
        reason=reason,
        quantization=quantization if backend == "llamacpp" else "",
        prompt_tps=None if prompt is None else round(prompt, 1),
    )


def _context_cut(longest: int, ctx: int, total: Callable[[int], int], budget: int) -> str:
    """Why the context is ``ctx``, not the model's ``longest``: memory, or a KV cache kept to
    KV_SHARE of the budget, which a larger context asked for (``--context-length``) may pass."""
    fits = [c for c in CONTEXTS if ctx < c <= longest and total(c) <= budget]  # largest first
    if not fits:
        return f"; context reduced from {longest} to {ctx} to fit memory"
    return (
        f"; context {ctx} of the model's {longest}, so the KV cache keeps to {KV_SHARE:.0%} of the budget "
        f"(--context-length {fits[0]} fits: {total(fits[0]) / GIB:.1f} GiB in all)"
    )


def cpu_reads(spec: ModelSpec, backend: str, quantization: str = "") -> tuple[int, int]:
    """Bytes of weights a CPU decode step of ``backend`` reads (llama.cpp: the GGUF in
    ``quantization``), and bytes of KV cache each token of context adds."""
    g = spec.geometry
    if backend == "llamacpp":
        return spec.gguf_bytes(quantization), g.kv_bytes_per_token(KV_CACHE_TYPES[DEFAULT_KV_CACHE_TYPE])
    # Resident, not on disk: onnxruntime repacks MatMulNBits weights for its int8-activation
    # kernel with a second fp32 per block (the block's sum) beside each scale: +184 MiB for
    # Qwen2.5-1.5B at block 32, measured (docs/performance.md). Its KV cache is fp32 on CPU.
    block, head_bits = spec.onnx_layout
    weights = g.int4_weight_bytes(block, 8, head_bits)
    return weights, g.kv_bytes_per_token(4)


def _carried_over(
    snap: SystemSnapshot, backend: str, ctx: int, calibration: Calibration | None, reads: int, quantization: str = ""
) -> float:
    """Tokens/s of ``backend`` reading ``reads`` bytes a step, from the other CPU backend's estimate:
    the rule's ratio is in tokens/s between the two builds of the reference model, so it gives this
    backend's rate in bytes there, carried to other models as a calibration's is (in tokens/s, a
    model's leaner other build lent it speed: docs/performance.md, "Probe estimates vs measured");
    for llama.cpp, to a GGUF of another ``quantization`` at that mix's rate per byte here."""
    ratio = onnx_vs_llamacpp(snap)[0]
    ref = reference_model()
    other = "llamacpp" if backend == "onnx" else "onnx"
    ref_tps = estimate(ref, snap, other, ctx, calibration).decode_tps
    ref_tps = ref_tps * ratio if backend == "onnx" else ref_tps / ratio
    ref_quantization = gguf_quantization(ref, calibration, snap)
    weights, kv_per_token = cpu_reads(ref, backend, ref_quantization)
    tps = ref_tps * (weights + kv_per_token * min(ctx, SPEED_AT_TOKENS)) / reads
    if backend == "llamacpp" and quantization:
        tps *= llamacpp_byte_rate(snap, quantization, ref_quantization)
    return tps


def plan(
    snap: SystemSnapshot,
    model: str | None = None,
    context: int | None = None,
    include_demo: bool = True,
    among: Collection[str] | None = None,
    backends: Sequence[str] | None = None,
    calibration: Calibration | None = None,
    quantizations: Mapping[str, str] | None = None,
) -> Plan:
    """Every (model, backend) estimate and the best choice with its reason. ``among`` limits the
    choice to some catalog models (e.g. the installed ones), ``backends`` to some backends;
    ``quantizations`` names the GGUF file a model has (installed) for llama.cpp's estimates."""
    if backends is None:
        backends = available_backends(snap, calibration)
    specs = [
        s
        for s in catalog()
        if (model == s.name or (model is None and s.answers))
        and (include_demo or not s.demo)
        and (among is None or s.name in among)
    ]
    if context is not None:
        _check_context(context, specs, model)
    build_of = {"onnx": "onnx-int4-cpu", "mlc": "mlc-q4f16_1", "llamacpp": "gguf"}
    files = quantizations or {}
    candidates = tuple(
        estimate(s, snap, b, context, calibration, files.get(s.name) if b == "llamacpp" else None)
        for s in specs
        for b in backends
        if build_of[b] in s.builds
    )
    fitting = [c for c in candidates if c.fits]
    qwen = [c for c in fitting if not c.model.startswith("smollm2")]
    best = None
    pool = qwen or fitting
    if pool:
        # prefer MLC on a usable GPU, then the biggest interactive model on its fastest backend,
        # else the fastest one
        interactive = [c for c in pool if c.decode_tps >= MIN_INTERACTIVE_TPS]
        if interactive:
            size = {s.name: s.geometry.linear_params for s in specs}
            best = max(interactive, key=lambda c: (c.backend == "mlc", size[c.model], c.decode_tps, c.context_length))
            why = "the largest model that fits and runs at interactive speed"
        else:
            best = max(pool, key=lambda c: (c.backend == "mlc", c.decode_tps))
            why = f"no model reaches {MIN_INTERACTIVE_TPS:.0f} tokens/s here; this is the fastest that fits"
        best, tie = _ready_to_run(best, pool), best
        if best is not tie:
            why += (
                f"; its GGUF on llama.cpp ({best.decode_tps:.1f} tokens/s) is within {TIE:.0%} of the ONNX "
                f"build's {tie.decode_tps:.1f} and downloads ready to run, where the ONNX build is converted here"
            )
        if not qwen:
            why = "no Qwen model fits this machine's memory; the demo model does"
        best = Recommendation(**{**best.as_dict(), "reason": f"{why}: {best.reason}"})
    bw, source = cpu_bandwidth(snap)
    published = board_decode(snap)
    if calibration is not None and calibration.rates:
        source += (
            "; decode speed "
            + ", ".join(
                f"{m.backend} {m.rate_gbps:.1f} GB/s" + (f" ({m.quantization})" if m.quantization else "")
                for m in sorted(calibration.usable, key=lambda m: (m.backend, m.quantization))
            )
            + " of weights, calibrated on this machine"
        )
    elif published is not None:
        source += "; decode speed from " + published[1]
    return Plan(best, candidates, bw, source, tuple(sorted(calibration.rates)) if calibration else ())


def _ready_to_run(best: Recommendation, pool: Sequence[Recommendation]) -> Recommendation:
    """``best``, or the same model's GGUF where ``best`` is an ONNX build converted here and the
    GGUF's estimate is within TIE of it."""
    from ..catalog import get_model

    if best.backend != "onnx" or not get_model(best.model).onnx_converted_here:
        return best
    gguf = next((c for c in pool if c.model == best.model and c.backend == "llamacpp"), None)
    return gguf if gguf is not None and gguf.decode_tps >= (1 - TIE) * best.decode_tps else best


def _check_context(context: int, specs: Sequence[ModelSpec], model: str | None) -> None:
    """A context no model in question can take is a bad question, not a 'does not fit'."""
    from ..errors import InvalidRequestError

    if isinstance(context, bool) or not isinstance(context, int) or context < 1:
        raise InvalidRequestError(f"context must be a positive number of tokens, got {context!r}.", "context")
    longest = max((s.geometry.context_length for s in specs), default=context)
    if context > longest:
        which = model if model is not None else "any catalog model"
        raise InvalidRequestError(
            f"A context of {context:,} tokens is more than {which} can take (at most {longest:,}); "
            f"ask for {longest} or less.",
            "context",
        )


def auto_context(ram_available: int, weights_bytes: int, kv_bytes_per_token: int, model_max: int) -> int:
    """The context a CPU session gets when none is asked for: the largest standard size up to the
    model's maximum whose KV cache takes at most KV_SHARE of the budget and that fits with the weights."""
    budget = ram_available * RAM_MARGIN
    for ctx in (c for c in CONTEXTS if c <= model_max):
        kv = kv_bytes_per_token * ctx
        if kv <= KV_SHARE * budget and weights_bytes + ONNX_OVERHEAD + kv <= budget:
            return ctx
    return min(model_max, CONTEXTS[-1])


def embedding_context(ram_available: int, weights_bytes: int, kv_bytes_per_token: int, model_max: int) -> int:
    """The window an embedding model gets unless asked: :func:`auto_context`'s, at most
    ``EMBEDDING_CONTEXT`` (an embedder reads one text at a time; it sits beside a chat model)."""
    from ..catalog import EMBEDDING_CONTEXT

    return min(EMBEDDING_CONTEXT, model_max, auto_context(ram_available, weights_bytes, kv_bytes_per_token, model_max))


def check_fit(
    ram_available: int,
    weights_bytes: int,
    kv_bytes_per_token: int,
    context: int,
    what: str,
    q8_bytes_per_token: int | None = None,
) -> None:
    """Fail fast, before loading, when a model at ``context`` tokens cannot fit the free RAM.
    ``q8_bytes_per_token``: a KV cache in 8 bits, for a model that may keep one (llama.cpp's)."""
    from ..errors import InsufficientMemoryError

    budget = int(ram_available * RAM_MARGIN)

    def needed(per_token: int) -> int:
        return weights_bytes + ONNX_OVERHEAD + per_token * context

    need = needed(kv_bytes_per_token)
    if need > budget:
        room = (budget - weights_bytes - ONNX_OVERHEAD) // max(1, kv_bytes_per_token)
        hint = (
            f"use context_length={max(0, room) // 1024 * 1024} or less"
            if room >= 1024
            else "use a smaller model (see `edgeqwen probe`)"
        )
        if q8_bytes_per_token is not None and needed(q8_bytes_per_token) <= budget:
            hint = f"keep the KV cache in 8 bits (kv_cache_type='q8_0', --kv-cache-type q8_0; {_Q8_COST}), {hint}"
        raise InsufficientMemoryError(
            f"{what} needs about {need / GIB:.1f} GiB at {context} tokens of context, but only "
            f"{budget / GIB:.1f} GiB of RAM is free to use ({RAM_MARGIN:.0%} of {ram_available / GIB:.1f} GiB "
            f"available); {hint}, or close other programs."
        )
