"""The commands about this machine: probe (what fits and how fast) and bench (measure a model)."""

from __future__ import annotations

import click

from ..model import KV_CACHE_TYPES
from .common import THREADS_HELP, clean_errors, say

__all__ = ["bench", "probe"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--quick",
    is_flag=True,
    help="Measure nothing: the memory bandwidth an earlier probe kept (~0.4 s to measure), and no first timing of "
    "the CPU backends (seconds, once per machine).",
)
@click.option("--model", "model", help="Ask about one catalog model.")
@click.option("--context", type=int, help="Ask about this context length.")
@click.option(
    "--calibrate",
    is_flag=True,
    help="First time each installed CPU backend here (twice, interleaved; seconds each; llama.cpp on a stand-in of "
    "a Qwen model when none is installed, no download); kept for this machine.",
)
@clean_errors
def probe(as_json: bool, quick: bool, model: str | None, context: int | None, calibrate: bool) -> None:
    """Read this machine and say which model, build, context and backend fit, and how fast."""
    import json

    from ..catalog import get_model
    from ..hub import read_machine
    from ..probe import plan
    from ..probe.report import build_report, format_report

    if model is not None:
        model = get_model(model).name
    if calibrate:
        from ..bench import calibrate_machine

        calibrate_machine(say=say)
    snap, calibration, _ = read_machine(measure=not quick)
    if calibration is None and not quick:
        from ..bench import first_timing

        calibration = first_timing(snap, say)
    result = plan(snap, model=model, context=context, calibration=calibration)
    if as_json:
        click.echo(json.dumps(build_report(snap, result), indent=2))
    else:
        click.echo(format_report(snap, result))


@click.command()
@click.argument("model", required=False)
@click.option("--prompt-tokens", "-p", default=128, show_default=True, help="Prompt length (random token ids).")
@click.option("--gen-tokens", "-n", default=64, show_default=True, help="Tokens to generate (stop tokens ignored).")
@click.option("--runs", "-r", default=3, show_default=True, help="Measured runs (after one warm-up).")
@click.option("--threads", type=click.IntRange(min=1), help=THREADS_HELP)
@click.option("--context-length", type=int, help="KV cache size (default: prompt + generated).")
@click.option("--backend", default="auto", show_default=True, help="auto | llamacpp | onnx.")
@click.option("--kv-cache-type", type=click.Choice(KV_CACHE_TYPES), help="llama.cpp's KV cache type (default f16).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@clean_errors
def bench(
    model: str | None,
    prompt_tokens: int,
    gen_tokens: int,
    runs: int,
    threads: int | None,
    context_length: int | None,
    backend: str,
    kv_cache_type: str | None,
    as_json: bool,
) -> None:
    """Measure prefill / decode tokens/s, time to first token, load time and peak memory."""
    import json

    from ..bench import run_bench

    r = run_bench(
        model, prompt_tokens, gen_tokens, runs, threads, context_length, backend, say, kv_cache_type=kv_cache_type
    )
    if as_json:
        click.echo(json.dumps(r.as_dict(), indent=2))
        return
    mib = 2**20
    click.echo(
        f"{r.model}: {r.prompt_tokens} prompt + {r.gen_tokens} generated tokens, {r.threads} threads, "
        f"median of {r.runs} runs (min-max)"
    )
    for label, s, unit in (("prefill", r.prefill_tps, "tok/s"), ("decode", r.decode_tps, "tok/s")):
        click.echo(f"  {label:<8}{s.median:9.1f} {unit}  ({s.min:.1f}-{s.max:.1f})")
    click.echo(f"  TTFT    {r.ttft_s.median * 1000:9.1f} ms     ({r.ttft_s.min * 1000:.1f}-{r.ttft_s.max * 1000:.1f})")
    click.echo(f"  load    {r.load_s:9.2f} s")
    click.echo(
        f"  peak RSS {r.peak_rss_bytes / mib:8.0f} MiB = {r.memory_ratio:.2f}x (model files "
        f"{r.model_bytes / mib:.0f} MiB + KV cache {r.kv_cache_bytes / mib:.0f} MiB"
        f"{f', {r.kv_cache_type}' if r.kv_cache_type else ''})"
    )
