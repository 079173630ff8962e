"""Contract tests of the MLC adapter against a fake ``mlc_llm`` that follows the real API's shapes
(``tests/fake_mlc``). What a real GPU run would add is stated in the README."""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from edgeqwen import (
    Assistant,
    BackendUnavailableError,
    GrammarError,
    InvalidRequestError,
    ModelLoadError,
    ModelNotFoundError,
    ResponseFormat,
    StructuredOutputError,
)
from edgeqwen.backends.mlc import UnsupportedSettingWarning, mlc_response_format, parse_device
from edgeqwen.types import Message

FAKE = Path(__file__).parent / "fake_mlc"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Pet(BaseModel):
    name: str
    kind: Literal["cat", "dog"]


@pytest.fixture
def mlc(monkeypatch):
    """The fake mlc_llm module, importable for this test only."""

    def forget() -> None:
        for name in [m for m in sys.modules if m == "mlc_llm" or m.startswith("mlc_llm.")]:
            del sys.modules[name]

    forget()
    monkeypatch.syspath_prepend(str(FAKE))
    import mlc_llm

    yield mlc_llm
    forget()  # later tests see a machine without mlc_llm again


def _folder(root: Path, tokenizer: Path, model_type: str) -> Path:
    folder = root / f"{model_type}-q4f16_1-MLC"
    folder.mkdir()
    shutil.copy(tokenizer, folder / "tokenizer.json")
    config = {
        "model_type": model_type,
        "quantization": "q4f16_1",
        "context_window_size": 4096,
        "vocab_size": 151936,
        "conv_template": {"name": "qwen2", "stop_token_ids": [151643, 151645]},
    }
    (folder / "mlc-chat-config.json").write_text(json.dumps(config))
    (folder / "params_shard_0.bin").write_bytes(b"\0" * 64)
    return folder


@pytest.fixture
def folder(tmp_path, qwen_tokenizer_json):
    return _folder(tmp_path, qwen_tokenizer_json, "qwen2")


@pytest.fixture
def qwen3_folder(tmp_path, qwen3_tokenizer_json):
    return _folder(tmp_path, qwen3_tokenizer_json, "qwen3")


def test_without_mlc_llm_the_error_says_how_to_install(monkeypatch, folder):
    monkeypatch.setitem(sys.modules, "mlc_llm", None)  # import fails, as on a machine without it
    with pytest.raises(BackendUnavailableError, match=r"mlc\.ai/wheels.*aarch64"):
        Assistant(folder, backend="mlc")
    with pytest.raises(BackendUnavailableError, match="pip install"):
        Assistant("HF://mlc-ai/Qwen2.5-1.5B-Instruct-q4f16_1-MLC", backend="mlc")  # checked before any download


def test_streams_our_prompt_ids_and_terminates_on_close(mlc, folder):
    mlc.SCRIPT.append("The capital of France is Paris.")
    with Assistant(folder, backend="mlc", device="cuda:0", system="Be brief.", max_tokens=50) as bot:
        engine = mlc.ENGINES[0]
        assert (engine.model, engine.device, engine.mode) == (str(folder.resolve()), "cuda:0", "interactive")
        pieces = list(bot.stream("What is the capital of France?"))
        assert len(pieces) > 3 and "".join(pieces) == "The capital of France is Paris."
        request = engine.requests[0]
        system = bot.policy.system_prompt(
            "Be brief.", bot.guard.canary("Be brief.")
        )  # the user's prompt + the policy's rules
        assert system.startswith("Be brief.\n\nSafety rules:")
        template = bot.backend.template
        messages = [Message("system", system), Message("user", "What is the capital of France?")]
        expected = template.encode(bot.backend.tokenizer, template.render(messages, [], add_generation_prompt=True))
        assert request["prompt"] == expected  # our template's ids, not MLC's conversation template
        assert request["stream"] and request["stream_options"] == {"include_usage": True}
        assert request["max_tokens"] == 50 and request["response_format"] is None
        # the second turn's prompt carries the first answer
        bot.chat("And of Italy?")
        assert engine.requests[1]["prompt"][: len(expected)] == expected
        assert bot.backend.tokenizer.encode("The capital of France is Paris.")[0] in engine.requests[1]["prompt"]
    assert engine.terminated


def test_usage_extra_maps_to_metrics(mlc, folder):
    mlc.SCRIPT.append("one two three four five")
    reply = Assistant(folder, backend="mlc").chat("Count")
    m = reply.metrics
    assert reply.finish_reason == "stop"
    assert m.generated_tokens == 5 and m.prompt_tokens == len(mlc.ENGINES[0].requests[0]["prompt"])
    assert m.ttft_s == pytest.approx(mlc.EXTRA["ttft_s"])
    assert m.prefill_tps == pytest.approx(mlc.EXTRA["prefill_tokens_per_s"])
    assert m.decode_tps == pytest.approx(mlc.EXTRA["decode_tokens_per_s"])


def test_stop_strings_and_length(mlc, folder):
    mlc.SCRIPT.extend(["alpha beta END gamma", "a b c d e f g"])
    bot = Assistant(folder, backend="mlc")
    reply = bot.chat("go", stop=["END"])
    assert mlc.ENGINES[0].requests[0]["stop"] == ["END"]
    assert reply.text == "alpha beta " and reply.finish_reason == "stop"  # the stop string is not emitted
    reply = bot.chat("go", max_tokens=3)
    assert reply.text == "a b c" and reply.finish_reason == "length"


def test_json_schema_is_sent_as_a_string_and_validated(mlc, folder):
    from edgeqwen.reply import MAX_ATTEMPTS

    mlc.SCRIPT.extend(['{"name": "Tom", "kind": "cat"}', *['{"name": "Tom", "kind": "cow"}'] * MAX_ATTEMPTS])
    bot = Assistant(folder, backend="mlc")
    pet = bot.json("Describe a pet", Pet)
    assert pet == Pet(name="Tom", kind="cat")
    fmt = mlc.ENGINES[0].requests[0]["response_format"]
    assert fmt["type"] == "json_object" and isinstance(fmt["schema"], str)
    assert json.loads(fmt["schema"])["properties"]["kind"]["enum"] == ["cat", "dog"]
    with pytest.raises(StructuredOutputError) as err:  # what MLC returns is validated again here
        bot.json("Describe a pet", Pet)
    assert "cow" in err.value.text and err.value.keyword == "enum"  # resampled, then the keyword named
    mlc.SCRIPT.append('{"a": 1}')
    assert bot.json("anything") == {"a": 1}
    assert mlc.ENGINES[0].requests[-1]["response_format"] == {"type": "json_object"}


def test_choice_and_regex_become_json_schema_and_are_unwrapped(mlc, folder):
    mlc.SCRIPT.extend(['"yes"', '"2024-05-01"'])
    bot = Assistant(folder, backend="mlc")
    assert bot.choice("Is it?", ["yes", "no"]) == "yes"
    assert json.loads(mlc.ENGINES[0].requests[0]["response_format"]["schema"]) == {"enum": ["yes", "no"]}
    assert bot.regex("When?", r"\d{4}-\d{2}-\d{2}") == "2024-05-01"
    schema = json.loads(mlc.ENGINES[0].requests[1]["response_format"]["schema"])
    assert schema == {"type": "string", "pattern": r"^(?:\d{4}-\d{2}-\d{2})$"}


def test_what_mlc_cannot_express_fails_closed(mlc, folder, qwen3_folder):
    bot = Assistant(folder, backend="mlc")
    with pytest.raises(GrammarError, match="lark constraint"):
        bot.chat("x", response_format=ResponseFormat.lark('start: "a"'))
    with pytest.raises(GrammarError, match="Python-only"):
        bot.regex("x", r"(?P<year>\d{4})")
    thinker = Assistant(qwen3_folder, backend="mlc", enable_thinking=True)
    with pytest.raises(GrammarError, match="thinking"):
        thinker.json("x", Pet)
    assert not mlc.ENGINES[0].requests and not mlc.ENGINES[1].requests  # nothing reached the engine
    with pytest.raises(GrammarError):
        mlc_response_format(ResponseFormat.choice(["a"]), thinking=True)


def test_tool_calls_are_parsed_by_us(mlc, folder):
    mlc.SCRIPT.append('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>')
    bot = Assistant(folder, backend="mlc", tools=[WEATHER])
    reply = bot.chat("Weather in Paris?")
    assert reply.text == "" and reply.tool_calls[0].name == "get_weather"
    assert reply.tool_calls[0].arguments == {"city": "Paris"}
    assert "<tools>" in bot.backend.tokenizer.decode(mlc.ENGINES[0].requests[0]["prompt"])  # Qwen's tool prompt
    # a forced call: MLC gets the call's JSON Schema; we wrap its JSON as Qwen's <tool_call>
    mlc.SCRIPT.append('{"name": "get_weather", "arguments": {"city": "Rome"}}')
    reply = bot.chat("And Rome?", tool_choice="required")
    assert reply.tool_calls[0].arguments == {"city": "Rome"}
    schema = json.loads(mlc.ENGINES[0].requests[1]["response_format"]["schema"])
    assert schema["properties"]["name"] == {"const": "get_weather"}
    # tool_choice="none": the engine's logit_bias keeps Qwen's <tool_call> out (it was not asked)
    mlc.SCRIPT.append("It is sunny.")
    assert bot.chat("And Oslo?", tool_choice="none").tool_calls == ()
    marker = bot.backend.tokenizer.token_id("<tool_call>")
    assert mlc.ENGINES[0].requests[2]["logit_bias"] == {marker: -100.0}
    assert mlc.ENGINES[0].requests[0].get("logit_bias") is None
    mlc.SCRIPT.append("It is sunny.")  # the caller's own biases go to the engine, beside the marker's
    bot.chat("And Bergen?", tool_choice="none", logit_bias={5: 2.0})
    assert mlc.ENGINES[0].requests[3]["logit_bias"] == {5: 2.0, marker: -100.0}


def test_qwen3_no_think_is_rendered_by_us(mlc, qwen3_folder):
    mlc.SCRIPT.append("Hi there.")
    bot = Assistant(qwen3_folder, backend="mlc")
    assert bot.chat("Hello").text == "Hi there."
    prompt = bot.backend.tokenizer.decode(mlc.ENGINES[0].requests[0]["prompt"])
    assert prompt.endswith("user\nHello\nassistant\n<think>\n\n</think>\n\n")  # special tokens not shown


def test_breaking_out_of_the_stream_aborts_the_request(mlc, folder):
    mlc.SCRIPT.append("one two three four five six")
    bot = Assistant(folder, backend="mlc")
    for _ in bot.stream("Count"):
        break
    engine = mlc.ENGINES[0]
    assert engine.aborted == [engine.requests[0]["request_id"]]
    assert bot.history[-1].role == "assistant"  # the partial answer is kept


def test_unsupported_settings_warn_once(mlc, folder):
    bot = Assistant(folder, backend="mlc", top_k=20, min_p=0.05, prompt_lookup=3, temperature_last=True, tfs=0.9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bot.chat("a")
        bot.chat("b")
    said = {str(w.message).split("=")[0]: str(w.message) for w in caught if w.category is UnsupportedSettingWarning}
    assert sorted(said) == ["min_p", "prompt_lookup", "temperature_last", "tfs", "top_k"]
    assert "the answer is the same" in said["prompt_lookup"] and "temperature" in said["top_k"]


def test_bad_device_bad_request_and_load_failure(mlc, folder):
    with pytest.raises(InvalidRequestError, match="Unknown MLC device"):
        Assistant(folder, backend="mlc", device="gpu0")
    assert [parse_device(d) for d in ("auto", "CUDA:1", "metal", "vulkan:0", "rocm")] == [
        "auto",
        "cuda:1",
        "metal",
        "vulkan:0",
        "rocm",
    ]
    mlc.FAIL_LOAD = "Cannot find device cuda:3"
    with pytest.raises(ModelLoadError, match="cuda:3"):
        Assistant(folder, backend="mlc", device="cuda:3")
    with pytest.raises(ModelNotFoundError, match="no mlc-chat-config.json"):
        Assistant(folder.parent, backend="mlc")
    bot = Assistant(folder, backend="mlc")

    def reject(**kwargs):  # what MLC raises for a request it refuses
        from mlc_llm.protocol.error_protocol import BadRequestError

        raise BadRequestError("Penalty value should be in range [-2, 2].")

    bot.backend.engine.completions.create = reject
    with pytest.raises(InvalidRequestError, match="MLC rejected.*Penalty"):  # translated, not a bare traceback
        bot.chat("x")


def test_mlc_names_are_resolved_by_the_hub(tmp_path, monkeypatch):
    from edgeqwen.hub import models_dir, resolve_model

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    monkeypatch.setattr("edgeqwen.hub.best_installed", lambda announce, backend="auto": None)
    with pytest.raises(ModelNotFoundError, match="No MLC build is installed"):
        resolve_model(None, backend="mlc")
    build = models_dir() / "qwen2.5-1.5b-instruct-mlc"
    build.mkdir(parents=True)
    (build / "mlc-chat-config.json").write_text("{}")
    assert resolve_model("qwen2.5-1.5b-instruct", backend="mlc") == build  # the catalog name finds its -mlc build
    assert resolve_model("HF://mlc-ai/qwen2.5-1.5b-instruct-mlc", backend="mlc") == build  # installed: no download
    assert resolve_model(str(build), backend="mlc") == build
    with pytest.raises(InvalidRequestError, match="not an HF://org/repo"):
        resolve_model("HF://just-a-name", backend="mlc")
    with pytest.raises(ModelNotFoundError, match="No MLC build named 'nope'"):
        resolve_model("nope", backend="mlc")
