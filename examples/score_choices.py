"""Which answer does the model find most likely? Scoring text, as evaluation harnesses do.

    python examples/score_choices.py [--model MODEL]

Each choice is scored by the log probability the model gives its tokens after the question
(``Assistant.complete`` with ``prompt_logprobs``: the prompt's own tokens rated, no chat
template), and the most likely one wins: the way lm-evaluation-harness answers a multiple-choice
question. The same scores give a text's perplexity, a quick measure of what a quantization cost.
"""

from __future__ import annotations

import argparse
import math
import sys

from edgeqwen import Assistant

QUESTIONS = [
    ("The capital of France is", [" Paris", " Berlin", " Madrid", " Rome"]),
    ("Water freezes at a temperature of zero degrees", [" Celsius", " Fahrenheit", " Kelvin"]),
    ("The largest planet in the solar system is", [" Jupiter", " Mars", " Venus", " Mercury"]),
]
TEXT = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April, and the clocks were striking."


def loglikelihood(bot: Assistant, context: str, continuation: str) -> float:
    """log P(continuation | context): the two tokenized apart, as harnesses do, then scored as one prompt."""
    head, tail = bot.tokenizer.encode(context), bot.tokenizer.encode(continuation)
    reply = bot.complete(head + tail, max_tokens=1, prompt_logprobs=0).reply()
    return sum(t.logprob for t in reply.prompt_logprobs[len(head) :])


def perplexity(bot: Assistant, text: str) -> float:
    said = bot.complete(text, max_tokens=1, prompt_logprobs=0).reply().prompt_logprobs
    return math.exp(-sum(t.logprob for t in said[1:]) / (len(said) - 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model name or path (default: the installed one, or the demo)")
    args = parser.parse_args()
    # scores are the model's own: no safety screen between (a refused prompt has no scores)
    with Assistant(args.model, policy="none") as bot:
        for question, choices in QUESTIONS:
            scores = {choice: loglikelihood(bot, question, choice) for choice in choices}
            best = max(scores, key=scores.__getitem__)
            shown = ", ".join(f"{c.strip()} {s:.2f}" for c, s in scores.items())
            print(f"{question} ...{best}   ({shown})")
        print(f"perplexity of a sample text: {perplexity(bot, TEXT):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
