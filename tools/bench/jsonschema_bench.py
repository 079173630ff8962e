"""JSONSchemaBench (MaskBench-style) over ../shared/data/jsonschemabench: what a user of edgeqwen
gets, beside plain llguidance.

For each schema and each instance, token by token with the real Qwen tokenizer (compact JSON):
- **edgeqwen**: the grammar edgeqwen compiles (the schema relaxed to what llguidance enforces,
  relax.py) and then the check every answer gets (``jsonschema``, formats asserted). A valid
  instance passes when both accept it; an invalid one is rejected when either rejects it.
- **plain llguidance**: llguidance's own JSON Schema compiler with default options (fails closed).
The grammar is the schema as given (``max_string_length=None``): edgeqwen's decoding-time
narrowing (bounded strings, no extra properties) is left out so acceptance is measured against
the schema itself. ``--generate N`` also answers N schemas with a tiny random Qwen2 model at T=1
and counts answers returned invalid (must be 0) and answers that failed after resampling.

    python tools/bench/jsonschema_bench.py [DATA_DIR] [--limit N] [--generate N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from edgeqwen.errors import GrammarError, StructuredOutputError  # noqa: E402
from edgeqwen.runtime.formats import ResponseFormat  # noqa: E402
from edgeqwen.runtime.grammar import GrammarEngine  # noqa: E402
from edgeqwen.runtime.relax import BASE_OPTIONS, matcher_limits  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "jsonschemabench"
QWEN_STOPS = (151643, 151645)


def qwen_tokenizer_json() -> str:
    from qwen_tokenizer_json import build_tokenizer_json

    return json.dumps(build_tokenizer_json())


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _accepts(tok, grammar: str, tokens: list[int], mask: np.ndarray, mask_us: list[float] | None) -> bool:
    from llguidance import LLMatcher

    matcher = LLMatcher(tok, grammar, log_level=0, limits=matcher_limits())
    for t in tokens:
        if mask_us is not None:
            t0 = time.perf_counter()
            matcher.unsafe_compute_mask_ptr(mask.ctypes.data, mask.nbytes)
            mask_us.append((time.perf_counter() - t0) * 1e6)
        if not matcher.consume_token(t):
            return False
    return matcher.is_accepting()


def _sorted_keys(value):
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    return [_sorted_keys(v) for v in value] if isinstance(value, list) else value


def _plain(schema) -> str | None:
    """llguidance's grammar with its defaults (compact separators), or None where it fails closed."""
    from llguidance import LLMatcher

    try:
        grammar = LLMatcher.grammar_from_json_schema(schema, overrides=dict(BASE_OPTIONS))
    except ValueError:
        return None
    return None if LLMatcher.validate_grammar_with_warnings(grammar)[0] else grammar


def run(data_dir: Path, limit: int | None = None) -> dict:
    engine = GrammarEngine(qwen_tokenizer_json(), 151936, QWEN_STOPS)
    tok = engine.tokenizer
    mask = np.zeros((151936 + 31) // 32, dtype=np.int32)
    files = sorted(data_dir.glob("*.json"))[:limit]
    keys = ("compiled", "passing", "valid_accepted", "invalid_accepted")
    ours, plain = dict.fromkeys(keys, 0), dict.fromkeys(keys, 0)
    stats = dict.fromkeys(("schemas", "valid", "invalid", "tokens", "exact", "grammar_rejected_valid"), 0)
    stats["rejected_only_for_key_order"] = 0
    compile_ms, plain_ms, mask_us, errors, after = [], [], [], Counter(), Counter()
    for path in files:
        case = json.loads(path.read_text())
        stats["schemas"] += 1
        fmt = ResponseFormat("json_schema", schema=case["schema"], max_string_length=None)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unknown formats: annotations, by design
                grammar = engine.compile(fmt)
            relaxed = fmt.relaxed()
        except GrammarError as exc:
            errors[str(exc)[:90]] += 1
            grammar = None
        else:
            compile_ms.append((time.perf_counter() - start) * 1000)
            ours["compiled"] += 1
            stats["exact"] += relaxed.exact
            after.update(relaxed.checked_after)
        start = time.perf_counter()
        plain_grammar = _plain(case["schema"])
        if plain_grammar is not None:
            plain_ms.append((time.perf_counter() - start) * 1000)
        plain["compiled"] += plain_grammar is not None
        ok = {"ours": grammar is not None, "plain": plain_grammar is not None}
        for test in case["tests"]:
            text = json.dumps(test["data"], separators=(",", ":"), ensure_ascii=False)
            tokens = tok.tokenize_str(text)
            valid = test["valid"]
            stats["valid" if valid else "invalid"] += 1
            if valid:
                stats["tokens"] += len(tokens)
            if grammar is not None:
                in_grammar = _accepts(tok, grammar, tokens, mask, mask_us if valid else None)
                try:
                    fmt.parse(text)
                    checked = True
                except (StructuredOutputError, GrammarError):
                    checked = False
                accepted = in_grammar and checked
                if valid and not in_grammar:
                    stats["grammar_rejected_valid"] += 1
                    # llguidance writes an object's keys in one order; is the order all that differs?
                    other = json.dumps(_sorted_keys(test["data"]), separators=(",", ":"), ensure_ascii=False)
                    stats["rejected_only_for_key_order"] += _accepts(tok, grammar, tok.tokenize_str(other), mask, None)
                _count(ours, ok, "ours", valid, accepted)
            if plain_grammar is not None:
                _count(plain, ok, "plain", valid, _accepts(tok, plain_grammar, tokens, mask, None))
        ours["passing"] += ok["ours"]
        plain["passing"] += ok["plain"]
    return {
        **stats,
        "edgeqwen": ours,
        "plain_llguidance": plain,
        "compile_ms_p50": pct(compile_ms, 50),
        "compile_ms_p99": pct(compile_ms, 99),
        "plain_compile_ms_p50": pct(plain_ms, 50),
        "plain_compile_ms_p99": pct(plain_ms, 99),
        "mask_us_p50": pct(mask_us, 50),
        "mask_us_p99": pct(mask_us, 99),
        "mask_us_mean": statistics.fmean(mask_us) if mask_us else float("nan"),
        "checked_after": dict(after.most_common()),
        "fail_closed_reasons": dict(errors.most_common(10)),
    }


def _count(col: dict, ok: dict, name: str, valid: bool, accepted: bool) -> None:
    if valid:
        col["valid_accepted"] += accepted
        ok[name] = ok[name] and accepted
    else:
        col["invalid_accepted"] += accepted
        ok[name] = ok[name] and not accepted


def generate(data_dir: Path, n: int, model: Path | None, seed: int = 0) -> dict:
    """Answer ``n`` schemas (a fixed sample) with a tiny random model at T=1: every answer returned
    must validate; count the ones that did not survive resampling, and why."""
    import random

    from edgeqwen import Assistant
    from edgeqwen.runtime.relax import check

    if model is None:
        from make_test_models import build

        model = build("qwen2", ROOT / ".cache" / "tests" / "models", ("int4",))["int4"]
    files = sorted(data_dir.glob("*.json"))
    sample = random.Random(seed).sample(files, min(n, len(files)))
    bot = Assistant(str(model), policy="none", temperature=1.0, max_tokens=512)
    out = {"answers": 0, "returned_invalid": 0, "failed": 0, "failed_truncated": 0, "resampled": 0, "refused": 0}
    reasons: Counter[str] = Counter()
    for i, path in enumerate(sample):
        schema = json.loads(path.read_text())["schema"]
        bot.reset()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reply = bot.chat("Answer in JSON.", response_format=schema, seed=i)
        except GrammarError as exc:
            out["refused"] += 1
            reasons[f"refused: {str(exc)[:60]}"] += 1
            continue
        except StructuredOutputError as exc:
            out["answers"] += 1
            key = "failed" if exc.keyword else "failed_truncated"
            out[key] += 1
            reasons[f"{key}: {exc.keyword or str(exc)[:40]}"] += 1
            continue
        out["answers"] += 1
        out["resampled"] += reply.metrics.attempts > 1
        out["returned_invalid"] += check(json.loads(reply.text), schema) is not None
    return {**out, "reasons": dict(reasons.most_common(12))}


def table(r: dict) -> str:
    ours, plain = r["edgeqwen"], r["plain_llguidance"]
    n = r["schemas"]
    rows = [
        ("schemas compiled", ours["compiled"], plain["compiled"]),
        ("passing (all valid accepted, all invalid rejected)", ours["passing"], plain["passing"]),
        ("passing, share", f"{ours['passing'] / n:.1%}", f"{plain['passing'] / n:.1%}"),
        ("valid instances accepted", f"{ours['valid_accepted']} / {r['valid']}", f"{plain['valid_accepted']}"),
        ("invalid instances accepted", f"{ours['invalid_accepted']} / {r['invalid']}", f"{plain['invalid_accepted']}"),
        ("valid rejected, accepted with keys sorted", r["rejected_only_for_key_order"], ""),
        ("grammar exact (nothing checked after)", r["exact"], ""),
        (
            "compile time p50 / p99 (what compiled)",
            f"{r['compile_ms_p50']:.2f} / {r['compile_ms_p99']:.2f} ms",
            f"{r['plain_compile_ms_p50']:.2f} / {r['plain_compile_ms_p99']:.2f} ms",
        ),
        ("mask time p50 / p99 (per token)", f"{r['mask_us_p50']:.0f} / {r['mask_us_p99']:.0f} us", ""),
    ]
    out = ["| measure | edgeqwen | plain llguidance |", "|---|---|---|"]
    return "\n".join(out + [f"| {a} | {b} | {c} |" for a, b, c in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--generate", type=int, default=0, help="also answer N sampled schemas")
    parser.add_argument("--model", type=Path, help="for --generate (default: the tiny random Qwen2)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no data folder at {args.data}")
    result = run(args.data, args.limit)
    print(table(result))
    print("checked after the answer:", json.dumps(result["checked_after"]))
    print("fail-closed reasons:", json.dumps(result["fail_closed_reasons"], indent=1))
    if args.generate:
        result["generation"] = generate(args.data, args.generate, args.model)
        print("generation:", json.dumps(result["generation"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
