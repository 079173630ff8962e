"""edgeqwen safety: check a prompt against a policy, train a model's activation probe."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import clean_errors, say

__all__ = ["safety"]


@click.group()
def safety() -> None:
    """Safety tools: check a prompt against a policy, train a model's activation probe."""


@safety.command("check")
@click.argument("text", required=False)
@click.option(
    "--policy",
    default="default",
    show_default=True,
    help="Safety policy: default | strict | pii | none, or a .json/.toml/.yaml file.",
)
@click.option(
    "--tool-result", is_flag=True, help="Check TEXT as a tool's result (instructions hidden in data), not a prompt."
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@clean_errors
def safety_check(text: str | None, policy: str, tool_result: bool, as_json: bool) -> None:
    """What the policy's input checks do with TEXT (or standard input), without a model: the
    decision, each finding and the reply a refusal gets. Exits 3 when it is refused. The
    activation probe and a guard model need the model, and are not run here."""
    from ..safety import Guard

    if text is None or text == "-":
        text = sys.stdin.read()
    guard = Guard(policy)
    decision = guard.check_tool_results([text]) if tool_result else guard.check_input(text)
    reply = guard.refusal_for(decision) if decision.action == "refuse" else None
    if as_json:
        events = [{"category": e.category, "action": e.action, "evidence": e.evidence} for e in decision.events]
        body = {"action": decision.action, "category": decision.category, "events": events, "reply": reply}
        click.echo(json.dumps(body, ensure_ascii=False))
    else:
        click.echo(decision.action + (f" ({decision.category})" if decision.category else ""))
        for e in decision.events:
            click.echo(f"  {e.category}: {e.action} ({e.evidence})")
        if reply is not None:
            click.echo(f"reply: {reply}")
    if decision.action == "refuse":
        sys.exit(3)


@safety.command("train-probe")
@click.argument("model")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="The safety-train corpus folder.")
@click.option("--per-source", default=200, show_default=True, help="Prompts per source and label.")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for the probe (default: beside the model).")
@click.option(
    "--backend",
    type=click.Choice(["llamacpp", "onnx"]),
    default="llamacpp",
    show_default=True,
    help="The build to train on: a probe holds for the one build it was trained on.",
)
@clean_errors
def train_probe(model: str, data: Path, per_source: int, out: Path | None, backend: str) -> None:
    """Train MODEL's harm probe on its own hidden states (a GGUF on llama.cpp, or an int4 ONNX build)."""
    from ..backends import load_backend
    from ..hub import resolve_model
    from ..safety.probe import train_and_save

    loaded = load_backend(backend, resolve_model(model, announce=say, backend=backend))

    def progress(done: int, total: int) -> None:
        if done % 250 == 0 or done == total:
            say(f"hidden states: {done}/{total}")

    probe, folder = train_and_save(loaded, data, per_source, out, progress)
    click.echo(f"Probe saved in {folder} (threshold {probe.threshold:.3f}; {probe.info['rows']} prompts).")
