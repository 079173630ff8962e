"""Every script in examples/ runs on the offline demo model, as a newcomer would run it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
pytestmark = pytest.mark.slow


def run(script: str, *args: str, stdin: str = "", timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def test_every_example_is_tested():
    tested = {"chat_cli.py", "extract_invoice_json.py", "safe_support_bot.py", "pi_offline_assistant.py",
              "server_client.py", "remote_assistant.py", "tool_calling.py", "async_app.py",
              "score_choices.py", "answer_from_notes.py"}  # fmt: skip
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_chat_cli(demo_model):
    out = run("chat_cli.py", stdin="What is the capital of France?\n/reset\nAnd of Italy?\n")
    assert out.count("bot> ") == 2 and "(conversation cleared)" in out
    assert "Paris" in out.split("(conversation cleared)")[0]


def test_tool_calling(demo_model):
    import jsonschema

    from edgeqwen.toolspec import function_spec

    spec = importlib.util.spec_from_file_location("tool_calling", EXAMPLES / "tool_calling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = run("tool_calling.py", "--require", "What is the weather in Lisbon today?")
    calls = [line for line in out.splitlines() if line.startswith("called ")]
    # the answer after the calls; it may run over lines (the demo on ONNX closed it with a code fence)
    assert calls and out.rfind("\nanswer: ") > out.rfind(calls[-1])
    for line in calls:  # each call named a tool and its arguments were valid for it
        name, rest = line[len("called ") :].split("(", 1)
        arguments = json.loads(rest.split(") -> ")[0])
        jsonschema.validate(arguments, function_spec(module.FUNCTIONS[name])["function"]["parameters"])


def test_extract_invoice_json(demo_model):
    spec = importlib.util.spec_from_file_location("extract_invoice_json", EXAMPLES / "extract_invoice_json.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the annotations through it
    spec.loader.exec_module(module)
    invoice = module.Invoice.model_validate(json.loads(run("extract_invoice_json.py")))
    assert invoice.currency in ("EUR", "USD", "GBP", "other") and len(invoice.vendor) <= 60


def test_safe_support_bot(demo_model, tmp_path):
    log = tmp_path / "audit.jsonl"
    out = run("safe_support_bot.py", "--audit-log", str(log))
    bot_lines = "\n".join(part.split("customer> ")[0] for part in out.split("bot> ")[1:])
    assert "jane.doe@example.com" not in bot_lines and "4111 1111 1111 1111" not in bot_lines
    assert "Sorry, I can only help with questions about your ACME order. (refused, filtered)" in out
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"stage": "input", "category": "weapons", "action": "refuse"}.items() <= events[-1].items()


def test_pi_offline_assistant(demo_model):
    out = run("pi_offline_assistant.py", "What is the capital of France?")
    assert out.startswith("Machine: ") and "cores" in out
    assert "Best fit: " in out or "No Qwen model fits" in out
    assert "Paris" in out.split("bot> ")[1]


def test_pi_offline_assistant_plans_with_this_machines_timing(demo_model):
    """It planned without the timing `edgeqwen probe` keeps for the machine, so it named another
    model than the probe (Qwen2.5-1.5B at 11 tokens/s, where the probe said Qwen3-4B at 9 on the
    2-core Xeon) and no prompt speed."""
    import re

    from edgeqwen.hub import cache_dir, read_machine
    from edgeqwen.probe import plan
    from edgeqwen.probe.calibrate import FILE, Calibration, Measurement, machine_key, save_calibration

    snap, _, _ = read_machine()
    third = Measurement("onnx", "stand-in", 450_000_000, 200.0, 2, prompt_tps=300.0, prompt_weights=468_000_000)
    timed = Calibration(machine_key(snap), (replace(third, block_size=32),))
    file = cache_dir() / FILE
    before = file.read_bytes() if file.exists() else None
    save_calibration(snap, cache_dir(), timed)
    try:
        out = run("pi_offline_assistant.py", "What is the capital of France?")
    finally:
        if before is None:
            file.unlink()
        else:
            file.write_bytes(before)
    best = plan(snap, include_demo=False, calibration=timed).best
    said = re.search(r"Best fit: (.+) \(.*about (\d+) tokens/s on (\w+), prompts read at about (\d+) tokens/s", out)
    assert said is not None, out
    assert (said[1], said[3]) == (best.display, best.backend) and "(estimated" not in out
    assert float(said[2]) == pytest.approx(best.decode_tps, rel=0.1) and float(said[4]) == pytest.approx(
        best.prompt_tps, rel=0.1
    )


def test_server_client(demo_model):
    out = run("server_client.py")
    assert "model: smollm2-135m-instruct" in out and "Paris" in out.split("answer: ")[1].splitlines()[0]
    assert "stream: " in out and out.split("stream: ")[1].split("\n")[0].strip()
    assert "json: {'city': " in out
    # an answer about what was asked (the demo names Rome on llama.cpp; on ONNX, Italy and a wrong capital)
    assert any(w in out.split("responses: ")[1].splitlines()[0] for w in ("Rome", "Italy")) and "[completed, " in out
    cached, prompt = out.split("next turn: ")[1].split("[")[1].split(" prompt tokens")[0].split(" of ")
    assert int(cached) > int(prompt) / 2  # the kept conversation came from the cache


def test_async_app(demo_model):
    out = run("async_app.py")
    assert "Paris" in out.split("stream: ")[1].splitlines()[0]
    beats = int(out.split("(the event loop ran ")[1].split()[0])
    assert beats >= 1  # the loop kept running while the model answered
    assert all(f"Name {thing}. -> " in out for thing in ("a colour", "a fruit", "an animal"))
    assert "timed out: the long story was stopped" in out and "json: {'city': " in out


def test_score_choices(demo_model):
    """The demo model's own scores pick the right capital; a perplexity is a finite number > 1."""
    out = run("score_choices.py")
    first = out.splitlines()[0]
    assert first.startswith("The capital of France is ... Paris")
    scores = [float(s.split()[-1]) for s in first.split("(")[1].rstrip(")").split(", ")]
    assert len(scores) == 4 and all(s < 0 for s in scores) and scores[0] == max(scores)
    assert 1 < float(out.split("perplexity of a sample text: ")[1]) < 1e6


def test_remote_assistant(demo_model):
    out = run("remote_assistant.py")
    assert "(started a server for smollm2-135m-instruct" in out
    assert "Paris" in out.split("answer: ")[1].splitlines()[0] and out.split("follow-up: ")[1].strip()
    assert "json: {'city': " in out and "refused: refused" in out


def test_answer_from_notes(demo_model, tiny_ggufs, tmp_path):
    """The mechanics, on the tiny random embedding model (which notes come nearest means nothing
    there): two notes with their cosine, nearest first, then the demo model's answer; with no
    embedding model installed, one line says how to get one."""
    spec = importlib.util.spec_from_file_location("answer_from_notes", EXAMPLES / "answer_from_notes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import numpy as np

    vectors = np.eye(3, dtype=np.float32)
    query = np.array([0.6, 0.8, 0.0], dtype=np.float32)
    assert module.nearest(["a", "b", "c"], vectors, query) == [(0.800000011920929, "b"), (0.6000000238418579, "a")]
    gguf = str(tiny_ggufs["qwen3-f32"])
    if importlib.util.find_spec("llama_cpp") is None:  # the ONNX path alone (tools/arm64/check.sh's ONLY=onnx)
        # the embedding models are GGUF files, which llama.cpp runs: the example says so and how to get it
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "answer_from_notes.py"), "--embedding-model", gguf],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
        assert (
            "llama.cpp is not installed" in done.stderr + done.stdout and "build-essential" in done.stderr + done.stdout
        )
        return
    out = run("answer_from_notes.py", "--embedding-model", gguf)
    lines = out.splitlines()
    scores = [float(line.split("  ", 1)[0]) for line in lines[:2]]
    assert all(-1 <= s <= 1 for s in scores) and scores[0] >= scores[1]
    assert all(line.split("  ", 1)[1] in module.NOTES for line in lines[:2])
    assert lines[2].startswith("answer: ") and len(lines[2]) > len("answer: ")
    folder = tmp_path / "notes"
    (folder / "home").mkdir(parents=True)
    (folder / "home" / "boiler.md").write_text("".join(f"Boiler: {i} bar.\n\n" for i in range(80)))  # split
    (folder / "keys.txt").write_text("The spare key is in the blue tin.")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8")  # not a note
    # your own notes, and a reranker ordering what the vectors found; their vectors kept for next time
    script = [sys.executable, str(EXAMPLES / "answer_from_notes.py"), "--embedding-model", gguf]
    mine = [*script, "--notes", str(folder), "--index", str(tmp_path / "index.npz"), "--reranker", gguf]
    first, again = (subprocess.run(mine, capture_output=True, text=True, timeout=300) for _ in range(2))
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    passages = int(first.stderr.split("embedding ")[1].split()[0])
    assert passages > 2 and f"({passages} from the cache)" in again.stderr  # the second run embedded nothing
    lines = first.stdout.splitlines()
    assert again.stdout.splitlines()[:2] == lines[:2]
    scores = [float(line.split("  ", 1)[0]) for line in lines[:2]]  # P("yes"), best first
    assert all(0 <= s <= 1 for s in scores) and scores[0] >= scores[1] and lines[2].startswith("answer: ")
    assert all(line.split("  ", 1)[1].startswith(("boiler.md: ", "keys.txt: ")) for line in lines[:2])
    empty = subprocess.run([*script, "--notes", str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
    assert empty.returncode == 1 and "found no .txt or .md notes" in empty.stderr
    missing = subprocess.run(
        [sys.executable, str(EXAMPLES / "answer_from_notes.py")], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "edgeqwen pull qwen3-embedding-0.6b --backend llamacpp" in missing.stderr
