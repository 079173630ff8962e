"""``edgeqwen embed``: texts to vectors from the shell, one JSON array a line (for jq, a script, a file)."""

from __future__ import annotations

import json

import click

from .answer import STDIN_WAIT, stdin_text, stdin_waiting
from .common import THREADS_HELP, clean_errors, say

__all__ = ["embed"]


@click.command()
@click.argument("texts", nargs=-1)
@click.option(
    "--model",
    "-m",
    help="An embedding model: a catalog name (qwen3-embedding-0.6b) or a GGUF file (default: the installed one).",
)
@click.option("--instruction", "-i", help="The task, for a search query (documents take none).")
@click.option("--dimensions", type=click.IntRange(1), help="Keep the first N numbers, rescaled to length 1.")
@click.option(
    "--split",
    "split_tokens",
    type=click.IntRange(1),
    metavar="N",
    help='Cut each text into passages of at most N tokens; print {"text", "embedding"} a line.',
)
@click.option("--context-length", type=click.IntRange(2), help="The longest text, in tokens (default: 8192).")
@click.option("--threads", type=click.IntRange(min=1), help=THREADS_HELP)
@click.option("--backend", default="auto", show_default=True, help="auto | llamacpp | onnx.")
@clean_errors
def embed(
    texts: tuple[str, ...],
    model: str | None,
    instruction: str | None,
    dimensions: int | None,
    split_tokens: int | None,
    context_length: int | None,
    threads: int | None,
    backend: str,
) -> None:
    """Print each TEXT's vector as a JSON array, a line each, in order: edgeqwen embed "first
    text" "second text". "-" reads a text from stdin (all of it), as does piped text and no TEXT.
    Vectors have length 1, so a dot product is their cosine similarity. --split N: a long document
    as passages of at most N tokens, cut at paragraph and sentence ends, each printed with its text."""
    if texts.count("-") > 1:
        raise click.UsageError('Only one "-": stdin holds one text.')
    if not texts:
        if not stdin_waiting(STDIN_WAIT):
            raise click.UsageError('Give the texts: edgeqwen embed "TEXT" ..., or pipe one in.')
        texts = ("-",)
    read = [stdin_text() if t == "-" else t for t in texts]
    from ..embeddings import Embedder

    with Embedder(model, backend=backend, context_length=context_length, threads=threads, announce=say) as model_:
        if split_tokens is not None:  # every text cut before any is read: a bad bound fails at once
            passages = [p for text in read for p in model_.split(text, max_tokens=split_tokens)]
            rows = model_.embed_iter(passages, instruction=instruction, dimensions=dimensions)
            for passage, row in zip(passages, rows, strict=True):
                click.echo(json.dumps({"text": passage, "embedding": row.tolist()}, ensure_ascii=False))
            return
        # a line as each vector comes: a long run interrupted keeps what it printed
        for row in model_.embed_iter(read, instruction=instruction, dimensions=dimensions):
            click.echo(json.dumps(row.tolist()))
