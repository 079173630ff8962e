"""A request's sampling settings, read in each dialect its clients speak: OpenAI's, vLLM's,
llama-server's, text-generation-webui's, TabbyAPI's and KoboldCpp's (SillyTavern sends the last
three's names to ``/v1/completions``, and llama.cpp's beside them).

Pure functions on dicts. ``top_k``, ``min_p``, ``typical_p``, ``repetition_penalty`` and
``prompt_lookup`` (GenerationConfig's) are extensions, as vLLM and llama-server take them;
``top_k`` 0 or below is off (llama.cpp's and vLLM's -1); ``seed: -1`` is no seed (random, as
llama.cpp and Ollama read it), another negative seed a seed. What this server has is read under
every name a dialect gives it (``repeat_penalty`` and ``rep_pen`` are ``repetition_penalty``;
``repeat_last_n``, ``rep_pen_range`` and ``repetition_penalty_range`` the penalties' window;
``n_predict`` and ``max_new_tokens`` ``max_tokens``; ``custom_token_bans`` a ``logit_bias`` of
-100; ``do_sample: false`` greedy ...); two names for one setting that disagree are a 400. What
it has not (mirostat, epsilon and eta cutoffs, beam search, vLLM's ``min_tokens`` ...) is taken
absent or at its off value and refused at any other: an answer that passed it over would not be
what was asked, with a 200. KoboldCpp's ``sampler_order``, llama-server's ``samplers`` and
text-generation-webui's ``sampler_priority`` are the order of the filters and the temperature,
each as its server reads it (SillyTavern's KoboldCpp and llama.cpp types put the temperature last
by them). Passed over because the answer is the same: ``truncation_length`` (a prompt past the window is refused or
trimmed by each route's own rule), ``add_bos_token`` (Qwen's template has no BOS token).
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequestError
from ..generation_config import MAX_LOGPROBS, SAMPLER_ORDER, GenerationConfig
from ..message_dicts import content_text

__all__ = [
    "KOBOLD_ORDER",
    "LLAMA_ORDER",
    "LLAMA_SAMPLERS",
    "MAX_STOPS",
    "RequestError",
    "flag",
    "llama_samplers_off",
    "refuse_unless_off",
    "settings_of",
]

_FLOATS = (
    "temperature", "top_p", "min_p", "typical_p", "top_a", "tfs", "presence_penalty", "frequency_penalty",
    "repetition_penalty", "penalty_slope",
)  # fmt: skip
_INTS = ("top_k", "seed", "prompt_lookup", "thinking_budget")
# other servers' names for what this server has: llama-server's (tfs_z, llama.cpp's tail-free
# sampling until 2024), TabbyAPI's and KoboldCpp's (rep_pen, typical, rep_pen_slope) and
# text-generation-webui's (prompt_lookup_num_tokens, the same speculative decoding)
_ALIASES = {
    "repeat_penalty": "repetition_penalty", "rep_pen": "repetition_penalty", "typical": "typical_p",
    "prompt_lookup_num_tokens": "prompt_lookup", "tfs_z": "tfs", "rep_pen_slope": "penalty_slope",
}  # fmt: skip
# KoboldCpp's sampler_order: its numbers for the samplers (4 is top-p and then min-p; 6 the
# repetition penalty, which this server applies before them all)
_KOBOLD_SAMPLERS = {
    0: ("top_k",), 1: ("top_a",), 2: ("tfs",), 3: ("typical_p",), 4: ("top_p", "min_p"), 5: ("temperature",),
    6: ("penalties",),
}  # fmt: skip
KOBOLD_ORDER = (6, 0, 1, 3, 4, 2, 5)  # KoboldCpp's order where a request names none: the temperature last
# llama.cpp's names in llama-server's `samplers` (its alternative spellings too); None: a sampler
# this server has not, whose own field is refused unless off
_LLAMA_NAMES: dict[str, str | None] = {
    "penalties": "penalties", "top_k": "top_k", "top-k": "top_k", "top_p": "top_p", "top-p": "top_p",
    "nucleus": "top_p", "typ_p": "typical_p", "typical-p": "typical_p", "typical": "typical_p",
    "typ-p": "typical_p", "typ": "typical_p", "min_p": "min_p", "min-p": "min_p", "temperature": "temperature",
    "temp": "temperature", "dry": None, "top_n_sigma": None, "top-n-sigma": None, "xtc": None, "infill": None,
    "adaptive_p": None, "adaptive-p": None,
}  # fmt: skip
# and its letters for them, the string form of `samplers` (llama.cpp's web UI sends "edkypmxt")
_LLAMA_LETTERS = {
    "d": "dry", "k": "top_k", "y": "typ_p", "p": "top_p", "s": "top_n_sigma", "m": "min_p", "t": "temperature",
    "x": "xtc", "i": "infill", "e": "penalties", "a": "adaptive_p",
}  # fmt: skip
LLAMA_ORDER = ("penalties", "top_k", "typ_p", "top_p", "min_p", "temperature")  # llama.cpp's: the temperature last
# text-generation-webui's names in its sampler_priority for what this server has (the rest, DRY,
# XTC, mirostat ..., are refused by their own fields unless off)
_WEBUI_NAMES = {
    "repetition_penalty": "penalties", "presence_penalty": "penalties", "frequency_penalty": "penalties",
    "temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "typical_p": "typical_p", "tfs": "tfs",
    "top_a": "top_a", "min_p": "min_p",
}  # fmt: skip
_ORDER_FIELDS = ("sampler_order", "samplers", "sampler_priority")
# the penalties' window in TabbyAPI's names (rep_pen_range KoboldCpp's too) and text-generation-webui's
_RANGES = ("penalty_range", "repetition_range", "rep_pen_range", "repetition_penalty_range")
_WHOLE = 1 << 30  # a window past any context: the whole of it
MAX_STOPS = 16  # stop strings a request may send
_MAX_BIASED = 300  # logit_bias entries (bans included) a request may send (a bound of this server's on its work)
# vLLM's sampling extensions this server has not: taken at their off values, refused at any other
_VLLM_OFF: dict[str, Any] = {
    "min_tokens": 0, "include_stop_str_in_output": False, "use_beam_search": False,
    "bad_words": None, "allowed_token_ids": None, "logits_processors": None, "prompt_logprobs": None,
    "skip_special_tokens": True, "chat_template": "",
}  # fmt: skip
# llama.cpp's samplers this server has not (llama-server's fields, Ollama's options): off at 0 or
# below for the first, at these values for the rest (ignore_eos is vLLM's too), refused at others
_LLAMA_AT_MOST_0 = ("mirostat", "dynatemp_range", "dry_multiplier", "xtc_probability", "top_n_sigma", "n_indent")
_LLAMA_OFF: dict[str, Any] = {"ignore_eos": False, "lora": [], "post_sampling_probs": False}
LLAMA_SAMPLERS = (*_LLAMA_AT_MOST_0, *_LLAMA_OFF)
# text-generation-webui's, TabbyAPI's and KoboldCpp's samplers this server has not, at their off
# values (the defaults they and SillyTavern send); nsigma, min_keep, adaptive_target off up to these bounds
_WEBUI_OFF: dict[str, Any] = {
    "epsilon_cutoff": 0, "eta_cutoff": 0, "smoothing_factor": 0, "skew": 0,
    "encoder_repetition_penalty": 1, "no_repeat_ngram_size": 0, "repetition_decay": 0, "penalty_alpha": 0,
    "guidance_scale": 1, "cfg_scale": 1, "mirostat_mode": 0, "num_beams": 1, "min_length": 0,
    "dynamic_temperature": False, "ban_eos_token": False, "auto_max_new_tokens": False,
    "max_tokens_second": 0, "token_healing": False, "banned_strings": [], "allowed_tokens": [],
    "bypass_eos": False, "trim_stop": True, "render_special": False,
}  # fmt: skip
_WEBUI_AT_MOST = {"nsigma": 0, "min_keep": 1, "adaptive_target": 0}


class RequestError(InvalidRequestError):
    """A 400: ``param`` names the field at fault, as OpenAI's error body does."""


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"{name} must be a number, got {value!r}.", name)
    return float(value)


def flag(body: dict[str, Any], name: str, default: bool = False) -> bool:
    """A field that is true or false, ``default`` where absent or null; a RequestError naming it otherwise."""
    value = body.get(name)
    if value is not None and not isinstance(value, bool):  # 1 == True to Python, not to the API
        raise RequestError(f"{name} must be true or false, got {value!r:.40}.", name)
    return default if value is None else value


def _whole(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RequestError(f"{name} must be a whole number, got {value!r}.", name)
    return value


def refuse_unless_off(body: dict[str, Any], offs: dict[str, Any], empty: tuple[Any, ...] = ()) -> None:
    """Another server's options this server has not: each taken when absent, at its off value in
    ``offs`` or one of ``empty``, and refused at any other (the answer would not be what it asks)."""
    for name, off in offs.items():
        if body.get(name) not in (None, off, *empty):
            raise RequestError(
                f"{name} is not supported by this server (only {off!r}): the answer would not be what it asks.", name
            )


def _at_most(body: dict[str, Any], bounds: dict[str, float]) -> None:
    """Samplers off at their bound or below (false too), refused above it or at a value of another kind."""
    for name, bound in bounds.items():
        value = body.get(name)
        if value is None or value is False:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value > bound:
            raise RequestError(
                f"{name} is not supported by this server (only {bound}, off): the answer would not be what it asks.",
                name,
            )


def llama_samplers_off(body: dict[str, Any]) -> None:
    """llama.cpp's samplers this server has not, each taken where absent or off and refused at any
    other value (the answer would not be what it asks)."""
    _at_most(body, dict.fromkeys(_LLAMA_AT_MOST_0, 0))
    refuse_unless_off(body, _LLAMA_OFF)


def _webui_samplers_off(body: dict[str, Any]) -> None:
    """text-generation-webui's, TabbyAPI's and KoboldCpp's samplers this server has not; dynamic temperature as
    TabbyAPI and Aphrodite ask for it (a top above the bottom) too."""
    refuse_unless_off(body, _WEBUI_OFF, empty=("", []))
    _at_most(body, _WEBUI_AT_MOST)
    for low, high in (("min_temp", "max_temp"), ("dynatemp_min", "dynatemp_max")):
        bottom, top = _number(body, low), _number(body, high)
        if bottom is not None and top is not None and top > bottom:
            raise RequestError(
                f"{high} above {low} asks for dynamic temperature, which this server has not: send one temperature.",
                high,
            )


def _aliases(body: dict[str, Any], out: dict[str, Any]) -> None:
    """Other servers' names for a setting read here; a request whose two names disagree is refused."""
    for alias, name in _ALIASES.items():
        value = _whole(body, alias) if name in _INTS else _number(body, alias)
        if value is not None and out.setdefault(name, value) != value:
            raise RequestError(f"{alias} and {name} disagree: send one of them.", alias)


def _penalty_window(body: dict[str, Any], out: dict[str, Any]) -> None:
    """The penalties' window: the last N tokens, -1 the whole context, 0 none, as llama.cpp
    (``repeat_last_n``), KoboldCpp and TabbyAPI read it; text-generation-webui's
    ``repetition_penalty_range`` alone reads 0 or below as the whole context, as that server does.
    SillyTavern sends one number under all their names: read as three of the four servers read it."""
    given = {name: _whole(body, name) for name in ("repeat_last_n", *_RANGES) if body.get(name) is not None}
    if not given:
        return
    if len(set(given.values())) > 1:
        raise RequestError(f"{' and '.join(given)} disagree: send one of them.", next(iter(given)))
    (name, window), *_ = given.items()
    if list(given) == ["repetition_penalty_range"]:
        out["penalty_window"] = window if window > 0 else _WHOLE
    elif window < -1:
        raise RequestError(f"{name} must be a whole number (-1: the context), got {window!r}.", name)
    else:
        out["penalty_window"] = window if window >= 0 else _WHOLE


# each step of an order at the value that makes it do nothing: a filter's default, a temperature of 1
_OFF = {**{n: getattr(GenerationConfig(), n) for n in SAMPLER_ORDER}, "temperature": 1}


def _order_names(given: Any, field: str) -> list[str] | None:
    """An order as this server's names (``penalties`` among them where it names the penalties):
    KoboldCpp's numbers, llama.cpp's names or letters, or this server's; None where it is none of
    them. In llama-server's ``samplers`` a name or letter llama.cpp does not know is passed over,
    as llama.cpp passes it over (a sampler it names that this server has not is refused by its
    own field unless off)."""
    if field == "samplers" and isinstance(given, str):
        given = [_LLAMA_LETTERS.get(c, c) for c in given]
    if not isinstance(given, (list, tuple)) or not given:
        return None
    if field == "sampler_priority":  # text-generation-webui sorts what it leaves out first, as it sorts them
        if not all(isinstance(n, str) for n in given):
            return None
        listed = list(dict.fromkeys(_WEBUI_NAMES[n] for n in given if n in _WEBUI_NAMES))
        return [n for n in ("penalties", *SAMPLER_ORDER) if n not in listed] + listed
    if all(type(i) is int and i in _KOBOLD_SAMPLERS for i in given):
        return [n for i in given for n in _KOBOLD_SAMPLERS[i]]
    if not all(isinstance(n, str) for n in given):
        return None
    if field == "samplers":
        given = [n for n in given if n in _LLAMA_NAMES or n in _OFF]
        if not given:  # none it knows: a mistake more likely than an order that applies nothing
            return None
    elif not all(n in _LLAMA_NAMES or n in _OFF for n in given):
        return None
    return [name for n in given if (name := n if n in _OFF else _LLAMA_NAMES[n]) is not None]


def _sampler_order(body: dict[str, Any], out: dict[str, Any], default: tuple[int | str, ...] | None) -> None:
    """The order of the filters and the temperature: KoboldCpp's ``sampler_order`` (its numbers,
    or this server's names), llama-server's ``samplers`` (llama.cpp's names) or
    text-generation-webui's ``sampler_priority`` (what it leaves out first; ``temperature_last``
    moves the temperature last); ``default`` where the body has none (its route's server's
    order). The penalties come first here, before any step: an order that puts them after one the
    request does not turn off, or leaves them out where a penalty is asked for, is refused."""
    sent = [f for f in _ORDER_FIELDS if body.get(f) is not None]
    if len(sent) > 1:
        raise RequestError(f"{' and '.join(sent)} each give the samplers' order: send one of them.", sent[0])
    field = sent[0] if sent else "sampler_order"
    given = body.get(field, default)
    if given is None:
        return
    names = _order_names(given, field)
    if names is None:
        raise RequestError(
            f"{field} must be a list of sampler names (llama.cpp's: top_k, typ_p, top_p, min_p, temperature, "
            "penalties ...; or their letters in one string) or of KoboldCpp's sampler numbers (0 top-k, 1 top-a, "
            "2 tail-free, 3 typical, 4 top-p and min-p, 5 temperature, 6 repetition penalty).",
            field,
        )
    if field == "sampler_priority" and out.get("temperature_last"):  # text-generation-webui moves it last
        names = [n for n in names if n != "temperature"] + ["temperature"]
    penalised = any(out.get(k, v) != v for k, v in (("repetition_penalty", 1), ("presence_penalty", 0)))
    penalised = penalised or bool(out.get("frequency_penalty"))
    if "penalties" in names:
        first = names.index("penalties")
        subtracted = bool(out.get("presence_penalty") or out.get("frequency_penalty"))  # a scale commutes with a divide
        # a step the body leaves out is the model's default: on, it may be, but for the three no model card sets
        unset = {n: _OFF[n] for n in ("top_a", "tfs", "typical_p")}
        on = [n for n in names[:first] if out.get(n, unset.get(n)) != _OFF[n]]
        before = [n for n in on if n != "temperature" or subtracted]
        if penalised and before and out.get("temperature") != 0:  # greedy: no step but the penalties matters
            raise RequestError(
                f"{field} applies the repetition penalty after {before[0]}; this server applies the penalties "
                "before every sampler: put them first, or turn them off.",
                field,
            )
        names = [n for n in names if n != "penalties"]
    elif penalised and (field == "samplers" or not set(given) <= set(_OFF)):  # theirs would apply none
        raise RequestError(
            f"{field} leaves out the repetition penalty that the request asks for: put it first, or send no penalty.",
            field,
        )
    if out.pop("temperature_last", False) and names[-1:] != ["temperature"]:
        raise RequestError(f"temperature_last and {field} disagree: send one of them.", "temperature_last")
    out["sampler_order"] = tuple(dict.fromkeys(names))


def _max_tokens(body: dict[str, Any], limit: int) -> int:
    """The most tokens to write: OpenAI's names, else llama-server's ``n_predict`` (-1 and -2: no
    limit; ``max_tokens`` -1 too, as llama-server reads it and llama.cpp's web UI sends it) or
    text-generation-webui's ``max_new_tokens``; more than the server's limit is lowered."""
    names = ("max_completion_tokens", "max_tokens", "n_predict", "max_new_tokens")
    name = next((n for n in names if body.get(n) is not None), "")
    unlimited = {"n_predict": (-1, -2), "max_tokens": (-1,)}.get(name, ())
    asked = body.get(name) if name and not (type(body[name]) is int and body[name] in unlimited) else None
    if asked is None:
        return limit
    if isinstance(asked, bool) or not isinstance(asked, int) or asked < 1:
        raise RequestError(f"{name} must be a whole number >= 1, got {asked!r}.", name)
    # lowered, not refused: apps send 4096 or more by default, and finish_reason "length" says
    # where an answer was cut, as llama.cpp's server does with its own limit
    return min(asked, limit)


def _stops(body: dict[str, Any], out: dict[str, Any]) -> None:
    """``stop`` (text-generation-webui's ``stopping_strings`` too) and vLLM's ``stop_token_ids``."""
    stop, named = body.get("stop"), "stop"
    older = body.get("stopping_strings")
    if older is not None:
        if stop is not None and stop != older:
            raise RequestError("stop and stopping_strings disagree: send one of them.", "stopping_strings")
        stop, named = older, "stopping_strings"
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
            raise RequestError(f"{named} must be a non-empty string or a list of them.", named)
        if len(stops) > MAX_STOPS:
            raise RequestError(f"{named} takes at most {MAX_STOPS} strings, got {len(stops)}.", named)
        out["stop"] = tuple(stops)
    ids = body.get("stop_token_ids")  # vLLM's
    if ids:
        if not isinstance(ids, list) or len(ids) > MAX_STOPS:
            raise RequestError(f"stop_token_ids must be a list of at most {MAX_STOPS} token ids.", "stop_token_ids")
        out["stop_token_ids"] = tuple(ids)


def _bans(body: dict[str, Any]) -> dict[str, float]:
    """text-generation-webui's ``custom_token_bans`` and TabbyAPI's ``banned_tokens`` (token ids, a
    list or one string of them between commas) as logit biases of -100: never written."""
    out: dict[str, float] = {}
    for name in ("custom_token_bans", "banned_tokens"):
        value = body.get(name)
        if value in (None, "", []):
            continue
        ids = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else value
        if not isinstance(ids, list) or not all(
            (isinstance(t, int) and not isinstance(t, bool) and t >= 0) or (isinstance(t, str) and t.isdigit())
            for t in ids
        ):
            raise RequestError(f"{name} must be token ids, as a list or one string of them between commas.", name)
        out.update((str(int(t)), -100.0) for t in ids)
    return out


def _logprobs(body: dict[str, Any], out: dict[str, Any]) -> None:
    wanted, top = body.get("logprobs"), body.get("top_logprobs")
    if wanted not in (None, True, False):
        raise RequestError(f"logprobs must be true or false, got {wanted!r}.", "logprobs")
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_LOGPROBS:
            raise RequestError(
                f"top_logprobs must be a whole number from 0 to {MAX_LOGPROBS}, got {top!r}.", "top_logprobs"
            )
        if not wanted:
            raise RequestError("top_logprobs needs logprobs: true.", "top_logprobs")
    if wanted:
        out["logprobs"] = top or 0


def _logit_bias(body: dict[str, Any], out: dict[str, Any]) -> None:
    bias, bans = body.get("logit_bias") or {}, _bans(body)
    if not isinstance(bias, dict) or len(bias) > _MAX_BIASED:
        raise RequestError(
            f"logit_bias must be an object of at most {_MAX_BIASED} token ids (as strings) to numbers in [-100, 100].",
            "logit_bias",
        )
    merged = {**bias, **bans}  # a ban outweighs any bias of the same token
    if len(merged) > _MAX_BIASED:
        raise RequestError(
            f"logit_bias and the banned tokens name more than {_MAX_BIASED} tokens.",
            "custom_token_bans" if "custom_token_bans" in body else "banned_tokens",
        )
    if merged:
        out["logit_bias"] = merged


def settings_of(
    body: dict[str, Any], max_tokens_limit: int, sampler_order: tuple[int | str, ...] | None = None
) -> dict[str, Any]:
    """The sampling settings of a request body, checked (GenerationConfig overrides);
    ``sampler_order``: the route's server's order where the body names none (KoboldCpp's,
    llama.cpp's; None: this server's own, :data:`~edgeqwen.generation_config.SAMPLER_ORDER`)."""
    out: dict[str, Any] = {}
    for name in _FLOATS:
        value = _number(body, name)
        if value is not None:
            out[name] = value
    for name in _INTS:
        value = _whole(body, name)
        if value is not None:
            out[name] = value
    _aliases(body, out)
    if "temperature" in out and out["temperature"] > 2:
        raise RequestError(f"temperature must be in [0, 2], got {out['temperature']}.", "temperature")
    if body.get("temperature_last") is not None:  # text-generation-webui's, TabbyAPI's; SillyTavern's default
        out["temperature_last"] = flag(body, "temperature_last")
    if not flag(body, "do_sample", True):  # text-generation-webui's, transformers' meaning: false is greedy
        out["temperature"] = 0.0
    if out.get("top_p") == 0:  # the smallest nucleus: the best token alone, as llama.cpp and KoboldCpp keep it
        del out["top_p"]  # (SillyTavern's Deterministic preset sends it), whatever else is set: greedy
        out["temperature"] = 0.0
    if out.get("top_k", 0) < 0:  # off to llama.cpp (0 and below) and vLLM (-1), as 0 is here
        out["top_k"] = 0
    if out.get("seed") == -1:  # "random" to llama.cpp and Ollama (its default options send it), and their apps
        del out["seed"]
    elif out.get("seed", 0) < 0:  # a seed like any other to OpenAI and vLLM; the sampler's are unsigned
        out["seed"] %= 1 << 64
    out["max_tokens"] = _max_tokens(body, max_tokens_limit)
    prediction = body.get("prediction")
    if prediction is not None:  # OpenAI's Predicted Outputs: what the answer is expected to be much like
        if not isinstance(prediction, dict) or prediction.get("type") != "content":
            raise RequestError(
                'prediction must be {"type": "content", "content": TEXT}, the text the answer is expected to be '
                "much like.",
                "prediction",
            )
        try:
            out["prediction"] = content_text(prediction.get("content"), "prediction.content")
        except InvalidRequestError as exc:
            raise RequestError(str(exc), exc.param) from None
    _stops(body, out)
    _penalty_window(body, out)
    refuse_unless_off(body, _VLLM_OFF, empty=([], {}))
    llama_samplers_off(body)
    _webui_samplers_off(body)
    _logprobs(body, out)
    _logit_bias(body, out)
    _sampler_order(body, out, sampler_order)
    try:  # the ranges (top_p in (0, 1], ...) are checked here, not after the request waited for the model
        GenerationConfig().with_(**out)
    except InvalidRequestError as exc:
        aliases = [a for a, n in _ALIASES.items() if n == exc.param and a in body]
        sent = aliases[0] if aliases and exc.param not in body else None
        if sent is None:
            raise RequestError(str(exc), exc.param) from exc
        raise RequestError(f"{sent}: {exc}", sent) from exc  # the name the client sent
    return out
