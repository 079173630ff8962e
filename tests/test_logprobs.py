"""Log probabilities of the generated tokens: in the reply, over HTTP, and on a real model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import FakeBackend

from edgeqwen import Assistant, GenerationConfig, InvalidRequestError
from edgeqwen.runtime.sampling import log_softmax

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 12}, "country": {"const": "France"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}


def test_the_reply_holds_one_per_token_and_none_when_not_asked():
    bot = Assistant(backend=FakeBackend(["Bonjour, Paris!"]), policy="none")
    reply = bot.chat("Hi", logprobs=3)
    assert "".join(t.text for t in reply.logprobs) == reply.text == "Bonjour, Paris!"
    assert all(len(t.top) == 3 and t.top[0].logprob >= t.logprob for t in reply.logprobs)
    assert bot.chat("Hi").logprobs is None
    assert bot.chat("Hi", logprobs=0).logprobs[0].top == ()


def test_a_grammar_forces_no_token_past_them_and_the_answer_still_holds_to_it():
    """A token a grammar leaves no choice of was fed without a step of the model (no logits to
    read); with logprobs asked, each is chosen by a step, and the answer still keeps the grammar."""
    backend = FakeBackend(['{"city":"Paris","country":"France"}'])
    plain = Assistant(backend=backend, policy="none").json("Where?", CITY)
    reply = Assistant(backend=backend, policy="none").chat("Where?", response_format=CITY, logprobs=1)
    assert reply.parsed == plain == {"city": "Paris", "country": "France"}
    assert len(reply.logprobs) == reply.metrics.generated_tokens - 1  # every token but the end one
    assert "".join(t.text for t in reply.logprobs) == reply.text


def test_an_answer_the_safety_policy_changed_keeps_no_logprobs():
    """The tokens of a redacted answer would show what was removed."""
    reply = Assistant(backend=FakeBackend(["Mail bob@example.com now"]), policy="pii").chat("Hi", logprobs=1)
    assert "bob@example.com" not in reply.text and reply.filtered
    assert reply.logprobs is None


def test_a_backend_that_cannot_report_them_says_so():
    class Remote(FakeBackend):
        name = "remote"
        supports_logprobs = False

    with pytest.raises(InvalidRequestError, match="remote backend cannot report log probabilities"):
        Assistant(backend=Remote(["Hi"])).chat("Hi", logprobs=1)


def test_the_server_sends_them_in_openais_shape_and_checks_the_fields():
    from starlette.testclient import TestClient

    from edgeqwen.server import create_app

    client = TestClient(create_app(Assistant(backend=FakeBackend(["Oui."]), policy="none")))
    body = {"messages": [{"role": "user", "content": "Hi"}], "logprobs": True, "top_logprobs": 2}
    choice = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    content = choice["logprobs"]["content"]
    assert "".join(t["token"] for t in content) == choice["message"]["content"] == "Oui."
    assert all(bytes(t["bytes"]).decode() == t["token"] and len(t["top_logprobs"]) == 2 for t in content)
    events = client.post("/v1/chat/completions", json={**body, "stream": True}).text.split("data: ")
    chunks = [json.loads(e) for e in events if e.strip() and e.strip() != "[DONE]"]
    sent = [t for c in chunks for ch in c["choices"] if ch["logprobs"] for t in ch["logprobs"]["content"]]
    assert sent == content  # all of them with the last chunk, which a client adds up as OpenAI's
    plain = client.post("/v1/chat/completions", json={"messages": body["messages"]}).json()
    assert plain["choices"][0]["logprobs"] is None
    for bad, param in (({"top_logprobs": 2}, "top_logprobs"), ({"logprobs": True, "top_logprobs": 21}, "top_logprobs")):
        error = client.post("/v1/chat/completions", json={"messages": body["messages"], **bad})
        assert error.status_code == 400 and error.json()["error"]["param"] == param


@pytest.fixture(scope="module")
def qwen2(tiny_models):
    from edgeqwen.backends.onnx import OnnxBackend

    return OnnxBackend(tiny_models["qwen2"]["int4"], context_length=256)


def test_on_a_real_model_they_are_its_logits_log_softmax(qwen2):
    """The first token's reported values against the model's own logits for the same prompt, and
    the greedy answer the same with them as without."""
    from edgeqwen.runtime.loop import stream_generate

    ids = qwen2.tokenizer.encode("The capital of France is")
    config = GenerationConfig(max_tokens=6)
    chunks = list(stream_generate(qwen2.model, qwen2.tokenizer, ids, config.with_(logprobs=4)))
    row = log_softmax(np.asarray(qwen2.model.prefill(ids), dtype=np.float32)[: qwen2.tokenizer.vocab_size])
    first = chunks[0].logprob
    assert first.token == int(np.argmax(row))  # greedy: the model's own most likely token
    assert abs(first.logprob - float(row[first.token])) < 1e-4
    assert [t.token for t in first.top] == [int(i) for i in np.argsort(-row, kind="stable")[:4]]
    plain = list(stream_generate(qwen2.model, qwen2.tokenizer, ids, config))
    assert [c.token for c in plain] == [c.token for c in chunks]
    assert sum(c.logprob is not None for c in chunks) == sum(c.token is not None for c in chunks) == 6
