"""Model folders: the layout the onnxruntime-genai model builder writes, validated on load.

A folder holds ``genai_config.json``, the ONNX graph named there (``model.onnx``), its external
weights (``model.onnx.data``), ``tokenizer.json`` and ``tokenizer_config.json``. Prebuilt ORT
GenAI builds (e.g. ``onnx-community/Qwen3-4B-ONNX``'s ``cpu-int4-kld-block-128``) load as they are.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidRequestError, ModelLoadError, ModelNotFoundError, UnsupportedArchitectureError
from .paths import expand

__all__ = [
    "chat_template_source",
    "ARCHITECTURES",
    "DEFAULT_KV_CACHE_TYPE",
    "KV_CACHE_TYPES",
    "kv_bytes_per_token",
    "SUPPORTED_TYPES",
    "ModelInfo",
    "checked_context_length",
    "checked_kv_cache_type",
    "read_model_info",
    "unsupported_architecture",
]

# The architectures edgeqwen runs and converts, by the config's model type (every backend's list).
ARCHITECTURES = {"qwen2": "Qwen2.5", "qwen3": "Qwen3", "llama": "Llama-architecture ChatML models such as SmolLM2"}
SUPPORTED_TYPES = tuple(ARCHITECTURES)


# The KV cache types a llama.cpp model may keep (llama.cpp's --cache-type-k/-v, Ollama's
# OLLAMA_KV_CACHE_TYPE), bytes per value: q8_0 and q4_0 store 32 values and one f16 scale a block.
KV_CACHE_TYPES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
DEFAULT_KV_CACHE_TYPE = "f16"  # llama.cpp's own


def checked_kv_cache_type(value: object) -> str:
    """``value`` if it names a KV cache type (``KV_CACHE_TYPES``), else a clear error."""
    if not isinstance(value, str) or value not in KV_CACHE_TYPES:
        raise InvalidRequestError(
            f"kv_cache_type must be one of {', '.join(KV_CACHE_TYPES)}, got {value!r:.40}.", "kv_cache_type"
        )
    return value


def kv_bytes_per_token(layers: int, kv_heads: int, head_size: int, bytes_per_value: float) -> int:
    """KV cache bytes per token: 2 (K and V) x layers x kv_heads x head_size x bytes."""
    return math.ceil(2 * layers * kv_heads * head_size * bytes_per_value)


def unsupported_architecture(what: str, model_type: str) -> UnsupportedArchitectureError:
    names = ", ".join(f"{name} ('{key}')" for key, name in ARCHITECTURES.items())
    return UnsupportedArchitectureError(f"{what} holds a '{model_type}' model; edgeqwen runs {names}.")


def checked_context_length(asked: int | None, model_max: int) -> int:
    """The context a session gets: ``asked`` when the model takes it, the model's own if None."""
    if asked is None:
        return model_max
    if isinstance(asked, bool) or not isinstance(asked, int) or not 1 < asked <= model_max:
        raise InvalidRequestError(
            f"context_length must be between 2 and the model's {model_max}, got {asked!r}.", "context_length"
        )
    return asked


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    model_type: str
    onnx_file: Path
    context_length: int
    num_layers: int
    num_kv_heads: int
    head_size: int
    vocab_size: int
    eos_token_ids: tuple[int, ...]
    input_names: dict[str, str]
    output_names: dict[str, str]
    share_buffer: bool
    num_heads: int = 0  # query heads; 0 where the config does not say

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def weights_bytes(self) -> int:
        """Size on disk of the ONNX graph and its external weights (model.onnx, model.onnx.data, ...)."""
        return sum(p.stat().st_size for p in self.path.iterdir() if p.name.startswith(self.onnx_file.name))

    def kv_bytes_per_token(self, bytes_per_value: float = 4) -> int:
        return kv_bytes_per_token(self.num_layers, self.num_kv_heads, self.head_size, bytes_per_value)


def _fix_hint(path: Path) -> str:
    return f"Re-download it (`edgeqwen pull MODEL --force`) or re-convert it (`edgeqwen convert HF_DIR -o {path}`)."


def _load_json(file: Path, folder: Path) -> dict[str, Any]:
    if not file.is_file():
        raise ModelLoadError(f"The model folder {folder} has no {file.name}. {_fix_hint(folder)}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{file} is not valid JSON ({exc}). {_fix_hint(folder)}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{file} should hold a JSON object. {_fix_hint(folder)}")
    return data


def read_model_info(path: str | Path) -> ModelInfo:
    """Validate a model folder and read its geometry; every problem names the file and the fix."""
    from .integrity import check_model

    folder = expand(path)
    if not folder.exists():
        raise ModelNotFoundError(
            f"No model folder at {folder}. Pass the folder that holds genai_config.json, a catalog "
            "name (see `edgeqwen models`), or nothing to use the installed default."
        )
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file; pass the model folder that holds genai_config.json.")
    check_model(folder)  # sizes on every load, checksums once per file state (integrity.py)
    cfg = _load_json(folder / "genai_config.json", folder)
    try:
        model = cfg["model"]
        dec = model["decoder"]
        model_type = str(model["type"])
        info_fields = dict(
            context_length=int(model["context_length"]),
            num_layers=int(dec["num_hidden_layers"]),
            num_kv_heads=int(dec["num_key_value_heads"]),
            num_heads=int(dec.get("num_attention_heads", dec["num_key_value_heads"])),
            head_size=int(dec["head_size"]),
            vocab_size=int(model["vocab_size"]),
        )
        eos = model.get("eos_token_id", [])
        eos_ids = tuple(int(e) for e in (eos if isinstance(eos, list) else [eos]))
        inputs, outputs = dict(dec["inputs"]), dict(dec["outputs"])
        onnx_name = str(dec["filename"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(
            f"{folder / 'genai_config.json'} is missing or has a bad field ({exc!r}); it does not look "
            f"like an onnxruntime-genai model config. {_fix_hint(folder)}"
        ) from exc
    if model_type not in SUPPORTED_TYPES:
        raise unsupported_architecture(str(folder), model_type)
    for key in ("past_key_names", "past_value_names"):
        if "%d" not in str(inputs.get(key, "")):
            raise ModelLoadError(f"genai_config.json decoder.inputs.{key} must be a '%d' pattern. {_fix_hint(folder)}")
    onnx_file = folder / onnx_name
    if not onnx_file.is_file():
        raise ModelLoadError(f"The model folder {folder} has no {onnx_name}. {_fix_hint(folder)}")
    for required in ("tokenizer.json",):
        if not (folder / required).is_file():
            raise ModelLoadError(f"The model folder {folder} has no {required}. {_fix_hint(folder)}")
    if min(info_fields.values()) <= 0:
        raise ModelLoadError(f"genai_config.json has a non-positive size field. {_fix_hint(folder)}")
    search = cfg.get("search", {}) if isinstance(cfg.get("search"), dict) else {}
    return ModelInfo(
        path=folder.resolve(),
        model_type=model_type,
        onnx_file=onnx_file,
        eos_token_ids=eos_ids,
        input_names=inputs,
        output_names=outputs,
        share_buffer=bool(search.get("past_present_share_buffer", False)),
        **info_fields,
    )


def chat_template_source(path: Path | None) -> str:
    """The model's own chat template, the Jinja text its files hold: a folder's
    ``chat_template.jinja`` or ``tokenizer_config.json``'s ``chat_template`` (its ``default`` where
    it names several), a GGUF's ``tokenizer.chat_template``; "" where none says. edgeqwen renders
    prompts with its own templates (chat.py); this is what front-ends that pick a prompt format by
    the model's template (llama-server's ``/props``) read."""
    if path is None:
        return ""
    try:
        if path.is_file():
            from .gguf import read_metadata

            found: Any = read_metadata(path).get("tokenizer.chat_template", "")
        elif (path / "chat_template.jinja").is_file():
            found = (path / "chat_template.jinja").read_text(encoding="utf-8")
        elif (path / "tokenizer_config.json").is_file():
            found = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template")
            if isinstance(found, list):  # [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
                found = next(
                    (t.get("template") for t in found if isinstance(t, dict) and t.get("name") == "default"), ""
                )
        else:
            found = ""
    except (OSError, ValueError, AttributeError, ModelLoadError):  # unreadable: the model loaded, so say none
        return ""
    return found if isinstance(found, str) else ""
