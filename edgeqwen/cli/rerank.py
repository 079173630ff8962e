"""``edgeqwen rerank``: documents ordered by how well each answers a query, from the shell, one
JSON object a line, best first (for jq, a script, the second stage of a search)."""

from __future__ import annotations

import json

import click

from .answer import STDIN_WAIT, stdin_text, stdin_waiting
from .common import THREADS_HELP, clean_errors, say

__all__ = ["rerank"]


@click.command()
@click.argument("query")
@click.argument("documents", nargs=-1)
@click.option(
    "--model",
    "-m",
    help="A reranker: a catalog name (qwen3-reranker-0.6b) or a GGUF file (default: the installed one).",
)
@click.option("--top", "top_n", type=click.IntRange(1), help="Print the best N only.")
@click.option("--instruction", "-i", help="The task, one sentence (default: web search: passages that answer).")
@click.option(
    "--context-length", type=click.IntRange(2), help="The most tokens of a query and one document (default: 8192)."
)
@click.option("--threads", type=click.IntRange(min=1), help=THREADS_HELP)
@click.option("--backend", default="auto", show_default=True, help="auto | llamacpp | onnx.")
@clean_errors
def rerank(
    query: str,
    documents: tuple[str, ...],
    model: str | None,
    top_n: int | None,
    instruction: str | None,
    context_length: int | None,
    threads: int | None,
    backend: str,
) -> None:
    """Print each DOCUMENT's place as {"index", "score", "document"}, a line each, best first:
    edgeqwen rerank "capital of France?" "Gravity pulls." "Paris is the capital." With no
    DOCUMENT, or "-", each non-empty line of stdin is one (grep -h . notes/* | edgeqwen rerank "..."). A
    score is from 0 to 1; a document longer than the window is judged by its beginning."""
    if documents == ("-",) or not documents:
        if not documents and not stdin_waiting(STDIN_WAIT):
            raise click.UsageError('Give the documents: edgeqwen rerank "QUERY" "DOC" ..., or pipe them a line each.')
        documents = tuple(line for line in stdin_text().splitlines() if line.strip())
        if not documents:
            raise click.UsageError("stdin held no documents: give one a line.")
    from ..rerank import Reranker

    with Reranker(model, backend=backend, context_length=context_length, threads=threads, announce=say) as model_:
        for ranked in model_.rerank(query, documents, top_n=top_n, instruction=instruction):
            click.echo(json.dumps({"index": ranked.index, "score": ranked.score, "document": ranked.document}))
