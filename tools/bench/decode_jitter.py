"""Decode speed run after run inside one process, and where a slow run loses its time.

    python tools/bench/decode_jitter.py MODEL [--backend onnx|llamacpp] [--runs 8] [--prompt 64] [--gen 96]

Every step of every run is timed (``generate_step``: forward + sampling), so a slow run shows
whether all its steps are slower (the machine, the thread pool) or a few are (page faults, a
periodic release of weight pages, a garbage collection). Prints per run: decode tok/s, median and
p95 step in ms, and the steps over twice the median.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from edgeqwen.backends import load_backend
    from edgeqwen.runtime.loop import generate_step
    from edgeqwen.runtime.sampling import make_sampler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--gen", type=int, default=96)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    backend = load_backend(args.backend, args.model, context_length=args.prompt + args.gen + 8, threads=args.threads)
    ids = np.random.default_rng(0).integers(100, 150_000, args.prompt).tolist()
    sampler = make_sampler(0.0, 1.0, 0, 0.0, None)
    rates = []
    for run in range(args.runs):
        backend.model.reset()
        steps, last = [], None
        for _token, _logits in generate_step(backend.model, ids, sampler, max_tokens=args.gen):
            now = time.perf_counter()
            if last is not None:
                steps.append(now - last)
            last = now
        ms = np.array(steps) * 1000
        med = float(np.median(ms))
        slow = [(i, round(float(v), 1)) for i, v in enumerate(ms) if v > 2 * med]
        rates.append(len(steps) / ms.sum() * 1000)
        print(
            f"run {run}: {rates[-1]:6.2f} tok/s  step median {med:6.2f} ms  p95 {np.percentile(ms, 95):6.2f} ms  "
            f"steps > 2x median: {slow[:8]}{' ...' if len(slow) > 8 else ''}",
            flush=True,
        )
    print(f"{backend.name}: median {statistics.median(rates):.2f} tok/s, min {min(rates):.2f}, max {max(rates):.2f}")


if __name__ == "__main__":
    main()
