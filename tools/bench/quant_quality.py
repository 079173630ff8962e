"""How much an int4 build changes a real model's predictions: block size 32 vs 128 (and more).

    python tools/bench/quant_quality.py [--hf HF_DIR] [--block-size 32 --block-size 128] [--tokens 512]

Runs the same real text through the fp32 reference (transformers, the weights the int4 builds
were made from) and through each int4 ONNX build of them, position by position, and reports
per-token KL divergence (reference || int4), top-1 agreement and perplexity. Without ``--hf`` it
uses the offline demo model (SmolLM2-135M-Instruct, dequantized from its GGUF): the only real
weights this machine has. Speed does not depend on weight values, quality does, so this is the
one benchmark that needs a real model. The text is CPython's LICENSE.txt (real English, present
wherever Python is) unless ``--text`` names a file.
"""

from __future__ import annotations

import argparse
import json
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def default_text() -> Path:
    candidates = [Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt"]
    for path in candidates:
        if path.is_file():
            return path
    raise SystemExit("No LICENSE.txt next to the standard library; pass --text FILE.")


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def compare(ref_logits: np.ndarray, q_logits: np.ndarray, targets: np.ndarray) -> dict:
    """Per-position KL(ref || q), top-1 agreement, and both perplexities on ``targets``."""
    lp, lq = log_softmax(ref_logits), log_softmax(q_logits)
    kl = (np.exp(lp) * (lp - lq)).sum(axis=-1)
    idx = np.arange(len(targets))
    return {
        "kl_mean": float(kl.mean()),
        "kl_p99": float(np.quantile(kl, 0.99)),
        "top1_agree": float((ref_logits.argmax(-1) == q_logits.argmax(-1)).mean()),
        "ppl_ref": float(np.exp(-lp[idx, targets].mean())),
        "ppl": float(np.exp(-lq[idx, targets].mean())),
    }


def reference_logits(hf: Path, ids: list[int]) -> np.ndarray:
    import torch
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def onnx_logits(folder: Path, ids: list[int]) -> np.ndarray:
    from edgeqwen.backends.onnx import OnnxModel
    from edgeqwen.model import read_model_info

    model = OnnxModel(read_model_info(folder), context_length=len(ids) + 1)
    rows = [model.prefill(ids[:1])]
    rows += [model.decode(t) for t in ids[1:]]
    return np.stack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hf", type=Path, help="HF folder with the reference weights (default: the demo model)")
    parser.add_argument("--block-size", type=int, action="append", default=[])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--text", type=Path)
    parser.add_argument("--work", type=Path, help="keep the builds here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from tokenizers import Tokenizer

    from edgeqwen.convert import ConvertOptions, convert, demo_gguf_path, gguf_to_hf

    blocks = args.block_size or [32, 128]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        hf = args.hf or work / "demo-hf"
        if not (hf / "config.json").is_file():
            gguf_to_hf(demo_gguf_path(), hf)
        text_file = args.text or default_text()
        text = text_file.read_text(encoding="utf-8")
        ids = Tokenizer.from_file(str(hf / "tokenizer.json")).encode(text).ids[: args.tokens + 1]
        ref = reference_logits(hf, ids[:-1])
        targets = np.array(ids[1:])
        rows = []
        for block in blocks:
            folder = work / f"int4-b{block}"
            if not (folder / "genai_config.json").is_file():
                convert(hf, folder, ConvertOptions(block_size=block))
            size = sum(f.stat().st_size for f in folder.glob("model.onnx*"))
            quality = compare(ref, onnx_logits(folder, ids[:-1]), targets)
            rows.append({"block_size": block, "mib": size / 2**20, **quality})
    if args.json:
        print(json.dumps({"model": str(args.hf or "demo"), "tokens": len(targets), "rows": rows}, indent=2))
        return
    print(f"{len(targets)} tokens of {text_file}; reference perplexity {rows[0]['ppl_ref']:.3f}\n")
    print("| block size | files MiB | KL mean | KL p99 | top-1 agreement | perplexity |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['block_size']} | {r['mib']:.0f} | {r['kl_mean']:.4f} | {r['kl_p99']:.3f} | "
            f"{100 * r['top1_agree']:.1f}% | {r['ppl']:.3f} |"
        )


if __name__ == "__main__":
    main()
