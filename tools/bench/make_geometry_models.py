"""Random-weight models with the *exact* geometry of a catalog model (Qwen2.5-1.5B/3B, Qwen3-4B, the
Qwen3Guard-Gen-0.6B guard),
converted to edgeqwen's int4 ONNX build. Speed does not depend on weight values, so these are
honest benchmark models; they produce no meaningful text.

    python tools/bench/make_geometry_models.py OUT_DIR [--model qwen2.5-1.5b-instruct] [--block-size 32]
        [--keep-hf] [--gguf LLAMA_CPP_DIR]

``--gguf`` also writes the same random weights as GGUF Q4_0 and Q4_K_M for llama.cpp: f16 with
``tools/make_test_models.write_gguf`` (llama.cpp's tensor names and vocabulary layout; the
tests check its logits against transformers), then llama.cpp's own quantizer through
``llama_cpp.llama_model_quantize`` (the ``llamacpp`` extra).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))


def hf_config(name: str):
    import transformers

    from edgeqwen.catalog import get_model

    spec = get_model(name)
    g = spec.geometry
    shape = dict(
        vocab_size=g.vocab,
        hidden_size=g.hidden,
        intermediate_size=g.intermediate,
        num_hidden_layers=g.layers,
        num_attention_heads=g.heads,
        num_key_value_heads=g.kv_heads,
        max_position_embeddings=g.context_length,
        rope_theta=1_000_000.0,
        tie_word_embeddings=g.tied_embeddings,
        rms_norm_eps=1e-6,
        bos_token_id=151643,
        eos_token_id=151645,
        torch_dtype="bfloat16",
    )
    if spec.family == "qwen3":  # q/k norms; head_dim is not hidden / heads
        return transformers.Qwen3Config(head_dim=g.head_dim, **shape)
    return transformers.Qwen2Config(**shape)


def build(name: str, out: Path, keep_hf: bool = False, block_size: int = 32) -> Path:
    import torch
    import transformers
    from qwen_tokenizer_json import write as write_tokenizer

    from edgeqwen.convert import ConvertOptions, convert

    folder = out / f"{name}-random-int4-b{block_size}"
    if (folder / "genai_config.json").is_file():
        return folder
    hf = out / f"{name}-random-hf"
    if not (hf / "config.json").is_file():
        t0 = time.perf_counter()
        torch.manual_seed(0)
        with torch.device("cpu"):
            config = hf_config(name)
            cls = transformers.Qwen3ForCausalLM if config.model_type == "qwen3" else transformers.Qwen2ForCausalLM
            model = cls(config).to(torch.bfloat16)
        model.save_pretrained(hf)
        write_tokenizer(hf, qwen3=config.model_type == "qwen3")
        print(f"built {hf} in {time.perf_counter() - t0:.0f} s", flush=True)
        del model
    t0 = time.perf_counter()
    convert(hf, folder, ConvertOptions(block_size=block_size))
    print(f"converted {folder} in {time.perf_counter() - t0:.0f} s", flush=True)
    if not keep_hf:
        shutil.rmtree(hf)
    return folder


def build_gguf(name: str, out: Path) -> list[Path]:
    """GGUF Q4_0 and Q4_K_M of the same random model (needs ``OUT/NAME-random-hf``)."""
    import llama_cpp
    from make_test_models import write_gguf

    hf = out / f"{name}-random-hf"
    f16 = out / f"{name}-random-f16.gguf"
    if not f16.is_file():
        write_gguf(hf, f16, "f16")
    made = []
    for label, ftype in (("q4_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0), ("q4_k_m", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M)):
        target = out / f"{name}-random-{label}.gguf"
        if not target.is_file():
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = ftype
            t0 = time.perf_counter()
            if llama_cpp.llama_model_quantize(str(f16).encode(), str(target).encode(), params) != 0:
                raise SystemExit(f"llama.cpp could not quantize {f16} to {label}")
            print(f"quantized {target} in {time.perf_counter() - t0:.0f} s", flush=True)
        made.append(target)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--model",
        default="qwen2.5-1.5b-instruct",
        choices=["qwen2.5-1.5b-instruct", "qwen2.5-3b-instruct", "qwen3-4b", "qwen3guard-gen-0.6b"],
    )
    parser.add_argument("--block-size", type=int, default=32)
    parser.add_argument("--keep-hf", action="store_true")
    parser.add_argument("--gguf", action="store_true", help="also write GGUF Q4_0 and Q4_K_M")
    args = parser.parse_args()
    print(build(args.model, args.out, args.keep_hf or args.gguf, args.block_size))
    if args.gguf:
        for path in build_gguf(args.model, args.out):
            print(path)
        if not args.keep_hf:
            shutil.rmtree(args.out / f"{args.model}-random-hf")


if __name__ == "__main__":
    main()
