"""Load the recorded machine descriptions in tests/data/snapshots/ as SystemSnapshots."""

from __future__ import annotations

import json
from pathlib import Path

from edgeqwen.probe.snapshot import SystemSnapshot, snapshot_from_files

SNAPSHOTS = Path(__file__).parent / "data" / "snapshots"
MACHINES = sorted(p.name for p in SNAPSHOTS.iterdir() if p.is_dir())


def load(name: str, **overrides) -> SystemSnapshot:
    folder = SNAPSHOTS / name
    meta = json.loads((folder / "meta.json").read_text())

    def text(file: str) -> str | None:
        path = folder / file
        return path.read_text() if path.exists() else None

    snap = snapshot_from_files(
        os_name=meta["os"],
        arch=meta["arch"],
        cpuinfo=text("cpuinfo"),
        meminfo=text("meminfo"),
        device_model=text("device-tree-model"),
        nvidia_smi=text("nvidia-smi"),
        sysctl=text("sysctl"),
        mlc_available=overrides.pop("mlc_available", meta["mlc_available"]),
    )
    if "ram_available_gib" in meta:
        overrides.setdefault("ram_available", int(meta["ram_available_gib"] * 1024**3))
    if overrides:
        from dataclasses import replace

        snap = replace(snap, **overrides)
    return snap
