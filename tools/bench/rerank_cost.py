"""What reranking costs: ``edgeqwen.Reranker`` on a GGUF (Qwen3-Reranker-0.6B, or a random-weight
model of its exact geometry: speed does not depend on weight values), beside llama.cpp's own rank
path on the same file, the engines taking turns.

    python tools/bench/make_geometry_models.py /tmp/geo --model qwen3-reranker-0.6b --gguf --no-onnx
    python tools/bench/rerank_cost.py /tmp/geo/qwen3-reranker-0.6b-random-q8_0.gguf [--lengths 64,256,512]
        [--documents 10] [--rounds 5] [--threads 2]

llama.cpp's path is what ``llama-server --reranking`` runs for each document: a context with rank
pooling (the file's two-row ``cls.output`` head, softmaxed), flash attention, the whole prompt in
one batch, the cache cleared between documents. Its prompt is edgeqwen's token for token, so the
two scores are compared too (they must agree: the same model read two ways). edgeqwen is timed
twice: as it runs (one query's documents share the prompt up to the document, kept apart and put
back) and with that sharing off (each prompt from an empty cache), so the table says what the
sharing buys and what the engine does alone.

Prints the CPU, its SIMD flags and the load average, then per document length the median
milliseconds per document of each, and edgeqwen's speed as a ratio of llama.cpp's from the same run.
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

from edgeqwen import Reranker  # noqa: E402
from edgeqwen.backends.llama_thread import on_llama_thread  # noqa: E402

QUERY = "Which document says how to keep a Raspberry Pi cool while it runs a language model?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gguf", type=Path)
    ap.add_argument("--lengths", default="64,256,512", help="tokens of each document's text")
    ap.add_argument("--documents", type=int, default=10, help="documents a query")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print(machine_line())
    lengths = [int(n) for n in args.lengths.split(",")]
    window = max(lengths) + 256  # the judging prompt and the query around the longest document

    import llama_cpp
    from llama_cpp import llama_cpp as ll

    ours = Reranker(str(args.gguf), context_length=window, threads=args.threads)
    # the peer loads and computes on llama.cpp's one thread, as edgeqwen does (backends/llama_thread.py):
    # two threads computing in one process would each keep an OpenMP team, and both would slow
    peer = on_llama_thread(
        lambda: llama_cpp.Llama(
            str(args.gguf),
            embedding=True,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_RANK,
            n_ctx=window,
            n_batch=window,
            n_ubatch=window,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            flash_attn=True,
            use_mmap=False,
            verbose=False,
        )
    )
    ctx, memory = peer._ctx.ctx, ll.llama_get_memory(peer._ctx.ctx)
    batch = ll.llama_batch_init(window, 0, 1)

    def peer_score(ids: list[int]) -> float:
        ll.llama_memory_clear(memory, True)
        for i, token in enumerate(ids):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = i == len(ids) - 1
        batch.n_tokens = len(ids)
        if on_llama_thread(lambda: ll.llama_decode(ctx, batch)) != 0:
            raise SystemExit("llama_decode failed")
        return float(ll.llama_get_embeddings_seq(ctx, 0)[0])  # P(yes): the softmaxed head's first label

    words = ours.backend.tokenizer.encode((ROOT / "README.md").read_text(encoding="utf-8"))
    for n in lengths:
        docs = [ours.backend.tokenizer.decode(words[i * 97 : i * 97 + n]) for i in range(args.documents)]
        prompts = ours.token_lists(QUERY, docs)
        shared = ours.shared_length(QUERY)
        mine = [next(ours.judge([ids], shared)) for ids in prompts]
        theirs = [peer_score(ids) for ids in prompts]
        agree = max(abs(a - b) for a, b in zip(mine, theirs, strict=True))

        def ms(engine: str, prompts: list[list[int]] = prompts, shared: int = shared) -> float:
            start = time.perf_counter()
            if engine == "edgeqwen":
                list(ours.judge(prompts, shared))
            elif engine == "unshared":
                list(ours.judge(prompts, 0))
            else:
                for ids in prompts:
                    peer_score(ids)
            return (time.perf_counter() - start) * 1e3 / len(prompts)

        engines = {"edgeqwen": "edgeqwen", "edgeqwen, nothing shared": "unshared", "llama.cpp": "llama.cpp"}
        times = taking_turns(engines, ms, args.rounds)
        med = {name: statistics.median(values) for name, values in times.items()}
        tokens = statistics.mean(len(ids) for ids in prompts)
        print(
            f"{n:4d}-token documents ({tokens:.0f} tokens a prompt, {shared} shared): edgeqwen "
            f"{med['edgeqwen']:7.1f} ms/doc, nothing shared {med['edgeqwen, nothing shared']:7.1f}, llama.cpp "
            f"{med['llama.cpp']:7.1f}; edgeqwen's speed x{med['llama.cpp'] / med['edgeqwen']:.2f} of llama.cpp's "
            f"(x{med['llama.cpp'] / med['edgeqwen, nothing shared']:.2f} unshared); scores agree within {agree:.1e}"
        )
    ll.llama_batch_free(batch)
    print(machine_line())


if __name__ == "__main__":
    main()
