"""The ONNX stand-in `probe --calibrate` times onnxruntime on when no Qwen ONNX build is installed
(the llama.cpp one is tested in test_llamacpp.py): a rate taken on it stands for a real build's
only if onnxruntime runs the same graph over the same bytes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest

from edgeqwen.backends.graph import LOGITS_FROM
from edgeqwen.backends.onnx import OnnxBackend
from edgeqwen.catalog import Geometry, get_model
from edgeqwen.convert import demo_gguf_path
from edgeqwen.generation_config import GenerationConfig
from edgeqwen.onnx_standin import onnx_standin_bytes, write_onnx_standin
from edgeqwen.runtime.loop import stream_generate


def _geometry(hf_folder) -> Geometry:
    c = json.loads((hf_folder / "config.json").read_text())
    return Geometry(
        layers=c["num_hidden_layers"],
        hidden=c["hidden_size"],
        intermediate=c["intermediate_size"],
        heads=c["num_attention_heads"],
        kv_heads=c["num_key_value_heads"],
        head_dim=c["hidden_size"] // c["num_attention_heads"],
        vocab=c["vocab_size"],
        tied_embeddings=c["tie_word_embeddings"],
        context_length=c["max_position_embeddings"],
        max_new_tokens=512,
    )


def _layout(folder):
    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    g = model.graph
    nodes = [
        (n.op_type, n.name, n.domain, list(n.input), list(n.output), sorted(map(str, n.attribute))) for n in g.node
    ]
    weights = [(t.name, list(t.dims), t.data_type, {e.key: e.value for e in t.external_data}) for t in g.initializer]
    io = [(v.name, str(v.type)) for v in [*g.input, *g.output]]
    return nodes, weights, io, [(o.domain, o.version) for o in model.opset_import]


def test_the_onnx_stand_in_is_the_builders_graph_node_for_node(tiny_models, tmp_path):
    """onnxruntime-genai's builder made the tiny Qwen2's int4 build; the stand-in of its geometry has
    the same nodes (ops, names, attributes, wiring), the same weights at the same offsets of a data
    file of the same size, the same inputs and outputs: what differs is only the weights' values."""
    built = tiny_models["qwen2"]["int4"]
    standin = write_onnx_standin(tmp_path / "standin", _geometry(tiny_models["qwen2"]["hf"]), demo_gguf_path())
    ours, theirs = _layout(standin), _layout(built)
    for part, a, b in zip(("nodes", "weights", "inputs and outputs", "opsets"), ours, theirs, strict=True):
        assert a == b, part
    size = (standin / "model.onnx.data").stat().st_size
    assert size == (built / "model.onnx.data").stat().st_size
    assert size <= onnx_standin_bytes(_geometry(tiny_models["qwen2"]["hf"])) <= size + 16 * 2**20


@pytest.mark.slow
def test_a_stand_in_with_a_4_bit_lm_head_is_the_builders_too(tiny_models, tmp_path):
    """Qwen3-4B's published ONNX build (onnx-community's) has a 4-bit lm_head, where the converter
    keeps 8 bits: its stand-in was written with 8, about 8% more to read than the build it stood
    for. With ``head_bits=4`` it is the builder's graph for ``--lm-head-bits 4``, node for node
    (the embedding gathered from the packed 4-bit rows)."""
    from edgeqwen.convert import ConvertOptions, convert

    hf = tiny_models["qwen2"]["hf"]
    built = convert(hf, tmp_path / "built", ConvertOptions(lm_head_bits=4))
    standin = write_onnx_standin(tmp_path / "standin", _geometry(hf), demo_gguf_path(), head_bits=4)
    for part, a, b in zip(
        ("nodes", "weights", "inputs and outputs", "opsets"), _layout(standin), _layout(built), strict=True
    ):
        assert a == b, part
    size = (standin / "model.onnx.data").stat().st_size
    assert size == (built / "model.onnx.data").stat().st_size
    assert size <= onnx_standin_bytes(_geometry(hf), head_bits=4) <= size + 16 * 2**20
    assert onnx_standin_bytes(_geometry(hf), head_bits=4) < onnx_standin_bytes(_geometry(hf))
    with pytest.raises(ValueError, match="4 or 8"):
        write_onnx_standin(tmp_path / "six", _geometry(hf), demo_gguf_path(), head_bits=6)
    assert get_model("qwen3-4b").onnx_layout == (128, 4) and get_model("qwen2.5-1.5b-instruct").onnx_layout == (32, 8)


@pytest.mark.parametrize("head_bits", [8, 4])
def test_an_onnx_stand_in_loads_rewritten_and_decodes(tmp_path, head_bits):
    """As the backend loads a real build: its load-time rewrites applied (the logits' start as an
    input, so prompt lookup's passes work), finite logits through random layers, the demo's
    tokenizer padded to the model's vocabulary."""
    g = replace(get_model("qwen2.5-1.5b-instruct").geometry, layers=2, hidden=256, intermediate=512, heads=4)
    g = replace(g, kv_heads=2, head_dim=64, vocab=50_000, context_length=1024)
    folder = write_onnx_standin(tmp_path / "standin", g, demo_gguf_path(), head_bits=head_bits)
    backend = OnnxBackend(folder, context_length=256)
    assert (backend.info.vocab_size, backend.info.num_layers, backend.info.num_kv_heads) == (50_000, 2, 2)
    assert LOGITS_FROM in {i.name for i in backend.model.session.get_inputs()}
    ids = backend.tokenizer.encode("What is the capital of France?")
    config = GenerationConfig(max_tokens=8, temperature=0, prompt_lookup=2)
    steps = list(stream_generate(backend.model, backend.tokenizer, ids, config))
    assert steps[-1].metrics.generated_tokens == 8
    backend.model.reset()
    assert np.isfinite(backend.model.prefill(ids)).all()


def test_a_stand_in_needs_whole_blocks(tmp_path):
    g = replace(get_model("qwen2.5-1.5b-instruct").geometry, hidden=100)
    with pytest.raises(ValueError, match="whole blocks"):
        write_onnx_standin(tmp_path / "standin", g, demo_gguf_path())
    assert not (tmp_path / "standin").exists()
