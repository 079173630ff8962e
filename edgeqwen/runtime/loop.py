"""The generation loop. Tokens are produced in :func:`generate_step`; :func:`stream_generate`
turns them into text chunks with stop handling and metrics.

``model`` is anything with the :class:`~edgeqwen.backends.base.LanguageModel` shape:
``prefill(ids) -> last logits`` (reusing whatever prefix its KV cache already holds),
``decode(token) -> logits``, ``context_length`` and ``last_reused``; for prompt log
probabilities also ``prefill_all(ids, read) -> last logits``, which hands ``read`` every
position's logits in order and reuses no cache. One with ``cancellable_prefill`` is handed the
answer's cancel event to stop a long prompt's reading too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np

from ..errors import GenerationCancelled, InvalidRequestError, PromptTooLongError
from ..generation_config import GenerationConfig
from ..tokenizer import Tokenizer
from ..types import Chunk, Metrics, TokenLogprob
from .lookup import find_draft, find_in_source
from .sampling import (
    Judge,
    LogitsProcessor,
    Sampler,
    log_softmax,
    make_judge,
    make_logits_processors,
    make_sampler,
    most_likely,
)

__all__ = ["Lookup", "check_logit_bias", "generate_step", "prefill", "prefill_all", "stream_generate"]


def generate_step(
    model,
    prompt_ids: Sequence[int],
    sampler: Sampler,
    processors: Sequence[LogitsProcessor] = (),
    max_tokens: int = 256,
    read_prompt: Callable[[np.ndarray], None] | None = None,
    lookup: Lookup | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield ``(token, logits)`` for each new token. The token the consumer stops on is never
    fed back, so the model's cache holds exactly the prompt and the tokens before it.

    A processor with a ``fast_forward(token_ids) -> list[int]`` method (a grammar) may force the
    next tokens; they are yielded with ``logits=None`` without sampling, and fed to the model in
    one forward pass together with the sampled token. ``read_prompt`` sees each prompt position's
    logits as the prefill computes them (``model.prefill_all``). ``lookup``: guess tokens by
    prompt lookup and have the model check them in one pass (:func:`_speculate`), for a model
    with ``verify``. ``cancel``, set while the prompt is read, raises GenerationCancelled where the
    model can stop there (:func:`prefill`)."""
    tokens = np.empty(len(prompt_ids) + max_tokens, dtype=np.int64)
    n = len(prompt_ids)
    tokens[:n] = prompt_ids
    forcing = [p for p in processors if hasattr(p, "fast_forward")]
    logits = (
        prefill(model, prompt_ids, cancel)
        if read_prompt is None
        else prefill_all(model, prompt_ids, read_prompt, cancel)
    )
    if lookup is not None and hasattr(model, "verify"):
        yield from _speculate(model, tokens, n, logits, sampler, processors, forcing, max_tokens, lookup)
        return
    produced = 0
    while True:
        for process in processors:
            logits = process(tokens[:n], logits)
        token = sampler(logits)
        yield token, logits
        tokens[n] = token
        n += 1
        produced += 1
        feed = [token]
        for forcer in forcing:
            for forced in forcer.fast_forward(tokens[:n])[: max_tokens - produced]:
                yield forced, None
                tokens[n] = forced
                n += 1
                produced += 1
                feed.append(forced)
        if produced >= max_tokens:
            return
        logits = model.decode(token) if len(feed) == 1 else model.extend(feed)


def prefill(model, token_ids: Sequence[int], cancel: threading.Event | None = None) -> np.ndarray:
    """``model.prefill``, stoppable by ``cancel`` where the model says it can be
    (``cancellable_prefill``): a 4,000-token prompt read at 10 tokens/s holds the model for minutes."""
    return model.prefill(token_ids, **_stoppable(model, cancel))


def prefill_all(
    model, token_ids: Sequence[int], read: Callable[[np.ndarray], None], cancel: threading.Event | None = None
) -> np.ndarray:
    """``model.prefill_all`` (every position's logits: a prompt scored), stoppable as :func:`prefill` is."""
    return model.prefill_all(token_ids, read, **_stoppable(model, cancel))


def _stoppable(model, cancel: threading.Event | None) -> dict[str, threading.Event]:
    """``cancel=`` for a model whose prompt read can stop, nothing for one that takes no such argument."""
    return {"cancel": cancel} if cancel is not None and getattr(model, "cancellable_prefill", False) else {}


def _cached(model, prompt_ids: Sequence[int]) -> int:
    """How much of the prompt a model stopped part-way holds (the part read, for the metrics)."""
    return min(len(prompt_ids), len(getattr(model, "tokens", prompt_ids)))


@dataclass
class Lookup:
    """Prompt lookup for :func:`generate_step`: guess up to ``width`` tokens a step (lookup.py),
    accept them by ``judge`` (the sampler's rule); ``drafted`` / ``accepted`` count the guesses.
    The guess keeps its length after misses: llama.cpp checks rows four at a time, so a pass of
    four rows costs about what one of two does (docs/performance.md, "Prompt lookup"). After a
    guess that fails at once, guessing rests for ``rest`` steps, doubling up to ``MAX_WAIT``."""

    width: int
    judge: Judge
    source: np.ndarray | None = None  # a prediction's tokens, guessed from first (find_in_source)
    source_at: int = 0  # where the last guess from it ended
    drafted: int = 0
    accepted: int = 0
    rest: int = 0  # steps to decode without guessing: after a pass whose guesses all failed,
    wait: int = 0  # 1, 2, 4 ... up to MAX_WAIT of them, so text that repeats nothing costs little

    def missed(self) -> None:
        self.wait = min(MAX_WAIT, 2 * self.wait or 1)
        self.rest = self.wait


MAX_WAIT = 16


def _speculate(
    model,
    tokens: np.ndarray,
    n: int,
    logits: np.ndarray,
    sampler: Sampler,
    processors: Sequence[LogitsProcessor],
    forcing: Sequence[LogitsProcessor],
    max_tokens: int,
    lookup: Lookup,
) -> Iterator[tuple[int, np.ndarray | None]]:
    """:func:`generate_step` with guesses: the last token, the tokens a grammar forces after it and
    the guessed ones go through the model in one pass (``model.verify``), each guessed position's
    logits judge the guess after it, and the first guess judged wrong is replaced by the judge's
    token and the cache rewound to it. Each token is still chosen from its own position's logits,
    after every processor; forced tokens come out as they would without guesses."""

    def processed(row: np.ndarray) -> np.ndarray:
        for process in processors:
            row = process(tokens[:n], row)
        return row

    row = processed(logits)
    token, produced, kept = sampler(row), 0, n
    rows = draft = tokens[:0]  # the pass being read: its rows and guesses; `at` its next row
    at = 0
    forced: list[int] = []  # tokens a grammar forced at the pass's start, to come out first
    try:
        while True:
            kept = n  # the cache holds tokens[:n] and no token after them while this one is out
            yield token, row
            tokens[n] = token
            n += 1
            produced += 1
            if produced >= max_tokens:
                return
            if not forced and at == len(rows):  # a new pass: `token`, what a grammar forces, the guesses
                for forcer in forcing:
                    for f in forcer.fast_forward(tokens[: n + len(forced)])[: max_tokens - produced - len(forced)]:
                        tokens[n + len(forced)] = f
                        forced.append(f)
                m = n + len(forced)
                room = 0 if lookup.rest else min(lookup.width, max_tokens - produced - len(forced) - 1)
                draft = tokens[:0]
                if lookup.source is not None:
                    draft, lookup.source_at = find_in_source(tokens[:m], lookup.source, room, lookup.source_at)
                if not draft.size:
                    draft = find_draft(tokens[:m], room)
                lookup.rest = max(0, lookup.rest - 1)
                feed = [token, *forced, *draft.tolist()]
                if draft.size:  # the rows after the last forced token and after each guess
                    rows = model.verify(feed, draft.size + 1)
                else:
                    rows = (model.extend(feed) if forced else model.decode(token))[None]
                lookup.drafted += draft.size
                at = 0
            if forced:
                token, row = forced.pop(0), None
                continue
            row = processed(rows[at])
            if at == draft.size:  # no guess here: the model's own choice (a decode, or after all were taken)
                token = sampler(row)
                lookup.wait = 0 if draft.size else lookup.wait
                at += 1
                continue
            guess = int(draft[at])
            token = lookup.judge(row, guess)
            if token == guess:
                lookup.accepted += 1
                at += 1
                continue
            if not at:
                lookup.missed()
            else:
                lookup.wait = 0
            model.rewind(n)  # the guesses from here on were never written
            rows, draft, at = rows[:0], draft[:0], 0
    finally:
        if len(model.tokens) > kept:  # a stop on a guessed token: it and what followed it were fed
            model.rewind(kept)


def check_logit_bias(config: GenerationConfig, vocab_size: int) -> None:
    """An InvalidRequestError for a ``logit_bias`` id outside the vocabulary (the config alone
    cannot know it): before the answer starts, so a server can still answer 400."""
    biased = [t for t, _ in config.logit_bias if t >= vocab_size]
    if biased:
        raise InvalidRequestError(
            f"logit_bias names token id {biased[0]}, outside this model's vocabulary ({vocab_size} tokens).",
            "logit_bias",
        )


def _mask_padding(vocab_size: int) -> LogitsProcessor:
    """Qwen's logits are 151,936 wide but only 151,665 ids are tokens: never sample the padding."""

    def process(token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        if logits.shape[-1] > vocab_size:
            logits = logits.copy()
            logits[vocab_size:] = -np.inf
        return logits

    return process


class _Logprobs:
    """A processor that keeps the model's own log probabilities of each step: run first, before
    any other changes the logits (they change them in place)."""

    def __init__(self, tokenizer: Tokenizer, top: int) -> None:
        self.tokenizer = tokenizer
        self.top = top
        self.row = np.zeros(0, dtype=np.float32)

    def __call__(self, token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        self.row = log_softmax(logits[: self.tokenizer.vocab_size])  # Qwen's padding ids are no tokens
        return logits

    def of(self, token: int) -> TokenLogprob:
        """What the step that chose ``token`` said of it and of the most likely tokens."""
        return _said(self.tokenizer, self.row, token, self.top)


def _said(tokenizer: Tokenizer, row: np.ndarray, token: int, top: int) -> TokenLogprob:
    """``token`` and the ``top`` most likely tokens, as one step's log probabilities ``row`` rate them."""

    def one(t: int, logprob: float) -> TokenLogprob:
        return TokenLogprob(t, tokenizer.decode([t]), tokenizer.token_bytes(t), logprob)

    return replace(one(token, float(row[token])), top=tuple(one(t, lp) for t, lp in most_likely(row, top)))


class _PromptLogprobs:
    """Reads the prompt's positions as the prefill computes them: position i's logits rate
    token i + 1. The first token has nothing before it, so no rating (None, as OpenAI's echo)."""

    def __init__(self, tokenizer: Tokenizer, prompt_ids: Sequence[int], top: int) -> None:
        self.tokenizer, self.prompt_ids, self.top = tokenizer, prompt_ids, top
        self.said: list[TokenLogprob | None] = [None]

    def __call__(self, logits: np.ndarray) -> None:
        at = len(self.said)
        if at < len(self.prompt_ids):  # the last position rates the answer's first token, not the prompt's
            row = log_softmax(logits[: self.tokenizer.vocab_size])
            self.said.append(_said(self.tokenizer, row, self.prompt_ids[at], self.top))


def _unforced(process: LogitsProcessor) -> LogitsProcessor:
    """``process`` without its ``fast_forward``: a token a grammar forces is then chosen by a step
    of the model like any other, so it has a log probability to report."""
    return lambda token_ids, logits: process(token_ids, logits)


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of ``text`` that could start a stop string."""
    best = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), best, -1):
            if stop.startswith(text[-k:]):
                best = k
                break
    return best


# The last prompt whose state a prefill check read, per model. A continued answer's check at the
# end of that same prompt (Open WebUI's Continue sends the answer so far back after it) reads the
# state from here: prefilling that prompt again would drop the answer from the cache.
_CHECKED: WeakKeyDictionary[Any, tuple[tuple[int, ...], np.ndarray]] = WeakKeyDictionary()


def stream_generate(
    model,
    tokenizer: Tokenizer,
    prompt_ids: Sequence[int],
    config: GenerationConfig | None = None,
    processors: Sequence[LogitsProcessor] = (),
    stop_token_ids: Sequence[int] = (),
    cancel: threading.Event | None = None,
    prefill_check: Callable[[np.ndarray], str | None] | None = None,
    check_at: int = 0,
) -> Iterator[Chunk]:
    """Yield :class:`Chunk` s of valid UTF-8 text; the last one carries ``finish_reason`` and
    :class:`Metrics`. Stop tokens and stop strings end the answer and are not emitted.
    ``prefill_check`` sees the prompt's last hidden state (``model.last_hidden``) once the prefill
    is done; a text it returns is the whole answer, finish reason ``refused``. ``check_at``: the
    state it sees is that of the first ``check_at`` tokens instead (prefilled first, unless the last
    check read that very prompt; the rest then reuses them from the cache)."""
    config = config or GenerationConfig()
    prompt_ids = [int(t) for t in prompt_ids]
    if not prompt_ids:
        raise InvalidRequestError("The prompt is empty; give at least one token of text.")
    context = model.context_length
    if len(prompt_ids) >= context:
        raise PromptTooLongError(len(prompt_ids), context)
    bad = [t for t in prompt_ids if not 0 <= t < tokenizer.vocab_size]
    if bad:
        raise InvalidRequestError(f"Token id {bad[0]} is outside this model's vocabulary.")
    check_logit_bias(config, tokenizer.vocab_size)
    max_tokens = min(config.max_tokens, context - len(prompt_ids))
    stops = set(stop_token_ids) | set(config.stop_token_ids)
    # one stream for the sampler and the judge of guesses; greedy draws nothing
    rng = np.random.default_rng(config.seed) if config.temperature > 0 else None
    shape = {
        "typical_p": config.typical_p,
        "temperature_last": config.temperature_last,
        "top_a": config.top_a,
        "tfs": config.tfs,
        "order": config.sampler_order,
    }
    sampler = make_sampler(config.temperature, config.top_p, config.top_k, config.min_p, rng=rng, **shape)
    lookup = None
    if config.lookup_width > 0:
        judge = make_judge(config.temperature, config.top_p, config.top_k, config.min_p, rng=rng, **shape)
        source = np.asarray(tokenizer.encode(config.prediction), dtype=np.int64) if config.prediction else None
        lookup = Lookup(config.lookup_width, judge, source)
    procs = make_logits_processors(config, processors)
    procs.insert(0, _mask_padding(tokenizer.vocab_size))
    logprobs = _Logprobs(tokenizer, config.logprobs) if config.logprobs is not None else None
    if logprobs is not None:
        procs = [logprobs, *(_unforced(p) if hasattr(p, "fast_forward") else p for p in procs)]
    top = config.prompt_logprobs
    scored = _PromptLogprobs(tokenizer, prompt_ids, top) if top is not None else None
    detok = tokenizer.detokenizer()

    start = time.perf_counter()
    first = last = start
    generated, finish = 0, None
    pending, matched = "", None  # the text not yet given out; the stop string that ended it
    early = None  # what the cache held before a check part-way through (the rest then reuses the part)
    prefilled = len(prompt_ids)
    if prefill_check is not None and 0 < check_at < len(prompt_ids):
        head = tuple(prompt_ids[:check_at])
        known = _CHECKED.get(model)
        if known is not None and known[0] == head:
            hidden = known[1]
        else:
            try:
                prefill(model, head, cancel)
            except GenerationCancelled:
                first = last = time.perf_counter()
                finish, prefilled = "cancelled", _cached(model, prompt_ids)
            early, hidden = int(getattr(model, "last_reused", 0)), model.last_hidden
            if hidden is not None and finish is None:
                _CHECKED[model] = (head, hidden)
        refusal = prefill_check(hidden) if finish is None else None
        prefill_check = None
        if refusal is not None:
            first = last = time.perf_counter()
            pending, finish = refusal, "refused"
            prefilled, early = (0, 0) if early is None else (check_at, early)
    steps = generate_step(model, prompt_ids, sampler, procs, max_tokens, scored, lookup, cancel)
    try:
        for token, _logits in steps if finish is None else ():
            last = time.perf_counter()
            if generated == 0:
                first = last
                if prefill_check is not None:
                    if model.last_hidden is not None:
                        _CHECKED[model] = (tuple(prompt_ids), model.last_hidden)
                    refusal = prefill_check(model.last_hidden)
                    if refusal is not None:
                        pending, finish = refusal, "refused"
                        break
            generated += 1
            if token in stops:
                finish = "stop"
                break
            pending += detok.add(token)
            said = logprobs.of(token) if logprobs is not None else None
            hit, matched = min(((i, s) for s in config.stop if (i := pending.find(s)) >= 0), default=(-1, None))
            if matched is not None:
                yield Chunk(pending[:hit], token, logprob=said)
                pending, finish = "", "stop_string"
                break
            keep = _held_back(pending, config.stop) if config.stop else 0
            out, pending = pending[: len(pending) - keep], pending[len(pending) - keep :]
            yield Chunk(out, token, logprob=said)
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
    except GenerationCancelled:  # while the prompt was read (the part read stays cached)
        first = last = time.perf_counter()
        finish, prefilled = "cancelled", _cached(model, prompt_ids)
    finally:
        steps.close()
    if finish is None:
        finish = "length"
    tail = pending + (detok.finish() if finish not in ("stop_string", "refused") else "")
    reused = early if early is not None else int(getattr(model, "last_reused", 0))
    metrics = Metrics(
        prompt_tokens=len(prompt_ids),
        cached_tokens=reused,
        prefill_tokens=prefilled - reused,
        generated_tokens=generated,
        ttft_s=first - start,
        prefill_s=first - start,
        decode_s=last - first,
        finish_reason=finish,
        drafted_tokens=lookup.drafted if lookup is not None else 0,
        accepted_tokens=lookup.accepted if lookup is not None else 0,
        stop_sequence=matched if finish == "stop_string" else None,
    )
    said = tuple(scored.said) if scored is not None and len(scored.said) == len(prompt_ids) else None
    yield Chunk(tail, None, finish, metrics, prompt_logprobs=said)
