"""What every command shares: errors and warnings as one clean line, the flags that load and
guard a model, the Assistant those flags make, and an answer printed as it comes."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..errors import EdgeQwenError, InsufficientMemoryError, StructuredOutputError
from ..generation_config import MAX_LOOKUP
from ..model import KV_CACHE_TYPES

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..reply import ReplyStream
    from ..types import Reply

__all__ = [
    "THREADS_HELP",
    "clean_errors",
    "echo_answer",
    "model_options",
    "open_assistant",
    "sampling_options",
    "say",
    "where_cut",
]

THREADS_HELP = "CPU threads (default: one per physical core; on a hybrid CPU, per performance core)."


def say(message: str) -> None:
    """A message for the user, on stderr (stdout holds only the answer)."""
    click.echo(message, err=True)


def _show_warning(message: Warning | str, *_: Any, **__: Any) -> None:
    say(f"Warning: {message}")  # not Python's file:line and source line, which say nothing to a user


def clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose library errors end as one line and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():  # Python's filters (each warning once), our words
                warnings.showwarning = _show_warning
                return fn(*args, **kwargs)
        except EdgeQwenError as exc:
            click.echo(f"Error: {exc}", err=True)
            if isinstance(exc, StructuredOutputError) and exc.text:
                # nothing the model wrote is lost, and stdout still holds only valid values
                click.echo(f"The answer as the model wrote it:\n{exc.text}", err=True)
            sys.exit(exc.exit_code)
        except MemoryError:  # under a memory limit (ulimit -v, a cluster's job limit) even imports fail
            click.echo(
                "Error: out of memory. Close other programs, use a smaller model or --context-length, or raise "
                "this process's memory limit (`ulimit -v`, the container's or job's).",
                err=True,
            )
            sys.exit(InsufficientMemoryError.exit_code)
        except KeyboardInterrupt:  # Ctrl-C: stop quietly with the shell's code for SIGINT
            click.echo(err=True)
            sys.exit(130)

    return wrapper


def _options(options: list[Callable[[Any], Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


# How the model is loaded and guarded: run, chat and serve take the same flags.
model_options = _options(
    [
        click.option("--system", "-s", help="System prompt (serve: for requests that send none)."),
        click.option("--context-length", type=int, help="KV cache size (default: the model's)."),
        click.option("--threads", type=click.IntRange(min=1), help=THREADS_HELP),
        click.option(
            "--backend",
            default="auto",
            show_default=True,
            help="auto | llamacpp (GGUF; needs llama-cpp-python) | onnx | mlc (needs mlc_llm) | openai (a server "
            "at $OPENAI_BASE_URL).",
        ),
        click.option("--device", help="MLC device: auto, cuda[:i], metal, vulkan[:i], rocm."),
        click.option(
            "--kv-cache-type",
            type=click.Choice(KV_CACHE_TYPES),
            help="llama.cpp's KV cache type (default f16): q8_0 halves its memory, q4_0 quarters it.",
        ),
        click.option(
            "--policy",
            default="default",
            show_default=True,
            help="Safety policy: default | strict | pii | none, or a .json/.toml/.yaml file.",
        ),
        click.option("--audit-log", type=click.Path(dir_okay=False), help="Append safety events to this JSONL file."),
    ]
)
# Sampling flags for run and chat; a flag left out keeps the model card's default for that model.
sampling_options = _options(
    [
        click.option("--max-tokens", "-n", type=int, default=512, show_default=True, help="Most tokens to generate."),
        click.option("--temperature", "-t", type=float, help="0 = greedy."),
        click.option("--top-k", type=int, help="0 = off."),
        click.option("--top-p", type=float, help="1 = off."),
        click.option("--min-p", type=float, help="0 = off."),
        click.option("--typical-p", type=float, help="Locally typical sampling; 1 = off."),
        click.option(
            "--temperature-last", is_flag=True, default=None, help="Apply the temperature after top-p, min-p, typical."
        ),
        click.option("--repetition-penalty", type=float, help="1 = off."),
        click.option("--seed", type=int, help="Seed for sampling."),
        click.option("--stop", multiple=True, help="Stop string (repeatable)."),
        click.option(
            "--prompt-lookup",
            type=click.IntRange(0, MAX_LOOKUP),
            help="Guess up to N tokens a step from the text so far (faster where the answer repeats it; "
            "llama.cpp and ONNX). 0 = off.",
        ),
        click.option("--think/--no-think", default=False, help="Qwen3 thinking mode."),
        click.option(
            "--thinking-budget",
            type=click.IntRange(1),
            help="With --think: after N tokens of thinking, Qwen3 is made to close it and answer (llama.cpp and ONNX).",
        ),
    ]
)


_SAMPLING = (
    "max_tokens",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "temperature_last",
    "repetition_penalty",
    "seed",
    "stop",
    "prompt_lookup",
    "thinking_budget",
)


def open_assistant(model: str | None, opts: dict[str, Any]) -> Assistant:
    """The Assistant the model and sampling flags ask for."""
    from ..assistant import Assistant

    sampling = {k: opts[k] for k in _SAMPLING if opts.get(k) not in (None, ())}
    if "thinking_budget" in sampling and not opts["think"]:  # it bounds a thinking that is off: nothing to do
        raise click.UsageError("--thinking-budget bounds Qwen3's thinking, which is off: add --think, or leave it out.")
    return Assistant(
        model,
        opts["system"],
        backend=opts["backend"],
        context_length=opts["context_length"],
        threads=opts["threads"],
        device=opts.get("device"),
        kv_cache_type=opts.get("kv_cache_type"),
        policy=opts.get("policy", "default"),
        audit_log=opts.get("audit_log"),
        enable_thinking=opts["think"],
        announce=say,
        **sampling,
    )


def echo_answer(stream: ReplyStream) -> None:
    """The answer on stdout as it comes; Qwen3's thinking before it on stderr, dimmed on a
    terminal, as it comes too (stdout holds only the answer)."""
    thinking = False
    for kind, text in stream.pieces():
        if kind == "thinking":
            if not thinking:
                say(click.style("[thinking]", dim=True))
                thinking = True
            click.echo(click.style(text, dim=True), nl=False, err=True)
            continue
        if thinking:
            say(click.style("\n[/thinking]", dim=True))
            thinking = False
        click.echo(text, nl=False)
    if thinking:
        say(click.style("\n[/thinking]", dim=True))


def where_cut(reply: Reply, max_tokens: int) -> str:
    """Where an answer that ended at its length was cut: its token bound, or the context window's end."""
    if reply.metrics.generated_tokens >= max_tokens:
        return f"at {max_tokens} tokens"
    return "where the context window ends (--context-length)"
