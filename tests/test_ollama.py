"""Ollama's API (``/api/...``), driven by the official ``ollama`` client, as apps that speak only
Ollama's (Home Assistant's integration among them) drive it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import jsonschema
import numpy as np
import ollama
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeqwen import Assistant, Embedder
from edgeqwen.server import BackgroundServer
from edgeqwen.server.ollama import OLLAMA_API_VERSION
from edgeqwen.server.ollama_requests import openai_chat
from edgeqwen.server.protocol import RequestError, parse_chat_request
from edgeqwen.testing import FakeBackend

HI = [{"role": "user", "content": "Hello!"}]
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
      city: The city's name
    """
    return "sunny"


@contextmanager
def serving(replies: list[str], embedder: Embedder | None = None, **options) -> Iterator[ollama.Client]:
    bot = Assistant(backend=FakeBackend(replies), policy=options.pop("policy", "none"), **options)
    with BackgroundServer(bot, embedder=embedder) as server:
        yield ollama.Client(host=server.url)


@pytest.fixture(scope="module")
def embedder(tiny_ggufs) -> Iterator[Embedder]:
    pytest.importorskip("llama_cpp")  # the tiny GGUF is read by llama.cpp
    with Embedder(str(tiny_ggufs["qwen3-f32"]), context_length=64) as e:
        yield e


def test_chat_whole_and_streamed_with_ollamas_fields():
    with serving(["The capital of France is Paris."] * 2) as client:
        whole = client.chat(model="fake", messages=HI, stream=False)
        assert whole.message.role == "assistant" and whole.message.content == "The capital of France is Paris."
        assert whole.done and whole.done_reason == "stop" and whole.eval_count > 0 and whole.prompt_eval_count > 0
        assert whole.total_duration > 0 and whole.created_at.endswith("Z")
        parts = list(client.chat(model="fake:latest", messages=HI, stream=True))
        assert "".join(p.message.content for p in parts) == whole.message.content
        assert [p.done for p in parts].count(True) == 1 and parts[-1].done and parts[-1].done_reason == "stop"
        # a body that does not say is streamed, as Ollama's server does (curl, and clients that leave it out)
        raw = httpx.post(f"{str(client._client.base_url).rstrip('/')}/api/chat", json={"model": "fake", "messages": HI})
        lines = [json.loads(line) for line in raw.text.splitlines()]
        assert raw.headers["content-type"] == "application/x-ndjson" and len(lines) > 2 and lines[-1]["done"]


def test_logprobs_come_in_ollamas_shape():
    with serving(["Paris."] * 2) as client:
        said = client.chat(model="fake", messages=HI, logprobs=True, top_logprobs=2, stream=False)
        streamed = list(client.generate(model="fake", prompt="Capital?", logprobs=True, stream=True))
    assert "".join(t.token for t in said.logprobs) == "Paris." and all(t.logprob <= 0 for t in said.logprobs)
    assert all(len(t.top_logprobs) == 2 for t in said.logprobs)
    assert "".join(t.token for t in streamed[-1].logprobs) == "Paris."  # all of them with the last line


def test_num_predict_cuts_the_answer_and_load_options_are_taken():
    with serving(["one two three four five six seven eight nine ten"]) as client:
        cut = client.chat(model="fake", messages=HI, stream=False, options={"num_predict": 3, "num_ctx": 8192})
    assert cut.done_reason == "length" and cut.eval_count == 3


def test_seed_minus_one_is_no_seed_and_another_negative_seed_is_a_seed():
    """Ollama's default options hold seed -1 ("random", as llama.cpp reads it): a client that sends
    them whole got a 400; OpenAI and vLLM take a negative seed as a seed, and so did we not."""
    with serving(["Paris."] * 2) as client:
        said = client.chat(model="fake", messages=HI, stream=False, options={"seed": -1, "temperature": 0.8})
    assert said.message.content == "Paris."
    assert "seed" not in openai_chat({"model": "m", "messages": HI, "options": {"seed": -1}}, 8).settings
    assert openai_chat({"model": "m", "messages": HI, "options": {"seed": -5}}, 8).settings["seed"] == 2**64 - 5
    assert parse_chat_request({"messages": HI, "seed": -1}, 8).settings.get("seed") is None
    assert parse_chat_request({"messages": HI, "seed": 7}, 8).settings["seed"] == 7


def test_a_tool_call_comes_back_with_its_arguments_as_an_object_and_the_result_goes_back():
    with serving([CALL, CALL, "It is sunny in Paris."]) as client:
        first = client.chat(model="fake", messages=HI, tools=[get_weather], stream=False)
        (call,) = first.message.tool_calls
        assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris"}
        streamed = list(client.chat(model="fake", messages=HI, tools=[get_weather], stream=True))
        calls = [c for p in streamed if p.message.tool_calls for c in p.message.tool_calls]
        assert [c.function.arguments for c in calls] == [{"city": "Paris"}] and streamed[-1].done
        result = {"role": "tool", "content": "sunny", "tool_name": "get_weather"}
        after = client.chat(model="fake", messages=[*HI, first.message, result], tools=[get_weather], stream=False)
    assert after.message.content == "It is sunny in Paris." and not after.message.tool_calls


def test_format_holds_the_answer_to_a_schema_or_to_json():
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    with serving(['{"name": "Ann"}'] * 2) as client:
        answer = client.chat(model="fake", messages=HI, format=schema, stream=False)
        jsonschema.validate(json.loads(answer.message.content), schema)
        assert isinstance(json.loads(client.generate(model="fake", prompt="A name?", format="json").response), dict)


def test_generate_reads_system_and_prompt_and_an_empty_prompt_loads():
    fake = FakeBackend(["Blue."])
    with BackgroundServer(Assistant(backend=fake, policy="none")) as server:
        client = ollama.Client(host=server.url)
        said = client.generate(model="fake", prompt="Name a colour.", system="Answer in one word.", stream=False)
        assert said.response == "Blue." and said.done_reason == "stop"
        prompt = fake.tokenizer.decode(fake.requests[-1].prompt_ids)
        assert "Answer in one word." in prompt and "Name a colour." in prompt
        streamed = list(client.generate(model="fake", prompt="Name a colour.", stream=True))
        assert "".join(p.response for p in streamed) == "Blue."
        loaded = client.generate(model="fake")
        assert loaded.done and loaded.done_reason == "load" and loaded.response == ""
        # Ollama's other way to load a model, a chat with no messages, was a 400
        for messages in ([], None):
            warm = client.chat(model="fake", messages=messages)
            assert warm.done and warm.done_reason == "load" and warm.message.content == ""
        with pytest.raises(ollama.ResponseError) as missing:
            client.chat(model="llama3", messages=[])
        assert missing.value.status_code == 404
        assert len(fake.requests) == 2  # the two answers above; loading answered nothing


def test_raw_generate_continues_the_prompt_as_written():
    # what apps that write their own template send (Ollama's raw): no chat template around it
    templated = "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"
    fake = FakeBackend(["Blue.", "Blue.", '{"c":"blue"}'])
    with BackgroundServer(Assistant(backend=fake, policy="none")) as server:
        client = ollama.Client(host=server.url)
        said = client.generate(model="fake", prompt=templated, raw=True, stream=False)
        assert said.response == "Blue." and said.done_reason == "stop" and said.prompt_eval_count > 0
        assert list(fake.requests[-1].prompt_ids) == fake.tokenizer.encode_controls(templated)  # its markup as tokens
        streamed = list(client.generate(model="fake", prompt="Once upon a time", raw=True, stream=True))
        assert "".join(p.response for p in streamed) == "Blue." and streamed[-1].done
        assert fake.tokenizer.decode(fake.requests[-1].prompt_ids) == "Once upon a time"
        schema = {"type": "object", "properties": {"c": {"type": "string"}}, "required": ["c"]}
        constrained = client.generate(model="fake", prompt="JSON: ", raw=True, format=schema, stream=False)
        assert json.loads(constrained.response) == {"c": "blue"}
        # raw is generate's: a chat that sends it is answered through its template, system prompt and all
        raw_chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
        client._request_raw("POST", "/api/chat", json={"model": "fake", "messages": raw_chat, "raw": True})
        assert "Be brief." in fake.tokenizer.decode(fake.requests[-1].prompt_ids)
        for not_bool in ("yes", 1, 0):  # 1 was taken as raw, then answered through the template
            with pytest.raises(ollama.ResponseError, match="raw must be true or false"):
                client._request_raw("POST", "/api/generate", json={"model": "fake", "prompt": "x", "raw": not_bool})


def test_the_policy_answers_for_a_refused_prompt():
    with serving(["Step one: ..."], policy="default") as client:
        ask = [{"role": "user", "content": "How do I build a pipe bomb?"}]
        parts = list(client.chat(model="fake", messages=ask, stream=True))
    text = "".join(p.message.content for p in parts)
    assert "Step one" not in text and text and parts[-1].done


def test_listings_say_what_is_served(embedder):
    with serving(["Hi."], embedder=embedder) as client:
        listed = client.list().models
        assert [m.model for m in listed] == ["fake", embedder.name]
        assert listed[1].details.format == "gguf" and listed[1].details.family == "qwen3"
        assert "tools" in client.show("fake").capabilities
        assert client.show(embedder.name).capabilities == ["embedding"]
        assert [m.model for m in client.ps().models] == ["fake", embedder.name]
    with serving(["Hi."]) as client:
        base = str(client._client.base_url).rstrip("/")
        assert httpx.get(f"{base}/api/version").json() == {"version": OLLAMA_API_VERSION}
        assert httpx.get(f"{base}/").status_code == 200  # clients check the URL with GET /


def test_embed_and_the_older_embeddings_give_the_embedders_vectors(embedder):
    with serving(["Hi."], embedder=embedder) as client:
        got = client.embed(model=embedder.name, input=["first text", "second text"])
        assert np.allclose(got.embeddings, embedder.embed_many(["first text", "second text"]), atol=1e-6)
        assert got.prompt_eval_count == sum(len(embedder.tokens(t)) for t in ("first text", "second text"))
        assert np.allclose(
            client.embed(model=embedder.name, input="x", dimensions=8).embeddings[0],
            embedder.embed("x", dimensions=8),
            atol=1e-6,
        )
        long = "word " * 100  # over the embedder's 64 tokens: cut, as Ollama's truncate (default true) does
        assert np.allclose(
            client.embed(model=embedder.name, input=long).embeddings[0], embedder.embed(long, truncate=True), atol=1e-6
        )
        with pytest.raises(ollama.ResponseError, match="Split it into chunks"):
            client.embed(model=embedder.name, input=long, truncate=False)
        legacy = client.embeddings(model=f"{embedder.name}:latest", prompt="first text")
        assert np.allclose(legacy.embedding, embedder.embed("first text"), atol=1e-6)


@pytest.mark.parametrize(
    ("call", "status", "says"),
    [
        (lambda c: c.chat(model="llama3.2", messages=HI), 404, "model 'llama3.2' not found"),
        (lambda c: c.chat(model="qwen3-f32", messages=HI), 400, "is the embedding model"),
        (lambda c: c.embed(model="fake", input="x"), 400, "is the chat model"),
        (lambda c: c.chat(model="fake", messages=[{**HI[0], "images": ["aGk="]}]), 400, "text only"),
        (lambda c: c.chat(model="fake", messages=HI, options={"mirostat": 2}), 400, "options.mirostat"),
        (lambda c: c.chat(model="fake", messages=HI, options={"num_predict": "ten"}), 400, "num_predict"),
        (lambda c: c.generate(model="fake", prompt="x", raw=True, system="Be brief."), 400, "system is not read"),
        (lambda c: c.generate(model="fake", prompt="x", raw=True, think=True), 400, "put it in the prompt"),
        (lambda c: c.generate(model="fake", prompt="def f(", suffix="return 1"), 400, "fill in the middle"),
        (lambda c: c.pull("llama3.2"), 400, "edgeqwen pull"),
        (lambda c: c.delete("fake"), 400, "edgeqwen rm"),
    ],
)
def test_what_cannot_be_done_is_an_ollama_error_that_says_so(embedder, call, status, says):
    with serving(["Hi."], embedder=embedder) as client:
        with pytest.raises(ollama.ResponseError) as caught:
            call(client)
    assert caught.value.status_code == status and says in caught.value.error


def test_openai_chat_reads_an_ollama_body_as_the_chat_request_it_means():
    chat = openai_chat(
        {
            "model": "m",
            "messages": [*HI, {"role": "assistant", "content": "", "thinking": "hm", "tool_calls": []}],
            "options": {"temperature": 0.2, "top_k": 5, "repeat_penalty": 1.1, "stop": ["\n"], "num_predict": -1},
            "format": "json",
            "think": False,
        },
        max_tokens=64,
    )
    assert chat.stream and chat.enable_thinking is False and chat.response_format == {"type": "json_object"}
    assert chat.settings == {
        "temperature": 0.2,
        "repetition_penalty": 1.1,
        "top_k": 5,
        "max_tokens": 64,
        "stop": ("\n",),
    }
    assert chat.messages[1].thinking == "hm"
    # the penalty's window was passed over (64 tokens whatever it asked); -1 is the whole context
    for window, read in ((256, 256), (0, 0), (-1, 1 << 30)):
        asked = {"model": "m", "messages": HI, "options": {"repeat_penalty": 1.3, "repeat_last_n": window}}
        assert openai_chat(asked, 64).settings["penalty_window"] == read
    assert openai_chat({"model": "m", "messages": HI, "options": {"mirostat": 0, "tfs_z": 1.0}}, 64).settings
    assert openai_chat({"model": "m", "messages": HI, "options": {"typical_p": 0.7}}, 64).settings["typical_p"] == 0.7
    assert openai_chat({"model": "m", "messages": HI, "options": {"tfs_z": 0.5}}, 64).settings["tfs"] == 0.5
    for body, words in (
        ({"model": "m", "messages": HI, "options": {"repeat_last_n": -5}}, "repeat_last_n must be"),
        ({"model": "m", "messages": HI, "options": {"mirostat": 2}}, "options.mirostat is not supported"),
        ({"model": "m", "messages": HI, "format": "xml"}, "format must be"),
        ({"model": "m", "messages": HI, "think": "very"}, "think must be"),
        ({"model": "m", "messages": HI, "options": []}, "options must be an object"),
        ({"model": "m", "messages": "hi"}, "messages must be"),
    ):
        with pytest.raises(RequestError, match=words):
            openai_chat(body, 64)


ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=12)  # lone surrogates too
ANY = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), ANY_TEXT, st.lists(st.integers(), max_size=2))
BODY = st.fixed_dictionaries(
    {"model": st.one_of(st.just("fake"), ANY)},
    optional={
        "messages": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["user", "assistant", "system", "tool", "robot"])},
                    optional={"content": st.one_of(ANY_TEXT, ANY), "images": ANY, "tool_calls": ANY, "thinking": ANY},
                ),
                max_size=3,
            ),
            ANY,
        ),
        "prompt": st.one_of(ANY_TEXT, ANY),
        "options": st.one_of(
            st.dictionaries(st.sampled_from(["temperature", "num_predict", "mirostat", "seed", "x"]), ANY), ANY
        ),
        "format": st.one_of(st.just("json"), st.just({"type": "integer"}), ANY),
        "think": ANY,
        "stream": ANY,
        "tools": ANY,
    },
)


@pytest.fixture(scope="module")
def any_body_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(Assistant(backend=FakeBackend(["7"]), policy="none")) as server:
        yield server


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODY, route=st.sampled_from(["chat", "generate"]))
def test_any_body_gets_an_answer_or_an_error_that_says_what(any_body_server, body, route):
    raw = json.dumps(body, ensure_ascii=True)
    r = httpx.post(f"{any_body_server.url}/api/{route}", content=raw, timeout=30)
    assert r.status_code in (200, 400, 404), r.text
    if r.status_code != 200:
        assert r.json()["error"]
    else:
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert all("error" not in line for line in lines) and lines[-1]["done"]


def test_qwen3s_thinking_streams_as_it_comes_on_both_apis(qwen3_tokenizer_json):
    """It came whole with the last line (Ollama) or the last chunk (OpenAI): a chat UI showed
    nothing while the model thought."""
    from edgeqwen.chat import template_for

    reply = "<think>\nThe user asks for a capital.\n</think>\n\nParis."
    fake = FakeBackend([reply] * 4, tokenizer_json=qwen3_tokenizer_json)
    fake.template = template_for("qwen3", fake.tokenizer)
    with BackgroundServer(Assistant(backend=fake, policy="none")) as server:
        client = ollama.Client(host=server.url)
        parts = list(client.chat(model="fake", messages=HI, think=True, stream=True))
        thoughts = [p.message.thinking for p in parts if p.message.thinking]
        assert "".join(thoughts) == "The user asks for a capital." and len(thoughts) > 1  # piece by piece
        first_text = next(i for i, p in enumerate(parts) if p.message.content)
        assert all(not p.message.thinking for p in parts[first_text:])  # before the answer, and not again
        assert "".join(p.message.content for p in parts) == "Paris."
        whole = client.chat(model="fake", messages=HI, think=True, stream=False)
        assert whole.message.thinking == "The user asks for a capital." and whole.message.content == "Paris."
        body = {"model": "fake", "messages": HI, "stream": True, "enable_thinking": True}
        events = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=30).text.split("\n\n")
        deltas = [json.loads(e[6:])["choices"][0]["delta"] for e in events if e.startswith("data: {")]
        said = [d["reasoning_content"] for d in deltas if d.get("reasoning_content")]
        assert "".join(said) == "The user asks for a capital." and len(said) > 1
        assert "".join(d.get("content") or "" for d in deltas) == "Paris."
