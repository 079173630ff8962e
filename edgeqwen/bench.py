"""``edgeqwen bench``: prefill and decode speed, time to first token, load time and peak memory
of one model on this machine, as medians over repeated runs."""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidRequestError

if TYPE_CHECKING:
    from .probe.calibrate import Calibration, Measurement
    from .probe.snapshot import SystemSnapshot

__all__ = [
    "BenchResult",
    "OnnxMatmuls",
    "Spread",
    "calibrate_machine",
    "first_timing",
    "onnx_matmuls",
    "peak_rss_bytes",
    "run_bench",
    "time_decode",
]


@dataclass(frozen=True)
class Spread:
    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


@dataclass(frozen=True)
class BenchResult:
    model: str
    threads: int
    prompt_tokens: int
    gen_tokens: int
    runs: int
    load_s: float
    prefill_tps: Spread
    decode_tps: Spread
    ttft_s: Spread
    peak_rss_bytes: int
    model_bytes: int
    kv_cache_bytes: int
    kv_cache_type: str | None = None  # llama.cpp's (f16, q8_0, q4_0); None: the model's own

    @property
    def memory_ratio(self) -> float:
        """Peak RSS over what the model must hold: its files on disk plus the whole KV cache."""
        return self.peak_rss_bytes / (self.model_bytes + self.kv_cache_bytes)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "memory_ratio": self.memory_ratio}


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run_bench(
    model: str | Path | None,
    prompt_tokens: int = 128,
    gen_tokens: int = 64,
    runs: int = 3,
    threads: int | None = None,
    context_length: int | None = None,
    backend_name: str = "auto",
    announce: Callable[[str], None] | None = None,
    warmup_prompt_tokens: int | None = None,
    kv_cache_type: str | None = None,
) -> BenchResult:
    """Prefill a fixed random prompt of ``prompt_tokens`` ids, then decode exactly ``gen_tokens``
    greedily (stop tokens ignored); the cache is cleared between runs so every run prefills all.
    A warm-up run comes first, on the first ``warmup_prompt_tokens`` of the prompt (all of it by
    default)."""
    from .backends import load_backend
    from .backends.threads import default_threads, thread_count
    from .generation_config import GenerationConfig
    from .hub import resolve_model
    from .runtime.loop import stream_generate

    if prompt_tokens < 1 or gen_tokens < 2 or runs < 1:
        raise InvalidRequestError("bench needs prompt_tokens >= 1, gen_tokens >= 2 and runs >= 1.")
    if backend_name not in ("auto", "onnx", "llamacpp"):
        raise InvalidRequestError(f"bench times the CPU backends (onnx, llamacpp), not {backend_name!r}.", "backend")
    path = resolve_model(model, announce=announce, backend=backend_name)
    start = time.perf_counter()
    try:
        threads = thread_count(threads) if threads is not None else None  # the count it runs, reported below
        backend = load_backend(
            backend_name,
            path,
            context_length=context_length or prompt_tokens + gen_tokens + 1,
            threads=threads,
            kv_cache_type=kv_cache_type,
        )
    except InvalidRequestError as exc:
        if context_length is not None or exc.param != "context_length":
            raise
        # the context was sized from the token counts: say so, in the options the user gave
        raise InvalidRequestError(
            f"{prompt_tokens} prompt + {gen_tokens} generated tokens do not fit this model: {exc} "
            "Lower --prompt-tokens / --gen-tokens.",
            "prompt_tokens",
        ) from exc
    load_s = time.perf_counter() - start
    if prompt_tokens + gen_tokens > backend.context_length:
        raise InvalidRequestError(
            f"prompt_tokens + gen_tokens = {prompt_tokens + gen_tokens} exceed the context ({backend.context_length})."
        )
    rng = np.random.default_rng(0)
    ids = rng.integers(100, min(backend.tokenizer.vocab_size, backend.info.vocab_size) - 1000, prompt_tokens).tolist()
    config = GenerationConfig(max_tokens=gen_tokens, temperature=0.0)
    prefill, decode, ttft = [], [], []
    for i in range(runs + 1):  # the first run warms up
        backend.model.reset()
        prompt = ids if i or warmup_prompt_tokens is None else ids[:warmup_prompt_tokens]
        metrics = list(stream_generate(backend.model, backend.tokenizer, prompt, config))[-1].metrics
        if i:
            prefill.append(metrics.prefill_tps)
            decode.append(metrics.decode_tps)
            ttft.append(metrics.ttft_s)
    info = backend.info
    return BenchResult(
        model=info.name,
        threads=threads or default_threads(),
        prompt_tokens=prompt_tokens,
        gen_tokens=gen_tokens,
        runs=runs,
        load_s=load_s,
        prefill_tps=Spread.of(prefill),
        decode_tps=Spread.of(decode),
        ttft_s=Spread.of(ttft),
        peak_rss_bytes=peak_rss_bytes(),
        model_bytes=info.weights_bytes,
        kv_cache_bytes=backend.model.kv_cache_bytes,
        kv_cache_type=getattr(backend.model, "kv_cache_type", None),
    )


QUIET_CORES = 0.25  # what other processes may use while a calibration times a backend


def time_decode(backend: str, path: Path) -> Measurement:
    """A calibration's measurement: a prompt of the probe's PROMPT_TOKENS, then 32 greedy tokens,
    after a warm-up run on a short prompt (about 4 s for a third of a 1.5B model on 2 cores, 7-15 s
    for a whole one)."""
    from .backends.threads import BusyCores
    from .probe.calibrate import PROMPT_TOKENS, Measurement

    prompt_tokens, gen_tokens = PROMPT_TOKENS, 32
    busy = BusyCores()
    # a warm-up on a short prompt: on a CPU without AMX or VNNI a prompt of 512 takes seconds
    r = run_bench(
        path, prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, runs=1, backend_name=backend, warmup_prompt_tokens=64
    )
    others = busy.others()
    if others is not None and others > QUIET_CORES:
        raise InvalidRequestError(
            f"Other processes kept {others:.1f} cores busy while {backend} was timed, so its rate would be "
            "wrong for this machine; nothing was kept. Run `edgeqwen probe --calibrate` again when it is quiet."
        )
    # a decode step read the weights and the cache written so far (the planner counts both)
    kv_read = r.kv_cache_bytes * (prompt_tokens + gen_tokens / 2) / (prompt_tokens + gen_tokens + 1)
    if backend == "onnx":
        m = onnx_matmuls(path)
        read, quantization, layer_weights, block_size = r.model_bytes + m.block_sums, "", m.layer_weights, m.block_size
    else:
        from .gguf import read_gguf_info

        info = read_gguf_info(path)
        read, quantization, layer_weights, block_size = r.model_bytes, info.quantization, info.layer_params, 0
    return Measurement(
        backend,
        r.model,
        int(read + kv_read),
        round(r.decode_tps.median, 2),
        r.threads,
        quantization,
        prompt_tps=round(r.prefill_tps.median, 1),
        prompt_weights=layer_weights,
        block_size=block_size,
    )


@dataclass(frozen=True)
class OnnxMatmuls:
    """What an int4 ONNX build's MatMulNBits nodes say of its speed."""

    # onnxruntime's repacked weights add an fp32 block sum beside each fp32 scale (4 -> 8 bytes a
    # block: x1.2 at block 32), so a rate from the files' size would rank the ONNX path below what
    # it measured
    block_sums: int
    layer_weights: int  # the layers' (not the lm_head's): what each prompt token is multiplied by
    block_size: int  # the layers' most common


def onnx_matmuls(folder: Path) -> OnnxMatmuls:
    import onnx

    from .model import read_model_info

    info = read_model_info(folder)
    graph = onnx.load(str(info.onnx_file), load_external_data=False).graph
    sums, layers, blocks = 0, 0, Counter[int]()
    for node in (n for n in graph.node if n.op_type == "MatMulNBits"):
        a = {x.name: x.i for x in node.attribute}
        sums += a["N"] * -(-a["K"] // a["block_size"]) * 4  # one fp32 per block of each output row
        if a["N"] != info.vocab_size:  # the lm_head: run on a prompt's last token only
            layers += a["N"] * a["K"]
            blocks[a["block_size"]] += 1
    return OnnxMatmuls(sums, layers, blocks.most_common(1)[0][0] if blocks else 0)


def calibrate_machine(say: Callable[[str], None] | None = None) -> Calibration:
    """Time every installed CPU backend on the build the planner would run on it (the installed
    Qwen build it ranks best, else a stand-in of one written for the purpose; for llama.cpp also a
    stand-in in each other quantization the catalog's GGUFs use) and keep the result for this
    machine (``edgeqwen probe --calibrate``)."""
    from .gguf import read_gguf_info
    from .hub import best_installed, cache_dir
    from .probe import read_system
    from .probe.calibrate import calibrate, save_calibration
    from .probe.planner import cpu_backends

    snap = read_system(measure_bandwidth=False)
    builds: list[tuple[str, Path]] = []
    with contextlib.ExitStack() as stack:
        for backend in cpu_backends(snap):
            installed = best_installed(None, backend)
            paths = [installed] if installed else []
            if backend == "llamacpp":
                have = {read_gguf_info(installed).quantization} if installed else set()
                for quantization in (q for q in _gguf_quantizations() if q not in have):
                    # the demo model only where nothing else is timed: one too small is not used anyway
                    paths.append(_standin(backend, stack, say, quantization, fallback=not paths))
            elif not paths:
                paths.append(_standin(backend, stack, say))
            builds += [(backend, path) for path in paths if path is not None]
            if not any(b == backend for b, _ in builds) and say:
                say(f"  {backend}: nothing installed to time (`edgeqwen pull MODEL`), skipped")
        result = calibrate(snap, builds, time_decode, say)
    file = save_calibration(snap, cache_dir(), result)
    if say:
        small = [m.backend for m in result.measurements if m.backend not in result.rates]
        if small:
            say(
                f"  {', '.join(small)}: timed on the demo model only, too small to predict a Qwen model's speed; "
                "pull a Qwen build for each backend and calibrate again (`edgeqwen pull MODEL --backend ...`)"
            )
        say(f"kept in {file}; `edgeqwen probe` and Assistant() use the rates of Qwen-sized builds on this machine")
    return result


# A first probe times each CPU backend on this share of the reference model's stand-in (its layers
# and its vocabulary): its matrices in the model's mix, a step reading 450 MiB of Qwen2.5-1.5B's ONNX
# build, 318 MiB of its Q4_0 GGUF. The ONNX path's rate per byte was the whole stand-in's within 1-4%
# on the 2-core Xeon, a seventh (4 of 28 layers) 13% fast, partly from the caches; llama.cpp's within
# this VM's spread between runs (docs/performance.md, "A first probe times a third of a stand-in").
FIRST_SHARE = 3


def first_timing(snap: SystemSnapshot, say: Callable[[str], None] | None = None) -> Calibration | None:
    """Where this machine has no calibration: each installed CPU backend timed on a third of the
    reference model's stand-in (the ONNX build; llama.cpp's GGUF in the mix the planner would pull
    here), decoding and reading a prompt, 15 s for both on 2 cores, written in RAM where /dev/shm has
    room (else beside the models) and deleted, kept as the machine's calibration. So a first probe's
    speeds, and which backend comes first, are measured: the copy bandwidth x 0.6 read the 2-core
    Xeon at 0.6 of what it decodes, the backends' order on Arm is assumed, and prompt speed, bound
    by arithmetic, has no rule at all. llama.cpp is left out where memory is short (the ONNX path
    first). None, keeping nothing, where nothing can be timed well here (said): no demo vocabulary
    to write a stand-in with, too little memory or disk, other processes busy."""
    import os
    import shutil

    from .convert import demo_gguf_path
    from .errors import BackendUnavailableError, EdgeQwenError, ModelLoadError
    from .onnx_standin import onnx_standin_bytes, write_onnx_standin
    from .paths import cache_dir, check_disk, disk_full_said, installing, models_dir, scratch
    from .probe.calibrate import PROMPT_TOKENS, Calibration, load_calibration, machine_key, save_calibration
    from .probe.planner import cpu_backends, reference_model
    from .probe.rates import gguf_quantization
    from .standin import part_of, standin_bytes, write_standin

    kept = load_calibration(snap, cache_dir())
    if kept is not None:
        return kept
    spec = reference_model()
    g = part_of(spec.geometry, -(-spec.geometry.layers // FIRST_SHARE))
    block, head_bits = spec.onnx_layout
    quantization = gguf_quantization(spec, None, snap)
    sizes = {"onnx": onnx_standin_bytes(g, block, head_bits), "llamacpp": standin_bytes(g, quantization)}
    installed = sorted((b for b in cpu_backends(snap) if b in sizes), key=lambda b: b != "onnx")
    backends: list[str] = []
    for backend in installed:
        # each stand-in in RAM (or the page cache) and the backend's copy of it, and room
        if snap.ram_available >= 4 * sum(sizes[b] for b in [*backends, backend]):
            backends.append(backend)
    need = sum(sizes[b] for b in backends)

    def skipped(why: str, what: str = "speed") -> None:
        if say:
            say(f"{what} not timed here ({why}): estimated instead")

    memory = f"{4 * sum(sizes[b] for b in installed) / 2**30:.1f} GiB of free memory"
    if not backends:
        skipped(f"a third of a stand-in of {spec.display} for each backend needs {memory}")
        return None
    if backends != installed:
        skipped(f"timing both backends needs {memory}", what=", ".join(b for b in installed if b not in backends))
    shm = Path("/dev/shm")
    in_ram = shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2 * need
    name = "first-timing-standin"
    try:
        vocabulary = demo_gguf_path()
        with installing(name), scratch(name, shm if in_ram else models_dir()) as tmp:
            kept = load_calibration(snap, cache_dir())  # a probe beside this one timed it while we waited
            if kept is not None:
                return kept
            check_disk(tmp, need, f"A third of a stand-in of {spec.display} to time {' and '.join(backends)} on")
            if say:
                say(f"timing {' and '.join(backends)} on a third of a stand-in of {spec.display} (once per machine)...")
            stem = f"{spec.name}-standin-{g.layers}-of-{spec.geometry.layers}-layers"
            with disk_full_said(tmp, "writing the stand-in"):
                builds = [
                    (b, write_onnx_standin(tmp / stem, g, vocabulary, block, head_bits=head_bits))
                    if b == "onnx"
                    else (b, write_standin(tmp / f"{stem}.gguf", g, vocabulary, quantization))
                    for b in backends
                ]
            measured = []
            for backend, path in builds:
                start = time.perf_counter()
                try:
                    m = time_decode(backend, path)
                except (ModelLoadError, BackendUnavailableError) as exc:  # that backend only: the other's holds
                    skipped(str(exc).rstrip("."), what=backend)
                    continue
                measured.append(m)
                if say:  # as each is timed: on a Pi one takes most of a minute
                    mix = f" ({m.quantization})" if m.quantization else ""
                    say(
                        f"  {m.backend}{mix}: {m.decode_tps:.1f} tok/s on it = {m.rate_gbps:.1f} GB/s of weights; "
                        f"a {PROMPT_TOKENS}-token prompt at {m.prompt_tps:.0f} tok/s "
                        f"({time.perf_counter() - start:.0f} s)"
                    )
            if not measured:
                return None
            result = Calibration(machine_key(snap), tuple(measured))
            try:  # kept before the lock is let go: a probe waiting on it takes this one
                kept_in = f"kept in {save_calibration(snap, cache_dir(), result)}"
            except OSError as exc:  # a read-only cache: this run plans with it, the next times again
                kept_in = f"not kept ({exc.strerror or exc})"
    except (EdgeQwenError, OSError) as exc:  # no demo package, no room, a busy machine: the rule it is
        skipped(str(exc).rstrip("."))
        return None
    if say:
        say(f"  {kept_in} (`edgeqwen probe --calibrate` times every backend on a whole stand-in, twice)")
    return result


def _gguf_quantizations() -> list[str]:
    """The mixes of the catalog's chat GGUFs, the reference model's first (a stand-in can be
    written in each): a calibration times llama.cpp on each, since the rate per byte differs."""
    from .catalog import catalog
    from .probe.planner import reference_model
    from .standin import QUANTIZATIONS

    used = {q for s in catalog() if s.answers for q in s.gguf_files}
    first = reference_model().builds["gguf"]["quantization"]
    return sorted((q for q in used if q in QUANTIZATIONS), key=lambda q: (q != first, q))


def _standin(
    backend: str,
    stack: contextlib.ExitStack,
    say: Callable[[str], None] | None,
    quantization: str = "Q4_0",
    fallback: bool = True,
) -> Path | None:
    """A stand-in of the model the planner measures its rules on (:mod:`edgeqwen.standin`), for
    ``backend`` (a GGUF in ``quantization`` for llama.cpp), written for the calibration and deleted
    after. Where the disk has no room for it: with ``fallback``, the demo model's build (timed, but
    too small to be used), else None."""
    from .convert import demo_gguf_path
    from .errors import InsufficientDiskError
    from .hub import DEMO_MODEL, installed_models
    from .onnx_standin import onnx_standin_bytes, write_onnx_standin
    from .paths import check_disk, disk_full_said, installing, scratch
    from .probe.planner import reference_model
    from .standin import standin_bytes, write_standin

    spec = reference_model()
    gguf = backend == "llamacpp"
    demo = (demo_gguf_path() if gguf else installed_models().get(DEMO_MODEL)) if fallback else None
    block, head_bits = spec.onnx_layout
    need = standin_bytes(spec.geometry, quantization) if gguf else onnx_standin_bytes(spec.geometry, block, head_bits)
    what = f"{backend} {quantization}" if gguf else backend
    # as an install is made: one calibration at a time, and what a killed one left is removed first
    # (the first stand-in keeps the name it had when it was the only one, so its leftovers go too)
    name = "calibration-standin" if what == "llamacpp Q4_0" else f"calibration-standin-{what.replace(' ', '-').lower()}"
    stack.enter_context(installing(name))
    tmp = stack.enter_context(scratch(name))
    try:
        check_disk(tmp, need, f"A stand-in of {spec.display} to time {what} on")
    except InsufficientDiskError as exc:
        if say:
            said = "Timing the demo model instead." if demo else "Not timed."
            say(f"  {what}: {exc} {said}")
        return demo
    if say:
        say(f"writing a stand-in of {spec.display} for {what} (its layers, random weights; deleted after)...")
    model = tmp / f"{spec.name}-standin"  # a folder names its model: not the real one's name
    with disk_full_said(tmp, "writing the stand-in"):
        if gguf:
            model.mkdir()
            write_standin(model / "model.gguf", spec.geometry, demo_gguf_path(), quantization)
        else:
            write_onnx_standin(model, spec.geometry, demo_gguf_path(), block, head_bits=head_bits)
    return model
