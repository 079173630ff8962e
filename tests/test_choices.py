"""``n`` > 1 on /v1/chat/completions and /v1/completions: that many choices, answered in turn,
each later one with the next seed (optillm's best-of-n and LangChain's ``n`` ask for it; a 400
before)."""

from __future__ import annotations

import json

import openai
import pytest
from fakes import FakeBackend

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from edgeqwen import Assistant  # noqa: E402
from edgeqwen.server import BackgroundServer, create_app  # noqa: E402

HI = [{"role": "user", "content": "Hi"}]


def _events(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def test_n_choices_in_turn_each_with_the_next_seed():
    fake = FakeBackend(["One.", "Two.", "Three."])
    client = TestClient(create_app(Assistant(backend=fake, policy="none", temperature=0.7)))
    body = client.post("/v1/chat/completions", json={"messages": HI, "n": 3, "seed": 5}).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert [c["message"]["content"] for c in body["choices"]] == ["One.", "Two.", "Three."]
    assert [r.config.seed for r in fake.requests] == [5, 6, 7]  # the same request, the same choices
    prompt = fake.requests[0].prompt_ids
    assert all(r.prompt_ids == prompt for r in fake.requests)
    usage = body["usage"]  # the prompt counted once, every answer's tokens
    assert usage["prompt_tokens"] == len(prompt) and usage["completion_tokens"] == sum(
        len(t) + 1 for t in ("One.", "Two.", "Three.")
    )
    fake.requests.clear()
    client.post("/v1/chat/completions", json={"messages": HI, "n": 2})  # no seed: the first as asked, then others
    first, second = (r.config.seed for r in fake.requests)
    assert first is None and isinstance(second, int)


def test_a_requests_choices_are_checked_once():
    """Each choice ran the input checks again: with a guard model or the model's own verdict, n
    times seconds for one request."""
    from edgeqwen.safety import Policy

    fake = FakeBackend(["A."])
    bot = Assistant(backend=fake, policy=Policy(name="check", self_check="input"))
    asked = []
    bot.guard.self_check = lambda backend, text, stage: asked.append(text)
    client = TestClient(create_app(bot))
    body = client.post("/v1/chat/completions", json={"messages": HI, "n": 3}).json()
    assert len(body["choices"]) == 3 and asked == ["Hi"]


def test_the_served_assistants_own_seed_is_where_later_choices_count_from():
    fake = FakeBackend(["A."])
    client = TestClient(create_app(Assistant(backend=fake, policy="none", temperature=0.7, seed=100)))
    client.post("/v1/chat/completions", json={"messages": HI, "n": 3})
    assert [r.config.seed for r in fake.requests] == [100, 101, 102]


def test_n_choices_streamed_one_after_another_with_their_indexes():
    fake = FakeBackend(["One.", "Two."])
    client = TestClient(create_app(Assistant(backend=fake, policy="none")))
    body = {"messages": HI, "n": 2, "stream": True, "stream_options": {"include_usage": True}}
    response = client.post("/v1/chat/completions", json=body)
    events = _events(response.text)
    text = {0: "", 1: ""}
    for e in events:
        for c in e["choices"]:
            text[c["index"]] += c["delta"].get("content") or ""
    assert text == {0: "One.", 1: "Two."}
    finished = [c["index"] for e in events for c in e["choices"] if c["finish_reason"]]
    opened = [c["index"] for e in events for c in e["choices"] if c["delta"].get("role")]
    assert finished == opened == [0, 1] and response.text.count("[DONE]") == 1
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 2 * (4 + 1)


def test_completions_n_per_prompt_numbered_as_openai_does():
    fake = FakeBackend(["a", "b", "c", "d"])
    client = TestClient(create_app(Assistant(backend=fake, policy="none")))
    body = client.post("/v1/completions", json={"prompt": ["The x is", "The y is"], "n": 2, "seed": 1}).json()
    assert [(c["index"], c["text"]) for c in body["choices"]] == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    assert [r.config.seed for r in fake.requests] == [1, 2, 1, 2]
    each = [len(r.prompt_ids) for r in fake.requests]
    assert body["usage"]["prompt_tokens"] == each[0] + each[2]  # each prompt once, not once per choice
    streamed = client.post("/v1/completions", json={"prompt": "The x is", "n": 2, "stream": True, "echo": True})
    events = _events(streamed.text)
    by_index: dict[int, str] = {}
    for e in events:
        for c in e["choices"]:
            by_index[c["index"]] = by_index.get(c["index"], "") + c["text"]
    assert by_index == {0: "The x isa", 1: "The x isb"}


def test_the_official_client_reads_n_choices():
    with BackgroundServer(Assistant(backend=FakeBackend(["Yes.", "No."]), policy="none")) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="none", max_retries=0)
        done = client.chat.completions.create(model="m", messages=HI, n=2)
        assert [c.message.content for c in done.choices] == ["Yes.", "No."]
        stream = client.chat.completions.create(model="m", messages=HI, n=2, stream=True)
        said: dict[int, str] = {}
        for chunk in stream:
            for c in chunk.choices:
                said[c.index] = said.get(c.index, "") + (c.delta.content or "")
        assert said == {0: "Yes.", 1: "No."}
