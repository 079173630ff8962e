"""What the output filters look for: PII, secrets, blocklisted words, a leaked system prompt.

A :class:`Detector` is a compiled pattern (the ``regex`` module, for partial matching while
streaming), an optional validator (Luhn for card numbers, ISO 7064 mod-97 for IBANs, range checks
for national ids) and an action. Patterns are greedy and bounded, and each starts with a
look-behind guard, so a match is found at the same place whether the text arrives at once or in
pieces (see :mod:`edgeqwen.safety.stream`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import regex

__all__ = [
    "Detector",
    "PII_TYPES",
    "SECRET_TYPES",
    "blocklist_detector",
    "iban_valid",
    "leak_detectors",
    "luhn_valid",
    "pii_detectors",
    "secret_detectors",
]

Action = Literal["redact", "stop", "flag"]


# Maestro issuer prefixes: the only cards issued with 12 digits. A 12-digit number passes Luhn one
# time in ten by chance, so 12 digits count only with one of these prefixes.
_MAESTRO_12 = ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763")


def luhn_valid(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if len(digits) == 12:
        if not "".join(map(str, digits)).startswith(_MAESTRO_12):
            return False
    elif not 13 <= len(digits) <= 19 or (len(digits) == 13 and digits[0] != 4):  # only Visa issued 13
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616 IBAN: country code, two check digits, BBAN; (rearranged, letters as numbers) mod 97 == 1."""
    s = "".join(text.replace("-", " ").split()).upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    rearranged = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def _ssn_valid(text: str) -> bool:
    area, group, serial = text[0:3], text[4:6], text[7:11]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ipv4_valid(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and (p == "0" or not p.startswith("0")) for p in parts)


def _phone_valid(text: str) -> bool:
    number = regex.split(r"(?i)\s?(?:x|ext\.?|extension)", text, maxsplit=1)[0]  # the extension's digits do not count
    return 7 <= sum(c.isdigit() for c in number) <= 15


@dataclass(frozen=True)
class Detector:
    kind: str  # "email", "credit_card", "blocklist", "canary", ...
    pattern: regex.Pattern
    action: Action = "redact"
    validate: Callable[[str], bool] | None = field(default=None, compare=False)
    # On a failed check, try the match cut back at each separator: a greedy pattern may have taken
    # a following word ("... 8102 on the form") into a grouped number.
    shrink: bool = False

    @property
    def label(self) -> str:
        return f"[{self.kind.upper()} REDACTED]"

    def valid(self, text: str) -> bool:
        return self.validate is None or self.validate(text)

    def valid_length(self, text: str) -> int:
        """How much of a match is a real hit: all of it, a prefix (``shrink``), or 0."""
        if self.valid(text):
            return len(text)
        if self.shrink:
            for end in range(len(text) - 1, 0, -1):
                if text[end] in " -" and text[end - 1] not in " -" and self.valid(text[:end]):
                    return end
        return 0


_B = r"(?<![\w@.+-])"  # a match never starts inside a word, number or address
_E = r"(?![\w@])"
# a number is not the middle of a longer run of digit groups ("card 4376 8583 0049 6232")
_NOT_IN_DIGITS = r"(?<!\d[ .-])"
_NO_MORE_DIGITS = r"(?![ .-]\d)"

_PII = {
    "email": (
        rf"{_B}[A-Za-z0-9._%+-]{{1,64}}@[A-Za-z0-9-]{{1,63}}(?:\.[A-Za-z0-9-]{{1,63}}){{0,6}}\.[A-Za-z]{{2,24}}(?![\w-])",
        None,
    ),
    # issuers' numbers start with 2-6 (ISBNs with 9, phone prefixes with 0 or 1 do not), or 1800
    # (JCB's 15-digit range)
    "credit_card": (rf"{_B}{_NOT_IN_DIGITS}(?:[2-6]|1800)(?:[ -]?\d){{11,18}}{_E}{_NO_MORE_DIGITS}", luhn_valid),
    # any case, in groups of four (spaced, dashed or not): the mod-97 check keeps it precise, and the
    # groups keep a following word ("... 00 ok") out of the match
    "iban": (
        rf"{_B}[A-Za-z]{{2}}[ -]?\d{{2}}(?:[ -]?[A-Za-z0-9]{{4}}){{2,7}}(?:[ -]?[A-Za-z0-9]{{1,3}})?{_E}",
        iban_valid,
    ),
    "us_ssn": (rf"{_B}\d{{3}}-\d{{2}}-\d{{4}}{_E}", _ssn_valid),
    "uk_nino": (rf"{_B}[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{{2}} ?\d{{2}} ?\d{{2}} ?[A-D]{_E}", None),
    "ipv4": (rf"{_B}\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?![\w@]|\.\d)", _ipv4_valid),
    # international (+CC or 00/011 CC, then the number grouped or in one run), North American, and
    # national numbers with a trunk 0 (grouped, the first group after the area code 3+ digits so a
    # date is not one, two dots where dotted so a timestamp's seconds are not; or the area code in
    # brackets), Brazil's and Japan's dashed forms, each with an
    # optional extension. Bare digit runs without "+"/00 are too often not phones (order ids,
    # amounts), so a national number needs its grouping.
    "phone": (
        rf"{_B}{_NOT_IN_DIGITS}(?:(?:\+|\b00|\b011[ .-]?)\d{{1,3}}[ .-]?(?:\(\d{{1,4}}\)[ .-]?)?"
        rf"(?:\d{{6,12}}|\d{{1,5}}(?:[ .-]\d{{2,8}}){{1,4}})"
        rf"|(?:1[ .-])?(?:\(\d{{3}}\)[ .-]?|\d{{3}}[-. ])\d{{3}}[-. ]\d{{4}}"
        rf"|\(0\d{{1,4}}\)[ .-]?\d{{2,4}}(?:[ .-]?\d{{2,4}}){{1,3}}"
        rf"|0\d{{1,4}}[ /-]\d{{3,8}}(?:[ .-]\d{{2,4}}){{0,3}}"
        rf"|0\d{{1,4}}\.\d{{3,4}}\.\d{{3,4}}"
        rf"|0\d{{1,3}}-\d{{2,3}}(?: \d{{2}}){{2}}"
        rf"|0\d(?:[ .]\d{{2}}){{4}}"
        rf"|\d{{2}} \d{{4,5}}-\d{{4}}"
        rf"|\d{{2}}-\d{{4}}-\d{{4}})"
        rf"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{{1,6}})?{_E}{_NO_MORE_DIGITS}",
        _phone_valid,
    ),
    "ipv6": (rf"{_B}(?:[0-9A-Fa-f]{{1,4}}:){{7}}[0-9A-Fa-f]{{1,4}}{_E}", None),
}
_SHRINK = frozenset({"iban"})
# Order matters on ties (same start, same length): the more specific type wins.
PII_TYPES = tuple(_PII)

_SECRETS = {
    "private_key": r"-----BEGIN (?:[A-Z]{1,10} ){0,2}PRIVATE KEY-----",
    "aws_access_key": rf"{_B}(?:AKIA|ASIA)[0-9A-Z]{{16}}{_E}",
    "github_token": rf"{_B}(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{{36}}{_E}",
    "openai_key": rf"{_B}sk-(?:proj-)?[A-Za-z0-9_-]{{20,80}}{_E}",
    "slack_token": rf"{_B}xox[abprs]-[A-Za-z0-9-]{{10,60}}{_E}",
    "google_api_key": rf"{_B}AIza[0-9A-Za-z_-]{{35}}{_E}",
    "jwt": rf"{_B}eyJ[A-Za-z0-9_-]{{8,200}}\.eyJ[A-Za-z0-9_-]{{8,400}}\.[A-Za-z0-9_-]{{8,200}}{_E}",
}
SECRET_TYPES = tuple(_SECRETS)


def pii_detectors(types: Iterable[str] = PII_TYPES, action: Action = "redact") -> list[Detector]:
    out = []
    for kind in types:
        pattern, check = _PII[kind]
        out.append(Detector(kind, regex.compile(pattern), action, check, shrink=kind in _SHRINK))
    return out


def secret_detectors(types: Iterable[str] = SECRET_TYPES, action: Action = "redact") -> list[Detector]:
    return [Detector(kind, regex.compile(_SECRETS[kind]), action) for kind in types]


def blocklist_detector(words: Sequence[str], action: Action = "redact") -> Detector | None:
    """Whole words or phrases, case-insensitive; longest first so a phrase beats its prefix."""
    words = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    if not words:
        return None
    body = "|".join(regex.escape(w) for w in words)
    return Detector("blocklist", regex.compile(rf"(?i)(?<!\w)(?:{body})(?!\w)"), action)


def leak_detectors(canary: str | None, system_prompt: str | None, window: int = 6) -> list[Detector]:
    """Stop the answer when it echoes the canary or any ``window``-word run of the system prompt."""
    out = []
    if canary:
        out.append(Detector("canary", regex.compile(regex.escape(canary)), "stop"))
    words = (system_prompt or "").split()
    if len(words) >= window:
        runs = {" ".join(words[i : i + window]) for i in range(len(words) - window + 1)}
        body = "|".join(
            r"\s+".join(regex.escape(w) for w in run.split()) for run in sorted(runs, key=len, reverse=True)
        )
        out.append(Detector("system_prompt", regex.compile(rf"(?i)(?:{body})"), "stop"))
    return out
