"""The PII detectors on three corpora: one written here, two written elsewhere.

    python tools/bench/pii_eval.py [--records 3000]           # generated here: in-sample
    python tools/bench/pii_eval.py --faker 4000               # Faker's values and sentences (pip install faker)
    python tools/bench/pii_eval.py --presidio WHEEL [--n 3000]  # Presidio's sentence templates (pip download
                                                               # --no-deps presidio-evaluator; needs faker)
    python tools/bench/pii_eval.py --libphonenumber           # every region's example phone numbers
    python tools/bench/pii_eval.py --faker-locales            # the phones of Faker's other locales
    python tools/bench/pii_eval.py --mimesis                  # Mimesis's values and sentences (pip install mimesis)
    python tools/bench/pii_eval.py --from-file RECORDS.json   # records made elsewhere: fakerjs_pii.mjs

- ``--records``: records built from the same format list the detectors were written from, with
  negatives that look alike (invalid card numbers, order ids, dates, versions): in-sample.
- ``--faker``: values, look-alikes and sentences that Faker makes in 14 locales (out of sample
  until the detectors were fixed on it).
- ``--presidio``: Microsoft Presidio's evaluation templates (presidio-evaluator, MIT: sentences a
  user or an assistant writes around a phone number, card, e-mail, IBAN, SSN or IP address, and
  around names, addresses, dates and ids that must not be flagged), filled with the phone numbers
  of FakeNameGenerator's 3,000 people in 30 countries as they write them (half with the country
  code) and Faker's other values.
Recall and precision per type; a found span counts only where it is exactly the value.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import string
import sys
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edgeqwen.safety import filter_text  # noqa: E402
from edgeqwen.safety.detectors import PII_TYPES, pii_detectors  # noqa: E402


# -- written here (in-sample) ------------------------------------------------------------------
def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits = [int(c) for c in body + check]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def _iban(country: str, bban_len: int, rng: random.Random) -> str:
    bban = "".join(rng.choice(string.digits) for _ in range(bban_len))
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - num % 97:02d}{bban}"


def _group(s: str, n: int = 4) -> str:
    return " ".join(s[i : i + n] for i in range(0, len(s), n))


def make_pii_corpus(n: int, seed: int = 0) -> list[dict]:
    """Records ``{"text", "items": [[start, end, type]]}``; about one in four holds only look-alikes."""
    rng = random.Random(seed)
    first = ["Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keira", "Luca"]
    last = ["Schmidt", "Okafor", "Dubois", "Rossi", "Nakamura", "Silva", "Novak", "Larsen", "Kaur", "Moreau"]
    domains = ["example.com", "mail.example.org", "uni-bonn.de", "corp.example.co.uk", "gmx.net"]

    def email() -> str:
        return f"{rng.choice(first).lower()}.{rng.choice(last).lower()}{rng.randint(1, 99)}@{rng.choice(domains)}"

    def card() -> str:
        prefix, length = rng.choice(
            [("4", 16), ("51", 16), ("37", 15), ("6011", 16), ("6304", 12), ("5018", 12), ("6759", 19)]
        )
        number = _luhn_complete(prefix, length, rng)
        return rng.choice([number, _group(number), "-".join(_group(number).split())])

    def iban() -> str:
        value = _iban(*rng.choice([("DE", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23), ("GB", 18)]), rng)
        value = rng.choice([value, value.lower()])
        return rng.choice(
            [value, _group(value), "-".join(_group(value).split()), f"{value[:2]} {value[2:4]} {_group(value[4:])}"]
        )

    def ssn() -> str:
        return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"

    def phone() -> str:
        def d(n: int) -> str:
            return "".join(rng.choice(string.digits) for _ in range(n))

        area = f"{rng.randint(2, 9)}{d(2)}"
        number = rng.choice(
            [  # North American forms (faker's en_US list), international, and national forms with a trunk 0
                f"+1 {area}-{d(3)}-{d(4)}",
                f"({area}) {d(3)}-{d(4)}",
                f"({area}){d(3)}-{d(4)}",
                f"{area}-{d(3)}-{d(4)}",
                f"{area}.{d(3)}.{d(4)}",
                f"1-{area}-{d(3)}-{d(4)}",
                f"001-{area}-{d(3)}-{d(4)}",
                f"+1-{area}-{d(3)}-{d(4)}",
                f"+44 20 {d(4)} {d(4)}",
                f"+44 (0)20 {d(4)} {d(4)}",
                f"+49 30 {d(3)} {d(4)}",
                f"0044 20 {d(4)} {d(4)}",
                f"020 {d(4)} {d(4)}",
                f"07{d(3)} {d(6)}",
                f"(030) {d(8)}",
                f"0171 {d(7)}",
                f"0{rng.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)}",
                f"(0{rng.randint(2, 8)}) {d(4)} {d(4)}",
            ]
        )
        ext = rng.choice(["", "", "", f"x{d(rng.randint(3, 5))}", f" ext. {d(3)}", f" x{d(4)}"])
        return number + ext

    def ipv4() -> str:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))

    def nino() -> str:
        letters = "ABCEGHJKLMNPRSTWXYZ"
        return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(100000, 999999)}{rng.choice('ABCD')}"

    def ipv6() -> str:
        return ":".join(f"{rng.randint(0, 0xFFFF):x}" for _ in range(8))

    makers = {
        "ipv6": ipv6,
        "email": email,
        "credit_card": card,
        "iban": iban,
        "us_ssn": ssn,
        "phone": phone,
        "ipv4": ipv4,
        "uk_nino": nino,
    }
    templates = [
        "Hi, I'm {name}. You can reach me at {x}.",
        "Please update my record: {x}. Thanks, {name}",
        "{name} wrote: the details are {x} (as discussed).",
        "Customer {name} provided {x} on the form.",
        "For the refund use {x}, not the old one.",
        "Log entry 2024-05-17: value {x} seen for user {name}.",
    ]

    def lookalike() -> str:
        bad_card = _luhn_complete("4", 16, rng)
        bad_card = bad_card[:-1] + str((int(bad_card[-1]) + rng.randint(1, 9)) % 10)
        return rng.choice(
            [
                f"order #{rng.randint(10**7, 10**8)}",
                f"card {_group(bad_card)}",
                f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}",
                f"on {rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                f"on {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2000, 2030)}",
                f"invoice INV-{rng.randint(1000, 9999)}",
                f"{rng.randint(2, 99)} items at {rng.randint(1, 999)}.{rng.randint(0, 99):02d} EUR",
                "the meeting at 10:30",
                f"tracking number {rng.randint(10**11, 10**12 - 1)}",
                f"ZIP {rng.randint(10000, 99999)}-{rng.randint(1000, 9999)}",
                f"ISBN 978-{rng.randint(0, 9)}-{rng.randint(10, 99)}-{rng.randint(100000, 999999)}-{rng.randint(0, 9)}",
                f"{rng.randint(1, 999):,} {rng.randint(100, 999)} {rng.randint(100, 999)} units",
                "account ref " + "".join(rng.choices(string.ascii_uppercase, k=2)) + f"{rng.randint(10, 99)}-4411",
            ]
        )

    records = []
    for i in range(n):
        name = f"{rng.choice(first)} {rng.choice(last)}"
        template = rng.choice(templates)
        if i % 4 == 3:
            text = template.format(name=name, x=lookalike())
            records.append({"text": text, "items": []})
            continue
        kind = rng.choice(list(makers))
        value = makers[kind]()
        head, _, tail = template.partition("{x}")
        prefix = head.format(name=name)
        records.append(
            {"text": prefix + value + tail.format(name=name), "items": [[len(prefix), len(prefix) + len(value), kind]]}
        )
    return records


# -- Faker's values and words --------------------------------------------------------------------
# Faker's locales with their own phone formats (and IBANs where Faker has a bank provider for them)
FAKER_LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "en_IN", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL",
                 "pt_BR", "pl_PL", "sv_SE", "ja_JP")  # fmt: skip
FAKER_CARDS = ("visa16", "visa13", "visa19", "mastercard", "amex", "discover", "jcb15", "jcb16", "diners", "maestro")


def make_faker_corpus(n: int, seed: int = 0) -> list[dict]:
    """Records like :func:`make_pii_corpus`'s, but every value and every word around it from Faker
    (``pip install faker``), whose formats this project did not write: phones, IBANs and e-mails
    of 14 locales, ten card brands, US SSNs, IP addresses; one record in four holds only numbers
    that are not PII (ISBN/EAN codes, postcodes, dates, times, prices, routing and order numbers,
    hashes, UUIDs, coordinates, street addresses). Items carry the locale or brand they came from."""
    try:
        from faker import Faker
    except ImportError as exc:
        raise SystemExit("--faker needs Faker: pip install faker") from exc
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in FAKER_LOCALES}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed * 100 + i)
    us = fakers["en_US"]

    def value(kind: str) -> tuple[str, str]:
        loc = rng.choice(FAKER_LOCALES)
        if kind == "phone":
            return fakers[loc].phone_number(), loc
        if kind == "iban":
            f = fakers[loc]
            return (f.iban(), loc) if hasattr(f, "iban") else (us.iban(), "en_US")
        if kind == "email":
            return fakers[loc].email(), loc
        if kind == "credit_card":
            brand = rng.choice(FAKER_CARDS)
            return us.credit_card_number(brand), brand
        if kind == "us_ssn":
            return us.ssn(), "en_US"
        return (us.ipv4() if kind == "ipv4" else us.ipv6()), "-"

    not_pii = [
        lambda: us.isbn13(), lambda: us.isbn10(), lambda: us.ean13(), lambda: us.ean8(),
        lambda: rng.choice(list(fakers.values())).postcode(), lambda: us.date(), lambda: us.time(),
        lambda: us.pricetag(), lambda: us.aba(), lambda: us.bothify("Order ##########"),
        lambda: us.md5()[:16], lambda: us.uuid4(), lambda: f"{us.latitude()}, {us.longitude()}",
        lambda: rng.choice(list(fakers.values())).street_address(), lambda: str(us.random_number(digits=12)),
        lambda: us.date_time().isoformat(), lambda: us.license_plate(),
    ]  # fmt: skip
    kinds = ("phone", "iban", "email", "credit_card", "us_ssn", "ipv4", "ipv6")
    records = []
    for i in range(n):
        f = fakers[rng.choice(FAKER_LOCALES)]
        before, after = f.sentence(nb_words=rng.randint(3, 9)), f.sentence(nb_words=rng.randint(2, 6))
        if i % 4 == 3:
            records.append({"text": f"{before} {rng.choice(not_pii)()} {after}", "items": []})
            continue
        kind = rng.choice(kinds)
        text, origin = value(kind)
        prefix = f"{before[:-1]}: " if rng.random() < 0.5 else f"{before} "
        items = [[len(prefix), len(prefix) + len(text), kind]]
        records.append({"text": f"{prefix}{text} {after}", "items": items, "origin": origin})
    return records


# A phone word before the number (most real text has one: a form's label, "call me"), or none.
LIBPHONE_WORDED = ("Phone: {}", "Call me at {} after six.", "My mobile number is {}.", "Tel. {}", "Telefon: {}",
                   "téléphone : {}", "teléfono {}")  # fmt: skip
LIBPHONE_BARE = ("It said {} on the note.", "{}", "Write it down: {}")


def make_libphonenumber_corpus(seed: int = 0) -> list[dict]:
    """Every example number of Google's libphonenumber (``pip install phonenumbers``: one per
    region and line type, 245 regions), written as that library formats it for the region
    (national, international, E.164), each after a phone word and without one. Numbers only:
    precision is measured on the other corpora. Origin: "format words|bare line-type"."""
    try:
        import phonenumbers
        from phonenumbers import PhoneNumberFormat, PhoneNumberType
    except ImportError as exc:
        raise SystemExit("--libphonenumber needs phonenumbers: pip install phonenumbers") from exc
    rng = random.Random(seed)
    types = {n.lower(): getattr(PhoneNumberType, n) for n in ("FIXED_LINE", "MOBILE", "TOLL_FREE", "PREMIUM_RATE",
             "SHARED_COST", "VOIP", "PERSONAL_NUMBER", "PAGER", "UAN", "VOICEMAIL")}  # fmt: skip
    formats = {"national": PhoneNumberFormat.NATIONAL, "international": PhoneNumberFormat.INTERNATIONAL,
               "e164": PhoneNumberFormat.E164}  # fmt: skip
    records = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for type_name, kind in types.items():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            for fmt_name, fmt in formats.items():
                text = phonenumbers.format_number(number, fmt)
                for ctx, templates in (("words", LIBPHONE_WORDED), ("bare", LIBPHONE_BARE)):
                    template = rng.choice(templates)
                    start = template.index("{}")
                    records.append({
                        "text": template.format(text),
                        "items": [[start, start + len(text), "phone"]],
                        "origin": f"{fmt_name} {ctx} {type_name}",
                        "region": region,
                    })  # fmt: skip
    return records


def make_faker_locales_corpus(per_locale: int = 40, seed: int = 0) -> list[dict]:
    """The phone numbers of every phone provider of Faker that the ``--faker`` corpus does not use
    (one locale per provider: locales that inherit another's formats, en_US's mostly, are left
    out), each after a phone word and without one, in that locale's own sentences. Phones only,
    like ``--libphonenumber``. Origin: "words|bare locale"."""
    try:
        from faker import Faker
        from faker.config import AVAILABLE_LOCALES
    except ImportError as exc:
        raise SystemExit("--faker-locales needs Faker: pip install faker") from exc
    rng = random.Random(seed)
    records, providers = [], {f"faker.providers.phone_number.{loc}" for loc in FAKER_LOCALES}
    for locale in sorted(AVAILABLE_LOCALES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated locales (fr_QC) say so
            f = Faker(locale)
        found = f.provider("faker.providers.phone_number")
        provider = type(found).__module__
        if not hasattr(found, "phone_number") or provider in providers:
            continue  # no phone_number (en_PH), or a provider already drawn (most fall back to en_US's)
        providers.add(provider)
        f.seed_instance(seed)
        for i in range(per_locale):
            number, words = f.phone_number(), i % 2 == 0
            before = rng.choice(LIBPHONE_WORDED).split("{}")[0] if words else f.sentence(nb_words=5)[:-1] + " "
            records.append({
                "text": f"{before}{number} {f.sentence(nb_words=4)}",
                "items": [[len(before), len(before) + len(number), "phone"]],
                "origin": f"{'words' if words else 'bare'} {locale}",
            })  # fmt: skip
    return records


def make_mimesis_corpus(per_locale: int = 20, n_other: int = 400, seed: int = 0) -> list[dict]:
    """Values and sentences of Mimesis (``pip install mimesis``), a fake-data library whose formats
    are its own (not Faker's): the phones of its 48 locales, half after a phone word and half in
    the locale's own sentences; card numbers of its three networks, half after a word that says
    card; e-mails and IP addresses; and records whose numbers are not PII (IMEI and ISBN/EAN/ISSN
    codes, PINs, CVVs, expiry dates, postcodes, street numbers, coordinates, prices, timestamps,
    versions, MAC addresses, ports, UUIDs). Origin: "words|bare LOCALE", the network, or "-"."""
    try:
        import mimesis as m
        from mimesis.enums import CardType
        from mimesis.locales import Locale
    except ImportError as exc:
        raise SystemExit("--mimesis needs Mimesis: pip install mimesis") from exc
    rng = random.Random(seed)
    records: list[dict] = []

    def put(before: str, value: str, after: str, kind: str | None, origin: str = "-") -> None:
        items = [[len(before), len(before) + len(value), kind]] if kind else []
        records.append({"text": f"{before}{value}{after}", "items": items, "origin": origin})

    english = m.Text(Locale.EN, seed=seed)
    for locale in Locale:
        person, text = m.Person(locale, seed=seed), m.Text(locale, seed=seed)
        for i in range(per_locale):
            number, words = person.telephone(), i % 2 == 0
            before = rng.choice(LIBPHONE_WORDED).split("{}")[0] if words else text.sentence() + " "
            put(before, number, " " + text.sentence(), "phone", f"{'words' if words else 'bare'} {locale.value}")
    pay, net, person = m.Payment(seed=seed), m.Internet(seed=seed), m.Person(Locale.EN, seed=seed)
    card_words = ("Card number: ", "Please charge my card ", "Paid with ")
    for i in range(300):
        card_type = list(CardType)[i % 3]
        before = rng.choice(card_words) if i % 2 else english.sentence() + " "
        put(before, pay.credit_card_number(card_type), ". " + english.sentence(), "credit_card", card_type.value)
    for kind, make in (("email", person.email), ("ipv4", net.ip_v4), ("ipv6", net.ip_v6)):
        for _ in range(100 if kind != "email" else 200):
            put(english.sentence() + " ", make(), " " + english.sentence(), kind)
    code, addr, dt, num = (
        m.Code(seed=seed),
        m.Address(Locale.DE, seed=seed),
        m.Datetime(seed=seed),
        m.Numeric(seed=seed),
    )
    crypto, dev, fin = m.Cryptographic(seed=seed), m.Development(seed=seed), m.Finance(Locale.EN, seed=seed)
    not_pii = [
        code.imei, code.isbn, code.ean, code.issn, code.pin, pay.cvv, pay.credit_card_expiration_date,
        addr.postal_code, addr.street_number, addr.address,
        lambda: "{latitude}, {longitude}".format(**addr.coordinates()), lambda: str(fin.price()),
        lambda: str(dt.timestamp()), lambda: dt.datetime().isoformat(), lambda: str(dt.date()),
        lambda: str(dt.time()), dev.version, net.mac_address, lambda: str(net.port()),
        lambda: str(num.integer_number(10**6, 10**12)), crypto.uuid, lambda: crypto.token_hex(8),
    ]  # fmt: skip
    for _ in range(n_other):
        put(english.sentence() + " ", str(rng.choice(not_pii)()), " " + english.sentence(), None)
    return records


def report(records: list[dict]) -> dict:
    """:func:`pii_eval`, and recall by where each value came from (locale, card brand, country),
    with a few misses and false positives to read."""
    found_by_record = pii_found(records)
    by_origin: dict[str, list[int]] = {}
    misses, false_pos = [], []
    for rec, found in zip(records, found_by_record, strict=True):
        origins = rec.get("origins") or [rec.get("origin", "-")] * len(rec["items"])
        for (start, end, kind), origin in zip((tuple(x) for x in rec["items"]), origins, strict=True):
            hit = (start, end, kind) in found
            by_origin.setdefault(f"{kind} {origin}", [0, 0])[0 if hit else 1] += 1
            if not hit:
                misses.append(f"{kind} ({origin}): {rec['text'][start:end]!r} in {rec['text'][:120]!r}")
        truth = {tuple(x) for x in rec["items"]}
        false_pos += [f"{k}: {rec['text'][a:b]!r} in {rec['text']!r}" for a, b, k in found - truth]
    return {
        "types": pii_eval(records, found_by_record),
        "by_origin": {k: {"caught": v[0], "n": v[0] + v[1]} for k, v in sorted(by_origin.items())},
        "misses": misses,
        "false_positives": false_pos,
    }


def pii_found(records: list[dict]) -> list[set[tuple[int, int, str]]]:
    """Each record's detected spans, as (start, end, type)."""
    detectors = pii_detectors(PII_TYPES, "flag")  # flag: keep text, record spans
    return [{(e.span[0], e.span[1], e.category) for e in filter_text(r["text"], detectors).events} for r in records]


def pii_eval(records: list[dict], found_by_record: list[set[tuple[int, int, str]]] | None = None) -> dict:
    stats = {k: {"tp": 0, "fn": 0, "fp": 0} for k in PII_TYPES}
    for rec, found in zip(records, found_by_record or pii_found(records), strict=True):
        truth = {tuple(item) for item in rec["items"]}
        for start, end, kind in truth:
            stats[kind]["tp" if (start, end, kind) in found else "fn"] += 1
        for _start, _end, kind in found - truth:
            stats[kind]["fp"] += 1
    out = {}
    for kind, s in stats.items():
        n = s["tp"] + s["fn"]
        out[kind] = {
            "n": n,
            "recall": s["tp"] / n if n else None,
            "precision": s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else None,
            "false_positives": s["fp"],
        }
    return out


# -- Presidio's templates ---------------------------------------------------------------------------
_RAW = "presidio_evaluator/data_generator/raw_data/"
# template placeholder -> the detector type it holds (others are filled with values that must not be flagged)
PRESIDIO_TYPES = {"phone_number": "phone", "credit_card_number": "credit_card", "email": "email", "iban": "iban",
                  "ssn": "us_ssn", "ip_address": "ipv4"}  # fmt: skip


def _read_presidio(source: Path) -> tuple[list[str], list[dict]]:
    """The templates and FakeNameGenerator's people, from the presidio-evaluator wheel or its
    unpacked folder."""
    names = ("templates.txt", "FakeNameGenerator.com_3000.csv")
    if source.is_file():
        with zipfile.ZipFile(source) as z:
            texts = [z.read(_RAW + n).decode("utf-8-sig") for n in names]
    else:
        base = source / _RAW if (source / _RAW).is_dir() else source
        texts = [(base / n).read_text(encoding="utf-8-sig") for n in names]
    templates = [t.replace("\\n", "\n").replace("\\,", ",").strip() for t in texts[0].splitlines() if t.strip()]
    return templates, list(csv.DictReader(io.StringIO(texts[1])))


def make_presidio_corpus(source: Path, n: int, seed: int = 0) -> list[dict]:
    """``n`` records: each a template with at least one detector type in it, every placeholder
    filled; items carry where the value came from (the phone's country)."""
    try:
        from faker import Faker
    except ImportError as exc:
        raise SystemExit("--presidio needs Faker: pip install faker") from exc
    templates, people = _read_presidio(source)
    slot = re.compile(r"{{(\w+)}}")
    ours = [t for t in templates if any(m in PRESIDIO_TYPES for m in slot.findall(t))]
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    others = {
        "person": fake.name, "organization": fake.company, "age": lambda: str(rng.randint(18, 90)),
        "us_driver_license": lambda: fake.bothify("?#######").upper(), "nation_plural": lambda: "Germans",
        "nation_woman": lambda: "German", "first_name_nonbinary": fake.first_name,
    }  # fmt: skip

    def value(name: str, person: dict) -> tuple[str, str]:
        if name == "phone_number":
            number = person["TelephoneNumber"]
            if rng.random() < 0.5:
                number = (
                    f"+{person['TelephoneCountryCode']} {number.lstrip('0') if person['Country'] != 'IT' else number}"
                )
            return number, person["Country"]
        if name == "email":
            return person["EmailAddress"], "-"
        if name == "ip_address":
            return fake.ipv4(), "-"
        if name == "credit_card_number":
            return fake.credit_card_number(), "-"
        if name in others:
            return others[name](), "-"
        return str(getattr(fake, name)()), "-"

    records = []
    for _ in range(n):
        template, person = rng.choice(ours), rng.choice(people)
        text, items, pos = "", [], 0
        for m in slot.finditer(template):
            text += template[pos : m.start()]
            filled, origin = value(m.group(1), person)
            kind = PRESIDIO_TYPES.get(m.group(1))
            if kind:
                items.append([len(text), len(text) + len(filled), kind, origin])
            text += filled
            pos = m.end()
        text += template[pos:]
        records.append({"text": text, "items": [i[:3] for i in items], "origins": [i[3] for i in items]})
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=3000, help="records of the corpus written here (in-sample)")
    ap.add_argument("--faker", type=int, default=0, metavar="N", help="N records made by Faker")
    ap.add_argument("--presidio", type=Path, metavar="WHEEL", help="presidio-evaluator's wheel or unpacked folder")
    ap.add_argument("--n", type=int, default=3000, help="records for --presidio")
    ap.add_argument("--libphonenumber", action="store_true", help="libphonenumber's example numbers (phones only)")
    ap.add_argument("--faker-locales", action="store_true", help="phones of Faker's other locales (phones only)")
    ap.add_argument("--mimesis", action="store_true", help="Mimesis's values and sentences (pip install mimesis)")
    ap.add_argument("--from-file", type=Path, metavar="JSON", help="records made elsewhere (fakerjs_pii.mjs)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.from_file:
        records, name = json.loads(args.from_file.read_text()), args.from_file.name
    elif args.mimesis:
        records, name = make_mimesis_corpus(), "Mimesis's values and sentences"
    elif args.faker_locales:
        records, name = make_faker_locales_corpus(), "phones of Faker's other locales"
    elif args.libphonenumber:
        records, name = make_libphonenumber_corpus(), "libphonenumber's example numbers"
    elif args.presidio:
        records, name = make_presidio_corpus(args.presidio, args.n), "Presidio's templates"
    elif args.faker:
        records, name = make_faker_corpus(args.faker), "Faker's values and words"
    else:
        records, name = make_pii_corpus(args.records), "written here: in-sample"
    rep = report(records)
    if args.json:
        print(json.dumps(rep, indent=1))
        return
    print(f"PII type      n   recall  precision  ({name})")
    for kind, s in rep["types"].items():
        r = "-" if s["recall"] is None else f"{s['recall']:.1%}"
        p = "-" if s["precision"] is None else f"{s['precision']:.1%}"
        print(f"  {kind:<11} {s['n']:>4}  {r:>7}  {p:>8}")
    for origin, v in rep["by_origin"].items():
        if v["caught"] < v["n"]:
            print(f"  {origin:<24} {v['caught']}/{v['n']}")
    print("misses (first 40):", *rep["misses"][:40], sep="\n  ")
    print("false positives (first 20):", *rep["false_positives"][:20], sep="\n  ")


if __name__ == "__main__":
    main()
