"""Bad input at every entry point (Python, CLI, HTTP): an answer or a clear EdgeQwenError / HTTP 4xx,
never a traceback, a hang or a 500. Property tests draw arbitrary text, settings and bodies."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from click.testing import CliRunner
from fakes import FakeBackend
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edgeqwen import (
    Assistant,
    EdgeQwenError,
    GenerationConfig,
    GrammarError,
    InvalidRequestError,
    Message,
    ResponseFormat,
    ToolCall,
)
from edgeqwen.cli import main
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.server.protocol import RequestError, parse_chat_request

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# every code point, lone surrogates and control characters included
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)


@pytest.fixture(scope="module")
def fake(qwen_tokenizer_json) -> FakeBackend:
    return FakeBackend(["Hello"], tokenizer_json=qwen_tokenizer_json)


@pytest.fixture(scope="module")
def bot(fake) -> Assistant:
    return Assistant(backend=fake, max_tokens=4)


# -- the rule, at each entry point ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("prompt", "says"),
    [
        ("caf\udce9", "byte 0xE9, which is not UTF-8"),  # how Python carries a non-UTF-8 argv byte
        ("half \ud83d of an emoji", "lone surrogate"),
        (b"bytes", "got bytes; decode them first"),
        (None, "got NoneType"),
        (42, "got int"),
        ("", "The prompt is empty"),
        ("  \n\t", "The prompt is empty"),
    ],
)
def test_python_api_refuses_what_is_not_text(bot, prompt, says):
    with pytest.raises(InvalidRequestError, match=says):
        bot.chat(prompt)
    assert bot.history == ()  # nothing half-done was kept


def test_system_prompt_tools_and_messages_are_checked_too(fake):
    with pytest.raises(InvalidRequestError, match="system prompt.*not valid Unicode"):
        Assistant(backend=fake, system="\udcff")
    with pytest.raises(InvalidRequestError, match=r"tools\[0\].*not valid Unicode"):
        Assistant(backend=fake, tools=[{"name": "f", "description": "\ud800"}])
    with pytest.raises(InvalidRequestError, match="message content"):
        Message("user", "\udc80")
    with pytest.raises(InvalidRequestError, match="last user message is empty"):
        Assistant(backend=fake).answer([Message("user", " ")])


@pytest.mark.parametrize(
    ("new", "says"),
    [
        ([Message("system", "be terse")], "A system message cannot be one of the new messages"),
        ([Message("user", "q"), Message("system", "s"), Message("user", "q2")], "system message cannot"),
        ([Message("user", "q"), Message("assistant", "a")], "The last new message must be a user message"),
        ([Message("user", " \n")], "The last user message is empty"),
    ],
)
def test_new_messages_are_held_to_what_a_whole_conversation_is(fake, new, says):
    """chat([...]) answered these: a system turn after the policy's own (its text read by no input
    check), a second assistant turn in a row, a blank question. answer([...]) continues a final
    assistant message and answers a conversation with a system turn in it (the caller wrote the
    whole conversation, its first system prompt too: Codex and Claude Code send such turns),
    and refuses a blank question."""
    bot = Assistant(backend=fake, system="SYS", max_tokens=4)
    with pytest.raises(InvalidRequestError, match=says):
        bot.chat(new)
    assert bot.history == ()
    whole = new if new[0].role != "system" else [Message("user", "q"), *new]
    if whole[-1].role == "assistant":  # a whole conversation's final assistant message is continued
        assert bot.answer(whole).reply().finish_reason in ("stop", "length")
        return
    if any(m.role == "system" for m in whole):
        assert bot.answer(whole).reply().finish_reason in ("stop", "length")
        return
    with pytest.raises(InvalidRequestError, match="last message|last user message"):
        bot.answer(whole)


def test_cli_run_refuses_non_utf8_and_empty_prompts(fake, monkeypatch):
    monkeypatch.setattr("edgeqwen.assistant.Assistant.__init__", _fake_init(fake))
    for prompt, says in (("caf\udce9", "0xE9"), ("", "empty")):
        result = CliRunner().invoke(main, ["run", prompt])
        assert result.exit_code == 2, result.output
        assert says in result.stderr and "Traceback" not in result.output


def test_cli_chat_keeps_the_session_after_a_bad_line(fake, monkeypatch):
    monkeypatch.setattr("edgeqwen.assistant.Assistant.__init__", _fake_init(fake))
    result = CliRunner().invoke(main, ["chat"], input=b"caf\xe9\nhi\n/exit\n")
    assert result.exit_code == 0, result.output
    assert "not valid Unicode" in result.stderr and "Hello" in result.stdout


def _fake_init(fake):
    real = Assistant.__init__

    def init(self, model=None, system=None, **kwargs):
        kwargs.pop("backend", None)
        for key in ("context_length", "threads", "device", "announce"):
            kwargs.pop(key, None)
        real(self, None, system, backend=fake, **kwargs)

    return init


def test_http_refuses_lone_surrogates_with_the_field_named(fake):
    with BackgroundServer(Assistant(backend=fake), ServerSettings(max_tokens=8)) as srv:
        raw = '{"messages": [{"role": "user", "content": "bad \\ud800 text"}]}'
        r = httpx.post(f"{srv.base_url}/chat/completions", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "messages[0].content"
        r = httpx.post(f"{srv.base_url}/chat/completions", content=b'{"messages": "\xff"}')
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
        r = httpx.post(f"{srv.base_url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Hello"


# -- properties -----------------------------------------------------------------------------------
@FAST
@given(prompt=ANY_TEXT)
def test_any_text_gets_an_answer_or_an_edgeqwen_error(bot, prompt):
    try:
        reply = bot.stream(prompt).reply()
    except EdgeQwenError as exc:
        str(exc).encode("utf-8")  # the message itself is printable
        return
    finally:
        bot.reset()
    assert reply.finish_reason in ("stop", "length", "refused", "filtered")


SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=3)
)
SETTING = st.one_of(SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(st.text(max_size=2), SCALAR, max_size=2))


@FAST
@given(
    name=st.sampled_from(
        [
            "temperature",
            "top_p",
            "top_k",
            "min_p",
            "max_tokens",
            "seed",
            "repetition_penalty",
            "presence_penalty",
            "frequency_penalty",
            "penalty_window",
            "stop",
            "stop_token_ids",
            "logit_bias",
        ]
    ),  # fmt: skip
    value=SETTING,
)
@example(name="stop", value=5)  # TypeError: 'int' object is not iterable
@example(name="stop", value={"a": None})  # read as the stop string "a"
@example(name="stop_token_ids", value=[1.5])  # read as token 1
@example(name="logit_bias", value={"²": 1})  # str.isdigit() takes "²", int() does not: a 500 over HTTP
def test_any_sampling_value_is_valid_or_an_invalid_request(name, value):
    try:
        config = GenerationConfig().with_(**{name: value})
    except InvalidRequestError as exc:
        assert exc.param == name
    else:
        if name in ("stop", "stop_token_ids") and value is not None:  # taken as given, never converted
            assert list(getattr(config, name)) == ([value] if isinstance(value, str) else list(value))
    with pytest.raises(InvalidRequestError, match=f"unknown generation setting.*Did you mean {name}"):
        GenerationConfig().with_(**{name + "_x": value})


def test_counts_are_whole_numbers_not_booleans_and_numpy_integers_count():
    import numpy as np

    for name in ("max_tokens", "top_k", "seed", "penalty_window"):
        with pytest.raises(InvalidRequestError, match=f"{name} must be a whole number") as info:
            GenerationConfig().with_(**{name: True})  # bool is an int to Python: max_tokens=True meant 1
        assert info.value.param == name
        value = getattr(GenerationConfig().with_(**{name: np.int64(7)}), name)
        assert value == 7 and type(value) is int  # stored as int, so a server can write it as JSON


MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "developer", "robot", 3, [], {}])},
    optional={
        "content": st.one_of(ANY_TEXT, st.none(), st.integers(), st.lists(st.dictionaries(st.text(), st.text()))),
    },
)
BODY = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(MESSAGE, max_size=4), st.text(max_size=3), st.none())},
    optional={
        "temperature": SETTING,
        "top_p": SETTING,
        "max_tokens": SETTING,
        "stop": st.one_of(st.text(max_size=4), st.lists(st.text(max_size=4), max_size=3), st.integers()),
        "stream": st.one_of(st.booleans(), st.integers()),
        "response_format": st.one_of(
            st.none(),
            st.just({"type": "json_object"}),
            st.just({"type": "json_schema", "json_schema": {"schema": {"type": "integer"}}}),
            st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
        ),
        "tool_choice": st.one_of(st.sampled_from(["auto", "none", "required"]), st.dictionaries(st.text(), st.text())),
    },
)


@FAST
@given(body=BODY)
@example(body={"messages": [{"role": [], "content": "hi"}]})  # a 500 (unhashable) on chat and Ollama's /api/chat
def test_any_request_body_parses_or_names_the_bad_field(body):
    try:
        parse_chat_request(body, 64)
    except RequestError as exc:
        assert str(exc)


# A whole request of each API, every field a client sends set: each mutation below swaps one value
# somewhere in it (at any depth) for another JSON value, which must be read or named, never raise
# anything else (a 500): an unhashable type looked up in a dict, .get on a list.
_TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
WHOLE_BODIES = {
    "chat": {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "1"},
        ],
        "tools": [_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        "stop": ["x"],
        "logit_bias": {"5": 1},
        "stream_options": {"include_usage": True},
        "chat_template_kwargs": {"enable_thinking": False},
        "prediction": {"type": "content", "content": "x"},
    },
    "completions": {"prompt": ["a", "b"], "max_tokens": 3, "echo": True, "logprobs": 2, "stop": "x"},
    "responses": {
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "1"},
        ],
        "instructions": "i",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
        "reasoning": {"effort": "low"},
        "include": ["message.output_text.logprobs"],
    },
    "anthropic": {
        "max_tokens": 3,
        "system": [{"type": "text", "text": "s"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "1"}]},
        ],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "f"},
        "thinking": {"type": "enabled", "budget_tokens": 10},
        "stop_sequences": ["x"],
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    },
    "ollama": {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]},
            {"role": "tool", "content": "1"},
        ],
        "format": {"type": "object"},
        "options": {"num_predict": 3, "stop": ["x"]},
        "tools": [_TOOL],
        "think": False,
    },
    "embeddings": {"input": ["a", "b"], "encoding_format": "base64", "dimensions": 8},
    "rerank": {
        "query": "q",
        "documents": ["a", {"text": "b"}],
        "top_n": 1,
        "return_documents": True,
        "instruction": "i",
    },
    "moderations": {"model": "omni-moderation-latest", "input": ["a", {"type": "text", "text": "b"}]},
    "tokenize": {"model": "m", "prompt": "a", "add_special_tokens": True, "return_token_strs": True},
    "tokenize-chat": {"messages": [{"role": "user", "content": "a"}], "tools": [_TOOL], "add_generation_prompt": True},
    "detokenize": {"model": "m", "tokens": [1, 2, 3]},
    "chat-guided": {
        "messages": [{"role": "user", "content": "a"}],
        "structured_outputs": {"choice": ["a", "b"], "whitespace_pattern": " "},
    },
    "completions-webui": {  # text-generation-webui's, TabbyAPI's and KoboldCpp's names (SillyTavern's)
        "prompt": "a",
        "max_new_tokens": 4,
        "rep_pen": 1.1,
        "repetition_penalty_range": 64,
        "repeat_last_n": 64,
        "typical": 0.9,
        "do_sample": True,
        "stopping_strings": ["\n"],
        "custom_token_bans": "5,7",
        "banned_tokens": [9],
        "grammar_string": 'root ::= "a" | "b"',
        "prompt_lookup_num_tokens": 2,
        "top_a": 0,
        "tfs": 1,
        "min_temp": 1,
        "max_temp": 1,
        "min_keep": 1,
        "sampler_priority": ["temperature"],
    },
    "tabby-encode": {"text": "a <|im_end|>", "encode_special_tokens": False},
    "completions-format": {
        "prompt": "a",
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    },
    "llama-completion": {
        "prompt": [1, "a"],
        "n_predict": 4,
        "temperature": 0.7,
        "top_k": 0,
        "repeat_penalty": 1.1,
        "repeat_last_n": 64,
        "stop": ["\n"],
        "n_probs": 2,
        "logit_bias": [[5, False], ["a", 1.0]],
        "json_schema": {"type": "object"},
        "mirostat": 0,
        "typical_p": 1.0,
        "stream": True,
    },
}
JSON_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=4), st.just("\ud800"),
    st.just([]), st.just({}), st.just([{}]), st.just({"type": []}), st.just([None]),
)  # fmt: skip


@st.composite
def mutated(draw, body):
    """``body`` with one to three values, each at a path drawn level by level, replaced."""
    for _ in range(draw(st.integers(1, 3))):
        body = _replace(draw, body, root=True)
    return body


def _replace(draw, value, root=False):
    if isinstance(value, (dict, list)) and value and (root or draw(st.booleans())):
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        key = draw(st.sampled_from(keys))
        out = dict(value) if isinstance(value, dict) else list(value)
        out[key] = _replace(draw, value[key])
        return out
    return draw(JSON_VALUE)


def _parsers():
    from edgeqwen.server.anthropic import parse_messages_request
    from edgeqwen.server.completions import parse_completion_request
    from edgeqwen.server.embeddings import parse_embeddings_request
    from edgeqwen.server.llama_server import parse_llama_completion
    from edgeqwen.server.moderations import parse_moderation
    from edgeqwen.server.ollama_requests import openai_chat
    from edgeqwen.server.rerank import parse_rerank_request
    from edgeqwen.server.responses import parse_responses_request
    from edgeqwen.server.tokenize import detokenized, encoded, parse_tokenize
    from edgeqwen.testing import FakeBackend

    tokenizer = FakeBackend().tokenizer

    return {
        "chat": parse_chat_request,
        "completions": parse_completion_request,
        "responses": parse_responses_request,
        "anthropic": parse_messages_request,
        "ollama": openai_chat,
        "embeddings": lambda body, _: parse_embeddings_request(body),
        "rerank": lambda body, _: parse_rerank_request(body),
        "moderations": lambda body, _: parse_moderation(body),
        "tokenize": lambda body, _: parse_tokenize(body),
        "tokenize-chat": lambda body, _: parse_tokenize(body),
        "detokenize": lambda body, _: detokenized(tokenizer, body),
        "llama-completion": lambda body, limit: parse_llama_completion(body, tokenizer, limit),
        "chat-guided": parse_chat_request,
        "completions-format": parse_completion_request,
        "completions-webui": parse_completion_request,
        "tabby-encode": lambda body, _: encoded(tokenizer, body, "text", "encode_special_tokens"),
    }


@pytest.mark.parametrize("api", sorted(WHOLE_BODIES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_value_anywhere_in_a_whole_request_is_read_or_named(api, data):
    """Found by mutating whole requests: a list or an object where a name belongs was a 500 on chat
    (a message's role), Ollama's chat (the same) and Anthropic's Messages (tool_choice.type), and so
    was an output_config that was not an object."""
    parse = _parsers()[api]
    parse(WHOLE_BODIES[api], 64)  # the unmutated body is read
    body = data.draw(mutated(WHOLE_BODIES[api]))
    try:
        parse(body, 64)
    except InvalidRequestError as exc:
        assert str(exc)


# What Python code may pass for any option: wrong types, classes, objects, values of another option.
PY_VALUE = st.sampled_from(
    [None, True, 0, -1, 1.5, float("nan"), 2**70, "", "auto", "required", [], {}, [None], [{}], ("a",), b"x",
     object(), str, int, Message("user", "q"), {"type": []}, {"type": "object", "required": str}, ["stop"]]
)  # fmt: skip
PY_OPTIONS = st.sampled_from(
    ["temperature", "top_p", "top_k", "min_p", "max_tokens", "seed", "stop", "presence_penalty", "logprobs",
     "top_logprobs", "logit_bias", "enable_thinking", "response_format", "tool_choice", "prompt_lookup",
     "thinking_budget", "stop_token_ids", "tools"]
)  # fmt: skip
_SPEC = {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}


@FAST
@given(options=st.dictionaries(PY_OPTIONS, PY_VALUE, min_size=1, max_size=3), with_tools=st.booleans())
def test_any_python_option_value_is_used_or_named(fake, options, with_tools):
    """Found by passing every option values of other types: ``stop=str`` (the class) and
    ``tools=5`` were TypeErrors ("not iterable"), a schema holding a Python object a TypeError from
    json: each is now the library's own error, which says what to pass."""
    tools = options.pop("tools", [_SPEC] if with_tools else None)
    try:
        Assistant(backend=fake, max_tokens=4, tools=tools).chat("hi", **options)
    except EdgeQwenError as exc:
        assert str(exc)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (
            {"config": {"temperature": 0.2}},
            r"config must be an edgeqwen.GenerationConfig, got dict; or pass the settings",
        ),
        ({"on_safety_event": True}, "on_safety_event must be a function that takes a SafetyEvent, got bool"),
        ({"announce": "yes"}, "announce must be a function of one str, got str"),
        ({"enable_thinking": "no"}, "enable_thinking must be True or False, got 'no'"),
    ],
)
def test_an_assistant_option_of_the_wrong_kind_is_named_before_any_answer(fake, options, says):
    """Each was an AttributeError or TypeError: ``config`` at once (``.with_``), a callback that is
    no function at the first safety event, in the middle of an answer; "no" for thinking was True."""
    with pytest.raises(InvalidRequestError, match=says):
        Assistant(backend=fake, **options)


@pytest.mark.parametrize("value", [None, 5, True, 1.5, str, "hello"])
def test_what_is_no_list_where_a_list_belongs_is_named(fake, value):
    """Found by calling the public API with values of other types: each was a TypeError ("'int'
    object is not iterable", "'str' object cannot be interpreted as an integer"), or, for a text
    given as the messages, an error about its first letter."""
    bot = Assistant(backend=fake, max_tokens=4)
    with pytest.raises(InvalidRequestError, match="messages must be a list of messages"):
        bot.answer(value)
    with pytest.raises(InvalidRequestError, match="messages must be a list of messages"):
        bot.prompt_tokens(value)
    if value is not None and not isinstance(value, str):
        with pytest.raises(GrammarError, match="choice needs a list of strings"):
            ResponseFormat.choice(value)
        with pytest.raises(InvalidRequestError, match="tools must be a list of function specs"):
            ResponseFormat.tool_call(value)
    with pytest.raises(InvalidRequestError, match="decode takes a list of token ids"):
        bot.tokenizer.decode(value if value is not None else [None])
    with pytest.raises(InvalidRequestError, match="decode takes a list of token ids"):
        bot.tokenizer.decode([-1, 2**70][: 1 + bool(value)])


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"max_tokens": "4"}, "max_tokens must be a whole number >= 1, got '4'"),
        ({"max_queue": None}, "max_queue must be a whole number >= 0"),
        ({"max_stored_responses": 1.5}, "max_stored_responses must be a whole number >= 0"),
        ({"keepalive_s": float("inf")}, "keepalive_s must be a number of seconds >= 0, got inf"),
        ({"body_timeout_s": "30"}, "body_timeout_s must be a number of seconds > 0"),
        ({"cors_origins": 5}, "cors_origins must be a list of origins, got int"),
        ({"cors_origins": [5]}, "cors origin 5 is not an origin"),
    ],
)
def test_server_settings_of_the_wrong_kind_are_named(options, says):
    """Each was a TypeError from a comparison or "not iterable" (found by passing every setting
    values of other types); one origin given as a string is taken as that origin."""
    with pytest.raises(InvalidRequestError, match=re.escape(says)):
        ServerSettings(**options)
    assert ServerSettings(cors_origins="https://app.example.com").cors_origins == ("https://app.example.com",)


@pytest.fixture(scope="module")
def http_server(fake):
    with BackgroundServer(Assistant(backend=fake, temperature=0.0), ServerSettings(max_tokens=8)) as srv:
        yield srv


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODY)
def test_any_request_body_gets_a_200_or_a_4xx(http_server, body):
    raw = json.dumps(body, ensure_ascii=True)  # lone surrogates travel as \\ud800 escapes
    r = httpx.post(
        f"{http_server.base_url}/chat/completions",
        content=raw,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code in (200, 400, 422), r.text
    if r.status_code != 200:
        assert r.json()["error"]["message"]
    metrics = httpx.get(f"{http_server.url}/metrics", params={"format": "json"}).json()
    assert "500" not in metrics["requests"]


# -- a model, a schema or a name that is no path ----------------------------------------------------
@FAST
@given(st.text(st.characters(codec=None, categories=None), min_size=1, max_size=400))
@example("~0")  # a home of no user: Path.expanduser's RuntimeError
def test_any_model_argument_is_a_model_or_a_model_not_found_error(tmp_path_factory, text):
    """A name no file system takes (300 characters, a NUL byte, "~" and no such user) was an
    OSError, ValueError or RuntimeError traceback from the path check, in run, serve, verify and
    Assistant(model=...)."""
    import os

    from edgeqwen.hub import DEMO_ALIASES, resolve_model

    if text.strip().lower() in (*DEMO_ALIASES, "auto") or text.startswith(("HF://", "hf://")):
        return
    saved = os.environ.get("EDGEQWEN_HOME")
    os.environ["EDGEQWEN_HOME"] = str(tmp_path_factory.mktemp("home"))  # nothing installed, nothing pulled
    try:
        path = resolve_model(text, backend="onnx")
    except EdgeQwenError:
        return
    finally:
        if saved is None:
            del os.environ["EDGEQWEN_HOME"]
        else:
            os.environ["EDGEQWEN_HOME"] = saved
    assert path.exists()  # "/", "." and the like are folders: loading them says what is missing


def test_a_long_name_or_schema_on_the_command_line_is_an_error_or_an_answer(fake, monkeypatch):
    monkeypatch.setattr(
        "edgeqwen.cli.answer.open_assistant", lambda model, opts: Assistant(backend=fake, max_tokens=40)
    )
    schema = {"type": "object", "properties": {f"field_{i}": {"type": "string", "maxLength": 2} for i in range(30)}}
    assert len(json.dumps(schema)) > 300  # longer than a file name may be
    result = CliRunner().invoke(main, ["run", "--schema", json.dumps(schema), "hi"])
    assert not isinstance(result.exception, OSError)  # "File name too long", from the path check
    assert result.exit_code == 0 or result.output.startswith("Error: "), result.output
    for argv in (["verify", "a" * 300], ["rm", "a" * 300]):
        result = CliRunner().invoke(main, argv)
        assert result.exit_code != 0 and result.output.startswith("Error: "), result.output


# -- values nested deeper than Python recurses ----------------------------------------------------
def _nested(depth: int) -> dict:
    """A JSON Schema of arrays of arrays: its objects and arrays nest ``depth`` + 1 levels."""
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


def test_http_refuses_bodies_and_schemas_nested_too_deep(fake):
    """A body of 100,000 nested arrays, a tool call's arguments of 5,000, a schema of 300 or 3,000:
    each was a 500 (RecursionError), now a 400 that says how to fix it."""
    hi = [{"role": "user", "content": "hi"}]
    call = {"id": "a", "type": "function", "function": {"name": "f", "arguments": "[" * 5000 + "]" * 5000}}
    bodies = [
        (b'{"messages":' + b"[" * 100_000 + b"]" * 100_000 + b"}", None, "too deep to read"),
        (
            hi + [{"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "tool", "content": "1"}],
            None,
            "nested too deep",
        ),
        (hi, {"type": "json_schema", "json_schema": {"name": "x", "schema": _nested(300)}}, "under \\$defs"),
        (hi, {"type": "json_schema", "json_schema": {"name": "x", "schema": _nested(3000)}}, "too deep to read"),
    ]
    with BackgroundServer(Assistant(backend=fake), ServerSettings(max_tokens=8)) as srv:
        for messages, response_format, says in bodies:
            if isinstance(messages, bytes):
                raw = messages
            else:
                body = {"messages": messages, **({"response_format": response_format} if response_format else {})}
                raw = _dumps_deep(body)
            r = httpx.post(
                f"{srv.base_url}/chat/completions", content=raw, headers={"content-type": "application/json"}
            )
            assert r.status_code == 400, r.text
            assert re.search(says, r.json()["error"]["message"]), r.text
        tools = [
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": _nested(300)}}},
            }
        ]
        r = httpx.post(
            f"{srv.base_url}/chat/completions",
            content=_dumps_deep({"messages": hi, "tools": tools, "tool_choice": "required"}),
        )
        assert r.status_code == 400 and r.json()["error"]["param"] == "tools", r.text
        metrics = httpx.get(f"{srv.url}/metrics", params={"format": "json"}).json()
        assert "500" not in metrics["requests"]


def _dumps_deep(value: object) -> bytes:
    """JSON of ``value`` however deep: the client may write what the server must refuse. Written
    here, since from Python 3.12 json.dumps stops at the C recursion limit whatever
    sys.setrecursionlimit says; a Python call in a list comprehension takes no C stack."""
    import sys

    def encode(v: object) -> str:
        if isinstance(v, dict):
            return "{" + ",".join([json.dumps(k) + ":" + encode(x) for k, x in v.items()]) + "}"
        if isinstance(v, list):
            return "[" + ",".join([encode(x) for x in v]) + "]"
        return json.dumps(v)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        return encode(value).encode()
    finally:
        sys.setrecursionlimit(limit)


def test_python_api_and_cli_refuse_schemas_nested_too_deep(fake, monkeypatch, tmp_path):
    from edgeqwen.runtime.relax import MAX_SCHEMA_DEPTH

    bot = Assistant(backend=fake, max_tokens=4)
    for depth in (MAX_SCHEMA_DEPTH, 3000):  # one level over the limit, and past Python's recursion
        with pytest.raises(GrammarError, match=r"more than 100 levels deep.*under \$defs"):
            bot.chat("hi", response_format=_nested(depth))
    with pytest.raises(InvalidRequestError, match=r"tools\[0\] nests .* too deep"):
        Assistant(
            backend=fake, tools=[{"name": "f", "parameters": {"type": "object", "properties": {"x": _nested(3000)}}}]
        )
    assert bot.history == ()

    monkeypatch.setattr("edgeqwen.cli.answer.open_assistant", lambda model, opts: Assistant(backend=fake, max_tokens=4))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    for argument in (str(deep), "[" * 5000 + "]" * 5000):
        result = CliRunner().invoke(main, ["run", "--schema", argument, "hi"])
        assert result.exit_code == 2 and "nested too deep to read at line 1 column 5000" in result.output, result.output
    result = CliRunner().invoke(main, ["run", "--schema", json.dumps(_nested(150)), "hi"])
    assert result.exit_code != 0 and "under $defs" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("response_format", "says"),
    [
        (
            {"type": "object", "properties": {"\ud800": {"type": "string"}}},
            "JSON Schema is not valid Unicode.*U\\+D800",
        ),
        ({"enum": ["caf\udce9"]}, "JSON Schema is not valid Unicode.*byte 0xE9"),
        (lambda: ResponseFormat.regex("a\ud800"), "regex is not valid Unicode"),  # a UnicodeEncodeError traceback
        (lambda: ResponseFormat.choice(["ok", "\udc80"]), "choice 1 is not valid Unicode"),
        (lambda: ResponseFormat.lark('start: "\ud800"'), "Lark grammar is not valid Unicode"),  # the same
        (lambda: ResponseFormat.regex(None), "regex must be text"),
    ],
)
def test_response_formats_that_are_not_valid_unicode_are_refused(bot, response_format, says):
    """A schema with a lone surrogate had fallen to any JSON (the model cannot write one, and every
    answer then failed its check); a regex or Lark grammar with one raised UnicodeEncodeError."""
    with pytest.raises(GrammarError, match=says):
        bot.chat("hi", response_format=response_format() if callable(response_format) else response_format)
    assert bot.history == ()


def test_an_astral_character_in_a_schema_is_text_like_any_other(fake):
    bot = Assistant(backend=FakeBackend(['"ok 😀"'], tokenizer_json=fake.tokenizer.path), max_tokens=20)
    schema = {
        "type": "string",
        "enum": ["ok 😀", "no"],
        "description": "an emoji, \U0001f600, escaped as \\ud83d\\ude00",
    }
    assert bot.chat("hi", response_format=schema).parsed == "ok 😀"


def test_a_prompt_that_cannot_fit_is_refused_before_the_input_checks_read_it(qwen_tokenizer_json, monkeypatch):
    """A 4 MB paste took the input checks a minute to read before the prompt was found too long."""
    from edgeqwen import PromptTooLongError
    from edgeqwen.safety.guard import Guard

    bot = Assistant(backend=FakeBackend(["Hello"], tokenizer_json=qwen_tokenizer_json, context_length=256))
    read: list[str] = []
    screen = Guard.screen
    monkeypatch.setattr(
        Guard, "screen", lambda self, backend, text, *a, **k: read.append(text) or screen(self, backend, text, *a, **k)
    )
    with pytest.raises(PromptTooLongError):
        bot.chat("word " * 500)
    assert read == [] and bot.history == ()
    assert bot.chat("hi").text == "Hello" and read == ["hi"]  # a prompt that fits is still read


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: Message("assistant", "", tool_calls=({"name": "f"},)), "a list of edgeqwen.ToolCall"),
        (lambda: Message("user", "x", tool_calls=(ToolCall("f", {}),)), "A user message cannot hold tool calls"),
        (lambda: ToolCall("", {}), "name must be a non-empty string"),
        (lambda: ToolCall(5, {}), "name must be a non-empty string"),
        (lambda: ToolCall("f", "x=1"), "arguments must be a dict"),
        (lambda: ToolCall("f", {"when": object()}), "not JSON-serialisable"),
    ],
)
def test_tool_calls_in_a_history_are_checked_where_they_are_made(build, says):
    """A dict for a call and unserialisable arguments were an AttributeError / TypeError when the
    template wrote them; an empty name, a str of arguments and a user's calls went to the model."""
    with pytest.raises(InvalidRequestError, match=says):
        build()


def test_a_call_with_an_empty_name_in_the_models_text_stays_text(fake):
    from edgeqwen.chat import _parse_tool_calls

    calls, every = _parse_tool_calls('<tool_call>\n{"name": "", "arguments": {}}\n</tool_call>')
    assert calls == () and not every
    listed = Message("assistant", "", tool_calls=[ToolCall("f", {"a": 1})])
    assert listed.tool_calls == (ToolCall("f", {"a": 1}),)  # a list is kept as a tuple, as the type says


def test_a_compressed_body_is_told_to_come_uncompressed(http_server):
    import gzip

    body = gzip.compress(b'{"messages": [{"role": "user", "content": "hi"}]}')
    url = f"{http_server.base_url}/chat/completions"
    r = httpx.post(url, content=body, headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 415 and "send the JSON body uncompressed" in r.json()["error"]["message"]
    r = httpx.post(
        url, json={"messages": [{"role": "user", "content": "hi"}]}, headers={"content-encoding": "identity"}
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: ResponseFormat("xml"), "Unknown response format kind 'xml'"),  # "Empty grammar"
        (lambda: ResponseFormat("regex"), "regex response format needs its pattern"),  # answered ""
        (lambda: ResponseFormat("choice"), "choice response format needs its choices"),
        (lambda: ResponseFormat("json_schema"), "json_schema response format needs its schema"),
        (lambda: ResponseFormat("json_schema", schema={}, max_string_length=0), "max_string_length must be"),
        (lambda: ResponseFormat("json_schema", schema={}, max_string_length=-5), "max_string_length must be"),
        (lambda: ResponseFormat("json_schema", schema={}, thinking_budget=-1), "thinking_budget must be"),
    ],
)
def test_a_response_format_built_directly_is_checked_like_one_built_by_of(build, says):
    with pytest.raises(GrammarError, match=says):
        build()


def test_an_audit_log_that_is_no_path_says_so(fake):
    with pytest.raises(InvalidRequestError, match="audit_log must be a file path, got int"):  # a TypeError
        Assistant(backend=fake, audit_log=5)


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("", "is empty"),
        ("  ", "is empty"),
        (" k3y", "has a space"),
        ("k\n", "has a space"),
        ("kéy", "has a space, a control character or a non-ASCII"),
    ],
)
def test_an_api_key_no_client_can_send_is_refused_before_serving(key, says, monkeypatch):
    """`serve --api-key "$KEY"` with KEY unset served with no key at all (the CLI read "" as none)."""
    with pytest.raises(InvalidRequestError, match=f"The API key {says}"):
        ServerSettings(api_key=key)
    monkeypatch.setattr("edgeqwen.cli.answer.open_assistant", lambda *a: pytest.fail("the model was loaded"))
    result = CliRunner().invoke(main, ["serve", "--api-key", key, "--port", "0"])
    assert result.exit_code == 2 and f"The API key {says}" in result.output, result.output


def test_a_regex_answer_is_checked_without_backtracking_for_hours():
    """The answer to a regex format was checked with Python's re: "(a|aa)+b" on an answer of 60
    a's (cut at max_tokens) would run for hours. Past a short search llguidance's matcher decides."""
    from edgeqwen import StructuredOutputError

    fmt = ResponseFormat.regex("(a|aa)+b")
    for cut in ("a" * 60, "a" * 5000):
        with pytest.raises(StructuredOutputError, match="does not match"):
            fmt.parse(cut)
    assert fmt.parse("a" * 60 + "b") == "a" * 60 + "b" and ResponseFormat.regex(r"\d{3}").parse("123") == "123"


def test_a_body_with_a_byte_order_mark_or_in_utf16_is_read(fake):
    """Some clients (PowerShell's) send UTF-8 with a BOM; json.loads reads bytes in any UTF and
    the server keeps doing so."""
    from starlette.testclient import TestClient

    from edgeqwen.server import create_app

    client = TestClient(create_app(Assistant(backend=fake, policy="none")))
    body = json.dumps({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
    for raw in (b"\xef\xbb\xbf" + body.encode(), body.encode("utf-16")):
        response = client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
