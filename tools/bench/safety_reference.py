"""The issue's reference classifier under the screen's own leave-one-source-out protocol.

    pip install scikit-learn            # this script only; the package never imports it
    python tools/bench/safety_reference.py [--data ../shared/data/safety-train] [--variant NAME ...]

Issue #23 measured "a TF-IDF + logistic regression trained on the corpus" on public prompt sets
nobody here has (injections 87% at 1% false positives, harmful ~40% at 5%). Run through the same
folds as ``safety_eval.py --loso`` (a family held out, thresholds fixed on the other families'
validation split at the screen's targets, the short-prompt rule applied), it says two things the
screen's figures alone cannot: whether the shipped screen beats that reference on families it
never saw, and how far a leave-one-source-out figure sits below the same model's figure on the
issue's hidden sets. Same rows and heads as the screen (injection: injection vs the rest;
harmful: harmful vs benign); sources excluded for licence reasons are never trained on.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from safety_eval import DATA_TRAIN, TARGET_GRID, family, summarise_loso  # noqa: E402
from train_screen import EXCLUDED, TARGET_FP, is_validation, load_rows  # noqa: E402

from edgeqwen.safety.judged import too_short_to_judge  # noqa: E402
from edgeqwen.safety.screen import HEADS, threshold_at_fp  # noqa: E402

# "TF-IDF + logistic regression" as scikit-learn's defaults write it, and as one would tune it
# for short prompts (word bigrams, sublinear counts, classes balanced).
VARIANTS = {
    "defaults": ({}, {"max_iter": 2000}),
    "bigrams-balanced": (
        {"ngram_range": (1, 2), "sublinear_tf": True, "min_df": 2},
        {"max_iter": 2000, "class_weight": "balanced"},
    ),
}
_STATE: dict = {}


def _heads(rows: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per head (HEADS order): which rows count for it, and their label."""
    labels = np.array([r["label"] for r in rows])
    return [(np.ones(len(rows), bool), labels == "injection"), (labels != "injection", labels == "harmful")]


def _reference(fit_rows: list[dict], variant: str):
    """The reference trained on ``fit_rows``: a function of texts to its logits, (n, heads)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec_kw, lr_kw = VARIANTS[variant]
    vec = TfidfVectorizer(**vec_kw).fit([r["text"] for r in fit_rows])
    x_fit = vec.transform([r["text"] for r in fit_rows])
    models = [LogisticRegression(**lr_kw).fit(x_fit[counts], y[counts]) for counts, y in _heads(fit_rows)]

    def logits(texts: list[str]) -> np.ndarray:
        x = vec.transform(texts)
        return np.stack([m.decision_function(x) for m in models], axis=1)

    return logits


def _fold(fam: str) -> list[dict]:
    rows, val = _STATE["rows"], _STATE["val"]
    train = [i for i, r in enumerate(rows) if family(r["source"]) != fam and r["source"] not in EXCLUDED]
    fit_rows = [rows[i] for i in train if not val[i]]
    val_rows = [rows[i] for i in train if val[i]]
    held = [rows[i] for i, r in enumerate(rows) if family(r["source"]) == fam]
    reference = _reference(fit_rows, _STATE["variant"])
    benign_val = reference([r["text"] for r in val_rows if r["label"] == "benign"])
    thresholds = {head: threshold_at_fp(benign_val[:, h], TARGET_FP[head]) for h, head in enumerate(HEADS)}
    grid = {head: [threshold_at_fp(benign_val[:, h], t) for t in TARGET_GRID] for h, head in enumerate(HEADS)}
    logits = reference([r["text"] for r in held]).T
    out = []
    for j, r in enumerate(held):
        raw = {head: float(logits[h][j]) for h, head in enumerate(HEADS)}  # the curves read these, as for the screen
        # flags as the guard gives them: no verdict on a few words without a hazard word
        score = dict.fromkeys(HEADS, -np.inf) if too_short_to_judge(r["text"]) else raw
        out.append(
            {
                "source": r["source"],
                "family": fam,
                "label": r["label"],
                **{head: bool(score[head] >= thresholds[head]) for head in HEADS},
                **{f"{head}_at": [bool(score[head] >= t) for t in grid[head]] for head in HEADS},
                **{f"logit_{head}": raw[head] for head in HEADS},
            }
        )
    return out


def in_distribution(data: Path, variant: str) -> dict[str, dict[str, float]]:
    """The corpus README's validation split, for the reference trained on the rest and for the
    shipped screen (trained on the same rows): prompts of sources both saw in training, the
    nearest thing here to a hidden set drawn from the same public collections. Thresholds are
    each model's own at the screen's targets, so benign rates are in-sample by construction."""
    from edgeqwen.safety.screen import Screen

    rows = [r for r in load_rows(data, excluded=()) if r["source"] not in EXCLUDED]
    val = [is_validation(r["text"]) for r in rows]
    fit_rows = [r for r, v in zip(rows, val, strict=True) if not v]
    val_rows = [r for r, v in zip(rows, val, strict=True) if v]
    reference = _reference(fit_rows, variant)([r["text"] for r in val_rows])
    benign = np.array([r["label"] == "benign" for r in val_rows])
    short = np.array([too_short_to_judge(r["text"]) for r in val_rows])
    screen = Screen.load()
    shipped = np.array([screen.logits(r["text"]) for r in val_rows])
    out: dict[str, dict[str, float]] = {}
    for h, head in enumerate(HEADS):
        ref = reference[:, h]
        ours = 1 / (1 + np.exp(-shipped[:, h]))
        positive = np.array([r["label"] == head for r in val_rows])
        for name, score, cut in (
            (f"reference {variant}", ref, threshold_at_fp(ref[benign], TARGET_FP[head])),
            ("shipped screen", ours, screen.thresholds[head]),
        ):
            flagged = (score >= cut) & ~short
            out.setdefault(name, {})[f"{head} caught"] = float(flagged[positive].mean())
            out[name][f"{head} benign flagged"] = float(flagged[benign].mean())
            out[name][f"{head} n"] = int(positive.sum())
    return out


def run(data: Path, variant: str, workers: int = 2, hard_negatives: bool = True) -> dict:
    """Leave-one-source-out as safety_eval.py's, with the reference for the screen.
    ``hard_negatives``: the rows written here too, as the screen trains on them."""
    rows = load_rows(data, excluded=(), hard_negatives=hard_negatives)
    _STATE.update(rows=rows, val=[is_validation(r["text"]) for r in rows], variant=variant)
    families = sorted({family(r["source"]) for r in rows})
    with mp.get_context("fork").Pool(workers) as pool:
        results = [row for fold in pool.map(_fold, families) for row in fold]
    return summarise_loso(results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA_TRAIN)
    ap.add_argument("--variant", choices=sorted(VARIANTS), action="append")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--split", action="store_true", help="the validation split (sources seen in training) instead")
    args = ap.parse_args()
    if args.split:
        for variant in args.variant or list(VARIANTS):
            for name, figures in in_distribution(args.data, variant).items():
                print(f"== {name}: " + ", ".join(f"{k} {v:.1%}" if v <= 1 else f"{k} {v}" for k, v in figures.items()))
        return
    for variant in args.variant or list(VARIANTS):
        r = run(args.data, variant, args.workers)
        print(f"== TF-IDF + logistic regression, {variant}")
        for key in ("injections_caught", "injection_benign_fp", "harmful_refused", "harmful_benign_fp"):
            v = r[key]
            print(f"{key:<22} {v['rate']:.1%} [{v['ci95'][0]:.1%}, {v['ci95'][1]:.1%}] of {v['n']}")
        for name, v in r["recall_at_pooled_fp"].items():
            print(f"  recall {name:<18} {v:.1%}")
        for target, heads in r["at_validation_target"].items():
            print(
                f"  validation target {target:>5}: "
                + "; ".join(f"{h} {v['caught']:.1%} caught, {v['benign_flagged']:.1%} benign" for h, v in heads.items())
            )
        for name, v in r["per_source"].items():
            print(f"  {name:<48} {v['rate']:.1%} of {v['n']}")


if __name__ == "__main__":
    main()
