"""Stand-ins for a Qwen model, written here in seconds, to time a CPU backend's decode on before any
Qwen model is downloaded, with random weights and the demo model's tokenizer padded to the model's
vocabulary:

- for llama.cpp, a Qwen2 or Qwen3 GGUF laid out as llama.cpp's Q4_0 build of the model is (its
  layers at their width and depth, the embedding at Q6_K and its full vocabulary's rows);
- for ONNX Runtime, an int4 folder laid out as onnxruntime-genai's builder writes the model
  (``MatMulNBits`` at 4 bits, the tied lm_head at 8 or 4, the embedding gathered from it), node for
  node, so edgeqwen's load-time rewrites (backends/graph.py) apply to it as to a real build: in
  :mod:`edgeqwen.onnx_standin`, which takes its vocabulary from here.

A decode step's speed is the speed of reading its weights, whatever their values, so a stand-in
of a Qwen model's size decodes as fast per byte as the model (docs/performance.md, "Calibrating
without a download"). The demo model (94 MB) is too small to be bound by its reads, which is why
``probe --calibrate`` could not use it.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import Geometry
from .gguf import FILE_TYPES, read_metadata

__all__ = ["ARCHITECTURES", "QUANTIZATIONS", "padded_vocabulary", "part_of", "standin_bytes", "write_standin"]

_ALIGN = 32  # GGUF's default alignment of tensor data
_F32, _Q4_0, _Q4_K, _Q6_K = 0, 2, 12, 14  # ggml tensor types
# weights per block, bytes per block, where in the block its fp16 scales are: Q4_0 is the scale then
# 16 bytes of nibbles; Q4_K the scale, the minimum's scale, 12 bytes of sub-scales, 128 of nibbles;
# Q6_K 128 + 64 bytes of low and high bits, 16 sub-scales, then the scale
_BLOCKS = {_Q4_0: (32, 18, (0,)), _Q4_K: (256, 144, (0, 2)), _Q6_K: (256, 210, (208,))}
QUANTIZATIONS = ("Q4_0", "Q4_K_M")  # the mixes of the catalog's chat GGUFs: what a stand-in is written in
ARCHITECTURES = ("qwen2", "qwen3")  # llama.cpp's names for the catalog's chat models' layers
_FILE_TYPE = {name: code for code, name in FILE_TYPES.items()}
_SCALE = np.frombuffer(np.float16(0.02).tobytes(), np.uint8)  # every block's: finite activations
_UNUSED = 5  # llama.cpp's token type for the [PAD] rows its converter pads a vocabulary with
_U32, _F32_VALUE, _BOOL, _STRING, _ARRAY = 4, 6, 7, 8, 9  # GGUF metadata value types
_ARRAY_TYPES = {np.dtype(np.int32): 5, np.dtype(np.uint32): 4, np.dtype(np.float32): 6}


def _more_bits(i: int, layers: int) -> bool:
    """The layers whose attn_v and ffn_down llama.cpp's Q4_K_M keeps at Q6_K (its ``use_more_bits``):
    the first and last eighth, and every third between."""
    return i < layers // 8 or i >= 7 * layers // 8 or (i - layers // 8) % 3 == 2


def _tensors(g: Geometry, quantization: str = "Q4_0", arch: str = "qwen2") -> list[tuple[str, tuple[int, ...], int]]:
    """Name, shape (innermost first, as ggml writes it) and type of each tensor, as llama.cpp's Q4_0
    or Q4_K_M build of a Qwen2 or Qwen3 model has them: the embedding at Q6_K is also the output
    matrix (tied, as in Qwen2.5-1.5B and 3B and Qwen3-4B); in f32 Qwen2's attention biases, Qwen3's
    norms of each head's queries and keys."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"a stand-in is written in {' or '.join(QUANTIZATIONS)}, not {quantization}")
    if arch not in ARCHITECTURES:
        raise ValueError(f"a stand-in is written as {' or '.join(ARCHITECTURES)}, not {arch}")
    q, kv = g.heads * g.head_dim, g.kv_heads * g.head_dim
    if arch == "qwen2" and q != g.hidden:  # llama.cpp's qwen2 sizes the query by the hidden size
        raise ValueError(f"{g.heads} heads of {g.head_dim} are not the hidden size {g.hidden}: write it as qwen3")
    out = [("token_embd.weight", (g.hidden, g.vocab), _Q6_K), ("output_norm.weight", (g.hidden,), _F32)]
    for i in range(g.layers):
        p = f"blk.{i}."
        four = _Q4_0 if quantization == "Q4_0" else _Q4_K
        more = _Q6_K if quantization == "Q4_K_M" and _more_bits(i, g.layers) else four
        if arch == "qwen2":
            extra = [(p + f"attn_{x}.bias", (n,), _F32) for x, n in (("q", q), ("k", kv), ("v", kv))]
        else:
            extra = [(p + f"attn_{x}_norm.weight", (g.head_dim,), _F32) for x in ("q", "k")]
        out += [
            (p + "attn_norm.weight", (g.hidden,), _F32),
            (p + "attn_q.weight", (g.hidden, q), four),
            (p + "attn_k.weight", (g.hidden, kv), four),
            (p + "attn_v.weight", (g.hidden, kv), more),
            *extra,
            (p + "attn_output.weight", (q, g.hidden), four),
            (p + "ffn_norm.weight", (g.hidden,), _F32),
            (p + "ffn_gate.weight", (g.hidden, g.intermediate), four),
            (p + "ffn_up.weight", (g.hidden, g.intermediate), four),
            (p + "ffn_down.weight", (g.intermediate, g.hidden), more),
        ]
    return out


def _nbytes(shape: tuple[int, ...], kind: int) -> int:
    n = int(np.prod(shape))
    if kind == _F32:
        return n * 4
    per, size, _ = _BLOCKS[kind]
    return n // per * size


def part_of(g: Geometry, layers: int) -> Geometry:
    """``g`` with ``layers`` of its layers and that share of its vocabulary: every matrix a decode
    step reads is one of the model's, in the same mix, only fewer (a first probe's quick timing)."""
    return replace(g, layers=layers, vocab=-(-g.vocab * layers // g.layers))


def standin_bytes(g: Geometry, quantization: str = "Q4_0", arch: str = "qwen2") -> int:
    """The stand-in's size on disk, before it is written (for the free-space check; its
    vocabulary, under 16 MB, is the rest)."""
    return sum(-(-_nbytes(s, k) // _ALIGN) * _ALIGN for _, s, k in _tensors(g, quantization, arch)) + 16 * 2**20


def write_standin(
    path: Path, g: Geometry, vocabulary: Path, quantization: str = "Q4_0", seed: int = 0, arch: str = "qwen2"
) -> Path:
    """Write the stand-in of geometry ``g`` in ``quantization`` (Q4_0 or Q4_K_M) to ``path`` as a
    llama.cpp ``arch`` model (qwen2, or qwen3 for Qwen3's geometries), with the tokenizer of the GGUF
    ``vocabulary`` (the demo model's: the one GGUF every install has) padded to ``g.vocab``."""
    tensors = _tensors(g, quantization, arch)
    meta = padded_vocabulary(vocabulary, g.vocab)
    for name, shape, kind in tensors:
        if kind != _F32 and shape[0] % _BLOCKS[kind][0]:
            raise ValueError(f"rows of {shape[0]} weights ({name}) are no whole blocks of ggml type {kind}")
    fields: dict[str, Any] = {
        "general.architecture": arch,
        "general.name": f"stand-in of {g.layers} x {g.hidden} layers, random weights",
        "general.file_type": _FILE_TYPE[quantization],
        "general.quantization_version": 2,
        f"{arch}.block_count": g.layers,
        f"{arch}.context_length": g.context_length,
        f"{arch}.embedding_length": g.hidden,
        f"{arch}.feed_forward_length": g.intermediate,
        f"{arch}.attention.head_count": g.heads,
        f"{arch}.attention.head_count_kv": g.kv_heads,
        f"{arch}.attention.key_length": g.head_dim,
        f"{arch}.attention.value_length": g.head_dim,
        f"{arch}.rope.freq_base": 1_000_000.0,
        f"{arch}.attention.layer_norm_rms_epsilon": 1e-6,
        **meta,
    }
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
                _, size, scales = _BLOCKS[kind]
                blocks = rng.integers(0, 256, size=(_nbytes(shape, kind) // size, size), dtype=np.uint8)
                for at in scales:
                    blocks[:, at : at + 2] = _SCALE
                data = blocks.tobytes()
            fh.write(data)
            fh.write(b"\0" * (-len(data) % _ALIGN))
    return path


def padded_vocabulary(vocabulary: Path, size: int) -> dict[str, Any]:
    """The tokenizer fields of the GGUF ``vocabulary``, padded to ``size`` tokens with the unused
    ``[PAD]`` tokens llama.cpp's converter pads a vocabulary to the logits' width with."""
    meta = {k: v for k, v in read_metadata(vocabulary).items() if k.startswith("tokenizer.")}
    tokens = list(meta["tokenizer.ggml.tokens"])
    if len(tokens) > size:
        raise ValueError(f"{vocabulary} has {len(tokens)} tokens, more than the stand-in's {size}")
    pad = size - len(tokens)
    meta["tokenizer.ggml.tokens"] = tokens + [f"[PAD{i}]" for i in range(len(tokens), size)]
    meta["tokenizer.ggml.token_type"] = np.concatenate(
        [np.asarray(meta["tokenizer.ggml.token_type"], np.int32), np.full(pad, _UNUSED, np.int32)]
    )
    return meta


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
