"""vLLM's structured outputs (``guided_*``, ``structured_outputs``), llama-server's ``grammar`` and
``json_schema`` on the OpenAI routes, and ``response_format`` on ``/v1/completions``: each was
passed over and the answer came back unconstrained with a 200."""

from __future__ import annotations

import json
import re

import jsonschema
import openai
import pytest

from edgeqwen import Assistant, InvalidRequestError
from edgeqwen.runtime.formats import ResponseFormat
from edgeqwen.server import BackgroundServer, ServerSettings
from edgeqwen.server.guided import guided_format

SCHEMA = {
    "type": "object",
    "properties": {"city": {"enum": ["Paris", "Rome"]}, "people": {"type": "integer", "minimum": 0}},
    "required": ["city", "people"],
    "additionalProperties": False,
}
CHAT = [{"role": "user", "content": "Which city, and how many people?"}]
PROMPT = "<|im_start|>user\nWhich city?<|im_end|>\n<|im_start|>assistant\n"


def test_each_field_is_the_format_it_means():
    as_schema = {"type": "json_schema", "json_schema": {"schema": SCHEMA}}
    assert guided_format({"guided_json": SCHEMA}) == as_schema
    assert guided_format({"guided_json": json.dumps(SCHEMA)}) == as_schema  # vLLM takes its JSON text too
    assert guided_format({"structured_outputs": {"json": SCHEMA}}) == as_schema
    assert guided_format({"structured_outputs": {"json_object": True}}) == {"type": "json_object"}
    assert guided_format({"guided_regex": "[0-9]{3}"}) == ResponseFormat.regex("[0-9]{3}")
    assert guided_format({"structured_outputs": {"choice": ["yes", "no"]}}) == ResponseFormat.choice(["yes", "no"])
    gbnf, lark = (
        guided_format({"guided_grammar": 'root ::= "yes" | "no"'}),
        guided_format({"guided_grammar": 'start: "a"'}),
    )
    assert gbnf.kind == lark.kind == "lark" and lark.grammar == 'start: "a"'
    # what only chooses how: passed over
    assert guided_format({"guided_choice": ["a"], "guided_decoding_backend": "xgrammar"}) == ResponseFormat.choice(
        ["a"]
    )
    assert guided_format({"structured_outputs": {"regex": "a+", "disable_any_whitespace": True}}).kind == "regex"
    assert guided_format({"response_format": {"type": "text"}}) is None
    # llama-server's, which its clients send to its chat route too (Strands' LlamaCppModel)
    assert guided_format({"json_schema": SCHEMA}) == as_schema
    assert guided_format({"grammar": 'root ::= "yes" | "no"'}) == gbnf
    assert guided_format({"grammar": "", "json_schema": None}) is None  # their off values
    # TGI's response_format (a 400 before), and json_schema as huggingface_hub's InferenceClient
    # rewrites it for a base_url (read as any JSON object before, the schema passed over)
    assert guided_format({"response_format": {"type": "json", "value": SCHEMA}}) == as_schema
    assert guided_format({"response_format": {"type": "json_object", "value": SCHEMA}}) == as_schema
    # LangChain's ChatHuggingFace (with_structured_output, method json_schema): Fireworks' form
    assert guided_format({"response_format": {"type": "json_object", "schema": SCHEMA}}) == as_schema
    assert guided_format({"response_format": {"type": "json_object"}}) is None  # OpenAI's, read as it is
    assert guided_format({"response_format": {"type": "regex", "value": "a+"}}) == ResponseFormat.regex("a+")
    from edgeqwen.server.protocol import format_of

    tgi_schema = {"type": "json_schema", "value": {"name": "x", "schema": SCHEMA}}
    assert format_of({"response_format": tgi_schema})["json_schema"]["schema"] == SCHEMA


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"guided_json": SCHEMA, "guided_regex": "a"}, "guided_json", "Send one structured output"),
        ({"guided_choice": ["a"], "response_format": {"type": "json_object"}}, "response_format", "not both"),
        ({"guided_json": "{not json"}, "guided_json", "JSON Schema"),
        ({"guided_json": [1]}, "guided_json", "JSON Schema object"),
        ({"guided_regex": 5}, "guided_regex", "a regex must be text"),
        ({"guided_choice": "yes"}, "guided_choice", "a list of texts"),
        ({"guided_choice": []}, "guided_choice", "non-empty list"),
        ({"guided_grammar": "root ::= ("}, "guided_grammar", "not a GBNF grammar"),
        ({"guided_grammar": ""}, "guided_grammar", "grammar's text"),
        ({"structured_outputs": [1]}, "structured_outputs", "must be an object"),
        ({"grammar": 'root ::= "a"', "json_schema": {}}, "grammar", "Send one structured output"),
        ({"json_schema": SCHEMA, "guided_regex": "a"}, "guided_regex", "Send one structured output"),
        ({"json_schema": [1]}, "json_schema", "JSON Schema object"),
        ({"grammar": 7}, "grammar", "grammar's text"),
        ({"json_schema": SCHEMA, "response_format": {"type": "json_object"}}, "response_format", "not both"),
        ({"response_format": {"type": "regex", "value": "("}}, "response_format", "response_format"),
        ({"response_format": {"type": "json"}}, "response_format", "JSON Schema object"),
        ({"guided_regex": "a", "response_format": {"type": "regex", "value": "b"}}, "guided_regex", "Send one"),
        ({"structured_outputs": {"structural_tag": "x"}}, "structured_outputs.structural_tag", "not supported"),
    ],
)
def test_a_field_it_cannot_read_is_named(body, param, says):
    with pytest.raises(InvalidRequestError, match=says) as err:
        guided_format(body)
    assert err.value.param == param


@pytest.fixture(scope="module")
def api(qwen2):
    with BackgroundServer(Assistant(backend=qwen2, policy="none"), ServerSettings(max_tokens=64)) as srv:
        yield openai.OpenAI(base_url=srv.base_url, api_key="none", max_retries=0)


def test_the_tiny_models_answers_keep_to_them_on_both_routes(api):
    def chat(**extra):
        return api.chat.completions.create(model="m", messages=CHAT, temperature=1.0, extra_body=extra)

    assert chat(guided_choice=["Paris", "Rome"]).choices[0].message.content in ("Paris", "Rome")
    assert re.fullmatch("[0-9]{3}-[a-z]{2}", chat(guided_regex="[0-9]{3}-[a-z]{2}").choices[0].message.content)
    jsonschema.validate(json.loads(chat(guided_json=SCHEMA).choices[0].message.content), SCHEMA)
    said = chat(structured_outputs={"grammar": 'root ::= "yes" | "no"'}).choices[0].message.content
    assert said in ("yes", "no")
    # llama-server's own fields, as a client written for it sends them to its chat route
    jsonschema.validate(json.loads(chat(json_schema=SCHEMA).choices[0].message.content), SCHEMA)
    assert chat(grammar='root ::= "yes" | "no"').choices[0].message.content in ("yes", "no")
    tgi = {"type": "regex", "value": "(Paris|Rome)"}  # TGI's, as huggingface_hub sends it
    said = api.chat.completions.create(model="m", messages=CHAT, temperature=1.0, response_format=tgi)
    assert said.choices[0].message.content in ("Paris", "Rome")

    def complete(**extra):
        return api.completions.create(model="m", prompt=PROMPT, max_tokens=48, temperature=1.0, **extra).choices[0]

    answer = complete(extra_body={"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}})
    jsonschema.validate(json.loads(answer.text), SCHEMA)
    assert complete(extra_body={"structured_outputs": {"choice": ["Paris", "Rome"]}}).text in ("Paris", "Rome")
    assert complete(extra_body={"grammar": 'root ::= "Paris" | "Rome"'}).text in ("Paris", "Rome")
    with pytest.raises(openai.BadRequestError) as err:
        complete(extra_body={"guided_regex": "a", "guided_choice": ["b"]})
    assert err.value.body["param"] == "guided_regex"


def test_vllms_other_sampling_fields_are_read_or_refused_never_passed_over():
    """min_tokens, ignore_eos, include_stop_str_in_output ... were passed over: an answer shorter
    than asked, ended at its end token, its stop string dropped, with a 200."""
    from edgeqwen.server.protocol import parse_chat_request

    chat = [{"role": "user", "content": "a"}]
    assert parse_chat_request({"messages": chat, "stop_token_ids": [5, 7]}, 8).settings["stop_token_ids"] == (5, 7)
    off = {"min_tokens": 0, "ignore_eos": False, "include_stop_str_in_output": False, "bad_words": []}
    off |= {"skip_special_tokens": True, "chat_template": None, "prompt_logprobs": None}
    assert "stop_token_ids" not in parse_chat_request({"messages": chat, **off}, 8).settings  # what SillyTavern sends
    for name, value in (("min_tokens", 5), ("ignore_eos", True), ("include_stop_str_in_output", True),
                        ("bad_words", ["x"]), ("use_beam_search", True), ("stop_token_ids", "5"),
                        ("stop_token_ids", [-1]), ("chat_template", "{{ messages }}"), ("prompt_logprobs", 1),
                        ("skip_special_tokens", False)):  # fmt: skip
        with pytest.raises(InvalidRequestError) as err:
            parse_chat_request({"messages": chat, name: value}, 8)
        assert err.value.param == name, (name, err.value)
    # on chat: echo, add_generation_prompt, documents; continue_final_message false where it would be
    # continued (vLLM's default opens a new turn after a final assistant message; this server continues it)
    prefilled = [*chat, {"role": "assistant", "content": "Sure,"}]
    for body in ({"echo": True}, {"add_generation_prompt": False}, {"documents": [{"text": "d"}]},
                 {"messages": prefilled, "continue_final_message": False}):  # fmt: skip
        with pytest.raises(InvalidRequestError) as err:
            parse_chat_request({"messages": chat, **body}, 8)
        assert err.value.param == next(k for k in body if k != "messages")
    for body in ({"messages": prefilled, "continue_final_message": True}, {"continue_final_message": False},
                 {"echo": False, "add_generation_prompt": True, "documents": []}):  # fmt: skip
        assert parse_chat_request({"messages": chat, **body}, 8).messages


def test_a_stop_token_id_ends_the_answer(api):
    import httpx

    said = api.completions.create(model="m", prompt=PROMPT, max_tokens=12, temperature=0).choices[0]
    base = str(api.base_url).removesuffix("/v1/")
    tokens = httpx.post(f"{base}/tokenize", json={"prompt": said.text}).json()["tokens"]
    if len(tokens) < 2:
        pytest.skip("the tiny model's answer is one token")
    asked = {"stop_token_ids": [tokens[1]]}
    cut = api.completions.create(model="m", prompt=PROMPT, max_tokens=12, temperature=0, extra_body=asked).choices[0]
    assert cut.finish_reason == "stop" and said.text.startswith(cut.text) and len(cut.text) < len(said.text)
