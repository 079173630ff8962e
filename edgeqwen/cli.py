"""The ``edgeqwen`` command. Thin: parse flags, call the library, print. Errors from the
library (:class:`EdgeQwenError`) become one clean line on stderr and an exit code."""

from __future__ import annotations

import functools
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .errors import EdgeQwenError, InvalidRequestError, StructuredOutputError
from .paths import existing
from .repl import CHAT_HELP, parse_chat_line

if TYPE_CHECKING:
    from .runtime.formats import ResponseFormat

__all__ = ["main"]


def _say(message: str) -> None:
    click.echo(message, err=True)


def _show_warning(message: Warning | str, *_: Any, **__: Any) -> None:
    _say(f"Warning: {message}")  # not Python's file:line and source line, which say nothing to a user


def _clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
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
_model_options = _options(
    [
        click.option("--system", "-s", help="System prompt (serve: for requests that send none)."),
        click.option("--context-length", type=int, help="KV cache size (default: the model's)."),
        click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: physical cores)."),
        click.option(
            "--backend",
            default="auto",
            show_default=True,
            help="auto | llamacpp (GGUF; needs llama-cpp-python) | onnx | mlc (needs mlc_llm) | openai (a server "
            "at $OPENAI_BASE_URL).",
        ),
        click.option("--device", help="MLC device: auto, cuda[:i], metal, vulkan[:i], rocm."),
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
_sampling_options = _options(
    [
        click.option("--max-tokens", "-n", type=int, default=512, show_default=True, help="Most tokens to generate."),
        click.option("--temperature", "-t", type=float, help="0 = greedy."),
        click.option("--top-k", type=int, help="0 = off."),
        click.option("--top-p", type=float, help="1 = off."),
        click.option("--min-p", type=float, help="0 = off."),
        click.option("--repetition-penalty", type=float, help="1 = off."),
        click.option("--seed", type=int, help="Seed for sampling."),
        click.option("--stop", multiple=True, help="Stop string (repeatable)."),
        click.option("--think/--no-think", default=False, help="Qwen3 thinking mode."),
    ]
)


_SAMPLING = ("max_tokens", "temperature", "top_k", "top_p", "min_p", "repetition_penalty", "seed", "stop")


def _assistant(model: str | None, opts: dict[str, Any]):
    from .assistant import Assistant

    sampling = {k: opts[k] for k in _SAMPLING if opts.get(k) not in (None, ())}
    return Assistant(
        model,
        opts["system"],
        backend=opts["backend"],
        context_length=opts["context_length"],
        threads=opts["threads"],
        device=opts.get("device"),
        policy=opts.get("policy", "default"),
        audit_log=opts.get("audit_log"),
        enable_thinking=opts["think"],
        announce=_say,
        **sampling,
    )


@click.group()
@click.version_option(package_name="edgeqwen")
def main() -> None:
    """Run small Qwen models locally, in int4: llama.cpp or ONNX Runtime on CPU, MLC-LLM on a GPU."""


@main.command()
@click.argument("args", nargs=-1, required=True)
@_model_options
@_sampling_options
@click.option("--stats", is_flag=True, help="Print tokens/s and timings to stderr.")
@click.option(
    "--pull",
    "pull_",
    is_flag=True,
    help="Download MODEL first if it is not installed (no MODEL: the one `edgeqwen probe` recommends).",
)
@click.option("--schema", help="Answer with JSON valid for this JSON Schema: a .json file or the schema's JSON text.")
@click.option(
    "--schema-doc",
    "schema_docs",
    multiple=True,
    metavar="URI=FILE",
    help="A document the schema refers to, by the URI its $ref names (repeatable; nothing is fetched).",
)
@click.option("--regex", help="Answer with text that matches this regular expression in full.")
@click.option("--choice", "choices", multiple=True, help="Answer with exactly one of these (repeatable).")
@_clean_errors
def run(
    args: tuple[str, ...],
    stats: bool,
    pull_: bool,
    schema: str | None,
    schema_docs: tuple[str, ...],
    regex: str | None,
    choices: tuple[str, ...],
    **opts: Any,
) -> None:
    """Answer one prompt: edgeqwen run [MODEL] "PROMPT" (MODEL defaults to the installed one;
    PROMPT "-" reads it from stdin: cat notes.txt | edgeqwen run -)."""
    if len(args) > 2:
        raise click.UsageError('Quote the prompt: edgeqwen run [MODEL] "PROMPT".')
    model, prompt = (args[0], args[1]) if len(args) == 2 else (None, args[0])
    if prompt == "-":  # only when asked: reading a stdin nobody writes would wait forever
        # bad bytes kept as surrogates, so the prompt check names them as it does for chat's lines
        prompt = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    from .assistant import new_messages
    from .reply import value_of

    new_messages(prompt)  # a prompt that cannot be answered fails before the model loads
    response_format = _response_format(schema, regex, choices, schema_docs)
    if pull_:
        from .hub import install_missing

        install_missing(model, opts["backend"], progress=_say)
    bot = _assistant(model, opts)
    if response_format is None:
        stream = bot.stream(prompt)
        for text in stream:
            click.echo(text, nl=False)
        reply = stream.reply()
        click.echo()
    else:  # a script reads a value from stdout: a refusal is an error (exit 3), not the answer
        reply = bot.chat(prompt, response_format=response_format)
        value_of(reply)
        click.echo(reply.text)
    for call in reply.tool_calls:
        click.echo(f"[tool call] {call.name}({call.arguments})")
    if stats:
        _say(_format_metrics(reply))


def _response_format(
    schema: str | None, regex: str | None, choices: tuple[str, ...], docs: tuple[str, ...] = ()
) -> ResponseFormat | None:
    """The one constraint run's flags ask for (None: free text)."""
    from .runtime.formats import ResponseFormat

    if docs and schema is None:
        raise click.UsageError("--schema-doc gives a document a --schema refers to: add --schema.")

    given = [name for name, value in (("--schema", schema), ("--regex", regex), ("--choice", choices)) if value]
    if len(given) > 1:
        raise click.UsageError(f"Use one of {', '.join(given)}: an answer takes one constraint.")
    if regex is not None:
        return ResponseFormat.regex(regex)
    if choices:
        return ResponseFormat.choice(choices)
    if schema is None:
        return None
    text, where = schema, "the schema text"
    inline = schema.lstrip().startswith(("{", "["))
    path = None if inline else existing(schema)  # a long schema is no file name: never tried as one
    if path is not None:
        try:
            text, where = path.read_text(encoding="utf-8"), f"the file {schema!r}"
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"cannot read {schema!r} ({exc}).", param_hint="--schema") from exc
    elif not inline:
        where = f"{schema!r} is not a file, and"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).", param_hint="--schema"
        ) from exc
    return ResponseFormat.of(value, resources=dict(_schema_doc(doc) for doc in docs))


def _schema_doc(given: str) -> tuple[str, Any]:
    """``URI=FILE`` as the URI and the file's JSON."""
    uri, _, name = given.rpartition("=")
    path = existing(name) if uri and name else None
    if path is None:
        raise click.BadParameter(f"{given!r} is not URI=FILE with an existing file.", param_hint="--schema-doc")
    try:
        return uri, json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"cannot read {name!r} as JSON ({exc}).", param_hint="--schema-doc") from exc


def _format_metrics(reply) -> str:
    m = reply.metrics
    return (
        f"[{m.prompt_tokens} prompt tokens ({m.cached_tokens} cached), {m.generated_tokens} generated, "
        f"TTFT {m.ttft_s * 1000:.0f} ms, prefill {m.prefill_tps:.1f} tok/s, decode {m.decode_tps:.1f} tok/s, "
        f"finish: {m.finish_reason}]"
    )


@main.command()
@click.argument("model", required=False)
@_model_options
@_sampling_options
@_clean_errors
def chat(model: str | None, **opts: Any) -> None:
    """Interactive chat. /reset clears the history, /system TEXT sets the system prompt,
    /exit quits; Ctrl-C stops the current answer and keeps the session."""
    bot = _assistant(model, opts)
    for stream, errors in ((sys.stdin, "surrogateescape"), (sys.stdout, "backslashreplace")):
        # a line that is not UTF-8 reaches the library, which says so (and any echo of it is escaped)
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=errors)
    _say(CHAT_HELP)
    while True:
        try:
            line = click.prompt(">>>", prompt_suffix=" ", default="", show_default=False)
        except (EOFError, click.Abort):
            click.echo()
            return
        parsed = parse_chat_line(line)
        if parsed.action == "exit":
            return
        if parsed.action == "reset":
            bot.reset()
            _say("(history cleared)")
        elif parsed.action == "show_system":
            _say(
                f"(system prompt: {bot.system!r}; /system TEXT sets it)"
                if bot.system
                else "(no system prompt set: the model's default is used)"
            )
        elif parsed.action == "set_system":
            bot.reset(system=parsed.text)
            _say("(system prompt set, history cleared)")
        elif parsed.action == "help":
            _say(CHAT_HELP)
        elif parsed.action == "unknown":  # the line stays on screen, to fix and send again
            hint = f" Did you mean {parsed.meant}? Nothing was sent." if parsed.meant else ""
            _say(f"Unknown command {parsed.command}.{hint} {CHAT_HELP}")
        if parsed.action != "message":
            continue
        try:
            stream = bot.stream(line)
        except InvalidRequestError as exc:  # one bad line: say why, keep the session
            _say(f"Error: {exc}")
            continue
        try:
            for text in stream:
                click.echo(text, nl=False)
        except KeyboardInterrupt:
            _say("\n(stopped)")
        click.echo()
        reply = stream.reply()
        if reply.trimmed_turns:
            _say(f"(dropped {reply.trimmed_turns} oldest turn(s) to fit the context window)")


@main.command()
@click.argument("model", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--api-key", envvar="EDGEQWEN_API_KEY", help="Require 'Authorization: Bearer KEY' [env EDGEQWEN_API_KEY]."
)
@click.option(
    "--max-tokens", default=2048, show_default=True, type=click.IntRange(1), help="Most tokens a request may ask for."
)
@click.option(
    "--max-queue", default=8, show_default=True, type=click.IntRange(0), help="Requests that may wait; more get 429."
)
@click.option(
    "--max-request-bytes", default=1 << 20, show_default=True, type=click.IntRange(1), help="Larger bodies get 413."
)
@click.option(
    "--body-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds a request body may take to arrive; slower ones get 408.",
)
@_model_options
@_clean_errors
def serve(
    model: str | None,
    host: str,
    port: int,
    api_key: str | None,
    max_tokens: int,
    max_queue: int,
    max_request_bytes: int,
    body_timeout: float,
    **opts: Any,
) -> None:
    """Serve MODEL over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/models,
    /health, /metrics). Needs the server extra: pip install 'edgeqwen[server]'."""
    from .server import require

    require()
    from .server.app import ServerSettings
    from .server.runner import check_port
    from .server.runner import serve as run_server

    settings = ServerSettings(api_key or None, max_request_bytes, max_tokens, max_queue, body_timeout)
    check_port(host, port)  # before the model loads
    bot = _assistant(model, {**opts, "think": False})
    run_server(bot, host, port, settings, announce=_say)


@main.command()
@click.argument("hf_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Model folder to write.")
@click.option("--precision", default="int4", show_default=True, type=click.Choice(["int4", "fp32", "fp16"]))
@click.option("--block-size", default=32, show_default=True, type=int, help="int4 block size (32 or 128).")
@click.option("--accuracy-level", default=4, show_default=True, type=int, help="4 = int8 activations.")
@click.option(
    "--lm-head-bits",
    default="8",
    show_default=True,
    type=click.Choice(["4", "8"]),
    help="Bits of the lm_head (and a tied embedding); 8 keeps int4's quality at Q4_0's.",
)
@click.option("--no-memory-check", is_flag=True, help="Start even if this machine seems short of memory.")
@_clean_errors
def convert(
    hf_dir: Path,
    output: Path,
    precision: str,
    block_size: int,
    accuracy_level: int,
    lm_head_bits: str,
    no_memory_check: bool,
) -> None:
    """Build an int4 ONNX model folder from a Hugging Face Qwen2.5 / Qwen3 / Llama folder."""
    from .convert import ConvertOptions
    from .convert import convert as do_convert

    _say(
        f"Converting {hf_dir} ({precision}, block {block_size}, lm_head {lm_head_bits} bits, "
        f"accuracy level {accuracy_level})..."
    )
    options = ConvertOptions(precision, block_size, accuracy_level, lm_head_bits=int(lm_head_bits))
    out = do_convert(hf_dir, output, options, memory_check=not no_memory_check)
    click.echo(str(out))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quick", is_flag=True, help="Skip the memory-bandwidth measurement (~0.4 s).")
@click.option("--model", "model", help="Ask about one catalog model.")
@click.option("--context", type=int, help="Ask about this context length.")
@click.option(
    "--calibrate",
    is_flag=True,
    help="First time each installed CPU backend here (twice, interleaved; seconds each); kept for this machine.",
)
@_clean_errors
def probe(as_json: bool, quick: bool, model: str | None, context: int | None, calibrate: bool) -> None:
    """Read this machine and say which model, build, context and backend fit, and how fast."""
    import json

    from .catalog import get_model
    from .hub import cache_dir
    from .probe import plan, read_system
    from .probe.calibrate import load_calibration
    from .probe.report import build_report, format_report

    if model is not None:
        model = get_model(model).name
    if calibrate:
        from .bench import calibrate_machine

        calibrate_machine(say=_say)
    snap = read_system(measure_bandwidth=not quick, cache_dir=cache_dir())
    result = plan(snap, model=model, context=context, calibration=load_calibration(snap, cache_dir()))
    if as_json:
        click.echo(json.dumps(build_report(snap, result), indent=2))
    else:
        click.echo(format_report(snap, result))


@main.command()
@click.argument("model", required=False)
@click.option("--prompt-tokens", "-p", default=128, show_default=True, help="Prompt length (random token ids).")
@click.option("--gen-tokens", "-n", default=64, show_default=True, help="Tokens to generate (stop tokens ignored).")
@click.option("--runs", "-r", default=3, show_default=True, help="Measured runs (after one warm-up).")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: physical cores).")
@click.option("--context-length", type=int, help="KV cache size (default: prompt + generated).")
@click.option("--backend", default="auto", show_default=True, help="auto | llamacpp | onnx.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_clean_errors
def bench(
    model: str | None,
    prompt_tokens: int,
    gen_tokens: int,
    runs: int,
    threads: int | None,
    context_length: int | None,
    backend: str,
    as_json: bool,
) -> None:
    """Measure prefill / decode tokens/s, time to first token, load time and peak memory."""
    import json

    from .bench import run_bench

    r = run_bench(model, prompt_tokens, gen_tokens, runs, threads, context_length, backend, announce=_say)
    if as_json:
        click.echo(json.dumps(r.as_dict(), indent=2))
        return
    mib = 2**20
    click.echo(
        f"{r.model}: {r.prompt_tokens} prompt + {r.gen_tokens} generated tokens, {r.threads} threads, "
        f"median of {r.runs} runs (min-max)"
    )
    for label, s, unit in (("prefill", r.prefill_tps, "tok/s"), ("decode", r.decode_tps, "tok/s")):
        click.echo(f"  {label:<8}{s.median:9.1f} {unit}  ({s.min:.1f}-{s.max:.1f})")
    click.echo(f"  TTFT    {r.ttft_s.median * 1000:9.1f} ms     ({r.ttft_s.min * 1000:.1f}-{r.ttft_s.max * 1000:.1f})")
    click.echo(f"  load    {r.load_s:9.2f} s")
    click.echo(
        f"  peak RSS {r.peak_rss_bytes / mib:8.0f} MiB = {r.memory_ratio:.2f}x (model files "
        f"{r.model_bytes / mib:.0f} MiB + KV cache {r.kv_cache_bytes / mib:.0f} MiB)"
    )


@main.group()
def safety() -> None:
    """Safety tools: check a prompt against a policy, train a model's activation probe."""


@safety.command("check")
@click.argument("text", required=False)
@click.option(
    "--policy",
    default="default",
    show_default=True,
    help="Safety policy: default | strict | pii | none, or a .json/.toml/.yaml file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@_clean_errors
def safety_check(text: str | None, policy: str, as_json: bool) -> None:
    """What the policy's input checks do with TEXT (or standard input), without a model: the
    decision, each finding and the reply a refusal gets. Exits 3 when it is refused. The
    activation probe and a guard model need the model, and are not run here."""
    from .safety import Guard

    if text is None or text == "-":
        text = sys.stdin.read()
    guard = Guard(policy)
    decision = guard.check_input(text)
    reply = guard.refusal_for(decision) if decision.action == "refuse" else None
    if as_json:
        events = [{"category": e.category, "action": e.action, "evidence": e.evidence} for e in decision.events]
        body = {"action": decision.action, "category": decision.category, "events": events, "reply": reply}
        click.echo(json.dumps(body, ensure_ascii=False))
    else:
        click.echo(decision.action + (f" ({decision.category})" if decision.category else ""))
        for e in decision.events:
            click.echo(f"  {e.category}: {e.action} ({e.evidence})")
        if reply is not None:
            click.echo(f"reply: {reply}")
    if decision.action == "refuse":
        sys.exit(3)


@safety.command("train-probe")
@click.argument("model")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="The safety-train corpus folder.")
@click.option("--per-source", default=200, show_default=True, help="Prompts per source and label.")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for the probe (default: beside the model).")
@click.option(
    "--backend",
    type=click.Choice(["llamacpp", "onnx"]),
    default="llamacpp",
    show_default=True,
    help="The build to train on: a probe holds for the one build it was trained on.",
)
@_clean_errors
def train_probe(model: str, data: Path, per_source: int, out: Path | None, backend: str) -> None:
    """Train MODEL's harm probe on its own hidden states (a GGUF on llama.cpp, or an int4 ONNX build)."""
    from .backends import load_backend
    from .hub import resolve_model
    from .safety.probe import train_and_save

    loaded = load_backend(backend, resolve_model(model, announce=_say, backend=backend))

    def progress(done: int, total: int) -> None:
        if done % 250 == 0 or done == total:
            _say(f"hidden states: {done}/{total}")

    probe, folder = train_and_save(loaded, data, per_source, out, progress)
    click.echo(f"Probe saved in {folder} (threshold {probe.threshold:.3f}; {probe.info['rows']} prompts).")


@main.command()
@_clean_errors
def models() -> None:
    """List the catalog and what is installed, with sizes and paths."""
    from .catalog import catalog
    from .hub import installed_models, models_dir

    installed = installed_models()

    def size(path: Path) -> str:
        total = sum(f.stat().st_size for f in path.resolve().iterdir() if f.is_file())
        return f"{total / 2**20:,.0f} MiB"

    click.echo(f"Models in {models_dir()}")
    for spec in catalog():
        hits = [n for n in installed if n.startswith(spec.name)]
        builds = [
            f"{label} ~{spec.builds[key]['approx_size_mib']:,} MiB"
            for key, label in (
                ("gguf", f"GGUF {spec.builds.get('gguf', {}).get('quantization')}"),
                ("onnx-int4-cpu", "int4 ONNX"),
            )
            if key in spec.builds
        ]
        state = ", ".join(f"{n} ({size(installed[n])})" for n in hits) or f"not installed ({', '.join(builds)})"
        click.echo(f"  {spec.name:<26} {spec.display:<38} {state}")
    others = [n for n in installed if not any(n.startswith(s.name) for s in catalog())]
    for name in others:
        click.echo(f"  {name:<26} {'(not in the catalog)':<38} {size(installed[name])}  -> {installed[name].resolve()}")


@main.command()
@click.argument("model")
@click.option("--force", is_flag=True, help="Download again even if cached (after a checksum error).")
@click.option("--convert", "convert_", is_flag=True, help="Build the int4 ONNX locally when no prebuilt exists.")
@click.option("--revision", help="Branch, tag or commit on the hub.")
@click.option(
    "--backend",
    type=click.Choice(["onnx", "llamacpp", "mlc"]),
    default="onnx",
    show_default=True,
    help="Which build: int4 ONNX for CPU, the publisher's GGUF for llama.cpp (no conversion), or MLC q4f16_1 "
    "for a GPU.",
)
@_clean_errors
def pull(model: str, force: bool, convert_: bool, revision: str | None, backend: str) -> None:
    """Download MODEL (a catalog name, ORG/REPO[:SUBFOLDER] with an ORT GenAI int4 build, or
    ORG/REPO:FILE.gguf with --backend llamacpp).

    Uses the Hugging Face cache (resumes interrupted downloads; honours HF_ENDPOINT,
    HF_HUB_OFFLINE, HF_TOKEN). Checks free disk first and every file's checksum after."""
    from .pull import pull as do_pull

    click.echo(str(do_pull(model, backend=backend, force=force, convert=convert_, revision=revision, progress=_say)))


@main.command()
@click.argument("model")
@_clean_errors
def verify(model: str) -> None:
    """Check every file of MODEL (a name or folder) against the checksums recorded when it was
    pulled or converted; exit 1 naming the damaged file and the fix."""
    from .hub import resolve_model
    from .integrity import verify as verify_folder

    r = verify_folder(resolve_model(model), progress=_say)
    click.echo(
        f"{r.folder}: {r.files} files, {r.bytes / 2**20:,.0f} MiB match ({r.seconds:.2f} s, {r.gb_per_s:.2f} GB/s)"
    )


@main.command()
@click.argument("model")
@_clean_errors
def rm(model: str) -> None:
    """Remove an installed model and its files in the cache."""
    from .pull import remove

    click.echo(f"removed {remove(model)}")


if __name__ == "__main__":  # pragma: no cover
    main()
