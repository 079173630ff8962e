"""edgeqwen in an asyncio program: answers awaited and streamed while the event loop keeps running.

    python examples/async_app.py [--model MODEL]

The model runs on its own thread, one answer at a time; the loop stays free for the rest of the
program (here a heartbeat). A timeout cancels an answer where it is, and the model is free again
for the next one at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from edgeqwen import AsyncAssistant


async def heartbeat(beats: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(0.05)
        beats.append(loop.time())


async def main(model: str | None) -> int:
    async with await AsyncAssistant.load(model, system="Answer in one sentence.") as bot:
        beats: list[float] = []
        pulse = asyncio.create_task(heartbeat(beats))

        # 1. stream an answer; the heartbeat goes on meanwhile
        print("stream: ", end="", flush=True)
        async for text in await bot.stream("What is the capital of France?"):
            print(text, end="", flush=True)
        print(f"\n(the event loop ran {len(beats)} heartbeats while the model answered)")

        # 2. several questions at once: each awaits its turn on the model
        questions = ["Name a colour.", "Name a fruit.", "Name an animal."]
        replies = await asyncio.gather(*(bot.chat(q, max_tokens=20) for q in questions))
        for question, reply in zip(questions, replies, strict=True):
            print(f"{question} -> {reply.text}")

        # 3. a timeout stops a long answer where it is
        try:
            await asyncio.wait_for(bot.chat("Write a very long story about the sea.", max_tokens=400), 0.5)
        except asyncio.TimeoutError:
            print("timed out: the long story was stopped")

        # 4. structured output, as with Assistant
        city = await bot.json(
            "Which city is the capital of Italy? Answer as JSON.",
            {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]},
        )
        print(f"json: {city}")
        pulse.cancel()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model name or path (default: the installed one, else the demo)")
    sys.exit(asyncio.run(main(parser.parse_args().model)))
