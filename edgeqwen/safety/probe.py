"""Harm detection from the model's own activations: a linear probe on the prompt's last hidden state.

The prefill computes the hidden state of the prompt's last position anyway (it is what the first
answer token is sampled from); a backend with ``supports_hidden_states`` keeps it (llama.cpp: the
final-norm output, read with ``llama_get_embeddings_ith``; ONNX: the same tensor, an output the
load-time graph rewrite adds). The probe is a logistic regression on it, stacked with the learned
screen's ``harmful`` logit; the stacked score is checked after the prefill and before the first
token is shown, so a refused prompt costs its prefill and a dot product, never an extra forward
pass.

``train_probe`` (``edgeqwen safety train-probe MODEL``) renders each corpus prompt as the
Assistant does under the default policy, collects the hidden states, fits the probe on the
training split and the stacking weights and threshold on the validation split. A probe is stored
beside the model's file or in its folder (``safety-probe.npy`` + ``.json``); the demo model's
(GGUF and int4 ONNX) ship in the package.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidRequestError
from ..paths import expand
from .screen import EXCLUDED_SOURCES, Screen, threshold_at_fp

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = [
    "Probe",
    "build_probe",
    "find_probe",
    "fit_logistic",
    "hidden_states",
    "is_validation",
    "load_corpus",
    "model_fingerprint",
    "model_home",
    "norm",
    "probe_system_prompt",
    "sample_rows",
    "train_and_save",
    "train_probe",
]

PACKAGED = Path(__file__).parent / "probes"
FILE = "safety-probe"
TARGET_FP = 0.025  # of the validation split's benign prompts, as for the screen's harmful head


@dataclass(frozen=True)
class Probe:
    weights: np.ndarray  # (d,) on standardised hidden states
    bias: float
    mean: np.ndarray  # (d,)
    scale: np.ndarray  # (d,)
    stack: tuple[float, float, float]  # combined logit = a * screen logit + b * probe logit + c
    threshold: float  # on the combined probability
    info: dict = field(default_factory=dict)

    def logit(self, hidden: np.ndarray) -> float:
        x = (np.asarray(hidden, np.float32) - self.mean) / self.scale
        return float(x @ self.weights + self.bias)

    def combined(self, screen_logit: float, hidden: np.ndarray) -> float:
        a, b, c = self.stack
        z = a * screen_logit + b * self.logit(hidden) + c
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))

    def save(self, folder: Path) -> None:
        table = np.stack([self.weights, self.mean, self.scale]).astype(np.float32)
        np.save(folder / f"{FILE}.npy", table)
        meta = {**self.info, "bias": self.bias, "stack": list(self.stack), "threshold": self.threshold}
        (folder / f"{FILE}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, npy: str = f"{FILE}.npy", meta: str = f"{FILE}.json") -> Probe:
        table = np.load(folder / npy)
        info = json.loads((folder / meta).read_text(encoding="utf-8"))
        return cls(
            table[0], float(info["bias"]), table[1], table[2], tuple(info["stack"]), float(info["threshold"]), info
        )


def model_fingerprint(backend: Backend) -> str | None:
    """What a probe is tied to: the model file's name and size, or an ONNX folder's name and its
    weights' size on disk, not the graph's, whose bytes move with the onnx package that wrote it
    (a probe of another build is wrong)."""
    info = getattr(backend, "info", None)
    path = getattr(info, "path", None)
    if path is None:
        return None
    path = Path(path)
    if path.is_file():
        return f"{path.name}:{path.stat().st_size}"
    onnx_file = getattr(info, "onnx_file", None)
    if path.is_dir() and onnx_file is not None:
        return f"{path.name}/{Path(onnx_file).name}:{info.weights_bytes - Path(onnx_file).stat().st_size}"
    return None


def model_home(backend: Backend) -> Path:
    """Where a model's own probe is kept: beside its file, or inside its folder."""
    path = Path(backend.info.path)
    return path if path.is_dir() else path.parent


def find_probe(backend: Backend) -> tuple[Probe | None, str]:
    """(the probe for this backend's model, or None; why) — a probe beside the model first, then
    one shipped for it."""
    if not getattr(backend, "supports_hidden_states", False):
        return None, f"the {backend.name} backend does not expose hidden states"
    fingerprint = model_fingerprint(backend)
    for folder in (model_home(backend), PACKAGED):
        for meta in sorted(folder.glob(f"*{FILE}.json")) if folder.is_dir() else ():
            probe = Probe.load(folder, meta.name[: -len(".json")] + ".npy", meta.name)
            if probe.info.get("model") == fingerprint:
                return probe, f"probe {meta} for {fingerprint}"
    return None, f"no activation probe for {fingerprint} (train one: edgeqwen safety train-probe MODEL)"


# -- training -----------------------------------------------------------------------------------
def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 30, weight: np.ndarray | None = None):
    """Weighted L2 logistic regression by Newton's method (deterministic). Returns (w, b)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1), x.dtype)]).astype(np.float64)
    w = np.zeros(d + 1)
    sw = np.ones(n) if weight is None else weight.astype(np.float64)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (sw * (p - y)) + reg * w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w[:-1], float(w[-1])


def _balanced(y: np.ndarray) -> np.ndarray:
    """Per-row weights that give both classes of ``y`` (0/1) half the total."""
    pos = y == 1
    return np.where(pos, 0.5 * len(y) / max(pos.sum(), 1), 0.5 * len(y) / max((~pos).sum(), 1))


def probe_system_prompt(backend: Backend) -> str | None:
    """The system prompt every probe prompt is rendered with: the default policy's on the model's
    own (a hidden state depends on it, so a collected state is valid only with the same one)."""
    from .guard import Guard

    return Guard("default").system_prompt(None, backend.template.default_system)


def hidden_states(
    backend: Backend, texts: Sequence[str], max_tokens: int = 192, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """The hidden state after each text's prompt, rendered as the Assistant renders it under the
    default policy (its safety rules in the system prompt)."""
    from ..backends.base import prefill_hidden
    from ..types import Message

    if not getattr(backend, "supports_hidden_states", False):
        raise InvalidRequestError(
            f"The {backend.name} backend does not expose hidden states; use llamacpp or an int4 ONNX build."
        )
    template, tok = backend.template, backend.tokenizer
    system = probe_system_prompt(backend)
    model = backend.model
    out = []
    for i, text in enumerate(texts):
        ids = tok.encode(text)
        if len(ids) > max_tokens:  # keep the start and the end: requests tend to sit at either
            text = tok.decode(ids[: max_tokens // 2]) + " ... " + tok.decode(ids[-max_tokens // 2 :])
        messages = [Message("system", system), Message("user", text)] if system else [Message("user", text)]
        prompt = template.encode(tok, template.render(messages, (), add_generation_prompt=True))
        out.append(prefill_hidden(model, prompt))
        if progress is not None:
            progress(i + 1)
    return np.stack(out).astype(np.float32)


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", re.sub(r"\s+", " ", text.lower())).strip()


def is_validation(text: str) -> bool:
    """The corpus README's validation split: sha1(norm(text)) % 10 == 0."""
    return int(hashlib.sha1(norm(text).encode()).hexdigest(), 16) % 10 == 0


def train_probe(
    hidden: np.ndarray,
    labels: Sequence[str],
    texts: Sequence[str],
    screen: Screen | None = None,
    info: dict | None = None,
    screen_logit: np.ndarray | None = None,
) -> Probe:
    """Probe on the training split (harmful vs benign), stacking weights and threshold on the
    validation split, so the threshold is fixed before any test. ``screen_logit``: the screen's
    harmful logit per row, when not the packaged screen's (leave-one-source-out folds)."""
    y = np.array([lab == "harmful" for lab in labels], np.float64)
    keep = np.array([lab in ("harmful", "benign") for lab in labels])
    val = np.array([is_validation(t) for t in texts])
    tr, va = keep & ~val, keep & val
    if tr.sum() < 20 or va.sum() < 20 or y[va].sum() < 5:
        raise InvalidRequestError(
            "Too few labelled prompts to train a probe (need harmful and benign rows in both splits)."
        )
    mean = hidden[tr].mean(axis=0)
    scale = hidden[tr].std(axis=0) + 1e-6
    x = (hidden - mean) / scale
    w, b = fit_logistic(x[tr], y[tr], l2=float(hidden.shape[1]), weight=_balanced(y[tr]))
    probe_logit = x @ w + b
    if screen_logit is None:
        screen = screen or Screen.load()
        screen_logit = np.array([screen.logits(t)[1] for t in texts])
    feats = np.stack([screen_logit[va], probe_logit[va]], axis=1)
    (a, c2), c = fit_logistic(feats, y[va], l2=1e-3, weight=_balanced(y[va]))
    combined = 1.0 / (1.0 + np.exp(-np.clip(a * screen_logit + c2 * probe_logit + c, -30, 30)))
    threshold = threshold_at_fp(combined[va & (y == 0)], TARGET_FP)
    return Probe(
        w.astype(np.float32),
        b,
        mean.astype(np.float32),
        scale.astype(np.float32),
        (float(a), float(c2), float(c)),
        threshold,
        dict(info or {}, target_fp_on_validation=TARGET_FP, train_rows=int(tr.sum()), validation_rows=int(va.sum())),
    )


def load_corpus(folder: Path) -> list[dict]:
    """safety-train's ``train.jsonl`` rows (``text``, ``label``, ``source``), licence-filtered."""
    path = expand(folder) / "train.jsonl"
    if not path.is_file():
        raise InvalidRequestError(f"No train.jsonl in {folder}: pass the safety-train corpus folder (--data).")
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                row = json.loads(line)
                text, label, source = row["text"], row["label"], row["source"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidRequestError(f"{path}, line {n}: not a {{text, label, source}} row ({exc}).") from exc
            if source not in EXCLUDED_SOURCES and label in ("harmful", "benign"):
                rows.append({"text": text, "label": label, "source": source})
    return rows


def sample_rows(rows: Sequence[dict], per_source: int) -> list[dict]:
    """Of each (source, label): at most ``per_source`` training rows and half as many validation
    rows, chosen by hash: deterministic, and big sources do not drown small ones."""
    groups: dict[tuple[str, str, bool], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["source"], row["label"], is_validation(row["text"])), []).append(row)
    out = []
    for key in sorted(groups):
        ranked = sorted(groups[key], key=lambda r: hashlib.sha1(r["text"].encode()).hexdigest())
        out += ranked[: max(1, per_source // 2) if key[2] else per_source]
    return out


def build_probe(
    backend: Backend, rows: Sequence[dict], per_source: int = 200, progress: Callable[[int, int], None] | None = None
) -> Probe:
    """Collect hidden states for a sample of ``rows`` on ``backend`` and train its probe."""
    fingerprint = model_fingerprint(backend)
    if not getattr(backend, "supports_hidden_states", False) or fingerprint is None:
        raise InvalidRequestError(
            f"The {backend.name} backend does not expose hidden states; train the probe on a GGUF model (llamacpp) "
            "or an int4 ONNX build."
        )
    chosen = sample_rows(rows, per_source)
    texts = [r["text"] for r in chosen]
    hidden = hidden_states(backend, texts, progress=None if progress is None else lambda i: progress(i, len(texts)))
    info = {"model": fingerprint, "hidden": f"{backend.name}: last prompt position, final norm", "rows": len(texts)}
    return train_probe(hidden, [r["label"] for r in chosen], texts, info=info)


def train_and_save(
    backend: Backend, data: Path, per_source: int = 200, out: Path | None = None, progress=None
) -> tuple[Probe, Path]:
    """``edgeqwen safety train-probe``: train on the corpus at ``data``, save beside the model
    (or in ``out``); returns the probe and the folder."""
    corpus = load_corpus(data)
    folder = Path(out) if out is not None else model_home(backend)
    try:  # made before the minutes of training, not after them
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidRequestError(
            f"Cannot save the probe in {folder} ({exc.strerror or exc}); pass a folder (--out).", "out"
        ) from exc
    probe = build_probe(backend, corpus, per_source, progress)
    probe.save(folder)
    return probe, folder
