import importlib
import subprocess
import sys

import edgeqwen


def test_all_is_sorted_and_complete():
    modules = ("edgeqwen", "edgeqwen.errors", "edgeqwen.runtime.sampling", "edgeqwen.chat", "edgeqwen.server")
    for module in modules + tuple(f"edgeqwen.server.{m}" for m in ("app", "metrics", "protocol", "runner", "worker")):
        names = importlib.import_module(module).__all__
        assert list(names) == sorted(names), module
        for name in names:
            assert hasattr(importlib.import_module(module), name), (module, name)
    assert edgeqwen.Assistant.__name__ == "Assistant"


def test_import_is_light():
    code = (
        "import sys, edgeqwen, edgeqwen.server; "
        "print(sorted(m for m in ('onnxruntime', 'torch', 'transformers', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_ruff_clean():
    import shutil
    from pathlib import Path

    import pytest

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it is in the dev extra)")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([ruff, "check", "edgeqwen", "tests", "tools"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
