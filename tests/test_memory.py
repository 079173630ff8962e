"""Process-memory housekeeping: dropping clean weight-file pages, never written ones."""

from __future__ import annotations

import mmap
import sys
from pathlib import Path

import pytest

from edgeqwen.backends.memory import _mappings, release_clean_file_pages

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")

PAGE = mmap.PAGESIZE


def resident_kb(path: Path) -> tuple[int, int]:
    """(Rss, Anonymous) in kB over this process's mappings of ``path``."""
    rss = anon = 0
    for _start, _end, name, fields in _mappings(Path("/proc/self/smaps").read_text()):
        if name == str(path.resolve()):
            rss += fields.get("Rss", 0)
            anon += fields.get("Anonymous", 0)
    return rss, anon


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "model.onnx.data"
    path.write_bytes(bytes(range(256)) * (64 * PAGE // 256))  # 64 pages with a known pattern
    return path


def test_clean_pages_are_dropped_and_read_back_unchanged(weights, monkeypatch):
    monkeypatch.delenv("EDGEQWEN_MALLOC_TUNING", raising=False)
    with open(weights, "rb") as fh:
        view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)  # MAP_PRIVATE, like onnxruntime
        expected = bytes(view)  # touches every page
        assert resident_kb(weights)[0] >= 64 * PAGE // 1024
        released = release_clean_file_pages([weights])
        assert released >= 64 * PAGE
        assert resident_kb(weights)[0] < 64 * PAGE // 1024
        assert bytes(view) == expected  # refaulted from the file
        view.close()


def test_a_mapping_with_written_pages_is_left_alone(weights, monkeypatch):
    monkeypatch.delenv("EDGEQWEN_MALLOC_TUNING", raising=False)
    with open(weights, "rb") as fh:
        view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        bytes(view)
        view[PAGE : PAGE + 4] = b"EDIT"  # a private copy-on-write page: dropping it would lose this
        assert resident_kb(weights)[1] > 0
        assert release_clean_file_pages([weights]) == 0
        assert view[PAGE : PAGE + 4] == b"EDIT"
        view.close()


def test_opt_out_and_other_files(weights, tmp_path, monkeypatch):
    with open(weights, "rb") as fh:
        view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        bytes(view)
        monkeypatch.setenv("EDGEQWEN_MALLOC_TUNING", "0")
        assert release_clean_file_pages([weights]) == 0
        monkeypatch.delenv("EDGEQWEN_MALLOC_TUNING")
        assert release_clean_file_pages([tmp_path / "other.data"]) == 0  # not our file: untouched
        assert resident_kb(weights)[0] >= 64 * PAGE // 1024
        view.close()


def test_smaps_parsing():
    text = (
        "7f00-7f10 r--p 00000000 08:01 12 /m/model.onnx.data\n"
        "Size:                 64 kB\nRss:                  16 kB\nAnonymous:             0 kB\n"
        "VmFlags: rd mr mw me\n"
        "7f10-7f20 rw-p 00000000 00:00 0\nRss:                   4 kB\n"
    )
    assert list(_mappings(text)) == [
        (0x7F00, 0x7F10, "/m/model.onnx.data", {"Size": 64, "Rss": 16, "Anonymous": 0}),
        (0x7F10, 0x7F20, "", {"Rss": 4}),
    ]
