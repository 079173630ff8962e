"""Field accuracy of JSON extraction on a real model, constrained vs unconstrained.

    python tools/bench/extraction_eval.py [MODEL] [--cases tests/data/extraction.json] [--limit N]

Unconstrained: the same prompt (the schema in words), and the first {...} in the answer is
parsed if it can be. Constrained: response_format=schema. A field counts as right when it equals
the expected value (strings compared case-insensitively, numbers within 0.005).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CASES = ROOT / "tests" / "data" / "extraction.json"

SYSTEM = (
    "Extract the payment from the text as JSON with keys name (the person), date (YYYY-MM-DD), amount "
    "(a number) and currency (EUR, USD, GBP, JPY or CHF). Answer with the JSON object only."
)


def field_ok(got, want) -> bool:
    if isinstance(want, (int, float)) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return abs(got - want) < 0.005
    return isinstance(got, str) and got.strip().lower() == str(want).lower()


def first_json(text: str):
    m = re.search(r"\{.*?\}", text, re.DOTALL)
    if not m:
        return None
    try:
        value = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _until_first_object(chunks) -> str:
    """The answer up to its first {...}: what follows cannot change what first_json finds, so
    generation stops there (breaking out of the stream cancels it)."""
    text = ""
    for piece in chunks:
        text += piece
        if re.search(r"\{.*?\}", text, re.DOTALL):
            break
    return text


def evaluate(model: str | None, cases_file: Path = DEFAULT_CASES, limit: int | None = None) -> dict:
    import jsonschema

    from edgeqwen import Assistant, StructuredOutputError

    data = json.loads(cases_file.read_text())
    schema, cases = data["schema"], data["cases"][:limit]
    # policy="none": this measures extraction itself; the safety rules cost a 135M model accuracy
    bot = Assistant(model, SYSTEM, temperature=0.0, max_tokens=300, policy="none")
    out = {}
    for mode in ("unconstrained", "constrained"):
        right = total = valid = cut = 0
        for case in cases:
            bot.reset()
            if mode == "constrained":
                try:
                    value = bot.json(case["text"], schema)
                except StructuredOutputError as exc:  # said cut (max_tokens, a bound), or no valid answer
                    value, cut = None, cut + exc.cut
            else:
                value = first_json(_until_first_object(bot.stream(case["text"])))
            ok = value is not None
            if ok:
                try:
                    jsonschema.validate(value, schema)
                except jsonschema.ValidationError:
                    ok = False
            valid += ok
            for key, want in case["expected"].items():
                total += 1
                right += bool(value) and field_ok(value.get(key), want)
        # constrained: every answer is valid or said cut, none returned invalid
        out[mode] = {"cases": len(cases), "valid": valid, "cut": cut, "field_accuracy": right / total}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="demo")
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--limit", type=int, help="only the first N cases")
    args = parser.parse_args()
    result = evaluate(args.model, args.cases, args.limit)
    for mode, r in result.items():
        said = f" ({r['cut']} said cut)" if mode == "constrained" else ""
        print(f"{mode:>14}: valid {r['valid']}/{r['cases']}{said}, field accuracy {r['field_accuracy']:.1%}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
