"""What prompt lookup (``GenerationConfig.prompt_lookup``) costs and saves (llama.cpp, ONNX).

    python tools/bench/lookup_cost.py rows GGUF|ONNX_DIR [--rows 1,2,3,4,5,8,12,16] [--rounds 9] [--prompt-tokens 300]
        [--context N]
    python tools/bench/lookup_cost.py answers [GGUF] [--widths 0,3,6] [--rounds 3] [--max-tokens 160]

``rows``: milliseconds of one pass that checks N tokens (``LlamaCppModel.verify``) after a
prompt (300 tokens), N = 1 being a decode step; speed does not depend on weight values, so a
random-weight model of a catalog model's geometry (``make_geometry_models.py --gguf``) stands for
it. What a guess must win to pay follows: a pass of N rows saves N - 1 decode steps only when all
its guesses are taken.

``answers``: whole greedy answers through ``Assistant`` on a model with real weights (the demo
model when no GGUF is given), one prompt per kind of task (quoting notes, reformatting a text,
writing code, a short question, extracting to JSON under a schema), each width in turn per
round; prints the median milliseconds of each per token written (the answers' lengths can
differ), the guesses taken and made, and whether every width wrote the same answer. Whole
answers, prompt included (the first round is not kept, so the prompt comes from the cache after
it).

Prints the CPU, its SIMD flags and the load average first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from peers import machine_line, taking_turns  # noqa: E402

NOTES = (ROOT / "docs" / "raspberry-pi.md").read_text()[:2400]
PROMPTS = {
    "quote notes": f"Here are my notes:\n{NOTES}\n\nRepeat the notes' second paragraph word for word.",
    "reformat": f"Rewrite this text as a bulleted list of its sentences:\n{NOTES[:900]}",
    "code": "Write a Python function that adds two numbers, then the same function again with type hints "
    "and a docstring.",
    "short question": "What is the capital of France?",
    "extract to JSON": f"From these notes, give the title of their first section and its first sentence, "
    f"word for word:\n{NOTES[:1200]}",
}
# Tasks answered under a response_format, fast-forwarding what the grammar forces
SCHEMAS = {
    "extract to JSON": {
        "type": "object",
        "properties": {"title": {"type": "string"}, "first_sentence": {"type": "string"}},
        "required": ["title", "first_sentence"],
    }
}


def rows(args: argparse.Namespace) -> None:
    window = args.context or args.prompt_tokens + 64
    if args.gguf.is_dir():  # an int4 ONNX folder (make_geometry_models.py without --no-onnx)
        from edgeqwen.backends.onnx import OnnxBackend

        model = OnnxBackend(args.gguf, context_length=window, threads=args.threads).model
    else:
        from edgeqwen.backends.llamacpp import LlamaCppModel, gguf_info

        model = LlamaCppModel(gguf_info(args.gguf), window, threads=args.threads)
    prompt = np.random.default_rng(0).integers(100, 20_000, args.prompt_tokens).tolist()
    model.prefill(prompt)
    sizes = [int(n) for n in args.rows.split(",")]

    def check(n: int) -> float:
        start = time.perf_counter()
        model.verify(prompt[:n])
        spent = time.perf_counter() - start
        model.rewind(len(prompt))
        return spent * 1000

    times = taking_turns({str(n): n for n in sizes}, check, args.rounds)
    one = statistics.median(times[str(sizes[0])])
    print(
        f"{args.gguf.name}, {args.threads} threads, after {len(prompt)} prompt tokens, median of {args.rounds} rounds"
    )
    print("| tokens checked in one pass | ms | x a decode step | guesses it must get right to pay |")
    print("|---:|---:|---:|---:|")
    for n in sizes:
        ms = statistics.median(times[str(n)])
        # a pass of n rows writes 1 + (guesses taken) tokens; decoding them one by one costs that many steps
        need = max(0.0, ms / one - 1)
        print(f"| {n} | {ms:.1f} | {ms / one:.2f} | {need:.2f} of {n - 1} |")


def answers(args: argparse.Namespace) -> None:
    from edgeqwen import Assistant

    bot = Assistant(str(args.gguf) if args.gguf else None, policy="none", threads=args.threads)
    widths = [int(w) for w in args.widths.split(",")]
    print(f"{bot.backend.info.name}, greedy, {args.max_tokens} tokens at most, median of {args.rounds} rounds")
    print(
        "| task | "
        + " | ".join(f"width {w}: ms a token (taken / guessed of written)" for w in widths)
        + " | same answer |"
    )
    print("|---|" + "---:|" * len(widths) + "---|")
    for task, prompt in PROMPTS.items():
        said: dict[int, tuple[str, int, int, int]] = {}

        schema = SCHEMAS.get(task)

        def answer(width: int, prompt: str = prompt, said: dict = said, schema: dict | None = schema) -> float:
            bot.reset()
            start = time.perf_counter()
            fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}} if schema else None
            reply = bot.chat(
                prompt, max_tokens=args.max_tokens, temperature=0.0, prompt_lookup=width, response_format=fmt
            )
            spent = time.perf_counter() - start
            m = reply.metrics
            said[width] = (reply.text, m.accepted_tokens, m.drafted_tokens, m.generated_tokens)
            return spent * 1000 / m.generated_tokens

        times = taking_turns({str(w): w for w in widths}, answer, args.rounds)
        cells = [
            f"{statistics.median(times[str(w)]):.1f} ({said[w][1]} / {said[w][2]} of {said[w][3]})"
            + (f", x{statistics.median(times[str(widths[0])]) / statistics.median(times[str(w)]):.2f}" if w else "")
            for w in widths
        ]
        same = len({text for text, *_ in said.values()}) == 1
        print(f"| {task} | " + " | ".join(cells) + f" | {'yes' if same else 'no'} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("rows")
    r.add_argument("gguf", type=Path)
    r.add_argument("--rows", default="1,2,3,4,5,6,8,12,16")
    r.add_argument("--rounds", type=int, default=9)
    r.add_argument("--prompt-tokens", type=int, default=300, help="tokens in the cache before each pass")
    r.add_argument("--context", type=int, help="the cache's size (default: just the prompt and the pass)")
    a = sub.add_parser("answers")
    a.add_argument("gguf", type=Path, nargs="?")
    a.add_argument("--widths", default="0,3,6")
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--max-tokens", type=int, default=160)
    for p in (r, a):
        p.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print(machine_line())
    rows(args) if args.what == "rows" else answers(args)


if __name__ == "__main__":
    main()
