"""Answer from your own notes: find the notes nearest a question in meaning (text embeddings), then
let the model answer from them (retrieval-augmented generation), all on this machine.

    python examples/answer_from_notes.py [--notes DIR [--index FILE]] [--embedding-model qwen3-embedding-0.6b]
        [--model MODEL] [--reranker qwen3-reranker-0.6b] ["QUESTION"]

Needs an embedding model: ``edgeqwen pull qwen3-embedding-0.6b --backend llamacpp`` (~604 MiB).
The notes are embedded once as documents; the question as a query, with the task it serves
(Qwen3-Embedding reads a task before a query, not before a document). Vectors have length 1, so
a dot product is their cosine similarity, and the nearest notes go into the prompt. With
``--reranker`` (``edgeqwen pull qwen3-reranker-0.6b --backend llamacpp``), twice as many are
found by vector, then a reranker reads the question with each and the best go into the prompt.
``--notes DIR`` reads your own ``.txt`` and ``.md`` files instead of the notes below, each cut
into passages of at most 256 tokens at paragraph and sentence ends (``Embedder.split``). Their
vectors are kept in edgeqwen's cache, so a later run embeds only passages it has not seen (on
two cores a thousand passages take the better part of an hour).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from edgeqwen import Assistant, EdgeQwenError, Embedder, Reranker
from edgeqwen.embeddings import RETRIEVAL
from edgeqwen.hub import cache_dir

NOTES = [
    "The spare key for the shed is in the blue tin on the top shelf of the garage.",
    "Wi-Fi for guests: network 'garden-guest', password printed on the back of the router.",
    "The boiler was serviced on 3 March; the engineer said the pressure should read 1.2 bar.",
    "Recycling goes out on Tuesday evenings; garden waste every other Thursday.",
    "Grandma's lemon cake: 225 g butter, 225 g sugar, 4 eggs, 225 g self-raising flour, 2 lemons.",
    "The car's tyre pressure is 2.3 bar at the front and 2.1 bar at the back.",
]
SYSTEM = "Answer from the notes given, in one sentence; if they do not hold the answer, say so."


def nearest(notes: list[str], vectors: np.ndarray, query: np.ndarray, k: int = 2) -> list[tuple[float, str]]:
    """The ``k`` notes whose vectors are nearest ``query`` (cosine similarity), nearest first."""
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:k]
    return [(float(scores[i]), notes[i]) for i in order]


def read_notes(folder: Path, embedder: Embedder) -> list[str]:
    """The passages of every .txt and .md file under ``folder``, each file cut into chunks."""
    passages = []
    for file in sorted(p for p in folder.rglob("*") if p.suffix in (".txt", ".md") and p.is_file()):
        text = file.read_text(encoding="utf-8", errors="replace")
        # one line each: the passage's words, after the file's name
        passages += [f"{file.name}: {' '.join(chunk.split())}" for chunk in embedder.split(text, max_tokens=256)]
    return passages


def embed_with_cache(embedder: Embedder, passages: list[str], cache: Path) -> np.ndarray:
    """The passages' vectors: those in ``cache`` (by passage and model) read back, the rest embedded
    with a line of progress, then all written back."""
    key = {p: hashlib.sha256(f"{embedder.name}\n{p}".encode()).hexdigest() for p in passages}
    kept = dict(np.load(cache)) if cache.is_file() else {}
    new = list(dict.fromkeys(p for p in passages if key[p] not in kept))  # each once
    print(f"embedding {len(new)} passages ({len(passages) - len(new)} from the cache)...", file=sys.stderr)
    for i, vector in enumerate(embedder.embed_iter(new), 1):
        kept[key[new[i - 1]]] = vector
        if i % 20 == 0:
            print(f"  {i}/{len(new)}", file=sys.stderr)
    if new:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **{key[p]: kept[key[p]] for p in passages})  # what these notes hold now
    return np.stack([kept[key[p]] for p in passages])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What pressure should the boiler be at?")
    parser.add_argument("--embedding-model", default=None, help="default: the installed embedding model")
    parser.add_argument("--model", default=None, help="the model that answers (default: installed, or the demo)")
    parser.add_argument("--reranker", default=None, help="a reranker to order what the vectors found (optional)")
    parser.add_argument("--notes", type=Path, help="a folder of .txt and .md notes (default: the examples here)")
    parser.add_argument("--index", type=Path, help="where --notes' vectors are kept (default: in edgeqwen's cache)")
    args = parser.parse_args()
    try:
        with Embedder(args.embedding_model) as embedder:
            notes = read_notes(args.notes, embedder) if args.notes else NOTES
            if not notes:
                print(f"Error: found no .txt or .md notes under {args.notes}.", file=sys.stderr)
                return 1
            if args.notes:
                folder = hashlib.sha256(str(args.notes.resolve()).encode()).hexdigest()[:16]
                vectors = embed_with_cache(embedder, notes, args.index or cache_dir() / "notes" / f"{folder}.npz")
            else:
                vectors = embedder.embed_many(notes)
            query = embedder.embed(args.question, instruction=RETRIEVAL)
        hits = nearest(notes, vectors, query, k=4 if args.reranker else 2)
        if args.reranker:  # the question read with each candidate: a second, closer look
            with Reranker(args.reranker) as reranker:
                ranked = reranker.rerank(args.question, [note for _, note in hits], top_n=2)
            hits = [(r.score, r.document) for r in ranked]
        for score, note in hits:
            print(f"{score:.3f}  {note}")
        notes = "\n".join(f"- {note}" for _, note in hits)
        # an answer from notes quotes them: guesses copied from the prompt save decode steps
        with Assistant(args.model, system=SYSTEM, prompt_lookup=3) as bot:
            print("answer:", bot.chat(f"Notes:\n{notes}\n\nQuestion: {args.question}").text)
    except EdgeQwenError as exc:  # no embedding model installed, most likely: the message says how to get one
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
