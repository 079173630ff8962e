"""GGUF files: the geometry and vocabulary a llama.cpp model carries, read without llama.cpp.

A GGUF is a header of typed key/value metadata, a table of tensors, then the tensor data. We read
the metadata only (``gguf.GGUFReader`` parses every element into its own numpy view: 9 s for the
demo model's 49k-token vocabulary; this reader takes a fraction of a second for Qwen's 151k).

From the vocabulary we write the Hugging Face ``tokenizer.json`` our :class:`~edgeqwen.tokenizer.Tokenizer`
and the grammar engine read, so prompts are tokenized by our code with llama.cpp's ids
(``tests/test_llamacpp.py`` compares both on multilingual text).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelLoadError
from .model import SUPPORTED_TYPES, kv_bytes_per_token, unsupported_architecture
from .paths import expand, temp_folder, write_atomic

__all__ = ["FILE_TYPES", "GgufInfo", "find_gguf", "read_gguf_info", "read_metadata", "tokenizer_json"]

# llama.cpp's llama_ftype values, as its quantize tool names them.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}  # fmt: skip

# Pre-tokenizer splits by ``tokenizer.ggml.pre``, as the models' own tokenizer.json files have them.
# qwen2: Qwen2.5 and Qwen3 (one regex); smollm: SmolLM2 (single digits, then GPT-2's byte-level regex).
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_PRE_TOKENIZERS: dict[str, dict[str, Any]] = {
    "qwen2": {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": _QWEN2_SPLIT}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        ],
    },
    "smollm": {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ],
    },
}
_CONTROL, _USER_DEFINED = 3, 4  # llama.cpp token types that are added tokens in Hugging Face's format
_PAD = re.compile(r"^\[PAD\d+\]$")  # llama.cpp's converter pads the vocabulary to the logits' width

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NUMPY = {0: np.uint8, 1: np.int8, 2: np.uint16, 3: np.int16, 4: np.uint32, 5: np.int32, 6: np.float32,
          7: np.bool_, 10: np.uint64, 11: np.int64, 12: np.float64}  # fmt: skip
_STRING, _ARRAY = 8, 9


class _Cursor:
    def __init__(self, data: bytes | memoryview) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.take("<Q")
        self.pos += n
        return bytes(self.data[self.pos - n : self.pos]).decode("utf-8", errors="surrogateescape")

    def value(self, kind: int) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.take("<I"), self.take("<Q")
            if item == _STRING:
                return [self.string() for _ in range(count)]
            if item in _NUMPY:
                dtype = np.dtype(_NUMPY[item])
                out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos).copy()
                self.pos += dtype.itemsize * count
                return out
            return [self.value(item) for _ in range(count)]
        if kind not in _SCALARS:
            raise ValueError(f"unknown GGUF value type {kind}")
        return self.take(_SCALARS[kind])


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The key/value metadata of a GGUF file (numeric arrays as numpy arrays)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
            if head[:4] != b"GGUF":
                raise ModelLoadError(f"{path} is not a GGUF file (it does not start with 'GGUF').")
            if len(head) < 24:
                raise ModelLoadError(
                    f"{path} is truncated ({len(head)} bytes, a GGUF header alone is 24); download it again."
                )
            version, _tensors, count = struct.unpack_from("<IQQ", head, 4)
            if version < 2:
                raise ModelLoadError(f"{path} is a GGUF v{version} file; convert it again with a current llama.cpp.")
            # Metadata is at the front; a Qwen vocabulary is ~10 MB of it. Read until it parses.
            size = 1 << 24
            while True:
                fh.seek(0)
                data = fh.read(size)
                try:
                    return _parse(data, count)
                except (struct.error, ValueError) as exc:
                    if len(data) < size:  # the whole file was read and still does not parse
                        raise ModelLoadError(f"{path} is truncated or corrupt ({exc}); download it again.") from exc
                    size *= 4
    except OSError as exc:
        raise ModelLoadError(f"Cannot read {path}: {exc}.") from exc


def _parse(data: bytes, count: int) -> dict[str, Any]:
    cur = _Cursor(memoryview(data))
    cur.pos = 24
    meta: dict[str, Any] = {}
    for _ in range(count):
        key = cur.string()
        meta[key] = cur.value(cur.take("<I"))
    return meta


@dataclass(frozen=True)
class GgufInfo:
    """What the layers above read of a GGUF model (the ``info`` of a llama.cpp backend)."""

    path: Path  # the .gguf file
    name: str  # the folder's name, else the catalog model of this geometry, else the file's stem
    model_type: str  # qwen2 | qwen3 | llama
    context_length: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_size: int
    hidden: int
    vocab_size: int
    eos_token_ids: tuple[int, ...]
    quantization: str  # Q4_0, Q4_K_M, ... (llama.cpp's name for general.file_type)
    tokenizer_file: Path
    intermediate: int = 0  # the MLP's width (0 where the metadata does not say)

    @property
    def weights_bytes(self) -> int:
        return self.path.stat().st_size

    def kv_bytes_per_token(self, bytes_per_value: float = 2) -> int:
        return kv_bytes_per_token(self.num_layers, self.num_kv_heads, self.head_size, bytes_per_value)

    @property
    def layer_params(self) -> int:
        """Weights in the layers' matmuls: what each prompt token is multiplied by."""
        from .catalog import Geometry

        g = Geometry(
            self.num_layers, self.hidden, self.intermediate, self.num_heads, self.num_kv_heads, self.head_size,
            self.vocab_size, tied_embeddings=True, context_length=self.context_length, max_new_tokens=0,
        )  # fmt: skip
        return g.layer_params


def find_gguf(path: str | Path) -> Path:
    """A .gguf file, or the one .gguf inside a model folder."""
    path = expand(path)
    if path.is_file():
        return path
    files = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(files) != 1:
        what = "no" if not files else f"{len(files)}"
        raise ModelLoadError(
            f"{path} holds {what} .gguf files; pass the .gguf file itself or a folder with exactly one "
            "(e.g. from `edgeqwen pull qwen2.5-1.5b-instruct --backend llamacpp`)."
        )
    return files[0]


def read_gguf_info(path: str | Path, tokenizer_dir: Path | None = None) -> GgufInfo:
    """Read a GGUF's geometry and write (once) its tokenizer.json: beside the file, or under
    ``tokenizer_dir`` (named by its content) for a file in a folder that is not ours."""
    from .integrity import check_model

    file = find_gguf(path)
    if Path(path).is_dir():
        check_model(expand(path))  # sizes on every load, checksums once per file state
    stat = file.stat()
    name = Path(path).name if Path(path).is_dir() else None
    info = _read_info(file.resolve(), stat.st_size, stat.st_mtime_ns, stat.st_ino, tokenizer_dir, name)
    if not info.tokenizer_file.is_file():  # removed since: write it again
        _read_info.cache_clear()
        info = _read_info(file.resolve(), stat.st_size, stat.st_mtime_ns, stat.st_ino, tokenizer_dir, name)
    return info


@functools.lru_cache(maxsize=8)
def _read_info(
    file: Path, _size: int, _mtime_ns: int, _inode: int, tokenizer_dir: Path | None, name: str | None
) -> GgufInfo:
    """One file state's info (a Qwen vocabulary takes ~1.5 s to read and write out; a process that
    loads the same file again, a server or a test suite, reads it once)."""
    meta = read_metadata(file)
    arch = str(meta.get("general.architecture", ""))
    if arch not in SUPPORTED_TYPES:
        raise unsupported_architecture(str(file), arch)
    try:
        heads = int(meta[f"{arch}.attention.head_count"])
        hidden = int(meta[f"{arch}.embedding_length"])
        tokens = meta["tokenizer.ggml.tokens"]
        info = dict(
            context_length=int(meta[f"{arch}.context_length"]),
            num_layers=int(meta[f"{arch}.block_count"]),
            num_heads=heads,
            num_kv_heads=int(meta.get(f"{arch}.attention.head_count_kv", heads)),
            head_size=int(meta.get(f"{arch}.attention.key_length", hidden // heads)),
            hidden=hidden,
            vocab_size=len(tokens),
            intermediate=int(meta.get(f"{arch}.feed_forward_length", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{file} misses GGUF metadata edgeqwen needs ({exc!r}); download it again.") from exc
    eos = {int(meta[k]) for k in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id") if k in meta}
    text = tokenizer_json(meta, str(file))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    beside = file.parent / f"{file.stem}.tokenizer.json"
    named = f"{digest}.tokenizer.json"
    tok_file = _write_once(text, beside if tokenizer_dir is None else tokenizer_dir / named, named)
    return GgufInfo(
        path=file,
        name=name or _catalog_name(info, meta.get(f"{arch}.pooling_type")) or file.stem,
        model_type=arch,
        eos_token_ids=tuple(sorted(eos)),
        quantization=FILE_TYPES.get(int(meta.get("general.file_type", -1)), "unknown"),
        tokenizer_file=tok_file,
        **info,
    )


# llama.cpp's pooling types that say what a GGUF was converted for, where two catalog models share
# a geometry (Qwen3-Embedding-0.6B and Qwen3-Reranker-0.6B): 3 is last-token, 4 a rank head.
_POOLING_ROLES = {3: "embedding", 4: "reranker"}


def _catalog_name(info: dict[str, int], pooling: object = None) -> str | None:
    """The catalog model with this geometry (a GGUF file names its model only in free text); where
    several share it, or the file declares a pooling (an embedding model's, a reranker's), the one
    whose role that pooling says, else none."""
    from .catalog import catalog

    found = [
        spec
        for spec in catalog()
        if (spec.geometry.layers, spec.geometry.hidden, spec.geometry.heads, spec.geometry.kv_heads,
            spec.geometry.head_dim, spec.geometry.vocab)
        == (info["num_layers"], info["hidden"], info["num_heads"], info["num_kv_heads"], info["head_size"],
            info["vocab_size"])
    ]  # fmt: skip
    role = _POOLING_ROLES.get(pooling) if isinstance(pooling, int) else None
    if role is not None or len(found) > 1:  # a file made to pool is never a chat model, whatever its shape
        found = [spec for spec in found if spec.role == role]
    return found[0].name if len(found) == 1 else None


def _write_once(text: str, target: Path, named: str) -> Path:
    """The tokenizer.json with this content: reused when present, else written atomically; where
    the cache cannot be written (a read-only image with its models baked in), under this user's
    temporary folder instead, ``named`` by its content (two GGUFs' files never share a name)."""
    try:
        return _write_or_reuse(text, target)
    except OSError as exc:
        try:
            return _write_or_reuse(text, temp_folder() / "tokenizers" / named)
        except OSError:
            pass
        raise ModelLoadError(f"Cannot write the tokenizer {target} ({exc}); make that folder writable.") from exc


def _write_or_reuse(text: str, target: Path) -> Path:
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return target
    return write_atomic(target, text)


def tokenizer_json(meta: dict[str, Any], where: str = "the GGUF") -> str:
    """A Hugging Face tokenizer.json for a byte-level BPE GGUF vocabulary (``tokenizer.ggml.model``
    ``gpt2``) whose pre-tokenizer we know. No NFC normalizer: llama.cpp applies none, and the ids
    must be llama.cpp's."""
    model = meta.get("tokenizer.ggml.model")
    pre = meta.get("tokenizer.ggml.pre", "default")
    if model != "gpt2":
        raise ModelLoadError(f"{where} has a {model!r} vocabulary; edgeqwen reads byte-level BPE ('gpt2') ones.")
    if pre not in _PRE_TOKENIZERS:
        raise ModelLoadError(
            f"{where} uses llama.cpp's {pre!r} pre-tokenizer; edgeqwen knows {', '.join(_PRE_TOKENIZERS)} "
            "(Qwen2.5, Qwen3, SmolLM2). Use the model's official GGUF."
        )
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    types = meta.get("tokenizer.ggml.token_type")
    types = [1] * len(tokens) if types is None else [int(t) for t in types]
    added = [
        {
            "id": i,
            "content": tok,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": kind == _CONTROL,
        }  # fmt: skip
        for i, (tok, kind) in enumerate(zip(tokens, types, strict=True))
        if kind in (_CONTROL, _USER_DEFINED) and not _PAD.match(tok)
    ]
    # Every token in the model's vocabulary, added ones too: tokenizers numbers an added token that
    # the vocabulary lacks after the vocabulary's size, which is wrong when ids are not contiguous.
    # Not the padding: the tokenizer's size is then the real one, and the loop never samples past it.
    vocab = {tok: i for i, tok in enumerate(tokens) if not _PAD.match(tok)}
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": _PRE_TOKENIZERS[pre],
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": list(meta.get("tokenizer.ggml.merges", [])),
        },  # fmt: skip
    }
    return json.dumps(doc, ensure_ascii=False)
