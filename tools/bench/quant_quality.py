"""How much each 4-bit build changes a real model's predictions: ONNX int4 at block 32 and 128
with an 8- or 4-bit lm_head, llama.cpp Q4_0 and Q4_K_M, all made from the same reference weights.

    python tools/bench/quant_quality.py [--block-size 32 --block-size 128] [--lm-head-bits 8 --lm-head-bits 4]
        [--gguf Q4_0 --gguf Q4_K_M] [--tokens 512] [--text FILE]
    python tools/bench/quant_quality.py --kv-cache-type q8_0 --kv-cache-type q4_0 [--tokens 2048]

Runs the same real text through the fp32 reference (transformers) and through each build,
position by position, and reports per-token KL divergence (reference || build), top-1 agreement
and perplexity. The model is the offline demo model (SmolLM2-135M-Instruct): the only real
weights this machine has. Its file is itself Q4_1, so "the reference" is that file dequantized
to fp32; every build re-quantizes those weights (ONNX: our converter from the fp32 folder;
GGUF: llama.cpp's own quantizer from the same file, which dequantizes it first). The Q4_1 row
runs the reference's own weights on llama.cpp: what computation alone (f16 KV cache, int8
activations) costs. Speed does not depend on weight values, quality does, so this is the one
benchmark that needs a real model. The text is CPython's LICENSE.txt (real English, present
wherever Python is) unless ``--text`` names a file.

``--kv-cache-type``: the GGUF builds (the demo's own Q4_1 file alone, unless ``--gguf`` names
others) also run with llama.cpp's KV cache in that type; no ONNX build unless ``--block-size`` or
``--lm-head-bits`` asks for one. Each such row also says how far it is from the same file with the
default f16 cache ("vs f16 KV"): what the cache type alone costs.
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


def gguf_logits(file: Path, ids: list[int], kv_cache_type: str = "f16") -> np.ndarray:
    from edgeqwen.backends.llamacpp import LlamaCppModel
    from edgeqwen.gguf import read_gguf_info

    info = read_gguf_info(file, file.parent)
    model = LlamaCppModel(info, context_length=len(ids) + 1, kv_cache_type=kv_cache_type)
    rows = [model.prefill(ids[:1]).copy()]
    rows += [model.decode(t).copy() for t in ids[1:]]
    return np.stack(rows)


def requantize(src: Path, target: Path, kind: str) -> Path:
    """llama.cpp's quantizer on ``src`` (dequantized first: allow_requantize)."""
    from llama_cpp import llama_cpp as ll

    if not target.is_file():
        params = ll.llama_model_quantize_default_params()
        params.ftype = getattr(ll, f"LLAMA_FTYPE_MOSTLY_{kind}")
        params.allow_requantize = True
        if ll.llama_model_quantize(str(src).encode(), str(target).encode(), params) != 0:
            raise SystemExit(f"llama.cpp could not quantize {src} to {kind}")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hf", type=Path, help="HF folder with the reference weights (default: the demo model)")
    parser.add_argument("--block-size", type=int, action="append", default=[])
    parser.add_argument("--lm-head-bits", type=int, action="append", default=[], help="8 (the default build), 4")
    parser.add_argument("--gguf", action="append", default=[], help="llama.cpp types: Q4_0, Q4_K_M, Q4_1 ...")
    parser.add_argument("--kv-cache-type", action="append", default=[], help="llama.cpp KV cache types: q8_0, q4_0")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--text", type=Path)
    parser.add_argument("--work", type=Path, help="keep the builds here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from tokenizers import Tokenizer

    from edgeqwen.convert import ConvertOptions, convert, demo_gguf_path, gguf_to_hf

    onnx = not args.kv_cache_type or args.block_size or args.lm_head_bits
    builds = [(b, h) for b in args.block_size or [32, 128] for h in args.lm_head_bits or [8, 4]] if onnx else []
    ggufs = args.gguf or ([] if args.hf else ["Q4_1"] if args.kv_cache_type else ["Q4_1", "Q4_0", "Q4_K_M"])
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
        for block, head in builds:
            folder = work / f"int4-b{block}-head{head}"
            if not (folder / "genai_config.json").is_file():
                convert(hf, folder, ConvertOptions(block_size=block, lm_head_bits=head))
            size = sum(f.stat().st_size for f in folder.glob("model.onnx*"))
            quality = compare(ref, onnx_logits(folder, ids[:-1]), targets)
            rows.append({"build": f"ONNX int4 block {block}, lm_head {head}-bit", "mib": size / 2**20, **quality})
        for kind in ggufs:  # from the demo GGUF itself: the same weights the reference dequantized
            src = demo_gguf_path()
            file = src if kind == "Q4_1" else requantize(src, work / f"demo-{kind.lower()}.gguf", kind)
            mib = file.stat().st_size / 2**20
            f16 = gguf_logits(file, ids[:-1])
            rows.append({"build": f"llama.cpp {kind}", "mib": mib, **compare(ref, f16, targets)})
            for cache in args.kv_cache_type:
                logits = gguf_logits(file, ids[:-1], cache)
                vs = {f"vs_f16_kv_{k}": v for k, v in compare(f16, logits, targets).items() if k != "ppl_ref"}
                row = {"build": f"llama.cpp {kind}, KV cache {cache}", "mib": mib}
                rows.append({**row, **compare(ref, logits, targets), **vs})
    if args.json:
        print(json.dumps({"model": str(args.hf or "demo"), "tokens": len(targets), "rows": rows}, indent=2))
        return
    print(f"{len(targets)} tokens of {text_file}; reference perplexity {rows[0]['ppl_ref']:.3f}\n")
    print("| build | file(s) MiB | KL mean | KL p99 | top-1 agreement | perplexity | vs f16 KV: KL mean, top-1 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        vs = "-"
        if "vs_f16_kv_kl_mean" in r:
            vs = f"{r['vs_f16_kv_kl_mean']:.4f}, {100 * r['vs_f16_kv_top1_agree']:.1f}%"
        print(
            f"| {r['build']} | {r['mib']:.0f} | {r['kl_mean']:.4f} | {r['kl_p99']:.3f} | "
            f"{100 * r['top1_agree']:.1f}% | {r['ppl']:.3f} | {vs} |"
        )


if __name__ == "__main__":
    main()
