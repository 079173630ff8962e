"""A conversation longer than the context window: refused with OpenAI's code, never cut silently,
unless the caller asks for its oldest turns to be dropped (Python's default, the Responses API's
``truncation: "auto"``, Ollama's API, which drops them itself)."""

from __future__ import annotations

import re

import httpx
import pytest

from edgeqwen import Assistant, PromptTooLongError
from edgeqwen.server import BackgroundServer
from edgeqwen.testing import FakeBackend

WINDOW = 1024


def long_conversation(turns: int = 12) -> list[dict[str, str]]:
    """About 1.5x the window (the fake tokenizer reads a byte a token), its first turn the one that goes."""
    out = []
    for i in range(turns):
        out += [{"role": "user", "content": f"Turn {i}: " + "w" * 100}, {"role": "assistant", "content": "ok"}]
    return [*out, {"role": "user", "content": "What was turn 0?"}]


@pytest.fixture(scope="module")
def server():
    fake = FakeBackend(["Answer."], context_length=WINDOW)
    with BackgroundServer(Assistant(backend=fake, policy="none")) as srv:
        yield fake, srv


def test_the_python_api_drops_the_oldest_turns_unless_told_not_to():
    bot = Assistant(backend=FakeBackend(["Answer."], context_length=WINDOW), policy="none")
    reply = bot.answer(long_conversation()).reply()
    assert reply.trimmed_turns > 0 and reply.text == "Answer."
    with pytest.raises(PromptTooLongError, match="none is dropped unasked") as caught:
        bot.answer(long_conversation(), truncate=False)
    assert caught.value.prompt_tokens > WINDOW
    # one that fits is answered whole, however little room it leaves the answer
    whole = bot.answer(long_conversation(6), truncate=False, max_tokens=400).reply()
    assert whole.trimmed_turns == 0 and whole.metrics.prompt_tokens > WINDOW - 400


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": long_conversation(), "max_tokens": 4}),
        ("/v1/responses", {"input": long_conversation(), "max_output_tokens": 4}),
        ("/v1/responses", {"input": long_conversation(), "max_output_tokens": 4, "truncation": "disabled"}),
        ("/v1/messages", {"model": "m", "messages": long_conversation(), "max_tokens": 4}),
    ],
)
def test_the_openai_and_anthropic_apis_refuse_a_conversation_past_the_window(server, path, body):
    """They answered it without its oldest turns, saying nothing: an agent's first instructions
    gone, and the client never told. OpenAI's and Anthropic's APIs, vLLM and llama.cpp refuse it."""
    fake, srv = server
    before = len(fake.requests)
    r = httpx.post(srv.base_url.removesuffix("/v1") + path, json=body, timeout=60)
    assert r.status_code == 400 and len(fake.requests) == before
    error = r.json()["error"]
    # in the words clients match to tell a full window from other bad requests: Anthropic's, whose
    # two numbers Claude Code reads, and OpenAI's, which LiteLLM (so aider) and CrewAI look for
    said = re.search(r"prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)", error["message"])
    assert said and int(said[1]) > int(said[2]) == 1023
    assert "this model's maximum context length is 1024 tokens" in error["message"].lower()
    if path != "/v1/messages":  # OpenAI's code, on which Codex compacts and LangChain raises its own error
        assert error["code"] == "context_length_exceeded"


def test_truncation_auto_and_ollamas_api_drop_the_oldest_turns(server):
    fake, srv = server
    base = srv.base_url.removesuffix("/v1")
    auto = httpx.post(
        f"{base}/v1/responses",
        json={"input": long_conversation(), "max_output_tokens": 4, "truncation": "auto"},
        timeout=60,
    ).json()
    assert auto["truncation"] == "auto" and auto["status"] in ("completed", "incomplete")
    assert auto["usage"]["input_tokens"] < WINDOW and "Turn 0:" not in fake.tokenizer.decode(
        fake.requests[-1].prompt_ids
    )
    ollama = httpx.post(
        f"{base}/api/chat",
        json={"model": fake.info.name, "messages": long_conversation(), "stream": False, "options": {"num_predict": 4}},
        timeout=60,
    )
    assert ollama.status_code == 200 and ollama.json()["prompt_eval_count"] < WINDOW
    bad = httpx.post(f"{base}/v1/responses", json={"input": "hi", "truncation": "sometimes"}, timeout=60)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "truncation"
