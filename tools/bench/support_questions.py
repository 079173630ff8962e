"""The input checks on what a bank's customers ask its support assistant: banking77's test set
(PolyAI, CC-BY-4.0; 3,080 questions in 77 intents, written by crowd workers for an online bank's
support). Nobody here wrote them, and none is a safety prompt: every one the presets refuse or
flag is a false positive that a support bot built on edgeqwen would show its customer.

    curl -LO https://raw.githubusercontent.com/PolyAI-LDN/task-specific-datasets/master/banking_data/test.csv
    python tools/bench/support_questions.py test.csv [--show] [--json OUT]

Split by intent: ``dev`` is the 22 intents of the file's first 64,000 characters, read before
the support rows of ``tools/safety_hard_negatives.py`` were written ("card_arrival" to
"transfer_not_received_by_recipient"); ``--show`` prints their refused and flagged questions, and
only theirs. The other 55 intents are ``test``: read only after those rows and the stolen-card
rule were fixed, and only counted here, so their figures are out of sample for that change.
Every question goes through ``Guard(preset).check_input`` (screen and rules; no model, so no
activation probe).

``--clinc data_small.json`` (or ``data_full.json``) scores CLINC150 instead (clinc/oos-eval on
GitHub, CC-BY-3.0): what people ask a virtual assistant in 150 intents over ten domains (banking,
credit cards, travel, work, small talk...), each list of the file (``val``, ``test``, ``oos_val``...)
on its own. None of it was read before the support rows were fixed; all of it is ``test``.

``--chatterbot WHEEL`` scores the first turn of each English conversation in ChatterBot's corpus
(``pip download --no-deps chatterbot-corpus``, BSD-3-Clause): chit-chat, trivia, coding and tech
support questions to a chat bot, each of the corpus's files on its own. Never trained on; earlier
checks read its refusals (docs/safety.md), so it is out of sample for the screen, not unread.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safety_eval import preset_guard, wilson  # noqa: E402

DEV = frozenset(
    {
        "card_arrival",
        "card_linking",
        "exchange_rate",
        "card_payment_wrong_exchange_rate",
        "extra_charge_on_statement",
        "pending_cash_withdrawal",
        "fiat_currency_support",
        "card_delivery_estimate",
        "automatic_top_up",
        "card_not_working",
        "exchange_via_app",
        "lost_or_stolen_card",
        "age_limit",
        "pin_blocked",
        "contactless_not_working",
        "top_up_by_bank_transfer_charge",
        "pending_top_up",
        "cancel_transfer",
        "top_up_limits",
        "wrong_amount_of_cash_received",
        "card_payment_fee_charged",
        "transfer_not_received_by_recipient",
    }
)


def read(path: Path) -> list[tuple[str, str]]:
    """(text, intent) for each row of banking77's CSV (header ``text,category``)."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = [(row["text"].strip(), row["category"]) for row in csv.DictReader(f)]
    if not rows:
        raise SystemExit(f"No questions in {path}: expected banking77's test.csv (columns text,category).")
    return rows


def read_clinc(path: Path) -> dict[str, list[str]]:
    """CLINC150's JSON (``{"val": [[text, intent], ...], ...}``): each list's questions."""
    data = json.loads(path.read_text(encoding="utf-8"))
    lists = {name: [text.strip() for text, _intent in rows] for name, rows in data.items() if isinstance(rows, list)}
    if not any(lists.values()):
        raise SystemExit(f"No questions in {path}: expected CLINC150's data_small.json or data_full.json.")
    return lists


def read_chatterbot(wheel: Path) -> dict[str, list[str]]:
    """ChatterBot's corpus wheel: per English file, each conversation's first turn, once."""
    import yaml

    lists: dict[str, list[str]] = {}
    seen: set[str] = set()
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if "/data/english/" in n and n.endswith(".yml"))
        for name in names:
            for conversation in yaml.safe_load(zf.read(name)).get("conversations") or []:
                text = str(conversation[0]).strip() if conversation else ""
                if text and text not in seen:
                    seen.add(text)
                    lists.setdefault(Path(name).stem, []).append(text)
    if not lists:
        raise SystemExit(f"No English conversations in {wheel}: expected the chatterbot-corpus wheel.")
    return lists


def evaluate_clinc(lists: dict[str, list[str]], presets: list[str]) -> dict:
    result: dict[str, dict] = {}
    for preset in presets:
        guard = preset_guard(preset)
        result[preset] = {}
        for name, texts in lists.items():
            refused = sum(guard.check_input(text).action == "refuse" for text in texts)
            result[preset][name] = {
                "n": len(texts),
                "refused": refused,
                "refused_ci95": list(wilson(refused, len(texts))),
            }
    return result


def bare(text: str) -> str:
    """The question as typed in a hurry: no final question mark, full stop or exclamation mark."""
    return text.rstrip("?.! ") or text


def evaluate(rows: list[tuple[str, str]], presets: list[str], show: bool = False) -> dict:
    result: dict[str, dict] = {}
    for preset in presets:
        guard = preset_guard(preset)
        splits = {name: {"n": 0, "refused": 0, "injection": 0} for name in ("dev", "test")}
        intents: dict[str, dict[str, int]] = {}
        for text, intent in rows:
            split = "dev" if intent in DEV else "test"
            decision = guard.check_input(text)
            refused = decision.action == "refuse"
            flagged = any(e.category == "prompt_injection" for e in decision.events)
            for counts in (splits[split], intents.setdefault(intent, {"n": 0, "refused": 0, "injection": 0})):
                counts["n"] += 1
                counts["refused"] += refused
                counts["injection"] += flagged
            if show and split == "dev" and (refused or flagged):
                print(f"  {preset} {intent} {'refused' if refused else 'injection'}: {text}")
        for counts in splits.values():
            counts["refused_ci95"] = list(wilson(counts["refused"], counts["n"]))
        result[preset] = {"splits": splits, "intents": intents}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", type=Path, nargs="?", help="banking77's test.csv")
    ap.add_argument("--clinc", type=Path, help="CLINC150's data_small.json or data_full.json, instead")
    ap.add_argument("--chatterbot", type=Path, help="the chatterbot-corpus wheel, instead")
    ap.add_argument("--presets", default="default,strict")
    ap.add_argument("--show", action="store_true", help="print the dev intents' refused and flagged questions")
    ap.add_argument("--bare", action="store_true", help="each question without its final punctuation")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    if args.clinc or args.chatterbot:
        texts = read_clinc(args.clinc) if args.clinc else read_chatterbot(args.chatterbot)
        if args.chatterbot:
            texts["all"] = [t for name in sorted(texts) for t in texts[name]]
        clinc = evaluate_clinc(texts, args.presets.split(","))
        for preset, lists in clinc.items():
            for name, c in lists.items():
                lo, hi = c["refused_ci95"]
                share = c["refused"] / c["n"] if c["n"] else 0.0
                print(f"{preset:8} {name:14} n={c['n']:5} refused {c['refused']:4} = {share:.1%} ({lo:.1%}-{hi:.1%})")
        if args.json:
            args.json.write_text(json.dumps(clinc, indent=1) + "\n", encoding="utf-8")
        return
    if args.csv is None:
        ap.error("give banking77's test.csv, --clinc FILE or --chatterbot WHEEL")
    rows = [(bare(text), intent) for text, intent in read(args.csv)] if args.bare else read(args.csv)
    result = evaluate(rows, args.presets.split(","), args.show)
    for preset, figures in result.items():
        for split, s in figures["splits"].items():
            lo, hi = s["refused_ci95"]
            print(f"{preset:8} {split:5} n={s['n']:5} refused {s['refused']:4} = {s['refused'] / s['n']:.1%} "
                  f"({lo:.1%}-{hi:.1%}), injection {s['injection']}")  # fmt: skip
        worst = sorted(figures["intents"].items(), key=lambda kv: -kv[1]["refused"])[:8]
        print(f"{preset:8} most refused intents: " + ", ".join(f"{k} {v['refused']}/{v['n']}" for k, v in worst))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
