"""What an embedding costs: ``edgeqwen.Embedder`` on a GGUF (Qwen3-Embedding-0.6B, or a random-weight
model of its exact geometry: speed does not depend on weight values), beside llama.cpp's own
embedding path on the same file (llama-cpp-python's ``Llama(embedding=True)`` with last-token
pooling, flash attention and the whole text in one batch), the two taking turns.

    python tools/bench/make_geometry_models.py /tmp/geo --model qwen3-embedding-0.6b --gguf --no-onnx
    python tools/bench/embedding_cost.py /tmp/geo/qwen3-embedding-0.6b-random-q8_0.gguf [--lengths 32,128,512]
        [--rounds 5] [--threads 2]

Prints the CPU, its SIMD flags and the load average, then per text length the median
milliseconds per text of each, and edgeqwen's speed as a ratio of llama.cpp's from the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from peers import machine_line, taking_turns  # noqa: E402

from edgeqwen import Embedder  # noqa: E402
from edgeqwen.backends.llama_thread import on_llama_thread  # noqa: E402
from edgeqwen.embeddings import END  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gguf", type=Path)
    ap.add_argument("--lengths", default="32,128,512", help="tokens per text, the closing token included")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print(machine_line())
    lengths = [int(n) for n in args.lengths.split(",")]

    from llama_cpp import LLAMA_POOLING_TYPE_LAST, Llama

    ours = Embedder(str(args.gguf), context_length=max(lengths), threads=args.threads)
    # the peer loads and computes on llama.cpp's one thread, as edgeqwen does (backends/llama_thread.py):
    # two threads computing in one process would each keep an OpenMP team, and both would slow
    peer = on_llama_thread(
        lambda: Llama(
            str(args.gguf),
            embedding=True,
            pooling_type=LLAMA_POOLING_TYPE_LAST,
            n_ctx=max(lengths),
            n_batch=max(lengths),
            n_ubatch=max(lengths),
            n_threads=args.threads,
            n_threads_batch=args.threads,
            flash_attn=True,
            use_mmap=False,
            verbose=False,
        )
    )
    words = (ROOT / "README.md").read_text(encoding="utf-8")
    body = ours.backend.tokenizer.encode(words)
    for n in lengths:
        ids = [*body[: n - 1], ours.backend.tokenizer.token_id(END)]
        text = ours.backend.tokenizer.decode(ids[:-1]) + END

        def ms(engine: str, ids: list[int] = ids, text: str = text) -> float:
            start = time.perf_counter()
            if engine == "edgeqwen":
                next(ours.vectors([ids]))
            else:
                on_llama_thread(lambda: peer.embed(text))
            return (time.perf_counter() - start) * 1e3

        times = taking_turns({"edgeqwen": "edgeqwen", "llama.cpp": "llama.cpp"}, ms, args.rounds)
        mine, theirs = statistics.median(times["edgeqwen"]), statistics.median(times["llama.cpp"])
        print(
            f"{n:5d} tokens: edgeqwen {mine:8.1f} ms/text ({n / mine * 1e3:7.0f} tok/s), llama.cpp {theirs:8.1f} "
            f"ms/text; edgeqwen's speed x{theirs / mine:.3f} of llama.cpp's  rounds "
            f"{[round(v) for v in times['edgeqwen']]} / {[round(v) for v in times['llama.cpp']]}"
        )
    print(machine_line())


if __name__ == "__main__":
    main()
