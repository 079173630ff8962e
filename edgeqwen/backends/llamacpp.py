"""llama.cpp on CPU: GGUF models driven by our own loop through llama.cpp's C API.

The model is one llama.cpp context (:class:`~.llama_model.LlamaCppModel`: batches, ``llama_decode``,
the logits as a numpy view). Sampling, grammars, bans and safety filters are ours, as on the ONNX
backend; the high-level ``Llama`` class, its sampler and its grammar are not used.

The prompt is tokenized by our tokenizer from the GGUF's own vocabulary (:mod:`edgeqwen.gguf`),
which gives llama.cpp's ids.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..catalog import LLAMACPP_INSTALL, amx_copy_bytes
from ..chat import template_for
from ..errors import InvalidRequestError
from ..gguf import GgufInfo, read_gguf_info
from ..model import DEFAULT_KV_CACHE_TYPE, KV_CACHE_TYPES
from ..paths import cache_dir, expand, models_dir
from ..tokenizer import Tokenizer
from . import amx
from .amx import AmxBuildWarning
from .base import LoopBackend, plan_memory
from .llama_bindings import bindings
from .llama_model import SCORE_BATCH, LlamaCppModel, ggml_kv_type

__all__ = [
    "AmxBuildWarning",
    "INSTALL_HINT",
    "SCORE_BATCH",
    "LlamaCppBackend",
    "LlamaCppModel",
    "gguf_info",
]

INSTALL_HINT = LLAMACPP_INSTALL


def gguf_info(model_path: str | Path) -> GgufInfo:
    """A GGUF file's (or model folder's) info, as this backend loads it: its tokenizer.json is
    written beside an installed model, else into the cache."""
    path = expand(model_path)
    beside = path.is_dir() and models_dir() in path.resolve().parents
    return read_gguf_info(path, tokenizer_dir=None if beside else cache_dir() / "tokenizers")


class LlamaCppBackend(LoopBackend):
    """A GGUF model (file, or a folder holding one) on llama.cpp."""

    name = "llamacpp"
    supports_hidden_states = True  # the prompt's last hidden state, for the safety probe
    supports_kept_prefixes = True  # llama.cpp's state of the sequence, copied out and back
    supports_prompt_logprobs = True  # every prompt position's logits, when asked (prefill_all)
    kv_cache_types = tuple(KV_CACHE_TYPES)

    def __init__(
        self,
        model_path: str | Path,
        *,
        context_length: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        ram_available: int | None = None,  # what the memory check assumes (tests); default: measured
        use_mmap: bool = False,
        flash_attn: bool | None = None,
        kv_cache_type: str | None = None,  # None: llama.cpp's default, f16
    ) -> None:
        if device not in (None, "cpu"):
            raise InvalidRequestError(f"The llamacpp backend runs on the CPU here; device={device!r} is for 'mlc'.")
        self.check_available()
        self.info = gguf_info(model_path)
        self.tokenizer = Tokenizer(self.info.tokenizer_file)
        self.template = template_for(self.info.model_type, self.tokenizer)
        ll = bindings()
        extra = amx.extra_buffers_allowed(ll, self.info.path)
        # the AMX buffer's copy of the output matrix (an untied one is counted too: an over-count)
        held = amx_copy_bytes(self.info.vocab_size, self.info.hidden, self.info.quantization)
        held = held if extra and amx.has_amx_kernels(ll) else 0
        kv_cache_type = kv_cache_type or DEFAULT_KV_CACHE_TYPE
        ggml_kv_type(ll, self.info, kv_cache_type, flash_attn)  # fails before the memory check names a context
        per_value = KV_CACHE_TYPES[kv_cache_type]
        q8 = KV_CACHE_TYPES["q8_0"] if per_value > KV_CACHE_TYPES["q8_0"] else None  # a way out to name
        context_length = plan_memory(self.info, context_length, ram_available, per_value, held, q8)
        self.model = LlamaCppModel(
            self.info,
            context_length,
            threads,
            use_mmap=use_mmap,
            flash_attn=flash_attn,
            extra_buffers=extra,
            kv_cache_type=kv_cache_type,
        )
        self._lock = threading.Lock()

    @classmethod
    def check_available(cls) -> None:
        bindings()

    @property
    def context_length(self) -> int:
        return self.model.context_length

    def close(self) -> None:
        self.model.reset()
