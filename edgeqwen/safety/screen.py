"""The learned input screen: a linear model on hashed word and character n-grams.

Two heads score a prompt: ``injection`` (prompt injection, system-prompt extraction, jailbreak
wrappers) and ``harmful`` (a request the model should refuse). Features are hashed, so the
model is one weight table (``screen.npy``: rows = hashed features, columns = heads, the last row
the biases) and scoring is a gather and a sum in numpy — no scikit-learn or torch at run time.
``tools/train_screen.py`` trains it on ``safety-train`` (licence-clean sources, fixed seed) and
writes ``screen.json`` beside it: the thresholds, fixed on the corpus's validation split before
any test, and how they were chosen. ``tools/bench/safety_eval.py`` reports what it catches on
sources it never saw (leave one source out).
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "EXCLUDED_SOURCES",
    "FORM_WORDS",
    "HEADS",
    "Screen",
    "ScreenScores",
    "features",
    "threshold_at_fp",
]

HEADS = ("injection", "harmful")
# safety-train sources no shipped model is trained on: CC-BY-NC-4.0 (wizardlm-testset), GPL-3.0
# (promptmap-rules), no licence stated (maliciousinstruct). Evaluations may still test on them.
EXCLUDED_SOURCES = frozenset({"wizardlm-testset", "promptmap-rules", "maliciousinstruct"})
DIM_BITS = 19  # 2**19 hashed features x 2 heads x float16 = 2 MiB
MAX_CHARS = 3000  # longer prompts are scored on their first 2,000 and last 1,000 characters
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
# The form of a request, not what it asks for: "how", modals, articles, request verbs and nouns.
# Read, they taught the screen that "How can I use ..." (HarmfulQA's template) and "Write a
# tutorial ..." (AdvBench's) are harmful; dropped, it ranks unseen sources better (docs/safety.md,
# "The words of a request's form"). Inquiry words ("what is": a definition) and pronouns stay.
FORM_WORDS = frozenset(
    "how can could would should will do to a an the please tell give show explain provide write "
    "create generate describe teach instructions steps ways tips guide tutorial".split()
)
_SPACE = re.compile(r"\s+")
_MASK64 = np.uint64((1 << 64) - 1)
_CHAR_NGRAMS = (3, 4, 5)


def _normalise(text: str) -> str:
    if len(text) > 2 * MAX_CHARS:
        text = text[: 2 * MAX_CHARS] + " " + text[-MAX_CHARS:]
    # NFKC folds full-width and other compatibility forms that obfuscated prompts use
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()
    if len(text) > MAX_CHARS:
        text = text[:2000] + " " + text[-1000:]
    # words and punctuation one space apart, words of form dropped
    return " ".join(t for t in _TOKEN.findall(text) if t not in FORM_WORDS)


def _mix(h: np.ndarray, salt: int) -> np.ndarray:
    """A 64-bit finaliser (splitmix64) so nearby n-gram hashes spread over the table."""
    with np.errstate(over="ignore"):
        h = (h ^ np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def features(text: str, dim_bits: int = DIM_BITS) -> np.ndarray:
    """Sorted unique feature rows of ``text`` less its words of form (``FORM_WORDS``): word
    unigrams and bigrams, character 3-5-grams."""
    t = _normalise(text)
    parts = []
    words = _WORD.findall(t)
    if words:
        hw = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
        parts.append(_mix(hw, 1))
        if len(hw) > 1:
            with np.errstate(over="ignore"):
                parts.append(_mix(hw[:-1] * np.uint64(0x100000001B3) + hw[1:], 2))
    codes = np.frombuffer(f" {t} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    for n in _CHAR_NGRAMS:
        if len(codes) < n:
            continue
        h = np.zeros(len(codes) - n + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                h = h * np.uint64(1000003) + codes[k : len(codes) - n + 1 + k]
        parts.append(_mix(h, 10 + n))
    if not parts:
        return np.zeros(0, dtype=np.int64)
    rows = (np.concatenate(parts) & np.uint64((1 << dim_bits) - 1)).astype(np.int64)
    rows.sort()
    return rows[np.concatenate(([True], rows[1:] != rows[:-1]))]  # np.unique hashes: 10x slower here


@dataclass(frozen=True)
class ScreenScores:
    injection: float
    harmful: float

    def __getitem__(self, head: str) -> float:
        return getattr(self, head)


class Screen:
    """``Screen.load()`` is the packaged screen; ``scores(text)`` the two heads' probabilities;
    ``flags(text)`` the heads at or above their thresholds."""

    def __init__(self, weights: np.ndarray, thresholds: dict[str, float], info: dict | None = None) -> None:
        if weights.ndim != 2 or weights.shape[1] != len(HEADS) or weights.shape[0] < 2:
            raise ValueError(f"screen weights must be (features + 1, {len(HEADS)}); got {weights.shape}")
        self.weights = weights[:-1]
        self.bias = weights[-1].astype(np.float32)
        self.dim_bits = int(self.weights.shape[0]).bit_length() - 1
        self.thresholds = {h: float(thresholds[h]) for h in HEADS}
        self.info = info or {}

    @classmethod
    def load(cls, folder: str | Path | None = None) -> Screen:
        folder = Path(folder) if folder is not None else Path(__file__).parent
        return _load(str(folder))

    def logits(self, text: str) -> np.ndarray:
        rows = features(text, self.dim_bits)
        if len(rows) == 0:
            return self.bias.copy()
        # L2-normalised binary features: long prompts are not louder than short ones
        return self.weights[rows].sum(axis=0, dtype=np.float32) / np.float32(np.sqrt(len(rows))) + self.bias

    def scores(self, text: str) -> ScreenScores:
        return _probabilities(self.logits(text))

    def flags(self, text: str, thresholds: dict[str, float] | None = None) -> dict[str, float]:
        """``{head: score}`` for each head at or above its threshold (``thresholds`` overrides)."""
        return self.flags_of(self.logits(text), thresholds)

    def flags_of(self, logits: np.ndarray, thresholds: dict[str, float] | None = None) -> dict[str, float]:
        """:meth:`flags` for logits already computed (the caller also needs the logits)."""
        limits = {**self.thresholds, **(thresholds or {})}
        s = _probabilities(logits)
        return {h: s[h] for h in HEADS if s[h] >= limits[h]}


def _probabilities(logits: np.ndarray) -> ScreenScores:
    p = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    return ScreenScores(*(float(v) for v in p))


def threshold_at_fp(benign_scores: np.ndarray, fp: float) -> float:
    """The lowest threshold (``score >= threshold`` flags) that flags at most ``fp`` of
    ``benign_scores``, in their precision; 0.5 if there are too few to flag any."""
    s = np.sort(benign_scores)[::-1]
    k = int(np.floor(fp * len(s)))  # may flag k of them
    return float(np.nextafter(s[k], s.dtype.type(1))) if k < len(s) else 0.5


@lru_cache(maxsize=4)
def _load(folder: str) -> Screen:
    path = Path(folder)
    weights = np.load(path / "screen.npy")
    info = json.loads((path / "screen.json").read_text(encoding="utf-8"))
    if info.get("form_words", []) != sorted(FORM_WORDS):  # its weights index other features
        raise ValueError(f"The screen in {path} was trained with other words of form: retrain it (train_screen.py).")
    return Screen(weights, info["thresholds"], info)
