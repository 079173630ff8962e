import importlib
import inspect
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


def _modules():
    import pkgutil

    for info in pkgutil.walk_packages(edgeqwen.__path__, "edgeqwen."):
        yield info.name


def test_every_public_name_is_exported_where_it_is_defined():
    """As httpx tests it: a public class or function of a module is in that module's __all__, and
    every name in an __all__ exists."""
    missing = []
    for name in _modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{name} has no __all__"
        for attr in exported:
            assert hasattr(module, attr), (name, attr)
        for attr, value in vars(module).items():
            is_api = isinstance(value, type) or inspect.isfunction(value)
            defined_here = is_api and getattr(value, "__module__", None) == name
            if not attr.startswith("_") and defined_here and attr not in exported:
                missing.append(f"{name}.{attr}")
    assert not missing, missing


def test_every_error_is_exported_at_the_top():
    from edgeqwen import errors

    classes = {name for name in errors.__all__ if isinstance(getattr(errors, name), type)}
    assert classes <= set(edgeqwen.__all__)
