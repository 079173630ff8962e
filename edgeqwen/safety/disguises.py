"""Text disguised letter by letter, read plainly: what a reader sees where the checks see noise.

A request can be written so a person or a model still reads it while the checks' words do not
match: invisible characters between its letters ("H\\u200bo\\u200bw"), its letters spaced ("H o w
d o   I") or joined ("H-o-w d-o I"), marks on every vowel ("Hów dó I máké"), letters of other
scripts or of emoji that look Latin ("Gıvе", "🅼🅰🅺🅴"), mathematical letters and odd spaces
(which NFKC folds). PyRIT's converters write all of these (docs/safety.md, "PyRIT's converters").
:func:`plain` undoes them in one reading, each step only where the text shows its disguise, so
ordinary text, in any language, gives none.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import regex

from .words import english_words, is_word, segment

__all__ = ["leetspeak", "plain"]

# Letters of other scripts that look like Latin ones ("Gıvе dеtаılеd іnѕtruсtıоnѕ", garak's
# homoglyph probe; PyRIT's Cherokee, Coptic, Deseret ... letters): Unicode's confusables
# (confusables.tsv, tools/build_confusables.py), read as Latin inside a word that also has Latin
# letters once NFKC has folded mathematical letters and the like. A word wholly in Cyrillic or
# Greek is that language's and stays as written.
_LATIN = regex.compile(r"[a-zA-Z]")
_LATIN_WORD = regex.compile(r"\b[a-zA-Z]+\b")


@functools.cache
def _lookalikes() -> tuple[dict[int, str], frozenset[str], regex.Pattern]:
    """(the table, its letters, a word: letters, digits and the table's symbols, "datab⍺se")."""
    table = {}
    for line in (Path(__file__).parent / "confusables.tsv").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            char, latin = line.split("\t")
            table[ord(char)] = latin
    chars = regex.escape("".join(map(chr, table)))
    # a set, not a character class: either pattern takes 0.7-1.2 ms to find none of 437 letters in
    # 9,000 characters, a set 0.04 ms
    return table, frozenset(map(chr, table)), regex.compile(rf"[\w{chars}]+")


# Invisible characters (Unicode's format characters: zero-width spaces and joiners, direction
# marks and overrides, the word joiner, a byte-order mark; and the grapheme joiner) beside an
# ASCII character: a Persian word's zero-width non-joiner or an emoji's joiner sits between
# letters of their own and is left alone.
_INVISIBLE = regex.compile(r"[\p{Cf}\u034f]")
_INVISIBLE_BY_ASCII = regex.compile(
    r"(?<![\p{Cf}\u034f])[\p{Cf}\u034f]++(?=[\x21-\x7e])|(?<=[\x21-\x7e])[\p{Cf}\u034f]"
)
# Latin letters in negative circles and squares (U+1F150-1F169, U+1F170-1F189), which NFKC leaves
# as they are (the plain circled and squared ones it folds); an emoji selector after one goes too
_ENCLOSED = regex.compile(r"[\U0001F150-\U0001F169\U0001F170-\U0001F189]\ufe0f?")
# Letters spaced one by one ("H o w   d o   I"): six or more single characters, one space apart;
# words are where the spaces are wider, or, if nowhere, found again (words.py)
_SPACED = regex.compile(r"(?<!\S)(?:\w {1,3}){5,}\w(?!\S)")
# Letters joined by one mark ("H-o-w", "m.a.k.e", "b*o*m*b"): the mark between every two. Two
# such words of three letters or more show it ("e.g." and "U.S." alone do not); then the shorter
# ones of the text ("d-o") are joined too. Digits stay: "1.2.3" is a version.
_JOINED_3 = regex.compile(r"(?<![\w.*_+~|·-])[^\W\d_]([-.*_+~|·])[^\W\d_](?:\1[^\W\d_])+(?!\w|\1\w)")
_JOINED_2 = regex.compile(r"(?<![\w.*_+~|·-])[^\W\d_]([-.*_+~|·])[^\W\d_](?:\1[^\W\d_])*(?!\w|\1\w)")
_ACCENTED = regex.compile(r"[\u00c0-\u024f\u1e00-\u1eff]|\p{Mn}")  # a Latin letter with a mark, or a mark
_LETTERS = regex.compile(r"[a-z]+")
_STACKED = regex.compile(r"\p{Mn}{3,}")


# Latin letters that look like others side by side ("rn" as m, "vv" as w, "cl" as d) or alone (a
# capital I inside a lower-case word is an l: "gIorify"): in a text that holds look-alikes, a word
# no lexicon has is read with them where that makes a word it has ("governrnent").
_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("I", "l"), ("l", "i"))


def _spellings(word: str) -> set[str]:
    """``word`` with one pair read the other way, at one place or at all of them."""
    out = set()
    for seen, meant in _PAIRS:
        at = [i for i in range(len(word)) if word.startswith(seen, i)]
        out.update(word[:i] + meant + word[i + len(seen) :] for i in at)
        if len(at) > 1:
            out.add(word.replace(seen, meant))
    return out


def _respelled(word: str) -> str:
    """The first spelling, one or two pairs read the other way, that the lexicon has."""
    if not 3 <= len(word) <= 20 or is_word(word.lower()):  # a longer run is a key or a hash, not a word
        return word
    once = _spellings(word)
    for cands in (once, {c2 for c in once for c2 in _spellings(c)}):
        if found := sorted(c for c in cands if is_word(c.lower())):
            return found[0]
    return word


def _folded(text: str) -> str:
    """Look-alike letters read as Latin in words that mix them with Latin ones."""
    table, lookalikes, word = _lookalikes()
    if text.isascii() or lookalikes.isdisjoint(text):
        return text

    def fold(m: regex.Match) -> str:
        found = m.group()
        if lookalikes.isdisjoint(found) or _LATIN.search(found) is None:
            return found
        return found.translate(table)

    folded = word.sub(fold, text)
    if folded == text:
        return text
    return _LATIN_WORD.sub(lambda m: _respelled(m.group()), folded)


def _unspaced(m: regex.Match) -> str:
    run = m.group()
    if regex.search(r"\S {2,}\S", run):  # wider spaces part the words
        return " ".join(w.replace(" ", "") for w in regex.split(r" {2,}", run))
    return segment(run.replace(" ", "").lower())


def _unmarked(text: str) -> str:
    """Marks taken off Latin letters, where that makes English of the text: two more common
    English words than as written ("Hów dó I máké" -> "How do I make"); a French or Spanish text
    reads no more English without its accents, and keeps them. Zalgo's stacks of marks are read
    where they are (encodings.py), the payload apart from its frame."""
    if _ACCENTED.search(text) is None or _STACKED.search(text) is not None:
        return text
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    bare = unicodedata.normalize("NFC", bare)
    gained = english_words(_LETTERS.findall(bare.lower())) - english_words(_LETTERS.findall(text.lower()))
    return bare if gained >= 2 else text


def plain(text: str) -> str | None:
    """``text`` NFKC-folded (mathematical letters, odd spaces) with its letter-by-letter disguises
    undone; None when it shows none (NFKC alone is no disguise: the screen folds it itself)."""
    nfkc = unicodedata.normalize("NFKC", text)
    out = nfkc
    if not out.isascii():  # nearly every prompt is: only spacing and joining can disguise it
        if _INVISIBLE.search(out) is not None and _INVISIBLE_BY_ASCII.search(out) is not None:
            out = _INVISIBLE.sub("", out)  # once one sits by a Latin letter, all are a disguise
        if _ENCLOSED.search(out) is not None:
            out = _ENCLOSED.sub(lambda m: chr(ord("A") + (ord(m.group()[0]) - 0x1F150) % 0x20), out)
        out = _unmarked(_folded(out))
    if " " in out:
        out = _SPACED.sub(_unspaced, out)
    if len(_JOINED_3.findall(out)) >= 2:
        out = _JOINED_2.sub(lambda m: m.group().replace(m.group(1), ""), out)
    return out if out != nfkc else None


# Leetspeak: digits standing for letters inside words ("h0w t0 m4k3 7he rac157"): a digit between
# two letters, digits before two letters that are not an ordinal's or a unit's ("1st", "50mg"), or
# two after three letters. One digit at a word's end is a version or a name ("IPv4", "SHA1",
# "python3"), and a lone leet-looking word a model number or a name: a reading needs two leet
# words, or a prompt that names leetspeak.
_LEET_WORD = re.compile(
    r"\b(?!0x|\d+(?:st|nd|rd|th|[ap]m|[kmgt]?[bgl]|[kmc]?m|[kmg]?hz|px|fps|ft|lbs?|oz|min|ms|yrs?)\b)"
    r"(?=[a-z0134578]*[a-z][0134578]+[a-z]|[0134578]+[a-z]{2}|[a-z0134578]*[a-z]{3}[0134578]{2,}\b)[a-z0134578]{2,}\b",
    re.I,
)
_LEET = str.maketrans("0134578", "oieastb")  # 8 for b: PyRIT's converter writes "80m8"
_LEET_HINT = re.compile(r"[a-z][0134578]|[0134578][a-z]", re.I)
_LEET_NAMED = re.compile(r"\bleet(?:speak)?\b|\bl33t\b|\b1337\b", re.I)
_LEET_ANY = re.compile(r"\b(?=[0-9]*[a-z])(?=[a-z]*[0134578])[a-z0134578]{2,}\b", re.I)


def _leet_words(pattern: re.Pattern, text: str) -> list[re.Match]:
    """Matches of ``pattern`` written as leetspeak is: lower case, or all capitals, or a capital
    first ("H0w", "N1GG3R"); capitals inside a word are a name's ("SHA1s", "Axes3D"). An 8 for a b
    counts only where the word then is one ("80m8"): 8 is in ids and keys far more than in words."""
    return [
        m
        for m in pattern.finditer(text)
        if (m.group().isupper() or m.group()[1:] == m.group()[1:].lower())
        and ("8" not in m.group() or is_word(m.group().translate(_LEET).lower()))
    ]


def leetspeak(text: str) -> list[str]:
    """The lines holding leetspeak, read with letters for its digits; [] for ordinary text."""
    if _LEET_HINT.search(text) is None:
        return []
    named = _LEET_NAMED.search(text) is not None  # "Leetspeak encoded string: D3g0": any such word
    found = _leet_words(_LEET_ANY if named else _LEET_WORD, text)
    if not found or (not named and len(found) < 2):
        return []
    if not named:  # leetspeak shown: shorter words that read as words are read too ("d0", "80m8")
        at = {m.start() for m in found}
        more = [m for m in _leet_words(_LEET_ANY, text) if m.start() not in at]
        found = sorted(
            found + [m for m in more if is_word(m.group().translate(_LEET).lower())], key=lambda m: m.start()
        )
    out, end = [], 0
    for m in found:
        out += [text[end : m.start()], m.group().translate(_LEET)]
        end = m.end()
    read = "".join(out) + text[end:]
    first, last = text.count("\n", 0, found[0].start()), text.count("\n", 0, found[-1].start())
    return ["\n".join(read.split("\n")[first : last + 1])]  # the lines holding leet words
