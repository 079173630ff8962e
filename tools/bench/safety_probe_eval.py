"""The activation probe on the demo model: collect hidden states, evaluate leave-one-source-out,
and write the probe the package ships.

    python tools/bench/safety_probe_eval.py collect [--per-source 60]      # hidden states -> .cache
    python tools/bench/safety_probe_eval.py loso --screen-loso LOSO.json   # needs safety_eval --loso-out
    python tools/bench/safety_probe_eval.py ship                           # edgeqwen/safety/probes/
    python tools/bench/safety_probe_eval.py --backend onnx collect|loso|ship|cost   # the int4 ONNX build's
    python tools/bench/safety_probe_eval.py collect --injections && ... loso-injections --screen-loso LOSO.json

``collect`` renders each sampled prompt as the Assistant does under the default policy and keeps
the demo model's last hidden state (the GGUF on llama.cpp, or with ``--backend onnx`` its int4
ONNX build: another build, so another probe). Sources excluded from training for licence
reasons are collected too, as test-only rows. ``loso``: for each source family, the probe is
trained without it, its stacking weights and threshold fixed on the other families' validation
split, with each row's *out-of-fold* screen logit (from the screen's own leave-one-source-out
run); the family is then tested. Figures are recall / false positives at that fixed threshold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from safety_eval import WRITTEN, family, wilson  # noqa: E402

from edgeqwen.safety.judged import too_short_to_judge  # noqa: E402
from edgeqwen.safety.probe import (  # noqa: E402
    PACKAGED,
    hidden_states,
    is_validation,
    model_fingerprint,
    probe_system_prompt,
    sample_rows,
    train_probe,
)
from edgeqwen.safety.screen import EXCLUDED_SOURCES, threshold_at_fp  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "safety-train"


def _cache_file(backend: str, injections: bool = False) -> Path:
    """Hidden states of one build of the demo: its GGUF on llama.cpp (--backend), or its int4 ONNX;
    of the harmful and benign rows, or of the injection rows."""
    suffix = ("" if backend == "llamacpp" else f"-{backend}") + ("-injections" if injections else "")
    return ROOT / ".cache" / f"safety-probe-hidden{suffix}.npz"


def _demo_backend(backend: str):
    from edgeqwen.backends import load_backend
    from edgeqwen.hub import ensure_demo_model

    return load_backend(backend, ensure_demo_model(None, backend), context_length=2048)


def collect(per_source: int, backend_name: str, injections: bool = False) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    from safety_hard_negatives import hard_negatives

    rows = [json.loads(line) for line in open(DATA / "train.jsonl", encoding="utf-8")] + hard_negatives()
    rows = [r for r in rows if (r["label"] == "injection" if injections else r["label"] in ("harmful", "benign"))]
    chosen = sample_rows(rows, per_source)
    backend = _demo_backend(backend_name)
    texts = [r["text"] for r in chosen]
    digests = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    cache = _cache_file(backend_name, injections)
    # a prompt's hidden state depends only on its text, the model and the system prompt it is
    # rendered with: the last run's states are reused when those match (a retrain adds a few rows)
    context = np.array(json.dumps([model_fingerprint(backend), probe_system_prompt(backend)]))
    kept = _reusable(cache, context)
    todo = [t for t, d in zip(texts, digests, strict=True) if d not in kept]
    print(f"{len(texts) - len(todo)} of {len(texts)} prompts' states kept from {cache.name}", flush=True)

    def progress(i: int) -> None:
        if i % 200 == 0:
            print(f"{i}/{len(todo)}", flush=True)

    fresh = iter(hidden_states(backend, todo, progress=progress)) if todo else iter(())
    hidden = np.stack([kept[d] if d in kept else next(fresh) for d in digests])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        cache,
        hidden=hidden,
        context=context,
        labels=np.array([r["label"] for r in chosen]),
        sources=np.array([r["source"] for r in chosen]),
        sha1=np.array(digests),
        texts=np.array(texts, dtype=object),
        model=np.array(model_fingerprint(backend)),
    )
    print(f"wrote {cache}: {len(texts)} prompts")


def _reusable(cache: Path, context: np.ndarray) -> dict[str, np.ndarray]:
    """The hidden states in ``cache`` by prompt sha1, if it was written for this context."""
    if not cache.exists():
        return {}
    c = np.load(cache, allow_pickle=True)
    if "context" not in c.files or str(c["context"]) != str(context):
        return {}
    return dict(zip(c["sha1"], c["hidden"], strict=True))


def _cache(backend: str, injections: bool = False):
    c = np.load(_cache_file(backend, injections), allow_pickle=True)
    return c["hidden"], c["labels"], c["sources"], c["sha1"], list(c["texts"]), str(c["model"])


def loso(screen_loso: Path, backend: str) -> dict:
    hidden, labels, sources, sha1, texts, _ = _cache(backend)
    oof = {r["sha1"]: r for r in json.loads(screen_loso.read_text())["rows"]}
    keep = np.array([s in oof for s in sha1])
    hidden, labels, sources, sha1 = hidden[keep], labels[keep], sources[keep], sha1[keep]
    texts = [t for t, k in zip(texts, keep, strict=True) if k]
    screen_logit = np.array([oof[s]["logit_harmful"] for s in sha1])
    screen_flag = np.array([oof[s]["harmful"] for s in sha1])
    y = (labels == "harmful").astype(float)
    fams = np.array([family(s) for s in sources])
    trainable = np.array([s not in EXCLUDED_SOURCES for s in sources])
    short = np.array([too_short_to_judge(t) for t in texts])
    flags = np.zeros(len(y), bool)
    for fam in sorted(set(fams)):
        test = fams == fam
        fold = ~test & trainable  # the shipped recipe, without the family
        probe = train_probe(
            hidden[fold],
            list(labels[fold]),
            [t for t, k in zip(texts, fold, strict=True) if k],
            screen_logit=screen_logit[fold],
        )
        flags[test] = [
            probe.combined(z, h) >= probe.threshold for z, h in zip(screen_logit[test], hidden[test], strict=True)
        ]
    flags &= ~short  # as the guard does: no learned verdict on a few words without a hazard word

    def rate(mask, f):
        k, n = int(f[mask].sum()), int(mask.sum())
        return {"rate": k / n if n else None, "k": k, "n": n, "ci95": list(wilson(k, n))}

    public = ~np.isin(sources, list(WRITTEN))
    harm, ben = public & (y == 1), public & (y == 0)
    per_source = {}
    for src, lab in sorted(set(zip(sources, labels, strict=True))):
        m = (sources == src) & (labels == lab)
        per_source[f"{src} ({lab})"] = {"screen+probe": rate(m, flags), "screen": rate(m, screen_flag)}
    return {
        "rows": int(len(y)),
        "screen+probe": {"harmful_refused": rate(harm, flags), "benign_fp": rate(ben, flags)},
        "screen alone, same rows": {"harmful_refused": rate(harm, screen_flag), "benign_fp": rate(ben, screen_flag)},
        "per_source": per_source,
    }


def loso_injections(screen_loso: Path, backend: str, fp: float = 0.01) -> dict:
    """Exploratory (docs/safety.md; nothing ships): an injection probe on the same state, per family
    trained without it and stacked with the screen's out-of-fold injection logit, threshold at
    ``fp`` of the other families' validation benign rows; against the screen alone on the same rows
    (its own flag, and a threshold set the same way)."""
    h1, l1, s1, sha1, t1, _ = _cache(backend)
    h2, l2, s2, sha2, t2, _ = _cache(backend, injections=True)
    benign = l1 == "benign"
    hidden, labels = np.concatenate([h1[benign], h2]), np.concatenate([l1[benign], l2])
    sources, sha = np.concatenate([s1[benign], s2]), np.concatenate([sha1[benign], sha2])
    texts = [t for t, k in zip(t1, benign, strict=True) if k] + list(t2)
    oof = {r["sha1"]: r for r in json.loads(screen_loso.read_text())["rows"]}
    keep = np.array([x in oof for x in sha])
    hidden, labels, sources, sha = hidden[keep], labels[keep], sources[keep], sha[keep]
    texts = [t for t, k in zip(texts, keep, strict=True) if k]
    val = np.array([is_validation(t) for t in texts])
    z = np.array([oof[x]["logit_injection"] for x in sha])
    y = (labels == "injection").astype(float)
    as_harm = list(np.where(y == 1, "harmful", labels))  # train_probe's positive class
    fams = np.array([family(x) for x in sources])
    trainable = np.array([x not in EXCLUDED_SOURCES for x in sources])
    flags = {name: np.zeros(len(y), bool) for name in ("screen", "probe", "screen+probe")}
    flags["screen, its own flag"] = np.array([oof[x]["injection"] for x in sha])
    for fam in sorted(set(fams)):
        test = fams == fam
        fold = ~test & trainable
        probe = train_probe(
            hidden[fold],
            [a for a, k in zip(as_harm, fold, strict=True) if k],
            [t for t, k in zip(texts, fold, strict=True) if k],
            screen_logit=z[fold],
        )
        p = ((hidden - probe.mean) / probe.scale) @ probe.weights + probe.bias
        a, b, c = probe.stack
        va = fold & val
        for name, score in (("screen", z), ("probe", p), ("screen+probe", a * z + b * p + c)):
            flags[name][test] = score[test] >= threshold_at_fp(score[va & (y == 0)], fp)
    public = ~np.isin(sources, list(WRITTEN))
    inj, ben = public & (y == 1), public & (y == 0)

    def rate(mask, f):
        return {"rate": float(f[mask].mean()), "k": int(f[mask].sum()), "n": int(mask.sum())}

    per_source = {
        src: {name: rate(inj & (sources == src), f) for name, f in flags.items()} for src in sorted(set(sources[inj]))
    }
    return {name: {"caught": rate(inj, f), "benign_fp": rate(ben, f)} for name, f in flags.items()} | {
        "per_source": per_source
    }


def ship(backend: str) -> None:
    hidden, labels, sources, _sha1, texts, model = _cache(backend)
    trainable = np.array([s not in EXCLUDED_SOURCES for s in sources])
    backend_model = model
    probe = train_probe(
        hidden[trainable],
        list(labels[trainable]),
        [t for t, k in zip(texts, trainable, strict=True) if k],
        info={
            "model": backend_model,
            "hidden": f"{backend}: last prompt position, final norm",
            "rows": int(trainable.sum()),
        },
    )
    PACKAGED.mkdir(exist_ok=True)
    tmp = PACKAGED / "_tmp"
    tmp.mkdir(exist_ok=True)
    probe.save(tmp)
    name = "smollm2-135m-instruct" if backend == "llamacpp" else f"smollm2-135m-instruct-{backend}"
    for ext in ("npy", "json"):
        (tmp / f"safety-probe.{ext}").replace(PACKAGED / f"{name}.safety-probe.{ext}")
    tmp.rmdir()
    print(f"shipped probe for {model}: threshold {probe.threshold:.3f}, stack {probe.stack}")


def cost(backend_name: str, runs: int = 15) -> None:
    """The probe's own cost (a dot product) and what reading the hidden state costs the prefill
    (its last position runs as a batch of its own), on the demo model; medians."""
    import statistics
    import time

    from edgeqwen.safety.probe import find_probe

    backend = _demo_backend(backend_name)
    probe, why = find_probe(backend)
    assert probe is not None, why
    text = (DATA.parent / "safety-train" / "README.md").read_text()[:600]
    ids = backend.tokenizer.encode(text)
    h = np.random.default_rng(0).normal(size=probe.mean.shape[0]).astype(np.float32)
    start = time.perf_counter()
    for _ in range(10000):
        probe.combined(0.5, h)
    per_call = (time.perf_counter() - start) / 10000
    times = {False: [], True: []}
    for _ in range(runs):
        for capture in (False, True):  # interleaved
            backend.model.reset()
            backend.model.capture_hidden = capture
            start = time.perf_counter()
            backend.model.prefill(ids)
            times[capture].append(time.perf_counter() - start)
    backend.model.capture_hidden = False
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(
        f"probe: {per_call * 1e6:.1f} us per prompt; prefill of {len(ids)} tokens {off * 1e3:.1f} ms without, "
        f"{on * 1e3:.1f} ms with the hidden state read ({on / off:.3f}x), median of {runs}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["llamacpp", "onnx"], default="llamacpp")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--per-source", type=int, default=60)
    c.add_argument("--injections", action="store_true", help="the injection rows (for loso-injections)")
    li = sub.add_parser("loso-injections")
    li.add_argument("--screen-loso", type=Path, required=True)
    li.add_argument("--fp", type=float, default=0.01)
    lo = sub.add_parser("loso")
    lo.add_argument("--screen-loso", type=Path, required=True)
    lo.add_argument("--out", type=Path)
    sub.add_parser("ship")
    sub.add_parser("cost")
    args = ap.parse_args()
    if args.cmd == "collect":
        collect(args.per_source, args.backend, args.injections)
    elif args.cmd == "loso-injections":
        result = loso_injections(args.screen_loso, args.backend, args.fp)
        for name, v in result.items():
            if name != "per_source":
                c, b = v["caught"], v["benign_fp"]
                print(f"{name:<22} injections {c['rate']:.1%} of {c['n']}, benign {b['rate']:.1%} of {b['n']}")
        for src, v in result["per_source"].items():
            print(f"  {src:<40}", "  ".join(f"{n} {r['rate']:.0%}" for n, r in v.items()), f"of {v['screen']['n']}")
    elif args.cmd == "ship":
        ship(args.backend)
    elif args.cmd == "cost":
        cost(args.backend)
    else:
        result = loso(args.screen_loso, args.backend)
        if args.out:
            args.out.write_text(json.dumps(result, indent=1) + "\n")
        for name in ("screen+probe", "screen alone, same rows"):
            h, b = result[name]["harmful_refused"], result[name]["benign_fp"]
            print(
                f"{name:<24} harmful {h['rate']:.1%} [{h['ci95'][0]:.1%}, {h['ci95'][1]:.1%}] of {h['n']}, "
                f"benign FP {b['rate']:.1%} [{b['ci95'][0]:.1%}, {b['ci95'][1]:.1%}] of {b['n']}"
            )


if __name__ == "__main__":
    main()
