"""``edgeqwen bench``: prefill and decode speed, time to first token, load time and peak memory
of one model on this machine, as medians over repeated runs."""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidRequestError

__all__ = ["BenchResult", "Spread", "peak_rss_bytes", "run_bench"]


@dataclass(frozen=True)
class Spread:
    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


@dataclass(frozen=True)
class BenchResult:
    model: str
    threads: int
    prompt_tokens: int
    gen_tokens: int
    runs: int
    load_s: float
    prefill_tps: Spread
    decode_tps: Spread
    ttft_s: Spread
    peak_rss_bytes: int
    model_bytes: int
    kv_cache_bytes: int

    @property
    def memory_ratio(self) -> float:
        """Peak RSS over what the model must hold: its files on disk plus the whole KV cache."""
        return self.peak_rss_bytes / (self.model_bytes + self.kv_cache_bytes)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "memory_ratio": self.memory_ratio}


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run_bench(
    model: str | Path | None,
    prompt_tokens: int = 128,
    gen_tokens: int = 64,
    runs: int = 3,
    threads: int | None = None,
    context_length: int | None = None,
) -> BenchResult:
    """Prefill a fixed random prompt of ``prompt_tokens`` ids, then decode exactly ``gen_tokens``
    greedily (stop tokens ignored); the cache is cleared between runs so every run prefills all."""
    from .backends.onnx import OnnxBackend, default_threads
    from .hub import resolve_model
    from .runtime.loop import stream_generate
    from .types import GenerationConfig

    if prompt_tokens < 1 or gen_tokens < 2 or runs < 1:
        raise InvalidRequestError("bench needs prompt_tokens >= 1, gen_tokens >= 2 and runs >= 1.")
    path = resolve_model(model)
    start = time.perf_counter()
    backend = OnnxBackend(path, context_length=context_length or prompt_tokens + gen_tokens + 1, threads=threads)
    load_s = time.perf_counter() - start
    if prompt_tokens + gen_tokens > backend.context_length:
        raise InvalidRequestError(
            f"prompt_tokens + gen_tokens = {prompt_tokens + gen_tokens} exceed the context ({backend.context_length})."
        )
    rng = np.random.default_rng(0)
    ids = rng.integers(100, min(backend.tokenizer.vocab_size, backend.info.vocab_size) - 1000, prompt_tokens).tolist()
    config = GenerationConfig(max_tokens=gen_tokens, temperature=0.0)
    prefill, decode, ttft = [], [], []
    for i in range(runs + 1):  # the first run warms up
        backend.model.reset()
        metrics = list(stream_generate(backend.model, backend.tokenizer, ids, config))[-1].metrics
        if i:
            prefill.append(metrics.prefill_tps)
            decode.append(metrics.decode_tps)
            ttft.append(metrics.ttft_s)
    info = backend.info
    return BenchResult(
        model=info.name,
        threads=threads or default_threads(),
        prompt_tokens=prompt_tokens,
        gen_tokens=gen_tokens,
        runs=runs,
        load_s=load_s,
        prefill_tps=Spread.of(prefill),
        decode_tps=Spread.of(decode),
        ttft_s=Spread.of(ttft),
        peak_rss_bytes=peak_rss_bytes(),
        model_bytes=info.weights_bytes,
        kv_cache_bytes=backend.model.kv_cache_bytes,
    )
