"""``mlc_llm.serve``: only what the adapter touches (EngineConfig)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EngineConfig:
    model: str | None = None
    model_lib: str | None = None
    mode: str | None = None
    max_num_sequence: int | None = None
    max_total_sequence_length: int | None = None
    max_single_sequence_length: int | None = None
    prefill_chunk_size: int | None = None
