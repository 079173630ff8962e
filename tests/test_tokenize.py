"""``/tokenize`` and ``/detokenize`` (vLLM's and llama.cpp's shapes) on the tiny Qwen2 model: the
ids are those the completions and chat routes read, and text comes back as it went in."""

from __future__ import annotations

import unicodedata

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen import Assistant
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.server.protocol import RequestError
from edgeqwen.server.tokenize import detokenized, parse_tokenize
from edgeqwen.testing import FakeBackend

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there!"}]


@pytest.fixture(scope="module")
def server(qwen2):
    with BackgroundServer(Assistant(backend=qwen2, policy="default"), ServerSettings(max_tokens=8)) as srv:
        yield srv


def test_the_ids_are_what_the_completions_and_chat_routes_read(server, qwen2):
    api = openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0)
    prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    asked = httpx.post(f"{server.url}/tokenize", json={"model": "m", "prompt": prompt}).json()
    done = api.completions.create(model="m", prompt=prompt, max_tokens=1)
    assert asked["count"] == len(asked["tokens"]) == done.usage.prompt_tokens
    assert asked["tokens"][0] == qwen2.tokenizer.token_id("<|im_start|>")  # written out: the control token
    assert asked["max_model_len"] == 512 and "token_strs" not in asked
    chat = httpx.post(f"{server.url}/tokenize", json={"model": "m", "messages": CHAT}).json()
    answered = api.chat.completions.create(model="m", messages=CHAT, max_tokens=1)
    assert chat["count"] == answered.usage.prompt_tokens  # the policy's system rules included
    with_tools = httpx.post(
        f"{server.url}/tokenize",
        json={"messages": CHAT, "tools": [{"type": "function", "function": {"name": "get_time", "parameters": {}}}]},
    ).json()
    assert with_tools["count"] > chat["count"]


def test_llama_cpp_shapes_and_a_round_trip(server, qwen2):
    text = "Héllo <|im_end|> wörld 🙂"
    ids = httpx.post(f"{server.url}/tokenize", json={"content": text}).json()["tokens"]
    assert qwen2.tokenizer.token_id("<|im_end|>") in ids
    pieces = httpx.post(f"{server.url}/tokenize", json={"content": text, "with_pieces": True}).json()["tokens"]
    assert [p["id"] for p in pieces] == ids
    joined = b"".join(bytes(p["piece"]) if isinstance(p["piece"], list) else p["piece"].encode() for p in pieces)
    assert joined.decode() == text  # a piece that is not whole UTF-8 comes as its bytes
    strs = httpx.post(f"{server.url}/tokenize", json={"prompt": text, "return_token_strs": True}).json()
    assert len(strs["token_strs"]) == len(ids) and "<|im_end|>" in strs["token_strs"]
    back = httpx.post(f"{server.url}/detokenize", json={"tokens": ids}).json()
    assert back == {"prompt": text, "content": text}
    # Aphrodite's paths, under /v1 (SillyTavern's Aphrodite connection posts there)
    assert httpx.post(f"{server.base_url}/tokenize", json={"prompt": text}).json()["tokens"] == ids
    assert httpx.post(f"{server.base_url}/detokenize", json={"tokens": ids}).json() == back


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ([], None, "JSON object"),
        ({}, "prompt", "got none"),
        ({"prompt": "a", "messages": CHAT}, "messages", "got prompt, messages"),
        ({"prompt": [1, 2]}, "prompt", "must be a text"),
        ({"content": "a", "with_pieces": "yes"}, "with_pieces", "true or false"),
        ({"messages": CHAT, "add_generation_prompt": False}, "add_generation_prompt", "always opens"),
        ({"content": "a", "parse_special": False}, "parse_special", "not supported"),
    ],
)
def test_a_body_it_cannot_read_is_named(body, param, says):
    with pytest.raises(RequestError, match=says) as err:
        parse_tokenize(body)
    assert err.value.param == param


def test_bad_token_ids_are_named_over_http(server):
    for tokens, says in (([1, 10**9], "tokens[1] must be a token id"), ("12", "must be a list"), ([True], "tokens[0]")):
        answer = httpx.post(f"{server.url}/detokenize", json={"tokens": tokens})
        assert answer.status_code == 400 and says in answer.json()["error"]["message"], tokens
    assert httpx.post(f"{server.url}/detokenize", json={"tokens": []}).json()["content"] == ""
    assert httpx.post(f"{server.url}/tokenize", json={"prompt": ""}).json()["tokens"] == []


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.just("cafe\u0301 <|im_start|>"))
def test_any_text_comes_back_from_its_ids(qwen2, text):
    ids = qwen2.tokenizer.encode_controls(parse_tokenize({"prompt": text}))
    # as the model reads it: Qwen's tokenizer composes characters (NFC) first
    assert detokenized(qwen2.tokenizer, {"tokens": ids}) == unicodedata.normalize("NFC", text)


def test_a_server_answering_through_another_refuses():
    remote = FakeBackend(["hi"])
    remote.remote = True
    with BackgroundServer(Assistant(backend=remote, policy="none")) as srv:
        for path, body in (("/tokenize", {"prompt": "a"}), ("/detokenize", {"tokens": [1]})):
            answer = httpx.post(f"{srv.url}{path}", json=body)
            assert answer.status_code == 400 and "ask that server's /tokenize" in answer.json()["error"]["message"]


def test_other_servers_token_routes_count_as_the_completions_route_reads(server, qwen2):
    """SillyTavern's TabbyAPI, text-generation-webui and KoboldCpp connections count a prompt with
    their server's own route before they trim it; each was a 404, and it estimated."""
    prompt = "<|im_start|>user\nHéllo wörld<|im_end|>\n<|im_start|>assistant\n"
    ids = httpx.post(f"{server.url}/tokenize", json={"prompt": prompt}).json()["tokens"]
    tabby = httpx.post(f"{server.url}/v1/token/encode", json={"text": prompt}).json()
    assert tabby == {"tokens": ids, "length": len(ids)}
    assert httpx.post(f"{server.url}/v1/internal/encode", json={"text": prompt}).json() == tabby
    assert httpx.post(f"{server.url}/v1/internal/token-count", json={"text": prompt}).json() == {"length": len(ids)}
    assert httpx.post(f"{server.url}/api/extra/tokencount", json={"prompt": prompt}).json() == {
        "value": len(ids),
        "ids": ids,
    }
    # what SillyTavern sends: control tokens as text, as those servers then read them
    plain = qwen2.tokenizer.encode(prompt)
    assert len(plain) > len(ids)
    said = httpx.post(f"{server.url}/v1/token/encode", json={"text": prompt, "encode_special_tokens": False})
    assert said.json()["tokens"] == plain
    said = httpx.post(f"{server.url}/api/extra/tokencount", json={"prompt": prompt, "special": False})
    assert said.json()["ids"] == plain
    assert httpx.post(f"{server.url}/v1/token/decode", json={"tokens": ids}).json() == {"text": prompt}
    assert httpx.post(f"{server.url}/v1/internal/decode", json={"tokens": ids}).json() == {"text": prompt}
    # KoboldCpp's other names, which its API's clients call (their tokenize / detokenize)
    kobold = httpx.post(f"{server.url}/api/extra/tokenize", json={"prompt": prompt}).json()
    assert kobold == {"value": len(ids), "ids": ids}
    said = httpx.post(f"{server.url}/api/extra/detokenize", json={"ids": ids}).json()
    assert said == {"result": prompt, "success": True}
    bare = httpx.post(f"{server.url}/v1/token/decode", json={"tokens": ids, "decode_special_tokens": False}).json()
    assert bare == {"text": "user\nHéllo wörld\nassistant\n"}
    for path, body, param in (
        ("/v1/token/encode", {"text": [{"role": "user", "content": "Hi"}]}, "text"),
        ("/api/extra/tokencount", {"text": "Hi"}, "prompt"),
        ("/v1/token/encode", {"text": "Hi", "encode_special_tokens": "no"}, "encode_special_tokens"),
        ("/v1/internal/decode", {"tokens": [10**9]}, "tokens"),
        ("/api/extra/detokenize", {"ids": [10**9]}, "ids"),
        ("/api/extra/detokenize", {"ids": "1 2"}, "ids"),
        ("/v1/token/decode", {"tokens": [1], "decode_special_tokens": "no"}, "decode_special_tokens"),
    ):
        refused = httpx.post(f"{server.url}{path}", json=body)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param, (path, refused.text)
    for path in (
        "/v1/token/encode",
        "/v1/token/decode",
        "/api/extra/tokencount",
        "/v1/internal/decode",
        "/api/extra/detokenize",
    ):
        refused = httpx.post(f"{server.url}{path}", json=[1, 2])  # a body that is no object: it was a 500 on one
        assert refused.status_code == 400 and "JSON object" in refused.json()["error"]["message"], (path, refused.text)


def test_tabby_and_text_generation_webui_model_cards(server):
    """SillyTavern's TabbyAPI connection would not connect without /v1/model/list (a 404: 'API
    connection failed'); its text-generation-webui connection reads /v1/internal/model/info."""
    listed = httpx.get(f"{server.url}/v1/model/list").json()
    card = httpx.get(f"{server.url}/v1/model").json()
    assert listed["data"] == [card] and card["id"] == server.app.state.edgeqwen.model_id
    assert card["parameters"]["max_seq_len"] == 512
    info = httpx.get(f"{server.url}/v1/internal/model/info").json()
    assert info == {"model_name": card["id"], "lora_names": []}
    assert httpx.get(f"{server.url}/v1/models").json()["data"][0]["id"] == card["id"]
