"""What a user is told: errors that blame the right thing and say what to do, and the friction a
new user met (silent fallbacks, Ctrl-C noise, files written outside EDGEQWEN_HOME)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeBackend
from probe_fixtures import load

from edgeqwen import Assistant, StructuredOutputError
from edgeqwen.backends.onnx import OnnxBackend
from edgeqwen.cli import main
from edgeqwen.errors import DownloadError, ModelLoadError, ModelNotFoundError
from edgeqwen.hub import DemoModelWarning, resolve_model
from edgeqwen.probe import plan
from edgeqwen.pull import pull


# -- errors that blame the right thing --------------------------------------------------------------
def test_a_redacted_structured_answer_blames_the_policy_not_max_tokens(qwen_tokenizer_json):
    backend = FakeBackend(["bob@example.com"], tokenizer_json=qwen_tokenizer_json)
    bot = Assistant(backend=backend, policy="pii", max_tokens=40)
    with pytest.raises(StructuredOutputError) as err:
        bot.regex("Her email?", r"[a-z]+@[a-z]+\.com")
    message = str(err.value)
    assert "safety policy changed the answer" in message and "email (redact)" in message
    assert "max_tokens" not in message and err.value.text  # what the model wrote is kept


def test_an_answer_cut_off_inside_a_string_says_where_in_plain_words(qwen_tokenizer_json):
    backend = FakeBackend(['{"name":"a very long name indeed"}'], tokenizer_json=qwen_tokenizer_json)
    with pytest.raises(StructuredOutputError) as err:
        Assistant(backend=backend, policy="none", max_tokens=6).json("Name?", {"type": "object"})
    assert re.search(r"\(Unterminated string starting at character 8\); raise max_tokens", str(err.value))  # "at at 8"


def test_a_bad_tool_schema_is_blamed_on_the_tools_not_the_response_format():
    from edgeqwen import GrammarError, Message

    bad = [{"type": "function", "function": {"name": "f", "parameters": {"properties": {"a": {"pattern": "("}}}}}]
    bot = Assistant(backend=FakeBackend(["x"]), policy="none")
    with pytest.raises(GrammarError, match="A tool's parameters cannot be used: .*pattern '\\('") as err:
        bot.answer([Message("user", "hi")], tools=bad, tool_choice="required")
    assert err.value.param == "tools"  # the server's 400 names it; it said response_format
    with pytest.raises(GrammarError) as err:
        bot.json("hi", {"properties": {"a": {"pattern": "("}}})
    assert err.value.param is None  # a response format's own error is left as it was


def test_a_tool_result_sent_the_wrong_way_says_the_right_way():
    from edgeqwen import InvalidRequestError, Message

    bot = Assistant(backend=FakeBackend(["It is 21 degrees."]))
    with pytest.raises(InvalidRequestError, match=r"as a list: \[Message\('tool', ...\)\]"):
        bot.chat(Message("tool", '{"temp": 21}'))
    with pytest.raises(InvalidRequestError, match=r"pass json.dumps\(result\)"):
        Message("tool", {"temp": 21})
    assert bot.chat([Message("tool", '{"temp": 21}')]).text == "It is 21 degrees."


def test_a_replys_field_asked_of_a_stream_says_where_the_reply_is():
    """``bot.answer(messages).text`` is what a caller of answer() (which streams) tries first; it
    was a bare "'ReplyStream' object has no attribute 'text'"."""
    import asyncio

    from edgeqwen import AsyncAssistant

    stream = Assistant(backend=FakeBackend(["Hi."])).answer([{"role": "user", "content": "Hello"}])
    with pytest.raises(AttributeError, match=r"no attribute 'text': .*\.reply\(\) waits for it and returns the Reply"):
        stream.text  # noqa: B018
    with pytest.raises(AttributeError, match=r"^'ReplyStream' object has no attribute 'nope'$"):
        stream.nope  # noqa: B018
    assert not hasattr(stream, "tool_calls") and stream.reply().text == "Hi."

    async def ask() -> None:
        streamed = await AsyncAssistant(Assistant(backend=FakeBackend(["Hi."]))).stream("Hello")
        with pytest.raises(AttributeError, match=r"no attribute 'parsed': .*await \.reply\(\) waits"):
            streamed.parsed  # noqa: B018
        assert (await streamed.reply()).text == "Hi."

    asyncio.run(asyncio.wait_for(ask(), 20))


def test_a_truncated_graph_is_blamed_on_the_graph(tiny_models, tmp_path):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_models["qwen2"]["int4"], folder)
    (folder / "edgeqwen-manifest.json").unlink(missing_ok=True)
    graph = folder / "model.onnx"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 3])
    with pytest.raises(ModelLoadError) as err:
        OnnxBackend(folder)
    assert "model.onnx itself is truncated or corrupt" in str(err.value)
    assert "model.onnx.data is" not in str(err.value)


def test_probe_context_messages():
    runner = CliRunner()
    asked = runner.invoke(main, ["probe", "--quick", "--model", "qwen2.5-3b-instruct", "--context", "4096"])
    assert asked.exit_code == 0, asked.output
    assert "reduced" not in asked.stdout  # 4096 was asked for, nothing was reduced
    huge = runner.invoke(main, ["probe", "--quick", "--context", "10000000"])
    assert huge.exit_code == 2 and "10,000,000 tokens is more than any catalog model can take" in huge.stderr
    one = runner.invoke(main, ["probe", "--quick", "--model", "qwen2.5-1.5b-instruct", "--context", "40000"])
    assert one.exit_code == 2 and "qwen2.5-1.5b-instruct can take (at most 32,768)" in one.stderr


def test_a_context_beyond_one_model_is_said_so_in_its_row():
    snap = load("laptop-x86-16gb")
    rows = {c.model: c for c in plan(snap, context=16384, backends=["onnx"]).candidates}
    demo = rows["smollm2-135m-instruct"]  # 8K at most; the Qwen models take 32K
    assert "more than this model's maximum of 8192" in demo.reason and not demo.fits


def test_an_uninstalled_catalog_model_says_how_to_get_it(monkeypatch):
    """The GGUF build where llama.cpp is installed (no conversion), else the ONNX one."""
    monkeypatch.setattr("edgeqwen.hub.llamacpp_installed", lambda: True)
    with pytest.raises(
        ModelNotFoundError, match=r"qwen3-4b is not installed.*`edgeqwen pull qwen3-4b --backend llamacpp`"
    ):
        resolve_model("qwen3-4b")
    monkeypatch.setattr("edgeqwen.hub.llamacpp_installed", lambda: False)
    with pytest.raises(ModelNotFoundError, match=r"qwen3-4b is not installed.*`edgeqwen pull qwen3-4b`, or"):
        resolve_model("qwen3-4b")
    with pytest.raises(ModelNotFoundError, match=r"`edgeqwen pull qwen2\.5-1\.5b-instruct --convert`") as err:
        resolve_model("qwen2.5-1.5b-instruct")
    # the conversion needs torch and the full checkpoint: the GGUF, with llama.cpp's install, is said too
    assert "or install llama.cpp with pip install 'edgeqwen[llamacpp]'" in str(err.value)
    assert "then `edgeqwen pull qwen2.5-1.5b-instruct --backend llamacpp`" in str(err.value)
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("qwen2.5-1.5b-instruct", backend="onnx")  # asked for ONNX: only its way
    assert "--convert`, or see `edgeqwen probe`" in str(err.value) and "llamacpp" not in str(err.value)


def test_the_demo_model_without_llama_cpp_or_the_converter_says_both_ways_before_converting(tmp_path, monkeypatch):
    """A plain `pip install edgeqwen` has neither: the demo's GGUF needs llama.cpp to run as it is,
    or the converter (torch) to become an ONNX build. It said "Converting the demo model ..." and
    then that torch was missing, naming only the converter."""
    import edgeqwen.convert as convert_module
    from edgeqwen.errors import BackendUnavailableError
    from edgeqwen.hub import ensure_demo_model

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    monkeypatch.setattr("edgeqwen.hub.llamacpp_installed", lambda: False)
    monkeypatch.setattr(convert_module, "_CONVERTER", ("onnxruntime_genai", "no_such_torch_here"))
    said = []
    with pytest.raises(BackendUnavailableError, match="'no_such_torch_here' package") as err:
        ensure_demo_model(said.append)
    assert "or install llama.cpp, which runs the demo model's GGUF as it is: pip install 'edgeqwen[llamacpp]'" in str(
        err.value
    )
    assert said == []  # nothing announced as started
    with pytest.raises(BackendUnavailableError) as err:
        ensure_demo_model(said.append, backend="onnx")  # the ONNX build asked for: llama.cpp is no way to it
    assert "llama.cpp" not in str(err.value)


def _cut(file, size: int) -> None:
    file.write_bytes(file.read_bytes()[:size])


def _index(folder, weight_map: dict) -> None:
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def _set(folder, **fields) -> None:
    config = folder / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), **fields}))


def test_convert_of_a_missing_folder_says_so(tmp_path):
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "nonexistent"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "No folder at" in result.stderr and "config.json" in result.stderr


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (lambda d: [f.unlink() for f in d.glob("*.safetensors")], "has no weights"),  # an OSError deep in the builder
        (lambda d: [f.unlink() for f in d.glob("tokenizer*")], "has no tokenizer"),  # converted, then could not load
        (lambda d: (d / "config.json").write_text("[]"), "holds a JSON list"),  # AttributeError
        (
            lambda d: (d / "config.json").write_text(
                json.dumps(
                    {k: v for k, v in json.loads((d / "config.json").read_text()).items() if k != "architectures"}
                )
            ),
            'names no "architectures"',  # TypeError deep in the builder
        ),
        # an interrupted download: safetensors' "invalid header length" from deep in the builder
        (lambda d: _cut(d / "model.safetensors", 1_000), r"model.safetensors is truncated or corrupt (1,000 bytes)"),
        (lambda d: _cut(d / "model.safetensors", 2_000_000), "bytes, its tensors end at "),
        (lambda d: _index(d, {"a.weight": "model-00002-of-00002.safetensors"}), "lacks model-00002-of-00002"),
        (lambda d: _set(d, num_attention_heads=0), "num_attention_heads must be a whole number above 0, got 0"),
        (lambda d: _set(d, hidden_size="64"), "hidden_size must be a whole number above 0, got '64'"),
        (lambda d: _set(d, num_key_value_heads=3), "do not split into 3 key/value heads"),
    ],
)
def test_convert_says_what_a_model_folder_lacks_before_building(tiny_models, tmp_path, spoil, says):
    import shutil

    folder = tmp_path / "hf"
    shutil.copytree(tiny_models["qwen2"]["hf"], folder)
    spoil(folder)
    result = CliRunner().invoke(main, ["convert", str(folder), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and says in result.stderr and "Traceback" not in result.output, result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.convert.log").exists()  # nothing started


def test_convert_never_replaces_a_folder_that_holds_anything_but_a_model(tiny_models, tmp_path):
    """`convert HF -o FOLDER` replaced FOLDER whole once built: `-o .` or `-o ~/Documents` deleted
    everything in it (notes.txt below went, silently)."""
    from edgeqwen.convert import check_output

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "link").symlink_to(precious, target_is_directory=True)  # as `pull` installs a model
    for out, says in (
        (precious, "already holds files and no model"),
        (tmp_path / "a-file", "is not a folder"),
        (tmp_path / "link", "is a link"),
    ):
        result = CliRunner().invoke(main, ["convert", str(tiny_models["qwen2"]["hf"]), "-o", str(out)])
        assert result.exit_code == 1 and says in result.stderr, result.output
    assert (precious / "notes.txt").read_text() == "keep me" and (tmp_path / "a-file").read_text() == "x"
    model = tmp_path / "model"  # a model folder (a conversion to redo) and an empty one may be replaced
    model.mkdir()
    (model / "genai_config.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    for fine in (model, tmp_path / "empty", tmp_path / "new"):
        check_output(fine)  # raises nothing


# -- friction -------------------------------------------------------------------------------------
def test_threads_must_be_positive(tiny_models):
    for value in ("0", "-1"):
        result = CliRunner().invoke(main, ["run", str(tiny_models["qwen2"]["int4"]), "Hi", "--threads", value])
        assert result.exit_code == 2 and "--threads" in result.stderr
    with pytest.raises(Exception, match="threads must be a whole number >= 1"):
        Assistant(str(tiny_models["qwen2"]["int4"]), threads=0)


def test_ctrl_c_in_run_exits_130_without_noise(tiny_models, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt
        yield  # pragma: no cover

    monkeypatch.setattr("edgeqwen.assistant.ReplyStream.pieces", interrupted)  # where the CLI reads the answer
    result = CliRunner().invoke(main, ["run", str(tiny_models["qwen2"]["int4"]), "Hello"])
    assert result.exit_code == 130 and "Aborted" not in result.output


def test_out_of_memory_is_one_line_with_what_to_do(tiny_models, monkeypatch):
    """Under a memory limit (`ulimit -v 600000`) the import of onnxruntime raised MemoryError: a
    traceback through importlib."""

    def no_memory(model, opts):
        raise MemoryError

    monkeypatch.setattr("edgeqwen.cli.answer.open_assistant", no_memory)
    result = CliRunner().invoke(main, ["run", str(tiny_models["qwen2"]["int4"]), "Hello"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("Error: out of memory.") and "--context-length" in result.stderr


def test_the_python_api_says_when_it_falls_back_to_the_demo_model(monkeypatch, tmp_path):
    monkeypatch.setattr("edgeqwen.hub.best_installed", lambda announce, backend="auto": None)
    monkeypatch.setattr("edgeqwen.hub.ensure_demo_model", lambda announce=None, backend="auto": tmp_path)
    with pytest.warns(DemoModelWarning, match="offline demo model"):
        assert resolve_model(None) == tmp_path
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_model("demo")  # asked for by name: nothing to warn about
        resolve_model(None, announce=lambda text: None)  # the CLI says it in its own line


def test_onnxruntime_writes_nothing_outside_edgeqwen_home(tmp_path):
    home, edge = tmp_path / "home", tmp_path / "edge"
    # (onnxruntime writes nothing at all where CI is set; without it, it writes its device id)
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY", "CI")}
    env.update(HOME=str(home), EDGEQWEN_HOME=str(edge))
    code = (
        "from edgeqwen.backends.onnx import _import_ort; _import_ort(); "
        "import os; print(os.environ.get('XDG_CACHE_HOME'))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"  # put back as it was
    assert not (home / ".cache").exists()
    env["ORT_DISABLE_TELEMETRY"] = "0"  # the user wants onnxruntime's telemetry: its files stay in our home
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert not (home / ".cache").exists()
    import onnxruntime

    from edgeqwen.types import release

    if release(onnxruntime.__version__) >= (1, 32):  # 1.23 writes no device id
        assert any((edge / "runtime-cache").rglob("deviceid"))


def test_offline_pull_fails_fast_with_what_to_do(monkeypatch, tmp_path):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on: connection refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    started = time.monotonic()
    with pytest.raises(DownloadError) as err:
        pull("qwen3-4b")
    assert time.monotonic() - started < 5
    assert "this machine is offline" in str(err.value) and "edgeqwen convert HF_DIR" in str(err.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError) as err:
        pull("qwen3-4b")
    assert "HF_HUB_OFFLINE is set" in str(err.value) and "local_files_only" not in str(err.value)


def test_setup_script_says_what_it_is_doing():
    text = (Path(__file__).resolve().parents[1] / "tools" / "setup.sh").read_text()
    assert text.count('step "') >= 4  # a progress line before each long step


@pytest.mark.parametrize("machine", ["Linux x86_64", "Linux aarch64", "Darwin arm64"])
@pytest.mark.parametrize("index_answers", [True, False])
def test_torch_comes_from_pytorchs_cpu_index_on_linux_and_from_pypi_where_that_fails(tmp_path, index_answers, machine):
    """PyPI's Linux torch is a CUDA build, on x86_64 (a 4.8 GB venv) and on aarch64 (5.2 GB in an
    arm64 Debian root, tools/arm64/check.sh): setup asked for `torch==2.13.0` there and said "CPU
    build". A stand-in python records each pip call; a stand-in uname names the machine."""
    system, arch = machine.split()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uname").write_text(f'#!/usr/bin/env bash\ncase "$1" in -s) echo {system} ;; -m) echo {arch} ;; esac\n')
    (bin_dir / "uname").chmod(0o755)
    calls = tmp_path / "calls"
    python = tmp_path / "python"
    python.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {calls}\n'
        'case "$*" in\n'
        f"  *--index-url*) exit {0 if index_answers else 1} ;;\n"
        '  -V) echo "Python 3.13.0" ;;\n'
        '  *"import torch"*) echo "torch 2.13.0+cpu (CPU build)" ;;\n'
        "esac\n"
    )
    python.chmod(0o755)
    script = Path(__file__).resolve().parents[1] / "tools" / "install_torch.sh"
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env = dict(os.environ, EDGEQWEN_TORCH_INDEX="https://mirror.example/cpu", PATH=path)
    done = subprocess.run(["bash", str(script), str(python)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    installs = [line for line in calls.read_text().splitlines() if " install " in f" {line} "]
    if system != "Linux":
        assert installs == [next(i for i in installs if "torch==2.13.0" in i)]  # PyPI's are CPU builds there
        return
    assert "--index-url https://mirror.example/cpu" in installs[0] and "torch==2.13.0" in installs[0]
    if index_answers:
        assert len(installs) == 1 and done.stderr == ""
    else:  # PyPI's build, said so, with the command that gets the CPU one later
        assert len(installs) == 2 and "--index-url" not in installs[1] and "torch==2.13.0" in installs[1]
        assert "CUDA build" in done.stderr and "--force-reinstall torch==2.13.0 --index-url" in done.stderr
    assert "CPU build" in done.stdout


@pytest.mark.parametrize("compiler", [False, True])
def test_setup_without_llama_cpp_falls_back_to_onnx_and_says_why(tmp_path, compiler):
    """On arm64 Debian with no C++ compiler (tools/arm64/check.sh's root, a Pi OS Lite), the key
    of the llama.cpp build failed under pipefail and `bash tools/setup.sh` ended right after
    "creating .venv", with nothing said. A copy of the script runs here over a stand-in .venv
    whose python records each call: pip answers yes, llama.cpp does not build. Without a
    compiler no build is tried, and the setup says what to install; with one, it points at the log."""
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    for name in ("setup.sh", "install_torch.sh"):
        (repo / "tools" / name).write_text((Path(__file__).resolve().parents[1] / "tools" / name).read_text())
    venv = repo / ".venv" / "bin"
    venv.mkdir(parents=True)
    calls = tmp_path / "calls"
    stand_ins = {
        "python": (
            "#!/usr/bin/env bash\n"
            f'echo "$*" >> {calls}\n'
            'case "$*" in\n'
            "  *hashlib*) cat > /dev/null; echo 0123456789abcdef ;;\n"
            '  *"import llama_cpp"* | *" wheel "*) exit 1 ;;\n'
            '  -V) echo "Python 3.11.7" ;;\n'
            "esac\n"
        ),
        "edgeqwen": "#!/usr/bin/env bash\necho 'edgeqwen 0.0'\n",
    }
    for name, text in stand_ins.items():
        (venv / name).write_text(text)
        (venv / name).chmod(0o755)
    cxx = "/bin/true" if compiler else str(tmp_path / "no-such-c++")
    env = dict(os.environ, CXX=cxx, HOME=str(tmp_path), EDGEQWEN_HOME=str(tmp_path / "home"))
    env.pop("EDGEQWEN_NO_LLAMACPP", None)
    done = subprocess.run(
        ["bash", str(repo / "tools" / "setup.sh")], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout
    built = [line for line in calls.read_text().splitlines() if " wheel " in f" {line} "]
    if compiler:
        assert "llama.cpp could not be built" in said and "llamacpp-build.log" in said and built
    else:
        assert "no C++ compiler here" in said and "sudo apt install build-essential" in said and not built
    assert "installing the ONNX converter instead" in said
    assert "done: edgeqwen is set up" in said and "llama.cpp: no" in said
    assert any("install -e .[convert,server,openai]" in line for line in calls.read_text().splitlines())


def test_setup_where_python_cannot_make_a_venv_says_what_to_install_and_leaves_none(tmp_path):
    """Debian's python3 without python3-venv makes .venv/bin/python, then fails at ensurepip; a
    second setup took that for a venv and failed inside pip. A stand-in python does the same."""
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    setup = repo / "tools" / "setup.sh"
    setup.write_text((Path(__file__).resolve().parents[1] / "tools" / "setup.sh").read_text())
    debian = tmp_path / "python3"
    debian.write_text(
        "#!/usr/bin/env bash\n"
        'mkdir -p "$3/bin" && printf "#!/usr/bin/env bash\\nexit 1\\n" > "$3/bin/python" && chmod +x "$3/bin/python"\n'
        "echo 'The virtual environment was not created successfully because ensurepip is not available.' >&2\n"
        "exit 1\n"
    )
    debian.chmod(0o755)
    env = dict(os.environ, PYTHON=str(debian), HOME=str(tmp_path))
    for _ in range(2):  # and again: nothing half made is taken for a venv
        done = subprocess.run(["bash", str(setup)], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 1 and "sudo apt install python3-venv" in done.stderr, done.stderr
        assert "ensurepip is not available" in done.stderr and not (repo / ".venv").exists()
    (repo / ".venv" / "bin").mkdir(parents=True)  # one made before this check existed: no pip in it
    (repo / ".venv" / "bin" / "python").write_text("#!/usr/bin/env bash\nexit 1\n")
    (repo / ".venv" / "bin" / "python").chmod(0o755)
    done = subprocess.run(["bash", str(setup)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and ".venv has no pip" in done.stderr and "rm -rf .venv" in done.stderr


@pytest.mark.parametrize("args", [["--llamacpp"], ["--dev", "--convert"]])
def test_setup_script_refuses_an_option_it_does_not_know_before_touching_anything(args):
    # before, any other word ran the default setup, so a mistyped --dev installed no test tools
    setup = Path(__file__).resolve().parents[1] / "tools" / "setup.sh"
    done = subprocess.run(["bash", str(setup), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--dev" in done.stderr and "unknown option" in done.stderr
    assert done.stdout == ""  # no step started: no venv made, nothing installed
    usage = subprocess.run(["bash", str(setup), "--help"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0 and "--convert" in usage.stdout and "EDGEQWEN_NO_LLAMACPP" in usage.stdout


def test_onnxruntime_cache_redirects_only_around_the_import(monkeypatch, tmp_path):
    from edgeqwen.paths import onnxruntime_cache

    monkeypatch.setenv("EDGEQWEN_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/else")
    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)  # as before the first import
    with onnxruntime_cache():
        assert os.environ["XDG_CACHE_HOME"] == str(tmp_path / "runtime-cache")
    assert os.environ["XDG_CACHE_HOME"] == "/somewhere/else"


def test_an_onnxruntime_too_old_for_the_converters_graphs_is_named_not_the_model(tiny_models, monkeypatch):
    """onnxruntime 1.21 and 1.22 (the floor allowed 1.20) refuse the graphs the converter writes
    (opset 22; an 8-bit GatherBlockQuantized), and the error said to re-download or re-convert
    a model that was fine. Below the floor, onnxruntime is named with the fix; pyproject asks for it."""
    import onnxruntime

    from edgeqwen.backends.onnx import MIN_ONNXRUNTIME, OnnxModel

    def refuse(*args, **kwargs):
        raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH : This is an invalid model.")

    monkeypatch.setattr(OnnxModel, "_load", refuse)
    need = ".".join(map(str, MIN_ONNXRUNTIME))
    monkeypatch.setattr(onnxruntime, "__version__", "1.22.0")
    with pytest.raises(ModelLoadError, match=rf"onnxruntime 1\.22\.0 could not load .*'onnxruntime>={need}'") as err:
        Assistant(str(tiny_models["qwen2"]["int4"]), policy="none")
    assert "re-download" not in str(err.value)
    monkeypatch.setattr(onnxruntime, "__version__", need + ".0")  # new enough: the model is the suspect
    with pytest.raises(ModelLoadError, match="re-download the model"):
        Assistant(str(tiny_models["qwen2"]["int4"]), policy="none")
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert re.findall(r'"onnxruntime>=([\d.]+)"', pyproject) == [need]
