"""Bad input: each a clear EdgeQwenError subclass whose message says what to do."""

from __future__ import annotations

import json
import shutil

import pytest

from edgeqwen import (
    Assistant,
    EdgeQwenError,
    InvalidRequestError,
    ModelLoadError,
    ModelNotFoundError,
    UnsupportedArchitectureError,
)
from edgeqwen.backends.onnx import OnnxBackend
from edgeqwen.convert import convert


@pytest.fixture
def model_copy(tiny_models, tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(tiny_models["qwen2"]["int4"], dst)
    (dst / "edgeqwen-manifest.json").unlink(missing_ok=True)  # the loader's own checks (test_integrity: with it)
    return dst


def test_missing_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="No model folder"):
        OnnxBackend(tmp_path / "nope")
    with pytest.raises(ModelNotFoundError, match="There is no file or folder at .*nope.*check the path"):
        Assistant(str(tmp_path / "nope"))
    with pytest.raises(ModelNotFoundError, match="There is no file or folder at 'model.gguf'"):
        Assistant("model.gguf")
    # a name that is not installed: the catalog name it is closest to, and where names are listed
    with pytest.raises(ModelNotFoundError, match="Did you mean 'qwen2.5-1.5b-instruct'.*edgeqwen models"):
        Assistant("qwen2.5-1.5b")
    with pytest.raises(ModelNotFoundError) as info:
        Assistant("no-such-model")
    assert "Did you mean" not in str(info.value) and "'demo'" in str(info.value)


def test_missing_tokenizer(model_copy):
    (model_copy / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="tokenizer.json.*edgeqwen pull MODEL --force"):
        OnnxBackend(model_copy)


def test_corrupt_genai_config(model_copy):
    (model_copy / "genai_config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="genai_config.json is not valid JSON"):
        OnnxBackend(model_copy)
    (model_copy / "genai_config.json").write_text(json.dumps({"model": {"type": "qwen2"}}))
    with pytest.raises(ModelLoadError, match="missing or has a bad field"):
        OnnxBackend(model_copy)


def test_truncated_weights(model_copy):
    data = model_copy / "model.onnx.data"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="model.onnx.data"):
        OnnxBackend(model_copy)


def test_corrupt_tokenizer(model_copy):
    (model_copy / "tokenizer.json").write_text('{"model": 3}')
    with pytest.raises(ModelLoadError, match="tokenizer"):
        OnnxBackend(model_copy)


def test_unknown_architecture(model_copy, tmp_path):
    cfg = json.loads((model_copy / "genai_config.json").read_text())
    cfg["model"]["type"] = "phi3"
    (model_copy / "genai_config.json").write_text(json.dumps(cfg))
    with pytest.raises(UnsupportedArchitectureError, match="'phi3'.*Qwen2.5"):
        OnnxBackend(model_copy)
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UnsupportedArchitectureError, match="'gpt2'"):
        convert(hf, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_requests(tiny_models):
    backend = OnnxBackend(tiny_models["qwen2"]["int4"], context_length=128)
    with pytest.raises(InvalidRequestError, match="top_p"):
        Assistant(backend=backend, top_p=2)
    bot = Assistant(backend=backend)
    with pytest.raises(InvalidRequestError, match="temperature"):
        bot.chat("hi", temperature=-0.5)
    with pytest.raises(InvalidRequestError, match="context_length"):
        OnnxBackend(tiny_models["qwen2"]["int4"], context_length=10**9)
    with pytest.raises(InvalidRequestError, match="Nothing to answer"):
        bot.chat([])


def test_every_error_is_an_edgeqwen_error():
    import edgeqwen.errors as errors

    classes = [getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)]
    assert len(classes) == len(errors.__all__) - 1  # and map_exceptions, the translator
    for cls in classes:
        assert issubclass(cls, EdgeQwenError)


def test_bad_sampling_fails_before_loading(tmp_path, monkeypatch):
    import edgeqwen.hub as hub

    def no_load(*args, **kwargs):
        raise AssertionError("the model must not be resolved or loaded")

    monkeypatch.setattr(hub, "resolve_model", no_load)
    with pytest.raises(InvalidRequestError, match="top_p"):
        Assistant(top_p=2.0)


def test_mlc_backend_without_mlc_llm_says_how_to_install(tiny_models, monkeypatch):
    import sys

    from edgeqwen import BackendUnavailableError

    monkeypatch.setitem(sys.modules, "mlc_llm", None)  # `import mlc_llm` fails, as where it is not installed
    with pytest.raises(BackendUnavailableError, match="not on PyPI.*mlc.ai/wheels.*Raspberry Pi"):
        Assistant(str(tiny_models["qwen2"]["int4"]), backend="mlc")
    with pytest.raises(InvalidRequestError, match="Unknown backend 'tpu'"):
        Assistant(str(tiny_models["qwen2"]["int4"]), backend="tpu")


def test_onnxruntime_failing_mid_answer_is_an_edgeqwen_error(tiny_models, monkeypatch):
    backend = OnnxBackend(tiny_models["qwen2"]["int4"], context_length=256)

    def broken(binding, options=None):
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : bad allocation")

    monkeypatch.setattr(backend.model.session, "run_with_iobinding", broken)
    with pytest.raises(EdgeQwenError, match="onnxruntime failed while generating.*bad allocation") as err:
        Assistant(backend=backend, max_tokens=4).chat("hi")
    assert isinstance(err.value.__cause__, RuntimeError)
