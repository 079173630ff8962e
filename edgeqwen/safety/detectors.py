"""What the output filters look for: PII, secrets, blocklisted words, a leaked system prompt, hidden text.

A :class:`Detector` is a compiled pattern (the ``regex`` module, for partial matching while
streaming), an optional validator (:mod:`edgeqwen.safety.validators`: Luhn for card numbers, ISO
7064 mod-97 for IBANs, range checks for national ids) and an action. Patterns are greedy and
bounded, and each starts with a look-behind guard, so a match is found at the same place whether
the text arrives at once or in pieces (see :mod:`edgeqwen.safety.stream`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import regex

from .input import HIDDEN_TEXT, QUOTE_FORMS, ascii_quotes
from .validators import (
    EXTENSION,
    UATP,
    iban_valid,
    ipv4_valid,
    ipv6_valid,
    luhn_12_valid,
    luhn_valid,
    phone_valid,
    real_password,
    ssn_valid,
)

__all__ = [
    "Detector",
    "LEAK_KINDS",
    "PII_TYPES",
    "SECRET_TYPES",
    "blocklist_detector",
    "fold",
    "hidden_text_detector",
    "iban_valid",
    "leak_detectors",
    "luhn_valid",
    "pii_detectors",
    "secret_detectors",
]

Action = Literal["redact", "stop", "flag"]


_HEX4 = "[0-9A-Fa-f]{1,4}"


@dataclass(frozen=True)
class Detector:
    kind: str  # "email", "credit_card", "blocklist", "canary", ...
    pattern: regex.Pattern
    action: Action = "redact"
    validate: Callable[[str], bool] | None = field(default=None, compare=False)
    # On a failed check, try the match cut back at each separator: a greedy pattern may have taken
    # a following word ("... 8102 on the form") into a grouped number.
    shrink: bool = False
    # A look-behind that must hold where a match starts ("a word that says phone", or no word that
    # says "section"), tried only on the pattern's matches: written into the pattern it would run at
    # every position (10x slower).
    context: regex.Pattern | None = field(default=None, compare=False)
    # Counts only right after a hit of its own kind, the text between matching this: the next
    # number of a list, a table's column or a JSON array, when the first was found (StreamFilter).
    follows: regex.Pattern | None = field(default=None, compare=False)

    def in_context(self, text: str, start: int) -> bool:
        return self.context is None or self.context.match(text, start) is not None

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


# What the patterns read: spaces that do not break (French writes "01 23 45 67 89" with them),
# dashes and full-width digits and signs ("０９０－１２３４－５６７８") as their ASCII forms. One
# character for one, so a match's span is the same in the text as written.
_FOLD = str.maketrans(
    {
        **dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u200a\u202f\u3000"), " "),
        **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-"),
        **{0xFF10 + d: str(d) for d in range(10)},
        **dict(zip(map(ord, "＋（）．／"), "+()./", strict=True)),
    }
)


def fold(text: str) -> str:
    """``text`` as the detectors read it (same length: positions are the text's)."""
    return text.translate(_FOLD)


# Chinese, Japanese, Korean and Thai write a value right against the words around it
# ("我的电话是13800138000。", "090-1234-5678です", "010-1234-5678입니다"): their letters end no
# value, where a Latin, Greek or Cyrillic letter beside digits makes them one word ("ABC123").
# Their blocks: Thai; Hangul Jamo; 々; kana with ー (which Unicode puts in no script); Hangul
# compatibility Jamo; katakana extensions; CJK ideographs with extension A; Hangul syllables;
# compatibility ideographs; half-width katakana; ideographs beyond the BMP.
_UNSPACED = (
    r"\u0e00-\u0e7f\u1100-\u11ff\u3005\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    r"\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff"
)
_WORD = rf"[^\W{_UNSPACED}]"  # a letter, digit or "_" of a script that spaces its words
# A match never starts inside a word, number or address. A pattern that starts with _B is tried at
# every position, so those that start with a digit look ahead at it first (one character: a longer
# look-ahead that runs past the end of a stream's buffer would hold text back there; before a letter
# a look-ahead costs more than it saves).
_B = rf"(?<!{_WORD}|[@.+-])"
_E = rf"(?!{_WORD}|@)"
# a number is not the middle of a longer run of digit groups ("card 4376 8583 0049 6232") or of a
# time ("2017-07-11T00:00:000-0400"), nor the part after a slash that follows a digit or a bracket
# (a DOI's "10.1016/0020-0190", "06-66/048 7647")
_NOT_IN_DIGITS = r"(?<!\d[ ./:-]|\)/)"
_NO_MORE_DIGITS = r"(?![ .-]\d)"

# A number written as one bare run or in plain groups ("0233651564", "507 909 669"; one slash after
# the area code, "06-55/597 9711", so a date's two are not one) counts as a
# phone only right after a word that says so (a noun, then up to 24 characters without digits, a
# sentence end or a word that names another number; or a verb right before it): without one,
# order ids and amounts look the same. Bounded, so the look-behind fits in the 64 characters a
# stream filter keeps behind its buffer.
# The noun may also be part of a name in code or data ("customer_phone", "mobileNumber",
# "AltPhoneNumber", "fax_no": a JSON key, a column), so it starts and ends at a word's edge, an
# underscore or a camelCase hump; a lower-case run inside a word ("microphone", "hotel") is no noun,
# nor is "ph" after a hyphen (arXiv's "astro-ph/0012333").
_NAME_EDGE = r"(?:\b|(?<=_)|(?-i:(?<=[a-z])(?=[A-Z])))"
_NAME_END = r"(?:\b|(?=_)|(?-i:(?<=[a-z])(?=[A-Z])))"
_PHONE_NOUN = (
    rf"(?:{_NAME_EDGE}(?:(?:tel|tlf|tfno|mob|fax|(?<![-/])ph){_NAME_END}\.?|(?:cell|mobile?|desk|landline|hotline|contact|mobiel|m[óo]vil|celular"
    r"|cellulare|portable|whatsapp|msisdn|rufnummer|kom[óo]rk[aię]|telem[óo]vel|(?:tele|cell|smart|home|work|office)?phone\w{0,12}"
    rf"|t[ée]l[ée]phone\w{{0,12}}|tel[eé]?f[oó]n\w{{0,12}}|handy\w{{0,12}}|телефон\w{{0,12}}){_NAME_END})|電話|携帯|手机|电话|전화|휴대폰|핸드폰|연락처|โทร)"
)
_NOT_ANOTHER_NUMBER = r"(?!order|invoice|ticket|account|ref|case|serial|model|price|code|pin\b|id\b|iban|card)"
_PHONE_GAP = rf"(?:{_NOT_ANOTHER_NUMBER}[^\d.!?;。！？]|\b(?:no|nr|num)\.){{0,24}}"
_PHONE_VERB = (
    r"\b(?:call|ring|text|reach|anrufen|appel(?:ez|er)|llam[ae]|chiam[ai]|bel|ligue)"
    r"(?: (?:me|us|him|her|them|mich|uns|moi|nous))?(?: (?:at|on|under|unter|au|al))?:? "
    r"|\b(?:my|our) number(?: is|:) "  # said of one's own number, it is a phone ("my number is 0412345678")
)
_PLAIN_NUMBER = r"(?:\(\d{1,4}\)[ /]?)?(?:\d{1,6}(?:-\d{1,4})?/ ?)?(?:\d{7,13}|\d{1,7}(?:[ -]\d{1,4}){0,3}[ -]\d{2,10})"
# a date written with dashes is no phone after the word either ("Phone updated 2024-01-01",
# "retrieved 12-05-2024")
_NOT_A_DATE = r"(?!(?:(?:19|20)\d\d-\d\d?-\d\d?|\d\d?-\d\d?-(?:19|20)\d\d)(?![\d-]))"
# (?!\w) where \b was: the same on a whole text, and at a stream's end it waits for the next
# character, where \b held ("call 0233651564 items" released the number before "4" made it a phone)
_A_QUANTITY = r"(?! ?(?i:(?:units?|items?|pieces?|people|times|percent|km|kg|years?|dollars?|euros?)(?!\w)|%(?=\w)))"
_PHONE_WORD_AFTER = rf"{_PLAIN_NUMBER}(?=[ -]?\(?(?i:office|fax|mobile|cell|home|work|phone|tel)\b)"  # "66 01 75-Fax"

_PII = {
    # in any script (RFC 6531's addresses, IDN domains: "müller@beispiel.de", "用户@例子.广告"); a
    # domain's labels are letters, digits and hyphens (no "_": a package URL's "libgomp@8.5.0-28.el8_10.alma"),
    # the top-level one letters of one script (Korean writes a particle right after it: "apt@debian.org로")
    "email": (
        # a local part in a spacing script, or in an unspacing one only where no letter precedes it
        # (so "邮箱kim@example.com" is "kim@example.com")
        rf"(?:{_B}(?:{_WORD}|[.%+-]){{1,64}}|(?<![\w@.+-])[{_UNSPACED}0-9._%+-]{{1,64}})"
        rf"@[\p{{L}}\p{{M}}\p{{N}}][\p{{L}}\p{{M}}\p{{N}}-]{{0,62}}(?:\.[\p{{L}}\p{{M}}\p{{N}}-]{{1,63}}){{0,6}}"
        rf"\.(?:[A-Za-z]{{2,24}}(?![A-Za-z0-9_-])|(?:(?![A-Za-z])[\p{{L}}\p{{M}}]){{2,24}}(?!{_WORD}|-))",
        None,
    ),
    # issuers' numbers start with 2-6 (ISBNs with 9, phone prefixes with 0 or 1 do not), or 1800
    # (JCB's 15-digit range), or 1 as UATP's are printed (validators.py)
    "credit_card": (
        rf"(?=[1-6]){_B}{_NOT_IN_DIGITS}(?:(?:[2-6]|1800)(?:[ -]?\d){{11,18}}"
        rf"|{UATP}){_E}{_NO_MORE_DIGITS}",
        luhn_valid,
    ),
    # any case, in groups of four (spaced, dashed or not): the mod-97 check keeps it precise, and the
    # groups keep a following word ("... 00 ok") out of the match
    "iban": (
        rf"{_B}[A-Za-z]{{2}}[ -]?\d{{2}}(?:[ -]?[A-Za-z0-9]{{4}}){{2,7}}"
        rf"(?:[ -]?[A-Za-z0-9]{{1,3}})?{_E}",
        iban_valid,
    ),
    # not the start of a longer dashed number (Mimesis's "314-26-0611-0068", a phone)
    "us_ssn": (rf"{_B}\d{{3}}-\d{{2}}-\d{{4}}{_E}(?!-\d)", ssn_valid),
    "uk_nino": (rf"{_B}[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{{2}} ?\d{{2}} ?\d{{2}} ?[A-D]{_E}", None),
    "ipv4": (rf"{_B}\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?!{_WORD}|@|\.\d)", ipv4_valid),  # section numbers: _NOT_AFTER
    # international (+CC, (+CC), +(CC) or 00/011 CC, then the number grouped or in one run), North American, and
    # national numbers with a trunk 0 (grouped, the first group after the area code 3+ digits so a
    # date is not one, two dots where dotted so a timestamp's seconds are not; or the area code in
    # brackets), Brazil's and Japan's dashed forms, each with an
    # optional extension. Bare digit runs without "+"/00 are too often not phones (order ids,
    # amounts), so a national number needs its grouping, or a word before it that says "phone".
    "phone": (
        # no country code starts with 0 (python-stdnum's Moroccan ICE "000030205000041" is 00 and 0...)
        rf"{_B}{_NOT_IN_DIGITS}(?:(?:(?:(?:\+|\b00)(?!0)|\b011[ .-]?)\d{{1,3}}[ .-]?"
        rf"|(?:\+\(|\(\+)(?!0)\d{{1,3}}\)[ .-]?)"
        rf"(?:\(\d{{1,4}}\)[ .-]?)?"
        rf"(?:\d{{6,12}}|\d{{1,5}}(?:[ .-]\d{{1,10}}){{0,3}}[ .-]\d{{2,10}})"
        rf"|(?:1[ .-])?(?:\(\d{{3}}\)[ .-]?|\d{{3}}[-. ])\d{{3}}[-. ]\d{{4}}"
        rf"|\(0\d{{1,4}}\)[ .-]?\d{{2,4}}(?:[ .-]?\d{{2,4}}){{1,3}}"
        rf"|\(\d{{1,4}}\) ?\d{{3,5}}[ .-]\d{{3,4}}"
        rf"|8 ?\(\d{{3,5}}\) ?\d{{1,3}}(?:[ -]\d{{2,4}}){{1,2}}"
        rf"|0\d{{1,4}}[ /-]\d{{3,8}}(?:[ .-]\d{{2,4}}){{0,3}}"
        rf"|0\d{{1,4}}\.[1-9]\d{{2,3}}\.\d{{3,4}}"
        rf"|0\d{{1,3}}-\d{{2,3}}(?: \d{{2}}){{2}}"
        rf"|0\d(?:[ .]\d{{2}}){{4}}"
        rf"|\d{{2}} \d{{4,5}}-\d{{4}}"
        rf"|\d{{2}}-\d{{4}}-\d{{4}}"
        rf"|{_PHONE_WORD_AFTER}"
        # a Chinese mobile number (1, then 3-9, then nine digits) written against Chinese text
        rf"|(?<=\p{{Han}})1[3-9]\d{{9}}(?!\d))"
        rf"(?:,?[ ]?(?i:{EXTENSION})[ ]?\d{{1,6}})?{_E}{_NO_MORE_DIGITS}",
        phone_valid,
    ),
    # eight groups, or fewer with "::" between two of them (`2001:db8::8a2e:370:7334`)
    "ipv6": (
        rf"{_B}(?<!:)(?:(?:{_HEX4}:){{7}}{_HEX4}|(?:{_HEX4}:){{1,6}}(?::{_HEX4}){{1,6}}){_E}(?!:)",
        ipv6_valid,
    ),
}
# A second pattern for a type, tried after its own, that counts only after a word (its look-behind):
# a phone number in plain digits; 12 digits right after a word that says "card" ("my card #
# 588235703935": Maestro numbers outside the prefixes the card pattern takes alone).
# A line break that ends no paragraph (a table's rows are lines; a blank line, or one of bare
# pipes, is a paragraph's end)
_LINE_BREAK = r"\n(?![ \t|]*\n)"
# Between the word and the number: a few characters, a table's header row among them ("| SSN |\n|---|\n| Ann | ")
_WORD_GAP = rf"(?:[^\d\n.!?;]|{_LINE_BREAK})"
_CARD_WORD = (
    rf"(?i:{_NAME_EDGE}(?:cards?|karte|carte|tarjeta|carta|kaart|cart[ãa]o|karta|kort){_NAME_END}"
    rf"(?:(?![ _]?id\b){_WORD_GAP}){{0,24}})"  # a card's id ("cardId", "sim_card_id") is not its number
)
# "IBAN: ", "IBAN-Nr. ", "My IBAN is ", "Ihre IBAN ist ", Iran's "Sheba ", a key ("iban_code": ) (bounded:
# a look-behind); these words too may be part of a name, as the phone's are
_IBAN_WORD = (
    rf"(?i:{_NAME_EDGE}(?:iban|sheba){_NAME_END}(?:[ _-]?(?:no|nr|number|code)\b\.?)?\"?[:#=]? ?\"?"
    r"(?:(?:is|ist|est|es|è|er|är|jest)\b:? )?)"
)
# "SSN 123 45 6789", "my social is 123456789": spaced or bare only after a word that says so
_SSN_WORD = (
    rf"(?i:{_NAME_EDGE}(?:ssns?|ss#|social[ _]?security(?:[ _]?(?:numbers?|no|num))?|(?:my|his|her|your|their) social)"
    rf"{_NAME_END}{_WORD_GAP}{{0,24}})"
)
# Between one value and the next of a list ("0233651564 or 0233651565", a table's rows, a JSON
# array) of the kinds that need a word before them: no digit, no sentence end, no blank line, no
# label's colon or "=" (a JSON key: '"ssn": "...", "insuranceNumber": "..."') and no word that
# names another number, 32 characters at most. Only after a value found: the first of a
# list needs its word as ever.
_LIST_GAP = rf"(?i:(?:{_NOT_ANOTHER_NUMBER}[^\d.!?;:=。！？：\n]|{_LINE_BREAK}){{0,32}})"
_LIST_GAP_PATTERN = regex.compile(_LIST_GAP)
_PII_IN_CONTEXT = {
    "phone": (
        rf"(?=[\d(]){_B}{_NOT_IN_DIGITS}{_NOT_A_DATE}{_PLAIN_NUMBER}{_A_QUANTITY}{_E}{_NO_MORE_DIGITS}",
        phone_valid,
        rf"(?<=(?i:{_PHONE_NOUN}{_PHONE_GAP}|{_PHONE_VERB}))",
    ),
    "credit_card": (
        rf"(?=\d){_B}{_NOT_IN_DIGITS}\d{{4}}[ -]?\d{{4}}[ -]?\d{{4}}{_E}{_NO_MORE_DIGITS}",
        luhn_12_valid,
        rf"(?<={_CARD_WORD})",
    ),
    "us_ssn": (
        rf"(?=\d){_B}{_NOT_IN_DIGITS}\d{{3}}( ?)\d{{2}}\1\d{{4}}{_E}{_NO_MORE_DIGITS}",
        ssn_valid,
        rf"(?<={_SSN_WORD})",
    ),
    # an IBAN in its country's own grouping ("NO 19 4920 06 96270", "ES10 0075 0080 11 0600658108":
    # 22 of python-stdnum's 194 registry samples), after a word that says IBAN
    "iban": (
        # a separator between groups, never optional: a run of letters and digits is one group, so
        # the pattern cannot try every way of cutting a long run ("ab12" + a hash) into groups
        rf"{_B}[A-Za-z]{{2}} ?\d{{2}}[ .-]?[A-Za-z0-9]{{1,16}}"
        rf"(?:[ .-][A-Za-z0-9]{{1,16}}){{0,9}}{_E}",
        iban_valid,
        rf"(?<={_IBAN_WORD})",
    ),
}
# A look-behind a type's own pattern must also pass: four numbers right after "section" or "version"
# are a section or a version ("RFC 5280 section 4.2.1.2", "provides version 2.3.4.5"), no address.
_NOT_AFTER = {
    "ipv4": r"(?<!(?i:\b(?:section|sect|chapter|clause|version|ver|release|build|revision|rev|firmware)\.?:? |§ ?))"
}
_SHRINK = frozenset({"iban"})
# Order matters on ties (same start, same length): the more specific type wins.
PII_TYPES = tuple(_PII)

_SECRETS = {
    "private_key": r"-----BEGIN (?:[A-Z]{1,10} ){0,2}PRIVATE KEY-----",
    "aws_access_key": rf"{_B}(?:AKIA|ASIA)[0-9A-Z]{{16}}{_E}",
    "github_token": rf"{_B}(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{{36}}|github_pat_[A-Za-z0-9_]{{22,255}}){_E}",
    "gitlab_token": rf"{_B}glpat-[A-Za-z0-9_-]{{20,64}}{_E}",
    "huggingface_token": rf"{_B}hf_[A-Za-z0-9]{{30,40}}{_E}",
    # before OpenAI's: both start "sk-", and an Anthropic key is longer than OpenAI's pattern takes
    "anthropic_key": rf"{_B}sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{{80,120}}{_E}",
    "openai_key": rf"{_B}sk-(?:proj-)?[A-Za-z0-9_-]{{20,80}}{_E}",
    "stripe_key": rf"{_B}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{{24,247}}{_E}",
    "groq_key": rf"{_B}gsk_[A-Za-z0-9]{{48,56}}{_E}",
    "npm_token": rf"{_B}npm_[A-Za-z0-9]{{36}}{_E}",
    "pypi_token": rf"{_B}pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{{50,}}",
    "sendgrid_key": rf"{_B}SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}{_E}",
    # the password of a URL's user ("postgres://admin:s3cret@db.example.com"), the rest left as written;
    # not a placeholder a document writes there (validators.real_password)
    "url_password": r"(?<=:)[^\s:/@\"'<>]{1,128}(?=@[\w.-])",
    "slack_token": rf"{_B}xox[abprs]-[A-Za-z0-9-]{{10,60}}{_E}",
    "google_api_key": rf"{_B}AIza[0-9A-Za-z_-]{{35}}{_E}",
    "jwt": rf"{_B}eyJ[A-Za-z0-9_-]{{8,200}}\.eyJ[A-Za-z0-9_-]{{8,400}}\.[A-Za-z0-9_-]{{8,200}}{_E}",
}
SECRET_TYPES = tuple(_SECRETS)
# What would carry the app's own secrets out through a tool call's arguments (a URL, a mail's
# body), the way an injected instruction asks for them: checked there as in the answer's text.
# PII is not: a call passes on what the user gave it (send_email needs the address).
LEAK_KINDS = frozenset({*SECRET_TYPES, "canary", "system_prompt", "hidden_text"})


def pii_detectors(types: Iterable[str] = PII_TYPES, action: Action = "redact") -> list[Detector]:
    out = []
    for kind in types:
        pattern, check = _PII[kind]
        shrink = kind in _SHRINK
        not_after = regex.compile(_NOT_AFTER[kind]) if kind in _NOT_AFTER else None
        out.append(Detector(kind, regex.compile(pattern), action, check, shrink, context=not_after))
        if kind in _PII_IN_CONTEXT:
            pattern, check, before = _PII_IN_CONTEXT[kind]
            compiled = regex.compile(pattern)
            out.append(Detector(kind, compiled, action, check, shrink, context=regex.compile(before)))
            # and the next of a list after one found (a table's column, a CSV, "X or Y")
            out.append(Detector(kind, compiled, action, check, shrink, follows=_LIST_GAP_PATTERN))
    return out


_SECRET_CHECKS: dict[str, Callable[[str], bool]] = {"url_password": real_password}
# after a URL's scheme and user (a look-behind tried on the pattern's matches only: in the pattern,
# every ":" before an "@" at a stream's end, as in '{"contact":"bob@', would hold the text back)
_SECRET_CONTEXT = {"url_password": r"(?<=\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]{1,64}:)"}


def secret_detectors(types: Iterable[str] = SECRET_TYPES, action: Action = "redact") -> list[Detector]:
    return [
        Detector(
            kind,
            regex.compile(_SECRETS[kind]),
            action,
            _SECRET_CHECKS.get(kind),
            context=regex.compile(_SECRET_CONTEXT[kind]) if kind in _SECRET_CONTEXT else None,
        )
        for kind in types
    ]


_ANY_QUOTE = str.maketrans({ascii: f"[{ascii}{forms}]" for ascii, forms in QUOTE_FORMS.items()})


def blocklist_detector(words: Sequence[str], action: Action = "redact") -> Detector | None:
    """Whole words or phrases, case-insensitive; longest first so a phrase beats its prefix. A
    quote in a phrase matches its typographic forms too ("don't" finds "don’t")."""
    words = sorted({w.strip() for w in words if w.strip()}, key=len, reverse=True)
    if not words:
        return None
    body = "|".join(regex.escape(ascii_quotes(w)).translate(_ANY_QUOTE) for w in words)
    return Detector("blocklist", regex.compile(rf"(?i)(?<!\w)(?:{body})(?!\w)"), action)


def hidden_text_detector(action: Action = "redact") -> Detector:
    """Text in the answer that no reader sees (Unicode tag characters, variation-selector runs):
    a channel that carries what an injected instruction asked for past the person reading."""
    return Detector("hidden_text", regex.compile(HIDDEN_TEXT), action)


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
