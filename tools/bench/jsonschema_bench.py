"""JSONSchemaBench (MaskBench-style) over ../shared/data/jsonschemabench with edgeqwen's grammar engine.

For each schema: does it compile (unsupported keywords fail closed with a GrammarError), does the
grammar accept every valid instance token by token (compact JSON, real Qwen tokenizer) and reject
every invalid one, compile time, mask time per token. The grammar here is the schema as given
(``max_string_length=None``): edgeqwen's decoding-time narrowing (bounded strings, no extra
properties) is left out so that acceptance is measured against the schema itself.

    python tools/bench/jsonschema_bench.py [DATA_DIR] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from edgeqwen.errors import GrammarError  # noqa: E402
from edgeqwen.runtime.formats import ResponseFormat  # noqa: E402
from edgeqwen.runtime.grammar import GrammarEngine  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "jsonschemabench"
QWEN_STOPS = (151643, 151645)


def qwen_tokenizer_json() -> str:
    from qwen_tokenizer_json import build_tokenizer_json

    return json.dumps(build_tokenizer_json())


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(data_dir: Path, limit: int | None = None) -> dict:
    from llguidance import LLMatcher

    engine = GrammarEngine(qwen_tokenizer_json(), 151936, QWEN_STOPS)
    tok = engine.tokenizer
    mask = np.zeros((151936 + 31) // 32, dtype=np.int32)
    files = sorted(data_dir.glob("*.json"))[:limit]
    stats = {
        "schemas": 0,
        "compiled": 0,
        "fail_closed": 0,
        "passing": 0,
        "valid": 0,
        "valid_accepted": 0,
        "invalid": 0,
        "invalid_accepted": 0,
        "tokens": 0,
    }
    compile_ms, mask_us, errors = [], [], {}
    for path in files:
        case = json.loads(path.read_text())
        stats["schemas"] += 1
        fmt = ResponseFormat("json_schema", schema=case["schema"], max_string_length=None)
        start = time.perf_counter()
        try:
            grammar = engine.compile(fmt)
        except GrammarError as exc:
            stats["fail_closed"] += 1
            msg = str(exc)
            key = msg.split("compiled: ", 1)[1][:70] if "compiled: " in msg else msg.split(" that ")[0][:70]
            errors[key] = errors.get(key, 0) + 1
            continue
        compile_ms.append((time.perf_counter() - start) * 1000)
        stats["compiled"] += 1
        ok = True
        for test in case["tests"]:
            text = json.dumps(test["data"], separators=(",", ":"), ensure_ascii=False)
            tokens = tok.tokenize_str(text)
            matcher = LLMatcher(tok, grammar, log_level=0)
            accepted = True
            for t in tokens:
                if test["valid"]:
                    t0 = time.perf_counter()
                    matcher.unsafe_compute_mask_ptr(mask.ctypes.data, mask.nbytes)
                    mask_us.append((time.perf_counter() - t0) * 1e6)
                    stats["tokens"] += 1
                if not matcher.consume_token(t):
                    accepted = False
                    break
            accepted = accepted and matcher.is_accepting()
            if test["valid"]:
                stats["valid"] += 1
                stats["valid_accepted"] += accepted
                ok = ok and accepted
            else:
                stats["invalid"] += 1
                stats["invalid_accepted"] += accepted
                ok = ok and not accepted
        stats["passing"] += ok
    return {
        **stats,
        "compile_ms_p50": pct(compile_ms, 50),
        "compile_ms_p99": pct(compile_ms, 99),
        "mask_us_p50": pct(mask_us, 50),
        "mask_us_p99": pct(mask_us, 99),
        "mask_us_mean": statistics.fmean(mask_us) if mask_us else float("nan"),
        "fail_closed_reasons": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:10]),
    }


def table(r: dict) -> str:
    rows = [
        ("schemas", r["schemas"]),
        ("compiled", r["compiled"]),
        ("failed closed (clear GrammarError)", r["fail_closed"]),
        ("passing (all valid accepted, all invalid rejected)", r["passing"]),
        ("valid instances accepted", f"{r['valid_accepted']} / {r['valid']}"),
        ("invalid instances wrongly accepted", f"{r['invalid_accepted']} / {r['invalid']}"),
        ("compile time p50 / p99", f"{r['compile_ms_p50']:.2f} / {r['compile_ms_p99']:.2f} ms"),
        ("mask time p50 / p99 (per token)", f"{r['mask_us_p50']:.0f} / {r['mask_us_p99']:.0f} us"),
    ]
    out = ["| measure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no data folder at {args.data}")
    result = run(args.data, args.limit)
    print(table(result))
    print("fail-closed reasons:", json.dumps(result["fail_closed_reasons"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
