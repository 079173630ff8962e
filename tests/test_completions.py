"""Raw prompts continued as written (``Assistant.complete``), a prompt's own tokens scored
(``prompt_logprobs``), and OpenAI's legacy ``/v1/completions`` over both."""

from __future__ import annotations

import asyncio
import json
import math
import re

import numpy as np
import openai
import pytest
from starlette.testclient import TestClient

from edgeqwen import Assistant, AsyncAssistant, InvalidRequestError, PromptTooLongError
from edgeqwen.server import BackgroundServer, create_app
from edgeqwen.testing import FakeBackend, ScriptedModel


def fake(*replies: str, **options) -> tuple[FakeBackend, Assistant]:
    backend = FakeBackend(replies or ["Paris."])
    return backend, Assistant(backend=backend, **{"policy": "none", **options})


# -- Python API ------------------------------------------------------------------------------------
def test_a_raw_prompt_is_continued_as_written():
    """No template, no system prompt, no history kept; the text is the model's, markup included."""
    written = 'Paris <tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
    backend, bot = fake(written)
    reply = bot.complete("The capital of France is").reply()
    assert list(backend.requests[-1].prompt_ids) == backend.tokenizer.encode("The capital of France is")
    assert reply.text == written and reply.thinking == "" and reply.tool_calls == ()
    assert reply.metrics.prompt_tokens == len(bot.tokenizer.encode("The capital of France is"))  # counted ahead
    assert bot.context_length == 4096 and bot.history == ()
    chat = bot.chat("The capital of France is")  # the same model read as a chat answer
    assert chat.text == "Paris " and chat.tool_calls[0].name == "f"
    assert len(backend.requests[-1].prompt_ids) > len(backend.requests[-2].prompt_ids)


def test_control_tokens_written_in_a_raw_prompt_are_those_tokens():
    """The caller writes the whole template; in a chat message the same text stays text."""
    backend, bot = fake()
    start = backend.tokenizer.token_id("<|im_start|>")
    bot.complete("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n").reply()
    raw = list(backend.requests[-1].prompt_ids)
    assert raw[0] == start and raw.count(start) == 2
    said = backend.tokenizer.encode("user\nHi")
    assert raw[1 : 1 + len(said)] == said
    bot.chat("<|im_start|>")
    typed = backend.tokenizer.encode("<|im_start|>")
    assert len(typed) > 1 and start not in typed  # the chat prompt holds it as plain text


@pytest.mark.parametrize("qwen3", [False, True])
def test_a_chat_prompt_written_out_as_text_is_the_templates_own_ids(qwen_tokenizer_json, qwen3_tokenizer_json, qwen3):
    """Qwen's real tokenizer: a conversation the template renders, written out as one string (as a
    caller of complete() would write it), encodes to the ids the chat path sends."""
    from edgeqwen.chat import template_for
    from edgeqwen.tokenizer import Tokenizer
    from edgeqwen.types import Message

    tokenizer = Tokenizer(qwen3_tokenizer_json if qwen3 else qwen_tokenizer_json)
    template = template_for("qwen3" if qwen3 else "qwen2", tokenizer)
    conversation = [Message("system", "Be brief."), Message("user", "Héllo <b>wörld</b>, 2+2?")]
    pieces = template.render(conversation, add_generation_prompt=True, enable_thinking=qwen3)
    ids = template.encode(tokenizer, pieces)
    text = "".join(
        p if isinstance(p, str) else "".join(tokenizer._tok.id_to_token(i) for i in ((p,) if isinstance(p, int) else p))
        for p in pieces
        if p is not None
    )
    assert tokenizer.encode_controls(text) == ids
    assert tokenizer.encode(text) != ids  # typed in a chat message, the same text stays text


def test_token_ids_are_a_prompt_and_bad_prompts_say_what_to_do():
    backend, bot = fake()
    ids = backend.tokenizer.encode("Hello")
    assert bot.complete(np.array(ids)).reply().text == "Paris."
    assert list(backend.requests[-1].prompt_ids) == ids
    vocab = backend.tokenizer.vocab_size
    for bad, says in (
        ("", "prompt is empty"),
        ([], "prompt is empty"),
        ([1, -1], r"prompt\[1\] must be a token id"),
        ([vocab], f"from 0 to {vocab - 1}"),
        ([True], r"prompt\[0\] must be a token id"),
        ([1.0], r"prompt\[0\] must be a token id"),
        (b"Hello", "prompt"),
        (None, "prompt"),
    ):
        with pytest.raises(InvalidRequestError, match=says):
            bot.complete(bad)
    with pytest.raises(PromptTooLongError):
        bot.complete([ids[0]] * 5000)


def test_a_raw_prompt_can_be_continued_under_a_grammar():
    """Few-shot extraction: the examples are the prompt, the schema holds the continuation."""
    backend, bot = fake('{"city":"Rome"}')
    shots = 'Text: I live in Paris.\nJSON: {"city": "Paris"}\nText: Rome is home.\nJSON: '
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    reply = bot.complete(shots, response_format=schema).reply()
    assert reply.parsed == {"city": "Rome"} and backend.requests[-1].response_format is not None
    with pytest.raises(InvalidRequestError, match="unknown generation setting"):
        bot.complete(shots, tools=[])


def test_the_input_checks_read_a_raw_prompt_and_the_model_never_sees_a_refused_one():
    backend, bot = fake(policy="default")
    reply = bot.complete("Q: How do I build a pipe bomb at home?\nA:").reply()
    assert reply.finish_reason == "refused" and backend.requests == []


def test_a_backend_that_renders_its_own_prompt_cannot_continue_one():
    class Remote(FakeBackend):
        name = "remote"
        renders_prompt = True

    bot = Assistant(backend=Remote(), policy="none")
    with pytest.raises(InvalidRequestError, match="applies its own chat template"):
        bot.complete("Once upon a time")
    # over HTTP the error names the routes that answer messages, not only Python's methods
    client = TestClient(create_app(bot))
    for path, body in [
        ("/v1/completions", {"model": "m", "prompt": "Once upon a time"}),
        ("/api/generate", {"model": "fake", "prompt": "Once upon a time", "raw": True, "stream": False}),
    ]:
        said = client.post(path, json=body)
        assert said.status_code == 400 and "/v1/chat/completions" in said.text, (path, said.text)


def test_prompt_logprobs_rate_every_token_after_the_first():
    """The fake's prompt positions favour the next prompt token by ScriptedModel.PROMPT_LOGIT, so
    each token's log probability is known: PROMPT_LOGIT - log(e^PROMPT_LOGIT + vocab - 1)."""
    backend, bot = fake("Oui.")
    text = "Is it Paris?"
    reply = bot.complete(text, prompt_logprobs=2, logprobs=0).reply()
    ids = backend.tokenizer.encode(text)
    said = reply.prompt_logprobs
    assert len(said) == len(ids) and said[0] is None
    expect = ScriptedModel.PROMPT_LOGIT - math.log(
        math.exp(ScriptedModel.PROMPT_LOGIT) + backend.tokenizer.vocab_size - 1
    )
    for item, token in zip(said[1:], ids[1:], strict=True):
        assert item.token == token and item.logprob == pytest.approx(expect, abs=1e-5)
        assert len(item.top) == 2 and item.top[0].token == token
    assert "".join(t.text for t in said[1:]) == text[1:]
    assert "".join(t.text for t in reply.logprobs) == reply.text == "Oui."
    assert bot.complete(text).reply().prompt_logprobs is None
    assert bot.chat("Hi", prompt_logprobs=0).prompt_logprobs[0] is None  # a chat prompt can be scored too


def test_a_backend_without_every_positions_logits_says_which_can():
    class LastOnly(FakeBackend):
        name = "mlc"
        supports_prompt_logprobs = False

    bot = Assistant(backend=LastOnly(), policy="none")
    with pytest.raises(InvalidRequestError, match="mlc backend cannot score.*'llamacpp' or 'onnx'") as caught:
        bot.complete("Hi there", prompt_logprobs=1)
    assert caught.value.param == "prompt_logprobs"


def test_async_apps_complete_too():
    backend, bot = fake("Paris.")

    async def main() -> str:
        async with AsyncAssistant(bot) as abot:
            stream = await abot.complete("The capital of France is")
            return "".join([piece async for piece in stream])

    assert asyncio.run(main()) == "Paris."


# -- on llama.cpp, against transformers ------------------------------------------------------------
def test_llama_cpp_scores_every_prompt_token_as_transformers_does(tiny_models, tiny_ggufs):
    """A prompt longer than two scoring batches: each position's log-softmax equals transformers'
    (f32 weights; llama.cpp's f16 KV cache rounds), and the answer after it is the answer a
    plain prefill gives, so the cache holds the prompt as it should."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from edgeqwen.backends.llamacpp import SCORE_BATCH, LlamaCppBackend
    from edgeqwen.generation_config import GenerationConfig
    from edgeqwen.runtime.loop import stream_generate
    from edgeqwen.runtime.sampling import log_softmax

    backend = LlamaCppBackend(tiny_ggufs["qwen2-f32"], context_length=512)
    rng = np.random.default_rng(0)
    ids = [int(t) for t in rng.integers(0, 151643, size=2 * SCORE_BATCH + 23)]
    hf = transformers.AutoModelForCausalLM.from_pretrained(tiny_models["qwen2"]["hf"], dtype=torch.float32)
    with torch.no_grad():
        ref = hf(torch.tensor([ids])).logits[0].numpy()
    ref = np.stack([log_softmax(row[: backend.tokenizer.vocab_size]) for row in ref])
    config = GenerationConfig(max_tokens=8, prompt_logprobs=3)
    scored = list(stream_generate(backend.model, backend.tokenizer, ids, config))
    said = scored[-1].prompt_logprobs
    assert len(said) == len(ids) and said[0] is None
    got = np.array([t.logprob for t in said[1:]])
    want = ref[np.arange(len(ids) - 1), ids[1:]]
    assert np.abs(got - want).max() < 0.02
    # the most likely token named is transformers' most likely, up to near-ties of a random model
    assert all(ref[i, t.top[0].token] > ref[i].max() - 0.02 for i, t in enumerate(said[1:]))
    plain = list(stream_generate(backend.model, backend.tokenizer, ids, config.with_(prompt_logprobs=None)))
    assert [c.token for c in plain] == [c.token for c in scored]
    assert plain[-1].prompt_logprobs is None and plain[-1].metrics.cached_tokens > 0  # the cache held it


def test_onnx_scores_every_prompt_token_as_transformers_does(tiny_models):
    """The ONNX graph gives the logits of as many last positions as asked (graph.LOGITS_FROM), so
    a scored prompt runs in prefill-sized steps: on the fp32 build each position's log-softmax
    equals transformers'. The cache then holds the prompt, and the answer is a plain prefill's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from hf_reference import transformers_model

    from edgeqwen.backends.onnx import OnnxBackend
    from edgeqwen.generation_config import GenerationConfig
    from edgeqwen.runtime.loop import stream_generate
    from edgeqwen.runtime.sampling import log_softmax

    backend = OnnxBackend(tiny_models["qwen2"]["fp32"], context_length=128)
    ids = [int(t) for t in np.random.default_rng(1).integers(0, 151643, size=40)]
    hf = transformers_model(tiny_models["qwen2"]["hf"], tiny_models["qwen2"]["fp32"])
    with torch.no_grad():
        ref = hf(torch.tensor([ids])).logits[0].numpy()
    want = np.array(
        [log_softmax(row[: backend.tokenizer.vocab_size])[t] for row, t in zip(ref[:-1], ids[1:], strict=True)]
    )
    config = GenerationConfig(max_tokens=6, prompt_logprobs=0)
    scored = list(stream_generate(backend.model, backend.tokenizer, ids, config))
    got = np.array([t.logprob for t in scored[-1].prompt_logprobs[1:]])
    assert np.abs(got - want).max() < 1e-3
    plain = list(stream_generate(backend.model, backend.tokenizer, ids, config.with_(prompt_logprobs=None)))
    assert [c.token for c in plain] == [c.token for c in scored] and plain[-1].metrics.cached_tokens > 0


# -- /v1/completions -------------------------------------------------------------------------------
def http(*replies: str, **options) -> tuple[FakeBackend, TestClient]:
    backend, bot = fake(*replies, **options)
    return backend, TestClient(create_app(bot))


def test_the_endpoint_answers_in_openais_shape_one_choice_per_prompt():
    backend, client = http("Paris.", "Rome.")
    body = {"prompt": ["The capital of France is", "The capital of Italy is"], "echo": True, "logprobs": 1}
    answer = client.post("/v1/completions", json=body).json()
    assert answer["object"] == "text_completion" and answer["id"].startswith("cmpl-")
    first, second = answer["choices"]
    assert (first["index"], second["index"]) == (0, 1)
    assert first["text"] == "The capital of France isParis." and second["text"].endswith("Rome.")
    lp = first["logprobs"]
    assert "".join(lp["tokens"]) == first["text"]
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    assert all(isinstance(x, float) for x in lp["token_logprobs"][1:])
    assert lp["text_offset"] == [sum(len(t) for t in lp["tokens"][:i]) for i in range(len(lp["tokens"]))]
    assert all(len(top) == 1 for top in lp["top_logprobs"][1:])
    prompts = [len(backend.tokenizer.encode(p)) for p in body["prompt"]]
    assert answer["usage"]["prompt_tokens"] == sum(prompts)
    assert max(backend.requests[0].config.max_tokens, backend.requests[1].config.max_tokens) == 16  # OpenAI's default
    plain = client.post("/v1/completions", json={"prompt": "Hi", "max_tokens": 8}).json()["choices"][0]
    assert plain["text"] == "Paris." and plain["logprobs"] is None


def test_the_input_checks_read_a_prompt_as_the_client_wrote_it(monkeypatch):
    """Sent as text, a prompt with control tokens written out is screened as written, as
    Assistant.complete screens it; it had been screened as its ids decoded, without them."""
    backend, bot = fake()
    read: list[str] = []
    screen = bot.guard.screen
    monkeypatch.setattr(bot.guard, "screen", lambda model, text, *rest: read.append(text) or screen(model, text, *rest))
    client = TestClient(create_app(bot))
    written = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert client.post("/v1/completions", json={"prompt": written}).status_code == 200
    bot.complete(written).reply()
    assert read == [written, written]


def test_token_id_prompts_as_evaluation_harnesses_send_them():
    """lm-evaluation-harness's local-completions: token ids, max_tokens 1, echo, logprobs 1; it
    sums token_logprobs[context:-1] and reads top_logprobs to tell whether each was greedy."""
    backend, client = http("Paris.")
    ids = backend.tokenizer.encode("Question: capital of France? Answer: Paris")
    body = {"prompt": [ids], "max_tokens": 1, "temperature": 0, "logprobs": 1, "echo": True, "seed": 1234}
    choice = client.post("/v1/completions", json=body).json()["choices"][0]
    lp = choice["logprobs"]
    assert len(lp["token_logprobs"]) == len(ids) + 1  # the prompt's, and the one generated
    assert choice["text"].startswith("Question: capital of France? Answer: Paris")
    for logprob, top in zip(lp["token_logprobs"][1:-1], lp["top_logprobs"][1:-1], strict=True):
        assert logprob == max(top.values())  # the fake rates each prompt token most likely


def test_a_stream_sends_the_echo_first_and_the_logprobs_last():
    _, client = http("Paris.")
    body = {"prompt": "The capital is", "stream": True, "echo": True, "logprobs": 0}
    events = client.post("/v1/completions", json={**body, "stream_options": {"include_usage": True}}).text
    data = [json.loads(e) for e in events.split("data: ") if e.strip() and e.strip() != "[DONE]"]
    texts = [c["choices"][0]["text"] for c in data if c["choices"]]
    assert texts[0] == "The capital is" and "".join(texts) == "The capital isParis."
    last = [c for c in data if c["choices"]][-1]["choices"][0]
    assert last["finish_reason"] == "stop" and "".join(last["logprobs"]["tokens"]) == "The capital isParis."
    assert data[-1]["choices"] == [] and data[-1]["usage"]["completion_tokens"] > 0
    assert events.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({}, "prompt", "prompt must be"),
        ({"prompt": []}, "prompt", "prompt is empty"),
        ({"prompt": [[]]}, "prompt", r"prompt\[0\] is empty"),
        ({"prompt": [1.5]}, "prompt", r"prompt\[0\] is float"),
        ({"prompt": [[1], 2]}, "prompt", r"prompt\[1\] is int"),
        ({"prompt": [10**9]}, "prompt", "must be a token id from 0"),
        ({"prompt": ["a", "b"], "stream": True}, "prompt", "takes one prompt"),
        ({"prompt": ["a"] * 65}, "prompt", "at most 64"),
        ({"prompt": "a", "suffix": "b"}, "suffix", "fill in the middle"),
        ({"prompt": "a", "n": 17}, "n", "n must be a whole number from 1 to 16"),
        ({"prompt": ["a"] * 5, "n": 16}, "n", "asks for 80 answers; send at most 64"),
        ({"prompt": "a", "best_of": 3}, "best_of", "best_of must be 1"),
        ({"prompt": "a", "logprobs": 21}, "logprobs", "0 to 20"),
        ({"prompt": "a", "logprobs": True}, "logprobs", "0 to 20"),
        ({"prompt": "a", "echo": "yes"}, "echo", "echo must be true or false"),
        ({"prompt": "a", "max_tokens": 0}, "max_tokens", "max_tokens must be"),
        ({"prompt": "a", "temperature": 3}, "temperature", "temperature must be"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(body, param, says):
    _, client = http()
    error = client.post("/v1/completions", json=body)
    assert error.status_code == 400, error.text
    assert error.json()["error"]["param"] == param
    assert re.search(says, error.json()["error"]["message"], re.IGNORECASE), error.json()


def test_a_batchs_later_prompts_are_not_turned_away_by_the_line_it_was_let_into(monkeypatch):
    """The line's bound (429) is checked once per request: a batch let in must not fail halfway,
    its earlier answers lost, because others joined the line while it ran."""
    from edgeqwen.server.worker import ModelWorker, QueueFullError

    bot = AsyncAssistant(Assistant(backend=FakeBackend(["Paris."]), policy="none"))
    worker = ModelWorker(bot, max_queue=1)
    monkeypatch.setattr(AsyncAssistant, "busy", property(lambda self: True))
    monkeypatch.setattr(AsyncAssistant, "waiting", property(lambda self: 1))  # one answering, one waiting

    async def submit(queued: bool) -> str:
        stream = await worker.submit_prompt("The capital of France is", {}, queued=queued)
        return (await stream.reply()).text

    with pytest.raises(QueueFullError):
        asyncio.run(submit(queued=True))  # a new request: the line is full
    assert asyncio.run(submit(queued=False)) == "Paris."  # a later prompt of one already let in


def test_a_429_tells_its_client_to_wait_as_long_as_the_last_answers_took(monkeypatch):
    """A place frees when the answer under way ends, so Retry-After is the time the model took
    over its last answers (rounded up; 1 before any): with "1" always, the OpenAI client's two
    retries were spent before a place freed."""
    from edgeqwen.server.http import translate
    from edgeqwen.server.worker import ModelWorker, QueueFullError
    from edgeqwen.types import Metrics, Reply

    bot = AsyncAssistant(Assistant(backend=FakeBackend(["Paris."]), policy="none"))
    worker = ModelWorker(bot, max_queue=0)
    monkeypatch.setattr(AsyncAssistant, "busy", property(lambda self: True))

    def refusal() -> QueueFullError:
        with pytest.raises(QueueFullError) as caught:
            asyncio.run(worker.submit_prompt("The capital of France is", {}))
        return caught.value

    assert refusal().retry_after == 1  # nothing answered yet
    for ttft, decode in [(0.5, 2.0), (0.2, 4.3)]:
        worker.metrics.record_reply(Reply("x", metrics=Metrics(generated_tokens=9, ttft_s=ttft, decode_s=decode)))
    full = refusal()
    assert full.retry_after == 4 and "retry in about 4 s" in str(full)  # (2.5 + 4.5) / 2, rounded up
    assert translate(full).status == 429 and translate(full).headers == {"Retry-After": "4"}
    for _ in range(8):  # the last eight answers count: quick ones bring it down
        worker.metrics.record_reply(Reply("x", metrics=Metrics(generated_tokens=2, ttft_s=0.01, decode_s=0.02)))
    assert refusal().retry_after == 1


def test_scoring_on_a_backend_that_cannot_is_a_400_saying_which_can():
    class LastOnly(FakeBackend):
        name = "mlc"
        supports_prompt_logprobs = False

    client = TestClient(create_app(Assistant(backend=LastOnly(), policy="none")))
    error = client.post("/v1/completions", json={"prompt": "Hi there", "echo": True, "logprobs": 1})
    assert error.status_code == 400 and "llamacpp" in error.json()["error"]["message"]
    assert client.post("/v1/completions", json={"prompt": "Hi there", "logprobs": 1}).status_code == 200


def test_the_official_client_reads_it():
    with BackgroundServer(Assistant(backend=FakeBackend(["Paris."]), policy="none")) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="none", max_retries=0)
        done = client.completions.create(model="m", prompt="The capital of France is", logprobs=2, echo=True)
        assert done.choices[0].text == "The capital of France isParis." and done.choices[0].logprobs.tokens
        pieces = client.completions.create(model="m", prompt="The capital is", stream=True)
        assert "".join(c.choices[0].text for c in pieces if c.choices) == "Paris."
