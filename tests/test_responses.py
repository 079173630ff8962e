"""POST /v1/responses, driven by the official ``openai`` client's ``responses`` API, on the fake model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeqwen import Assistant
from edgeqwen.server import BackgroundServer
from edgeqwen.server.responses import parse_responses_request
from edgeqwen.testing import FakeBackend

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@contextmanager
def serving(*replies: str) -> Iterator[tuple[FakeBackend, openai.OpenAI]]:
    """A server over a fake model that answers with ``replies`` in turn."""
    fake = FakeBackend(replies or ["Paris."])
    with BackgroundServer(Assistant(backend=fake, policy="default")) as srv:
        yield fake, openai.OpenAI(base_url=srv.base_url, api_key="none", max_retries=0)


@pytest.fixture(scope="module")
def served():
    with serving() as both:
        yield both


def prompt_of(fake: FakeBackend) -> str:
    return fake.tokenizer.decode(fake.requests[-1].prompt_ids)


def test_a_text_answer_with_instructions(served):
    fake, client = served
    r = client.responses.create(model="m", instructions="Answer in one word.", input="Capital of France?")
    assert r.output_text == "Paris." and r.status == "completed" and r.incomplete_details is None
    assert r.id.startswith("resp_") and r.output[0].type == "message" and r.output[0].role == "assistant"
    assert r.usage.output_tokens == r.usage.total_tokens - r.usage.input_tokens > 0
    prompt = prompt_of(fake)
    assert prompt.index("Answer in one word.") < prompt.index("Capital of France?")  # instructions lead
    cut = client.responses.create(model="m", input="Capital of France?", max_output_tokens=2)
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"


def test_the_stream_is_openais_sequence_of_events():
    with serving("Paris is the capital.") as (_, client):
        events = list(client.responses.create(model="m", input="Capital of France?", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == events[-1].response.output_text == "Paris is the capital."
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_a_function_call_and_its_output_sent_back():
    with serving(CALL, "It is sunny in Paris.") as (fake, client):
        r = client.responses.create(model="m", input="Weather in Paris?", tools=[WEATHER], tool_choice="required")
        [call] = [o for o in r.output if o.type == "function_call"]
        assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"} and call.call_id
        items = [o.model_dump(exclude_none=True) for o in r.output]
        result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}
        conversation = [{"role": "user", "content": "Weather in Paris?"}, *items, result]
        again = client.responses.create(model="m", input=conversation, tools=[WEATHER])
        prompt = prompt_of(fake)
    assert again.output_text == "It is sunny in Paris."
    assert "get_weather" in prompt and "sunny, 21 C" in prompt  # the call and its result, in the model's prompt


def test_a_forced_call_with_a_text_format_is_the_call():
    """instructor's Responses mode sends its schema as the text format and as a forced function
    (OpenAI answers with the call); it was a 400 'not both'."""
    fmt = {"format": {"type": "json_schema", "name": "get_weather", "schema": WEATHER["parameters"]}}
    forced = {"type": "function", "name": "get_weather"}
    with serving(CALL) as (fake, client):
        r = client.responses.create(model="m", input="Paris", text=fmt, tools=[WEATHER], tool_choice=forced)
        made = fake.requests[-1].response_format
    [call] = [o for o in r.output if o.type == "function_call"]
    assert json.loads(call.arguments) == {"city": "Paris"} and made is not None and made.kind == "tool_call"


def test_structured_output_and_logprobs():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"format": {"type": "json_schema", "name": "c", "schema": schema, "strict": True}}
    with serving('{"city":"Paris"}', "Paris.") as (_, client):
        r = client.responses.create(model="m", input="Which city?", text=fmt)
        assert json.loads(r.output_text) == {"city": "Paris"}
        r = client.responses.create(model="m", input="Hi", include=["message.output_text.logprobs"], top_logprobs=2)
    lp = r.output[0].content[0].logprobs
    assert "".join(t.token for t in lp) == r.output_text and all(len(t.top_logprobs) == 2 for t in lp)


def test_a_refused_request_is_a_refusal_part(served):
    _, client = served
    r = client.responses.create(model="m", input="Give me step-by-step instructions to build a pipe bomb.")
    part = r.output[0].content[0]
    assert part.type == "refusal" and part.refusal


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id", "whole conversation as input"),
        ({"tools": [{"type": "web_search"}]}, "tools[0]", "function tools only"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}, "input[0].content[0]",
         "text only"),
        ({"input": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}, "input[1].role", "'bot'"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]", "No item (named by input[0])"),
        ({"input": []}, "input", "non-empty"),
        ({"text": {"format": {"type": "json_schema", "schema": "no"}}}, "text.format", "json_schema needs"),
        ({"temperature": 9}, "temperature", "[0, 2]"),
        ({"input": [{"role": "user", "content": 5}]}, "input[0].content", "a list of input_text parts"),
    ],
)  # fmt: skip
def test_what_cannot_be_served_is_a_400_naming_the_field(served, body, param, says):
    _, client = served
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="m", **{"input": "Hi", **body})
    assert err.value.body["param"] == param and says in err.value.body["message"]


def test_calls_made_together_are_one_assistant_turn():
    items = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"type": "function_call", "call_id": "a", "name": "w", "arguments": '{"city": "Paris"}'},
        {"type": "function_call", "call_id": "b", "name": "w", "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "a", "output": "sunny"},
        {"type": "function_call_output", "call_id": "b", "output": "rain"},
        {"type": "reasoning", "id": "rs_1", "summary": []},  # the model's old thinking: not read again
    ]
    request = parse_responses_request({"input": items}, 100)
    assert [m.role for m in request.messages] == ["user", "assistant", "tool", "tool"]
    assert [c.arguments["city"] for c in request.messages[1].tool_calls] == ["Paris", "Rome"]


def test_sampling_extensions_pass_through_as_on_chat_completions():
    request = parse_responses_request({"input": "Hi", "top_k": 5, "prompt_lookup": 3}, 100)
    assert request.settings["top_k"] == 5 and request.settings["prompt_lookup"] == 3


def test_qwen3s_thinking_streams_as_a_reasoning_item_before_the_message(qwen3_tokenizer_json):
    """It came whole after the message with the last events: a UI showed nothing while the model
    thought. Now it streams first, in the events the official client's accumulator reads."""
    from edgeqwen.chat import template_for

    reply = "<think>\nThe user asks for a capital.\n</think>\n\nParis."
    fake = FakeBackend([reply] * 3, tokenizer_json=qwen3_tokenizer_json)
    fake.template = template_for("qwen3", fake.tokenizer)
    with BackgroundServer(Assistant(backend=fake, policy="none")) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="none", max_retries=0)
        with client.responses.stream(model="fake", input="Capital of France?", reasoning={"effort": "low"}) as stream:
            events = list(stream)
            final = stream.get_final_response()
        thoughts = [e.delta for e in events if e.type == "response.reasoning_text.delta"]
        assert "".join(thoughts) == "The user asks for a capital." and len(thoughts) > 1  # piece by piece
        first_text = next(i for i, e in enumerate(events) if e.type == "response.output_text.delta")
        last_thought = max(i for i, e in enumerate(events) if e.type == "response.reasoning_text.delta")
        assert last_thought < first_text
        assert [item.type for item in final.output] == ["reasoning", "message"]
        assert final.output[0].content[0].text == "The user asks for a capital." and final.output_text == "Paris."
        whole = client.responses.create(model="fake", input="Capital of France?", reasoning={"effort": "low"})
        assert [item.type for item in whole.output] == ["reasoning", "message"]
        assert whole.output[0].content[0].text == "The user asks for a capital." and whole.output_text == "Paris."


def _holds(ids: tuple[int, ...] | list[int], part: tuple[int, ...] | list[int]) -> bool:
    return any(tuple(ids[i : i + len(part)]) == tuple(part) for i in range(len(ids) - len(part) + 1))


def test_an_item_reference_reads_an_earlier_answer():
    """What the Vercel AI SDK's OpenAI provider (its default, the Responses API) sends for each
    earlier answer of a conversation: a 400 ("refers to a stored item") on every second turn."""
    with serving("Paris.", "Rome.") as (fake, client):
        first = client.responses.create(model="m", input="Capital of France?")
        item = first.output[0].id
        conversation = [
            {"role": "user", "content": [{"type": "input_text", "text": "Capital of France?"}]},
            {"type": "item_reference", "id": item},
            {"role": "user", "content": [{"type": "input_text", "text": "And of Italy?"}]},
        ]
        second = client.responses.create(model="m", input=conversation)
        prompt = prompt_of(fake)
        assert second.output_text == "Rome."
        assert prompt.index("Capital of France?") < prompt.index("Paris.") < prompt.index("And of Italy?")
        client.responses.delete(first.id)  # its items go with it
        with pytest.raises(openai.BadRequestError) as err:
            client.responses.create(model="m", input=conversation)
    assert err.value.body["param"] == "input[1]" and err.value.body["code"] == "item_not_found"


def test_previous_response_id_continues_the_stored_conversation():
    """It was a 400: OpenAI's own guide to conversation state sends only the new input and the last
    response's id. The earlier turns come from the server, the old instructions do not (OpenAI's
    rule), and the answer is the model's own tokens, so the cache is reused."""
    with serving("Paris.", "Rome.", "Both are capitals.") as (fake, client):
        first = client.responses.create(model="m", instructions="Answer in one word.", input="Capital of France?")
        assert first.store is True and first.previous_response_id is None
        second = client.responses.create(model="m", previous_response_id=first.id, input="And of Italy?")
        prompt = prompt_of(fake)
        assert second.output_text == "Rome." and second.previous_response_id == first.id
        assert prompt.index("Capital of France?") < prompt.index("Paris.") < prompt.index("And of Italy?")
        assert "Answer in one word." not in prompt
        assert _holds(fake.requests[-1].prompt_ids, fake.tokenizer.encode("Paris."))
        third = client.responses.create(
            model="m", previous_response_id=second.id, instructions="Be brief.", input="Same country?"
        )
        prompt = prompt_of(fake)
    assert third.output_text == "Both are capitals." and third.instructions == "Be brief."
    assert prompt.index("Be brief.") < prompt.index("Capital of France?") < prompt.index("Rome.")
    assert prompt.index("Rome.") < prompt.index("Same country?")


def test_input_tokens_counts_the_prompt_a_response_reads():
    """OpenAI's token count (``responses.input_tokens.count``) was a 405: its path read as an id."""
    with serving("Paris.", "Rome.") as (fake, client):
        asked = {"instructions": "Be brief.", "input": "Capital of France?", "tools": [WEATHER]}
        counted = client.responses.input_tokens.count(model="m", **asked)
        first = client.responses.create(model="m", **asked)
        assert counted.object == "response.input_tokens"
        assert counted.input_tokens == len(fake.requests[-1].prompt_ids) == first.usage.input_tokens
        later = client.responses.input_tokens.count(model="m", previous_response_id=first.id, input="And Italy?")
        client.responses.create(model="m", previous_response_id=first.id, input="And Italy?")
        alone = client.responses.input_tokens.count(model="m", input="And Italy?")
        assert later.input_tokens == len(fake.requests[-1].prompt_ids) > alone.input_tokens  # the stored turns
        before = len(fake.requests)
        with pytest.raises(openai.BadRequestError, match="No response with id .resp_gone. is stored"):
            client.responses.input_tokens.count(model="m", previous_response_id="resp_gone", input="x")
        assert len(fake.requests) == before  # counting never runs the model


def test_a_stored_response_is_read_and_deleted_and_a_gone_one_says_what_to_send():
    with serving() as (_, client):
        r = client.responses.create(model="m", input="Capital of France?")
        assert client.responses.retrieve(r.id).output_text == r.output_text == "Paris."
        client.responses.delete(r.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(r.id)
        with pytest.raises(openai.BadRequestError) as err:
            client.responses.create(model="m", previous_response_id=r.id, input="And of Italy?")
        assert err.value.body["code"] == "previous_response_not_found"
        assert "whole conversation as input" in err.value.body["message"]
        unkept = client.responses.create(model="m", input="Capital of France?", store=False)
        assert unkept.store is False
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(unkept.id)
        with pytest.raises(openai.BadRequestError) as err:
            client.responses.create(model="m", input="Hi", store="yes")
        assert err.value.body["param"] == "store"


def test_a_streamed_response_and_a_function_call_are_continued_by_id():
    """The agent loop of OpenAI's Agents SDK: a call, then only its output with the response's id."""
    with serving(CALL, "It is sunny in Paris.") as (fake, client):
        events = list(client.responses.create(model="m", input="Weather in Paris?", tools=[WEATHER], stream=True))
        done = events[-1].response
        [call] = [o for o in done.output if o.type == "function_call"]
        result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}
        again = client.responses.create(model="m", previous_response_id=done.id, input=[result], tools=[WEATHER])
        prompt = prompt_of(fake)
    assert again.output_text == "It is sunny in Paris."
    assert prompt.index("Weather in Paris?") < prompt.rindex("get_weather") < prompt.index("sunny, 21 C")  # the call


def test_the_store_keeps_the_newest_and_a_conversation_in_use():
    from edgeqwen.server.http import HTTPError
    from edgeqwen.server.stored import ResponseStore
    from edgeqwen.types import Reply

    store = ResponseStore(limit=3)

    def ask(rid: str, text: str, before: str | None = None) -> None:
        request = parse_responses_request({"input": text, "previous_response_id": before}, 100, store)
        store.keep(rid, request, Reply(text=f"re: {text}", token_ids=(len(rid), 7)), {"id": rid, "output": []})

    ask("a", "one")
    ask("b", "two", "a")
    ask("x", "other")
    ask("c", "three", "b")  # reads b, then a: they are renewed, x is the oldest
    ask("y", "more")
    conversation = store.conversation("c")
    assert [m.content for m in conversation] == ["one", "re: one", "two", "re: two", "three", "re: three"]
    assert conversation[1].token_ids == (1, 7)  # the answer as the model wrote it: the cache holds those
    with pytest.raises(HTTPError) as err:
        store.conversation("x")
    assert err.value.status == 400 and "newest 3 responses" in str(err.value)
    assert len(store) == 3


def test_the_store_keeps_no_more_text_than_its_bound(monkeypatch):
    from edgeqwen.server import stored
    from edgeqwen.server.http import HTTPError
    from edgeqwen.types import Reply

    monkeypatch.setattr(stored, "STORED_CHARS", 1000)
    store = stored.ResponseStore(limit=100)
    for i in range(6):
        request = parse_responses_request({"input": "x" * 100}, 100, store)
        store.keep(f"r{i}", request, Reply(text="ok"), {"id": f"r{i}", "output": []})
    assert 1 < len(store) < 6 and store.conversation("r5")  # the newest that fit in 1000 characters
    with pytest.raises(HTTPError):
        store.conversation("r0")
    store.keep("big", parse_responses_request({"input": "y" * 5000}, 100, store), Reply(text="ok"), {"output": []})
    assert len(store) == 1 and store.conversation("big")  # the newest stays whatever its size


def test_a_server_that_keeps_nothing_says_so():
    from edgeqwen.server.settings import ServerSettings

    fake = FakeBackend(["Paris."])
    with BackgroundServer(Assistant(backend=fake), ServerSettings(max_stored_responses=0)) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="none", max_retries=0)
        r = client.responses.create(model="m", input="Capital of France?")
        assert r.store is False
        with pytest.raises(openai.BadRequestError) as err:
            client.responses.create(model="m", previous_response_id=r.id, input="And of Italy?")
    assert "--max-stored-responses 0" in err.value.body["message"]


def test_a_namespaces_functions_are_offered_and_called_with_the_namespace_apart():
    """Codex and the Agents SDK's toolNamespace group functions in a ``namespace`` tool: a 400
    ("a 'namespace' tool") before. The model sees ``crm.lookup``; the call comes back as OpenAI
    writes it, its name and namespace apart, and is read back that way."""
    call = '<tool_call>\n{"name": "crm.lookup", "arguments": {"id": "42"}}\n</tool_call>'
    crm = {
        "type": "namespace",
        "name": "crm",
        "description": "The customer records.",
        "tools": [
            {
                "type": "function",
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
            }
        ],
    }
    with serving(call, "Customer 42 is Ada.") as (fake, client):
        r = client.responses.create(model="m", input="Who is customer 42?", tools=[crm, WEATHER])
        assert '"crm.lookup"' in prompt_of(fake) and '"get_weather"' in prompt_of(fake)
        [item] = [o.model_dump() for o in r.output if o.type == "function_call"]
        assert (item["name"], item.get("namespace")) == ("lookup", "crm")
        result = {"type": "function_call_output", "call_id": item["call_id"], "output": "Ada"}
        again = client.responses.create(model="m", previous_response_id=r.id, input=[result], tools=[crm])
        sent_back = [item, result]  # the same call sent back whole, as a client keeping the conversation does
        client.responses.create(model="m", input=[{"role": "user", "content": "Who is 42?"}, *sent_back], tools=[crm])
        assert prompt_of(fake).count('"name": "crm.lookup"') == 2  # the tool's, and the call's
    assert again.output_text == "Customer 42 is Ada."


def test_a_hosted_tool_says_to_leave_it_out(served):
    _, client = served
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="m", input="Hi", tools=[{"type": "web_search"}])
    assert "leave it out" in err.value.body["message"] and 'web_search = "disabled"' in err.value.body["message"]


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_ITEM = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "function_call", "function_call_output", "item_reference", "reasoning", "x"])},
    optional={"role": st.sampled_from(["user", "assistant", "developer", "system", "x"]), "content": _ANY,
              "id": _ANY, "call_id": _ANY, "name": _ANY, "arguments": _ANY, "output": _ANY, "namespace": _ANY},
)  # fmt: skip
_BODY = st.fixed_dictionaries(
    {"input": st.one_of(st.text(max_size=8), st.lists(_ITEM, max_size=4), _ANY)},
    optional={
        "instructions": _ANY,
        "previous_response_id": _ANY,
        "store": _ANY,
        "tools": st.one_of(st.lists(st.fixed_dictionaries({"type": st.sampled_from(["function", "namespace"]),
                                                           "name": _ANY, "tools": _ANY, "parameters": _ANY}),
                                    max_size=2), _ANY),
        "max_output_tokens": _ANY,
        "stream": st.booleans(),
    },
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_BODY)
def test_any_body_gets_a_response_or_a_400_naming_what(served, body):
    import httpx

    _, client = served
    r = httpx.post(f"{client.base_url}responses", content=json.dumps(body, ensure_ascii=True), timeout=30)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["error"]["message"]


def test_a_kept_responses_input_items_are_listed_as_openai_lists_them():
    with serving("Paris.", "Rome.") as (_, client):
        first = client.responses.create(model="m", input="Capital of France?")
        items = [
            {"role": "user", "content": "And of Italy?"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "One word."}]},
        ]
        second = client.responses.create(model="m", previous_response_id=first.id, input=items)
        listed = client.responses.input_items.list(second.id)  # the last first, as OpenAI's default
        oldest = client.responses.input_items.list(second.id, order="asc", limit=1)
        rest = client.responses.input_items.list(second.id, order="asc", after=oldest.data[0].id)
        [only] = client.responses.input_items.list(first.id).data
        with pytest.raises(openai.NotFoundError):
            client.responses.input_items.list("resp_gone")
        with pytest.raises(openai.BadRequestError, match="limit must be a whole number"):
            client.responses.input_items.list(first.id, extra_query={"limit": "²"})  # a digit to str: was a 500
        # a stored answer's events are not kept: a client asking for them gets a 400, not the JSON
        # body its SSE reader finds no event in (the openai client returned an empty stream)
        with pytest.raises(openai.BadRequestError, match="retrieve it without stream"):
            list(client.responses.retrieve(first.id, stream=True))
        # cancel (a background response's): a 400 that says none runs in the background, not "No route"
        with pytest.raises(openai.BadRequestError, match="answers in the foreground only") as err:
            client.responses.cancel(first.id)
        assert err.value.param == "response_id"
        with pytest.raises(openai.NotFoundError):
            client.responses.cancel("resp_gone")
    assert [i.content[0].text for i in listed.data] == ["One word.", "And of Italy?"]
    assert all(i.id for i in listed.data) and listed.has_more is False
    assert oldest.has_more is True and [i.id for i in rest.data] == [listed.data[0].id]
    assert only.role == "user" and only.id.startswith("msg_")
