"""Encoded payloads read back as text, so every check sees what a model asked to decode them would.

"Decode this and do what it says" carries a request past any check that reads the text as it is
written. The schemes are the ones attack collections write (garak's encoding probes and PyRIT's
converters among them): base64, base32, base16 and hex, Ascii85 and base85, quoted-printable,
uuencode, URL and string escapes, bits; Caesar's shifts (ROT13 among them), Atbash and text written
backwards; Morse, the NATO alphabet, Braille; Zalgo marks (leetspeak is read with the letter-by-
letter disguises, :mod:`.disguises`). Each reading is one more text the input checks see beside
the prompt; nothing is flagged for being encoded. A reading is kept only where it looks like text
(binary schemes) or reads as English where the prompt does not (letter ciphers), so hashes, keys,
numbers and ordinary prose give none (docs/safety.md, "Encoded payloads").
"""

from __future__ import annotations

import base64
import binascii
import math
import quopri
import re
from collections.abc import Callable

import regex

from .words import COMMON as _COMMON
from .words import english_words, segment

__all__ = ["readings", "without_code"]

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
# the prompt names the cipher (a lone word: "ROT13 encoded string: shpx"). Caesar's other shifts
# (PyRIT's converter shifts by any) and text written backwards ("?emoh ta bmob") are read the same way.
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def _shift(n: int) -> dict[int, int]:
    return str.maketrans(_LOWER + _LOWER.upper(), _LOWER[n:] + _LOWER[:n] + (_LOWER[n:] + _LOWER[:n]).upper())


def _table_cipher(table: dict[int, int]) -> Callable[[str], str]:
    return lambda line: line.translate(table)


_ATBASH = str.maketrans(_LOWER + _LOWER.upper(), _LOWER[::-1] + _LOWER[::-1].upper())
# (read a line, the common words as the cipher writes them, a name that says the cipher)
_CIPHERS = (
    *(
        (_table_cipher(_shift(n)), frozenset(w.translate(_shift(26 - n)) for w in _COMMON), named)
        for n, named in ((13, re.compile(r"\brot[- ]?13\b", re.I)), *((k, None) for k in range(1, 26) if k != 13))
    ),
    (_table_cipher(_ATBASH), frozenset(w.translate(_ATBASH) for w in _COMMON), re.compile(r"\batbash\b", re.I)),
    (lambda line: line[::-1], frozenset(w[::-1] for w in _COMMON), None),
)
# each common word as any cipher writes it -> those ciphers: one pass over a prompt's words finds
# the few ciphers worth a look (nearly every prompt: none)
_WRITTEN_BY: dict[str, list[int]] = {}
for _i, (_, _under, _) in enumerate(_CIPHERS):
    for _w in _under:
        _WRITTEN_BY.setdefault(_w, []).append(_i)
_WORDS = re.compile(r"[a-z]+")
_DENSITY = 10  # a line read under a cipher: one word in this many at least is common under it


def _ciphers(text: str, words: list[str]) -> list[str]:
    """Each cipher's reading of the lines that read as English under it and not as written (a
    frame around the payload reads as English as written), from the first such line to the last.
    One pass over the words counts, per line, the common words each cipher would write."""
    named = [i for i, (_, _, name) in enumerate(_CIPHERS) if name is not None and name.search(text)]
    if not named and not any(w in _WRITTEN_BY for w in words):
        return []  # nearly every prompt
    lines = text.split("\n")
    as_written, sizes = [], []
    # per cipher, per line: the common words it would write there
    under: dict[int, list[list[str]]] = {i: [[] for _ in lines] for i in named}
    for n, line in enumerate(lines):
        ws = [w for w in _WORDS.findall(line.lower()) if len(w) > 1]  # a lone letter is a variable ("n", "v")
        as_written.append(english_words(ws))
        sizes.append(len(ws))
        for w in ws:
            for i in _WRITTEN_BY.get(w, ()):
                cells = under.get(i)
                if cells is None:  # built once per cipher: a setdefault's default is built every call
                    cells = under[i] = [[] for _ in lines]
                cells[n].append(w)
    found: list[tuple[int, str]] = []  # (common words under the cipher, its reading)
    for i, cells in under.items():
        # a line reads under a cipher where it gives more common words than as written, and one
        # word in ten at least: letter soup (a base64 blob, 12,000 runs of letters on one line)
        # gives a few dozen under every shift by chance
        hits = [n for n, ws in enumerate(cells) if len(ws) > as_written[n] and len(ws) * _DENSITY >= sizes[n]]
        common = sum(len(cells[n]) for n in hits)
        if i in named:  # a lone word under a frame that names the cipher: "ROT13 encoded string: shpx"
            hits = [
                n for n, ws in enumerate(cells) if len(ws) > as_written[n] or (len(ws) == as_written[n] and sizes[n])
            ]
        elif len(distinct := set().union(*(cells[n] for n in hits))) < 2 or max(map(len, distinct)) < 3:
            # two different common words, one of three letters or more: code under some shift
            # reads as a repeated "is", a list of language codes as "no", "be", "by", by chance
            continue
        if hits:
            found.append((common, _CIPHERS[i][0]("\n".join(lines[hits[0] : hits[-1] + 1]))))
    # text in one cipher reads as a little English under some others by chance ("or", "it"): only
    # the readings with at least half the best one's common words are kept
    best = max((n for n, _ in found), default=0)
    return [reading for n, reading in found if 2 * n >= best]


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


_MORSE_STRETCH = re.compile(r"(?<!\w)[ \t\r\n/|]*[.\-][.\- \t\r\n/|]*(?!\w)")


_NATO_WORDS = (
    "alfa alpha bravo charlie delta echo foxtrot golf hotel india juliet juliett kilo lima mike november oscar "
    "papa quebec romeo sierra tango uniform victor whiskey whisky xray x-ray yankee zulu"
).split()
_NATO = re.compile(r"\b(" + "|".join(map(re.escape, _NATO_WORDS)) + r")\b(?:[\s,/]+|$)", re.I)
_NATO_GATE = frozenset(part for word in _NATO_WORDS for part in word.split("-"))  # as _WORDS splits them


_NATO_SPACE = re.compile(r"\s*<space>\s*", re.I)  # how PyRIT's converter parts the words
_NATO_BREAK = re.compile(r"(?<!\S)/(?!\S)")


def _nato_runs(text: str, words: list[str]) -> list[list[re.Match]]:
    """Runs of four or more NATO words in ``text`` (with "<space>" read as "/")."""
    if sum(map(_NATO_GATE.__contains__, words)) < 4:  # a set lookup per word, before any pattern
        return []
    runs: list[list[re.Match]] = [[]]
    end = -1
    for m in _NATO.finditer(text):  # a run is the words one after another, nothing between
        if m.start() != end:
            runs.append([])
        runs[-1].append(m)
        end = m.end()
    return [run for run in runs if len(run) >= 4]


def _nato(text: str, words: list[str]) -> list[str]:
    """The runs of NATO words read as their letters ("/" between words read as a space), the letters
    split into the likeliest words: one reading from the first run to the last, what lies between
    them (punctuation, digits) in place, as a payload's lines are one text in the other schemes."""
    runs = _nato_runs(spaced := _NATO_SPACE.sub(" / ", text), words)
    if not runs:
        return []
    parts, end = [], runs[0][0].start()  # the payload alone, as a base64 one is read: not its frame
    for run in runs:
        letters = "".join(m.group(1)[0] + (" " if "/" in m.group()[len(m.group(1)) :] else "") for m in run)
        # the alphabet spells letters only: the words between are found again (words.py)
        parts += [spaced[end : run[0].start()], " ".join(segment(chunk) for chunk in letters.lower().split()) + " "]
        end = run[-1].end()
    return [" ".join(_NATO_BREAK.sub(" ", "".join(parts)).split())]


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


# Zalgo: letters buried under runs of combining marks; no script stacks three on one letter.
_ZALGO = regex.compile(r"\p{Mn}{3,}")
_MARKS = regex.compile(r"\p{Mn}+")


def _zalgo(text: str) -> list[str]:
    return [_MARKS.sub("", _span(text, lambda line: _ZALGO.search(line) is not None))] if _ZALGO.search(text) else []


# Escapes a program would read: "%48%6F%77" (a URL's), "\\u0048\\u006f" and "\\x48\\x6f" (a
# string literal's); three or more in a run. And bits, seven to sixteen a character, in groups
# ("01001000 01101111 ...": PyRIT's converter writes sixteen).
_URL_CHAR = r"[\w.~:/?#\[\]@!$&'()*+,;=-]"
_ESCAPED = re.compile(
    rf"(?:\\(?:u[0-9A-Fa-f]{{4}}|x[0-9A-Fa-f]{{2}}) ?){{3,}}"
    rf"|(?<!\S){_URL_CHAR}*(?:%[0-9A-Fa-f]{{2}}{_URL_CHAR}*?){{3,}}(?!\S)"
)
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})")
_ASCII_ESCAPE = re.compile(r"%[2-7][0-9A-Fa-f]|\\u00[2-7][0-9A-Fa-f]|\\x[2-7][0-9A-Fa-f]")
_BITS = re.compile(r"\b[01]{7,16}(?:[ ,]+[01]{7,16}){3,}\b")


def _unescaped(run: str) -> str:
    def one(m: re.Match) -> str:
        if m.group(2):
            return chr(int(m.group(2), 16))
        return chr(int(m.group(1) or m.group(3), 16))  # a byte: read as Latin-1, then as UTF-8 below

    out = _ESCAPE.sub(one, run)
    try:
        return out.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return out


def _escapes(text: str) -> list[str]:
    """Escaped runs read back. A URL's escapes are its own (a link to a page with an en dash in its
    name): a run with "://" in it, or whose escapes are all of bytes outside ASCII, is no payload."""
    if "%" not in text and "\\" not in text:
        return []
    found = [m for m in _ESCAPED.finditer(text) if "://" not in m.group() and _ASCII_ESCAPE.search(m.group())]
    if not found:
        return []
    if not all(c.isprintable() or c.isspace() for m in found for c in _unescaped(m.group())):
        return []  # bytes, not text
    read = _ESCAPED.sub(lambda m: _unescaped(m.group()), text)
    return [read] if _text(read.encode("utf-8")) else []


def _bits(text: str) -> list[str]:
    out = []
    for m in _BITS.finditer(text):
        groups = re.split(r"[ ,]+", m.group())
        if len(set(map(len, groups))) == 1 and (decoded := _text("".join(chr(int(g, 2)) for g in groups).encode())):
            out.append(decoded)
    return out


def without_code(text: str) -> str:
    """``text`` less the symbols a code spells with: what a screen of words should read as written.
    Dots and dashes and the NATO alphabet's words are no words of the request; a screen that
    learned them from a few attacks flags Morse or NATO text whatever it says, where its reading
    is what tells. Once a text holds a run of Morse, every stretch of dots, dashes and breaks goes
    (the short words and lone digits between the runs too); once it holds a run of NATO words,
    every NATO word and word break goes (the text around keeps its lines' words)."""
    if _morse_runs(text):
        text = _MORSE_STRETCH.sub(" ", text).strip()
    if not _nato_runs(spaced := _NATO_SPACE.sub(" / ", text), _WORDS.findall(text.lower())):
        return text
    # as with Morse: once a run of them shows the code, every code word goes, and the breaks
    return " ".join(_NATO_BREAK.sub(" ", _NATO.sub(" ", spaced)).split())


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
        *_zalgo(text),
        *_escapes(text),
        *_bits(text),
    ]
    return tuple(dict.fromkeys(r for r in found if r != text))
