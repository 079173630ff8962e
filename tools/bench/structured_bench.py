"""Cost of grammar-constrained decoding, and the fast-forward speed-up, on one model folder.

    python tools/bench/structured_bench.py MODEL_DIR [--runs 5] [--tokens 64]

Reports, medians over runs: unconstrained decode ms/token; the grammar's mask cost per token
(compute + apply) and its share of a decode step; constrained decode tokens/s; and the wall time
to a complete invoice JSON with fast-forward on and off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from edgeqwen import GenerationConfig, Message  # noqa: E402
from edgeqwen.backends.onnx import OnnxBackend  # noqa: E402
from edgeqwen.runtime.formats import ResponseFormat  # noqa: E402
from edgeqwen.runtime.loop import stream_generate  # noqa: E402


def prompt_ids(backend: OnnxBackend, text: str) -> list[int]:
    t = backend.template
    return t.encode(backend.tokenizer, t.render([Message("user", text)]))


def run_once(backend, ids, config, processors=(), stops=()):
    chunks = list(stream_generate(backend.model, backend.tokenizer, ids, config, processors, stops))
    return chunks[-1].metrics, "".join(c.text for c in chunks)


def main() -> None:
    from data.schemas import INVOICE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--fast-forward", action="store_true", help="also time a full answer with and without it")
    args = parser.parse_args()
    from peers import machine_line

    from edgeqwen.model import read_model_info

    print(machine_line())

    context = min(4096, read_model_info(args.model).context_length)
    backend = OnnxBackend(args.model, context_length=context, threads=args.threads)
    ids = prompt_ids(backend, "Extract the invoice as JSON: INV-2024, 3 chairs at 45.50 EUR each.")
    engine = backend.grammar_engine
    greedy = GenerationConfig(max_tokens=args.tokens, temperature=0.0)
    fmt = ResponseFormat.of(INVOICE)
    run_once(backend, ids, greedy)  # warm-up
    run_once(backend, ids, greedy, [engine.constraint(replace(fmt, fast_forward=False), len(ids))])
    masks, plain_ms, constrained_ms = [], [], []
    # Interleaved, in pairs that alternate which goes first: a VM that drifts 20% between minutes
    # (docs/performance.md) would otherwise hand its drift to whichever ran second.
    for run in range(args.runs):  # same token budget as unconstrained; the JSON may be cut off
        for constrained in (False, True) if run % 2 == 0 else (True, False):
            c = engine.constraint(replace(fmt, fast_forward=False), len(ids)) if constrained else None
            m, _ = run_once(backend, ids, greedy, [c] if c else [], ())
            (constrained_ms if c else plain_ms).append(m.decode_s / max(1, m.generated_tokens - 1) * 1000)
            masks.extend(c.mask_times if c else [])
    step_ms = statistics.median(plain_ms)
    mask_ms = statistics.median(masks) * 1000
    con_ms = statistics.median(constrained_ms)
    pairs = statistics.median(p / c for p, c in zip(plain_ms, constrained_ms, strict=True))
    print(f"model: {args.model.name}  runs: {args.runs}  tokens: {args.tokens}  threads: {args.threads or 'default'}")
    print(f"unconstrained decode: {step_ms:.2f} ms/token ({1000 / step_ms:.1f} tokens/s)")
    print(f"grammar mask (compute + apply), median: {mask_ms:.3f} ms/token = {mask_ms / step_ms:.1%} of a decode step")
    print(
        f"constrained decode (invoice schema): {con_ms:.2f} ms/token = {step_ms / con_ms:.3f}x unconstrained speed "
        f"(median of the {args.runs} pairs: {pairs:.3f}x; per pair "
        + " ".join(f"{p / c:.3f}" for p, c in zip(plain_ms, constrained_ms, strict=True))
        + ")"
    )
    if not args.fast_forward:
        return
    timings = {}
    for fast in (False, True):
        rows = []
        for _ in range(args.runs):
            c = engine.constraint(replace(fmt, fast_forward=fast), len(ids))
            t0 = time.perf_counter()
            m, text = run_once(
                backend, ids, GenerationConfig(max_tokens=1500, temperature=0.0), [c], backend.stop_token_ids
            )
            rows.append((time.perf_counter() - t0, m.generated_tokens, len(c.mask_times), len(text)))
            json.loads(text)  # complete and valid
        timings[fast] = rows
    for fast in (False, True):
        wall = statistics.median(r[0] for r in timings[fast])
        _, tokens, sampled, chars = timings[fast][0]
        print(
            f"invoice JSON, fast-forward {'on ' if fast else 'off'}: {wall * 1000:.0f} ms, {chars} chars, "
            f"{tokens} tokens of which {sampled} sampled ({chars / wall:.0f} chars/s)"
        )
    off = statistics.median(r[0] for r in timings[False])
    on = statistics.median(r[0] for r in timings[True])
    print(
        f"fast-forward: {off / on:.2f}x less wall time (the forced text is tokenized canonically, so the "
        "two answers can differ)"
    )


if __name__ == "__main__":
    main()
