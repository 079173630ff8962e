"""A bound on Qwen3's thinking (``thinking_budget``; Anthropic's ``budget_tokens``): at the bound
the model is made to close its thinking as Qwen closes it, and answers. Without one, a small CPU
could spend minutes on thousands of thinking tokens before the first word of the answer."""

from __future__ import annotations

import numpy as np
import pytest

from edgeqwen import Assistant, GenerationConfig, InvalidRequestError
from edgeqwen.chat import template_for
from edgeqwen.runtime.thinking import CLOSING, ThinkingBudget
from edgeqwen.testing import FakeBackend
from edgeqwen.tokenizer import Tokenizer

THOUGHT = "<think>\n" + "Let me weigh every capital in Europe one by one. " * 8 + "\n</think>\n\nParis."


@pytest.fixture(scope="module")
def tok(qwen3_tokenizer_json) -> Tokenizer:
    return Tokenizer(qwen3_tokenizer_json)


def test_from_the_budget_on_only_the_closing_texts_next_token_may_come(tok):
    closing = tok.encode(CLOSING)
    bound = ThinkingBudget(tok, prompt_len=3, budget=2)
    logits = np.zeros(tok.vocab_size, dtype=np.float32)
    assert bound(np.array([1, 2, 3, 50]), logits) is logits  # one token written: free
    for k in range(len(closing) - 1):
        ids = np.array([1, 2, 3, 50, 51, *closing[:k]])
        out = bound(ids, logits)
        assert np.argmax(out) == closing[k] and np.isinf(out).sum() == tok.vocab_size - 1
    end = tok.token_id("</think>")
    assert bound(np.array([1, 2, 3, end, 50, 51]), logits) is logits  # it closed its thinking itself: free
    assert bound(np.array([1, 2, 3, 50, 51, *closing]), logits) is logits  # closed: the answer is free


def test_the_answer_comes_after_at_most_the_budget_of_thinking(qwen3_tokenizer_json):
    fake = FakeBackend([THOUGHT] * 3, tokenizer_json=qwen3_tokenizer_json)
    fake.template = template_for("qwen3", fake.tokenizer)
    bot = Assistant(backend=fake, policy="none", enable_thinking=True, max_tokens=300)
    free = bot.chat("Capital of France?")
    bot.reset()
    bounded = bot.chat("Capital of France?", thinking_budget=12)
    assert free.text == "Paris." and "one by one" in free.thinking
    thought = bounded.thinking
    assert thought.endswith("based on the thinking directly now.") and bounded.text  # then it answers
    assert len(fake.tokenizer.encode(thought)) <= 12 + len(fake.tokenizer.encode(CLOSING))
    # (the scripted model then writes the rest of its script as the answer: a real one answers)
    with pytest.raises(InvalidRequestError, match="thinking_budget"):
        GenerationConfig(thinking_budget=0)


def test_a_backend_without_our_loop_says_so_and_a_model_that_does_not_think_ignores_it(qwen3_tokenizer_json):
    class Remote(FakeBackend):
        supports_logits_processors = False

    fake = Remote(["<think>\nHm.\n</think>\n\nParis."], tokenizer_json=qwen3_tokenizer_json)
    fake.template = template_for("qwen3", fake.tokenizer)
    bot = Assistant(backend=fake, policy="none", enable_thinking=True)
    with pytest.raises(InvalidRequestError, match="thinking_budget bounds the thinking"):
        bot.chat("Hi", thinking_budget=8)
    plain = Assistant(backend=FakeBackend(["Paris."]), policy="none")  # no thinking to bound
    assert plain.chat("Hi", thinking_budget=8).text == "Paris."


def test_the_servers_pass_the_budget_on():
    from edgeqwen.server.anthropic import parse_messages_request
    from edgeqwen.server.protocol import parse_chat_request

    ask = [{"role": "user", "content": "Hi"}]
    body = {"messages": ask, "max_tokens": 50, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert parse_messages_request(body, 64).settings["thinking_budget"] == 1024
    assert parse_chat_request({"messages": ask, "thinking_budget": 200}, 64).settings["thinking_budget"] == 200
