"""The response objects of mlc_llm.protocol.openai_api_protocol (pydantic there, dataclasses here)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CompletionUsage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    extra: dict[str, Any] | None = None


@dataclass
class CompletionResponseChoice:
    finish_reason: str | None = None  # "stop" | "length" | "preempt"
    index: int = 0
    logprobs: Any = None
    text: str = ""


@dataclass
class CompletionResponse:
    id: str
    choices: list[CompletionResponseChoice]
    created: int = field(default_factory=lambda: int(time.time()))
    model: str | None = None
    object: str = "text_completion"
    usage: CompletionUsage | None = None
