"""PII written as Chinese, Japanese, Korean and Thai write it: right against the words around it.

    python tools/bench/pii_unspaced.py > unspaced.json      # needs Faker (pip install faker)
    python tools/bench/pii_unspaced.py --mimesis > unspaced-mimesis.json   # needs Mimesis
    python tools/bench/pii_eval.py --from-file unspaced.json

These languages put no space between words, so a value sits between two words with nothing around
it ("我的电话是13800138000。", "090-1234-5678です"). For each locale, Faker's own values (its
phone numbers, e-mail addresses, card numbers, public IPv4 addresses) are written between two of
its own texts with no space, the first text's closing stop dropped: bare, and phones also after the
locale's word for "phone number". Faker's Korean lorem is Latin, so Korean's texts are its
job names before a value and addresses after it. Records as pii_eval.py reads them (``--from-file``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial

LOCALES = ("zh_CN", "zh_TW", "ja_JP", "ko_KR", "th_TH")
# the word before a number that says "phone number" (Thai's is not in the detectors' list)
PHONE_WORDS = {
    "zh_CN": "电话号码：",
    "zh_TW": "電話號碼：",
    "ja_JP": "電話番号は",
    "ko_KR": "전화번호는",
    "th_TH": "เบอร์โทร",
}
STOPS = ".。 "


def _text(fake, locale: str, before: bool) -> str:
    if locale == "ko_KR":  # an address ends in its number, which would run into the value's digits
        return fake.job() if before else fake.address().replace("\n", " ")
    return fake.sentence()


def _written(
    values: dict[str, Callable[[], str]],
    before: Callable[[], str],
    after: Callable[[], str],
    locale: str,
    per_kind: int,
) -> list[dict]:
    """``per_kind`` records of each kind: a value between two texts, half the phones after the
    locale's word for phone number."""
    out = []
    for kind, make in values.items():
        for k in range(per_kind):
            word = PHONE_WORDS[locale] if kind == "phone" and k % 2 else ""
            head = before().rstrip(STOPS) + word
            value = make()
            out.append(
                {
                    "text": head + value + after(),
                    "items": [[len(head), len(head) + len(value), kind]],
                    "origin": f"{'word' if word else 'bare'} {locale}",
                }
            )
    return out


def records(per_kind: int = 40, seed: int = 0) -> list[dict]:
    from faker import Faker

    out = []
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        values = {
            "phone": fake.phone_number,
            "email": fake.email,
            "credit_card": fake.credit_card_number,
            "ipv4": fake.ipv4_public,
        }
        out += _written(
            values, partial(_text, fake, locale, True), partial(_text, fake, locale, False), locale, per_kind
        )
    return out


def mimesis_records(per_kind: int = 40, seed: int = 0) -> list[dict]:
    from mimesis import Internet, Payment, Person, Text
    from mimesis.locales import Locale

    out = []
    for locale, key in ((Locale.ZH, "zh_CN"), (Locale.JA, "ja_JP"), (Locale.KO, "ko_KR")):
        person, text, payment, internet = (
            Person(locale, seed=seed),
            Text(locale, seed=seed),
            Payment(seed=seed),
            Internet(seed=seed),
        )

        def ipv4(internet: Internet = internet) -> str:
            while (address := internet.ip_v4()).split(".")[0] in ("0", "127", "255"):
                pass  # no host's address (the detectors leave them out, as Faker's generator does)
            return address

        values = {
            "phone": person.telephone,
            "email": person.email,
            "credit_card": payment.credit_card_number,
            "ipv4": ipv4,
        }
        out += _written(values, text.sentence, text.sentence, key, per_kind)
    return out


def main() -> None:
    made = mimesis_records() if sys.argv[1:] == ["--mimesis"] else records()
    json.dump(made, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
