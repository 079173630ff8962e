"""What an answer's decoding is held to, from the request and the backend: the sampling settings
(the model card's defaults, less what the backend ignores), the shape the answer must have (a
response format, or a forced tool call), the logits processors that run beside the sampler (the
policy's phrase bans, the bound on Qwen3's thinking), and the ids the prompt puts at the start of
the answer. :class:`~edgeqwen.Assistant` builds each :class:`~.backends.Request`
from these; a backend that cannot run one is refused here, before the model runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import GrammarError, InvalidRequestError
from .generation_config import GenerationConfig
from .runtime.formats import ResponseFormat
from .runtime.thinking import ThinkingBudget

if TYPE_CHECKING:
    from .backends import Backend
    from .safety import Guard

__all__ = ["answer_format", "answer_prefix", "default_config", "processors"]


def default_config(
    backend: Backend, config: GenerationConfig | None, thinking: bool, sampling: dict[str, Any]
) -> GenerationConfig:
    """The model card's sampling defaults unless a config is given (without the settings this
    backend lacks); keyword settings override either."""
    base = config or backend.template.recommended_config(thinking)
    if config is None and backend.unsupported_settings:
        neutral = GenerationConfig()
        base = base.with_(**{k: getattr(neutral, k) for k in backend.unsupported_settings})
    return base.with_(**sampling) if sampling else base


def answer_format(
    backend: Backend, tools: tuple[dict[str, Any], ...], response_format: Any, tool_choice: str | dict[str, Any]
) -> ResponseFormat | None:
    """What shape the answer must have: the response format, or a forced tool call."""
    fmt = ResponseFormat.of(response_format) if response_format is not None else None
    if tool_choice not in ("auto", "none"):
        # the format shapes text, and a forced call leaves none: instructor's Responses mode
        # sends both for one schema, and OpenAI answers it with the call
        name = tool_choice.get("name") if isinstance(tool_choice, dict) else None
        if tool_choice != "required" and name is None:
            raise InvalidRequestError(
                'tool_choice must be "auto", "none", "required" or {"name": TOOL}.', "tool_choice"
            )
        fmt = ResponseFormat.tool_call(tools, name)
    if fmt is not None and not backend.supports_response_format:
        raise GrammarError(f"The {backend.name} backend cannot run grammar-constrained decoding.")
    return fmt


def processors(
    backend: Backend, guard: Guard, prompt_len: int, config: GenerationConfig, thinking: bool
) -> tuple[Any, ...]:
    """The policy's decoding-level bans and the bound on thinking, where the backend can run them."""
    bans = guard.bans(backend.tokenizer, prompt_len)
    bound = config.thinking_budget if thinking and backend.template.supports_thinking else None
    if (bans is not None or bound is not None) and not backend.supports_logits_processors:
        what = "The policy bans phrases" if bans is not None else "thinking_budget bounds the thinking"
        instead = (
            "use blocklist (an output filter) instead of banned_phrases there"
            if bans is not None
            else "use llama.cpp or ONNX, or leave thinking_budget out"
        )
        raise InvalidRequestError(f"{what} in decoding, which the {backend.name} backend cannot do; {instead}.")
    budget = () if bound is None else (ThinkingBudget(backend.tokenizer, prompt_len, bound),)
    return (() if bans is None else (bans,)) + budget


def answer_prefix(backend: Backend, thinking: bool) -> list[int] | None:
    """The ids the prompt puts at the start of the answer, kept with its tokens in the history so
    the next turn reuses the cache; None where the backend has no prefix cache to reuse."""
    if not (backend.streams_token_ids and backend.supports_prefix_cache):
        return None
    return backend.tokenizer.encode(backend.template.generation_prefix(thinking))
