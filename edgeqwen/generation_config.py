"""``GenerationConfig``: how an answer is sampled and bounded, checked when it is made.

Every entry point (Python, CLI, HTTP) builds one, so a bad setting is refused here, naming the
field, before a model runs.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .errors import InvalidRequestError
from .types import _check, listed

__all__ = ["MAX_LOGPROBS", "MAX_LOOKUP", "PREDICTION_LOOKUP", "SAMPLER_ORDER", "GenerationConfig"]

MAX_LOGPROBS = 20  # alternatives a token may report, as OpenAI's top_logprobs
MAX_LOOKUP = 32  # tokens prompt lookup may guess a step: a longer guess is checked as a prompt chunk
PREDICTION_LOOKUP = 3  # prompt lookup's width where a prediction turns it on (docs/performance.md)
# the filters and the temperature, in the order a sampler applies them unless told another
SAMPLER_ORDER = ("top_k", "temperature", "top_a", "min_p", "top_p", "typical_p", "tfs")


def _token_ids(value: object) -> tuple[int, ...]:
    ids = listed(value, "stop_token_ids", "token ids")
    for t in ids:
        # 1.5 was read as token 1, True as 1
        _check(
            isinstance(t, numbers.Integral) and not isinstance(t, bool) and t >= 0,
            f"stop_token_ids must be token ids (whole numbers >= 0), got {t!r}.",
            "stop_token_ids",
        )
    return tuple(int(t) for t in ids)  # type: ignore[call-overload]


def _bias_pairs(value: object) -> tuple[tuple[int, float], ...]:
    """``logit_bias`` as sorted (token id, bias) pairs, from a mapping (OpenAI's JSON gives the ids
    as strings) or pairs; an InvalidRequestError that says what is wrong otherwise."""
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(key, bias) for key, bias in items]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvalidRequestError(
            f"logit_bias must map token ids to numbers in [-100, 100], got {value!r}.", "logit_bias"
        ) from None
    out: dict[int, float] = {}
    for key, bias in pairs:
        token = key if isinstance(key, numbers.Integral) and not isinstance(key, bool) else None
        if isinstance(key, str) and key.strip().isascii() and key.strip().isdigit():  # "²" is a digit to str
            token = int(key)
        _check(
            token is not None and token >= 0,
            f"logit_bias keys must be token ids (whole numbers >= 0), got {key!r}.",
            "logit_bias",
        )
        ok = (
            isinstance(bias, numbers.Real)
            and not isinstance(bias, bool)
            and math.isfinite(bias)
            and -100 <= bias <= 100
        )
        _check(ok, f"logit_bias values must be numbers in [-100, 100], got {bias!r} for token {key}.", "logit_bias")
        out[int(token)] = float(bias)  # type: ignore[arg-type]
    return tuple(sorted(out.items()))


@dataclass(frozen=True)
class GenerationConfig:
    """How to pick tokens. Defaults are greedy decoding with no penalties.

    ``temperature=0`` means greedy (argmax). ``top_k=0``, ``top_p=1``, ``min_p=0`` and
    ``typical_p=1`` switch those filters off (``typical_p``: locally typical sampling, the tokens
    whose surprise is nearest the distribution's entropy, up to that much probability; TGI's and
    llama.cpp's). The temperature comes first, as transformers and vLLM apply it;
    ``temperature_last=True`` applies it after those filters instead (llama.cpp's order,
    text-generation-webui's and TabbyAPI's option), so min-p and top-p read the model's own
    probabilities. ``top_a`` (0 = off) and ``tfs`` (tail-free, 1 = off) are KoboldAI's filters.
    ``sampler_order``: the filters and ``"temperature"`` in the order to apply them (names of
    :data:`SAMPLER_ORDER`, the order otherwise; one left out is not applied, as KoboldCpp and
    llama.cpp read their lists), in place of ``temperature_last``.
    Penalties act on the last ``penalty_window`` tokens (prompt included),
    as llama.cpp's ``repeat_last_n`` does: ``repetition_penalty`` the HF/CTRL way (divide
    positive logits, multiply negative ones; ``penalty_slope`` below 1 lessens it for tokens seen
    only in the window's older half, KoboldCpp's ``rep_pen_slope``), ``presence_penalty`` /
    ``frequency_penalty`` the OpenAI way (subtract once per seen token / once per occurrence). ``logit_bias`` adds a
    number in [-100, 100] to a token's logit, as OpenAI's does (a mapping of token id to bias;
    -100 bans the token outright). ``logprobs``: None (off), or report each generated token's log
    probability and its ``logprobs`` most likely alternatives (0 to 20) in ``Reply.logprobs``.
    ``prompt_logprobs``: the same for every prompt token, in ``Reply.prompt_logprobs`` (vLLM's
    name; scoring a text, as evaluation harnesses do). ``prompt_lookup``: guess up to this many
    tokens a step from the text so far and have the model check them in one pass (speculative
    decoding without a draft model, runtime/lookup.py); the answer is the one it would write
    without guessing, faster where it repeats what it read. 0 (off) to ``MAX_LOOKUP``.
    ``prediction``: text the answer is expected to be much like (OpenAI's Predicted Outputs: the
    file an edit rewrites); prompt lookup guesses from it first, and is on at
    :data:`PREDICTION_LOOKUP` where ``prompt_lookup`` is 0. The answer is the model's either way.
    ``thinking_budget``: the most tokens Qwen3 may think before it must answer (None: no bound;
    Anthropic's ``budget_tokens``); at the bound the thinking is closed as Qwen closes it.
    """

    max_tokens: int = 512
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    typical_p: float = 1.0
    temperature_last: bool = False
    top_a: float = 0.0
    tfs: float = 1.0
    sampler_order: tuple[str, ...] | None = None
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    penalty_window: int = 64
    penalty_slope: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    logit_bias: tuple[tuple[int, float], ...] = ()
    logprobs: int | None = None
    prompt_logprobs: int | None = None
    prompt_lookup: int = 0
    prediction: str = ""
    thinking_budget: int | None = None

    @property
    def lookup_width(self) -> int:
        """Tokens prompt lookup guesses a step: as asked, or a prediction's default (0: off)."""
        return self.prompt_lookup or (PREDICTION_LOOKUP if self.prediction else 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", listed(self.stop, "stop", "strings (or one string)"))
        object.__setattr__(self, "stop_token_ids", _token_ids(self.stop_token_ids))
        if self.sampler_order is not None:
            object.__setattr__(self, "sampler_order", listed(self.sampler_order, "sampler_order", "sampler names"))
        object.__setattr__(self, "logit_bias", _bias_pairs(() if self.logit_bias is None else self.logit_bias))
        self.validate()

    def validate(self) -> None:
        def finite(name: str) -> float:
            value = getattr(self, name)
            _check(
                isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
                f"{name} must be a finite number, got {value!r}.",
                name,
            )
            return float(value)

        def whole(name: str, least: int) -> bool:  # True is an int to Python, not a count to a user
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                return False
            object.__setattr__(self, name, int(value))  # numpy's integers too, stored as int
            return value >= least

        _check(
            whole("max_tokens", 1),
            f"max_tokens must be a whole number >= 1, got {self.max_tokens!r}.",
            "max_tokens",
        )
        _check(
            finite("temperature") >= 0, f"temperature must be >= 0 (0 = greedy), got {self.temperature}.", "temperature"
        )
        _check(
            whole("top_k", 0),
            f"top_k must be a whole number >= 0 (0 = off), got {self.top_k!r}.",
            "top_k",
        )
        _check(0 < finite("top_p") <= 1, f"top_p must be in (0, 1] (1 = off), got {self.top_p}.", "top_p")
        _check(0 <= finite("min_p") < 1, f"min_p must be in [0, 1) (0 = off), got {self.min_p}.", "min_p")
        _check(
            0 < finite("typical_p") <= 1, f"typical_p must be in (0, 1] (1 = off), got {self.typical_p}.", "typical_p"
        )
        _check(
            isinstance(self.temperature_last, bool),
            f"temperature_last must be True or False, got {self.temperature_last!r}.",
            "temperature_last",
        )
        _check(0 <= finite("top_a") <= 1, f"top_a must be in [0, 1] (0 = off), got {self.top_a}.", "top_a")
        _check(0 < finite("tfs") <= 1, f"tfs must be in (0, 1] (1 = off), got {self.tfs}.", "tfs")
        order = self.sampler_order
        _check(
            order is None or (set(order) <= set(SAMPLER_ORDER) and len(set(order)) == len(order)),
            f"sampler_order must name each of {', '.join(SAMPLER_ORDER)} at most once, got {order!r}.",
            "sampler_order",
        )
        _check(
            order is None or not self.temperature_last,
            "temperature_last and sampler_order both place the temperature: give one of them.",
            "temperature_last",
        )
        _check(
            0 <= finite("penalty_slope") <= 1,
            f"penalty_slope must be in [0, 1] (1 = the whole penalty over the whole window), got {self.penalty_slope}.",
            "penalty_slope",
        )
        _check(
            finite("repetition_penalty") > 0,
            f"repetition_penalty must be > 0 (1 = off), got {self.repetition_penalty}.",
            "repetition_penalty",
        )
        _check(
            -2 <= finite("presence_penalty") <= 2,
            f"presence_penalty must be in [-2, 2], got {self.presence_penalty}.",
            "presence_penalty",
        )
        _check(
            -2 <= finite("frequency_penalty") <= 2,
            f"frequency_penalty must be in [-2, 2], got {self.frequency_penalty}.",
            "frequency_penalty",
        )
        _check(
            whole("penalty_window", 0),
            f"penalty_window must be a whole number >= 0, got {self.penalty_window!r}.",
            "penalty_window",
        )
        _check(
            self.seed is None or whole("seed", 0),
            f"seed must be a whole number >= 0 or None, got {self.seed!r}.",
            "seed",
        )
        _check(all(isinstance(s, str) and s for s in self.stop), "stop strings must be non-empty strings.", "stop")
        for name in ("logprobs", "prompt_logprobs"):
            value = getattr(self, name)
            _check(
                value is None or (whole(name, 0) and value <= MAX_LOGPROBS),
                f"{name} must be None (off) or the number of alternatives to report, 0 to {MAX_LOGPROBS}; "
                f"got {value!r}.",
                name,
            )
        _check(
            self.thinking_budget is None or whole("thinking_budget", 1),
            f"thinking_budget must be a whole number of tokens >= 1, or None (no bound); got {self.thinking_budget!r}.",
            "thinking_budget",
        )
        _check(
            whole("prompt_lookup", 0) and self.prompt_lookup <= MAX_LOOKUP,
            f"prompt_lookup must be a whole number of tokens to guess a step, 0 (off) to {MAX_LOOKUP}; "
            f"got {self.prompt_lookup!r}.",
            "prompt_lookup",
        )
        _check(
            isinstance(self.prediction, str),
            "prediction must be text (what the answer is expected to be much like), not "
            f"{type(self.prediction).__name__}.",
            "prediction",
        )

    def with_(self, **changes: Any) -> GenerationConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            names = sorted(self.__dataclass_fields__)
            guesses = [g for u in sorted(unknown) for g in difflib.get_close_matches(u, names, n=1)]
            hint = f" Did you mean {', '.join(guesses)}?" if guesses else f" Known: {', '.join(names)}."
            raise InvalidRequestError(f"unknown generation setting(s): {', '.join(sorted(unknown))}.{hint}")
        return replace(self, **changes)
