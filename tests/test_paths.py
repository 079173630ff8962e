"""Where edgeqwen keeps its files when the user has no home to keep them in (a container run as a
user /etc/passwd does not name)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from edgeqwen.paths import CacheFallbackWarning, _default_cache, cache_dir, can_create


@pytest.fixture
def no_home_set(monkeypatch, tmp_path):
    monkeypatch.delenv("EDGEQWEN_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path


def test_default_is_under_home(no_home_set, monkeypatch):
    monkeypatch.setenv("HOME", str(no_home_set / "me"))
    assert cache_dir() == no_home_set / "me" / ".cache" / "edgeqwen"


def test_xdg_cache_home_is_followed_as_downloads_follow_it(no_home_set, monkeypatch):
    """huggingface_hub keeps downloads in $XDG_CACHE_HOME/huggingface: a user who moved caches to
    a bigger disk had the downloads there and the conversions still filling ~/.cache."""
    me, xdg = no_home_set / "me", no_home_set / "big" / "cache"
    monkeypatch.setenv("HOME", str(me))
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    assert cache_dir() == xdg / "edgeqwen"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the spec: a relative path is ignored
    assert cache_dir() == me / ".cache" / "edgeqwen"
    monkeypatch.delenv("HOME")  # no home at all: XDG_CACHE_HOME still says where
    monkeypatch.setattr(os.path, "expanduser", lambda p: p)
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    assert cache_dir() == xdg / "edgeqwen"


def test_a_cache_already_in_home_is_kept_until_the_xdg_one_exists(no_home_set, monkeypatch):
    """Setting XDG_CACHE_HOME later must not hide the models installed before it."""
    me, xdg = no_home_set / "me", no_home_set / "xdg"
    (me / ".cache" / "edgeqwen" / "models").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(me))
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    assert cache_dir() == me / ".cache" / "edgeqwen"
    (xdg / "edgeqwen").mkdir(parents=True)  # the user moved it (or made it): that one is used
    _default_cache.cache_clear()  # read once per process (its warning is said once)
    assert cache_dir() == xdg / "edgeqwen"


def test_home_unset_and_no_passwd_entry_falls_back_to_temp(no_home_set, monkeypatch):
    """Path.home() raised RuntimeError: a bare traceback before the first answer."""
    monkeypatch.delenv("HOME")

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    with pytest.warns(CacheFallbackWarning, match="HOME is not set.*EDGEQWEN_HOME"):
        folder = cache_dir()
    assert folder == no_home_set / "tmp" / f"edgeqwen-{os.getuid()}"
    assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
    assert cache_dir() == folder  # the same folder all process long, said once


def test_home_that_cannot_be_written_falls_back(no_home_set, monkeypatch):
    """Docker sets HOME=/ for a user it has no entry for; every write under /.cache failed. (A file
    stands for the unwritable folder here: the suite runs as root, which may write anywhere.)"""
    (no_home_set / "file").write_text("")
    monkeypatch.setenv("HOME", str(no_home_set / "file"))
    with pytest.warns(CacheFallbackWarning, match="HOME=.*file"):
        assert cache_dir() == no_home_set / "tmp" / f"edgeqwen-{os.getuid()}"


def test_another_users_temp_folder_is_never_used(no_home_set, monkeypatch):
    """A folder (or a link) someone else made at the fallback's name could be read or swapped by them."""
    elsewhere = no_home_set / "elsewhere"
    elsewhere.mkdir()
    (no_home_set / "tmp" / f"edgeqwen-{os.getuid()}").symlink_to(elsewhere)
    monkeypatch.setenv("HOME", "/")
    monkeypatch.setattr("edgeqwen.paths.can_create", lambda folder: False)
    with pytest.warns(CacheFallbackWarning):
        folder = cache_dir()
    assert folder.parent == no_home_set / "tmp" and folder.name.startswith("edgeqwen-")
    assert not folder.is_symlink() and folder.resolve() != elsewhere


def test_can_create(tmp_path):
    (tmp_path / "file").write_text("")
    assert can_create(tmp_path / "a" / "b")
    assert not can_create(tmp_path / "file" / "a")


def test_installing_is_held_by_one_at_a_time(tmp_path, monkeypatch):
    """Two first runs at once converted the demo model twice, and the second to finish deleted the
    folder the first was loading (FileNotFoundError). flock holds across open files, so two threads
    stand for two processes here."""
    import threading

    from edgeqwen.paths import installing

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    events: list[str] = []
    waiting = threading.Event()
    with installing("m"):
        other = threading.Thread(target=lambda: _take(installing, events, waiting))
        other.start()
        assert waiting.wait(10)  # the other one saw it held, said so, and waits
        events.append("first done")
    other.join(10)
    assert events == ["waiting", "first done", "second in"]
    with installing("m"), installing("another model"):  # per model; released after use
        pass


def _take(installing, events, waiting):
    def said() -> None:
        events.append("waiting")
        waiting.set()

    with installing("m", said):
        events.append("second in")


def test_a_demo_model_converted_while_waiting_is_not_converted_again(tmp_path, monkeypatch):
    """The process that waited finds the other's folder and uses it."""
    import contextlib

    import edgeqwen.convert as convert_module
    from edgeqwen import hub

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    out = tmp_path / "models" / hub.DEMO_MODEL

    @contextlib.contextmanager
    def other_process_finishes_first(name, waiting=None):
        out.mkdir(parents=True)
        (out / "genai_config.json").write_text("{}")
        yield

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(hub, "installing", other_process_finishes_first)
    monkeypatch.setattr(convert_module, "check_converter", lambda *a, **k: None)
    monkeypatch.setattr(convert_module, "convert", no_conversion)
    monkeypatch.setattr(convert_module, "gguf_to_hf", no_conversion)
    said = []
    assert hub.ensure_demo_model(said.append, backend="onnx") == out
    assert said == []


def test_installing_into_a_cache_that_cannot_hold_a_lock_goes_on(tmp_path, monkeypatch):
    """A read-only cache: the install's own write says what to do, not the lock's."""
    from edgeqwen.paths import installing

    (tmp_path / "file").write_text("")
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "file"))
    entered = []
    with installing("m"):
        entered.append(True)
    assert entered


def test_scratch_removes_what_a_killed_attempt_left(tmp_path, monkeypatch):
    """A conversion the OOM killer stopped left its folder (0.5 GB for the demo model) behind, one
    more each try; the next attempt at the same model removes it, and never another model's."""
    from edgeqwen.paths import models_dir, scratch

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    killed = models_dir() / ".m[1].partial-abc"
    (killed / "hf").mkdir(parents=True)
    (killed / "hf" / "weights").write_bytes(bytes(1000))
    other = models_dir() / ".other.partial-abc"
    other.mkdir()
    with scratch("m[1]") as tmp:
        assert tmp.parent == models_dir() and tmp.name.startswith(".m[1].partial-")
        assert not killed.exists() and other.is_dir()
        (tmp / "model").mkdir()
    assert not tmp.exists() and other.is_dir()


def test_a_disk_that_fills_up_is_said_as_such():
    """safetensors raised SafetensorError ("I/O error: No space left on device (os error 28)") as a
    bare traceback half way through the demo's conversion; the builder's log held OSError [Errno 28]."""
    import errno

    from edgeqwen.errors import InsufficientDiskError
    from edgeqwen.paths import disk_full_said

    class SafetensorError(Exception):
        pass

    for exc in (
        OSError(errno.ENOSPC, "No space left on device"),
        SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),
    ):
        with pytest.raises(InsufficientDiskError, match="filled up while converting X.*EDGEQWEN_HOME") as err:
            with disk_full_said(Path("/m"), "converting X"):
                raise exc
        assert err.value.__cause__ is exc
    with pytest.raises(OSError, match="Permission"), disk_full_said(Path("/m"), "converting X"):
        raise PermissionError(errno.EACCES, "Permission denied")


def test_the_demo_conversion_is_refused_before_it_starts_on_a_disk_too_small(tmp_path, monkeypatch):
    """It needs about 7x its GGUF (646 MB measured at its peak for the 98 MB file)."""
    import shutil

    pytest.importorskip("onnxruntime_genai")  # without the converter, that is what the user is told first
    from collections import namedtuple

    from edgeqwen.errors import InsufficientDiskError
    from edgeqwen.hub import ensure_demo_model

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 300 * 2**20, 300 * 2**20))
    said = []
    with pytest.raises(InsufficientDiskError, match=r"needs about 6\d\d MiB free at .*, and 300 MiB is"):
        ensure_demo_model(said.append, backend="onnx")
    assert said == [] and not any((tmp_path / "models").glob(".*partial*"))


def test_installing_on_a_file_system_without_locks_goes_on(tmp_path, monkeypatch):
    """Some FUSE and SMB mounts answer flock with ENOLCK: the install failed on the lock it only
    wanted for company."""
    import errno
    import fcntl

    from edgeqwen.paths import installing

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    monkeypatch.setattr(fcntl, "flock", no_locks)
    entered = []
    with installing("m"):
        entered.append(True)
    assert entered


def test_files_kept_per_machine_survive_writers_at_once(tmp_path):
    """Two probes at once (or `probe` beside a first load hashing a model) both write the files
    the cache keeps per machine. Each write must stay whole and neither may fail: with one fixed
    temporary name, one writer renamed the other's half-written file and the other's rename then
    found nothing (FileNotFoundError, said as "cannot write the cache")."""
    import json
    import threading

    from edgeqwen.paths import keep, kept

    file = tmp_path / "calibration.json"
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        start.wait()
        for i in range(150):
            try:
                keep(file, f"machine-{n}", {"round": i, "pad": "x" * 4000})
            except BaseException as exc:  # noqa: BLE001 - every failure counts
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(json.loads(file.read_text())) <= {f"machine-{n}" for n in range(4)} and kept(file)
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.json"]  # no temporary file left


def test_write_atomic_keeps_the_old_file_when_a_write_fails(tmp_path, monkeypatch):
    from edgeqwen.paths import write_atomic

    target = write_atomic(tmp_path / "sub" / "state.json", '{"a": 1}')
    assert target.read_text() == '{"a": 1}'

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, '{"a": 2}')
    assert target.read_text() == '{"a": 1}' and [p.name for p in target.parent.iterdir()] == ["state.json"]
