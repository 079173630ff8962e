"""ONNX Runtime on CPU: our own KV-cache management around ``onnxruntime.InferenceSession``.

The KV cache lives in preallocated buffers of shape ``(1, kv_heads, capacity, head_size)``
bound as both past input and present output of GroupQueryAttention (``past_present_share_buffer``),
so a decode step copies nothing: GQA writes the new key/value in place at the position given by
the attention mask. Rewinding the cache to a shared prompt prefix is just moving ``self.length``.
Builds without a shared buffer fall back to feeding ``present`` back as ``past``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..chat import template_for
from ..errors import (
    BackendUnavailableError,
    InvalidRequestError,
    ModelLoadError,
    map_exceptions,
)
from ..model import ModelInfo, checked_context_length, read_model_info
from ..paths import onnxruntime_cache
from ..tokenizer import Tokenizer
from ..types import release
from .base import LoopBackend, plan_memory, reusable_prefix
from .graph import HIDDEN_OUTPUT, LOGITS_FROM, prepare_graph
from .memory import MappedWeights, fix_mmap_threshold, huge_pages_for_new_memory, small_page_zeros, trim_heap
from .ort_run import StepThread, first_line, ort_error, run_stoppable, stoppable_step
from .prefixes import KeptPrefixes, room_for
from .threads import thread_count

__all__ = ["OnnxBackend", "OnnxModel", "plan_memory"]

ATTENTION_SCRATCH = 16 << 20  # bytes of attention scores one prefill step may allocate
MIN_CHUNK = 16  # ... but never fewer tokens per step than this
RELEASE_EVERY = 64  # tokens run between two releases of the weight files' pages

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
_LAST = np.array([-1], dtype=np.int64)  # graph.LOGITS_FROM for the last position alone
# The onnxruntime pyproject requires: 1.21 and 1.22 refuse the converter's graphs (opset 22, an
# 8-bit GatherBlockQuantized), 1.23.0 runs them.
MIN_ONNXRUNTIME = (1, 23)


def _import_ort():
    try:
        with onnxruntime_cache():
            import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is a runtime dependency
        raise BackendUnavailableError(
            "onnxruntime is not installed; install it with `pip install onnxruntime`."
        ) from exc
    return ort


class OnnxModel:
    """One ONNX decoder session with a KV cache; implements the ``LanguageModel`` protocol."""

    def __init__(
        self,
        info: ModelInfo,
        context_length: int | None = None,
        threads: int | None = None,
        prefill_chunk: int = 64,
    ) -> None:
        ort = _import_ort()
        fix_mmap_threshold()
        self.info = info
        self.context_length = checked_context_length(context_length, info.context_length)
        self.prefill_chunk = prefill_chunk
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = thread_count(threads)
        opts.inter_op_num_threads = 1
        # No arena: onnxruntime's CPU arena grows in powers of two and keeps the largest prefill's
        # activations for the life of the session (+80 MiB peak for 1.5B at 4K context). Without
        # it, large temporaries go straight to malloc/mmap and back; decode speed is unchanged.
        opts.enable_cpu_mem_arena = False
        opts.log_severity_level = 3
        try:
            self.session, self.weights = self._load(ort, info, opts)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/RuntimeException types
            if release(ort.__version__) < MIN_ONNXRUNTIME:
                # an older onnxruntime refuses the graphs the converter writes (opset 22, 8-bit
                # GatherBlockQuantized): the model is fine, the runtime is what to change
                need = ".".join(map(str, MIN_ONNXRUNTIME))
                raise ModelLoadError(
                    f"onnxruntime {ort.__version__} could not load {info.onnx_file} ({first_line(exc)}); edgeqwen "
                    f"runs models on onnxruntime {need} or later: pip install -U 'onnxruntime>={need}'."
                ) from exc
            raise ModelLoadError(
                f"onnxruntime could not load {info.onnx_file} ({first_line(exc)}). {_culprit(info)}: re-download the "
                f"model (`edgeqwen pull MODEL --force`) or re-convert it (`edgeqwen convert HF_DIR -o {info.path}`)."
            ) from exc
        inputs = {i.name: i for i in self.session.get_inputs()}
        names = info.input_names
        self._ids_name = names.get("input_ids", "input_ids")
        self._mask_name = names.get("attention_mask", "attention_mask") if "attention_mask" in inputs else None
        self._pos_name = names.get("position_ids", "position_ids") if "position_ids" in inputs else None
        self._logits_name = info.output_names.get("logits", "logits")
        self._from_name = LOGITS_FROM if LOGITS_FROM in inputs else None  # graph.py's rewrite
        self._kv_names = [
            (names[f"past_{kv}_names"] % i, info.output_names[f"present_{kv}_names"] % i)
            for i in range(info.num_layers)
            for kv in ("key", "value")
        ]
        missing = [p for p, _ in self._kv_names if p not in inputs] + (
            [self._ids_name] if self._ids_name not in inputs else []
        )
        if missing:
            raise ModelLoadError(
                f"{info.onnx_file} has no input {missing[0]!r} that genai_config.json names; the graph and "
                f"its config do not belong together. Re-convert or re-download the model."
            )
        self.kv_dtype = _ORT_TYPES.get(inputs[self._kv_names[0][0]].type, np.float32)
        self._ort = ort
        self._steps = StepThread()  # the thread prompt steps run on (ort_run.py)
        self._shared = info.share_buffer
        self._mask = np.ones((1, self.context_length), dtype=np.int64)
        self._positions = np.arange(self.context_length, dtype=np.int64)[None, :]
        self.tokens: list[int] = []  # what the KV cache holds, position by position
        self.last_reused = 0
        self._unreleased = 0
        self.capture_hidden = False  # keep the prompt's last hidden state (safety probe)
        self.last_hidden: np.ndarray | None = None
        self._kept: KeptPrefixes[dict[str, np.ndarray]] = KeptPrefixes(self.context_length)  # their KV positions
        self._alloc()

    @staticmethod
    def _load(ort, info: ModelInfo, opts) -> tuple[object, MappedWeights | None]:
        """The session, on the rewritten graph (graph.py) over weights we map ourselves
        (memory.py) where possible, else on the file as it is; what it repacked at load moved to
        huge pages."""
        prepared = prepare_graph(info)
        if prepared is None:
            with huge_pages_for_new_memory():
                session = ort.InferenceSession(str(info.onnx_file), opts, providers=["CPUExecutionProvider"])
            return session, None
        model, folder = prepared
        weights = MappedWeights(model.graph, folder)
        for name, value in weights.ort_values(ort).items():
            opts.add_initializer(name, value)
        opts.add_session_config_entry("session.model_external_initializers_file_folder_path", str(folder))
        with huge_pages_for_new_memory(), weights.releasing():
            session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return session, weights

    # -- cache ----------------------------------------------------------------------------------
    def _alloc(self) -> None:
        shape = (1, self.info.num_kv_heads, self.context_length if self._shared else 0, self.info.head_size)
        self._kv = {p: small_page_zeros(shape, self.kv_dtype) for p, _ in self._kv_names}
        self._binding = self.session.io_binding()
        if self._shared:
            self._kv_ort = {p: self._ort.OrtValue.ortvalue_from_numpy(a) for p, a in self._kv.items()}
            for past, present in self._kv_names:
                self._binding.bind_ortvalue_input(past, self._kv_ort[past])
                self._binding.bind_ortvalue_output(present, self._kv_ort[past])
        # Logits of the last position only (graph.py): one (1, 1, vocab) buffer bound once, read
        # without get_outputs(), which wraps all 57 outputs in Python objects (0.5 ms a token).
        self._logits = None
        out = next((o for o in self.session.get_outputs() if o.name == self._logits_name), None)
        if self._from_name is not None:
            self._binding.bind_cpu_input(self._from_name, _LAST)
        if self._shared and out is not None and len(out.shape) == 3 and self._from_name is not None:
            vocab = out.shape[2] if isinstance(out.shape[2], int) else self.info.vocab_size
            self._logits = np.empty((1, 1, vocab), dtype=_ORT_TYPES.get(out.type, np.float32))
            self._binding.bind_ortvalue_output(self._logits_name, self._ort.OrtValue.ortvalue_from_numpy(self._logits))
        # The last position's hidden state (graph.py), written beside the logits at every step; only
        # on this path, where each output has a buffer of its own.
        self._hidden = None
        out = next((o for o in self.session.get_outputs() if o.name == HIDDEN_OUTPUT), None)
        if self._logits is not None and out is not None and isinstance(out.shape[2], int):
            self.n_embd = out.shape[2]
            self._hidden = np.empty((1, 1, self.n_embd), dtype=_ORT_TYPES.get(out.type, np.float32))
            self._binding.bind_ortvalue_output(HIDDEN_OUTPUT, self._ort.OrtValue.ortvalue_from_numpy(self._hidden))

    @property
    def has_hidden_states(self) -> bool:
        return self._hidden is not None

    def reset(self) -> None:
        """Forget the cached prompt and the kept prefixes (the buffers stay allocated)."""
        self.tokens = []
        self._kept.clear()
        if not self._shared:
            self._alloc()

    def keep_prefix(self, token_ids: Sequence[int]) -> None:
        """Keep the KV of this prefix apart once a prefill computes it, and restore it for a later
        prompt that starts with it, whatever ran between (prefixes.py says which are kept)."""
        self._kept.want(token_ids)

    @property
    def kept_bytes(self) -> int:
        """What the kept prefixes hold, beside the cache."""
        return sum(a.nbytes for kv in self._kept.copies() for a in kv.values())

    def _restore(self, token_ids: list[int], same: int) -> int:
        """Put back the longest kept prefix of ``token_ids`` that is longer than the ``same``
        positions the cache already shares with it; how many positions the cache now holds."""
        found = self._kept.best(token_ids, same)
        if found is None:
            return same
        key, kv = found
        for name, part in kv.items():
            if self._shared:
                self._kv[name][:, :, : len(key)] = part
            else:  # onnxruntime only reads its past inputs, so the kept arrays are bound as they are
                self._kv[name] = part
        self.tokens = list(key)
        return len(key)

    def _save_kept(self) -> None:
        """Copy out the prefixes waiting to be kept that the cache now holds."""
        for key in self._kept.waiting(self.tokens):
            n = len(key)
            if not room_for(sum(a[:, :, :n].nbytes for a in self._kv.values())):
                self._kept.drop(key)
                continue
            self._kept.put(key, {name: np.ascontiguousarray(a[:, :, :n]) for name, a in self._kv.items()})

    def rewind(self, n: int) -> None:
        """Keep the first ``n`` cached positions (the kept prefixes stay)."""
        self.tokens = self.tokens[:n]
        if not self._shared:
            self._kv = {k: np.ascontiguousarray(v[:, :, :n]) for k, v in self._kv.items()}

    @property
    def kv_cache_bytes(self) -> int:
        return sum(a.nbytes for a in self._kv.values())

    # -- forward --------------------------------------------------------------------------------
    def _run(self, ids: Sequence[int], rows: int = 1, cancel: threading.Event | None = None) -> np.ndarray:
        """Run ``ids`` after the cached tokens; return logits of the last position (``rows`` > 1:
        of the last ``rows``, for a graph that outputs every position's). With ``cancel`` (a
        prompt's step), the event or Ctrl-C stops the run inside (ort_run.py)."""
        start = len(self.tokens)
        total = start + len(ids)
        b = self._binding
        b.bind_cpu_input(self._ids_name, np.asarray(ids, dtype=np.int64)[None, :])
        if self._mask_name:
            b.bind_cpu_input(self._mask_name, self._mask[:, :total])
        if self._pos_name:
            b.bind_cpu_input(self._pos_name, np.ascontiguousarray(self._positions[:, start:total]))
        if not self._shared:
            for past, present in self._kv_names:
                b.bind_cpu_input(past, self._kv[past])
                b.bind_output(present)
        if self._logits is None:
            b.bind_output(self._logits_name)
        with map_exceptions({Exception: ort_error}):  # onnxruntime's Fail, RuntimeException, ...
            if cancel is None:
                self.session.run_with_iobinding(b)
            else:
                run = self.session.run_with_iobinding
                run_stoppable(self._steps, lambda options: run(b, options), self._ort.RunOptions(), cancel)
        if self._logits is not None:
            logits = self._logits[0, -1].copy()  # the caller's to keep; the buffer is reused
            capture = self.capture_hidden and self._hidden is not None
            self.last_hidden = self._hidden[0, -1].astype(np.float32) if capture else None
        else:
            outs = b.get_outputs()
            if not self._shared:
                for (past, _present), value in zip(self._kv_names, outs[: len(self._kv_names)], strict=False):
                    self._kv[past] = value.numpy()
            logits = outs[-1].numpy()[0, -1] if rows == 1 else outs[-1].numpy()[0, -rows:]
        self.tokens.extend(int(t) for t in ids)
        self._unreleased += len(ids)
        if self.weights is not None and self._unreleased >= RELEASE_EVERY:
            self.weights.release()  # the embedding rows these tokens read (memory.py)
            self._unreleased = 0
        return logits

    cancellable_prefill = True  # inside a step (backends/base.py: LanguageModel)

    def prefill(self, token_ids: Sequence[int], cancel: threading.Event | None = None) -> np.ndarray:
        """Process a prompt, reusing the longest prefix already in the cache; ``cancel``, set, stops
        it inside the step running (GenerationCancelled; the steps run before stay cached)."""
        token_ids = list(token_ids)
        if len(token_ids) > self.context_length:
            raise InvalidRequestError(f"{len(token_ids)} tokens do not fit the {self.context_length}-token cache.")
        # Two tokens at least run, and no step runs just one (reusable_prefix says why): onnxruntime's
        # int4 MatMul takes another kernel for a single row than for several.
        same = reusable_prefix(self.tokens, token_ids)
        restored = self._restore(token_ids, same)
        if restored == same:  # a restored prefix replaces the cache's positions: nothing to rewind
            self.rewind(same)
        same = restored
        self.last_reused = same
        logits = None
        i = same
        while i < len(token_ids):
            step = self.chunk_at(i)
            if len(token_ids) - (i + step) == 1:
                step -= 1  # leave two for the last step, not one
            said = f"Cancelled after {i} of the prompt's {len(token_ids)} tokens were read."
            with stoppable_step(cancel, said):
                logits = self._run(token_ids[i : i + step], cancel=cancel)
            i += step
        if self._kept:
            self._save_kept()
        return logits

    def prefill_all(
        self, token_ids: Sequence[int], read: Callable[[np.ndarray], None], cancel: threading.Event | None = None
    ) -> np.ndarray:
        """Process a prompt from its first token, handing ``read`` each position's logits in order,
        and return the last ones. Steps of a prefill's size (``chunk_at``), each asking the graph
        for all its positions' logits (graph.LOGITS_FROM), as prompt lookup's check does; the last
        token alone, so its hidden state is kept as a prefill keeps it. A graph without that
        input runs a token a step, at decoding's speed."""
        token_ids = list(token_ids)
        if len(token_ids) > self.context_length:
            raise InvalidRequestError(f"{len(token_ids)} tokens do not fit the {self.context_length}-token cache.")
        self.rewind(0)
        self.last_reused = 0
        i, last = 0, len(token_ids) - 1
        while self._from_name is not None and i < last:
            step = min(self.chunk_at(i), last - i)
            said = f"Cancelled after {i} of the prompt's {len(token_ids)} tokens were scored."
            with stoppable_step(cancel, said):
                rows = self.verify(token_ids[i : i + step], cancel=cancel)
            for row in rows:
                read(row)
            i += step
        logits = np.zeros(0, dtype=np.float32)
        for token in token_ids[i:]:
            logits = self._run([token], cancel=cancel)
            read(logits)
        if self._kept:
            self._save_kept()
        return logits

    def chunk_at(self, position: int) -> int:
        """Prompt tokens to run in one step from ``position``: ``prefill_chunk``, or fewer where
        that chunk's attention scores (heads x chunk x keys floats, which GroupQueryAttention
        allocates at once) would pass ``ATTENTION_SCRATCH``. Qwen2.5-1.5B runs 64-token steps up
        to 5K tokens, then fewer (16 at 32K: a 25 MiB temporary instead of 100 MiB). Peak memory
        follows the step size; prefill speed on 2 cores does not (64 to 512 tokens measured)."""
        heads = self.info.num_heads or self.info.num_kv_heads
        fits = ATTENTION_SCRATCH // (4 * heads * (position + self.prefill_chunk))
        return max(MIN_CHUNK, min(self.prefill_chunk, fits))

    def decode(self, token: int) -> np.ndarray:
        return self.extend([token])

    def extend(self, tokens: Sequence[int]) -> np.ndarray:
        """Feed several tokens after the cached ones (fast-forwarded grammar tokens)."""
        if len(self.tokens) + len(tokens) > self.context_length:
            raise InvalidRequestError("The KV cache is full; the answer reached the context window.")
        return self._run(tokens)

    def verify(
        self, tokens: Sequence[int], rows: int | None = None, cancel: threading.Event | None = None
    ) -> np.ndarray:
        """Feed ``tokens`` after the cached ones in one pass and return the logits after each of
        the last ``rows`` of them (all by default), one row a token: prompt lookup's guesses
        checked at once (runtime/lookup.py), after tokens a grammar forced. The graph's
        ``LOGITS_FROM`` asks for that many last positions; its buffers are bound for the pass."""
        ids = [int(t) for t in tokens]
        if len(self.tokens) + len(ids) > self.context_length:
            raise InvalidRequestError("The KV cache is full; the answer reached the context window.")
        b, k, ort = self._binding, len(ids) if rows is None else rows, self._ort
        if self._from_name is not None:
            b.bind_cpu_input(self._from_name, np.array([-k], dtype=np.int64))
        if self._logits is None:  # outputs read back whole (an original graph gives every position's)
            try:
                return np.asarray(self._run(ids, rows=k, cancel=cancel), dtype=np.float32)
            finally:
                if self._from_name is not None:
                    b.bind_cpu_input(self._from_name, _LAST)
        out = np.empty((1, k, self._logits.shape[2]), dtype=self._logits.dtype)
        b.bind_ortvalue_output(self._logits_name, ort.OrtValue.ortvalue_from_numpy(out))
        if self._hidden is not None:
            scratch = np.empty((1, k, self.n_embd), dtype=self._hidden.dtype)
            b.bind_ortvalue_output(HIDDEN_OUTPUT, ort.OrtValue.ortvalue_from_numpy(scratch))
        try:
            self._run(ids, cancel=cancel)
        finally:
            b.bind_cpu_input(self._from_name, _LAST)
            b.bind_ortvalue_output(self._logits_name, ort.OrtValue.ortvalue_from_numpy(self._logits))
            if self._hidden is not None:
                b.bind_ortvalue_output(HIDDEN_OUTPUT, ort.OrtValue.ortvalue_from_numpy(self._hidden))
        self.last_hidden = None  # the pass's rows are no prompt's
        return out[0].astype(np.float32, copy=False)


def _culprit(info: ModelInfo) -> str:
    """Which file a failed load points at: the graph itself when it does not parse, else a weights
    file shorter than the graph says, else neither for sure."""
    try:
        import onnx

        graph = onnx.load(str(info.onnx_file), load_external_data=False).graph
    except ImportError:
        return "The graph or its weights file is damaged"
    except Exception:  # protobuf's DecodeError and friends: the graph file itself is cut or corrupt
        return f"{info.onnx_file.name} itself is truncated or corrupt"
    for tensor in graph.initializer:
        entries = {e.key: e.value for e in tensor.external_data}
        if "location" not in entries:
            continue
        file = info.onnx_file.parent / entries["location"]
        end = int(entries.get("offset", 0)) + int(entries.get("length", 0))
        if not file.is_file():
            return f"{file.name} is missing"
        if file.stat().st_size < end:
            return f"{file.name} is truncated ({file.stat().st_size} bytes; the graph needs {end})"
    return "The graph and its weights look complete, so one of them is damaged or from another build"


class OnnxBackend(LoopBackend):
    name = "onnx"
    supports_kept_prefixes = True
    supports_prompt_logprobs = True  # a token a step: at decode speed (OnnxModel.prefill_all)

    def __init__(
        self,
        model_path: str | Path,
        *,
        context_length: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        ram_available: int | None = None,  # what the memory check assumes (tests); default: measured
    ) -> None:
        if device not in (None, "cpu"):
            raise InvalidRequestError(f"The onnx backend runs on the CPU; device={device!r} is for backend='mlc'.")
        self.info = read_model_info(model_path)
        self.tokenizer = Tokenizer(self.info.path / "tokenizer.json")
        self.template = template_for(self.info.model_type, self.tokenizer)
        context_length = plan_memory(self.info, context_length, ram_available)
        self.model = OnnxModel(self.info, context_length=context_length, threads=threads)
        self.supports_hidden_states = self.model.has_hidden_states  # the safety probe's input
        trim_heap()  # what parsing tokenizer.json and building the session freed (memory.py)
        self._lock = threading.Lock()

    @property
    def context_length(self) -> int:
        return self.model.context_length

    def close(self) -> None:
        self.model.reset()
