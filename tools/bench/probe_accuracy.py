"""How fast the probe says the catalog's chat models run here, against how fast stand-ins of them do.

`edgeqwen probe` promises, before any download, which model and backend fit and how fast they
run. This script checks that promise on this machine: it writes a stand-in of each chat model's
builds the catalog offers (`edgeqwen/standin.py`, `onnx_standin.py`: each GGUF mix as a `qwen2` or `qwen3` GGUF, the
ONNX build at its block size; random weights, the model's layers and vocabulary), times each with
`edgeqwen bench` in a process of its own (a 512-token prompt, then decoding), the builds taking
turns A B ... B A, and prints the measurements beside the probe's estimates at the same context
(decoding uncalibrated and calibrated; a prompt's speed calibrated only: nothing else says it), where
this machine has a calibration (`probe --calibrate`'s, or the one a first probe keeps from timing
a third of a stand-in), calibrated; then, per model, the backend the probe picks against
the one measured faster. Figures from another day or machine are not comparable: read the ratios.

    python tools/bench/probe_accuracy.py [--models qwen2.5-1.5b-instruct,...] [--rounds 2]
                                         [--dir DIR] [--keep] [--dry-run] [--json OUT]

Stand-ins need disk (about 12 GB for the three chat models: in a temporary folder deleted after
unless --keep, or in DIR, where they are kept and reused) and take about 10 minutes on 2 cores.
--dry-run writes and times nothing: it lists the builds, their sizes and the estimates.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import machine_line  # noqa: E402

from edgeqwen.catalog import ModelSpec, catalog  # noqa: E402
from edgeqwen.probe.calibrate import PROMPT_TOKENS  # noqa: E402
from edgeqwen.probe.planner import estimate  # noqa: E402

PROMPT, GEN = PROMPT_TOKENS, 32  # what the probe times: the estimates are asked at this context too


@dataclass(frozen=True)
class Build:
    model: str
    backend: str
    quantization: str  # a GGUF's mix; "" for the ONNX build

    @property
    def name(self) -> str:
        return f"{self.model}-{self.quantization.lower() or 'onnx'}"


def builds_of(spec: ModelSpec) -> list[Build]:
    """The builds the catalog offers for ``spec`` that a stand-in can be written of."""
    from edgeqwen.standin import QUANTIZATIONS

    out = [Build(spec.name, "llamacpp", q) for q in spec.gguf_files if q in QUANTIZATIONS]
    return out + ([Build(spec.name, "onnx", "")] if "onnx-int4-cpu" in spec.builds else [])


def write(build: Build, spec: ModelSpec, folder: Path) -> Path:
    from edgeqwen.convert import demo_gguf_path
    from edgeqwen.onnx_standin import write_onnx_standin
    from edgeqwen.standin import write_standin

    path = path_of(build, folder)
    if build.backend == "onnx":
        if not (path / "model.onnx").exists():
            block, head_bits = spec.onnx_layout
            write_onnx_standin(path, spec.geometry, demo_gguf_path(), block, head_bits=head_bits)
    elif not path.exists():
        write_standin(path, spec.geometry, demo_gguf_path(), build.quantization, arch=_arch(spec))
    return path


def _arch(spec: ModelSpec) -> str:
    """llama.cpp's architecture for the stand-in: Qwen3's heads are wider than hidden / heads."""
    return "qwen3" if spec.family == "qwen3" else "qwen2"


def path_of(build: Build, folder: Path) -> Path:
    """A GGUF file or an ONNX folder, named whole ("qwen2.5-1.5b-...": no suffix to replace)."""
    return folder / (build.name if build.backend == "onnx" else f"{build.name}.gguf")


def size(build: Build, spec: ModelSpec) -> int:
    from edgeqwen.onnx_standin import onnx_standin_bytes
    from edgeqwen.standin import standin_bytes

    if build.backend == "onnx":
        return onnx_standin_bytes(spec.geometry, *spec.onnx_layout)
    return standin_bytes(spec.geometry, build.quantization, _arch(spec))


def time_build(build: Build, path: Path) -> tuple[float, float]:
    """Decode and prompt tokens/s of one `edgeqwen bench` run (medians of its 3), in a process of its own."""
    cmd = [sys.executable, "-c", "from edgeqwen.cli import main; main()", "bench", str(path),
           "--backend", build.backend, "-p", str(PROMPT), "-n", str(GEN), "-r", "3", "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:  # a busy machine, a stand-in that did not load: what bench said, not a traceback
        raise SystemExit(f"timing {build.name} failed: {proc.stderr.strip()[-600:]}")
    out = json.loads(proc.stdout)
    return float(out["decode_tps"]["median"]), float(out["prefill_tps"]["median"])


def estimates(build: Build, spec: ModelSpec, snap, calibration) -> tuple[float, float | None, float | None]:
    """The probe's decode tokens/s for ``build`` at the timed context, uncalibrated and calibrated,
    and its calibrated prompt tokens/s."""
    q = build.quantization or None
    plain = estimate(spec, snap, build.backend, PROMPT + GEN, None, q).decode_tps
    if calibration is None:
        return plain, None, None
    timed = estimate(spec, snap, build.backend, PROMPT + GEN, calibration, q)
    return plain, timed.decode_tps, timed.prompt_tps


def picks(rows: list[dict]) -> list[str]:
    """Per model: the build measured fastest, and the one each estimate puts first."""
    lines = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        line = f"{model}: measured fastest {max(mine, key=lambda r: r['measured'] or 0)['build']}"
        for key in ("estimate", "calibrated"):
            if all(r.get(key) is not None for r in mine):
                first = max(mine, key=lambda r: r[key])["build"]
                line += f"; {key} puts {first} first"
        lines.append(line)
    return lines


def table(rows: list[dict]) -> list[str]:
    def ratio(a: float | None, b: float | None) -> str:
        return f"{a:.1f} ({a / b:.2f}x)" if a is not None and b else "-" if a is None else f"{a:.1f}"

    out = [
        "| build | measured tok/s (rounds) | probe, uncalibrated (x measured) | probe, calibrated "
        f"| {PROMPT}-token prompt, measured tok/s (rounds) | probe, calibrated |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        runs = ", ".join(f"{t:.2f}" for t in r["runs"]) or "-"
        prompts = ", ".join(f"{t:.1f}" for t in r["prompt_runs"]) or "-"
        said = (ratio(r["estimate"], r["measured"]), ratio(r["calibrated"], r["measured"]))
        prompt = ratio(r["prompt_calibrated"], r["prompt_measured"])
        out.append(f"| {r['build']} | {runs} | {said[0]} | {said[1]} | {prompts} | {prompt} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    from edgeqwen.hub import DEMO_MODEL

    chat = [s.name for s in catalog() if s.answers and s.name != DEMO_MODEL]
    ap.add_argument("--models", default=",".join(chat))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dir", type=Path, help="write the stand-ins here, kept and reused (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--dry-run", action="store_true", help="list the builds and estimates; write and time nothing")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args(argv)

    from edgeqwen.paths import cache_dir
    from edgeqwen.probe import read_system
    from edgeqwen.probe.calibrate import load_calibration

    specs = {s.name: s for s in catalog()}
    unknown = [m for m in args.models.split(",") if m not in specs]
    if unknown:
        ap.error(f"not catalog models: {', '.join(unknown)} (known: {', '.join(chat)})")
    print(machine_line())
    snap = read_system()
    calibration = load_calibration(snap, cache_dir())
    said = "a calibration of this machine" if calibration else "no calibration"
    print(f"the probe plans with {snap.bandwidth_gbps:.1f} GB/s of copy bandwidth and {said}")
    builds = [b for m in args.models.split(",") for b in builds_of(specs[m])]
    rows = []
    for b in builds:
        plain, calibrated, prompt = estimates(b, specs[b.model], snap, calibration)
        rows.append({"build": b.name, "model": b.model, "backend": b.backend, "quantization": b.quantization,
                     "bytes": size(b, specs[b.model]), "estimate": plain, "calibrated": calibrated,
                     "prompt_calibrated": prompt, "runs": [], "measured": None, "prompt_runs": [],
                     "prompt_measured": None})  # fmt: skip
    if args.dry_run:
        for r in rows:
            print(f"{r['build']}: a stand-in of {r['bytes'] / 1e9:.2f} GB; probe {r['estimate']} tok/s")
        return 0
    folder = args.dir or Path(tempfile.mkdtemp(prefix="probe-accuracy-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        paths = [write(b, specs[b.model], folder) for b in builds]
        order = list(range(len(builds)))
        for r in range(args.rounds):
            for i in order if r % 2 == 0 else order[::-1]:
                decode, prompt = time_build(builds[i], paths[i])
                rows[i]["runs"].append(decode)
                rows[i]["prompt_runs"].append(prompt)
                print(f"round {r + 1}: {builds[i].name} {decode:.2f} tok/s, prompt {prompt:.1f}", flush=True)
        for row in rows:
            row["measured"] = statistics.median(row["runs"])
            row["prompt_measured"] = statistics.median(row["prompt_runs"])
        print(machine_line())
        print("\n".join(table(rows)))
        print("\n".join(picks(rows)))
        if args.json:
            args.json.write_text(json.dumps({"machine": machine_line(), "rows": rows}, indent=1))
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
