"""Performance cores on CPUs of two kinds (probe/cores.py), on sysfs trees and sysctl values
written here from the published layouts: an Intel hybrid laptop part, Apple silicon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from probe_fixtures import load

from edgeqwen.backends import threads
from edgeqwen.backends.threads import BusyCores, default_threads
from edgeqwen.probe import cores, limits
from edgeqwen.probe.cores import parse_cpu_list, performance_cores, performance_cpus
from edgeqwen.probe.limits import Limits
from edgeqwen.probe.report import build_report, format_report, load_schema


def hybrid_sysfs(root: Path, p_cores: int = 4, e_cores: int = 8) -> Path:
    """An i7-1260P's layout: P cores with two hyperthreads each (CPUs 0-7), E cores one each."""
    fast = 2 * p_cores
    (root / "devices/cpu_core").mkdir(parents=True)
    (root / "devices/cpu_atom").mkdir(parents=True)
    (root / "devices/cpu_core/cpus").write_text(f"0-{fast - 1}\n")
    (root / "devices/cpu_atom/cpus").write_text(f"{fast}-{fast + e_cores - 1}\n")
    for cpu in range(fast + e_cores):
        topology = root / f"devices/system/cpu/cpu{cpu}/topology"
        topology.mkdir(parents=True)
        pair = f"{cpu - cpu % 2}-{cpu - cpu % 2 + 1}" if cpu < fast else str(cpu)
        (topology / "thread_siblings_list").write_text(pair + "\n")
    return root


@pytest.mark.parametrize(
    "text, cpus",
    [("0-3,8,10-11\n", {0, 1, 2, 3, 8, 10, 11}), ("5", {5}), ("", set()), ("\n", set()), ("x-y,3", {3})],
)
def test_a_kernel_cpu_list_is_read_as_the_cpus_it_names(text, cpus):
    assert parse_cpu_list(text) == cpus


@given(st.sets(st.integers(0, 300), max_size=40))
def test_any_set_of_cpus_written_as_a_list_reads_back(cpus):
    ranges, run = [], []
    for cpu in sorted(cpus):
        if run and cpu == run[-1] + 1:
            run.append(cpu)
        else:
            if run:
                ranges.append(run)
            run = [cpu]
    if run:
        ranges.append(run)
    text = ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in ranges)
    assert parse_cpu_list(text) == cpus


def test_an_intel_hybrid_cpu_has_its_performance_cores_counted_once_per_core(tmp_path):
    sysfs = hybrid_sysfs(tmp_path)
    assert performance_cpus(sysfs) == set(range(8))
    assert performance_cores(sysfs, platform="linux") == 4


def test_a_cpu_of_one_kind_has_no_performance_cores_named(tmp_path):
    assert performance_cores(tmp_path, platform="linux") is None  # no cpu_core: one kind (the PMU is "cpu")
    (tmp_path / "devices/cpu_core").mkdir(parents=True)
    (tmp_path / "devices/cpu_core/cpus").write_text("0-7\n")
    assert performance_cpus(tmp_path) is None  # no efficiency cores beside them


def test_apple_silicon_counts_its_first_performance_level():
    said = {"hw.nperflevels": 2, "hw.perflevel0.physicalcpu": 4}
    assert performance_cores(platform="darwin", sysctl=said.get) == 4
    assert (
        performance_cores(platform="darwin", sysctl={"hw.nperflevels": 1, "hw.perflevel0.physicalcpu": 8}.get) is None
    )
    assert performance_cores(platform="darwin", sysctl={}.get) is None  # an Intel Mac: no levels


def test_sysctl_is_asked_only_where_there_is_one():
    assert cores._sysctl_int("hw.nperflevels") is None  # Linux: glibc has no sysctlbyname


def test_default_threads_run_on_the_performance_cores_as_llama_cpps_do(monkeypatch):
    """An i7-1260P: 12 cores, 4 of them performance ones; llama.cpp's own default runs 4 threads."""
    import psutil

    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 16 if logical else 12)
    monkeypatch.setattr(limits, "usable_cores", lambda n, *a, **k: n)  # not this machine's 2 CPUs
    monkeypatch.setattr(cores, "performance_cores", lambda: 4)
    assert default_threads() == 4
    monkeypatch.setattr(cores, "performance_cores", lambda: None)
    assert default_threads() == 12


def test_a_neighbour_on_an_efficiency_core_leaves_the_threads_alone(monkeypatch):
    """llama.cpp's threads watch only the CPUs they run on: the performance cores' ones."""
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(limits, "read_limits", lambda: Limits())
    monkeypatch.setattr(cores, "performance_cpus", lambda: set(range(8)))
    assert BusyCores.for_threads(4)._cpus == set(range(8))
    monkeypatch.setattr(cores, "performance_cpus", lambda: None)
    assert BusyCores.for_threads(4)._cpus is None  # every CPU: the machine's own line


def test_the_probe_says_which_cores_the_threads_run_on():
    from edgeqwen.probe import plan

    m2 = load("apple-m2-16gb")
    assert m2.performance_cores == 4 and m2.physical_cores == 8
    report = format_report(m2, plan(m2))
    assert "8 cores (4 performance, which the threads run on) / 8 threads" in report
    laptop = load("laptop-x86-16gb")
    assert laptop.performance_cores is None and "4 cores / 8 threads" in format_report(laptop, plan(laptop))
    import jsonschema

    as_json = json.loads(json.dumps(build_report(m2, plan(m2))))  # as `edgeqwen probe --json` writes it
    assert as_json["system"]["performance_cores"] == 4
    jsonschema.validate(as_json, load_schema())
    as_json["system"]["performance_cores"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(as_json, load_schema())


def test_a_hybrid_cpu_timed_on_all_its_cores_is_timed_again():
    """A calibration kept before the threads moved to the performance cores was timed on all of
    them: the machine's key changes, so the next probe times it again; a CPU of one kind keeps its."""
    from dataclasses import replace

    m2 = load("apple-m2-16gb")
    before = replace(m2, performance_cores=None)
    assert m2.hardware != before.hardware and m2.hardware.startswith(before.hardware)
    laptop = load("laptop-x86-16gb")
    assert "performance" not in laptop.hardware
