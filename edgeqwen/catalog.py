"""The model catalog (``models/catalog.json``): geometry, builds and defaults of every supported
model. The probe, the planner and the hub all read it from here."""

from __future__ import annotations

import difflib
import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ModelNotFoundError
from .model import kv_bytes_per_token

__all__ = [
    "amx_copy_bytes",
    "EMBEDDING_CONTEXT",
    "GGUF_BITS_PER_WEIGHT",
    "LLAMACPP_INSTALL",
    "Geometry",
    "ModelSpec",
    "catalog",
    "closest_name",
    "get_model",
    "int4_bytes_per_weight",
    "llamacpp_installed",
    "spec_named",
]

_FILE = Path(__file__).with_name("catalog.json")
# Bits per weight of llama.cpp's quantization mixes: (the layers' matrices, the token embedding).
# llama.cpp's quantizer keeps the embedding (= the tied output matrix) at Q6_K in the 4-bit mixes,
# and Q4_K_M puts some layers' matrices in Q6_K too: 4.8 on average, measured on Qwen2.5-1.5B's
# geometry (tools/bench/make_geometry_models.py --gguf: the Q4_0 file is 935 MB, this says 932).
# The window an embedding model or a reranker gets unless asked (OpenAI's own per-input limit,
# Qwen3-Reranker's card's max_length), less where memory holds less: their default and the probe's.
EMBEDDING_CONTEXT = 8192
GGUF_BITS_PER_WEIGHT = {"Q4_0": (4.5, 6.5625), "Q4_1": (5.0, 8.5), "Q4_K_M": (4.8, 6.5625), "Q8_0": (8.5, 8.5)}
# How a machine gets llama.cpp, which runs a catalog model's GGUF as it is (no torch, no conversion).
# llama-cpp-python is built from source (PyPI has no aarch64 wheel): a minimal Debian or Pi OS Lite
# lacks the compiler, and pip's error then is cmake's
LLAMACPP_INSTALL = (
    "pip install 'edgeqwen[llamacpp]' (or `bash tools/setup.sh`, a build for this CPU; either needs a C++ "
    "compiler: sudo apt install build-essential on Debian and Raspberry Pi OS)"
)


def llamacpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def amx_copy_bytes(vocab: int, hidden: int, quantization: str) -> int:
    """What llama.cpp's AMX kernels hold beside a GGUF's own size: a tied embedding is also the
    output matrix, which goes to their buffer while the lookup keeps the GGUF's copy (Qwen2.5-1.5B
    Q4_0: AMX 885 MiB + CPU 183 MiB, against 886 MiB in all without them; llama.cpp's load log). The
    embedding's bits are its mix's (Q6_K where the mix is not listed)."""
    return int(vocab * hidden * GGUF_BITS_PER_WEIGHT.get(quantization, (0.0, 6.5625))[1] / 8)


def int4_bytes_per_weight(block_size: int, scale_bytes: int) -> float:
    """Half a byte of code per weight plus one scale (``scale_bytes``) per block."""
    return 0.5 + scale_bytes / block_size


@dataclass(frozen=True)
class Geometry:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    context_length: int
    max_new_tokens: int

    @property
    def layer_params(self) -> int:
        """Parameters in the layers' matmuls (attention and MLP): what each prompt token is
        multiplied by (the lm_head runs on the last one only)."""
        attn = self.hidden * self.heads * self.head_dim * 2 + self.hidden * self.kv_heads * self.head_dim * 2
        return self.layers * (attn + 3 * self.hidden * self.intermediate)

    @property
    def linear_params(self) -> int:
        """Parameters in the quantized matmuls: the layers' and the lm_head."""
        return self.layer_params + self.vocab * self.hidden

    @property
    def checkpoint_params(self) -> int:
        """Parameters of the full-precision checkpoint (an untied embedding is a second matrix;
        biases and norms, under 0.1%, are left out)."""
        return self.linear_params + (0 if self.tied_embeddings else self.vocab * self.hidden)

    def kv_bytes_per_token(self, bytes_per_value: float) -> int:
        return kv_bytes_per_token(self.layers, self.kv_heads, self.head_dim, bytes_per_value)

    def int4_weight_bytes(self, block_size: int, scale_bytes: int, head_bits: int = 4) -> int:
        """4-bit codes plus one scale per block, the lm_head's codes at ``head_bits``; a tied
        embedding shares the lm_head's matrix, an untied one is a second matrix of the same size."""
        head_bytes = self.vocab * self.hidden * (head_bits / 8 + scale_bytes / block_size)
        body = self.layer_params * int4_bytes_per_weight(block_size, scale_bytes)
        return int(body + head_bytes * (1 if self.tied_embeddings else 2))

    def gguf_weight_bytes(self, quantization: str) -> int:
        """A GGUF build's size: the layers' matrices and the embedding at their mix's bits per weight
        (an untied output matrix at the embedding's)."""
        body_bits, embed_bits = GGUF_BITS_PER_WEIGHT[quantization]
        embed = self.vocab * self.hidden
        return int((self.layer_params * body_bits + embed * embed_bits * (1 if self.tied_embeddings else 2)) / 8)

    def gguf_amx_copy_bytes(self, quantization: str) -> int:
        """What llama.cpp's AMX kernels hold beside this model's GGUF (:func:`amx_copy_bytes`)."""
        return amx_copy_bytes(self.vocab, self.hidden, quantization) if self.tied_embeddings else 0


@dataclass(frozen=True)
class ModelSpec:
    name: str
    display: str
    family: str
    license: str
    source: str
    geometry: Geometry
    builds: dict[str, dict[str, Any]]
    defaults: dict[str, Any]
    demo: bool = False
    # "guard": a moderation model (Policy.guard); "embedding": text to vectors (edgeqwen.Embedder).
    # Neither is ever picked to answer.
    role: str = "chat"

    @property
    def answers(self) -> bool:
        """A model the probe may recommend and the hub may pick to answer prompts."""
        return self.role == "chat"

    @property
    def onnx_converted_here(self) -> bool:
        """No int4 ONNX build of it is published: `pull --convert` builds one (torch, the full checkpoint)."""
        return "repo" not in self.builds.get("onnx-int4-cpu", {})

    @property
    def onnx_layout(self) -> tuple[int, int]:
        """Block size and lm_head bits of its int4 ONNX build: a build converted here names both; a
        published one that names no lm_head width has a 4-bit one (onnx-community's Qwen3-4B)."""
        build = self.builds.get("onnx-int4-cpu", {})
        return int(build.get("block_size", 32)), int(build.get("lm_head_bits", 4))

    @property
    def gguf_publisher(self) -> str:
        """Who publishes the GGUF: the model's makers (Qwen) or, where they publish none, llama.cpp's (ggml-org)."""
        return str(self.builds.get("gguf", {}).get("repo", "?/")).split("/")[0]

    @property
    def gguf_files(self) -> dict[str, dict[str, Any]]:
        """This model's published GGUF files by quantization (``file``, ``approx_size_mib``), the
        catalog's default first; empty where it has none on the hub."""
        gguf = self.builds.get("gguf", {})
        if "repo" not in gguf:
            return {}
        default = {gguf["quantization"]: {"file": gguf["file"], "approx_size_mib": gguf["approx_size_mib"]}}
        return default | dict(gguf.get("alternatives", {}))

    def gguf_held(self, folder: Path) -> str | None:
        """Which of this model's GGUF files an install ``folder`` holds (its quantization), or None."""
        return next((q for q, f in self.gguf_files.items() if (folder / f["file"]).exists()), None)

    def gguf_bytes(self, quantization: str) -> int:
        """The size of this model's GGUF in ``quantization``: the published file's where the catalog
        records it (Qwen's Q4_K_M of Qwen2.5-1.5B is 14% over the mix's formula), else the geometry's."""
        size = self.gguf_files.get(quantization, {}).get("size_bytes")
        return int(size) if size else self.geometry.gguf_weight_bytes(quantization)

    def gguf_route(self, llamacpp: bool) -> str | None:
        """How to get this model's GGUF, which llama.cpp runs with no conversion (installing
        llama.cpp first where ``llamacpp`` says it is missing); None where no GGUF is listed."""
        gguf = self.builds.get("gguf", {})
        if "repo" not in gguf:
            return None
        pull = (
            f"`edgeqwen pull {self.name} --backend llamacpp` ({self.gguf_publisher}'s GGUF, "
            f"~{gguf['approx_size_mib']:,} MiB, which llama.cpp runs as it is)"
        )
        return pull if llamacpp else f"install llama.cpp with {LLAMACPP_INSTALL}, then {pull}"


@lru_cache(maxsize=1)
def catalog() -> tuple[ModelSpec, ...]:
    data = json.loads(_FILE.read_text(encoding="utf-8"))
    return tuple(
        ModelSpec(
            name=m["name"],
            display=m["display"],
            family=m["family"],
            license=m["license"],
            source=m["source"],
            geometry=Geometry(**m["geometry"]),
            builds=m["builds"],
            defaults=m["defaults"],
            demo=m.get("demo", False),
            role=m.get("role", "chat"),
        )
        for m in data["models"]
    )


def spec_named(name: object) -> ModelSpec | None:
    """The catalog model ``name`` calls by its name or its GGUF install's (``NAME-gguf``); None for
    anything else (a path, an unknown name)."""
    text = str(name).lower()
    return next((s for s in catalog() if text in (s.name, f"{s.name}-gguf")), None)


def closest_name(text: str) -> str | None:
    """The catalog name ``text`` most likely misspells ("qwen2.5-3b" for qwen2.5-3b-instruct), or None."""
    names = [s.name for s in catalog() if not s.demo]
    text = text.lower()
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.6) or [n for n in names if text in n]
    return close[0] if close else None


def get_model(name: str) -> ModelSpec:
    for spec in catalog():
        if spec.name == name.lower():
            return spec
    names = ", ".join(s.name for s in catalog())
    close = closest_name(name)
    guess = f" Did you mean {close!r}?" if close else ""
    raise ModelNotFoundError(f"{name!r} is not in the catalog.{guess} Known models: {names}.")
