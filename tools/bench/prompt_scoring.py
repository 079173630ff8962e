"""What scoring a prompt (``prompt_logprobs``) costs: the same prompt prefilled from an empty cache
plainly and scored, each position's logits read into a log-softmax and its top alternatives, the
two taking turns on one loaded model. llama.cpp: 512-token batches plainly, 128-token steps with
every position's logits out when scored; ONNX: 64-token steps plainly, a token a step when scored
(its graph outputs the last position only).

    python tools/bench/prompt_scoring.py MODEL [--backend llamacpp|onnx] [--tokens 512] [--rounds 5] [--top 1]

Prints the CPU, its SIMD flags and the load average, each setting's prompt tokens/s per round and
their medians, and the scored setting's ratio to the plain one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

import numpy as np  # noqa: E402
from peers import machine_line, print_medians, taking_turns  # noqa: E402

from edgeqwen.backends import load_backend  # noqa: E402
from edgeqwen.generation_config import GenerationConfig  # noqa: E402
from edgeqwen.runtime.loop import stream_generate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a GGUF file or an ONNX model folder")
    parser.add_argument("--backend", default="llamacpp", choices=("llamacpp", "onnx"))
    parser.add_argument("--tokens", type=int, default=512, help="prompt length")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top", type=int, default=1, help="alternatives per prompt token")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    print(machine_line(), flush=True)
    backend = load_backend(args.backend, args.model, context_length=args.tokens + 16, threads=args.threads)
    rng = np.random.default_rng(0)
    ids = [int(t) for t in rng.integers(0, backend.tokenizer.vocab_size - 300, size=args.tokens)]
    settings = {"plain": None, f"scored, top {args.top}": args.top}

    def prompt_tps(top: int | None) -> float:
        backend.model.reset()  # every prompt token computed, both ways
        config = GenerationConfig(max_tokens=1, prompt_logprobs=top)
        metrics = list(stream_generate(backend.model, backend.tokenizer, ids, config))[-1].metrics
        return metrics.prefill_tokens / metrics.prefill_s

    print_medians(taking_turns(settings, prompt_tps, args.rounds), "prompt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
