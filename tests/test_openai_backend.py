"""backend="openai": an Assistant over an OpenAI-compatible server, against `edgeqwen serve` on
loopback and against scripted servers (httpx.MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from edgeqwen import (
    Assistant,
    BackendUnavailableError,
    EdgeQwenError,
    InvalidRequestError,
    ModelNotFoundError,
    StructuredOutputError,
)
from edgeqwen.backends.openai import OpenAIBackend
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.testing import FakeBackend

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def served():
    fake = FakeBackend(["Hello from the server."])
    with BackgroundServer(Assistant(backend=fake, temperature=0.0, policy="none"), ServerSettings(api_key="k")) as srv:
        yield fake, srv


def remote(srv, **kwargs) -> Assistant:
    return Assistant("served-model", backend="openai", base_url=srv.base_url, api_key="k", **kwargs)


def test_chat_stream_and_usage_through_edgeqwen_serve(served):
    fake, srv = served
    fake.script = [*fake.tokenizer.encode("Hello from the server."), *fake.info.eos_token_ids]
    bot = remote(srv, system="Be brief.", policy="none")
    reply = bot.chat("Hi")
    assert reply.text == "Hello from the server." and reply.finish_reason == "stop"
    assert reply.metrics.prompt_tokens > 0 and reply.metrics.generated_tokens == len("Hello from the server.") + 1
    sent = fake.requests[-1]
    prompt = fake.tokenizer.decode(sent.prompt_ids)
    assert "Be brief." in prompt and prompt.endswith("Hi\nassistant\n")  # our messages, the server's template
    stream = bot.stream("Again")
    assert "".join(stream) == stream.reply().text == "Hello from the server."
    assert [m.role for m in bot.history] == ["user", "assistant", "user", "assistant"]


def test_structured_answers_and_tool_calls_through_edgeqwen_serve(served):
    fake, srv = served
    fake.script = [*fake.tokenizer.encode('{"city":"Paris"}'), *fake.info.eos_token_ids]
    bot = remote(srv, policy="none", tools=[WEATHER])
    assert bot.json("Where?", CITY) == {"city": "Paris"}
    assert fake.requests[-1].response_format.kind == "json_schema"  # passed through to the server's grammar
    tok = fake.tokenizer
    call = tok.encode('\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n')
    fake.script = [tok.token_id("<tool_call>"), *call, tok.token_id("</tool_call>"), *fake.info.eos_token_ids]
    reply = bot.chat("Weather in Paris?", tool_choice="required")
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("get_weather", {"city": "Paris"})]


def test_errors_from_the_server_are_ours(served):
    _, srv = served
    with pytest.raises(InvalidRequestError, match="refused the API key"):
        Assistant("m", backend="openai", base_url=srv.base_url, api_key="wrong").chat("x")
    with pytest.raises(BackendUnavailableError, match="Cannot reach the server"):
        Assistant("m", backend="openai", base_url="http://127.0.0.1:9/v1").chat("x")
    with pytest.raises(InvalidRequestError, match="base_url"):
        Assistant("m", backend="openai")
    with pytest.raises(InvalidRequestError, match="not 'onnx'"):
        from edgeqwen.backends import load_backend

        load_backend("onnx", "x", base_url="http://h")
    with pytest.raises(InvalidRequestError, match="top_p"):
        remote(srv, top_p=3)


# -- a scripted server -----------------------------------------------------------------------------
def sse(*events: dict, status: int = 200) -> httpx.Response:
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(status, text=body, headers={"content-type": "text/event-stream"})


def delta(finish=None, **fields) -> dict:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def scripted(handler, **kwargs) -> Assistant:
    seen = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return handler(request)

    client = httpx.Client(transport=httpx.MockTransport(record))
    backend = OpenAIBackend("m", base_url="http://server/v1", client=client)
    bot = Assistant(backend=backend, policy="none", **kwargs)
    bot.sent = seen  # type: ignore[attr-defined]
    return bot


def test_reasoning_and_split_tool_calls_become_ours():
    def handler(request):
        return sse(
            delta(reasoning_content="Let me "),
            delta(reasoning_content="think."),
            delta(content="Calling."),
            delta(tool_calls=[{"index": 0, "function": {"name": "get_weather", "arguments": '{"ci'}}]),
            delta(tool_calls=[{"index": 0, "function": {"arguments": 'ty": "Oslo"}'}}]),
            delta(finish="tool_calls"),
            {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 9}},
        )

    bot = scripted(handler, tools=[WEATHER], enable_thinking=True)
    reply = bot.chat("Weather in Oslo?")
    assert reply.thinking == "Let me think." and reply.text == "Calling."
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("get_weather", {"city": "Oslo"})]
    assert reply.metrics.prompt_tokens == 12 and reply.metrics.generated_tokens == 9
    body = bot.sent[-1]
    assert (
        body["chat_template_kwargs"] == {"enable_thinking": True}
        and body["tools"][0]["function"]["name"] == "get_weather"
    )
    assert body["messages"][-1] == {"role": "user", "content": "Weather in Oslo?"} and body["stream"] is True


def test_tool_choice_none_is_sent():
    """A server's default is "auto": without it the model could still call a tool."""
    bot = scripted(lambda r: sse(delta(content="Sunny."), delta(finish="stop")), tools=[WEATHER])
    assert bot.chat("Weather?", tool_choice="none").text == "Sunny."
    assert bot.sent[-1]["tool_choice"] == "none" and bot.sent[-1]["tools"]
    bot.chat("Weather?")
    assert "tool_choice" not in bot.sent[-1]


def test_sampling_and_formats_are_sent_as_openai_fields():
    bot = scripted(
        lambda r: sse(delta(content='"yes"'), delta(finish="stop")),
        temperature=0.3,
        top_k=5,
        seed=7,
        logit_bias={9: -1},
        prompt_lookup=3,
    )
    assert bot.choice("Spam?", ["yes", "no"]) == "yes"
    body = bot.sent[-1]
    assert body["temperature"] == 0.3 and body["top_k"] == 5 and body["seed"] == 7 and "min_p" not in body
    assert body["prompt_lookup"] == 3  # an edgeqwen server guesses with it; others ignore it
    bot.chat("Again", prompt_lookup=0, temperature_last=True)
    assert "prompt_lookup" not in bot.sent[-1] and "temperature_last" not in body
    assert bot.sent[-1]["temperature_last"] is True  # text-generation-webui's, TabbyAPI's and edgeqwen's
    bot.chat("Kobold", top_a=0.2, tfs=0.9, penalty_slope=0.5, sampler_order=("top_p", "temperature"))
    sent = bot.sent[-1]  # KoboldCpp's names (its sampler_order is numbers: an edgeqwen server reads names)
    assert (sent["top_a"], sent["tfs"], sent["rep_pen_slope"], sent["sampler_order"]) == (
        0.2,
        0.9,
        0.5,
        ["top_p", "temperature"],
    )
    assert not {"top_a", "tfs", "rep_pen_slope", "sampler_order"} & set(body)  # off: not sent
    assert body["logit_bias"] == {"9": -1.0}  # OpenAI's JSON keys
    assert body["response_format"]["json_schema"]["schema"] == {"enum": ["yes", "no"]}


def test_an_invalid_answer_is_never_returned():
    bot = scripted(lambda r: sse(delta(content='{"town": "Paris"}'), delta(finish="stop")))
    with pytest.raises(StructuredOutputError, match="city"):
        bot.json("Where?", CITY)


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (400, InvalidRequestError, "rejected the request"),
        (404, ModelNotFoundError, "404"),
        (500, EdgeQwenError, "failed"),
    ],
)
def test_http_errors_map_to_ours(status, kind, words):
    error = {"error": {"message": "nope", "type": "x", "param": None, "code": None}}
    bot = scripted(lambda r: httpx.Response(status, json=error))
    with pytest.raises(kind, match=words) as err:
        bot.chat("x")
    assert "nope" in str(err.value)


def test_an_error_inside_the_stream_and_the_client_policy_apply():
    bot = scripted(lambda r: sse(delta(content="partial"), {"error": {"message": "engine died"}}))
    with pytest.raises(EdgeQwenError, match="engine died"):
        bot.chat("x")
    leaky = scripted(lambda r: sse(delta(content="Write to bob@example.com"), delta(finish="stop")))
    leaky.guard = Assistant(backend=FakeBackend(), policy="pii").guard  # the client's own policy runs on the text
    reply = leaky.chat("Contact?")
    assert "bob@example.com" not in reply.text and reply.filtered


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("http://[::1", "is not a URL"),  # an httpx.InvalidURL traceback at the first answer
        ("ftp://host/v1", r"is not an http\(s\) address"),
        ("localhost:8080/v1", r"is not an http\(s\) address"),
        ("http://", r"is not an http\(s\) address"),
    ],
)
def test_a_base_url_that_is_no_http_address_is_refused_when_the_backend_is_made(base_url, says):
    with pytest.raises(InvalidRequestError, match=says) as caught:
        OpenAIBackend("m", base_url=base_url)
    assert caught.value.param == "base_url"


@pytest.mark.parametrize("key", ["k\udcff", "k\nX-Evil: 1", "two words"])
def test_an_api_key_no_header_can_carry_is_refused_when_the_backend_is_made(key):
    """A key with a byte that is not ASCII was a UnicodeEncodeError traceback at the first answer."""
    with pytest.raises(InvalidRequestError, match="no HTTP header can carry") as caught:
        OpenAIBackend("m", base_url="http://server/v1", api_key=key)
    assert caught.value.param == "api_key"


def test_a_continued_message_is_sent_and_the_server_continues_it(served):
    """The final assistant message goes to the server as the last message; edgeqwen serve (as
    llama.cpp's server) continues it, and the reply is what it added."""
    from edgeqwen import Message

    fake, srv = served
    fake.script = [*fake.tokenizer.encode(" Paris."), *fake.info.eos_token_ids]
    bot = remote(srv, policy="none")
    reply = bot.answer([Message("user", "Capital of France?"), Message("assistant", "It is")]).reply()
    assert reply.text == " Paris."
    assert fake.tokenizer.decode(list(fake.requests[-1].prompt_ids)).endswith("France?\nassistant\nIt is")
    with pytest.raises(InvalidRequestError, match="local Qwen3"):
        bot.answer([Message("user", "q"), Message("assistant", "", thinking="hm")], enable_thinking=True)
