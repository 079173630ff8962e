"""Tokenizer wrapper: encoding that never turns user text into control tokens, and a
streaming detokenizer that only ever emits whole UTF-8 characters.

Every token id maps to the exact bytes it stands for (byte-level BPE as in Qwen and SmolLM2,
or SentencePiece-style ``<0xAB>`` byte fallback with ``▁`` spaces). Decoding concatenates
bytes and runs them through an incremental UTF-8 decoder, so a character split across tokens
(CJK, emoji, Qwen's byte pieces) is held back until its last byte arrives.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import InvalidRequestError, ModelLoadError
from .types import check_text

__all__ = ["CONTROL_TOKENS", "MARKER_TOKENS", "StreamingDetokenizer", "Tokenizer", "byte_level_tokenizer"]

# ChatML's control tokens, and Qwen's markers (added tokens that are not special: like Qwen's,
# they decode to their text, which the output parser reads).
CONTROL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
MARKER_TOKENS = ("<tool_call>", "</tool_call>", "<think>", "</think>")

_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def _unicode_to_byte() -> dict[str, int]:
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[chr(b)] = b
        else:
            table[chr(256 + extra)] = b
            extra += 1
    return table


class Tokenizer:
    """A Hugging Face ``tokenizer.json`` with byte-exact, stream-safe decoding."""

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        path = Path(path)
        try:
            self._tok = HFTokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on malformed files
            raise ModelLoadError(
                f"Cannot read the tokenizer {path}: {exc}. The file is corrupt or not a Hugging Face "
                "tokenizer.json; re-download or re-convert the model."
            ) from exc
        # Special tokens in user text are encoded as plain text; control tokens are added by id.
        self._tok.encode_special_tokens = True
        self.path = path
        added = self._tok.get_added_tokens_decoder()
        self.special_ids = frozenset(i for i, t in added.items() if t.special)
        self._byte_level = "ByteLevel" in repr(self._tok.decoder)
        self._u2b = _unicode_to_byte()
        self._bytes: dict[int, bytes] = {}
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        self._controls: re.Pattern[str] | None = None  # the control tokens' texts, when first needed

    @property
    def json_text(self) -> str:
        """The tokenizer.json text, read when asked (the grammar engine needs it once). Not kept:
        for Qwen's 151k-token vocabulary it is 20 MiB as a Python string."""
        return self.path.read_text(encoding="utf-8")

    def token_id(self, text: str) -> int | None:
        return self._tok.token_to_id(text)

    def encode(self, text: str) -> list[int]:
        """Encode plain text. ``<|im_start|>`` typed by a user stays text, never a control token."""
        if not text:
            return []
        try:
            return self._tok.encode(text, add_special_tokens=False).ids
        except TypeError:  # not a str, or a lone surrogate: say which, as every entry point does
            check_text(text, "The text")
            raise

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Each token's span of characters in ``text``, as :meth:`encode` cuts it (a character whose
        bytes fall in two tokens is in both spans)."""
        return list(self._tok.encode(text, add_special_tokens=False).offsets) if text else []

    def encode_controls(self, text: str) -> list[int]:
        """Encode text in which control tokens written out (``<|im_start|>``) are those tokens: a
        raw prompt, whose writer writes the whole template."""
        if self._controls is None:
            names = sorted((self._tok.id_to_token(i) for i in self.special_ids), key=len, reverse=True)
            self._controls = re.compile("|".join(re.escape(n) for n in names if n) or "(?!)")
        ids: list[int] = []
        at = 0
        for m in self._controls.finditer(text):
            ids += self.encode(text[at : m.start()])
            ids.append(self._tok.token_to_id(m.group()))
            at = m.end()
        return ids + self.encode(text[at:])

    def piece(self, token: int) -> str:
        """The vocabulary's string for ``token`` (``"Ġthe"`` in a byte-level vocabulary; a control
        token's own text), as Hugging Face's ``convert_ids_to_tokens`` gives it."""
        return self._tok.id_to_token(token) or ""

    def token_bytes(self, token: int) -> bytes:
        cached = self._bytes.get(token)
        if cached is not None:
            return cached
        piece = self._tok.id_to_token(token)
        if piece is None:
            out = b""
        elif token in self.special_ids:
            out = b""  # control tokens never reach the user's text
        elif self._byte_level:
            try:
                out = bytes(self._u2b[c] for c in piece)
            except KeyError:  # an added, non-byte-level token such as "<think>"
                out = piece.encode("utf-8")
        else:
            m = _BYTE_PIECE.match(piece)
            out = bytes([int(m.group(1), 16)]) if m else piece.replace("\u2581", " ").encode("utf-8")
        self._bytes[token] = out
        return out

    def decode(self, tokens: Iterable[int]) -> str:
        try:
            return b"".join(self.token_bytes(t) for t in tokens).decode("utf-8", errors="replace")
        except (TypeError, OverflowError) as exc:  # said only once the happy path has failed
            raise InvalidRequestError(
                f"decode takes a list of token ids (whole numbers from 0), got {tokens!r:.80}.", "tokens"
            ) from exc

    def detokenizer(self) -> StreamingDetokenizer:
        return StreamingDetokenizer(self)


class StreamingDetokenizer:
    """Feed token ids one at a time; get back only complete characters."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def add(self, token: int) -> str:
        return self._decoder.decode(self._tokenizer.token_bytes(token))

    def add_many(self, tokens: Sequence[int]) -> str:
        return "".join(self.add(t) for t in tokens)

    def finish(self) -> str:
        """Flush held-back bytes (an incomplete character becomes U+FFFD)."""
        return self._decoder.decode(b"", final=True)


def byte_level_tokenizer(folder: Path | None = None) -> Path:
    """A tokenizer with one token per byte (no merges) and the control tokens, written once as
    ``folder/tokenizer.json`` (default: in the edgeqwen home). It never counts fewer tokens than a
    real BPE tokenizer, so it bounds a prompt's length where the model's own tokenizer is not here
    (a remote server), and it is the fake backend's vocabulary."""
    from tokenizers import AddedToken, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    from .paths import cache_dir

    # named by what it holds, so a later version with other tokens never reads a stale file
    key = hashlib.sha256("\0".join((*CONTROL_TOKENS, "|", *MARKER_TOKENS)).encode()).hexdigest()[:8]
    folder = folder or cache_dir() / f"byte-level-tokenizer-{key}"
    path = folder / "tokenizer.json"
    if path.is_file():
        return path
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = HFTokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(CONTROL_TOKENS))
    tok.add_tokens([AddedToken(m, special=False, normalized=False) for m in MARKER_TOKENS])
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tokenizer-{os.getpid()}.json"
    tok.save(str(tmp))
    os.replace(tmp, path)  # atomically: two processes may write it at once
    return path
