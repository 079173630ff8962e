"""OpenAI's Conversations API and the Responses API's ``conversation``, driven by the official
``openai`` client on the fake model: what a response reads, what it adds, and the items API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import openai
import pytest

from edgeqwen import Assistant, Reply
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.server.conversations import MAX_ADDED, ConversationStore
from edgeqwen.server.protocol import RequestError
from edgeqwen.server.responses import parse_responses_request
from edgeqwen.testing import FakeBackend


@contextmanager
def serving(*replies: str, kept: int = 256) -> Iterator[tuple[FakeBackend, openai.OpenAI]]:
    fake = FakeBackend(replies or ["Paris."])
    settings = ServerSettings(max_stored_responses=kept)
    with BackgroundServer(Assistant(backend=fake, policy="none"), settings) as srv:
        yield fake, openai.OpenAI(base_url=srv.base_url, api_key="none", max_retries=0)


def prompt_of(fake: FakeBackend) -> str:
    return fake.tokenizer.decode(fake.requests[-1].prompt_ids)


def test_a_response_reads_its_conversation_and_adds_its_input_and_answer():
    with serving("Hello Ada.", "Your name is Ada.") as (fake, client):
        conv = client.conversations.create(
            items=[{"type": "message", "role": "user", "content": "My name is Ada."}], metadata={"app": "demo"}
        )
        first = client.responses.create(model="m", instructions="Be brief.", input="Hi!", conversation=conv.id)
        second = client.responses.create(model="m", input="What is my name?", conversation={"id": conv.id})
        listed = client.conversations.items.list(conv.id, order="asc")
        kept = client.conversations.retrieve(conv.id)
    assert conv.id.startswith("conv_") and kept.metadata == {"app": "demo"} and kept.created_at == conv.created_at
    assert first.conversation.id == conv.id and second.output_text == "Your name is Ada."
    prompt = prompt_of(fake)
    assert prompt.index("My name is Ada.") < prompt.index("Hi!") < prompt.index("Hello Ada.") < prompt.index("name?")
    assert "Be brief." not in prompt  # instructions are the request's own (OpenAI's rule), not carried
    texts = [item.content[0].text for item in listed.data]
    assert texts == ["My name is Ada.", "Hi!", "Hello Ada.", "What is my name?", "Your name is Ada."]
    assert [item.role for item in listed.data] == ["user", "user", "assistant", "user", "assistant"]
    assert listed.data[2].id == first.output[0].id  # an answer is listed as the output item it was


def test_the_next_response_reuses_the_cache_of_the_last():
    """The conversation keeps what the model read and its answer as the token ids it wrote, so the
    next prompt starts with the last one and its answer, token for token."""
    with serving("Hello Ada.", "Noted.") as (fake, client):
        conv = client.conversations.create()
        first = client.responses.create(model="m", input="My name is Ada.", conversation=conv.id)
        second = client.responses.create(model="m", input="I like tea.", conversation=conv.id)
    first_ids, second_ids = (r.prompt_ids for r in fake.requests)
    assert second_ids[: len(first_ids)] == first_ids
    assert second.usage.input_tokens_details.cached_tokens >= first.usage.input_tokens


def test_the_items_api_lists_adds_reads_and_deletes_what_the_next_response_reads():
    with serving("Noted.") as (fake, client):
        conv = client.conversations.create()
        added = client.conversations.items.create(
            conv.id,
            items=[
                {"type": "message", "role": "user", "content": "I like tea."},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "I live in Oslo."}]},
            ],
        )
        tea, oslo = added.data
        got = client.conversations.items.retrieve(oslo.id, conversation_id=conv.id)
        newest = client.conversations.items.list(conv.id, limit=1)  # desc, OpenAI's default
        rest = client.conversations.items.list(conv.id, order="asc", after=tea.id)
        client.conversations.items.delete(tea.id, conversation_id=conv.id)
        client.responses.create(model="m", input="Where do I live?", conversation=conv.id)
        with pytest.raises(openai.NotFoundError):
            client.conversations.items.retrieve(tea.id, conversation_id=conv.id)
    assert got.content[0].text == "I live in Oslo." and tea.id.startswith("msg_")
    assert [i.id for i in newest.data] == [oslo.id] and newest.has_more is True
    assert [i.id for i in rest.data] == [oslo.id] and rest.has_more is False
    prompt = prompt_of(fake)
    assert "I live in Oslo." in prompt and "I like tea." not in prompt  # a deleted item is not read


def test_a_streamed_response_and_a_tool_call_round_trip_grow_the_conversation():
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    with serving(call, "It is sunny.") as (fake, client):
        conv = client.conversations.create()
        events = list(
            client.responses.create(model="m", input="Weather?", tools=[weather], conversation=conv.id, stream=True)
        )
        done = events[-1].response
        [fc] = [item for item in done.output if item.type == "function_call"]
        out = {"type": "function_call_output", "call_id": fc.call_id, "output": '{"sky": "sunny"}'}
        answer = client.responses.create(model="m", input=[out], tools=[weather], conversation=conv.id)
        kinds = [item.type for item in client.conversations.items.list(conv.id, order="asc").data]
    assert done.conversation.id == conv.id and answer.output_text == "It is sunny."
    assert kinds == ["message", "function_call", "function_call_output", "message"]
    assert prompt_of(fake).index("Weather?") < prompt_of(fake).index('{"sky": "sunny"}')


@pytest.mark.parametrize(
    ("body", "says", "param"),
    [
        ({"conversation": "conv_gone"}, "No conversation with id 'conv_gone' is kept here", "conversation"),
        ({"conversation": 5}, "conversation must be a conversation's id", "conversation"),
        ({"conversation": "conv_x", "previous_response_id": "resp_y"}, "not both", "conversation"),
    ],
)
def test_a_conversation_that_cannot_be_read_is_a_400_naming_it(body, says, param):
    with serving() as (fake, client):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model="m", input="Hi", **body)
    assert says in caught.value.body["message"] and caught.value.body["param"] == param
    assert not fake.requests


def test_what_the_conversations_api_refuses_says_what_to_send():
    with serving() as (_, client):
        with pytest.raises(openai.BadRequestError, match="metadata must be an object of at most 16"):
            client.conversations.create(metadata={"k": "v" * 513})
        with pytest.raises(openai.BadRequestError, match=rf"items must be a list of at most {MAX_ADDED} items"):
            client.conversations.create(items=[{"role": "user", "content": "x"}] * (MAX_ADDED + 1))
        conv = client.conversations.create()
        with pytest.raises(openai.BadRequestError) as caught:
            client.conversations.items.create(conv.id, items=[{"role": "user", "content": "ok"}, {"role": "bot"}])
        assert caught.value.body["param"] == "items[1].role"
        with pytest.raises(openai.BadRequestError, match="limit must be a whole number"):
            client.conversations.items.list(conv.id, limit=0)
        with pytest.raises(openai.NotFoundError, match="No item 'msg_x'"):
            client.conversations.items.delete("msg_x", conversation_id=conv.id)
        deleted = client.conversations.delete(conv.id)
        with pytest.raises(openai.NotFoundError, match="Create one"):
            client.conversations.retrieve(conv.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve("resp_gone")
        # these routes' answers are counted in /metrics as every other route's are (they were not)
        base = str(client.base_url).removesuffix("/").removesuffix("/v1")
        counted = httpx.get(f"{base}/metrics", params={"format": "json"}, timeout=30).json()["requests"]
        assert (counted["200"], counted["400"], counted["404"]) == (2, 4, 3)
    assert deleted.deleted is True and deleted.object == "conversation.deleted"
    with serving(kept=0) as (_, client):
        with pytest.raises(openai.BadRequestError, match="keeps no conversations"):
            client.conversations.create()


def test_the_newest_conversations_are_kept_and_one_in_use_is_the_last_to_go():
    store = ConversationStore(limit=2)
    a, b = store.create({})["id"], store.create({})["id"]
    store.messages(a)  # used: renewed
    c = store.create({})["id"]
    assert len(store) == 2 and store.body(a)["id"] == a and store.body(c)["id"] == c
    with pytest.raises(Exception, match="No conversation with id"):
        store.body(b)


def test_a_response_in_a_conversation_deleted_while_it_ran_is_answered_and_kept_nowhere():
    store = ConversationStore(limit=4)
    cid = store.create({})["id"]
    request = parse_responses_request({"input": "Hi", "conversation": cid}, 16, None, store)
    store.delete(cid)
    store.extend(cid, request, Reply(text="Hello."), {"output": []})  # no error, nothing kept
    assert len(store) == 0
    with pytest.raises(RequestError, match="keeps no conversations"):
        parse_responses_request({"input": "Hi", "conversation": cid}, 16, None, None)


def test_an_added_reference_is_kept_as_the_item_it_names():
    """The Vercel AI SDK's way of sending an earlier answer (an ``item_reference``), added to a
    conversation: listed and read as that answer, which may go from the response store first."""
    with serving("Paris.", "Yes.") as (fake, client):
        earlier = client.responses.create(model="m", input="Capital of France?")
        conv = client.conversations.create(items=[{"type": "item_reference", "id": earlier.output[0].id}])
        client.responses.create(model="m", input="Sure?", conversation=conv.id)
        [item] = client.conversations.items.list(conv.id, order="asc", limit=1).data
        with pytest.raises(openai.BadRequestError) as caught:
            client.conversations.items.create(conv.id, items=[{"type": "item_reference", "id": "msg_gone"}])
    assert item.id == earlier.output[0].id and item.content[0].text == "Paris."
    assert prompt_of(fake).index("Paris.") < prompt_of(fake).index("Sure?")
    assert caught.value.body["param"] == "items[0]" and "item_not_found" == caught.value.body["code"]
