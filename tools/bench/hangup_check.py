"""How long a server keeps the model after a client hangs up while its prompt is read.

One streamed `/v1/completions` request with a long prompt ("hello " x WORDS) is sent and its
socket closed after --after seconds, while the server still reads the prompt; then a one-token
request is timed. Where the server stops reading the abandoned prompt, it answers in well under a
second; where it reads on, it answers when that prompt is read.

    edgeqwen serve MODEL --port 8765 &
    python tools/bench/hangup_check.py --port 8765 --words 3000
"""

from __future__ import annotations

import argparse
import json
import socket
import time
import urllib.request


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--words", type=int, default=3000, help="words of the abandoned prompt")
    ap.add_argument("--after", type=float, default=3.0, help="seconds before hanging up")
    args = ap.parse_args(argv)
    body = json.dumps({"model": "x", "prompt": "hello " * args.words, "max_tokens": 4, "stream": True}).encode()
    head = f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    with socket.create_connection(("127.0.0.1", args.port)) as s:
        s.sendall(head.encode() + b"\r\n\r\n" + body)
        time.sleep(args.after)
    start = time.perf_counter()
    short = json.dumps({"model": "x", "prompt": "hi", "max_tokens": 1}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{args.port}/v1/completions", data=short, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as answer:
        answer.read()
    print(f"hung up after {args.after:.0f} s; the next request answered in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
