"""`edgeqwen pull` against a local stand-in for the hub's file API (loopback only)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from fakehub import FakeHub

from edgeqwen import Assistant, InvalidRequestError
from edgeqwen.catalog import get_model
from edgeqwen.cli import main
from edgeqwen.errors import (
    BackendUnavailableError,
    ConversionError,
    DownloadError,
    InsufficientDiskError,
    IntegrityError,
    ModelLoadError,
    ModelNotFoundError,
)
from edgeqwen.paths import models_dir
from edgeqwen.pull import manifest_path, pull, remove

REPO = "test-org/tiny-qwen2-onnx"
SPEC = f"{REPO}:cpu-int4"
NAME = "tiny-qwen2-onnx-cpu-int4"


@pytest.fixture
def hub(tiny_models, tmp_path, monkeypatch):
    src = tiny_models["qwen2"]["int4"]
    files = {f"cpu-int4/{p.name}": p for p in src.iterdir() if p.is_file()}
    files["README.md"] = src / "genai_config.json"  # a file outside the subfolder, never fetched
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with FakeHub(REPO, files) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def test_full_download_then_chat(hub):
    said = []
    path = pull(SPEC, progress=said.append)
    assert path.name == NAME and (path / "genai_config.json").is_file()
    assert said[0].startswith(f"Downloading {NAME}") and said[-1].startswith("Installed")
    assert "README.md" not in {name for name, _ in hub.gets}
    reply = Assistant(NAME, max_tokens=4, temperature=0.0).chat("hi")
    assert reply.metrics.generated_tokens == 4
    assert manifest_path(NAME).is_file()


def test_interrupted_download_resumes(hub):
    hub.interrupt.add("cpu-int4/tokenizer.json")  # 11 MB: more than one 10 MB chunk arrives first
    pull(SPEC)
    gets = [rng for name, rng in hub.gets if name == "cpu-int4/tokenizer.json"]
    assert gets[0] is None and gets[1] is not None and gets[1].startswith("bytes=")
    assert int(gets[1][6:].rstrip("-")) >= 10 * 2**20


def test_checksum_mismatch_is_refused(hub):
    hub.corrupt.add("cpu-int4/model.onnx.data")
    with pytest.raises(IntegrityError, match="model.onnx.data.*checksum.*--force"):
        pull(SPEC)
    hub.corrupt.clear()
    path = pull(SPEC, force=True)  # the bad file was deleted, so this fetches it again
    assert (path / "model.onnx.data").is_file()


def test_offline_mode_uses_the_cache(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="not in the cache"):
        pull(SPEC)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    pull(SPEC)
    n = len(hub.gets)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = pull(SPEC)
    assert len(hub.gets) == n and (path / "model.onnx").is_file()


def test_disk_full_is_checked_before_downloading(hub, monkeypatch):
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    with pytest.raises(InsufficientDiskError, match=r"Downloading .* needs about 2\d MiB free at .*HF_HUB_CACHE"):
        pull(SPEC)
    assert hub.gets == []


def test_unknown_repo_and_catalog_models(hub):
    with pytest.raises(ModelNotFoundError):
        pull("test-org/tiny-qwen2-onnx:no-such-folder")
    with pytest.raises(ModelNotFoundError, match="--convert") as err:
        pull("qwen2.5-1.5b-instruct")
    # the way in that needs no torch is named first
    said = str(err.value)
    assert "Its GGUF needs no conversion: " in said and "pull qwen2.5-1.5b-instruct --backend llamacpp`" in said
    with pytest.raises(ModelNotFoundError, match="not in the catalog. Known models: qwen2.5") as err:
        pull("llama-70b")
    with pytest.raises(ModelNotFoundError, match="Did you mean 'qwen2.5-3b-instruct'"):
        pull("qwen-2.5-3b")  # a typo is answered as the run command answers it


def test_truncated_or_missing_files_are_named_on_load(hub):
    path = pull(SPEC)
    data = (path / "model.onnx.data").resolve()
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match=f"model.onnx.data.*edgeqwen pull {NAME} --force"):
        Assistant(NAME)
    path = pull(SPEC, force=True)
    assert Assistant(NAME, max_tokens=2).chat("hi").text is not None  # repaired
    (path / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="tokenizer.json.*--force"):
        Assistant(NAME)


def test_models_and_rm_commands(hub):
    runner = CliRunner()
    listing = runner.invoke(main, ["models"])
    assert listing.exit_code == 0 and "qwen2.5-1.5b-instruct" in listing.output and "not installed" in listing.output
    assert runner.invoke(main, ["pull", SPEC]).exit_code == 0
    listing = runner.invoke(main, ["models"])
    assert NAME in listing.output and "MiB" in listing.output
    removed = runner.invoke(main, ["rm", NAME])
    assert removed.exit_code == 0 and not (hub_path := manifest_path(NAME)).exists(), hub_path
    assert runner.invoke(main, ["rm", NAME]).exit_code == 1
    with pytest.raises(ModelNotFoundError):
        remove(NAME)


def test_rm_deletes_a_pulled_models_hub_files_and_never_a_linked_folders(hub, tmp_path):
    """A folder of the user's own linked into the models folder (as a copy is placed there) was
    emptied by `rm`: every file the link reached, and each file's own link target, was deleted."""
    blobs = lambda: [f for f in (tmp_path / "hf").rglob("blobs/*") if f.is_file()]  # noqa: E731
    pull(SPEC)
    assert blobs()
    remove(NAME)
    assert blobs() == [] and not (models_dir() / NAME).exists()  # the download's disk given back
    mine = tmp_path / "mine"
    shutil.copytree(pull(SPEC).resolve(), mine)
    (mine / "notes.txt").write_text("mine")
    (models_dir() / "linked").symlink_to(mine, target_is_directory=True)
    gguf = models_dir() / "linked-gguf"
    gguf.mkdir()
    (gguf / "model.gguf").symlink_to(mine / "notes.txt")  # a file of theirs, linked into a folder
    for name in ("linked", "linked-gguf"):
        assert CliRunner().invoke(main, ["rm", name]).exit_code == 0 and not (models_dir() / name).exists()
    assert (mine / "notes.txt").read_text() == "mine" and (mine / "genai_config.json").is_file()
    assert blobs()  # the pulled install's files, which the copy was made from, are its own


def test_rm_takes_a_catalog_models_name_for_its_one_install(tmp_path, monkeypatch):
    """`pull MODEL --backend llamacpp` installs MODEL-gguf, and `edgeqwen models` lists it under
    MODEL; `rm MODEL` then said "MODEL is not installed". With two installs it names them."""
    home = tmp_path / "home"
    for name in ("qwen3-reranker-0.6b-gguf", "qwen3-4b-gguf", "qwen3-4b-int4"):
        (home / "models" / name).mkdir(parents=True)
        (home / "models" / name / ("model.gguf" if name.endswith("gguf") else "genai_config.json")).write_text("x")
    monkeypatch.setenv("EDGEQWEN_HOME", str(home))
    runner = CliRunner()
    removed = runner.invoke(main, ["rm", "qwen3-reranker-0.6b"])
    assert removed.exit_code == 0 and "qwen3-reranker-0.6b-gguf" in removed.output, removed.output
    assert not (home / "models" / "qwen3-reranker-0.6b-gguf").exists()
    both = runner.invoke(main, ["rm", "qwen3-4b"])
    assert both.exit_code == 2 and "qwen3-4b-gguf and qwen3-4b-int4" in both.stderr, both.output
    assert (home / "models" / "qwen3-4b-gguf").is_dir() and (home / "models" / "qwen3-4b-int4").is_dir()
    assert runner.invoke(main, ["rm", "qwen3-4b-int4"]).exit_code == 0
    assert runner.invoke(main, ["rm", "qwen3-embedding-0.6b"]).exit_code == 1  # nothing of it installed


def test_rm_waits_for_an_install_of_the_same_model(hub):
    """`edgeqwen rm` took no lock: run beside a pull replacing the model it deleted the files the
    pull was still checking and linking."""
    import threading

    from edgeqwen.paths import installing

    pull(SPEC)
    said: list[str] = []
    done = threading.Event()
    with installing(NAME):  # another process's pull of it, under way
        rm = threading.Thread(target=lambda: (remove(NAME, progress=said.append), done.set()))
        rm.start()
        deadline = time.monotonic() + 10
        while not said and time.monotonic() < deadline:
            time.sleep(0.01)
        assert said == [f"Another edgeqwen process is installing {NAME}: waiting for it to finish..."]
        assert not done.wait(0.2) and manifest_path(NAME).exists()  # nothing removed while it waits
    rm.join(10)
    assert done.is_set() and not manifest_path(NAME).exists()


def test_convert_when_no_prebuilt_exists(tiny_models, tmp_path, monkeypatch):
    """--convert downloads the source checkpoint (here the tiny HF Qwen2) and builds int4 ONNX."""
    import dataclasses

    import edgeqwen.pull as pull_module

    src = tiny_models["qwen2"]["hf"]
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    tiny = json.loads((src / "config.json").read_text())
    geometry = dataclasses.replace(  # what the memory check reads before the download
        get_model("qwen2.5-1.5b-instruct").geometry,
        **{
            k: tiny[f] for k, f in [("layers", "num_hidden_layers"), ("hidden", "hidden_size"), ("vocab", "vocab_size")]
        },
    )
    spec = dataclasses.replace(
        get_model("qwen2.5-1.5b-instruct"),
        geometry=geometry,
        builds={"onnx-int4-cpu": {"convert_from": "test-org/tiny-qwen2-hf"}},
    )
    monkeypatch.setattr(pull_module, "get_model", lambda name: spec)
    with FakeHub("test-org/tiny-qwen2-hf", {p.name: p for p in src.iterdir() if p.is_file()}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        path = pull("qwen2.5-1.5b-instruct", convert=True)
    assert path.name == "qwen2.5-1.5b-instruct" and (path / "model.onnx.data").is_file()
    assert Assistant("qwen2.5-1.5b-instruct", max_tokens=3).chat("hi").metrics.generated_tokens == 3


def test_pull_convert_says_what_it_cannot_do_before_downloading_the_checkpoint(tmp_path, monkeypatch):
    """`pull MODEL --convert` downloaded the full checkpoint (3 GB for Qwen2.5-1.5B) and only then
    found the converter missing or the machine short of memory (12 GiB to convert the 1.5B: a 4 GB
    Pi cannot). Both are said first now, with the GGUF way in, and nothing is fetched."""
    from types import SimpleNamespace

    import psutil

    import edgeqwen.convert as convert_module

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    (tmp_path / "config.json").write_text("{}")
    build = get_model("qwen2.5-1.5b-instruct").builds["onnx-int4-cpu"]
    with FakeHub(build["convert_from"], {"config.json": tmp_path / "config.json"}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setattr(convert_module, "_CONVERTER", ("onnxruntime_genai", "no_such_torch_here"))
        with pytest.raises(BackendUnavailableError, match="'no_such_torch_here' package") as err:
            pull("qwen2.5-1.5b-instruct", convert=True)
        assert "--backend llamacpp" in str(err.value)
        monkeypatch.setattr(convert_module, "_CONVERTER", ("json",))  # a converter that is there
        pi = SimpleNamespace(total=4 * 2**30, available=int(3.3 * 2**30))
        monkeypatch.setattr(psutil, "virtual_memory", lambda: pi)
        with pytest.raises(ConversionError, match=r"needs about 12\.\d GiB of memory; this machine has 3\.3") as err:
            pull("qwen2.5-1.5b-instruct", convert=True)
        assert "`edgeqwen pull qwen2.5-1.5b-instruct --convert`) and copy its folder" in str(err.value)
        assert "--backend llamacpp" in str(err.value) and "--no-memory-check" not in str(err.value)
        assert fake.gets == [] and not (tmp_path / "hf").exists()


def test_pull_of_a_gguf_says_when_llama_cpp_is_not_there_to_run_it(tiny_ggufs, tmp_path, monkeypatch):
    """The file is still fetched (llama.cpp may come later), but the user is told what runs it."""
    import edgeqwen.pull as pull_module

    build = get_model("qwen2.5-1.5b-instruct").builds["gguf"]
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(pull_module, "llamacpp_installed", lambda: False)
    with FakeHub(build["repo"], {build["file"]: tiny_ggufs["qwen2-f16"]}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        result = CliRunner().invoke(main, ["pull", "qwen2.5-1.5b-instruct", "--backend", "llamacpp"])
    assert result.exit_code == 0, result.output
    assert "llama.cpp is not installed here; to run this GGUF: pip install 'edgeqwen[llamacpp]'" in result.stderr
    assert result.stdout.strip().endswith("qwen2.5-1.5b-instruct-gguf")


def test_the_catalog_describes_the_builds_convert_makes():
    """`pull --convert` and the demo run the converter's defaults; the catalog's sizes and the
    planner's byte counts read the block size and lm_head bits from the catalog, so they must agree."""
    from edgeqwen.catalog import catalog
    from edgeqwen.convert import ConvertOptions

    default = ConvertOptions()
    converted = [s.builds["onnx-int4-cpu"] for s in catalog() if "convert_from" in s.builds.get("onnx-int4-cpu", {})]
    assert converted
    for build in converted:
        assert (build["block_size"], build["lm_head_bits"]) == (default.block_size, default.lm_head_bits), build


def test_pull_mlc_build(tmp_path, monkeypatch):
    """--backend mlc fetches the catalog's whole MLC repo (weights shards + mlc-chat-config.json)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "mlc-chat-config.json").write_text('{"model_type": "qwen2"}')
    (repo / "params_shard_0.bin").write_bytes(bytes(range(256)) * 1000)
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with FakeHub("mlc-ai/Qwen2.5-1.5B-Instruct-q4f16_1-MLC", {p.name: p for p in repo.iterdir()}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        result = CliRunner().invoke(main, ["pull", "qwen2.5-1.5b-instruct", "--backend", "mlc"])
    assert result.exit_code == 0, result.output
    installed = tmp_path / "home" / "models" / "qwen2.5-1.5b-instruct-mlc"
    assert (installed / "params_shard_0.bin").read_bytes() == (repo / "params_shard_0.bin").read_bytes()
    assert "qwen2.5-1.5b-instruct-mlc" in CliRunner().invoke(main, ["models"]).output
    with pytest.raises(ModelNotFoundError, match="no MLC build"):
        pull("smollm2-135m-instruct", backend="mlc")


def test_pull_with_no_model_takes_the_gguf_where_the_onnx_build_needs_converting(tiny_ggufs, tmp_path, monkeypatch):
    """`run --pull` with no MODEL on a machine where the planner ranks ONNX first (AVX2) and
    llama.cpp is installed: the catalog has no prebuilt ONNX for Qwen, so the GGUF is fetched,
    not an error that asks for --convert (torch and the full checkpoint)."""
    from types import SimpleNamespace

    import edgeqwen.hub as hub_module
    import edgeqwen.probe as probe_module

    build = get_model("qwen2.5-1.5b-instruct").builds["gguf"]
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(hub_module, "read_machine", lambda **k: (None, None, ["onnx", "llamacpp"]))
    best = SimpleNamespace(model="qwen2.5-1.5b-instruct", backend="onnx")
    monkeypatch.setattr(probe_module, "plan", lambda *a, **k: SimpleNamespace(best=best))
    with FakeHub(build["repo"], {build["file"]: tiny_ggufs["qwen2-f16"]}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        path = hub_module.install_missing(None)
        assert path.name == "qwen2.5-1.5b-instruct-gguf" and {name for name, _ in fake.gets} == {build["file"]}
    monkeypatch.setattr(hub_module, "read_machine", lambda **k: (None, None, ["onnx"]))  # no llama.cpp: convert it is
    monkeypatch.setattr(hub_module, "best_installed", lambda *a: None)
    with pytest.raises(ModelNotFoundError, match="--convert"):
        hub_module.install_missing(None)


def test_the_gguf_a_calibration_found_better_here_is_the_one_pulled(tiny_ggufs, tmp_path, monkeypatch):
    """Qwen publishes Qwen2.5's GGUF in Q4_0 and Q4_K_M; on a CPU where a calibration measured Q4_K_M
    no slower (1.4x on a Sapphire Rapids-class Xeon) `pull --quant Q4_K_M` and `run --pull` fetch it.
    One GGUF per model: pulling the other quantization replaces it."""
    from probe_fixtures import load

    import edgeqwen.hub as hub_module
    from edgeqwen.probe.calibrate import Calibration, Measurement
    from edgeqwen.probe.planner import estimate

    spec = get_model("qwen2.5-1.5b-instruct")
    files = {q: f["file"] for q, f in spec.gguf_files.items()}
    assert set(files) == {"Q4_0", "Q4_K_M"}
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    served = {files["Q4_0"]: tiny_ggufs["qwen2-f16"], files["Q4_K_M"]: tiny_ggufs["qwen2-f32"]}
    with FakeHub(spec.builds["gguf"]["repo"], served) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        result = CliRunner().invoke(main, ["pull", spec.name, "--backend", "llamacpp", "--quant", "q4_k_m"])
        assert result.exit_code == 0, result.output
        installed = tmp_path / "home" / "models" / f"{spec.name}-gguf"
        assert [f.name for f in installed.iterdir()] == [files["Q4_K_M"]]
        assert f"{spec.name}-gguf (" in (listed := CliRunner().invoke(main, ["models"]).output)
        assert ", Q4_K_M)" in listed.split(f"{spec.name}-gguf (")[1].splitlines()[0]
        pull(spec.name, backend="llamacpp")  # the catalog's default replaces it
        assert [f.name for f in installed.iterdir()] == [files["Q4_0"]]
        assert ", Q4_0)" in CliRunner().invoke(main, ["models"]).output
        remove(f"{spec.name}-gguf")
        # run --pull MODEL: the file the calibration kept for this machine ranks first
        k_m_faster = Calibration(
            "m", tuple(Measurement("llamacpp", "s", 2**30, r, 2, q) for q, r in (("Q4_0", 10.0), ("Q4_K_M", 14.0)))
        )
        snap = load("laptop-x86-16gb", llamacpp_available=True)
        monkeypatch.setattr(hub_module, "read_machine", lambda **k: (snap, k_m_faster, ["llamacpp"]))
        assert hub_module.install_missing(spec.name, backend="llamacpp") == installed
        assert [f.name for f in installed.iterdir()] == [files["Q4_K_M"]]
        # an installed GGUF is estimated at its own file's rate, not the one the probe would fetch
        said = []
        assert hub_module.best_installed(said.append, "llamacpp") == installed
        pull(spec.name, backend="llamacpp")
        assert hub_module.best_installed(said.append, "llamacpp") == installed
        tps = [estimate(spec, snap, "llamacpp", None, k_m_faster, q).decode_tps for q in ("Q4_K_M", "Q4_0")]
        assert (
            tps[0] > tps[1] and [f"~{t:.0f} tokens/s" in line for line, t in zip(said, tps, strict=True)] == [True] * 2
        )
    for args, says in (
        (["--backend", "llamacpp", "--quant", "Q5_K_M"], "comes in Q4_0, Q4_K_M; --quant Q5_K_M is not one"),
        (["--quant", "Q4_K_M"], "give a catalog name and --backend llamacpp"),  # the ONNX build has no quant
    ):
        result = CliRunner().invoke(main, ["pull", spec.name, *args])
        assert result.exit_code != 0 and says in result.output, result.output
    with pytest.raises(InvalidRequestError, match="name the file"):
        pull("Qwen/Qwen2.5-1.5B-Instruct-GGUF:x.gguf", backend="llamacpp", quantization="Q4_K_M")


def test_huggingface_hub_submodules_are_loaded_for_a_pull():
    """huggingface_hub 2.x loads submodules lazily: `hf.constants` raised AttributeError on every
    pull without HF_ENDPOINT. In a fresh interpreter, since other tests import them first."""
    code = (
        "from edgeqwen.pull import _hub; hf = _hub(); "
        "print(hf.constants.ENDPOINT, hf.constants.HF_HUB_CACHE, hf.errors.RepositoryNotFoundError, hf.hf_api.RepoFile)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_pull_gguf_build_then_run_without_converting(tiny_ggufs, tmp_path, monkeypatch):
    """--backend llamacpp fetches the one GGUF file the catalog names (checked like every pull) into
    a folder of its own; `run --pull` does the same in one command, and llama.cpp answers."""
    pytest.importorskip("llama_cpp")

    build = get_model("qwen2.5-1.5b-instruct").builds["gguf"]
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    files = {build["file"]: tiny_ggufs["qwen2-f16"], "qwen2.5-1.5b-instruct-q8_0.gguf": tiny_ggufs["qwen2-f32"]}
    with FakeHub(build["repo"], files) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        result = CliRunner().invoke(main, ["run", "qwen2.5-1.5b-instruct", "hi", "--pull", "-n", "3", "--stats"])
        assert result.exit_code == 0, result.output
        assert {name for name, _ in fake.gets} == {build["file"]}  # not the other quantization
        assert "Downloading qwen2.5-1.5b-instruct-gguf from Qwen/" in result.stderr and "3 generated" in result.stderr
        again = CliRunner().invoke(main, ["run", "qwen2.5-1.5b-instruct", "hi", "--pull", "-n", "2"])
        assert again.exit_code == 0 and "Downloading" not in again.stderr  # installed: nothing fetched
        installed = tmp_path / "home" / "models" / "qwen2.5-1.5b-instruct-gguf"
        assert (installed / build["file"]).is_symlink() and manifest_path(installed.name).is_file()
        assert Assistant("qwen2.5-1.5b-instruct", max_tokens=2).backend.name == "llamacpp"
        (installed / build["file"]).resolve().write_bytes(b"GGUF" + bytes(100))  # damaged after the pull
        with pytest.raises(IntegrityError, match="--force"):
            Assistant("qwen2.5-1.5b-instruct")
        with pytest.raises(ModelNotFoundError, match="no file x.gguf; its GGUF files: qwen2.5-1.5b-instruct-q4_0"):
            pull(f"{build['repo']}:x.gguf", backend="llamacpp")
    remove(installed.name)
    assert not installed.exists() and not list((tmp_path / "hf").rglob("*.gguf"))


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("org/", "is not a Hugging Face repository"),  # was "not in the cache and this machine is offline"
        ("a/b/c", "is not a Hugging Face repository"),
        ("a b/c", "is not a Hugging Face repository"),
        ("a--b/c", "is not a Hugging Face repository"),
        ("hf://", "is not a Hugging Face repository"),
        ("org/repo:../../etc", "is not a folder or file inside org/repo"),  # a folder outside the download
        ("org/repo:/abs", "is not a folder or file inside org/repo"),
        ("org/repo:sub/../..", "is not a folder or file inside org/repo"),
    ],
)
def test_a_repository_hugging_face_cannot_name_is_refused_before_any_download(name, says):
    from edgeqwen.pull import _parse_source

    with pytest.raises(InvalidRequestError, match=says):
        _parse_source(name)
    assert _parse_source("onnx-community/Qwen2.5-1.5B-Instruct:onnx/cpu_and_mobile")[1:3] == (
        "onnx-community/Qwen2.5-1.5B-Instruct",
        "onnx/cpu_and_mobile",
    )


def test_a_file_whose_name_gives_no_install_folder_is_refused_before_downloading(monkeypatch, tmp_path):
    """org/repo:..gguf would install under the name ".", the models folder itself, which an earlier
    install of that name is removed from first."""
    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["pull", "org/repo:..gguf", "--backend", "llamacpp"])
    assert result.exit_code == 2 and "gives no folder name to install it under" in result.stderr, result.output


def test_rm_removes_only_an_installed_name_never_a_path(tmp_path, monkeypatch):
    """`rm ..` deleted the whole cache (the models folder's parent) and `rm /some/folder` that folder:
    a name was joined to the models folder, and an absolute path or ".." left it."""
    home = tmp_path / "home"
    (home / "models" / "mine").mkdir(parents=True)
    (home / "models" / "mine" / "genai_config.json").write_text("{}")
    (home / "tokenizers").mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    monkeypatch.setenv("EDGEQWEN_HOME", str(home))
    runner = CliRunner()
    for name in ("..", ".", "../tokenizers", "mine/..", str(victim), ""):  # never "/": a regression would delete it
        result = runner.invoke(main, ["rm", name])
        assert result.exit_code == 1 and "is not installed" in result.stderr, (name, result.output)
    assert victim.is_dir() and (home / "tokenizers").is_dir() and (home / "models" / "mine").is_dir()
    assert runner.invoke(main, ["rm", "mine"]).exit_code == 0 and not (home / "models" / "mine").exists()


def test_pull_with_no_writable_home_keeps_the_hub_cache_beside_edgeqwens(hub, tmp_path, monkeypatch):
    """A container's user with no home (HOME=/ as Docker sets it): huggingface_hub's default cache,
    /.cache/huggingface, cannot be made, and every pull failed with "run the same command again"."""
    from edgeqwen.pull import _hub

    (tmp_path / "file").write_text("")  # stands for the unwritable / (the suite runs as root)
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setattr(_hub().constants, "HF_HUB_CACHE", str(tmp_path / "file" / ".cache" / "huggingface" / "hub"))
    path = pull(SPEC)
    assert (path / "genai_config.json").is_file()
    assert path.resolve().is_relative_to(tmp_path / "home" / "huggingface" / "hub")


def test_a_second_pull_of_the_same_model_waits_for_the_first(hub):
    """Two at once: the second to finish replaced the first's install under it."""
    import threading

    from edgeqwen.paths import installing

    said: list[str] = []
    done: list[object] = []
    with installing(NAME):
        other = threading.Thread(target=lambda: done.append(pull(SPEC, progress=said.append)))
        other.start()
        other.join(1.5)
        assert other.is_alive() and said == [f"Another edgeqwen process is installing {NAME}: waiting for it..."]
    other.join(60)
    assert done and (done[0] / "genai_config.json").is_file() and said[-1].startswith("Installed")


def test_a_download_that_fills_the_disk_says_so(hub, monkeypatch):
    """It read "Downloading ... failed: [Errno 28] ...; run the same command again to resume": as it
    is, the same command fills the same disk."""
    import errno

    from edgeqwen.pull import _hub

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_hub(), "snapshot_download", full)
    with pytest.raises(InsufficientDiskError, match="filled up while downloading test-org/.*HF_HUB_CACHE"):
        pull(SPEC)
