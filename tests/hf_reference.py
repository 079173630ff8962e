"""transformers' fp32 forward pass of a tiny model, as the tests that hold an ONNX build to it use it.

The ONNX builder writes the RoPE tables (``cos_cache``/``sin_cache``) into the graph; transformers
computes its own at every call. Both are fp32 cosines of fp32 angles, usually equal to the bit, but
one clean-clone build in several came out with a table up to 1.5e-4 from the exact cosines (cause
not found: the builder is onnxruntime-genai's, in a subprocess; rebuilt here it never recurred), and
a 1e-4 bound on the logits then failed. The reference therefore reads the build's own tables, so
what a test compares is the graph's arithmetic; ``rope_tables`` lets a test hold the tables
themselves to the true cosines.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def rope_tables(onnx_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The build's ``cos_cache`` and ``sin_cache``: [positions, head_dim / 2] each."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(Path(onnx_dir) / "model.onnx")).graph
    tables = {i.name: numpy_helper.to_array(i) for i in graph.initializer if i.name in ("cos_cache", "sin_cache")}
    return tables["cos_cache"], tables["sin_cache"]


def exact_rope_tables(hf_dir: Path, positions: int) -> tuple[np.ndarray, np.ndarray]:
    """The cosines and sines the config asks for, in float64 (no RoPE scaling: the tiny models have none)."""
    cfg = json.loads((Path(hf_dir) / "config.json").read_text())
    theta = float(cfg.get("rope_theta") or cfg["rope_parameters"]["rope_theta"])
    dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    angles = np.arange(positions)[:, None] / theta ** (np.arange(0, dim, 2) / dim)
    return np.cos(angles), np.sin(angles)


def transformers_model(hf_dir: Path, onnx_dir: Path | None = None):
    """The HF model in fp32; given an ONNX build, its rotary embedding reads that build's tables."""
    import torch
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    if onnx_dir is not None:
        cos, sin = (torch.from_numpy(np.concatenate([t, t], axis=-1)) for t in rope_tables(onnx_dir))

        def forward(x, position_ids):  # transformers' signature: cos and sin, [batch, positions, head_dim]
            return cos[position_ids].to(x.dtype), sin[position_ids].to(x.dtype)

        model.model.rotary_emb.forward = forward
    return model
