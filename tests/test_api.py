import importlib
import inspect
import subprocess
import sys

import edgeqwen


def test_all_is_sorted_and_complete():
    modules = ("edgeqwen", "edgeqwen.errors", "edgeqwen.jsontext", "edgeqwen.runtime.sampling", "edgeqwen.chat")
    modules += ("edgeqwen.server",)
    for module in (
        modules
        + tuple(
            f"edgeqwen.server.{m}"
            for m in (
                "app",
                "completions",
                "embeddings",
                "guided",
                "http",
                "kobold",
                "llama_server",
                "metrics",
                "models",
                "protocol",
                "rerank",
                "responses",
                "runner",
                "samplers",
                "settings",
                "stored",
                "tgi",
                "worker",
            )
        )
        + ("edgeqwen.aio", "edgeqwen.aio_stream")
    ):
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


# The layering, top to bottom: nothing imports a module of a higher layer (lazy imports included).
LAYERS = [
    ("edgeqwen.cli", "edgeqwen.repl", "edgeqwen.__main__"),
    ("edgeqwen.server", "edgeqwen.testing", "edgeqwen.bench"),
    (
        "edgeqwen.aio",
        "edgeqwen.aio_stream",
        "edgeqwen.assistant",
        "edgeqwen.decoding",
        "edgeqwen.embeddings",
        "edgeqwen.prompt",
        "edgeqwen.rerank",
        "edgeqwen.reply",
        "edgeqwen.turns",
        "edgeqwen.__init__",
    ),
    ("edgeqwen.safety", "edgeqwen.hub", "edgeqwen.sidemodel", "edgeqwen.pull"),
    ("edgeqwen.backends",),
    ("edgeqwen.runtime", "edgeqwen.toolspec", "edgeqwen.probe", "edgeqwen.convert"),
    (
        "edgeqwen.chat",
        "edgeqwen.chunks",
        "edgeqwen.message_dicts",
        "edgeqwen.tokenizer",
        "edgeqwen.model",
        "edgeqwen.gguf",
        "edgeqwen.standin",
        "edgeqwen.onnx_standin",
        "edgeqwen.llamacpp_build",
        "edgeqwen.integrity",
        "edgeqwen.catalog",
    ),
    ("edgeqwen.generation_config", "edgeqwen.types", "edgeqwen.jsontext", "edgeqwen.errors", "edgeqwen.paths"),
]


def _layer(module: str) -> int:
    if (
        module.startswith("edgeqwen.")
        and module.count(".") == 1
        and not any(module.startswith(p) for layer in LAYERS for p in layer)
    ):
        module = "edgeqwen.__init__"  # a name from the package itself (from . import __version__)
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (level, len(prefix))
    assert best is not None, f"{module} is in no layer"
    return best[0]


def test_nothing_reaches_back_up():
    import ast
    from pathlib import Path

    root = Path(edgeqwen.__file__).parent
    bad = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        package = name if is_package else name.rsplit(".", 1)[0]
        level = _layer("edgeqwen.__init__" if name == "edgeqwen" else name)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            else:
                continue
            bad += [f"{name} imports {t}" for t in targets if t.startswith("edgeqwen.") and _layer(t) < level]
    assert not bad, bad


def test_generation_config_still_imports_from_where_it_was():
    """It moved to generation_config.py; programs that import it from edgeqwen.types (this
    repository's own bench tools did) must keep working."""
    from edgeqwen import generation_config
    from edgeqwen.types import SAMPLER_ORDER, GenerationConfig

    assert GenerationConfig is generation_config.GenerationConfig
    assert SAMPLER_ORDER is generation_config.SAMPLER_ORDER


def test_every_data_file_of_the_package_is_in_its_wheel():
    """A file the package reads at run time (the catalog, the screen's weights, a probe) ships only
    where pyproject's package-data names it: a plain `pip install edgeqwen` has no source tree."""
    import fnmatch
    from pathlib import Path

    import pytest

    tomllib = pytest.importorskip("tomllib")  # 3.11+
    root = Path(edgeqwen.__file__).parent
    globs = tomllib.loads((root.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "edgeqwen"
    ]
    data = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data, "the package has data files"
    assert [f for f in data if not any(fnmatch.fnmatch(f, g) for g in globs)] == []
