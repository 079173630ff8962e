"""llama-server's own API (``/completion``, ``/apply-template``): bodies as llama.cpp's clients
write them (SillyTavern's llama.cpp connection among them), on the tiny Qwen2 model."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from edgeqwen import Assistant, InvalidRequestError
from edgeqwen.model import chat_template_source
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.server.llama_server import parse_llama_completion
from edgeqwen.testing import FakeBackend

PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
TOKENIZER = FakeBackend().tokenizer


def parse(body, limit=64):
    return parse_llama_completion(body, TOKENIZER, limit)


@pytest.fixture(scope="module")
def server(qwen2):
    with BackgroundServer(Assistant(backend=qwen2, policy="default"), ServerSettings(max_tokens=24)) as srv:
        yield srv


def test_llama_servers_defaults_and_names_read_as_ours():
    plain = parse({"prompt": "Hi"})
    assert plain.settings["max_tokens"] == 64 and not plain.stream and not plain.nothing  # n_predict -1
    assert parse({"prompt": "Hi", "n_predict": 0}).nothing
    asked = parse(
        {
            "prompt": "Hi",
            "n_predict": 5,
            "repeat_penalty": 1.2,
            "repeat_last_n": -1,
            "top_k": 0,
            "seed": -1,
            "n_probs": 3,
        }
    )
    settings = asked.settings
    assert settings["max_tokens"] == 5 and settings["repetition_penalty"] == 1.2 and settings["logprobs"] == 3
    assert "seed" not in settings and settings["penalty_window"] >= 1 << 20
    # top_k 0 and below is off, not the served model's default top_k (Qwen3's is 20)
    assert settings["top_k"] == 0 and parse({"prompt": "Hi", "top_k": -1}).settings["top_k"] == 0
    assert parse({"prompt": "Hi", "max_tokens": 7}).settings["max_tokens"] == 7  # its alias
    # one prompt as text, ids, a list of one, or text and ids mixed
    ids = TOKENIZER.encode("Hi")
    assert parse({"prompt": ["Hi"]}).prompt == parse({"prompt": ids}).prompt == tuple(ids)
    assert parse({"prompt": [*ids, "Hi"]}).prompt == (*ids, *ids)


def test_the_samplers_run_in_llama_cpps_order_or_the_bodys():
    """llama.cpp applies the temperature after top-k, typical, top-p and min-p, and reads the
    order from ``samplers`` (SillyTavern sends its list): here the temperature came first."""
    assert parse({"prompt": "Hi"}).settings["sampler_order"] == ("top_k", "typical_p", "top_p", "min_p", "temperature")
    sillytavern = ["penalties", "dry", "top_n_sigma", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature",
                   "adaptive_p"]  # fmt: skip
    assert parse({"prompt": "Hi", "samplers": sillytavern}).settings == parse({"prompt": "Hi"}).settings
    first = parse({"prompt": "Hi", "samplers": ["temp", "top-k", "nucleus"], "repeat_penalty": 1.0})
    assert first.settings["sampler_order"] == ("temperature", "top_k", "top_p")
    # llama.cpp's letters (its web UI sends "edkypmxt"); names and letters it does not know passed over, as it does
    assert parse({"prompt": "Hi", "samplers": "edkypmxt"}).settings == parse({"prompt": "Hi"}).settings
    assert parse({"prompt": "Hi", "samplers": ["top_k", "mirostat", "temp"]}).settings["sampler_order"] == (
        "top_k",
        "temperature",
    )
    for body, says in (
        ({"samplers": [3, "top_k"]}, "list of sampler names"),
        ({"samplers": "zz"}, "list of sampler names"),  # nothing llama.cpp knows: an empty order
        ({"samplers": ["top_k", "temperature"], "repeat_penalty": 1.2}, "leaves out the repetition penalty"),
        ({"samplers": ["top_k", "penalties"], "repeat_penalty": 1.2, "top_k": 40}, "after top_k"),
    ):
        with pytest.raises(InvalidRequestError, match=says) as err:
            parse({"prompt": "Hi", **body})
        assert err.value.param == "samplers"


# llama.cpp's web UI's chat body (and the apps that copy it): its samplers as letters, max_tokens -1
LLAMA_WEBUI = {
    "stream": True, "cache_prompt": True, "samplers": "edkypmxt", "temperature": 0.8, "dynatemp_range": 0,
    "dynatemp_exponent": 1, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "typical_p": 1, "xtc_probability": 0,
    "xtc_threshold": 0.1, "repeat_last_n": 64, "repeat_penalty": 1, "presence_penalty": 0, "frequency_penalty": 0,
    "dry_multiplier": 0, "dry_base": 1.75, "dry_allowed_length": 2, "dry_penalty_last_n": -1, "max_tokens": -1,
    "timings_per_token": False,
}  # fmt: skip


def test_llama_cpps_web_ui_body_is_read_as_llama_server_reads_it(server):
    """Its max_tokens -1 (no limit, to llama-server) was a 400."""
    from edgeqwen.server.protocol import parse_chat_request

    said = parse_chat_request({**LLAMA_WEBUI, "messages": [{"role": "user", "content": "Hi"}]}, 64).settings
    assert said["max_tokens"] == 64 and said["sampler_order"] == ("top_k", "typical_p", "top_p", "min_p", "temperature")
    assert (said["temperature"], said["top_k"], said["top_p"], said["min_p"]) == (0.8, 40, 0.95, 0.05)
    body = {**LLAMA_WEBUI, "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=60) as r:
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert r.status_code == 200 and events[-1] == "data: [DONE]"
    with pytest.raises(InvalidRequestError, match="max_tokens must be a whole number >= 1"):
        parse_chat_request({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": -3}, 64)


def test_logit_bias_in_each_of_its_forms():
    hello = TOKENIZER.encode("Hello")
    said = parse({"prompt": "Hi", "logit_bias": [[5, 1.5], ["Hello", False]]}).settings["logit_bias"]
    assert said == {"5": 1.5, **{str(i): -100.0 for i in hello}}  # false: never produced; text: its tokens
    assert parse({"prompt": "Hi", "logit_bias": {"5": 2, "Hello": -1}}).settings["logit_bias"] == {
        "5": 2.0,
        **{str(i): -1.0 for i in hello},
    }
    assert "logit_bias" not in parse({"prompt": "Hi", "logit_bias": []}).settings  # what SillyTavern sends


@pytest.mark.parametrize(
    "off",
    [{"mirostat": 0}, {"typical_p": 1}, {"dry_multiplier": 0}, {"xtc_probability": 0}, {"top_n_sigma": -1},
     {"ignore_eos": False}, {"lora": []}, {"grammar": ""}, {"samplers": ["top_k"]}, {"cache_prompt": True}],
)  # fmt: skip
def test_a_sampler_this_server_has_not_is_taken_off(off):
    assert parse({"prompt": "Hi", **off}).settings["max_tokens"] == 64


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"mirostat": 2}, "mirostat", "not supported"),
        ({"tfs_z": 1.5}, "tfs_z", r"tfs_z: tfs must be in \(0, 1\]"),
        ({"dry_multiplier": 0.8}, "dry_multiplier", "not supported"),
        ({"min_keep": 5}, "min_keep", "not supported"),  # passed over here, refused on the OpenAI routes
        ({"ignore_eos": True}, "ignore_eos", "only False"),
        ({"prompt": ["a", "b"]}, "prompt", "holds 2 prompts"),
        ({"prompt": [1, 2**40]}, "prompt", r"prompt\[1\] must be"),
        ({"prompt": []}, "prompt", "must be a text"),
        ({"n_predict": "8"}, "n_predict", "whole number"),
        ({"n_probs": 99}, "n_probs", "0 to 20"),
        ({"grammar": "root ::= ("}, "grammar", "not a GBNF grammar"),
        ({"grammar": 'root ::= "a"', "json_schema": {}}, "grammar", "Send one structured output"),
        ({"logit_bias": [[5]]}, "logit_bias", r"\[\[token id or text"),
        ({"logit_bias": [[5, "x"]]}, "logit_bias", "a number or false"),
        ({"n_cmpl": 0}, "n_cmpl", "n_cmpl must be a whole number from 1 to 16"),
        ({"n": 17}, "n", "n must be"),
        ({"stream": "yes"}, "stream", "true or false"),
    ],
)
def test_a_body_it_cannot_read_is_named(body, param, says):
    with pytest.raises(InvalidRequestError, match=says) as err:  # the server's 400
        parse({"prompt": "Hi", **body})
    assert err.value.param == param


def test_its_clients_fields_are_read_on_the_openai_routes_too():
    """llama-server reads its own fields on its OpenAI routes, and clients written for it send
    them there (Strands' LlamaCppModel: repeat_penalty, mirostat, typical_p ... at the top of a
    chat body). They were passed over: a penalty not applied, mirostat not run, with a 200."""
    from edgeqwen.server.completions import parse_completion_request
    from edgeqwen.server.protocol import parse_chat_request

    chat = [{"role": "user", "content": "Hi"}]
    for read in (lambda b: parse_chat_request({"messages": chat, **b}, 64).settings,
                 lambda b: parse_completion_request({"prompt": "Hi", **b}, 64).settings):  # fmt: skip
        said = read({"repeat_penalty": 1.3, "repeat_last_n": 128, "n_predict": 9, "top_k": -1, "cache_prompt": True})
        assert (said["repetition_penalty"], said["penalty_window"], said["max_tokens"], said["top_k"]) == (
            1.3,
            128,
            9,
            0,
        )
        assert (
            read({"n_predict": -1})["max_tokens"] == 64 and read({"n_predict": 9, "max_tokens": 5})["max_tokens"] == 5
        )
        assert read({"mirostat": 0, "tfs_z": 1.0, "dry_multiplier": 0, "ignore_eos": False})  # their off values
        assert read({"typical_p": 0.9})["typical_p"] == 0.9  # a sampler this server has
        assert read({"tfs_z": 0.9})["tfs"] == 0.9  # llama.cpp's tail-free sampling, which it dropped in 2024
        for body, param in (({"mirostat": 2}, "mirostat"), ({"top_n_sigma": 1.5}, "top_n_sigma"),
                            ({"xtc_probability": 0.5}, "xtc_probability"), ({"n_predict": 0}, "n_predict"),
                            ({"repeat_penalty": 1.1, "repetition_penalty": 1.2}, "repeat_penalty")):  # fmt: skip
            with pytest.raises(InvalidRequestError) as err:
                read(body)
            assert err.value.param == param, (body, err.value)


def test_infill_says_why_it_is_not_served(server):
    """llama.vim's and llama.vscode's autocomplete post to /infill: it was a 404 listing every route."""
    r = httpx.post(f"{server.url}/infill", json={"input_prefix": "def f(", "input_suffix": "):"}, timeout=30)
    assert r.status_code == 400 and "fill in the middle" in r.json()["error"]["message"]


def test_a_completion_is_what_v1_completions_gives_in_llama_servers_shape(server, qwen2):
    api = openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0)
    body = {"prompt": PROMPT, "n_predict": 6, "temperature": 0, "return_tokens": True}
    said = httpx.post(f"{server.url}/completion", json=body).json()
    ours = api.completions.create(model="m", prompt=PROMPT, max_tokens=6, temperature=0)
    assert said["content"] == ours.choices[0].text and said["stop"] is True
    assert said["tokens_evaluated"] == ours.usage.prompt_tokens and said["tokens_predicted"] == 6
    assert said["stop_type"] == "limit" and said["finish_reason"] == "length" and said["timings"]["predicted_n"] == 6
    assert qwen2.tokenizer.decode(said["tokens"]) == said["content"]
    assert httpx.post(f"{server.url}/completions", json=body).json()["content"] == said["content"]  # its alias
    nothing = httpx.post(f"{server.url}/completion", json={**body, "n_predict": 0}).json()
    assert nothing["content"] == "" and nothing["tokens_predicted"] == 0 and nothing["stop_type"] == "limit"


def test_a_stream_is_llama_servers_events_with_everything_in_the_last(server):
    body = {"prompt": PROMPT, "n_predict": 6, "temperature": 0, "n_probs": 2}
    whole = httpx.post(f"{server.url}/completion", json=body).json()
    with httpx.stream("POST", f"{server.url}/completion", json={**body, "stream": True}) as r:
        lines = [line for line in r.iter_lines() if line]
    events = [json.loads(line.removeprefix("data: ")) for line in lines]  # no [DONE]: every event is JSON
    assert all(line.startswith("data: ") for line in lines)
    assert [e["stop"] for e in events] == [False] * (len(events) - 1) + [True]
    assert "".join(e["content"] for e in events) == whole["content"]
    last = events[-1]
    assert last["completion_probabilities"] == whole["completion_probabilities"]
    probs = last["completion_probabilities"]
    assert len(probs) == 6 and all(len(p["top_logprobs"]) == 2 and p["logprob"] <= 0 for p in probs)


def test_stop_words_grammars_and_schemas(server):
    text = httpx.post(f"{server.url}/completion", json={"prompt": PROMPT, "n_predict": 24, "temperature": 0}).json()
    word = text["content"].split()[1] if len(text["content"].split()) > 1 else None
    if word:  # the tiny model's second word, as a stop string: cut before it
        cut = httpx.post(
            f"{server.url}/completion", json={"prompt": PROMPT, "n_predict": 24, "temperature": 0, "stop": [word]}
        ).json()
        assert cut["stop_type"] == "word" and cut["stopping_word"] == word and word not in cut["content"]
    yes_no = httpx.post(
        f"{server.url}/completion", json={"prompt": PROMPT, "n_predict": 8, "grammar": 'root ::= ("yes" | "no")'}
    ).json()
    assert yes_no["content"] in ("yes", "no")
    schema = {"type": "object", "properties": {"city": {"enum": ["Paris", "Rome"]}}, "required": ["city"]}
    parsed = httpx.post(
        f"{server.url}/completion", json={"prompt": PROMPT, "n_predict": 24, "json_schema": schema}
    ).json()
    assert json.loads(parsed["content"])["city"] in ("Paris", "Rome")


def test_apply_template_gives_the_prompt_chat_reads(server):
    api = openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0)
    messages = [{"role": "user", "content": "Hello there!"}]
    prompt = httpx.post(f"{server.url}/apply-template", json={"messages": messages}).json()["prompt"]
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    counted = httpx.post(f"{server.url}/tokenize", json={"prompt": prompt}).json()["count"]
    assert counted == api.chat.completions.create(model="m", messages=messages, max_tokens=1).usage.prompt_tokens
    bad = httpx.post(f"{server.url}/apply-template", json={"messages": "hi"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "messages"


def test_props_say_the_window_the_defaults_and_the_models_own_template(server, qwen2, tmp_path):
    """SillyTavern's llama.cpp connection sets its context size from n_ctx and picks its prompt
    format by the chat template's hash."""
    props = httpx.get(f"{server.url}/props").json()
    settings = props["default_generation_settings"]
    assert settings["n_ctx"] == 512 and settings["params"]["n_predict"] == 24 and props["total_slots"] == 1
    assert settings["params"]["samplers"][-1] == "temperature"  # llama.cpp's order, which /completion applies
    assert props["chat_template"] == chat_template_source(qwen2.info.path) == ""  # the tiny model's files hold none
    jinja = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": jinja}))
    assert chat_template_source(tmp_path) == jinja
    named = [{"name": "tool_use", "template": "x"}, {"name": "default", "template": jinja}]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": named}))
    assert chat_template_source(tmp_path) == jinja
    (tmp_path / "chat_template.jinja").write_text("own file")  # Hugging Face's newer place comes first
    assert chat_template_source(tmp_path) == "own file"
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "tokenizer_config.json").write_text("[1, 2")
    assert chat_template_source(tmp_path / "broken") == chat_template_source(None) == ""


def test_the_template_of_the_demo_models_gguf_is_its_chatml_one():
    from edgeqwen.convert import demo_gguf_path

    template = chat_template_source(demo_gguf_path())
    assert "<|im_start|>" in template and "add_generation_prompt" in template


def test_several_completions_come_as_llama_servers_array_and_a_streams_events_say_whose(server):
    """SillyTavern's swipes on its llama.cpp connection send n and read an array (a stream's
    events by their index); it was refused."""
    body = {"prompt": PROMPT, "n_predict": 4, "temperature": 1.0, "seed": 7}
    whole = httpx.post(f"{server.url}/completion", json={**body, "n": 3}).json()
    assert [w["index"] for w in whole] == [0, 1, 2] and all(w["stop"] and w["tokens_predicted"] == 4 for w in whole)
    assert len({w["content"] for w in whole}) > 1  # each the next seed
    again = httpx.post(f"{server.url}/completion", json={**body, "n_cmpl": 3}).json()
    assert [a["content"] for a in again] == [w["content"] for w in whole]  # seeded: the same completions
    assert httpx.post(f"{server.url}/completion", json=body).json()["content"] == whole[0]["content"]
    with httpx.stream("POST", f"{server.url}/completion", json={**body, "n": 3, "stream": True}) as r:
        events = [json.loads(line.removeprefix("data: ")) for line in r.iter_lines() if line]
    for index in range(3):
        mine = [e for e in events if e["index"] == index]
        assert "".join(e["content"] for e in mine) == whole[index]["content"] and mine[-1]["stop"]
    assert [e["index"] for e in events] == sorted(e["index"] for e in events)  # one after another
