"""The checks a detector's match must pass before it counts: Luhn and the issued lengths for cards,
ISO 13616 for IBANs, the numbers never issued for SSNs, the addresses that name no host, a phone's
digit count, a URL's password that is no placeholder. Each takes the matched text."""

from __future__ import annotations

import ipaddress

import regex

__all__ = [
    "EXTENSION",
    "IBAN_LENGTHS",
    "UATP",
    "iban_valid",
    "ipv4_valid",
    "ipv6_valid",
    "luhn_12_valid",
    "luhn_valid",
    "phone_valid",
    "real_password",
    "ssn_valid",
]


# Maestro issuer prefixes: the only cards issued with 12 digits. A 12-digit number passes Luhn one
# time in ten by chance, so 12 digits count only with one of these prefixes.
_MAESTRO_12 = ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763")
_MAESTRO = ("50", *(str(n) for n in range(56, 70)))  # Maestro's ranges, 12 to 19 digits (and UnionPay's 62)
# Which issuers write a card number of each length (None: most brands, 16 digits). Any other number
# that passes Luhn does so one time in ten by chance: real text has timestamps (YYYYMMDDhhmmss, 14
# digits), ids and hashes' digits. A phone's IMEI is 15 digits that pass Luhn too, most starting 35
# or 86 (Mimesis's IMEIs were read as cards: 15 beside its 300 cards, precision 95.2%).
_ISSUED: dict[int, tuple[str, ...] | None] = {
    12: _MAESTRO_12,
    13: ("4", *_MAESTRO_12),  # Visa's old numbers
    14: ("30", "36", "38", "39", *_MAESTRO),  # Diners Club
    # American Express, JCB's old ranges, Diners Club enRoute, UATP (1, as printed: below)
    15: ("34", "37", "1800", "2131", "2014", "2149", "1", *_MAESTRO),
    16: None,
    # Visa's 19, JCB's, Diners Club's, Discover's (60, 64, 65), UnionPay's (62), Mir's (2200-2204)
    **dict.fromkeys((17, 18, 19), ("4", "35", "36", "2200", "2201", "2202", "2203", "2204", *_MAESTRO)),
}
# Written forms where the number says its issuer (found missing by @ngneat/falso's cards,
# tools/bench/falso_pii.mjs): UnionPay's 19 digits as 6-13, UATP's 15 (an airline's, starting 1) as 4-5-6
_UNIONPAY_19 = r"62\d{4}[ -]\d{13}"
UATP = r"1\d{3}(?P<uatp>[ -])\d{5}(?P=uatp)\d{6}"  # the credit-card detector's pattern reads it too


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_valid(text: str) -> bool:
    if regex.match(r"\d{1,3}[ -]|\d{5,}[ -]\d", text) and not regex.fullmatch(_UNIONPAY_19, text):
        # written in groups, every brand's first is four digits (4-4-4-4, Amex's 4-6-5; UnionPay's
        # 19 digits 6-13): an IMEI's "60-643298-649614-2" is no card
        return False
    digits = "".join(c for c in text if c.isdigit())
    if digits[0] == "1" and not digits.startswith("1800") and not regex.fullmatch(UATP, text):
        return False  # an airline's UATP card only as it is printed (a 1 starts phone numbers)
    if len(digits) not in _ISSUED:
        return False
    issuers = _ISSUED[len(digits)]
    return (issuers is None or digits.startswith(issuers)) and _luhn(digits)


def luhn_12_valid(text: str) -> bool:
    """12 digits outside the Maestro prefixes (which the card pattern takes on their own) that pass
    Luhn: only where a word before them says "card"."""
    digits = "".join(c for c in text if c.isdigit())
    return len(digits) == 12 and not digits.startswith(_MAESTRO_12) and _luhn(digits)


# ISO 13616 registry (SWIFT's release 101, as python-stdnum's iban.dat has it): each country's IBAN
# length; and Iran's (IR, 26: its national "Sheba" IBAN, which SWIFT's registry does not list). A
# word and a number ("is 180034433853091", "no 4335761211080518630") pass mod-97 one time in 97; the
# length for that country rules them out.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IR": 26, "IS": 26, "IT": 27, "JO": 30, "KW": 30,
    "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24,
    "XK": 20, "YE": 30,
}  # fmt: skip


def iban_valid(text: str) -> bool:
    """ISO 13616 IBAN: country code, two check digits, BBAN of that country's length; (rearranged,
    letters as numbers) mod 97 == 1."""
    s = "".join(text.replace("-", " ").replace(".", " ").split()).upper()
    if len(s) != IBAN_LENGTHS.get(s[:2]) or not s[2:4].isdigit():
        return False
    rearranged = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def ssn_valid(text: str) -> bool:
    # Areas 000 and 666, group 00 and serial 0000 are never issued. Area 9xx is the IRS's ITIN, the
    # number of those who have no SSN, written the same way and as personal (chance.js's SSNs).
    digits = "".join(c for c in text if c.isdigit())
    area, group, serial = digits[0:3], digits[3:5], digits[5:9]
    return len(digits) == 9 and area not in ("000", "666") and group != "00" and serial != "0000"


def ipv4_valid(text: str) -> bool:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts):
        return False
    # 0.x ("any address"), 127.x (this machine) and 255.x (netmasks, broadcast) name nobody's host:
    # an answer that says "listen on 0.0.0.0" or "127.0.0.1:8000" keeps them
    return parts[0] not in ("0", "127", "255")


def ipv6_valid(text: str) -> bool:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return False
    if address.is_loopback or address.is_unspecified:
        return False  # `::1` and `::` name no one's host (as 127.x and 0.x for IPv4)
    # A shortened one has three groups, one of three digits or more (`2001:db8::1`, `fe80::1ff:fe23`):
    # `x[1::2]` is a Python slice, `a::b` a path in C++ or Rust, `10:30::45` a typo'd time
    groups = [g for g in text.split(":") if g]
    return "::" not in text or (len(groups) >= 3 and max(map(len, groups)) >= 3)


# An extension after the number: "x1234", "ext. 22", and as French Canada (poste), Brazil (ramal),
# Spanish-speaking South America (anexo), Germany (Durchwahl) and the Netherlands (toestel) write it
# (@faker-js/faker's fr_CA numbers: "765 464-8937, poste 559").
EXTENSION = r"x|ext\.?|extension|poste|ramal|anexo|durchwahl|toestel"


def phone_valid(text: str) -> bool:
    number = regex.split(rf"(?i),?\s?(?:{EXTENSION})", text, maxsplit=1)[0]  # the extension's digits do not count
    return 7 <= sum(c.isdigit() for c in number) <= 15


_PLACEHOLDER = regex.compile(
    r"(?i)(?:my|your|the)?_?(?:pass(?:word|wd)?|pwd|secret|changeme)|x+|\*+|<[^>]*>|\{[^}]*\}|\$\{?\w+\}?|%\(\w+\)s"
)


def real_password(text: str) -> bool:
    """Not what a document writes where a password goes ("user:pass@host", "<password>", "${DB_PASS}")."""
    return _PLACEHOLDER.fullmatch(text) is None
