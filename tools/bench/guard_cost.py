"""What a guard-model check costs: Qwen3Guard-Gen through our runtime on a model folder (the real
model, or a random-weight model of its exact geometry: speed does not depend on weight values).

    python tools/bench/make_geometry_models.py /tmp/geo --model qwen3guard-gen-0.6b
    python tools/bench/guard_cost.py /tmp/geo/qwen3guard-gen-0.6b-random-int4-b32 [--prompts 12] [--threads 2]

Prints the CPU, its SIMD flags and the load average, then the median latency of prompt
moderation and of response moderation (template + text prefill, and the verdict's few tokens),
with their token counts. A random model's verdicts are arbitrary; the grammar keeps them short.
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

from peers import machine_line  # noqa: E402

from edgeqwen.backends.onnx import OnnxBackend  # noqa: E402
from edgeqwen.safety.guardmodel import GuardModel  # noqa: E402

DATA = ROOT / "tests" / "data" / "safety"
ANSWER = (
    "Here is a short overview. First, check the manufacturer's instructions; then make sure the area is "
    "ventilated, wear gloves, and keep children away. If anything goes wrong, call your local emergency number."
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    print(machine_line())
    backend = OnnxBackend(args.folder, context_length=2048, threads=args.threads)
    guard = GuardModel(backend)
    lines = [ln.strip() for ln in (DATA / "benign.txt").read_text().splitlines() if ln.strip()]
    prompts = lines[: args.prompts]
    guard.moderate(prompts[0])  # warm-up
    # cold: the cache emptied first; warm: the template's head (the same for every check) is reused
    # from the previous check, as it is in an app that checks one prompt after another;
    # alternating: a check of the other kind came just before (guard_stage="both": prompt, answer,
    # prompt, ...), so the head is reused only where the backend kept it apart
    for label, answer in (("prompt moderation", None), ("response moderation", ANSWER)):
        for mode in ("cold", "warm", "alternating"):
            times, tokens, reused, prefill, per_token, generated = [], [], [], [], [], []
            for p in prompts:
                if mode == "cold":
                    backend.model.reset()
                elif mode == "warm":
                    guard.moderate(prompts[0], answer)
                else:
                    guard.moderate(prompts[0], ANSWER if answer is None else None)
                start = time.perf_counter()
                guard.moderate(p, answer)
                times.append(time.perf_counter() - start)
                tokens.append(len(guard.prompt_ids(p, answer)))
                m = guard.last_metrics
                reused.append(m.cached_tokens)
                prefill.append(m.prefill_s)
                generated.append(m.generated_tokens)
                per_token.append(m.decode_s / max(1, m.generated_tokens - 1))
            # a real verdict is short ("Safety: Unsafe\nCategories: Violent" ~ 10 tokens, + "Refusal: No")
            verdict = 10 if answer is None else 14
            typical = statistics.median(prefill) + verdict * statistics.median(per_token)
            print(
                f"{label:<20} {mode:<11}: {len(times)} prompts of {statistics.median(tokens):.0f} tokens "
                f"({statistics.median(reused):.0f} reused): prefill {statistics.median(prefill) * 1e3:.0f} ms, "
                f"decode {statistics.median(per_token) * 1e3:.0f} ms/token; a {verdict}-token verdict "
                f"{typical * 1e3:.0f} ms (this random model wrote {statistics.median(generated):.0f} tokens, "
                f"{statistics.median(times) * 1e3:.0f} ms)"
            )


if __name__ == "__main__":
    main()
