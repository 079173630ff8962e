"""Hugging Face's Text Generation Inference API (``/generate``, ``/generate_stream``, ``POST /``),
as ``huggingface_hub``'s ``text_generation`` calls it (LangChain's ``HuggingFaceEndpoint`` with an
``endpoint_url``, LlamaIndex's ``TextGenerationInference``): it was a 405, then a 400."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import ValidationError

from edgeqwen import Assistant, InvalidRequestError
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.server.tgi import parse_tgi_request

PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"


def parse(parameters, stream=False):
    return parse_tgi_request({"inputs": "Hi", "parameters": parameters}, 64, stream)


def test_greedy_unless_a_sampler_is_asked_for_as_tgi_chooses():
    assert parse({}).settings["temperature"] == 0.0 and parse({}).settings["max_tokens"] == 64
    assert parse({"temperature": 1.0}).settings["temperature"] == 0.0  # 1 is no warper
    assert "temperature" not in parse({"do_sample": True}).settings  # the served model's default
    # LangChain's HuggingFaceEndpoint sends these on every call: they sample, typical_p included
    langchain = parse({"temperature": 0.8, "top_p": 0.95, "typical_p": 0.95, "max_new_tokens": 512})
    assert langchain.settings["temperature"] == 0.8 and langchain.settings["typical_p"] == 0.95
    assert langchain.settings["max_tokens"] == 64  # the server's bound
    asked = parse({"details": True, "top_n_tokens": 3, "stop": ["\n"], "seed": 4, "return_full_text": True})
    assert asked.details and asked.full_text and asked.settings["logprobs"] == 3
    assert asked.settings["stop"] == ("\n",) and asked.settings["seed"] == 4
    held = parse({"grammar": {"type": "regex", "value": "[0-9]+"}}).settings["response_format"]
    assert held.kind == "regex"
    assert parse_tgi_request({"inputs": "Hi", "parameters": {}, "stream": True}, 64).stream  # POST /'s own


@pytest.mark.parametrize(
    ("parameters", "param", "says"),
    [
        ({"best_of": 2}, "best_of", "only 1"),
        ({"watermark": True}, "watermark", "only False"),
        ({"truncate": 100}, "truncate", "only None"),
        ({"decoder_input_details": True}, "decoder_input_details", "only False"),
        ({"max_new_tokens": 0}, "max_new_tokens", "max_new_tokens must be a whole number >= 1"),
        ({"typical_p": 1.5}, "typical_p", r"in \(0, 1\]"),
        ({"top_n_tokens": 99}, "top_n_tokens", "0 to 20"),
        ({"grammar": {"type": "regex", "value": "("}}, "grammar", "grammar"),
        ({"details": "yes"}, "details", "true or false"),
    ],
)
def test_a_parameter_it_cannot_honour_is_named(parameters, param, says):
    with pytest.raises(InvalidRequestError, match=says) as err:
        parse(parameters)
    assert err.value.param == param


@pytest.fixture(scope="module")
def client(qwen2):
    with BackgroundServer(Assistant(backend=qwen2, policy="default"), ServerSettings(max_tokens=24)) as srv:
        yield InferenceClient(base_url=srv.url), srv


def test_text_generation_whole_streamed_and_with_details(client):
    hf, srv = client
    whole = hf.text_generation(PROMPT, max_new_tokens=8)
    assert whole and "".join(hf.text_generation(PROMPT, max_new_tokens=8, stream=True)) == whole  # greedy both
    said = hf.text_generation(PROMPT, max_new_tokens=4, details=True, top_n_tokens=2)
    assert said.generated_text == whole[: len(said.generated_text)] and said.details.generated_tokens == 4
    assert said.details.finish_reason == "length" and len(said.details.tokens) == 4
    assert "".join(t.text for t in said.details.tokens) == said.generated_text
    assert all(len(top) == 2 for top in said.details.top_tokens)
    last = list(hf.text_generation(PROMPT, max_new_tokens=3, stream=True, details=True))[-1]
    assert last.generated_text and last.details.generated_tokens == 3 and last.details.finish_reason == "length"
    full = hf.text_generation(PROMPT, max_new_tokens=4, return_full_text=True)
    assert full.startswith(PROMPT) and len(full) > len(PROMPT)
    direct = httpx.post(f"{srv.url}/generate", json={"inputs": PROMPT, "parameters": {"max_new_tokens": 8}}).json()
    assert direct == {"generated_text": whole}  # /generate answers the object, POST / a list of one


def test_grammars_stops_and_samplers_hold(client):
    hf, srv = client
    assert re.fullmatch("[0-9]{3}", hf.text_generation(PROMPT, grammar={"type": "regex", "value": "[0-9]{3}"}))
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    said = hf.text_generation(PROMPT, max_new_tokens=24, grammar={"type": "json", "value": schema})
    assert isinstance(json.loads(said)["n"], int)
    whole = hf.text_generation(PROMPT, max_new_tokens=8)
    stop = whole.split()[1] if len(whole.split()) > 1 else whole[-1]
    cut = hf.text_generation(PROMPT, max_new_tokens=8, stop=[stop], details=True)
    assert cut.details.finish_reason == "stop_sequence" and len(cut.generated_text) < len(whole)
    # LangChain's HuggingFaceEndpoint defaults: sampled, typical_p read (it was refused); a seed repeats
    kwargs = {"max_new_tokens": 6, "temperature": 0.8, "top_p": 0.95, "typical_p": 0.95, "seed": 5}
    assert hf.text_generation(PROMPT, **kwargs) == hf.text_generation(PROMPT, **kwargs)
    with pytest.raises(ValidationError, match="watermark"):
        hf.text_generation(PROMPT, max_new_tokens=4, watermark=True)


def test_post_root_is_tgi_or_tei_by_its_body(client):
    _, srv = client
    generated = httpx.post(f"{srv.url}/", json={"inputs": PROMPT, "parameters": {"max_new_tokens": 4}})
    assert generated.status_code == 200 and generated.json()[0]["generated_text"]
    embedded = httpx.post(f"{srv.url}/", json={"inputs": "x"})  # TEI's: this server has no embedding model
    assert embedded.status_code == 404 and "--embeddings" in embedded.json()["error"]["message"]
    bad = httpx.post(f"{srv.url}/generate", json={"parameters": {}})
    assert bad.status_code == 400 and bad.json() == {
        "error": "inputs must be the prompt's text, not empty.",
        "error_type": "validation",
    }


def test_info_says_the_window_and_the_model_as_llamaindex_reads_them(client, qwen2):
    """LlamaIndex's TextGenerationInference takes its context window from /info's max_total_tokens:
    it was a 404, so it assumed 3,900 tokens and no model name."""
    _, srv = client
    info = httpx.get(f"{srv.url}/info").json()
    assert info["max_total_tokens"] == qwen2.context_length == 512
    assert 0 < info["max_input_tokens"] < info["max_total_tokens"] and info["model_id"]
    assert info["version"] >= "2.1.0"  # the TGI API served: clients read max_input_tokens from 2.1 on
