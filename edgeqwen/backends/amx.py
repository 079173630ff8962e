"""Whether this llama.cpp build's AMX kernels work on this CPU: run once per library, in a child process.

llama.cpp compiles kernels for Intel's AMX tiles (Xeons since Sapphire Rapids) when ``-march=native``
says the CPU has them. Where they work they are llama.cpp's fastest path there: on a 2-core
Sapphire Rapids-class VM, Qwen2.5-1.5B's Q4_0 decoded 2.0x and prefilled 1.75x faster than with the
AVX-512 kernels (docs/performance.md, "llama.cpp's AMX kernels"). Built by GCC 12 as llama.cpp's
source stands (0.3.36's), they crash the process on the first prompt: GCC drops the stores that fill
the tile configuration before ``ldtilecfg`` (llama.cpp#20824), which ``-fno-dse`` keeps
(tools/setup.sh builds so). Which of the two a library is cannot be read from it, so the first load
of an AMX build runs its kernels here in a child process on two small stand-ins (Q4_0, and Q4_K_M's
Q4_K and Q6_K): a crash, a hang, or logits away from those the same library gives without them, and
the kernels stay off. The verdict is kept per library file (its path, size and time), so a rebuilt or
reinstalled llama.cpp is checked again (:mod:`edgeqwen.llamacpp_build`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from ..llamacpp_build import amx_built_in, amx_verdict, keep_amx_verdict, llamacpp_library

__all__ = [
    "AmxBuildWarning",
    "AmxVerdict",
    "agree",
    "check",
    "check_installed",
    "extra_buffers_allowed",
    "has_amx_kernels",
    "main",
    "verdict",
]

TIMEOUT = 120  # seconds for the child: two tiny models, four loads; a hang is a failure too
# Logits of the same weights through two sets of int8 kernels differ by accumulation order: on the
# demo model, AMX against AVX-512 max 1.17 at logits up to 35, as a 512-token batch against one token
# at a time in the same build (1.01). Garbage from a wrong tile configuration is of the logits' size.
TOLERANCE = 0.1  # of the largest logit


@dataclass(frozen=True)
class AmxVerdict:
    ok: bool
    detail: str  # what the check found, for the warning
    kept: bool = True  # a finding about the kernels, kept; not one about the check (it runs again)


def has_amx_kernels(ll: ModuleType) -> bool:
    """The build holds llama.cpp's AMX kernels (``AMX_INT8 = 1`` in its system info)."""
    return b"AMX_INT8 = 1" in ll.llama_print_system_info()


def agree(with_amx: np.ndarray, without: np.ndarray) -> bool:
    """The same logits within the kernels' rounding: every value within ``TOLERANCE`` of the largest
    logit's size, and the same top token."""
    with_amx, without = np.asarray(with_amx, np.float64), np.asarray(without, np.float64)
    if with_amx.shape != without.shape or not np.isfinite(with_amx).all():
        return False
    scale = float(np.abs(without).max()) or 1.0
    return bool(np.abs(with_amx - without).max() <= TOLERANCE * scale and with_amx.argmax() == without.argmax())


def _library(ll: ModuleType) -> Path:
    """The file the bindings ``ll`` load the kernels from, else the bindings' own."""
    return llamacpp_library(Path(ll.__file__).parent) or Path(ll.__file__).resolve()


def verdict(ll: ModuleType, vocabulary: Path, python: str = sys.executable) -> AmxVerdict:
    """This library's verdict, checked in a child process the first time (``vocabulary``: any GGUF,
    whose tokenizer the stand-ins borrow) and kept in the cache."""
    return _verdict_of(_library(ll), vocabulary, python)


class AmxBuildWarning(UserWarning):
    """This llama.cpp build's AMX kernels fail on this CPU (a check found it): loaded without them."""


def extra_buffers_allowed(ll: ModuleType, vocabulary: Path) -> bool:
    """Whether weights may go to llama.cpp's extra buffer types (its AMX kernels, and the repacked
    Q4_0 with them): yes, unless the build holds AMX kernels that failed this CPU's check
    (the check here). Without them prompts are slower, nothing crashes."""
    if not has_amx_kernels(ll):
        return True
    found = verdict(ll, vocabulary)
    if not found.ok:
        warnings.warn(
            f"This llama.cpp build's AMX kernels do not work on this CPU: {found.detail} (llama.cpp#20824). "
            "Loading without them, so answers are slower. Rebuild it: rerun `bash tools/setup.sh` (or reinstall "
            'llama-cpp-python with CMAKE_ARGS="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS=-fno-dse -DCMAKE_CXX_FLAGS=-fno-dse" '
            "pip install --force-reinstall --no-cache-dir llama-cpp-python).",
            AmxBuildWarning,
            stacklevel=4,
        )
    return found.ok


def check_installed() -> AmxVerdict | None:
    """The installed llama.cpp's verdict, checked now where its AMX kernels never ran on this CPU,
    without loading it here: what a plan made before any model is loaded needs (pip's default build
    on a Sapphire Rapids Xeon has kernels that crash). None where it has no such kernels, or no GGUF
    is installed to borrow a vocabulary from (the demo model's)."""
    from ..convert import demo_gguf_path
    from ..errors import ModelNotFoundError

    library = llamacpp_library()
    if library is None or not amx_built_in(library):
        return None
    try:
        vocabulary = demo_gguf_path()
    except ModelNotFoundError:
        return None
    return _verdict_of(library, vocabulary)


def _verdict_of(library: Path, vocabulary: Path, python: str = sys.executable) -> AmxVerdict:
    seen = amx_verdict(library)
    if seen is not None:
        return AmxVerdict(*seen)
    found = check(vocabulary, python)
    if found.kept:
        keep_amx_verdict(library, found.ok, found.detail)
    return found


def check(vocabulary: Path, python: str = sys.executable, command: list[str] | None = None) -> AmxVerdict:
    """Run the kernels in a child process (``command``: what to run instead, for tests)."""
    command = command or [python, "-m", "edgeqwen.backends.amx", "--child", str(vocabulary)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return AmxVerdict(False, f"the check did not finish in {TIMEOUT} s")
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return AmxVerdict(False, f"they crash the process ({name}) on the first prompt")
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        said = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return AmxVerdict(False, f"the check failed ({said})", kept=False)
    try:
        found = json.loads(lines[-1])
        return AmxVerdict(bool(found["ok"]), str(found["detail"]))
    except (ValueError, KeyError, TypeError):
        return AmxVerdict(False, f"the check printed no verdict ({lines[-1][:200]})", kept=False)


def _child(vocabulary: Path) -> dict[str, object]:
    """Logits of two stand-ins with and without the extra buffer types (AMX), compared."""
    from ..catalog import Geometry
    from ..gguf import read_gguf_info, read_metadata
    from ..standin import QUANTIZATIONS, write_standin
    from .llamacpp import LlamaCppModel

    tokens = len(read_metadata(vocabulary)["tokenizer.ggml.tokens"])
    vocab = -(-tokens // 256) * 256
    g = Geometry(layers=2, hidden=256, intermediate=512, heads=4, kv_heads=2, head_dim=64, vocab=vocab,
                 tied_embeddings=True, context_length=256, max_new_tokens=64)  # fmt: skip
    prompt = np.random.default_rng(0).integers(0, tokens, 80).tolist()  # > 64: the batched kernels
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="edgeqwen-amx-") as tmp:
        for quantization in QUANTIZATIONS:
            path = write_standin(Path(tmp) / f"{quantization}.gguf", g, vocabulary, quantization)
            info = read_gguf_info(path, tokenizer_dir=Path(tmp))
            runs = []
            for extra in (False, True):
                model = LlamaCppModel(info, 256, threads=1, extra_buffers=extra)
                try:
                    runs.append((model.prefill(prompt).copy(), model.decode(int(prompt[-1])).copy()))
                finally:
                    model.close()
            (plain_prefill, plain_decode), (amx_prefill, amx_decode) = runs
            for a, b in ((amx_prefill, plain_prefill), (amx_decode, plain_decode)):
                if not agree(a, b):
                    diff = float(np.nanmax(np.abs(a - b))) if a.shape == b.shape else float("nan")
                    return {"ok": False, "detail": f"their logits differ ({quantization}: by {diff:.3g})"}
                worst = max(worst, float(np.abs(a - b).max() / (np.abs(b).max() or 1.0)))
    return {"ok": True, "detail": f"logits agree (within {worst:.2%} of the largest)"}


def main(argv: list[str]) -> int:
    """``python -m edgeqwen.backends.amx``: this build's verdict (0: the kernels work, or the build
    has none; 1: they do not), checked now if it is not kept. tools/setup.sh runs it."""
    if argv[:1] == ["--child"]:
        print(json.dumps(_child(Path(argv[1]))))
        return 0
    from ..convert import demo_gguf_path
    from .llama_bindings import bindings

    ll = bindings()
    if not has_amx_kernels(ll):
        print("This llama.cpp build has no AMX kernels.")
        return 0
    found = verdict(ll, demo_gguf_path())
    print(f"llama.cpp's AMX kernels {'work' if found.ok else 'do not work'} here: {found.detail}.")
    return 0 if found.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
