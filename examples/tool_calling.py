"""Let the model call your functions: it asks for a call, your code runs it, the result goes back,
and the model answers with it. The functions are the tools: their type hints and docstrings are
the specs the model sees. A call the model writes always names one of the tools given, with
arguments valid for that tool's schema (the grammar holds it while decoding).

    python examples/tool_calling.py                              # the built-in question
    python examples/tool_calling.py "What is 17 times 23?"
    python examples/tool_calling.py --require "Weather in Oslo?"  # the first answer must be a call

With a Qwen model the model decides when to call ("auto"); the offline demo model is too small to
decide well, so use --require with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edgeqwen import Assistant, EdgeQwenError, Message

WEATHER = {"oslo": ("cloudy", 4), "paris": ("sunny", 18), "lisbon": ("sunny", 22), "tokyo": ("rain", 15)}


def get_weather(city: str) -> dict[str, Any]:
    """Today's weather in a city.

    Args:
        city: The city's name, e.g. "Oslo".
    """
    sky, celsius = WEATHER.get(city.strip().lower(), ("unknown", None))
    return {"city": city, "sky": sky, "celsius": celsius}


def multiply(a: float, b: float) -> dict[str, Any]:
    """Multiply two numbers."""
    return {"product": a * b}


# A function is its own tool spec: its hints say the parameters, its docstring what it does.
TOOLS = [get_weather, multiply]
FUNCTIONS = {f.__name__: f for f in TOOLS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("question", nargs="?", default="What is the weather in Paris today?")
    ap.add_argument("--require", action="store_true", help="the first answer must be a tool call")
    ap.add_argument("--model", default=None, help="a catalog name, folder or .gguf (default: the installed one)")
    args = ap.parse_args()
    try:
        bot = Assistant(args.model, tools=TOOLS, max_tokens=200)
        reply = bot.chat(args.question, tool_choice="required" if args.require else "auto")
        for _round in range(3):  # a model may call again with what it learnt; not forever
            if not reply.tool_calls:
                break
            results = []
            for call in reply.tool_calls:
                result = FUNCTIONS[call.name](**call.arguments)  # the name is always one of FUNCTIONS
                print(f"called {call.name}({json.dumps(call.arguments)}) -> {json.dumps(result)}")
                results.append(Message("tool", json.dumps(result)))
            reply = bot.chat(results, tool_choice="none" if _round == 2 else "auto")
        print(f"answer: {reply.text.strip()}")
    except EdgeQwenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
