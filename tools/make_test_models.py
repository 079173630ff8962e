"""Build tiny random-weight Qwen2 (Qwen2.5) and Qwen3 models with the real Qwen tokenizer.

Same architecture and code path as the real models (GQA, RoPE theta 1e6, tied embeddings,
Qwen3's q/k norms, 151,936-wide logits), tiny sizes: the int4 ONNX build is a few MB.
Each model is written as a Hugging Face folder (``hf``) and converted with edgeqwen's converter
into ``int4`` and ``fp32`` ONNX folders; :func:`write_gguf` writes the same weights as a GGUF with
llama.cpp's tensor names and the vocabulary llama.cpp's converter would store.

    python tools/make_test_models.py OUT_DIR [--arch qwen2 qwen3] [--gguf f32|f16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qwen_tokenizer_json import write as write_tokenizer  # noqa: E402

TINY = dict(
    vocab_size=151936,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    rope_theta=1_000_000.0,
    tie_word_embeddings=True,
    bos_token_id=151643,
    eos_token_id=151645,
    rms_norm_eps=1e-6,
)


def build_hf(arch: str, out: Path, seed: int = 0) -> Path:
    import torch
    import transformers

    torch.manual_seed(seed)
    if arch == "qwen2":
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**TINY))
    elif arch == "qwen3":
        model = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(head_dim=16, **TINY))
    else:
        raise SystemExit(f"unknown arch {arch}")
    # Random init has std 0.02; widen it so the tiny model's logits are not all near zero.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.2)
    model.save_pretrained(out)
    write_tokenizer(out, qwen3=arch == "qwen3")
    return out


def build(arch: str, root: Path, precisions: tuple[str, ...] = ("int4", "fp32")) -> dict[str, Path]:
    return build_all((arch,), root, precisions)[arch]


def build_all(
    archs: tuple[str, ...], root: Path, precisions: tuple[str, ...] = ("int4", "fp32")
) -> dict[str, dict[str, Path]]:
    """The HF folders first, then every missing conversion, two at a time: each is a builder
    subprocess that keeps about one core busy."""
    from concurrent.futures import ThreadPoolExecutor

    from edgeqwen.convert import ConvertOptions, convert

    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, Path]] = {}
    jobs = []
    for arch in archs:
        hf = root / f"{arch}-hf"
        if not (hf / "config.json").is_file():
            build_hf(arch, hf)
        out[arch] = {"hf": hf}
        for precision in precisions:
            folder = out[arch][precision] = root / f"{arch}-{precision}"
            if not (folder / "genai_config.json").is_file():
                jobs.append((hf, folder, ConvertOptions(precision=precision)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(convert, *job) for job in jobs]:
            future.result()
    return out


# Hugging Face tensor names -> llama.cpp's (qwen2 and qwen3 share them; qwen3 adds q/k norms).
_GGUF_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def _gguf_name(hf: str) -> str | None:
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")  # model.layers.N.<module...>.weight|bias
    if parts[:2] == ["model", "layers"]:
        module, kind = ".".join(parts[3:-1]), parts[-1]
        if module in _GGUF_NAMES:
            return f"blk.{parts[2]}.{_GGUF_NAMES[module]}.{kind}"
    return None


def write_gguf(hf_dir: Path, out: Path, dtype: str = "f32", pooling: int | None = None) -> Path:
    """``hf_dir`` (a Qwen2/Qwen3 folder: config.json, safetensors, tokenizer.json) as one GGUF file
    at ``out`` (f32 or f16 matrices; norms and biases stay f32, as llama.cpp's converter keeps them).
    ``pooling``: the ``{arch}.pooling_type`` an embedding model's GGUF declares (3: last token), or
    4 (rank) with the classifier head llama.cpp's converter writes for Qwen3-Reranker: the "yes"
    and "no" rows of the (tied) embedding as ``cls.output``, labelled so."""
    import json

    import gguf
    import numpy as np
    from safetensors import safe_open

    cfg = json.loads((hf_dir / "config.json").read_text())
    arch = cfg["model_type"]
    tok = json.loads((hf_dir / "tokenizer.json").read_text())
    vocab_size = cfg["vocab_size"]
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [gguf.TokenType.UNUSED] * vocab_size
    for text, i in tok["model"]["vocab"].items():
        tokens[i], types[i] = text, gguf.TokenType.NORMAL
    for added in tok["added_tokens"]:
        i = added["id"]
        tokens[i] = added["content"]
        types[i] = gguf.TokenType.CONTROL if added["special"] else gguf.TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]

    out.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out), arch)
    heads, hidden = cfg["num_attention_heads"], cfg["hidden_size"]
    head_dim = cfg.get("head_dim") or hidden // heads
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(hidden)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(float(cfg.get("rope_theta") or cfg["rope_parameters"]["rope_theta"]))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    if pooling is not None:
        w.add_pooling_type(gguf.PoolingType(pooling))
    if pooling == gguf.PoolingType.RANK:
        w.add_classifier_output_labels(["yes", "no"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    w.add_pad_token_id(cfg["bos_token_id"])
    w.add_add_bos_token(False)
    tensors: dict[str, np.ndarray] = {}
    for file in sorted(hf_dir.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:  # torch reads bf16 checkpoints; numpy cannot
            for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                value = f.get_tensor(key).float().numpy()
                tensors[key] = value.astype(np.float16) if dtype == "f16" and value.ndim == 2 else value
    if pooling == gguf.PoolingType.RANK:
        rows = [tok["model"]["vocab"][word] for word in ("yes", "no")]
        tensors["cls.output"] = tensors["model.embed_tokens.weight"][rows].astype(np.float32)
    for hf_name, value in sorted(tensors.items()):
        name = "cls.output.weight" if hf_name == "cls.output" else _gguf_name(hf_name)
        if name is None:
            raise SystemExit(f"no llama.cpp name for {hf_name}")
        w.add_tensor(name, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--arch", nargs="+", default=["qwen2", "qwen3"])
    parser.add_argument("--gguf", choices=["f32", "f16"], help="also write each model as a GGUF")
    args = parser.parse_args()
    for arch in args.arch:
        for kind, path in build(arch, args.out).items():
            print(f"{arch} {kind}: {path}")
        if args.gguf:
            gguf = write_gguf(args.out / f"{arch}-hf", args.out / f"{arch}-{args.gguf}.gguf", args.gguf)
            print(f"{arch} gguf: {gguf}")


if __name__ == "__main__":
    main()
