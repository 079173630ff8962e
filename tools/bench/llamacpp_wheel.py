"""A prebuilt llama.cpp wheel against the native build, decode speed on one GGUF, interleaved.

    python tools/bench/llamacpp_wheel.py MODEL.gguf --other-python /tmp/pysync/bin/python [--rounds 3]

The native build is llama-cpp-python (compiled here with -march=native by tools/setup.sh), in this
interpreter; the prebuilt one is ``llama-cpp-py-sync`` (a PyPI wheel that ships libllama), installed
in another virtualenv (``--other-python``). Each round runs both, one after the other, in their own
processes: a 512-token prompt then 64 greedy tokens, decode tokens/s from the stream's timestamps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

PROMPT = " ".join(f"word{i} is number {i}." for i in range(90))  # ~512 tokens of plain text
CHILD = """
import json, sys, time
path, threads, which = sys.argv[1], int(sys.argv[2]), sys.argv[3]
prompt = sys.argv[4]
stamps = []
if which == "native":
    from llama_cpp import Llama
    llm = Llama(path, n_ctx=1024, n_threads=threads, n_threads_batch=threads, use_mmap=False, flash_attn=True,
                verbose=False)
    ids = llm.tokenize(prompt.encode(), add_bos=False)
    for _ in range(2):
        llm.reset(); stamps = []
        for i, _t in enumerate(llm.generate(ids, top_k=1, temp=0.0, reset=True)):
            stamps.append(time.perf_counter())
            if i == 63: break
else:
    from llama_cpp_py_sync import Llama
    llm = Llama(path, n_ctx=1024, n_threads=threads, n_threads_batch=threads, use_mmap=False, flash_attn_type=1)
    for _ in range(2):
        stamps = []
        for _t in llm.generate(prompt, max_tokens=64, temperature=0.0, top_k=1, repeat_penalty=1.0, stream=True):
            stamps.append(time.perf_counter())
print(json.dumps({"decode_tps": (len(stamps) - 1) / (stamps[-1] - stamps[0]), "tokens": len(stamps)}))
"""


def run(python: str, path: Path, threads: int, which: str) -> dict:
    out = subprocess.run(
        [python, "-c", CHILD, str(path), str(threads), which, PROMPT], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--other-python", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    native, wheel = [], []
    for _ in range(args.rounds):
        native.append(run(sys.executable, args.model, args.threads, "native")["decode_tps"])
        wheel.append(run(args.other_python, args.model, args.threads, "wheel")["decode_tps"])
        print(f"native {native[-1]:.2f}  prebuilt {wheel[-1]:.2f} tok/s", flush=True)
    n, w = statistics.median(native), statistics.median(wheel)
    print(f"median: native {n:.2f}, prebuilt {w:.2f} tok/s; prebuilt / native = {w / n:.3f}")


if __name__ == "__main__":
    main()
