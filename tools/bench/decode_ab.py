"""Decode speed of edgeqwen against onnxruntime-genai's generator on the same ONNX folder, paired.

On a shared 2-core VM the decode rate drifts by 10-20% over minutes, more than the difference
being measured. ``peers.py`` runs each engine in its own process (its memory is its own); this
script instead loads both into one process and alternates them in blocks of a few tokens, so
both see the same machine at the same moment, and reports the ratio of each round.

One bias is left in a single process: the session built first decodes ~3.5% slower than
sessions built after it, whatever the engine (measured with three identical edgeqwen sessions;
the cause is not known). So by default the pairing runs twice, in two child processes, once
with each engine built first, and the headline ratio is the geometric mean of the two orders'
medians, which cancels a multiplicative order bias.

    python tools/bench/decode_ab.py MODEL_DIR [--prompt 512] [--gen 64] [--block 8] [--rounds 5]
                                    [--first both|edgeqwen|ortgenai] [--json]

edgeqwen runs its full loop (``stream_generate``: sampler, stop checks, detokenizer, metrics);
onnxruntime-genai runs ``generate_next_token`` with greedy search. Both use the same threads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ENGINES = ("edgeqwen", "ortgenai")


def paired(args: argparse.Namespace) -> dict:
    """One process, both engines, the one named by ``args.first`` built first."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime_genai as og

    from edgeqwen import GenerationConfig
    from edgeqwen.backends.onnx import OnnxBackend
    from edgeqwen.runtime.loop import stream_generate

    context = args.prompt + args.gen + 1

    def load_ours():
        return OnnxBackend(args.model, context_length=context, threads=args.threads)

    def load_theirs():
        config = og.Config(args.model)
        threads = {"intra_op_num_threads": args.threads}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": threads}}}))
        return og.Model(config)

    if args.first == "edgeqwen":
        ours = load_ours()
        theirs = load_theirs()
    else:
        theirs = load_theirs()
        ours = load_ours()
    ids = np.random.default_rng(0).integers(100, 150_000, args.prompt).tolist()

    def ours_steps():
        ours.model.reset()
        gen = stream_generate(ours.model, ours.tokenizer, ids, GenerationConfig(max_tokens=args.gen + 1))
        next(gen)  # the first token comes out of the prefill
        return gen

    def theirs_steps():
        params = og.GeneratorParams(theirs)
        params.set_search_options(do_sample=False, max_length=context + 1, min_length=context + 1)
        g = og.Generator(theirs, params)
        g.append_tokens(np.array(ids, dtype=np.int32))
        g.generate_next_token()  # the first token comes out of the prefill
        return g

    rows = []
    for r in range(args.rounds + 1):  # round 0 warms up
        a, b = ours_steps(), theirs_steps()
        spent = dict.fromkeys(ENGINES, 0.0)
        for turn in range(args.gen // args.block):
            order = [("edgeqwen", a.__next__), ("ortgenai", b.generate_next_token)]
            for name, step in order if turn % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                for _ in range(args.block):
                    step()
                spent[name] += time.perf_counter() - start
        a.close()
        if r:
            tps = {k: args.gen / v for k, v in spent.items()}
            rows.append({**tps, "ratio": tps["edgeqwen"] / tps["ortgenai"]})
            if not args.json:
                print(
                    f"{args.first} built first, round {r}: edgeqwen {tps['edgeqwen']:.2f}  "
                    f"ortgenai {tps['ortgenai']:.2f} tok/s  ratio {rows[-1]['ratio']:.3f}",
                    flush=True,
                )
    summary = {k: statistics.median(row[k] for row in rows) for k in (*ENGINES, "ratio")}
    summary["ratios"] = [round(row["ratio"], 4) for row in rows]
    return summary


def both_orders(args: argparse.Namespace) -> dict:
    """Run :func:`paired` in one child process per build order and combine them."""
    orders = {}
    for first in ENGINES:
        cmd = [sys.executable, os.path.abspath(__file__), args.model, "--first", first, "--json"]
        for flag in ("prompt", "gen", "block", "rounds", "threads"):
            cmd += [f"--{flag}", str(getattr(args, flag))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"decode_ab: the run with {first} built first failed:\n{proc.stderr[-3000:]}")
        orders[first] = json.loads(proc.stdout.strip().splitlines()[-1])
        if not args.json:
            o = orders[first]
            print(
                f"{first} built first: edgeqwen {o['edgeqwen']:.2f}, ortgenai {o['ortgenai']:.2f} tok/s; "
                f"paired ratio {o['ratio']:.3f} (rounds {o['ratios']})",
                flush=True,
            )
    ratio = math.sqrt(orders["edgeqwen"]["ratio"] * orders["ortgenai"]["ratio"])
    return {"ratio": ratio, "orders": orders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--block", type=int, default=8, help="tokens per turn")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--first", choices=("both", *ENGINES), default="both", help="which engine is built first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.gen % args.block or args.gen < 2 * args.block:
        parser.error("--gen must be a multiple of --block and at least two blocks")

    if args.first == "both":
        summary = both_orders(args)
        if not args.json:
            print(f"geometric mean of the two orders: paired ratio {summary['ratio']:.3f}")
    else:
        summary = paired(args)
        if not args.json:
            print(
                f"median of {args.rounds} rounds: edgeqwen {summary['edgeqwen']:.2f}, "
                f"ortgenai {summary['ortgenai']:.2f} tok/s; paired ratio {summary['ratio']:.3f} "
                f"(min {min(summary['ratios']):.3f}, max {max(summary['ratios']):.3f})"
            )
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
