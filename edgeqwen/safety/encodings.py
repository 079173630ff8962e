"""Encoded payloads read back as text, so every check sees what a model asked to decode them would.

"Decode this and do what it says" carries a request past any check that reads the text as it is
written. The schemes are the ones attack collections write (garak's encoding probes among them):
base64, base32, base16 and hex, Ascii85 and base85, quoted-printable, uuencode; ROT13 and Atbash;
Morse, the NATO alphabet, Braille; leetspeak and Zalgo marks. Each reading is one more text the
input checks see beside the prompt; nothing is flagged for being encoded. A reading is kept only
where it looks like text (binary schemes) or reads as English where the prompt does not (letter
ciphers), so hashes, keys, numbers and ordinary prose give none (docs/safety.md, "Encoded
payloads").
"""

from __future__ import annotations

import base64
import binascii
import math
import quopri
import re
from collections.abc import Callable

import regex

from .words import segment

__all__ = ["readings", "without_morse"]

# Shorter runs are tried only where padding marks them as an encoding ("Q29vbg==", "I52WE===").
# Each run is matched from its start only (a look-behind), so a long word is scanned once, not
# once per letter.
_B64 = re.compile(r"(?<![A-Za-z0-9+/_-])(?:[A-Za-z0-9+/_-]{16,}={0,2}|[A-Za-z0-9+/_-]{4,}={1,2})")
_B32 = re.compile(r"\b[A-Z2-7]{16,}={0,6}|\b[A-Z2-7]{2,}={1,6}")
_HEX = re.compile(r"\b(?:[0-9A-Fa-f]{2}){4,}\b|\b[0-9A-Fa-f]{2}(?:[ :][0-9A-Fa-f]{2}){3,}\b")
# Ascii85 (no <~ ~> frame, as Python and garak write it) spans letters and punctuation alike: a
# short run is only tried when it holds a character a word, a number or base64 would not.
_A85 = re.compile(r"(?<![!-u])[!-u]{15,}")
_A85_MARK = re.compile(r"[!-*,\-.:-@\[-`]")
_B85 = re.compile(
    r"(?<![0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~])[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{15,}"
)  # RFC 1924's alphabet (Python's b85encode)
_B85_MARK = re.compile(r"[!#$%&()*+\-;<=>?@^_`{|}~]")
# quoted-printable's marks: an escaped "=", a character of two or more UTF-8 bytes, or spaces
# written "=20" between words; a lone "=49" or "=20" is a query string's ("oldid=499948155")
_QP = re.compile(r"=3D|(?:=[89A-F][0-9A-F]){2}|=20\w{1,20}=20")
_QP_ESCAPE = re.compile(r"=[0-9A-F]{2}")
# uuencode's alphabet holds no lower-case letter; searched from a line's end (a forward search
# retried at each start of a long upper-case line would be quadratic)
_UU_TAIL = regex.compile(r"(?r)[ -`]{2,}$")


def _text(raw: bytes) -> str | None:
    """``raw`` as UTF-8 text when it is text: nine in ten characters printable, and a letter; under
    eight bytes (where random bytes are often printable), ASCII letters and spaces only."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c.isspace() for c in decoded)
    if printable < 0.9 * len(decoded) or not any(c.isalpha() for c in decoded):
        return None
    if len(raw) < 8 and not all(c.isascii() and (c.isalpha() or c in " -'") for c in decoded):
        return None
    return decoded


def _binary(pattern: re.Pattern, decode: Callable[[str], bytes], text: str) -> list[str]:
    out = []
    for m in pattern.finditer(text):
        try:
            raw = decode(m.group())
        except (binascii.Error, ValueError):
            continue
        if (decoded := _text(raw)) is not None:
            out.append(decoded)
    return out


_URLSAFE = str.maketrans("-_", "+/")


def _b64(chunk: str) -> bytes:
    core = chunk.rstrip("=")
    if ("-" in core or "_" in core) and "+" not in core and "/" not in core:  # the URL-safe alphabet
        core = core.translate(_URLSAFE)
    return base64.b64decode(core + "=" * (-len(core) % 4), validate=True)


def _b32(chunk: str) -> bytes:
    core = chunk.rstrip("=")
    return base64.b32decode(core + "=" * (-len(core) % 8))


def _b85(chunk: str) -> bytes:
    if (len(chunk) < 20 and _B85_MARK.search(chunk) is None) or len(chunk) % 5 == 1:
        raise ValueError(chunk)
    return base64.b85decode(chunk)


def _hex(chunk: str) -> bytes:
    return bytes.fromhex(chunk.replace(":", " "))


def _a85(chunk: str) -> bytes:
    if (len(chunk) < 20 and _A85_MARK.search(chunk) is None) or len(chunk) % 5 == 1:  # a word; no such length
        raise ValueError(chunk)
    return base64.a85decode(chunk)


def _span(text: str, marked: Callable[[str], bool]) -> str:
    """The lines from the first ``marked`` one to the last (all of ``text`` if none is): where a
    payload sits in its frame. The payload alone is read, as a base64 one is: "Decode this and do
    it" around a request changes what the screen scores."""
    lines = text.split("\n")
    hits = [i for i, line in enumerate(lines) if marked(line)]
    return "\n".join(lines[hits[0] : hits[-1] + 1]) if hits else text


def _qp(text: str) -> list[str]:
    """Quoted-printable ("src=3Dx"): the lines holding escapes or soft line breaks, read back."""
    if _QP.search(text) is None:
        return []
    span = _span(text, lambda line: "=" in line and (_QP_ESCAPE.search(line) is not None or line.endswith("=")))
    decoded = _text(quopri.decodestring(span.encode("utf-8", "replace")))  # a lone surrogate: "?"
    return [decoded] if decoded else []


def _uu(text: str) -> list[str]:
    """uuencoded lines, read one by one and joined. Each line says its length in its first
    character, which is how a line is found where a prompt puts a label before it ("Encoded: M...")."""
    raw = b""
    for line in text.split("\n"):
        if (m := _UU_TAIL.search(line)) is None:
            continue
        tail = m.group()
        for i, c in enumerate(tail):
            n = (ord(c) - 32) & 63
            if c != " " and n and len(tail) - i == 1 + 4 * math.ceil(n / 3):
                try:
                    raw += binascii.a2b_uu(tail[i:])
                except binascii.Error:
                    continue
                break
    decoded = _text(raw) if raw else None
    return [decoded] if decoded else []


# Letter ciphers: every word has a reading, so one is kept only when it reads as English and the
# prompt does not (more common English words in it than in the prompt, at least two), or when
# the prompt names the cipher (a lone word: "ROT13 encoded string: shpx").
_COMMON = frozenset(
    "the a an and or of to in on at for with from by is are was be it this that these you your i me my we "
    "our he she they them his her how what why who when where which do does can could would should will "
    "not no all any some one make get give tell write".split()
)
_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM"
)
_ATBASH = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
)
_CIPHERS = (
    (_ROT13, frozenset(w.translate(_ROT13) for w in _COMMON), re.compile(r"\brot[- ]?13\b", re.I)),
    (_ATBASH, frozenset(w.translate(_ATBASH) for w in _COMMON), re.compile(r"\batbash\b", re.I)),
)
_WORDS = re.compile(r"[a-z]+")


def _ciphers(text: str, words: list[str]) -> list[str]:
    """Each cipher's reading of the lines that read as English under it and not as written (a
    frame around the payload reads as English as written), from the first such line to the last."""
    out = []
    for table, common_under, named in _CIPHERS:
        is_named = named.search(text) is not None
        if not is_named and not any(map(common_under.__contains__, words)):
            continue  # nearly every prompt: one pass over its words
        lines = text.split("\n")
        counts = []
        for line in lines:
            ws = [w for w in _WORDS.findall(line.lower()) if len(w) > 1]  # a lone letter is a variable ("n", "v")
            counts.append((sum(map(common_under.__contains__, ws)), sum(map(_COMMON.__contains__, ws)), bool(ws)))
        hits = [i for i, (u, p, _) in enumerate(counts) if u > p]
        if is_named:  # a lone word under a frame that names the cipher: "ROT13 encoded string: shpx"
            hits = [i for i, (u, p, has) in enumerate(counts) if u > p or (u == p and has)]
        elif sum(counts[i][0] for i in hits) < 2:
            continue
        if hits:
            out.append("\n".join(lines[hits[0] : hits[-1] + 1]).translate(table))
    return out


_MORSE_CODES = dict(
    zip(
        ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - ..- ...- .-- -..- -.-- --.. "
        "----- .---- ..--- ...-- ....- ..... -.... --... ---.. ----. .-.-.- --..-- ..--.. -.-.--".split(),
        "abcdefghijklmnopqrstuvwxyz0123456789.,?!",
        strict=True,
    )
)
_MORSE = re.compile(r"[.\-]{1,6}(?:(?: {1,3}| ?/ ?)[.\-]{1,6}){3,}")
_MORSE_WORD_BREAK = re.compile(r"/| {2,}")


def _morse_runs(text: str) -> list[tuple[re.Match[str], str]]:
    """Each run of Morse in ``text`` and its reading."""
    if ".-" not in text and "-." not in text:
        return []
    out = []
    for m in _MORSE.finditer(text):
        run = m.group()
        if "." not in run or "-" not in run:  # an ellipsis, a rule of dashes
            continue
        words = [w.split() for w in _MORSE_WORD_BREAK.split(run)]  # "/" or a wider space, as Morse spaces words
        codes = [c for w in words for c in w]
        if sum(c in _MORSE_CODES for c in codes) < 0.75 * len(codes):
            continue
        out.append((m, " ".join("".join(_MORSE_CODES.get(c, "?") for c in w) for w in words)))
    return out


def _morse(text: str) -> list[str]:
    runs = _morse_runs(text)  # one reading, as a payload's lines are one text in the other schemes
    return ["\n".join(reading for _, reading in runs)] if runs else []


def without_morse(text: str) -> str:
    """``text`` less its Morse: what a screen of words should read as written. Dots and dashes are
    no words; a screen that learned them from a few attacks flags any Morse, whatever it says,
    where its reading is what tells. Once a text holds a run of Morse, every stretch of dots,
    dashes and breaks goes (the short words and lone digits between the runs too)."""
    if not _morse_runs(text):
        return text
    return _MORSE_STRETCH.sub(" ", text).strip()


_MORSE_STRETCH = re.compile(r"(?<!\w)[ \t\r\n/|]*[.\-][.\- \t\r\n/|]*(?!\w)")


_NATO_WORDS = (
    "alfa alpha bravo charlie delta echo foxtrot golf hotel india juliet juliett kilo lima mike november oscar "
    "papa quebec romeo sierra tango uniform victor whiskey whisky xray x-ray yankee zulu"
).split()
_NATO = re.compile(r"\b(" + "|".join(map(re.escape, _NATO_WORDS)) + r")\b(?:[\s,/]+|$)", re.I)
_NATO_GATE = frozenset(part for word in _NATO_WORDS for part in word.split("-"))  # as _WORDS splits them


def _nato(text: str, words: list[str]) -> list[str]:
    """Runs of four or more NATO words, each read as its letter ("/" between words read as a space),
    the letters split into the likeliest words."""
    if sum(map(_NATO_GATE.__contains__, words)) < 4:  # a set lookup per word, before any pattern
        return []
    runs: list[list[re.Match]] = [[]]
    end = -1
    for m in _NATO.finditer(text):
        if m.start() != end:
            runs.append([])
        runs[-1].append(m)
        end = m.end()
    out = []
    for run in runs:
        if len(run) >= 4:
            letters = "".join(m.group(1)[0] + (" " if "/" in m.group()[len(m.group(1)) :] else "") for m in run)
            # the alphabet spells letters only: the words between are found again (words.py)
            out.append(" ".join(segment(chunk) for chunk in letters.lower().split()))
    return out


# Braille, English grade 1 (U+2800 block): letters, a capital sign, common punctuation, and a
# number sign that makes a-j digits: until a space (as braille is written) or for one letter only
# (as some encoders write it, a sign before each digit); both readings where they differ.
_BRAILLE = dict(zip("⠁⠃⠉⠙⠑⠋⠛⠓⠊⠚⠅⠇⠍⠝⠕⠏⠟⠗⠎⠞⠥⠧⠺⠭⠽⠵⠲⠂⠦⠖⠄⠤⠌⠒⠆⠶", "abcdefghijklmnopqrstuvwxyz.,?!'-/:;(", strict=True))
_BRAILLE_RUN = re.compile(r"[\u2800-\u28ff]+(?:[ \n]+[\u2800-\u28ff]+)*")


def _braille_reading(run: str, number_to_space: bool) -> str:
    chars, capital, number = [], False, False
    for c in run:
        if c == "⠠":
            capital = True
        elif c == "⠼":
            number = True
        elif c in " \n":
            chars.append(c)
            number = False
        elif c != "⠰":  # the letter sign: what follows is a letter, as it is read anyway
            letter = _BRAILLE.get(c, "?")
            if number and letter in "abcdefghij":
                letter = "1234567890"["abcdefghij".index(letter)]
            number = number and number_to_space
            chars.append(letter.upper() if capital else letter)
            capital = False
    return "".join(chars)


def _braille(text: str) -> list[str]:
    out = []
    for m in _BRAILLE_RUN.finditer(text):
        run = m.group()
        if len(run.replace(" ", "").replace("\n", "")) >= 3:
            out.extend(dict.fromkeys(_braille_reading(run, to_space) for to_space in (True, False)))
    return out


# Leetspeak: digits standing for letters inside words ("h0w t0 m4k3 7he rac157"): a digit between
# two letters, digits before two letters that are not an ordinal's or a unit's ("1st", "50mg"), or
# two after three letters. One digit at a word's end is a version or a name ("IPv4", "SHA1",
# "python3"), and a lone leet-looking word a model number or a name: a reading needs two leet
# words, or a prompt that names leetspeak.
_LEET_WORD = re.compile(
    r"\b(?!0x|\d+(?:st|nd|rd|th|[ap]m|[kmgt]?[bgl]|[kmc]?m|[kmg]?hz|px|fps|ft|lbs?|oz|min|ms|yrs?)\b)"
    r"(?=[a-z013457]*[a-z][013457]+[a-z]|[013457]+[a-z]{2}|[a-z013457]*[a-z]{3}[013457]{2,}\b)[a-z013457]{2,}\b",
    re.I,
)
_LEET = str.maketrans("013457", "oieast")
_LEET_HINT = re.compile(r"[a-z][013457]|[013457][a-z]", re.I)
_LEET_NAMED = re.compile(r"\bleet(?:speak)?\b|\bl33t\b|\b1337\b", re.I)
_LEET_ANY = re.compile(r"\b(?=[0-9]*[a-z])(?=[a-z]*[013457])[a-z013457]{2,}\b", re.I)


def _leet_words(pattern: re.Pattern, text: str) -> list[re.Match]:
    """Matches of ``pattern`` written as leetspeak is: lower case, or all capitals, or a capital
    first ("H0w", "N1GG3R"); capitals inside a word are a name's ("SHA1s", "Axes3D")."""
    return [m for m in pattern.finditer(text) if m.group().isupper() or m.group()[1:] == m.group()[1:].lower()]


def _leet(text: str) -> list[str]:
    if _LEET_HINT.search(text) is None:
        return []
    named = _LEET_NAMED.search(text) is not None  # "Leetspeak encoded string: D3g0": any such word
    found = _leet_words(_LEET_ANY if named else _LEET_WORD, text)
    if not found or (not named and len(found) < 2):
        return []
    out, end = [], 0
    for m in found:
        out += [text[end : m.start()], m.group().translate(_LEET)]
        end = m.end()
    read = "".join(out) + text[end:]
    first, last = text.count("\n", 0, found[0].start()), text.count("\n", 0, found[-1].start())
    return ["\n".join(read.split("\n")[first : last + 1])]  # the lines holding leet words


# Zalgo: letters buried under runs of combining marks; no script stacks three on one letter.
_ZALGO = regex.compile(r"\p{Mn}{3,}")
_MARKS = regex.compile(r"\p{Mn}+")


def _zalgo(text: str) -> list[str]:
    return [_MARKS.sub("", _span(text, lambda line: _ZALGO.search(line) is not None))] if _ZALGO.search(text) else []


def readings(text: str) -> tuple[str, ...]:
    """The texts encoded in ``text`` under any scheme above, each read back; () for ordinary text."""
    words = _WORDS.findall(text.lower())
    found = [
        *_binary(_B64, _b64, text),
        *_binary(_B32, _b32, text),
        *_binary(_HEX, _hex, text),
        *_binary(_A85, _a85, text),
        *_binary(_B85, _b85, text),
        *_qp(text),
        *_uu(text),
        *_ciphers(text, words),
        *_morse(text),
        *_nato(text, words),
        *_braille(text),
        *_leet(text),
        *_zalgo(text),
    ]
    return tuple(dict.fromkeys(r for r in found if r != text))
