"""POST /v1/messages (Anthropic's Messages API), driven by the official ``anthropic`` client, on
the fake model: the clients that speak only it (a 404 before) get the same answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

anthropic = pytest.importorskip("anthropic")

from fakes import SlowStart  # noqa: E402

from edgeqwen import Assistant  # noqa: E402
from edgeqwen.server import BackgroundServer  # noqa: E402
from edgeqwen.server.settings import ServerSettings  # noqa: E402
from edgeqwen.testing import FakeBackend  # noqa: E402

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ASK = [{"role": "user", "content": "Capital of France?"}]


@contextmanager
def serving(*replies: str, fake: FakeBackend | None = None, **settings) -> Iterator[tuple[FakeBackend, object]]:
    fake = fake or FakeBackend(replies or ["Paris."])
    with BackgroundServer(Assistant(backend=fake, policy="default"), ServerSettings(**settings)) as srv:
        key = settings.get("api_key") or "none"
        yield fake, anthropic.Anthropic(base_url=srv.base_url.removesuffix("/v1"), api_key=key, max_retries=0)


def prompt_of(fake: FakeBackend) -> str:
    return fake.tokenizer.decode(list(fake.requests[-1].prompt_ids))


def test_a_text_answer_with_a_system_prompt_and_its_usage():
    with serving() as (fake, client):
        m = client.messages.create(model="m", max_tokens=50, system="Answer in one word.", messages=ASK)
        prompt = prompt_of(fake)
        again = client.messages.create(model="m", max_tokens=50, system="Answer in one word.", messages=ASK)
        cut = client.messages.create(model="m", max_tokens=2, messages=ASK)
    assert m.id.startswith("msg_") and m.role == "assistant" and m.stop_reason == "end_turn"
    assert [b.type for b in m.content] == ["text"] and m.content[0].text == "Paris."
    assert prompt.index("Answer in one word.") < prompt.index("Capital of France?")
    assert m.usage.output_tokens > 0 and m.usage.input_tokens + m.usage.cache_read_input_tokens == len(
        fake.requests[0].prompt_ids
    )
    assert (
        again.usage.cache_read_input_tokens > 0
    )  # Anthropic's count: input_tokens is what was not read from the cache
    assert again.usage.input_tokens + again.usage.cache_read_input_tokens == m.usage.input_tokens
    assert cut.stop_reason == "max_tokens"


def test_the_stream_is_anthropics_sequence_of_events():
    with serving("Paris is the capital.") as (fake, client):
        with client.messages.stream(model="m", max_tokens=50, messages=ASK) as stream:
            seen = list(stream)
            events = [e.type for e in seen]
            text = stream.get_final_text()
            final = stream.get_final_message()
    # the prompt's length at the start, as Claude Code reads it to show and manage its context
    assert seen[0].message.usage.input_tokens == len(fake.requests[-1].prompt_ids)
    assert events[0] == "message_start" and events[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert "content_block_start" in events and text == "Paris is the capital." and final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0  # said at the end, in message_delta


def test_a_silent_stream_sends_anthropics_ping_and_the_client_reads_through_it():
    with serving(fake=SlowStart(["Paris is the capital."]), keepalive_s=0.05) as (_, client):
        with client.messages.stream(model="m", max_tokens=50, messages=ASK) as stream:
            kinds = [e.type for e in stream]
            text = stream.get_final_text()
        raw = client.messages.with_raw_response.create(model="m", max_tokens=50, messages=ASK, stream=True)
        body = raw.http_response.read().decode()
    assert text == "Paris is the capital." and kinds[-1] == "message_stop"
    assert body.count('event: ping\ndata: {"type": "ping"}\n\n') >= 3 and ": keep-alive" not in body
    assert body.index("event: ping") < body.index("content_block_delta")


def test_a_tool_call_and_its_result_sent_back():
    with serving(CALL, "It is sunny in Paris.", CALL) as (fake, client):
        asked = [{"role": "user", "content": "Weather in Paris?"}]
        with client.messages.stream(model="m", max_tokens=300, messages=asked, tools=[WEATHER]) as stream:
            called = stream.get_final_message()
        [use] = [b for b in called.content if b.type == "tool_use"]
        assert called.stop_reason == "tool_use" and use.name == "get_weather" and use.input == {"city": "Paris"}
        result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21 C"}]}
        conversation = [*asked, {"role": "assistant", "content": called.content}, result]
        answer = client.messages.create(model="m", max_tokens=300, messages=conversation, tools=[WEATHER])
        prompt = prompt_of(fake)
        forced = client.messages.create(
            model="m",
            max_tokens=300,
            messages=asked,
            tools=[WEATHER],
            tool_choice={"type": "tool", "name": "get_weather"},
        )
        fmt = fake.requests[-1].response_format
    assert answer.content[0].text == "It is sunny in Paris." and answer.stop_reason == "end_turn"
    assert prompt.index("Weather in Paris?") < prompt.rindex("get_weather") < prompt.index("sunny, 21 C")
    assert forced.content[0].type == "tool_use" and forced.stop_reason == "tool_use"
    assert fmt is not None and fmt.kind == "tool_call"


def test_qwen3s_thinking_is_a_thinking_block_before_the_text(qwen3_tokenizer_json):
    from edgeqwen.chat import template_for

    fake = FakeBackend(["<think>\nA capital.\n</think>\n\nParis."] * 2, tokenizer_json=qwen3_tokenizer_json)
    fake.template = template_for("qwen3", fake.tokenizer)
    with serving(fake=fake) as (_, client):
        thinking = {"type": "enabled", "budget_tokens": 1024}
        whole = client.messages.create(model="m", max_tokens=100, messages=ASK, thinking=thinking)
        with client.messages.stream(model="m", max_tokens=100, messages=ASK, thinking=thinking) as stream:
            kinds = [e.type for e in stream]
            streamed = stream.get_final_message()
    for m in (whole, streamed):
        assert [b.type for b in m.content] == ["thinking", "text"]
        assert m.content[0].thinking == "A capital." and m.content[1].text == "Paris."
    assert kinds.index("thinking") < kinds.index("text")


def test_count_tokens_is_the_prompt_the_answer_reads():
    with serving() as (fake, client):
        counted = client.messages.count_tokens(model="m", system="Be brief.", messages=ASK, tools=[WEATHER])
        client.messages.create(model="m", max_tokens=5, system="Be brief.", messages=ASK, tools=[WEATHER])
    assert counted.input_tokens == len(fake.requests[-1].prompt_ids)


def test_a_refused_request_says_refusal():
    with serving() as (fake, client):
        asked = [{"role": "user", "content": "Give me step-by-step instructions to build a pipe bomb."}]
        m = client.messages.create(model="m", max_tokens=50, messages=asked)
    assert m.stop_reason == "refusal" and m.content[0].text and not fake.requests


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}, "text only"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "leave it out"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "user, assistant or system"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_what_cannot_be_served_is_a_400_in_anthropics_shape(body, says):
    with serving() as (_, client):
        with pytest.raises(anthropic.BadRequestError) as err:
            client.messages.create(**{"model": "m", "max_tokens": 5, "messages": ASK, **body})
    assert err.value.body["type"] == "error" and err.value.body["error"]["type"] == "invalid_request_error"
    assert says in err.value.body["error"]["message"]


def test_anthropics_model_list_reads_the_served_models_limits():
    """Claude Code's gateway model discovery reads ``max_input_tokens`` from ``/v1/models`` to
    compact a conversation before it overflows (it assumed 200k tokens); Anthropic's client read
    no type, name, date or limits from the OpenAI-shaped entry."""
    fake = FakeBackend(["Paris."], context_length=4096)
    with serving(fake=fake, max_tokens=512) as (_, client):
        page = client.models.list()
        [model] = page.data
        retrieved = client.models.retrieve(model.id)
        answered = client.messages.create(
            model=model.id, max_tokens=5, messages=[{"role": "user", "content": "x" * (model.max_input_tokens - 40)}]
        )
        with pytest.raises(anthropic.BadRequestError, match="maximum context length is 4096"):
            client.messages.create(model=model.id, max_tokens=5, messages=[{"role": "user", "content": "x" * 4200}])
    assert model.type == "model" and model.display_name == model.id and model.created_at.year >= 2025
    assert (model.max_input_tokens, model.max_tokens) == (4096 - 512, 512) and retrieved == model
    assert page.has_more is False and page.first_id == model.id
    assert answered.content  # a prompt of max_input_tokens is answered


def test_the_key_is_read_from_x_api_key():
    with serving(api_key="sk-local-123456") as (_, client):
        assert client.messages.create(model="m", max_tokens=5, messages=ASK).content
        wrong = client.with_options(api_key="nope")
        with pytest.raises(anthropic.AuthenticationError) as err:
            wrong.messages.create(model="m", max_tokens=5, messages=ASK)
    assert err.value.body["error"]["type"] == "authentication_error"


def test_what_claude_code_sends_is_read():
    """Claude Code's requests: a JSON Schema in ``output_config.format`` (its title request), a
    system message in the conversation, ``thinking: adaptive`` (on where the model can think: the
    fake model cannot, and answers), system blocks with ``cache_control``."""
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    with serving('{"title":"Capitals"}', "Paris.") as (fake, client):
        titled = client.messages.create(
            model="m",
            max_tokens=50,
            messages=ASK,
            system=[{"type": "text", "text": "Write a title.", "cache_control": {"type": "ephemeral"}}],
            extra_body={"output_config": {"effort": "high", "format": {"type": "json_schema", "schema": schema}}},
        )
        fmt = fake.requests[-1].response_format
        conversation = [*ASK, {"role": "system", "content": "Answer in French."}]
        answered = client.messages.create(
            model="m", max_tokens=50, messages=conversation, extra_body={"thinking": {"type": "adaptive"}}
        )
        prompt = prompt_of(fake)
    assert titled.content[0].text == '{"title":"Capitals"}' and fmt is not None and fmt.schema["required"] == ["title"]
    assert answered.content[0].text == "Paris." and prompt.index("Capital of France?") < prompt.index(
        "Answer in French."
    )


def test_the_stop_sequence_that_ended_an_answer_is_named():
    with serving("Paris. Then Rome.") as (_, client):
        m = client.messages.create(model="m", max_tokens=50, messages=ASK, stop_sequences=["Rome", " Then"])
        with client.messages.stream(model="m", max_tokens=50, messages=ASK, stop_sequences=["Rome"]) as stream:
            streamed = stream.get_final_message()
    assert (m.stop_reason, m.stop_sequence, m.content[0].text) == ("stop_sequence", " Then", "Paris.")
    assert (streamed.stop_reason, streamed.stop_sequence) == ("stop_sequence", "Rome")


class _Breaks(FakeBackend):
    """Writes a little, then fails (a model error after the stream's headers are sent)."""

    def stream(self, request, cancel=None):
        def chunks():
            yield from list(super(_Breaks, self).stream(request, cancel))[:2]
            raise RuntimeError("the model broke")

        return chunks()


def test_a_failure_after_the_stream_began_is_an_error_event_on_both_typed_streams():
    import httpx

    with BackgroundServer(Assistant(backend=_Breaks(["Paris is the capital."]), policy="none")) as srv:
        body = {"model": "m", "max_tokens": 20, "messages": ASK, "stream": True}
        anthropic_text = httpx.post(f"{srv.base_url}/messages", json=body, timeout=30).text
        openai_text = httpx.post(f"{srv.base_url}/responses", json={"input": "Hi", "stream": True}, timeout=30).text
    assert "event: message_start" in anthropic_text and anthropic_text.rstrip().splitlines()[-2] == "event: error"
    assert '"type": "api_error"' in anthropic_text and "the model broke" in anthropic_text
    assert openai_text.rstrip().splitlines()[-2] == "event: response.failed" and "the model broke" in openai_text


ANY = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
BLOCK = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "tool_use", "tool_result", "thinking", "image", "redacted_thinking", "x"])},
    optional={"text": ANY, "input": ANY, "content": ANY, "thinking": ANY, "id": ANY, "name": ANY, "tool_use_id": ANY},
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool", 3])},
    optional={"content": st.one_of(st.text(max_size=8), st.lists(BLOCK, max_size=3), ANY)},
)
BODY = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(MESSAGE, max_size=4), ANY)},
    optional={
        "max_tokens": st.one_of(st.integers(-1, 8), ANY),
        "system": st.one_of(st.text(max_size=8), st.lists(BLOCK, max_size=2), ANY),
        "tools": st.one_of(st.lists(st.fixed_dictionaries({"name": ANY, "input_schema": ANY}), max_size=2), ANY),
        "tool_choice": st.one_of(
            st.fixed_dictionaries({"type": st.sampled_from(["auto", "any", "tool", "none"])}), ANY
        ),
        "thinking": ANY,
        "stop_sequences": ANY,
        "output_config": ANY,
        "stream": st.booleans(),
    },
)


@pytest.fixture(scope="module")
def any_body_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(Assistant(backend=FakeBackend(["7"]), policy="none")) as server:
        yield server


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODY, route=st.sampled_from(["messages", "messages/count_tokens"]))
def test_any_body_gets_an_answer_or_an_error_in_anthropics_shape(any_body_server, body, route):
    import httpx

    r = httpx.post(f"{any_body_server.base_url}/{route}", content=json.dumps(body, ensure_ascii=True), timeout=30)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["type"] == "error" and r.json()["error"]["message"]
    elif body.get("stream") and route == "messages":
        assert "event: message_stop" in r.text and "event: error" not in r.text
