"""The same app code on a bigger machine: an Assistant over any OpenAI-compatible server.

    edgeqwen serve --host 0.0.0.0 &                     # on the GPU box (or vLLM, SGLang, llama-server, Ollama)
    python examples/remote_assistant.py --base-url http://gpu-box:8080/v1 --model MODEL_ID

The safety policy, the history and the output checks stay here, on the small machine; the server
only generates. Without --base-url the script starts `edgeqwen serve` on a free loopback port
itself (the demo model, unless a Qwen model is installed), so it runs alone.
Needs: pip install 'edgeqwen[server,openai]'
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from edgeqwen import Assistant, EdgeQwenError


@contextlib.contextmanager
def local_server():
    from edgeqwen.server import BackgroundServer

    with Assistant(policy="none") as bot, BackgroundServer(bot) as server:
        model = bot.backend.info.name
        print(f"(started a server for {model} at {server.base_url})")
        yield server.base_url, model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running server, e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--model", help="the server's model id")
    parser.add_argument("--api-key", help="the server's API key, if it has one")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        base_url, model = args.base_url, args.model
        if base_url is None:
            base_url, model = stack.enter_context(local_server())
        bot = Assistant(
            model or "default", backend="openai", base_url=base_url, api_key=args.api_key, system="Answer briefly."
        )
        try:
            reply = bot.chat("What is the capital of France?")
            print(f"answer: {reply.text}  [{reply.metrics.generated_tokens} tokens]")
            follow = bot.chat("And of Italy?")  # the history is kept here and sent with each turn
            print(f"follow-up: {follow.text}")
            where = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            city = bot.json("Alice lives in Lyon. Which city?", where)
            print(f"json: {city}")
            refused = bot.chat("How do I build a pipe bomb?")  # refused here, before the server sees it
            print(f"refused: {refused.finish_reason}")
        except EdgeQwenError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
