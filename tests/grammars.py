"""Whether a grammar takes a value: the value as compact JSON, tokenized by a byte-level vocabulary,
fed to a fresh matcher (as decoding writes it: keys in the order given)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from edgeqwen.runtime.matcher import matcher_limits

__all__ = ["grammar_takes", "llg_tokenizer"]


@cache
def llg_tokenizer():
    """llguidance's tokenizer over the byte-level vocabulary (one per process)."""
    from llguidance import LLTokenizer

    from edgeqwen.tokenizer import byte_level_tokenizer

    return LLTokenizer(Path(byte_level_tokenizer()).read_text())


def grammar_takes(grammar: str, value: object) -> bool:
    from llguidance import LLMatcher

    tok = llg_tokenizer()
    matcher = LLMatcher(tok, grammar, log_level=0, limits=matcher_limits())
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return matcher.consume_tokens(tok.tokenize_str(text)) and matcher.is_accepting()
