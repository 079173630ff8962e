"""OpenAI's Predicted Outputs (``prediction``): text the answer is expected to be much like, which
prompt lookup guesses from first (runtime/lookup.find_in_source), turned on where no width is
asked; the answer is the model's either way. Scripted model: exact logits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import qwen_scripted
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen import Assistant, GenerationConfig, InvalidRequestError
from edgeqwen.runtime.lookup import find_in_source
from edgeqwen.runtime.loop import stream_generate
from edgeqwen.testing import FakeBackend
from edgeqwen.tokenizer import Tokenizer

IM_END = 151645
FILE = "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n"
EDITED = FILE.replace("area(w, h)", "area(width, height)").replace("w * h", "width * height")


@pytest.fixture(scope="module")
def tok(qwen_tokenizer_json):
    return Tokenizer(qwen_tokenizer_json)


def test_the_guess_goes_through_the_prediction_in_order():
    source = np.array([1, 2, 3, 10, 11, 1, 2, 3, 20, 21, 22])  # a line that recurs: "1 2 3"
    draft, end = find_in_source(np.array([9, 1, 2, 3]), source, 2)
    assert draft.tolist() == [10, 11] and end == 5  # the first occurrence, the file read in order
    draft, end = find_in_source(np.array([9, 1, 2, 3]), source, 2, after=end)
    assert draft.tolist() == [20, 21] and end == 10  # past the last guess: the next occurrence
    draft, _ = find_in_source(np.array([9, 1, 2, 3]), source, 2, after=10)
    assert draft.tolist() == [20, 21]  # none after it: the last one before
    empty, at = find_in_source(np.array([7, 8]), source, 2, after=3)
    assert empty.size == 0 and at == 3  # nothing recurs: no guess, the place kept
    assert find_in_source(np.array([1, 2]), source, 0)[0].size == 0


@given(
    source=st.lists(st.integers(0, 5), min_size=2, max_size=30),
    tokens=st.lists(st.integers(0, 5), min_size=1, max_size=10),
    width=st.integers(1, 6),
    after=st.integers(0, 40),
)
@settings(max_examples=300, deadline=None)
def test_a_guess_is_what_follows_the_tail_in_the_prediction(source, tokens, width, after):
    src, seq = np.array(source), np.array(tokens)
    draft, end = find_in_source(seq, src, width, after)
    if draft.size:
        start = end - draft.size
        size = next(
            k for k in (3, 2) if k <= min(seq.size, start) and src[start - k : start].tolist() == seq[-k:].tolist()
        )
        assert src[start : start + width].tolist() == draft.tolist() and size >= 2
    else:
        assert end == after


def test_an_edit_copies_the_prediction_and_the_answer_is_the_models(tok):
    """The answer rewrites the file with two names changed: the model takes the prediction's
    guesses where it copies and writes its own tokens where it edits, and the answer is token for
    token the one without a prediction."""
    prompt = tok.encode("Rename w and h in area to width and height:\n\n") + tok.encode(FILE)
    script = [*tok.encode(EDITED), IM_END]
    plain = list(stream_generate(qwen_scripted(script), tok, prompt, GenerationConfig(max_tokens=200)))
    guessed = list(
        stream_generate(qwen_scripted(script), tok, prompt, GenerationConfig(max_tokens=200, prediction=FILE))
    )
    assert "".join(c.text for c in guessed) == "".join(c.text for c in plain) == EDITED
    m = guessed[-1].metrics
    assert m.accepted_tokens >= 10 and m.drafted_tokens >= m.accepted_tokens and plain[-1].metrics.drafted_tokens == 0


def test_a_prediction_not_in_the_prompt_is_guessed_from(tok):
    """The prompt does not hold the text (a file the client keeps): prompt lookup alone finds
    nothing to copy, the prediction does."""
    prompt = tok.encode("Write the geometry helpers.")
    script = [*tok.encode(FILE), IM_END]
    alone = list(stream_generate(qwen_scripted(script), tok, prompt, GenerationConfig(max_tokens=200, prompt_lookup=3)))
    predicted = list(
        stream_generate(qwen_scripted(script), tok, prompt, GenerationConfig(max_tokens=200, prediction=FILE))
    )
    assert "".join(c.text for c in predicted) == FILE
    assert predicted[-1].metrics.accepted_tokens > alone[-1].metrics.accepted_tokens + 10


def test_a_prediction_must_be_text():
    for bad in (1, None, ["a"]):
        with pytest.raises(InvalidRequestError) as caught:
            GenerationConfig(prediction=bad)
        assert caught.value.param == "prediction"
    assert (
        GenerationConfig(prediction="x").lookup_width == 3
        and GenerationConfig(prediction="x", prompt_lookup=5).lookup_width == 5
    )
    assert GenerationConfig().lookup_width == 0


def test_the_server_reads_a_prediction_and_says_what_was_taken(tok):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from edgeqwen.server import create_app

    fake = FakeBackend([EDITED], tokenizer_json=tok.path)
    client = TestClient(create_app(Assistant(backend=fake, policy="none")))
    messages = [{"role": "user", "content": "Rename w and h in area:\n\n" + FILE}]
    body = {"messages": messages, "prediction": {"type": "content", "content": [{"type": "text", "text": FILE}]}}
    answer = client.post("/v1/chat/completions", json=body).json()
    assert answer["choices"][0]["message"]["content"] == EDITED
    assert fake.requests[-1].config.prediction == FILE
    details = answer["usage"]["completion_tokens_details"]
    assert details["accepted_prediction_tokens"] >= 10 and details["rejected_prediction_tokens"] >= 0
    plain = client.post("/v1/chat/completions", json={"messages": messages}).json()
    assert "completion_tokens_details" not in plain["usage"]  # nothing guessed, nothing to say
    for bad in ({"type": "text", "content": "x"}, "x", {"type": "content", "content": 3}):
        error = client.post("/v1/chat/completions", json={"messages": messages, "prediction": bad})
        assert error.status_code == 400 and error.json()["error"]["param"].startswith("prediction"), error.text
    streamed = client.post(
        "/v1/chat/completions", json={**body, "stream": True, "stream_options": {"include_usage": True}}
    )
    usage = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")][-1]["usage"]
    assert usage["completion_tokens_details"]["accepted_prediction_tokens"] >= 10


def test_a_remote_server_is_sent_the_prediction():
    from edgeqwen.backends.openai import _sampling

    sent = _sampling(GenerationConfig(prediction="text"))
    assert sent["prediction"] == {"type": "content", "content": "text"}
    assert "prediction" not in _sampling(GenerationConfig())
