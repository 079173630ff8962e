"""Text cut into chunks of at most N tokens at the most natural places, for an embedding model.

An embedding model reads a text of a bounded length, and retrieval works best on passages of a
few hundred tokens: a long document is indexed as chunks. :func:`split_text` tokenizes the text
once and cuts each chunk as late as the bound allows at the strongest boundary found in its
second half: a blank line, then a line end, then a sentence end, then a space, then any place
between two characters. Chunks are the text's own characters, in order: with no overlap their
spans tile the text (:func:`chunk_spans`; nothing is changed, and :func:`split_text` leaves out
only a chunk of whitespace alone); ``overlap`` starts each chunk up to that many tokens before
the last one ended (at a word's start), so a sentence cut in two is read whole by one of them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from .errors import InvalidRequestError

__all__ = ["chunk_spans", "split_text"]

Offsets = Sequence[tuple[int, int]]
_SENTENCE_END = ".!?"  # a sentence's end before a space
_FULL_STOPS = "。！？"  # CJK text puts no space after its full stops


def _strength(text: str, at: int) -> int:
    """How natural a cut at character ``at`` is: 4 after a blank line, 3 after a line end, 2 after a
    sentence's end, 1 at a space, 0 anywhere else (a few characters around it are read)."""
    before, after = text[max(0, at - 16) : at], text[at : at + 1]
    if before.endswith("\n\n"):
        return 4
    if before.endswith("\n"):
        return 3
    space = before[-1:].isspace() or after.isspace()
    if (space and before.rstrip(" \t")[-1:] in _SENTENCE_END) or (before[-1:] and before[-1] in _FULL_STOPS):
        return 2
    return 1 if space else 0


def split_text(text: str, offsets: Callable[[str], Offsets], max_tokens: int, overlap: int = 0) -> list[str]:
    """``text`` as chunks of at most ``max_tokens`` tokens each, as ``offsets`` counts them (the
    tokenizer's character span of each token), cut where :func:`chunk_spans` says. A chunk of
    whitespace alone is left out, so an empty or blank text has none."""
    return [
        chunk for start, end in chunk_spans(text, offsets, max_tokens, overlap) if (chunk := text[start:end]).strip()
    ]


def chunk_spans(
    text: str, offsets: Callable[[str], Offsets], max_tokens: int, overlap: int = 0
) -> list[tuple[int, int]]:
    """Where each chunk of ``text`` starts and ends (character positions), in order. With no
    overlap they tile the text; with ``overlap`` each starts at most that many tokens before the
    last one ended."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidRequestError(f"max_tokens must be a whole number >= 1, got {max_tokens!r}.", "max_tokens")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < max_tokens:
        raise InvalidRequestError(
            f"overlap must be a whole number from 0 to max_tokens - 1 ({max_tokens - 1}), got {overlap!r}.", "overlap"
        )
    if not text:
        return []
    spans = list(offsets(text))
    # Where a cut may go, as (character, tokens before it): after a token, unless the next one
    # starts inside it (one character's bytes in two tokens). Both columns increase.
    cuts = [(end, k + 1) for k, (_, end) in enumerate(spans) if k + 1 == len(spans) or spans[k + 1][0] >= end]
    chars = [c for c, _ in cuts]
    found: list[tuple[int, int]] = []
    start, first = 0, 0  # this chunk's first character and token
    done = (0, 0)  # where the last chunk ended: character, tokens
    while first + max_tokens < len(spans):
        lo = bisect.bisect_right(chars, max(start, done[0]))
        hi = bisect.bisect_right([t for _, t in cuts[lo : lo + max_tokens + 1]], first + max_tokens) + lo
        if hi == lo and start < done[0]:  # the overlap leaves no room for anything new: none this time
            start, first = done
            continue
        fitting = cuts[lo:hi] or cuts[lo : lo + 1]  # a character wider than the bound still ends a chunk
        late = [c for c in fitting if c[1] - first >= max_tokens // 2] or fitting
        cut, first = max(late, key=lambda c: (_strength(text, c[0]), c[0]))
        found.append((start, cut))
        start, done = cut, (cut, first)
        if overlap:  # back to the earliest word start within ``overlap`` tokens, else no overlap
            i = bisect.bisect_left(chars, cut)
            back = [c for c in cuts[max(0, i - overlap) : i] if c[1] >= first - overlap and _strength(text, c[0])]
            if back:
                start, first = back[0]
    return [*found, (start, len(text))]
