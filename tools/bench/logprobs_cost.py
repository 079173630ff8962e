"""What ``logprobs`` costs in decode: the same greedy answer with them off, with ``logprobs=0`` and
with ``logprobs=K``, whole runs taking turns on one loaded model (one KV cache cannot serve two
answers at once), so each setting meets the machine as the others do.

    python tools/bench/logprobs_cost.py MODEL [--backend llamacpp|onnx] [--gen 48] [--rounds 7] [--top 5]

Prints the CPU, its SIMD flags and the load average, each setting's decode tokens/s per round
and their medians, and each setting's ratio to "off". What a token costs with them: a log-softmax
over the vocabulary and one argmax per alternative (``runtime/sampling.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from peers import machine_line, print_medians, taking_turns  # noqa: E402

from edgeqwen.backends import load_backend  # noqa: E402
from edgeqwen.generation_config import GenerationConfig  # noqa: E402
from edgeqwen.runtime.loop import stream_generate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a GGUF file or an ONNX model folder")
    parser.add_argument("--backend", default="llamacpp", choices=("llamacpp", "onnx"))
    parser.add_argument("--gen", type=int, default=48, help="tokens per answer")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--top", type=int, default=5, help="alternatives per token in the third setting")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    print(machine_line(), flush=True)
    backend = load_backend(args.backend, args.model, context_length=512, threads=args.threads)
    ids = backend.tokenizer.encode("Write a long story about the sea and the ships that sail on it.")
    settings = {"off": None, "logprobs=0": 0, f"logprobs={args.top}": args.top}

    def decode_tps(k: int | None) -> float:
        config = GenerationConfig(max_tokens=args.gen, logprobs=k)
        return list(stream_generate(backend.model, backend.tokenizer, ids, config))[-1].metrics.decode_tps

    print_medians(taking_turns(settings, decode_tps, args.rounds), "decode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
