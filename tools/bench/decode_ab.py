"""Decode speed of edgeqwen against onnxruntime-genai's generator on the same ONNX folder, paired.

On a shared 2-core VM the decode rate drifts by 10-20% over minutes, more than the difference
being measured. ``peers.py`` runs each engine in its own process (its memory is its own); this
script instead loads both into one process and alternates them in blocks of a few tokens, so
both see the same machine at the same moment, and reports the ratio of each round.

    python tools/bench/decode_ab.py MODEL_DIR [--prompt 512] [--gen 64] [--block 8] [--rounds 5]

edgeqwen runs its full loop (``stream_generate``: sampler, stop checks, detokenizer, metrics);
onnxruntime-genai runs ``generate_next_token`` with greedy search. Both use the same threads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--block", type=int, default=8, help="tokens per turn")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.gen % args.block or args.gen < 2 * args.block:
        parser.error("--gen must be a multiple of --block and at least two blocks")

    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime_genai as og

    from edgeqwen import GenerationConfig
    from edgeqwen.backends.onnx import OnnxBackend
    from edgeqwen.runtime.loop import stream_generate

    context = args.prompt + args.gen + 1
    ours = OnnxBackend(args.model, context_length=context, threads=args.threads)
    config = og.Config(args.model)
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": args.threads}}}}))
    theirs = og.Model(config)
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
        spent = {"edgeqwen": 0.0, "ortgenai": 0.0}
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
                    f"round {r}: edgeqwen {tps['edgeqwen']:.2f}  ortgenai {tps['ortgenai']:.2f} tok/s  "
                    f"ratio {rows[-1]['ratio']:.3f}"
                )
    summary = {k: statistics.median(row[k] for row in rows) for k in ("edgeqwen", "ortgenai", "ratio")}
    summary["ratios"] = [round(row["ratio"], 4) for row in rows]
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"median of {args.rounds} rounds: edgeqwen {summary['edgeqwen']:.2f}, "
            f"ortgenai {summary['ortgenai']:.2f} tok/s; paired ratio {summary['ratio']:.3f} "
            f"(min {min(summary['ratios']):.3f}, max {max(summary['ratios']):.3f})"
        )


if __name__ == "__main__":
    main()
