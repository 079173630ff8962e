"""Counters behind ``/metrics``, in Prometheus' text format (and as a dict for ``?format=json``)."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from ..types import Metrics, Reply

__all__ = ["ServerMetrics"]

_INTERVENTIONS = ("refuse", "redact", "stop")  # warn / flag / allow leave the answer as it is


class ServerMetrics:
    """What the server has done since it started. Updated from the event loop (responses) and
    from the generation thread (replies), so every update takes a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: Counter[str] = Counter()  # HTTP status of chat-completion requests
        self.finish: Counter[str] = Counter()
        self.safety: Counter[tuple[str, str]] = Counter()  # (action, category)
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.completion_tokens = 0
        self.ttft_s = 0.0
        self.prefill_s = 0.0
        self.prefill_tokens = 0
        self.decode_s = 0.0
        self.decode_steps = 0
        self.replies = 0
        self.last_decode_tps = 0.0
        self.last_ttft_s = 0.0
        self.last: Metrics | None = None  # the last reply's (KoboldCpp's /api/extra/perf reports it)
        self._answer_s: deque[float] = deque(maxlen=8)  # the model's time on each of the last answers
        self.started = time.monotonic()
        # the models served beside the chat model, by kind ("embedding", "rerank"): texts or
        # documents read, and their tokens
        self.side_items: Counter[str] = Counter()
        self.side_tokens: Counter[str] = Counter()

    def record_status(self, status: int) -> None:
        with self._lock:
            self.responses[str(status)] += 1

    def record_side(self, kind: str, items: int, tokens: int) -> None:
        """A side model's finished request: ``items`` texts embedded or documents scored."""
        with self._lock:
            self.side_items[kind] += items
            self.side_tokens[kind] += tokens

    def record_reply(self, reply: Reply) -> None:
        m = reply.metrics
        with self._lock:
            self.replies += 1
            self.last = m
            self._answer_s.append(m.ttft_s + m.decode_s)
            self.finish[str(reply.finish_reason)] += 1
            self.prompt_tokens += m.prompt_tokens
            self.cached_tokens += m.cached_tokens
            self.completion_tokens += m.generated_tokens
            if m.ttft_s > 0:
                self.ttft_s += m.ttft_s
                self.last_ttft_s = m.ttft_s
            self.prefill_s += m.prefill_s
            self.prefill_tokens += m.prefill_tokens
            if m.decode_s > 0 and m.generated_tokens > 1:
                self.decode_s += m.decode_s
                self.decode_steps += m.generated_tokens - 1
                self.last_decode_tps = m.decode_tps
            for event in reply.safety_events:
                self.safety[(str(getattr(event, "action", "")), str(getattr(event, "category", "")))] += 1

    def answer_seconds(self) -> float | None:
        """The mean time the model took over its last answers (None before the first): how long
        the line takes to move by one place, which a 429 tells its client to wait."""
        with self._lock:
            return sum(self._answer_s) / len(self._answer_s) if self._answer_s else None

    def as_dict(self, waiting: int = 0, busy: bool = False) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.responses),
                "finish_reasons": dict(self.finish),
                "replies": self.replies,
                "prompt_tokens": self.prompt_tokens,
                "cached_prompt_tokens": self.cached_tokens,
                "completion_tokens": self.completion_tokens,
                "mean_ttft_s": self.ttft_s / self.replies if self.replies else 0.0,
                "last_ttft_s": self.last_ttft_s,
                "prefill_tokens_per_s": self.prefill_tokens / self.prefill_s if self.prefill_s else 0.0,
                "decode_tokens_per_s": self.decode_steps / self.decode_s if self.decode_s else 0.0,
                "last_decode_tokens_per_s": self.last_decode_tps,
                "safety_interventions": sum(n for (a, _), n in self.safety.items() if a in _INTERVENTIONS),
                "safety_events": [
                    {"action": a, "category": c, "count": n} for (a, c), n in sorted(self.safety.items())
                ],
                "queue_waiting": waiting,
                "generating": int(busy),
                "side_items": dict(self.side_items),
                "side_tokens": dict(self.side_tokens),
            }

    def prometheus(self, waiting: int = 0, busy: bool = False) -> str:
        d = self.as_dict(waiting, busy)
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.extend([f"# HELP edgeqwen_{name} {help_}", f"# TYPE edgeqwen_{name} {kind}"])
            lines.extend(f"edgeqwen_{name}{labels} {value:g}" for labels, value in samples)

        def labelled(key: str, counts: dict[str, int]) -> list[tuple[str, float]]:
            return [(f'{{{key}="{k}"}}', v) for k, v in sorted(counts.items())]

        metric(
            "requests_total", "counter", "Chat completion requests by HTTP status.", labelled("status", d["requests"])
        )
        metric(
            "replies_total", "counter", "Finished answers by finish reason.", labelled("reason", d["finish_reasons"])
        )
        metric("prompt_tokens_total", "counter", "Prompt tokens (cached ones included).", [("", d["prompt_tokens"])])
        metric(
            "cached_prompt_tokens_total",
            "counter",
            "Prompt tokens reused from the KV cache.",
            [("", d["cached_prompt_tokens"])],
        )
        metric("completion_tokens_total", "counter", "Generated tokens.", [("", d["completion_tokens"])])
        metric("ttft_seconds_mean", "gauge", "Mean time to first token.", [("", d["mean_ttft_s"])])
        metric(
            "prefill_tokens_per_second", "gauge", "Prefill speed over all answers.", [("", d["prefill_tokens_per_s"])]
        )
        metric("decode_tokens_per_second", "gauge", "Decode speed over all answers.", [("", d["decode_tokens_per_s"])])
        metric(
            "safety_events_total",
            "counter",
            "Safety-layer events by action and category.",
            [(f'{{action="{e["action"]}",category="{e["category"]}"}}', e["count"]) for e in d["safety_events"]],
        )
        metric(
            "side_items_total",
            "counter",
            "Texts embedded and documents reranked by the models beside the chat model.",
            labelled("kind", d["side_items"]),
        )
        metric("side_tokens_total", "counter", "Tokens those models read.", labelled("kind", d["side_tokens"]))
        metric("queue_waiting", "gauge", "Requests waiting for the model.", [("", waiting)])
        metric("generating", "gauge", "1 while an answer is being generated.", [("", int(busy))])
        return "\n".join(lines) + "\n"
