"""Talk to edgeqwen's OpenAI-compatible server with the official ``openai`` client (chat and Responses APIs).

    edgeqwen serve &                                          # in one terminal (or any machine)
    python examples/server_client.py --base-url http://127.0.0.1:8080/v1

Without --base-url the script starts a server on a free loopback port itself, so it runs alone.
Needs: pip install 'edgeqwen[server]' openai
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from openai import OpenAI


@contextlib.contextmanager
def local_server(model: str | None):
    from edgeqwen import Assistant
    from edgeqwen.server import BackgroundServer

    with Assistant(model) as bot, BackgroundServer(bot) as server:
        print(f"(started a server at {server.base_url})")
        yield server.base_url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running server, e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--api-key", default="none", help="the server's --api-key, if it has one")
    parser.add_argument("--model", help="without --base-url: the model to serve (default: installed, else demo)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        base_url = args.base_url or stack.enter_context(local_server(args.model))
        client = OpenAI(base_url=base_url, api_key=args.api_key)
        model = client.models.list().data[0].id
        print(f"model: {model}")

        # 1. a plain answer
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "What is the capital of France?"}], max_tokens=60
        )
        print(f"answer: {r.choices[0].message.content}  [{r.usage.completion_tokens} tokens]")

        # 2. streaming
        print("stream: ", end="", flush=True)
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Name three colours."}], max_tokens=40, stream=True
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
        print()

        # 3. JSON that follows a schema (decoded under a grammar: it always parses)
        schema = {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 40}, "country": {"type": "string", "maxLength": 40}},
            "required": ["city", "country"],
            "additionalProperties": False,
        }
        r = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Which city is the capital of France? Answer as JSON."}],
            response_format={"type": "json_schema", "json_schema": {"name": "capital", "schema": schema}},
            max_tokens=60,
        )
        print(f"json: {json.loads(r.choices[0].message.content)}")

        # 4. the same server through the Responses API (what agent frameworks send)
        r = client.responses.create(
            model=model,
            instructions="Answer in one sentence.",
            input="What is the capital of Italy?",
            max_output_tokens=60,
        )
        print(f"responses: {r.output_text}  [{r.status}, {r.usage.output_tokens} tokens]")

        # 5. the next turn by the last response's id: the server kept the conversation, and the
        #    cache holds it (instructions are not carried over, as OpenAI's are not: send them again)
        r = client.responses.create(
            model=model,
            previous_response_id=r.id,
            instructions="Answer in one sentence.",
            input="Which language is spoken there?",
            max_output_tokens=60,
        )
        cached = r.usage.input_tokens_details.cached_tokens
        print(f"next turn: {r.output_text}  [{cached} of {r.usage.input_tokens} prompt tokens from the cache]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
