"""Messages as OpenAI's chat-completions dicts: read into Messages by the Python API as the server
reads them, the same prompt either way, and a bad one named, never a traceback."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeqwen import Assistant, InvalidRequestError, Message, ToolCall
from edgeqwen.aio import AsyncAssistant
from edgeqwen.message_dicts import content_text, message_of
from edgeqwen.testing import FakeBackend

CONVERSATION = [
    {"role": "developer", "content": "Answer briefly."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in "}, {"type": "text", "text": "Paris?"}]},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": '{"celsius": 21}'},
]
SAME = [
    Message("system", "Answer briefly."),
    Message("user", "Weather in Paris?"),
    Message("assistant", tool_calls=(ToolCall("weather", {"city": "Paris"}),)),
    Message("tool", '{"celsius": 21}'),
]
TOOLS = [{"name": "weather", "description": "The weather in a city.", "parameters": {"type": "object"}}]


def test_each_dict_is_read_as_the_message_it_means():
    assert [message_of(m) for m in CONVERSATION] == SAME
    thought = message_of({"role": "assistant", "content": "42", "reasoning_content": "6 times 7"})
    assert thought == Message("assistant", "42", thinking="6 times 7")
    # arguments as a dict (what Python code often builds) read as the JSON text would be
    call = {"function": {"name": "weather", "arguments": {"city": "Paris"}}}
    assert message_of({"role": "assistant", "tool_calls": [call]}) == SAME[2]


def test_a_conversation_of_dicts_is_answered_as_the_same_messages_are():
    fake = FakeBackend(replies=["21 degrees."])
    bot = Assistant(backend=fake, tools=TOOLS, max_tokens=32)
    assert bot.prompt_tokens(CONVERSATION) == bot.prompt_tokens(SAME)
    assert bot.answer(CONVERSATION).reply().text == "21 degrees."
    assert bot.answer(SAME).reply().text == "21 degrees."
    assert fake.requests[0].prompt_ids == fake.requests[1].prompt_ids
    assert bot.history == ()  # answer() keeps nothing: the caller holds the conversation


def test_chat_takes_new_messages_as_dicts_and_keeps_them_as_messages():
    fake = FakeBackend(replies=["Hi.", "Fine."])
    bot = Assistant(backend=fake, max_tokens=32)
    bot.chat([{"role": "user", "content": "Hello"}])
    bot.chat([Message("user", "How are you?")])  # the two forms mix across turns
    assert bot.history == (
        Message("user", "Hello"),
        bot.history[1],
        Message("user", "How are you?"),
        bot.history[3],
    )
    assert [m.content for m in bot.history[1::2]] == ["Hi.", "Fine."]


def test_the_async_assistant_takes_dicts_too():
    async def ask() -> str:
        bot = AsyncAssistant(Assistant(backend=FakeBackend(replies=["Paris."]), max_tokens=32))
        stream = await bot.answer([{"role": "user", "content": "Capital of France?"}])
        return (await stream.reply()).text

    assert asyncio.run(asyncio.wait_for(ask(), 20)) == "Paris."


@pytest.mark.parametrize(
    ("bad", "says", "param"),
    [
        ([{"role": "bot", "content": "x"}], "role must be one of system, developer", "messages[0].role"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            "is a 'image_url' part; edgeqwen takes text only",
            "messages[0].content",
        ),
        (
            [{"role": "user", "content": {"text": "hi"}}],
            "must be a string or a list of text parts",
            "messages[0].content",
        ),
        (  # a call with no arguments reads as one with none; its result is what is missing
            [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}],
            "send each call's result as a tool message after it",
            "messages",
        ),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}],
            "arguments is not valid JSON",
            "messages[0].tool_calls[0]",
        ),
        ([{"role": "user", "content": "hi"}, 3], "must be an edgeqwen.Message or a dict", "messages[1]"),
        ([{"role": "user", "content": b"hi"}], "must be text \\(str\\), got bytes", "messages[0].content"),
    ],
)
def test_a_bad_dict_is_named_with_what_to_send(bad, says, param):
    bot = Assistant(backend=FakeBackend(), max_tokens=4)
    with pytest.raises(InvalidRequestError, match=says) as caught:
        bot.answer(bad)
    assert caught.value.param == param
    with pytest.raises(InvalidRequestError):  # as new messages too (bad3 then for its last turn's role)
        bot.chat(bad)
    assert bot.history == ()


def test_one_dict_alone_is_told_to_come_in_a_list():
    bot = Assistant(backend=FakeBackend(), max_tokens=4)
    says = r"Pass new messages as a list: \[\{'role': 'user', 'content': ...\}\], not one message"
    with pytest.raises(InvalidRequestError, match=says):
        bot.chat({"role": "user", "content": "hi"})  # type: ignore[arg-type]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
MESSAGE_KEYS = st.sampled_from(["role", "content", "tool_calls", "reasoning_content", "function", "type", "text"])


@given(
    st.dictionaries(
        MESSAGE_KEYS, JSONISH | st.sampled_from(["user", "assistant", "tool", "developer", "text"]), max_size=4
    )
)
def test_any_dict_is_a_message_or_an_error_that_names_its_field(value):
    try:
        message = message_of(value, "messages[0]")
    except InvalidRequestError as exc:
        assert exc.param is not None and exc.param.startswith("messages[0]")
    else:
        assert isinstance(message, Message)
        assert message.content == content_text(value.get("content"), "c")
        sent_calls = value.get("tool_calls") if message.role == "assistant" else None  # another's are not read
        for call, sent in zip(message.tool_calls, sent_calls or [], strict=True):
            args = sent["function"].get("arguments", "{}")
            assert call.arguments == (json.loads(args or "{}") if isinstance(args, str) else args)


MESSAGE = st.builds(
    Message,
    role=st.sampled_from(["system", "user", "assistant", "tool"]),
    content=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)


@given(st.lists(MESSAGE, max_size=6))
def test_a_message_written_as_a_dict_reads_back_the_same(messages):
    from edgeqwen.message_dicts import message_dict

    assert [message_of(message_dict(m)) for m in messages] == messages
    assert [message_of(json.loads(json.dumps(message_dict(m)))) for m in SAME] == SAME
    thinking = Message("assistant", "Paris.", thinking="The capital.", tool_calls=SAME[2].tool_calls)
    assert message_of(message_dict(thinking)) == thinking


def test_a_saved_conversation_reads_back_with_its_system_prompt_apart():
    from edgeqwen.message_dicts import conversation_dict, conversation_of

    saved = json.loads(json.dumps(conversation_dict("Answer briefly.", SAME[1:])))
    assert conversation_of(saved) == ("Answer briefly.", SAME[1:])
    assert conversation_of(CONVERSATION) == ("Answer briefly.", SAME[1:])  # a bare list: the first is the system
    assert conversation_of({"model": "x", "messages": CONVERSATION}) == ("Answer briefly.", SAME[1:])  # a request body
    assert conversation_of({"system": None, "messages": []}) == (None, [])
    for bad, says in (
        ({"messages": "hi"}, "A conversation is"),
        ("hi", "A conversation is"),
        ({"system": 3, "messages": []}, "system must be text"),
        ([{"role": "user", "content": "hi"}, {"role": "system", "content": "x"}], "conversation[1] is a system"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ):
        with pytest.raises(InvalidRequestError, match=says.replace("[", r"\[").replace("]", r"\]")):
            conversation_of(bad)


def test_a_history_put_back_is_what_the_next_answer_follows_on_from():
    fake = FakeBackend(["Fine."])
    bot = Assistant(backend=fake, policy="none", system="Be brief.")
    bot.reset(history=CONVERSATION[1:])
    assert bot.history == tuple(SAME[1:]) and bot.system == "Be brief."
    bot.chat("And tomorrow?")
    fresh = Assistant(backend=fake, policy="none", system="Be brief.")
    asked = fresh.answer([*SAME[1:], Message("user", "And tomorrow?")]).reply()
    assert fake.requests[-2].prompt_ids == fake.requests[-1].prompt_ids and asked.text == "Fine."
    before = bot.history
    bad_ones = (
        (SAME, "system message"),
        ("hi", "history must be a list"),
        ([{"role": "user", "content": 3}], "content"),
    )
    for bad, says in bad_ones:
        with pytest.raises(InvalidRequestError, match=says):
            bot.reset(system="Other.", history=bad)
        assert bot.history == before and bot.system == "Be brief."  # nothing changed
