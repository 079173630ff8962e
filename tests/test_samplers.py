"""Sampling settings in text-generation-webui's and TabbyAPI's names, as SillyTavern's text
completion connections send them to ``/v1/completions`` (llama.cpp's names beside them). They were
passed over with a 200: a repetition penalty the window switched off, token bans and grammars not
applied, top-a and tail-free sampling not run."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen import Assistant, InvalidRequestError
from edgeqwen.runtime.formats import ResponseFormat
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.server.completions import parse_completion_request
from edgeqwen.server.protocol import parse_chat_request
from edgeqwen.server.samplers import RequestError, settings_of

WHOLE = 1 << 30

# SillyTavern's body for its text-generation-webui ("ooba") type at its default settings (1.19's:
# temperature 0.7 applied last, top-p 0.5, top-k 40, repetition penalty 1.2), as
# createTextGenGenerationData writes it
SILLYTAVERN_OOBA = {
    "prompt": "Hi", "model": "m", "max_new_tokens": 12, "max_tokens": 12, "temperature": 0.7, "top_p": 0.5,
    "typical_p": 1, "typical": 1, "min_p": 0, "repetition_penalty": 1.2, "frequency_penalty": 0,
    "presence_penalty": 0, "top_k": 40, "skew": 0, "min_length": 0, "min_tokens": 0, "num_beams": 1,
    "length_penalty": 1, "early_stopping": False, "add_bos_token": True, "smoothing_factor": 0,
    "smoothing_curve": 1, "dry_allowed_length": 2, "dry_multiplier": 0, "dry_base": 1.75,
    "dry_sequence_breakers": '["\\n", ":", "\\"", "*"]', "dry_penalty_last_n": 0, "max_tokens_second": 0,
    "sampler_priority": ["repetition_penalty", "temperature", "top_k", "top_p", "min_p"],
    "stopping_strings": ["\nUser:"], "stop": ["\nUser:"], "truncation_length": 8192, "ban_eos_token": False,
    "skip_special_tokens": True, "include_reasoning": True, "top_a": 0, "tfs": 1, "epsilon_cutoff": 0,
    "eta_cutoff": 0, "mirostat_mode": 0, "mirostat_tau": 5, "mirostat_eta": 0.1, "custom_token_bans": "",
    "banned_strings": [], "api_type": "ooba", "xtc_threshold": 0.1, "xtc_probability": 0, "nsigma": 0,
    "top_n_sigma": 0, "min_keep": 0, "adaptive_target": -0.01, "adaptive_decay": 0.9,
    "rep_pen": 1.2, "rep_pen_range": 0, "repetition_penalty_range": 0,
    "encoder_repetition_penalty": 1, "no_repeat_ngram_size": 0, "penalty_alpha": 0, "temperature_last": True,
    "do_sample": True, "guidance_scale": 1, "negative_prompt": "", "repeat_penalty": 1.2, "repeat_last_n": 0,
    "n_predict": 12, "num_predict": 12, "num_ctx": 8192, "mirostat": 0, "ignore_eos": False, "rep_pen_slope": 1,
}  # fmt: skip


def read(body, limit=64):
    return settings_of(body, limit)


def test_sillytaverns_text_generation_webui_body_is_read_as_it_means():
    said = parse_completion_request(SILLYTAVERN_OOBA, 64).settings
    # its one range under four names: 0 is none to llama.cpp, KoboldCpp and TabbyAPI (all of it to
    # text-generation-webui alone)
    assert said["repetition_penalty"] == 1.2 and said["penalty_window"] == 0
    assert said["max_tokens"] == 12 and said["stop"] == ("\nUser:",) and said["temperature"] == 0.7
    assert (said["top_p"], said["top_k"]) == (0.5, 40)
    # its sampler_priority, as text-generation-webui sorts it: what it leaves out first, the
    # temperature last (temperature_last); it was passed over
    assert said["sampler_order"] == ("top_a", "typical_p", "tfs", "top_k", "top_p", "min_p", "temperature")
    assert "logit_bias" not in said  # no bans
    chat = {k: v for k, v in SILLYTAVERN_OOBA.items() if k != "prompt"}
    assert parse_chat_request({**chat, "messages": [{"role": "user", "content": "Hi"}]}, 64).settings == said


@pytest.mark.parametrize(
    ("body", "window"),
    [
        ({"repetition_penalty_range": 0}, WHOLE),  # text-generation-webui's alone: 0 is every token
        ({"repetition_penalty_range": 256}, 256),
        ({"penalty_range": -1}, WHOLE),  # TabbyAPI's name and its -1
        ({"penalty_range": 0}, 0),
        ({"rep_pen_range": 0}, 0),  # KoboldCpp's
        ({"rep_pen_range": 300, "repeat_last_n": 300, "repetition_penalty_range": 300}, 300),
        ({"rep_pen_range": 0, "repeat_last_n": 0, "repetition_penalty_range": 0}, 0),  # SillyTavern's: the majority's
        ({"rep_pen_range": -1, "repeat_last_n": -1, "repetition_penalty_range": -1}, WHOLE),
        ({"repeat_last_n": 0}, 0),  # llama.cpp's alone: 0 is none
        ({"repeat_last_n": -1}, WHOLE),
    ],
)
def test_the_penalty_window_in_each_servers_names(body, window):
    assert read(body)["penalty_window"] == window


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"repetition_penalty_range": 64, "repeat_last_n": 128}, "repeat_last_n"),
        ({"rep_pen": 1.1, "repetition_penalty": 1.2}, "rep_pen"),
        ({"typical": 0.9, "typical_p": 0.5}, "typical"),
        ({"stop": ["a"], "stopping_strings": ["b"]}, "stopping_strings"),
        ({"prompt_lookup_num_tokens": 4, "prompt_lookup": 8}, "prompt_lookup_num_tokens"),
        ({"repetition_penalty_range": 1.5}, "repetition_penalty_range"),
        ({"penalty_range": -2}, "penalty_range"),
        ({"do_sample": "no"}, "do_sample"),
        ({"temperature_last": 1}, "temperature_last"),
    ],
)
def test_two_names_that_disagree_or_a_value_of_the_wrong_kind_are_named(body, param):
    with pytest.raises(RequestError) as err:
        read(body)
    assert err.value.param == param, err.value


def test_other_names_for_what_this_server_has():
    said = read({"rep_pen": 1.3, "typical": 0.9, "prompt_lookup_num_tokens": 4, "max_new_tokens": 9})
    assert (said["repetition_penalty"], said["typical_p"], said["prompt_lookup"], said["max_tokens"]) == (
        1.3,
        0.9,
        4,
        9,
    )
    assert read({"do_sample": False, "temperature": 0.8})["temperature"] == 0  # transformers' greedy
    assert read({"do_sample": True, "temperature": 0.8})["temperature"] == 0.8
    assert read({"stopping_strings": ["###"]})["stop"] == ("###",)
    assert read({"temperature_last": True})["temperature_last"] is True  # SillyTavern's default
    assert read({"max_new_tokens": 9, "max_tokens": 5})["max_tokens"] == 5  # OpenAI's name first


def test_text_generation_webuis_sampler_priority_is_its_order():
    """Its default priority puts min-p after top-p (this server's own order, before): with both on
    the draws differ."""
    webui = ["repetition_penalty", "presence_penalty", "frequency_penalty", "dry", "temperature", "dynamic_temperature",
             "quadratic_sampling", "top_k", "top_p", "typical_p", "epsilon_cutoff", "eta_cutoff", "tfs", "top_a",
             "min_p", "mirostat", "xtc", "encoder_repetition_penalty", "no_repeat_ngram"]  # fmt: skip
    said = read({"sampler_priority": webui, "top_p": 0.72, "min_p": 0.1})
    assert said["sampler_order"] == ("temperature", "top_k", "top_p", "typical_p", "tfs", "top_a", "min_p")
    last = read({"sampler_priority": webui, "temperature_last": True})["sampler_order"]
    assert last[-1] == "temperature" and "temperature_last" not in read({"sampler_priority": webui})
    with pytest.raises(RequestError, match="after top_k") as err:  # the penalty sorted after a filter on
        read({"sampler_priority": ["top_k", "repetition_penalty"], "top_k": 40, "top_p": 1, "min_p": 0,
              "repetition_penalty": 1.2})  # fmt: skip
    assert err.value.param == "sampler_priority"
    with pytest.raises(RequestError, match="each give the samplers' order") as err:
        read({"sampler_priority": webui, "samplers": ["top_k"]})
    with pytest.raises(RequestError) as err:
        read({"sampler_priority": "top_k,top_p"})
    assert err.value.param == "sampler_priority"


def test_koboldcpps_samplers_and_order_on_the_openai_routes():
    """SillyTavern's KoboldCpp type sends KoboldCpp's sampler_order (the temperature last) and no
    temperature_last: the temperature was applied first; top-a and tail-free were refused."""
    kobold = {**SILLYTAVERN_OOBA, "api_type": "koboldcpp", "sampler_order": [6, 0, 1, 3, 4, 2, 5]}
    del kobold["temperature_last"], kobold["sampler_priority"]  # text-generation-webui's, sent to it alone
    said = parse_completion_request(kobold, 64).settings
    assert said["sampler_order"] == ("top_k", "top_a", "typical_p", "top_p", "min_p", "tfs", "temperature")
    assert "temperature_last" not in said and said["penalty_slope"] == 1.0
    picked = read({"top_a": 0.2, "tfs": 0.95, "rep_pen_slope": 0.5, "sampler_order": ["top_p", "temperature"]})
    assert (picked["top_a"], picked["tfs"], picked["penalty_slope"]) == (0.2, 0.95, 0.5)
    assert picked["sampler_order"] == ("top_p", "temperature")  # this server's names too
    assert "sampler_order" not in read({})  # none asked for: this server's order
    for body, param in (
        ({"sampler_order": ["top_p", "mirostat"]}, "sampler_order"),
        ({"sampler_order": "0,1"}, "sampler_order"),
        ({"tfs": 0}, "tfs"),
        ({"rep_pen_slope": 0.5, "penalty_slope": 0.7}, "rep_pen_slope"),
    ):
        with pytest.raises(RequestError) as err:
            read(body)
        assert err.value.param == param, (body, err.value)


def test_token_bans_in_each_form_are_logit_biases_of_minus_100():
    assert read({"custom_token_bans": "5, 7,9"})["logit_bias"] == {"5": -100.0, "7": -100.0, "9": -100.0}
    assert read({"banned_tokens": [5, 7]})["logit_bias"] == {"5": -100.0, "7": -100.0}  # TabbyAPI's, Aphrodite's
    both = read({"custom_token_bans": "5", "logit_bias": {"5": 3, "6": 2}})["logit_bias"]
    assert both == {"5": -100.0, "6": 2}  # the ban outweighs a bias of the same token
    for bad in ("5,x", [5, "a"], [-1], 5, [True]):
        with pytest.raises(RequestError) as err:
            read({"custom_token_bans": bad})
        assert err.value.param == "custom_token_bans"
    with pytest.raises(RequestError, match="more than 300"):
        read({"custom_token_bans": ",".join(map(str, range(301)))})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"epsilon_cutoff": 3}, "epsilon_cutoff"),
        ({"eta_cutoff": 3}, "eta_cutoff"),
        ({"smoothing_factor": 0.3}, "smoothing_factor"),
        ({"encoder_repetition_penalty": 1.1}, "encoder_repetition_penalty"),
        ({"no_repeat_ngram_size": 3}, "no_repeat_ngram_size"),
        ({"penalty_alpha": 0.6}, "penalty_alpha"),
        ({"guidance_scale": 1.5, "negative_prompt": "dull"}, "guidance_scale"),
        ({"cfg_scale": 1.5}, "cfg_scale"),
        ({"mirostat_mode": 2}, "mirostat_mode"),
        ({"num_beams": 4}, "num_beams"),
        ({"min_length": 20}, "min_length"),
        ({"dynamic_temperature": True}, "dynamic_temperature"),
        ({"min_temp": 0.5, "max_temp": 1.5}, "max_temp"),  # TabbyAPI's dynamic temperature
        ({"dynatemp_min": 0.5, "dynatemp_max": 1.5}, "dynatemp_max"),  # Aphrodite's
        ({"ban_eos_token": True}, "ban_eos_token"),
        ({"banned_strings": ["sorry"]}, "banned_strings"),
        ({"allowed_tokens": [5]}, "allowed_tokens"),
        ({"nsigma": 1.0}, "nsigma"),
        ({"min_keep": 5}, "min_keep"),
        ({"max_tokens_second": 5}, "max_tokens_second"),
        ({"mirostat": True}, "mirostat"),
        ({"adaptive_target": 0.5}, "adaptive_target"),  # KoboldCpp's
        ({"bypass_eos": True}, "bypass_eos"),
        ({"trim_stop": False}, "trim_stop"),
    ],
)
def test_samplers_this_server_has_not_are_refused_unless_off(body, param):
    with pytest.raises(RequestError) as err:
        read(body)
    assert err.value.param == param and "not" in str(err.value), err.value


def test_their_off_values_are_taken():
    off = {
        "epsilon_cutoff": 0, "eta_cutoff": 0, "smoothing_factor": 0, "num_beams": 1,
        "dynamic_temperature": False, "min_temp": 1, "max_temp": 1, "nsigma": 0,
        "min_keep": 1, "mirostat": False, "banned_strings": [], "allowed_tokens": "", "guidance_scale": 1,
        "adaptive_target": -1, "trim_stop": True, "bypass_eos": False,
    }  # fmt: skip
    assert read(off) == read({})


def test_grammar_string_and_regex_pattern_hold_the_answer():
    gbnf = 'root ::= "yes" | "no"'
    fmt = parse_completion_request({"prompt": "Hi", "grammar_string": gbnf}, 64).settings["response_format"]
    assert isinstance(fmt, ResponseFormat) and fmt.kind == "lark" and '"yes"' in fmt.grammar
    # SillyTavern's llama.cpp type sends the one grammar under both names: one format, not two
    assert parse_completion_request({"prompt": "Hi", "grammar_string": gbnf, "grammar": gbnf}, 64).settings
    regex = parse_completion_request({"prompt": "Hi", "regex_pattern": "[0-9]+"}, 64).settings["response_format"]
    assert regex.kind == "regex" and regex.pattern == "[0-9]+"
    with pytest.raises(InvalidRequestError, match="one structured output"):
        parse_completion_request({"prompt": "Hi", "grammar_string": gbnf, "regex_pattern": "a"}, 64)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["custom_token_bans", "banned_tokens", "repetition_penalty_range", "penalty_range",
                         "repeat_last_n", "rep_pen", "do_sample", "stopping_strings", "stop", "min_temp", "max_temp",
                         "top_a", "min_keep", "nsigma", "prompt_lookup_num_tokens", "max_new_tokens", "tfs",
                         "rep_pen_slope", "sampler_order", "samplers", "temperature_last", "top_p"]),
        st.one_of(st.none(), st.booleans(), st.integers(-3, 400), st.floats(allow_nan=False), st.text(max_size=6),
                  st.lists(st.one_of(st.integers(-2, 9), st.text(max_size=2)), max_size=3)),
    )
)  # fmt: skip
def test_any_value_is_read_or_refused_by_name(body):
    """Whatever a client sends in these fields, the answer is settings or a 400 naming a field it sent."""
    try:
        read(body)
    except RequestError as exc:
        assert exc.param in body or exc.param in ("prompt_lookup", "max_tokens"), exc


@pytest.fixture(scope="module")
def server(qwen2):
    with BackgroundServer(Assistant(backend=qwen2, policy="default"), ServerSettings(max_tokens=8)) as srv:
        yield srv


def test_a_banned_token_is_never_written(server, qwen2):
    """SillyTavern's banned tokens reach the model: the greedy answer's first token, banned, is not written."""
    body = {**SILLYTAVERN_OOBA, "prompt": "The capital of France is", "temperature": 0, "max_tokens": 4}
    first = httpx.post(f"{server.url}/v1/completions", json=body, timeout=60).json()["choices"][0]["text"]
    token = qwen2.tokenizer.encode(first)[0]
    banned = httpx.post(
        f"{server.url}/v1/completions", json={**body, "custom_token_bans": str(token)}, timeout=60
    ).json()["choices"][0]["text"]
    assert banned and qwen2.tokenizer.encode(banned)[0] != token
    refused = httpx.post(f"{server.url}/v1/completions", json={**body, "epsilon_cutoff": 3}, timeout=60)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "epsilon_cutoff"
