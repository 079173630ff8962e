"""Cgroup limits and CPU affinity: what a container lets this process use, read from files laid
out as Docker, systemd and Kubernetes lay them out, and what the probe, the memory check and the
thread count make of them."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from probe_fixtures import load

from edgeqwen.errors import InsufficientMemoryError
from edgeqwen.probe import limits, plan
from edgeqwen.probe.limits import Limits, available_memory, parse_cpu_max, read_limits, usable_cores
from edgeqwen.probe.snapshot import apply_limits

GIB, MIB = 1024**3, 1024**2


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def v2_docker(tmp_path):
    return tree(
        tmp_path,
        {
            "self": "0::/\n",
            "fs/cgroup.controllers": "cpuset cpu io memory pids\n",
            "fs/memory.max": f"{4 * GIB}\n",
            "fs/memory.current": f"{1 * GIB}\n",
            "fs/memory.stat": f"anon {600 * MIB}\nfile {400 * MIB}\ninactive_file {256 * MIB}\n",
            "fs/cpu.max": "150000 100000\n",
        },
    )


def test_cgroup_v2_container(v2_docker):
    """``docker run --memory 4g --cpus 1.5``: the container sees its own cgroup at the root; its
    reclaimable page cache counts as free."""
    got = read_limits(v2_docker / "fs", v2_docker / "self")
    assert got == Limits(4 * GIB, 3 * GIB + 256 * MIB, 1.5, "cgroup v2")
    assert usable_cores(16, got, affinity=16) == 1  # a second thread would be throttled each period
    assert available_memory(60 * GIB, got) == 3 * GIB + 256 * MIB
    assert available_memory(2 * GIB, got) == 2 * GIB  # the host has less free than the limit


def test_cgroup_v2_limits_set_on_a_parent_count(tmp_path):
    """A systemd slice (or a Kubernetes pod) sets the limit one level up: the tightest counts."""
    root = tree(
        tmp_path,
        {
            "self": "0::/user.slice/app.scope\n",
            "fs/cgroup.controllers": "cpu memory\n",
            "fs/user.slice/memory.max": f"{2 * GIB}\n",
            "fs/user.slice/memory.current": f"{1 * GIB}\n",
            "fs/user.slice/cpu.max": "400000 100000\n",
            "fs/user.slice/app.scope/memory.max": "max\n",
            "fs/user.slice/app.scope/memory.current": f"{100 * MIB}\n",
            "fs/user.slice/app.scope/cpu.max": "max 100000\n",
        },
    )
    got = read_limits(root / "fs", root / "self")
    assert got == Limits(2 * GIB, 1 * GIB, 4.0, "cgroup v2")


def test_cgroup_v1_container(tmp_path):
    """Docker on cgroup v1: /proc/self/cgroup names the host's path, the mount is the container's."""
    root = tree(
        tmp_path,
        {
            "self": "11:memory:/docker/abc123\n4:cpu,cpuacct:/docker/abc123\n1:name=systemd:/docker/abc123\n",
            "fs/memory/memory.limit_in_bytes": f"{1 * GIB}\n",
            "fs/memory/memory.usage_in_bytes": f"{700 * MIB}\n",
            "fs/memory/memory.stat": f"cache 1\ntotal_inactive_file {100 * MIB}\n",
            "fs/cpu,cpuacct/cpu.cfs_quota_us": "200000\n",
            "fs/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        },
    )
    assert read_limits(root / "fs", root / "self") == Limits(1 * GIB, 424 * MIB, 2.0, "cgroup v1")


def test_no_limit_reads_as_none(tmp_path):
    """cgroup v1's "unlimited" (a huge number) and quota -1, v2's "max": nothing is limited; and
    nothing to read is no limit either."""
    root = tree(
        tmp_path,
        {
            "self": "4:memory:/process_api/x\n1:cpu:/\n0::/\n",
            "v1/memory/process_api/x/memory.limit_in_bytes": "9223372036854771712\n",
            "v1/memory/memory.limit_in_bytes": "9223372036854771712\n",
            "v1/cpu/cpu.cfs_quota_us": "-1\n",
            "v1/cpu/cpu.cfs_period_us": "100000\n",
            "v2/cgroup.controllers": "memory\n",
            "v2/memory.max": "max\n",
            "v2/cpu.max": "max 100000\n",
        },
    )
    for fs in ("v1", "v2", "nothing-here"):
        got = read_limits(root / fs, root / "self")
        assert got == Limits()
        assert usable_cores(8, got, affinity=8) == 8 and available_memory(5 * GIB, got) == 5 * GIB
    assert read_limits(root / "v2", root / "no-such-file") == Limits()
    assert parse_cpu_max("50000 100000") == 0.5 and parse_cpu_max("junk") is None


def test_this_machine_reads_without_error():
    got = read_limits()
    cores = os.cpu_count() or 1
    assert 1 <= usable_cores(cores) <= cores
    assert 0 < available_memory() and (got.memory_max is None or available_memory() <= got.memory_max)


def test_affinity_and_quota_cap_the_cores():
    assert usable_cores(16, Limits(), affinity=4) == 4  # --cpuset-cpus 0-3
    assert usable_cores(16, Limits(cpus=2.5), affinity=16) == 2
    assert usable_cores(16, Limits(cpus=0.5), affinity=16) == 1  # at least one thread runs
    assert usable_cores(4, Limits(cpus=8.0), affinity=16) == 4


def test_the_probe_plans_for_the_container_not_the_host():
    """A 16 GB laptop with 8 threads, inside ``--memory 2g --cpus 2``: the plan fits 2 GiB and the
    report says why the machine looks smaller than it is."""
    laptop = load("laptop-x86-16gb")
    boxed = apply_limits(laptop, Limits(2 * GIB, int(1.8 * GIB), 2.0, "cgroup v2"), affinity=8)
    assert (boxed.physical_cores, boxed.logical_cores) == (2, 2)
    assert boxed.ram_total == 2 * GIB and boxed.ram_available == int(1.8 * GIB)
    assert "a CPU quota of 2 CPUs" in boxed.notes[-1] and "2.0 GiB of the host's" in boxed.notes[-1]
    free, boxed_best = plan(laptop).best, plan(boxed).best
    assert boxed_best.total_bytes <= boxed_best.budget_bytes < 2 * GIB < free.total_bytes
    assert apply_limits(laptop, Limits(), affinity=8) == laptop  # no limit: no change, no note
    assert apply_limits(laptop, Limits(), affinity=None) == laptop  # affinity unknown: not this machine's
    pinned = apply_limits(laptop, Limits(), affinity=3)
    assert pinned.logical_cores == 3 and "3 CPUs in its affinity" in pinned.notes[-1]


def test_a_quota_under_one_cpu_slows_the_estimate_and_keys_the_calibration():
    """At ``--cpus 0.5`` the process runs half the time (measured 0.48x on the demo); a whole
    core or more leaves the bandwidth-bound estimate as it was. A calibration made under one
    quota is not reused under another that gives the same core count."""
    from edgeqwen.probe.calibrate import machine_key

    laptop = load("laptop-x86-16gb")
    half = apply_limits(laptop, Limits(cpus=0.5), affinity=8)
    two = apply_limits(laptop, Limits(cpus=2.0), affinity=8)
    one = apply_limits(laptop, Limits(cpus=1.0), affinity=8)
    rates = {
        s: {c.backend: c.decode_tps for c in plan(s, model="qwen2.5-1.5b-instruct").candidates}
        for s in (laptop, half, two)
    }
    for backend, tps in rates[laptop].items():
        assert rates[half][backend] == pytest.approx(tps / 2) and rates[two][backend] == pytest.approx(tps)
    assert half.logical_cores == one.logical_cores == 1 and machine_key(half) != machine_key(one)
    assert machine_key(laptop) == machine_key(apply_limits(laptop, Limits(), affinity=8))


def test_probe_command_shows_the_limits(monkeypatch):
    from edgeqwen.cli import main
    from edgeqwen.probe import snapshot

    monkeypatch.setattr(snapshot, "read_limits", lambda: Limits(3 * GIB, 2 * GIB, 1.0, "cgroup v2"))
    result = CliRunner().invoke(main, ["probe", "--quick"])
    assert result.exit_code == 0, result.output
    assert "Note: This process may use 1 of the host's" in result.output and "(cgroup v2)" in result.output
    assert "GiB available of 3.0 GiB" in result.output


def test_threads_and_the_memory_check_follow_the_cgroup(monkeypatch, tiny_models):
    from edgeqwen.backends.onnx import OnnxBackend
    from edgeqwen.backends.threads import default_threads

    monkeypatch.setattr(limits, "read_limits", lambda: Limits(cpus=1.0))
    assert default_threads() == 1
    monkeypatch.setattr(limits, "read_limits", lambda: Limits(256 * MIB, 1 * MIB, None, "cgroup v2"))
    with pytest.raises(InsufficientMemoryError, match="GiB"):
        OnnxBackend(tiny_models["qwen2"]["int4"], context_length=2048)


def test_more_threads_than_cpus_are_cut_to_the_cpus_with_a_warning(monkeypatch, tiny_models):
    """threads=64 on 2 CPUs decoded the demo model 11x slower; 3 on 2, 3x (llama.cpp) or 2x (ONNX)."""
    from edgeqwen.backends.onnx import OnnxBackend
    from edgeqwen.backends.threads import thread_count

    monkeypatch.setattr(limits, "read_limits", lambda: Limits(cpus=2.0))
    with pytest.warns(RuntimeWarning, match="threads=3 is more than the 2 CPUs this process may run on; using 2"):
        assert thread_count(3) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # within the CPUs, and the default: no warning
        assert thread_count(2) == 2 and thread_count(1) == 1 and thread_count(None) <= 2
    with pytest.warns(RuntimeWarning, match="threads=64"):
        OnnxBackend(tiny_models["qwen2"]["int4"], context_length=64, threads=64)


def test_a_pinned_or_quota_limited_process_counts_only_the_neighbours_it_shares_with(tmp_path, monkeypatch):
    """On a 4-CPU host where others keep CPUs 2 and 3 busy: a process pinned to CPUs 0-1 has no
    neighbour; one under a 2-CPU quota on all four has its two spare CPUs taken first, so keeps
    both threads; one with neither sees two busy cores, as before."""
    from edgeqwen.backends import threads
    from edgeqwen.backends.threads import BusyCores

    stat = tmp_path / "stat"
    now = [100.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(threads.os, "times", lambda: (1.0, 0.0, 0.0, 0.0, 0.0))  # this process: idle
    ticks = threads.os.sysconf("SC_CLK_TCK")

    def host(busy_s: float) -> None:  # CPUs 2 and 3 each busy for busy_s seconds in all
        per = [0, 0, busy_s, busy_s]
        rows = [f"cpu{i} {int(b * ticks)} 0 0 {10**6} 0 0 0 0 0 0" for i, b in enumerate(per)]
        stat.write_text(f"cpu  {int(sum(per) * ticks)} 0 0 {4 * 10**6} 0 0 0 0 0 0\n" + "\n".join(rows) + "\n")

    host(0.0)
    pinned, boxed, free = BusyCores(stat, cpus={0, 1}), BusyCores(stat, spare=2), BusyCores(stat)
    host(1.0)
    now[0] += 1.0
    assert pinned.others() == pytest.approx(0.0) and boxed.others() == pytest.approx(0.0)
    assert free.others() == pytest.approx(2.0, abs=0.02)
    assert BusyCores(stat, cpus={7}).others() is None  # no such CPU: nothing to say

    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(limits, "read_limits", lambda: Limits())
    watch = BusyCores.for_threads(2)
    assert watch._cpus == {0, 1} and watch._spare == 0
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(limits, "read_limits", lambda: Limits(cpus=2.0))
    watch = BusyCores.for_threads(2)
    assert watch._cpus is None and watch._spare == 2


def test_a_container_is_recognised_and_the_server_says_how_to_reach_it(tmp_path, monkeypatch):
    from edgeqwen.probe.limits import in_container
    from edgeqwen.server import ServerSettings
    from edgeqwen.server.runner import notices

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert not in_container(tmp_path)
    (tmp_path / ".dockerenv").write_text("")
    assert in_container(tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert in_container(tmp_path / "elsewhere")
    said = notices("127.0.0.1", 8080, ServerSettings(), container=True)
    assert len(said) == 1 and "docker run -p 8080:8080" in said[0] and "--host 0.0.0.0 --api-key" in said[0]
    assert notices("127.0.0.1", 8080, ServerSettings(), container=False) == []
    assert "no API key" in notices("0.0.0.0", 8080, ServerSettings(), container=True)[0]
    assert notices("0.0.0.0", 8080, ServerSettings(api_key="k"), container=True) == []
