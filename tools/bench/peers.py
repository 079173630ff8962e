"""edgeqwen vs onnxruntime-genai's own generator vs llama.cpp, same geometry, same machine, same threads.

    python tools/bench/peers.py --onnx DIR --gguf Q4_0.gguf [--gguf Q4_K_M.gguf] \\
        [--prompt 512] [--gen 64] [--runs 3] [--threads N] [--out docs/bench]

Each engine runs in its own process (so peak RSS is its own), on the same random prompt ids,
greedy, ignoring stop tokens: one warm-up, then ``--runs`` measured runs; medians reported.
Writes a markdown table and a PNG plot, plus the machine's measured memory bandwidth and the
decode limit it implies (bandwidth / bytes of weights read per token). Peers (onnxruntime-genai,
llama-cpp-python) are dev-only: `pip install 'edgeqwen[dev]' llama-cpp-python`.
Build the models with tools/bench/make_geometry_models.py and llama.cpp's convert_hf_to_gguf.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def prompt_ids(n: int) -> list[int]:
    return np.random.default_rng(0).integers(100, 150_000, n).tolist()


def peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_edgeqwen(model: str, ids: list[int], gen: int, threads: int):
    from edgeqwen import GenerationConfig
    from edgeqwen.backends.onnx import OnnxBackend
    from edgeqwen.runtime.loop import stream_generate

    backend = OnnxBackend(model, context_length=len(ids) + gen + 1, threads=threads)

    def run() -> dict:
        backend.model.reset()  # no prefix reuse between runs
        m = list(stream_generate(backend.model, backend.tokenizer, ids, GenerationConfig(max_tokens=gen)))[-1].metrics
        return {"prefill_tps": m.prefill_tps, "decode_tps": m.decode_tps, "ttft_s": m.ttft_s}

    return run


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
        start = time.perf_counter()
        g.append_tokens(np.array(ids, dtype=np.int32))
        g.generate_next_token()
        first = time.perf_counter()
        for _ in range(gen - 1):
            g.generate_next_token()
        end = time.perf_counter()
        return {
            "prefill_tps": len(ids) / (first - start),
            "decode_tps": (gen - 1) / (end - first),
            "ttft_s": first - start,
        }

    return run


def load_llamacpp(model: str, ids: list[int], gen: int, threads: int):
    from llama_cpp import Llama

    llm = Llama(model, n_ctx=len(ids) + gen + 8, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)

    def run() -> dict:
        llm.reset()  # forget the cached prompt: llama-cpp-python would otherwise reuse the prefix
        start = time.perf_counter()
        first = end = start
        for i, _token in enumerate(llm.generate(ids, top_k=1, temp=0.0, reset=True)):
            if i == 0:
                first = time.perf_counter()
            if i == gen - 1:
                end = time.perf_counter()
                break
        return {
            "prefill_tps": len(ids) / (first - start),
            "decode_tps": (gen - 1) / (end - first),
            "ttft_s": first - start,
        }

    return run


ENGINES = {"edgeqwen": load_edgeqwen, "ortgenai": load_ortgenai, "llamacpp": load_llamacpp}


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
    """edgeqwen against each peer, from the medians of this run."""
    ours = [r for r in rows if r["engine"] == "edgeqwen"]
    lines = []
    for r in ours:
        for peer in rows:
            if peer["engine"] == "edgeqwen" or (peer["engine"] == "ortgenai" and peer["model"] != r["model"]):
                continue
            lines.append(
                f"- edgeqwen {r['model']} / {peer['engine']} {peer['model']}: decode "
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
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--engines", default="edgeqwen,ortgenai,llamacpp")
    parser.add_argument("--rounds", type=int, default=2, help="run the engine list this many times, interleaved")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.prompt, args.gen, args.runs, args.threads)))
        return
    if not args.onnx:
        parser.error("--onnx is required")
    from edgeqwen.probe.bandwidth import measure_bandwidth

    bandwidth = statistics.median(measure_bandwidth() for _ in range(5))
    jobs = []
    wanted = args.engines.split(",")
    for folder in args.onnx:
        for engine in ("edgeqwen", "ortgenai"):
            if engine in wanted:
                jobs.append((engine, folder.name, folder))
    if "llamacpp" in wanted:
        jobs += [("llamacpp", g.name, g) for g in args.gguf]
    per_job: dict[int, list[dict]] = {i: [] for i in range(len(jobs))}
    for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits every engine alike
        for i, (engine, label, path) in enumerate(jobs):
            cmd = [
                sys.executable,
                __file__,
                "--child",
                engine,
                str(path),
                "--prompt",
                str(args.prompt),
                "--gen",
                str(args.gen),
                "--runs",
                str(args.runs),
                "--threads",
                str(args.threads),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"{engine} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            per_job[i].append(r)
            print(
                f"{engine:<9} {label:<40} prefill {r['prefill_tps']:7.1f}  decode {r['decode_tps']:6.2f} tok/s  "
                f"peak RSS {r['peak_rss'] / 2**20:6.0f} MiB",
                flush=True,
            )
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
        f"Machine: {os.cpu_count()} logical cores, threads {args.threads}; measured copy bandwidth "
        f"{bandwidth:.1f} GB/s. Prompt {args.prompt} tokens, {args.gen} generated, greedy; each engine loaded "
        f"{args.rounds} times, interleaved, {args.runs} runs after a warm-up each; medians.",
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
    table += ["", *ratios(rows)]
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
        colors = {"edgeqwen": "#4C72B0", "ortgenai": "#DD8452", "llamacpp": "#55A868"}
        ax.bar(range(len(rows)), values, color=[colors.get(r["engine"], "#C44E52") for r in rows])
        ax.set_xticks(range(len(rows)), labels, fontsize=7)
        ax.set_title(title)
        if key == "decode_tps":
            for i, r in enumerate(rows):
                ax.plot([i - 0.4, i + 0.4], [r["limit_tps"]] * 2, "k--", lw=1)
    fig.suptitle(
        f"{', '.join(f.name for f in args.onnx)}: {args.prompt}-token prompt, {args.gen} generated, "
        f"{args.threads} threads (dashed: bandwidth limit)"
    )
    fig.tight_layout()
    fig.savefig(args.out / "peers.png", dpi=110)


if __name__ == "__main__":
    main()
