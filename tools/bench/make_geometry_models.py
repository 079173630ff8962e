"""Random-weight models with the *exact* geometry of a catalog model (Qwen2.5-1.5B/3B, Qwen3-4B, the
Qwen3Guard-Gen-0.6B guard, the Qwen3-Embedding-0.6B embedding model, the Qwen3-Reranker-0.6B reranker),
converted to edgeqwen's int4 ONNX build. Speed does not depend on weight values, so these are
honest benchmark models; they produce no meaningful text.

    python tools/bench/make_geometry_models.py OUT_DIR [--model qwen2.5-1.5b-instruct] [--block-size 32]
        [--keep-hf] [--gguf] [--no-onnx]

``--gguf`` also writes the same random weights as GGUF Q4_0 and Q4_K_M (and the catalog's own GGUF
quantization where it is another, Q8_0 for the embedding model) for llama.cpp: f16 with
``tools/make_test_models.write_gguf`` (llama.cpp's tensor names and vocabulary layout; the
tests check its logits against transformers), then llama.cpp's own quantizer through
``llama_cpp.llama_model_quantize`` (the ``llamacpp`` extra). ``--no-onnx``: the GGUF files only.
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


def build_hf(name: str, out: Path) -> Path:
    """The random checkpoint in Hugging Face's layout (bf16), written once."""
    import torch
    import transformers
    from qwen_tokenizer_json import write as write_tokenizer

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
    return hf


def build(name: str, out: Path, keep_hf: bool = False, block_size: int = 32) -> Path:
    from edgeqwen.convert import ConvertOptions, convert

    folder = out / f"{name}-random-int4-b{block_size}"
    if (folder / "genai_config.json").is_file():
        return folder
    hf = build_hf(name, out)
    t0 = time.perf_counter()
    convert(hf, folder, ConvertOptions(block_size=block_size))
    print(f"converted {folder} in {time.perf_counter() - t0:.0f} s", flush=True)
    if not keep_hf:
        shutil.rmtree(hf)
    return folder


POOLING = {"embedding": 3, "reranker": 4}  # llama.cpp's last-token and rank pooling


def build_gguf(name: str, out: Path) -> list[Path]:
    """GGUF Q4_0, Q4_K_M and the catalog's own quantization of the same random model (needs
    ``OUT/NAME-random-hf``)."""
    import llama_cpp
    from make_test_models import write_gguf

    from edgeqwen.catalog import get_model

    hf = out / f"{name}-random-hf"
    f16 = out / f"{name}-random-f16.gguf"
    if not f16.is_file():  # the pooling the publisher's file declares (a reranker's: a rank head)
        write_gguf(hf, f16, "f16", POOLING.get(get_model(name).role))
    made = []
    labels = ["Q4_0", "Q4_K_M"]
    own = get_model(name).builds.get("gguf", {}).get("quantization")
    labels += [own] if own and own not in labels else []
    for label in labels:
        ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{label}")
        label = label.lower()
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
    from edgeqwen.catalog import catalog

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="qwen2.5-1.5b-instruct", choices=[s.name for s in catalog() if not s.demo])
    parser.add_argument("--block-size", type=int, default=32)
    parser.add_argument("--keep-hf", action="store_true")
    parser.add_argument("--gguf", action="store_true", help="also write GGUF Q4_0, Q4_K_M and the catalog's own")
    parser.add_argument("--no-onnx", action="store_true", help="no int4 ONNX build (with --gguf: GGUF only)")
    args = parser.parse_args()
    if args.no_onnx:
        build_hf(args.model, args.out)
    else:
        print(build(args.model, args.out, args.keep_hf or args.gguf, args.block_size))
    if args.gguf:
        for path in build_gguf(args.model, args.out):
            print(path)
        if not args.keep_hf:
            shutil.rmtree(args.out / f"{args.model}-random-hf")


if __name__ == "__main__":
    main()
