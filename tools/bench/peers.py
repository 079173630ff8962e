"""edgeqwen (both CPU backends) vs onnxruntime-genai's own generator vs llama.cpp's own generation,
same geometry, same machine, same threads, one interleaved run.

    python tools/bench/peers.py --onnx DIR --gguf Q4_0.gguf [--gguf Q4_K_M.gguf] \\
        [--prompt 512] [--gen 64] [--runs 3] [--rounds 3] [--threads N] [--busy 1] [--out docs/bench]

Engines, each in its own process (so peak RSS is its own), on the same random prompt ids, greedy,
ignoring stop tokens, one warm-up then ``--runs`` measured runs:
- ``edgeqwen``: our loop on ONNX Runtime (``--onnx`` folders);
- ``edgeqwen-llamacpp``: our loop on llama.cpp (``--gguf`` files), and ``edgeqwen-llamacpp-json``
  the same under a JSON-schema grammar (constrained decode);
- ``ortgenai``: onnxruntime-genai's generator on the same ONNX folders;
- ``llamacpp``: llama-cpp-python's own ``Llama.generate`` on the same GGUF files.
Peers at their best: llama.cpp loads with ``use_mmap=False`` (its peak RSS is then its own buffers,
not the mapped file beside them; ours does the same) and flash attention as llama.cpp's own default
(auto: on, on a CPU; llama-cpp-python's ``Llama`` would turn it off). Every job reads /proc/stat
around itself: a job during which other processes used more than ``--noise`` of the CPU is
discarded and said so (``--busy N`` runs N spinning processes on purpose: the contention run).
Prints the CPU model and SIMD flags; writes a markdown table, JSON and a PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
SIMD = ("avx", "avx2", "avx512f", "avx512_vnni", "avx512vnni", "avx_vnni", "amx_int8", "fma", "f16c",
        "sha_ni", "neon", "asimd", "asimddp", "i8mm", "sve")  # fmt: skip


def prompt_ids(n: int) -> list[int]:
    return np.random.default_rng(0).integers(100, 150_000, n).tolist()


def peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_line() -> str:
    """The CPU model and the SIMD flags that decide which kernels run."""
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model") and model == "unknown CPU":
                model = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags |= set(value.split())
    except OSError:
        pass
    return f"{model}; SIMD: {' '.join(f for f in SIMD if f in flags) or 'none found'}"


def machine_line() -> str:
    """What every benchmark prints first: the CPU, its SIMD flags and the load average (machines of
    one kind differ between sessions, and a busy one measures nothing)."""
    return f"CPU: {cpu_line()}; load average {Path('/proc/loadavg').read_text().split()[:3]}"


def taking_turns(settings: dict[str, T], measure: Callable[[T], float], rounds: int) -> dict[str, list[float]]:
    """Each setting measured once a round, the settings in turn, so each meets the machine as the
    others do; a first round warms up and is not kept."""
    values: dict[str, list[float]] = {name: [] for name in settings}
    for r in range(rounds + 1):
        for name, setting in settings.items():
            value = measure(setting)
            if r:
                values[name].append(value)
    return values


def print_medians(values: dict[str, list[float]], what: str) -> None:
    """Each setting's median tokens/s, its ratio to the first setting's, and its rounds."""
    base = statistics.median(next(iter(values.values())))
    for name, rounds in values.items():
        median = statistics.median(rounds)
        print(f"{name:16s} {what} {median:8.2f} tok/s (x{median / base:.3f})  rounds {[round(v, 1) for v in rounds]}")


def _timed(generate, ids: list[int], gen: int) -> dict:
    start = time.perf_counter()
    first = end = start
    for i, _token in enumerate(generate()):
        if i == 0:
            first = time.perf_counter()
        if i == gen - 1:
            end = time.perf_counter()
            break
    return {"prefill_tps": len(ids) / (first - start), "decode_tps": (gen - 1) / (end - first), "ttft_s": first - start}


def _our_loop(backend, ids: list[int], gen: int, schema: dict | None = None):
    from edgeqwen import GenerationConfig
    from edgeqwen.runtime.formats import ResponseFormat
    from edgeqwen.runtime.loop import stream_generate

    config = GenerationConfig(max_tokens=gen, temperature=0.0)

    def run() -> dict:
        backend.model.reset()  # no prefix reuse between runs
        processors = [backend.grammar_engine.constraint(ResponseFormat.of(schema), len(ids))] if schema else []
        m = list(stream_generate(backend.model, backend.tokenizer, ids, config, processors))[-1].metrics
        return {"prefill_tps": m.prefill_tps, "decode_tps": m.decode_tps, "ttft_s": m.ttft_s}

    return run


def load_edgeqwen(model: str, ids: list[int], gen: int, threads: int):
    from edgeqwen.backends.onnx import OnnxBackend

    return _our_loop(OnnxBackend(model, context_length=len(ids) + gen + 1, threads=threads), ids, gen)


def load_edgeqwen_llamacpp(model: str, ids: list[int], gen: int, threads: int, schema: dict | None = None):
    from edgeqwen.backends.llamacpp import LlamaCppBackend

    # --threads 0: the backend's own choice (physical cores, fewer while a neighbour keeps some busy)
    backend = LlamaCppBackend(model, context_length=len(ids) + gen + 8, threads=threads or None)
    return _our_loop(backend, ids, gen, schema)


# A long answer for the constrained run: a list of records (the random model fills it with anything),
# at least 40 of them, so the grammar cannot end (and stop tokens, ignored here, cannot be taken)
# before the token budget does.
JSON_SCHEMA = {
    "type": "array",
    "minItems": 40,
    "items": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "qty": {"type": "integer"}, "note": {"type": "string"}},
        "required": ["name", "qty", "note"],
    },
}


def load_edgeqwen_llamacpp_json(model: str, ids: list[int], gen: int, threads: int):
    return load_edgeqwen_llamacpp(model, ids, gen, threads, JSON_SCHEMA)


def load_ortgenai(model: str, ids: list[int], gen: int, threads: int):
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime_genai as og

    config = og.Config(model)
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}}))
    m = og.Model(config)

    def run() -> dict:
        params = og.GeneratorParams(m)
        params.set_search_options(do_sample=False, max_length=len(ids) + gen, min_length=len(ids) + gen)
        g = og.Generator(m, params)

        def tokens():
            g.append_tokens(np.array(ids, dtype=np.int32))
            while True:
                g.generate_next_token()
                yield 0

        return _timed(tokens, ids, gen)

    return run


def load_llamacpp(model: str, ids: list[int], gen: int, threads: int):
    from llama_cpp import Llama

    llm = Llama(
        model,
        n_ctx=len(ids) + gen + 8,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=512,
        use_mmap=False,
        flash_attn=True,  # llama.cpp's own default is auto, which turns it on for a CPU
        verbose=False,
    )

    def run() -> dict:
        llm.reset()  # forget the cached prompt: llama-cpp-python would otherwise reuse the prefix
        return _timed(lambda: llm.generate(ids, top_k=1, temp=0.0, reset=True), ids, gen)

    return run


ENGINES = {
    "edgeqwen": load_edgeqwen,
    "edgeqwen-llamacpp": load_edgeqwen_llamacpp,
    "edgeqwen-llamacpp-json": load_edgeqwen_llamacpp_json,
    "ortgenai": load_ortgenai,
    "llamacpp": load_llamacpp,
}
ON_GGUF = ("edgeqwen-llamacpp", "edgeqwen-llamacpp-json", "llamacpp")


def child(engine: str, model: str, prompt: int, gen: int, runs: int, threads: int) -> dict:
    ids = prompt_ids(prompt)
    start = time.perf_counter()
    run = ENGINES[engine](model, ids, gen, threads)  # load once
    load = time.perf_counter() - start
    results = [run() for _ in range(runs + 1)][1:]  # one warm-up
    out = {k: statistics.median(r[k] for r in results) for k in ("prefill_tps", "decode_tps", "ttft_s")}
    out.update({f"{k}_all": [r[k] for r in results] for k in ("prefill_tps", "decode_tps")})
    out["load_s"] = load
    out["peak_rss"] = peak_rss()
    return out


def model_bytes(path: Path) -> int:
    if path.is_dir():
        from edgeqwen.model import read_model_info

        return read_model_info(path).weights_bytes
    return path.stat().st_size


def ratios(rows: list[dict]) -> list[str]:
    """Each edgeqwen engine against each peer on comparable files, from the medians of this run:
    ONNX engines against each other and against every GGUF; the llama.cpp ones on the same GGUF."""
    lines = []
    for r in (r for r in rows if r["engine"].startswith("edgeqwen")):
        for peer in (p for p in rows if not p["engine"].startswith("edgeqwen")):
            same_file = peer["model"] == r["model"]
            if r["engine"] in ON_GGUF and not same_file:
                continue
            if r["engine"] == "edgeqwen" and peer["engine"] == "ortgenai" and not same_file:
                continue
            lines.append(
                f"- {r['engine']} {r['model']} / {peer['engine']} {peer['model']}: decode "
                f"{r['decode_tps'] / peer['decode_tps']:.2f}x, prefill {r['prefill_tps'] / peer['prefill_tps']:.2f}x, "
                f"peak RSS {r['peak_rss'] / peer['peak_rss']:.2f}x"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, action="append", default=[], help="an int4 ONNX folder (repeatable)")
    parser.add_argument("--gguf", type=Path, action="append", default=[])
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="0: edgeqwen-llamacpp picks")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--rounds", type=int, default=3, help="run the engine list this many times, interleaved")
    parser.add_argument("--busy", type=int, default=0, help="keep N other processes spinning (contention)")
    parser.add_argument("--noise", type=float, default=0.05, help="discard a job when others used this CPU share")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.prompt, args.gen, args.runs, args.threads)))
        return
    if not args.onnx and not args.gguf:
        parser.error("give --onnx and/or --gguf")
    from edgeqwen.probe.bandwidth import measure_bandwidth

    print(machine_line(), flush=True)

    bandwidth = statistics.median(measure_bandwidth() for _ in range(5))
    jobs = []
    wanted = args.engines.split(",")
    for folder in args.onnx:
        for engine in ("edgeqwen", "ortgenai"):
            if engine in wanted:
                jobs.append((engine, folder.name, folder))
    for gguf in args.gguf:
        jobs += [(engine, gguf.name, gguf) for engine in ON_GGUF if engine in wanted]
    per_job: dict[int, list[dict]] = {i: [] for i in range(len(jobs))}
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)
    ]  # the contention run: a neighbour keeping cores busy
    discarded = []
    try:
        for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits every engine alike
            for i, (engine, label, path) in enumerate(jobs):
                r = run_job(args, engine, path)
                if r is None:
                    continue
                if r["others_share"] > args.noise + args.busy / (os.cpu_count() or 1):
                    discarded.append(f"{engine} {label}: other processes used {r['others_share']:.0%} of the CPU")
                    print(f"discarded ({discarded[-1]})", flush=True)
                    continue
                per_job[i].append(r)
                print(
                    f"{engine:<23} {label:<42} prefill {r['prefill_tps']:7.1f}  decode {r['decode_tps']:6.2f} tok/s  "
                    f"peak RSS {r['peak_rss'] / 2**20:6.0f} MiB",
                    flush=True,
                )
    finally:
        for p in spinners:
            p.kill()
    report(args, jobs, per_job, bandwidth, discarded)


def run_job(args, engine: str, path: Path) -> dict | None:
    """One engine in its own process; how much of the CPU others used meanwhile."""
    import resource

    from edgeqwen.backends.threads import busy_seconds

    cmd = [sys.executable, __file__, "--child", engine, str(path), "--prompt", str(args.prompt), "--gen",
           str(args.gen), "--runs", str(args.runs), "--threads", str(args.threads)]  # fmt: skip
    before_all, before_own = busy_seconds() or 0.0, resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after_own = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine = (busy_seconds() or 0.0) - before_all
    own = (after_own.ru_utime + after_own.ru_stime) - (before_own.ru_utime + before_own.ru_stime)
    if proc.returncode != 0:
        print(f"{engine} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["others_share"] = max(0.0, machine - own) / (wall * (os.cpu_count() or 1))
    return r


def report(args, jobs, per_job, bandwidth: float, discarded: list[str]) -> None:
    rows = []
    for i, (engine, label, path) in enumerate(jobs):
        runs = per_job[i]
        if not runs:
            continue
        r = {k: statistics.median(x[k] for x in runs) for k in ("prefill_tps", "decode_tps", "ttft_s", "load_s")}
        r["peak_rss"] = max(x["peak_rss"] for x in runs)
        r["decode_all"] = [v for x in runs for v in x["decode_tps_all"]]
        r["prefill_all"] = [v for x in runs for v in x["prefill_tps_all"]]
        size = model_bytes(path)
        r.update(engine=engine, model=label, model_bytes=size, limit_tps=bandwidth * 1e9 / size)
        rows.append(r)
    args.out.mkdir(parents=True, exist_ok=True)
    table = [
        f"Machine: {cpu_line()}; {os.cpu_count()} logical cores, threads {args.threads}; measured copy bandwidth "
        f"{bandwidth:.1f} GB/s. Prompt {args.prompt} tokens, {args.gen} generated, greedy; each engine loaded "
        f"{args.rounds} times, interleaved, {args.runs} runs after a warm-up each; medians"
        + (f"; {args.busy} other process(es) spinning throughout" if args.busy else "")
        + f". Jobs discarded for other CPU use: {len(discarded)}.",
        "",
        "| engine | model file(s) | size MiB | prefill tok/s | decode tok/s | decode limit tok/s | "
        "share of limit | TTFT s | load s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        table.append(
            f"| {r['engine']} | {r['model']} | {r['model_bytes'] / 2**20:.0f} | {r['prefill_tps']:.1f} | "
            f"{r['decode_tps']:.2f} | {r['limit_tps']:.1f} | {r['decode_tps'] / r['limit_tps']:.0%} | "
            f"{r['ttft_s']:.2f} | {r['load_s']:.2f} | {r['peak_rss'] / 2**20:.0f} |"
        )
    table += ["", *ratios(rows), *(["", "Discarded:", *(f"- {d}" for d in discarded)] if discarded else [])]
    (args.out / "peers.md").write_text("\n".join(table) + "\n")
    (args.out / "peers.json").write_text(json.dumps({"bandwidth_gbps": bandwidth, "rows": rows}, indent=1))
    print("\n".join(table))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return
    labels = [f"{r['engine']}\n{r['model'][:28]}" for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5))
    for ax, key, title in zip(
        axes,
        ("prefill_tps", "decode_tps", "peak_rss"),
        ("prefill tokens/s", "decode tokens/s", "peak RSS (MiB)"),
        strict=True,
    ):
        values = [r[key] / (2**20 if key == "peak_rss" else 1) for r in rows]
        colors = {"edgeqwen": "#4C72B0", "edgeqwen-llamacpp": "#8172B3", "edgeqwen-llamacpp-json": "#937860",
                  "ortgenai": "#DD8452", "llamacpp": "#55A868"}  # fmt: skip
        ax.bar(range(len(rows)), values, color=[colors.get(r["engine"], "#C44E52") for r in rows])
        ax.set_xticks(range(len(rows)), labels, fontsize=7)
        ax.set_title(title)
        if key == "decode_tps":
            for i, r in enumerate(rows):
                ax.plot([i - 0.4, i + 0.4], [r["limit_tps"]] * 2, "k--", lw=1)
    fig.suptitle(
        f"{', '.join(f.name for f in [*args.onnx, *args.gguf])}: {args.prompt}-token prompt, {args.gen} generated, "
        f"{args.threads} threads (dashed: bandwidth limit)"
    )
    fig.tight_layout()
    fig.savefig(args.out / "peers.png", dpi=110)


if __name__ == "__main__":
    main()
