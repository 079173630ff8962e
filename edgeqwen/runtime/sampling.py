"""Samplers and logits processors.

A sampler maps one row of logits to a token id. It is composed of small pure filters that work
on a *candidate set* ``(ids, logits)`` so that after ``top_k`` nothing touches the full
151,936-wide vocabulary again. Logits processors share one signature,
``(token_ids, logits) -> logits``; stateful ones are small classes with ``__call__`` and ``reset``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..generation_config import SAMPLER_ORDER, GenerationConfig

__all__ = [
    "Judge",
    "LogitsProcessor",
    "SAMPLER_ORDER",
    "Sampler",
    "apply_min_p",
    "apply_tail_free",
    "apply_top_a",
    "apply_top_k",
    "apply_top_p",
    "apply_typical",
    "log_softmax",
    "make_bias_processor",
    "make_judge",
    "make_logits_processors",
    "make_penalty_processor",
    "make_sampler",
    "most_likely",
]

Sampler = Callable[[np.ndarray], int]
LogitsProcessor = Callable[[np.ndarray, np.ndarray], np.ndarray]
Candidates = tuple[np.ndarray, np.ndarray]

# For top-p without top-k: look at this many best tokens first; fall back to a full sort only
# if they do not hold ``top_p`` of the probability mass (exact either way).
_TOP_P_PROBE = 256


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """One row of logits as log probabilities (a new array; the sum in float64, so a 151,936-wide
    row of float32 loses nothing)."""
    shifted = logits - logits.max()  # the max first: what is left to take away is small, and exact
    return shifted - np.float32(np.log(np.exp(shifted, dtype=np.float64).sum()))


def most_likely(logprobs: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` most likely ``(token id, log probability)`` of a row, most likely first (the lower
    id first among equals). One argmax per token: for the 20 at most a request asks for, 0.07 ms
    for five on a 151,665-wide row where a partition of the row took 1.3-1.8 ms."""
    if k <= 0:  # logprobs=0 asks for none: no copy of the row each token
        return []
    work = logprobs.copy()
    out: list[tuple[int, float]] = []
    for _ in range(min(k, work.size)):
        i = int(work.argmax())
        if work[i] == -np.inf:
            break
        out.append((i, float(logprobs[i])))
        work[i] = -np.inf
    return out


def apply_top_k(ids: np.ndarray, logits: np.ndarray, k: int) -> Candidates:
    """Keep the ``k`` highest logits (all if ``k`` is 0 or covers everything)."""
    if k <= 0 or k >= logits.size:
        return ids, logits
    keep = np.argpartition(-logits, k - 1)[:k]
    return ids[keep], logits[keep]


def apply_top_p(ids: np.ndarray, logits: np.ndarray, p: float) -> Candidates:
    """Keep the smallest set of best tokens whose probability reaches ``p`` (nucleus)."""
    if p >= 1.0:
        return ids, logits
    probs = _softmax(logits)
    if logits.size > 4 * _TOP_P_PROBE:
        probe = np.argpartition(-probs, _TOP_P_PROBE - 1)[:_TOP_P_PROBE]
        order = probe[np.argsort(-probs[probe], kind="stable")]
        if probs[order].sum() < p:
            order = np.argsort(-probs, kind="stable")
    else:
        order = np.argsort(-probs, kind="stable")
    cum = np.cumsum(probs[order])
    n = int(np.searchsorted(cum, p) + 1)
    keep = order[: min(n, order.size)]
    return ids[keep], logits[keep]


def apply_min_p(ids: np.ndarray, logits: np.ndarray, min_p: float) -> Candidates:
    """Drop tokens whose probability is below ``min_p`` times the best token's."""
    if min_p <= 0.0:
        return ids, logits
    keep = logits >= logits.max() + np.log(min_p)
    return ids[keep], logits[keep]


def apply_typical(ids: np.ndarray, logits: np.ndarray, p: float) -> Candidates:
    """Locally typical sampling (Meister et al.): keep the tokens whose surprise (-log prob) is
    nearest the distribution's entropy, nearest first, until they hold ``p`` of the probability;
    the one that crosses ``p`` is kept, as transformers' and TGI's warper keeps it."""
    if p >= 1.0:
        return ids, logits
    logp = log_softmax(logits.astype(np.float64))
    probs = np.exp(logp)
    entropy = -(probs * logp).sum()
    order = np.argsort(np.abs(-logp - entropy), kind="stable")
    n = int(np.searchsorted(np.cumsum(probs[order]), p) + 1)
    keep = order[: min(n, order.size)]
    return ids[keep], logits[keep]


def apply_top_a(ids: np.ndarray, logits: np.ndarray, a: float) -> Candidates:
    """Top-a (KoboldAI's): drop tokens whose probability is below ``a`` times the square of the
    best token's, so a confident step keeps few tokens and a flat one many (0 = off)."""
    if a <= 0.0:
        return ids, logits
    probs = _softmax(logits.astype(np.float64))
    keep = probs >= a * probs.max() ** 2
    return ids[keep], logits[keep]


def apply_tail_free(ids: np.ndarray, logits: np.ndarray, z: float) -> Candidates:
    """Tail-free sampling (Phillips, 2019; KoboldCpp's and llama.cpp's former ``tfs_z``): sort the
    probabilities, take the absolute second differences of the sorted curve, normalised to sum
    to 1, and cut the tail where their running sum first passes ``z``; at least one token is kept,
    as those servers keep it (1 = off)."""
    if z >= 1.0 or logits.size <= 2:
        return ids, logits
    order = np.argsort(-logits, kind="stable")
    probs = _softmax(logits[order].astype(np.float64))
    second = np.abs(np.diff(probs, 2))
    total = second.sum()
    second = second / total if total > 1e-6 else np.full(second.size, 1.0 / second.size)
    past = np.flatnonzero(np.cumsum(second) > z)
    past = past[past >= 1]  # the first place a cut may fall keeps one token
    keep = order[: past[0]] if past.size else order
    return ids[keep], logits[keep]


# SAMPLER_ORDER, the order when none is asked for: top-p then typical in transformers' and TGI's
# order (typical sorts the few top-p kept, not the vocabulary); min-p before them, as here from the
# start (llama.cpp, transformers and vLLM apply it after top-p: a draw differs only where both are
# on); top-a and tail-free, KoboldAI's, where KoboldCpp's default order puts them.
_FILTERS: dict[str, Callable[[np.ndarray, np.ndarray, Any], Candidates]] = {
    "top_k": apply_top_k,
    "top_a": apply_top_a,
    "min_p": apply_min_p,
    "top_p": apply_top_p,
    "typical_p": apply_typical,
    "tfs": apply_tail_free,
}


def _distribution(
    temperature: float,
    top_p: float,
    top_k: int,
    min_p: float,
    typical_p: float = 1.0,
    temperature_last: bool = False,
    top_a: float = 0.0,
    tfs: float = 1.0,
    order: Sequence[str] | None = None,
) -> Callable[[np.ndarray], Candidates]:
    """The candidates a sampler draws from and their probabilities (float64, summing to 1): the
    filters and the temperature in ``order`` (names of :data:`SAMPLER_ORDER`; one it leaves out
    is not applied, as KoboldCpp's ``sampler_order`` and llama.cpp's ``samplers`` read it), else
    :data:`SAMPLER_ORDER`, with the temperature moved after the filters by ``temperature_last``
    (llama.cpp's order, text-generation-webui's option), so they read the model's own
    probabilities and the temperature spreads only what they kept."""
    if order is None:
        order = [n for n in SAMPLER_ORDER if n != "temperature"]
        order.insert(len(order) if temperature_last else 1, "temperature")
    values = {"top_k": top_k, "top_a": top_a, "min_p": min_p, "top_p": top_p, "typical_p": typical_p, "tfs": tfs}
    steps = tuple(order)

    def candidates(logits: np.ndarray) -> Candidates:
        cand = np.asarray(logits, dtype=np.float32)
        ids = np.arange(cand.size)
        for name in steps:
            if name == "temperature":
                cand = cand / temperature
            else:
                ids, cand = _FILTERS[name](ids, cand, values[name])
        return ids, _softmax(cand.astype(np.float64))

    return candidates


def make_sampler(
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    min_p: float = 0.0,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    typical_p: float = 1.0,
    temperature_last: bool = False,
    top_a: float = 0.0,
    tfs: float = 1.0,
    order: Sequence[str] | None = None,
) -> Sampler:
    """Greedy when ``temperature`` is 0; otherwise a draw after the filters and the temperature in
    ``order`` (:data:`SAMPLER_ORDER` if None: top-k, temperature, top-a, min-p, top-p, typical,
    tail-free; the temperature last with ``temperature_last``). ``rng``: the random stream to draw
    from (shared with :func:`make_judge`), else one from ``seed``."""
    if temperature == 0:
        return lambda logits: int(np.argmax(logits))
    rng = rng if rng is not None else np.random.default_rng(seed)
    candidates = _distribution(temperature, top_p, top_k, min_p, typical_p, temperature_last, top_a, tfs, order)

    def sample(logits: np.ndarray) -> int:
        ids, probs = candidates(logits)
        return int(ids[rng.choice(probs.size, p=probs)])

    return sample


Judge = Callable[[np.ndarray, int], int]


def make_judge(
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    min_p: float = 0.0,
    rng: np.random.Generator | None = None,
    typical_p: float = 1.0,
    temperature_last: bool = False,
    top_a: float = 0.0,
    tfs: float = 1.0,
    order: Sequence[str] | None = None,
) -> Judge:
    """Speculative decoding's acceptance rule for a guessed token: ``judge(logits, guess)`` is the
    token to write. Greedy: the best token, the guess or not. Sampling: the guess with its
    probability p under the sampler's distribution, else a draw from that distribution without
    it; so each token is drawn exactly as the sampler would draw it (the rule of Leviathan et al.
    for a draft that is one token for sure)."""
    if temperature == 0:
        return lambda logits, guess: int(np.argmax(logits))
    rng = rng if rng is not None else np.random.default_rng()
    candidates = _distribution(temperature, top_p, top_k, min_p, typical_p, temperature_last, top_a, tfs, order)

    def judge(logits: np.ndarray, guess: int) -> int:
        ids, probs = candidates(logits)
        guessed = ids == guess
        if rng.random() < probs[guessed].sum():
            return guess
        rest = np.where(guessed, 0.0, probs)
        return int(ids[rng.choice(rest.size, p=rest / rest.sum())])

    return judge


def make_penalty_processor(
    repetition_penalty: float = 1.0,
    presence_penalty: float = 0.0,
    frequency_penalty: float = 0.0,
    window: int = 64,
    slope: float = 1.0,
) -> LogitsProcessor | None:
    """One processor for all three penalties over the last ``window`` tokens, or None if off.
    ``slope`` (KoboldCpp's ``rep_pen_slope``): a token seen only in the older half of the window
    gets a repetition penalty of ``1 + (repetition_penalty - 1) * slope``, one in the newer half
    the whole of it, as KoboldCpp splits the window (its newer half is the last ``n // 2``)."""
    if repetition_penalty == 1.0 and presence_penalty == 0.0 and frequency_penalty == 0.0:
        return None

    def process(token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        recent = np.asarray(token_ids[-window:] if window else token_ids[:0], dtype=np.int64)
        if recent.size == 0:
            return logits
        seen, counts = np.unique(recent, return_counts=True)
        logits = logits.copy()
        vals = logits[seen]
        if repetition_penalty != 1.0:
            penalty: float | np.ndarray = repetition_penalty
            if slope != 1.0 and repetition_penalty > 1.0:  # in the logits' own precision, as one number is
                penalty = np.full(seen.size, repetition_penalty, dtype=vals.dtype)
                newer = np.isin(seen, recent[(recent.size + 1) // 2 :])
                penalty[~newer] = 1.0 + (repetition_penalty - 1.0) * slope
            vals = np.where(vals > 0, vals / penalty, vals * penalty)
        vals = vals - presence_penalty - frequency_penalty * counts
        logits[seen] = vals
        return logits

    return process


def make_bias_processor(logit_bias: Sequence[tuple[int, float]]) -> LogitsProcessor | None:
    """OpenAI's ``logit_bias``: each bias added to its token's logit, -100 a ban (as OpenAI says
    it "should result in a ban"; added, it would only lower the token). None if there is none."""
    if not logit_bias:
        return None
    ids = np.array([t for t, _ in logit_bias], dtype=np.int64)
    bias = np.array([-np.inf if b <= -100 else b for _, b in logit_bias], dtype=np.float32)

    def process(token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        logits = logits.copy()
        logits[ids] += bias
        return logits

    return process


def make_logits_processors(config: GenerationConfig, extra: Sequence[LogitsProcessor] = ()) -> list[LogitsProcessor]:
    """The processors a config asks for, followed by ``extra`` (grammar, bans, ...)."""
    procs: list[LogitsProcessor] = []
    penalty = make_penalty_processor(
        config.repetition_penalty,
        config.presence_penalty,
        config.frequency_penalty,
        config.penalty_window,
        config.penalty_slope,
    )
    bias = make_bias_processor(config.logit_bias)
    procs.extend(p for p in (penalty, bias) if p is not None)
    procs.extend(extra)
    return procs
