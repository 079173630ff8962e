"""A stand-in for a Qwen model, written here in seconds, to time llama.cpp's decode on before any
Qwen model is downloaded: a Qwen2 GGUF laid out as llama.cpp's Q4_0 build of the model is (its
layers at their width and depth, the embedding at Q6_K and its full vocabulary's rows), with
random weights and the demo model's tokenizer, padded to that vocabulary.

A decode step's speed is the speed of reading its weights, whatever their values, so a stand-in
of a Qwen model's size decodes as fast per byte as the model (on a Zen 4 EPYC: docs/performance.md,
"Calibrating without a download"). The demo model (94 MB) is too small to be bound by its reads,
which is why ``probe --calibrate`` could not use it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import Geometry
from .gguf import read_metadata

__all__ = ["standin_bytes", "write_standin"]

_ALIGN = 32  # GGUF's default alignment of tensor data
_F32, _Q4_0, _Q6_K = 0, 2, 14  # ggml tensor types
# weights per block, bytes per block, where in the block its fp16 scale is: Q4_0 is the scale then
# 16 bytes of nibbles; Q6_K is 128 + 64 bytes of low and high bits, 16 sub-scales, then the scale
_BLOCKS = {_Q4_0: (32, 18, 0), _Q6_K: (256, 210, 208)}
_SCALE = np.frombuffer(np.float16(0.02).tobytes(), np.uint8)  # every block's: finite activations
_UNUSED = 5  # llama.cpp's token type for the [PAD] rows its converter pads a vocabulary with
_U32, _F32_VALUE, _BOOL, _STRING, _ARRAY = 4, 6, 7, 8, 9  # GGUF metadata value types
_ARRAY_TYPES = {np.dtype(np.int32): 5, np.dtype(np.uint32): 4, np.dtype(np.float32): 6}


def _tensors(g: Geometry) -> list[tuple[str, tuple[int, ...], int]]:
    """Name, shape (innermost first, as ggml writes it) and type of each tensor, as llama.cpp's Q4_0
    build of a Qwen2 model has them: the embedding at Q6_K is also the output matrix (tied, as in
    Qwen2.5-1.5B and 3B), the attention's biases in f32."""
    q, kv = g.heads * g.head_dim, g.kv_heads * g.head_dim
    out = [("token_embd.weight", (g.hidden, g.vocab), _Q6_K), ("output_norm.weight", (g.hidden,), _F32)]
    for i in range(g.layers):
        p = f"blk.{i}."
        out += [
            (p + "attn_norm.weight", (g.hidden,), _F32),
            (p + "attn_q.weight", (g.hidden, q), _Q4_0),
            (p + "attn_q.bias", (q,), _F32),
            (p + "attn_k.weight", (g.hidden, kv), _Q4_0),
            (p + "attn_k.bias", (kv,), _F32),
            (p + "attn_v.weight", (g.hidden, kv), _Q4_0),
            (p + "attn_v.bias", (kv,), _F32),
            (p + "attn_output.weight", (q, g.hidden), _Q4_0),
            (p + "ffn_norm.weight", (g.hidden,), _F32),
            (p + "ffn_gate.weight", (g.hidden, g.intermediate), _Q4_0),
            (p + "ffn_up.weight", (g.hidden, g.intermediate), _Q4_0),
            (p + "ffn_down.weight", (g.intermediate, g.hidden), _Q4_0),
        ]
    return out


def _nbytes(shape: tuple[int, ...], kind: int) -> int:
    n = int(np.prod(shape))
    if kind == _F32:
        return n * 4
    per, size, _ = _BLOCKS[kind]
    return n // per * size


def standin_bytes(g: Geometry) -> int:
    """The stand-in's size on disk, before it is written (for the free-space check; its
    vocabulary, under 16 MB, is the rest)."""
    return sum(-(-_nbytes(s, k) // _ALIGN) * _ALIGN for _, s, k in _tensors(g)) + 16 * 2**20


def write_standin(path: Path, g: Geometry, vocabulary: Path, seed: int = 0) -> Path:
    """Write the stand-in of geometry ``g`` to ``path``, with the tokenizer of the GGUF
    ``vocabulary`` (the demo model's: the one GGUF every install has) padded to ``g.vocab``."""
    meta = read_metadata(vocabulary)
    tokens = list(meta["tokenizer.ggml.tokens"])
    if len(tokens) > g.vocab:
        raise ValueError(f"{vocabulary} has {len(tokens)} tokens, more than the stand-in's {g.vocab}")
    for kind in (_Q4_0, _Q6_K):
        if g.hidden % _BLOCKS[kind][0] or (kind == _Q4_0 and g.intermediate % _BLOCKS[kind][0]):
            raise ValueError(f"rows of {g.hidden} and {g.intermediate} weights are no whole blocks of {kind}")
    pad = g.vocab - len(tokens)
    fields: dict[str, Any] = {
        "general.architecture": "qwen2",
        "general.name": f"stand-in of {g.layers} x {g.hidden} layers, random weights",
        "general.file_type": _Q4_0,
        "general.quantization_version": 2,
        "qwen2.block_count": g.layers,
        "qwen2.context_length": g.context_length,
        "qwen2.embedding_length": g.hidden,
        "qwen2.feed_forward_length": g.intermediate,
        "qwen2.attention.head_count": g.heads,
        "qwen2.attention.head_count_kv": g.kv_heads,
        "qwen2.rope.freq_base": 1_000_000.0,
        "qwen2.attention.layer_norm_rms_epsilon": 1e-6,
        **{k: v for k, v in meta.items() if k.startswith("tokenizer.")},
        "tokenizer.ggml.tokens": tokens + [f"[PAD{i}]" for i in range(len(tokens), g.vocab)],
        "tokenizer.ggml.token_type": np.concatenate(
            [np.asarray(meta["tokenizer.ggml.token_type"], np.int32), np.full(pad, _UNUSED, np.int32)]
        ),
    }
    tensors = _tensors(g)
    table, offset = bytearray(), 0
    for name, shape, kind in tensors:
        table += _string(name) + struct.pack("<I", len(shape)) + struct.pack(f"<{len(shape)}Q", *shape)
        table += struct.pack("<IQ", kind, offset)
        offset += -(-_nbytes(shape, kind) // _ALIGN) * _ALIGN
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(fields))
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        fh.write(head + b"".join(_field(k, v) for k, v in fields.items()) + table)
        fh.write(b"\0" * (-fh.tell() % _ALIGN))
        for name, shape, kind in tensors:
            if kind == _F32:  # norms of ones, biases of zeros
                data = np.full(int(np.prod(shape)), 0.0 if name.endswith(".bias") else 1.0, np.float32).tobytes()
            else:
                _, size, at = _BLOCKS[kind]
                blocks = rng.integers(0, 256, size=(_nbytes(shape, kind) // size, size), dtype=np.uint8)
                blocks[:, at : at + 2] = _SCALE
                data = blocks.tobytes()
            fh.write(data)
            fh.write(b"\0" * (-len(data) % _ALIGN))
    return path


def _string(text: str) -> bytes:
    raw = text.encode("utf-8", errors="surrogateescape")  # as gguf.read_metadata decodes it
    return struct.pack("<Q", len(raw)) + raw


def _field(key: str, value: Any) -> bytes:
    """One metadata key and value; integers as uint32, which is what llama.cpp reads them as."""
    if isinstance(value, bool):
        typed = struct.pack("<IB", _BOOL, value)
    elif isinstance(value, int):
        typed = struct.pack("<II", _U32, value)
    elif isinstance(value, float):
        typed = struct.pack("<If", _F32_VALUE, value)
    elif isinstance(value, str):
        typed = struct.pack("<I", _STRING) + _string(value)
    elif isinstance(value, np.ndarray):
        typed = struct.pack("<IIQ", _ARRAY, _ARRAY_TYPES[value.dtype], len(value)) + value.tobytes()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        typed = struct.pack("<IIQ", _ARRAY, _STRING, len(value)) + b"".join(_string(v) for v in value)
    else:
        raise TypeError(f"GGUF metadata {key!r}: cannot write a {type(value).__name__}")
    return _string(key) + typed
