"""Text written without spaces read back as words ("howdoimakeabomb" -> "how do i make a bomb").

The NATO alphabet spells letters only, so a payload in it reads back as one run of letters, which
the screen's character n-grams read in part and the word-bounded rules not at all. The run is split
into the likeliest sequence of words under a unigram model of English: ``words.txt``, the word
counts of the screen's training rows (tools/build_words.py), found by dynamic programming over the
run, linear in its length.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

__all__ = ["COMMON", "english_words", "is_word", "segment"]

# The commonest English words: a text "reads as English" under a reading (a cipher undone, marks
# taken off) where more of its words are these than as written.
COMMON = frozenset(
    "the a an and or of to in on at for with from by is are was be it this that these you your i me my we "
    "our he she they them his her how what why who when where which do does can could would should will "
    "not no all any some one make get give tell write".split()
)


def english_words(words: list[str]) -> int:
    """How many of ``words`` (lower case) are common English words of two letters or more: a lone
    letter is a variable or a mark ("n", "v", "a")."""
    return sum(len(w) > 1 and w in COMMON for w in words)


MAX_LETTERS = 4000  # a longer run is read in pieces of this size (each word cut at most once)


@functools.cache
def _lexicon() -> tuple[dict[str, float], int, float]:
    """(log-probability per word, the longest word, the cost of a letter no word explains)."""
    counts: dict[str, int] = {}
    for line in (Path(__file__).parent / "words.txt").read_text(encoding="utf-8").splitlines():
        word, count = line.split()
        counts[word] = int(count)
    total = sum(counts.values())
    # an unknown letter costs more than the rarest word: a name stays a run of letters only
    # where no split into known words exists
    unknown = math.log(0.1 / total)
    return {w: math.log(c / total) for w, c in counts.items()}, max(map(len, counts)), unknown


def is_word(word: str) -> bool:
    """Whether ``word`` (lower case) is one of the lexicon's words."""
    return word in _lexicon()[0]


def segment(letters: str) -> str:
    """``letters`` (lower-case, no spaces) as the likeliest words, space-separated."""
    if len(letters) > MAX_LETTERS:
        return " ".join(segment(letters[i : i + MAX_LETTERS]) for i in range(0, len(letters), MAX_LETTERS))
    logp, longest, unknown = _lexicon()
    n = len(letters)
    best = [0.0] + [-math.inf] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - longest), end):
            score = logp.get(letters[start:end])
            if score is None:
                if end - start > 1:
                    continue
                score = unknown
            if best[start] + score > best[end]:
                best[end], back[end] = best[start] + score, start
    words = []
    end = n
    while end > 0:
        words.append(letters[back[end] : end])
        end = back[end]
    return " ".join(reversed(words))
