"""Prompt lookup: draft tokens for speculative decoding, copied from the text so far.

Answers often repeat what they read: a RAG answer quotes its notes, an extraction copies names and
numbers, an edit rewrites most of the code it was given. So the tokens that followed the last
occurrence of the answer's last few tokens are a good guess at what comes next (prompt lookup
decoding; llama.cpp's ``lookup`` example and transformers' ``prompt_lookup_num_tokens`` do the
same). The model checks a guess of k tokens in one forward pass of k + 1 positions, which on a CPU
costs little more than one decode step, since the weights are read once for all of them; each
guessed token it agrees with is a decode step saved. No draft model and no extra memory.

:func:`find_draft` is the guess; the check is the loop's (``loop.generate_step``) and the
acceptance rule the sampler's (``sampling.make_judge``), so the answer is the one the model would
have written without the guess: token for token when greedy, in distribution when sampling.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOOKUP_NGRAM", "find_draft", "find_in_source"]

# Longest and shortest run of last tokens looked up; the longest found wins. A single token
# ("the", a comma) recurs everywhere and continues differently each time, and a failed guess
# costs a share of a decode step (docs/performance.md, "Prompt lookup"), so one is not enough.
LOOKUP_NGRAM = (3, 2)

_NONE = np.zeros(0, dtype=np.int64)


def find_in_source(
    tokens: np.ndarray,
    source: np.ndarray,
    width: int,
    after: int = 0,
    longest: int = LOOKUP_NGRAM[0],
    shortest: int = LOOKUP_NGRAM[1],
) -> tuple[np.ndarray, int]:
    """Up to ``width`` tokens of ``source`` (a prediction of the answer) that follow an occurrence
    of the sequence's last ``longest`` tokens (or fewer, down to ``shortest``): the first at or
    after ``after`` (where the last guess from it ended: an edit goes through its file in order,
    and a line that recurs would otherwise send the guess back), else the last before it. Returns
    the guess and where it ends in ``source`` (``after`` when there is none)."""
    n, m = int(tokens.size), int(source.size)
    if width <= 0 or n < 1 or m < 2:
        return _NONE, after
    for size in range(min(longest, n, m - 1), shortest - 1, -1):
        windows = np.lib.stride_tricks.sliding_window_view(source[: m - 1], size)
        hits = np.flatnonzero((windows == tokens[n - size :]).all(axis=1)) + size  # where each guess starts
        if hits.size:
            later = hits[hits >= after]
            start = int(later[0]) if later.size else int(hits[-1])
            draft = np.asarray(source[start : start + width], dtype=np.int64)
            return draft, start + int(draft.size)
    return _NONE, after


def find_draft(
    tokens: np.ndarray, width: int, longest: int = LOOKUP_NGRAM[0], shortest: int = LOOKUP_NGRAM[1]
) -> np.ndarray:
    """Up to ``width`` tokens that followed the most recent earlier occurrence of the sequence's
    last ``longest`` tokens (or fewer, down to ``shortest``); empty when none recurs."""
    n = int(tokens.size)
    if width <= 0 or n < 2:
        return _NONE
    for size in range(min(longest, n - 1), shortest - 1, -1):
        tail = tokens[n - size :]
        # every window that starts before the tail's own start (so something follows it)
        windows = np.lib.stride_tricks.sliding_window_view(tokens[: n - 1], size)
        hits = np.flatnonzero((windows == tail).all(axis=1))
        if hits.size:
            start = int(hits[-1]) + size
            return np.asarray(tokens[start : start + width], dtype=np.int64)
    return _NONE
