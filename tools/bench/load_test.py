"""Load test for ``edgeqwen serve``: many concurrent OpenAI-style clients against one server on loopback.

Starts the server as a subprocess (the demo model unless --model), warms it up, then runs
``--clients`` concurrent clients until ``--requests`` answers are done or ``--duration`` seconds
pass. A third of the requests stream; ``--drop-rate`` of the streaming ones hang up after the
first tokens (the server must cancel them). A 429 (queue full) is deliberate back-pressure: the
client waits Retry-After and tries again, and it is counted apart from errors.

Reports requests/s, p50/p99 latency (from first send to last byte, retries included), errors,
429s, and the server's RSS after warm-up and after each of ``--rounds`` identical rounds. Memory is
"flat" when the last round grows RSS by at most --rss-tolerance-mib (the first round may still
fill allocator arenas and caches; a leak keeps growing round after round).

    python tools/bench/load_test.py                         # 50 clients, 200 answers, demo model
    python tools/bench/load_test.py --clients 8 --requests 16 --max-tokens 8 --json
Exit status 1 when a request failed with anything but 429, the server died, or RSS grew by
more than --rss-tolerance-mib.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil

MIB = 2**20
PROMPTS = [
    "What is the capital of France?",
    "Name three colours.",
    "Write one sentence about the sea.",
    "What is 2 + 2?",
]
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 40}},
    "required": ["answer"],
    "additionalProperties": False,
}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    dropped: int = 0
    rejected_429: int = 0
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, port: int, max_queue: int, max_tokens: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "edgeqwen.cli",
        "serve",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-queue",
        str(max_queue),
        "--max-tokens",
        str(max_tokens),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}): {proc.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not come up within 300 s")


def body(rng: random.Random, max_tokens: int) -> dict[str, Any]:
    kind = rng.choice(["plain", "stream", "json"])
    out: dict[str, Any] = {
        "model": "edgeqwen",
        "messages": [{"role": "user", "content": rng.choice(PROMPTS)}],
        "max_tokens": max_tokens,
        "temperature": 0.7,
        "seed": rng.randrange(1 << 30),
    }
    if kind == "stream":
        out["stream"] = True
    elif kind == "json":
        out["response_format"] = {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}
    return out


async def one_request(http: httpx.AsyncClient, url: str, req: dict[str, Any], drop: bool, tally: Tally) -> bool:
    """One answer, retrying after 429s. True when it counts toward --requests."""
    started = time.perf_counter()
    while True:
        if req.get("stream"):
            async with http.stream("POST", url, json=req) as r:
                if r.status_code == 200:
                    seen = 0
                    async for line in r.aiter_lines():
                        if line.startswith("data: ") and line != "data: [DONE]":
                            if '"error"' in line[:20]:
                                tally.errors.append(f"stream error: {line[:200]}")
                                return True
                            seen += 1
                            if drop and seen == 3:
                                tally.dropped += 1
                                return True  # hang up mid-answer
                    tally.ok += 1
                    tally.latencies.append(time.perf_counter() - started)
                    return True
                status, text = r.status_code, (await r.aread()).decode(errors="replace")
        else:
            r = await http.post(url, json=req)
            status, text = r.status_code, r.text
            if status == 200:
                if req.get("response_format"):
                    choice = r.json()["choices"][0]
                    if choice["finish_reason"] == "stop":
                        json.loads(choice["message"]["content"])  # must parse
                tally.ok += 1
                tally.latencies.append(time.perf_counter() - started)
                return True
        if status == 429:
            tally.rejected_429 += 1
            await asyncio.sleep(0.2 + random.random() * 0.8)
            continue
        tally.errors.append(f"HTTP {status}: {text[:200]}")
        return True


async def run_clients(port: int, clients: int, total: int, duration: float, max_tokens: int, drop_rate: float) -> Tally:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    tally = Tally()
    budget = {"left": total}
    deadline = time.monotonic() + duration

    async def client(i: int) -> None:
        rng = random.Random(i)
        async with httpx.AsyncClient(timeout=httpx.Timeout(600.0)) as http:
            while budget["left"] > 0 and time.monotonic() < deadline:
                budget["left"] -= 1
                req = body(rng, max_tokens)
                drop = bool(req.get("stream")) and rng.random() < drop_rate
                try:
                    await one_request(http, url, req, drop, tally)
                except (httpx.HTTPError, ValueError) as exc:
                    tally.errors.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(client(i) for i in range(clients)))
    return tally


def rss(proc: subprocess.Popen) -> int:
    return psutil.Process(proc.pid).memory_info().rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="demo", help="model for the server (default: the offline demo model)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=200, help="answers to complete (bounded count)")
    ap.add_argument("--duration", type=float, default=600.0, help="stop starting requests after this many seconds")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--max-queue", type=int, default=8, help="the server's --max-queue")
    ap.add_argument("--drop-rate", type=float, default=0.1, help="share of streaming clients that hang up early")
    ap.add_argument("--warmup", type=int, default=8, help="requests before the first RSS reading")
    ap.add_argument("--rounds", type=int, default=2, help="identical rounds; RSS is read after each")
    ap.add_argument("--rss-tolerance-mib", type=float, default=16.0, help="allowed RSS growth in the last round")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    port = free_port()
    proc = start_server(args.model, port, args.max_queue, args.max_tokens)
    try:
        asyncio.run(run_clients(port, min(args.clients, args.warmup), args.warmup, 120, args.max_tokens, 0.0))
        rss_mib = [round(rss(proc) / MIB, 1)]
        rounds = []
        for _ in range(max(1, args.rounds)):
            started = time.perf_counter()
            tally = asyncio.run(
                run_clients(port, args.clients, args.requests, args.duration, args.max_tokens, args.drop_rate)
            )
            rounds.append((tally, time.perf_counter() - started))
            time.sleep(0.5)  # let the last cancelled answer end
            if proc.poll() is not None:
                break
            rss_mib.append(round(rss(proc) / MIB, 1))
        alive = proc.poll() is None
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json() if alive else {}
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", params={"format": "json"}, timeout=5).json()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    tally, wall = Tally(), 0.0
    for one, seconds in rounds:
        tally.latencies += one.latencies
        tally.errors += one.errors
        tally.ok, tally.dropped, tally.rejected_429 = (
            tally.ok + one.ok,
            tally.dropped + one.dropped,
            tally.rejected_429 + one.rejected_429,
        )
        wall += seconds
    lat = sorted(tally.latencies)
    growth = round(rss_mib[-1] - rss_mib[-2], 1) if len(rss_mib) > 1 else 0.0
    result = {
        "model": args.model,
        "clients": args.clients,
        "rounds": len(rounds),
        "answers": tally.ok,
        "dropped_by_client": tally.dropped,
        "rejected_429": tally.rejected_429,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "wall_s": round(wall, 2),
        "requests_per_s": round(tally.ok / wall, 3) if wall else 0.0,
        "p50_latency_s": round(statistics.median(lat), 3) if lat else None,
        "p99_latency_s": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 3) if lat else None,
        "server_alive": alive,
        "server_idle_after": bool(health) and not health.get("generating") and health.get("queue_waiting") == 0,
        "rss_mib_after_warmup_and_each_round": rss_mib,
        "rss_growth_last_round_mib": growth,
        "server_finish_reasons": metrics.get("finish_reasons"),
        "server_decode_tokens_per_s": round(metrics.get("decode_tokens_per_s", 0.0), 1),
        "cpu": f"{os.cpu_count()} logical CPUs",
    }
    ok = not tally.errors and alive and result["server_idle_after"] and growth <= args.rss_tolerance_mib
    result["passed"] = ok
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
