"""The probe's report: one dict (``--json``, validated by ``report.schema.json``) and its text form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..model import DEFAULT_KV_CACHE_TYPE, KV_CACHE_TYPES
from .calibrate import PROMPT_TOKENS
from .planner import Plan, Recommendation
from .snapshot import SystemSnapshot

__all__ = ["SCHEMA_FILE", "build_report", "format_report", "how_to_get", "load_schema", "side_fit"]

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
GIB = 1024**3


def build_report(snap: SystemSnapshot, result: Plan) -> dict[str, Any]:
    from importlib.metadata import version

    __version__ = version("edgeqwen")

    ways = list(how_to_get(result.best, snap)) if result.best is not None else []
    return {
        "edgeqwen_version": __version__,
        "system": snap.as_dict(),
        "plan": result.as_dict(),
        "get_it": ways,
        "embedding": side_fit(snap, result, "embedding"),
        "reranker": side_fit(snap, result, "reranker"),
    }


# The models a search app serves beside the chat model, in the order `serve` loads them after it:
# each is sized from the memory the ones before it leave.
SIDE_ROLES = ("embedding", "reranker")


def side_fit(snap: SystemSnapshot, result: Plan, role: str) -> dict[str, Any]:
    """The catalog's model of ``role`` (the embedding model, the reranker: search and RAG) beside the
    recommended one: its window (as the Embedder or Reranker sizes it, from the memory the chat
    model and the side models loaded before it leave), its memory, and whether it fits there."""
    from ..catalog import catalog
    from .planner import LLAMACPP_OVERHEAD, RAM_MARGIN, embedding_context

    best = result.best
    taken = best.total_bytes if best is not None and best.device in ("cpu", "metal") else 0
    left = max(0, snap.ram_available - taken)
    for one in SIDE_ROLES[: SIDE_ROLES.index(role) + 1]:
        spec = next(s for s in catalog() if s.role == one)
        g, build = spec.geometry, spec.builds["gguf"]
        weights = spec.gguf_bytes(build["quantization"])
        kv = g.kv_bytes_per_token(KV_CACHE_TYPES[DEFAULT_KV_CACHE_TYPE])
        context = embedding_context(left, weights, kv, g.context_length)
        total = weights + LLAMACPP_OVERHEAD + kv * context
        fits = total <= left * RAM_MARGIN
        left = max(0, left - total)
    return {
        "model": spec.name,
        "display": spec.display,
        "backend": "llamacpp",
        "context_length": context,
        "total_bytes": total,
        "fits": fits,
        "get_it": spec.gguf_route(snap.llamacpp_available),
    }


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _cores(snap: SystemSnapshot) -> str:
    if snap.performance_cores is None or snap.performance_cores >= snap.physical_cores:
        return f"{snap.physical_cores} cores"
    # the default threads run on these only (backends/threads.py), as llama.cpp's do
    return f"{snap.physical_cores} cores ({snap.performance_cores} performance, which the threads run on)"


def format_report(snap: SystemSnapshot, result: Plan) -> str:
    lines = [
        "Machine",
        f"  {snap.board or snap.cpu_model} ({snap.os}/{snap.arch})",
        f"  CPU: {snap.cpu_model}, {_cores(snap)} / {snap.logical_cores} threads, "
        f"SIMD: {', '.join(snap.cpu_features) or 'none detected'}",
        f"  RAM: {snap.ram_available / GIB:.1f} GiB available of {snap.ram_total / GIB:.1f} GiB"
        + (f", swap {snap.swap_total / GIB:.1f} GiB" if snap.swap_total else ""),
        f"  Memory bandwidth: {result.bandwidth_gbps:.1f} GB/s ({result.bandwidth_source})",
    ]
    lines += [f"  Note: {note}" for note in snap.notes]
    for gpu in snap.gpus:
        kind = "unified memory" if gpu.unified_memory else "VRAM"
        lines.append(f"  GPU: {gpu.name}, {gpu.memory_free / GIB:.1f} GiB {kind} free of {gpu.memory_total / GIB:.1f}")
    lines.append(
        f"  mlc_llm: {'installed' if snap.mlc_available else 'not installed'}; onnxruntime: "
        f"{', '.join(snap.onnx_providers) or 'not installed'}; llama.cpp: "
        f"{'installed' if snap.llamacpp_available else 'not installed'}"
    )
    lines += ["", "Models (int4)"]
    header = f"  {'model':<38}{'backend':<14}{'context':>8}{'memory':>10}{'budget':>10}{'tok/s':>8}{'prompt':>8}  fits"
    lines.append(header)
    for c in result.candidates:
        prompt = "-" if c.prompt_tps is None else f"{c.prompt_tps:.0f}"
        lines.append(
            f"  {c.display:<38}{c.backend + '/' + c.device:<14}{c.context_length:>8}"
            f"{c.total_bytes / GIB:>8.1f}G{c.budget_bytes / GIB:>9.1f}G{c.decode_tps:>8.1f}{prompt:>8}  "
            + ("yes" if c.fits else "no")
        )
    lines.append(
        f"  (tok/s: generating; prompt: tokens/s reading a {PROMPT_TOKENS}-token prompt as timed here; "
        "-: not timed, or a model too small to carry the timing to)"
    )
    lines.append("")
    if result.best is None:
        lines.append("Recommendation: nothing fits this machine's free memory.")
    else:
        b = result.best
        where = f"{b.device}, GGUF {b.quantization}" if b.quantization else b.device
        lines.append(f"Recommendation: {b.display} on {b.backend} ({where}), context {b.context_length}")
        lines.append(f"  why: {b.reason}")
        ways = how_to_get(b, snap)
        for i, way in enumerate(ways):
            lines.append(f"  {'get it' if i == 0 else '    or'}: {way}")
        from ..catalog import LLAMACPP_INSTALL, get_model

        said = any(LLAMACPP_INSTALL in way for way in ways)  # how to install llama.cpp (it is missing): once is enough
        for role, label, beside in (("embedding", "search / RAG", "it"), ("reranker", "reranking", "them")):
            side = side_fit(snap, result, role)
            fits = f"fits beside {beside}" if side["fits"] else f"does not fit beside {beside}"
            get_it = side["get_it"]
            if said:
                get_it = f"{get_model(side['model']).gguf_route(True)}, with llama.cpp installed as above"
            lines.append(
                f"  {label}: {side['display']}, window {side['context_length']}, "
                f"{side['total_bytes'] / GIB:.1f} GiB: {fits}; {get_it}"
            )
        unmeasured = sorted({c.backend for c in result.candidates if c.device == "cpu"} - set(result.calibrated))
        if b.device == "cpu" and unmeasured:
            # the estimate has read half of what some CPUs decode (AMD Zen 4 and 5), and put the
            # slower backend first on others (a Sapphire Rapids-class Xeon); a calibration kept by
            # an earlier version may have timed llama.cpp alone
            what = "estimated, not measured" if not result.calibrated else f"{', '.join(unmeasured)} not measured here"
            lines.append(
                f"  speed: {what}; `edgeqwen probe --calibrate` times this machine "
                "(about two minutes, nothing downloaded)"
            )
        elif b.device == "cpu" and not any(c.prompt_tps for c in result.candidates):
            # a calibration kept by a version that timed decoding only
            lines.append("  prompt speed: not measured here; `edgeqwen probe --calibrate` times it")
    return "\n".join(lines)


def how_to_get(best: Recommendation, snap: SystemSnapshot) -> tuple[str, ...]:
    """The ways to install the recommended build, the one to take first first (the probe downloads
    nothing); none for the demo model, which setup installs. For an ONNX build converted here: the
    conversion, said as impossible where this machine has not the memory for it, and the GGUF,
    which llama.cpp runs as it is (installing llama.cpp first where it is missing)."""
    from ..catalog import get_model
    from ..convert import conversion_memory
    from .planner import estimate

    spec = get_model(best.model)
    if spec.demo:
        return ()
    if not (best.backend == "onnx" and spec.onnx_converted_here):
        flag = {"onnx": "", "llamacpp": " --backend llamacpp", "mlc": " --backend mlc"}[best.backend]
        if best.quantization and best.quantization != spec.builds["gguf"]["quantization"]:
            flag += f" --quant {best.quantization}"  # a calibration measured it no slower here
        return (f"`edgeqwen pull {spec.name}{flag}`",)
    need = conversion_memory(spec)
    fits = need <= snap.ram_available
    if fits:
        convert = f"`edgeqwen pull {spec.name} --convert` (built here from {spec.source}: needs torch and several GB)"
    else:
        convert = (
            f"convert it on a machine with {need / GIB:.0f}+ GiB of memory (`edgeqwen pull {spec.name} --convert`) "
            f"and copy its folder here: converting needs about {need / GIB:.0f} GiB, this machine has "
            f"{snap.ram_available / GIB:.1f} GiB available"
        )
    gguf = spec.gguf_route(snap.llamacpp_available)
    if gguf is None:
        return (convert,)
    if not snap.llamacpp_available:
        gguf += f"; about {estimate(spec, snap, 'llamacpp', best.context_length).decode_tps:.1f} tokens/s here"
    return (convert, gguf) if fits else (gguf, convert)
