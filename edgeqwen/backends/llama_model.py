"""One llama.cpp context with its KV cache: the ``LanguageModel`` the llama.cpp backend's loop
drives (:mod:`.llamacpp`).

Only the low-level bindings of ``llama-cpp-python`` are used (``llama_cpp.llama_cpp``): one model,
one context, one ``llama_batch`` reused for every call, ``llama_decode``, and the last position's
logits read through ``llama_get_logits_ith`` as a numpy view of llama.cpp's own buffer (no copy;
valid until the next call, which is all :func:`~edgeqwen.runtime.loop.generate_step` needs). A
prompt that extends the cached one prefills only the new tokens: the rest of the sequence is
removed from llama.cpp's KV cache (``llama_memory_seq_rm``), which is kept in f16 unless
``kv_cache_type`` asks for q8_0 or q4_0.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EdgeQwenError, GenerationCancelled, InvalidRequestError, ModelLoadError
from ..gguf import GgufInfo
from ..model import DEFAULT_KV_CACHE_TYPE, KV_CACHE_TYPES, checked_kv_cache_type
from . import amx
from .base import reusable_prefix
from .llama_bindings import bindings, last_log, set_fields
from .llama_thread import on_llama_thread
from .prefixes import KeptPrefixes, room_for
from .threads import BusyCores, thread_count, threads_for

__all__ = ["BATCH", "SCORE_BATCH", "LlamaCppModel", "ggml_kv_type"]

BATCH = 512  # tokens per llama_decode call while prefilling (llama.cpp's own default n_batch)
ABORTED = 2  # llama_decode's return when the abort callback stopped it
QUANT_BLOCK = 32  # values per block of a q8_0 / q4_0 KV cache
# tokens per call while scoring a prompt, every position's logits out: 74 MiB of them for Qwen's
# 151,936-wide rows, where a 512-token batch would hold 297 MiB, for no more speed (64: 5% slower)
SCORE_BATCH = 128


@dataclass(frozen=True)
class _Kept:
    """The last prompt's logits (and hidden state), while the cache holds that prompt as computed.
    llama.cpp runs a step of fewer than 64 tokens through other kernels than a longer one (logits
    up to ~0.9 apart on the demo), so running a cached prompt's last tokens again does not give
    the logits its fresh prefill gave (docs/performance.md, "Reproducible answers")."""

    prompt: tuple[int, ...]
    capture: bool
    logits: np.ndarray
    hidden: np.ndarray | None


class LlamaCppModel:
    """One llama.cpp context with its KV cache; implements the ``LanguageModel`` protocol."""

    def __init__(
        self,
        info: GgufInfo,
        context_length: int,
        threads: int | None = None,
        use_mmap: bool = False,
        flash_attn: bool | None = None,
        extra_buffers: bool | None = None,  # None: unless this build's AMX kernels fail here
        kv_cache_type: str = DEFAULT_KV_CACHE_TYPE,
    ) -> None:
        ll = bindings()
        self.info = info
        self.context_length = context_length
        self.kv_cache_type = kv_cache_type
        ggml_type = ggml_kv_type(ll, info, kv_cache_type, flash_attn)
        self.threads = thread_count(threads)
        # Threads not given: each answer leaves the cores other processes keep busy to them.
        self._busy = BusyCores.for_threads(self.threads) if threads is None else None
        self.threads_used = self.threads
        mparams = ll.llama_model_default_params()
        # Without mmap llama.cpp reads the file into its own buffers (and repacks Q4_0 for the CPU's
        # SIMD width there); with it, the mapped file stays resident beside the repacked copy.
        mode = ll.LLAMA_LOAD_MODE_MMAP if use_mmap else ll.LLAMA_LOAD_MODE_NONE
        set_fields(mparams, n_gpu_layers=0, load_mode=mode)
        if extra_buffers is None:
            extra_buffers = amx.extra_buffers_allowed(ll, info.path)
        set_fields(mparams, use_extra_bufts=extra_buffers)
        self._model = on_llama_thread(lambda: ll.llama_model_load_from_file(str(info.path).encode(), mparams))
        if not self._model:
            raise ModelLoadError(
                f"llama.cpp could not load {info.path} ({last_log()}). Download it again "
                "(`edgeqwen pull MODEL --backend llamacpp --force`) or update llama-cpp-python."
            )
        cparams = ll.llama_context_default_params()
        batch = min(BATCH, context_length)
        set_fields(cparams, n_ctx=context_length, n_batch=batch, n_ubatch=batch, n_seq_max=1, no_perf=True)
        set_fields(cparams, n_threads=self.threads, n_threads_batch=self.threads)
        # each position's own hidden state (the probe's, an embedding's): a GGUF that declares a
        # pooling (Qwen3-Embedding's: last token) would otherwise have it pooled, and ith reads garbage
        set_fields(cparams, pooling_type=ll.LLAMA_POOLING_TYPE_NONE)
        if flash_attn is not None:  # None: llama.cpp's own default (auto)
            set_fields(cparams, flash_attn_type=ll.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else 0)
        set_fields(cparams, type_k=ggml_type, type_v=ggml_type)
        self._ctx = on_llama_thread(lambda: ll.llama_init_from_model(self._model, cparams))
        if not self._ctx:
            ll.llama_model_free(self._model)
            raise ModelLoadError(
                f"llama.cpp could not create a {context_length}-token context ({last_log()}); a shorter context "
                "needs less memory (--context-length, or context_length= in Python)."
            )
        self._ll = ll
        self._memory = ll.llama_get_memory(self._ctx)
        self.n_vocab = ll.llama_vocab_n_tokens(ll.llama_model_get_vocab(self._model))
        self._batch_size = int(cparams.n_batch)
        self._batch = ll.llama_batch_init(self._batch_size, 0, 1)
        # numpy views of the batch's arrays: one sequence (id 0), so seq ids are written once.
        n = self._batch_size
        self._tok = np.ctypeslib.as_array(self._batch.token, shape=(n,))
        self._pos = np.ctypeslib.as_array(self._batch.pos, shape=(n,))
        self._want = np.ctypeslib.as_array(ctypes.cast(self._batch.logits, ctypes.POINTER(ctypes.c_int8)), shape=(n,))
        np.ctypeslib.as_array(self._batch.n_seq_id, shape=(n,))[:] = 1
        for i in range(n):
            self._batch.seq_id[i][0] = 0
        self.tokens: list[int] = []  # what the KV cache holds, position by position
        self.last_reused = 0
        # llama.cpp asks this between the operations of a batch while a prefill may be cancelled
        # (by the answer's cancel event, or Ctrl-C while the batch runs)
        self._cancel: threading.Event | None = None
        self._interrupted = False
        self._abort = ll.ggml_abort_callback(
            lambda _data: self._interrupted or (self._cancel is not None and self._cancel.is_set())
        )
        self.n_embd = ll.llama_model_n_embd(self._model)
        self.capture_hidden = False  # keep the prompt's last hidden state (safety probe)
        self.last_hidden: np.ndarray | None = None
        self._kept: _Kept | None = None
        # prefixes kept apart (Request.keep_prefix): each as llama.cpp's state of the sequence
        self._prefixes: KeptPrefixes[ctypes.Array[ctypes.c_uint8]] = KeptPrefixes(context_length)

    # -- cache ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the cached prompt and the kept prefixes."""
        self._clear_cache()
        self._prefixes.clear()

    def keep_prefix(self, token_ids: Sequence[int]) -> None:
        """Keep this prefix's KV apart once a prefill computes it (a prefill that computes a longer
        prompt stops at the prefix to copy it), and put it back for a later prompt that starts
        with it, whatever ran between (prefixes.py says which are kept)."""
        self._prefixes.want(token_ids)

    @property
    def kept_bytes(self) -> int:
        """What the kept prefixes hold, beside the cache."""
        return sum(len(state) for state in self._prefixes.copies())

    def _save_prefix(self) -> None:
        """Copy out the sequence, which holds a prefix waiting to be kept and nothing more."""
        key = tuple(self.tokens)
        size = self._ll.llama_state_seq_get_size(self._ctx, 0)
        if not room_for(size):
            self._prefixes.drop(key)
            return
        state = (ctypes.c_uint8 * size)()
        if self._ll.llama_state_seq_get_data(self._ctx, state, size, 0) == size:
            self._prefixes.put(key, state)
        else:
            self._prefixes.drop(key)

    def _restore(self, token_ids: list[int], same: int) -> int:
        """Put back the longest kept prefix of ``token_ids`` longer than the ``same`` positions the
        cache shares with it; how many positions the cache now holds."""
        found = self._prefixes.best(token_ids, same)
        if found is None:
            return same
        key, state = found
        if self._ll.llama_state_seq_set_data(self._ctx, state, len(state), 0) != len(state):
            # llama.cpp empties the sequence before reading a state into it
            self._prefixes.drop(key)
            self._clear_cache()
            return 0
        self.tokens = list(key)
        self._kept = None
        return len(key)

    def _clear_cache(self) -> None:
        """Forget the cached prompt (not the kept prefixes)."""
        self._ll.llama_memory_clear(self._memory, True)
        self.tokens = []
        self._kept = None

    @property
    def kv_cache_bytes(self) -> int:
        return self.context_length * self.info.kv_bytes_per_token(KV_CACHE_TYPES[self.kv_cache_type])

    # -- forward --------------------------------------------------------------------------------
    def _run(self, ids: Sequence[int], every: bool = False, last: int = 1) -> np.ndarray:
        """Run ``ids`` after the cached tokens; return the logits of the last one. ``every``: all
        of them are output (``llama_get_logits_ith(ctx, i)``; ids of one batch at most); ``last``:
        the last ``last`` of them (of the last batch)."""
        start = len(self.tokens)
        if start + len(ids) > self.context_length:
            raise InvalidRequestError("The KV cache is full; the answer reached the context window.")
        if self._kept is not None and start < len(self._kept.prompt):
            self._kept = None  # the kept prompt's positions are being computed again
        for at in range(0, len(ids), self._batch_size):
            part = ids[at : at + self._batch_size]
            n = len(part)
            self._tok[:n] = part
            self._pos[:n] = np.arange(start + at, start + at + n)
            self._want[:n] = 1 if every else 0
            if at + n == len(ids):
                self._want[max(0, n - last) : n] = 1
            self._batch.n_tokens = n
            try:
                rc = on_llama_thread(lambda: self._ll.llama_decode(self._ctx, self._batch), self._interrupt)
            except BaseException:  # Ctrl-C
                self._interrupted = False
                self._count_read(ids[:at])
                raise
            if rc != 0:
                self._count_read(ids[:at])
                if rc == ABORTED and self._cancel is not None and self._cancel.is_set():
                    raise GenerationCancelled(f"Cancelled after {at} of {len(ids)} tokens were read.")
                raise EdgeQwenError(f"llama.cpp failed while generating (llama_decode returned {rc}: {last_log()}).")
        self.tokens.extend(int(t) for t in ids)
        pointer = self._ll.llama_get_logits_ith(self._ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def _count_read(self, read: Sequence[int]) -> None:
        """After a call that stopped or failed: the batches before it are what llama.cpp holds (a
        stopped or failed batch is removed); counting fewer left positions a next prompt collided with."""
        self.tokens.extend(int(t) for t in read)
        self.rewind(len(self.tokens))

    def rewind(self, kept: int) -> None:
        """Keep the first ``kept`` cached positions (the kept prefixes stay); after a failed call,
        what the cache is known to hold."""
        self._ll.llama_memory_seq_rm(self._memory, 0, kept, -1)
        self.tokens = self.tokens[:kept]

    # a batch of 512 takes minutes on a small CPU: llama.cpp's abort callback stops inside one
    cancellable_prefill = True

    def prefill(self, token_ids: Sequence[int], cancel: threading.Event | None = None) -> np.ndarray:
        """Process a prompt, reusing the longest prefix already in the cache; ``cancel``, set, stops
        it within the batch running (GenerationCancelled; the batches finished stay cached)."""
        token_ids = [int(t) for t in token_ids]
        if len(token_ids) > self.context_length:
            raise InvalidRequestError(f"{len(token_ids)} tokens do not fit the {self.context_length}-token cache.")
        self._fit_threads()
        kept = self._kept
        n = len(token_ids)
        if (
            kept is not None
            and kept.capture == self.capture_hidden
            and kept.prompt == tuple(self.tokens[:n]) == tuple(token_ids)
        ):
            # The same prompt again: its positions hold what its first prefill computed, so its
            # logits are those, bit for bit (an answer after it is dropped from the cache).
            if self._ll.llama_memory_seq_rm(self._memory, 0, n, -1):
                self.tokens = self.tokens[:n]
                self.last_reused = n
                self.last_hidden = kept.hidden
                return kept.logits.copy()
        with self._cancellable(cancel):
            logits = self._prefill(token_ids)
        self._kept = _Kept(tuple(token_ids), self.capture_hidden, logits.copy(), self.last_hidden)
        if self._prefixes and tuple(token_ids) in self._prefixes.waiting(token_ids):
            self._save_prefix()
        return logits

    def _interrupt(self) -> None:
        self._interrupted = True  # read by the abort callback, where a prefill set it

    @contextlib.contextmanager
    def _cancellable(self, cancel: threading.Event | None) -> Iterator[None]:
        if cancel is None:
            yield
            return
        # set for the prefill only: during decoding it would be called for every operation
        self._cancel = cancel
        on_llama_thread(lambda: self._ll.llama_set_abort_callback(self._ctx, self._abort, None))
        try:
            yield
        finally:
            on_llama_thread(lambda: self._ll.llama_set_abort_callback(self._ctx, self._ll.ggml_abort_callback(), None))
            self._cancel = None

    def _prefill(self, token_ids: list[int]) -> np.ndarray:
        same = reusable_prefix(self.tokens, token_ids)
        if same < len(self.tokens):
            if not self._ll.llama_memory_seq_rm(self._memory, 0, same, -1):
                self._clear_cache()
                same = 0
            self.tokens = self.tokens[:same]
        if self._prefixes:
            same = self._restore(token_ids, same)
        self.last_reused = same
        if self._prefixes:
            # a prefix to keep inside this prompt: computed up to its end, copied, then the rest
            for key in self._prefixes.waiting(token_ids):
                if same < len(key) < len(token_ids):
                    self._run(token_ids[same : len(key)])
                    self._save_prefix()
                    same = len(key)
        rest = token_ids[same:]
        if not self.capture_hidden:
            self.last_hidden = None  # not this prompt's: a state read now would be another's
            return self._run(rest)
        # The last position alone with embeddings on: llama.cpp then outputs its hidden state
        # beside the logits. With embeddings on for a whole batch it would output every position.
        if len(rest) > 1:
            self._run(rest[:-1])
        elif not rest:  # all cached: run the last token again to see its state
            self.rewind(len(self.tokens) - 1)
            rest = token_ids[-1:]
        return self._run_keeping_hidden(rest[-1:])

    def _run_keeping_hidden(self, ids: Sequence[int], every: bool = False) -> np.ndarray:
        """:meth:`_run` with embeddings on, keeping the last position's hidden state (the final
        norm's output, which llama.cpp calls its embedding) as ``last_hidden``."""
        self._ll.llama_set_embeddings(self._ctx, True)
        try:
            logits = self._run(ids, every)
            pointer = self._ll.llama_get_embeddings_ith(self._ctx, -1)
            self.last_hidden = np.ctypeslib.as_array(pointer, shape=(self.n_embd,)).copy()
        finally:
            self._ll.llama_set_embeddings(self._ctx, False)
        return logits

    def prefill_all(
        self, token_ids: Sequence[int], read: Callable[[np.ndarray], None], cancel: threading.Event | None = None
    ) -> np.ndarray:
        """Process a prompt from its first token, handing ``read`` each position's logits in order
        (a view, valid during the call), and return the last ones. Nothing is reused: a cached
        position's logits are gone. ``cancel`` as for :meth:`prefill`."""
        token_ids = [int(t) for t in token_ids]
        if len(token_ids) > self.context_length:
            raise InvalidRequestError(f"{len(token_ids)} tokens do not fit the {self.context_length}-token cache.")
        self._fit_threads()
        self._clear_cache()
        self.last_reused, self.last_hidden = 0, None
        step = min(self._batch_size, SCORE_BATCH)
        with self._cancellable(cancel):
            for at in range(0, len(token_ids), step):
                part = token_ids[at : at + step]
                last = at + len(part) == len(token_ids)
                run = self._run_keeping_hidden if self.capture_hidden and last else self._run
                try:
                    logits = run(part, every=True)
                except GenerationCancelled as exc:
                    said = f"Cancelled after {at} of the prompt's {len(token_ids)} tokens were scored."
                    raise GenerationCancelled(said) from exc
                for i in range(len(part)):
                    read(np.ctypeslib.as_array(self._ll.llama_get_logits_ith(self._ctx, i), shape=(self.n_vocab,)))
        return logits

    def _fit_threads(self) -> None:
        others = self._busy.others() if self._busy is not None else None
        if others is None:
            return
        wanted = threads_for(self.threads, others)
        if wanted != self.threads_used:
            self._ll.llama_set_n_threads(self._ctx, wanted, wanted)
            self.threads_used = wanted

    def decode(self, token: int) -> np.ndarray:
        return self._run([token])

    def extend(self, tokens: Sequence[int]) -> np.ndarray:
        return self._run(list(tokens))

    def verify(self, tokens: Sequence[int], rows: int | None = None) -> np.ndarray:
        """Feed ``tokens`` after the cached ones in one pass and return the logits after each of
        the last ``rows`` of them (all by default), one row a token (a copy): prompt lookup's
        guesses checked at once (runtime/lookup.py), after tokens a grammar forced."""
        ids = [int(t) for t in tokens]
        rows = len(ids) if rows is None else rows
        if rows > self._batch_size:
            raise InvalidRequestError(f"{rows} tokens to check at once; at most {self._batch_size}.")
        if len(ids) <= self._batch_size:
            self._run(ids, last=rows)
        else:  # a forced run longer than a batch: the rows asked for come from a batch of their own
            self._run(ids[: len(ids) - rows])
            self._run(ids[len(ids) - rows :], every=True)
        n = len(ids) if len(ids) <= self._batch_size else rows  # tokens in the last batch run
        row = self._ll.llama_get_logits_ith
        return np.stack([np.ctypeslib.as_array(row(self._ctx, i), shape=(self.n_vocab,)) for i in range(n - rows, n)])

    def close(self) -> None:
        ll = self.__dict__.pop("_ll", None)
        if ll is not None:
            ll.llama_batch_free(self._batch)
            ll.llama_free(self._ctx)
            ll.llama_model_free(self._model)

    def __del__(self) -> None:
        self.close()


def ggml_kv_type(ll: object, info: GgufInfo, kv_cache_type: str, flash_attn: bool | None) -> int:
    """llama.cpp's type id for a KV cache type, where ``info``'s model can keep it: a quantized
    cache is stored in blocks of 32 values of a head, and its V read by flash attention only."""
    if checked_kv_cache_type(kv_cache_type) != "f16":
        said = None
        if info.head_size % QUANT_BLOCK:
            said = (
                f"A {kv_cache_type} KV cache stores blocks of {QUANT_BLOCK} values of a head; {info.name}'s "
                f"heads are {info.head_size} values wide. Use kv_cache_type='f16'."
            )
        elif flash_attn is False:
            said = (
                f"The V part of a {kv_cache_type} KV cache is read by llama.cpp's flash attention only, which "
                "flash_attn=False turns off. Use kv_cache_type='f16', or leave flash_attn on."
            )
        if said is not None:
            raise InvalidRequestError(said, "kv_cache_type")
    return int(getattr(ll, f"GGML_TYPE_{kv_cache_type.upper()}"))
