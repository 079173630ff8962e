"""Build tiny random-weight Qwen2 (Qwen2.5) and Qwen3 models with the real Qwen tokenizer.

Same architecture and code path as the real models (GQA, RoPE theta 1e6, tied embeddings,
Qwen3's q/k norms, 151,936-wide logits), tiny sizes: the int4 ONNX build is a few MB.
Each model is written as a Hugging Face folder (``hf``) and converted with edgeqwen's converter
into ``int4`` and ``fp32`` ONNX folders.

    python tools/make_test_models.py OUT_DIR [--arch qwen2 qwen3]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--arch", nargs="+", default=["qwen2", "qwen3"])
    args = parser.parse_args()
    for arch in args.arch:
        for kind, path in build(arch, args.out).items():
            print(f"{arch} {kind}: {path}")


if __name__ == "__main__":
    main()
