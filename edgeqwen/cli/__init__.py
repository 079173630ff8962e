"""The ``edgeqwen`` command. Thin: parse flags, call the library, print. Errors from the
library (:class:`EdgeQwenError`) become one clean line on stderr and an exit code. One module per
kind of command: answer (run, serve), chat, embed, rerank, manage (pull, convert, models, verify, rm), machine
(probe, bench), safety."""

from __future__ import annotations

import click

from .answer import run, serve
from .chat import chat
from .embed import embed
from .machine import bench, probe
from .manage import convert, models, pull, rm, verify
from .rerank import rerank
from .safety import safety

__all__ = ["main"]


@click.group()
@click.version_option(package_name="edgeqwen")
def main() -> None:
    """Run small Qwen models locally, in int4: llama.cpp or ONNX Runtime on CPU, MLC-LLM on a GPU."""


for _command in (run, chat, serve, embed, rerank, convert, probe, bench, safety, models, pull, verify, rm):
    main.add_command(_command)
