"""llama.cpp's AMX kernels: checked once per library on this CPU, in a child process, before a model
is loaded with them (edgeqwen/backends/amx.py)."""

from __future__ import annotations

import json
import os
import sys
import types

import numpy as np
import pytest

from edgeqwen.backends import amx
from edgeqwen.llamacpp_build import AMX_VERDICTS


def test_logits_agree_within_the_kernels_rounding_and_not_otherwise():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 5, 1000).astype(np.float32)
    logits[17] = 30.0
    rounding = logits + rng.normal(0, 0.2, 1000).astype(np.float32)  # as two int8 kernels differ
    assert amx.agree(rounding, logits)
    assert not amx.agree(rng.normal(0, 5, 1000), logits)  # what a wrong tile configuration gives
    assert not amx.agree(np.zeros(1000), logits)  # tiles of no rows
    other_top = logits.copy()
    other_top[3] = 30.5
    assert not amx.agree(other_top, logits)
    nan = rounding.copy()
    nan[5] = np.nan
    assert not amx.agree(nan, logits)
    assert not amx.agree(rounding[:999], logits)


def _child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_crash_a_mismatch_or_a_hang_is_a_kept_failure(monkeypatch, tmp_path):
    crash = amx.check(tmp_path, command=_child("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"))
    assert (crash.ok, crash.kept) == (False, True) and "crash" in crash.detail and "SIGSEGV" in crash.detail
    said = json.dumps({"ok": False, "detail": "their logits differ (Q4_0: by 31)"})
    differ = amx.check(tmp_path, command=_child(f"print({said!r})"))
    assert (differ.ok, differ.kept, differ.detail) == (False, True, "their logits differ (Q4_0: by 31)")
    monkeypatch.setattr(amx, "TIMEOUT", 0.5)
    hang = amx.check(tmp_path, command=_child("import time; time.sleep(30)"))
    assert (hang.ok, hang.kept) == (False, True) and "did not finish" in hang.detail


def test_a_check_that_could_not_run_is_not_kept(tmp_path):
    """A failure of the check itself (an error in the child, no verdict printed) says nothing about
    the kernels: the load goes without them, and the next load checks again."""
    failed = amx.check(tmp_path, command=_child("raise SystemExit('disk full')"))
    assert (failed.ok, failed.kept) == (False, False) and "disk full" in failed.detail
    silent = amx.check(tmp_path, command=_child("print('hello')"))
    assert (silent.ok, silent.kept) == (False, False) and "no verdict" in silent.detail


def test_the_verdict_is_kept_per_library_file_and_checked_again_when_it_changes(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    package = tmp_path / "llama_cpp"
    (package / "lib").mkdir(parents=True)
    library = package / "lib" / "libggml-cpu.so"
    library.write_bytes(b"one build")
    ll = types.SimpleNamespace(__file__=str(package / "llama_cpp.py"))
    results = [amx.AmxVerdict(True, "logits agree"), amx.AmxVerdict(False, "they crash the process (SIGSEGV)")]
    calls = []

    def check(vocabulary, python=sys.executable):
        calls.append(vocabulary)
        return results[len(calls) - 1]

    monkeypatch.setattr(amx, "check", check)
    assert amx.verdict(ll, tmp_path / "v.gguf") == results[0]
    assert amx.verdict(ll, tmp_path / "v.gguf") == results[0] and len(calls) == 1  # kept
    library.write_bytes(b"another build, reinstalled")
    os.utime(library, ns=(1, 1))
    assert amx.verdict(ll, tmp_path / "v.gguf") == results[1] and len(calls) == 2
    assert amx.verdict(ll, tmp_path / "v.gguf") == results[1] and len(calls) == 2
    stored = json.loads((tmp_path / "home" / AMX_VERDICTS).read_text())
    assert stored[str(library.resolve())]["ok"] is False


def test_a_check_that_could_not_run_runs_again(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    (tmp_path / "llama_cpp" / "lib").mkdir(parents=True)
    (tmp_path / "llama_cpp" / "lib" / "libllama.so").write_bytes(b"x")
    ll = types.SimpleNamespace(__file__=str(tmp_path / "llama_cpp" / "llama_cpp.py"))
    calls = []
    monkeypatch.setattr(amx, "check", lambda v, python=None: calls.append(v) or amx.AmxVerdict(False, "x", kept=False))
    amx.verdict(ll, tmp_path)
    amx.verdict(ll, tmp_path)
    assert len(calls) == 2 and not (tmp_path / "home" / AMX_VERDICTS).exists()


def test_the_check_runs_the_kernels_and_passes_on_a_working_build():
    """The real child: two stand-ins (Q4_0, Q4_K_M) loaded with and without llama.cpp's extra
    buffer types (AMX where the build has it, else the repacked Q4_0), prefill and decode logits
    compared. This build works (the suite runs on it), so the check must say so."""
    pytest.importorskip("llama_cpp")
    from edgeqwen.convert import demo_gguf_path

    found = amx.check(demo_gguf_path())
    assert found.ok and found.kept, found.detail
    assert "logits agree" in found.detail


def test_an_installed_build_is_checked_before_any_load_only_where_it_has_the_kernels(monkeypatch, tmp_path):
    """The probe plans before a model is loaded: pip's default build on a Sapphire Rapids Xeon has
    kernels that crash, and was estimated as if they worked (2x). check_installed runs the check
    there without loading llama.cpp here; a build without the kernels (their symbol not in the
    file) is never checked, and a kept verdict is not checked again."""
    from edgeqwen import convert
    from edgeqwen.llamacpp_build import amx_built_in

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    library = tmp_path / "libggml-cpu.so"
    monkeypatch.setattr(amx, "llamacpp_library", lambda package=None: library)
    monkeypatch.setattr(convert, "demo_gguf_path", lambda: tmp_path / "demo.gguf")
    calls = []
    monkeypatch.setattr(amx, "check", lambda v, python=None: calls.append(v) or amx.AmxVerdict(False, "SIGSEGV"))
    library.write_bytes(b"\x7fELF ... ggml_cpu_has_amx_int8 ...")  # -mno-amx-int8: asks, has no kernels
    assert not amx_built_in(library) and amx.check_installed() is None and calls == []
    library.write_bytes(b"\x7fELF ... _Z28ggml_backend_amx_buffer_typev ...")
    assert amx_built_in(library) and amx.check_installed() == amx.AmxVerdict(False, "SIGSEGV")
    assert amx.check_installed() == amx.AmxVerdict(False, "SIGSEGV") and calls == [tmp_path / "demo.gguf"]
    assert not amx_built_in(tmp_path / "missing.so")


def test_the_real_library_is_read_as_the_bindings_say():
    """Whether the file holds the kernels, read without loading it, is what llama.cpp's own system
    info says of the build this suite runs on."""
    ll = pytest.importorskip("llama_cpp")
    from edgeqwen.llamacpp_build import amx_built_in, llamacpp_library

    assert amx_built_in(llamacpp_library()) == amx.has_amx_kernels(ll)
