"""A terminal chat in 40 lines: streaming answers, history kept inside the context window.

    python examples/chat_cli.py                 # the installed Qwen model, or the offline demo model
    python examples/chat_cli.py --model demo --system "Answer in one sentence."

Type a message; /reset forgets the conversation; an empty line or Ctrl-D quits.
"""

from __future__ import annotations

import argparse
import sys

from edgeqwen import Assistant, EdgeQwenError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder or installed name (default: the best installed, else the demo)")
    parser.add_argument("--system", default="You are a helpful assistant. Keep answers short.")
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()
    try:
        bot = Assistant(
            args.model, args.system, max_tokens=args.max_tokens, announce=lambda m: print(m, file=sys.stderr)
        )
    except EdgeQwenError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    with bot:
        for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("you> "), ""):
            text = line.strip()
            if not text:
                break
            if text == "/reset":
                bot.reset()
                print("(conversation cleared)")
                continue
            print("bot> ", end="", flush=True)
            stream = bot.stream(text)
            for piece in stream:
                print(piece, end="", flush=True)
            reply = stream.reply()
            print(f"\n     [{reply.metrics.generated_tokens} tokens, {reply.metrics.decode_tps:.0f} tok/s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
