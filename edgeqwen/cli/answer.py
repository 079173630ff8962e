"""The commands that answer: run (one prompt) and serve (an HTTP API); chat (a session) is chat.py."""

from __future__ import annotations

import json
import os
import select
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidRequestError
from ..generation_config import MAX_LOOKUP
from ..jsontext import load_json
from ..paths import existing
from .common import clean_errors, echo_answer, model_options, open_assistant, sampling_options, say, where_cut
from .conversation import load_conversation, read_conversation, save_conversation

if TYPE_CHECKING:
    from ..runtime.formats import ResponseFormat
    from ..types import Message, Reply

__all__ = ["STDIN_WAIT", "run", "serve", "stdin_text", "stdin_waiting"]

STDIN_WAIT = 1.0  # seconds a pipe on stdin may take to say something when it is the only prompt


def stdin_waiting(wait: float) -> bool:
    """Whether stdin is a pipe or a file with something to read (or its end) within ``wait``
    seconds; nothing is read. A terminal and /dev/null never are, nor a pipe nobody writes or
    closes (a command over ssh), which would otherwise be waited on forever."""
    try:
        fd = sys.stdin.fileno()
        info = os.fstat(fd)
    except (AttributeError, OSError, ValueError):  # no stdin, or not a file (a test runner's)
        return False
    if sys.stdin.isatty():
        return False
    if stat.S_ISREG(info.st_mode):
        return info.st_size > 0
    if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode)):
        return False  # /dev/null
    try:
        return bool(select.select([fd], [], [], wait)[0])
    except (OSError, ValueError):  # Windows selects sockets only
        return False


def stdin_text() -> str:
    # bad bytes kept as surrogates, so the prompt check names them as it does for chat's lines
    return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")


@click.command()
@click.argument("args", nargs=-1)
@model_options
@sampling_options
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
@click.option(
    "--raw",
    is_flag=True,
    help="Continue the prompt as written: no chat template or system prompt; control tokens written out "
    "(<|im_start|>) are read as tokens.",
)
@click.option(
    "-c",
    "--conversation",
    type=click.Path(dir_okay=False),
    help="Follow on from the conversation in this file, where it exists, and keep it there with this "
    "exchange (the file chat's /save writes).",
)
@clean_errors
def run(
    args: tuple[str, ...],
    stats: bool,
    pull_: bool,
    raw: bool,
    conversation: str | None,
    schema: str | None,
    schema_docs: tuple[str, ...],
    regex: str | None,
    choices: tuple[str, ...],
    **opts: Any,
) -> None:
    """Answer one prompt: edgeqwen run [MODEL] "PROMPT" (MODEL defaults to the installed one).
    "-" before the prompt puts the text piped in first: cat notes.txt | edgeqwen run - "Summarize
    this"; "-" alone, or piped text and no prompt, makes it the prompt."""
    if len(args) > 3 or (len(args) == 3 and args[1] != "-"):
        raise click.UsageError('Quote the prompt: edgeqwen run [MODEL] [-] "PROMPT".')
    model = args[0] if len(args) == 3 or (len(args) == 2 and args[0] != "-") else None
    rest = args[1:] if model is not None else args  # (), (PROMPT,), ("-",) or ("-", PROMPT)
    if rest[:1] == ("-",):  # asked for: waits for stdin however long it takes
        piped = stdin_text()
        if len(rest) == 1:
            prompt = piped
        else:  # the piped text, then the prompt (the prompt alone if nothing came)
            prompt = f"{piped.rstrip()}\n\n{rest[1]}" if piped.strip() else rest[1]
    elif rest:
        prompt = rest[0]
        if stdin_waiting(0):  # not read unasked: a script fed to a shell on stdin would be read as the text
            say(
                'Note: text piped in is not read unless asked; to put it before the prompt, pass "-" first: '
                'cat notes.txt | edgeqwen run - "Summarize this".'
            )
    elif stdin_waiting(STDIN_WAIT):
        prompt = stdin_text()
    else:
        raise click.UsageError('Give the prompt: edgeqwen run [MODEL] [-] "PROMPT", or pipe it in.')
    from ..assistant import new_messages
    from ..reply import value_of

    if raw and (opts["system"] is not None or opts["think"]):
        raise click.UsageError("--raw continues the prompt as written: it takes no --system or --think.")
    new_messages(prompt)  # a prompt that cannot be answered fails before the model loads
    response_format = _response_format(schema, regex, choices, schema_docs)
    saved = _conversation(conversation, raw)
    if pull_:
        from ..bench import first_timing
        from ..hub import install_missing

        install_missing(model, opts["backend"], progress=say, first_timing=first_timing)
    bot = open_assistant(model, opts)
    if saved is not None:  # a --system given now replaces the saved one
        load_conversation(bot, conversation, saved if opts["system"] is None else (opts["system"], saved[1]))
    start = bot.complete if raw else bot.stream
    if response_format is None:
        stream = start(prompt)
        echo_answer(stream)
        reply = stream.reply()
        click.echo()
        if reply.finish_reason == "length":
            say(f"(cut {where_cut(reply, bot.config.max_tokens)}: -n/--max-tokens sets how many an answer may have)")
    else:  # a script reads a value from stdout: a refusal is an error (exit 3), not the answer
        reply = start(prompt, response_format=response_format).reply()
        value_of(reply)
        click.echo(reply.text)
    for call in reply.tool_calls:
        click.echo(f"[tool call] {call.name}({call.arguments})")
    if conversation is not None:
        save_conversation(bot, conversation)
    if stats:
        say(_format_metrics(reply))


def _conversation(name: str | None, raw: bool) -> tuple[str | None, list[Message]] | None:
    """The conversation ``--conversation`` names, read before the model loads (None: none yet)."""
    if name is None:
        return None
    if raw:
        raise click.UsageError("--raw continues the prompt as written: it keeps no --conversation.")
    path = Path(name).expanduser()
    # where the answer could not be kept, say so before the model loads, not after it answered
    if not path.parent.is_dir():
        raise click.BadParameter(
            f"{name}: there is no folder {path.parent} to keep the conversation in; create it first.",
            param_hint="--conversation",
        )
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise click.BadParameter(f"{name} cannot be written here (permission denied).", param_hint="--conversation")
    if not path.exists():
        return None  # the first exchange: the file is written after it
    try:
        return read_conversation(name)
    except InvalidRequestError as exc:
        raise click.BadParameter(str(exc), param_hint="--conversation") from None


def _response_format(
    schema: str | None, regex: str | None, choices: tuple[str, ...], docs: tuple[str, ...] = ()
) -> ResponseFormat | None:
    """The one constraint run's flags ask for (None: free text)."""
    from ..runtime.formats import ResponseFormat

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
        value = load_json(text)
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
        return uri, load_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"cannot read {name!r} as JSON ({exc}).", param_hint="--schema-doc") from exc


def _format_metrics(reply: Reply) -> str:
    m = reply.metrics
    return (
        f"[{m.prompt_tokens} prompt tokens ({m.cached_tokens} cached), {m.generated_tokens} generated, "
        f"TTFT {m.ttft_s * 1000:.0f} ms, prefill {m.prefill_tps:.1f} tok/s, decode {m.decode_tps:.1f} tok/s, "
        + (f"guesses taken {m.accepted_tokens} of {m.drafted_tokens}, " if m.drafted_tokens else "")
        + f"finish: {m.finish_reason}]"
    )


@click.command()
@click.argument("model", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--api-key", envvar="EDGEQWEN_API_KEY", help="Require 'Authorization: Bearer KEY' [env EDGEQWEN_API_KEY]."
)
@click.option(
    "--max-tokens",
    default=2048,
    show_default=True,
    type=click.IntRange(1),
    help="Most tokens an answer may have (a request asking for more gets this many).",
)
@click.option(
    "--max-queue",
    default=64,
    show_default=True,
    type=click.IntRange(0),
    help="Requests that may wait their turn; more get 429 (with a Retry-After of how long an answer takes).",
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
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="A web page's origin (https://app.example.com) a browser may let call the API, or * for any "
    "(repeatable; pages on localhost always may).",
)
@click.option(
    "--max-stored-responses",
    default=256,
    show_default=True,
    type=click.IntRange(0),
    help="Newest /v1/responses answers kept in memory for previous_response_id, and newest "
    "/v1/conversations (0: none).",
)
@click.option(
    "--keepalive",
    default=15.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds of silence in a streamed answer (a long prompt read, a tool call held) after which "
    "a keep-alive is sent, so proxies and clients do not drop it (0: none).",
)
@click.option(
    "--embeddings",
    "embedding_model",
    metavar="MODEL",
    help="Also serve /v1/embeddings with this embedding model (qwen3-embedding-0.6b, or a GGUF file).",
)
@click.option(
    "--reranker",
    "reranker_model",
    metavar="MODEL",
    help="Also serve /v1/rerank with this reranker (qwen3-reranker-0.6b, or a GGUF file).",
)
@click.option(
    "--prompt-lookup",
    type=click.IntRange(0, MAX_LOOKUP),
    help="Guess up to N tokens a step from the text so far, for requests that do not say "
    "(prompt_lookup in a body); llama.cpp and ONNX. 0 = off.",
)
@model_options
@clean_errors
def serve(
    model: str | None,
    host: str,
    port: int,
    api_key: str | None,
    max_tokens: int,
    max_queue: int,
    max_request_bytes: int,
    body_timeout: float,
    cors_origins: tuple[str, ...],
    max_stored_responses: int,
    keepalive: float,
    embedding_model: str | None,
    reranker_model: str | None,
    **opts: Any,
) -> None:
    """Serve MODEL over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/responses,
    /v1/completions, /v1/embeddings with --embeddings, /v1/rerank with --reranker, /v1/moderations
    by the policy's checks, /v1/models, /tokenize, /health, /metrics), llama-server's
    (/completion, /apply-template, /props), and over Ollama's (/api/chat,
    /api/generate, /api/embed, /api/tags ...), Anthropic's (/v1/messages), Hugging Face's TGI
    (/generate) and the KoboldAI API (/api/v1/generate ...) on the same port.
    Needs the server extra: pip install 'edgeqwen[server]'."""
    from ..server import require

    require()
    from ..server.runner import check_port
    from ..server.runner import serve as run_server
    from ..server.settings import ServerSettings

    settings = ServerSettings(
        api_key, max_request_bytes, max_tokens, max_queue, body_timeout, cors_origins, max_stored_responses, keepalive
    )
    check_port(host, port)  # before the model loads
    from ..hub import check_role

    check_role(embedding_model, "embedding")  # a model of another kind named here fails before anything loads
    check_role(reranker_model, "reranker")
    bot = open_assistant(model, {**opts, "think": False})
    embedder = reranker = None
    if embedding_model is not None:  # after it: their windows are sized by the memory the chat model left
        from ..embeddings import Embedder

        embedder = Embedder(embedding_model, threads=opts["threads"], announce=say)
    if reranker_model is not None:
        from ..rerank import Reranker

        reranker = Reranker(reranker_model, threads=opts["threads"], announce=say)
    run_server(bot, host, port, settings, announce=say, embedder=embedder, reranker=reranker)
