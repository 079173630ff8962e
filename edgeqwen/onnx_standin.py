"""The ONNX stand-in of a Qwen model (:mod:`edgeqwen.standin` says what a stand-in is for): an int4
folder laid out as onnxruntime-genai's builder writes the model, ``MatMulNBits`` at 4 bits, the tied
lm_head at 8 or 4, the embedding gathered from it, node for node, so edgeqwen's load-time rewrites
(backends/graph.py) apply to it as to a real build; random weights, the demo model's tokenizer
padded to the model's vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import Geometry
from .gguf import tokenizer_json
from .standin import padded_vocabulary

__all__ = ["onnx_standin_bytes", "write_onnx_standin"]


def _onnx_weights(g: Geometry, block: int, head_bits: int = 8) -> list[tuple[str, tuple[int, ...], type]]:
    """Name, shape and dtype (uint8 packed weights, else float32) of each weight, in the order
    the builder writes them: the norms (and the rotary tables), then per layer the four int4
    matmuls (q, k and v as one), then the tied lm_head."""
    q, kv = g.heads * g.head_dim, g.kv_heads * g.head_dim

    def matmul(name: str, k: int, n: int, bits: int = 4) -> list[tuple[str, tuple[int, ...], type]]:
        blocks = -(-k // block)
        return [
            (f"{name}.MatMul.weight_Q{bits}", (n, blocks, block * bits // 8), np.uint8),
            (f"{name}.MatMul.weight_scales", (n, blocks), np.float32),
        ]

    rope = (g.context_length, g.head_dim // 2)
    out: list[tuple[str, tuple[int, ...], type]] = []
    for i in range(g.layers):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (g.hidden,), np.float32)]
        if i == 0:  # where the first attention needs them
            out += [("cos_cache", rope, np.float32), ("sin_cache", rope, np.float32)]
        out += [(p + "post_attention_layernorm.weight", (g.hidden,), np.float32)]
    out += [(f"model.layers.{g.layers}.final_norm_layernorm.weight", (g.hidden,), np.float32)]
    for i in range(g.layers):
        p = f"model.layers.{i}."
        out += matmul(p + "attn.qkv_proj", g.hidden, q + 2 * kv) + matmul(p + "attn.o_proj", q, g.hidden)
        out += matmul(p + "mlp.gate_proj", g.hidden, g.intermediate)
        out += matmul(p + "mlp.up_proj", g.hidden, g.intermediate)
        out += matmul(p + "mlp.down_proj", g.intermediate, g.hidden)
    return out + matmul("lm_head", g.hidden, g.vocab, head_bits)


def onnx_standin_bytes(g: Geometry, block_size: int = 32, head_bits: int = 8) -> int:
    """The ONNX stand-in's size on disk, before it is written (its graph and tokenizer, under 16 MB,
    are the rest)."""
    weights = _onnx_weights(g, block_size, head_bits)
    return sum(int(np.prod(shape)) * np.dtype(kind).itemsize for _, shape, kind in weights) + 16 * 2**20


def write_onnx_standin(
    folder: Path, g: Geometry, vocabulary: Path, block_size: int = 32, seed: int = 0, head_bits: int = 8
) -> Path:
    """Write the ONNX stand-in of geometry ``g`` into ``folder`` (made if missing): ``model.onnx``
    and its data, ``genai_config.json``, and a ``tokenizer.json`` from the GGUF ``vocabulary``
    padded to ``g.vocab``. The lm_head is tied to the embedding, as in every catalog chat model, at
    ``head_bits`` (8 in the builds converted here, 4 in onnx-community's: ``ModelSpec.onnx_layout``)."""
    import onnx
    from onnx import TensorProto, helper

    if g.hidden % block_size or g.intermediate % block_size or (g.heads * g.head_dim) % block_size:
        raise ValueError(f"rows of {g.hidden} and {g.intermediate} weights are no whole blocks of {block_size}")
    if head_bits not in (4, 8):
        raise ValueError(f"an lm_head of {head_bits} bits: the builder writes 4 or 8")
    folder.mkdir(parents=True, exist_ok=True)
    weights = _onnx_weights(g, block_size, head_bits)
    rng = np.random.default_rng(seed)
    initializers, offset = [], 0
    with open(folder / "model.onnx.data", "wb") as fh:
        for name, shape, kind in weights:
            if kind is np.uint8:  # packed weights, centred on the zero point MatMulNBits assumes without one
                data = rng.integers(0, 256, size=shape, dtype=np.uint8)
            elif name in ("cos_cache", "sin_cache"):
                angles = np.outer(np.arange(shape[0]), 1e6 ** (-np.arange(shape[1]) / shape[1]))
                data = (np.cos(angles) if name == "cos_cache" else np.sin(angles)).astype(np.float32)
            else:  # norms of ones, scales small enough to keep activations finite
                data = np.full(shape, 1.0 if name.endswith("norm.weight") else 0.02, np.float32)
            raw = data.tobytes()
            fh.write(raw)
            tensor = TensorProto(name=name, dims=shape)
            tensor.data_type = TensorProto.UINT8 if kind is np.uint8 else TensorProto.FLOAT
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in (("location", "model.onnx.data"), ("offset", str(offset)), ("length", str(len(raw)))):
                tensor.external_data.add(key=key, value=value)
            initializers.append(tensor)
            offset += len(raw)
    graph = _onnx_graph(g, block_size, initializers, head_bits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 22), helper.make_opsetid("com.microsoft", 1)],
        producer_name="edgeqwen stand-in",
    )
    model.ir_version = 10
    onnx.save(model, str(folder / "model.onnx"))
    meta = padded_vocabulary(vocabulary, g.vocab)
    (folder / "tokenizer.json").write_text(tokenizer_json(meta, str(vocabulary)), encoding="utf-8")
    (folder / "genai_config.json").write_text(json.dumps(_genai_config(g, meta), indent=1), encoding="utf-8")
    return folder


def _onnx_graph(g: Geometry, block: int, initializers: list[Any], head_bits: int) -> Any:
    """The builder's decoder graph for ``g``: its node names, ops and attributes, one layer after another."""
    from onnx import TensorProto, helper

    ms = "com.microsoft"
    nodes: list[Any] = []

    def node(op: str, name: str, inputs: list[str], outputs: list[str], domain: str = "", **attrs: Any) -> None:
        nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain, **attrs))

    def matmul(prefix: str, weight: str, x: str, k: int, n: int, bits: int = 4) -> str:
        out = f"{prefix}/MatMul/output_0" if prefix != "/lm_head" else "logits"
        inputs = [x, f"{weight}.MatMul.weight_Q{bits}", f"{weight}.MatMul.weight_scales"]
        node(
            "MatMulNBits",
            f"{prefix}/MatMul_Q{bits}",
            inputs,
            [out],
            ms,
            K=k,
            N=n,
            accuracy_level=4,
            bits=bits,
            block_size=block,
        )
        return out

    def constant(name: str, values: list[int]) -> str:
        out = f"/model/constants/INT64/{name}"
        dims = [len(values)] if name.startswith("[") else []
        value = helper.make_tensor(out, TensorProto.INT64, dims, np.asarray(values, np.int64).tobytes(), raw=True)
        node("Constant", f"/model/constant_nodes/INT64/{name}", [], [out], value=value)
        return out

    def skip_norm(prefix: str, residual: str, x: str, weight: str, keep_sum: bool = True) -> tuple[str, str]:
        """``x`` added to the residual stream and normed: (the norm's output, the new stream)."""
        outs = [f"{prefix}/output_0", "", "", f"{prefix}/output_3"] if keep_sum else [f"{prefix}/output_0"]
        node(
            "SkipSimplifiedLayerNormalization", f"{prefix}/SkipLayerNorm", [residual, x, weight], outs, ms, epsilon=eps
        )
        return outs[0], outs[-1]

    mask = "/model/attn_mask_reformat/attn_mask_subgraph"
    one_list = constant("[1]", [1])
    node("ReduceSum", f"{mask}/ReduceSum", ["attention_mask", one_list], [f"{mask}/ReduceSum/output_0"], keepdims=0)
    node("Sub", f"{mask}/Sub", [f"{mask}/ReduceSum/output_0", one_list], [f"{mask}/Sub/output_0"])
    node("Cast", f"{mask}/Sub/Cast", [f"{mask}/Sub/output_0"], [f"{mask}/Sub/Cast/output_0"], to=TensorProto.INT32)
    node("Shape", f"{mask}/Shape", ["attention_mask"], [f"{mask}/Shape/output_0"])
    one = constant("1", [1])
    node("Gather", f"{mask}/Gather", [f"{mask}/Shape/output_0", one], [f"{mask}/Gather/output_0"], axis=0)
    node(
        "Cast",
        f"{mask}/Gather/Cast",
        [f"{mask}/Gather/output_0"],
        [f"{mask}/Gather/Cast/output_0"],
        to=TensorProto.INT32,
    )
    packed = g.hidden * head_bits // 8  # a row's bytes: the builder reshapes the packed codes to rows
    shape = constant(f"[{g.vocab}, {packed}]", [g.vocab, packed])
    node(
        "Reshape",
        "/model/embed_tokens/Reshape",
        [f"lm_head.MatMul.weight_Q{head_bits}", shape],
        ["/model/embed_tokens/Reshape/output_0"],
    )
    embed = "/model/embed_tokens/GatherBlockQuantized/output_0"
    gather_in = ["/model/embed_tokens/Reshape/output_0", "input_ids", "lm_head.MatMul.weight_scales"]
    node(
        "GatherBlockQuantized",
        "/model/embed_tokens/GatherBlockQuantized",
        gather_in,
        [embed],
        ms,
        bits=head_bits,
        block_size=block,
        gather_axis=0,
        quantize_axis=1,
    )

    eps, q, kv = 1e-6, g.heads * g.head_dim, g.kv_heads * g.head_dim
    residual, last = embed, ""
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])]
    inputs.append(
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"])
    )
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", g.vocab])]
    for i in range(g.layers):
        p, w = f"/model/layers.{i}", f"model.layers.{i}"
        normed = f"{p}/input_layernorm/output_0"
        if i == 0:
            node(
                "SimplifiedLayerNormalization",
                f"{p}/input_layernorm/LayerNorm",
                [embed, f"{w}.input_layernorm.weight"],
                [normed],
                epsilon=eps,
                axis=-1,
                stash_type=1,
            )
        else:
            normed, residual = skip_norm(f"{p}/input_layernorm", residual, last, f"{w}.input_layernorm.weight")
        qkv = matmul(f"{p}/attn/qkv_proj", f"{w}.attn.qkv_proj", normed, g.hidden, q + 2 * kv)
        attn = f"{p}/attn/GroupQueryAttention/output_0"
        gqa_in = [
            qkv,
            "",
            "",
            f"past_key_values.{i}.key",
            f"past_key_values.{i}.value",
            f"{mask}/Sub/Cast/output_0",
            f"{mask}/Gather/Cast/output_0",
            "cos_cache",
            "sin_cache",
            *("", "", ""),  # position ids, attention bias, head sink: none
        ]
        gqa_out = [attn, f"present.{i}.key", f"present.{i}.value"]
        node(
            "GroupQueryAttention",
            f"{p}/attn/GroupQueryAttention",
            gqa_in,
            gqa_out,
            ms,
            num_heads=g.heads,
            kv_num_heads=g.kv_heads,
            scale=float(g.head_dim**-0.5),
            local_window_size=-1,
            softcap=0.0,
            do_rotary=1,
            rotary_interleaved=0,
        )
        o = matmul(f"{p}/attn/o_proj", f"{w}.attn.o_proj", attn, q, g.hidden)
        post, residual = skip_norm(f"{p}/post_attention_layernorm", residual, o, f"{w}.post_attention_layernorm.weight")
        gate = matmul(f"{p}/mlp/gate_proj", f"{w}.mlp.gate_proj", post, g.hidden, g.intermediate)
        up = matmul(f"{p}/mlp/up_proj", f"{w}.mlp.up_proj", post, g.hidden, g.intermediate)
        node("Sigmoid", f"{p}/mlp/act_fn/Sigmoid", [gate], [f"{p}/mlp/act_fn/Sigmoid/output_0"])
        node("Mul", f"{p}/mlp/act_fn/Mul", [gate, f"{p}/mlp/act_fn/Sigmoid/output_0"], [f"{p}/mlp/act_fn/Mul/output_0"])
        node("Mul", f"{p}/mlp/Mul", [f"{p}/mlp/act_fn/Mul/output_0", up], [f"{p}/mlp/Mul/output_0"])
        last = matmul(f"{p}/mlp/down_proj", f"{w}.mlp.down_proj", f"{p}/mlp/Mul/output_0", g.intermediate, g.hidden)
    for kind in ("key", "value"):  # every layer's keys, then their values
        for i in range(g.layers):
            cache = ["batch_size", g.kv_heads, "past_sequence_length", "kv_cache_dim"]
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", TensorProto.FLOAT, cache))
            cache = ["batch_size", g.kv_heads, "total_sequence_length", "kv_cache_dim"]
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", TensorProto.FLOAT, cache))
    p, final = f"/model/layers.{g.layers}/final_norm_layernorm", f"model.layers.{g.layers}.final_norm_layernorm.weight"
    normed, _ = skip_norm(p, residual, last, final, keep_sum=False)
    matmul("/lm_head", "lm_head", normed, g.hidden, g.vocab, head_bits)
    return helper.make_graph(nodes, "main_graph", inputs, outputs, initializers)


def _genai_config(g: Geometry, meta: dict[str, Any]) -> dict[str, Any]:
    """The builder's genai_config.json for ``g``, with the padded vocabulary's end-of-text token."""
    tokens = meta["tokenizer.ggml.tokens"]
    eos = int(
        meta.get("tokenizer.ggml.eos_token_id", tokens.index("<|endoftext|>") if "<|endoftext|>" in tokens else 0)
    )
    decoder = {
        "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
        "filename": "model.onnx",
        "head_size": g.head_dim,
        "hidden_size": g.hidden,
        "inputs": {
            "input_ids": "input_ids",
            "attention_mask": "attention_mask",
            "past_key_names": "past_key_values.%d.key",
            "past_value_names": "past_key_values.%d.value",
        },
        "outputs": {
            "logits": "logits",
            "present_key_names": "present.%d.key",
            "present_value_names": "present.%d.value",
        },
        "num_attention_heads": g.heads,
        "num_hidden_layers": g.layers,
        "num_key_value_heads": g.kv_heads,
    }
    model = {"bos_token_id": eos, "context_length": g.context_length, "decoder": decoder, "eos_token_id": eos}
    model |= {"pad_token_id": eos, "type": "qwen2", "vocab_size": g.vocab}
    return {"model": model, "search": {"max_length": g.context_length, "past_present_share_buffer": True}}
